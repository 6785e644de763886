#!/usr/bin/env bash
# The poketrace command.  `t_cli.sh --list` names the cases, `t_cli.sh CASE`
# runs one; B is the build directory.
set -u
B=${B:-build}
P="$B/poketrace"
T="$B/tests"

. "$(dirname "$0")/lib.sh"

help() {
	expect 0 "$P" --help; has "$out" "sites PROG"
	expect 0 "$P" sites --help; has "$out" "usage: poketrace sites"
}
version() { expect 0 "$P" --version; has "$out" "^poketrace 0\.1\.0$"; }
usage_errors() {
	expect 2 "$P"; has "$err" "usage:"
	expect 2 "$P" frobnicate; has "$err" "unknown command 'frobnicate'"
	expect 2 "$P" sites; has "$err" "needs PROG or -p PID"
	expect 2 "$P" sites -p abc; has "$err" "process id"
	expect 2 "$P" sites -x "$T/t_poke"
	expect 2 "$P" sites -p 1 "$T/t_poke"; has "$err" "not both"
}
sites_mcount() {
	expect 0 "$P" sites "$T/t_sites_mcount"
	has "$out" "t_sites_mcount  *0x[0-9a-f]*  mcount   tgt_add$"
	[ "$(grep -c ' tgt_' <<<"$out")" -eq 6 ] || fail "want 6 tgt_ sites:"$'\n'"$out"
	grep -q tgt_nosite <<<"$out" && fail "tgt_nosite has no site"
	has "$out" "unknown  bad_site_fn$"
	has "$out" "sites in 1 module: .* 1 unrecognized"
}
sites_kinds() {
	expect 0 "$P" sites "$T/t_sites_pfe_gcc"; has "$out" "pfe-gcc  tgt_add$"
	has "$out" "[1-9][0-9]* gcc nops"
	expect 0 "$P" sites "$T/t_sites_pfe_clang_cet"; has "$out" "pfe-nop5 tgt_add  \[endbr64\]"
	expect 0 "$P" sites "$T/libt_shared.so"; has "$out" "libt_shared.so .* shared_fn2$"
}
sites_glob() {
	expect 0 "$P" sites -s 'tgt_m*' "$T/t_sites_pfe_clang"
	has "$out" "tgt_mul"; grep -q tgt_add <<<"$out" && fail "glob not applied"
	has "$out" "^1 sites in 1 module"
	expect 1 "$P" sites -s 'nothing*' "$T/t_sites_pfe_clang"; has "$err" "no patch sites match"
	expect 0 "$P" sites -q "$T/t_sites_pfe_clang"
	[ "$(wc -l <<<"$out")" -eq 1 ] || fail "-q printed more than the summary"
}
sites_pid() {
	LD_PRELOAD="$T/libt_shared.so" sleep 600 &
	local pid=$!
	# until the loader has mapped the library (a loaded machine is slow)
	wait_until 60 grep -q libt_shared.so "/proc/$pid/maps" 2>/dev/null || fail "the library never got mapped"
	expect 0 "$P" sites -p "$pid"
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	has "$out" "libt_shared.so  *0x7f[0-9a-f]*  pfe-nop5 shared_fn$"
	has "$out" "^2 sites in 1 module"
}
bad_files() {
	expect 1 "$P" sites /nonexistent/prog; has "$err" "cannot open /nonexistent/prog"
	echo "not a program" > "$T/not_elf.txt"
	expect 1 "$P" sites "$T/not_elf.txt"; has "$err" "not an ELF file"
	expect 1 "$P" sites /bin/true; has "$err" "no patch sites: build with"
	expect 1 "$P" sites -p 999999999; has "$err" "cannot read /proc/999999999/maps"
}

examples() {
	# Under check-asan the library is sanitized: its runtime must load first.
	if ldd "$B/libpoketrace.so" | grep -q libasan; then
		export LD_PRELOAD=$(ldd "$B/libpoketrace.so" | awk '/libasan/ { print $3 }')
	fi
	expect 0 "$B/examples/minimal"
	has "$out" "^before: 41$"; has "$out" "^after:  42 (1 site, 3 syncs)$"; has "$out" "^undone: 41$"
	expect 0 "$B/examples/livecount"
	has "$out" "^batch 6: off .* 3 syncs"
	has "$out" "^  kv_put  *3784$"   # the deterministic run: seed 7, 10000 ops
	expect 0 "$P" sites -q "$B/examples/libkv.so"; has "$out" "^8 sites in 1 module: 8 patchable"
}

cases="examples help version usage_errors sites_mcount sites_kinds sites_glob sites_pid bad_files"
dispatch "$cases" "$@"
