/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_badinput.c - every public function with invalid arguments
 * beyond the per-component bad_arguments tests in
 * test_collection.c and test_pool.c:
 *   - EINVAL is checked first: a bad argument gives EINVAL in every state of
 *     the object (open, full, completed, shut down, pool being destroyed),
 *     never the state's own code, and changes nothing;
 *   - misuse that is cheap to detect is reported: weft_sync of a frame the
 *     calling thread did not spawn, group calls on an uninitialised group,
 *     worker-only calls off a worker;
 *   - regression: task_done ahead of take, then shutdown (found by the
 *     fuzzer, see the test).
 * Each case prints how many bad calls it made.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/collection.h>
#include <weft/pool.h>
#include <weft/task.h>
#include "check_main.h"

static long bad_calls; /* per test process (Check forks per test) */

/* A bad call: it must return `code`. */
#define BAD(call, code)                                                                        \
    do {                                                                                       \
        bad_calls++;                                                                           \
        ck_assert_int_eq((call), (code));                                                      \
    } while (0)

static int nop(void *arg)
{
    (void)arg;
    return 0;
}

static int body_nop(size_t lo, size_t hi, void *arg)
{
    (void)lo, (void)hi, (void)arg;
    return 0;
}

/* ---- collection: EINVAL beats every state ------------------------------- */

enum coll_state { CS_EMPTY, CS_FULL, CS_ADDING_DONE, CS_COMPLETED, CS_SHUT_FULL, CS_SHUT_EMPTY,
                  CS_NSTATES };

static weft_collection *coll_in_state(enum coll_state s)
{
    weft_collection_options o = {.capacity = 1, .order = WEFT_ORDER_FIFO};
    weft_collection *c = NULL;
    ck_assert_int_eq(weft_collection_create(&c, &o), 0);
    if (s == CS_FULL || s == CS_ADDING_DONE || s == CS_SHUT_FULL)
        ck_assert_int_eq(weft_collection_add(c, (void *)(uintptr_t)42), 0);
    if (s == CS_ADDING_DONE || s == CS_COMPLETED)
        weft_collection_complete_adding(c);
    if (s == CS_SHUT_FULL || s == CS_SHUT_EMPTY)
        weft_collection_shutdown(c);
    return c;
}

typedef struct {
    size_t count;
    bool adding_done, completed;
    int join;
} coll_snap;

static coll_snap snap(weft_collection *c)
{
    return (coll_snap){weft_collection_count(c), weft_collection_is_adding_completed(c),
                       weft_collection_is_completed(c),
                       weft_collection_try_join(c, WEFT_NO_WAIT)};
}

static void same(coll_snap a, coll_snap b)
{
    ck_assert_uint_eq(a.count, b.count);
    ck_assert_int_eq(a.adding_done, b.adding_done);
    ck_assert_int_eq(a.completed, b.completed);
    ck_assert_int_eq(a.join, b.join);
}

START_TEST(collection_einval_in_every_state)
{
    static const int64_t bad_to[] = {-2, -3, -1000, INT64_MIN};
    weft_collection_options bad_opts[] = {
        {.order = (weft_order)3},           {.order = (weft_order)-1},
        {.order = WEFT_ORDER_PRIORITY},     {.capacity = 5, .order = WEFT_ORDER_PRIORITY},
        {.order = (weft_order)INT_MAX},
    };
    weft_collection *out = (weft_collection *)&bad_to;
    for (size_t i = 0; i < sizeof bad_opts / sizeof bad_opts[0]; i++) {
        BAD(weft_collection_create(&out, &bad_opts[i]), EINVAL);
        BAD(weft_collection_create(NULL, &bad_opts[i]), EINVAL);
    }
    ck_assert_ptr_eq(out, (weft_collection *)&bad_to); /* *out untouched */

    for (int s = 0; s < CS_NSTATES; s++) {
        weft_collection *c = coll_in_state((enum coll_state)s);
        weft_collection *ok = coll_in_state(CS_EMPTY);
        coll_snap before = snap(c), ok_before = snap(ok);
        void *it = (void *)(uintptr_t)7;
        size_t idx = 1234;
        weft_collection *with_null[3] = {ok, c, NULL};
        weft_collection *null_first[2] = {NULL, c};
        for (size_t k = 0; k < sizeof bad_to / sizeof bad_to[0]; k++) {
            int64_t t = bad_to[k];
            BAD(weft_collection_try_add(c, it, t), EINVAL);
            BAD(weft_collection_try_take(c, &it, t), EINVAL);
            BAD(weft_collection_try_join(c, t), EINVAL);
            weft_collection *both[2] = {ok, c};
            BAD(weft_collection_add_to_any(both, 2, it, &idx, t), EINVAL);
            BAD(weft_collection_take_from_any(both, 2, &it, &idx, t), EINVAL);
        }
        static const int64_t good_to[] = {WEFT_NO_WAIT, WEFT_FOREVER, 1, INT64_MAX};
        for (size_t k = 0; k < sizeof good_to / sizeof good_to[0]; k++) {
            int64_t t = good_to[k];
            BAD(weft_collection_try_add(NULL, it, t), EINVAL);
            BAD(weft_collection_try_take(NULL, &it, t), EINVAL);
            BAD(weft_collection_try_take(c, NULL, t), EINVAL);
            BAD(weft_collection_try_join(NULL, t), EINVAL);
            /* A NULL member anywhere: EINVAL even though ok could serve
             * the call at once, and c may be closed or shut down. */
            BAD(weft_collection_add_to_any(with_null, 3, it, &idx, t), EINVAL);
            BAD(weft_collection_take_from_any(with_null, 3, &it, &idx, t), EINVAL);
            BAD(weft_collection_add_to_any(null_first, 2, it, &idx, t), EINVAL);
            BAD(weft_collection_take_from_any(null_first, 2, &it, &idx, t), EINVAL);
            BAD(weft_collection_add_to_any(with_null, 0, it, &idx, t), EINVAL);
            BAD(weft_collection_take_from_any(with_null, 0, &it, &idx, t), EINVAL);
            BAD(weft_collection_add_to_any(NULL, 2, it, &idx, t), EINVAL);
            BAD(weft_collection_take_from_any(NULL, 2, &it, &idx, t), EINVAL);
            BAD(weft_collection_take_from_any(with_null, 2, NULL, &idx, t), EINVAL);
        }
        BAD(weft_collection_add(NULL, it), EINVAL);
        BAD(weft_collection_take(NULL, &it), EINVAL);
        BAD(weft_collection_take(c, NULL), EINVAL);
        BAD(weft_collection_join(NULL), EINVAL);
        BAD(weft_collection_task_done(NULL), EINVAL);
        void *buf[2];
        BAD((int)weft_collection_drain(NULL, buf, 2), 0);
        BAD((int)weft_collection_drain(c, NULL, 2), 0);
        BAD((int)weft_collection_drain(c, buf, 0), 0);
        /* Nothing changed: no item moved, no out-parameter written. */
        ck_assert_ptr_eq(it, (void *)(uintptr_t)7);
        ck_assert_uint_eq(idx, 1234);
        same(before, snap(c));
        same(ok_before, snap(ok));
        weft_collection_destroy(c);
        weft_collection_destroy(ok);
    }
    printf("collection_einval_in_every_state: %ld bad calls, all EINVAL/0, nothing changed\n",
           bad_calls);
}
END_TEST

/*
 * Regression (found by tests/fuzz, corpus/early-task-done-shutdown): the
 * API allows task_done for an item that is still inside (it only fails at
 * an unfinished count of 0). shutdown then lowered c_unfinished by c_count
 * without a floor: with 1 item added, task_done, shutdown, the count
 * underflowed to SIZE_MAX (debug builds aborted on WEFT__ASSERT in
 * weft_collection_shutdown; release builds made every later join hang and
 * task_done succeed ~2^64 times). Python's Queue.shutdown(immediate=True)
 * floors at 0; so must we.
 */
START_TEST(collection_task_done_ahead_then_shutdown)
{
    for (int n = 1; n <= 3; n++) {
        weft_collection *c = NULL;
        ck_assert_int_eq(weft_collection_create(&c, NULL), 0);
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(weft_collection_add(c, NULL), 0);
        /* Mark all n done before anything is taken; one is then taken. */
        for (int i = 0; i < n; i++)
            ck_assert_int_eq(weft_collection_task_done(c), 0);
        BAD(weft_collection_task_done(c), EINVAL);
        void *it;
        ck_assert_int_eq(weft_collection_take(c, &it), 0);
        weft_collection_shutdown(c);
        ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0);
        BAD(weft_collection_task_done(c), EINVAL);
        void *out[4];
        ck_assert_uint_eq(weft_collection_drain(c, out, 4), (size_t)n - 1);
        weft_collection_destroy(c);
    }
}
END_TEST

/* ---- pool: create options, NULLs, EINVAL beats EPERM/EPIPE ------------- */

START_TEST(pool_create_bad_options)
{
    weft_pool *p = (weft_pool *)&bad_calls;
    weft_pool_options bad[] = {
        {.workers = 4097},
        {.workers = UINT_MAX},
        {.workers = 2, .scheduler = (weft_scheduler)2},
        {.workers = 2, .scheduler = (weft_scheduler)-1},
        {.workers = 4097, .scheduler = WEFT_SCHED_SHARED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        BAD(weft_pool_create(&p, &bad[i]), EINVAL);
        BAD(weft_pool_create(NULL, &bad[i]), EINVAL);
    }
    weft_pool_options good = {.workers = 1};
    BAD(weft_pool_create(NULL, &good), EINVAL);
    ck_assert_ptr_eq(p, (weft_pool *)&bad_calls); /* *out untouched */
    /* NULL-tolerant calls. */
    BAD(weft_pool_destroy(NULL), 0);
    BAD((int)weft_pool_size(NULL), 0);
    weft_group_cancel(NULL);
    ck_assert(!weft_group_cancelled(NULL));
    ck_assert_ptr_null(weft_pool_current());
    ck_assert_int_eq(weft_worker_index(), -1);
    printf("pool_create_bad_options: %ld bad calls\n", bad_calls);
}
END_TEST

/* Bad calls made from a worker of p: EINVAL first, then EPERM rules. */
static int worker_bad_calls(void *arg)
{
    weft_pool *p = arg;
    long n = 0;
#define WBAD(call, code)                                                                       \
    do {                                                                                       \
        n++;                                                                                   \
        if ((call) != (code))                                                                  \
            return (int)(1000 + __LINE__);                                                     \
    } while (0)
    weft_task t;
    weft_group g;
    WBAD(weft_spawn(NULL, nop, NULL), EINVAL);
    WBAD(weft_spawn(&t, NULL, NULL), EINVAL);
    WBAD(weft_sync(NULL), EINVAL);
    WBAD(weft_group_init(NULL, NULL), EINVAL);
    WBAD(weft_group_init(NULL, p), EINVAL);
    WBAD(weft_group_spawn(NULL, nop, NULL), EINVAL);
    WBAD(weft_group_wait(NULL), EINVAL);
    /* NULL fn beats EPERM: checked first. */
    WBAD(weft_pool_call(p, NULL, NULL), EINVAL);
    WBAD(weft_pool_submit(p, NULL, NULL), EINVAL);
    WBAD(weft_parallel_for(NULL, 0, 10, 0, NULL, NULL), EINVAL);
    WBAD(weft_parallel_for(NULL, 5, 4, 0, body_nop, NULL), EINVAL);
    WBAD(weft_parallel_for(p, SIZE_MAX, 0, 1, body_nop, NULL), EINVAL);
    /* On a worker, a NULL pool means the current one. */
    WBAD(weft_group_init(&g, NULL), 0);
    WBAD(weft_group_spawn(&g, NULL, NULL), EINVAL);
    WBAD(weft_group_wait(&g), 0);
    WBAD(weft_parallel_for(NULL, 3, 3, 0, body_nop, NULL), 0);
    /* An uninitialised group (garbage storage) is refused. */
    memset(&g, 0xa5, sizeof g);
    WBAD(weft_group_spawn(&g, nop, NULL), EINVAL);
    WBAD(weft_group_wait(&g), EINVAL);
    memset(&g, 0, sizeof g);
    WBAD(weft_group_spawn(&g, nop, NULL), EINVAL);
    WBAD(weft_group_wait(&g), EINVAL);
    weft_worker_stats st[1];
    WBAD(weft_pool_stats(p, st, 0), EINVAL);
    WBAD(weft_pool_stats(p, NULL, 1), EINVAL);
#undef WBAD
    return (int)-n; /* the number of bad calls, negated (0 is "none") */
}

START_TEST(pool_bad_calls_on_worker)
{
    for (int m = 0; m < 2; m++) {
        weft_pool_options o = {.workers = 2, .scheduler = m ? WEFT_SCHED_SHARED
                                                             : WEFT_SCHED_STEALING};
        weft_pool *p = NULL;
        ck_assert_int_eq(weft_pool_create(&p, &o), 0);
        int r = weft_pool_call(p, worker_bad_calls, p);
        ck_assert_msg(r < 0, "bad call at test_badinput.c:%d gave the wrong code", r - 1000);
        bad_calls += -r;
        /* Off a worker. */
        weft_task t;
        memset(&t, 0, sizeof t);
        BAD(weft_spawn(&t, nop, NULL), EPERM);
        BAD(weft_spawn(NULL, nop, NULL), EINVAL); /* EINVAL beats EPERM */
        BAD(weft_sync(&t), EINVAL); /* never spawned, and not a worker */
        weft_group g;
        BAD(weft_group_init(&g, NULL), EINVAL);
        BAD(weft_parallel_for(NULL, 0, 1, 0, body_nop, NULL), EINVAL);
        weft_worker_stats st[8];
        BAD(weft_pool_stats(p, st, 8), 0); /* more than size: clamped */
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
    printf("pool_bad_calls_on_worker: %ld bad calls\n", bad_calls);
}
END_TEST

/* While destroy is in progress (held open by a gated task), bad arguments
 * still give EINVAL, not EPIPE. */
static int gate_task(void *arg)
{
    /* Acquire: pairs with the test's release store. */
    while (!atomic_load_explicit((atomic_int *)arg, memory_order_acquire))
        sched_yield();
    return 0;
}

static void *destroyer(void *arg)
{
    if (weft_pool_destroy(arg) != 0)
        abort();
    return NULL;
}

START_TEST(pool_einval_beats_epipe)
{
    weft_pool_options o = {.workers = 1};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    atomic_int open;
    atomic_init(&open, 0);
    ck_assert_int_eq(weft_pool_submit(p, gate_task, &open), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, destroyer, p), 0);
    /* Wait until destroy has begun: a valid submit is refused. The gate
     * holds the only worker, so p stays alive until we open it. */
    while (weft_pool_submit(p, nop, NULL) == 0)
        sched_yield();
    BAD(weft_pool_submit(p, nop, NULL), EPIPE);
    BAD(weft_pool_submit(p, NULL, NULL), EINVAL);
    BAD(weft_pool_call(p, NULL, NULL), EINVAL);
    BAD(weft_parallel_for(p, 2, 1, 0, body_nop, NULL), EINVAL);
    BAD(weft_parallel_for(p, 0, 1, 0, NULL, NULL), EINVAL);
    BAD(weft_parallel_for(p, 1, 1, 0, body_nop, NULL), 0); /* empty range */
    weft_group g;
    BAD(weft_group_init(&g, p), 0);
    BAD(weft_group_spawn(&g, NULL, NULL), EINVAL);
    BAD(weft_group_spawn(&g, nop, NULL), EPIPE);
    BAD(weft_group_wait(&g), 0); /* nothing was spawned */
    weft_worker_stats st[1];
    BAD(weft_pool_stats(p, NULL, 1), EINVAL);
    /* Calls that may overlap destroy refuse once it has begun (they would
     * otherwise race with the free: see test_pool's wait_idle_vs_destroy). */
    BAD(weft_pool_stats(p, st, 1), EPIPE);
    BAD(weft_pool_wait_idle(p), EPIPE);
    ck_assert_uint_eq(weft_pool_size(p), 0);
    /* Release: pairs with gate_task's acquire. */
    atomic_store_explicit(&open, 1, memory_order_release);
    pthread_join(th, NULL);
    printf("pool_einval_beats_epipe: %ld bad calls\n", bad_calls);
}
END_TEST

#ifndef NDEBUG
/* Debug builds: weft_sync of a frame another worker spawned, or one never
 * spawned, returns EINVAL instead of waiting forever. */
struct foreign {
    weft_task f_task;
    atomic_int f_spawned; /* 1 once worker A spawned f_task */
    atomic_int f_checked; /* 1 once worker B tried to sync it */
    int f_rc;
};

static int foreign_spawner(void *arg)
{
    struct foreign *f = arg;
    if (weft_spawn(&f->f_task, nop, NULL) != 0)
        return 100;
    /* Release/acquire: the frame's fields before B reads them. */
    atomic_store_explicit(&f->f_spawned, 1, memory_order_release);
    while (!atomic_load_explicit(&f->f_checked, memory_order_acquire))
        sched_yield();
    return weft_sync(&f->f_task);
}

static int foreign_syncer(void *arg)
{
    struct foreign *f = arg;
    while (!atomic_load_explicit(&f->f_spawned, memory_order_acquire))
        sched_yield();
    f->f_rc = weft_sync(&f->f_task); /* not ours */
    weft_task never;
    memset(&never, 0, sizeof never);
    int r2 = weft_sync(&never);
    atomic_store_explicit(&f->f_checked, 1, memory_order_release);
    return r2 == EINVAL ? 0 : 200;
}

START_TEST(debug_sync_foreign_frame)
{
    weft_pool_options o = {.workers = 2};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    struct foreign f;
    memset(&f, 0, sizeof f);
    atomic_init(&f.f_spawned, 0);
    atomic_init(&f.f_checked, 0);
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    ck_assert_int_eq(weft_group_spawn(&g, foreign_spawner, &f), 0);
    ck_assert_int_eq(weft_group_spawn(&g, foreign_syncer, &f), 0);
    ck_assert_int_eq(weft_group_wait(&g), 0);
    ck_assert_int_eq(f.f_rc, EINVAL);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST
#endif

static Suite *badinput_suite(void)
{
    Suite *s = suite_create("badinput");
    WEFT_TEST_CASE(s, collection_einval_in_every_state, 30);
    WEFT_TEST_CASE(s, collection_task_done_ahead_then_shutdown, 30);
    WEFT_TEST_CASE(s, pool_create_bad_options, 30);
    WEFT_TEST_CASE(s, pool_bad_calls_on_worker, 30);
    WEFT_TEST_CASE(s, pool_einval_beats_epipe, 30);
#ifndef NDEBUG
    WEFT_TEST_CASE(s, debug_sync_foreign_frame, 30);
#endif
    return s;
}

int main(void)
{
    return weft_test_run(badinput_suite());
}
