#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/trace/check_trace.py - the structure of weft traces, from small runs.

usage: check_trace.py TEST_TRACE [WEFT_PROF]

Runs TEST_TRACE's case "demo" (tests/unit/test_trace.c), which writes a
STEALING trace with steals, a DAG-mode trace and a SHARED trace, and checks
each: it is JSON that Perfetto and chrome://tracing take (traceEvents with
ph/pid/tid/ts), every slice that starts ends (complete events with a
duration, no B without its E) and slices on a track nest, every steal flow
leaves one worker's track and arrives on another's, every track and the
process have names, task slices are named after their functions; and
weft's raw events are there. With WEFT_PROF, its
report must read the DAG trace and give a work, a span, a parallelism.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(path):
    with open(path) as f:
        doc = json.load(f)  # valid JSON
    ev = doc.get("traceEvents")
    if not isinstance(ev, list) or not ev:
        fail("%s: no traceEvents" % path)
    names, procs, tids = {}, set(), set()
    slices = collections.defaultdict(list)
    be = collections.Counter()
    flows = collections.defaultdict(dict)
    for e in ev:
        for k in ("ph", "pid"):
            if k not in e:
                fail("%s: event without %s: %s" % (path, k, e))
        ph = e["ph"]
        if ph == "M":
            if e["name"] == "thread_name":
                names[e["tid"]] = e["args"]["name"]
            elif e["name"] == "process_name":
                procs.add(e["pid"])
            continue
        if not isinstance(e.get("ts"), (int, float)) or e["ts"] < 0 or "tid" not in e:
            fail("%s: bad ts/tid: %s" % (path, e))
        tids.add(e["tid"])
        if ph == "X":
            if not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0:
                fail("%s: slice without a duration: %s" % (path, e))
            slices[e["tid"]].append((e["ts"], e["ts"] + e["dur"], e["name"]))
        elif ph in ("B", "E"):
            be[(e["tid"], ph)] += 1
        elif ph in ("s", "f"):
            if ph in flows[e["id"]]:
                fail("%s: flow %s has two %s ends" % (path, e["id"], ph))
            flows[e["id"]][ph] = e
        elif ph != "i":
            fail("%s: unexpected phase %s" % (path, ph))
    for tid in tids:
        if tid not in names:
            fail("%s: track %s has no thread_name" % (path, tid))
        if be[(tid, "B")] != be[(tid, "E")]:
            fail("%s: track %s: %d B against %d E" % (path, tid, be[(tid, "B")], be[(tid, "E")]))
    if not procs:
        fail("%s: no process_name" % path)
    eps = 0.0015  # the file's 1 ns resolution, in us
    for tid, sl in slices.items():
        sl.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for b, e, n in sl:
            while stack and stack[-1][1] <= b + eps:
                stack.pop()
            if stack and e > stack[-1][1] + eps:
                fail("%s: track %s: '%s' [%.3f, %.3f] overlaps '%s' [%.3f, %.3f]" % (
                    path, tid, n, b, e, stack[-1][2], stack[-1][0], stack[-1][1]))
            stack.append((b, e, n))
    for fid, f in flows.items():
        if set(f) != {"s", "f"}:
            fail("%s: flow %s is missing an end" % (path, fid))
        if f["s"]["tid"] == f["f"]["tid"]:
            fail("%s: steal flow %s stays on track %s" % (path, fid, f["s"]["tid"]))
        for end in f.values():
            if not names.get(end["tid"], "").startswith(("worker", "spare")):
                fail("%s: a steal flow ends on %s" % (path, names.get(end["tid"])))
    w = doc.get("weft")
    if not w or not w.get("threads"):
        fail("%s: no raw weft events" % path)
    return doc, len(flows)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory(prefix="weft-check-trace-") as d:
        env = dict(os.environ, WEFT_TEST_TRACE_DIR=d, CK_RUN_CASE="demo")
        r = subprocess.run([argv[1]], env=env)
        if r.returncode != 0:
            fail("%s (case demo) failed" % argv[1])
        for name in ("demo-stealing.json", "demo-stealing-dag.json", "demo-shared.json"):
            doc, nflows = check(os.path.join(d, name))
            if name.startswith("demo-stealing") and nflows == 0:
                fail("%s: no steal flow (the run stole)" % name)
            # Task slices carry their function's name: test_trace's static
            # functions are found in the ELF symbol table.
            fns = {e["name"] for e in doc["traceEvents"] if e.get("ph") == "X"}
            if not {"fib", "fan_root", "group_root", "spin_task"} & fns:
                fail("%s: no task slice named after its function: %s" % (
                    name, sorted(fns)[:20]))
            if "dag" in name and not doc["weft"]["dag"]:
                fail("%s: not marked as a DAG trace" % name)
            print("ok: %s (%d events, %d steal flows)" % (name, len(doc["traceEvents"]), nflows))
        if len(argv) > 2:
            out = subprocess.run([sys.executable, argv[2], "report",
                                  os.path.join(d, "demo-stealing-dag.json")],
                                 capture_output=True, text=True)
            if out.returncode != 0 or "span T-inf" not in out.stdout \
                    or "parallelism" not in out.stdout:
                fail("weft-prof report: %s%s" % (out.stdout, out.stderr))
            print("ok: weft-prof report")
            # A chain through a future (spin 5 ms, wait for a future that
            # spins 5 ms, spin 5 ms): the wait joins the future's task, so
            # the span runs through all three, 15 ms (10 ms if the edge
            # were lost). The span, not the parallelism: work also counts
            # the recording's own gaps, which slow builds (TSan) inflate.
            out = subprocess.run([sys.executable, argv[2], "report",
                                  os.path.join(d, "demo-future-dag.json")],
                                 capture_output=True, text=True)
            unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
            span = [float(l.split()[-2]) * unit[l.split()[-1]] for l in out.stdout.splitlines()
                    if l.startswith("span T-inf")]
            par = [l.split()[-1] for l in out.stdout.splitlines() if l.startswith("parallelism")]
            if out.returncode != 0 or not span or span[0] < 13.5:
                fail("weft-prof report of a future chain: span %s ms, not the chain's 15:\n%s%s"
                     % (span, out.stdout, out.stderr))
            print("ok: a future's wait joins its task (span %.2f ms, parallelism %s)"
                  % (span[0], par[0] if par else "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
