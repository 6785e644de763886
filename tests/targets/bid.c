/* libbid_v1.so / libbid_v2.so (-DV2): the same function, other code and so
 * another build-id, for the case of a library replaced on disk while it
 * is mapped (t_abi replaced_binary). */
__attribute__((noinline)) long bid_f(long a, long b)
{
#ifdef V2
	return a * 3 + b;
#else
	return a * 2 + b;
#endif
}
