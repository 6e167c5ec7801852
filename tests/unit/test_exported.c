/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_exported.c - the library's exported weft_spawn and
 * weft_sync, which programs built against earlier headers call, alone and
 * mixed with the inline fast paths that programs built now compile.
 *
 * Programs get weft_spawn/weft_sync as static inline functions
 * (weft/bits/spawn.h), so no other test calls the exported ones except
 * through the runtime. Defining WEFT__RUNTIME gives this file weft/task.h
 * as the library (and every program built before) sees it: weft_spawn and
 * weft_sync are calls to the exported functions. bits/spawn.h, included
 * by hand, gives the inline fast paths under their own names, so that
 * frames cross between the two on one worker, as when a program and a
 * library built against different headers share a pool. fib(20) on 1, 2
 * and 4 workers in both modes checks the results and the statistics
 * exactly; then the errors off and on a worker, and misuse.
 */
#define _GNU_SOURCE
#define WEFT__RUNTIME 1 /* weft/task.h as programs built before saw it */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <weft/bits/spawn.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "check_main.h"

static const weft_scheduler modes[2] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};
static const unsigned worker_counts[3] = {1, 2, 4};

/* How fib spawns and syncs: through the exported functions only, or
 * alternating with the inline paths (a frame spawned one way is synced the
 * other way at every other level). */
enum how { EXPORTED, MIXED };

struct fib_arg {
    int n;
    enum how how;
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
    struct fib_arg x = {a->n - 1, a->how, 0}, y = {a->n - 2, a->how, 0};
    weft_task t;
    bool inline_spawn = a->how == MIXED && (a->n & 1);
    int rc = inline_spawn ? weft__spawn_inline(&t, fib_task, &x) : weft_spawn(&t, fib_task, &x);
    if (rc != 0)
        return rc;
    fib_task(&y);
    rc = a->how == MIXED && !inline_spawn ? weft__sync_inline(&t) : weft_sync(&t);
    a->result = x.result + y.result;
    return rc;
}

static void fib_check(enum how how)
{
    const int n = 20;
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 3; k++) {
            weft_pool_options o = {.workers = worker_counts[k], .scheduler = modes[m],
                                   .seed = 7};
            weft_pool *p = NULL;
            ck_assert_int_eq(weft_pool_create(&p, &o), 0);
            struct fib_arg a = {n, how, 0};
            ck_assert_int_eq(weft_pool_call(p, fib_task, &a), 0);
            ck_assert_int_eq(a.result, fib_serial(n));
            /* The workers' slots and the spares' after them (a sync that
             * waits for a stolen task with nothing to help with blocks, and
             * a spare may run tasks meanwhile); the rest are zeroed. */
            weft_worker_stats st[64];
            ck_assert_int_eq(weft_pool_stats(p, st, 64), 0);
            uint64_t spawned = 0, executed = 0;
            for (unsigned i = 0; i < 64; i++) {
                spawned += st[i].spawned;
                executed += st[i].executed;
            }
            /* One spawn per internal node of the call tree (fib(n+1) - 1),
             * each run once, and the root: whichever path pushed or ran a
             * task, the statistics count it once. */
            uint64_t spawns = (uint64_t)fib_serial(n + 1) - 1;
            ck_assert_uint_eq(spawned, spawns);
            ck_assert_uint_eq(executed, spawns + 1);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
    }
}

START_TEST(exported_fib)
{
    fib_check(EXPORTED);
}
END_TEST

START_TEST(exported_mixed_with_inline)
{
    fib_check(MIXED);
}
END_TEST

/* ---- errors and misuse ----------------------------------------------------------- */

static int nop(void *arg)
{
    (void)arg;
    return 0;
}

static int forty_two(void *arg)
{
    (void)arg;
    return 42;
}

/* On a worker: argument errors, a second sync, a frame never spawned. A
 * distinct non-zero result for each check that fails. */
static int bad_on_worker(void *arg)
{
    (void)arg;
    weft_task t;
    if (weft_spawn(NULL, nop, NULL) != EINVAL)
        return 100;
    if (weft_spawn(&t, NULL, NULL) != EINVAL)
        return 101;
    if (weft_sync(NULL) != EINVAL)
        return 102;
    if (weft_spawn(&t, forty_two, NULL) != 0 || weft_sync(&t) != 42)
        return 103;
    if (weft_sync(&t) != EINVAL)
        return 104; /* synced twice */
    /* Spawned by the exported path, synced twice by the inline one. */
    if (weft_spawn(&t, forty_two, NULL) != 0 || weft__sync_inline(&t) != 42)
        return 105;
    if (weft__sync_inline(&t) != EINVAL)
        return 106;
    weft_task z;
    memset(&z, 0, sizeof z);
    if (weft_sync(&z) != EINVAL)
        return 107; /* never spawned */
    return 0;
}

START_TEST(exported_errors)
{
    for (int m = 0; m < 2; m++) {
        weft_pool_options o = {.workers = 2, .scheduler = modes[m]};
        weft_pool *p = NULL;
        ck_assert_int_eq(weft_pool_create(&p, &o), 0);
        ck_assert_int_eq(weft_pool_call(p, bad_on_worker, NULL), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
    /* Off a worker. */
    weft_task t;
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(weft_spawn(&t, nop, NULL), EPERM);
    ck_assert_int_eq(weft_spawn(NULL, nop, NULL), EINVAL); /* EINVAL beats EPERM */
    ck_assert_int_eq(weft_spawn(&t, NULL, NULL), EINVAL);
    ck_assert_int_eq(weft_sync(&t), EINVAL);
    ck_assert_int_eq(weft_sync(NULL), EINVAL);
}
END_TEST

static Suite *exported_suite(void)
{
    Suite *s = suite_create("exported");
    WEFT_TEST_CASE(s, exported_fib, 120);
    WEFT_TEST_CASE(s, exported_mixed_with_inline, 120);
    WEFT_TEST_CASE(s, exported_errors, 60);
    return s;
}

int main(void)
{
    return weft_test_run(exported_suite());
}
