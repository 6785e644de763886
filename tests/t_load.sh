#!/usr/bin/env bash
# Loading poketrace late (a program's own dlopen, as attach makes one), and
# which file a module's sites come from: run through ld.so, replaced or
# deleted on disk since it was loaded.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/load.$$"
LIB=$(realpath "$B/libpoketrace.so")
trap 'kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"
run() { LD_PRELOAD="$ASAN_RT" "$@"; }

# Threads that blocked SIGTRAP before the load are repaired; a mask or a
# handler set after it goes through the interposers (the GOT slots).
late() {
	expect 0 run "$T/late_target" "$LIB" late
	has "$out" "^ok 4000 batches, [1-9][0-9]* calls, 0 wrong$"
}

# A running thread that blocked every signal before the load cannot be
# reached: batches are refused, nothing written, nothing dies.
blocked() {
	expect 0 run "$T/late_target" "$LIB" blocked
	has "$out" "^refused: thread [0-9]* (late_target) has SIGTRAP and the engine's signal [0-9]* blocked"
}

# Under `ld.so PROG` the main module is PROG (/proc/self/exe is ld.so).
ld_so() {
	local ldso
	ldso=$(awk '$1 == "PT_INTERP" { getline; print }' <(readelf -lW "$T/late_target" 2>/dev/null) | tr -d '[]' |
		sed 's/.*interpreter: //')
	[ -x "$ldso" ] || ldso=/lib64/ld-linux-x86-64.so.2
	expect 0 run "$ldso" "$T/late_target" "$LIB" self
	has "$out" "^f: f$"
}

# The file at the program's path is replaced (or deleted) after it started:
# the sites are the mapped file's (as root, through /proc/self/map_files);
# without that right, a clear reason and no wrong table.
waiting() { # WHAT(replace|delete) [setpriv args]
	local what=$1; shift
	rm -f "$W/go" "$W/prog" "$W/out"
	cp "$T/late_target" "$W/prog"
	chmod 755 "$W" "$W/prog"
	"$@" env LD_PRELOAD="$ASAN_RT" "$W/prog" "$LIB" wait "$W/go" >"$W/out" 2>&1 &
	local pid=$!
	wait_until 60 grep -qs waiting "$W/out" || fail "the program did not start: $(cat "$W/out")"
	rm -f "$W/prog"
	[ "$what" = replace ] && cp "$T/late_target2" "$W/prog"
	touch "$W/go"
	wait $pid
}
replaced() {
	waiting replace
	has "$(cat "$W/out")" "^f: f$"
	waiting delete
	has "$(cat "$W/out")" "^f: f$"
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		chmod 777 "$W"
		waiting replace setpriv --reuid=nobody --regid=nogroup --clear-groups
		has "$(cat "$W/out")" "^f: .*prog was \(replaced\|deleted\) on disk after the program loaded it"
	fi
}

cases="late blocked ld_so replaced"
dispatch "$cases" "$@"
