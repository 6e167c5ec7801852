/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_task.c - fork-join (weft/task.h) and parallel_for:
 * fib(25) by spawn/sync and by groups on 1, 2, 4 workers in both modes, a
 * seeded random spawn tree (every id runs once), a 10,000-deep chain of
 * nested spawn/sync, out-of-order syncs, group errors/cancel/reuse,
 * spawn ENOMEM, and parallel_for coverage.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "pool/sched.h" /* weft__debug_out_of_order */
#include "check_main.h"

static weft_pool *make_pool(unsigned workers, weft_scheduler mode, size_t cap)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode, .seed = 7,
                           .deque_capacity = cap};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

static const weft_scheduler modes[2] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};
static const unsigned worker_counts[3] = {1, 2, 4};

/* ---- fib by spawn/sync ------------------------------------------------- */

struct fib_arg {
    int n;
    long result;
};

static long fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static int fib_task(void *arg)
{
    struct fib_arg *a = arg;
    if (a->n < 2) {
        a->result = a->n;
        return 0;
    }
    struct fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
    weft_task t;
    int rc = weft_spawn(&t, fib_task, &x);
    if (rc != 0)
        return rc;
    fib_task(&y);
    rc = weft_sync(&t);
    a->result = x.result + y.result;
    return rc;
}

START_TEST(test_fib_spawn_sync)
{
    long want = fib_serial(25);
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 3; k++) {
            weft_pool *p = make_pool(worker_counts[k], modes[m], 0);
            struct fib_arg a = {25, 0};
            ck_assert_int_eq(weft_pool_call(p, fib_task, &a), 0);
            ck_assert_int_eq(a.result, want);
            /* The workers' slots and the spares' after them: a sync that
             * waits for a stolen task with nothing to help with blocks, and
             * a spare then runs (and spawns) tasks in its own slot. The
             * rest are zeroed. */
            weft_worker_stats st[64];
            ck_assert_int_eq(weft_pool_stats(p, st, 64), 0);
            uint64_t spawned = 0, executed = 0;
            for (unsigned i = 0; i < 64; i++) {
                spawned += st[i].spawned;
                executed += st[i].executed;
                if (modes[m] == WEFT_SCHED_SHARED)
                    ck_assert_uint_eq(st[i].steals, 0);
            }
            /* Exactly: one spawn per internal node of the call tree
             * (fib(26) - 1), each run once, and the root. The fast paths
             * that programs inline count in the deque, the slow ones in the
             * worker; the stats add both. */
            uint64_t spawns = (uint64_t)fib_serial(26) - 1;
            ck_assert_uint_eq(spawned, spawns);
            ck_assert_uint_eq(executed, spawns + 1);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
    }
}
END_TEST

/* ---- fib by groups ----------------------------------------------------- */

static int fib_group_task(void *arg)
{
    struct fib_arg *a = arg;
    if (a->n < 2) {
        a->result = a->n;
        return 0;
    }
    struct fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
    weft_group g;
    int rc = weft_group_init(&g, NULL);
    if (rc == 0)
        rc = weft_group_spawn(&g, fib_group_task, &x);
    if (rc == 0)
        rc = weft_group_spawn(&g, fib_group_task, &y);
    int w = weft_group_wait(&g);
    a->result = x.result + y.result;
    return rc ? rc : w;
}

START_TEST(test_fib_groups)
{
    long want = fib_serial(25);
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 3; k++) {
            weft_pool *p = make_pool(worker_counts[k], modes[m], 0);
            struct fib_arg a = {25, 0};
            ck_assert_int_eq(weft_pool_call(p, fib_group_task, &a), 0);
            ck_assert_int_eq(a.result, want);
            /* And from outside, through a group of the pool. */
            weft_group g;
            struct fib_arg b = {18, 0};
            ck_assert_int_eq(weft_group_init(&g, p), 0);
            ck_assert_int_eq(weft_group_spawn(&g, fib_group_task, &b), 0);
            ck_assert_int_eq(weft_group_wait(&g), 0);
            ck_assert_int_eq(b.result, fib_serial(18));
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
    }
}
END_TEST

/* ---- random spawn tree ------------------------------------------------- */

#define TREE_IDS 20000
static _Atomic int tree_runs[TREE_IDS];

struct tree_arg {
    uint32_t lo, hi; /* ids [lo, hi): lo is this task, the rest its subtree */
    uint64_t seed;
};

static int tree_task(void *arg)
{
    struct tree_arg *a = arg;
    atomic_fetch_add_explicit(&tree_runs[a->lo], 1, memory_order_relaxed);
    uint32_t next = a->lo + 1;
    uint64_t s = a->seed;
    /* Split the rest into 0..4 children of random sizes. */
    struct tree_arg kids[4];
    weft_task t[4];
    int n = 0;
    while (next < a->hi && n < 4) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t left = a->hi - next;
        uint32_t size = n == 3 ? left : 1 + (uint32_t)((s >> 33) % left);
        kids[n] = (struct tree_arg){next, next + size, s ^ next};
        next += size;
        if (weft_spawn(&t[n], tree_task, &kids[n]) != 0)
            return ENOMEM;
        n++;
    }
    int rc = 0;
    while (n > 0)
        rc |= weft_sync(&t[--n]);
    return rc;
}

START_TEST(test_random_tree)
{
    uint64_t seed = (uint64_t)time(NULL);
    printf("test_random_tree: seed %llu\n", (unsigned long long)seed);
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < TREE_IDS; i++)
                atomic_store_explicit(&tree_runs[i], 0, memory_order_relaxed); /* no pool yet */
            weft_pool *p = make_pool(worker_counts[k], modes[m], 2);
            struct tree_arg root = {0, TREE_IDS, seed + (uint64_t)(m * 3 + k)};
            ck_assert_int_eq(weft_pool_call(p, tree_task, &root), 0);
            int bad = 0;
            for (int i = 0; i < TREE_IDS; i++) /* relaxed: after the call */
                bad += atomic_load_explicit(&tree_runs[i], memory_order_relaxed) != 1;
            ck_assert_msg(bad == 0, "%d ids did not run exactly once (seed %llu)", bad,
                          (unsigned long long)seed);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
    }
}
END_TEST

/* ---- a 10,000-deep chain of nested spawn/sync -------------------------- */

static int chain_task(void *arg)
{
    intptr_t depth = (intptr_t)arg;
    if (depth == 0)
        return 0;
    weft_task t;
    int rc = weft_spawn(&t, chain_task, (void *)(depth - 1));
    if (rc != 0)
        return rc;
    return weft_sync(&t);
}

static int chain_root(void *arg)
{
    (void)arg;
    return chain_task((void *)(intptr_t)10000);
}

START_TEST(test_chain_10000)
{
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 3; k++) {
            weft_pool *p = make_pool(worker_counts[k], modes[m], 2);
            ck_assert_int_eq(weft_pool_call(p, chain_root, NULL), 0);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
}
END_TEST

/* ---- results, out-of-order sync, spawn ENOMEM --------------------------- */

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static int order_task(void *arg)
{
    (void)arg;
    weft_task a, b;
    if (weft_spawn(&a, ret_arg, (void *)1) || weft_spawn(&b, ret_arg, (void *)2))
        return 100;
    /* Out of order: tolerated; each sync returns its own task's result. */
    int ra = weft_sync(&a);
    int rb = weft_sync(&b);
    if (ra != 1 || rb != 2)
        return 101;
    /* In order, with a task result. */
    if (weft_spawn(&a, ret_arg, (void *)EIO))
        return 102;
    return weft_sync(&a) == EIO ? 0 : 103;
}

static int enomem_task(void *arg)
{
    (void)arg;
    weft_task t[3];
    /* Capacity 2: the third spawn grows the deque; make that fail. */
    if (weft_spawn(&t[0], ret_arg, (void *)0) || weft_spawn(&t[1], ret_arg, (void *)0))
        return 100;
    weft__alloc_fail_at(1);
    int rc = weft_spawn(&t[2], ret_arg, (void *)0);
    weft__alloc_fail_at(0);
    weft_sync(&t[1]);
    weft_sync(&t[0]);
    return rc == ENOMEM ? 0 : 101;
}

START_TEST(test_sync_semantics)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m], 2);
        ck_assert_int_eq(weft_pool_call(p, order_task, NULL), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
#ifndef NDEBUG
    /* Debug builds report the out-of-order sync. One STEALING worker, so
     * that the newer spawn is surely still on its own deque (not stolen). */
    /* Relaxed: a statistic; pool_call and destroy order the workers' adds. */
    unsigned long before = atomic_load_explicit(&weft__debug_out_of_order, memory_order_relaxed);
    weft_pool *q = make_pool(1, WEFT_SCHED_STEALING, 2);
    ck_assert_int_eq(weft_pool_call(q, order_task, NULL), 0);
    ck_assert_int_eq(weft_pool_destroy(q), 0);
    ck_assert_uint_gt(atomic_load_explicit(&weft__debug_out_of_order, memory_order_relaxed),
                      before);
#endif
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING, 2);
    ck_assert_int_eq(weft_pool_call(p, enomem_task, NULL), 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* ---- groups: first error, cancel, reuse -------------------------------- */

struct grp_ctx {
    _Atomic long ran;
    _Atomic int open;
};

static int grp_count(void *arg)
{
    struct grp_ctx *c = arg;
    atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed); /* a count */
    return 0;
}

static int grp_fail(void *arg)
{
    struct grp_ctx *c = arg;
    atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed); /* a count */
    return EIO;
}

static int grp_gate(void *arg)
{
    struct grp_ctx *c = arg;
    atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed); /* a count */
    /* Acquire: pairs with the test's release store. */
    while (!atomic_load_explicit(&c->open, memory_order_acquire))
        sched_yield();
    return 0;
}

START_TEST(test_group_error_cancel)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(1, modes[m], 0);
        struct grp_ctx c = {0, 0};
        weft_group g;
        ck_assert_int_eq(weft_group_init(&g, p), 0);
        /* Fail fast. The gate holds the only worker while we spawn a
         * failing task and 50 more behind it; the failure (the next task
         * to run, in both schedulers) cancels the group, so none of the 50
         * starts. Regression: a task's error did not cancel its group, so
         * all of them ran. */
        ck_assert_int_eq(weft_group_spawn(&g, grp_gate, &c), 0);
        /* Relaxed (ran, here and below): a count; group_wait orders the
         * tasks' increments before the checks after it. */
        while (atomic_load_explicit(&c.ran, memory_order_relaxed) == 0) /* the gate has started */
            sched_yield();
        ck_assert_int_eq(weft_group_spawn(&g, grp_fail, &c), 0);
        for (int i = 0; i < 50; i++)
            ck_assert_int_eq(weft_group_spawn(&g, grp_count, &c), 0);
        /* Release: pairs with grp_gate's acquire. */
        atomic_store_explicit(&c.open, 1, memory_order_release);
        ck_assert_int_eq(weft_group_wait(&g), EIO);
        ck_assert_int_eq(atomic_load_explicit(&c.ran, memory_order_relaxed), 2);
        /* The error cancelled the group, and it stays cancelled until the
         * group is reused; a second wait reports the same round. */
        ck_assert(weft_group_cancelled(&g));
        ck_assert_int_eq(weft_group_wait(&g), EIO);
        /* Reuse after wait: clean state. */
        atomic_store_explicit(&c.ran, 0, memory_order_relaxed);
        atomic_store_explicit(&c.open, 0, memory_order_relaxed);
        ck_assert_int_eq(weft_group_spawn(&g, grp_count, &c), 0);
        ck_assert(!weft_group_cancelled(&g));
        ck_assert_int_eq(weft_group_wait(&g), 0);
        ck_assert_int_eq(atomic_load_explicit(&c.ran, memory_order_relaxed), 1);
        /* Cancel: the gate holds the only worker, so none of the other
         * tasks has started when we cancel; all of them are skipped. */
        atomic_store_explicit(&c.ran, 0, memory_order_relaxed);
        ck_assert_int_eq(weft_group_spawn(&g, grp_gate, &c), 0);
        while (atomic_load_explicit(&c.ran, memory_order_relaxed) == 0) /* the gate has started */
            sched_yield();
        for (int i = 0; i < 50; i++)
            ck_assert_int_eq(weft_group_spawn(&g, grp_count, &c), 0);
        ck_assert(!weft_group_cancelled(&g));
        weft_group_cancel(&g);
        ck_assert(weft_group_cancelled(&g));
        /* Release: pairs with grp_gate's acquire. */
        atomic_store_explicit(&c.open, 1, memory_order_release);
        ck_assert_int_eq(weft_group_wait(&g), ECANCELED);
        ck_assert_int_eq(atomic_load_explicit(&c.ran, memory_order_relaxed), 1);
        /* Regression: the wait reset the flag (a read, then a separate
         * store, which could lose a concurrent cancel); it now stays set
         * until the next spawn starts a new round. */
        ck_assert(weft_group_cancelled(&g));
        ck_assert_int_eq(weft_group_spawn(&g, grp_count, &c), 0);
        ck_assert(!weft_group_cancelled(&g));
        ck_assert_int_eq(weft_group_wait(&g), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- parallel_for ------------------------------------------------------ */

struct pf_cov {
    _Atomic unsigned char *hits;
    size_t base;
    _Atomic long calls;
    size_t max_piece;
    size_t fail_at; /* an index whose piece returns EIO; SIZE_MAX: none */
};

static int pf_body(size_t lo, size_t hi, void *arg)
{
    struct pf_cov *c = arg;
    atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
    if (hi - lo > c->max_piece || lo >= hi)
        return ERANGE;
    for (size_t i = lo; i < hi; i++) {
        atomic_fetch_add_explicit(&c->hits[i - c->base], 1, memory_order_relaxed);
        if (i == c->fail_at)
            return EIO;
    }
    return 0;
}

static void pf_check(weft_pool *p, size_t begin, size_t end, size_t grain)
{
    size_t n = end - begin;
    struct pf_cov c = {calloc(n + 1, 1), begin, 0, grain ? grain : n, SIZE_MAX};
    ck_assert_int_eq(weft_parallel_for(p, begin, end, grain, pf_body, &c), 0);
    /* Count first: every ck_assert is a write to Check's pipe. */
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) /* relaxed: after the join */
        if (atomic_load_explicit(&c.hits[i], memory_order_relaxed) != 1 && bad++ == 0)
            first_bad = i;
    ck_assert_msg(bad == 0, "%zu indices not covered once, first %zu", bad, begin + first_bad);
    if (n == 0)
        ck_assert_int_eq(atomic_load_explicit(&c.calls, memory_order_relaxed), 0);
    free(c.hits);
}

static int pf_from_worker(void *arg)
{
    (void)arg;
    /* p NULL: the calling worker's pool. */
    pf_check(NULL, 3, 1004, 0);
    pf_check(NULL, 0, 100000, 1);
    return 0;
}

START_TEST(test_parallel_for)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m], 0);
        pf_check(p, 0, 0, 0);           /* empty */
        pf_check(p, 5, 6, 0);           /* tiny */
        pf_check(p, 1, 1002, 0);        /* odd */
        pf_check(p, 1, 1002, 1);        /* grain 1 */
        pf_check(p, 0, 1001, 1u << 30); /* grain huge: one call */
        pf_check(p, 0, (size_t)1 << 20, 0);    /* huge range */
        pf_check(p, 0, (size_t)1 << 20, 4096); /* huge range, set grain */
        ck_assert_int_eq(weft_pool_call(p, pf_from_worker, NULL), 0);
        /* An error: returned; the pieces already started still finish. */
        struct pf_cov c = {calloc(100000, 1), 0, 0, 100, 5000};
        ck_assert_int_eq(weft_parallel_for(p, 0, 100000, 100, pf_body, &c), EIO);
        free(c.hits);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

static Suite *task_suite(void)
{
    Suite *s = suite_create("task");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"fib_spawn_sync", test_fib_spawn_sync},
        {"fib_groups", test_fib_groups},
        {"random_tree", test_random_tree},
        {"chain_10000", test_chain_10000},
        {"sync_semantics", test_sync_semantics},
        {"group_error_cancel", test_group_error_cancel},
        {"parallel_for", test_parallel_for},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        weft_test_case(s, cases[i].name, cases[i].fn, 120);
    return s;
}

int main(void)
{
    return weft_test_run(task_suite());
}
