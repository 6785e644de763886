/* libt_dl.so: dlopen'ed by the tests; built with gcc's five 1-byte nops
 * (or, as libt_dl_clang.so, with clang's single nop). */
__attribute__((noinline)) int dl_fn(int x)
{
	__asm__ volatile("");
	return x * 10;
}

__attribute__((noinline)) int dl_fn2(int x)
{
	__asm__ volatile("");
	return x * 20;
}
