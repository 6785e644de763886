#!/usr/bin/env bash
# poketrace attach / detach: tracing a running, self-checking program that
# was started without poketrace, then letting it go; refusals.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/attach.$$"
trap 'kill_ours "^$T/live_target"; kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

# the program runs until the test sends SIGUSR1 (finish), at most SECONDS
start() { # SECONDS: starts live_target untraced; sets PID
	LD_PRELOAD="$ASAN_RT" "$T/live_target" "$1" >"$W/prog.out" 2>"$W/prog.err" &
	PID=$!
	wait_until 60 grep -q live_target "/proc/$PID/comm" 2>/dev/null || fail "live_target did not start"
}
finish() { kill -USR1 "$PID"; wait "$PID"; }
# until `status` shows hits of FUNCTION (the workers run when the scheduler lets them)
status_has() { expect 0 "$P" live -p "$PID" status; grep -q -- "$1" <<<"$out"; }
hits_of() { wait_until 60 status_has "^hits [1-9][0-9]* $1$" || fail "no hits of $1:"$'\n'"$out"; }

sockdir() { [ -n "${XDG_RUNTIME_DIR:-}" ] && echo "$XDG_RUNTIME_DIR/poketrace" || echo "/tmp/poketrace-$(id -u)"; }

attach_detach() {
	start 600
	expect 0 "$P" attach -p "$PID" -o "$W/d" --select 'work_*'
	has "$err" "tracing process $PID"
	hits_of work_a
	has "$out" "^tracing on$"; has "$out" "^attached 2$"
	expect 0 "$P" live -p "$PID" disable
	expect 0 "$P" live -p "$PID" flush
	has "$out" "^flushed [1-9]"
	expect 0 "$P" report "$W/d"
	has "$out" "work_a"
	expect 0 "$P" live -p "$PID" enable
	# a second attach would have nothing to start the agent: refused
	expect 1 "$P" attach -p "$PID" -o "$W/d2"
	has "$err" "traced by poketrace already"
	[ ! -e "$W/d2" ] || fail "a refused attach made $W/d2"
	expect 0 "$P" detach -p "$PID"
	[ ! -e "$(sockdir)/$PID.sock" ] || fail "the control socket outlived detach"
	kill -0 "$PID" || fail "the program died at detach"
	# attach again: a new trace, with other options, into another directory
	expect 0 "$P" attach -p "$PID" -o "$W/d2" -F 'combine,check' --tracer function
	hits_of combine
	has "$out" "^tracing on$"; has "$out" "^attached 2$"
	lacks "$out" "work_a"
	expect 0 "$P" detach -p "$PID"
	kill -0 "$PID" || fail "the program died at the second detach"
	finish || fail "the program failed: $(cat "$W/prog.err")"
	has "$(cat "$W/prog.out")" " 0 wrong results"
	expect 0 "$P" report "$W/d"
	has "$out" "work_a"; has "$out" "work_b"; lacks "$out" "combine"
	expect 0 "$P" info "$W/d"
	has "$out" "^lost: *0$"; has "$out" "^tracer: *graph$"
	expect 0 "$P" report "$W/d2"
	has "$out" "combine"; has "$out" "check"; lacks "$out" "work_a"
	expect 0 "$P" info "$W/d2"
	has "$out" "^lost: *0$"; has "$out" "^tracer: *function$"
	if command -v babeltrace2 >/dev/null; then
		for d in "$W/d" "$W/d2"; do
			babeltrace2 "$d" >/dev/null 2>"$W/bt.err" || fail "babeltrace2 cannot read $d: $(cat "$W/bt.err")"
		done
	fi
	[ -z "$(ls /tmp/poketrace-attach-* 2>/dev/null)" ] || fail "attach left its request file"
}

modules() {
	# a library the program dlopens after attach is traced when it matches;
	# its dlclose while traced harms nothing
	# (SIGUSR2: the program dlopens the library now, after the attach)
	LD_PRELOAD="$ASAN_RT" "$T/live_target" 600 "$(realpath "$T/libt_dl_clang.so")" >"$W/prog.out" 2>"$W/prog.err" &
	PID=$!
	wait_until 60 grep -q live_target "/proc/$PID/comm" 2>/dev/null || fail "live_target did not start"
	expect 0 "$P" attach -p "$PID" -o "$W/d" -F 'work_a,dl_fn'
	kill -USR2 "$PID"
	wait_until 60 status_has "^hits [1-9][0-9]* dl_fn$" ||
		fail "dl_fn of the library loaded after attach was never traced: $(cat "$W/prog.err")"
	wait "$PID" || fail "the program failed: $(cat "$W/prog.out" "$W/prog.err")"
	has "$(cat "$W/prog.out")" " 0 wrong results"
	expect 0 "$P" report "$W/d"
	has "$out" "work_a"
}

refusals() {
	start 600
	expect 1 "$P" attach -p 2147483 -o "$W/x"
	has "$err" "no process 2147483"
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		chmod 755 "$W"
		expect 1 setpriv --reuid=nobody --regid=nogroup --clear-groups "$P" attach -p "$PID" -o "$W/x"
		has "$err" "runs as uid 0"
	fi
	# a process that a debugger holds cannot be ptraced a second time
	if command -v gdb >/dev/null; then
		# gdb holds it until the test's attach is done (the fifo is written)
		mkfifo "$W/gdb.go"
		gdb -q -batch -p "$PID" -ex "shell read x < $W/gdb.go" >/dev/null 2>&1 &
		local g=$!
		wait_until 60 grep -q "^TracerPid:[[:space:]]*[1-9]" "/proc/$PID/status" || fail "gdb did not attach"
		expect 1 "$P" attach -p "$PID" -o "$W/x"
		has "$err" "ptrace refused"
		echo go >"$W/gdb.go"
		wait $g
	fi
	expect 1 "$P" detach -p "$PID"
	has "$err" "cannot reach the agent of process $PID"
	[ ! -e "$W/x" ] || fail "a refused attach made $W/x"
	finish || fail "the program failed after the refusals"
	has "$(cat "$W/prog.out")" " 0 wrong results"
}


# Workers that block every signal (before any poketrace is there): attach
# unblocks SIGTRAP and the engine's signal in each thread through ptrace,
# or no batch could ever be written safely.
# (attached once its workers have blocked every signal: a thread inside
# glibc's sigprocmask as the agent arrives blocks SIGTRAP again after the
# agent unblocked it, and may meet a site mid-batch: see README "attach")
workers_blocked() {
	local n=0 f m
	for f in /proc/"$PID"/task/*/status; do
		m=$(awk '/^SigBlk:/ { print $2 }' "$f" 2>/dev/null)
		[ -n "$m" ] && (( 0x$m & 0x10 )) && n=$((n + 1))
	done
	[ "$n" -ge 3 ]
}
blocked_workers() {
	LIVE_TARGET_BLOCK=1 start 600
	wait_until 60 workers_blocked || fail "the workers did not block their signals"
	expect 0 "$P" attach -p "$PID" -o "$W/d" -F 'work_*'
	hits_of work_a
	for _ in 1 2 3 4 5; do
		expect 0 "$P" live -p "$PID" disable
		expect 0 "$P" live -p "$PID" enable
	done
	expect 0 "$P" detach -p "$PID"
	finish || fail "the program failed: $(cat "$W/prog.out" "$W/prog.err")"
	has "$(cat "$W/prog.out")" " 0 wrong results"
}

# The thread ptrace makes load the agent sleeps in nanosleep: it sleeps on
# (its restart block, which the load's signal handlers reset, is not used:
# the system call runs again) — it ended in EINTR
sleep_kept() {
	local how pid
	# (epoll_wait: the ptrace stop itself ends it with EINTR)
	for how in nanosleep epoll; do
		LD_PRELOAD="$ASAN_RT" "$T/profsleep" attach 3 "$how" >"$W/prog.out" 2>&1 &
		pid=$!
		wait_until 10 grep -q ready "$W/prog.out" || fail "profsleep did not start"
		expect 0 "$P" attach -p "$pid" -o "$W/d.$how"
		wait "$pid" || fail "profsleep ($how) failed: $(cat "$W/prog.out")"
		has "$(cat "$W/prog.out")" "^slept$"
	done
}

# Library calls attached again (the agent stays loaded): the same names
# as the first time, as library calls (free, not its alias __libc_free,
# and the relocated entries an earlier trace made are this one's only
# because the program calls them)
reattach_libcalls() {
	LD_PRELOAD="$ASAN_RT" "$T/profsleep" attach 600 >"$W/prog.out" 2>&1 &
	local pid=$! k
	wait_until 10 grep -q ready "$W/prog.out" || fail "profsleep did not start"
	for k in 1 2; do
		expect 0 "$P" attach -p "$pid" -o "$W/r$k"
		traced() { "$P" live -p "$pid" status 2>/dev/null | grep -q "^events [1-9]"; }
		wait_until 60 traced || fail "attach $k: no event"
		expect 0 "$P" detach -p "$pid"
		expect 0 "$P" report "$W/r$k"
		has "$out" " malloc$"; has "$out" " free$"; lacks "$out" " __libc_"
	done
	kill "$pid"
}

cases="attach_detach refusals modules blocked_workers sleep_kept reattach_libcalls"
dispatch "$cases" "$@"
