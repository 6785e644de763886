#!/usr/bin/env bash
# poketrace sites --all: every function and how it can be hooked (compiler
# site, relocatable entry, or refused with the analysis' reason), from a
# file and from a running process, and a clear failure where nothing can be.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/sitesall.$$"
trap 'kill -KILL $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W"

# The hand-written functions of t_reloc (tests/targets/reloc_fns.S): one per
# relocation class and one per refusal class, each verdict exact.
verdicts() {
	expect 0 "$P" sites -a -s 'rl_*' "$T/t_reloc"
	has "$out" "^MODULE  *ADDRESS  HOW  *SYMBOL$"
	for f in rl_ripmov:6 rl_riplea:7 rl_jcc8:7 rl_calllast:6 rl_frame:8 rl_endbr:6; do
		has "$out" " reloc   ${f%:*}  \[${f#*:} bytes\]$"
	done
	has "$out" " refused rl_loopback  why: the branch at +7 jumps into the first bytes$"
	has "$out" " refused rl_switch  why: the jump at +7 goes through a register or a table"
	has "$out" " refused rl_callfirst  why: the call before +2 would return into"
	has "$out" " refused rl_sys  why: the instruction at +4 must run where it is"
	has "$out" " refused rl_tiny  why: it is 3 bytes long"
	has "$out" " refused rl_stackodd  why: the instruction at +0 changes the stack"
	# the summary counts what was listed, by reason
	local n reloc refused
	n=$(grep -c '^t_reloc ' <<<"$out")
	reloc=$(grep -c '^t_reloc .* reloc ' <<<"$out")
	refused=$(grep -c '^t_reloc .* refused ' <<<"$out")
	has "$out" "^$n functions in 1 module: 0 with a compiler site, $reloc relocatable, $refused refused (2: shorter than the 5-byte jump; 1: a branch"
}

# A function with a compiler site keeps it: `site`, next to the others.
compiler_site() {
	expect 0 "$P" sites -a "$T/t_sites_pfe_clang"
	local sites
	sites=$("$P" sites -q "$T/t_sites_pfe_clang" | awk '{ print $1 }')
	has "$out" " with a compiler site"
	[ "$(grep -c '  site  ' <<<"$out")" -eq "$sites" ] ||
		fail "sites -a shows $(grep -c '  site  ' <<<"$out") compiler sites, sites shows $sites"
}

# A running process: its modules at their run-time addresses; the library
# functions poketrace interposes refused as such, those it calls hookable
# (the agent's own calls take the relocated copy).
process() {
	sleep 60 &
	local pid=$!
	wait_until 10 grep -q libc "/proc/$pid/maps" || fail "sleep never mapped libc"
	expect 1 "$P" sites -a -p "$pid" -s sigprocmask
	has "$out" "^libc.so.6  *0x7[0-9a-f]*  refused sigprocmask  why: poketrace interposes it"
	expect 0 "$P" sites -a -p "$pid" -s dl_iterate_phdr
	has "$out" "^libc.so.6  *0x7[0-9a-f]*  reloc   dl_iterate_phdr "
	expect 0 "$P" sites -a -q -p "$pid"
	has "$out" "^[0-9]* functions in [2-9] modules: 0 with a compiler site, [1-9][0-9]* relocatable"
	kill "$pid"
}

# Nothing to hook: a stripped file names no function; a glob matching
# nothing hookable; both exit 1 with the reason.
nothing() {
	cp /bin/true "$W/stripped" && strip -s "$W/stripped"
	expect 1 "$P" sites -a "$W/stripped"
	has "$err" "no function symbol: a stripped file names none"
	expect 1 "$P" sites -a -s rl_tiny "$T/t_reloc"
	has "$err" "no function matching rl_tiny can be hooked"
	expect 1 "$P" sites -a "$W/absent"
	has "$err" "absent"
}

cases="verdicts compiler_site process nothing"
dispatch "$cases" "$@"
