/* Which functions the tracer traces.  Every function that ever matched the
 * filters gets an id (and a line in DIR/poketrace/functions) and keeps it;
 * a change of filters, tracing on or off, or a new module is turned into
 * one batch of link changes (poketrace_links_update): links detached from
 * functions no longer wanted, attached to functions newly wanted.  The
 * functions without a patch site (-P, library calls) are select_nosite.c's. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/select_int.h"
#include "base/names.h"
#include "core/proto.h"
#include "core/sites.h"
#include "poketrace.h"

struct tfn {
	uintptr_t site;
	uint32_t id;
	bool selected;
	struct capture *cap;
	struct poketrace_link *link[2];
	char *symbol, *module;
};

static struct {
	pthread_mutex_t lock;
	struct agent_config cfg; /* its filter lists change with select_update */
	bool enabled;
	struct tfn *v;           /* sorted by site */
	size_t n, cap;
	uint32_t next_id;
	unsigned generation; /* of the site table the filters were last run on */
	size_t nsites;       /* functions with a patch site, at the last refresh */
} sel = { .lock = PTHREAD_MUTEX_INITIALIZER };
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* "a,b*" against s; an empty list matches everything (or nothing). */
static bool match_list(const char *list, const char *s, bool empty)
{
	if (!list[0])
		return empty;
	for (const char *g = list; *g;) {
		size_t n = strcspn(g, ",");
		char pat[n + 1];

		memcpy(pat, g, n);
		pat[n] = '\0';
		if (n && !fnmatch(pat, s, 0))
			return true;
		g += n + (g[n] == ',');
	}
	return false;
}

/* The same for a function, against its mangled, full and simple names; a
 * glob may name the module first ("libkv.so:kv_*"). */
bool select_match_names(const char *list, const char *module, const char *sym, bool empty)
{
	char *name[3];
	bool hit = false, made = false;

	if (!list[0])
		return empty;
	for (const char *g = list; *g && !hit;) {
		size_t n = strcspn(g, ",");
		char pat[n + 1], mod[256];
		const char *fn;

		memcpy(pat, g, n);
		pat[n] = '\0';
		g += n + (g[n] == ',');
		fn = names_split_module(pat, mod, sizeof(mod));
		if (!n || !names_module_match(mod, module))
			continue;
		if (strncmp(sym, "_Z", 2)) { /* not C++: one name */
			hit = !fnmatch(fn, sym, 0);
			continue;
		}
		if (!made)
			names_make(sym, name), made = true;
		hit = names_match(name, fn);
	}
	if (made)
		names_free(name);
	return hit;
}

static int own_list(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static struct tfn *find(uintptr_t site, size_t *at)
{
	size_t lo = 0, hi = sel.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sel.v[mid].site == site)
			return &sel.v[mid];
		if (sel.v[mid].site < site)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return NULL;
}

/* -A/-R: what to record for s, from its DWARF prototype (NULL: nothing).
 * Lives as long as the process (a link's data). */
static struct capture *capture_for(const struct poketrace_site *s, uint32_t id)
{
	bool a = select_match_names(sel.cfg.args, s->module, s->symbol, false),
	     r = select_match_names(sel.cfg.rets, s->module, s->symbol, false);
	struct pt_module *m;
	struct pt_proto proto;
	struct capture *c;

	if (sel.cfg.mode != TRACER_GRAPH || (!a && !r) || !sites_find(s->addr, &m))
		return NULL;
	proto_lookup(m, s->func - m->bias, s->symbol, &proto);
	/* only a certain prototype says what the registers hold (a clone's
	 * registers are not its DWARF prototype's) */
	if (!proto.certain || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->fn = id;
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

static void name_it(FILE *f, const struct poketrace_site *s, const struct tfn *t)
{
	char kinds[16] = "-";

	if (t->cap) {
		/* argument kinds, ':', the return kind: i u p s (int, unsigned, pointer, string) */
		static const char k[] = "?iupsv";
		int n = 0;

		for (int i = 0; i < t->cap->nargs; i++)
			kinds[n++] = k[t->cap->kind[i]];
		kinds[n++] = ':';
		kinds[n++] = t->cap->retkind ? k[t->cap->retkind] : '-';
		kinds[n] = '\0';
	}
	fprintf(f, "%u\t%#lx\t%s\t%s\t%s\n", t->id, (unsigned long)s->func, s->module, s->symbol, kinds);
}

int select_visit(const struct poketrace_site *s, void *arg)
{
	struct walk *w = arg;
	const char *mod = strrchr(s->module, '/') ? strrchr(s->module, '/') + 1 : s->module;
	struct tfn *t;
	size_t at = 0;

	/* read under the engine lock, for the table being walked */
	w->visited = true;
	w->generation = sites_generation();
	if (!s->symbol || (s->flags & POKETRACE_SITE_UNPATCHABLE))
		return 0;
	/* A relocated entry in the table is this trace's if its -P names it,
	 * or (visited from libcall_functions) the program calls it; one an
	 * earlier trace made (attach after detach) is not. */
	if (w->table && s->kind == POKETRACE_SITE_RELOC && !(sel.cfg.patch[0] && select_patch_match(&sel.cfg, s->module, s->symbol)))
		return 0;
	if (sel.cfg.modules[0] && !match_list(sel.cfg.modules, mod, true) &&
	    !match_list(sel.cfg.modules, s->module, true))
		return 0;
	w->sites += !w->libcall;
	if (!select_match_names(sel.cfg.filter, s->module, s->symbol, true) ||
	    select_match_names(sel.cfg.notrace, s->module, s->symbol, false))
		return 0;
	t = find(s->addr, &at);
	if (!t) {
		if (sel.n == sel.cap) {
			size_t cap = sel.cap ? sel.cap * 2 : 1024;
			struct tfn *nv = realloc(sel.v, cap * sizeof(*nv));

			if (!nv)
				return w->err = -ENOMEM;
			sel.v = nv;
			sel.cap = cap;
		}
		memmove(&sel.v[at + 1], &sel.v[at], (sel.n - at) * sizeof(*sel.v));
		sel.n++;
		t = &sel.v[at];
		memset(t, 0, sizeof(*t));
		t->site = s->addr;
		t->id = sel.next_id++;
		t->symbol = strdup(s->symbol);
		t->module = strdup(s->module);
		t->cap = capture_for(s, t->id);
		tracer_set_flags(t->id, (uint8_t)((select_match_names(sel.cfg.focus, s->module, s->symbol, false) ? TRACER_FOCUS : 0) |
						  (select_match_names(sel.cfg.hide_tree, s->module, s->symbol, false) ? TRACER_HIDE_TREE : 0) |
						  (select_match_names(sel.cfg.hide, s->module, s->symbol, false) ? TRACER_HIDE : 0) |
						  (select_match_names(sel.cfg.caller, s->module, s->symbol, false) ? TRACER_CALLER : 0) |
						  (w->libcall ? TRACER_LIBCALL : 0)));
		name_it(w->funcs, s, t);
	}
	t->selected = true;
	return 0;
}

/* Marks the functions the filters select (naming new ones). */
static int refresh(void)
{
	char path[4200];
	struct walk w = { NULL, 0 };
	long r;

	snprintf(path, sizeof(path), "%s/poketrace/functions", sel.cfg.out);
	w.funcs = fopen(path, sel.next_id ? "ae" : "we");
	if (!w.funcs)
		return -errno;
	if (!sel.next_id)
		fprintf(w.funcs, "# id\taddress\tmodule\tsymbol\tkinds\n");
	for (size_t i = 0; i < sel.n; i++)
		sel.v[i].selected = false;
	w.table = true;
	r = poketrace_sites_foreach(NULL, NULL, select_visit, &w);
	w.table = false;
	if (r >= 0)
		select_patch_functions(&sel.cfg, &w);
	if (r >= 0)
		select_libcall_functions(&sel.cfg, &w);
	sel.nsites = w.sites;
	sel.generation = w.visited ? w.generation : sites_generation();
	fclose(w.funcs);
	tracer_set_nfuncs(sel.next_id);
	return r < 0 ? (int)r : w.err;
}

static void spec_for(struct poketrace_link_spec *sp, const struct tfn *t, int exit)
{
	memset(sp, 0, sizeof(*sp));
	sp->kind = exit ? POKETRACE_FEXIT : POKETRACE_FENTRY;
	sp->addr = t->site;
	sp->opts.sz = sizeof(sp->opts);
	if (t->cap) {
		/* ctx-form handlers: they read the argument registers and rax */
		sp->handler = exit ? (void *)tracer_exit_capture : (void *)tracer_entry_capture;
		sp->opts.data = t->cap;
	} else {
		sp->handler = exit ? (void *)tracer_exit : (void *)tracer_entry;
		sp->opts.data = (void *)(uintptr_t)t->id;
		sp->opts.flags = POKETRACE_LINK_RAW;
	}
}

/* Brings the links in line with enabled/selected: one batch. */
static int apply(void)
{
	int per = sel.cfg.mode == TRACER_FUNCTION ? 1 : 2, r;
	struct poketrace_link **det = calloc(sel.n * 2 + 1, sizeof(*det));
	struct poketrace_link_spec *att = calloc(sel.n * 2 + 1, sizeof(*att));
	size_t nd = 0, na = 0;

	if (!det || !att) {
		free(det);
		free(att);
		return -ENOMEM;
	}
	for (size_t i = 0; i < sel.n; i++) {
		struct tfn *t = &sel.v[i];
		bool want = sel.enabled && t->selected;

		for (int k = 0; k < per; k++) {
			if (t->link[k] && !want)
				det[nd++] = t->link[k];
			else if (!t->link[k] && want)
				spec_for(&att[na++], t, k);
		}
	}
	r = nd + na ? poketrace_links_update(det, nd, att, na) : 0;
	if (r == 0) {
		for (size_t i = 0; i < sel.n; i++)
			if (!(sel.enabled && sel.v[i].selected))
				sel.v[i].link[0] = sel.v[i].link[1] = NULL;
		for (size_t i = 0; i < na; i++) {
			size_t at;
			struct tfn *t = find(att[i].addr, &at);

			if (t)
				t->link[att[i].kind == POKETRACE_FEXIT] = att[i].link;
		}
	}
	free(det);
	free(att);
	return r;
}

/* A fork finds the selection consistent: no update is half done (the
 * functions file is whole, the table matches the links). */
static void fork_prepare(void)
{
	pthread_mutex_lock(&sel.lock);
}

static void fork_release(void)
{
	pthread_mutex_unlock(&sel.lock);
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

void select_init(void)
{
	pthread_once(&atfork_once, atfork_register);
}

void select_forked(const char *out)
{
	/* static: the only thread of a fork's child, maybe on a small stack */
	static char from[4200], to[4200], buf[65536];
	int in, o;
	ssize_t n;

	snprintf(from, sizeof(from), "%s/poketrace/functions", sel.cfg.out);
	snprintf(to, sizeof(to), "%s/poketrace/functions", out);
	snprintf(sel.cfg.out, sizeof(sel.cfg.out), "%s", out);
	in = open(from, O_RDONLY | O_CLOEXEC);
	o = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	while (in >= 0 && o >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(o, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (o >= 0)
		close(o);
}

void select_reset(void)
{
	pthread_mutex_lock(&sel.lock);
	for (size_t i = 0; i < sel.n; i++) {
		free(sel.v[i].symbol);
		free(sel.v[i].module);
		free(sel.v[i].cap);
	}
	sel.n = 0;
	sel.next_id = 0;
	pthread_mutex_unlock(&sel.lock);
}

/* What a user who sees an empty trace needs to know: no function can be
 * traced at all, or a -F glob that selects nothing (each named).  Said on
 * stderr, or, when record sums up all the processes of the trace at its
 * end, left for it in poketrace/unmatched ("nosites", "glob\tPATTERN"). */
static void say_unmatched(void)
{
	char path[4200];
	FILE *f = NULL;
	int globs = 0;

	if (sel.cfg.defer_warnings) {
		snprintf(path, sizeof(path), "%s/poketrace/unmatched", sel.cfg.out);
		if (!(f = fopen(path, "ae")))
			return;
	}
	if (!sel.nsites) {
		if (f)
			fprintf(f, "nosites\n");
		else
			fprintf(stderr, "poketrace: no function of this program or its libraries has a patch site, so "
				"nothing can be traced: build with -fpatchable-function-entry=5 (gcc or clang) or gcc "
				"-pg -mfentry -mnop-mcount -mrecord-mcount ('poketrace sites PROG' shows what a binary "
				"has)\n");
	}
	const char *list = sel.cfg.focus[0] ? sel.cfg.focus : sel.cfg.filter;

	for (const char *g = sel.nsites ? list : ""; *g && globs < 200; globs++) {
		size_t n = strcspn(g, ","), i;
		char pat[n + 1];

		memcpy(pat, g, n);
		pat[n] = '\0';
		for (i = 0; n && i < sel.n; i++)
			if (sel.v[i].selected && select_match_names(pat, sel.v[i].module, sel.v[i].symbol, false))
				break;
		if (n && i == sel.n && f)
			fprintf(f, "glob\t%s\n", pat);
		else if (n && i == sel.n)
			fprintf(stderr, "poketrace: -F '%s' matches no function with a patch site (names match "
				"mangled, demangled or without parameters: 'ns::Class::method')\n", pat);
		g += n + (g[n] == ',');
	}
	if (f)
		fclose(f);
}

int select_start(const struct agent_config *c)
{
	int r;

	struct agent_config prev = sel.cfg;

	pthread_mutex_lock(&sel.lock);
	sel.cfg = *c;
	/* its own lists: select_update replaces them */
	sel.cfg.filter = sel.cfg.notrace = sel.cfg.modules = sel.cfg.args = sel.cfg.rets = NULL;
	sel.cfg.focus = sel.cfg.hide_tree = sel.cfg.hide = sel.cfg.caller = sel.cfg.patch = NULL;
	if (own_list(&sel.cfg.filter, c->filter) < 0 || own_list(&sel.cfg.notrace, c->notrace) < 0 ||
	    own_list(&sel.cfg.modules, c->modules) < 0 || own_list(&sel.cfg.args, c->args) < 0 ||
	    own_list(&sel.cfg.rets, c->rets) < 0 || own_list(&sel.cfg.focus, c->focus) < 0 ||
	    own_list(&sel.cfg.hide_tree, c->hide_tree) < 0 || own_list(&sel.cfg.hide, c->hide) < 0 ||
	    own_list(&sel.cfg.caller, c->caller) < 0 || own_list(&sel.cfg.patch, c->patch) < 0) {
		pthread_mutex_unlock(&sel.lock);
		return -ENOMEM;
	}
	free(prev.filter), free(prev.notrace), free(prev.modules), free(prev.args), free(prev.rets);
	free(prev.focus), free(prev.hide_tree), free(prev.hide), free(prev.caller), free(prev.patch);
	tracer_set_focus(sel.cfg.focus[0] != '\0');
	tracer_set_caller(sel.cfg.caller[0] != '\0');
	sel.enabled = !c->paused;
	if (sel.cfg.defer_warnings) {
		char path[4200];
		FILE *f;

		snprintf(path, sizeof(path), "%s/poketrace/unmatched", sel.cfg.out);
		if ((f = fopen(path, "we"))) /* this trace's: say() and say_unmatched append */
			fclose(f);
	}
	r = refresh();
	if (r == 0)
		r = apply();
	if (r == 0)
		say_unmatched();
	pthread_mutex_unlock(&sel.lock);
	return r;
}

int select_update(const struct select_change *ch)
{
	int r;

	pthread_mutex_lock(&sel.lock);
	if ((ch && ch->filter && own_list(&sel.cfg.filter, ch->filter) < 0) ||
	    (ch && ch->notrace && own_list(&sel.cfg.notrace, ch->notrace) < 0) ||
	    (ch && ch->modules && own_list(&sel.cfg.modules, ch->modules) < 0)) {
		pthread_mutex_unlock(&sel.lock);
		return -ENOMEM;
	}
	if (ch && ch->enable >= 0)
		sel.enabled = ch->enable;
	r = refresh();
	if (r == 0)
		r = apply();
	pthread_mutex_unlock(&sel.lock);
	return r;
}

/* Whether a module was loaded or unloaded since the filters were last run
 * by a dlopen nobody interposed, or one whose table rebuild another caller
 * (a status request) already did. */
bool select_stale(void)
{
	bool stale;

	/* busy: an update is running; the caller looks again later rather
	 * than stall (it is the thread that drains the buffers) */
	if (pthread_mutex_trylock(&sel.lock) != 0)
		return false;
	stale = sites_stale() || sites_generation() != sel.generation;
	pthread_mutex_unlock(&sel.lock);
	return stale;
}

const char **select_symbols(size_t *n)
{
	const char **v;

	pthread_mutex_lock(&sel.lock);
	*n = sel.next_id;
	v = calloc(*n ? *n : 1, sizeof(*v));
	for (size_t i = 0; v && i < sel.n; i++)
		if (sel.v[i].id < *n)
			v[sel.v[i].id] = sel.v[i].symbol;
	pthread_mutex_unlock(&sel.lock);
	if (!v)
		*n = 0;
	return v;
}

size_t select_nfuncs(void)
{
	return sel.next_id;
}

void select_status(struct select_status *st)
{
	pthread_mutex_lock(&sel.lock);
	st->enabled = sel.enabled;
	st->known = sel.n;
	st->selected = st->attached = 0;
	for (size_t i = 0; i < sel.n; i++) {
		st->selected += sel.v[i].selected;
		st->attached += sel.v[i].link[0] != NULL;
	}
	pthread_mutex_unlock(&sel.lock);
}

struct hit {
	uint64_t n;
	const char *symbol;
};

static int by_hits(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->symbol, y->symbol);
}

void select_print_hits(FILE *f, size_t top)
{
	struct hit *h;
	size_t n = 0;

	pthread_mutex_lock(&sel.lock);
	h = calloc(sel.n + 1, sizeof(*h));
	for (size_t i = 0; h && i < sel.n; i++) {
		uint64_t c = tracer_hits(sel.v[i].id);

		if (c)
			h[n++] = (struct hit){ c, sel.v[i].symbol };
	}
	if (h) {
		qsort(h, n, sizeof(*h), by_hits);
		for (size_t i = 0; i < n && i < top; i++)
			fprintf(f, "hits %llu %s\n", (unsigned long long)h[i].n, h[i].symbol);
	}
	free(h);
	pthread_mutex_unlock(&sel.lock);
}
