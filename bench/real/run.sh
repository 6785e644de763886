#!/usr/bin/env bash
# make bench-real: real C programs from Debian's sources, built plain and
# with patch sites (gcc -O2, then gcc -O2 -fpatchable-function-entry=5), run
# untraced and traced, and with -g too (Debian's default flags: DWARF
# prototypes decide what images save), whose output must stay the same
# under every record mode:
#   SQLite 3's speedtest1 (--memdb --size $SQ_SIZE), one thread
#   xz -T2 -$XZ_LEVEL of a generated 100 MB text file (bench/real/gentext.c);
#   its output must be byte-identical in every mode
# Modes: plain build; instrumented build, sites off (gcc's 5 one-byte nops,
# as compiled); the same under poketrace record --paused (agent loaded, the
# nops made one, nothing enabled); poketrace record --tracer profile;
# poketrace record (graph: nothing lost), the same with --on-full=drop;
# uftrace record -P . (the same instrumented build).  Wall time: median of $RUNS runs of the three untraced modes
# (interleaved: they must stay within 1%), of $TRACED_RUNS runs of each
# traced mode.  For SQLite, callgrind's instruction counts of plain and off
# too (repeatable where times are not).  Sources are fetched with
# apt-get source through a private apt configuration whose deb-src entries
# are derived from this machine's own apt sources; nothing fetched is
# committed (it lives under $B/real).
set -eu
. "$(dirname "$0")/../lib.sh"
B=$(realpath "${1:-build}")
P="$B/poketrace"
R="$B/real"
RUNS=${RUNS:-9}             # the untraced modes
TRACED_RUNS=${TRACED_RUNS:-3} # the traced modes
SQ_SIZE=${SQ_SIZE:-20}
XZ_LEVEL=${XZ_LEVEL:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$R"
say() { echo "bench-real: $*" >&2; }

fetch() { # apt-get source PACKAGE... into $R/src, once
	local apt="$R/apt" a
	mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$R/src"
	# deb-src twins of the machine's deb entries, in both source formats
	: >"$apt/parts/src.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" >>"$apt/parts/src.list"
	done
	: >"$apt/parts/src.sources"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && sed 's/^Types:.*$/Types: deb-src/' "$f" >>"$apt/parts/src.sources" && echo >>"$apt/parts/src.sources"
	done
	a=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/parts"
	   -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o APT::Sandbox::User=root)
	apt-get "${a[@]}" -qq update || { say "apt-get update with deb-src entries failed (see above)"; exit 1; }
	(cd "$R/src" && apt-get "${a[@]}" -qq source "$@" >/dev/null) ||
		{ say "apt-get source $* failed (see above)"; exit 1; }
}

# plain: gcc -O2; pfe: with patch sites; pfeg: with patch sites and -g,
# Debian's default flags, where DWARF prototypes decide what images save
vflags() { case $1 in pfe) echo -fpatchable-function-entry=5 ;; pfeg) echo -g -fpatchable-function-entry=5 ;; esac; }

srcdir() { find "$R/src" -maxdepth 1 -type d -name "$1-[0-9]*" 2>/dev/null | sort | tail -1; }

build_sqlite() {
	local s; s=$(srcdir sqlite3)
	[ -f "$R/sqlite/sqlite3.c" ] || {
		say "generating SQLite's amalgamation"
		mkdir -p "$R/sqlite"
		(cd "$R/sqlite" && "$s/configure" --disable-tcl >/dev/null && make sqlite3.c >/dev/null)
	}
	for v in plain pfe pfeg; do
		[ -x "$R/sqlite/speedtest1-$v" ] && continue
		say "building speedtest1 ($v)"
		gcc -O2 $(vflags $v) -I"$R/sqlite" \
			-o "$R/sqlite/speedtest1-$v" "$s/test/speedtest1.c" "$R/sqlite/sqlite3.c" -lpthread -lm -ldl
	done
}

build_xz() {
	local s; s=$(srcdir xz-utils)
	for v in plain pfe pfeg; do
		[ -x "$R/xz-$v/src/xz/xz" ] && continue
		say "building xz ($v)"
		mkdir -p "$R/xz-$v"
		(cd "$R/xz-$v" &&
		 CFLAGS="-O2 $(vflags $v)" "$s/configure" \
			--disable-shared --disable-nls --disable-doc --disable-scripts --disable-xzdec \
			--disable-lzmadec --disable-lzmainfo >/dev/null &&
		 make -j"$(nproc)" >/dev/null)
	done
}

# Lua 5.4, gcc -O2 -g: the interpreter whose mainpositionTV.isra.0 once
# made `poketrace record` change what it computes (issue 12); a check of
# output under every record mode, not timed.
build_lua() {
	local s; s=$(srcdir lua5.4)
	[ -x "$R/lua/lua" ] && return
	say "building lua (gcc -O2 -g, patch sites)"
	rm -rf "$R/lua" && mkdir -p "$R/lua" && cp "$s"/src/*.[ch] "$R/lua/"
	# Debian's luaconf.h includes a header its own build generates
	printf '#define DEB_HOST_MULTIARCH "%s"\n' "$(gcc -print-multiarch)" >"$R/lua/lua5.4-deb-multiarch.h"
	(cd "$R/lua" && gcc -O2 -g -fpatchable-function-entry=5 -DLUA_USE_LINUX -o lua \
		$(ls *.c | grep -v '^luac.c$') -lm -ldl)
}

[ -n "$(srcdir sqlite3)" ] && [ -n "$(srcdir xz-utils)" ] && [ -n "$(srcdir lua5.4)" ] ||
	fetch sqlite3 xz-utils lua5.4
build_sqlite
build_xz
build_lua
[ -s "$R/in.txt" ] || { gcc -O2 -o "$R/gentext" "$HERE/gentext.c" && "$R/gentext" 100000000 >"$R/in.txt"; }

T="$R/trace"
ms() { echo $(($(date +%s%N) / 1000000)); }

# run PROGRAM MODE: one timed run; prints ms.  The instrumented binary runs
# in every mode but plain.
run() {
	local prog=$1 mode=$2 bin args t0 t1 st=0
	case $prog in
	sqlite) bin="$R/sqlite/speedtest1-pfe"; args=(--memdb --size "$SQ_SIZE") ;;
	xz)     bin="$R/xz-pfe/src/xz/xz"; args=(-T2 "-$XZ_LEVEL" -k -f -S ".$mode.xz" "$R/in.txt") ;;
	esac
	[ "$mode" = plain ] && bin=${bin/-pfe/-plain}
	# the last traced run's gigabytes must not be written back during this one
	rm -rf "$T"
	sync
	t0=$(ms)
	case $mode in
	plain|off) "$bin" "${args[@]}" >/dev/null 2>"$R/err" || st=$? ;;
	paused)    "$P" record --paused -o "$T" -- "$bin" "${args[@]}" >/dev/null 2>"$R/err" || st=$? ;;
	profile)   "$P" record --tracer profile -o "$T" -- "$bin" "${args[@]}" >/dev/null 2>"$R/err" || st=$? ;;
	graph)     "$P" record -b 8M -o "$T" -- "$bin" "${args[@]}" >/dev/null 2>"$R/err" || st=$? ;;
	drop)      "$P" record -b 8M --on-full=drop -o "$T" -- "$bin" "${args[@]}" >/dev/null 2>"$R/err" || st=$? ;;
	uftrace)   uftrace record -d "$T" -P . "$bin" "${args[@]}" >/dev/null 2>"$R/err" || st=$? ;;
	esac
	t1=$(ms)
	[ "$st" = 0 ] || { say "$prog ($mode) failed, status $st: $(tail -3 "$R/err")"; exit 1; }
	echo $((t1 - t0))
}

modes="plain off paused profile graph drop uftrace"
declare -A times sizes calls same lost instr
# CHECK_ONLY=1: only the -g check below (minutes, and traces of MBs, not GBs)
[ -n "${CHECK_ONLY:-}" ] && progs= || progs="sqlite xz"
for prog in $progs; do
	say "running $prog: $RUNS runs untraced, $TRACED_RUNS of each traced mode"
	for r in $(seq "$RUNS"); do
		for m in $modes; do
			case $m in plain|off|paused) ;; *) [ "$r" -le "$TRACED_RUNS" ] || continue ;; esac
			times[$prog.$m]+="$(run "$prog" "$m") "
			case $m in
			graph|drop|uftrace) sizes[$prog.$m]=$(du -sm "$T" | cut -f1) ;;
			esac
			case $m in
			graph|drop|profile) lost[$prog.$m]=$("$P" info "$T" | awk '$1 == "lost:" { print $2 }') ;;
			esac
		done
	done
	if [ "$prog" = xz ]; then
		# the compressed output of every mode, against the plain build's
		for m in $modes; do
			cmp -s "$R/in.txt.plain.xz" "$R/in.txt.$m.xz" && same[$m]=identical || same[$m]=DIFFERENT
		done
	fi
	# calls made: from the profile of one run
	run "$prog" profile >/dev/null
	calls[$prog]=$("$P" report "$T" | awk 'NR > 2 { s += $(NF - 7) } END { print s }')
done
rm -rf "$T"
if [ -z "${CHECK_ONLY:-}" ]; then
# instructions: the same every run, unlike time
for v in plain pfe; do
	instr[$v]=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$R/sqlite/speedtest1-$v" \
		--memdb --size "$SQ_SIZE" 2>&1 >/dev/null | awk '/Collected :/ { print $NF }')
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
v=$(srcdir sqlite3); echo "SQLite ${v##*-} speedtest1 --memdb --size $SQ_SIZE: ${calls[sqlite]} calls of instrumented functions"
v=$(srcdir xz-utils); echo "xz ${v##*-} -T2 -$XZ_LEVEL of 100 MB of generated text: ${calls[xz]} calls"
echo "wall time: median of $RUNS runs untraced, $TRACED_RUNS traced; ratio: to the plain build; lost: events poketrace dropped"
echo
printf '| %-7s | %-34s | %9s | %7s | %10s | %6s | %-10s |\n' program mode "wall ms" ratio "trace MB" lost "xz output"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "---------" "------------------------------------" "-----------" "---------" "------------" "--------" "------------"
declare -A name=([plain]="plain build (gcc -O2)" [off]="instrumented, sites off (5 x nop)"
	[paused]="poketrace record --paused (all off)" [profile]="poketrace record --tracer profile" [graph]="poketrace record (graph)"
	[drop]="poketrace record --on-full=drop"
	[uftrace]="uftrace record -P ." )
for prog in sqlite xz; do
	base=$(tr ' ' '\n' <<<"${times[$prog.plain]}" | grep . | median)
	for m in $modes; do
		t=$(tr ' ' '\n' <<<"${times[$prog.$m]}" | grep . | median)
		printf '| %-7s | %-34s | %9s | %7s | %10s | %6s | %-10s |\n' "$prog" "${name[$m]}" "$t" \
			"$(awk -v a="$t" -v b="$base" 'BEGIN { printf "%.3f", a / b }')" "${sizes[$prog.$m]:-}" "${lost[$prog.$m]:-}" \
			"$([ "$prog" = xz ] && echo "${same[$m]}")"
	done
done
echo
echo "SQLite under callgrind (instructions): plain ${instr[plain]}, instrumented and off ${instr[pfe]}" \
	"($(awk -v a="${instr[pfe]}" -v b="${instr[plain]}" -v c="${calls[sqlite]}" \
	'BEGIN { printf "+%.1f%%, %.1f per call", (a - b) * 100 / b, (a - b) / c }'))"
fi
# With -g: the same output under every record mode (speedtest1's own
# output less its timings; xz's byte for byte).
say "the -g builds under every record mode"
# smaller inputs than the timed runs: the traces of every mode are written
sq=(--memdb --size "${CHECK_SQ_SIZE:-2}")
head -c "${CHECK_XZ_BYTES:-8000000}" "$R/in.txt" >"$R/in.small"
untimed() { sed 's/[0-9.]*s$//'; }
"$R/sqlite/speedtest1-pfeg" "${sq[@]}" | untimed >"$R/sq.want"
"$R/xz-pfeg/src/xz/xz" -T2 "-$XZ_LEVEL" -c "$R/in.small" >"$R/xz.want"
cat >"$R/t.lua" <<'LUA'
-- tables with integer, float, string and table keys (mainposition), closures, strings, coroutines
local t, n = {}, 0
for i = 1, 20000 do t[i] = i * 2; t["k" .. i] = i; t[i + 0.5] = -i end
for k, v in pairs(t) do n = n + (type(k) == "number" and 1 or 2) end
local function fib(x) if x < 2 then return x end return fib(x - 1) + fib(x - 2) end
local co = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(fib(15 + i)) end end)
print(n, #t, co(), co(), co(), string.format("%q %5.2f", "a\nb", math.pi), select("#", table.unpack(t, 1, 100)))
print(string.rep("ab", 3, ","), ("hello world"):gsub("o", "0"), table.concat({ 1, 2, 3 }, "-"))
LUA
"$R/lua/lua" "$R/t.lua" >"$R/lua.want"
bad=0
set -f # the record options hold globs for poketrace
echo
echo "Built gcc -O2 -g (DWARF prototypes: trimmed images where certain), output under each record mode:"
# under_record NAME WANT CMD...: CMD's output (through untimed for speedtest1) under
# `record $mode` against WANT
under_record() {
	local name=$1 want=$2 got="$R/got"
	shift 2
	rm -rf "$T"
	# shellcheck disable=SC2086
	"$P" record $mode -o "$T" -- "$@" 2>"$R/err" >"$got" || bad=1
	[ "$name" = speedtest1 ] && { untimed <"$got" >"$got.u" && mv "$got.u" "$got"; }
	if cmp -s "$want" "$got"; then printf ' %s identical' "$name"; else printf ' %s DIFFERENT' "$name"; bad=1; fi
}
while read -r mode; do
	printf '  %-28s' "record $mode"
	under_record speedtest1 "$R/sq.want" "$R/sqlite/speedtest1-pfeg" "${sq[@]}"
	under_record xz "$R/xz.want" "$R/xz-pfeg/src/xz/xz" -T2 "-$XZ_LEVEL" -c "$R/in.small"
	under_record "lua 5.4" "$R/lua.want" "$R/lua/lua" "$R/t.lua"
	echo
done <<'MODES'
--tracer graph
--tracer function
--tracer profile
-A * -R *
MODES
set +f
rm -rf "$T" "$R/got" "$R/xz.got" "$R/xz.want"
[ $bad = 0 ] || { say "a -g build's output differed under record"; exit 1; }
for m in $modes; do [ -n "${CHECK_ONLY:-}" ] || [ "${same[$m]}" = identical ] || bad=1; done
[ $bad = 0 ] || { say "xz's output differed between modes"; exit 1; }
