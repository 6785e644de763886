// A C++ function parameter pack (t_links_cpp parameter_pack): gcc lists
// the pack's parameters inside a DW_TAG_GNU_formal_parameter_pack.
template <class... A> __attribute__((noipa)) long sum_pack(long a, A... rest)
{
	long s = a;

	((s = s * 31 + rest), ...);
	return s;
}

template long sum_pack<long, long, long, long, long>(long, long, long, long, long, long);
