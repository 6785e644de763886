/* livecount: counts calls of every function of libkv and of the workload
 * while two threads keep running it, switching the counting on and off with
 * poketrace batches.  Shows the public API: sites, executable memory near a
 * module, patch batches and their statistics. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv/workload.h"
#include "poketrace.h"

#define MAXFN 64

struct fn {
	const char *name;
	uintptr_t site;
	void *counter_code;
	volatile long calls;
};

static struct fn fns[MAXFN];
static int nfns;
static atomic_int stop;

static int add_site(const struct poketrace_site *s, void *ctx)
{
	(void)ctx;
	if (nfns == MAXFN || (s->flags & POKETRACE_SITE_UNPATCHABLE))
		return 0;
	fns[nfns].name = s->symbol;
	fns[nfns].site = s->addr;
	nfns++;
	return 0;
}

/* push rax; movabs rax, &calls; lock incq (rax); pop rax; ret: counts and
 * returns into the function with every argument register untouched. */
static int make_counter(struct fn *f)
{
	uint8_t code[] = { 0x50, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x48, 0xff, 0x00, 0x58, 0xc3 };
	uint64_t a = (uint64_t)(uintptr_t)&f->calls;
	int r;

	memcpy(code + 3, &a, sizeof(a));
	if ((r = poketrace_execmem_alloc((void *)f->site, sizeof(code), &f->counter_code)) < 0)
		return r;
	return poketrace_execmem_write(f->counter_code, code, sizeof(code));
}

static int set_counting(int on, struct poketrace_batch_stats *st)
{
	struct poketrace_patch p[MAXFN];

	for (int i = 0; i < nfns; i++)
		p[i] = (struct poketrace_patch){ fns[i].site, on ? POKETRACE_INSN_CALL : POKETRACE_INSN_NOP,
						 fns[i].counter_code };
	return poketrace_patch(p, (size_t)nfns, st);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&stop))
		workload_run(seed++, 20000);
	return NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "livecount: %s: %s\n", what, poketrace_last_error());
	exit(1);
}

int main(void)
{
	struct timespec pause = { 0, 30 * 1000 * 1000 };
	struct poketrace_batch_stats st;
	pthread_t th[2];

	if (poketrace_init(NULL) < 0)
		die("init");
	if (poketrace_sites_foreach(NULL, "libkv.so", add_site, NULL) < 0 ||
	    poketrace_sites_foreach(NULL, "livecount", add_site, NULL) < 0)
		die("listing sites");
	for (int i = 0; i < nfns; i++)
		if (make_counter(&fns[i]) < 0)
			die("executable memory");
	printf("livecount: %d patch sites in libkv.so and livecount\n", nfns);

	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(100 * i + 1));
	for (int round = 0; round < 6; round++) {
		if (set_counting(round % 2 == 0, &st) < 0)
			die("patching");
		printf("batch %d: %-8s %zu sites, %u syncs, %u range(s), %u mprotects, "
		       "threads running\n", round + 1, round % 2 == 0 ? "counting" : "off", st.sites,
		       st.syncs, st.ranges, st.mprotects);
		nanosleep(&pause, NULL);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);

	/* Exact counts of one deterministic run. */
	for (int i = 0; i < nfns; i++)
		fns[i].calls = 0;
	if (set_counting(1, &st) < 0)
		die("patching");
	printf("\ncalls in one run of workload_run(seed 7, 10000 ops) -> checksum %016llx:\n",
	       (unsigned long long)workload_run(7, 10000));
	if (set_counting(0, &st) < 0)
		die("patching");
	for (int i = 0; i < nfns; i++)
		if (fns[i].calls)
			printf("  %-14s %8ld\n", fns[i].name ? fns[i].name : "?", fns[i].calls);
	{
		struct poketrace_stats gs;

		poketrace_get_stats(&gs);
		printf("\n%lu batches, %lu sites written, %lu syncs, %lu int3 traps emulated "
		       "(threads that ran into a site mid-batch)\n", (unsigned long)gs.batches,
		       (unsigned long)gs.sites_written, (unsigned long)gs.syncs,
		       (unsigned long)gs.traps_emulated);
	}
	return 0;
}
