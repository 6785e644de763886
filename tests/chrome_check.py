#!/usr/bin/env python3
"""Checks the structure of `poketrace dump --chrome` output.

usage: chrome_check.py FILE PID [THREAD_NAME...]

- the file is one JSON object with a traceEvents list;
- a process_name metadata event for PID, a thread_name event for every tid
  that has events, and the given thread names among them;
- every event has pid PID; complete ("X") events have ts >= 0 and dur >= 0,
  and on each thread they nest: two calls either do not overlap or one lies
  within the other (what Perfetto needs to draw a call stack);
- B/E events, if any, balance per thread.
Prints "calls N cut K threads T" on success.
"""
import json
import sys

path, pid = sys.argv[1], int(sys.argv[2])
want_names = sys.argv[3:]
doc = json.load(open(path))
ev = doc["traceEvents"]
meta = [e for e in ev if e["ph"] == "M"]
procs = [e for e in meta if e["name"] == "process_name"]
assert len(procs) == 1 and procs[0]["pid"] == pid, f"process_name: {procs}, pid {pid}"
assert procs[0]["args"]["name"], "empty process name"
tnames = {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"}
for n in want_names:
    assert n in tnames.values(), f"thread name {n!r} not in {sorted(tnames.values())}"
calls = [e for e in ev if e["ph"] == "X"]
assert all(e["pid"] == pid for e in ev), "an event with another pid"
by_tid = {}
for e in calls:
    assert e["ts"] >= 0 and e["dur"] >= 0, f"negative time: {e}"
    assert e["tid"] in tnames, f"tid {e['tid']} has no thread_name"
    by_tid.setdefault(e["tid"], []).append(e)
for tid, v in by_tid.items():
    # ns as integers: the JSON has 3 decimals of microseconds
    iv = sorted(((round(e["ts"] * 1000), -round(e["dur"] * 1000), e["name"]) for e in v))
    stack = []
    for start, negdur, name in iv:
        end = start - negdur
        while stack and stack[-1][1] <= start:
            stack.pop()
        if stack:
            assert end <= stack[-1][1], f"thread {tid}: {name} [{start}, {end}] overlaps {stack[-1]}"
        stack.append((start, end, name))
be = [e for e in ev if e["ph"] in "BE"]
for tid in {e["tid"] for e in be}:
    d = 0
    for e in be:
        if e["tid"] == tid:
            d += 1 if e["ph"] == "B" else -1
            assert d >= 0, f"thread {tid}: E without B"
    assert d == 0, f"thread {tid}: {d} B without E"
cut = sum(1 for e in calls if "cut" in e.get("args", {}))
print(f"calls {len(calls)} cut {cut} threads {len(by_tid)}")
