/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_visible.c - how long the first program a new user writes
 * takes: on a 2-worker pool the parent spawns a short task A, then B
 * (1 s of work), then does 1 s of its own work without calling weft, then
 * syncs both. With B stealable while the parent works, about 1.0 s; with B
 * hidden in the parent's deque until its sync, about 2.0 s. Untyped and
 * typed (weft/fj.h) spawns.
 *
 *     bench_visible [seconds-of-work]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "bench_util.h"

static double work_s = 1.0;

static void busy(double s)
{
    for (double t0 = bench_now(); bench_now() - t0 < s;)
        ;
}

static int short_task(void *arg)
{
    (void)arg;
    return 0;
}

static int long_task(void *arg)
{
    (void)arg;
    busy(work_s);
    return 0;
}

static int untyped_root(void *arg)
{
    (void)arg;
    weft_task a, b;
    weft_spawn(&a, short_task, NULL);
    weft_spawn(&b, long_task, NULL);
    busy(work_s); /* the parent's own work, no weft call */
    weft_sync(&b);
    weft_sync(&a);
    return 0;
}

WEFT_VOID_TASK_1(typed_short, int, unused)
{
    (void)unused;
}

WEFT_VOID_TASK_1(typed_long, int, unused)
{
    (void)unused;
    busy(work_s);
}

WEFT_VOID_TASK_1(typed_root, int, unused)
{
    (void)unused;
    WEFT_FRAME(typed_short) fa;
    WEFT_FRAME(typed_long) fb;
    WEFT_SPAWN(typed_short, &fa, 0);
    WEFT_SPAWN(typed_long, &fb, 0);
    busy(work_s);
    WEFT_SYNC(typed_long, &fb);
    WEFT_SYNC(typed_short, &fa);
}

static int typed_root_task(void *arg)
{
    (void)arg;
    typed_root(0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        work_s = atof(argv[1]);
    weft_pool_options o = {.workers = 2};
    weft_pool *p;
    if (weft_pool_create(&p, &o) != 0)
        return 1;
    for (int round = 0; round < 3; round++) {
        double t0 = bench_now();
        weft_pool_call(p, untyped_root, NULL);
        double t1 = bench_now();
        weft_pool_call(p, typed_root_task, NULL);
        double t2 = bench_now();
        printf("work %.2f s each: untyped %.3f s, typed %.3f s\n", work_s, t1 - t0, t2 - t1);
    }
    return weft_pool_destroy(p);
}
