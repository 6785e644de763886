/* A library built as Debian builds one (gcc -O2 -g -fPIC, no patch site),
 * for the library-call view (tests/t_patch.sh libcalls): lc_outer calls
 * lc_inner through its PLT, as a library calls another exported function. */
long lc_inner(long x)
{
	return x * 7 + 3;
}

long lc_outer(long x)
{
	return lc_inner(x) + lc_inner(x + 1);
}
