#!/usr/bin/env bash
# make install into a temporary DESTDIR (a multiarch libdir), then use what
# was installed as a user would: pkg-config, the shared and the static
# library, the command and its agent, the man pages; make uninstall.
set -u
B=${B:-build}
P="$B/poketrace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/inst.$$"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"
D="$W/root" LD=/usr/lib/x86_64-linux-gnu

install_and_use() {
	make -s B="$B" install DESTDIR="$D" PREFIX=/usr LIBDIR=$LD >"$W/make.out" 2>&1 ||
		fail "make install: $(cat "$W/make.out")"
	for f in /usr/bin/poketrace $LD/libpoketrace.so $LD/libpoketrace.so.0 $LD/libpoketrace.a \
		$LD/libpoketrace-agent.so /usr/include/poketrace.h $LD/pkgconfig/poketrace.pc \
		/usr/share/man/man1/poketrace.1 /usr/share/man/man1/poketrace-record.1 \
		/usr/share/bash-completion/completions/poketrace; do
		[ -e "$D$f" ] || fail "not installed: $f"
	done
	export PKG_CONFIG_PATH="$D$LD/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
	local cflags libs static
	cflags=$(pkg-config --cflags poketrace) && libs=$(pkg-config --libs poketrace) &&
		static=$(pkg-config --static --libs poketrace) || fail "pkg-config"
	has "$static" "-ldw"; has "$static" "-lelf"; has "$static" "-lZydis"
	# a sanitized build (check-asan) links a sanitized program, with gcc's runtime
	local san="" pre=""
	[ -n "$ASAN_RT" ] && san="-fsanitize=address,undefined" pre=$ASAN_RT
	# shellcheck disable=SC2086
	gcc -O2 $san -fpatchable-function-entry=5 examples/minimal.c $cflags $libs -o "$W/min_shared" ||
		fail "building minimal.c with pkg-config"
	expect 0 env LD_LIBRARY_PATH="$D$LD" "$W/min_shared"; has "$out" "after: *42"
	# shellcheck disable=SC2086
	gcc -O2 $san -fpatchable-function-entry=5 examples/minimal.c $cflags -L"$D$LD" -l:libpoketrace.a \
		${static//-lpoketrace/} -o "$W/min_static" || fail "building minimal.c statically"
	ldd "$W/min_static" | grep -q libpoketrace && fail "the static build links libpoketrace.so"
	expect 0 "$W/min_static"; has "$out" "after: *42"
	# the installed command finds the installed agent in the multiarch libdir
	expect 0 env LD_LIBRARY_PATH="$D$LD" LD_PRELOAD="$pre" "$D/usr/bin/poketrace" record -o "$W/t" -- \
		"$T/e2e" "$T/libt_dl_clang.so"
	expect 0 "$D/usr/bin/poketrace" report "$W/t"; has "$out" "lib_twice"
	man -l "$D/usr/share/man/man1/poketrace-record.1" 2>/dev/null | grep -q -- "--buffer-max" ||
		grep -q -- "--buffer-max" "$D/usr/share/man/man1/poketrace-record.1" || fail "the man page lacks --help's text"
	bash -n "$D/usr/share/bash-completion/completions/poketrace" || fail "completion script"
	make -s B="$B" uninstall DESTDIR="$D" PREFIX=/usr LIBDIR=$LD >/dev/null 2>&1 || fail "make uninstall"
	[ -z "$(find "$D" -type f -o -type l)" ] || fail "uninstall left: $(find "$D" -type f -o -type l)"
}

cases="install_and_use"
dispatch "$cases" "$@"
