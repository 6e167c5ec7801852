/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_nesting.c - how deep waiting workers nest tasks.
 *
 * Regression test. Bug: in SHARED mode weft_sync helped by taking the
 * *newest* task of the shared queue, assuming it was the caller's own
 * (true with one worker only). With several workers the newest task is
 * often another worker's, so a waiting worker ran it nested on its stack,
 * which then waited and nested another, and so on: weft-bench's nqueens(13)
 * on 2 SHARED workers overflowed an 8 MiB worker stack. Now a waiting worker
 * takes its own task back by identity if it is still queued, and helps with
 * other tasks only while its stack has room.
 *
 * Trees of every shape here are checked for their node count in both modes
 * on 1, 2 and 4 workers; on one worker, where nothing is ever stolen, the
 * nesting of task calls must equal the tree's depth exactly; on 2 and 4
 * workers a depth-18 binary tree must nest at most 4 * (depth + 1) calls
 * (the old SHARED code: 297 to 1017; now about 19, as in STEALING).
 * WEFT_NESTING_PRINT=1 prints the nesting of every run.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/weft.h>
#include "check_main.h"

#define MAX_BRANCH 8

struct node {
    int n_depth;
    int n_branch;
    long n_count;
};

/* Nesting of node_task calls on this thread, and the most seen anywhere. */
static _Thread_local int cur_nesting;
static atomic_int max_nesting;

static void enter(void)
{
    int d = ++cur_nesting;
    int m = atomic_load_explicit(&max_nesting, memory_order_relaxed);
    /* Relaxed: a statistic read after the pool call returned (which orders it). */
    while (d > m && !atomic_compare_exchange_weak_explicit(&max_nesting, &m, d,
                                                           memory_order_relaxed,
                                                           memory_order_relaxed))
        ;
}

static int node_task(void *p)
{
    struct node *a = p;
    enter();
    a->n_count = 1;
    if (a->n_depth > 0) {
        struct node kids[MAX_BRANCH];
        weft_task t[MAX_BRANCH];
        for (int i = 0; i < a->n_branch; i++) {
            kids[i] = (struct node){a->n_depth - 1, a->n_branch, 0};
            ck_assert_int_eq(weft_spawn(&t[i], node_task, &kids[i]), 0);
        }
        for (int i = a->n_branch - 1; i >= 0; i--) {
            ck_assert_int_eq(weft_sync(&t[i]), 0);
            a->n_count += kids[i].n_count;
        }
    }
    cur_nesting--;
    return 0;
}

static long tree_size(int depth, int branch)
{
    long total = 1, level = 1;
    for (int d = 0; d < depth; d++) {
        level *= branch;
        total += level;
    }
    return total;
}

static int run_tree(weft_scheduler mode, unsigned workers, int depth, int branch)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    struct node root = {depth, branch, 0};
    atomic_store_explicit(&max_nesting, 0, memory_order_relaxed); /* see enter() */
    ck_assert_int_eq(weft_pool_call(p, node_task, &root), 0);
    ck_assert_int_eq(root.n_count, tree_size(depth, branch));
    int nest = atomic_load_explicit(&max_nesting, memory_order_relaxed); /* see enter() */
    if (getenv("WEFT_NESTING_PRINT"))
        fprintf(stderr, "mode %d, %u workers, depth %d x%d: nesting %d\n", (int)mode, workers,
                depth, branch, nest);
    if (workers == 1)
        ck_assert_int_eq(nest, depth + 1);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    return nest;
}

/* WEFT_TEST_QUICK (set by tests/stress/valgrind_unit.sh, where every
 * thread runs serialised and a million tasks take minutes): the same shapes,
 * smaller. Memcheck needs the paths, not the sizes; the plain, ASan and
 * TSan runs use the full sizes. */
static int quick(void)
{
    return getenv("WEFT_TEST_QUICK") != NULL;
}

static void run_shapes(weft_scheduler mode)
{
    static const unsigned workers[] = {1, 2, 4};
    int q = quick() ? 4 : 0;
    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        run_tree(mode, workers[i], 16 - q, 2); /* deep and narrow: 131,071 nodes */
        run_tree(mode, workers[i], 5 - q / 4, 8); /* shallow and wide: 37,449 nodes */
        run_tree(mode, workers[i], 9 - q / 2, 3); /* 29,524 nodes */
    }
}

START_TEST(test_stealing_trees)
{
    run_shapes(WEFT_SCHED_STEALING);
}
END_TEST

START_TEST(test_shared_trees)
{
    run_shapes(WEFT_SCHED_SHARED);
}
END_TEST

/* The bug's symptom, measured: a binary tree of depth 18 (524,287 nodes)
 * on 2 and 4 workers. A waiting worker that runs someone else's task nests
 * it on its stack; how deep that goes is the scheduler's business, but it
 * must stay a small multiple of the tree's depth. The old SHARED code
 * reached 297 to 1017 nested calls on 2 workers (STEALING: about 19; at
 * depth 16 the old code stayed at 26-62, too close to a safe bound). */
#define NEST_DEPTH 18

static void check_bounded(weft_scheduler mode)
{
    static const unsigned workers[] = {2, 4};
    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        /* One tree each: 524,287 nodes keep the valgrind run short. */
        int depth = quick() ? NEST_DEPTH - 6 : NEST_DEPTH;
        int bound = 4 * (depth + 1);
        int nest = run_tree(mode, workers[i], depth, 2);
        ck_assert_msg(nest <= bound, "mode %d, %u workers: %d nested calls (bound %d)",
                      (int)mode, workers[i], nest, bound);
    }
}

START_TEST(test_stealing_bounded)
{
    check_bounded(WEFT_SCHED_STEALING);
}
END_TEST

START_TEST(test_shared_bounded)
{
    check_bounded(WEFT_SCHED_SHARED);
}
END_TEST

static Suite *nesting_suite(void)
{
    Suite *s = suite_create("nesting");
    weft_test_case(s, "stealing", test_stealing_trees, 120);
    weft_test_case(s, "shared", test_shared_trees, 120);
    weft_test_case(s, "stealing_bounded", test_stealing_bounded, 120);
    weft_test_case(s, "shared_bounded", test_shared_bounded, 120);
    return s;
}

int main(void)
{
    return weft_test_run(nesting_suite());
}
