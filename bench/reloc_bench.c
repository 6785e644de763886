/* Functions without a patch site next to the same functions with one, in
 * one run (issue 16).  The functions: 10,000 `x + k` functions generated
 * twice, sb_* built by clang with -fpatchable-function-entry=5 (compiler
 * sites), nb_* by plain gcc -O2 (none: their entries are relocated).
 *   - ns added per call by an empty fentry and fexit, one function in a
 *     loop, relocated entry vs compiler site (medians of 7, interleaved);
 *   - the time of one batch attaching fentry to all 10,000 with a thread
 *     calling them meanwhile: the first attach of each kind in a fresh
 *     process (the relocated one makes the copies; both load the module's
 *     DWARF and map their first chunks), medians of 9 children of each,
 *     alternating; then in one process the first attach of the relocated
 *     ones, later ones (copies made), and the compiler sites' (medians of
 *     5). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "poketrace.h"

extern long (*const sb_table[])(long), (*const nb_table[])(long);
extern const long sb_count, nb_count;

#define RUNS 7
#define COLD 9 /* fresh processes of each kind: their times move by a third here */
#define CALLS 20000000L

static atomic_int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "reloc_bench: %s: %s\n", what, poketrace_last_error());
	exit(1);
}

static void empty(struct poketrace_ctx *c) { (void)c; }

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

/* ns per call of f, called CALLS times through a pointer the compiler
 * cannot see through */
static double per_call(long (*f)(long))
{
	long (*volatile fp)(long) = f, s = 0;
	double t = now();

	for (long i = 0; i < CALLS; i++)
		s += fp(i);
	t = now() - t;
	if (s == 42)
		puts("");
	return t * 1e9 / CALLS;
}

static struct poketrace_link *attach1(enum poketrace_link_kind k, long (*f)(long))
{
	struct poketrace_link *l;

	if (poketrace_link_attach_addr(k, (uintptr_t)f, (void *)empty, NULL, &l) < 0)
		die("attach");
	return l;
}

static void *runner(void *arg)
{
	long s = 0;

	while (!atomic_load(&stop))
		for (long i = 0; i < nb_count; i++)
			s += nb_table[i](i) + sb_table[i](i);
	*(long *)arg = s;
	return NULL;
}

/* One batch of fentry links on every function of table; ms. */
static double batch(long (*const *table)(long), long n, struct poketrace_link **out)
{
	struct poketrace_link_spec *s = calloc((size_t)n, sizeof(*s));
	double t;

	if (!s)
		die("calloc");
	for (long i = 0; i < n; i++) {
		s[i].kind = POKETRACE_FENTRY;
		s[i].addr = (uintptr_t)table[i];
		s[i].handler = (void *)empty;
	}
	t = now();
	if (poketrace_links_attach(s, (size_t)n) < 0)
		die("batch");
	t = now() - t;
	for (long i = 0; i < n; i++)
		out[i] = s[i].link;
	free(s);
	return t * 1e3;
}

static double unbatch(struct poketrace_link **l, long n)
{
	double t = now();

	if (poketrace_links_detach(l, (size_t)n) < 0)
		die("detach");
	return (now() - t) * 1e3;
}

/* The first batch of a fresh process (a child), on table; ms. */
static double cold(long (*const *table)(long), long n)
{
	int fd[2];
	double ms = -1;
	pid_t pid;

	if (pipe(fd) < 0 || (pid = fork()) < 0)
		die("fork");
	if (pid == 0) {
		struct poketrace_link **links = calloc((size_t)n, sizeof(*links));
		pthread_t th;
		long sum = 0;

		close(fd[0]);
		if (poketrace_init(NULL) < 0 || !links)
			die("init");
		pthread_create(&th, NULL, runner, &sum);
		ms = batch(table, n, links);
		if (write(fd[1], &ms, sizeof(ms)) != sizeof(ms))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &ms, sizeof(ms)) != sizeof(ms))
		die("a child's batch");
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return ms;
}

int main(void)
{
	enum { SITE, RELOC };
	const char *what[2] = { "compiler site", "relocated entry" };
	long (*f[2])(long) = { sb_table[7], nb_table[7] };
	double plain[2][RUNS], fentry[2][RUNS], fexit[2][RUNS];
	struct poketrace_link **links = calloc((size_t)nb_count, sizeof(*links));
	long n = nb_count;
	int runs = RUNS;
	double first, later[5], site[5], det[5], sdet[5];
	pthread_t th;
	long sum = 0;

	double cold_site[COLD], cold_rel[COLD];

	if (getenv("RELOC_BENCH_N")) /* fewer functions, batches only (profiling) */
		n = atol(getenv("RELOC_BENCH_N")), runs = 0;
	for (int r = 0; r < COLD; r++) { /* before this process has poketrace state */
		cold_site[r] = cold(sb_table, n);
		cold_rel[r] = cold(nb_table, n);
	}
	if (poketrace_init(NULL) < 0 || !links)
		die("init");
	for (int r = 0; r < runs; r++) {
		for (int k = SITE; k <= RELOC; k++) {
			struct poketrace_link *l;

			plain[k][r] = per_call(f[k]);
			l = attach1(POKETRACE_FENTRY, f[k]);
			fentry[k][r] = per_call(f[k]);
			poketrace_link_detach(l);
			l = attach1(POKETRACE_FEXIT, f[k]);
			fexit[k][r] = per_call(f[k]);
			poketrace_link_detach(l);
		}
	}
	printf("ns per call, one function in a loop (medians of %d runs of %ld calls):\n", RUNS, CALLS);
	printf("  %-18s %8s %14s %14s\n", "", "plain", "fentry added", "fexit added");
	for (int k = SITE; k <= RELOC && runs; k++) {
		double p = median(plain[k], RUNS);

		printf("  %-18s %8.2f %14.2f %14.2f\n", what[k], p, median(fentry[k], RUNS) - p,
		       median(fexit[k], RUNS) - p);
	}

	pthread_create(&th, NULL, runner, &sum);
	first = batch(nb_table, n, links);
	unbatch(links, n);
	for (int r = 0; r < 5; r++) {
		site[r] = batch(sb_table, n, links);
		sdet[r] = unbatch(links, n);
		later[r] = batch(nb_table, n, links);
		det[r] = unbatch(links, n);
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("the first batch of fentry on %ld functions in a fresh process, a thread calling them\n"
	       "(ms, medians of %d processes of each):\n", n, COLD);
	printf("  compiler sites        attach %8.1f\n", median(cold_site, COLD));
	printf("  relocated             attach %8.1f   (%.2fx the compiler sites')\n", median(cold_rel, COLD),
	       median(cold_rel, COLD) / median(cold_site, COLD));
	printf("in one process (ms, medians of 5):\n");
	printf("  compiler sites        attach %8.1f   detach %8.1f\n", median(site, 5), median(sdet, 5));
	printf("  relocated, first      attach %8.1f   (analysis and copies made: %.2fx)\n", first,
	       first / median(site, 5));
	printf("  relocated, later      attach %8.1f   detach %8.1f   (%.2fx the compiler sites' attach)\n",
	       median(later, 5), median(det, 5), median(later, 5) / median(site, 5));
	return 0;
}
