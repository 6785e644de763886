#include "reclaimfns.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NI __attribute__((noinline))

int rf_pipe[2];
volatile int rf_inside, rf_go;
ucontext_t rf_main_ctx, rf_coro_ctx;

NI long rf_block(long x)
{
	char c;

	rf_inside = 1;
	if (read(rf_pipe[0], &c, 1) != 1)
		return -1;
	return x + 1;
}

/* Keeps a secret out of swap, as crypto code does: mlock of one page of a
 * local splits the stack mapping in three. */
NI long rf_block_mlocked(long x)
{
	char key[3 * 4096], c;

	for (unsigned i = 0; i < sizeof(key); i++)
		((volatile char *)key)[i] = 1;
	mlock(key + 4096, 4096);
	rf_inside = 1;
	if (read(rf_pipe[0], &c, 1) != 1)
		return -1;
	munlock(key + 4096, 4096);
	return x + key[100];
}

NI long rf_spin(long x)
{
	while (!rf_go)
		__asm__ volatile("pause");
	return x + 1;
}

/* A green-thread scheduler's resume(): runs a coroutine until it yields. */
NI long rf_resume(long x)
{
	swapcontext(&rf_main_ctx, &rf_coro_ctx);
	__asm__ volatile("");
	return x + 1;
}

NI long rf_work(long x)
{
	__asm__ volatile("");
	return x * 3 + 1;
}

NI long rf_nap(long us)
{
	struct timespec ts = { 0, us * 1000 };

	return nanosleep(&ts, NULL) < 0 ? -1 : us; /* -1: interrupted (EINTR) */
}
