/* A program not linked with poketrace, which dlopens it (a late load, as
 * poketrace attach makes one): tests/t_load.sh.
 *   late_target LIB late      threads that blocked SIGTRAP before the load
 *                             (one only it, one every signal but the
 *                             engine's), one that blocks every signal and
 *                             one that installs a SIGTRAP handler after
 *                             it; a toggle storm meanwhile: "ok N batches"
 *   late_target LIB blocked   a running thread blocked every signal
 *                             before the load: batches are refused, none
 *                             written: "refused: REASON"
 *   late_target LIB wait GO   waits for the file GO, then loads and says
 *                             what poketrace finds at f: "f: SYMBOL" or
 *                             "f: ERROR" (the file may be replaced meanwhile)
 *   late_target LIB self      the lookup of f at once (run through ld.so) */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "poketrace.h"

#define NI __attribute__((noinline))

static volatile int one = 1;
static atomic_int stop, ready;
static atomic_long calls, wrong;

#ifdef PAD
NI int pad(int x) { return x * one * 3 + one * 5 - x * x; }
#endif
NI int f(int x) { return x * one + 1; }
NI int g(int x) { return x * one + 2; }

static void *worker(void *arg)
{
	long how = (long)arg;
	sigset_t s;

	sigemptyset(&s);
	if (how == 1)
		sigaddset(&s, SIGTRAP);
	else if (how >= 2)
		sigfillset(&s);
	if (how == 2)
		sigdelset(&s, SIGRTMAX - 2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&stop)) {
		int v = f(1);

		if (v != 2 && v != 3)
			atomic_fetch_add(&wrong, 1);
		atomic_fetch_add(&calls, 1);
	}
	return NULL;
}

static void own_trap(int sig)
{
	(void)sig;
}

static struct {
	int (*init)(const struct poketrace_init_opts *);
	int (*patch)(const struct poketrace_patch *, size_t, struct poketrace_batch_stats *);
	int (*lookup)(uintptr_t, struct poketrace_site *);
	const char *(*error)(void);
} pt;

static void load(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW);

	if (!h) {
		printf("dlopen: %s\n", dlerror());
		exit(2);
	}
	pt.init = (int (*)(const struct poketrace_init_opts *))dlsym(h, "poketrace_init");
	pt.patch = (int (*)(const struct poketrace_patch *, size_t, struct poketrace_batch_stats *))dlsym(h, "poketrace_patch");
	pt.lookup = (int (*)(uintptr_t, struct poketrace_site *))dlsym(h, "poketrace_site_lookup");
	pt.error = (const char *(*)(void))dlsym(h, "poketrace_last_error");
}

static int toggle(int n)
{
	struct poketrace_patch on = { (uintptr_t)f, POKETRACE_INSN_JMP, (void *)g }, off = { (uintptr_t)f, 0, NULL };
	int r = 0;

	for (int i = 0; i < n && r == 0; i++)
		if ((r = pt.patch(&on, 1, NULL)) == 0)
			r = pt.patch(&off, 1, NULL);
	return r;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "self";
	pthread_t t[4];
	struct poketrace_site s;
	int r;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 3)
		return 2;
	if (!strcmp(mode, "wait") && argc > 3) {
		printf("waiting; f at %p\n", (void *)f);
		while (access(argv[3], F_OK))
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	if (!strcmp(mode, "wait") || !strcmp(mode, "self")) {
		load(argv[1]);
		r = pt.lookup((uintptr_t)f, &s);
		printf("f: %s\n", r ? pt.error() : s.symbol ? s.symbol : "(no symbol)");
		return r ? 1 : 0;
	}
	if (!strcmp(mode, "blocked")) {
		pthread_create(&t[0], NULL, worker, (void *)3);
		while (atomic_load(&ready) < 1)
			;
		load(argv[1]);
		r = toggle(1);
		atomic_store(&stop, 1);
		pthread_join(t[0], NULL);
		printf("%s: %s\n", r == -EDEADLK ? "refused" : r ? "failed" : "written", r ? pt.error() : "");
		return r == -EDEADLK && f(1) == 2 ? 0 : 1;
	}
	/* late: two threads blocked SIGTRAP before the load */
	pthread_create(&t[0], NULL, worker, (void *)1);
	pthread_create(&t[1], NULL, worker, (void *)2);
	while (atomic_load(&ready) < 2)
		;
	load(argv[1]);
	if ((r = pt.init(NULL)) < 0) {
		printf("init: %s\n", pt.error());
		return 1;
	}
	/* after it: a thread blocks everything, the main thread installs a
	 * SIGTRAP handler, with glibc's calls as the program binds them */
	pthread_create(&t[2], NULL, worker, (void *)3);
	while (atomic_load(&ready) < 3)
		;
	signal(SIGTRAP, own_trap);
	r = toggle(2000);
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	if (r) {
		printf("batch failed: %s\n", pt.error());
		return 1;
	}
	printf("ok 4000 batches, %ld calls, %ld wrong\n", atomic_load(&calls), atomic_load(&wrong));
	return atomic_load(&wrong) ? 1 : 0;
}
