/* ns added per call by each kind of hook, next to the plain call in the
 * same run: one function called in a loop, and 1,000 distinct functions
 * called in sequence.  Functions: clang -fpatchable-function-entry=5 -g
 * (DWARF prototypes known: one integer argument).  Medians of 7 runs,
 * modes interleaved so that machine noise hits them alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poketrace.h"

extern long hb_0(long x);
extern long hb_sweep(long x);
extern long (*const hb_table[])(long);
extern const long hb_count;

#define RUNS 7
#define CALLS 20000000L

enum mode { PLAIN, OPS1, OPS3, FENTRY_CTX, FENTRY_TYPED, FEXIT, FMOD_RET, REPLACE, NMODES };
static const char *const names[NMODES] = {
	"plain call (site is a nop)", "ops, 1 (its own trampoline)", "ops, 3 (list walk)",
	"fentry, ctx handler", "fentry, typed handler", "fexit", "fmod_ret (returns 0)",
	"replace (same body)",
};
static const char *const keys[NMODES] = {
	"plain", "ops1", "ops3", "fentry_ctx", "fentry_typed", "fexit", "fmod_ret", "replace",
};

static void empty_ctx(struct poketrace_ctx *c) { (void)c; }
static void empty_typed(long x) { (void)x; }
static int empty_modret(struct poketrace_ctx *c) { (void)c; return 0; }
static long same_body(long x) { return x + 1; }

static struct poketrace_ops *ops[3];
static struct poketrace_link **links;
static long nlinks;

static void die(const char *what)
{
	fprintf(stderr, "hook_bench: %s: %s\n", what, poketrace_last_error());
	exit(1);
}

static void enable(enum mode m, const char *glob)
{
	struct poketrace_ops_opts oo = { sizeof(oo), NULL, glob, NULL, NULL };
	struct poketrace_link_spec *s;
	enum poketrace_link_kind k = m == FEXIT ? POKETRACE_FEXIT : m == FMOD_RET ? POKETRACE_FMOD_RET
				     : m == REPLACE ? POKETRACE_REPLACE : POKETRACE_FENTRY;
	void *h = m == FENTRY_TYPED ? (void *)empty_typed : m == FMOD_RET ? (void *)empty_modret
		  : m == REPLACE ? (void *)same_body : (void *)empty_ctx;
	long n = strcmp(glob, "hb_0") ? hb_count : 1;

	if (m == PLAIN)
		return;
	if (m == OPS1 || m == OPS3) {
		for (int i = 0; i < (m == OPS1 ? 1 : 3); i++)
			if (poketrace_ops_register(empty_ctx, &oo, &ops[i]) < 0)
				die("ops");
		if (poketrace_ops_nsites(ops[0]) != n) {
			fprintf(stderr, "hook_bench: ops on %ld sites, not %ld\n", poketrace_ops_nsites(ops[0]), n);
			exit(1);
		}
		return;
	}
	s = calloc(n, sizeof(*s));
	links = calloc(n, sizeof(*links));
	for (long i = 0; i < n; i++) {
		s[i].kind = k;
		s[i].addr = (uintptr_t)hb_table[i];
		s[i].handler = h;
		s[i].opts.sz = sizeof(s[i].opts);
		s[i].opts.flags = m == FENTRY_TYPED ? POKETRACE_LINK_TYPED : 0;
	}
	if (poketrace_links_attach(s, n) < 0)
		die("links");
	for (long i = 0; i < n; i++)
		links[i] = s[i].link;
	nlinks = n;
	free(s);
}

static void disable(void)
{
	for (int i = 0; i < 3; i++)
		if (ops[i] && poketrace_ops_unregister(ops[i]) < 0)
			die("unregister");
	memset(ops, 0, sizeof(ops));
	if (nlinks && poketrace_links_detach(links, nlinks) < 0)
		die("detach");
	free(links);
	links = NULL;
	nlinks = 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile long sink;

static double run_one(void)
{
	double t = now();
	long s = 0;

	for (long i = 0; i < CALLS; i++)
		s += hb_0(i);
	sink = s;
	return (now() - t) * 1e9 / CALLS;
}

static double run_many(void)
{
	double t = now();
	long s = 0;

	for (long i = 0; i < CALLS / hb_count; i++)
		s += hb_sweep(i);
	sink = s;
	return (now() - t) * 1e9 / (double)(CALLS / hb_count * hb_count);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static double one[NMODES][RUNS], many[NMODES][RUNS];
	const char *kvp = getenv("BENCH_KV");
	FILE *kv = kvp ? fopen(kvp, "a") : NULL;

	if (poketrace_init(NULL) < 0)
		die("init");
	for (int r = 0; r < RUNS; r++) {
		for (int m = 0; m < NMODES; m++) {
			enable(m, "hb_0");
			one[m][r] = run_one();
			disable();
			enable(m, "hb_[0-9]*");
			many[m][r] = run_many();
			disable();
		}
	}
	printf("ns per call, median of %d runs of %ld calls; \"added\" = minus the plain call of the same run\n\n",
	       RUNS, CALLS);
	printf("| %-28s | 1 function | added | 1,000 functions | added |\n", "hook (empty handler)");
	printf("|------------------------------|------------|-------|-----------------|-------|\n");
	for (int m = 0; m < NMODES; m++) {
		qsort(one[m], RUNS, sizeof(double), cmp);
		qsort(many[m], RUNS, sizeof(double), cmp);
	}
	for (int m = 0; m < NMODES; m++)
		printf("| %-28s | %10.2f | %5.2f | %15.2f | %5.2f |\n", names[m], one[m][RUNS / 2],
		       one[m][RUNS / 2] - one[PLAIN][RUNS / 2], many[m][RUNS / 2],
		       many[m][RUNS / 2] - many[PLAIN][RUNS / 2]);
	for (int m = 1; kv && m < NMODES; m++)
		fprintf(kv, "pt_hook_%s_1 %.3f\npt_hook_%s_1000 %.3f\n", keys[m],
			one[m][RUNS / 2] - one[PLAIN][RUNS / 2], keys[m], many[m][RUNS / 2] - many[PLAIN][RUNS / 2]);
	if (kv)
		fclose(kv);
	return 0;
}
