/* Target functions; compiled with the site flags of the flavor under test. */
#include "funcs.h"

#define NOINLINE __attribute__((noinline))
#if defined(SITE_MCOUNT)
#define NOSITE __attribute__((no_instrument_function))
#else
#define NOSITE __attribute__((patchable_function_entry(0, 0)))
#endif

NOINLINE int tgt_add(int a, int b)
{
	__asm__ volatile("");
	return a + b;
}

NOINLINE long tgt_mul(long a, long b)
{
	__asm__ volatile("");
	return a * b;
}

NOINLINE int tgt_void(void)
{
	__asm__ volatile("");
	return 7;
}

NOINLINE double tgt_double(double x)
{
	__asm__ volatile("");
	return x * 2.0;
}

static NOINLINE int tgt_static(int x)
{
	__asm__ volatile("");
	return x - 1;
}

NOINLINE int (*tgt_static_ptr(void))(int)
{
	return tgt_static;
}

NOSITE NOINLINE int tgt_nosite(int x)
{
	__asm__ volatile("");
	return x + 100;
}
