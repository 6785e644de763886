/* clang -O2 -g -mavx2: see abifns.h.  clang passes a union of more than 16
 * bytes with a vector member in ymm when it builds with AVX (gcc and the
 * psABI: in memory); DWARF does not say which. */
#include "abifns.h"

__attribute__((noinline)) long vunion(long a, union vu u, long b)
{
	long s = a * 1000 + b;

	for (int i = 0; i < 19; i++)
		s = s * 31 + u.raw[i];
	return s + (long)(u.v[0] + u.v[1] + u.v[2] + u.v[3]);
}

__attribute__((noinline)) long call_vunion(long base)
{
	union vu u;

	for (int i = 0; i < 19; i++)
		u.raw[i] = (unsigned char)(base + i);
	return vunion(base, u, base + 1);
}
