# Sourced by the shell tests: processes of this test only.  Several test
# runs (a CI clone beside a work tree) may run the same programs at once,
# so a process is ours only if it descends from this shell.
descends() { # PID: whether PID descends from this shell
	local p=$1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" = "$$" ] && return 0
		p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
	done
	return 1
}
ours() { # PATTERN: our processes whose command line matches (pgrep -f)
	local p
	for p in $(pgrep -f "$1"); do descends "$p" && echo "$p"; done
}
kill_ours() { # PATTERN
	local p
	for p in $(ours "$1"); do kill -KILL "$p" 2>/dev/null; done
}
