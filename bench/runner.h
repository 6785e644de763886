/* The concurrent thread of the patching benchmarks (patch_bench.c,
 * xray_patch.c): calls every generated function (bf_table) until `stop`,
 * so that batches are written while a thread runs through the sites. */
#ifndef BENCH_RUNNER_H
#define BENCH_RUNNER_H

#include <stdatomic.h>

extern long (*const bf_table[])(long);
extern const long bf_count;

static atomic_int stop;

static void *runner(void *arg)
{
	long sum = 0;

	while (!atomic_load(&stop))
		for (long i = 0; i < bf_count; i++)
			sum += bf_table[i](i);
	*(long *)arg = sum;
	return NULL;
}

#endif
