/* A long-running multi-threaded program that checks its own results, for
 * tests/t_live.sh and t_attach.sh: live_target SECONDS [LIB].  With LIB, the
 * main thread dlopens it halfway, calls its dl_fn for a second, and
 * dlcloses it. */
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NI __attribute__((noinline))

static atomic_long calls, failures;
static time_t end;

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
	while (time(NULL) < end) {
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

	end = time(NULL) + (secs > 0 && secs <= 30 ? secs : 5);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	if (argc > 2) {
		void *h;
		int (*fn)(int);

		sleep((unsigned)(end - time(NULL)) / 2);
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
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	printf("%s %ld calls, %ld wrong results\n", failures ? "FAIL" : "ok", atomic_load(&calls),
	       atomic_load(&failures));
	return failures ? 1 : 0;
}
