#!/usr/bin/env bash
# Runs every test case in a process of its own and prints one line per case,
# then "N passed, N failed".  Exits non-zero if any failed.
#   tests/run.sh BUILD_DIR [FILTER]   (FILTER: a grep pattern on "prog case")
set -u
B=${1:-build}
filter=${2:-}
export B
pass=0 fail=0 failed=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

progs=()
for t in "$B"/tests/t_*; do
	[ -x "$t" ] && [ -f "$t" ] && progs+=("$t")
done
for t in tests/t_*.sh; do
	progs+=("$t")
done

for prog in "${progs[@]}"; do
	name=$(basename "$prog")
	case "$prog" in
	*.sh) runner=(bash "$prog") ;;
	*) runner=("$prog") ;;
	esac
	if ! cases=$("${runner[@]}" --list 2>"$log/list"); then
		echo "FAIL $name (cannot list its cases)"; cat "$log/list"
		fail=$((fail + 1)); failed+=("$name"); continue
	fi
	for c in $cases; do
		[ -n "$filter" ] && ! echo "$name $c" | grep -q -- "$filter" && continue
		start=$(date +%s.%N)
		timeout -k 10 600 "${runner[@]}" "$c" >"$log/out" 2>&1
		rc=$?
		secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
		if [ $rc -eq 0 ]; then
			pass=$((pass + 1))
			printf 'PASS %-28s %-28s %6ss\n' "$name" "$c" "$secs"
		else
			fail=$((fail + 1)); failed+=("$name $c")
			printf 'FAIL %-28s %-28s %6ss (exit %d)\n' "$name" "$c" "$secs" "$rc"
			sed 's/^/    | /' "$log/out" | tail -25
		fi
	done
done
if [ $fail -gt 0 ]; then
	echo
	echo "failed:"
	printf '  %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
