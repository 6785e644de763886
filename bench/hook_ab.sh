#!/usr/bin/env bash
# hook_ab.sh [BASE_REV]: bench/hook_bench of this tree next to the same
# benchmark linked against the library of BASE_REV (default: the parent of
# this branch where it left main), in one run: both
# binaries alternate, 3 rounds each, and each row is the median of the
# rounds.  Two function sets: the usual 1,000 functions built with -g
# (certain prototypes: the trimmed images) and the same built without -g
# (no prototype: the conservative path).  Prints ns added per call.
set -eu
B=${B:-build}
BASE=${1:-$(git merge-base HEAD main)}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
BO="$B/bench"
make -s "$BO/gen1k.c" "$B/libpoketrace.a" >/dev/null
clang -O2 -g -fPIE -fpatchable-function-entry=5 -c "$BO/gen1k.c" -o "$W/g.o"
clang -O2 -g0 -fPIE -fpatchable-function-entry=5 -c "$BO/gen1k.c" -o "$W/nog.o"
git archive --format=tar "$BASE" | (mkdir -p "$W/base" && tar -x -C "$W/base")
make -s -C "$W/base" B=build build/libpoketrace.a >/dev/null 2>&1
LIBS="-ldw -lelf -lgcc_s -lpthread -ldl"
for lib in new base; do
	a=$([ $lib = new ] && echo "$B/libpoketrace.a" || echo "$W/base/build/libpoketrace.a")
	for set in g nog; do
		# shellcheck disable=SC2086
		cc -std=gnu11 -O2 -Iinclude -o "$W/hb_${lib}_$set" bench/hook_bench.c "$W/$set.o" "$a" $LIBS
	done
done
for round in 1 2 3; do
	for bin in base_g new_g base_nog new_nog; do
		BENCH_KV="$W/kv.$bin.$round" "$W/hb_$bin" >/dev/null
	done
done
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '| %-14s | %-4s | %13s | %13s | %13s | %13s |\n' hook fns "base, -g" "this, -g" "base, no -g" "this, no -g"
printf '|----------------|------|---------------|---------------|---------------|---------------|\n'
for k in ops1 ops3 fentry_ctx fentry_typed fexit fmod_ret replace; do
	for n in 1 1000; do
		row=""
		for bin in base_g new_g base_nog new_nog; do
			v=$(cat "$W"/kv.$bin.* | awk -v k="pt_hook_${k}_$n" '$1 == k { print $2 }' | med)
			row="$row | $(printf '%13.2f' "$v")"
		done
		printf '| %-14s | %4s%s |\n' "$k" "$n" "$row"
	done
done
echo "(ns added per call over the plain call, medians of 3 alternating rounds; base = $(git rev-parse --short "$BASE"))"
