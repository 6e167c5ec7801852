/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_pool.c - the pool (weft/pool.h): bad arguments, EPERM and
 * EPIPE rules, submit from 8 outside threads, pool_call from several
 * threads, nested pools, destroy running queued work, ENOMEM paths, stats,
 * and that an idle pool parks (uses almost no CPU). Both schedulers.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "pool/sched.h"
#include "check_main.h"

static weft_pool *make_pool(unsigned workers, weft_scheduler mode)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode, .seed = 42};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(weft_pool_size(p), workers);
    return p;
}

static int nop(void *arg)
{
    (void)arg;
    return 0;
}

static int count_task(void *arg)
{
    atomic_fetch_add_explicit((_Atomic long *)arg, 1, memory_order_relaxed);
    return 0;
}

static int body_nop(size_t lo, size_t hi, void *arg)
{
    (void)lo, (void)hi, (void)arg;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How long a test waits for something that must happen: long enough for a
 * loaded machine (a thread may wait seconds for a core), short enough to
 * fail within the case's timeout (60 s) instead of hanging. */
#define BOUND_S 20.0

/* ---- bad arguments ----------------------------------------------------- */

START_TEST(test_bad_arguments)
{
    weft_pool *p = NULL;
    weft_pool_options o = {0};
    ck_assert_int_eq(weft_pool_create(NULL, NULL), EINVAL);
    o.scheduler = (weft_scheduler)7;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.scheduler = WEFT_SCHED_STEALING;
    o.workers = 4097;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(weft_pool_destroy(NULL), 0);
    ck_assert_uint_eq(weft_pool_size(NULL), 0);
    ck_assert_ptr_null(weft_pool_current());
    ck_assert_int_eq(weft_worker_index(), -1);

    p = make_pool(1, WEFT_SCHED_STEALING);
    weft_worker_stats st[1];
    ck_assert_int_eq(weft_pool_submit(NULL, nop, NULL), EINVAL);
    ck_assert_int_eq(weft_pool_submit(p, NULL, NULL), EINVAL);
    ck_assert_int_eq(weft_pool_call(NULL, nop, NULL), EINVAL);
    ck_assert_int_eq(weft_pool_call(p, NULL, NULL), EINVAL);
    ck_assert_int_eq(weft_pool_wait_idle(NULL), EINVAL);
    ck_assert_int_eq(weft_pool_stats(NULL, st, 1), EINVAL);
    ck_assert_int_eq(weft_pool_stats(p, NULL, 1), EINVAL);
    ck_assert_int_eq(weft_pool_stats(p, st, 0), EINVAL);
    ck_assert_int_eq(weft_parallel_for(p, 0, 10, 0, NULL, NULL), EINVAL);
    ck_assert_int_eq(weft_parallel_for(p, 10, 9, 0, body_nop, NULL), EINVAL);
    ck_assert_int_eq(weft_parallel_for(NULL, 0, 10, 0, body_nop, NULL), EINVAL);

    weft_task t;
    ck_assert_int_eq(weft_spawn(&t, nop, NULL), EPERM); /* off a worker */
    ck_assert_int_eq(weft_spawn(NULL, nop, NULL), EINVAL);
    ck_assert_int_eq(weft_spawn(&t, NULL, NULL), EINVAL);
    ck_assert_int_eq(weft_sync(NULL), EINVAL);

    weft_group g = {{0}};
    ck_assert_int_eq(weft_group_init(NULL, p), EINVAL);
    ck_assert_int_eq(weft_group_init(&g, NULL), EINVAL); /* off a worker */
    ck_assert_int_eq(weft_group_spawn(&g, nop, NULL), EINVAL); /* not initialised */
    ck_assert_int_eq(weft_group_wait(&g), EINVAL);
    ck_assert_int_eq(weft_group_spawn(NULL, nop, NULL), EINVAL);
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    ck_assert_int_eq(weft_group_spawn(&g, NULL, NULL), EINVAL);
    ck_assert_int_eq(weft_group_wait(NULL), EINVAL);
    weft_group_cancel(NULL);
    ck_assert(!weft_group_cancelled(NULL));
    ck_assert_int_eq(weft_group_wait(&g), 0); /* empty group */
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* ---- EPERM from a worker of the same pool; nested calls ------------------ */

/* Returns 42 if it runs on the worker whose index arg points at. */
static int same_worker(void *arg)
{
    return weft_worker_index() == *(int *)arg ? 42 : 43;
}

static int worker_misuse(void *arg)
{
    (void)arg;
    weft_pool *self = weft_pool_current();
    if (self == NULL || weft_worker_index() < 0)
        return 100;
    /* Nesting is transparent: a call from a worker of the pool runs fn
     * there and returns its result. Regression: it returned EPERM. */
    int me = weft_worker_index();
    if (weft_pool_call(self, same_worker, &me) != 42)
        return 101;
    if (weft_pool_wait_idle(self) != EPERM)
        return 102;
    if (weft_pool_destroy(self) != EPERM)
        return 103;
    /* Submitting from a worker is fine. */
    if (weft_pool_submit(self, nop, NULL) != 0)
        return 104;
    return 7;
}

static void eperm_in(weft_scheduler mode)
{
    weft_pool *p = make_pool(2, mode);
    ck_assert_int_eq(weft_pool_call(p, worker_misuse, NULL), 7);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}

START_TEST(test_eperm_from_worker)
{
    eperm_in(WEFT_SCHED_STEALING);
    eperm_in(WEFT_SCHED_SHARED);
}
END_TEST

/* ---- submit from 8 outside threads at once ----------------------------- */

#define SUBMITTERS 8
#define PER_SUBMITTER 2000

struct submit_ctx {
    weft_pool *p;
    pthread_barrier_t *start;
    _Atomic long *counter;
};

static void *submitter(void *arg)
{
    struct submit_ctx *c = arg;
    pthread_barrier_wait(c->start);
    for (int i = 0; i < PER_SUBMITTER; i++)
        ck_assert_int_eq(weft_pool_submit(c->p, count_task, c->counter), 0);
    return NULL;
}

static void submit_8_in(weft_scheduler mode, unsigned workers)
{
    weft_pool *p = make_pool(workers, mode);
    _Atomic long counter = 0;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, SUBMITTERS);
    struct submit_ctx c = {p, &start, &counter};
    pthread_t th[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, submitter, &c), 0);
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    /* Relaxed: wait_idle ordered the tasks' increments before. */
    ck_assert_int_eq(atomic_load_explicit(&counter, memory_order_relaxed),
                     SUBMITTERS * PER_SUBMITTER);
    weft_worker_stats st[4];
    ck_assert_int_eq(weft_pool_stats(p, st, 4), 0);
    uint64_t executed = 0, injected = 0;
    for (unsigned i = 0; i < workers; i++) {
        executed += st[i].executed;
        injected += st[i].injected;
        if (mode == WEFT_SCHED_SHARED)
            ck_assert_uint_eq(st[i].steals, 0);
    }
    ck_assert_uint_eq(executed, SUBMITTERS * PER_SUBMITTER);
    ck_assert_uint_eq(injected, SUBMITTERS * PER_SUBMITTER);
    pthread_barrier_destroy(&start);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}

START_TEST(test_submit_from_8_threads)
{
    submit_8_in(WEFT_SCHED_STEALING, 1);
    submit_8_in(WEFT_SCHED_STEALING, 3);
    submit_8_in(WEFT_SCHED_SHARED, 1);
    submit_8_in(WEFT_SCHED_SHARED, 3);
}
END_TEST

/* ---- pool_call from several outside threads ---------------------------- */

static int echo(void *arg)
{
    return (int)(intptr_t)arg;
}

static void *caller(void *arg)
{
    weft_pool *p = arg;
    for (int i = 1; i <= 300; i++)
        ck_assert_int_eq(weft_pool_call(p, echo, (void *)(intptr_t)i), i);
    return NULL;
}

START_TEST(test_call_from_threads)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            ck_assert_int_eq(pthread_create(&th[i], NULL, caller, p), 0);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- nested pools ------------------------------------------------------ */

static int in_b(void *arg)
{
    weft_pool *a = arg;
    /* On B's worker: A is "outside". */
    return weft_pool_current() != a ? 5 : 99;
}

static int in_a(void *arg)
{
    weft_pool *b = arg;
    weft_pool *a = weft_pool_current();
    int r = weft_pool_call(b, in_b, a); /* blocks this worker of A: fine */
    if (r != 5)
        return 1;
    weft_group g;
    if (weft_group_init(&g, b) != 0)
        return 2;
    _Atomic long n = 0;
    for (int i = 0; i < 50; i++)
        if (weft_group_spawn(&g, count_task, &n) != 0)
            return 3;
    /* Relaxed: group_wait ordered the tasks' increments before. */
    if (weft_group_wait(&g) != 0 || atomic_load_explicit(&n, memory_order_relaxed) != 50)
        return 4;
    if (weft_parallel_for(b, 0, 1000, 7, body_nop, NULL) != 0)
        return 6;
    return 0;
}

START_TEST(test_nested_pools)
{
    for (int m = 0; m < 2; m++) {
        weft_scheduler mode = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING;
        weft_pool *a = make_pool(2, mode), *b = make_pool(1, mode);
        ck_assert_int_eq(weft_pool_call(a, in_a, b), 0);
        ck_assert_int_eq(weft_pool_destroy(b), 0);
        ck_assert_int_eq(weft_pool_destroy(a), 0);
    }
}
END_TEST

/* ---- destroy with work still queued ------------------------------------ */

struct destroy_ctx {
    _Atomic long ran;
    _Atomic long children;
    weft_pool *p;
};

static int child_task(void *arg)
{
    struct destroy_ctx *c = arg;
    atomic_fetch_add_explicit(&c->children, 1, memory_order_relaxed); /* a count */
    return 0;
}

static int parent_task(void *arg)
{
    struct destroy_ctx *c = arg;
    atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed); /* a count */
    /* Submits from the pool's own workers are accepted during destroy. */
    if (weft_pool_submit(weft_pool_current(), child_task, c) != 0)
        atomic_fetch_add_explicit(&c->children, 1000000, memory_order_relaxed);
    return 0;
}

START_TEST(test_destroy_runs_queued_work)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(1, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        struct destroy_ctx c = {0, 0, p};
        for (int i = 0; i < 3000; i++)
            ck_assert_int_eq(weft_pool_submit(p, parent_task, &c), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
        /* Relaxed: destroy joined the workers after every task. */
        ck_assert_int_eq(atomic_load_explicit(&c.ran, memory_order_relaxed), 3000);
        ck_assert_int_eq(atomic_load_explicit(&c.children, memory_order_relaxed), 3000);
    }
}
END_TEST

/* ---- EPIPE: a submit racing with destroy either runs or fails --------- */

struct gate {
    _Atomic int open;
    _Atomic long ran;
};

static int gate_task(void *arg)
{
    struct gate *g = arg;
    /* Acquire: pairs with the test's release store. */
    while (!atomic_load_explicit(&g->open, memory_order_acquire))
        sched_yield();
    return 0;
}

static int gated_count(void *arg)
{
    struct gate *g = arg;
    atomic_fetch_add_explicit(&g->ran, 1, memory_order_relaxed); /* a count */
    return 0;
}

static void *destroyer(void *arg)
{
    ck_assert_int_eq(weft_pool_destroy(arg), 0);
    return NULL;
}

static void epipe_in(weft_scheduler mode)
{
    weft_pool *p = make_pool(1, mode);
    struct gate g = {0, 0};
    ck_assert_int_eq(weft_pool_submit(p, gate_task, &g), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, destroyer, p), 0);
    long accepted = 0;
    int rc;
    /* The gate holds the only worker, so destroy cannot finish before we
     * open it: every submit here either counts (0) or is refused (EPIPE). */
    while ((rc = weft_pool_submit(p, gated_count, &g)) == 0)
        accepted++;
    ck_assert_int_eq(rc, EPIPE);
    ck_assert_int_eq(weft_pool_call(p, nop, NULL), EPIPE);
    weft_group grp;
    ck_assert_int_eq(weft_group_init(&grp, p), 0);
    ck_assert_int_eq(weft_group_spawn(&grp, nop, NULL), EPIPE);
    ck_assert_int_eq(weft_parallel_for(p, 0, 10, 1, body_nop, NULL), EPIPE);
    /* Release: pairs with gate_task's acquire. */
    atomic_store_explicit(&g.open, 1, memory_order_release);
    pthread_join(th, NULL);
    /* Relaxed: the destroyer (joined) waited for every task. */
    ck_assert_int_eq(atomic_load_explicit(&g.ran, memory_order_relaxed), accepted);
}

START_TEST(test_epipe_during_destroy)
{
    epipe_in(WEFT_SCHED_STEALING);
    epipe_in(WEFT_SCHED_SHARED);
}
END_TEST

/* ---- destroy racing outside callers: no use after free ---------------- */

/* Regression test. Bug: an outside submit/call/group_spawn made its task
 * runnable (injection or SHARED queue) and then notified parked workers,
 * reading the pool; meanwhile a worker could run the task, destroy see the
 * pool idle, join the workers and free it - the notify read freed memory.
 * Likewise a submit refused with EPIPE first counted itself and then undid
 * the count, reading and bumping pool words after the undo had let destroy
 * finish. Now an outside caller holds a guard (p_callers) from its
 * admission to its last access, destroy waits for the guard count to drop
 * to 0, and a refused caller writes nothing. The test hook stops a caller
 * in each window until destroy has returned (or 250 ms have passed: with
 * the fix destroy cannot return then); the old code let destroy return
 * inside the window (and under ASan the next access was a use after free). */

static struct {
    _Atomic int armed;      /* the hook point to stop at once, 0: none */
    _Atomic int in_window;  /* a caller is stopped in the window */
    _Atomic int destroyed;  /* weft_pool_destroy returned */
    _Atomic int saw_return; /* ... while the caller was in the window */
    struct gate *gate;      /* REFUSED: opened by the hook */
} race;

static void race_hook(int where)
{
    int want = where;
    /* The race flags are handshakes, each read and written on its own,
     * with no other data riding on them: seq_cst, the simplest order. */
    if (!atomic_compare_exchange_strong_explicit(&race.armed, &want, 0, memory_order_seq_cst,
                                                 memory_order_seq_cst))
        return;
    if (where == WEFT__RACE_REFUSED)
        atomic_store_explicit(&race.gate->open, 1, memory_order_release);
    atomic_store_explicit(&race.in_window, 1, memory_order_seq_cst);
    /* A bounded wait, not an ordering sleep: the fixed pool cannot finish
     * destroy now, so it ends by the clock; the old one returned. */
    for (double t0 = now_s(); now_s() - t0 < 0.25;) {
        if (atomic_load_explicit(&race.destroyed, memory_order_seq_cst)) {
            atomic_store_explicit(&race.saw_return, 1, memory_order_seq_cst);
            break;
        }
        sched_yield();
    }
}

struct race_caller {
    weft_pool *p;
    int kind; /* 0 submit, 1 call, 2 group_spawn + wait */
    int rc;
    _Atomic long counter;
    weft_group g;
};

static void *race_caller_main(void *arg)
{
    struct race_caller *c = arg;
    if (c->kind == 0) {
        c->rc = weft_pool_submit(c->p, count_task, &c->counter);
    } else if (c->kind == 1) {
        c->rc = weft_pool_call(c->p, count_task, &c->counter);
    } else {
        c->rc = weft_group_spawn(&c->g, count_task, &c->counter);
        if (c->rc == 0)
            c->rc = weft_group_wait(&c->g);
    }
    return NULL;
}

static void race_enqueued(weft_scheduler mode, int kind)
{
    weft__pool_race_hook = race_hook;
    struct race_caller c = {.p = make_pool(2, mode), .kind = kind};
    ck_assert_int_eq(weft_group_init(&c.g, c.p), 0);
    atomic_store_explicit(&race.in_window, 0, memory_order_seq_cst);
    atomic_store_explicit(&race.destroyed, 0, memory_order_seq_cst);
    atomic_store_explicit(&race.saw_return, 0, memory_order_seq_cst);
    atomic_store_explicit(&race.armed, WEFT__RACE_ENQUEUED, memory_order_seq_cst);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, race_caller_main, &c), 0);
    while (!atomic_load_explicit(&race.in_window, memory_order_seq_cst))
        sched_yield();
    /* The stopped caller has not notified yet: wake the workers (they then
     * also run its task), then destroy. */
    ck_assert_int_eq(weft_pool_submit(c.p, nop, NULL), 0);
    ck_assert_int_eq(weft_pool_destroy(c.p), 0);
    atomic_store_explicit(&race.destroyed, 1, memory_order_seq_cst);
    pthread_join(th, NULL);
    ck_assert_int_eq(c.rc, 0);
    /* Relaxed: the task ran before destroy returned (it joined the workers). */
    ck_assert_int_eq(atomic_load_explicit(&c.counter, memory_order_relaxed), 1);
    ck_assert_msg(!atomic_load_explicit(&race.saw_return, memory_order_seq_cst),
                  "destroy returned while an outside caller (mode %d, kind %d) was inside",
                  (int)mode, kind);
}

static void *destroy_and_mark(void *arg)
{
    ck_assert_int_eq(weft_pool_destroy(arg), 0);
    atomic_store_explicit(&race.destroyed, 1, memory_order_seq_cst);
    return NULL;
}

static void race_refused(weft_scheduler mode)
{
    weft__pool_race_hook = race_hook;
    weft_pool *p = make_pool(1, mode);
    struct gate g = {0, 0};
    race.gate = &g;
    atomic_store_explicit(&race.destroyed, 0, memory_order_seq_cst);
    atomic_store_explicit(&race.armed, WEFT__RACE_REFUSED, memory_order_seq_cst);
    ck_assert_int_eq(weft_pool_submit(p, gate_task, &g), 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, destroy_and_mark, p), 0);
    /* The gate holds the only worker until the first refusal opens it. */
    long accepted = 0;
    int rc;
    while ((rc = weft_pool_submit(p, gated_count, &g)) == 0)
        accepted++;
    ck_assert_int_eq(rc, EPIPE);
    pthread_join(th, NULL);
    /* Relaxed: the destroyer (joined) waited for every task. */
    ck_assert_int_eq(atomic_load_explicit(&g.ran, memory_order_relaxed), accepted);
}

START_TEST(test_destroy_races_outside_callers)
{
    for (int m = 0; m < 2; m++) {
        weft_scheduler mode = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING;
        for (int kind = 0; kind < 3; kind++)
            race_enqueued(mode, kind);
        race_refused(mode);
    }
    weft__pool_race_hook = NULL;
}
END_TEST

/* ---- a submit from a worker becomes stealable at once ------------------ */

/* Regression test. Bug: weft_pool_submit and weft_group_spawn called on a
 * worker pushed the heap task into the private part of the worker's deque
 * and published it only if a thief's `hungry` request happened to be
 * pending; nothing woke a parked worker. So the task waited until its
 * owner next spawned or synced - forever if the submitting task then waited
 * for it (here: a bounded wait that the old code always ran out). Now the
 * worker publishes its whole private part and notifies after such a push.
 * Scenario (from the review): the root task spawns s1 and keeps its deque
 * polled until the other worker has stolen s1; s1 holds that worker until
 * the root has submitted; then the root waits for the submitted task
 * without touching its deque - only the other worker can run it. */

struct wsub {
    _Atomic int s1_started, submitted, ran;
    int use_group;
    weft_group g;
};

static int wsub_s1(void *arg)
{
    struct wsub *c = arg;
    /* Seq_cst flags (here and below): single-word handshakes; nothing else
     * is published through them. */
    atomic_store_explicit(&c->s1_started, 1, memory_order_seq_cst);
    while (!atomic_load_explicit(&c->submitted, memory_order_seq_cst))
        sched_yield();
    return 0;
}

static int wsub_task(void *arg)
{
    atomic_store_explicit(&((struct wsub *)arg)->ran, 1, memory_order_seq_cst);
    return 0;
}

static int wsub_root(void *arg)
{
    struct wsub *c = arg;
    weft_task t, n;
    if (weft_spawn(&t, wsub_s1, c) != 0)
        return 100;
    /* Spawn/sync polls the hungry flag, so s1 gets published and stolen. */
    while (!atomic_load_explicit(&c->s1_started, memory_order_seq_cst)) {
        weft_spawn(&n, nop, NULL);
        weft_sync(&n);
        sched_yield();
    }
    int rc = c->use_group ? weft_group_spawn(&c->g, wsub_task, c)
                          : weft_pool_submit(weft_pool_current(), wsub_task, c);
    if (rc != 0)
        return 101;
    atomic_store_explicit(&c->submitted, 1, memory_order_seq_cst);
    /* A bounded wait (not an ordering sleep): the other worker must run the
     * task while we do not touch our deque. */
    int ok = 0;
    for (double t0 = now_s(); now_s() - t0 < BOUND_S;) {
        if (atomic_load_explicit(&c->ran, memory_order_seq_cst)) {
            ok = 1;
            break;
        }
        sched_yield();
    }
    weft_sync(&t);
    if (c->use_group)
        weft_group_wait(&c->g);
    return ok ? 0 : ETIMEDOUT;
}

START_TEST(test_worker_submit_runs_elsewhere)
{
    for (int use_group = 0; use_group < 2; use_group++) {
        weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
        struct wsub c = {0};
        c.use_group = use_group;
        ck_assert_int_eq(weft_group_init(&c.g, p), 0);
        ck_assert_int_eq(weft_pool_call(p, wsub_root, &c), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- a woken worker passes the wake-up on ------------------------------ */

/* Regression test. Bug: a worker woken from its park took one task and ran
 * it without waking anyone else, although more work had been published
 * with the same single notify (a publish wakes one worker). If the running
 * tasks wait for each other, the rest never starts: the stress test's
 * destroy_vs_submitters hung that way. Now a woken worker searches as a
 * "searcher" and, having found work, wakes the next sleeper when more work
 * is visible (as Go's scheduler does). Scenario: all 3 workers parked; the
 * root (on one of them) spawns t1 and t2 and submits a no-op - one publish,
 * one notify - then waits until t1 and t2 have started; each waits for the
 * other. Only the two other workers can run them, and only if the first
 * wakes the second. */

struct pass_on {
    _Atomic int started;
};

/* Seq_cst: a single counter both sides poll; the simplest order. */
static int pass_on_started(struct pass_on *c)
{
    return atomic_load_explicit(&c->started, memory_order_seq_cst);
}

static int pass_on_task(void *arg)
{
    struct pass_on *c = arg;
    atomic_fetch_add_explicit(&c->started, 1, memory_order_seq_cst); /* see pass_on_started */
    for (double t0 = now_s(); now_s() - t0 < BOUND_S && pass_on_started(c) < 2;)
        sched_yield();
    return pass_on_started(c) >= 2 ? 0 : ETIMEDOUT;
}

static int pass_on_root(void *arg)
{
    struct pass_on *c = arg;
    weft_task t1, t2;
    /* White-box: forget the parked workers' old publish requests, so that
     * both spawns stay private and the submit publishes all three tasks at
     * once, with one notify. */
    weft__atomic_store(&weft__tls_worker->w_dq.dq_q.q_hungry, 0, memory_order_relaxed);
    if (weft_spawn(&t1, pass_on_task, c) != 0 || weft_spawn(&t2, pass_on_task, c) != 0
        || weft_pool_submit(weft_pool_current(), nop, NULL) != 0)
        return 100;
    /* A bounded wait (not an ordering sleep), without touching our deque. */
    for (double t0 = now_s(); now_s() - t0 < BOUND_S && pass_on_started(c) < 2;)
        sched_yield();
    int r = pass_on_started(c) >= 2 ? 0 : ETIMEDOUT;
    int r2 = weft_sync(&t2);
    int r1 = weft_sync(&t1);
    return r ? r : r2 ? r2 : r1;
}

START_TEST(test_woken_worker_passes_wakeup_on)
{
    weft_pool *p = make_pool(3, WEFT_SCHED_STEALING);
    struct pass_on c = {0};
    /* Seq_cst: all three workers have announced their park. */
    while (atomic_load_explicit(&p->p_park.ec_waiters, memory_order_seq_cst) != 3)
        sched_yield();
    ck_assert_int_eq(weft_pool_call(p, pass_on_root, &c), 0);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    ck_assert_int_eq(pass_on_started(&c), 2);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* ---- ENOMEM ------------------------------------------------------------ */

START_TEST(test_enomem)
{
    weft_pool *p = NULL;
    weft_pool_options o = {.workers = 2};
    /* Every allocation of create, in turn, fails cleanly. */
    weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    long n = weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    for (long k = 1; k <= n; k++) {
        p = NULL;
        weft__alloc_fail_at(k);
        ck_assert_int_eq(weft_pool_create(&p, &o), ENOMEM);
        ck_assert_ptr_null(p);
    }
    weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    _Atomic long counter = 0;
    weft__alloc_fail_at(1);
    ck_assert_int_eq(weft_pool_submit(p, count_task, &counter), ENOMEM);
    weft__alloc_fail_at(1);
    ck_assert_int_eq(weft_pool_call(p, count_task, &counter), ENOMEM);
    weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    ck_assert_int_eq(atomic_load_explicit(&counter, memory_order_relaxed), 0); /* after wait_idle */
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* ---- an idle pool parks ------------------------------------------------ */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec
           + ru.ru_stime.tv_usec / 1e6;
}

START_TEST(test_idle_pool_parks)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        _Atomic long counter = 0;
        for (int i = 0; i < 100; i++)
            ck_assert_int_eq(weft_pool_submit(p, count_task, &counter), 0);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        /* Both workers park (bounded: a loaded machine may not run them
         * for a while; a worker that spins instead never gets there). */
        weft_worker_stats st[2];
        for (double t0 = now_s();; usleep(1000)) {
            ck_assert_int_eq(weft_pool_stats(p, st, 2), 0);
            if (st[0].parks > 0 && st[1].parks > 0)
                break;
            ck_assert_msg(now_s() - t0 < BOUND_S, "idle workers did not park");
        }
        /* Idleness is what is measured: the one place a sleep belongs. */
        double c0 = cpu_seconds(), w0 = now_s();
        usleep(300 * 1000);
        double cpu = cpu_seconds() - c0, wall = now_s() - w0;
        /* Two spinning workers would use ~2 * wall; parked ones ~0. */
        ck_assert_msg(cpu < 0.2 * wall, "idle pool used %.3f s CPU in %.3f s", cpu, wall);
        /* Parked workers wake for new work. */
        ck_assert_int_eq(weft_pool_call(p, echo, (void *)(intptr_t)3), 3);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- calls that overlap destroy ------------------------------------------ */

/*
 * Threads blocked in weft_pool_wait_idle while another destroys the pool.
 * Regression: destroy waited for the same idleness and freed the pool while
 * the waiters still had to leave their wait (a heap-use-after-free that
 * ASan reported in 4 of 5 runs of 300 rounds). Each waiter now either
 * returns 0 (admitted before destroy began, which then waits for it) or
 * EPIPE.
 */
struct overlap {
    weft_pool *o_pool;
    pthread_barrier_t *o_start;
    int o_rc;
};

static int slow_task(void *arg)
{
    /* seq_cst: the test's release, once the waiters sleep. */
    while (!atomic_load_explicit((_Atomic int *)arg, memory_order_seq_cst))
        sched_yield();
    return 0;
}

static void *idle_waiter(void *arg)
{
    struct overlap *o = arg;
    pthread_barrier_wait(o->o_start);
    /* After this returns the pool may be gone: nothing else touches it
     * (stats and size during destroy: test_badinput). */
    o->o_rc = weft_pool_wait_idle(o->o_pool);
    return NULL;
}

START_TEST(test_wait_idle_vs_destroy)
{
    int rounds = getenv("WEFT_TEST_QUICK") ? 30 : 300;
    for (int r = 0; r < rounds; r++) {
        weft_pool *p = make_pool(1, r & 1 ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        _Atomic int open = 0;
        ck_assert_int_eq(weft_pool_submit(p, slow_task, &open), 0);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 5);
        struct overlap o[4];
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            o[i] = (struct overlap){p, &start, -1};
            ck_assert_int_eq(pthread_create(&th[i], NULL, idle_waiter, &o[i]), 0);
        }
        pthread_barrier_wait(&start);
        /* The four are asleep in their wait (white-box, seq_cst: the
         * waiters' announcement), as in the program that failed. */
        while (atomic_load_explicit(&p->p_idle.ec_waiters, memory_order_seq_cst) != 4)
            sched_yield();
        atomic_store_explicit(&open, 1, memory_order_seq_cst); /* the task ends */
        ck_assert_int_eq(weft_pool_destroy(p), 0);
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            ck_assert_msg(o[i].o_rc == 0 || o[i].o_rc == EPIPE, "waiter %d: %d", i, o[i].o_rc);
        }
        pthread_barrier_destroy(&start);
    }
}
END_TEST

/* Both schedulers count the same events. Regression: in SHARED mode group
 * spawns and submits made from a worker were not counted in `spawned`. */
static int spawn_some(void *arg)
{
    _Atomic long *counter = arg;
    weft_group g;
    if (weft_group_init(&g, NULL) != 0)
        return 1;
    for (int i = 0; i < 100; i++)
        if (weft_group_spawn(&g, count_task, counter) != 0
            || weft_pool_submit(weft_pool_current(), count_task, counter) != 0)
            return 2;
    return weft_group_wait(&g);
}

START_TEST(test_stats_same_in_both_modes)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        _Atomic long counter = 0;
        ck_assert_int_eq(weft_pool_call(p, spawn_some, &counter), 0);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        weft_worker_stats st[2];
        ck_assert_int_eq(weft_pool_stats(p, st, 2), 0);
        ck_assert_uint_eq(st[0].spawned + st[1].spawned, 200);
        ck_assert_uint_eq(st[0].executed + st[1].executed, 201); /* and the root */
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    struct {
        const char *name;
        const TTest *fn;
    } cases[] = {
        {"bad_arguments", test_bad_arguments},
        {"eperm_from_worker", test_eperm_from_worker},
        {"submit_from_8_threads", test_submit_from_8_threads},
        {"call_from_threads", test_call_from_threads},
        {"nested_pools", test_nested_pools},
        {"destroy_runs_queued_work", test_destroy_runs_queued_work},
        {"epipe_during_destroy", test_epipe_during_destroy},
        {"worker_submit_runs_elsewhere", test_worker_submit_runs_elsewhere},
        {"destroy_races_outside_callers", test_destroy_races_outside_callers},
        {"woken_worker_passes_wakeup_on", test_woken_worker_passes_wakeup_on},
        {"enomem", test_enomem},
        {"idle_pool_parks", test_idle_pool_parks},
        {"wait_idle_vs_destroy", test_wait_idle_vs_destroy},
        {"stats_same_in_both_modes", test_stats_same_in_both_modes},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        weft_test_case(s, cases[i].name, cases[i].fn, 60);
    return s;
}

int main(void)
{
    return weft_test_run(pool_suite());
}
