/* Common options of the reading commands (see readcmd.h). */
#include "cli/readcmd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/names.h"

void readopts_init(struct readopts *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = "poketrace.data";
	o->form = NAME_SIMPLE;
	o->to = UINT64_MAX;
}

int readopts_option(struct readopts *o, int c, const char *arg, const char *usage)
{
	char *end;

	switch (c) {
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case 'T':
		o->tid = strtol(arg, &end, 10);
		if (*end || o->tid <= 0) {
			cli_error("--tid takes a thread id, not '%s'", arg);
			return -1;
		}
		return 1;
	case 'r':
		o->range = arg;
		return 1;
	case 'M':
		if ((o->form = names_form(arg)) < 0) {
			cli_error("--demangle takes simple, full or no, not '%s'", arg);
			return -1;
		}
		return 1;
	}
	return 0;
}

int readopts_args(struct readopts *o, int argc, char **argv, const char **func, const char *usage)
{
	if (optind < argc)
		o->dir = argv[optind++];
	if (func && optind < argc)
		*func = argv[optind++];
	if (optind < argc) {
		cli_error("too many arguments");
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

int readopts_open(struct readopts *o, struct trace *t)
{
	if (trace_open(o->dir, t) < 0)
		return -1;
	t->name_form = o->form;
	if (o->range && parse_time_range(t, o->range, &o->from, &o->to) < 0) {
		cli_error("-r takes START~END (timestamps like 12345.678901234, or elapsed times with a unit like "
			  "100us or 1.5s; one side may be empty), not '%s'", o->range);
		trace_close(t);
		return 2;
	}
	for (size_t i = 0; i < t->nstreams; i++)
		t->streams[i].stop_after = o->to;
	if (o->tid) {
		size_t i = 0;

		while (i < t->nstreams && t->streams[i].tid != (uint32_t)o->tid)
			i++;
		if (i == t->nstreams) {
			cli_error("no thread %ld in %s ('poketrace info %s' lists its threads)", o->tid, o->dir,
				  o->dir);
			trace_close(t);
			return -1;
		}
	}
	return 0;
}

int readopts_events(const struct trace *t, const char *cmd)
{
	if (!strcmp(t->tracer, "profile")) {
		cli_error("%s was recorded with the profile tracer, which writes no events: '%s' needs "
			  "--tracer graph or function; 'poketrace report %s' shows the profile", t->dir, cmd, t->dir);
		return -1;
	}
	return 0;
}

bool readopts_want(const struct rd_stream *s, void *arg)
{
	const struct readopts *o = arg;

	return !o->tid || s->tid == (uint32_t)o->tid;
}

void readopts_calls(const struct readopts *o, struct calls_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->from = o->from;
	c->to = o->to;
}

int readopts_status(const struct trace *t)
{
	return t->problems ? 1 : 0;
}

void read_totals_add(struct read_totals *tot, const struct cthread *th)
{
	tot->cut += th->cut;
	tot->lost += th->lost;
	tot->gaps += th->gaps;
}

static void read_one(struct trace *t, struct rd_stream *s, const struct calls_cfg *c, struct read_totals *tot)
{
	struct cthread th;

	calls_init(&th, s->tid);
	for (; s->has_head && !th.closed; rd_advance(t, s))
		calls_event(c, &th, &s->head);
	calls_finish(c, &th);
	read_totals_add(tot, &th);
	calls_free(&th);
}

/* Streams are taken, largest first, by whichever thread is free. */
struct job {
	struct trace *t;
	struct rd_stream **order;
	size_t n;
	_Atomic size_t *next;
	struct calls_cfg cfg;
	struct read_totals tot;
	pthread_t thread;
};

static void *work(void *arg)
{
	struct job *j = arg;

	for (size_t i; (i = atomic_fetch_add(j->next, 1)) < j->n;)
		read_one(j->t, j->order[i], &j->cfg, &j->tot);
	return NULL;
}

static int bigger(const void *a, const void *b)
{
	const struct rd_stream *x = *(struct rd_stream *const *)a, *y = *(struct rd_stream *const *)b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

void read_streams(struct trace *t, const struct readopts *o, const struct calls_cfg *c, struct read_totals *tot,
		  const struct read_split *split)
{
	struct rd_stream **order = malloc((t->nstreams ? t->nstreams : 1) * sizeof(*order));
	struct job jobs[READ_JOBS];
	_Atomic size_t next = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = 0, njobs = 1;

	for (size_t i = 0; order && i < t->nstreams; i++)
		if (readopts_want(&t->streams[i], (void *)o))
			order[n++] = &t->streams[i];
	if (!order) {
		cli_error("out of memory");
		return;
	}
	qsort(order, n, sizeof(*order), bigger);
	if (getenv("POKETRACE_READ_JOBS"))
		cpus = atol(getenv("POKETRACE_READ_JOBS"));
	if (split)
		njobs = (size_t)(cpus < 1 ? 1 : cpus > READ_JOBS ? READ_JOBS : cpus);
	if (njobs > n)
		njobs = n ? n : 1;
	for (size_t k = 0; k < njobs; k++) {
		jobs[k] = (struct job){ t, order, n, &next, *c, { 0 }, 0 };
		/* job 0, this thread, adds into the command's own aggregate */
		if (k && !(jobs[k].cfg.arg = split->part(c->arg))) {
			njobs = k;
			break;
		}
		if (k && pthread_create(&jobs[k].thread, NULL, work, &jobs[k]) != 0) {
			split->merge(c->arg, jobs[k].cfg.arg);
			njobs = k;
			break;
		}
	}
	work(&jobs[0]);
	for (size_t k = 0; k < njobs; k++) {
		if (k) {
			pthread_join(jobs[k].thread, NULL);
			split->merge(c->arg, jobs[k].cfg.arg);
		}
		tot->cut += jobs[k].tot.cut;
		tot->lost += jobs[k].tot.lost;
		tot->gaps += jobs[k].tot.gaps;
	}
	free(order);
}

void read_say_cut(FILE *f, const struct read_totals *tot)
{
	if (tot->gaps)
		fprintf(f, "# %llu gap%s in the trace (%llu events lost): no call is timed across one\n",
			(unsigned long long)tot->gaps, tot->gaps == 1 ? "" : "s", (unsigned long long)tot->lost);
	if (tot->cut)
		fprintf(f, "# %llu call%s cut (open at a gap, at the end of the trace or of the time range): "
			"counted as calls, in no time\n", (unsigned long long)tot->cut, tot->cut == 1 ? "" : "s");
}
