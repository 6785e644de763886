/* gcc -O2 without -g: see abifns.h */
#include "abifns.h"

__attribute__((noinline)) long bigsum(struct big640 b)
{
	long t = 0;

	for (int i = 0; i < 80; i++)
		t += b.v[i] * (i + 1);
	return t;
}
