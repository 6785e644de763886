/* Stress: worker threads call 10,000 instrumented functions (gcc -mnop-mcount
 * sites) while another thread toggles all of them between nop and a call to
 * a per-thread counter.  In every window in which the sites stayed enabled
 * (or disabled) the whole time, a sweep must count exactly 10,000 (or 0). */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "targets/tramp.h"

extern long (*const gf_table[])(long);
extern const long gf_count;

#define WORKERS 2

static struct poketrace_patch *on, *off;
static uintptr_t *site_addr;
static atomic_ulong seq; /* odd while a batch is in flight; (seq/2)%2 == 1: enabled */
static atomic_int stop;
static atomic_long verified_on, verified_off, failures, sweeps;
static uint64_t traps, batch_ns_total;
static long batches;

static void setup(const struct poketrace_init_opts *o)
{
	OK(poketrace_init(o));
	on = calloc(gf_count, sizeof(*on));
	off = calloc(gf_count, sizeof(*off));
	site_addr = calloc(gf_count, sizeof(*site_addr));
	for (long i = 0; i < gf_count; i++) {
		struct poketrace_site s;

		OK(poketrace_site_lookup((uintptr_t)gf_table[i], &s));
		site_addr[i] = s.addr;
		on[i] = (struct poketrace_patch){ s.addr, POKETRACE_INSN_CALL, (void *)tramp_count_tls };
		off[i] = (struct poketrace_patch){ s.addr, POKETRACE_INSN_NOP, NULL };
	}
}

static long sweep(void)
{
	long sum = 0;

	for (long i = 0; i < gf_count; i++)
		sum += gf_table[i](i);
	return sum;
}

static void *worker(void *arg)
{
	const long want_sum = gf_count * gf_count; /* sum of (i + i + 1) */

	if (arg) {
		sigset_t all;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, NULL);
	}
	while (!atomic_load(&stop)) {
		unsigned long s0 = atomic_load(&seq), s1;
		long c0 = tls_count, sum = sweep(), got = tls_count - c0;

		s1 = atomic_load(&seq);
		atomic_fetch_add(&sweeps, 1);
		if (sum != want_sum) {
			fprintf(stderr, "wrong results: sum %ld, want %ld\n", sum, want_sum);
			atomic_fetch_add(&failures, 1);
		}
		if (s0 != s1 || (s0 & 1))
			continue; /* a batch ran meanwhile: partial counts are right */
		if ((s0 / 2) % 2) {
			atomic_fetch_add(&verified_on, 1);
			if (got != gf_count) {
				fprintf(stderr, "enabled window counted %ld of %ld calls\n", got, gf_count);
				atomic_fetch_add(&failures, 1);
			}
		} else {
			atomic_fetch_add(&verified_off, 1);
			if (got != 0) {
				fprintf(stderr, "disabled window counted %ld calls\n", got);
				atomic_fetch_add(&failures, 1);
			}
		}
	}
	return NULL;
}

static void toggle(int rounds, bool pause)
{
	for (int r = 0; r < rounds && !atomic_load(&failures); r++) {
		struct poketrace_batch_stats st;
		bool enable = (atomic_load(&seq) / 2) % 2 == 0;

		atomic_fetch_add(&seq, 1);
		OK(poketrace_patch(enable ? on : off, gf_count, &st));
		atomic_fetch_add(&seq, 1);
		CHECK(st.sites == (size_t)gf_count && st.syncs == 3, "stats %zu/%u", st.sites, st.syncs);
		traps += st.traps;
		batch_ns_total += st.ns;
		batches++;
		/* Leave the workers stable windows of either state to verify. */
		if (pause)
			usleep(r % 3 == 0 ? 2000 : 200);
	}
}

static void run(const struct poketrace_init_opts *o, int rounds)
{
	pthread_t th[WORKERS];

	setup(o);
	double give_up = test_now() + 300;

	for (long i = 0; i < WORKERS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i); /* worker 1 blocks all signals */
	toggle(rounds, true);
	/* However the scheduler placed the threads (one core, a loaded
	 * machine), go on until the race was run: a thread met an int3 and
	 * each state had a window verified. */
	while ((!traps || !atomic_load(&verified_on) || !atomic_load(&verified_off)) &&
	       !atomic_load(&failures) && test_now() < give_up)
		toggle(10, true);
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(th[i], NULL);
	printf("%ld batches of %ld sites (%.0f us each), %ld sweeps, verified windows: %ld enabled, "
	       "%ld disabled; %lu int3 traps emulated\n", batches, gf_count,
	       batches ? batch_ns_total / 1e3 / batches : 0.0, atomic_load(&sweeps),
	       atomic_load(&verified_on), atomic_load(&verified_off), (unsigned long)traps);
	CHECK(atomic_load(&failures) == 0, "%ld failed checks", atomic_load(&failures));
	CHECK(atomic_load(&verified_on) > 0 && atomic_load(&verified_off) > 0,
	      "no stable window was verified");
	CHECK(traps > 0, "no int3 was hit during a batch: the race was not run");
}

static void toggle_membarrier(void)
{
	run(&(struct poketrace_init_opts){ .sz = sizeof(struct poketrace_init_opts),
					   .sync = POKETRACE_SYNC_MEMBARRIER }, 2000);
}

static void toggle_signal_sync(void)
{
	run(&(struct poketrace_init_opts){ .sz = sizeof(struct poketrace_init_opts),
					   .sync = POKETRACE_SYNC_SIGNAL }, 300);
}

static void toggle_procmem(void)
{
	run(&(struct poketrace_init_opts){ .sz = sizeof(struct poketrace_init_opts),
					   .write = POKETRACE_WRITE_PROCMEM }, 100);
}

/* ------------------------------------------------------------ fork */

static void *toggler(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		toggle(1, false), usleep(100); /* lets fork() and dlopen take the lock */
	return NULL;
}

static int child_check(void)
{
	uint8_t first = *(uint8_t *)site_addr[0];
	long c0 = tls_count, got;

	/* No batch can be in flight in the child: all sites agree, no int3. */
	for (long i = 0; i < gf_count; i++)
		if (*(uint8_t *)site_addr[i] != first || first == 0xcc)
			return 3;
	if (sweep() != gf_count * gf_count)
		return 4;
	got = tls_count - c0;
	return got == (first == 0xe8 ? gf_count : 0) ? 0 : 5;
}

static void fork_while_toggling(void)
{
	pthread_t t;

	setup(NULL);
	pthread_create(&t, NULL, toggler, NULL);
	/* 40 children at least, and as many as it takes for the toggler to
	 * have run batches meanwhile (a loaded machine may keep it waiting) */
	for (int i = 0; i < 40 || (batches <= 10 && i < 20000); i++) {
		int status;
		pid_t pid = fork();

		if (pid == 0)
			_exit(child_check());
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork");
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", i, status);
		usleep(2000);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("the children ran all 10,000 functions during %ld batches\n", batches);
	CHECK(batches > 10, "only %ld batches ran while forking", batches);
}

/* ------------------------------------------------------ dlopen/dlclose */

static void *dl_loop(void *arg)
{
	for (int i = 0; i < 150; i++) {
		volatile long hits = 0;
		void *h = dlopen(DL_PATH, RTLD_NOW), *ctr;
		int (*fn)(int);
		struct poketrace_patch p;

		CHECK(h, "dlopen: %s", dlerror());
		fn = (int (*)(int))dlsym(h, "dl_fn");
		ctr = make_counter_near((void *)fn, &hits);
		CHECK(ctr, "counter: %s", poketrace_last_error());
		p = (struct poketrace_patch){ (uintptr_t)fn, POKETRACE_INSN_CALL, ctr };
		OK(poketrace_patch(&p, 1, NULL));
		for (int k = 0; k < 100; k++)
			CHECK(fn(k) == 10 * k, "dl_fn result");
		CHECK(hits == 100, "hits %ld", hits);
		/* Every other time, close it while still patched. */
		if (i % 2) {
			p.insn = POKETRACE_INSN_NOP;
			OK(poketrace_patch(&p, 1, NULL));
		}
		CHECK(dlclose(h) == 0, "dlclose");
		OK(poketrace_execmem_free(ctr));
	}
	(void)arg;
	return NULL;
}

static int count_cb(const struct poketrace_site *s, void *ctx)
{
	(void)s;
	(void)ctx;
	return 0;
}

static void dlopen_while_toggling(void)
{
	pthread_t t, d, w;

	setup(NULL);
	pthread_create(&w, NULL, worker, NULL);
	pthread_create(&t, NULL, toggler, NULL);
	pthread_create(&d, NULL, dl_loop, NULL);
	pthread_join(d, NULL);
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	pthread_join(w, NULL);
	printf("150 dlopen/patch/dlclose rounds during %ld batches\n", batches);
	CHECK(atomic_load(&failures) == 0, "%ld failed checks", atomic_load(&failures));
	CHECK(!dlopen(DL_PATH, RTLD_NOLOAD), "library still loaded");
	CHECK(poketrace_sites_foreach(NULL, "libt_dl_clang.so", count_cb, NULL) == 0,
	      "sites of the unloaded library remain in the table");
}

TEST_MAIN(CASE(toggle_membarrier), CASE(toggle_signal_sync), CASE(toggle_procmem),
	  CASE(fork_while_toggling), CASE(dlopen_while_toggling))
