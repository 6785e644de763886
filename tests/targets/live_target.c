/* A long-running multi-threaded program that checks its own results, for
 * tests/t_live.sh and t_attach.sh: live_target SECONDS [LIB].  It runs until
 * it receives SIGUSR1 (SECONDS at most: the tests say when they are done,
 * whatever the machine's speed).  With LIB, the main thread waits for
 * SIGUSR2 instead, then dlopens LIB, calls its dl_fn for a second,
 * dlcloses it and ends.  With LIVE_TARGET_BLOCK in the environment the
 * workers block every signal. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NI __attribute__((noinline))

static atomic_long calls, failures;
static atomic_int done, go;
static time_t end;

static void on_signal(int sig)
{
	atomic_store(sig == SIGUSR1 ? &done : &go, 1);
}

/* Until flag is set by a signal, or the time is up. */
static void wait_for(atomic_int *flag)
{
	struct timespec ts = { 0, 10000000 };

	while (!atomic_load(flag) && time(NULL) < end)
		nanosleep(&ts, NULL);
}

NI long work_a(long x) { __asm__ volatile(""); return x * 3 + 1; }
NI long work_b(long x) { __asm__ volatile(""); return x ^ 0x55; }
NI long combine(long x) { return work_a(x) + work_b(x); }

NI int check(long x, long v)
{
	return v == (x * 3 + 1) + (x ^ 0x55);
}

static void *worker(void *arg)
{
	(void)arg;
	if (getenv("LIVE_TARGET_BLOCK")) {
		/* a server's workers often take no signal at all */
		sigset_t all;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, NULL);
	}
	while (!atomic_load(&done)) {
		for (long i = 0; i < 1000; i++) {
			if (!check(i, combine(i)))
				atomic_fetch_add(&failures, 1);
			atomic_fetch_add(&calls, 1);
		}
		struct timespec ts = { 0, 200000 };

		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 5;
	pthread_t th[3];

	end = time(NULL) + (secs > 0 && secs <= 600 ? secs : 5);
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	if (argc > 2) {
		void *h;
		int (*fn)(int);

		wait_for(&go);
		if (!(h = dlopen(argv[2], RTLD_NOW)) || !(fn = (int (*)(int))dlsym(h, "dl_fn"))) {
			printf("FAIL dlopen %s: %s\n", argv[2], dlerror());
			return 1;
		}
		/* a whole second (time() may tick at once): the agent finds a
		 * module it did not see loaded within 50 ms */
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 1000; i++)
				if (fn(i) != i * 10)
					atomic_fetch_add(&failures, 1);
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 1000000000L);
		dlclose(h);
		atomic_store(&done, 1);
	}
	wait_for(&done);
	atomic_store(&done, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	printf("%s %ld calls, %ld wrong results\n", failures ? "FAIL" : "ok", atomic_load(&calls),
	       atomic_load(&failures));
	return failures ? 1 : 0;
}
