# Sourced by the shell tests after they set B (build directory) and P (the
# command): assertions, and what a sanitized build needs.  W, when set, is
# the test's scratch directory.
. "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect STATUS CMD...: run, keep stdout/stderr in $out/$err, check the status
expect() {
	local want=$1 ef="${W:-${TMPDIR:-/tmp}}/.err.$$"; shift
	out=$("$@" 2>"$ef"); st=$?
	err=$(cat "$ef"); rm -f "$ef"
	[ "$st" -eq "$want" ] || fail "'$*' exited $st, want $want; stderr: $err"
}
has() { grep -q -- "$2" <<<"$1" || fail "output lacks '$2':"$'\n'"$1"; }
# wait_until SECONDS CMD...: runs CMD every 50 ms until it succeeds (false
# after SECONDS): how a test waits for a program to get somewhere, whatever
# the machine's speed, instead of a sleep that assumes it.
wait_until() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}
# written BYTES DIR: whether DIR's streams hold at least BYTES
written() { [ "$(cat "$2"/stream_* 2>/dev/null | wc -c)" -ge "$1" ]; }
lacks() { ! grep -q -- "$2" <<<"$1" || fail "output has '$2':"$'\n'"$1"; }

# Under check-asan the agent is sanitized: its runtime must be loaded first
# in a traced program (record passes its LD_PRELOAD on, before the agent),
# and the program keeps its own fatal-signal handling (the agent flushes).
ASAN_RT=
if ldd "$B/libpoketrace-agent.so" 2>/dev/null | grep -q libasan; then
	ASAN_RT=$(ldd "$B/libpoketrace-agent.so" | awk '/libasan/ { print $3 }')
	export ASAN_OPTIONS=detect_leaks=0:handle_segv=0:handle_abort=0
	P_REC() { LD_PRELOAD="$ASAN_RT" "$P" record "$@"; }
else
	P_REC() { "$P" record "$@"; }
fi

# The end of every shell test: `dispatch "$cases" "$@"` lists the cases
# (--list) or runs the one named.
dispatch() {
	local cases=$1 c
	shift
	if [ "${1:-}" = "--list" ]; then printf '%s\n' $cases; exit 0; fi
	for c in $cases; do [ "$c" = "${1:-}" ] && { "$c"; exit 0; }; done
	echo "usage: $0 --list | CASE" >&2
	exit 2
}
