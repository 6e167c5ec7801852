/* SPDX-License-Identifier: MIT */
/*
 * runtime/parallel_for.c - weft_parallel_for: recursive binary splitting
 * with spawn/sync down to the grain.
 *
 * The range is halved until a piece is at most `grain` long; the right half
 * is spawned, the left half recursed into, then the right half synced. So
 * every index lies in exactly one leaf. After a body returns non-zero, the
 * first such result is kept, and leaves and splits that have not started
 * yet are skipped (they check the error flag first); leaves already running
 * finish. From outside the pool the root runs through weft_pool_call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "pool/sched.h"

struct pf_ctx {
    int (*pf_body)(size_t lo, size_t hi, void *arg);
    void *pf_arg;
    size_t pf_grain;
    _Atomic int pf_err; /* first non-zero body result (CAS from 0) */
};

struct pf_range {
    struct pf_ctx *r_ctx;
    size_t r_lo, r_hi;
};

static void pf_run(struct pf_ctx *c, size_t lo, size_t hi);

/* A spawned half, or the root run through weft_pool_call. */
static int pf_task(void *arg)
{
    struct pf_range *r = arg;
    pf_run(r->r_ctx, r->r_lo, r->r_hi);
    return 0;
}

static void pf_run(struct pf_ctx *c, size_t lo, size_t hi)
{
    /* Relaxed: skipping is best effort; the result itself is read after
     * the joins, which order it. */
    if (atomic_load_explicit(&c->pf_err, memory_order_relaxed) != 0)
        return;
    if (hi - lo <= c->pf_grain) {
        int r = c->pf_body(lo, hi, c->pf_arg);
        if (r != 0) {
            int zero = 0;
            /* Relaxed CAS: the first error wins; the joins (sync's acquire,
             * pool_call's acquire) publish it to the caller. */
            atomic_compare_exchange_strong_explicit(&c->pf_err, &zero, r, memory_order_relaxed,
                                                    memory_order_relaxed);
        }
        return;
    }
    size_t mid = lo + (hi - lo) / 2;
    struct pf_range right = {c, mid, hi};
    weft_task t;
    if (weft_spawn(&t, pf_task, &right) == 0) {
        pf_run(c, lo, mid);
        weft_sync(&t);
    } else {
        /* ENOMEM (the deque could not grow): do both halves here. */
        pf_run(c, lo, mid);
        pf_run(c, mid, hi);
    }
}

int weft_parallel_for(weft_pool *p, size_t begin, size_t end, size_t grain,
                      int (*body)(size_t lo, size_t hi, void *arg), void *arg)
{
    if (body == NULL || begin > end)
        return EINVAL;
    if ((p = weft__pool_or_current(p)) == NULL)
        return EINVAL;
    if (begin == end)
        return 0;
    size_t n = end - begin;
    if (grain == 0) {
        /* About 8 pieces per worker: ceil(n / d), at least 1 as n > 0. */
        size_t d = (size_t)8 * p->p_nworkers;
        grain = n / d + (n % d != 0);
    }
    struct pf_ctx c = {body, arg, grain, 0};
    struct pf_range root = {&c, begin, end};
    if (weft__worker_of(p) != NULL) {
        pf_run(&c, begin, end);
    } else {
        int rc = weft_pool_call(p, pf_task, &root);
        if (rc != 0)
            return rc;
    }
    /* Relaxed: ordered by the joins above. */
    return atomic_load_explicit(&c.pf_err, memory_order_relaxed);
}
