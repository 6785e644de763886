/* Built without -g: poketrace knows no prototype for these. */
#include <stdarg.h>

#include "varsum.h"

#define NI __attribute__((noinline))

NI long nd2(long a, long b) { __asm__ volatile(""); return a * 3 + b; }
NI long nd8(long a, long b, long c, long d, long e, long f, long g, long h)
{
	__asm__ volatile("");
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}
NI long ndv(int n, ...)
{
	va_list ap;
	long sum;

	va_start(ap, n);
	sum = varsum(n, ap);
	va_end(ap);
	return sum;
}
