#!/usr/bin/env bash
# Runs the whole suite N times and lists every case that failed at least
# once, with how often: a case that fails one run in five fails CI on the
# next machine.  Exits non-zero if any case failed.
#   tests/repeat.sh BUILD_DIR N [FILTER]
set -u
B=${1:-build}
N=${2:-5}
filter=${3:-}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
for i in $(seq "$N"); do
	bash "$(dirname "$0")/run.sh" "$B" "$filter" >"$log/run.$i" 2>&1
	echo "run $i of $N: $(tail -n 1 "$log/run.$i")"
	grep '^FAIL ' "$log/run.$i" | awk '{ print $2, $3 }' >>"$log/failed"
done
if [ ! -s "$log/failed" ]; then
	echo "every case passed $N runs of $N"
	exit 0
fi
echo
echo "cases that failed at least once:"
sort "$log/failed" | uniq -c | sort -rn | awk -v n="$N" '{ printf "  %-28s %-28s failed %d of %d\n", $2, $3, $1, n }'
for i in $(seq "$N"); do
	grep -q '^FAIL ' "$log/run.$i" || continue
	echo
	echo "--- run $i"
	grep -A25 '^FAIL ' "$log/run.$i" | head -60
done
exit 1
