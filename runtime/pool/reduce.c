/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/reduce.c - weft_parallel_reduce: a deterministic reduction
 * by recursive binary splitting with spawn/sync down to the grain.
 *
 * The tree depends on (begin, end, grain) only: a range longer than the
 * grain splits at lo + (hi - lo) / 2, every leaf folds its sub-range into
 * an identity accumulator, and every inner node combines its left result
 * with its right one, left first. Which worker runs which node changes
 * nothing, so the result is bit-identical for any number of workers and
 * either scheduler. A node's left half folds into the node's own
 * accumulator (an identity until then); only the right half gets a new
 * one, on the node's stack if it is small, else on the heap. Every
 * accumulator made is combined into its parent, even after a stop, so that
 * accumulators that own memory hand it on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "base/alloc.h"
#include "pool/sched.h"

/* Accumulators up to this size live on the splitting node's stack; the
 * recursion is at most 64 levels deep (halving a size_t range). */
#define PR_STACK_ACC 128
/* grain 0: at most this many leaves, whatever the number of workers. */
#define PR_AUTO_LEAVES 1024

struct pr_ctx {
    void (*pr_init)(void *acc, void *arg);
    int (*pr_body)(size_t lo, size_t hi, void *acc, void *arg);
    void (*pr_combine)(void *acc, void *other, void *arg);
    void *pr_arg;
    size_t pr_size, pr_grain;
    _Atomic int pr_body_err; /* first non-zero body result (CAS from 0) */
    _Atomic int pr_err;      /* ENOMEM: an accumulator could not be had */
};

struct pr_range {
    struct pr_ctx *r_ctx;
    size_t r_lo, r_hi;
    void *r_acc;
};

static void pr_run(struct pr_ctx *c, size_t lo, size_t hi, void *acc);

/* A spawned right half, or the root run through weft_pool_call. */
static int pr_task(void *arg)
{
    struct pr_range *r = arg;
    pr_run(r->r_ctx, r->r_lo, r->r_hi, r->r_acc);
    return 0;
}

static void pr_fail(_Atomic int *err, int r)
{
    int zero = 0;
    /* Relaxed CAS: the first one wins; the joins (sync's acquire,
     * pool_call's acquire) publish it to the caller. */
    atomic_compare_exchange_strong_explicit(err, &zero, r, memory_order_relaxed,
                                            memory_order_relaxed);
}

static void pr_run(struct pr_ctx *c, size_t lo, size_t hi, void *acc)
{
    /* Relaxed: stopping is best effort; the results are read after the
     * joins, which order them. */
    if (atomic_load_explicit(&c->pr_body_err, memory_order_relaxed) != 0
        || atomic_load_explicit(&c->pr_err, memory_order_relaxed) != 0)
        return; /* acc stays the identity */
    if (hi - lo <= c->pr_grain) {
        int r = c->pr_body(lo, hi, acc, c->pr_arg);
        if (r != 0)
            pr_fail(&c->pr_body_err, r);
        return;
    }
    size_t mid = lo + (hi - lo) / 2;
    union {
        max_align_t a;
        unsigned char b[PR_STACK_ACC];
    } buf;
    void *racc = c->pr_size <= sizeof(buf) ? (void *)&buf : weft__malloc(c->pr_size);
    if (racc == NULL) {
        pr_fail(&c->pr_err, ENOMEM);
        return;
    }
    c->pr_init(racc, c->pr_arg);
    struct pr_range right = {c, mid, hi, racc};
    weft_task t;
    if (weft_spawn(&t, pr_task, &right) == 0) {
        pr_run(c, lo, mid, acc);
        weft_sync(&t);
    } else {
        /* ENOMEM (the deque could not grow): both halves here, same tree. */
        pr_run(c, lo, mid, acc);
        pr_run(c, mid, hi, racc);
    }
    c->pr_combine(acc, racc, c->pr_arg);
    if (racc != (void *)&buf)
        weft__free(racc);
}

int weft_parallel_reduce(weft_pool *p, size_t begin, size_t end, size_t grain, void *result,
                         size_t size, void (*init)(void *acc, void *arg),
                         int (*body)(size_t lo, size_t hi, void *acc, void *arg),
                         void (*combine)(void *acc, void *other, void *arg), void *arg,
                         int *body_result)
{
    if (result == NULL || size == 0 || init == NULL || body == NULL || combine == NULL
        || begin > end)
        return EINVAL;
    if ((p = weft__pool_or_current(p)) == NULL)
        return EINVAL;
    init(result, arg);
    if (body_result != NULL)
        *body_result = 0;
    if (begin == end)
        return 0;
    size_t n = end - begin;
    if (grain == 0)
        grain = n / PR_AUTO_LEAVES + (n % PR_AUTO_LEAVES != 0); /* >= 1 as n > 0 */
    struct pr_ctx c = {init, body, combine, arg, size, grain, 0, 0};
    struct pr_range root = {&c, begin, end, result};
    if (weft__worker_of(p) != NULL) {
        pr_run(&c, begin, end, result);
    } else {
        int rc = weft_pool_call(p, pr_task, &root); /* pr_task returns 0 */
        if (rc != 0)
            return rc;
    }
    /* Relaxed: ordered by the joins above. */
    int body_err = atomic_load_explicit(&c.pr_body_err, memory_order_relaxed);
    if (body_result != NULL)
        *body_result = body_err;
    if (atomic_load_explicit(&c.pr_err, memory_order_relaxed) != 0)
        return ENOMEM;
    return body_err != 0 ? ECANCELED : 0;
}
