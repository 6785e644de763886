/* poketrace dump --chrome (Chrome Trace Event JSON) and --flame (folded
 * stacks, cmd_graph.c).  Chrome: one complete ("X") event per call, written
 * when the call ends, so that nothing is held back; a call cut by a gap or by
 * the end of the trace or of -r's range ends at the last event seen before
 * the cut, and says so in its args: what is written is always well nested. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/outline.h"
#include "cli/readcmd.h"

int dump_flame(struct readopts *o, struct trace *t);

struct chrome {
	struct trace *t;
	int pid;                /* the first process's */
	struct cthread *ths;    /* one per stream */
	struct outline out;
};

/* The process of a stream: each image of the trace is its own. */
static int pid_of(const struct chrome *c, const struct rd_stream *s)
{
	return s->pid ? s->pid : c->pid;
}

/* A function name as a JSON string; names are ASCII symbols, mostly with
 * nothing to escape. */
static void ol_json(struct outline *o, const char *s)
{
	ol_mem(o, "\"", 1);
	for (const char *p = s; *p; p++) {
		char esc[8];

		if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			continue;
		ol_mem(o, s, (size_t)(p - s));
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *p);
		else
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
		ol_str(o, esc);
		s = p + 1;
	}
	ol_str(o, s);
	ol_mem(o, "\"", 1);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* Microseconds with three decimals, from whole nanoseconds since the
 * trace's start: a call's end (ts + dur) is then exactly its end in ns, and
 * a callee ending with its caller does not stick out by a rounding. */
static uint64_t ns_at(const struct trace *t, uint64_t ts)
{
	return (uint64_t)((unsigned __int128)(ts - t->t0) * 1000000000u / t->freq);
}

static void put_us(struct outline *o, const char *key, uint64_t ns)
{
	ol_mem(o, ",\"", 2);
	ol_str(o, key);
	ol_mem(o, "\":", 2);
	ol_uint(o, ns / 1000, 1);
	ol_mem(o, ".", 1);
	ol_uint0(o, ns % 1000, 3);
}

static void leave(void *arg, struct cthread *th, struct cframe *f, uint64_t end, enum cut cut,
		  const struct rd_event *exit)
{
	static const char *const why[] = {
		[CUT_GAP] = "events lost", [CUT_END] = "the trace ends",
		[CUT_RANGE] = "the time range ends", [CUT_NESTING] = "no exit",
	};
	struct chrome *c = arg;

	uint64_t a = ns_at(c->t, f->start), b = ns_at(c->t, end);

	struct outline *o = &c->out;

	(void)exit;
	ol_str(o, ",\n{\"ph\":\"X\",\"pid\":");
	ol_uint(o, (uint64_t)pid_of(c, &c->t->streams[th - c->ths]), 1);
	ol_str(o, ",\"tid\":");
	ol_uint(o, th->tid, 1);
	put_us(o, "ts", a);
	put_us(o, "dur", b - a);
	ol_str(o, ",\"name\":");
	ol_json(o, trace_fn_name(c->t, f->fn));
	if (cut) {
		ol_str(o, ",\"args\":{\"cut\":\"");
		ol_str(o, why[cut]);
		ol_str(o, "\"}");
	}
	ol_mem(o, "}", 1);
}

static const char *basename_of(const char *cmd, char *buf, size_t cap)
{
	const char *end = cmd + strcspn(cmd, " "), *slash = cmd;

	for (const char *p = cmd; p < end; p++)
		if (*p == '/')
			slash = p + 1;
	snprintf(buf, cap, "%.*s", (int)(end - slash), slash);
	return buf;
}

/* Names first: each process (its main thread's name, else its command)
 * and every thread whose name the agent recorded. */
static void names(const struct chrome *c, const struct readopts *o)
{
	const struct trace *t = c->t;
	char buf[256];

	for (size_t k = 0; k < t->nimages; k++) {
		const struct rd_image *m = &t->images[k];
		int pid = m->pid ? m->pid : c->pid;
		const char *pname = trace_thread_name(t, (uint32_t)pid);
		bool dup = false;

		for (size_t j = 0; j < k && !dup; j++)
			dup = (t->images[j].pid ? t->images[j].pid : c->pid) == pid;
		if (dup)
			continue; /* an exec'd image keeps its pid: one name */
		if (!pname && m->command[0])
			pname = basename_of(m->command, buf, sizeof(buf));
		printf("%s\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"name\":\"process_name\",\"args\":{\"name\":",
		       k ? "," : "", pid, pid);
		if (pname)
			json_string(pname);
		else
			printf("\"pid %d\"", pid);
		printf("}}");
	}
	for (size_t i = 0; i < t->nstreams; i++) {
		const struct rd_stream *s = &t->streams[i];

		if (!readopts_want(s, (void *)o))
			continue;
		printf(",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"name\":\"thread_name\",\"args\":{\"name\":",
		       pid_of(c, s), s->tid);
		if (s->name)
			json_string(s->name);
		else
			printf("\"thread %u\"", s->tid);
		printf("}}");
	}
}

static void dump_chrome(struct readopts *o, struct trace *t)
{
	static struct chrome chrome;
	struct chrome *c = &chrome;
	struct read_totals tot = { 0 };
	struct calls_cfg cc;
	struct rd_merge m;
	struct cthread *ths;
	struct rd_stream *s;
	bool entries_only = !strcmp(t->tracer, "function");

	c->t = t;
	c->pid = t->pid;
	if (!c->pid)
		c->pid = t->nstreams ? (int)t->streams[0].tid : 1; /* no info: the first thread's (the lowest) tid */
	ths = c->ths = calloc(t->nstreams ? t->nstreams : 1, sizeof(*ths));
	if (!ths || rd_merge_init(t, &m, readopts_want, o) < 0) {
		free(ths);
		cli_error("out of memory");
		return;
	}
	readopts_calls(o, &cc);
	cc.arg = c;
	cc.leave = leave;
	for (size_t i = 0; i < t->nstreams; i++)
		calls_init(&ths[i], t->streams[i].tid);
	printf("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
	names(c, o);
	while ((s = rd_merge_top(&m))) {
		struct cthread *th = &ths[s - t->streams];

		if (entries_only) {
			/* the function tracer: instants */
			if (s->head.kind == RD_ENTRY && s->head.ts >= o->from && s->head.ts <= o->to) {
				char head[96];

				snprintf(head, sizeof(head), ",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,\"tid\":%u",
					 pid_of(c, s), s->tid);
				ol_str(&c->out, head);
				put_us(&c->out, "ts", ns_at(t, s->head.ts));
				ol_str(&c->out, ",\"name\":");
				ol_json(&c->out, trace_fn_name(t, s->head.fn));
				ol_mem(&c->out, "}", 1);
			}
		} else {
			calls_event(&cc, th, &s->head);
		}
		rd_advance(t, s);
		if (!s->has_head)
			calls_finish(&cc, th);
		rd_merge_fix(&m);
	}
	for (size_t i = 0; i < t->nstreams; i++) {
		calls_finish(&cc, &ths[i]);
		read_totals_add(&tot, &ths[i]);
		calls_free(&ths[i]);
	}
	ol_flush(&c->out);
	printf("\n]}\n");
	if (tot.cut || tot.gaps)
		read_say_cut(stderr, &tot);
	rd_merge_free(&m);
	free(ths);
}

static const char usage[] =
	"usage: poketrace dump --chrome|--flame [OPTIONS] [DIR]\n"
	"\n"
	"  --chrome               Chrome Trace Event JSON (Perfetto UI, chrome://tracing):\n"
	"                         process and thread names, one complete event (\"X\") per\n"
	"                         call; a call cut by a gap or the end of the trace or of\n"
	"                         the range ends there, with args {\"cut\": why}\n"
	"  --flame                folded stacks with self time in ns, for flamegraph.pl and\n"
	"                         speedscope (calls cut are left out)\n"
	READ_USAGE;

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "chrome", no_argument, NULL, 'c' }, { "flame", no_argument, NULL, 'f' }, READ_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct readopts o;
	struct trace t;
	int chrome = 0, flame = 0, c, r;

	readopts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, READ_SHORTOPTS, longopts, NULL)) != -1) {
		if ((r = readopts_option(&o, c, optarg, usage)) < 0)
			return EXIT_USAGE;
		if (r)
			continue;
		if (c == 'c')
			chrome = 1;
		else if (c == 'f')
			flame = 1;
		else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (chrome == flame) {
		cli_error("dump needs exactly one of --chrome and --flame");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (readopts_args(&o, argc, argv, NULL, usage) < 0)
		return EXIT_USAGE;
	if ((r = readopts_open(&o, &t)) != 0)
		return r < 0 ? 1 : EXIT_USAGE;
	if (readopts_events(&t, chrome ? "dump --chrome" : "dump --flame") < 0) {
		trace_close(&t);
		return 1;
	}
	if (chrome)
		dump_chrome(&o, &t);
	else
		dump_flame(&o, &t);
	trace_close(&t);
	return readopts_status(&t);
}
