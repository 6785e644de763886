/* The agent's life: at load, read DIR/config, choose the functions, attach
 * the tracer's links in one batch, start the writer; at exit (or a fatal
 * signal), write out every buffer and the trace's info. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/proto.h"
#include "core/sites.h"
#include "poketrace.h"
#include "trace/ctf.h"
#include "trace/tbuf.h"

static struct agent_config cfg;
static struct trace_clock clk;
static uint32_t nfuncs;
static bool active;
static struct timespec t_start;

static void say(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "poketrace agent: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
}

/* "a,b*" against s; an empty list matches everything. */
static bool match_list(const char *list, const char *s, bool empty)
{
	char buf[1024], *save = NULL;

	if (!list[0])
		return empty;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save))
		if (!fnmatch(g, s, 0))
			return true;
	return false;
}

struct pick {
	FILE *funcs;
	struct poketrace_link_spec *specs;
	size_t n, cap;
};

/* Sites traced so far (sorted insert is not needed: a lookup per new site
 * at dlopen time), so a rescan picks only new modules' functions. */
static uintptr_t *traced;
static size_t ntraced, captraced;

static bool is_traced(uintptr_t site)
{
	for (size_t i = 0; i < ntraced; i++)
		if (traced[i] == site)
			return true;
	return false;
}

/* -A/-R: what to record for s, from its DWARF prototype (NULL: nothing).
 * Lives as long as the process (a link's data). */
static struct capture *capture_for(const struct poketrace_site *s)
{
	bool a = match_list(cfg.args, s->symbol, false), r = match_list(cfg.rets, s->symbol, false);
	struct pt_module *m;
	struct pt_proto proto;
	struct capture *c;

	if ((!a && !r) || !sites_find(s->addr, &m))
		return NULL;
	proto_lookup(m->path, s->func - m->bias, &proto);
	if (!proto.known)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fn = nfuncs;
	if (a) {
		c->nargs = proto.nargkinds;
		memcpy(c->kind, proto.argkind, sizeof(c->kind));
	}
	if (r && proto.retkind && proto.retkind != PROTO_ARG_VOID)
		c->retkind = proto.retkind;
	if (!c->nargs && !c->retkind) {
		free(c);
		return NULL;
	}
	return c;
}

static int pick_site(const struct poketrace_site *s, void *arg)
{
	struct pick *p = arg;
	const char *mod = strrchr(s->module, '/') ? strrchr(s->module, '/') + 1 : s->module;
	int per = cfg.mode == TRACER_FUNCTION ? 1 : 2;

	if (!s->symbol || (s->flags & POKETRACE_SITE_UNPATCHABLE))
		return 0;
	if (cfg.modules[0] && !match_list(cfg.modules, mod, true) && !match_list(cfg.modules, s->module, true))
		return 0;
	if (!match_list(cfg.filter, s->symbol, true) || match_list(cfg.notrace, s->symbol, false))
		return 0;
	if (is_traced(s->addr))
		return 0;
	if (ntraced == captraced) {
		uintptr_t *nv = realloc(traced, (captraced = captraced ? captraced * 2 : 1024) * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		traced = nv;
	}
	traced[ntraced++] = s->addr;
	if (p->n + 2 > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		struct poketrace_link_spec *nv = realloc(p->specs, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		p->specs = nv;
		p->cap = cap;
	}
	struct capture *cap = cfg.mode == TRACER_GRAPH ? capture_for(s) : NULL;

	for (int k = 0; k < per; k++) {
		struct poketrace_link_spec *sp = &p->specs[p->n++];

		memset(sp, 0, sizeof(*sp));
		sp->kind = k ? POKETRACE_FEXIT : POKETRACE_FENTRY;
		sp->addr = s->addr;
		sp->opts.sz = sizeof(sp->opts);
		if (cap) {
			/* ctx-form handlers: they read the argument registers and rax */
			sp->handler = k ? (void *)tracer_exit_capture : (void *)tracer_entry_capture;
			sp->opts.data = cap;
		} else {
			sp->handler = k ? (void *)tracer_exit : (void *)tracer_entry;
			sp->opts.data = (void *)(uintptr_t)nfuncs;
			sp->opts.flags = POKETRACE_LINK_RAW;
		}
	}
	{
		char kinds[16] = "-";

		if (cap) {
			/* argument kinds then ':' and the return kind: i u p s (int, unsigned, pointer, string) */
			static const char k[] = "?iupsv";
			int n = 0;

			for (int i = 0; i < cap->nargs; i++)
				kinds[n++] = k[cap->kind[i]];
			kinds[n++] = ':';
			kinds[n++] = cap->retkind ? k[cap->retkind] : '-';
			kinds[n] = '\0';
		}
		fprintf(p->funcs, "%u\t%#lx\t%s\t%s\t%s\n", nfuncs, (unsigned long)s->func, s->module, s->symbol,
			kinds);
	}
	nfuncs++;
	return 0;
}

static void write_info(void)
{
	struct writer_totals t;
	struct timespec now;
	char path[4200], cmd[4096] = "";
	int fd;
	ssize_t n;
	FILE *f;

	writer_totals(&t);
	clock_gettime(CLOCK_MONOTONIC, &now);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		for (ssize_t i = 0; i < n - 1; i++)
			if (!cmd[i])
				cmd[i] = ' ';
	}
	snprintf(path, sizeof(path), "%s/poketrace/info", cfg.dir);
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "command=%s\npid=%d\ntracer=%s\nfunctions=%u\nthreads=%u\nevents=%llu\nlost=%llu\n"
		"lost_on_disk=%llu\nbytes=%llu\nduration_ns=%llu\nclock=%s\nclock_freq=%llu\n",
		cmd, getpid(), cfg.mode == TRACER_FUNCTION ? "function" : cfg.mode == TRACER_PROFILE ? "profile" : "graph",
		nfuncs, t.threads, (unsigned long long)t.events, (unsigned long long)t.lost,
		(unsigned long long)t.lost_on_disk, (unsigned long long)t.bytes,
		(unsigned long long)((now.tv_sec - t_start.tv_sec) * 1000000000ull + now.tv_nsec - t_start.tv_nsec),
		clk.tsc ? "tsc" : "monotonic", (unsigned long long)clk.freq);
	if (t.error)
		fprintf(f, "error=writing %s failed: %s\n", t.error_file, strerror(t.error));
	fclose(f);
	if (t.error)
		say("writing %s failed: %s; the trace holds what was written before", t.error_file,
		    strerror(t.error));
}

static void write_profile(void)
{
	struct prof_entry *e = calloc(nfuncs ? nfuncs : 1, sizeof(*e));
	char path[4200];
	FILE *f;

	if (!e)
		return;
	tracer_profile_sum(e);
	snprintf(path, sizeof(path), "%s/poketrace/profile", cfg.dir);
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "# id\tcalls\ttotal\tself\tmin\tmax (clock cycles)\n");
		for (uint32_t i = 0; i < nfuncs; i++)
			if (e[i].calls)
				fprintf(f, "%u\t%llu\t%llu\t%llu\t%llu\t%llu\n", i, (unsigned long long)e[i].calls,
					(unsigned long long)e[i].total, (unsigned long long)e[i].self,
					(unsigned long long)e[i].min, (unsigned long long)e[i].max);
		fclose(f);
	}
	free(e);
}

static void finish(void)
{
	if (!active)
		return;
	active = false;
	writer_finish();
	clock_refine(&clk);
	ctf_write_metadata(cfg.dir, &clk);
	if (cfg.mode == TRACER_PROFILE)
		write_profile();
	write_info();
}

static void on_fatal(int sig)
{
	/* Write what is in the buffers, then die of the same signal. */
	if (active) {
		active = false;
		writer_emergency();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_fatal(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* Only where the program keeps the default action. */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			signal(sigs[i], on_fatal);
	}
	/* A file size limit must fail the write, not kill the program. */
	{
		struct sigaction old;

		if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			signal(SIGXFSZ, SIG_IGN);
	}
}

/* Picks the matching sites not traced yet, names them in poketrace/functions,
 * and attaches their links in one batch. */
static int trace_new_sites(bool first)
{
	struct pick p = { 0 };
	char path[4200];
	long r;

	snprintf(path, sizeof(path), "%s/poketrace/functions", cfg.dir);
	p.funcs = fopen(path, first ? "we" : "ae");
	if (!p.funcs)
		return -errno;
	if (first)
		fprintf(p.funcs, "# id\taddress\tmodule\tsymbol\n");
	r = poketrace_sites_foreach(NULL, NULL, pick_site, &p);
	fclose(p.funcs);
	tracer_set_nfuncs(nfuncs);
	if (r >= 0 && p.n && poketrace_links_attach(p.specs, p.n) < 0)
		r = -1;
	free(p.specs);
	return r < 0 ? -1 : 0;
}

static pthread_mutex_t rescan_lock = PTHREAD_MUTEX_INITIALIZER;

void agent_module_loaded(void)
{
	if (!active)
		return;
	pthread_mutex_lock(&rescan_lock);
	if (trace_new_sites(false) < 0)
		say("cannot trace a newly loaded module: %s%s", poketrace_last_error(), "");
	pthread_mutex_unlock(&rescan_lock);
}

__attribute__((constructor)) static void agent_load(void)
{
	const char *dir = getenv("POKETRACE_AGENT_DIR");
	int r;

	if (!dir)
		return;
	unsetenv("LD_PRELOAD"); /* children are not traced */
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	if ((r = agent_config_read(dir, &cfg)) < 0) {
		say("cannot read %s/config: %s", dir, strerror(-r));
		return;
	}
	if (poketrace_init(NULL) < 0) {
		say("%s%s", poketrace_last_error(), "");
		return;
	}
	clock_setup(&clk);
	tb_configure(&(struct tb_config){ cfg.chunk_size, cfg.nchunks, &clk });
	tracer_configure(&(struct tracer_config){
		cfg.mode, cfg.max_depth, (uint64_t)((double)cfg.min_time_ns * (double)clk.freq / 1e9), 0, &clk });
	if ((r = ctf_write_metadata(dir, &clk)) < 0 || (r = writer_start(dir)) < 0) {
		say("cannot start: %s%s", strerror(-r), "");
		return;
	}
	active = true;
	atexit(finish);
	catch_fatal();
	pthread_mutex_lock(&rescan_lock);
	if (trace_new_sites(true) < 0)
		say("cannot attach the tracer: %s%s", poketrace_last_error(), "");
	pthread_mutex_unlock(&rescan_lock);
}
