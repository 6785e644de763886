/* The body of the varargs test functions (hookfns.c with DWARF, nodebug.c without). */
#include <stdarg.h>

static inline long varsum(int n, va_list ap)
{
	long sum = 0;

	for (int i = 0; i < n; i++)
		sum += va_arg(ap, long) * (i + 1);
	return sum;
}
