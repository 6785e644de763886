/* The program's calls into shared libraries (tests/t_patch.sh libcalls):
 * tsearch/tfind calling back into the program, strtod called directly
 * and through a dlsym'd pointer, lc_outer/lc_inner of libt_lc.so, and
 * setjmp, which returns twice (not hooked: its second return would run a
 * trampoline whose frame is gone); malloc, free, pthread_mutex_lock and
 * write, which poketrace calls too.  It prints the calls it makes itself,
 * whatever the libraries do inside:
 *   calls strtod 8 tsearch 10 tfind 10 lc_outer 3 lc_inner 2 malloc 7 free 7
 *         pthread_mutex_lock 4 write 1
 * and lc_outer makes 2 calls of lc_inner each (6 more, nested). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <search.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long lc_inner(long x), lc_outer(long x);

static jmp_buf jb;

__attribute__((noinline)) static void jump_back(int i)
{
	longjmp(jb, i + 1);
}

static int cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

__attribute__((noinline)) static double parse(const char *s)
{
	return strtod(s, NULL);
}

int main(void)
{
	static long keys[10] = { 5, 3, 8, 1, 9, 2, 7, 4, 6, 0 };
	double (*f)(const char *, char **) = (double (*)(const char *, char **))dlsym(RTLD_DEFAULT, "strtod");
	void *root = NULL;
	double s = 0;
	long v = 0, found = 0;

	for (int i = 0; i < 10; i++)
		tsearch(&keys[i], &root, cmp);
	for (int i = 0; i < 10; i++)
		found += tfind(&keys[i], &root, cmp) != NULL;
	for (int i = 0; i < 5; i++)
		s += parse("1.5");
	for (int i = 0; f && i < 3; i++)
		s += f("2.5", NULL);
	for (long i = 0; i < 3; i++)
		v += lc_outer(i);
	v += lc_inner(10) + lc_inner(11);
	for (volatile int i = 0; i < 5; i++) {
		int r = setjmp(jb);

		if (r == 0)
			jump_back(i);
		v += r;
	}
	for (int i = 0; i < 7; i++) {
		static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
		char *p = malloc(16 + i);

		if (i < 4) {
			pthread_mutex_lock(&mu);
			v += p != NULL;
			pthread_mutex_unlock(&mu);
		}
		free(p);
	}
	if (write(1, "written\n", 8) != 8)
		return 1;
	printf("found %ld sum %.1f v %ld\n", found, s, v);
	printf("calls strtod 8 tsearch 10 tfind 10 lc_outer 3 lc_inner 2 malloc 7 free 7 pthread_mutex_lock 4 "
	       "write 1\n");
	return 0;
}
