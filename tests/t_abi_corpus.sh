#!/usr/bin/env bash
# The subset of the ABI corpus that `make check` runs (tests/abi/abi.mk's
# ABI_SUBSET, small corpora): one case per configuration.  `make check-abi`
# runs every configuration at full size.
set -u
B=${B:-build}
cases=$(ls "$B/abi/sub" 2>/dev/null | grep -v '^src$')
if [ "${1:-}" = "--list" ]; then printf '%s\n' $cases; exit 0; fi
for c in $cases; do [ "$c" = "${1:-}" ] && exec bash "$(dirname "$0")/abi/run.sh" "$B" sub "$c"; done
echo "usage: $0 --list | CASE" >&2; exit 2
