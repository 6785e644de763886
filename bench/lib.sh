# Sourced by the benchmark scripts.
median() { # the median of the numbers on stdin, one per line
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
