/* Batch patching time: enable and disable the sites of 1,000, 10,000 and
 * all 40,000 generated functions (gcc -mnop-mcount) in one batch, with no
 * other thread and with a second thread running through all the functions
 * the whole time.  Medians of repeated runs; a benchmark, not a test: it
 * asserts nothing about time.  `key value` lines go to $BENCH_KV if set. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "poketrace.h"
#include "runner.h"

void bench_tramp(void);

#define REPS 21

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct row {
	uint64_t ns[REPS], call_ns[REPS], traps[REPS];
	struct poketrace_batch_stats last;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void one(struct poketrace_patch *p, size_t n, struct row *w, int r)
{
	uint64_t t0 = now_ns();

	if (poketrace_patch(p, n, &w->last) < 0) {
		fprintf(stderr, "patch_bench: %s\n", poketrace_last_error());
		exit(1);
	}
	w->call_ns[r] = now_ns() - t0;
	w->ns[r] = w->last.ns;
	w->traps[r] = w->last.traps;
}

static void measure(struct poketrace_patch *on, struct poketrace_patch *off, size_t n, struct row *en,
		    struct row *dis)
{
	for (int r = 0; r < REPS; r++) {
		one(on, n, en, r);
		one(off, n, dis, r);
	}
}

static uint64_t median(const uint64_t *v)
{
	uint64_t s[REPS];

	memcpy(s, v, sizeof(s));
	qsort(s, REPS, sizeof(s[0]), cmp_u64);
	return s[REPS / 2];
}

static void print_row(const char *what, const char *threads, struct row *w, FILE *kv)
{
	printf("| %-8s | %-20s | %6zu | %5u | %9u | %18.0f | %11.0f | %6lu |\n", what, threads,
	       w->last.sites, w->last.syncs, w->last.mprotects, median(w->call_ns) / 1e3,
	       median(w->ns) / 1e3, (unsigned long)median(w->traps));
	if (kv)
		fprintf(kv, "pt_patch_%zu_%s_%s %.1f\n", w->last.sites, what, strcmp(threads, "none") ? "thread" : "alone",
			median(w->call_ns) / 1e3);
}

int main(void)
{
	static const size_t sizes[] = { 1000, 10000, 40000 };
	struct poketrace_patch *on = calloc(bf_count, sizeof(*on)), *off = calloc(bf_count, sizeof(*off));
	static struct row en0[3], dis0[3], en1[3], dis1[3];
	const char *kvp = getenv("BENCH_KV");
	FILE *kv = kvp ? fopen(kvp, "a") : NULL;
	pthread_t th;
	long sum;

	if (poketrace_init(NULL) < 0) {
		fprintf(stderr, "patch_bench: %s\n", poketrace_last_error());
		return 1;
	}
	for (long i = 0; i < bf_count; i++) {
		on[i] = (struct poketrace_patch){ (uintptr_t)bf_table[i], POKETRACE_INSN_CALL, (void *)bench_tramp };
		off[i] = (struct poketrace_patch){ (uintptr_t)bf_table[i], POKETRACE_INSN_NOP, NULL };
	}
	measure(on, off, (size_t)bf_count, &en0[2], &dis0[2]); /* warms up: first writes copy the pages */
	for (int i = 0; i < 3; i++)
		measure(on, off, sizes[i], &en0[i], &dis0[i]);
	pthread_create(&th, NULL, runner, &sum);
	for (int i = 0; i < 3; i++)
		measure(on, off, sizes[i], &en1[i], &dis1[i]);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);

	printf("Batch patching (gcc -mnop-mcount sites), medians of %d batches.\n"
	       "poketrace_patch µs: the whole call; protocol µs: int3 -> sync -> tails -> sync ->\n"
	       "heads -> sync, with the mprotect window; traps: threads that hit a site mid-batch.\n\n",
	       REPS);
	printf("| batch    | other threads        |  sites | syncs | mprotects | poketrace_patch µs | protocol µs |  traps |\n");
	printf("|----------|----------------------|--------|-------|-----------|--------------------|-------------|--------|\n");
	for (int i = 0; i < 3; i++) {
		print_row("enable", "none", &en0[i], kv);
		print_row("disable", "none", &dis0[i], kv);
		print_row("enable", "1 calling every site", &en1[i], kv);
		print_row("disable", "1 calling every site", &dis1[i], kv);
	}
	if (kv)
		fclose(kv);
	return 0;
}
