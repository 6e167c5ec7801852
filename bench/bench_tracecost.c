/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_tracecost.c - what tracing costs a fan-out, inside one
 * process: the same pool runs the same fan-out again and again, every
 * other run traced, so that both kinds of run see the same machine,
 * process and pool state.
 *
 *   bench_tracecost [TASK_US [TASKS [WORKERS [PAIRS [TRACE_FILE [SCHED]]]]]]
 *       defaults: 10 2000 2 50 /dev/shm/bench_tracecost.json stealing
 *       (SCHED: stealing or shared)
 *
 * A run submits TASKS tasks of about TASK_US microseconds of spinning
 * from this (outside) thread and waits with weft_pool_wait_idle (weft-
 * bench's fanout); a traced run is bracketed by weft_pool_trace_start and
 * weft_pool_trace_stop outside its timed part. Which of a pair runs first
 * alternates, because a run that follows a trace file's writing starts
 * with cold caches and parked workers. Prints the median time of each
 * kind, their ratio, and the median and quartiles of the pairs' ratios.
 * Exit status 1 on an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/pool.h>

#include "bench_util.h"

#define MAX_PAIRS 1000

static uint64_t spin_iters;

static int spin_task(void *arg)
{
    (void)arg;
    bench_spin_keep(bench_spin(spin_iters));
    return 0;
}

/* One fan-out, traced into `trace` unless it is NULL: its time in ms, or
 * a negative value on an error (reported). */
static double run(weft_pool *p, long tasks, const char *trace)
{
    int rc = trace != NULL ? weft_pool_trace_start(p, trace, 0) : 0;
    if (rc != 0) {
        fprintf(stderr, "bench_tracecost: weft_pool_trace_start(%s): %s\n", trace, strerror(rc));
        return -1;
    }
    double t0 = bench_now();
    for (long i = 0; i < tasks; i++) {
        if ((rc = weft_pool_submit(p, spin_task, NULL)) != 0) {
            fprintf(stderr, "bench_tracecost: weft_pool_submit: %s\n", strerror(rc));
            return -1;
        }
    }
    weft_pool_wait_idle(p);
    double ms = (bench_now() - t0) * 1e3;
    if (trace != NULL && (rc = weft_pool_trace_stop(p)) != 0) {
        fprintf(stderr, "bench_tracecost: weft_pool_trace_stop: %s\n", strerror(rc));
        return -1;
    }
    return ms;
}

static double quartile(double *sorted, int n, int q)
{
    return sorted[(n - 1) * q / 4];
}

int main(int argc, char **argv)
{
    double task_us = argc > 1 ? atof(argv[1]) : 10.0;
    long tasks = argc > 2 ? atol(argv[2]) : 2000;
    unsigned workers = argc > 3 ? (unsigned)atoi(argv[3]) : 2;
    int pairs = argc > 4 ? atoi(argv[4]) : 50;
    const char *trace = argc > 5 ? argv[5] : "/dev/shm/bench_tracecost.json";
    const char *sched = argc > 6 ? argv[6] : "stealing";
    bool shared = strcmp(sched, "shared") == 0;
    if (argc > 7 || task_us <= 0 || tasks < 1 || workers < 1 || pairs < 1 || pairs > MAX_PAIRS ||
        (!shared && strcmp(sched, "stealing") != 0)) {
        fprintf(stderr,
                "usage: %s [TASK_US>0 [TASKS>0 [WORKERS>0 [PAIRS<=%d [TRACE_FILE [SCHED]]]]]]\n",
                argv[0], MAX_PAIRS);
        return 1;
    }
    spin_iters = bench_spin_iters(task_us);

    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = workers;
    o.scheduler = shared ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING;
    weft_pool *p;
    int rc = weft_pool_create(&p, &o);
    if (rc != 0) {
        fprintf(stderr, "bench_tracecost: weft_pool_create: %s\n", strerror(rc));
        return 1;
    }
    static double off[MAX_PAIRS], on[MAX_PAIRS], ratio[MAX_PAIRS];
    int bad = run(p, tasks, NULL) < 0 || run(p, tasks, trace) < 0; /* warm-up */
    for (int i = 0; i < pairs && !bad; i++) {
        bool on_first = i % 2 == 1;
        double a = run(p, tasks, on_first ? trace : NULL);
        double b = run(p, tasks, on_first ? NULL : trace);
        on[i] = on_first ? a : b;
        off[i] = on_first ? b : a;
        ratio[i] = on[i] / off[i];
        bad = a < 0 || b < 0;
    }
    weft_pool_destroy(p);
    if (bad)
        return 1;
    double mon = bench_median(on, pairs), moff = bench_median(off, pairs);
    double mr = bench_median(ratio, pairs); /* sorts ratio */
    printf("bench_tracecost: %ld tasks of %.1f us, %u workers (%s), %d pairs\n", tasks, task_us,
           workers, sched, pairs);
    printf("off %.3f ms  on %.3f ms  on/off %.3f  pairs: median %.3f, quartiles %.3f-%.3f\n", moff,
           mon, mon / moff, mr, quartile(ratio, pairs, 1), quartile(ratio, pairs, 3));
    return 0;
}
