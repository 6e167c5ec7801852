/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_util.h - the clock and the median that the focused
 * benchmarks (bench_*.c) share; weft-bench has its own in wb.h and
 * weft_bench.c.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC (wall) or CLOCK_PROCESS_CPUTIME_ID (CPU). */
static inline double bench_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double bench_now(void)
{
    return bench_clock(CLOCK_MONOTONIC);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n-1], n > 0 (sorts v). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Spin for `iters` dependent multiply steps (no memory traffic); the
 * result depends on every step, so it cannot be optimised away. */
static inline uint64_t bench_spin(uint64_t iters)
{
    uint64_t x = 1;
    for (uint64_t i = 0; i < iters; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

/* Where spinning code leaves its result, so that the compiler keeps the
 * loop. Relaxed: nothing reads it; an atomic because tasks on several
 * workers store at once. */
static _Atomic uint64_t bench_spin_sink;

static inline void bench_spin_keep(uint64_t x)
{
    atomic_store_explicit(&bench_spin_sink, x, memory_order_relaxed);
}

/* The bench_spin iteration count that takes about `us` microseconds (the
 * median of five timed runs of 100,000 iterations); at least 1. */
static inline uint64_t bench_spin_iters(double us)
{
    const uint64_t iters = 100000;
    double t[5];
    for (int i = 0; i < 5; i++) {
        double t0 = bench_now();
        bench_spin_keep(bench_spin(iters));
        t[i] = bench_now() - t0;
    }
    double per = bench_median(t, 5) / (double)iters;
    uint64_t n = (uint64_t)(us * 1e-6 / per);
    return n == 0 ? 1 : n;
}

#endif /* BENCH_UTIL_H */
