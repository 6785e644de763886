/* A program that starts processes the ways programs do, each calling
 * work(n) (which calls leaf n times) a known number of times:
 *   family fork K     two threads work(100) each; K children forked while
 *                     they run, each with a thread work(50) and work(50)
 *   family exec       work(10), then exec itself as "family child"
 *   family clearenv   a child exec'd with an empty environment
 *   family spawn      a child by posix_spawn
 *   family spawnenv   a child by posix_spawnp with an empty environment
 *   family spawnnull  /usr/bin/env by posix_spawn with a NULL environment
 *   family vfork      a child by vfork that work(7)s and execv
 *   family orphan     work(5) and exit; its child outlives it: once
 *                     reparented, work(30)
 *   family quick      a child work(40) and _exit(0); then work(5), _Exit(0)
 *   family rawfork    a child by _Fork (no fork handler runs) that exit()s
 *   family smallstack a thread on a 16 KiB stack (the least) forks; the child work(5)
 *   family child      work(20): what the exec'd children run
 * Exit status 0, or 1 if a step failed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NI __attribute__((noinline))

extern char **environ;
volatile long sink;
static char self[4096];

NI void leaf(int i)
{
	sink += i;
}

NI void work(int n)
{
	for (int i = 0; i < n; i++)
		leaf(i);
}

static void *thread_work(void *arg)
{
	work((int)(long)arg);
	return NULL;
}

static int reap(pid_t p)
{
	int st;

	return p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static void *small_fork(void *arg)
{
	pid_t p = fork();

	(void)arg;
	if (p == 0) {
		work(5);
		exit(0);
	}
	return reap(p) ? (void *)1 : NULL;
}

static int forks(int k)
{
	pthread_t t[2];
	int bad = 0;

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread_work, (void *)100L);
	for (int i = 0; i < k; i++) {
		pid_t p = fork();

		if (p == 0) {
			pthread_t c;

			pthread_create(&c, NULL, thread_work, (void *)50L);
			work(50);
			pthread_join(c, NULL);
			exit(0);
		}
		bad |= reap(p);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	return bad;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "child";
	char *child_argv[] = { "family", "child", NULL }, *no_env[] = { NULL };
	pid_t p;

	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
		return 1;
	if (!strcmp(mode, "child")) {
		work(20);
		return 0;
	}
	if (!strcmp(mode, "fork"))
		return forks(argc > 2 ? atoi(argv[2]) : 2);
	if (!strcmp(mode, "exec")) {
		work(10);
		execv(self, child_argv);
		return 1;
	}
	if (!strcmp(mode, "clearenv")) {
		if ((p = fork()) == 0) {
			execve(self, child_argv, no_env);
			_exit(1);
		}
		return reap(p);
	}
	if (!strcmp(mode, "spawn"))
		return posix_spawn(&p, self, NULL, NULL, child_argv, environ) ? 1 : reap(p);
	if (!strcmp(mode, "spawnenv"))
		return posix_spawnp(&p, self, NULL, NULL, child_argv, no_env) ? 1 : reap(p);
	if (!strcmp(mode, "spawnnull")) {
		/* no environment at all: the child's is empty (but for the agent's) */
		char *env_argv[] = { "env", NULL };

		return posix_spawn(&p, "/usr/bin/env", NULL, NULL, env_argv, NULL) ? 1 : reap(p);
	}
	if (!strcmp(mode, "vfork")) {
		if ((p = vfork()) == 0) {
			/* (in the parent's memory: not the parent's calls) */
			work(7);
			execv(self, child_argv);
			_exit(1);
		}
		return reap(p);
	}
	if (!strcmp(mode, "orphan")) {
		pid_t parent = getpid();

		if ((p = fork()) == 0) {
			while (getppid() == parent) /* until the parent has exited */
				nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
			work(30);
			exit(0);
		}
		work(5);
		return 0;
	}
	if (!strcmp(mode, "rawfork")) {
		if ((p = _Fork()) == 0)
			exit(0);
		work(3);
		return reap(p);
	}
	if (!strcmp(mode, "smallstack")) {
		pthread_attr_t a;
		pthread_t t;
		void *r;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, PTHREAD_STACK_MIN);
		if (pthread_create(&t, &a, small_fork, NULL))
			return 1;
		pthread_join(t, &r);
		return r != NULL;
	}
	if (!strcmp(mode, "quick")) {
		int bad;

		if ((p = fork()) == 0) {
			work(40);
			_exit(0);
		}
		bad = reap(p);
		work(5);
		_Exit(bad);
	}
	return 1;
}
