/* A program built the way a user builds it (gcc -O2 -g, no patch site),
 * for record -P (tests/t_patch.sh): a tree, a leaf its callers keep values
 * around (gcc's -fipa-ra), a double function.  It prints its results, and
 * the calls each function gets, which it knows from its own structure:
 * leaf 2N (the loop, and one per node of the sum), sum 2N+1 (N nodes and
 * N+1 empty children), mk N, avg 1. */
#include <stdio.h>
#include <stdlib.h>

struct node {
	long key;
	struct node *l, *r;
};

__attribute__((noinline)) static struct node *mk(long k)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->key = k;
	return n;
}

__attribute__((noinline)) struct node *insert(struct node *t, long k)
{
	if (!t)
		return mk(k);
	if (k < t->key)
		t->l = insert(t->l, k);
	else
		t->r = insert(t->r, k);
	return t;
}

__attribute__((noinline)) long leaf(long x)
{
	return x * 3 + 1;
}

__attribute__((noinline)) long sum(const struct node *t)
{
	return t ? leaf(t->key) ^ sum(t->l) ^ (sum(t->r) + 7) : 0;
}

__attribute__((noinline)) double avg(const double *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s / n;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	struct node *t = NULL;
	unsigned long x = 88172645463325252ul;
	double v[64];
	long acc = 0;

	for (int i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		t = insert(t, (long)(x % 100000));
	}
	for (int i = 0; i < 64; i++)
		v[i] = i * 0.5;
	for (long i = 0; i < n; i++)
		acc += leaf(i) ^ i;
	printf("sum %ld acc %ld avg %.3f\n", sum(t), acc, avg(v, 64));
	printf("calls leaf %d sum %d mk %d avg 1\n", 2 * n, 2 * n + 1, n);
	return 0;
}
