/* A library function hooked from a program built without PIE: the
 * program's handlers sit near address 0x400000, the library far above. */
#define NI __attribute__((noinline))
NI long np_lib_fn(long a, long b)
{
	__asm__ volatile("");
	return a + b;
}
