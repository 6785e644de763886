#!/usr/bin/env bash
# ns added per call by `poketrace record` (function, graph, profile) and by
# `uftrace record`, in the same run: 1 function called N times, and 1,000
# functions called N times in all.  Start-up and exit are taken out: per
# call = (T(N) - T(1000)) / (N - 1000) with T the median wall time of 5
# runs, minus the same for the untraced build.  poketrace and `uftrace -P .`
# record the patchable build (clang -fpatchable-function-entry=5); plain
# `uftrace record` needs a -pg build, whose own untraced cost (a call to
# glibc's mcount stub per function) is its row "added" by the build alone.
# Bytes per call from the trace of N calls.  `key value` lines go to
# $BENCH_KV when set.  With OLD_B=DIR (the build directory of another
# version), its record modes run beside ours, in the same run.
set -u
. "$(dirname "$0")/lib.sh"
B=${1:-build}
P="$B/poketrace"
X="$B/bench/rec_target"
XPG="$B/bench/rec_target_pg"
N=${N:-5000000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
KV=${BENCH_KV:-/dev/null}

timeit() { # prints the median wall time in ns of 5 runs of "$@"
	for _ in 1 2 3 4 5; do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $((t1 - t0))
	done | median
}

percall() { # K BINARY [command prefix]: ns per call, from runs of N and of 1000 calls
	local k=$1 x=$2; shift 2
	local big small
	big=$(timeit "$@" "$x" "$k" "$N")
	small=$(timeit "$@" "$x" "$k" 1000)
	awk -v a="$big" -v b="$small" -v n="$N" 'BEGIN { printf "%.2f", (a - b) / (n - 1000) }'
}

printf '| %-36s | %14s | %9s | %14s | %9s |\n' "command (N = $N calls)" "1 fn: ns/call" "bytes/call" "1000 fns: ns/call" "bytes/call"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------" "----------------" "-----------" "-------------------" "-----------"
declare -A base
for k in 1 1000; do base[$k]=$(percall $k "$X"); done
row() { # KEY LABEL BINARY [command prefix] (the trace goes to $W/d)
	local key=$1 label=$2 x=$3; shift 3
	local cells=()
	for k in 1 1000; do
		local t bytes added
		t=$(percall "$k" "$x" "$@")
		rm -rf "$W/d"
		"$@" "$x" "$k" "$N" >/dev/null 2>&1
		bytes=$(cat "$W"/d/stream_* "$W"/d/*.dat 2>/dev/null | wc -c)
		added=$(awk -v t="$t" -v b="${base[$k]}" 'BEGIN { printf "%.1f", t - b }')
		cells+=("$added" "$(awk -v s="${bytes:-0}" -v n="$N" 'BEGIN { printf "%.1f", s / n }')")
		echo "rec_${key}_$k $added" >>"$KV"
	done
	printf '| %-36s | %14s | %9s | %14s | %9s |\n' "$label" "${cells[@]}"
}
printf '| %-36s | %14s | %9s | %14s | %9s |\n' "untraced call (ns, not added)" "${base[1]}" "" "${base[1000]}" ""
row function "poketrace record --tracer function" "$X" "$P" record -o "$W/d" -b 4M --tracer function --
row graph "poketrace record (graph)" "$X" "$P" record -o "$W/d" -b 4M --
row profile "poketrace record --tracer profile" "$X" "$P" record -o "$W/d" --tracer profile --
row drop "poketrace record --on-full=drop (graph)" "$X" "$P" record -o "$W/d" -b 4M --on-full=drop --
if [ -n "${OLD_B:-}" ]; then
	row old_function "$OLD_B: record --tracer function" "$X" "$OLD_B/poketrace" record -o "$W/d" -b 4M --tracer function --
	row old_graph "$OLD_B: record (graph)" "$X" "$OLD_B/poketrace" record -o "$W/d" -b 4M --
	row old_profile "$OLD_B: record --tracer profile" "$X" "$OLD_B/poketrace" record -o "$W/d" --tracer profile --
fi
# no site (plain gcc -O2): entries relocated by both
XPL="$B/bench/rec_target_plain"
row plain_graph "poketrace record -P 'hb_*' (plain build)" "$XPL" "$P" record -o "$W/d" -b 4M -P 'hb_*' --
if command -v uftrace >/dev/null; then
	row uftrace_plain "uftrace record -P 'hb_*' (plain build)" "$XPL" uftrace record -d "$W/d" -P 'hb_*' --
	row uftrace_pfe "uftrace record -P . (patchable build)" "$X" uftrace record -d "$W/d" -P . --
	row pg_untraced "-pg build, untraced (mcount stub)" "$XPG"
	row uftrace_pg "uftrace record (-pg build)" "$XPG" uftrace record -d "$W/d" --
else
	echo "(uftrace is not installed: make bench installs it)"
fi
