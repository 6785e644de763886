/* The end-to-end program for tests/t_record.sh.  It exercises recursion,
 * threads (one leaving through pthread_exit), longjmp, a signal handler, a
 * library linked at start and one dlopen'ed, and counts its own calls:
 * the last lines of its output are "count FUNCTION N". */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NI __attribute__((noinline))

long lib_scale(long x);
long lib_twice(long x);

static long n_deep, n_fib, n_leaf, n_worker_step, n_exiter, n_jumper, n_on_signal, n_dl_fn, n_lib_twice;
static jmp_buf jb;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Recursion through volatile pointers: clang turns direct self-calls into
 * loops, and the program's counts must be counts of calls. */
long fib(long n);
void jumper(int depth);
static long (*volatile fib_p)(long) = fib;
static void (*volatile jumper_p)(int) = jumper;

NI long fib(long n)
{
	__atomic_add_fetch(&n_fib, 1, __ATOMIC_RELAXED);
	return n < 2 ? n : fib_p(n - 1) + fib_p(n - 2);
}

long deep(long n);
static long (*volatile deep_p)(long) = deep;

/* Deep recursion: 3,000 frames. */
NI long deep(long n)
{
	__atomic_add_fetch(&n_deep, 1, __ATOMIC_RELAXED);
	return n ? deep_p(n - 1) + 1 : 0;
}

/* A string argument (for -A): NULL-safe. */
NI long name_len(const char *s, long bias)
{
	long n = 0;

	while (s && s[n])
		n++;
	return n + bias;
}

NI long leaf(long x)
{
	__atomic_add_fetch(&n_leaf, 1, __ATOMIC_RELAXED);
	return x ^ 0x5a;
}

NI long worker_step(long i)
{
	__atomic_add_fetch(&n_worker_step, 1, __ATOMIC_RELAXED);
	return leaf(i) + 1;
}

NI void exiter(void)
{
	__atomic_add_fetch(&n_exiter, 1, __ATOMIC_RELAXED);
	pthread_exit(NULL);
}

static void *worker(void *arg)
{
	long id = (long)arg, s = 0;

	for (long i = 0; i < 5000; i++)
		s += worker_step(i);
	if (id == 0)
		exiter();
	return (void *)s;
}

NI void jumper(int depth)
{
	__atomic_add_fetch(&n_jumper, 1, __ATOMIC_RELAXED);
	if (depth == 0)
		longjmp(jb, 1);
	jumper_p(depth - 1);
}

NI void on_signal(int sig)
{
	(void)sig;
	__atomic_add_fetch(&n_on_signal, 1, __ATOMIC_RELAXED);
	leaf(7);
}

int main(int argc, char **argv)
{
	const char *dl = argc > 1 ? argv[1] : NULL;
	pthread_t th[3];
	void *h;

	fib(15);
	deep(2999);
	name_len("poketrace", 1);
	name_len(NULL, 2);
	{
		/* a string that ends where the mapping does: the tracer reads it
		 * whole without touching the unmapped page after it */
		char *pg = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (pg != MAP_FAILED && munmap(pg + 4096, 4096) == 0) {
			memcpy(pg + 4096 - 5, "edge", 5);
			name_len(pg + 4096 - 5, 3);
		}
	}
	if (argc > 2 && !strcmp(argv[2], "spin")) {
		/* until killed (the test sends SIGKILL), 10 s at most: a trace
		 * grows by hundreds of MB a second */
		time_t end = time(NULL) + 10;

		for (long i = 0; time(NULL) < end; i++)
			for (int k = 0; k < 1000; k++)
				leaf(k);
		return 3;
	}
	if (argc > 2 && !strcmp(argv[2], "crash")) {
		/* a fatal signal: the agent writes its buffers before dying */
		for (int i = 0; i < 1000; i++)
			leaf(i);
		printf("count leaf %ld\n", n_leaf);
		fflush(stdout);
		*(volatile int *)0 = 1;
	}
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int r = 0; r < 10; r++)
		if (!setjmp(jb))
			jumper(4);
	signal(SIGUSR1, on_signal);
	for (int i = 0; i < 5; i++)
		raise(SIGUSR1);
	for (int i = 0; i < 100; i++) {
		lib_twice(i);
		n_lib_twice++;
	}
	if (dl && (h = dlopen(dl, RTLD_NOW))) {
		int (*fn)(int) = (int (*)(int))dlsym(h, "dl_fn");

		for (int i = 0; i < 250; i++) {
			fn(i);
			n_dl_fn++;
		}
		dlclose(h);
	}
	pthread_mutex_lock(&mu);
	printf("count deep %ld\ncount fib %ld\ncount leaf %ld\ncount worker_step %ld\ncount exiter %ld\n"
	       "count jumper %ld\ncount on_signal %ld\ncount lib_twice %ld\ncount lib_scale %ld\n"
	       "count dl_fn %ld\n", n_deep, n_fib, n_leaf, n_worker_step, n_exiter, n_jumper, n_on_signal,
	       n_lib_twice, 2 * n_lib_twice, n_dl_fn);
	pthread_mutex_unlock(&mu);
	return 0;
}
