/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_reduce.c - the cost of weft_parallel_reduce's determinism
 * against a plain reduction, each against the serial loop.
 *
 *   bench_reduce [n [reps]]      defaults: 4194304 doubles, 9 rounds
 *
 * Workload: the sum of n doubles, on 1 and 2 workers (STEALING), and the
 * same on n/1024 elements to show the fixed cost per call. Variants:
 *   serial   a plain loop (the baseline);
 *   pfor     weft_parallel_for (automatic grain) adding into per-worker
 *            partial sums (one cache line each, by weft_worker_index),
 *            added up at the end: fast, but its result depends on which
 *            worker ran what;
 *   reduce   weft_parallel_reduce, grain 0 (at most 1024 leaves): the
 *            same bits for any number of workers;
 *   reduce=g weft_parallel_reduce with pfor's grain (as few leaves).
 * Rounds are interleaved (round r runs every configuration once); medians
 * of wall time. The last column says whether the sums of the variant were
 * bit-identical across worker counts.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/pool.h>

#include "bench_util.h"

static double *data;

static double serial_sum(size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += data[i];
    return s;
}

/* ---- pfor: per-worker partial sums ------------------------------------- */

enum { SLOTS = 64 };
static struct {
    _Alignas(64) double s;
} partial[SLOTS];

static int pfor_body(size_t lo, size_t hi, void *arg)
{
    (void)arg;
    double s = 0;
    for (size_t i = lo; i < hi; i++)
        s += data[i];
    partial[weft_worker_index() % SLOTS].s += s; /* one writer per slot */
    return 0;
}

static double pfor_sum(weft_pool *p, size_t n)
{
    memset(partial, 0, sizeof(partial));
    if (weft_parallel_for(p, 0, n, 0, pfor_body, NULL) != 0)
        abort();
    double s = 0;
    for (int i = 0; i < SLOTS; i++)
        s += partial[i].s;
    return s;
}

/* ---- reduce ------------------------------------------------------------- */

static void r_init(void *acc, void *arg)
{
    (void)arg;
    *(double *)acc = 0;
}

static int r_body(size_t lo, size_t hi, void *acc, void *arg)
{
    (void)arg;
    double s = *(double *)acc;
    for (size_t i = lo; i < hi; i++)
        s += data[i];
    *(double *)acc = s;
    return 0;
}

static void r_combine(void *acc, void *other, void *arg)
{
    (void)arg;
    *(double *)acc += *(double *)other;
}

static double reduce_sum(weft_pool *p, size_t n, size_t grain)
{
    double s;
    int br;
    if (weft_parallel_reduce(p, 0, n, grain, &s, sizeof(s), r_init, r_body, r_combine, NULL,
                             &br)
        != 0)
        abort();
    return s;
}

/* ---- the table ---------------------------------------------------------- */

enum { V_SERIAL, V_PFOR, V_REDUCE, V_REDUCE_G, NV };
static const char *vname[NV] = {"serial", "pfor", "reduce", "reduce=g"};

static void run(weft_pool *pools[2], size_t n, int reps)
{
    size_t calls = n >= 1u << 20 ? 1 : (1u << 22) / n; /* short sums: many calls per sample */
    double *t[2][NV], sum[2][NV];
    for (int w = 0; w < 2; w++)
        for (int v = 0; v < NV; v++)
            t[w][v] = calloc((size_t)reps, sizeof(double));
    for (int r = 0; r < reps; r++) {
        for (int w = 0; w < 2; w++) {
            /* parallel_for's automatic grain: about 8 pieces per worker. */
            size_t d = (size_t)8 * weft_pool_size(pools[w]);
            size_t pgrain = n / d + (n % d != 0);
            for (int v = w == 0 ? 0 : 1; v < NV; v++) { /* serial: once per round */
                double t0 = bench_now(), s = 0;
                for (size_t c = 0; c < calls; c++) {
                    switch (v) {
                    case V_SERIAL: s = serial_sum(n); break;
                    case V_PFOR: s = pfor_sum(pools[w], n); break;
                    case V_REDUCE: s = reduce_sum(pools[w], n, 0); break;
                    default: s = reduce_sum(pools[w], n, pgrain); break;
                    }
                }
                t[w][v][r] = (bench_now() - t0) / (double)calls;
                sum[w][v] = s;
                /* Untimed: the pool must settle (the calls' heap tasks are
                 * retired just after their callers wake); a task that never
                 * ran would make every later figure meaningless. */
                if (v != V_SERIAL && weft_pool_try_wait_idle(pools[w], 1000000000) != 0) {
                    fprintf(stderr, "bench_reduce: the pool did not go idle\n");
                    exit(1);
                }
            }
        }
    }
    printf("n = %zu doubles (%zu calls per sample)\n", n, calls);
    printf("  %-9s %12s %12s %9s %9s  %s\n", "variant", "1 worker", "2 workers", "T1/Tser",
           "speed-up", "same bits");
    double ser = bench_median(t[0][V_SERIAL], reps);
    for (int v = 0; v < NV; v++) {
        double t1 = bench_median(t[0][v], reps), t2 = bench_median(t[1][v], reps);
        /* pfor's grain differs with the worker count, so reduce=g's tree does. */
        int same = memcmp(&sum[0][v], &sum[1][v], sizeof(double)) == 0;
        if (v == V_SERIAL)
            printf("  %-9s %9.1f us %12s %9.2f %9s  %s\n", vname[v], t1 * 1e6, "-", 1.0, "-",
                   "-");
        else
            printf("  %-9s %9.1f us %9.1f us %9.2f %9.2f  %s\n", vname[v], t1 * 1e6, t2 * 1e6,
                   t1 / ser, t1 / t2, same ? "yes" : "no");
    }
    for (int w = 0; w < 2; w++)
        for (int v = 0; v < NV; v++)
            free(t[w][v]);
}

/* Worker threads started, and stopped, over both pools (the hooks): once
 * the pools are destroyed every thread that started has stopped, and
 * there were at least the 3 workers. Relaxed: read after the destroys,
 * whose joins order every hook's increment before them. */
static atomic_int started, stopped;

static void on_start(unsigned index, void *arg)
{
    (void)index, (void)arg;
    atomic_fetch_add_explicit(&started, 1, memory_order_relaxed);
}

static void on_stop(unsigned index, void *arg)
{
    (void)index, (void)arg;
    atomic_fetch_add_explicit(&stopped, 1, memory_order_relaxed);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)1 << 22;
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    if (n < 1024 || reps < 1) {
        fprintf(stderr, "usage: bench_reduce [n >= 1024 [reps >= 1]]\n");
        return 2;
    }
    data = malloc(n * sizeof(*data));
    if (data == NULL)
        return 2;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        data[i] = (double)(x >> 11) * 0x1p-53 * ((x & 1) ? 1e3 : 1e-3);
    }
    weft_pool *pools[2];
    for (int w = 0; w < 2; w++) {
        weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
        o.workers = (unsigned)w + 1;
        o.name = "bench";
        o.stack_size = (size_t)1 << 20; /* the bodies are flat loops: 1 MiB stacks */
        o.on_worker_start = on_start;
        o.on_worker_stop = on_stop;
        if (weft_pool_create(&pools[w], &o) != 0)
            return 2;
    }
    run(pools, n, reps);
    run(pools, n / 1024, reps);
    for (int w = 0; w < 2; w++)
        weft_pool_destroy(pools[w]);
    free(data);
    /* Spares (if any) count too. */
    int made = atomic_load_explicit(&started, memory_order_relaxed);
    if (made < 3 || atomic_load_explicit(&stopped, memory_order_relaxed) != made) {
        fprintf(stderr, "bench_reduce: %d worker threads started, %d stopped\n", made,
                atomic_load_explicit(&stopped, memory_order_relaxed));
        return 1;
    }
    return 0;
}
