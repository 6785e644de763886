/* A call tree whose counts are known from its code, for uftrace's filter
 * semantics: main calls a(i) and other() N times (argv[1], default 3);
 * a calls b and c, b calls c and leaf, c calls leaf twice, other calls leaf.
 * Per run: main 1, a N, b N, c 2N, leaf 6N, other N. */
#include <stdio.h>
#include <stdlib.h>

#define NI __attribute__((noinline))

volatile int sink;

NI void leaf(int x)
{
	sink += x;
}

NI void c(int x)
{
	leaf(x);
	leaf(x + 1);
}

NI void b(int x)
{
	c(x);
	leaf(x);
}

NI void a(int x)
{
	b(x);
	c(x);
}

NI void other(void)
{
	leaf(7);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;

	for (int i = 0; i < n; i++) {
		a(i);
		other();
	}
	printf("%d\n", sink);
	return 0;
}
