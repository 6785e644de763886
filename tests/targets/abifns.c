/* gcc -O2 -g: see abifns.h */
#include <stdarg.h>

#include "abifns.h"

#define NI __attribute__((noinline))

NI long outer(long x)
{
	long base = x * 100;
	NI long inner(long y)
	{
		__asm__ volatile("");
		return base + y;
	}
	return inner(1) + inner(2);
}

NI double vsum128(__m128d a, __m128d b)
{
	__m128d s = _mm_add_pd(a, b);

	return s[0] + s[1];
}

NI __m128d vret128(double x)
{
	__asm__ volatile("");
	return _mm_set_pd(x, x + 1);
}

NI __float128 qadd(__float128 a, __float128 b)
{
	return a + b;
}

NI long double ldret(long x)
{
	__asm__ volatile("");
	return (long double)x / 3;
}

NI _Complex long double cldret(long x)
{
	__asm__ volatile("");
	return (long double)x / 3 + 1.0il * x;
}

NI _Complex double cret(double x)
{
	__asm__ volatile("");
	return x + 2.0i * x;
}

NI _Decimal64 dadd(_Decimal64 a, _Decimal64 b)
{
	return a + b;
}

NI long al32(long r1, long r2, long r3, long r4, long r5, long r6, long s1, struct a32 s)
{
	return r1 + r2 + r3 + r4 + r5 + r6 + s1 * 10 + s.a * 100 + s.b * 1000 + s.c * 10000 + s.d * 100000;
}

NI long vsum(int n, ...)
{
	va_list ap;
	long t = 0;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		t += va_arg(ap, long) * (i + 1);
	va_end(ap);
	return t;
}

NI double dist8(struct pt a, struct pt b, struct pt c, struct pt d, struct pt e, struct pt f, struct pt g,
		struct pt h)
{
	return a.x + b.x + c.x + d.x + e.x + f.x + g.x + h.x + a.y + b.y + c.y + d.y + e.y + f.y + g.y + h.y;
}

struct kv {
	long tag, val, pad[6];
};

/* gcc -O2 (IPA-SRA) makes this pick.isra.0(tag, val): two registers where
 * the DWARF prototype of its origin says one pointer. */
static NI long pick(const struct kv *a)
{
	return a->tag == 1 ? a->val * 3 : a->val - 1;
}

NI long pick_caller(long n)
{
	struct kv x[2] = { { 1, n + 40, { 0 } }, { 0, n + 1, { 0 } } };
	long s = 0;

	for (int i = 0; i < 1000; i++)
		s += pick(&x[i & 1]);
	return s;
}
