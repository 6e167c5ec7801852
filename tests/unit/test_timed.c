/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_timed.c - waits with a timeout (weft/timeout.h):
 * weft_group_try_wait and weft_pool_try_wait_idle. Bad input, WEFT_NO_WAIT
 * (EAGAIN), positive timeouts (ETIMEDOUT, not early), WEFT_FOREVER, the
 * group's result kept apart from weft's status, waits from workers (which
 * help), from a worker of another pool, from several threads at once, and
 * in a child of fork(). Both schedulers.
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

#include "check_main.h"
#include "gate.h"

static const weft_scheduler modes[] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};

static weft_pool *make_pool(unsigned workers, weft_scheduler mode)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

static int count_task(void *arg)
{
    atomic_fetch_add_explicit((_Atomic int *)arg, 1, memory_order_relaxed);
    return 0;
}

/* ---- weft_group_try_wait ------------------------------------------------ */

START_TEST(group_bad_input)
{
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING);
    weft_group g, zero = {{0}};
    int r = -7;
    ck_assert_int_eq(weft_group_try_wait(NULL, WEFT_FOREVER, &r), EINVAL);
    ck_assert_int_eq(weft_group_try_wait(&zero, WEFT_FOREVER, &r), EINVAL); /* not initialised */
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    ck_assert_int_eq(weft_group_try_wait(&g, WEFT_FOREVER, NULL), EINVAL);
    ck_assert_int_eq(weft_group_try_wait(&g, -2, &r), EINVAL);
    ck_assert_int_eq(weft_group_try_wait(&g, INT64_MIN, &r), EINVAL);
    ck_assert_int_eq(r, -7); /* untouched by a refusal */
    /* An empty group is done at once, whatever the timeout. */
    ck_assert_int_eq(weft_group_try_wait(&g, WEFT_NO_WAIT, &r), 0);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(weft_group_try_wait(&g, 1, &r), 0);
    ck_assert_int_eq(weft_group_try_wait(&g, INT64_MAX, &r), 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

START_TEST(group_timeouts)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        /* A task whose own result is EPIPE: the wait's status stays 0 and
         * the result comes through the out-parameter. */
        struct gate gt = {.g_result = EPIPE};
        weft_group g;
        ck_assert_int_eq(weft_group_init(&g, p), 0);
        ck_assert_int_eq(weft_group_spawn(&g, gate_task, &gt), 0);
        gate_wait_arrived(&gt, 1);
        int r = -7;
        ck_assert_int_eq(weft_group_try_wait(&g, WEFT_NO_WAIT, &r), EAGAIN);
        double t0 = gate_now();
        ck_assert_int_eq(weft_group_try_wait(&g, 20 * 1000000, &r), ETIMEDOUT);
        ck_assert(gate_now() - t0 >= 0.020); /* not early */
        ck_assert_int_eq(r, -7);
        ck_assert(!weft_group_cancelled(&g)); /* a timeout changes nothing */
        gate_open(&gt);
        ck_assert_int_eq(weft_group_try_wait(&g, WEFT_FOREVER, &r), 0);
        ck_assert_int_eq(r, EPIPE);
        /* Until the next spawn, the same result. */
        r = -7;
        ck_assert_int_eq(weft_group_try_wait(&g, WEFT_NO_WAIT, &r), 0);
        ck_assert_int_eq(r, EPIPE);
        ck_assert_int_eq(weft_group_wait(&g), EPIPE); /* the old call mixes them */

        /* A new round; cancelled: ECANCELED is the group's result. */
        struct gate g2 = {.g_result = 0};
        ck_assert_int_eq(weft_group_spawn(&g, gate_task, &g2), 0);
        gate_wait_arrived(&g2, 1);
        weft_group_cancel(&g);
        gate_open(&g2);
        ck_assert_int_eq(weft_group_try_wait(&g, INT64_MAX, &r), 0);
        ck_assert_int_eq(r, ECANCELED);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* On a worker: the gate task runs on the other worker before the wait
 * starts (so the waiter cannot take it while it helps); the waiter helps
 * with the counting tasks, times out on the gate, opens it, then waits. */
struct worker_wait {
    struct gate *ww_gate;
    _Atomic int ww_count;
    int ww_eagain, ww_timedout, ww_final, ww_result;
};

static int worker_waiter(void *arg)
{
    struct worker_wait *ww = arg;
    weft_group g;
    if (weft_group_init(&g, NULL) != 0 || weft_group_spawn(&g, gate_task, ww->ww_gate) != 0)
        return EIO;
    gate_wait_arrived(ww->ww_gate, 1);
    for (int i = 0; i < 100; i++)
        if (weft_group_spawn(&g, count_task, &ww->ww_count) != 0)
            return EIO;
    int r = -7;
    ww->ww_eagain = weft_group_try_wait(&g, WEFT_NO_WAIT, &r);
    ww->ww_timedout = weft_group_try_wait(&g, 5 * 1000000, &r);
    gate_open(ww->ww_gate);
    ww->ww_final = weft_group_try_wait(&g, WEFT_FOREVER, &r);
    ww->ww_result = r;
    return 0;
}

START_TEST(group_on_worker)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct gate gt = {.g_result = 42};
        struct worker_wait ww = {.ww_gate = &gt};
        ck_assert_int_eq(weft_pool_call(p, worker_waiter, &ww), 0);
        ck_assert_int_eq(ww.ww_eagain, EAGAIN);
        ck_assert_int_eq(ww.ww_timedout, ETIMEDOUT);
        ck_assert_int_eq(ww.ww_final, 0);
        ck_assert_int_eq(ww.ww_result, 42);
        /* Relaxed: the group wait ordered the tasks' increments. */
        ck_assert_int_eq(atomic_load_explicit(&ww.ww_count, memory_order_relaxed), 100);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Regression: a task that waited for its own group hung (WEFT_FOREVER):
 * the group's count includes the waiting task, so it never reaches 0. The
 * waits return EPERM, whatever the timeout; the test's timed wait is
 * bounded (5 s), so that without the check it fails instead of hanging. */
struct self_group {
    weft_group sg_group;
    int sg_rc[4]; /* weft_group_try_wait 5 s, WEFT_NO_WAIT, 1 ns; weft_group_wait */
};

static int wait_own_group(void *arg)
{
    struct self_group *sg = arg;
    int r = -1;
    sg->sg_rc[0] = weft_group_try_wait(&sg->sg_group, (int64_t)5000000000, &r);
    sg->sg_rc[1] = weft_group_try_wait(&sg->sg_group, WEFT_NO_WAIT, &r);
    sg->sg_rc[2] = weft_group_try_wait(&sg->sg_group, 1, &r);
    /* The untimed wait only where the timed one was refused: never a hang. */
    sg->sg_rc[3] = sg->sg_rc[0] == EPERM ? weft_group_wait(&sg->sg_group) : -2;
    return 0;
}

START_TEST(group_wait_from_own_task)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(1, modes[m]);
        struct self_group sg;
        ck_assert_int_eq(weft_group_init(&sg.sg_group, p), 0);
        ck_assert_int_eq(weft_group_spawn(&sg.sg_group, wait_own_group, &sg), 0);
        int r = -1;
        ck_assert_int_eq(weft_group_try_wait(&sg.sg_group, WEFT_FOREVER, &r), 0);
        ck_assert_int_eq(r, 0);
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(sg.sg_rc[i], EPERM);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Several outside threads, each with its own group, polling with short
 * timeouts until their groups finish. */
struct poller {
    weft_pool *pl_pool;
    int pl_id;
    _Atomic int pl_count;
    int pl_status, pl_result;
};

static int fail_task(void *arg)
{
    return ((struct poller *)arg)->pl_id + 1;
}

static void *poller_main(void *arg)
{
    struct poller *pl = arg;
    weft_group g;
    weft_group_init(&g, pl->pl_pool);
    for (int i = 0; i < 200; i++)
        weft_group_spawn(&g, count_task, &pl->pl_count);
    weft_group_spawn(&g, fail_task, pl);
    int rc, r = -7;
    while ((rc = weft_group_try_wait(&g, 100 * 1000, &r)) == ETIMEDOUT)
        ;
    pl->pl_status = rc;
    pl->pl_result = r;
    return NULL;
}

START_TEST(group_several_threads)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct poller pl[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            pl[i] = (struct poller){.pl_pool = p, .pl_id = i};
            ck_assert_int_eq(pthread_create(&th[i], NULL, poller_main, &pl[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(pl[i].pl_status, 0);
            ck_assert_int_eq(pl[i].pl_result, i + 1);
            /* Fail fast: the counting tasks not started by then are skipped. */
            ck_assert_int_le(atomic_load_explicit(&pl[i].pl_count, memory_order_relaxed), 200);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- weft_pool_try_wait_idle -------------------------------------------- */

static int try_idle_self(void *arg)
{
    (void)arg;
    return weft_pool_try_wait_idle(weft_pool_current(), WEFT_NO_WAIT);
}

START_TEST(idle_bad_input)
{
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING);
    ck_assert_int_eq(weft_pool_try_wait_idle(NULL, WEFT_FOREVER), EINVAL);
    ck_assert_int_eq(weft_pool_try_wait_idle(p, -2), EINVAL);
    ck_assert_int_eq(weft_pool_try_wait_idle(p, INT64_MIN), EINVAL);
    ck_assert_int_eq(weft_pool_call(p, try_idle_self, NULL), EPERM);
    /* The call's task is counted until just after its caller is woken. */
    ck_assert_int_eq(weft_pool_try_wait_idle(p, WEFT_FOREVER), 0);
    ck_assert_int_eq(weft_pool_try_wait_idle(p, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_pool_try_wait_idle(p, 1), 0);
    ck_assert_int_eq(weft_pool_try_wait_idle(p, INT64_MAX), 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

struct idle_waiter {
    weft_pool *iw_pool;
    struct gate *iw_gate;
    int iw_rc;
};

/* On a worker of another pool: blocks (in a blocking section). */
static int idle_from_other_pool(void *arg)
{
    struct idle_waiter *iw = arg;
    iw->iw_rc = weft_pool_try_wait_idle(iw->iw_pool, WEFT_FOREVER);
    return 0;
}

static void *idle_poller(void *arg)
{
    struct idle_waiter *iw = arg;
    while ((iw->iw_rc = weft_pool_try_wait_idle(iw->iw_pool, 200 * 1000)) == ETIMEDOUT)
        ;
    return NULL;
}

START_TEST(idle_timeouts)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        weft_pool *other = make_pool(1, modes[m]);
        struct gate gt = {.g_result = 0};
        ck_assert_int_eq(weft_pool_submit(p, gate_task, &gt), 0);
        gate_wait_arrived(&gt, 1);
        ck_assert_int_eq(weft_pool_try_wait_idle(p, WEFT_NO_WAIT), EAGAIN);
        double t0 = gate_now();
        ck_assert_int_eq(weft_pool_try_wait_idle(p, 10 * 1000000), ETIMEDOUT);
        ck_assert(gate_now() - t0 >= 0.010);
        /* Waiters meanwhile: a worker of another pool, four threads. */
        struct idle_waiter from_other = {p, &gt, -1}, th_w[4];
        ck_assert_int_eq(weft_pool_submit(other, idle_from_other_pool, &from_other), 0);
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            th_w[i] = (struct idle_waiter){p, &gt, -1};
            ck_assert_int_eq(pthread_create(&th[i], NULL, idle_poller, &th_w[i]), 0);
        }
        gate_open(&gt);
        ck_assert_int_eq(weft_pool_try_wait_idle(p, WEFT_FOREVER), 0);
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(th_w[i].iw_rc, 0);
        }
        ck_assert_int_eq(weft_pool_wait_idle(other), 0);
        ck_assert_int_eq(from_other.iw_rc, 0);
        ck_assert_int_eq(weft_pool_try_wait_idle(p, WEFT_NO_WAIT), 0);
        ck_assert_int_eq(weft_pool_destroy(other), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Regression: a spare that had been searching went off duty without the
 * re-check a parker makes, so a task submitted while it searched (whose
 * notifier skipped the wake-up because someone was searching) waited for
 * a parked spare's keep-alive tick (1 s by default) or, once no spare was
 * left, for ever, while the workers slept. Spares finish the gate tasks and
 * search just as the next task comes; the timed wait tells a lost task.
 * The keep-alive is raised to 10 s, so that a lost task waits about twice
 * as long as the wait's 5 s, which in turn leaves a loaded machine ample
 * time to run a task that was not lost. (Not longer: a spare that goes off
 * duty while destroy recalls the spares is not recalled, and destroy waits
 * for its keep-alive to run out.) */
extern int64_t weft__spare_keepalive_ns;

START_TEST(spare_search_handoff)
{
    weft__spare_keepalive_ns = (int64_t)10 * 1000000000;
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        for (int it = 0; it < 150; it++) {
            struct gate gt = {.g_result = 0};
            for (int i = 0; i < 8; i++)
                ck_assert_int_eq(weft_pool_submit(p, gate_task, &gt), 0);
            gate_wait_arrived(&gt, 1);
            gate_open(&gt);
            ck_assert_int_eq(weft_pool_wait_idle(p), 0);
            _Atomic int n = 0;
            ck_assert_int_eq(weft_pool_submit(p, count_task, &n), 0);
            ck_assert_int_eq(weft_pool_try_wait_idle(p, (int64_t)5 * 1000000000), 0);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- fork ------------------------------------------------------------------ */

START_TEST(after_fork)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    struct gate gt = {.g_result = 0};
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    ck_assert_int_eq(weft_group_spawn(&g, gate_task, &gt), 0);
    gate_wait_arrived(&gt, 1);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* The inherited pool and group: refused, never waited for. */
        int r = -7, bad = 0;
        bad |= weft_pool_try_wait_idle(p, WEFT_FOREVER) != EPIPE;
        bad |= weft_group_try_wait(&g, WEFT_FOREVER, &r) != EPIPE;
        bad |= r != -7;
        _exit(bad);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    gate_open(&gt);
    int r;
    ck_assert_int_eq(weft_group_try_wait(&g, WEFT_FOREVER, &r), 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timed");
    WEFT_TEST_CASE(s, group_bad_input, 60);
    WEFT_TEST_CASE(s, group_timeouts, 60);
    WEFT_TEST_CASE(s, group_on_worker, 60);
    WEFT_TEST_CASE(s, group_wait_from_own_task, 60);
    WEFT_TEST_CASE(s, group_several_threads, 60);
    WEFT_TEST_CASE(s, idle_bad_input, 60);
    WEFT_TEST_CASE(s, idle_timeouts, 60);
    WEFT_TEST_CASE(s, spare_search_handoff, 240);
    WEFT_TEST_CASE_TAGGED(s, after_fork, 60, "fork");
    return weft_test_run(s);
}
