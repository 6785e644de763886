/* gcc -O0 -g: see abifns.h.  A Wine-style ms_abi callee: it spills its
 * register arguments into the 32-byte home area above its return address. */
#include "abifns.h"

__attribute__((ms_abi)) long msf(long a, long b, long c, long d)
{
	return a * 1000 + b * 100 + c * 10 + d;
}
