/* gcc -O2 -g -mavx2: see abifns.h */
#include "abifns.h"

#define NI __attribute__((noinline))

NI double vsum256(__m256d a)
{
	return a[0] + a[1] + a[2] + a[3];
}

NI double vmix(__m256d a, double x)
{
	return a[0] + a[1] + a[2] + a[3] + x;
}

/* The body loads its stack-passed 32-byte-aligned struct with vmovdqa. */
NI long al32v(long r1, long r2, long r3, long r4, long r5, long r6, struct a32 s)
{
	__m256i v = *(__m256i *)&s;

	v = _mm256_add_epi64(v, v);
	return v[0] + v[1] + v[2] + v[3] + r1 + r2 + r3 + r4 + r5 + r6;
}

NI double call_vsum256(double base)
{
	__m256d v = { base + 1, base + 2, base + 3, base + 4 };

	return vsum256(v);
}

NI double call_vmix(double base)
{
	__m256d v = { base + 1, base + 2, base + 3, base + 4 };

	return vmix(v, 100);
}

NI long call_al32v(long base)
{
	struct a32 s = { base + 1, base + 2, base + 3, base + 4 };

	return al32v(0, 0, 0, 0, 0, 0, s);
}
