/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_alloc_fail.c - allocation failure at every point of a
 * scenario, with the test-only hook weft__alloc_fail_at(k)
 * of runtime/base/alloc.h.
 *
 * Method: run a scenario once to count its allocations (n), then run it
 * again for every k = 1..n+slack with the k-th allocation failing. In the
 * scenario every call must return 0 or ENOMEM; after ENOMEM the object must
 * be unchanged and usable, so the scenario retries the call (the hook fails
 * one allocation only). At the end nothing may be lost: every item comes out
 * in order, every task ran exactly once. The test also counts how many
 * ENOMEM answers each function gave over all k, and requires that each
 * scenario saw some (else it tested nothing).
 *
 * The pool scenario allocates from several threads, so which call the k-th
 * allocation belongs to varies from run to run; the rules checked hold for
 * every assignment. (The per-component tests - test_collection.c
 * alloc_fail_*, test_pool.c test_enomem, test_task.c enomem_task - check
 * single points; this file sweeps whole scenarios.)
 *
 * Not covered because nothing is allocated there: the collection's
 * any-variant waits (a global generation word, no per-waiter record) and
 * single-collection waits (the record lives on the waiter's stack).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/collection.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "check_main.h"

/* ENOMEM answers seen, per function (relaxed counters: read after joins). */
enum { E_CREATE, E_ADD, E_ADD_ANY, E_POOL_CREATE, E_SUBMIT, E_GROUP_SPAWN, E_SPAWN, E_CALL,
       E_PFOR, E_N };
static const char *const e_names[E_N] = {"collection_create", "add", "add_to_any",
                                         "pool_create", "submit", "group_spawn", "spawn",
                                         "pool_call", "parallel_for"};
static atomic_long enomem_seen[E_N];

static void saw_enomem(int which)
{
    atomic_fetch_add_explicit(&enomem_seen[which], 1, memory_order_relaxed);
}

/* Relaxed: read after the scenario's waits and destroy, which order every
 * saw_enomem before it. */
static long enomem_count(int which)
{
    return atomic_load_explicit(&enomem_seen[which], memory_order_relaxed);
}

static void print_enomem(const char *scenario, long ks)
{
    printf("%s: %ld failure points; ENOMEM answers:", scenario, ks);
    for (int i = 0; i < E_N; i++) {
        long v = enomem_count(i);
        if (v)
            printf(" %s %ld", e_names[i], v);
    }
    printf("; nothing lost\n");
}

/* ---- collection --------------------------------------------------------- */

static int cmp_val(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return (x > y) - (x < y);
}

/* Create c (retrying after ENOMEM: *out untouched), add N items through
 * add and add_to_any across several growths (retrying after ENOMEM, which
 * must leave count unchanged), then take everything back in order. */
static void collection_scenario(weft_order order)
{
    enum { N = 300 };
    weft_collection_options o = {.order = order, .compare = cmp_val};
    weft_collection *c = NULL, *full = NULL;
    int r;
    while ((r = weft_collection_create(&c, &o)) == ENOMEM) {
        ck_assert_ptr_null(c);
        saw_enomem(E_CREATE);
    }
    ck_assert_int_eq(r, 0);
    weft_collection_options one = {.capacity = 1, .order = WEFT_ORDER_FIFO};
    while ((r = weft_collection_create(&full, &one)) == ENOMEM)
        saw_enomem(E_CREATE);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(weft_collection_add(full, NULL), 0); /* bounded, no growth: full */
    weft_collection *cs[2] = {full, c};
    for (uintptr_t i = 1; i <= N; i++) {
        size_t before = weft_collection_count(c);
        bool any = i % 3 == 0;
        for (;;) {
            size_t idx = 99;
            r = any ? weft_collection_add_to_any(cs, 2, (void *)i, &idx, WEFT_NO_WAIT)
                    : weft_collection_add(c, (void *)i);
            if (r != ENOMEM) {
                ck_assert_int_eq(r, 0);
                ck_assert(!any || idx == 1);
                break;
            }
            saw_enomem(any ? E_ADD_ANY : E_ADD);
            ck_assert_uint_eq(weft_collection_count(c), before);
            ck_assert(!any || idx == 99);
        }
        ck_assert_uint_eq(weft_collection_count(c), before + 1);
    }
    for (uintptr_t i = 1; i <= N; i++) {
        void *it;
        ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), 0);
        ck_assert_ptr_eq(it, (void *)i); /* FIFO and PRIORITY agree here */
        ck_assert_int_eq(weft_collection_task_done(c), 0);
    }
    /* ENOMEM adds were not counted as unfinished. */
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL);
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0);
    weft_collection_destroy(c);
    weft_collection_destroy(full);
}

static void sweep(void (*scenario)(weft_order), weft_order arg, const char *name)
{
    weft__alloc_fail_at(0);
    scenario(arg);
    long n = weft__alloc_fail_at(0);
    ck_assert_int_gt(n, 2);
    for (int i = 0; i < E_N; i++)
        atomic_store_explicit(&enomem_seen[i], 0, memory_order_relaxed);
    for (long k = 1; k <= n + 8; k++) {
        weft__alloc_fail_at(k);
        scenario(arg);
    }
    weft__alloc_fail_at(0);
    long seen = 0;
    for (int i = 0; i < E_N; i++)
        seen += enomem_count(i);
    /* Every allocation of these scenarios is visible to a caller. */
    ck_assert_int_ge(seen, n / 2);
    print_enomem(name, n + 8);
}

START_TEST(collection_fifo_every_k)
{
    sweep(collection_scenario, WEFT_ORDER_FIFO, "collection_fifo");
}
END_TEST

START_TEST(collection_priority_every_k)
{
    sweep(collection_scenario, WEFT_ORDER_PRIORITY, "collection_priority");
}
END_TEST

/* ---- pool ------------------------------------------------------------------ */

#define LEAF_TASKS 20
#define TREE_DEPTH 6 /* 2^6 - 1 = 63 spawns per tree, deque capacity 2 */
#define PFOR_N 1000

typedef struct {
    atomic_long s_leaf;         /* leaf task runs */
    atomic_long s_nodes;        /* tree nodes run */
    atomic_long s_pfor;         /* indices covered by parallel_for */
} pstate;

static int leaf(void *arg)
{
    pstate *s = arg;
    atomic_fetch_add_explicit(&s->s_leaf, 1, memory_order_relaxed);
    return 0;
}

typedef struct {
    pstate *n_s;
    int n_depth;
} node_arg;

/* A binary spawn/sync tree; a spawn that fails with ENOMEM (deque growth)
 * pushed nothing, so the node runs its child itself. */
static int node(void *arg)
{
    node_arg *a = arg;
    atomic_fetch_add_explicit(&a->n_s->s_nodes, 1, memory_order_relaxed);
    if (a->n_depth == 0)
        return 0;
    node_arg l = {a->n_s, a->n_depth - 1}, r = {a->n_s, a->n_depth - 1};
    weft_task t;
    int rc = weft_spawn(&t, node, &l);
    if (rc == ENOMEM) {
        saw_enomem(E_SPAWN);
        node(&l);
    } else if (rc != 0) {
        return 1000 + rc;
    }
    int rr = node(&r);
    int rl = rc == 0 ? weft_sync(&t) : 0;
    return rr ? rr : rl;
}

static int pfor_body(size_t lo, size_t hi, void *arg)
{
    pstate *s = arg;
    atomic_fetch_add_explicit(&s->s_pfor, (long)(hi - lo), memory_order_relaxed);
    return 0;
}

/* Runs on a worker: a tree, group spawns from a worker, a parallel_for. */
static int inside(void *arg)
{
    pstate *s = arg;
    node_arg root = {s, TREE_DEPTH};
    int r = node(&root);
    if (r != 0)
        return r;
    weft_group g;
    if (weft_group_init(&g, NULL) != 0)
        return 2000;
    for (int i = 0; i < LEAF_TASKS; i++) {
        int rc;
        while ((rc = weft_group_spawn(&g, leaf, s)) == ENOMEM)
            saw_enomem(E_GROUP_SPAWN);
        if (rc != 0)
            return 3000 + rc;
    }
    if (weft_group_wait(&g) != 0)
        return 4000;
    int rc;
    while ((rc = weft_parallel_for(NULL, 0, PFOR_N, 7, pfor_body, s)) == ENOMEM)
        saw_enomem(E_PFOR); /* cannot happen inside: ENOMEM runs halves inline */
    return rc;
}

static void pool_scenario(weft_order unused)
{
    (void)unused;
    for (int m = 0; m < 2; m++) {
        pstate s;
        atomic_init(&s.s_leaf, 0);
        atomic_init(&s.s_nodes, 0);
        atomic_init(&s.s_pfor, 0);
        weft_pool_options o = {.workers = 2, .deque_capacity = 2,
                               .scheduler = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING};
        weft_pool *p = NULL;
        int rc;
        while ((rc = weft_pool_create(&p, &o)) == ENOMEM) {
            ck_assert_ptr_null(p);
            saw_enomem(E_POOL_CREATE);
        }
        ck_assert_int_eq(rc, 0);
        /* First the tree, while the deques are at capacity 2 (later
         * batches of injected tasks would grow them silently). */
        while ((rc = weft_pool_call(p, inside, &s)) == ENOMEM)
            saw_enomem(E_CALL);
        ck_assert_int_eq(rc, 0);
        /* Outside: submit and group_spawn, retrying after ENOMEM. */
        weft_group g;
        ck_assert_int_eq(weft_group_init(&g, p), 0);
        for (int i = 0; i < LEAF_TASKS; i++) {
            while ((rc = weft_pool_submit(p, leaf, &s)) == ENOMEM)
                saw_enomem(E_SUBMIT);
            ck_assert_int_eq(rc, 0);
            while ((rc = weft_group_spawn(&g, leaf, &s)) == ENOMEM)
                saw_enomem(E_GROUP_SPAWN);
            ck_assert_int_eq(rc, 0);
        }
        while ((rc = weft_parallel_for(p, 0, PFOR_N, 0, pfor_body, &s)) == ENOMEM)
            saw_enomem(E_PFOR);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(weft_group_wait(&g), 0);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        /* Exactly once each: retried calls did not run twice. Relaxed:
         * pool_call, group_wait and wait_idle ordered every task before. */
        ck_assert_int_eq(atomic_load_explicit(&s.s_leaf, memory_order_relaxed), 3 * LEAF_TASKS);
        ck_assert_int_eq(atomic_load_explicit(&s.s_nodes, memory_order_relaxed),
                         (1 << (TREE_DEPTH + 1)) - 1);
        ck_assert_int_eq(atomic_load_explicit(&s.s_pfor, memory_order_relaxed), 2 * PFOR_N);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}

START_TEST(pool_every_k)
{
    sweep(pool_scenario, WEFT_ORDER_FIFO, "pool");
    /* Each kind of call met at least one failure. */
    ck_assert_int_gt(enomem_count(E_POOL_CREATE), 0);
    ck_assert_int_gt(enomem_count(E_SUBMIT), 0);
    ck_assert_int_gt(enomem_count(E_GROUP_SPAWN), 0);
    ck_assert_int_gt(enomem_count(E_CALL), 0);
    ck_assert_int_gt(enomem_count(E_SPAWN), 0); /* deque growth */
}
END_TEST

static Suite *alloc_fail_suite(void)
{
    Suite *s = suite_create("alloc_fail");
    WEFT_TEST_CASE(s, collection_fifo_every_k, 120);
    WEFT_TEST_CASE(s, collection_priority_every_k, 120);
    WEFT_TEST_CASE(s, pool_every_k, 120);
    return s;
}

int main(void)
{
    return weft_test_run(alloc_fail_suite());
}
