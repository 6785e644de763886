#!/usr/bin/env bash
# The readers (report, graph, replay, dump, info) on traces of exactly known
# contents made by build/tests/gen_trace through the agent's own encoder: a
# 1 GHz clock (a cycle is a nanosecond), so every figure below is computed
# by hand from the script, in the comments.  Plus a multi-GB trace read in
# bounded memory, and a real trace with dropped events.
set -u
B=${B:-build}
P="$B/poketrace"
G="$B/tests/gen_trace"
. "$(dirname "$0")/lib.sh"
T="$B/tests"
W="$T/read.$$"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"

gen() { # DIR: the script on stdin
	"$G" "$1" >/dev/null || fail "gen_trace $1"
}
same() { # WHAT EXPECTED ACTUAL
	[ "$2" = "$3" ] || fail "$1: got"$'\n'"$3"$'\n'"expected"$'\n'"$2"
}

# main [0,200] calls fib (direct recursion) and a/b (mutual recursion):
#   fib F1 [10,110] { F2 [20,80] { F3 [30,40], F4 [50,70] }, F5 [90,100] }
#   a A1 [120,170] { b [130,160] { a A2 [140,150] } }
# fib: total = F1 only (outermost) = 100; self = sum of each call's own time
# (F1 100-60-10=30, F2 60-10-20=30, F3 10, F4 20, F5 10) = 100; avg = total /
# outermost calls = 100; min 10, max 100.  a: total 50 (A1), self (50-30) +
# 10 = 30; b: 30, self 20.  main: self 200-100-50 = 50.
recursion_script() {
	cat <<'EOF'
func main
func fib
func a
func b
thread 100 mainthr
E 0 main
E 10 fib
E 20 fib
E 30 fib
X 40 fib
E 50 fib
X 70 fib
X 80 fib
E 90 fib
X 100 fib
X 110 fib
E 120 a
E 130 b
E 140 a
X 150 a
X 160 b
X 170 a
X 200 main
EOF
}

recursion() {
	recursion_script | gen "$W/r"
	expect 0 "$P" report "$W/r"
	same report "  Total time   Self time       Calls    Avg time    Min time    Max time  Function
  ==========  ==========  ==========  ==========  ==========  ==========  ====================
  200.000 ns   50.000 ns           1  200.000 ns  200.000 ns  200.000 ns  main
  100.000 ns  100.000 ns           5  100.000 ns   10.000 ns  100.000 ns  fib
   50.000 ns   30.000 ns           2   50.000 ns   10.000 ns   50.000 ns  a
   30.000 ns   20.000 ns           1   30.000 ns   30.000 ns   30.000 ns  b" "$out"
	expect 0 "$P" report --sort self "$W/r"
	same "report --sort self" "fib main a b" "$(awk 'NR > 2 { printf "%s%s", s, $NF; s = " " }' <<<"$out")"
	# per call path: no path contains itself, so totals add up per node
	expect 0 "$P" graph "$W/r"
	same graph "# Function Call Graph: total time and (calls) per call path
  200.000 ns : (1) main
  100.000 ns : +-(1) fib
   70.000 ns : | \`-(2) fib
   30.000 ns : |   \`-(2) fib
   50.000 ns : \`-(1) a
   30.000 ns :   \`-(1) b
   10.000 ns :     \`-(1) a" "$out"
	expect 0 "$P" graph "$W/r" fib
	same "graph fib" "# Function Call Graph: total time and (calls) per call path
  100.000 ns : (1) fib
   70.000 ns : \`-(2) fib
   30.000 ns :   \`-(2) fib" "$out"
	# self time per path, in ns
	expect 0 "$P" dump --flame "$W/r"
	same flame "main 50
main;a 20
main;a;b 20
main;a;b;a 10
main;fib 30
main;fib;fib 40
main;fib;fib;fib 30" "$out"
}

# Two threads whose calls interleave in time: replay merges them by
# timestamp; report adds them up.
threads_script() {
	cat <<'EOF'
func main
func f
thread 10 one
E 0 main
E 10 f
X 40 f
X 100 main
thread 11 two
E 5 main
E 20 f
X 30 f
X 50 main
EOF
}

threads() {
	threads_script | gen "$W/t"
	expect 0 "$P" replay "$W/t"
	same replay "#   DURATION      TID  FUNCTION
                   10  main() {
                   11  main() {
   30.000 ns       10    f();
   10.000 ns       11    f();
   45.000 ns       11  } /* main */
  100.000 ns       10  } /* main */" "$out"
	expect 0 "$P" replay --tid 11 -f tid,elapsed,duration "$W/t"
	same "replay --tid 11" "#     TID     ELAPSED    DURATION  FUNCTION
       11    5.000 ns              main() {
       11   20.000 ns   10.000 ns    f();
       11   50.000 ns   45.000 ns  } /* main */" "$out"
	expect 0 "$P" report "$W/t"
	same report "  145.000 ns  105.000 ns           2   72.500 ns   45.000 ns  100.000 ns  main
   40.000 ns   40.000 ns           2   20.000 ns   10.000 ns   30.000 ns  f" "$(tail -2 <<<"$out")"
	expect 0 "$P" report --tid 10 "$W/t"
	has "$out" "  100.000 ns   70.000 ns           1  100.000 ns  100.000 ns  100.000 ns  main$"
	expect 0 "$P" dump --chrome "$W/t"
	echo "$out" >"$W/t.json"
	expect 0 python3 tests/chrome_check.py "$W/t.json" 10 one two
	same chrome "calls 4 cut 0 threads 2" "$out"
}

# -r: calls that begin in the range, absolute (as -f time prints) or
# relative with a unit; calls open at its end are cut there.
time_range() {
	recursion_script | gen "$W/r"
	# 15~115: F2, F3, F4, F5 begin inside; F2 [20,80] and F5 are the
	# outermost shown: total 70; self 30 + 10 + 20 + 10 = 70
	expect 0 "$P" report -r 15ns~115ns "$W/r"
	local rel=$out
	same "report -r" "   70.000 ns   70.000 ns           4   35.000 ns   10.000 ns   60.000 ns  fib" "$(tail -1 <<<"$out")"
	expect 0 "$P" report -r 0.000000015~0.000000115 "$W/r"
	same "report -r absolute" "$rel" "$out"
	expect 0 "$P" replay -f time -r 15ns~115ns "$W/r"
	same "replay -r" "#            TIMESTAMP  FUNCTION
           0.000000020  fib() {
           0.000000030    fib();
           0.000000050    fib();
           0.000000080  } /* fib */
           0.000000090  fib();" "$out"
	# ~45: everything open at 45 is cut there (the last event before is at 40)
	expect 0 "$P" replay -r '~45ns' "$W/r"
	same "replay -r ~45ns" "#   DURATION      TID  FUNCTION
                  100  main() {
                  100    fib() {
                  100      fib() {
   10.000 ns      100        fib();
                  100      } /* fib (cut: the time range ends) */
                  100    } /* fib (cut: the time range ends) */
                  100  } /* main (cut: the time range ends) */" "$out"
	expect 0 "$P" graph -r 15ns~115ns "$W/r"
	same "graph -r" "# Function Call Graph: total time and (calls) per call path
   70.000 ns : (2) fib
   30.000 ns : \`-(2) fib" "$out"
	expect 0 "$P" dump --chrome -r 15ns~75ns "$W/r"
	echo "$out" >"$W/r.json"
	expect 0 python3 tests/chrome_check.py "$W/r.json" 100 mainthr
	same "chrome -r" "calls 3 cut 1 threads 1" "$out"
	expect 0 "$P" dump --flame -r 15ns~115ns "$W/r"
	same "flame -r" "fib 40
fib;fib 30" "$out"
	expect 2 "$P" report -r 15ns "$W/r"; has "$err" "START~END"
	expect 2 "$P" replay -r 5parsecs~ "$W/r"
	expect 2 "$P" graph -r 20ns~10ns "$W/r"
}

# replay-time filters, uftrace's meanings: -F shows a function and what it
# calls, -N hides it and what it calls, -D limits the depth, -t hides calls
# shorter than DUR that call nothing shown.
replay_filters() {
	recursion_script | gen "$W/r"
	expect 0 "$P" replay -F a "$W/r"
	same "replay -F a" "#   DURATION      TID  FUNCTION
                  100  a() {
                  100    b() {
   10.000 ns      100      a();
   30.000 ns      100    } /* b */
   50.000 ns      100  } /* a */" "$out"
	expect 0 "$P" replay -N fib -N b "$W/r"
	same "replay -N" "#   DURATION      TID  FUNCTION
                  100  main() {
                  100    a() {
   50.000 ns      100    } /* a */
  200.000 ns      100  } /* main */" "$out"
	expect 0 "$P" replay -F fib -D 2 "$W/r"
	same "replay -F -D" "#   DURATION      TID  FUNCTION
                  100  fib() {
                  100    fib() {
   60.000 ns      100    } /* fib */
   10.000 ns      100    fib();
  100.000 ns      100  } /* fib */" "$out"
	expect 0 "$P" replay -t 15ns -F fib "$W/r"
	same "replay -t" "#   DURATION      TID  FUNCTION
                  100  fib() {
                  100    fib() {
   20.000 ns      100      fib();
   60.000 ns      100    } /* fib */
  100.000 ns      100  } /* fib */" "$out"
	expect 0 "$P" replay -f +addr,delta "$W/r"
	has "$out" "^#   DURATION      TID         ADDRESS   TIMEDELTA  FUNCTION$"
	has "$out" "^   10.000 ns      100        0x401010   10.000 ns        fib();$"
	expect 0 "$P" replay -f none -F b "$W/r"
	same "replay -f none" "#  FUNCTION
  b() {
    a();
  } /* b */" "$out"
	expect 2 "$P" replay -f durations "$W/r"; has "$err" "-f takes"
	expect 2 "$P" replay -D 0 "$W/r"
	expect 2 "$P" replay -t soon "$W/r"
	expect 2 "$P" report --demangle=maybe "$W/r"
	expect 1 "$P" replay -F nosuch "$W/r"; has "$err" "no such function"
}

# A gap: thread 200 loses 5 events after leaf's second entry at 40, so
# main, work and that leaf are cut (never paired with the exits after the
# gap, which are ignored); what follows starts at the top.  Thread 201: a
# packet break without loss pairs as usual; its last call is open at the end.
gaps_script() {
	cat <<'EOF'
func main
func work
func leaf
func other
thread 200 gapper
E 0 main
E 10 work
E 20 leaf
X 30 leaf
E 40 leaf
G 5
X 100 leaf
X 110 work
E 120 work
E 130 leaf
X 150 leaf
X 160 work
X 300 main
thread 201
E 5 other
X 25 other
E 35 other
packet
X 45 other
E 1000 other
EOF
}

gaps() {
	gaps_script | gen "$W/g"
	# leaf: 3 calls, [20,30] and [130,150] timed, [40,?) cut; work: [120,160]
	# timed (self 40-20), [10,?) cut; main cut; other: 20 and 10, one cut
	expect 0 "$P" report "$W/g"
	same report "  Total time   Self time       Calls    Avg time    Min time    Max time  Function
  ==========  ==========  ==========  ==========  ==========  ==========  ====================
   40.000 ns   20.000 ns           2   40.000 ns   40.000 ns   40.000 ns  work
   30.000 ns   30.000 ns           3   15.000 ns   10.000 ns   20.000 ns  leaf
   30.000 ns   30.000 ns           3   15.000 ns   10.000 ns   20.000 ns  other
           -           -           1           -           -           -  main
# 1 gap in the trace (5 events lost): no call is timed across one
# 4 calls cut (open at a gap, at the end of the trace or of the time range): counted as calls, in no time
#   cut: main 1, work 1, leaf 1, other 1" "$out"
	expect 0 "$P" graph "$W/g"
	same graph "# Function Call Graph: total time and (calls) per call path
   40.000 ns : (1) work
   20.000 ns : \`-(1) leaf
   30.000 ns : (2, 1 cut) other
    0.000 ns : (0, 1 cut) main
    0.000 ns : \`-(0, 1 cut) work
   10.000 ns :   \`-(1, 1 cut) leaf
# 1 gap in the trace (5 events lost): no call is timed across one
# 4 calls cut (open at a gap, at the end of the trace or of the time range): counted as calls, in no time" "$out"
	expect 0 "$P" replay --tid 200 "$W/g"
	same replay "#   DURATION      TID  FUNCTION
                  200  main() {
                  200    work() {
   10.000 ns      200      leaf();
                  200      leaf() {
                  200      } /* leaf (cut: events lost) */
                  200    } /* work (cut: events lost) */
                  200  } /* main (cut: events lost) */
# thread 200: 5 events lost here
                  200  work() {
   20.000 ns      200    leaf();
   40.000 ns      200  } /* work */" "$out"
	expect 0 "$P" dump --flame "$W/g"
	same flame "main;work;leaf 10
other 30
work 20
work;leaf 20" "$out"
	expect 0 "$P" dump --chrome "$W/g"
	echo "$out" >"$W/g.json"
	expect 0 python3 tests/chrome_check.py "$W/g.json" 200 gapper
	same chrome "calls 9 cut 4 threads 2" "$out"
	expect 0 "$P" info "$W/g"
	has "$out" "^lost:       5$"
	has "$out" "^gaps:       1 "
	has "$out" "^  thread 200 (gapper): 12 events, 5 lost"
}

arguments() {
	gen "$W/a" <<'EOF'
func main
func _ZN2ns5greetEPKci si:i
func _ZNK6shapes6Circle4areaEv
thread 7
E 0 main
E 10 _ZN2ns5greetEPKci 0x1000 2
S 0 world
X 20 _ZN2ns5greetEPKci 12
E 30 _ZNK6shapes6Circle4areaEv
X 35 _ZNK6shapes6Circle4areaEv
X 40 main
EOF
	expect 0 "$P" replay -f none "$W/a"
	same replay '#  FUNCTION
  main() {
    ns::greet("world", 2) = 12;
    shapes::Circle::area();
  } /* main */' "$out"
	expect 0 "$P" replay -f none --demangle=full "$W/a"
	has "$out" '^    ns::greet(char const\*, int) ("world", 2) = 12;$'
	has "$out" '^    shapes::Circle::area() const;$'
}

babeltrace_names() {
	command -v babeltrace2 >/dev/null || fail "babeltrace2 missing: scripts/install-deps.sh installs it"
	recursion_script | gen "$W/r"
	expect 0 babeltrace2 "$W/r"
	[ "$(wc -l <<<"$out")" -eq 18 ] || fail "babeltrace2 printed $(wc -l <<<"$out") events, the script has 18"
	[ "$(grep -c '{ fn = ( "fib" : container = 1 ) }' <<<"$out")" -eq 10 ] || fail "fib by name: $out"
	has "$out" 'prog:(100) exit: { tid = 100 }, { fn = ( "main" : container = 0 ) }'
}

# buffer_max, on_full, waits, wait_ns: printed when the agent wrote them.
info_keys() {
	threads_script | gen "$W/t"
	expect 0 "$P" info "$W/t"
	lacks "$out" "^buffers:"
	has "$out" "^pid:        10$"
	has "$out" "^clock:      monotonic, 1000000000 Hz$"
	has "$out" "^  thread 10 (one): 4 events"
	printf 'buffer_max=67108864\non_full=wait\nwaits=1234\nwait_ns=5200000\n' >>"$W/t/poketrace/info"
	expect 0 "$P" info "$W/t"
	has "$out" "^buffers:    max 64 MiB, on full: wait (1234 waits, 5.2 ms)$"
	printf 'buffer_max=1572864\non_full=drop\n' >>"$W/t/poketrace/info"
	sed -i '/^wait/d' "$W/t/poketrace/info"
	expect 0 "$P" info "$W/t"
	has "$out" "^buffers:    max 1.5 MiB, on full: drop$"
}

# A trace of several GB read under a 64 MiB address-space limit: the readers
# keep the stack and the tables, not the events.  2 threads x 2^25 iterations
# of w<i%16> { leaf }, 10 cycles apart: leaf 2^26 calls of 10 ns; each w 2^22
# calls of 30 ns (self 20); main 2 calls, self 10 ns per iteration + 10.
bounded_memory() {
	"$G" --big "$W/big" 2048 2 >"$W/gen.out" || fail "gen_trace --big"
	same "iterations" "iterations 33554432
iterations 33554432" "$(cat "$W/gen.out")"
	[ "$(du -sm "$W/big" | cut -f1)" -ge 2000 ] || fail "the trace is not multi-GB: $(du -sh "$W/big")"
	local limit=65536
	[ -n "$ASAN_RT" ] && limit=unlimited # the sanitizer reserves terabytes of shadow
	expect 0 bash -c "ulimit -v $limit; exec \"\$0\" report \"\$1\"" "$P" "$W/big"
	has "$out" "^ *2\.684  s  671\.089 ms           2    1\.342  s    1\.342  s    1\.342  s  main$"
	has "$out" "^  671\.089 ms  671\.089 ms    67108864   10\.000 ns   10\.000 ns   10\.000 ns  leaf$"
	[ "$(grep -c '  125\.829 ms   83\.886 ms     4194304   30\.000 ns   30\.000 ns   30\.000 ns  w[0-9]*$' <<<"$out")" = 16 ] ||
		fail "w0..w15: $out"
	expect 0 bash -c "ulimit -v $limit; exec \"\$0\" dump --flame \"\$1\"" "$P" "$W/big"
	has "$out" "^main;w7;leaf 41943040$"
	[ "$(wc -l <<<"$out")" = 33 ] || fail "flame: $(wc -l <<<"$out") paths, want 33"
	# a window in the middle: read up to it, nothing kept, well nested
	expect 0 bash -c "ulimit -v $limit; exec \"\$0\" dump --chrome -r 600ms~600.001ms \"\$1\"" "$P" "$W/big"
	echo "$out" >"$W/big.json"
	expect 0 python3 tests/chrome_check.py "$W/big.json" 1000 worker-0 worker-1
	# 1 us = 25 iterations a thread; 2 x 25 x 2 calls, some cut at the range's end
	grep -q "^calls 10[0-9] cut [0-9]* threads 2$" <<<"$out" || fail "chrome -r: $out"
	expect 0 bash -c "ulimit -v $limit; exec \"\$0\" replay -r ~200ns --tid 1001 \"\$1\"" "$P" "$W/big"
	[ "$(grep -c 'leaf();' <<<"$out")" = 5 ] || fail "replay -r: $out"
	rm -rf "$W/big"
}

# Many gaps at scale: a gap of one event (a leaf's exit) every 1000
# iterations; every figure left is still exact, the cut calls are counted.
many_gaps() {
	"$G" --big "$W/mg" 64 1 1000 >"$W/gen.out" || fail "gen_trace --big gaps"
	local n gaps
	n=$(awk '{ print $2 }' "$W/gen.out")
	gaps=$((n / 1000))
	expect 0 "$P" report "$W/mg"
	has "$out" "^# $gaps gaps in the trace ($gaps events lost)"
	# cut: main once, then per gap its w and leaf
	has "$out" "^# $((2 * gaps + 1)) calls cut"
	has "$out" "    $n   10\.000 ns   10\.000 ns   10\.000 ns  leaf$"
	grep -q '  30\.000 ns   30\.000 ns   30\.000 ns  w[0-9]*$' <<<"$out" || fail "w: $out"
	has "$out" "^ *- *- *1 *- *- *-  main$"
	# per path: the calls timed and cut add up to the iterations and gaps
	expect 0 "$P" graph "$W/mg"
	printf '%s\n' "$out" >"$W/graph.txt"
	python3 - "$W/graph.txt" "$n" "$gaps" <<'PY' || fail "graph with gaps"
import re, sys
n, gaps = int(sys.argv[2]), int(sys.argv[3])
calls = {"w": 0, "leaf": 0}
cut = {"w": 0, "leaf": 0}
for m in re.finditer(r"\((\d+)(?:, (\d+) cut)?\) (w\d+|leaf)$", open(sys.argv[1]).read(), re.M):
    k = "leaf" if m.group(3) == "leaf" else "w"
    calls[k] += int(m.group(1))
    cut[k] += int(m.group(2) or 0)
assert calls == {"w": n - gaps, "leaf": n - gaps}, (calls, n, gaps)
assert cut == {"w": gaps, "leaf": gaps}, (cut, gaps)
PY
}

# Recursion across a gap: the outermost call is cut; the calls of the
# function it enclosed that were timed count in the total instead, so that
# Total >= Self and Min <= Avg <= Max still hold.
#   r R1 [0,?) cut { R2 [10,20], R3 [30,50] { R4 [35,40] } }, R5 [100,110]
# total = R2 + R3 + R5 = 40 over 3 outermost timed calls (avg 13.333); self 10+15+5+10
gap_recursion() {
	gen "$W/gr" <<'EOF'
func r
thread 5
E 0 r
E 10 r
X 20 r
E 30 r
E 35 r
X 40 r
X 50 r
G 3
E 100 r
X 110 r
EOF
	expect 0 "$P" report "$W/gr"
	same report "  Total time   Self time       Calls    Avg time    Min time    Max time  Function
  ==========  ==========  ==========  ==========  ==========  ==========  ====================
   40.000 ns   40.000 ns           5   13.333 ns    5.000 ns   20.000 ns  r
# 1 gap in the trace (3 events lost): no call is timed across one
# 1 call cut (open at a gap, at the end of the trace or of the time range): counted as calls, in no time
#   cut: r 1" "$out"
}

# report, graph and flame read the threads' streams on several threads:
# the figures are the same on one (POKETRACE_READ_JOBS=1) as on three.
parallel_same() {
	"$G" --big "$W/p" 32 5 777 >/dev/null || fail "gen_trace --big"
	local cmd a b
	for cmd in report graph "dump --flame"; do
		# shellcheck disable=SC2086
		a=$(POKETRACE_READ_JOBS=1 "$P" $cmd "$W/p" 2>&1) || fail "$cmd, one thread"
		# shellcheck disable=SC2086
		b=$(POKETRACE_READ_JOBS=3 "$P" $cmd "$W/p" 2>&1) || fail "$cmd, three threads"
		same "$cmd on three threads" "$a" "$b"
	done
	has "$a" "cut"
}

# Events really dropped by today's agent (a 16 KiB buffer on a busy
# program): no reader shows a figure the program could not have produced.
dropped() {
	# (flood runs for a second by its own clock; a writer that pauses 20 ms
	# after each packet loses events between packets whatever the machine's
	# speed — a fast writer could keep up with a 16K buffer)
	POKETRACE_WRITER_DELAY_MS=20 P_REC -o "$W/d" -b 16K --on-full=drop -- "$T/flood" 2 1 \
		>/dev/null 2>"$W/rec.err" || fail "record: $(cat "$W/rec.err")"
	expect 0 "$P" info "$W/d"
	local lost
	lost=$(awk '/^lost:/ { print $2 }' <<<"$out")
	[ "$lost" -gt 0 ] || fail "a 16K buffer lost nothing"
	has "$out" "^gaps:       [1-9]"
	local dur_ns
	dur_ns=$(sed -n 's/^duration_ns=//p' "$W/d/poketrace/info")
	expect 0 "$P" report "$W/d"
	has "$out" "^# [0-9]* gaps\? in the trace ([0-9]* events lost)"
	printf '%s\n' "$out" >"$W/report.txt"
	python3 - "$W/report.txt" "$dur_ns" <<'PY' || fail "report on a trace with gaps"
import sys
unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
dur = float(sys.argv[2])
rows = 0
for line in open(sys.argv[1]).read().splitlines()[2:]:
    f = line.split()
    if line.startswith("#") or f[0] == "-":
        continue
    total, self_, calls, avg, mn, mx = (float(f[0]) * unit[f[1]], float(f[2]) * unit[f[3]], int(f[4]),
                                        float(f[5]) * unit[f[6]], float(f[7]) * unit[f[8]],
                                        float(f[9]) * unit[f[10]])
    name = " ".join(f[11:])
    eps = 1e-3 * max(total, 1)  # the printed figures are rounded to 4 digits
    assert self_ <= total + eps, f"{name}: self {self_} > total {total}"
    assert mn <= avg + eps and avg <= mx + eps, f"{name}: avg {avg} not in [{mn}, {mx}]"
    assert mx <= dur, f"{name}: max {mx} ns longer than the run ({dur} ns)"
    rows += 1
assert rows > 3, "too few rows"
PY
	expect 0 "$P" replay "$W/d"
	has "$out" "(cut: events lost)"
	has "$out" "^# thread [0-9]*: [0-9]* events lost here$"
	expect 0 "$P" dump --chrome "$W/d"
	echo "$out" >"$W/d.json"
	expect 0 python3 tests/chrome_check.py "$W/d.json" "$(sed -n 's/^pid=//p' "$W/d/poketrace/info")" flood
	expect 0 "$P" graph "$W/d"
	has "$out" " cut) "
}

cases="recursion threads time_range replay_filters gaps gap_recursion arguments babeltrace_names info_keys bounded_memory many_gaps parallel_same dropped"
dispatch "$cases" "$@"
