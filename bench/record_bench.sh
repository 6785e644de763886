#!/usr/bin/env bash
# ns added per call by `poketrace record` (function, graph, profile) and by
# `uftrace record`, on the same binary in the same run: 1 function called
# N times, and 1,000 functions called N times in all.  Start-up and exit are
# taken out: per call = (T(N) - T(1000)) / (N - 1000) with T the median
# wall time of 5 runs, minus the same for the plain run.  Bytes per call
# from the trace of N calls.
set -u
B=${1:-build}
P="$B/poketrace"
X="$B/bench/rec_target"
N=${N:-5000000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
timeit() { # prints the median wall time in ns of 5 runs of "$@"
	for _ in 1 2 3 4 5; do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $((t1 - t0))
	done | median
}

printf '| %-32s | %14s | %9s | %14s | %9s |\n' "command (N = $N calls)" "1 fn: ns/call" "bytes/call" "1000 fns: ns/call" "bytes/call"
printf '|%s|%s|%s|%s|%s|\n' "----------------------------------" "----------------" "-----------" "-------------------" "-----------"
declare -A base
percall() { # ns per call of "$@" K: from runs of N and of 1000 calls
	local k=$1; shift
	local big small
	big=$(timeit "$@" "$X" "$k" "$N")
	small=$(timeit "$@" "$X" "$k" 1000)
	awk -v a="$big" -v b="$small" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / (n - 1000) }'
}
for k in 1 1000; do base[$k]=$(percall $k); done
row() { # label, then the command prefix (the trace goes to $W/d)
	local label=$1; shift
	local cells=()
	for k in 1 1000; do
		local t bytes
		t=$(percall "$k" "$@")
		rm -rf "$W/d"
		"$@" "$X" "$k" "$N" >/dev/null 2>&1
		bytes=$(cat "$W"/d/stream_* "$W"/d/*.dat 2>/dev/null | wc -c)
		cells+=("$(awk -v t="$t" -v b="${base[$k]}" 'BEGIN { printf "%.1f", t - b }')")
		cells+=("$(awk -v s="${bytes:-0}" -v n="$N" 'BEGIN { printf "%.1f", s / n }')")
	done
	printf '| %-32s | %14s | %9s | %14s | %9s |\n' "$label" "${cells[@]}"
}
printf '| %-32s | %14s | %9s | %14s | %9s |\n' "plain call (ns, not added)" "${base[1]}" "" "${base[1000]}" ""
row "poketrace record --tracer function" "$P" record -o "$W/d" -b 4M --tracer function --
row "poketrace record (graph)" "$P" record -o "$W/d" -b 4M --
row "poketrace record --tracer profile" "$P" record -o "$W/d" --tracer profile --
if command -v uftrace >/dev/null; then
	row "uftrace record -P ." uftrace record -d "$W/d" -P . --
else
	echo "(uftrace is not installed: apt-get install uftrace to compare)"
fi
