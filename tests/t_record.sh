#!/usr/bin/env bash
# record / report / graph / replay / dump / info, end to end on
# build/tests/e2e, plus babeltrace2, damaged traces, a full disk and lost events.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/rec.$$"
trap 'kill_ours "^$T/e2e none spin"; kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

record() { # DIR [record options] : records e2e with the dlopen'ed library
	local d=$1; shift
	P_REC -o "$d" "$@" -- "$T/e2e" "$T/libt_dl_clang.so" >"$W/prog.out" 2>"$W/rec.err" ||
		fail "record failed: $(cat "$W/rec.err")"
}
# calls FUNCTION REPORT: the Calls column (5th field: times take two; "-"
# when every call of the function was cut)
calls() { awk -v f="$1" '$NF == f { print ($1 == "-" ? $3 : $5) }' <<<"$2"; }

counts_match() {
	record "$W/d"
	expect 0 "$P" report "$W/d"
	local report=$out
	while read -r _ fn n; do
		[ "$(calls "$fn" "$report")" = "$n" ] ||
			fail "$fn: the trace has $(calls "$fn" "$report") calls, the program counted $n"$'\n'"$report"
	done < <(grep '^count ' "$W/prog.out")
	has "$(cat "$W/rec.err")" "^poketrace: [0-9]* events, 0 lost, .* in 4 threads (8.0 bytes/event)"
}

views() {
	record "$W/d"
	expect 0 "$P" graph "$W/d"
	has "$out" "(1) main"; has "$out" "+-(100) lib_twice"; has "$out" "(200) lib_scale"
	expect 0 "$P" graph "$W/d" lib_twice
	has "$out" "^ .*(100) lib_twice$"; grep -q worker <<<"$out" && fail "graph FUNC shows other trees"
	expect 0 "$P" replay "$W/d"
	has "$out" "main() {"; has "$out" "} /\* main \*/"; has "$out" "  lib_scale();"
	[ "$(grep -c 'dl_fn();' <<<"$out")" -eq 250 ] || fail "replay: dl_fn lines"
	expect 0 "$P" info "$W/d"
	has "$out" "^threads:    4"; has "$out" "module:   .*libe2e.so"; has "$out" "module:   .*libt_dl_clang.so"
	local events
	events=$(awk '/^events:/ { print $2 }' <<<"$out")
	expect 0 "$P" report "$W/d"
	local ncalls
	ncalls=$(awk 'NR > 2 && !/^#/ { n += ($1 == "-" ? $3 : $5) } END { print n }' <<<"$out")
	expect 0 "$P" dump --chrome "$W/d"
	echo "$out" > "$W/chrome.json"
	local pid
	pid=$(sed -n 's/^pid=//p' "$W/d/poketrace/info")
	expect 0 python3 tests/chrome_check.py "$W/chrome.json" "$pid" e2e
	# cut: exiter, a worker, and pthread_exit (a library call that never returns)
	[ "$out" = "calls $ncalls cut 3 threads 4" ] || fail "chrome: $out; report counts $ncalls calls"
	expect 0 "$P" dump --flame "$W/d"
	has "$out" "^main;lib_twice;lib_scale [0-9]*$"
	grep -qv '^[^ ]* [0-9]*$' <<<"$out" && fail "flame lines are not 'stack value'"
	return 0
}

babeltrace() {
	command -v babeltrace2 >/dev/null || { echo "babeltrace2 missing: scripts/install-deps.sh installs it"; exit 1; }
	record "$W/d"
	expect 0 "$P" info "$W/d"
	local events
	events=$(awk '/^events:/ { print $2 }' <<<"$out")
	expect 0 babeltrace2 "$W/d"
	[ "$(wc -l <<<"$out")" -eq "$events" ] || fail "babeltrace2 printed $(wc -l <<<"$out") events, info counts $events"
	# names from the metadata's enumeration, and the trace's UUID
	has "$out" 'entry: { tid = [0-9]* }, { fn = ( "main" : container = [0-9]* ) }'
	has "$out" 'exit: { tid = [0-9]* }, { fn = ( "lib_twice" : container = [0-9]* ) }'
	expect 0 babeltrace2 --output-format=ctf-metadata "$W/d"
	has "$out" 'uuid = "[0-9a-f]\{8\}-[0-9a-f]\{4\}-4[0-9a-f]\{3\}-[89ab][0-9a-f]\{3\}-[0-9a-f]\{12\}";'
	expect 0 babeltrace2 -c source.ctf.fs -p "inputs=[\"$W/d\"]" -c sink.text.details
	has "$out" 'UUID: [0-9a-f-]\{36\}' 
}

tracers() {
	record "$W/f" --tracer function
	expect 0 "$P" report "$W/f"
	[ "$(awk '$2 == "leaf" { print $1 }' <<<"$out")" = 15005 ] || fail "function tracer: $out"
	record "$W/p" --tracer profile
	expect 0 "$P" report "$W/p"
	[ "$(calls leaf "$out")" = 15005 ] && [ "$(calls fib "$out")" = 1973 ] || fail "profile tracer: $out"
	# one outermost call of each recursion: its total is that call's time, the max
	for f in fib deep; do
		awk -v f=$f '$NF == f { if (($1 " " $2) != ($10 " " $11)) bad = 1 } END { exit bad }' <<<"$out" || fail "profile: $f total is not its outermost call's: $out"
	done
	expect 1 "$P" graph "$W/p"; has "$err" "graph needs --tracer graph"
}

filters() {
	record "$W/d" -F 'lib_*' -F fib
	expect 0 "$P" report "$W/d"
	[ "$(awk 'NR > 2' <<<"$out" | wc -l)" -eq 3 ] || fail "-F: $out"
	record "$W/n" -N 'leaf' -N 'worker*'
	expect 0 "$P" report "$W/n"
	grep -q 'leaf\|worker' <<<"$out" && fail "-N: $out"
	record "$W/D" -D 1
	expect 0 "$P" report "$W/D"
	[ -z "$(calls lib_scale "$out")" ] && [ "$(calls main "$out")" = 1 ] || fail "-D 1: $out"
	record "$W/t" -t 10us
	expect 0 "$P" report "$W/t"
	[ "$(calls main "$out")" = 1 ] || fail "-t 10us dropped main: $out"
	[ "$(calls leaf "$out")" != 15005 ] || fail "-t 10us dropped nothing: $out"
	# every call left lasted 10 us or more (exiter never returns: no duration)
	awk 'NR > 2 && !/^#/ && $1 != "-" && !(($9 == "us" && $8 >= 10) || $9 == "ms" || $9 == "s") { bad = 1; print }
	     END { exit bad }' <<<"$out" || fail "-t 10us left shorter calls"
}

damaged() {
	record "$W/d" -b 64K
	local s
	s=$(ls -S "$W"/d/stream_* | head -1)
	cp -r "$W/d" "$W/cut"
	truncate -s $(( $(stat -c %s "$s") - 1000 )) "$W/cut/$(basename "$s")"
	expect 1 "$P" report "$W/cut"
	has "$err" "$(basename "$s"): truncated at offset [0-9]*"
	has "$out" "main$"
	cp -r "$W/d" "$W/bad"
	# overwrite the second packet's magic (the first packet's packet_size, in bits, says where)
	python3 - "$W/bad/$(basename "$s")" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
size = struct.unpack("<Q", f.read(40)[32:40])[0] // 8
f.seek(size)
f.write(b"XXXX")
PY
	expect 1 "$P" report "$W/bad"
	has "$err" "$(basename "$s"): corrupted at offset [0-9]* (no packet magic)"
	has "$out" "main$"
	expect 1 "$P" report "$W/missing"; has "$err" "not a poketrace trace directory"
	expect 2 "$P" report --sort bogus "$W/d"
	expect 2 "$P" dump "$W/d"
	expect 2 "$P" record
	expect 2 "$P" record --tracer nope -- true
}

full_disk() {
	# RLIMIT_FSIZE: writes past 64 KiB fail with EFBIG (SIGXFSZ is ignored).
	( ulimit -f 64; P_REC -o "$W/d" -b 64K -- "$T/e2e" >/dev/null 2>"$W/rec.err" )
	local st=$?
	[ $st -eq 1 ] || fail "record exited $st with a trace it could not write"
	has "$(cat "$W/rec.err")" "failed: File too large"
	has "$(cat "$W/rec.err")" "[1-9][0-9]* events could not be written"
	expect 0 "$P" info "$W/d"
	has "$out" "unwritten:  [1-9]"
	expect 0 "$P" report "$W/d"
	has "$out" "main$"
	if command -v babeltrace2 >/dev/null; then expect 0 babeltrace2 "$W/d"; fi
}

# --max-size: what fits is a whole trace, the rest is counted and said
max_size() {
	record "$W/d" --max-size 100K
	has "$(cat "$W/rec.err")" "reached --max-size (102400 bytes): the [1-9][0-9]* events after that were not written"
	local bytes; bytes=$(cat "$W"/d/stream_* | wc -c)
	[ "$bytes" -le 102400 ] || fail "$bytes bytes of streams past a cap of 102400"
	expect 0 "$P" info "$W/d"
	has "$out" "^unwritten:  [1-9][0-9]* (past --max-size 102400 bytes)"
	expect 0 "$P" report "$W/d"
	has "$out" " main$"
	if command -v babeltrace2 >/dev/null; then expect 0 babeltrace2 "$W/d"; fi
	expect 2 "$P" record -o "$W/e" --max-size 1K -- "$T/e2e"
	has "$err" "max-size needs a size of 64K or more"
}

lost_events() {
	# (the writer pauses after each packet: events are lost whatever the machine's speed)
	POKETRACE_WRITER_DELAY_MS=200 record "$W/d" -b 16K --on-full=drop -F leaf -F worker_step
	expect 0 "$P" info "$W/d"
	local lost
	lost=$(awk '/^lost:/ { print $2 }' <<<"$out")
	[ "$lost" -gt 0 ] || fail "a 16K buffer lost nothing:"$'\n'"$out"
	has "$(cat "$W/rec.err")" " $lost lost"
	expect 0 "$P" report "$W/d"
	if command -v babeltrace2 >/dev/null; then expect 0 babeltrace2 "$W/d"; fi
}

crashed() {
	# a segfault: the agent writes its buffers, then the program dies of it
	P_REC -o "$W/d" -- "$T/e2e" "" crash >"$W/prog.out" 2>"$W/rec.err"
	[ $? -eq $((128 + 11)) ] || fail "record did not report SIGSEGV: $(cat "$W/rec.err")"
	has "$(cat "$W/rec.err")" "killed by signal 11"
	has "$(cat "$W/rec.err")" "did not exit normally"
	expect 0 "$P" report "$W/d"
	[ "$(calls leaf "$out")" = "$(awk '/^count leaf/ { print $3 }' "$W/prog.out")" ] ||
		fail "calls before the crash: $(calls leaf "$out")"$'\n'"$out"
}

# A program's sleeps are its own: a CPU-time timer's signal that
# poketrace's busy writer would have blocked went to the sleeping main
# thread, whose nanosleep and poll ended with EINTR.  The program's SIGPROF
# handler is not hooked: a signal that expires while the thread whose time
# ran out is inside its handler (the signal blocked there) goes to another
# thread, perhaps the sleeping one, and a hooked handler takes longer
# (170 us on average under ASan, against the timer's 1 ms): tracing's
# overhead, by the machine's speed, not poketrace's threads
sleeps_kept() {
	expect 0 P_REC --exclude on_prof -o "$W/s" -- "$T/profsleep"
	[ "$out" = slept ] || fail "the program's sleep was cut short: $out"
}

killed() {
	# SIGKILL: nothing runs in the program; the packets written stay readable
	P_REC -o "$W/k" -b 64K -- "$T/e2e" none spin >/dev/null 2>"$W/rec.err" &
	local rp=$! pid=""
	# until two packets (16K each) are on disk, however slow the machine
	wait_until 60 written 32768 "$W/k" || fail "nothing was written: $(cat "$W/rec.err")"
	pid=$(ours "^$T/e2e none spin")
	[ -n "$pid" ] || fail "the traced program is not running"
	kill -KILL $pid
	wait $rp
	has "$(cat "$W/rec.err")" "killed by signal 9"
	expect 0 "$P" report "$W/k"
	[ "$(calls leaf "$out")" -gt 1000 ] || fail "leaf calls before the kill: $out"
	expect 0 "$P" info "$W/k"
	has "$out" "did not exit normally"
	if command -v babeltrace2 >/dev/null; then expect 0 babeltrace2 "$W/k"; fi
}

arguments() {
	record "$W/d" -A fib -R fib -A name_len -R name_len -R lib_scale
	expect 0 "$P" replay "$W/d"
	has "$out" "  fib(15) {$"
	has "$out" "} = 610 /\* fib \*/$"
	has "$out" "  fib(1) = 1;$"
	has "$out" '  name_len("poketrace", 1) = 10;$'
	has "$out" '  name_len(0, 2) = 2;$'
	has "$out" '  name_len("edge", 3) = 7;$'
	has "$out" "  lib_scale() = 0;$"
	expect 0 "$P" info "$W/d"
	local events
	events=$(awk '/^events:/ { print $2 }' <<<"$out")
	if command -v babeltrace2 >/dev/null; then
		expect 0 babeltrace2 "$W/d"
		[ "$(wc -l <<<"$out")" -eq "$events" ] || fail "babeltrace2: $(wc -l <<<"$out") events, info $events"
		has "$out" 'arg_string: .* value = "poketrace"'
		has "$out" "exit_ret: .* ret = 610 }"
	fi
	expect 0 "$P" report "$W/d"
	[ "$(calls fib "$out")" = 1973 ] || fail "fib calls with arguments recorded"
}

cplusplus() {
	P_REC -o "$W/d" -- "$T/cpp_prog" >/dev/null 2>&1 || fail "record"
	expect 0 "$P" report "$W/d"
	has "$out" " shapes::Circle::area$"
	has "$out" " shapes::total$"
	[ "$(calls shapes::Circle::area "$out")" = 10 ] || fail "area() calls: $out"
	expect 0 "$P" report --demangle=full "$W/d"
	has "$out" "shapes::Circle::area() const$"
	has "$out" "shapes::total(std::vector<shapes::Circle, std::allocator<shapes::Circle> > const&)$"
	expect 0 "$P" report --demangle=no "$W/d"
	has "$out" " _ZNK6shapes6Circle4areaEv$"
	# replay: no doubled parentheses in any form
	for form in simple full no; do
		expect 0 "$P" replay --demangle=$form "$W/d"
		lacks "$out" ')()'
	done
	has "$out" "_ZNK6shapes6Circle4areaEv();"
	expect 0 "$P" replay --demangle=full "$W/d"
	has "$out" " shapes::Circle::area() const;"
	# every place that takes a name takes the three forms
	for name in shapes::total 'shapes::total(std::vector<shapes::Circle, std::allocator<shapes::Circle> > const&)' \
		_ZN6shapes5totalERKSt6vectorINS_6CircleESaIS1_EE; do
		expect 0 "$P" graph "$W/d" "$name"
		has "$out" "(1) shapes::total$"
		expect 0 "$P" replay -F "$name" "$W/d"
		[ "$(grep -c 'shapes::Circle::area();' <<<"$out")" = 10 ] || fail "replay -F '$name': $out"
		expect 0 "$P" replay -N "$name" "$W/d"
		lacks "$out" "area"
	done
}

modules() {
	record "$W/d" -m libe2e.so
	expect 0 "$P" report "$W/d"
	[ "$(awk 'NR > 2' <<<"$out" | wc -l)" -eq 2 ] || fail "-m libe2e.so: $out"
	has "$out" "lib_twice$"
}

cases="counts_match views babeltrace tracers filters modules damaged full_disk max_size lost_events crashed sleeps_kept killed arguments cplusplus"
dispatch "$cases" "$@"
