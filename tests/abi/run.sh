#!/usr/bin/env bash
# Runs the ABI corpus: tests/abi/run.sh BUILD full|sub [CONFIG...]
# With ABI_BUILD set (a make command), each configuration is built first
# and deleted after its run (ABI_KEEP=1 keeps it).
# For every configuration and language: abi_run (every hook kind in
# process; on a CPU with AVX-512 once more with the images limited to ymm,
# POKETRACE_VEC=avx), then abi_plain untraced and under `poketrace record`
# (graph with -A/-R on everything, and the function tracer): the outputs
# must be identical.  Configurations for an ISA the CPU lacks are skipped
# and said so.  Ends with the corpus size and "N passed, N failed".
set -u -f
B=${1:-build}
size=${2:-full}
shift 2 2>/dev/null
P="$B/poketrace"
. "$(dirname "$0")/../lib.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

has_flag() { grep -qw "$1" /proc/cpuinfo; }

pass=0 fail=0 fns=0 kinds=0 skipped=()
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=($(ls "$B/abi/$size"))
for cfg in "${configs[@]}"; do
	[ "$cfg" = src ] && continue
	case $cfg in
	*avx512*) has_flag avx512f || { skipped+=("$cfg (no AVX-512F)"); continue; } ;;
	*avx2*) has_flag avx2 || { skipped+=("$cfg (no AVX2)"); continue; } ;;
	esac
	if [ -n "${ABI_BUILD:-}" ]; then
		$ABI_BUILD "abi-config-$cfg" >"$W/build" 2>&1 ||
			{ echo "FAIL $cfg: build"; tail -5 "$W/build" | sed 's/^/    | /'; fail=$((fail + 1)); continue; }
	fi
	for lang in c cxx; do
		d="$B/abi/$size/$cfg/$lang"
		[ -x "$d/abi_run" ] || { echo "FAIL $cfg/$lang: not built"; fail=$((fail + 1)); continue; }
		runs=("")
		# images limited to ymm: right for code built for AVX2, not for
		# AVX-512 code, which passes 64-byte vectors in zmm
		has_flag avx512f && [[ $cfg == *avx2* ]] && runs+=("POKETRACE_VEC=avx")
		for env in "${runs[@]}"; do
			if env $env "$d/abi_run" >"$W/out" 2>&1; then
				pass=$((pass + 1))
				line=$(tail -1 "$W/out")
				echo "PASS $cfg/$lang ${env:+($env) }$line"
				n=$(awk '{ print $2 }' <<<"$line"); k=$(awk '{ print $6 }' <<<"$line")
				[ -z "$env" ] && fns=$((fns + n)) && kinds=$k
			else
				fail=$((fail + 1))
				echo "FAIL $cfg/$lang ${env:+($env) }"; grep -m 20 . "$W/out" | sed 's/^/    | /'
			fi
		done
		"$d/abi_plain" >"$W/want" || { echo "FAIL $cfg/$lang: abi_plain"; fail=$((fail + 1)); continue; }
		for mode in "-A * -R *" "--tracer function"; do
			# shellcheck disable=SC2086
			if P_REC -o "$W/t" $mode -- "$d/abi_plain" >"$W/got" 2>"$W/err" && cmp -s "$W/want" "$W/got"; then
				pass=$((pass + 1))
				echo "PASS $cfg/$lang record $mode: output identical"
			else
				fail=$((fail + 1))
				echo "FAIL $cfg/$lang record $mode"; tail -3 "$W/err" | sed 's/^/    | /'
				diff "$W/want" "$W/got" | head -5 | sed 's/^/    | /'
			fi
			rm -rf "$W/t"
		done
	done
	[ -n "${ABI_BUILD:-}" ] && [ -z "${ABI_KEEP:-}" ] && rm -rf "${B:?}/abi/$size/$cfg"
done
for s in "${skipped[@]}"; do echo "SKIP $s"; done
echo "corpus: $fns function builds ($(( ${#configs[@]} - ${#skipped[@]} )) configurations, C and C++), each run untraced," \
	"under $kinds hook kinds in process and under 2 record modes"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
