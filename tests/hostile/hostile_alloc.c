/* SPDX-License-Identifier: MIT */
/*
 * tests/hostile/hostile_alloc.c - allocation failure in the SHARED
 * scheduler, and the cost of the allocation hook itself.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "pool/sched.h" /* the SHARED ring, to fill it */
#include "check_main.h"
#include "hostile.h"

/*
 * Regression: weft__malloc counted every allocation with an atomic
 * increment of one global counter, so all submitting threads contended on
 * one cache line in every program. Until a test arms the hook nothing is
 * counted now: the first call of weft__alloc_fail_at reports 0 allocations
 * made before it. (In a fresh child process: nothing armed the hook there.)
 */
static int count_task(void *arg)
{
    atomic_fetch_add_explicit((_Atomic long *)arg, 1, memory_order_relaxed); /* a count */
    return 0;
}

static int unhooked_child(void *arg)
{
    (void)arg;
    weft_pool *p = NULL;
    _Atomic long ran = 0;
    if (weft_pool_create(&p, NULL) != 0)
        return 2;
    for (int i = 0; i < 1000; i++)
        if (weft_pool_submit(p, count_task, &ran) != 0)
            return 3;
    if (weft_pool_destroy(p) != 0)
        return 4;
    long counted = weft__alloc_fail_at(0);
    return counted == 0 ? 0 : 5;
}

START_TEST(test_hook_counts_nothing_until_armed)
{
    HOSTILE_OK("allocations counted before the hook was armed",
               hostile_run(unhooked_child, NULL, 60));
}
END_TEST

/*
 * Regression: with the SHARED queue's ring full and its growth failing, an
 * outside submit or group spawn retried (sched_yield) for ever, and a
 * worker's submit ran the task inside the call. Each returns ENOMEM now;
 * no task is lost or runs twice.
 */
struct gate {
    _Atomic int g_open;
    _Atomic long g_ran;
};

static int gate_task(void *arg)
{
    struct gate *g = arg;
    /* seq_cst: the test's release. */
    while (!atomic_load_explicit(&g->g_open, memory_order_seq_cst))
        sched_yield();
    return 0;
}

static int ran_task(void *arg)
{
    struct gate *g = arg;
    atomic_fetch_add_explicit(&g->g_ran, 1, memory_order_relaxed); /* a count */
    return 0;
}

/* Submit ran_task until the SHARED ring is full (white-box: its count and
 * capacity); returns how many were submitted, or -1. */
static long fill_ring(weft_pool *p, struct gate *g)
{
    long n = 0;
    /* Relaxed: the workers are held by a gate, so nobody takes meanwhile;
     * the capacity is read under no lock for the same reason. */
    while (atomic_load_explicit(&p->p_sq.sq_count, memory_order_relaxed) < p->p_sq.sq_cap) {
        if (weft_pool_submit(p, ran_task, g) != 0)
            return -1;
        n++;
    }
    return n;
}

/* On the worker, behind the gate: the ring is full; this submit must fail,
 * not run inline. Returns 0 or an error code for the test. */
struct worker_case {
    struct gate *w_gate;
    _Atomic long w_queued;
};

static int worker_submit(void *arg)
{
    struct worker_case *wc = arg;
    weft_pool *p = weft_pool_current();
    long n = fill_ring(p, wc->w_gate);
    if (n < 0)
        return 99;
    atomic_store_explicit(&wc->w_queued, n, memory_order_relaxed); /* read after wait_idle */
    weft__alloc_fail_at(2); /* the heap task, then the ring's growth */
    int r = weft_pool_submit(p, ran_task, wc->w_gate);
    weft__alloc_fail_at(0);
    return r == ENOMEM ? 0 : 100 + r;
}

START_TEST(test_shared_queue_full_enomem)
{
    weft_pool_options o = {.workers = 1, .scheduler = WEFT_SCHED_SHARED};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    struct gate g = {0};
    ck_assert_int_eq(weft_pool_submit(p, gate_task, &g), 0);
    /* Wait until the gate runs (bounded): the ring is then empty. */
    weft_worker_stats st;
    for (int i = 0; i < 1000000; i++) {
        ck_assert_int_eq(weft_pool_stats(p, &st, 1), 0);
        if (st.injected == 1)
            break;
        sched_yield();
    }
    ck_assert_uint_eq(st.injected, 1);
    /* Outside: fill the ring behind the gate, then one submit and one group
     * spawn more. */
    long queued = fill_ring(p, &g);
    ck_assert_int_gt(queued, 0);
    weft__alloc_fail_at(2); /* the heap task, then the ring's growth */
    ck_assert_int_eq(weft_pool_submit(p, ran_task, &g), ENOMEM);
    weft__alloc_fail_at(2);
    weft_group grp;
    ck_assert_int_eq(weft_group_init(&grp, p), 0);
    ck_assert_int_eq(weft_group_spawn(&grp, ran_task, &g), ENOMEM);
    weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_group_wait(&grp), 0); /* the failed spawn left nothing */
    /* Release: pairs with gate_task's load. */
    atomic_store_explicit(&g.g_open, 1, memory_order_seq_cst);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    /* Relaxed: ordered by wait_idle. Every queued task ran exactly once. */
    ck_assert_int_eq(atomic_load_explicit(&g.g_ran, memory_order_relaxed), queued);
    /* On a worker: the same, from inside a task (a gate holds the worker,
     * which is the caller itself here). */
    atomic_store_explicit(&g.g_ran, 0, memory_order_relaxed);
    struct worker_case wc = {&g, 0};
    ck_assert_int_eq(weft_pool_call(p, worker_submit, &wc), 0);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    ck_assert_int_eq(atomic_load_explicit(&g.g_ran, memory_order_relaxed),
                     atomic_load_explicit(&wc.w_queued, memory_order_relaxed));
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_alloc");
    WEFT_TEST_CASE(s, test_hook_counts_nothing_until_armed, 120);
    WEFT_TEST_CASE(s, test_shared_queue_full_enomem, 120);
    return weft_test_run(s);
}
