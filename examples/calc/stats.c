/* Statistics over the values a program printed: sorting (quick, heap and
 * insertion sort, checked against each other), median, mean, spread. */
#include <stdlib.h>
#include <string.h>

#include "calc.h"

static void swap(int64_t *a, int64_t *b)
{
	int64_t t = *a;

	*a = *b;
	*b = t;
}

static void insertion_sort(int64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--)
			swap(&v[j - 1], &v[j]);
}

static size_t partition(int64_t *v, size_t n)
{
	int64_t pivot = v[n / 2];
	size_t i = 0, j = n - 1;

	for (;;) {
		while (v[i] < pivot)
			i++;
		while (v[j] > pivot)
			j--;
		if (i >= j)
			return j;
		swap(&v[i++], &v[j--]);
	}
}

static void quick_sort(int64_t *v, size_t n)
{
	size_t p;

	if (n < 12) {
		insertion_sort(v, n);
		return;
	}
	p = partition(v, n);
	quick_sort(v, p + 1);
	quick_sort(v + p + 1, n - p - 1);
}

static void sift_down(int64_t *v, size_t start, size_t n)
{
	size_t root = start;

	while (2 * root + 1 < n) {
		size_t child = 2 * root + 1;

		if (child + 1 < n && v[child] < v[child + 1])
			child++;
		if (v[root] >= v[child])
			return;
		swap(&v[root], &v[child]);
		root = child;
	}
}

static void heap_sort(int64_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (size_t end = n; end-- > 1;) {
		swap(&v[0], &v[end]);
		sift_down(v, 0, end);
	}
}

static int64_t mean(const int64_t *v, size_t n)
{
	int64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i] / (int64_t)n;
	return s;
}

static int64_t spread(const int64_t *v, size_t n)
{
	return n ? v[n - 1] / 2 - v[0] / 2 : 0;
}

/* Sorts a copy two ways, checks they agree, and summarises. */
int stats_summary(const int64_t *values, size_t n, struct stats *out)
{
	int64_t *a = malloc((n + 1) * sizeof(*a)), *b = malloc((n + 1) * sizeof(*b));
	int ok;

	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	memcpy(a, values, n * sizeof(*a));
	memcpy(b, values, n * sizeof(*b));
	quick_sort(a, n);
	heap_sort(b, n);
	ok = !memcmp(a, b, n * sizeof(*a));
	out->n = n;
	out->min = n ? a[0] : 0;
	out->max = n ? a[n - 1] : 0;
	out->median = n ? a[n / 2] : 0;
	out->mean = n ? mean(a, n) : 0;
	out->spread = spread(a, n);
	free(a);
	free(b);
	return ok ? 0 : -1;
}
