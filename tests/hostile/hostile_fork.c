/* SPDX-License-Identifier: MIT */
/*
 * tests/hostile/hostile_fork.c - fork() while pools are alive.
 *
 * What a child may do (weft/pool.h, "fork"): create, use and destroy new
 * pools and collections; use a collection no other thread was inside at
 * the fork. What it may not do gives an error code: every call on a pool
 * it inherited returns EPIPE (weft_pool_size 0), a group wait on such a
 * pool's group EPIPE, and destroying it frees its memory. Each child is
 * bounded in time: a hang fails the test.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <weft/collection.h>
#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "check_main.h"
#include "hostile.h"
#include "settle.h"

WEFT_TASK_1(long, fib, int, n)
{
    if (n < 2)
        return n;
    WEFT_FRAME(fib) f;
    WEFT_SPAWN(fib, &f, n - 1);
    long b = WEFT_CALL(fib, n - 2);
    return WEFT_SYNC(fib, &f) + b;
}

static int fib_task(void *arg)
{
    return fib(*(int *)arg) == 6765 ? 0 : 1; /* fib(20) */
}

static int nop(void *arg)
{
    (void)arg;
    return 0;
}

/* A fresh pool in the child: used hard enough that deques grow. */
static int fresh_pool_works(void)
{
    for (int m = 0; m < 2; m++) {
        weft_pool_options o = {.workers = 2, .deque_capacity = 2,
                               .scheduler = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING};
        weft_pool *p = NULL;
        if (weft_pool_create(&p, &o) != 0)
            return 20;
        int n = 20;
        if (weft_pool_call(p, fib_task, &n) != 0)
            return 21;
        if (weft_pool_destroy(p) != 0)
            return 22;
    }
    weft_collection *c = NULL;
    void *item = NULL;
    if (weft_collection_create(&c, NULL) != 0 || weft_collection_add(c, &item) != 0
        || weft_collection_take(c, &item) != 0)
        return 23;
    weft_collection_destroy(c);
    return 0;
}

struct inherited {
    weft_pool *i_pool;
    weft_group i_group; /* with a task that cannot finish in the child */
    weft_collection *i_coll;
};

static int child_main(void *arg)
{
    struct inherited *in = arg;
    int r = fresh_pool_works();
    if (r != 0)
        return r;
    weft_pool *p = in->i_pool;
    if (weft_pool_submit(p, nop, NULL) != EPIPE || weft_pool_call(p, nop, NULL) != EPIPE
        || weft_pool_wait_idle(p) != EPIPE || weft_pool_size(p) != 0)
        return 30;
    weft_worker_stats st;
    if (weft_pool_stats(p, &st, 1) != EPIPE || weft_group_spawn(&in->i_group, nop, NULL) != EPIPE
        || weft_group_wait(&in->i_group) != EPIPE)
        return 31;
    /* The parent's collection, which no thread was inside at the fork. */
    void *item = NULL;
    if (weft_collection_try_take(in->i_coll, &item, WEFT_NO_WAIT) != 0 || item != in)
        return 32;
    weft_collection_destroy(in->i_coll);
    if (weft_pool_destroy(p) != 0)
        return 33;
    return 0;
}

static _Atomic int gate;

static int gated(void *arg)
{
    (void)arg;
    /* seq_cst: the parent's release; bounded. */
    for (int i = 0; i < 100000 && !atomic_load_explicit(&gate, memory_order_seq_cst); i++)
        sched_yield();
    return 0;
}

/*
 * Regression: a child of a process whose pool was alive created a fresh
 * pool, grew a deque and destroyed the pool, and hung for ever (liburcu's
 * grace period waited for the parent's reader threads); calls on the
 * inherited pool waited for workers that did not exist.
 */
START_TEST(test_child_of_a_live_pool)
{
    for (int m = 0; m < 2; m++) {
        struct inherited in;
        weft_pool_options o = {.workers = 2,
                               .scheduler = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING};
        ck_assert_int_eq(weft_pool_create(&in.i_pool, &o), 0);
        ck_assert_int_eq(weft_group_init(&in.i_group, in.i_pool), 0);
        atomic_store_explicit(&gate, 0, memory_order_seq_cst);
        ck_assert_int_eq(weft_group_spawn(&in.i_group, gated, NULL), 0); /* busy at the fork */
        int n = 20;
        ck_assert_int_eq(weft_pool_call(in.i_pool, fib_task, &n), 0); /* deques grown */
        ck_assert_int_eq(weft_collection_create(&in.i_coll, NULL), 0);
        ck_assert_int_eq(weft_collection_add(in.i_coll, &in), 0);
        settle_before_fork(in.i_pool, 1); /* one worker runs `gated` */
        HOSTILE_OK("child", hostile_run(child_main, &in, 60));
        atomic_store_explicit(&gate, 1, memory_order_seq_cst);
        ck_assert_int_eq(weft_group_wait(&in.i_group), 0);
        weft_collection_destroy(in.i_coll);
        ck_assert_int_eq(weft_pool_destroy(in.i_pool), 0);
    }
}
END_TEST

/* fork() from inside a task: the child's only thread was a worker; there
 * it is none. */
static int forked_in_task_child(void *arg)
{
    (void)arg;
    if (weft_pool_current() != NULL || weft_worker_index() != -1)
        return 40;
    weft_task t;
    if (weft_spawn(&t, nop, NULL) != EPERM)
        return 41;
    if (fib(10) != 55) /* typed tasks run serially off the workers */
        return 42;
    return fresh_pool_works();
}

static int fork_in_task(void *arg)
{
    (void)arg;
    settle_before_fork(weft_pool_current(), 1); /* this worker is busy */
    return hostile_run(forked_in_task_child, NULL, 60);
}

START_TEST(test_fork_inside_a_task)
{
    weft_pool_options o = {.workers = 2};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    HOSTILE_OK("child forked by a task", weft_pool_call(p, fork_in_task, NULL));
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_fork");
    WEFT_TEST_CASE(s, test_child_of_a_live_pool, 300);
    WEFT_TEST_CASE(s, test_fork_inside_a_task, 300);
    return weft_test_run(s);
}
