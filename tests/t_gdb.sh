#!/usr/bin/env bash
# gdb's `bt` from inside a handler unwinds through the generated image
# (registered with gdb's JIT interface) to the caller.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"

bt_through() {
	local out fn=${2:-h2}
	out=$(gdb -nx -batch -ex 'break handler_stop' -ex run -ex bt --args "$T/gdb_target" "$1" 2>&1)
	grep -q "in poketrace_image:$fn ()\|in poketrace_entry:$fn ()" <<<"$out" || fail "no image frame:"$'\n'"$out"
	grep -q "in outer_caller ()" <<<"$out" || fail "bt stopped at the image:"$'\n'"$out"
	grep -q " in main (" <<<"$out" || fail "bt did not reach main:"$'\n'"$out"
}
bt_fexit() { bt_through fexit; }
bt_fentry() { bt_through fentry; }
bt_relocated() { bt_through reloc rl_frame; }

cases="bt_fexit bt_fentry bt_relocated"
dispatch "$cases" "$@"
