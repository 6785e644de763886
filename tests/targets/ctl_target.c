/* Drives its own tracer through poketrace_tracer_control while three
 * threads run and check their results, for tests/t_live.sh in_process.
 * Run under 'poketrace record --paused'; with "none", run without poketrace.
 * Exits 0 only if every step answered as it should. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poketrace.h"

#define NI __attribute__((noinline))

static atomic_long calls, failures;
static atomic_int done;
static int bad;

NI long work_a(long x) { __asm__ volatile(""); return x * 3 + 1; }
NI long work_b(long x) { __asm__ volatile(""); return x ^ 0x55; }

static void *worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		for (long i = 0; i < 1000; i++) {
			if (work_a(i) + work_b(i) != (i * 3 + 1) + (i ^ 0x55))
				atomic_fetch_add(&failures, 1);
			atomic_fetch_add(&calls, 1);
		}
		usleep(100);
	}
	return NULL;
}

/* request, the status it must return, a line the answer must hold (or NULL) */
static void step(const char *req, int want, const char *line)
{
	char ans[4096];
	int r = poketrace_tracer_control(req, ans, sizeof(ans));

	if (r != want || (line && !strstr(ans, line))) {
		printf("FAIL %s: returned %d (want %d): %s\n%s\n", req, r, want, poketrace_last_error(), ans);
		bad = 1;
	} else {
		printf("ok %s\n", req);
	}
}

/* The same once line appears, asking again until then (30 s at most): the
 * workers run when the scheduler lets them. */
static void step_until(const char *req, const char *line)
{
	char ans[4096];

	for (int i = 0; i < 3000; i++) {
		if (poketrace_tracer_control(req, ans, sizeof(ans)) == 0 && strstr(ans, line))
			break;
		usleep(10000);
	}
	step(req, 0, line);
}

int main(int argc, char **argv)
{
	pthread_t th[3];

	if (argc > 1 && !strcmp(argv[1], "none")) {
		step("status", -ENOENT, NULL);
		return bad;
	}
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	step("status", 0, "tracing off\n");
	step("filter work_a", 0, NULL);
	step("enable", 0, NULL);
	step_until("status", "work_a\n");
	step("frobnicate", -EINVAL, NULL);
	step("disable", 0, NULL);
	step("flush", 0, "flushed ");
	step("filter -", 0, NULL);
	step("enable", 0, NULL);
	step_until("status", "work_b\n");
	step("stop", 0, NULL);
	step("status", -ENOENT, NULL);
	atomic_store(&done, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	printf("%s %ld calls, %ld wrong results\n", failures || bad ? "FAIL" : "ok", atomic_load(&calls),
	       atomic_load(&failures));
	return failures || bad;
}
