/* A tracer's worst case: THREADS threads call two tiny traced functions as
 * fast as they can for SECONDS.  At the end: the calls of outer() it made
 * ("calls N"), and its peak RSS ("hwm KB", from /proc/self/status).
 *   flood THREADS SECONDS [sleep]
 *   flood THREADS SECONDS [MODES]
 * MODES, comma-separated: "sleep": thread 1 sits in nap() for the whole run
 * (a frame open across every packet of its stream); "signals": a 1 kHz
 * timer's SIGALRM handler calls outer() 1000 times (traced calls in a
 * signal handler, which may have to wait for the writer); "fork": the main
 * thread forks children that call outer() a million times and exit;
 * "max=N": the threads stop after about N calls of outer() in all (the trace
 * of a flood is as big as the machine is fast: this bounds it).
 * SIGUSR1 ends the run early. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int done;
static atomic_long total, budget = -1; /* calls of outer() left; -1: no bound */
static volatile long sink;

__attribute__((noinline)) long inner(long x)
{
	return x * 3 + 1;
}

__attribute__((noinline)) long outer(long x)
{
	return inner(x) + 1;
}

__attribute__((noinline)) void nap(void)
{
	while (!atomic_load(&done))
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
}

static void *work(void *arg)
{
	long n = 0, s = 0;

	if (arg)
		nap();
	while (!atomic_load_explicit(&done, memory_order_relaxed)) {
		for (int i = 0; i < 1000; i++)
			s += outer(i);
		n += 1000;
		if (atomic_load_explicit(&budget, memory_order_relaxed) >= 0 &&
		    atomic_fetch_sub_explicit(&budget, 1000, memory_order_relaxed) <= 1000)
			atomic_store(&done, 1);
	}
	sink = s;
	atomic_fetch_add(&total, n);
	return NULL;
}

static atomic_long in_handler;

static void alarm_handler(int sig)
{
	long s = 0;

	(void)sig;
	for (int i = 0; i < 1000; i++)
		s += outer(i);
	sink = s;
	atomic_fetch_add(&in_handler, 1000);
}

/* A child of a traced process: it has no writer thread; calling traced
 * functions and exiting must neither block nor hang. */
static int forked(void)
{
	long s = 0;

	for (int i = 0; i < 1000000; i++)
		s += outer(i);
	sink = s;
	return s == 0;
}

static void stop(int sig)
{
	(void)sig;
	atomic_store(&done, 1);
}

static long hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	int nt = argc > 1 ? atoi(argv[1]) : 4;
	double secs = argc > 2 ? atof(argv[2]) : 1;
	const char *modes = argc > 3 ? argv[3] : "";
	int sleeper = strstr(modes, "sleep") != NULL, forks = 0;
	const char *max = strstr(modes, "max=");
	pthread_t *t = calloc((size_t)nt, sizeof(*t));
	struct timespec end;

	signal(SIGUSR1, stop);
	if (max)
		budget = atol(max + 4);
	for (int i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, work, sleeper && i == 0 ? (void *)1 : NULL);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)secs;
	end.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (end.tv_nsec >= 1000000000L)
		end.tv_sec++, end.tv_nsec -= 1000000000L;
	if (strstr(modes, "signals")) {
		signal(SIGALRM, alarm_handler);
		setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 1000 }, { 0, 1000 } }, NULL);
	}
	if (strstr(modes, "fork")) {
		struct timespec now;

		do {
			int status;
			pid_t pid = fork();

			if (pid == 0)
				_exit(forked());
			while (waitpid(pid, &status, 0) < 0)
				; /* EINTR: the timer */
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				printf("child failed: status %#x\n", status);
				return 1;
			}
			forks++;
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (!atomic_load(&done) && (now.tv_sec < end.tv_sec ||
						 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec)));
	}
	for (struct timespec now; !atomic_load(&done);) { /* done: SIGUSR1 or the budget spent */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	atomic_store(&done, 1);
	setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 0 }, { 0, 0 } }, NULL);
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	printf("calls %ld\nhandler %ld\nforks %d\nhwm %ld\n", atomic_load(&total), atomic_load(&in_handler), forks,
	       hwm_kb());
	return 0;
}
