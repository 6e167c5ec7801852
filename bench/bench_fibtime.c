/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_fibtime.c - one fib(n) with a spawn per call, timed the way
 * other runtimes' fib programs time theirs (Lace's fib-lace: start the
 * pool, time one run, print "Time: <seconds>"), so that the programs can
 * be run interleaved side by side by a shell loop.
 *
 *   bench_fibtime WORKERS N   weft's typed fib (weft/fj.h) on WORKERS
 *   bench_fibtime 0 N         the plain serial fib, compiled here
 *
 * Prints "fib(N) = F" and "Time: S". Exit status 1 on a usage or pool
 * error. bench/RESULTS.md ("Side by side with Lace") shows it in use.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include <weft/fj.h>
#include <weft/pool.h>

#include "bench_util.h"

/* The plain serial fib, as the other programs' serial versions write it
 * (external linkage, as there). */
int fib_serial(int n);
int fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

/* The shape of Lace's pfib: spawn n - 1, call n - 2, sync. */
WEFT_TASK_1(int, pfib, int, n)
{
    if (n < 2)
        return n;
    WEFT_FRAME(pfib) f;
    WEFT_SPAWN(pfib, &f, n - 1);
    int k = WEFT_CALL(pfib, n - 2);
    int m = WEFT_SYNC(pfib, &f);
    return m + k;
}

struct root_arg {
    int n, r;
};

static int root(void *p)
{
    struct root_arg *a = p;
    a->r = pfib(a->n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s WORKERS N   (WORKERS 0: the serial fib)\n", argv[0]);
        return 1;
    }
    int workers = atoi(argv[1]);
    struct root_arg a = {.n = atoi(argv[2])};
    if (workers < 0 || a.n < 0 || a.n > 46) {
        fprintf(stderr, "%s: WORKERS >= 0, 0 <= N <= 46\n", argv[0]);
        return 1;
    }
    double t0, t1;
    if (workers == 0) {
        t0 = bench_now();
        a.r = fib_serial(a.n);
        t1 = bench_now();
    } else {
        weft_pool_options o;
        weft_pool_options_init(&o);
        o.workers = (unsigned)workers;
        weft_pool *p;
        int rc = weft_pool_create(&p, &o);
        if (rc != 0) {
            fprintf(stderr, "%s: weft_pool_create: error %d\n", argv[0], rc);
            return 1;
        }
        t0 = bench_now();
        rc = weft_pool_call(p, root, &a);
        t1 = bench_now();
        weft_pool_destroy(p);
        if (rc != 0) {
            fprintf(stderr, "%s: weft_pool_call: error %d\n", argv[0], rc);
            return 1;
        }
    }
    printf("fib(%d) = %d\nTime: %f\n", a.n, a.r, t1 - t0);
    return 0;
}
