/* What gcc -O2 makes of a caller and a leaf in one unit, without patch
 * sites: -fipa-ra (on by default) lets ipa_sum keep its loop's values in
 * registers the ABI says a call clobbers, because it knows ipa_leaf
 * leaves them alone (t_reloc_hooks kept_registers). */
__attribute__((noinline)) long ipa_leaf(long x)
{
	return x * 3 + 1;
}

long ipa_sum(long n, long b, long c)
{
	long s = 0;

	for (long i = 0; i < n; i++)
		s += ipa_leaf(i) ^ b ^ c;
	return s;
}
