/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_fib.c - fork-join overhead and outside fan-out, STEALING vs
 * SHARED, each against its sequential baseline.
 *
 *   bench_fib [fib_n [shared_fib_n [fanout_tasks [reps]]]]
 *             defaults: 40 30 200000 5
 *
 * Workloads (each on 1 and 2 workers, both schedulers, `reps` rounds,
 * interleaved: round r runs every configuration once; medians reported):
 *   fib      fib(n) with no cutoff via weft_spawn/weft_sync, and as a typed
 *            task (weft/fj.h), against a serial fib compiled here with the
 *            same shape. SHARED mode pays a lock
 *            per spawn, so it runs a smaller n (shared_fib_n); compare it per
 *            spawn (ns/spawn), not in seconds.
 *   fanout   `fanout_tasks` independent tasks of ~1 us of spinning each,
 *            submitted by one outside thread, then weft_pool_wait_idle;
 *            throughput in tasks/s.
 * Serial fib, 1-worker fib and `floor` (fib_task's shape - arguments and
 * results in memory - with plain calls instead of spawn/sync: what no
 * runtime can beat) are also timed in process CPU time, which a shared,
 * busy machine disturbs less than wall time (the other pools' workers are
 * parked then, and the caller blocks in weft_pool_call).
 * Targets on the 2-core reference machine: fib(40) T1/Tserial <= 3,
 * speed-up 1->2 workers >= 1.8, fanout STEALING >= 3x SHARED at 2 workers.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "bench_util.h"

/* ---- fib ---------------------------------------------------------------- */

/* Aligned: the speed of this tight recursion depends on where its loop
 * falls relative to 64-byte boundaries (0.068 to 0.088 s for fib(38) on the
 * reference machine, from one build to another); a fixed alignment makes
 * the baseline reproducible and keeps it at its fast end. */
static __attribute__((noinline, aligned(64))) long fib_serial(int n)
{
    if (n < 2)
        return n;
    return fib_serial(n - 1) + fib_serial(n - 2);
}

struct fib_arg {
    int n;
    long r;
};

static __attribute__((aligned(64))) int fib_task(void *arg)
{
    struct fib_arg *a = arg;
    if (a->n < 2) {
        a->r = a->n;
        return 0;
    }
    struct fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
    weft_task t;
    weft_spawn(&t, fib_task, &x);
    fib_task(&y);
    weft_sync(&t);
    a->r = x.r + y.r;
    return 0;
}

/* fib_task without the runtime: the floor of this task shape. */
static __attribute__((aligned(64))) int fib_floor(void *arg)
{
    struct fib_arg *a = arg;
    if (a->n < 2) {
        a->r = a->n;
        return 0;
    }
    struct fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
    fib_floor(&x);
    fib_floor(&y);
    a->r = x.r + y.r;
    return 0;
}

/* The same recursion as a typed task (weft/fj.h): argument and result in
 * registers, the private deque index a hidden parameter. */
WEFT_TASK_1(long, fib_typed, int, n)
{
    if (n < 2)
        return n;
    WEFT_FRAME(fib_typed) f;
    WEFT_SPAWN(fib_typed, &f, n - 1);
    long b = WEFT_CALL(fib_typed, n - 2);
    long a = WEFT_SYNC(fib_typed, &f);
    return a + b;
}

static __attribute__((aligned(64))) int fib_typed_root(void *arg)
{
    struct fib_arg *a = arg;
    a->r = fib_typed(a->n);
    return 0;
}

/* Wall time; *cpu gets the process CPU time of the same interval. */
static double run_fib(weft_pool *p, weft_task_fn fn, int n, long want, double *cpu)
{
    struct fib_arg a = {n, 0};
    double c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID), t0 = bench_now();
    weft_pool_call(p, fn, &a);
    double t = bench_now() - t0;
    *cpu = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (a.r != want) {
        fprintf(stderr, "fib(%d) = %ld, want %ld\n", n, a.r, want);
        exit(1);
    }
    return t;
}

/* ---- fan-out ------------------------------------------------------------ */

static uint64_t spin_iters = 1000;

static int spin_task(void *arg)
{
    (void)arg;
    bench_spin_keep(bench_spin(spin_iters));
    return 0;
}

static double run_fanout(weft_pool *p, long tasks)
{
    double t0 = bench_now();
    for (long i = 0; i < tasks; i++)
        if (weft_pool_submit(p, spin_task, NULL) != 0) {
            fprintf(stderr, "submit failed\n");
            exit(1);
        }
    weft_pool_wait_idle(p);
    return bench_now() - t0;
}

/* ---- driver ------------------------------------------------------------- */

#define MAXREPS 21

int main(int argc, char **argv)
{
    int fib_n = argc > 1 ? atoi(argv[1]) : 40;
    int shared_fib_n = argc > 2 ? atoi(argv[2]) : 30;
    long fanout = argc > 3 ? atol(argv[3]) : 200000;
    int reps = argc > 4 ? atoi(argv[4]) : 5;
    if (reps < 1 || reps > MAXREPS || fib_n < 2 || shared_fib_n < 2 || fanout < 1) {
        fprintf(stderr, "usage: %s [fib_n [shared_fib_n [fanout_tasks [reps<=%d]]]]\n", argv[0],
                MAXREPS);
        return 2;
    }
    spin_iters = bench_spin_iters(1.0);
    long want = fib_serial(fib_n), want_shared = fib_serial(shared_fib_n);
    /* Spawns of fib(n) with this shape: one per internal node = fib(n+1)-1. */
    double spawns = (double)fib_serial(fib_n + 1) - 1;
    double spawns_shared = (double)fib_serial(shared_fib_n + 1) - 1;

    /* [mode][workers-1] */
    double t_fib[2][2][MAXREPS], t_fan[2][2][MAXREPS], t_ser[MAXREPS];
    double c_fib[2][2][MAXREPS], c_ser[MAXREPS], c_floor[MAXREPS];
    double t_typed[2][MAXREPS], c_typed[2][MAXREPS]; /* [workers-1]: STEALING */
    weft_pool *pools[2][2];
    for (int m = 0; m < 2; m++)
        for (int w = 0; w < 2; w++) {
            weft_pool_options o = {.workers = (unsigned)w + 1,
                                   .scheduler = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING};
            if (weft_pool_create(&pools[m][w], &o) != 0) {
                fprintf(stderr, "pool_create failed\n");
                return 1;
            }
        }
    for (int r = 0; r < reps; r++) {
        /* Through volatiles: fib_serial is pure, and the compiler would
         * otherwise reuse `want` instead of calling it again. */
        volatile int vn = fib_n;
        double c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID), t0 = bench_now();
        volatile long s = fib_serial(vn);
        t_ser[r] = bench_now() - t0;
        c_ser[r] = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
        (void)s;
        struct fib_arg fa = {vn, 0};
        c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
        fib_floor(&fa);
        c_floor[r] = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (fa.r != want) {
            fprintf(stderr, "fib_floor(%d) = %ld, want %ld\n", fib_n, fa.r, want);
            return 1;
        }
        for (int m = 0; m < 2; m++)
            for (int w = 0; w < 2; w++) {
                t_fib[m][w][r] = run_fib(pools[m][w], fib_task, m ? shared_fib_n : fib_n,
                                         m ? want_shared : want, &c_fib[m][w][r]);
                t_fan[m][w][r] = run_fanout(pools[m][w], fanout);
            }
        for (int w = 0; w < 2; w++)
            t_typed[w][r] = run_fib(pools[0][w], fib_typed_root, fib_n, want, &c_typed[w][r]);
    }
    double ser = bench_median(t_ser, reps), cser = bench_median(c_ser, reps);
    double c1 = bench_median(c_fib[0][0], reps), cfloor = bench_median(c_floor, reps);
    double fib_med[2][2], fan_med[2][2];
    for (int m = 0; m < 2; m++)
        for (int w = 0; w < 2; w++) {
            fib_med[m][w] = bench_median(t_fib[m][w], reps);
            fan_med[m][w] = bench_median(t_fan[m][w], reps);
        }
    printf("bench_fib: fib_n=%d shared_fib_n=%d fanout=%ld tasks of ~1 us (%llu spin iters) "
           "reps=%d (medians, interleaved)\n",
           fib_n, shared_fib_n, fanout, (unsigned long long)spin_iters, reps);
    printf("serial fib(%d): %.3f s (%.2f ns/call)\n", fib_n, ser,
           ser * 1e9 / (2 * spawns + 1));
    static const char *mname[2] = {"stealing", "shared"};
    for (int m = 0; m < 2; m++)
        for (int w = 0; w < 2; w++) {
            double sp = m ? spawns_shared : spawns;
            printf("%-8s %d worker(s): fib(%d) %.3f s (%.2f ns/spawn)   fanout %.3f s "
                   "(%.0f tasks/s)\n",
                   mname[m], w + 1, m ? shared_fib_n : fib_n, fib_med[m][w],
                   fib_med[m][w] * 1e9 / sp, fan_med[m][w], (double)fanout / fan_med[m][w]);
        }
    double t1_ts = fib_med[0][0] / ser;
    double speedup = fib_med[0][0] / fib_med[0][1];
    double fan_ratio = fan_med[1][1] / fan_med[0][1];
    printf("fib(%d) T1/Tserial (stealing)        = %.2f  (target <= 3)\n", fib_n, t1_ts);
    printf("fib(%d) T1/Tserial, process CPU time = %.2f  (serial %.3f s, T1 %.3f s)\n", fib_n,
           c1 / cser, cser, c1);
    printf("fib(%d) floor/Tserial, CPU time      = %.2f  (fib_task shape, plain calls: %.3f s)\n",
           fib_n, cfloor / cser, cfloor);
    printf("fib(%d) speed-up 1->2 workers        = %.2f  (target >= 1.8)\n", fib_n, speedup);
    double ty1 = bench_median(t_typed[0], reps), ty2 = bench_median(t_typed[1], reps);
    double cty1 = bench_median(c_typed[0], reps);
    printf("typed (weft/fj.h) fib(%d): 1 worker %.3f s (%.2f ns/spawn), 2 workers %.3f s\n",
           fib_n, ty1, ty1 * 1e9 / spawns, ty2);
    printf("fib(%d) T1/Tserial typed (weft/fj.h)  = %.2f  (target <= 3; CPU time: %.2f)\n",
           fib_n, ty1 / ser, cty1 / cser);
    printf("fib(%d) speed-up 1->2 workers, typed = %.2f\n", fib_n, ty1 / ty2);
    printf("fanout 2 workers stealing/shared tput = %.2f  (target >= 3)\n", fan_ratio);
    printf("shared fib per spawn vs stealing, 1 worker = %.1fx\n",
           (fib_med[1][0] / spawns_shared) / (fib_med[0][0] / spawns));
    for (int m = 0; m < 2; m++)
        for (int w = 0; w < 2; w++) {
            weft_worker_stats st[2];
            weft_pool_stats(pools[m][w], st, 2);
            unsigned long long steals = 0, parks = 0, inj = 0;
            for (int i = 0; i <= w; i++) {
                steals += st[i].steals;
                parks += st[i].parks;
                inj += st[i].injected;
            }
            printf("stats %-8s %d: steals %llu injected %llu parks %llu\n", mname[m], w + 1,
                   steals, inj, parks);
            weft_pool_destroy(pools[m][w]);
        }
    return 0;
}
