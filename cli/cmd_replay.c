/* poketrace replay: every call in time order across threads (the streams
 * merged by timestamp), indented by depth, as ftrace's function_graph and
 * uftrace print them.  A call whose exit is its thread's next event is one
 * line ("f();" with its duration): the merge looks one event ahead in the
 * thread.  Memory: each thread's stack and one event ahead per thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/names.h"
#include "cli/outline.h"
#include "cli/readcmd.h"

enum field { F_DURATION, F_TID, F_ADDR, F_TIME, F_DELTA, F_ELAPSED, NFIELDS };

static const struct {
	const char *name, *header;
	int width;
} fields[NFIELDS] = {
	[F_DURATION] = { "duration", "DURATION", 10 }, [F_TID] = { "tid", "TID", 7 },
	[F_ADDR] = { "addr", "ADDRESS", 14 },         [F_TIME] = { "time", "TIMESTAMP", 20 },
	[F_DELTA] = { "delta", "TIMEDELTA", 10 },     [F_ELAPSED] = { "elapsed", "ELAPSED", 10 },
};

/* Frame marks (cframe.node) */
enum { OPEN = 0, ONE_LINE = 1, HIDDEN = 2 };

struct replay {
	struct trace *t;
	struct rd_stream *s;       /* the stream whose event is being handled */
	enum field order[NFIELDS];
	int nfields;
	uint64_t min_time;         /* -t, cycles */
	uint64_t to;               /* the end of the time range */
	uint64_t *last;            /* per stream: 1 + the timestamp of its last line (delta), 0: none yet */
	bool one_line_pending;     /* the exit just looked at is to be consumed */
	struct outline out;
};

static void print_fields(struct replay *r, uint32_t tid, uint32_t fn, uint64_t ts, const uint64_t *dur)
{
	const struct trace *t = r->t;
	uint64_t *last = &r->last[r->s - t->streams];
	struct outline *o = &r->out;

	for (int i = 0; i < r->nfields; i++) {
		ol_spaces(o, 2);
		switch (r->order[i]) {
		case F_DURATION:
			if (dur)
				ol_time(o, trace_ns(t, *dur));
			else
				ol_spaces(o, 10);
			break;
		case F_TID:
			ol_uint(o, tid, 7);
			break;
		case F_ADDR: {
			char b[32];

			snprintf(b, sizeof(b), "%#14llx", (unsigned long long)t->funcs[fn].addr);
			ol_str(o, b);
			break;
		}
		case F_TIME: {
			unsigned __int128 ns = (unsigned __int128)ts * 1000000000u / t->freq;

			ol_uint(o, (uint64_t)(ns / 1000000000u), 10);
			ol_mem(o, ".", 1);
			ol_uint0(o, (uint64_t)(ns % 1000000000u), 9);
			break;
		}
		case F_DELTA:
			if (*last)
				ol_time(o, trace_ns(t, ts - (*last - 1)));
			else
				ol_spaces(o, 10);
			break;
		case F_ELAPSED:
			ol_time(o, trace_ns(t, ts - t->t0));
			break;
		case NFIELDS:
			break;
		}
	}
	*last = ts + 1;
	ol_spaces(o, 2);
}

/* "name(args)": no "()" added to a name that has its parameter list. */
static void print_call(struct replay *r, const struct rd_event *e)
{
	const struct trace *t = r->t;
	const char *name = trace_fn_name(t, e->fn);
	bool params = t->name_form == NAME_FULL && t->funcs[e->fn].name[NAME_FULL] != t->funcs[e->fn].name[NAME_MANGLED];
	char args[512];

	ol_str(&r->out, name);
	if (!e->nvals) {
		if (!params)
			ol_mem(&r->out, "()", 2);
		return;
	}
	trace_format_args(t, e, args, sizeof(args));
	if (params)
		ol_mem(&r->out, " ", 1);
	ol_str(&r->out, args);
}

static void enter(void *arg, struct cthread *th, struct cframe *f, const struct rd_event *e)
{
	struct replay *r = arg;
	const struct rd_event *next = r->s->has_head ? &r->s->head : NULL;
	char ret[96];

	if (next && next->kind == RD_EXIT && next->fn == e->fn && next->ts <= r->to) {
		uint64_t d = next->ts - e->ts;

		/* its exit comes next: one line, and the exit is consumed */
		r->one_line_pending = true;
		f->node = d < r->min_time ? HIDDEN : ONE_LINE;
		if (f->node == HIDDEN)
			return;
		print_fields(r, th->tid, e->fn, e->ts, &d);
		ol_spaces(&r->out, 2 * (size_t)f->level);
		print_call(r, e);
		if (next->nvals) {
			trace_format_ret(r->t, next, ret, sizeof(ret));
			ol_str(&r->out, ret);
		}
		ol_mem(&r->out, ";\n", 2);
		return;
	}
	f->node = OPEN;
	print_fields(r, th->tid, e->fn, e->ts, NULL);
	ol_spaces(&r->out, 2 * (size_t)f->level);
	print_call(r, e);
	ol_mem(&r->out, " {\n", 3);
}

static void leave(void *arg, struct cthread *th, struct cframe *f, uint64_t end, enum cut cut,
		  const struct rd_event *exit)
{
	static const char *const why[] = {
		[CUT_GAP] = "cut: events lost", [CUT_END] = "cut: the trace ends",
		[CUT_RANGE] = "cut: the time range ends", [CUT_NESTING] = "cut: no exit",
	};
	struct replay *r = arg;
	uint64_t d = end - f->start;
	char ret[96];

	if (f->node != OPEN)
		return;
	print_fields(r, th->tid, f->fn, end, cut ? NULL : &d);
	ol_spaces(&r->out, 2 * (size_t)f->level);
	ol_mem(&r->out, "}", 1);
	if (exit && exit->nvals) {
		trace_format_ret(r->t, exit, ret, sizeof(ret));
		ol_str(&r->out, ret);
	}
	ol_mem(&r->out, " /* ", 4);
	ol_str(&r->out, trace_fn_name(r->t, f->fn));
	if (cut) {
		ol_mem(&r->out, " (", 2);
		ol_str(&r->out, why[cut]);
		ol_mem(&r->out, ")", 1);
	}
	ol_mem(&r->out, " */\n", 4);
}

static void gap(void *arg, struct cthread *th, const struct rd_event *e)
{
	struct replay *r = arg;

	ol_flush(&r->out);
	if (e->lost)
		printf("# thread %u: %llu events lost here\n", th->tid, (unsigned long long)e->lost);
	else
		printf("# thread %u: a damaged part of the trace is skipped here\n", th->tid);
}

static int parse_fields(struct replay *r, const char *arg)
{
	char buf[256], *save = NULL;
	const char *list = arg;

	r->nfields = 0;
	if (*list == '+') {
		/* added to the default */
		r->order[r->nfields++] = F_DURATION;
		r->order[r->nfields++] = F_TID;
		list++;
	}
	if (!strcmp(list, "none"))
		return 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		int k;

		for (k = 0; k < NFIELDS && strcmp(f, fields[k].name); k++)
			;
		if (k == NFIELDS) {
			cli_error("-f takes fields among duration, tid, addr, time, delta, elapsed (or none), not '%s'",
				  f);
			return -1;
		}
		for (int i = 0; i < r->nfields; i++)
			if (r->order[i] == (enum field)k)
				k = -1;
		if (k >= 0 && r->nfields < NFIELDS)
			r->order[r->nfields++] = (enum field)k;
	}
	return 0;
}

static void print_header(const struct replay *r)
{
	printf("#");
	for (int i = 0; i < r->nfields; i++)
		printf("%s%*s", i ? "  " : " ", fields[r->order[i]].width, fields[r->order[i]].header);
	printf("  FUNCTION\n");
}

/* -F / -N globs into a per-function table; NULL when none was given. */
static bool *fn_set(const struct trace *t, char **globs, int n, const char *opt, int *bad)
{
	bool *set;

	if (!n)
		return NULL;
	set = calloc(t->nfuncs ? t->nfuncs : 1, sizeof(*set));
	for (int g = 0; set && g < n; g++) {
		bool any = false;

		for (uint32_t i = 0; i < t->nfuncs; i++)
			if (names_match_in(t->funcs[i].name, t->funcs[i].module, globs[g]))
				any = set[i] = true;
		if (!any) {
			cli_error("%s %s: no such function in %s/poketrace/functions", opt, globs[g], t->dir);
			*bad = 1;
		}
	}
	return set;
}

/* The function tracer: entries only, one line each, in time order. */
static void replay_entries(struct replay *r, struct rd_merge *m, const struct readopts *o)
{
	struct rd_stream *s;

	while ((s = rd_merge_top(m))) {
		const struct rd_event *e = &s->head;

		r->s = s;
		if (e->kind == RD_ENTRY && e->ts >= o->from && e->ts <= o->to) {
			print_fields(r, s->tid, e->fn, e->ts, NULL);
			print_call(r, e);
			ol_mem(&r->out, "\n", 1);
		}
		rd_merge_next(r->t, m);
	}
}

static void replay_calls(struct replay *r, struct rd_merge *m, struct calls_cfg *cc)
{
	struct trace *t = r->t;
	struct cthread *ths = calloc(t->nstreams ? t->nstreams : 1, sizeof(*ths));
	struct rd_stream *s;

	if (!ths)
		return;
	for (size_t i = 0; i < t->nstreams; i++)
		calls_init(&ths[i], t->streams[i].tid);
	while ((s = rd_merge_top(m))) {
		struct cthread *th = &ths[s - t->streams];
		struct rd_event e = s->head;

		r->s = s;
		rd_advance(t, s); /* the thread's next event: enter() looks at it */
		calls_event(cc, th, &e);
		if (r->one_line_pending) {
			r->one_line_pending = false;
			calls_event(cc, th, &s->head);
			rd_advance(t, s);
		}
		if (!s->has_head)
			calls_finish(cc, th); /* the stream is over: calls still open are cut here */
		rd_merge_fix(m);
	}
	for (size_t i = 0; i < t->nstreams; i++) {
		r->s = &t->streams[i];
		calls_finish(cc, &ths[i]);
		calls_free(&ths[i]);
	}
	free(ths);
}

static const char usage[] =
	"usage: poketrace replay [OPTIONS] [DIR]\n"
	"\n"
	"Every call in time order, all threads interleaved, indented by depth, with\n"
	"durations (as ftrace's function_graph and uftrace print them).  A call open at\n"
	"a gap in the trace (lost events) or at its end is closed with '(cut: ...)'.\n"
	"\n"
	"  -f, --output-fields LIST\n"
	"                         columns: duration, tid, addr, time (timestamp, s), delta\n"
	"                         (since the thread's previous line), elapsed (since the\n"
	"                         trace's first event); default duration,tid; '+LIST'\n"
	"                         adds to it, 'none' shows none\n"
	"  -F, --filter GLOB      only calls of matching functions and what they call\n"
	"                         (repeatable; mangled, full or simple names)\n"
	"  -N, --notrace GLOB     hide matching functions and what they call (repeatable)\n"
	"  -D, --depth N          only N levels of calls (below -F's functions, if given)\n"
	"  -t, --time-filter DUR  hide calls shorter than DUR that call nothing shown\n"
	"                         (as record -t does)\n"
	READ_USAGE;

int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output-fields", required_argument, NULL, 'f' }, { "filter", required_argument, NULL, 'F' },
		{ "notrace", required_argument, NULL, 'N' },       { "depth", required_argument, NULL, 'D' },
		{ "time-filter", required_argument, NULL, 't' },   READ_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct readopts o;
	struct trace t;
	static struct replay r;
	struct calls_cfg cc;
	struct rd_merge m;
	char **focus = calloc((size_t)argc + 1, sizeof(char *)), **hide = calloc((size_t)argc + 1, sizeof(char *));
	int nfocus = 0, nhide = 0, c, st, bad = 0;
	unsigned long long min_ns = 0;
	long depth = 0;
	bool *focus_fn, *hide_fn;

	bool fields_given = false;

	readopts_init(&o);
	parse_fields(&r, "duration,tid");
	optind = 1;
	while ((c = getopt_long(argc, argv, READ_SHORTOPTS "f:F:N:D:t:", longopts, NULL)) != -1) {
		char *end;

		if ((st = readopts_option(&o, c, optarg, usage)) < 0)
			goto usage_error;
		if (st)
			continue;
		switch (c) {
		case 'f':
			if (parse_fields(&r, optarg) < 0)
				goto usage_error;
			fields_given = true;
			break;
		case 'F':
			focus[nfocus++] = optarg;
			break;
		case 'N':
			hide[nhide++] = optarg;
			break;
		case 'D':
			depth = strtol(optarg, &end, 10);
			if (*end || depth <= 0) {
				cli_error("-D takes a depth of 1 or more, not '%s'", optarg);
				goto usage_error;
			}
			break;
		case 't':
			if (parse_duration(optarg, &min_ns) < 0) {
				cli_error("-t takes a duration (500ns, 2us, 1ms), not '%s'", optarg);
				goto usage_error;
			}
			break;
		default:
			fputs(usage, stderr);
			goto usage_error;
		}
	}
	if (readopts_args(&o, argc, argv, NULL, usage) < 0)
		goto usage_error;
	if ((st = readopts_open(&o, &t)) != 0) {
		free(focus);
		free(hide);
		return st < 0 ? 1 : EXIT_USAGE;
	}
	if (readopts_events(&t, "replay") < 0) {
		trace_close(&t);
		free(focus);
		free(hide);
		return 1;
	}
	if (!fields_given && !strcmp(t.tracer, "function"))
		parse_fields(&r, "time,tid"); /* entries only: no durations, their times */
	focus_fn = fn_set(&t, focus, nfocus, "-F", &bad);
	hide_fn = fn_set(&t, hide, nhide, "-N", &bad);
	free(focus);
	free(hide);
	r.t = &t;
	r.min_time = trace_cycles(&t, (double)min_ns);
	r.to = o.to;
	r.last = calloc(t.nstreams ? t.nstreams : 1, sizeof(*r.last));
	if (!bad && r.last && rd_merge_init(&t, &m, readopts_want, &o) == 0) {
		readopts_calls(&o, &cc);
		cc.focus_fn = focus_fn;
		cc.hide_fn = hide_fn;
		cc.max_depth = (uint32_t)depth;
		cc.arg = &r;
		cc.enter = enter;
		cc.leave = leave;
		cc.gap = gap;
		print_header(&r);
		if (!strcmp(t.tracer, "function"))
			replay_entries(&r, &m, &o);
		else
			replay_calls(&r, &m, &cc);
		ol_flush(&r.out);
		rd_merge_free(&m);
	}
	free(r.last);
	free(focus_fn);
	free(hide_fn);
	trace_close(&t);
	return bad ? 1 : readopts_status(&t);
usage_error:
	free(focus);
	free(hide);
	return EXIT_USAGE;
}
