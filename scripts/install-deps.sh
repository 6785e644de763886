#!/usr/bin/env bash
# Installs the Debian packages poketrace needs to build and test, if missing.
# Idempotent: does nothing (and needs no root) when everything is there.
set -euo pipefail

# xz-utils: t_patch.sh traces Debian's own xz and liblzma, as built
pkgs=(gcc g++ make clang gdb libelf-dev libdw-dev libiberty-dev libzydis-dev babeltrace2 python3 xz-utils)
if [ "${1:-}" = "--bench" ]; then
	# make bench / bench-real: the tools compared (uftrace; LLVM XRay's
	# runtime, from the compiler-rt of the installed clang), apt-get source
	# (dpkg-dev), tclsh to generate SQLite's amalgamation
	major=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
	pkgs+=(uftrace "libclang-rt-${major:-14}-dev" dpkg-dev tcl xz-utils valgrind)
fi
# wanted, not needed: t_ux.sh compares uftrace's filter semantics with
# uftrace itself where it installs (else with counts from the code)
optional=(uftrace)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
want=()
for p in "${optional[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || want+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	[ ${#want[@]} -eq 0 ] || [ "$(id -u)" -ne 0 ] ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1 ||
		echo "install-deps: ${want[*]} not installed (optional)" >&2
	exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
	echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null 2>&1 ||
	echo "install-deps: ${want[*]} not installed (optional)" >&2
