#!/usr/bin/env bash
# poketrace live: changing what is traced in a running, self-checking
# program through its agent's control socket; refusals.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/live.$$"
trap 'kill_ours "^$T/live_target"; kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

# the program runs until the test sends SIGUSR1 (finish), at most SECONDS
start() { # SECONDS [record options]: starts live_target paused; sets PID
	local secs=$1; shift
	P_REC -o "$W/d" --paused "$@" -- "$T/live_target" "$secs" >"$W/prog.out" 2>"$W/rec.err" &
	RP=$!
	wait_until 60 up || fail "the traced program did not come up: $(cat "$W/rec.err")"
}
up() { PID=$(ours "^$T/live_target" | head -1); [ -n "$PID" ] && "$P" live -p "$PID" status >/dev/null 2>&1; }
finish() { kill -USR1 "$PID"; wait $RP; }
# hits_of FUNCTION: until `status` shows hits of it (the workers run when
# the scheduler lets them)
status_has() { expect 0 "$P" live -p "$PID" status; grep -q -- "$1" <<<"$out"; }
hits_of() { wait_until 60 status_has "^hits [1-9][0-9]* $1$" || fail "no hits of $1:"$'\n'"$out"; }

toggling() {
	start 600
	expect 0 "$P" live -p "$PID" status
	has "$out" "^tracing off$"; has "$out" "^attached 0$"
	expect 0 "$P" live -p "$PID" enable
	expect 0 "$P" live -p "$PID" status
	has "$out" "^tracing on$"; has "$out" "^attached [1-9]"
	hits_of work_a
	for i in $(seq 60); do
		expect 0 "$P" live -p "$PID" filter 'work_a,check'
		expect 0 "$P" live -p "$PID" disable
		expect 0 "$P" live -p "$PID" notrace work_b
		expect 0 "$P" live -p "$PID" enable
		expect 0 "$P" live -p "$PID" filter -
		expect 0 "$P" live -p "$PID" notrace -
	done
	expect 0 "$P" live -p "$PID" status
	has "$out" "^tracing on$"
	local attached
	attached=$(awk '/^attached/ { print $2 }' <<<"$out")
	# hit counts add up: work_a and check were always switched in the same
	# batch, which changes all its sites at one instant (t_poke
	# batch_at_once), so with tracing off (counts frozen) they differ by at
	# most one call per thread (3) in flight at each of the ~122 switches
	expect 0 "$P" live -p "$PID" disable
	expect 0 "$P" live -p "$PID" status
	local ha hc
	ha=$(awk '$1 == "hits" && $3 == "work_a" { print $2 }' <<<"$out")
	hc=$(awk '$1 == "hits" && $3 == "check" { print $2 }' <<<"$out")
	[ -n "$ha" ] && [ -n "$hc" ] && [ $((ha > hc ? ha - hc : hc - ha)) -le $((3 * 125)) ] ||
		fail "work_a has ${ha:-no} hits, check ${hc:-no}"
	expect 0 "$P" live -p "$PID" enable
	expect 0 "$P" live -p "$PID" filter work_a
	expect 0 "$P" live -p "$PID" status
	has "$out" "^selected 1$"; has "$out" "^attached 1$"
	expect 0 "$P" live -p "$PID" filter -
	expect 0 "$P" live -p "$PID" status
	has "$out" "^attached $attached$"
	# frozen again, the counts are the trace's calls per function
	expect 0 "$P" live -p "$PID" disable
	expect 0 "$P" live -p "$PID" status
	local hits=$out
	finish || fail "the program failed its own checks: $(cat "$W/prog.out") $(cat "$W/rec.err")"
	has "$(cat "$W/prog.out")" "^ok [1-9][0-9]* calls, 0 wrong results$"
	has "$hits" "^lost 0$"
	expect 0 "$P" report "$W/d"
	has "$out" " work_a$"; has "$out" " combine$"
	local f h r calls
	for f in work_a work_b combine check; do
		h=$(awk -v f="$f" '$1 == "hits" && $3 == f { print $2 }' <<<"$hits")
		r=$(awk -v f="$f" '$NF == f { print $(NF - 7) }' <<<"$out")  # graph: Calls is 8th from the end
		[ -n "$h" ] && [ "$h" = "$r" ] || fail "$f: status counted ${h:-no} hits, the trace has ${r:-no} calls"
	done
	ha=$(awk '$1 == "hits" && $3 == "work_a" { print $2 }' <<<"$hits")
	calls=$(awk '{ print $2 }' "$W/prog.out")
	[ "$ha" -le "$calls" ] || fail "work_a has $ha hits, more than the program's $calls calls"
}

refusals() {
	start 600
	expect 1 "$P" live -p "$PID" frobnicate
	has "$err" "unknown request 'frobnicate'"
	expect 2 "$P" live -p "$PID"
	expect 1 "$P" live -p 999999999 status
	has "$err" "cannot reach the agent of process 999999999"
	expect 0 "$P" live -p "$PID" status
	kill -KILL "$PID"; wait $RP 2>/dev/null
	# an agent that believes it belongs to another user refuses us, and logs it
	POKETRACE_CONTROL_UID=12345 start_refusing 600
}

flush_stop() {
	start 600
	expect 0 "$P" live -p "$PID" enable
	hits_of work_a
	# flush: the trace on disk reads as it stands while the program runs
	# (tracing off meanwhile, so that no packet is being written as we read)
	expect 0 "$P" live -p "$PID" disable
	expect 0 "$P" live -p "$PID" flush
	has "$out" "^flushed [1-9][0-9]* events"
	expect 0 "$P" report "$W/d"
	has "$out" "work_a"
	expect 0 "$P" info "$W/d"
	has "$out" "^events: *[1-9]"
	expect 0 "$P" live -p "$PID" enable
	# stop: tracing over, the trace final; the program runs on and finishes
	expect 0 "$P" live -p "$PID" stop
	local before after
	before=$(du -sb "$W/d" | cut -f1)
	kill -0 "$PID" || fail "the program died at stop"
	sleep 0.5
	after=$(du -sb "$W/d" | cut -f1)
	[ "$before" = "$after" ] || fail "the trace grew after stop ($before -> $after bytes)"
	expect 1 "$P" live -p "$PID" status
	finish || fail "record failed: $(cat "$W/rec.err")"
	has "$(cat "$W/prog.out")" " 0 wrong results"
	expect 0 "$P" report "$W/d"
	has "$out" "work_a"
}

in_process() {
	# without poketrace: no tracer to drive
	expect 0 env LD_PRELOAD="${ASAN_RT:-}" "$T/ctl_target" none
	P_REC -o "$W/d" --paused -- "$T/ctl_target" >"$W/prog.out" 2>"$W/rec.err" ||
		fail "ctl_target failed: $(cat "$W/prog.out" "$W/rec.err")"
	has "$(cat "$W/prog.out")" "^ok [1-9][0-9]* calls, 0 wrong results"
	expect 0 "$P" report "$W/d"
	has "$out" "work_a"; has "$out" "work_b"
}

start_refusing() {
	local sockdir
	sockdir=$([ -n "${XDG_RUNTIME_DIR:-}" ] && echo "$XDG_RUNTIME_DIR/poketrace" || echo "/tmp/poketrace-$(id -u)")
	POKETRACE_CONTROL_UID=12345 P_REC -o "$W/d" --paused -- "$T/live_target" "$1" >"$W/prog.out" 2>"$W/rec.err" &
	RP=$!
	PID=
	sock_up() { PID=$(ours "^$T/live_target" | head -1); [ -n "$PID" ] && [ -S "$sockdir/$PID.sock" ]; }
	wait_until 60 sock_up || fail "the traced program did not come up"
	expect 1 "$P" live -p "$PID" status
	has "$err" "refused: you are not the owner"
	kill -KILL "$PID"; wait $RP 2>/dev/null
	has "$(cat "$W/rec.err")" "refused a control connection from uid $(id -u)"
}

cases="toggling refusals flush_stop in_process"
dispatch "$cases" "$@"
