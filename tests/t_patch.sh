#!/usr/bin/env bash
# record/attach -P (issue 16): functions without a patch site traced by
# relocating their entries, in programs not rebuilt for poketrace — one
# built with plain gcc -O2 -g (tests/targets/plainprog.c: its results and
# its calls per function are its own), and Debian's own xz and liblzma.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/patch.$$"
trap 'exec 7>&- 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

sites_all_libc() { "$P" sites --all "$(ldd "$T/libcalls" | awk '/libc.so.6/ { print $3 }')"; }
# counts_are_programs OUTPUT REPORT: each "calls F N ..." the program printed
# is the report's count of F
counts_are_programs() {
	local f n
	set -- $(sed -n 's/^calls //p' <<<"$1") "$2"
	while [ $# -ge 3 ]; do
		f=$1 n=$2; shift 2
		[ "$(calls "$f" "${!#}")" = "$n" ] || fail "$f: $(calls "$f" "${!#}") calls, the program made $n:"$'\n'"${!#}"
	done
}
calls() { awk -v f="$1" '$NF == f { print ($1 == "-" ? $3 : $5) }' <<<"$2"; }

own_functions() {
	local plain
	plain=$("$T/plainprog" 3000)
	expect 0 P_REC -o "$W/d" -P '*' -- "$T/plainprog" 3000
	# the results are the untraced program's, to the byte
	[ "$out" = "$plain" ] || fail "traced output differs:"$'\n'"$out"$'\n'"untraced:"$'\n'"$plain"
	has "$err" "6 functions relocated, 2 cannot be"
	has "$err" "_start .*the program's entry point"
	# gcc's cold part of mk: its hot part jumps there
	has "$err" "mk.cold has no patch site, and its entry cannot be relocated: it is the cold part"
	expect 0 "$P" report "$W/d"
	counts_are_programs "$plain" "$out"
	[ "$(calls main "$out")" = 1 ] || fail "main: $(calls main "$out") calls"
	# without -P nothing of it is traced (it has no site)
	expect 0 "$P" sites --all "$T/plainprog"
	has "$out" "0 with a compiler site, [1-9][0-9]* relocatable"
	has "$out" "entry point: the kernel jumps there"
}

# C++ as users build it: exceptions thrown through .cold parts, in threads
cxx_program() {
	local plain
	plain=$("$T/plaincxx")
	expect 0 P_REC -o "$W/d" -P '*' -- "$T/plaincxx"
	[ "$out" = "$plain" ] || fail "traced output differs:"$'\n'"$out"$'\n'"untraced:"$'\n'"$plain"
	expect 0 "$P" report "$W/d"
	counts_are_programs "$plain" "$out"
	# the profile counts the calls an exception left too (it lost them)
	expect 0 P_REC --tracer profile -o "$W/p" -P '*' -- "$T/plaincxx"
	expect 0 "$P" report "$W/p"
	counts_are_programs "$plain" "$out"
	has "$out" " __cxa_throw$"
}

# a glob naming nothing that exists, and one naming a refused function
says_why() {
	expect 0 P_REC -o "$W/d" -P 'no_such_fn' -- "$T/plainprog" 10
	has "$err" "-P 'no_such_fn' matches no function without a patch site"
	expect 0 P_REC -o "$W/d2" -P '_start' -- "$T/plainprog" 10
	has "$err" "_start has no patch site, and its entry cannot be relocated: it is the program's entry point"
}

have_xz() { command -v xz >/dev/null && ldd "$(command -v xz)" | grep -q liblzma; }

# Debian's xz, multi-threaded, its liblzma's exported functions relocated:
# the compressed bytes are the untraced run's
xz_identical() {
	have_xz || fail "xz with liblzma is missing (scripts/install-deps.sh installs xz-utils)"
	head -c 3000000 /dev/urandom | base64 >"$W/in"
	xz -T2 --block-size=262144 -c "$W/in" >"$W/plain.xz"
	P_REC -o "$W/x" -P 'liblzma.so*:lzma_*' -- xz -T2 --block-size=262144 -c "$W/in" >"$W/traced.xz" 2>"$W/err" ||
		fail "record xz: $(cat "$W/err")"
	cmp -s "$W/plain.xz" "$W/traced.xz" || fail "xz's output differs when traced"
	has "$(cat "$W/err")" "functions relocated"
	expect 0 "$P" report "$W/x"
	local c; c=$(calls lzma_crc64 "$out")
	[ -n "$c" ] && [ "$c" -gt 0 ] || fail "no call of lzma_crc64:"$'\n'"$out"
	expect 0 "$P" info "$W/x"
	has "$out" "^lost: *0$"
}

# attach to a running multi-threaded xz reading a pipe, trace liblzma, detach:
# it goes on and its output is the untraced run's
attach_xz() {
	have_xz || fail "xz with liblzma is missing (scripts/install-deps.sh installs xz-utils)"
	local i pid
	head -c 4000000 /dev/urandom | base64 >"$W/in"
	split -n 6 -d "$W/in" "$W/part."
	xz -T2 --block-size=65536 -c "$W/in" >"$W/plain.xz"
	mkfifo "$W/fifo"
	# (under check-asan the agent needs ASan's runtime in the process it joins)
	LD_PRELOAD="$ASAN_RT" xz -T2 --block-size=65536 -c <"$W/fifo" >"$W/traced.xz" 2>"$W/xz.err" &
	pid=$!
	exec 7>"$W/fifo"
	cat "$W/part.00" "$W/part.01" >&7
	threads() { [ "$(ls /proc/$pid/task 2>/dev/null | wc -l)" -ge 2 ]; }
	wait_until 60 threads || fail "xz started no thread"
	expect 0 "$P" attach -o "$W/a" -P 'liblzma.so*:lzma_*' -p "$pid"
	# what the agent has to say is the attach command's, not xz's output
	has "$err" "functions relocated, [1-9][0-9]* cannot be"
	expect 0 "$P" live -p "$pid" status
	has "$out" "^attached [1-9]"
	cat "$W/part.02" "$W/part.03" >&7
	traced() { "$P" live -p "$pid" status 2>/dev/null | grep -q "^events [1-9]"; }
	wait_until 60 traced || fail "no event while xz compressed"
	expect 0 "$P" detach -p "$pid"
	cat "$W/part.04" "$W/part.05" >&7
	exec 7>&-
	wait "$pid" || fail "xz failed after detach"
	cmp -s "$W/plain.xz" "$W/traced.xz" || fail "xz's output differs after attach and detach"
	[ ! -s "$W/xz.err" ] || fail "poketrace wrote into xz's standard error: $(cat "$W/xz.err")"
	expect 0 "$P" report "$W/a"
	has "$out" "lzma_"
	expect 0 "$P" info "$W/a"
	has "$out" "^lost: *0$"
}

# the program's calls into libraries, uftrace's default: the calls it makes
# (also through a dlsym'd pointer, also where a library calls back into it),
# not those the libraries make, unless --nest-libcall; none with --no-libcall
libcalls() {
	local plain
	plain=$("$T/libcalls")
	expect 0 P_REC -o "$W/d" -- "$T/libcalls"
	[ "$out" = "$plain" ] || fail "traced output differs: $out"
	expect 0 "$P" report "$W/d"
	counts_are_programs "$plain" "$out"
	has "$(sites_all_libc)" "_setjmp .*why: it returns twice"
	# the program's comparator, called back from libc, under tsearch
	expect 0 "$P" graph "$W/d"
	grep -A1 -- "-([0-9]*) tsearch$" <<<"$out" | grep -q -- "-([0-9]*) cmp$" ||
		fail "cmp is not under tsearch:"$'\n'"$out"
	# nested: lc_outer's own calls of lc_inner too
	expect 0 P_REC -o "$W/n" --nest-libcall -- "$T/libcalls"
	expect 0 "$P" report "$W/n"
	[ "$(calls lc_inner "$out")" = 8 ] || fail "--nest-libcall: lc_inner $(calls lc_inner "$out") calls, want 8"
	# tsearch's own mallocs (a node per new key): more than the program's
	[ "$(calls malloc "$out")" -ge 17 ] || fail "--nest-libcall: malloc $(calls malloc "$out") calls, want >= 17"
	# (its children, cmp and malloc, in the order of their times)
	expect 0 "$P" graph "$W/n"
	grep -A2 -- "-([0-9]*) tsearch$" <<<"$out" | grep -q -- "-([0-9]*) malloc$" ||
		fail "malloc is not under tsearch with --nest-libcall:"$'\n'"$out"
	expect 0 "$P" info "$W/n"
	# (under check-asan one of the agent's threads records a few nested
	# free calls, ASan's thread start-up or teardown: not understood)
	[ -n "$ASAN_RT" ] || has "$out" "^threads: *1$"
	# none
	expect 0 P_REC -o "$W/o" --no-libcall -- "$T/libcalls"
	expect 0 "$P" report "$W/o"
	lacks "$out" " strtod$"; lacks "$out" " lc_outer$"
	has "$out" " main$"
}

cases="own_functions cxx_program says_why xz_identical attach_xz libcalls"
dispatch "$cases" "$@"
