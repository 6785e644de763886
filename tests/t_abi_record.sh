#!/usr/bin/env bash
# Programs built gcc -O2 -g compute under every `poketrace record` mode what
# they compute untraced (issue 12): an IPA-SRA clone, a struct returned
# through a hidden pointer, a nested function, C++ classes passed by
# invisible reference and returned through a hidden pointer.
set -u -f # -f: the record options below hold globs for poketrace
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/abirec.$$"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"

# same_output PROG: untraced output, then each record mode's
same_output() {
	local prog=$1 want got
	want=$("$prog") || fail "$prog failed untraced"
	while read -r mode; do
		# shellcheck disable=SC2086
		got=$(P_REC -o "$W/d" $mode -- "$prog" 2>"$W/rec.err") ||
			fail "record $mode -- $prog: $(cat "$W/rec.err")"
		[ "$got" = "$want" ] || fail "record $mode: '$got', untraced '$want'"
		rm -rf "$W/d"
	done <<'MODES'
--tracer graph
--tracer function
--tracer profile
-A * -R *
MODES
}

c_program() {
	nm "$T/abi_prog" | grep -q ' pick\.isra\.0$' || fail "gcc made no pick.isra.0 here: the case tests nothing"
	same_output "$T/abi_prog"
	P_REC -o "$W/d" -A 'outer' -R 'outer' -- "$T/abi_prog" >/dev/null 2>&1 || fail "record -A -R"
	expect 0 "$P" replay "$W/d"
	has "$out" "outer(1) {"
	has "$out" "} = 203 /\* outer \*/"
}

cpp_program() {
	same_output "$T/abi_prog_cpp"
	local want
	want=$("$T/abi_prog_cpp")
	[ "$(P_REC -o "$W/d" -F '_Z5byval*' -- "$T/abi_prog_cpp" 2>/dev/null)" = "$want" ] || fail "-F byval"
}

cases="c_program cpp_program"
if [ "${1:-}" = "--list" ]; then printf '%s\n' $cases; exit 0; fi
for c in $cases; do [ "$c" = "${1:-}" ] && { "$c"; exit 0; }; done
echo "usage: $0 --list | CASE" >&2; exit 2
