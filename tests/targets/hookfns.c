#include "hookfns.h"

#include <stdarg.h>

#include "varsum.h"
#include <time.h>

#define NI __attribute__((noinline))
#define BARRIER __asm__ volatile("")

volatile int hsleep_inside;
int order_log[32], order_n;

NI int h0(void) { BARRIER; return 42; }
NI long h1(long a) { BARRIER; return a + 1; }
NI long h2(long a, long b) { BARRIER; return a + b; }
NI long h6(long a, long b, long c, long d, long e, long f)
{
	BARRIER;
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}
NI long h8(long a, long b, long c, long d, long e, long f, long g, long h)
{
	BARRIER;
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}
NI double hd(double x, float y) { BARRIER; return x * 2 + y; }
NI double hmix(int a, double b, long c, double d) { BARRIER; return a + b * 2 + c * 3 + d * 4; }
NI long hs(struct small s, long k) { BARRIER; return s.a * 10 + s.b + k; }
NI long hbig(struct big b, long k) { BARRIER; return b.a * 100 + b.b * 10 + b.c + k; }
NI long hv(int n, ...)
{
	va_list ap;
	long sum;

	va_start(ap, n);
	sum = varsum(n, ap);
	va_end(ap);
	return sum;
}
NI long hsleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	hsleep_inside = 1;
	nanosleep(&ts, NULL);
	hsleep_inside = 0;
	return ms * 2;
}
/* Called through a volatile pointer: clang would turn direct self-recursion into a loop. */
long (*volatile hrec_self)(long) = hrec;
NI long hrec(long n) { BARRIER; return n <= 0 ? 0 : n + hrec_self(n - 1); }
NI long horder(long x)
{
	order_log[order_n++ & 31] = 100; /* the body */
	return x;
}

/* Replacements of the same prototypes: they call the original through the
 * pointer the test stores (poketrace_link_original) and add 1000. */
void *orig_h8, *orig_hs, *orig_hd, *orig_h0;
NI long r_h8(long a, long b, long c, long d, long e, long f, long g, long h)
{
	return ((long (*)(long, long, long, long, long, long, long, long))orig_h8)(a, b, c, d, e, f, g, h) + 1000;
}
NI long r_hs(struct small s, long k) { return ((long (*)(struct small, long))orig_hs)(s, k) + 1000; }
NI double r_hd(double x, float y) { return ((double (*)(double, float))orig_hd)(x, y) + 1000; }
NI int r_h0(void) { return ((int (*)(void))orig_h0)() + 1000; }
