/* libt_shared.so: a shared library with sites, linked at program start. */
__attribute__((noinline)) int shared_fn(int x)
{
	__asm__ volatile("");
	return x * 3;
}

__attribute__((noinline)) int shared_fn2(int x)
{
	__asm__ volatile("");
	return x + 5;
}
