#!/usr/bin/env bash
# The readers side by side: time (median of RUNS) and peak RSS of report,
# graph, replay, dump --flame and dump --chrome, output to /dev/null, for a
# previous build and this one, on the same traces in one run.
#   bench/read_bench.sh NEW_POKETRACE OLD_POKETRACE TRACE_DIR...
# OLD may be "-" (no previous build).  Events per second: the trace's
# events (info) / the median time.
set -u
. "$(dirname "$0")/lib.sh"
new=$1 old=$2
shift 2
runs=${RUNS:-3}

measure() { # BIN ARGS...: "median_seconds max_rss_mb", or "- -" if it failed
	local i t r ts=() rss=0
	for i in $(seq "$runs"); do
		if ! /usr/bin/time -f "%e %M" -o /tmp/read_bench.$$ "$@" >/dev/null 2>/dev/null; then
			echo "- -"; return
		fi
		read -r t r </tmp/read_bench.$$
		ts+=("$t")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	rm -f /tmp/read_bench.$$
	echo "$(printf '%s\n' "${ts[@]}" | median) $((rss / 1024))"
}

printf '%-24s %-14s %10s %9s %10s %9s %12s\n' trace command "old s" "old MB" "new s" "new MB" "new Mev/s"
for tr in "$@"; do
	events=$("$new" info "$tr" | awk '/^events:/ { print $2 }')
	for cmd in report graph replay "dump --flame" "dump --chrome"; do
		# shellcheck disable=SC2086
		read -r ns nm <<<"$(measure "$new" $cmd "$tr")"
		if [ "$old" != - ]; then
			# shellcheck disable=SC2086
			read -r os om <<<"$(measure "$old" $cmd "$tr")"
		else
			os=- om=-
		fi
		rate=$(awk -v e="$events" -v s="$ns" 'BEGIN { if (s > 0) printf "%.1f", e / s / 1e6; else print "-" }')
		printf '%-24s %-14s %10s %9s %10s %9s %12s\n' "$(basename "$tr")" "$cmd" "$os" "$om" "$ns" "$nm" "$rate"
	done
done
