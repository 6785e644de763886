/* A program profiling itself (setitimer ITIMER_PROF, as a -pg build's
 * profil does) while a thread allocates, and its main thread sleeping:
 * nanosleep and poll must not end early with EINTR (t_record sleeps_kept).
 * The CPU-time timer's signal goes to the thread that used the time: if
 * that thread blocks it (poketrace's writer, busy with the allocations'
 * events), the kernel hands it to another one, the sleeping main thread.
 * With "attach [SECONDS [epoll]]": no timer; "ready" once it sleeps (3 s;
 * in epoll_wait with "epoll", which a ptrace stop ends with EINTR), for t_attach:
 * the thread that runs the injected load sleeps, and must sleep on.
 * Prints "slept" and exits 0, or names what was interrupted and exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static volatile int stop;
static volatile long ticks;

static void on_prof(int sig)
{
	(void)sig;
	ticks++;
}

static void *churn(void *arg)
{
	(void)arg;
	while (!stop) {
		void *volatile p = malloc(64); /* (volatile: clang removes the pair) */

		free(p);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int attach = argc > 1 && !strcmp(argv[1], "attach");
	struct sigaction sa = { 0 };
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct timespec ts = { 1, 0 };
	pthread_t t;
	int bad = 0;

	sa.sa_handler = on_prof;
	sa.sa_flags = SA_RESTART;
	if (!attach) {
		sigaction(SIGPROF, &sa, NULL);
		setitimer(ITIMER_PROF, &it, NULL);
	}
	if (pthread_create(&t, NULL, churn, NULL))
		return 1;
	if (attach) {
		ts.tv_sec = argc > 2 ? atoi(argv[2]) : 3;
		printf("ready\n");
		fflush(stdout);
	} else {
		/* not measured: while tracing starts, a thread about to sleep may
		 * still be signalled (its state read as running an instant
		 * before: README "Signals") */
		struct timespec w = { 0, 200000000 };

		while (nanosleep(&w, &w) < 0 && errno == EINTR)
			;
	}
	if (attach && argc > 3 && !strcmp(argv[3], "epoll")) {
		struct epoll_event ev;
		int ep = epoll_create1(0);

		if (epoll_wait(ep, &ev, 1, (int)ts.tv_sec * 1000) < 0) {
			printf("epoll_wait: %s\n", strerror(errno));
			bad = 1;
		}
	} else if (nanosleep(&ts, NULL) < 0) {
		printf("nanosleep: %s\n", strerror(errno));
		bad = 1;
	}
	if (poll(NULL, 0, 500) < 0) {
		printf("poll: %s\n", strerror(errno));
		bad = 1;
	}
	stop = 1;
	pthread_join(t, NULL);
	if (!bad)
		printf("slept\n");
	return bad;
}
