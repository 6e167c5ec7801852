/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_queue.c - throughput of weft_collection against a baseline.
 *
 * P producers add N pointer items in total, C consumers take them until the
 * collection is completed; 1P1C, 2P2C and 4P4C, bounded (1024) and
 * unbounded. The baseline, in this file, is the textbook shared queue: a
 * ring buffer under one pthread mutex with two condition variables
 * (not_empty, not_full), signalled on every operation; unbounded, it grows
 * by doubling. Both run in the same process, interleaved (weft, baseline,
 * weft, ...), and the table reports the median of 5 runs in items/s and the
 * ratio weft / baseline. Consumers sum the items so both sides are checked.
 *
 * Usage: bench_queue [--quick] [--only P] [--cap N] [--side weft|base]
 *   --quick      a short smoke run
 *   --only P     only the PxP rows (e.g. --only 1 for 1P1C)
 *   --cap N      only the rows of capacity N (1024, or 0 for unbounded)
 *   --side S     run only one side (for perf/callgrind); the other reads 1
 *   --st N       single thread, no table: N times (add; take) then N adds and
 *                N takes, on weft (or the baseline with --side base); for
 *                callgrind instruction counts per item
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/collection.h>

#include "bench_util.h"

/* ---- the baseline: mutex + two condvars ring ------------------------- */

typedef struct {
    pthread_mutex_t b_lock;
    pthread_cond_t b_not_empty;
    pthread_cond_t b_not_full;
    void **b_ring; /* b_lock */
    size_t b_slots, b_head, b_count; /* b_lock */
    size_t b_capacity;               /* 0: unbounded */
    int b_closed;                    /* b_lock */
} base_queue;

static void base_init(base_queue *q, size_t capacity)
{
    pthread_mutex_init(&q->b_lock, NULL);
    pthread_cond_init(&q->b_not_empty, NULL);
    pthread_cond_init(&q->b_not_full, NULL);
    q->b_slots = capacity ? capacity : 64;
    q->b_ring = malloc(q->b_slots * sizeof *q->b_ring);
    if (!q->b_ring)
        abort();
    q->b_head = q->b_count = 0;
    q->b_capacity = capacity;
    q->b_closed = 0;
}

static void base_fini(base_queue *q)
{
    free(q->b_ring);
    pthread_mutex_destroy(&q->b_lock);
    pthread_cond_destroy(&q->b_not_empty);
    pthread_cond_destroy(&q->b_not_full);
}

static void base_add(base_queue *q, void *item)
{
    pthread_mutex_lock(&q->b_lock);
    while (q->b_capacity && q->b_count == q->b_capacity)
        pthread_cond_wait(&q->b_not_full, &q->b_lock);
    if (q->b_count == q->b_slots) {
        void **r = malloc(2 * q->b_slots * sizeof *r);
        if (!r)
            abort();
        for (size_t i = 0; i < q->b_count; i++)
            r[i] = q->b_ring[(q->b_head + i) % q->b_slots];
        free(q->b_ring);
        q->b_ring = r;
        q->b_head = 0;
        q->b_slots *= 2;
    }
    q->b_ring[(q->b_head + q->b_count) % q->b_slots] = item;
    q->b_count++;
    pthread_cond_signal(&q->b_not_empty);
    pthread_mutex_unlock(&q->b_lock);
}

/* 0 and *item, or EPIPE once closed and empty. */
static int base_take(base_queue *q, void **item)
{
    pthread_mutex_lock(&q->b_lock);
    while (q->b_count == 0 && !q->b_closed)
        pthread_cond_wait(&q->b_not_empty, &q->b_lock);
    if (q->b_count == 0) {
        pthread_mutex_unlock(&q->b_lock);
        return EPIPE;
    }
    *item = q->b_ring[q->b_head];
    q->b_head = (q->b_head + 1) % q->b_slots;
    q->b_count--;
    pthread_cond_signal(&q->b_not_full);
    pthread_mutex_unlock(&q->b_lock);
    return 0;
}

static void base_close(base_queue *q)
{
    pthread_mutex_lock(&q->b_lock);
    q->b_closed = 1;
    pthread_cond_broadcast(&q->b_not_empty);
    pthread_mutex_unlock(&q->b_lock);
}

/* ---- the run --------------------------------------------------------- */

typedef struct {
    int r_weft; /* 1: weft_collection, 0: baseline */
    weft_collection *r_c;
    base_queue *r_q;
    pthread_barrier_t *r_start;
    size_t r_first, r_n; /* producers: items r_first+1 .. r_first+r_n */
    uint64_t r_sum;      /* consumers: sum of the items taken */
} role;

static void *producer(void *arg)
{
    role *r = arg;
    pthread_barrier_wait(r->r_start);
    for (size_t i = r->r_first + 1; i <= r->r_first + r->r_n; i++) {
        void *item = (void *)(uintptr_t)i;
        if (r->r_weft) {
            if (weft_collection_add(r->r_c, item) != 0)
                abort();
        } else {
            base_add(r->r_q, item);
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    role *r = arg;
    void *item;
    uint64_t sum = 0;
    pthread_barrier_wait(r->r_start);
    if (r->r_weft)
        while (weft_collection_take(r->r_c, &item) == 0)
            sum += (uintptr_t)item;
    else
        while (base_take(r->r_q, &item) == 0)
            sum += (uintptr_t)item;
    r->r_sum = sum;
    return NULL;
}

/* One run; returns items per second. */
static double run_once(int use_weft, int np, int nc, size_t capacity, size_t n)
{
    weft_collection *c = NULL;
    base_queue q;
    if (use_weft) {
        weft_collection_options o = {.capacity = capacity, .order = WEFT_ORDER_FIFO};
        if (weft_collection_create(&c, &o) != 0)
            abort();
    } else {
        base_init(&q, capacity);
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)(np + nc + 1));
    role roles[16];
    pthread_t th[16];
    size_t per = n / (size_t)np;
    for (int i = 0; i < np + nc; i++) {
        roles[i] = (role){use_weft, c, &q, &start, (size_t)i * per, per, 0};
        if (pthread_create(&th[i], NULL, i < np ? producer : consumer, &roles[i]) != 0)
            abort();
    }
    pthread_barrier_wait(&start);
    double t0 = bench_now();
    for (int i = 0; i < np; i++)
        pthread_join(th[i], NULL);
    if (use_weft)
        weft_collection_complete_adding(c);
    else
        base_close(&q);
    uint64_t sum = 0;
    for (int i = np; i < np + nc; i++) {
        pthread_join(th[i], NULL);
        sum += roles[i].r_sum;
    }
    double dt = bench_now() - t0;
    uint64_t total = (uint64_t)per * (uint64_t)np;
    if (sum != total * (total + 1) / 2) {
        fprintf(stderr, "bench_queue: %s lost or duplicated items\n", use_weft ? "weft" : "baseline");
        exit(1);
    }
    pthread_barrier_destroy(&start);
    if (use_weft)
        weft_collection_destroy(c);
    else
        base_fini(&q);
    return (double)total / dt;
}

static void *noop_thread(void *arg)
{
    return arg;
}

/* The single-threaded path (--st): no contention, no waiting. Three
 * passes: n times (add; take) on a near-empty queue, n adds (the storage
 * grows), n takes; prints ns per call of each pass. callgrind's instruction
 * count divided by 4n is the cost of one uncontended call. */
static int single_thread(int use_weft, size_t n)
{
    weft_collection *c = NULL;
    base_queue q;
    void *item;
    uint64_t sum = 0;
    double t[4];
    /* glibc drops the lock prefix of pthread_mutex_* while the process has
     * never had a second thread; start one so the baseline pays what it
     * pays in a real program. */
    pthread_t th;
    if (pthread_create(&th, NULL, noop_thread, NULL) != 0 || pthread_join(th, NULL) != 0)
        abort();
    if (use_weft) {
        if (weft_collection_create(&c, NULL) != 0)
            abort();
    } else {
        base_init(&q, 0);
    }
    t[0] = bench_now();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 1; i <= n; i++) {
            if (use_weft) {
                if (weft_collection_add(c, (void *)(uintptr_t)i) != 0)
                    abort();
            } else {
                base_add(&q, (void *)(uintptr_t)i);
            }
            if (pass == 0) {
                if (use_weft ? weft_collection_take(c, &item) : base_take(&q, &item))
                    abort();
                sum += (uintptr_t)item;
            }
        }
        t[pass + 1] = bench_now();
    }
    for (size_t i = 1; i <= n; i++) {
        if (use_weft ? weft_collection_take(c, &item) : base_take(&q, &item))
            abort();
        sum += (uintptr_t)item;
    }
    t[3] = bench_now();
    if (sum != (uint64_t)n * (n + 1))
        abort();
    if (use_weft)
        weft_collection_destroy(c);
    else
        base_fini(&q);
    printf("%s ns/call: add+take %.2f, adds %.2f, takes %.2f\n", use_weft ? "weft" : "base",
           (t[1] - t[0]) * 1e9 / (2.0 * (double)n), (t[2] - t[1]) * 1e9 / (double)n,
           (t[3] - t[2]) * 1e9 / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0, only = 0, side = 0; /* side: 0 both, 1 weft, 2 base */
    long cap_only = -1;                /* -1: both capacities */
    size_t st = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cap") == 0 && i + 1 < argc)
            cap_only = atol(argv[++i]);
        else if (strcmp(argv[i], "--st") == 0 && i + 1 < argc)
            st = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--side") == 0 && i + 1 < argc)
            side = strcmp(argv[++i], "weft") == 0 ? 1 : 2;
        else {
            fprintf(stderr, "usage: bench_queue [--quick] [--only P] [--cap N] [--side weft|base] "
                            "[--st N]\n");
            return 2;
        }
    }
    enum { REPS = 5 };
    int reps = quick ? 1 : REPS;
    size_t n = quick ? 20000 : 2000000;
    const int threads[3] = {1, 2, 4};
    const size_t caps[2] = {1024, 0};

    if (st)
        return single_thread(side != 2, st);
    printf("bench_queue: %zu pointer items per run, median of %d, FIFO\n", n, reps);
    printf("%-6s %-9s %14s %14s %7s\n", "PxC", "capacity", "weft items/s", "base items/s",
           "ratio");
    for (int t = 0; t < 3; t++) {
        if (only && threads[t] != only)
            continue;
        for (int k = 0; k < 2; k++) {
            if (cap_only >= 0 && caps[k] != (size_t)cap_only)
                continue;
            double w[REPS], b[REPS];
            for (int r = 0; r < reps; r++) { /* interleaved */
                w[r] = side == 2 ? 1.0 : run_once(1, threads[t], threads[t], caps[k], n);
                b[r] = side == 1 ? 1.0 : run_once(0, threads[t], threads[t], caps[k], n);
            }
            qsort(w, (size_t)reps, sizeof w[0], bench_cmp_double);
            qsort(b, (size_t)reps, sizeof b[0], bench_cmp_double);
            double wm = w[reps / 2], bm = b[reps / 2];
            char pc[16], cap[32];
            snprintf(pc, sizeof pc, "%dx%d", threads[t], threads[t]);
            if (caps[k])
                snprintf(cap, sizeof cap, "%zu", caps[k]);
            else
                snprintf(cap, sizeof cap, "unbounded");
            printf("%-6s %-9s %14.0f %14.0f %6.2fx\n", pc, cap, wm, bm, wm / bm);
            fflush(stdout);
        }
    }
    return 0;
}
