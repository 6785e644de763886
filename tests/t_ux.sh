#!/usr/bin/env bash
# The command a user can trust (issue 15): record never destroys files (the
# output directory, option values and lists of any length, a program that is
# not there), passes signals on, says why nothing was traced, and takes
# C++ names as a user writes them.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/ux.$$"
trap 'kill_ours "^$T/e2e"; kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

rec() { # DIR [options]: records e2e, keeps stderr in $err
	local d=$1; shift
	expect 0 P_REC -o "$d" "$@" -- "$T/e2e" "$T/libt_dl_clang.so"
}
# the pid the trace was recorded from (its info file)
trace_pid() { awk -F= '$1 == "pid" { print $2 }' "$1/poketrace/info"; }

foreign_dir() {
	mkdir -p "$W/mine"
	echo "my notes" > "$W/mine/notes.txt"; echo "1,2" > "$W/mine/stream_data.csv"; echo x > "$W/mine/metadata"
	expect 1 P_REC -o "$W/mine" -- "$T/e2e" "$T/libt_dl_clang.so"
	has "$err" "is not empty and not a poketrace trace (it holds"
	[ "$(cat "$W/mine/notes.txt")" = "my notes" ] && [ "$(cat "$W/mine/stream_data.csv")" = "1,2" ] &&
		[ "$(cat "$W/mine/metadata")" = x ] && [ ! -e "$W/mine/poketrace" ] || fail "files were touched"
	echo data > "$W/afile"
	expect 1 P_REC -o "$W/afile" -- "$T/e2e" "$T/libt_dl_clang.so"; has "$err" "not a directory"
	[ "$(cat "$W/afile")" = data ] || fail "a file was touched"
	mkdir "$W/empty"
	rec "$W/empty"; expect 0 "$P" info "$W/empty"
}

rotation() {
	rec "$W/d"; local first; first=$(trace_pid "$W/d")
	rec "$W/d"; has "$err" "the earlier trace in .* is now .*d.old"
	[ "$(trace_pid "$W/d.old")" = "$first" ] || fail "d.old is not the first trace"
	local second; second=$(trace_pid "$W/d")
	[ "$second" != "$first" ] || fail "d was not recorded again"
	expect 0 "$P" report "$W/d.old"; has "$out" "lib_twice"
	rec "$W/d"
	[ "$(trace_pid "$W/d.old")" = "$second" ] || fail "d.old was not replaced by the second trace"
	# an .old that is not ours stops the rotation, before anything moves
	rm -rf "$W/d.old"; mkdir "$W/d.old"; echo keep > "$W/d.old/keep.txt"
	local third; third=$(trace_pid "$W/d")
	expect 1 P_REC -o "$W/d" -- "$T/e2e" "$T/libt_dl_clang.so"
	has "$err" "d.old exists and is not a poketrace trace"
	[ "$(cat "$W/d.old/keep.txt")" = keep ] && [ "$(trace_pid "$W/d")" = "$third" ] || fail "something moved"
	# a file of the user's inside an old trace is kept, and says so
	rm -rf "$W/d.old"; rec "$W/d"; echo mine > "$W/d.old/mine.txt"
	expect 1 P_REC -o "$W/d" -- "$T/e2e" "$T/libt_dl_clang.so"
	has "$err" "holds files that are not poketrace's (mine.txt)"
	[ "$(cat "$W/d.old/mine.txt")" = mine ] || fail "the user's file went"
}

bad_values() {
	for v in -16K -1 16T 1.5M 4Q "" 99999999999999999999K; do
		expect 2 "$P" record -b "$v" -o "$W/x" -- "$T/e2e"; has "$err" "-b needs a size from 16K to 1G"
	done
	for v in 99999999999 0 -3 abc 5x; do
		expect 2 "$P" record -D "$v" -o "$W/x" -- "$T/e2e"; has "$err" "-D needs a depth from 1 to 65535"
	done
	for v in nan -1us 5y 1e300s; do
		expect 2 "$P" record -t "$v" -o "$W/x" -- "$T/e2e"; has "$err" "-t needs a duration"
	done
	expect 2 "$P" record --buffer-max 100T -o "$W/x" -- "$T/e2e"; has "$err" "buffer-max needs a size"
	expect 2 "$P" record -b 8M --buffer-max 4M -o "$W/x" -- "$T/e2e"; has "$err" "more than --buffer-max"
	expect 2 "$P" live -p 12abc status; has "$err" "needs -p PID"
	[ ! -e "$W/x" ] || fail "a refused record created its directory"
}

missing_program() {
	expect 127 "$P" record -o "$W/m" -- "$W/no/such/prog"; has "$err" "cannot run .*no/such/prog: No such file"
	expect 127 "$P" record -o "$W/m" -- no-such-command-here; has "$err" "not found in PATH"
	[ ! -e "$W/m" ] || fail "the output directory was created for a program that is not there"
}

# 700 -F options (9 KiB): every one is kept, the real function last.
long_lists() {
	local args=()
	for i in $(seq 1 700); do args+=(-F "no_such_function_number_$i"); done
	rec "$W/l" "${args[@]}" --tracer function -F lib_twice
	expect 0 "$P" report "$W/l"
	has "$out" "lib_twice$"
	[ "$(awk 'NR > 2' <<<"$out" | wc -l)" -eq 1 ] || fail "-F lib_twice traced more: $out"
}

paused_pid() {
	expect 0 P_REC --paused -o "$W/p" -- "$T/e2e" "$T/libt_dl_clang.so"
	has "$err" "e2e is process [0-9]*, nothing traced yet: 'poketrace live -p [0-9]* enable' starts"
}

# kill -TERM (or -HUP, -INT) of record: the program gets it, writes its
# trace, and record reports with the program's status.
forwarded() {
	for sig in TERM HUP INT; do
		P_REC -o "$W/s$sig" -b 64K -- "$T/e2e" none spin >/dev/null 2>"$W/rec.err" &
		local rp=$!
		wait_until 60 written 32768 "$W/s$sig" || fail "nothing was written: $(cat "$W/rec.err")"
		local cmd; cmd=$(ours "poketrace record -o $W/s$sig")
		[ -n "$cmd" ] || fail "no record process"
		kill -$sig $cmd
		wait $rp; local st=$?
		local want=$((128 + $(kill -l $sig)))
		[ $st -eq $want ] || fail "record exited $st after SIG$sig, want $want: $(cat "$W/rec.err")"
		has "$(cat "$W/rec.err")" "events, 0 lost"
		[ -z "$(ours "^$T/e2e none spin")" ] || fail "SIG$sig left the program running"
		expect 0 "$P" report "$W/s$sig"; has "$out" "leaf$"
	done
}

# -F takes demangled names, in full or without parameters, and mangled ones.
cxx_names() {
	for f in 'shapes::Circle::*' 'shapes::Circle::area' 'shapes::Circle::area() const' '_ZNK6shapes6Circle4areaEv'; do
		expect 0 P_REC -o "$W/c" -F "$f" -- "$T/cpp_prog"
		expect 0 "$P" report "$W/c"
		has "$out" " shapes::Circle::area$"
		[ "$(calls shapes::Circle::area "$out")" = 10 ] || fail "-F '$f': $out"
		lacks "$out" "shapes::total"
	done
	expect 0 P_REC -o "$W/c" -N 'shapes::Circle::*' -- "$T/cpp_prog"
	expect 0 "$P" report "$W/c"; lacks "$out" "Circle"; has "$out" "shapes::total"
}
calls() { awk -v f="$1" '$NF == f { print ($1 == "-" ? $3 : $5) }' <<<"$2"; }

# Nothing traced: the reason, and the way out.
says_why() {
	expect 0 P_REC -o "$W/n" -- /bin/true
	has "$err" "no function of this program or its libraries has a patch site"
	has "$err" "fpatchable-function-entry=5"
	# a program that exits 0 through a shell is not said to have died
	expect 0 P_REC -o "$W/n" -- sh -c "exec true"
	lacks "$err" "did not exit normally"
	expect 0 P_REC -o "$W/n" -F no_such_fn -F lib_twice -- "$T/e2e" "$T/libt_dl_clang.so"
	has "$err" "-F 'no_such_fn' matches no function with a patch site"
	lacks "$err" "'lib_twice' matches no"
	# children: the processes without sites named, a glob said once for all
	expect 0 P_REC -o "$W/n" -F no_such_fn -- sh -c "$T/calltree 1 >/dev/null; /bin/true"
	has "$err" "2 processes had no patch site, not traced: sh \\[[0-9]*\\], /bin/true \\[[0-9]*\\]"
	has "$err" "-F 'no_such_fn' matches no function with a patch site in any of its processes"
	[ "$(grep -c 'no_such_fn' <<<"$err")" = 1 ] || fail "said more than once: $err"
	# attach to a process with nothing to trace: refused, nothing loaded
	sleep 60 & local sp=$!
	expect 1 "$P" attach -p "$sp" -o "$W/a"
	has "$err" "has no function with a patch site in any module it has loaded"
	grep -q libpoketrace-agent "/proc/$sp/maps" && fail "the agent was loaded"
	kill "$sp"; [ ! -e "$W/a" ] || fail "attach created $W/a"
}

# uftrace's filters on the graph tracer: -F a function and its callees,
# -N neither, -H the function only; counts from the program's own.
count_of() { awk -v f="$1" '$1 == "count" && $2 == f { print $3 }' "$W/prog.out"; }
uftrace_filters() {
	local opts
	for opts in "-F worker_step" "-N worker_step" "-H worker_step" "--select worker_step"; do
		# shellcheck disable=SC2086
		P_REC -o "$W/f" $opts -- "$T/e2e" "$T/libt_dl_clang.so" >"$W/prog.out" 2>"$W/rec.err" ||
			fail "record $opts: $(cat "$W/rec.err")"
		expect 0 "$P" report "$W/f"
		local ws leaf main
		ws=$(calls worker_step "$out"); leaf=$(calls leaf "$out"); main=$(calls main "$out")
		case "$opts" in
		"-F "*) [ "$ws" = "$(count_of worker_step)" ] && [ "$leaf" = "$ws" ] && [ -z "$main" ] ||
				fail "$opts: worker_step $ws leaf $leaf main $main: $out" ;;
		"-N "*) [ -z "$ws" ] && [ -z "$leaf" ] || [ "$leaf" -lt "$(count_of leaf)" ] || fail "$opts: $out"
			[ "$main" = 1 ] && [ -z "$ws" ] || fail "$opts: worker_step $ws main $main: $out" ;;
		"-H "*) [ -z "$ws" ] && [ "$leaf" = "$(count_of leaf)" ] && [ "$main" = 1 ] ||
				fail "$opts: worker_step $ws leaf $leaf main $main: $out" ;;
		*) [ "$ws" = "$(count_of worker_step)" ] && [ -z "$leaf" ] && [ -z "$main" ] ||
				fail "$opts: worker_step $ws leaf $leaf main $main: $out" ;;
		esac
	done
	expect 0 "$P" graph "$W/f"
}

# uftrace's filter semantics on a call tree whose counts are known from its
# code (tests/targets/calltree.c, N=3: main 1, a 3, b 3, c 6, leaf 18,
# other 3): each option's calls per function, as computed from the code,
# and, where Debian's uftrace is installed, as uftrace itself records them
# on the same binary (uftrace -P . patches its sites): with --no-libcall,
# and then with library calls (both tools' default: printf).
tree_counts() { # REPORT-OUTPUT: "fn=calls ..." sorted, ours (Calls is field 5) or uftrace's (3)
	awk -v col="$2" 'NF >= 6 && $(NF) ~ /^[a-z]+$/ && $col ~ /^[0-9]+$/ { print $NF "=" $col }' <<<"$1" | sort | tr '\n' ' '
}
uftrace_semantics() {
	local spec opts want
	for spec in "|a=3 b=3 c=6 leaf=18 main=1 other=3" "-F b|b=3 c=3 leaf=9" "-N b|a=3 c=3 leaf=9 main=1 other=3" \
		"-H b|a=3 c=6 leaf=18 main=1 other=3" "-C c|a=3 b=3 c=6 main=1" "-D 2|a=3 main=1 other=3" \
		"-F b -D 2|b=3 c=3 leaf=3" "-C c -N b|a=3 c=3 main=1" "-F a -C leaf -D 3|a=3 b=3 c=3 leaf=9" \
		"-C other|main=1 other=3"; do
		opts=${spec%%|*} want="${spec#*|} "
		# shellcheck disable=SC2086
		tree_compare "$opts" "$want" --no-libcall
	done
	# main's printf and atoi's strtol: library calls, shown by default as
	# uftrace shows them (strtol is one poketrace calls too: its own calls
	# take the relocated copy)
	for spec in "|a=3 b=3 c=6 leaf=18 main=1 other=3 printf=1 strtol=1" "-D 2|a=3 main=1 other=3 printf=1 strtol=1" \
		"-N b|a=3 c=3 leaf=9 main=1 other=3 printf=1 strtol=1" "-F b|b=3 c=3 leaf=9"; do
		# (under check-asan the program's strtol is ASan's interceptor,
		# which calls libc's own from inside: not a call of the program's)
		[ -z "$ASAN_RT" ] || spec=${spec/ strtol=1/}
		tree_compare "${spec%%|*}" "${spec#*|} "
	done
	command -v uftrace >/dev/null || echo "uftrace is not installed: compared with the counts of the code only"
}
tree_compare() { # OPTIONS WANT [--no-libcall]: poketrace's counts, then uftrace's, against WANT
	local opts=$1 want=$2 lc=${3:-} got ut
	# shellcheck disable=SC2086
	P_REC -o "$W/u" $lc $opts -- "$T/calltree" 3 >/dev/null 2>"$W/rec.err" || fail "record $opts: $(cat "$W/rec.err")"
	expect 0 "$P" report "$W/u"
	got=$(tree_counts "$out" 5)
	[ "$got" = "$want" ] || fail "poketrace record $lc $opts: $got, want $want"
	if command -v uftrace >/dev/null; then
		rm -rf "$W/ut"
		# (uftrace 0.13 applies record -H only to -pg builds: -H at report)
		local at_rec=$opts at_rep=
		[ "${opts#-H}" = "$opts" ] || at_rec= at_rep=$opts
		# shellcheck disable=SC2086
		uftrace record $lc -d "$W/ut" -P . $at_rec "$T/calltree" 3 >/dev/null 2>&1 ||
			fail "uftrace record $lc $opts failed"
		# shellcheck disable=SC2086
		ut=$(uftrace report -d "$W/ut" $at_rep 2>/dev/null)
		[ -z "$ASAN_RT" ] || ut=$(grep -vw strtol <<<"$ut") # (see uftrace_semantics)
		[ "$(tree_counts "$ut" 5)" = "$got" ] || fail "uftrace $lc $opts: $(tree_counts "$ut" 5), poketrace: $got"
	fi
}

# "MODULE:GLOB" names the module first, in every place that takes a function
# (C++'s "::" is not a module separator)
module_prefix() {
	local names
	rec "$W/m" --select 'libe2e.so:*'
	expect 0 "$P" report "$W/m"
	names=$(awk 'NR > 2 && NF >= 7 { print $NF }' <<<"$out" | sort | tr '\n' ' ')
	[ "$names" = "lib_scale lib_twice " ] || fail "--select 'libe2e.so:*' traced: $names"
	rec "$W/m" -F 'e2e:worker_step' -F 'libt_dl*:dl_fn'
	expect 0 "$P" report "$W/m"
	[ -n "$(calls worker_step "$out")" ] && [ -n "$(calls dl_fn "$out")" ] && [ -z "$(calls main "$out")" ] ||
		fail "-F with modules: $out"
	rec "$W/m" -F 'libe2e.so:worker_step'
	has "$err" "-F 'libe2e.so:worker_step' matches no function"
	rec "$W/m"
	expect 0 "$P" graph "$W/m" 'e2e:leaf'; has "$out" "leaf"
	expect 1 "$P" graph "$W/m" 'libe2e.so:leaf'
	expect 0 "$P" replay -F 'libe2e*:lib_*' "$W/m"; has "$out" "lib_twice"; lacks "$out" "worker_step"
	expect 0 "$P" sites -s 'libe2e.so:lib_*' "$T/libe2e.so"; has "$out" "lib_twice"
	expect 1 "$P" sites -s 'e2e:lib_*' "$T/libe2e.so"; has "$err" "no patch sites match e2e:lib_"
	expect 0 "$P" sites -a -s 'libe2e*:lib_t*' "$T/libe2e.so"; has "$out" "lib_twice"; lacks "$out" "lib_scale"
	expect 0 "$P" sites -s 'shapes::Circle::*' "$T/cpp_prog"; has "$out" "_ZNK6shapes6Circle4areaEv"
}

# Readers say what is wrong instead of printing an empty table.
readers() {
	rec "$W/g"
	expect 2 "$P" report -n -3 "$W/g"; has "$err" "-n takes a number of rows"
	expect 2 "$P" report -n abc "$W/g"; has "$err" "-n takes a number of rows"
	expect 1 "$P" report --tid 99999999 "$W/g"; has "$err" "no thread 99999999 in"
	expect 0 P_REC -o "$W/p" --tracer profile -- "$T/e2e" "$T/libt_dl_clang.so"
	expect 1 "$P" replay "$W/p"; has "$err" "recorded with the profile tracer, which writes no events"
	expect 1 "$P" dump --flame "$W/p"; has "$err" "recorded with the profile tracer"
	expect 1 "$P" dump --chrome "$W/p"; has "$err" "recorded with the profile tracer"
	expect 0 P_REC -o "$W/fn" --tracer function -- "$T/e2e" "$T/libt_dl_clang.so"
	expect 0 "$P" replay "$W/fn"; has "$out" "^# *TIMESTAMP *TID  FUNCTION"; lacks "$out" "DURATION"
	expect 0 "$P" sites -s 'shapes::Circle::*' "$T/cpp_prog"; has "$out" "_ZNK6shapes6Circle4areaEv"
	expect 0 "$P" help record; has "$out" "usage: poketrace record"
	expect 0 "$P" -V; has "$out" "^poketrace "
}

cases="readers uftrace_filters uftrace_semantics module_prefix foreign_dir rotation bad_values missing_program long_lists paused_pid forwarded cxx_names says_why"
dispatch "$cases" "$@"
