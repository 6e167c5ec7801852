#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/test_weft_prof.py - weft-prof on inputs whose answers are known by hand:
the task graph, work and span of a small hand-written trace; the simulator on
a chain (speed-up 1) and on n independent equal tasks (speed-up min(n, P),
less the modelled overheads), under both schedulers; SHARED's lock (a thread
that finds it held sleeps, and the lock stays free for others meanwhile)."""
import importlib.machinery
import io
import math
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
wp = importlib.machinery.SourceFileLoader("weftprof", os.path.join(HERE, "weft-prof")).load_module()

# Costs of nothing: the simulator then gives the graph's own answer.
FREE = {k: 0.0 for k in wp.DEFAULTS}
FREE.update(steal_fail_ns=1.0, search_ns=64 * 20.0)


def task(i, ops, heap=False, root=False):
    t = wp.Task(i, 0x1000 + i, 0x5000 + i, 0, 0, 1, wp.TF_HEAP if heap else 0)
    t.ops = ops
    t.root = root
    t.heap = heap
    return t


def fan(n, work):
    """A caller that submits n tasks of `work` ns and waits for them all."""
    kids = [task(i + 1, [("w", work)], heap=True) for i in range(n)]
    root = task(0, [("h", k) for k in kids] + [("j", kids, wp.HK_IDLE)], root=True)
    for k in kids:
        k.spawner = root
    return wp.Dag([root] + kids, [root], {}, n + 1)


def chain(n, work):
    """A caller that calls task 1; task i spawns task i+1 and syncs it at once."""
    ts = [None] + [task(i, []) for i in range(1, n + 1)]
    for i in range(1, n + 1):
        t = ts[i]
        t.ops = [("w", work)]
        if i < n:
            t.ops += [("s", ts[i + 1]), ("y", ts[i + 1]), ("w", work)]
            ts[i + 1].spawner = t
    ts[1].heap = True
    root = task(0, [("h", ts[1]), ("j", [ts[1]], wp.HK_CALL)], root=True)
    ts[1].spawner = root
    return wp.Dag([root] + ts[1:], [root], {}, 2 * n)


def hand_trace():
    """A caller (thread 100000) calls task A on worker 0 (thread 1): A works
    100 ns, spawns B, works 50, syncs B (which runs inline: 200 ns of
    work), works 30. The caller's strand between its spawn and its wait is
    10 ns. Raw events: [kind, ts, a, b, c, aux, d]."""
    A, B, CALL, FN = 0xA0, 0xB0, 0xC0, 0xF0
    worker = [
        [wp.EV_SPAWN, 120, B, FN, 0, 0, 0],
        [wp.EV_TASK, 170, B, FN, 0, wp.TF_INLINE, 370],
        [wp.EV_TASK, 20, A, FN, 0, wp.TF_HEAP, 400],
    ]
    caller = [
        [wp.EV_HSPAWN, 0, A, CALL, wp.HK_CALL, 0, 0],
        [wp.EV_JOIN, 10, CALL, 0, wp.HK_CALL, 0, 1000],
    ]
    return {"weft": {"version": 1, "scheduler": "stealing", "workers": 1, "dag": True,
                     "duration_ns": 1000, "symbols": {str(FN): "f"},
                     "threads": [{"tid": 1, "slot": 0, "events": worker},
                                 {"tid": 100000, "slot": -1, "events": caller}]}}


class WorkSpan(unittest.TestCase):
    def test_hand_trace(self):
        dag = wp.Dag.from_trace(wp.Trace(hand_trace()))
        self.assertEqual(dag.unmatched, {"spawns": 0, "runs": 0, "syncs": 0})
        self.assertEqual(len(dag.tasks), 3)
        self.assertAlmostEqual(dag.work(), 100 + 50 + 200 + 30 + 10)
        span, path, spawns = dag.longest_path()
        self.assertAlmostEqual(span, 100 + 200 + 30)
        self.assertEqual([round(ns) for _, ns in path], [100, 200, 30])
        self.assertEqual(spawns, 2)  # the call and B
        bspan, _, _ = dag.longest_path(burden=1000)
        self.assertAlmostEqual(bspan, 1000 + 100 + 1000 + 200 + 30)
        out = io.StringIO()
        wp.report(wp.Trace(hand_trace()), dict(wp.DEFAULTS), out=out)
        self.assertIn("work T1            390 ns", out.getvalue())
        self.assertIn("span T-inf         330 ns", out.getvalue())

    def test_strand_overhead_is_taken_off(self):
        # strands 0, 10, 0 (caller), 100, 50, 30 (A), 200 (B); less 10 each, not below 0
        dag = wp.Dag.from_trace(wp.Trace(hand_trace()), strand_overhead=10)
        self.assertEqual(dag.nstrands, 7)
        self.assertAlmostEqual(dag.work(), 90 + 40 + 20 + 190)

    def test_merge(self):
        # three recordings of one shape: strands of 1, 2 and 9 us per task
        dags = [fan(4, w) for w in (1000.0, 9000.0, 2000.0)]
        d, n, vals = wp.Dag.merge(dags, "median")
        self.assertEqual(n, 3)
        self.assertEqual(d.work(), 4 * 2000.0)
        d.restrand(vals, "min")
        self.assertEqual(d.work(), 4 * 1000.0)
        d.restrand(vals, "median")  # from the recorded values, not the last set
        self.assertEqual(d.work(), 4 * 2000.0)
        # another shape is left out
        d, n, _ = wp.Dag.merge([fan(4, 1000.0), fan(5, 1.0), fan(4, 3000.0)], "min")
        self.assertEqual((n, d.work()), (2, 4000.0))

    def test_fan_and_chain(self):
        d = fan(8, 1000)
        self.assertEqual(d.work(), 8000)
        self.assertEqual(d.longest_path()[0], 1000)
        d = chain(5, 100)
        self.assertEqual(d.work(), 900)
        self.assertEqual(d.longest_path()[0], 900)


class Simulator(unittest.TestCase):
    def test_chain_has_no_speedup(self):
        d = chain(50, 1000.0)
        for sched in ("stealing", "shared"):
            t1 = wp.Sim(d, 1, sched, FREE).run()
            self.assertAlmostEqual(t1, d.work(), delta=1.0)
            for P in (2, 4, 16):
                self.assertAlmostEqual(wp.Sim(d, P, sched, FREE).run(), t1, delta=1.0,
                                       msg="%s P=%d" % (sched, P))
            # with costs, still no speed-up
            t1 = wp.Sim(d, 1, sched, wp.DEFAULTS).run()
            for P in (2, 8):
                self.assertGreaterEqual(wp.Sim(d, P, sched, wp.DEFAULTS).run(), t1 * 0.99)

    def test_independent_tasks(self):
        n, work = 16, 100000.0
        d = fan(n, work)
        for sched in ("stealing", "shared"):
            for P in (1, 2, 4, 8, 16, 32):
                t = wp.Sim(d, P, sched, FREE).run()
                want = math.ceil(n / P) * work
                self.assertAlmostEqual(t, want, delta=want * 0.01 + 100,
                                       msg="%s P=%d: %.0f, want %.0f" % (sched, P, t, want))
            # with the default costs: the ideal time plus at most the modelled
            # overheads - a wake-up (and its call) per worker, since woken
            # workers pass the wake-up on one by one, one for the caller, and
            # each task's cost
            pr = wp.DEFAULTS
            for P in (1, 2, 4, 8, 16, 32):
                t = wp.Sim(d, P, sched, pr).run()
                ideal = math.ceil(n / P) * work
                over = ((min(n, P) + 1) * (pr["wake_ns"] + pr["wake_call_ns"] + pr["search_ns"] / 8)
                        + n * (pr["heap_task_ns"]
                               + 2 * (pr["lock_wake_ns"] + 2 * pr["wake_call_ns"])))
                self.assertGreaterEqual(t, ideal, "%s P=%d" % (sched, P))
                self.assertLessEqual(t, ideal + over, "%s P=%d: %.0f > %.0f + %.0f"
                                     % (sched, P, t, ideal, over))

    def test_lock_sleeper_does_not_hold_it(self):
        # hold 100, then 10 outside; a sleeper takes it 1000 after the
        # release; a contended release costs its maker a futex wake of 50
        pr = dict(FREE, lock_hold_ns=100.0, lock_op_ns=10.0, lock_wake_ns=1000.0,
                  wake_call_ns=50.0)
        sim = wp.Sim(fan(1, 0.0), 2, "shared", pr)
        a, b, c, d = (wp._Thread(i, True, i) for i in range(4))

        def at(now, th):
            sim.now = now
            return sim._lock(th, now)
        self.assertEqual(at(0, a), (0, 110))        # free: held 0..100
        # held: b sleeps, takes it at 100 + 1000, and pays the wake call its
        # release makes (the lock stays marked contended)
        self.assertEqual(at(50, b), (1100, 1260))
        # a finds it free while b sleeps (the lock is not fair), after paying
        # the wake call it made at 100 for b (a FIFO hand-over would have
        # kept it from everyone until b's hold ended at 1200)
        self.assertEqual(at(200, a), (250, 360))
        self.assertEqual(sim.lock_stats[:3], [3, 1, 1])
        # asking at 1050 would overlap b's hold (1100..1200, decided while
        # b slept): c takes it just after, without sleeping
        self.assertEqual(at(1050, c), (1200, 1310))
        # d asks while c holds it: sleeps, then takes it
        self.assertEqual(at(1250, d), (2300, 2460))
        self.assertEqual(c.owed, 50.0)

    def test_lock_contention_is_not_serialised(self):
        # 16 tasks of 1 us queued by the caller at once, two workers; the
        # lock is held 100 ns per operation and a sleeper on it wakes 10 us
        # after the release. Each worker's first take finds the caller
        # pushing and sleeps once; after that the workers' takes, 1.1 us
        # apart, rarely meet. By hand: the caller's pushes (1.6 us), half
        # the tasks and takes on each worker (8 x 1.1 us), a sleep each
        # (10 us, in parallel), within 20 us + one more sleep of slack. Were
        # the lock handed over in FIFO order and unavailable to others
        # while a sleeper wakes, every operation behind a sleeper would
        # wait for it too: about a sleep per task (160 us).
        pr = dict(FREE, lock_hold_ns=100.0, lock_wake_ns=10000.0)
        t = wp.Sim(fan(16, 1000.0), 2, "shared", pr).run()
        self.assertGreaterEqual(t, 1600 + 8 * 1100)
        self.assertLessEqual(t, 1600 + 8 * 1100 + 2 * 10000)

    def test_predict_both(self):
        res = wp.predict(fan(4, 1000.0), [1, 2], FREE)
        self.assertEqual(set(res), {"stealing", "shared"})
        self.assertAlmostEqual(res["stealing"][2], 2000.0, delta=50)


if __name__ == "__main__":
    unittest.main(verbosity=1)
