/* Generates poketrace traces with exactly known contents, for the readers'
 * tests, through the agent's own encoder: events go into per-thread buffers
 * with tb_put / tb_put_payload (trace/tbuf.c), packets get their headers
 * from ctf_packet_header and the metadata from ctf_write_metadata
 * (trace/ctf.c).  Only the writer thread is played here: full chunks are
 * written out in ring order, and a gap is made the way the agent makes one
 * (events counted in the buffer's lost count, the next event in a new
 * packet).  The clock runs at 1 GHz: one cycle is one nanosecond.
 *
 *   gen_trace DIR < SCRIPT     lines of:
 *     func NAME [KINDS]         the next function id (0, 1, ...); KINDS: its
 *                               recorded argument and return kinds ("si:i")
 *     thread TID [NAME]         the thread of the lines that follow
 *     E TS FN [ARG...]          an entry (FN: a name or an id), with arguments
 *     S INDEX STRING            a string argument of the entry just written
 *     X TS FN [RET]             an exit, with a return value
 *     G N                       N events lost before this thread's next event
 *     packet                    the thread's next event starts a new packet
 *   gen_trace --big DIR MB THREADS [GAP_EVERY]
 *     about MB megabytes of trace over THREADS threads, each: main { N times:
 *     w<i%16> { leaf } } with 10 cycles between events, so that every figure
 *     is known (see t_read.sh); with GAP_EVERY, a gap of 1 event after every
 *     GAP_EVERY-th iteration's leaf entry.  Prints "iterations N" per thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/ctf.h"
#include "trace/tbuf.h"

#define CHUNK (512 * 1024)
#define MAX_THREADS 64
#define MAX_FUNCS 4096

static const char *dir;
static struct trace_clock clk = { false, 1000000000u, 0, 0 };
static char *fnames[MAX_FUNCS], *fkinds[MAX_FUNCS];
static size_t nfuncs;

struct gthread {
	uint32_t tid;
	char name[32];
	struct tbuf *b;
	int fd;
	uint64_t gap;          /* events to count lost before the next one */
	bool new_packet;
	bool started;
};
static struct gthread threads[MAX_THREADS];
static int nthreads;

static void die(const char *what)
{
	fprintf(stderr, "gen_trace: %s: %s\n", what, errno ? strerror(errno) : "bad input");
	exit(1);
}

/* The writer's part: every full chunk, in order, appended to the stream. */
static void drain(struct gthread *g)
{
	struct tbuf *b = g->b;
	int i;

	while ((i = tb_next_full(b)) >= 0) {
		struct tb_chunk *c = &b->chunks[i];

		/* the chunk the buffer started with, before the first event's
		 * time was set: empty, never written */
		if (c->len > TB_PACKET_HEADER) {
			ctf_packet_header(c, g->tid);
			if (write(g->fd, c->data, c->len) != (ssize_t)c->len)
				die("write");
		}
		tb_give_back(b, i);
	}
}

static struct gthread *thread_of(uint32_t tid)
{
	char path[4200];
	struct gthread *g;

	for (int i = 0; i < nthreads; i++)
		if (threads[i].tid == tid)
			return &threads[i];
	if (nthreads == MAX_THREADS)
		die("too many threads");
	g = &threads[nthreads++];
	g->tid = tid;
	tb_current = NULL; /* tb_create makes the calling thread's: one per generated thread */
	g->b = tb_create();
	if (!g->b)
		die("tb_create");
	g->b->tid = tid;
	snprintf(path, sizeof(path), "%s/stream_%u", dir, tid);
	g->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (g->fd < 0)
		die(path);
	return g;
}

/* Before an event at ts: the first event starts the stream's first packet
 * at ts; a gap or "packet" ends the current packet. */
static void before(struct gthread *g, uint64_t ts)
{
	struct tbuf *b = g->b;

	if (!g->started || g->gap || g->new_packet) {
		/* as the agent drops: the full chunk is handed over, the events
		 * that find no free chunk are counted, the next one starts when a
		 * chunk is free again */
		if (g->started) {
			tb_seal(b);
			drain(g);
		}
		b->lost += g->gap;
		if (!tb_switch(b, ts))
			die("no free chunk");
		g->gap = 0;
		g->new_packet = false;
		g->started = true;
	}
}

static void put(struct gthread *g, uint32_t id, uint32_t fn, uint64_t ts, const void *payload, size_t len)
{
	before(g, ts);
	if (payload)
		tb_put_payload(g->b, id, fn, ts, payload, len);
	else
		tb_put(g->b, id, fn, ts);
	drain(g);
}

static void finish(void)
{
	char path[4200];
	FILE *f;
	uint64_t events = 0, lost = 0;
	struct ctf_trace ct;

	for (int i = 0; i < nthreads; i++) {
		tb_seal(threads[i].b);
		drain(&threads[i]);
		close(threads[i].fd);
		events += threads[i].b->events;
		lost += threads[i].b->lost;
	}
	snprintf(path, sizeof(path), "%s/poketrace/functions", dir);
	if (!(f = fopen(path, "w")))
		die(path);
	fprintf(f, "# id\taddress\tmodule\tsymbol\tkinds\n");
	for (size_t i = 0; i < nfuncs; i++)
		fprintf(f, "%zu\t%#zx\t/generated/prog\t%s\t%s\n", i, 0x401000 + 16 * i, fnames[i],
			fkinds[i] ? fkinds[i] : "-");
	fclose(f);
	snprintf(path, sizeof(path), "%s/poketrace/threads", dir);
	if (!(f = fopen(path, "w")))
		die(path);
	for (int i = 0; i < nthreads; i++)
		if (threads[i].name[0])
			fprintf(f, "%u\t%s\n", threads[i].tid, threads[i].name);
	fclose(f);
	snprintf(path, sizeof(path), "%s/poketrace/info", dir);
	if (!(f = fopen(path, "w")))
		die(path);
	fprintf(f, "command=/generated/prog\npid=%u\ntracer=graph\nfunctions=%zu\nthreads=%d\nevents=%llu\nlost=%llu\n"
		"lost_on_disk=0\nbytes=0\nduration_ns=0\nclock=monotonic\nclock_freq=%llu\n",
		nthreads ? threads[0].tid : 1, nfuncs, nthreads, (unsigned long long)events, (unsigned long long)lost,
		(unsigned long long)clk.freq);
	fclose(f);
	ctf_trace_init(&ct, &clk);
	ct.pid = nthreads ? (int)threads[0].tid : 1;
	snprintf(ct.procname, sizeof(ct.procname), "prog");
	ct.names = (const char *const *)fnames;
	ct.nnames = nfuncs;
	if (ctf_write_metadata(dir, &ct) < 0)
		die("metadata");
}

static uint32_t fn_of(const char *s)
{
	char *end;
	unsigned long id = strtoul(s, &end, 10);

	if (!*end && id < nfuncs)
		return (uint32_t)id;
	for (size_t i = 0; i < nfuncs; i++)
		if (!strcmp(fnames[i], s))
			return (uint32_t)i;
	fprintf(stderr, "gen_trace: no function '%s'\n", s);
	exit(1);
}

static void script(void)
{
	char line[4096];
	struct gthread *g = NULL;

	while (fgets(line, sizeof(line), stdin)) {
		char *w[16], *save = NULL;
		int n = 0;

		for (char *p = strtok_r(line, " \t\n", &save); p && n < 16; p = strtok_r(NULL, " \t\n", &save))
			w[n++] = p;
		if (!n || w[0][0] == '#')
			continue;
		if (!strcmp(w[0], "func") && n >= 2 && nfuncs < MAX_FUNCS) {
			fkinds[nfuncs] = n > 2 ? strdup(w[2]) : NULL;
			fnames[nfuncs++] = strdup(w[1]);
		} else if (!strcmp(w[0], "thread") && n >= 2) {
			g = thread_of((uint32_t)strtoul(w[1], NULL, 10));
			if (n > 2)
				snprintf(g->name, sizeof(g->name), "%s", w[2]);
		} else if (g && !strcmp(w[0], "E") && n >= 3) {
			uint64_t ts = strtoull(w[1], NULL, 10);
			uint8_t payload[1 + 8 * 6];
			uint8_t nargs = (uint8_t)(n - 3 > 6 ? 6 : n - 3);

			if (!nargs) {
				put(g, EV_ENTRY, fn_of(w[2]), ts, NULL, 0);
				continue;
			}
			payload[0] = nargs;
			for (int i = 0; i < nargs; i++) {
				uint64_t v = strtoull(w[3 + i], NULL, 0);

				memcpy(payload + 1 + 8 * i, &v, 8);
			}
			put(g, EV_ENTRY_ARGS, fn_of(w[2]), ts, payload, 1 + 8u * nargs);
		} else if (g && !strcmp(w[0], "S") && n == 3) {
			char payload[1 + TB_MAX_STRING + 1];
			size_t len = strnlen(w[2], TB_MAX_STRING);

			payload[0] = (char)atoi(w[1]);
			memcpy(payload + 1, w[2], len);
			payload[1 + len] = '\0';
			put(g, EV_ARG_STRING, 0, g->b->last_ts, payload, len + 2);
		} else if (g && !strcmp(w[0], "X") && n >= 3) {
			uint64_t ts = strtoull(w[1], NULL, 10), ret;

			if (n == 3) {
				put(g, EV_EXIT, fn_of(w[2]), ts, NULL, 0);
				continue;
			}
			ret = strtoull(w[3], NULL, 0);
			put(g, EV_EXIT_RET, fn_of(w[2]), ts, &ret, sizeof(ret));
		} else if (g && !strcmp(w[0], "G") && n == 2) {
			g->gap += strtoull(w[1], NULL, 10);
		} else if (g && !strcmp(w[0], "packet")) {
			g->new_packet = true;
		} else {
			fprintf(stderr, "gen_trace: bad line: %s\n", w[0]);
			exit(2);
		}
	}
}

/* --big: the same loop in every thread, interleaved in time (thread k
 * starts k cycles after thread 0). */
static void big(double mb, int nthr, unsigned long gap_every)
{
	/* 4 events of 8 bytes per iteration */
	uint64_t iters = (uint64_t)(mb * 1024 * 1024 / 32 / nthr);
	char name[32];

	fnames[nfuncs++] = strdup("main");
	fnames[nfuncs++] = strdup("leaf");
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		fnames[nfuncs++] = strdup(name);
	}
	for (int k = 0; k < nthr; k++) {
		struct gthread *g = thread_of(1000 + (uint32_t)k);
		uint64_t ts = 1000000 + (uint64_t)k;

		snprintf(g->name, sizeof(g->name), "worker-%d", k);
		put(g, EV_ENTRY, 0, ts, NULL, 0);
		for (uint64_t i = 0; i < iters; i++) {
			uint32_t w = 2 + (uint32_t)(i % 16);

			put(g, EV_ENTRY, w, ts += 10, NULL, 0);
			put(g, EV_ENTRY, 1, ts += 10, NULL, 0);
			if (gap_every && i % gap_every == gap_every - 1)
				g->gap = 1; /* the leaf's exit is lost */
			else
				put(g, EV_EXIT, 1, ts + 10, NULL, 0);
			ts += 10;
			put(g, EV_EXIT, w, ts += 10, NULL, 0);
		}
		put(g, EV_EXIT, 0, ts += 10, NULL, 0);
		printf("iterations %llu\n", (unsigned long long)iters);
	}
}

int main(int argc, char **argv)
{
	char path[4200];
	bool is_big = argc >= 5 && !strcmp(argv[1], "--big");

	if (!is_big && argc != 2) {
		fprintf(stderr, "usage: gen_trace DIR < SCRIPT | gen_trace --big DIR MB THREADS [GAP_EVERY]\n");
		return 2;
	}
	dir = is_big ? argv[2] : argv[1];
	tb_configure(&(struct tb_config){ CHUNK, 2, 0, TB_DROP, &clk });
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/poketrace", dir);
	mkdir(path, 0755);
	if (is_big)
		big(atof(argv[3]), atoi(argv[4]), argc > 5 ? strtoul(argv[5], NULL, 10) : 0);
	else
		script();
	finish();
	return 0;
}
