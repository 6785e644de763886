/* poketrace report / graph / replay / dump / info: reading a trace. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/analyze.h"
#include "cli/cli.h"
#include "cli/trace.h"

struct opts {
	const char *dir;
	const char *sort;
	const char *func;
	long tid;
	long top;
	int chrome, flame;
};

static int parse(int argc, char **argv, const char *usage, struct opts *o, bool dump)
{
	static const struct option longopts[] = {
		{ "sort", required_argument, NULL, 's' }, { "tid", required_argument, NULL, 'T' },
		{ "top", required_argument, NULL, 'n' }, { "chrome", no_argument, NULL, 'c' },
		{ "flame", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->dir = "poketrace.data";
	o->sort = "total";
	optind = 1;
	while ((c = getopt_long(argc, argv, "hs:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 's':
			o->sort = optarg;
			break;
		case 'T':
			o->tid = atol(optarg);
			break;
		case 'n':
			o->top = atol(optarg);
			break;
		case 'c':
			o->chrome = 1;
			break;
		case 'f':
			o->flame = 1;
			break;
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind < argc)
		o->dir = argv[optind++];
	if (optind < argc)
		o->func = argv[optind++];
	if (optind < argc || (dump && o->chrome == o->flame)) {
		cli_error(dump ? "dump needs exactly one of --chrome and --flame" : "too many arguments");
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

static bool want(const struct opts *o, const struct tr_stream *s)
{
	return !o->tid || s->tid == (uint32_t)o->tid;
}

/* ------------------------------------------------------------------ report */

struct row {
	uint32_t fn;
	uint64_t calls;
	double total, self, min, max;
};

static const char *sort_key;

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double u, v;

	if (!strcmp(sort_key, "calls"))
		u = (double)x->calls, v = (double)y->calls;
	else if (!strcmp(sort_key, "self"))
		u = x->self, v = y->self;
	else if (!strcmp(sort_key, "avg"))
		u = x->calls ? x->total / x->calls : 0, v = y->calls ? y->total / y->calls : 0;
	else if (!strcmp(sort_key, "max"))
		u = x->max, v = y->max;
	else if (!strcmp(sort_key, "min"))
		u = x->min, v = y->min;
	else
		u = x->total, v = y->total;
	return u < v ? 1 : u > v ? -1 : (int)x->fn - (int)y->fn;
}

static const char usage_report[] =
	"usage: poketrace report [--sort KEY] [--tid TID] [-n N] [DIR]\n"
	"\n"
	"Per function: calls, total, self, average, min and max time (DIR defaults to\n"
	"poketrace.data).  KEY: total (default), self, calls, avg, min, max.\n"
	"Exit status 1 when parts of the trace are damaged (what is intact is reported).\n";

int cmd_report(int argc, char **argv)
{
	struct opts o;
	struct trace t;
	struct row *rows;
	size_t nrows = 0;
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	bool timed;

	if (parse(argc, argv, usage_report, &o, false) < 0)
		return EXIT_USAGE;
	if (strcmp(o.sort, "total") && strcmp(o.sort, "self") && strcmp(o.sort, "calls") &&
	    strcmp(o.sort, "avg") && strcmp(o.sort, "min") && strcmp(o.sort, "max")) {
		cli_error("--sort takes total, self, calls, avg, min or max, not '%s'", o.sort);
		return EXIT_USAGE;
	}
	if (trace_load(o.dir, &t) < 0)
		return 1;
	rows = calloc(t.nfuncs ? t.nfuncs : 1, sizeof(*rows));
	for (uint32_t i = 0; i < t.nfuncs; i++)
		rows[i].fn = i;
	timed = strcmp(t.tracer, "function") != 0;
	if (t.prof) {
		for (uint32_t i = 0; i < t.nfuncs; i++) {
			rows[i].calls = t.prof[i].calls;
			rows[i].total = trace_ns(&t, t.prof[i].total);
			rows[i].self = trace_ns(&t, t.prof[i].self);
			rows[i].min = trace_ns(&t, t.prof[i].min);
			rows[i].max = trace_ns(&t, t.prof[i].max);
		}
	}
	for (size_t si = 0; si < t.nstreams && !t.prof; si++) {
		const struct tr_stream *s = &t.streams[si];
		struct call *c;
		size_t n;

		if (!want(&o, s))
			continue;
		if (!timed) {
			for (size_t i = 0; i < s->n; i++)
				rows[s->ev[i].fn].calls++;
			continue;
		}
		if (calls_build(s, &c, &n) < 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			struct row *r = &rows[c[i].fn];
			double d = trace_ns(&t, c[i].end - c[i].start);

			if (!r->calls || d < r->min)
				r->min = d;
			if (d > r->max)
				r->max = d;
			r->calls++;
			r->total += d;
			r->self += d - trace_ns(&t, c[i].child);
		}
		free(c);
	}
	for (uint32_t i = 0; i < t.nfuncs; i++)
		if (rows[i].calls)
			rows[nrows++] = rows[i];
	sort_key = timed ? o.sort : "calls";
	qsort(rows, nrows, sizeof(*rows), cmp_rows);
	if (timed)
		printf("  Total time   Self time       Calls    Avg time    Min time    Max time  Function\n"
		       "  ==========  ==========  ==========  ==========  ==========  ==========  ====================\n");
	else
		printf("       Calls  Function\n  ==========  ====================\n");
	for (size_t i = 0; i < nrows && (!o.top || (long)i < o.top); i++) {
		const struct row *r = &rows[i];

		if (timed)
			printf("  %s  %s  %10llu  %s  %s  %s  %s\n", format_time(b1, 32, r->total),
			       format_time(b2, 32, r->self), (unsigned long long)r->calls,
			       format_time(b3, 32, r->total / r->calls), format_time(b4, 32, r->min),
			       format_time(b5, 32, r->max), t.funcs[r->fn].symbol);
		else
			printf("  %10llu  %s\n", (unsigned long long)r->calls, t.funcs[r->fn].symbol);
	}
	free(rows);
	trace_free(&t);
	return t.problems ? 1 : 0;
}

/* ------------------------------------------------------------------- graph */

struct node {
	uint32_t fn;
	uint64_t calls, total;
	struct node *child, *next;
};

static struct node *child_of(struct node *p, uint32_t fn)
{
	struct node *n;

	for (n = p->child; n; n = n->next)
		if (n->fn == fn)
			return n;
	n = calloc(1, sizeof(*n));
	n->fn = fn;
	n->next = p->child;
	p->child = n;
	return n;
}

/* The tree's left margin ("| " per level); grows with the depth. */
struct margin {
	char *s;
	size_t len, cap;
};

static void margin_push(struct margin *m, const char *two)
{
	if (m->len + 3 > m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->s = realloc(m->s, m->cap);
	}
	memcpy(m->s + m->len, two, 3);
	m->len += 2;
}

static void print_node(const struct trace *t, const struct node *n, int depth, bool last, struct margin *m)
{
	char b[32];
	size_t plen = m->len;
	const char *prefix = m->len ? m->s : "";
	const struct node *c;
	int nchild = 0, i = 0;
	const struct node **kids;

	printf("  %s : %s%s(%llu) %s\n", format_time(b, 32, trace_ns(t, n->total)), prefix,
	       depth ? (last ? "`-" : "+-") : "", (unsigned long long)n->calls, t->funcs[n->fn].symbol);
	for (c = n->child; c; c = c->next)
		nchild++;
	kids = calloc(nchild ? nchild : 1, sizeof(*kids));
	for (c = n->child; c; c = c->next)
		kids[i++] = c;
	/* heaviest first */
	for (int a = 0; a < nchild; a++)
		for (int z = a + 1; z < nchild; z++)
			if (kids[z]->total > kids[a]->total) {
				const struct node *tmp = kids[a];

				kids[a] = kids[z];
				kids[z] = tmp;
			}
	if (depth)
		margin_push(m, last ? "  " : "| ");
	for (i = 0; i < nchild; i++)
		print_node(t, kids[i], depth + 1, i == nchild - 1, m);
	m->len = plen;
	if (m->s)
		m->s[plen] = '\0';
	free(kids);
}

static void free_node(struct node *n)
{
	while (n) {
		struct node *next = n->next;

		free_node(n->child);
		free(n);
		n = next;
	}
}

static const char usage_graph[] =
	"usage: poketrace graph [--tid TID] [DIR [FUNCTION]]\n"
	"\n"
	"The call tree with total time and calls per path, all threads merged; with\n"
	"FUNCTION, the trees below every call of it.  Needs a trace of the graph tracer.\n";

int cmd_graph(int argc, char **argv)
{
	struct opts o;
	struct trace t;
	struct node root = { 0 };
	int32_t target = -1;
	struct margin margin = { 0 };

	if (parse(argc, argv, usage_graph, &o, false) < 0)
		return EXIT_USAGE;
	if (trace_load(o.dir, &t) < 0)
		return 1;
	if (strcmp(t.tracer, "graph") && t.tracer[0]) {
		cli_error("%s was recorded with the %s tracer; graph needs --tracer graph", o.dir, t.tracer);
		trace_free(&t);
		return 1;
	}
	for (uint32_t i = 0; o.func && i < t.nfuncs; i++)
		if (!strcmp(t.funcs[i].symbol, o.func))
			target = (int32_t)i;
	if (o.func && target < 0) {
		cli_error("no function '%s' in %s/poketrace/functions", o.func, o.dir);
		trace_free(&t);
		return 1;
	}
	for (size_t si = 0; si < t.nstreams; si++) {
		struct call *c;
		struct node **at;
		size_t n;

		if (!want(&o, &t.streams[si]) || calls_build(&t.streams[si], &c, &n) < 0)
			continue;
		at = calloc(n ? n : 1, sizeof(*at));
		for (size_t i = 0; i < n; i++) {
			struct node *p = c[i].parent >= 0 ? at[c[i].parent] : &root;

			if (target >= 0 && (!p || p == &root) && c[i].fn != (uint32_t)target) {
				at[i] = NULL; /* outside FUNCTION: not in the graph */
				continue;
			}
			if (!p)
				p = &root;
			at[i] = child_of(p, c[i].fn);
			at[i]->calls++;
			at[i]->total += c[i].end - c[i].start;
		}
		free(at);
		free(c);
	}
	printf("# Function Call Graph: total time and (calls) per call path\n");
	for (struct node *n = root.child; n; n = n->next)
		print_node(&t, n, 0, true, &margin);
	free(margin.s);
	free_node(root.child);
	trace_free(&t);
	return t.problems ? 1 : 0;
}

/* ------------------------------------------------------------------ replay */

static const char usage_replay[] =
	"usage: poketrace replay [--tid TID] [DIR]\n"
	"\n"
	"Every call in order, per thread, indented by depth, with durations (as\n"
	"ftrace's function_graph tracer prints them).\n";

int cmd_replay(int argc, char **argv)
{
	struct opts o;
	struct trace t;
	char b[32];

	if (parse(argc, argv, usage_replay, &o, false) < 0)
		return EXIT_USAGE;
	if (trace_load(o.dir, &t) < 0)
		return 1;
	printf("#     DURATION      TID  FUNCTION\n");
	for (size_t si = 0; si < t.nstreams; si++) {
		const struct tr_stream *s = &t.streams[si];
		struct call *c;
		size_t n;
		uint32_t *open;
		size_t nopen = 0;

		if (!want(&o, s))
			continue;
		if (!strcmp(t.tracer, "function")) {
			for (size_t i = 0; i < s->n; i++)
				printf("  %13.3f  %7u  %s()\n", trace_ns(&t, s->ev[i].ts - s->ev[0].ts) / 1e3, s->tid,
				       t.funcs[s->ev[i].fn].symbol);
			continue;
		}
		if (calls_build(s, &c, &n) < 0)
			continue;
		open = calloc(n + 1, sizeof(*open));
		for (size_t i = 0; i <= n; i++) {
			char args[512], ret[96];

			/* close calls that ended before this one starts */
			while (nopen && (i == n || (int64_t)open[nopen - 1] != c[i].parent)) {
				const struct call *x = &c[open[--nopen]];

				ret[0] = '\0';
				if (x->exit != SIZE_MAX)
					trace_format_ret(&t, s, &s->ev[x->exit], ret, sizeof(ret));
				printf("  %s  %7u  %*s}%s /* %s */\n", format_time(b, 32, trace_ns(&t, x->end - x->start)),
				       s->tid, 2 * (int)x->depth, "", ret, t.funcs[x->fn].symbol);
			}
			if (i == n)
				break;
			trace_format_args(&t, s, &s->ev[c[i].entry], args, sizeof(args));
			if (!args[0])
				snprintf(args, sizeof(args), "()");
			if (i + 1 < n && c[i + 1].parent == (int64_t)i) {
				printf("  %10s  %7u  %*s%s%s {\n", "", s->tid, 2 * (int)c[i].depth, "",
				       t.funcs[c[i].fn].symbol, args);
				open[nopen++] = (uint32_t)i;
			} else {
				ret[0] = '\0';
				if (c[i].exit != SIZE_MAX)
					trace_format_ret(&t, s, &s->ev[c[i].exit], ret, sizeof(ret));
				printf("  %s  %7u  %*s%s%s%s;\n", format_time(b, 32, trace_ns(&t, c[i].end - c[i].start)),
				       s->tid, 2 * (int)c[i].depth, "", t.funcs[c[i].fn].symbol, args, ret);
			}
		}
		free(open);
		free(c);
	}
	trace_free(&t);
	return t.problems ? 1 : 0;
}

/* -------------------------------------------------------------------- dump */

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

struct folded {
	char *path;
	double ns;
};

static int cmp_folded(const void *a, const void *b)
{
	return strcmp(((const struct folded *)a)->path, ((const struct folded *)b)->path);
}

static const char usage_dump[] =
	"usage: poketrace dump --chrome|--flame [--tid TID] [DIR]\n"
	"\n"
	"  --chrome  Chrome Trace Event JSON (Perfetto UI, chrome://tracing): one B or E\n"
	"            record per event\n"
	"  --flame   folded stacks with self time in ns, for flamegraph.pl and speedscope\n";

int cmd_dump(int argc, char **argv)
{
	struct opts o;
	struct trace t;
	uint64_t t0 = UINT64_MAX;
	bool first = true;

	if (parse(argc, argv, usage_dump, &o, true) < 0)
		return EXIT_USAGE;
	if (trace_load(o.dir, &t) < 0)
		return 1;
	for (size_t si = 0; si < t.nstreams; si++)
		if (t.streams[si].n && t.streams[si].ev[0].ts < t0)
			t0 = t.streams[si].ev[0].ts;
	if (o.chrome) {
		printf("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
		for (size_t si = 0; si < t.nstreams; si++) {
			const struct tr_stream *s = &t.streams[si];

			for (size_t i = 0; want(&o, s) && i < s->n; i++) {
				printf("%s\n{\"ph\":\"%c\",\"pid\":1,\"tid\":%u,\"ts\":%.3f,\"name\":", first ? "" : ",",
				       s->ev[i].type == TR_ENTRY ? 'B' : 'E', s->tid, trace_ns(&t, s->ev[i].ts - t0) / 1e3);
				json_string(t.funcs[s->ev[i].fn].symbol);
				putchar('}');
				first = false;
			}
		}
		printf("\n]}\n");
	} else {
		struct folded *f = NULL;
		size_t nf = 0, cap = 0;

		for (size_t si = 0; si < t.nstreams; si++) {
			struct call *c;
			size_t n;

			if (!want(&o, &t.streams[si]) || calls_build(&t.streams[si], &c, &n) < 0)
				continue;
			for (size_t i = 0; i < n; i++) {
				size_t len = 0;
				char *p;

				for (int64_t k = (int64_t)i; k >= 0; k = c[k].parent)
					len += strlen(t.funcs[c[k].fn].symbol) + 1;
				p = malloc(len + 1);
				p[len] = '\0';
				for (int64_t k = (int64_t)i; k >= 0; k = c[k].parent) {
					size_t l = strlen(t.funcs[c[k].fn].symbol);

					len -= l + 1;
					memcpy(p + len + 1, t.funcs[c[k].fn].symbol, l);
					p[len] = ';';
				}
				if (nf == cap)
					f = realloc(f, (cap = cap ? cap * 2 : 1024) * sizeof(*f));
				f[nf].path = p;
				f[nf++].ns = trace_ns(&t, c[i].end - c[i].start - c[i].child);
			}
			free(c);
		}
		qsort(f, nf, sizeof(*f), cmp_folded);
		for (size_t i = 0; i < nf; i++) {
			double sum = f[i].ns;

			while (i + 1 < nf && !strcmp(f[i].path, f[i + 1].path))
				sum += f[++i].ns;
			printf("%s %.0f\n", f[i].path + 1, sum);
		}
		for (size_t i = 0; i < nf; i++)
			free(f[i].path);
		free(f);
	}
	trace_free(&t);
	return t.problems ? 1 : 0;
}

/* -------------------------------------------------------------------- info */

static const char usage_info[] =
	"usage: poketrace info [DIR]\n"
	"\n"
	"What was recorded: command, tracer, clock, modules, threads, events, lost\n"
	"events, sizes, duration.\n";

int cmd_info(int argc, char **argv)
{
	struct opts o;
	struct trace t;
	uint64_t events = 0, lost = 0, bytes = 0;
	int nmods = 0;

	if (parse(argc, argv, usage_info, &o, false) < 0)
		return EXIT_USAGE;
	if (trace_load_counts(o.dir, &t) < 0)
		return 1;
	for (size_t i = 0; i < t.nstreams; i++) {
		events += t.streams[i].nraw;
		lost += t.streams[i].lost;
		bytes += t.streams[i].bytes;
	}
	printf("trace:      %s\n", t.dir);
	printf("command:    %s\n", t.have_info ? t.command : "(unknown: the program did not exit normally)");
	printf("tracer:     %s\n", t.tracer[0] ? t.tracer : "?");
	printf("clock:      %llu Hz\n", (unsigned long long)t.freq);
	printf("functions:  %u\n", t.nfuncs);
	for (uint32_t i = 0; i < t.nfuncs; i++) {
		bool seen = false;

		for (uint32_t j = 0; j < i && !seen; j++)
			seen = !strcmp(t.funcs[j].module, t.funcs[i].module);
		if (!seen) {
			printf("  module:   %s\n", t.funcs[i].module);
			nmods++;
		}
	}
	printf("threads:    %zu\n", t.nstreams);
	printf("events:     %llu\n", (unsigned long long)events);
	printf("lost:       %llu\n", (unsigned long long)(lost > t.info_lost ? lost : t.info_lost));
	if (t.info_lost_on_disk)
		printf("unwritten:  %llu (a write to the trace failed)\n", (unsigned long long)t.info_lost_on_disk);
	printf("bytes:      %llu (%.1f per event)\n", (unsigned long long)bytes, events ? (double)bytes / events : 0);
	if (t.have_info)
		printf("duration:   %.3f s\n", t.duration_ns / 1e9);
	if (t.error[0])
		printf("error:      %s\n", t.error);
	for (size_t i = 0; i < t.nstreams; i++)
		printf("  thread %u: %zu events, %llu lost, %llu bytes%s\n", t.streams[i].tid, t.streams[i].nraw,
		       (unsigned long long)t.streams[i].lost, (unsigned long long)t.streams[i].bytes,
		       t.streams[i].damaged ? " (damaged)" : "");
	trace_free(&t);
	(void)nmods;
	return t.problems ? 1 : 0;
}
