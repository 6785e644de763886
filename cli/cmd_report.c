/* poketrace report: per function, calls and times, from the streaming
 * reader.  Memory: one row per function, plus each thread's stack. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/readcmd.h"

struct row {
	uint32_t fn;
	uint64_t calls, cut;            /* calls: every one seen, cut ones too */
	uint64_t outer;                 /* calls timed that were the outermost of the function */
	uint64_t total, self, min, max; /* cycles */
};

static const char *sort_key;

static double key_of(const struct row *r)
{
	if (!strcmp(sort_key, "calls"))
		return (double)r->calls;
	if (!strcmp(sort_key, "self"))
		return (double)r->self;
	if (!strcmp(sort_key, "avg"))
		return r->outer ? (double)r->total / (double)r->outer : 0;
	if (!strcmp(sort_key, "max"))
		return (double)r->max;
	if (!strcmp(sort_key, "min"))
		return (double)r->min;
	return (double)r->total;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double u = key_of(x), v = key_of(y);

	return u < v ? 1 : u > v ? -1 : (x->fn > y->fn) - (x->fn < y->fn);
}

static int cmp_cut(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->cut < y->cut ? 1 : x->cut > y->cut ? -1 : (x->fn > y->fn) - (x->fn < y->fn);
}

/* A call's figures: its duration in min/max; its time without the callees
 * in self; in total what the tracker says (the outermost calls timed). */
static void leave(void *arg, struct cthread *th, struct cframe *f, uint64_t end, enum cut cut,
		  const struct rd_event *exit)
{
	struct row *r = &((struct row *)arg)[f->fn];
	uint64_t d = end - f->start;

	(void)th;
	(void)exit;
	r->calls++;
	r->total += f->total;
	r->outer += f->total_n;
	if (cut) {
		r->cut++;
		return;
	}
	if (r->calls == r->cut + 1 || d < r->min)
		r->min = d;
	if (d > r->max)
		r->max = d;
	r->self += d > f->child ? d - f->child : 0;
}

/* Streams read in parallel: a table per thread, added up. */
static uint32_t nrows_all;

static void *rows_part(void *arg)
{
	struct row *rows = calloc(nrows_all ? nrows_all : 1, sizeof(*rows));

	(void)arg;
	for (uint32_t i = 0; rows && i < nrows_all; i++)
		rows[i].fn = i;
	return rows;
}

static void rows_merge(void *arg, void *part)
{
	struct row *to = arg, *from = part;

	for (uint32_t i = 0; i < nrows_all; i++) {
		struct row *a = &to[i], *b = &from[i];
		bool at = a->calls > a->cut, bt = b->calls > b->cut; /* have timed calls */

		if (bt && (!at || b->min < a->min))
			a->min = b->min;
		if (b->max > a->max)
			a->max = b->max;
		a->calls += b->calls;
		a->cut += b->cut;
		a->outer += b->outer;
		a->total += b->total;
		a->self += b->self;
	}
	free(part);
}

/* The function tracer writes entries only: calls are counted. */
static void count_entries(struct trace *t, const struct readopts *o, struct row *rows)
{
	for (size_t i = 0; i < t->nstreams; i++) {
		struct rd_stream *s = &t->streams[i];

		if (!readopts_want(s, (void *)o))
			continue;
		for (; s->has_head && s->head.ts <= o->to; rd_advance(t, s))
			if (s->head.kind == RD_ENTRY && s->head.ts >= o->from)
				rows[s->head.fn].calls++;
	}
}

static void from_profile(const struct trace *t, struct row *rows)
{
	for (uint32_t i = 0; i < t->nfuncs; i++) {
		rows[i].calls = rows[i].outer = t->prof[i].calls;
		rows[i].total = t->prof[i].total;
		rows[i].self = t->prof[i].self;
		rows[i].min = t->prof[i].min;
		rows[i].max = t->prof[i].max;
	}
}

static void print_cut(const struct trace *t, struct row *rows, uint32_t n)
{
	uint32_t k = 0;

	qsort(rows, n, sizeof(*rows), cmp_cut);
	printf("#   cut:");
	for (uint32_t i = 0; i < n && rows[i].cut && k < 10; i++, k++)
		printf("%s %s %llu", k ? "," : "", trace_fn_name(t, rows[i].fn), (unsigned long long)rows[i].cut);
	if (k == 10 && k < n && rows[k].cut)
		printf(", ...");
	printf("\n");
}

static const char usage[] =
	"usage: poketrace report [OPTIONS] [DIR]\n"
	"\n"
	"Per function: calls, total, self, average, min and max time (DIR defaults to\n"
	"poketrace.data).  Total counts a recursive function once per outermost call\n"
	"(as uftrace does): it never exceeds the time its threads spent in it; Self is\n"
	"the time in the function itself, callees excluded; Min and Max are over single\n"
	"calls; Avg is Total / the outermost calls (the calls for a function that does\n"
	"not recurse), between Min and Max.  A call open at a gap in the trace (lost\n"
	"events), at its end or at the end of -r's range is cut: it is in Calls, in no\n"
	"time (a note after the table counts them).\n"
	"\n"
	"  -s, --sort KEY         total (default), self, calls, avg, min, max\n"
	"  -n, --top N            only the first N functions\n"
	READ_USAGE
	"\n"
	"Exit status 1 when parts of the trace are damaged (what is intact is reported).\n";

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sort", required_argument, NULL, 's' }, { "top", required_argument, NULL, 'n' }, READ_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct readopts o;
	struct trace t;
	struct read_totals tot = { 0 };
	struct calls_cfg cc;
	const char *sort = "total";
	struct row *rows;
	uint32_t nrows = 0;
	long top = 0;
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	bool timed;
	int c, r;

	readopts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, READ_SHORTOPTS "s:n:", longopts, NULL)) != -1) {
		if ((r = readopts_option(&o, c, optarg, usage)) < 0)
			return EXIT_USAGE;
		if (r)
			continue;
		if (c == 's')
			sort = optarg;
		else if (c == 'n') {
			char *end;

			errno = 0;
			top = strtol(optarg, &end, 10);
			if (*end || errno || top <= 0 || end == optarg) {
				cli_error("-n takes a number of rows of 1 or more, not '%s'", optarg);
				return EXIT_USAGE;
			}
		}
		else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (readopts_args(&o, argc, argv, NULL, usage) < 0)
		return EXIT_USAGE;
	if (strcmp(sort, "total") && strcmp(sort, "self") && strcmp(sort, "calls") && strcmp(sort, "avg") &&
	    strcmp(sort, "min") && strcmp(sort, "max")) {
		cli_error("--sort takes total, self, calls, avg, min or max, not '%s'", sort);
		return EXIT_USAGE;
	}
	if ((r = readopts_open(&o, &t)) != 0)
		return r < 0 ? 1 : EXIT_USAGE;
	rows = calloc(t.nfuncs ? t.nfuncs : 1, sizeof(*rows));
	if (!rows) {
		cli_error("out of memory");
		trace_close(&t);
		return 1;
	}
	for (uint32_t i = 0; i < t.nfuncs; i++)
		rows[i].fn = i;
	timed = strcmp(t.tracer, "function") != 0;
	if (t.prof) {
		from_profile(&t, rows);
	} else if (!timed) {
		count_entries(&t, &o, rows);
	} else {
		static const struct read_split split = { rows_part, rows_merge };

		readopts_calls(&o, &cc);
		cc.arg = rows;
		cc.leave = leave;
		nrows_all = t.nfuncs;
		read_streams(&t, &o, &cc, &tot, &split);
	}
	for (uint32_t i = 0; i < t.nfuncs; i++)
		if (rows[i].calls || rows[i].cut)
			rows[nrows++] = rows[i];
	sort_key = timed ? sort : "calls";
	qsort(rows, nrows, sizeof(*rows), cmp_rows);
	if (timed)
		printf("  Total time   Self time       Calls    Avg time    Min time    Max time  Function\n"
		       "  ==========  ==========  ==========  ==========  ==========  ==========  ====================\n");
	else
		printf("       Calls  Function\n  ==========  ====================\n");
	for (uint32_t i = 0; i < nrows && (!top || (long)i < top); i++) {
		const struct row *w = &rows[i];

		if (timed && w->calls == w->cut)
			printf("  %10s  %10s  %10llu  %10s  %10s  %10s  %s\n", "-", "-", (unsigned long long)w->calls,
			       "-", "-", "-", trace_fn_name(&t, w->fn)); /* every call cut: no time known */
		else if (timed)
			printf("  %s  %s  %10llu  %s  %s  %s  %s\n", format_time(b1, 32, trace_ns(&t, w->total)),
			       format_time(b2, 32, trace_ns(&t, w->self)), (unsigned long long)w->calls,
			       w->outer ? format_time(b3, 32, trace_ns(&t, w->total) / (double)w->outer) : "         -",
			       format_time(b4, 32, trace_ns(&t, w->min)), format_time(b5, 32, trace_ns(&t, w->max)),
			       trace_fn_name(&t, w->fn));
		else
			printf("  %10llu  %s\n", (unsigned long long)w->calls, trace_fn_name(&t, w->fn));
	}
	read_say_cut(stdout, &tot);
	if (tot.cut)
		print_cut(&t, rows, nrows);
	free(rows);
	trace_close(&t);
	return readopts_status(&t);
}
