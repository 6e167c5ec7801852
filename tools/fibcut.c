/* SPDX-License-Identifier: MIT */
/*
 * tools/fibcut.c - fib(n) with a serial cutoff, timed the way weft-bench
 * times its workloads (the median of interleaved runs through
 * weft_pool_call), optionally traced: one of weft-prof's validation cases
 * (docs/design/tracing.md, "Validation"). Not installed.
 *
 * usage: fibcut N CUTOFF WORKERS REPS [TRACEDIR]
 * prints one line per variant: "serial|stealing|shared median_ns min_ns".
 * With TRACEDIR, every timed weft run writes TRACEDIR/fibcut-VARIANT-rK.json
 * (set WEFT_TRACE_DAG=1 for the task graph).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/pool.h>
#include <weft/task.h>

static int cutoff;

static uint64_t fib_serial(int n)
{
    return n < 2 ? (uint64_t)n : fib_serial(n - 1) + fib_serial(n - 2);
}

struct fib_arg {
    int n;
    uint64_t r;
};

static int fib_task(void *p)
{
    struct fib_arg *a = p;
    if (a->n < cutoff) {
        a->r = fib_serial(a->n);
        return 0;
    }
    struct fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
    weft_task t;
    int rc = weft_spawn(&t, fib_task, &x);
    if (rc != 0)
        return rc;
    fib_task(&y);
    rc = weft_sync(&t);
    a->r = x.r + y.r;
    return rc;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: fibcut N CUTOFF WORKERS REPS [TRACEDIR]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    cutoff = atoi(argv[2]);
    unsigned workers = (unsigned)atoi(argv[3]);
    int reps = atoi(argv[4]);
    const char *dir = argc > 5 ? argv[5] : NULL;
    if (n < 0 || n > 60 || cutoff < 2 || workers < 1 || reps < 1 || reps > 1000)
        return 2;
    weft_pool *pools[2];
    for (int k = 0; k < 2; k++) {
        weft_pool_options o = {.workers = workers,
                               .scheduler = k ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING,
                               .seed = 42};
        int rc = weft_pool_create(&pools[k], &o);
        if (rc != 0) {
            fprintf(stderr, "fibcut: weft_pool_create: %s\n", strerror(rc));
            return 1;
        }
    }
    static const char *const names[3] = {"serial", "stealing", "shared"};
    double *t[3];
    for (int v = 0; v < 3; v++)
        t[v] = calloc((size_t)reps, sizeof(double));
    uint64_t want = fib_serial(n);
    for (int r = -1; r < reps; r++) { /* one warm-up */
        for (int v = 0; v < 3; v++) {
            struct fib_arg a = {n, 0};
            char path[4096];
            bool traced = dir != NULL && r >= 0 && v > 0;
            if (traced) {
                snprintf(path, sizeof path, "%s/fibcut-%s-r%d.json", dir, names[v], r + 1);
                if (weft_pool_trace_start(pools[v - 1], path, 0) != 0)
                    traced = false;
            }
            volatile int vn = n; /* a fresh call each time: fib_serial is pure */
            double t0 = now_ns();
            if (v == 0)
                a.r = fib_serial(vn);
            else
                weft_pool_call(pools[v - 1], fib_task, &a);
            double t1 = now_ns();
            if (traced)
                weft_pool_trace_stop(pools[v - 1]);
            if (a.r != want) {
                fprintf(stderr, "fibcut: %s: wrong answer\n", names[v]);
                return 1;
            }
            if (r >= 0)
                t[v][r] = t1 - t0;
        }
    }
    for (int v = 0; v < 3; v++) {
        qsort(t[v], (size_t)reps, sizeof(double), cmp);
        double med = reps % 2 ? t[v][reps / 2] : (t[v][reps / 2 - 1] + t[v][reps / 2]) / 2;
        printf("%s %.0f %.0f\n", names[v], med, t[v][0]);
        free(t[v]);
    }
    for (int k = 0; k < 2; k++)
        weft_pool_destroy(pools[k]);
    return 0;
}
