/* The program `make bench` records: N calls of one function, or N calls
 * spread over 1,000 (rec_target 1|1000 N). */
#include <stdio.h>
#include <stdlib.h>

extern long hb_0(long x);
extern long hb_sweep(long x);

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 10000000, s = 0;

	if (argc > 1 && atoi(argv[1]) == 1000)
		for (long i = 0; i < n / 1000; i++)
			s += hb_sweep(i);
	else
		for (long i = 0; i < n; i++)
			s += hb_0(i);
	printf("%ld\n", s);
	return 0;
}
