/* A program whose output changed under `poketrace record` (issue 12),
 * gcc -O2 -g: pick.isra.0 takes two registers where the DWARF prototype of
 * its origin lists one pointer; mk returns a struct through a hidden
 * pointer; inner.0 is a nested function (static chain in r10). */
#include <stdio.h>

struct kv {
	long tag, val, pad[6];
};

static __attribute__((noinline)) long pick(const struct kv *a)
{
	return a->tag == 1 ? a->val * 3 : a->val - 1;
}

struct big {
	long a, b, c;
};

__attribute__((noinline)) struct big mk(long x, long y, long z)
{
	struct big b = { x, y, z };

	return b;
}

__attribute__((noinline)) long outer(long x)
{
	long base = x * 100;
	__attribute__((noinline)) long inner(long y)
	{
		__asm__ volatile("");
		return base + y;
	}
	return inner(1) + inner(2);
}

int main(int argc, char **argv)
{
	struct kv x[2] = { { 1, argc + 40, { 0 } }, { 0, argc + 1, { 0 } } };
	long s = 0, t = 0, u = 0;

	(void)argv;
	for (int i = 0; i < 1000; i++)
		s += pick(&x[i & 1]);
	for (long i = 0; i < 1000; i++) {
		struct big b = mk(i, 2 * i, 3 * i);

		t += b.a + b.b * 3 + b.c * 7;
	}
	for (long i = 0; i < 100; i++)
		u += outer(i);
	printf("pick %ld mk %ld outer %ld\n", s, t, u);
	return 0;
}
