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
# inside the copy of rl_frame's first instructions (after its push rbp; mov
# rbp, rsp): gdb knows the copy (the batch's JIT object) and unwinds from
# it through the fexit image's landing pad to the caller
bt_in_copy() {
	local out
	out=$(gdb -nx -batch -ex 'break outer_caller' -ex run -ex 'break *((char *)copy_at + 4)' -ex continue \
		-ex bt --args "$T/gdb_target" reloc 2>&1)
	grep -q "^#0 .*in poketrace_copy:rl_frame ()" <<<"$out" || fail "not stopped in the named copy:"$'\n'"$out"
	# fexit runs its body with the return address of its landing pad
	grep -Eq "^#1 .*in poketrace_(pad|image):rl_frame \(\)" <<<"$out" ||
		fail "no image frame above the copy:"$'\n'"$out"
	grep -q "^#2 .*in outer_caller ()" <<<"$out" || fail "bt stopped in the copy:"$'\n'"$out"
	grep -q " in main (" <<<"$out" || fail "bt did not reach main:"$'\n'"$out"
}

cases="bt_fexit bt_fentry bt_relocated bt_in_copy"
dispatch "$cases" "$@"
