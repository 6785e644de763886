/* g++ -O2 -g: C++ arguments the images got wrong (issue 12). */
#include <cstddef>
#include <memory>
#include <string>

#include "abifns_cpp.h"

#define NI __attribute__((noinline))

NI long by_string(std::string s, long k)
{
	return (long)s.size() * 1000 + k;
}

NI std::unique_ptr<long> make_up(long a, long b)
{
	return std::unique_ptr<long>(new long(a * 10 + b));
}

NI long by_nt(NT a, long b, long c)
{
	return a.v * 100 + b * 10 + c;
}

NI Status get_status(int a, int b, int *out)
{
	*out = a + b;
	return Status();
}

NI long np_f(std::nullptr_t, long a, long b)
{
	return a * 10 + b;
}

NI long call_pmf(A *a, long (A::*m)(), long k)
{
	return (a->*m)() * 10 + k;
}

NI long call_pmd(A *a, long A::*m, long k)
{
	return a->*m * 10 + k;
}
