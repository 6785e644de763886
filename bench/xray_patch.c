/* LLVM XRay's patching time, for comparison with poketrace's batches
 * (bench/patch_bench.c): __xray_patch and __xray_unpatch of every sled of
 * a build of N generated functions (clang -fxray-instrument), with no other
 * thread and with a second thread calling every function the whole time.
 * Medians of 21; prints a table row per case, and `key value` lines to the
 * file named by $BENCH_KV when set. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner.h"

enum xray_entry_type { XRAY_ENTRY_TYPE_ANY };
int __xray_set_handler(void (*)(int32_t, enum xray_entry_type));
int __xray_patch(void);
int __xray_unpatch(void);


#define REPS 21

__attribute__((xray_never_instrument)) static void empty_handler(int32_t id, enum xray_entry_type t)
{
	(void)id;
	(void)t;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(double *en, double *dis)
{
	for (int r = 0; r < REPS; r++) {
		double t = now_us();

		if (__xray_patch() != 1) { /* SUCCESS */
			fprintf(stderr, "xray_patch: __xray_patch failed\n");
			exit(1);
		}
		en[r] = now_us() - t;
		t = now_us();
		if (__xray_unpatch() != 1) {
			fprintf(stderr, "xray_patch: __xray_unpatch failed\n");
			exit(1);
		}
		dis[r] = now_us() - t;
	}
	qsort(en, REPS, sizeof(*en), cmp);
	qsort(dis, REPS, sizeof(*dis), cmp);
}

int main(void)
{
	double en0[REPS], dis0[REPS], en1[REPS], dis1[REPS];
	const char *kvp = getenv("BENCH_KV");
	FILE *kv = kvp ? fopen(kvp, "a") : NULL;
	pthread_t th;
	long sum;

	__xray_set_handler(empty_handler);
	measure(en0, dis0); /* warms up: the first writes copy the pages */
	measure(en0, dis0);
	pthread_create(&th, NULL, runner, &sum);
	measure(en1, dis1);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("| XRay %6ld | %-8s | %-20s | %10.0f |\n", bf_count, "enable", "none", en0[REPS / 2]);
	printf("| XRay %6ld | %-8s | %-20s | %10.0f |\n", bf_count, "disable", "none", dis0[REPS / 2]);
	printf("| XRay %6ld | %-8s | %-20s | %10.0f |\n", bf_count, "enable", "1 calling every site", en1[REPS / 2]);
	printf("| XRay %6ld | %-8s | %-20s | %10.0f |\n", bf_count, "disable", "1 calling every site", dis1[REPS / 2]);
	if (kv) {
		fprintf(kv, "xray_patch_%ld_enable_alone %.1f\nxray_patch_%ld_disable_alone %.1f\n", bf_count,
			en0[REPS / 2], bf_count, dis0[REPS / 2]);
		fprintf(kv, "xray_patch_%ld_enable_thread %.1f\nxray_patch_%ld_disable_thread %.1f\n", bf_count,
			en1[REPS / 2], bf_count, dis1[REPS / 2]);
		fclose(kv);
	}
	return 0;
}
