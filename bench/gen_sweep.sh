#!/bin/sh
# gen_sweep.sh N PREFIX: N functions PREFIX_0.. (x + k + 1), their table,
# and PREFIX_sweep(x), which calls each of them once, directly.
n=$1 p=$2
sh "$(dirname "$0")/../tests/gen_funcs.sh" "$n" "$p"
awk -v n="$n" -v p="$p" 'BEGIN {
	printf "long %s_sweep(long x)\n{\n\tlong s = 0;\n", p
	for (i = 0; i < n; i++)
		printf "\ts += %s_%d(x);\n", p, i
	print "\treturn s;\n}"
}'
