/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_future.c - futures (weft_pool_async, weft_future_wait,
 * weft_future_release): bad input, results kept apart from weft's status,
 * timeouts, release before the task ends, waits on a worker (which must
 * help: a recursion of futures on one worker), from a worker of another
 * pool, several waiters of one future, several threads, ENOMEM, fork.
 * Both schedulers.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "check_main.h"
#include "gate.h"
#include "settle.h"

static const weft_scheduler modes[] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};

static weft_pool *make_pool(unsigned workers, weft_scheduler mode)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

START_TEST(bad_input)
{
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING);
    weft_future *f = (weft_future *)&f; /* a marker: must stay unchanged */
    ck_assert_int_eq(weft_pool_async(NULL, &f, ret_arg, NULL), EINVAL);
    ck_assert_int_eq(weft_pool_async(p, NULL, ret_arg, NULL), EINVAL);
    ck_assert_int_eq(weft_pool_async(p, &f, NULL, NULL), EINVAL);
    ck_assert_ptr_eq(f, (weft_future *)&f);
    int r = -7;
    ck_assert_int_eq(weft_future_wait(NULL, WEFT_FOREVER, &r), EINVAL);
    ck_assert_int_eq(weft_pool_async(p, &f, ret_arg, (void *)(intptr_t)5), 0);
    ck_assert_int_eq(weft_future_wait(f, -2, &r), EINVAL);
    ck_assert_int_eq(weft_future_wait(f, INT64_MIN, &r), EINVAL);
    ck_assert_int_eq(r, -7);
    ck_assert_int_eq(weft_future_wait(f, WEFT_FOREVER, NULL), 0); /* result not wanted */
    ck_assert_int_eq(weft_future_wait(f, WEFT_FOREVER, &r), 0);
    ck_assert_int_eq(r, 5);
    weft_future_release(f);
    weft_future_release(NULL);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* The task's result is never weft's status: a task returning EPIPE,
 * EINVAL or ETIMEDOUT is waited for with 0 and its value comes through
 * *result. */
START_TEST(results_apart)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        const int vals[] = {0, EPIPE, EINVAL, ETIMEDOUT, EAGAIN, -1, INT32_MAX};
        weft_future *f[7];
        for (int i = 0; i < 7; i++)
            ck_assert_int_eq(weft_pool_async(p, &f[i], ret_arg, (void *)(intptr_t)vals[i]), 0);
        for (int i = 0; i < 7; i++) {
            int r = -7;
            ck_assert_int_eq(weft_future_wait(f[i], WEFT_FOREVER, &r), 0);
            ck_assert_int_eq(r, vals[i]);
            r = -7; /* again: the same */
            ck_assert_int_eq(weft_future_wait(f[i], WEFT_NO_WAIT, &r), 0);
            ck_assert_int_eq(r, vals[i]);
            weft_future_release(f[i]);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

START_TEST(timeouts)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct gate gt = {.g_result = 9};
        weft_future *f;
        ck_assert_int_eq(weft_pool_async(p, &f, gate_task, &gt), 0);
        gate_wait_arrived(&gt, 1);
        int r = -7;
        ck_assert_int_eq(weft_future_wait(f, WEFT_NO_WAIT, &r), EAGAIN);
        double t0 = gate_now();
        ck_assert_int_eq(weft_future_wait(f, 10 * 1000000, &r), ETIMEDOUT);
        ck_assert(gate_now() - t0 >= 0.010);
        ck_assert_int_eq(r, -7);
        gate_open(&gt);
        ck_assert_int_eq(weft_future_wait(f, INT64_MAX, &r), 0);
        ck_assert_int_eq(r, 9);
        weft_future_release(f);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Released before its task ends (and never waited for): the task frees
 * it (ASan and Valgrind see the rest). */
START_TEST(release_early)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct gate gt = {.g_result = 0};
        weft_future *f[8];
        for (int i = 0; i < 8; i++)
            ck_assert_int_eq(weft_pool_async(p, &f[i], gate_task, &gt), 0);
        gate_wait_arrived(&gt, 1);
        for (int i = 0; i < 8; i++)
            weft_future_release(f[i]);
        gate_open(&gt);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        /* After its task ended, without a wait. */
        weft_future *g;
        ck_assert_int_eq(weft_pool_async(p, &g, ret_arg, NULL), 0);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        weft_future_release(g);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Regression: a task that waited for its own future (WEFT_FOREVER) hung:
 * the task cannot finish while it waits. The wait returns EPERM, whatever
 * the timeout; the test waits at most 5 s, so that without the check it
 * fails instead of hanging. */
struct self_wait {
    struct gate sw_gate;     /* holds the task until sw_f is set */
    weft_future *sw_f;       /* written before the gate opens */
    int sw_rc[3];            /* the task's waits: 5 s, WEFT_NO_WAIT, 1 ns */
};

static int wait_for_self(void *arg)
{
    struct self_wait *sw = arg;
    gate_task(&sw->sw_gate);
    int r = -1;
    sw->sw_rc[0] = weft_future_wait(sw->sw_f, (int64_t)5000000000, &r);
    sw->sw_rc[1] = weft_future_wait(sw->sw_f, WEFT_NO_WAIT, &r);
    sw->sw_rc[2] = weft_future_wait(sw->sw_f, 1, &r);
    return 42;
}

START_TEST(wait_from_own_task)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(1, modes[m]);
        struct self_wait sw = {.sw_gate = {.g_result = 0}};
        ck_assert_int_eq(weft_pool_async(p, &sw.sw_f, wait_for_self, &sw), 0);
        gate_open(&sw.sw_gate); /* orders sw_f before the task's reads */
        int r = -1;
        ck_assert_int_eq(weft_future_wait(sw.sw_f, WEFT_FOREVER, &r), 0);
        ck_assert_int_eq(r, 42);
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(sw.sw_rc[i], EPERM);
        weft_future_release(sw.sw_f);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* fib with a future per call, waited for on the worker: with one worker
 * the wait must run the awaited task itself. */
static int fut_fib(void *arg)
{
    int n = (int)(intptr_t)arg;
    if (n < 2)
        return n;
    weft_future *f;
    int a, b = fut_fib((void *)(intptr_t)(n - 2));
    if (weft_pool_async(weft_pool_current(), &f, fut_fib, (void *)(intptr_t)(n - 1)) != 0)
        return -1000000;
    int rc = weft_future_wait(f, WEFT_FOREVER, &a);
    weft_future_release(f);
    return rc != 0 ? -1000000 : a + b;
}

START_TEST(on_worker)
{
    for (int m = 0; m < 2; m++) {
        for (unsigned workers = 1; workers <= 2; workers++) {
            weft_pool *p = make_pool(workers, modes[m]);
            ck_assert_int_eq(weft_pool_call(p, fut_fib, (void *)(intptr_t)18), 2584);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
    }
}
END_TEST

/* Waits with a timeout on a worker: helps, then times out on a task that
 * runs elsewhere. */
struct timed_on_worker {
    struct gate *tw_gate;
    int tw_eagain, tw_timedout, tw_final, tw_result;
};

static int timed_waiter(void *arg)
{
    struct timed_on_worker *tw = arg;
    weft_future *f;
    if (weft_pool_async(weft_pool_current(), &f, gate_task, tw->tw_gate) != 0)
        return EIO;
    gate_wait_arrived(tw->tw_gate, 1); /* taken by the other worker */
    int r = -7;
    tw->tw_eagain = weft_future_wait(f, WEFT_NO_WAIT, &r);
    tw->tw_timedout = weft_future_wait(f, 2 * 1000000, &r);
    gate_open(tw->tw_gate);
    tw->tw_final = weft_future_wait(f, WEFT_FOREVER, &r);
    tw->tw_result = r;
    weft_future_release(f);
    return 0;
}

START_TEST(timed_on_worker)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct gate gt = {.g_result = 3};
        struct timed_on_worker tw = {.tw_gate = &gt};
        ck_assert_int_eq(weft_pool_call(p, timed_waiter, &tw), 0);
        ck_assert_int_eq(tw.tw_eagain, EAGAIN);
        ck_assert_int_eq(tw.tw_timedout, ETIMEDOUT);
        ck_assert_int_eq(tw.tw_final, 0);
        ck_assert_int_eq(tw.tw_result, 3);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* From a worker of another pool (blocks there, in a blocking section), and
 * four outside threads waiting on the same future. */
struct waiter {
    weft_future *w_f;
    int w_rc, w_result;
};

static int wait_from_task(void *arg)
{
    struct waiter *w = arg;
    w->w_rc = weft_future_wait(w->w_f, WEFT_FOREVER, &w->w_result);
    return 0;
}

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    while ((w->w_rc = weft_future_wait(w->w_f, 100 * 1000, &w->w_result)) == ETIMEDOUT)
        ;
    return NULL;
}

START_TEST(many_waiters)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        weft_pool *other = make_pool(1, modes[m]);
        struct gate gt = {.g_result = 77};
        weft_future *f;
        ck_assert_int_eq(weft_pool_async(p, &f, gate_task, &gt), 0);
        struct waiter in_other = {f, -1, -1}, w[4];
        ck_assert_int_eq(weft_pool_submit(other, wait_from_task, &in_other), 0);
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (struct waiter){f, -1, -1};
            ck_assert_int_eq(pthread_create(&th[i], NULL, wait_thread, &w[i]), 0);
        }
        gate_open(&gt);
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(w[i].w_rc, 0);
            ck_assert_int_eq(w[i].w_result, 77);
        }
        ck_assert_int_eq(weft_pool_wait_idle(other), 0);
        ck_assert_int_eq(in_other.w_rc, 0);
        ck_assert_int_eq(in_other.w_result, 77);
        weft_future_release(f);
        ck_assert_int_eq(weft_pool_destroy(other), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Four threads each start 2000 futures and wait for them, some released
 * unwaited. */
static void *async_thread(void *arg)
{
    weft_pool *p = arg;
    enum { N = 2000 };
    static _Thread_local weft_future *f[N];
    long bad = 0;
    for (int i = 0; i < N; i++)
        bad += weft_pool_async(p, &f[i], ret_arg, (void *)(intptr_t)i) != 0;
    for (int i = 0; i < N; i++) {
        int r = -1;
        if (i % 3 != 0)
            bad += weft_future_wait(f[i], WEFT_FOREVER, &r) != 0 || r != i;
        weft_future_release(f[i]);
    }
    return (void *)bad;
}

START_TEST(several_threads)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, async_thread, p), 0);
        for (int i = 0; i < 4; i++) {
            void *bad;
            pthread_join(th[i], &bad);
            ck_assert_ptr_null(bad);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Every allocation of weft_pool_async fails in turn: ENOMEM, *out
 * unchanged, nothing left behind; then it works. */
START_TEST(enomem)
{
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    weft__alloc_fail_at(0);
    weft_future *f;
    ck_assert_int_eq(weft_pool_async(p, &f, ret_arg, NULL), 0);
    long n = weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_future_wait(f, WEFT_FOREVER, NULL), 0);
    weft_future_release(f);
    ck_assert_int_ge(n, 2); /* the future and its heap task */
    for (long k = 1; k <= n; k++) {
        weft__alloc_fail_at(k);
        f = NULL;
        int rc = weft_pool_async(p, &f, ret_arg, (void *)(intptr_t)1);
        weft__alloc_fail_at(0);
        ck_assert_int_eq(rc, ENOMEM);
        ck_assert_ptr_null(f);
    }
    int r = 0;
    ck_assert_int_eq(weft_pool_async(p, &f, ret_arg, (void *)(intptr_t)1), 0);
    ck_assert_int_eq(weft_future_wait(f, WEFT_FOREVER, &r), 0);
    ck_assert_int_eq(r, 1);
    weft_future_release(f);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

START_TEST(after_fork)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    struct gate gt = {.g_result = 0};
    weft_future *pending, *done;
    ck_assert_int_eq(weft_pool_async(p, &done, ret_arg, (void *)(intptr_t)4), 0);
    ck_assert_int_eq(weft_future_wait(done, WEFT_FOREVER, NULL), 0);
    ck_assert_int_eq(weft_pool_async(p, &pending, gate_task, &gt), 0);
    gate_wait_arrived(&gt, 1);
    settle_before_fork(p, 1); /* the child allocates; one worker holds the gate */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int r = -7, bad = 0;
        weft_future *f = NULL;
        bad |= weft_pool_async(p, &f, ret_arg, NULL) != EPIPE || f != NULL;
        bad |= weft_future_wait(pending, WEFT_FOREVER, &r) != EPIPE || r != -7;
        bad |= weft_future_wait(done, WEFT_FOREVER, &r) != 0 || r != 4; /* finished before */
        _exit(bad);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    gate_open(&gt);
    ck_assert_int_eq(weft_future_wait(pending, WEFT_FOREVER, NULL), 0);
    weft_future_release(pending);
    weft_future_release(done);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("future");
    WEFT_TEST_CASE(s, bad_input, 60);
    WEFT_TEST_CASE(s, results_apart, 60);
    WEFT_TEST_CASE(s, timeouts, 60);
    WEFT_TEST_CASE(s, release_early, 60);
    WEFT_TEST_CASE(s, wait_from_own_task, 60);
    WEFT_TEST_CASE(s, on_worker, 120);
    WEFT_TEST_CASE(s, timed_on_worker, 60);
    WEFT_TEST_CASE(s, many_waiters, 60);
    WEFT_TEST_CASE(s, several_threads, 120);
    WEFT_TEST_CASE(s, enomem, 60);
    WEFT_TEST_CASE_TAGGED(s, after_fork, 60, "fork");
    return weft_test_run(s);
}
