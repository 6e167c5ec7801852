/* SPDX-License-Identifier: MIT */
/*
 * bench/bench_any.c - what a take_from_any waiter costs the rest of the
 * process.
 *
 * K consumer threads each wait on their own, unrelated collections; one
 * producer (the main thread) adds N items round-robin, item j to consumer
 * j % K. The sequential baseline is the same run with plain take: consumer
 * i takes from its collection A_i. The measured form: consumer i calls
 * take_from_any over its own pair {A_i, B_i} (B_i stays empty). Nothing but
 * the producer's add to A_i concerns consumer i, so a take_from_any run
 * should cost about what the plain run costs; a wake-up that reaches
 * waiters of other collections shows up as CPU per item and context
 * switches.
 *
 * Two pacings. free: the producer adds as fast as it can; consumers that
 * fall behind find items waiting and do not sleep, so how often they wait
 * depends on the scheduler. lockstep: after each add the producer takes an
 * acknowledgement (a plain collection the consumer adds to after each
 * item), so every item finds its consumer asleep and costs exactly one
 * wake-up of it (plus one of the producer), in both forms.
 *
 * Printed per run: items delivered, wall time, CPU time per item (user +
 * system of the whole process, getrusage) and context switches (voluntary +
 * involuntary, getrusage) in total and per item. A run that reaches the
 * time limit stops the producer there (complete_adding on every
 * collection) and is marked "limit"; its figures cover the items delivered.
 *
 * Usage: bench_any [--k K[,K...]] [--items N] [--limit SECONDS]
 *                  [--mode take|any|both] [--pace free|lockstep] [--reps R]
 *   defaults: --k 16,64,256 --items 160000 --limit 100 --mode both
 *   --pace free --reps 1 (with --reps R > 1 the row with the median wall
 *   time is printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <weft/collection.h>

#include "bench_util.h"

typedef struct {
    weft_collection *cn_pair[2]; /* A_i, B_i */
    weft_collection *cn_ack;     /* lockstep: acknowledge each item; else NULL */
    int cn_any;                  /* 1: take_from_any over the pair */
    pthread_barrier_t *cn_start;
    uint64_t cn_items; /* delivered to this consumer */
    uint64_t cn_sum;
} consumer;

static void *consumer_main(void *arg)
{
    consumer *cn = arg;
    void *item;
    pthread_barrier_wait(cn->cn_start);
    for (;;) {
        int r = cn->cn_any
                    ? weft_collection_take_from_any(cn->cn_pair, 2, &item, NULL, WEFT_FOREVER)
                    : weft_collection_take(cn->cn_pair[0], &item);
        if (r == EPIPE)
            break;
        if (r != 0) {
            fprintf(stderr, "bench_any: take returned %d\n", r);
            exit(1);
        }
        cn->cn_items++;
        cn->cn_sum += (uintptr_t)item;
        if (cn->cn_ack && weft_collection_add(cn->cn_ack, NULL) != 0)
            abort();
    }
    return NULL;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

typedef struct {
    uint64_t rs_items;
    double rs_wall, rs_cpu; /* seconds */
    long rs_csw;            /* context switches */
    int rs_limit;           /* 1: stopped at the time limit */
} result;

static result run_once(int k, int any, int lockstep, uint64_t n, double limit)
{
    weft_collection **cs = calloc(2 * (size_t)k, sizeof *cs);
    consumer *cn = calloc((size_t)k, sizeof *cn);
    pthread_t *th = calloc((size_t)k, sizeof *th);
    if (!cs || !cn || !th)
        abort();
    for (int i = 0; i < 2 * k; i++)
        if (weft_collection_create(&cs[i], NULL) != 0)
            abort();
    weft_collection *ack = NULL;
    if (lockstep && weft_collection_create(&ack, NULL) != 0)
        abort();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)k + 1);
    for (int i = 0; i < k; i++) {
        cn[i] = (consumer){{cs[2 * i], cs[2 * i + 1]}, ack, any, &start, 0, 0};
        if (pthread_create(&th[i], NULL, consumer_main, &cn[i]) != 0)
            abort();
    }
    struct rusage r0, r1;
    pthread_barrier_wait(&start);
    getrusage(RUSAGE_SELF, &r0);
    double t0 = bench_now();
    result res = {0};
    uint64_t added = 0;
    for (uint64_t j = 1; j <= n; j++) {
        void *a;
        if (weft_collection_add(cs[2 * (int)(j % (uint64_t)k)], (void *)(uintptr_t)j) != 0 ||
            (ack && weft_collection_take(ack, &a) != 0))
            abort();
        added++;
        if ((j & 255) == 0 && bench_now() - t0 > limit) {
            res.rs_limit = 1;
            break;
        }
    }
    for (int i = 0; i < 2 * k; i++)
        weft_collection_complete_adding(cs[i]);
    uint64_t sum = 0;
    for (int i = 0; i < k; i++) {
        pthread_join(th[i], NULL);
        res.rs_items += cn[i].cn_items;
        sum += cn[i].cn_sum;
    }
    res.rs_wall = bench_now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    res.rs_cpu = tv_s(r1.ru_utime) - tv_s(r0.ru_utime) + tv_s(r1.ru_stime) - tv_s(r0.ru_stime);
    res.rs_csw = (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw);
    if (res.rs_items != added || sum != added * (added + 1) / 2) {
        fprintf(stderr, "bench_any: lost or duplicated items\n");
        exit(1);
    }
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 2 * k; i++)
        weft_collection_destroy(cs[i]);
    weft_collection_destroy(ack);
    free(cs);
    free(cn);
    free(th);
    return res;
}

static int cmp_wall(const void *a, const void *b)
{
    double x = ((const result *)a)->rs_wall, y = ((const result *)b)->rs_wall;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int ks[16] = {16, 64, 256}, nk = 3, reps = 1;
    int modes = 3; /* bit 0: take, bit 1: any */
    int lockstep = 0;
    uint64_t n = 160000;
    double limit = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
            nk = 0;
            for (char *s = strtok(argv[++i], ","); s && nk < 16; s = strtok(NULL, ","))
                ks[nk++] = atoi(s);
        } else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            limit = atof(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pace") == 0 && i + 1 < argc) {
            lockstep = strcmp(argv[++i], "lockstep") == 0;
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            i++;
            modes = strcmp(argv[i], "take") == 0 ? 1 : strcmp(argv[i], "any") == 0 ? 2 : 3;
        } else {
            fprintf(stderr, "usage: bench_any [--k K[,K...]] [--items N] [--limit S] "
                            "[--mode take|any|both] [--pace free|lockstep] [--reps R]\n");
            return 2;
        }
    }
    for (int i = 0; i < nk; i++)
        if (ks[i] < 1) {
            fprintf(stderr, "bench_any: K must be at least 1\n");
            return 2;
        }
    if (reps < 1 || reps > 15 || n == 0)
        return 2;
    printf("bench_any: %llu items, one producer (%s), K consumers on unrelated collections, "
           "time limit %.0f s, median of %d\n",
           (unsigned long long)n, lockstep ? "lockstep" : "free", limit, reps);
    printf("%-5s %-14s %9s %9s %11s %11s %9s\n", "K", "consumers use", "items", "wall s",
           "CPU us/item", "ctx switch", "csw/item");
    for (int i = 0; i < nk; i++) {
        for (int any = 0; any < 2; any++) {
            if (!(modes & (1 << any)))
                continue;
            result rs[15];
            for (int r = 0; r < reps; r++)
                rs[r] = run_once(ks[i], any, lockstep, n, limit);
            qsort(rs, (size_t)reps, sizeof rs[0], cmp_wall);
            result m = rs[reps / 2];
            double items = m.rs_items ? (double)m.rs_items : 1.0;
            printf("%-5d %-14s %9llu %9.2f %11.2f %11ld %9.2f%s\n", ks[i],
                   any ? "take_from_any" : "take", (unsigned long long)m.rs_items, m.rs_wall,
                   m.rs_cpu * 1e6 / items, m.rs_csw, (double)m.rs_csw / items,
                   m.rs_limit ? "  limit" : "");
            fflush(stdout);
        }
    }
    return 0;
}
