#!/usr/bin/env bash
# Trace buffers under load (build/tests/flood: threads calling two tiny
# traced functions as fast as they can): by default nothing is lost; with
# --on-full=drop losses are counted and no figure is impossible; the memory
# cap holds; a program killed while its threads wait leaves a readable trace.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/buf.$$"
trap 'kill_ours "^$T/flood"; kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

flood() { # DIR THREADS SECONDS [record options]: records the flood (its modes: $MODES)
	local d=$1 nt=$2 secs=$3; shift 3
	P_REC -o "$d" -F outer -F inner "$@" -- "$T/flood" "$nt" "$secs" ${MODES:-} >"$W/prog.out" 2>"$W/rec.err" ||
		fail "record failed: $(cat "$W/rec.err")"
}
key() { awk -F= -v k="$1" '$1 == k { print $2 }' "$2/poketrace/info"; }
prog() { awk -v k="$1" '$1 == k { print $2 }' "$W/prog.out"; }
# field FUNCTION COLUMN REPORT: a column of report's line for FUNCTION
# (times are "N unit": Total 1-2, Self 3-4, Calls 5, Avg 6-7, Min 8-9, Max 10-11)
ns() { awk -v v="$1" -v u="$2" 'BEGIN { m = u == "s" ? 1e9 : u == "ms" ? 1e6 : u == "us" ? 1e3 : 1; printf "%.0f", v * m }'; }
max_ns() { local l; l=$(awk -v f="$1" '$NF == f' <<<"$2"); [ -n "$l" ] || fail "no $1 in: $2"; ns $(awk '{ print $10, $11 }' <<<"$l"); }
avg_ns() { local l; l=$(awk -v f="$1" '$NF == f' <<<"$2"); ns $(awk '{ print $6, $7 }' <<<"$l"); }

# The trace is as big as the machine is fast (8 bytes an event, 4 events a
# call of outer): the flood lasts 10 s or until it has written an eighth of
# the free disk, at most 2 GB, whichever comes first.
flood_calls() {
	local free_kb
	free_kb=$(df -Pk "$W" | awk 'NR == 2 { print $4 }')
	free_kb=$((free_kb / 8 < 2097152 ? free_kb / 8 : 2097152))
	echo $((free_kb * 1024 / 32))
}

nothing_lost() {
	local secs=10 calls
	MODES=max=$(flood_calls) flood "$W/d" 4 "$secs"
	calls=$(prog calls)
	[ "$calls" -gt 0 ] || fail "the flood made no calls: $(cat "$W/prog.out")"
	expect 0 "$P" info "$W/d"
	has "$out" "^lost: *0$"
	# every call of outer is a call of inner: 4 events per call of outer
	has "$out" "^events: *$((4 * calls))$"
	has "$(cat "$W/rec.err")" "^poketrace: $((4 * calls)) events, 0 lost"
	echo "flood of at most $secs s: $calls calls of outer, $(key waits "$W/d") waits ($(key wait_ns "$W/d") ns)," \
		"buffers at most $(key buffer_peak "$W/d") bytes"
}

# Drop mode with a 16K buffer loses events, counts them, and the reports of
# the trace with gaps show nothing the program could not have taken.  The
# writer pauses 500 ms after every packet (POKETRACE_WRITER_DELAY_MS): every
# gap lasts that long or more, and inner and outer, which take nanoseconds,
# may show no call of half of it (an entry before a gap paired with an exit
# after it would).
drop_counts() {
	local lost v
	POKETRACE_WRITER_DELAY_MS=500 flood "$W/d" 2 4 -b 16K --on-full=drop
	expect 0 "$P" info "$W/d"
	lost=$(awk '/^lost:/ { print $2 }' <<<"$out")
	[ "$lost" -gt 0 ] || fail "a 16K buffer in drop mode lost nothing:"$'\n'"$out"
	has "$(cat "$W/rec.err")" " $lost lost"
	[ "$(key on_full "$W/d")" = drop ] || fail "info: on_full is not drop"
	[ "$(key waits "$W/d")" = 0 ] || fail "drop mode waited"
	expect 0 "$P" report "$W/d"
	for v in "$(max_ns inner "$out")" "$(max_ns outer "$out")"; do
		[ "$v" -lt 250000000 ] || fail "a gap made a call of $v ns:"$'\n'"$out"
	done
	for v in "$(avg_ns inner "$out")" "$(avg_ns outer "$out")"; do
		[ "$v" -lt 50000 ] || fail "a gap made an average of $v ns:"$'\n'"$out"
	done
	if command -v babeltrace2 >/dev/null; then
		expect 0 babeltrace2 "$W/d"
		# babeltrace2 reports the discarded events from events_discarded
		has "$err" "discarded"
	fi
}

# A tiny cap: threads wait rather than grow, and the program's peak RSS
# stays under its untraced peak + the cap + 2 packets per thread + 16 MiB
# (the agent, its threads' stacks, the shadow stacks' touched pages).
memory_cap() {
	local base hwm peak cap=$((2 << 20)) chunk=$((64 << 10 >> 2))
	"$T/flood" 4 1 >"$W/prog.out" || fail "flood failed untraced"
	base=$(prog hwm)
	# (--no-libcall: library calls read libc's DWARF where libc6-dbg is installed, ~19 MB of mapped file)
	flood "$W/d" 4 2 -b 64K --buffer-max 2M --no-libcall
	hwm=$(prog hwm)
	peak=$(key buffer_peak "$W/d")
	[ "$peak" -le $((cap + 4 * 2 * chunk)) ] || fail "buffers grew to $peak bytes past the cap of $cap"
	[ "$(key waits "$W/d")" -gt 0 ] || fail "no thread waited at a 2M cap"
	[ "$hwm" -le $((base + (cap >> 10) + 16384)) ] ||
		fail "peak RSS $hwm KB, untraced $base KB, cap $((cap >> 10)) KB"
	expect 0 "$P" info "$W/d"
	has "$out" "^lost: *0$"
	echo "cap 2M: peak RSS $hwm KB (untraced $base KB), $(key waits "$W/d") waits, $(key wait_ns "$W/d") ns"
}

# Threads blocked waiting for the writer when the program is killed: the
# trace reads up to the last packet written (SIGTERM: the agent writes
# what it has; SIGKILL: what the writer had written).
killed_waiting() {
	local sig pid
	for sig in TERM KILL; do
		P_REC -o "$W/$sig" -F outer -F inner -b 64K --buffer-max 1M -- "$T/flood" 4 30 \
			>/dev/null 2>"$W/rec.err" &
		local rp=$!
		# until the buffers reached the 1M cap, written once over: the
		# program's threads now wait for the writer
		wait_until 60 written $((2 << 20)) "$W/$sig" || fail "nothing was written: $(cat "$W/rec.err")"
		pid=$(ours "^$T/flood 4 30")
		[ -n "$pid" ] || fail "the flood is not running"
		kill -"$sig" "$pid"
		wait $rp
		has "$(cat "$W/rec.err")" "killed by signal"
		expect 0 "$P" info "$W/$sig"
		has "$out" "^lost: *0$"
		expect 0 "$P" report "$W/$sig"
		has "$out" " outer$"
		rm -rf "${W:?}/$sig"
	done
}

# Threads that must wait never deadlock: in a signal handler (a 1 kHz timer
# whose handler calls traced functions, delivered to any thread), in forked
# children (no writer there), at exit, and while a flush pauses the tracer.
no_deadlock() {
	local calls handler events
	# (under ASan the children are not followed: libasan's allocator is not
	# fork-safe in a threaded process, and a followed child starts threads)
	local nf=; [ -z "$ASAN_RT" ] || nf=--no-follow
	MODES=signals,fork flood "$W/d" 3 3 -b 64K --buffer-max 1M $nf
	calls=$(prog calls); handler=$(prog handler)
	[ "$(prog forks)" -gt 0 ] && [ "$handler" -gt 0 ] || fail "no fork or no handler ran: $(cat "$W/prog.out")"
	[ "$(key wait_timeouts "$W/d")" = 0 ] || fail "a thread gave up waiting: the writer stalled"
	[ "$(key waits "$W/d")" -gt 0 ] || fail "nobody waited at a 1M cap"
	expect 0 "$P" info "$W/d"
	has "$out" "^lost: *0$"
	# the workers' calls are all there; the handler's, unless it interrupted
	# a tracer handler (the recursion guard)
	events=$(key events "$W/d")
	[ "$events" -ge $((4 * calls)) ] && [ "$events" -le $((4 * (calls + handler))) ] ||
		fail "$events events for $calls calls and $handler in the signal handler"
	# each forked child (followed, into its own directory) traced its
	# million calls of outer (and inner) whole, while its parent flooded
	local kids=0 k
	[ -z "$nf" ] || kids=$(prog forks)
	for k in $([ -z "$nf" ] && echo "$W"/d/pid-*); do
		[ "$(key events "$k")" = 4000000 ] && [ "$(key lost "$k")" = 0 ] ||
			fail "child $k: $(key events "$k") events, $(key lost "$k") lost for 1000000 calls"
		kids=$((kids + 1))
	done
	[ "$kids" = "$(prog forks)" ] || fail "$kids child traces for $(prog forks) forks"
	rm -rf "${W:?}/d"
	# a flush pauses the tracer while threads wait for the writer
	P_REC -o "$W/d" -F outer -F inner -b 64K --buffer-max 1M -- "$T/flood" 3 30 >"$W/prog.out" 2>"$W/rec.err" &
	local rp=$! pid
	wait_until 60 written $((2 << 20)) "$W/d" || fail "nothing was written: $(cat "$W/rec.err")"
	pid=$(ours "^$T/flood 3 30")
	for _ in 1 2 3; do
		expect 0 timeout 60 "$P" live -p "$pid" flush
		has "$out" "^flushed [1-9]"
	done
	kill -USR1 "$pid"
	wait $rp || fail "record failed: $(cat "$W/rec.err")"
	[ "$(key wait_timeouts "$W/d")" = 0 ] || fail "a thread gave up waiting during a flush"
	expect 0 "$P" report "$W/d"
	has "$out" " outer$"
}

cases="nothing_lost drop_counts memory_cap killed_waiting no_deadlock"
dispatch "$cases" "$@"
