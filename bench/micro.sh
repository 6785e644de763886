#!/usr/bin/env bash
# make bench: every micro benchmark, then a table of ratios against the
# anchors measured in the same run.  What each row means: bench/README.md.
set -u
. "$(dirname "$0")/lib.sh"
B=${1:-build}
BO="$B/bench"
ROUNDS=${ROUNDS:-7}
export BENCH_KV
BENCH_KV=$(mktemp)
W=$(mktemp -d)
trap 'rm -f "$BENCH_KV"; rm -rf "$W"' EXIT

kv() { awk -v k="$1" '$1 == k { v = $2 } END { print v }' "$BENCH_KV"; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "gcc $(gcc -dumpfullversion), $(clang --version | head -1), $(uftrace --version 2>/dev/null | head -1 | cut -d' ' -f1-2)"
echo

# 1. The call workload, every build in turn, $ROUNDS rounds (machine noise
# hits the builds alike); off = sites as compiled, on = an empty handler.
builds="gcc mcount gccpfe pg clang clangpfe xray"
declare -A label=(
	[gcc]="gcc -O2 (plain)" [mcount]="gcc -pg -mfentry -mnop-mcount, non-PIE"
	[gccpfe]="gcc -fpatchable-function-entry=5 *" [pg]="gcc -pg (calls mcount)"
	[clang]="clang -O2 (plain)" [clangpfe]="clang -fpatchable-function-entry=5"
	[xray]="clang -fxray-instrument (sleds off)"
)
for _ in $(seq "$ROUNDS"); do
	for b in $builds; do
		for k in 1 1000; do
			"$BO/call_$b" "$k" 100000000 >>"$W/$b.off.$k" || exit 1
		done
	done
	for b in clangpfe xray; do
		for k in 1 1000; do
			"$BO/call_$b" "$k" 20000000 on >>"$W/$b.on.$k" || exit 1
		done
	done
done
for f in "$W"/*.*.*; do
	n=$(basename "$f")
	echo "call_${n//./_} $(median <"$f")" >>"$BENCH_KV"
done
echo "Sites off: ns per call, medians of $ROUNDS rounds (same functions, same loop; ratio to the"
echo "plain build of the same compiler).  * after poketrace_init turned gcc's 5 x nop into one nop."
echo
printf '| %-40s | %10s | %6s | %15s | %6s |\n' "build" "1 function" "ratio" "1,000 functions" "ratio"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------------------" "------------" "--------" "-----------------" "--------"
for b in $builds; do
	plain=gcc
	case $b in clang*|xray) plain=clang ;; esac
	o1=$(kv "call_${b}_off_1") o2=$(kv "call_${b}_off_1000")
	printf '| %-40s | %10.2f | %6.2f | %15.2f | %6.2f |\n' "${label[$b]}" "$o1" \
		"$(awk -v a="$o1" -v b="$(kv "call_${plain}_off_1")" 'BEGIN { print a / b }')" "$o2" \
		"$(awk -v a="$o2" -v b="$(kv "call_${plain}_off_1000")" 'BEGIN { print a / b }')"
done
echo
echo "An empty handler on every function, same harness: ns added per call (on minus off)."
echo
printf '| %-40s | %10s | %15s |\n' "hook" "1 function" "1,000 functions"
printf '|%s|%s|%s|\n' "------------------------------------------" "------------" "-----------------"
for b in clangpfe xray; do
	for k in 1 1000; do
		echo "call_${b}_added_$k $(awk -v a="$(kv "call_${b}_on_$k")" -v b="$(kv "call_${b}_off_$k")" 'BEGIN { print a - b }')" >>"$BENCH_KV"
	done
done
printf '| %-40s | %10.2f | %15.2f |\n' "poketrace fentry, typed empty handler" "$(kv call_clangpfe_added_1)" "$(kv call_clangpfe_added_1000)"
printf '| %-40s | %10.2f | %15.2f |\n' "XRay, empty handler (entry and exit)" "$(kv call_xray_added_1)" "$(kv call_xray_added_1000)"
echo

# 2. Every kind of poketrace hook
"$BO/hook_bench" || exit 1
echo

# 2b. Functions without a patch site (relocated entries) beside compiler sites
"$BO/reloc_bench" || exit 1
echo

# 3. Recording
bash bench/record_bench.sh "$B" || exit 1
echo

# 4. Patching
"$BO/patch_bench" || exit 1
echo
echo "LLVM XRay: __xray_patch / __xray_unpatch of every sled, medians of 21 (µs)."
echo
printf '| %-11s | %-8s | %-20s | %10s |\n' "build" "batch" "other threads" "µs"
printf '|%s|%s|%s|%s|\n' "-------------" "----------" "----------------------" "------------"
for n in 1k 10k 40k; do
	"$BO/xray_patch_$n" || exit 1
done
echo

# 5. Ratios against the anchors, with the project's goals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
line() { printf '| %-52s | %9s | %9s | %7s | %-10s |\n' "$@"; }
echo "Ratios (anchor / poketrace; > 1: poketrace is cheaper or faster)."
echo
line "comparison" "poketrace" "anchor" "ratio" "goal"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------------------------------" "-----------" "-----------" "---------" "------------"
for k in 1 1000; do
	p=$(kv "call_clangpfe_added_$k") x=$(kv "call_xray_added_$k")
	line "empty fentry vs XRay empty handler, ns ($k fn)" "$p" "$x" "$(ratio "$x" "$p")" ">= 9"
done
rd=$("$BO/rdtsc_cost")
for k in 1 1000; do
	p=$(kv "rec_graph_$k")
	line "graph record vs uftrace record -P ., ns ($k fn)" "$p" "$(kv "rec_uftrace_pfe_$k")" "$(ratio "$(kv "rec_uftrace_pfe_$k")" "$p")" ">= 8"
	line "graph record vs uftrace record -pg, ns ($k fn)" "$p" "$(kv "rec_uftrace_pg_$k")" "$(ratio "$(kv "rec_uftrace_pg_$k")" "$p")" ">= 8"
done
line "graph floor (2 rdtsc) vs uftrace record -P ., ns (1 fn)" "$(awk -v r="$rd" 'BEGIN { print 2 * r }')" \
	"$(kv rec_uftrace_pfe_1)" "$(ratio "$(kv rec_uftrace_pfe_1)" "$(awk -v r="$rd" 'BEGIN { print 2 * r }')")" "(best possible)"
for n in 1000 10000 40000; do
	for t in alone thread; do
		p=$(kv "pt_patch_${n}_enable_$t") x=$(kv "xray_patch_${n}_enable_$t")
		goal=
		[ "$n" = 40000 ] && [ "$t" = thread ] && goal="<= 2000 us"
		line "enable $n sites ($t) vs __xray_patch, us" "$p" "$x" "$(ratio "$x" "$p")" "$goal"
	done
done
for k in 1 1000; do
	for b in mcount gccpfe clangpfe; do
		plain=gcc
		[ "$b" = clangpfe ] && plain=clang
		line "sites off ($b) vs plain $plain, ns ($k fn)" "$(kv "call_${b}_off_$k")" "$(kv "call_${plain}_off_$k")" \
			"$(ratio "$(kv "call_${plain}_off_$k")" "$(kv "call_${b}_off_$k")")" ""
	done
done
