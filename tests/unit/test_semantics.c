/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_semantics.c - what a program may rely on beyond "the
 * results are right": a spawned task becomes stealable whatever its owner
 * does next (untyped and typed spawns, an owner busy in its own code);
 * tasks that block in a blocking section do not starve the pool (spare
 * threads, which retire afterwards); a wait deep in a worker's stack
 * completes; misused syncs return EINVAL; nested calls run.
 *
 * Every wait on another thread is bounded (10 s) and fails the test
 * instead of hanging; no test asserts a speed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <weft/collection.h>
#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include <urcu/uatomic.h>
#include <urcu/wfcqueue.h>
#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#include "base/alloc.h"
#include "check_main.h"
#include "pool/sched.h" /* weft__stack_room, the spares' keep-alive, the injection queue */

extern int64_t weft__spare_keepalive_ns;

#define BOUND_S 10.0 /* how long a test waits for something that must happen */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static weft_pool *make_pool(unsigned workers, weft_scheduler mode)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode, .seed = 3};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

/* ---- 1. no hidden tasks ------------------------------------------------- */

/*
 * The program a new user writes: on a 2-worker pool, the parent spawns a
 * short task A, then B, then works on its own without calling weft, then
 * syncs both. B must be started by the other worker while the parent is
 * still busy. Regression: B stayed in the parent's private deque part
 * until the parent's sync (the thief took A, asked again, and nobody
 * answered), so the runtime was serial here - and a parent that blocked
 * instead of working waited for ever.
 */
struct hidden {
    _Atomic int h_started; /* B started, on worker h_where */
    _Atomic int h_where;
    _Atomic int h_release; /* B may finish */
};

static int short_task(void *arg)
{
    (void)arg;
    return 0;
}

static int b_task(void *arg)
{
    struct hidden *h = arg;
    /* Relaxed for h_where: published by the seq_cst store of h_started. */
    atomic_store_explicit(&h->h_where, weft_worker_index(), memory_order_relaxed);
    atomic_store_explicit(&h->h_started, 1, memory_order_seq_cst);
    /* seq_cst: the parent's release; bounded, so that a bug cannot hang. */
    for (double t0 = now_s(); !atomic_load_explicit(&h->h_release, memory_order_seq_cst)
                              && now_s() - t0 < BOUND_S;)
        sched_yield();
    return 0;
}

/* The parent's own work: wait (bounded) until B started, calling no weft
 * function. Returns 0 if B started on another worker. */
static int parent_busy(struct hidden *h)
{
    int me = weft_worker_index();
    double t0 = now_s();
    /* seq_cst: pairs with b_task's store. */
    while (!atomic_load_explicit(&h->h_started, memory_order_seq_cst) && now_s() - t0 < BOUND_S)
        ; /* busy, as a computation would be */
    int ok = atomic_load_explicit(&h->h_started, memory_order_seq_cst)
             && atomic_load_explicit(&h->h_where, memory_order_relaxed) != me;
    atomic_store_explicit(&h->h_release, 1, memory_order_seq_cst);
    return ok ? 0 : 1;
}

static int hidden_root(void *arg)
{
    struct hidden *h = arg;
    weft_task a, b;
    if (weft_spawn(&a, short_task, NULL) != 0 || weft_spawn(&b, b_task, h) != 0)
        return 100;
    int r = parent_busy(h);
    int rb = weft_sync(&b), ra = weft_sync(&a);
    return r ? r : rb ? rb : ra;
}

START_TEST(test_spawned_task_visible_while_owner_busy)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    for (int round = 0; round < 3; round++) {
        struct hidden h = {0};
        ck_assert_msg(weft_pool_call(p, hidden_root, &h) == 0,
                      "round %d: B did not start on the other worker while its owner was busy",
                      round);
    }
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* The same with typed tasks (weft/fj.h). */
static struct hidden typed_h;

WEFT_VOID_TASK_1(typed_short, int, unused)
{
    (void)unused;
}

WEFT_VOID_TASK_1(typed_b, int, unused)
{
    (void)unused;
    b_task(&typed_h);
}

WEFT_TASK_1(int, typed_root, int, unused)
{
    (void)unused;
    WEFT_FRAME(typed_short) fa;
    WEFT_FRAME(typed_b) fb;
    WEFT_SPAWN(typed_short, &fa, 0);
    WEFT_SPAWN(typed_b, &fb, 0);
    int r = parent_busy(&typed_h);
    WEFT_SYNC(typed_b, &fb);
    WEFT_SYNC(typed_short, &fa);
    return r;
}

static int typed_root_task(void *arg)
{
    (void)arg;
    return typed_root(0);
}

START_TEST(test_typed_task_visible_while_owner_busy)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    for (int round = 0; round < 3; round++) {
        typed_h = (struct hidden){0};
        ck_assert_msg(weft_pool_call(p, typed_root_task, NULL) == 0,
                      "round %d: typed B did not start on the other worker while its owner "
                      "was busy",
                      round);
    }
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/*
 * The same program round after round, with the pauses between rounds that
 * a real caller has: each round's sync waits for B, so the pool starts a
 * spare thread, which stays a while (parked, then off duty). A spare that
 * took the wake-up meant for the other worker and then went off duty with
 * B hidden in the busy parent's deque left B to the parent's sync (one
 * round in forty or so). The parent works for a while, then waits
 * (bounded, calling no weft function) for B to start on another thread.
 */
static atomic_int spare_b_started;

static void spin_s(double s)
{
    for (double t0 = now_s(); now_s() - t0 < s;)
        ;
}

static int spare_b_task(void *arg)
{
    (void)arg;
    /* seq_cst: read by the parent's bounded wait. */
    atomic_store_explicit(&spare_b_started, 1, memory_order_seq_cst);
    spin_s(0.005);
    return 0;
}

static int spare_root(void *arg)
{
    (void)arg;
    weft_task a, b;
    if (weft_spawn(&a, short_task, NULL) != 0 || weft_spawn(&b, spare_b_task, NULL) != 0)
        return 100;
    spin_s(0.005); /* the parent's own work */
    double t0 = now_s();
    /* seq_cst: pairs with spare_b_task's store. */
    while (!atomic_load_explicit(&spare_b_started, memory_order_seq_cst) && now_s() - t0 < BOUND_S)
        ;
    int ok = atomic_load_explicit(&spare_b_started, memory_order_seq_cst);
    int rb = weft_sync(&b), ra = weft_sync(&a);
    return !ok ? 1 : rb ? rb : ra;
}

START_TEST(test_visible_with_a_spare_around)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    for (int round = 0; round < 200; round++) {
        atomic_store_explicit(&spare_b_started, 0, memory_order_relaxed); /* no task runs */
        struct timespec pause = {0, (round % 8) * 25000};
        nanosleep(&pause, NULL);
        ck_assert_msg(weft_pool_call(p, spare_root, NULL) == 0,
                      "round %d: B did not start on another thread while its owner was busy",
                      round);
    }
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* ---- 2. blocking inside tasks ---------------------------------------------- */

/*
 * k tasks block (in a blocking section) on a semaphore that only the last
 * task posts, on a 2-worker pool: without spare threads both workers sit
 * in sem_wait and the poster never runs. The wait is bounded, so a
 * regression fails with ETIMEDOUT instead of hanging.
 */
struct blockers {
    sem_t b_sem;
    int b_k;
};

static int blocker_task(void *arg)
{
    struct blockers *b = arg;
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += (time_t)BOUND_S;
    weft_blocking_begin();
    int r = 0;
    while (sem_timedwait(&b->b_sem, &abs) != 0)
        if (errno != EINTR) {
            r = ETIMEDOUT;
            break;
        }
    weft_blocking_end();
    return r;
}

static int poster_task(void *arg)
{
    struct blockers *b = arg;
    for (int i = 0; i < b->b_k; i++)
        sem_post(&b->b_sem);
    return 0;
}

static unsigned thread_count(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void blockers_then_poster(weft_scheduler mode, int k)
{
    weft__spare_keepalive_ns = 20 * 1000000; /* spares retire quickly */
    weft_pool *p = make_pool(2, mode);
    unsigned threads_before = thread_count();
    struct blockers b;
    ck_assert_int_eq(sem_init(&b.b_sem, 0, 0), 0);
    b.b_k = k;
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    for (int i = 0; i < k; i++)
        ck_assert_int_eq(weft_group_spawn(&g, blocker_task, &b), 0);
    ck_assert_int_eq(weft_group_spawn(&g, poster_task, &b), 0);
    ck_assert_int_eq(weft_group_wait(&g), 0);
    /* The statistics count the blocking sections and the spares. */
    weft_worker_stats st[2 + 64];
    ck_assert_int_eq(weft_pool_stats(p, st, 2 + 64), 0);
    uint64_t blocked = 0, spares = 0;
    for (int i = 0; i < 2 + 64; i++) {
        blocked += st[i].blocked;
        spares += st[i].spares;
    }
    ck_assert_uint_eq(blocked, (uint64_t)k);
    ck_assert_uint_ge(spares, 1);
    /* Spares that are not needed any more end their threads. */
    double t0 = now_s();
    /* A bounded poll, 1 ms apart: reading /proc/self/task back to back
     * holds off exiting threads. */
    while (thread_count() > threads_before && now_s() - t0 < BOUND_S)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    ck_assert_uint_le(thread_count(), threads_before);
    sem_destroy(&b.b_sem);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}

START_TEST(test_blocking_tasks_get_spares)
{
    blockers_then_poster(WEFT_SCHED_STEALING, 2);
    blockers_then_poster(WEFT_SCHED_STEALING, 8);
    blockers_then_poster(WEFT_SCHED_SHARED, 2);
    blockers_then_poster(WEFT_SCHED_SHARED, 8);
}
END_TEST

/*
 * The first program a C# or Python user writes: one group with k consumer
 * tasks (while (take(q) == 0) ...) and one producer task, on a 2-worker
 * pool. Regression: both workers sat in take and the producer never ran.
 * Collection waits are blocking sections by themselves. The producer also
 * waits in join for the consumers' task_done, and the `any` variant takes
 * with take_from_any; every wait is bounded (ETIMEDOUT fails the test).
 */
#define NITEMS_PC 1000
struct prodcons {
    weft_collection *pc_q[2];
    bool pc_any;
    _Atomic long pc_taken;
};

static int consumer_task(void *arg)
{
    struct prodcons *c = arg;
    void *item;
    size_t idx;
    for (;;) {
        int r = c->pc_any ? weft_collection_take_from_any(c->pc_q, 2, &item, &idx,
                                                          (int64_t)(BOUND_S * 1e9))
                          : weft_collection_try_take(c->pc_q[0], &item, (int64_t)(BOUND_S * 1e9));
        if (r == EPIPE)
            return 0;
        if (r != 0)
            return r;
        /* Relaxed: a count, read after the group wait. */
        atomic_fetch_add_explicit(&c->pc_taken, 1, memory_order_relaxed);
        if (weft_collection_task_done(c->pc_any ? c->pc_q[idx] : c->pc_q[0]) != 0)
            return 99;
    }
}

static int producer_task(void *arg)
{
    struct prodcons *c = arg;
    int nq = c->pc_any ? 2 : 1;
    for (long i = 0; i < NITEMS_PC; i++)
        if (weft_collection_add(c->pc_q[i % nq], (void *)(intptr_t)(i + 1)) != 0)
            return 98;
    for (int i = 0; i < nq; i++) {
        if (weft_collection_try_join(c->pc_q[i], (int64_t)(BOUND_S * 1e9)) != 0)
            return 97;
        weft_collection_complete_adding(c->pc_q[i]);
    }
    return 0;
}

static void consumers_and_producer(weft_scheduler mode, int k, bool any, size_t capacity)
{
    weft_pool *p = make_pool(2, mode);
    struct prodcons c = {.pc_any = any};
    weft_collection_options co = {.capacity = capacity};
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(weft_collection_create(&c.pc_q[i], &co), 0);
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    for (int i = 0; i < k; i++)
        ck_assert_int_eq(weft_group_spawn(&g, consumer_task, &c), 0);
    ck_assert_int_eq(weft_group_spawn(&g, producer_task, &c), 0);
    ck_assert_int_eq(weft_group_wait(&g), 0);
    ck_assert_int_eq(atomic_load_explicit(&c.pc_taken, memory_order_relaxed), NITEMS_PC);
    for (int i = 0; i < 2; i++)
        weft_collection_destroy(c.pc_q[i]);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}

START_TEST(test_consumers_and_producer_in_one_group)
{
    for (int m = 0; m < 2; m++) {
        weft_scheduler mode = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING;
        consumers_and_producer(mode, 2, false, 0);
        consumers_and_producer(mode, 8, false, 0);
        consumers_and_producer(mode, 8, false, 4); /* the producer blocks too */
        consumers_and_producer(mode, 2, true, 0);
        consumers_and_producer(mode, 8, true, 4);
    }
}
END_TEST

/* ---- 3. waits that must not spin for ever ------------------------------- */

/*
 * A worker that has used more than half of its stack may only run its own
 * tasks while it waits (each nests on its stack). Regression: on a
 * 1-worker STEALING pool, its group wait for a task in the injection queue
 * (spawned from another thread) spun at 100% CPU for ever; now it blocks
 * and a spare runs the task.
 */
struct deep {
    weft_group d_group;
    _Atomic int d_deep;    /* the worker is deep in its stack */
    _Atomic int d_spawned; /* the outside thread spawned into d_group */
    _Atomic int d_ran;
};

static int deep_task(void *arg)
{
    struct deep *d = arg;
    atomic_store_explicit(&d->d_ran, 1, memory_order_relaxed); /* read after the wait */
    return 0;
}

static int deep_wait(struct deep *d)
{
    /* seq_cst: handshake with the outside thread (bounded). */
    atomic_store_explicit(&d->d_deep, 1, memory_order_seq_cst);
    for (double t0 = now_s();
         !atomic_load_explicit(&d->d_spawned, memory_order_seq_cst) && now_s() - t0 < BOUND_S;)
        sched_yield();
    return weft_group_wait(&d->d_group);
}

static __attribute__((noinline)) int deep_recurse(struct deep *d, int depth)
{
    volatile char pad[64 * 1024];
    pad[0] = (char)depth;
    if (weft__stack_room(weft__tls_worker) && depth < 10000)
        return deep_recurse(d, depth + 1) + pad[0] - (char)depth;
    return deep_wait(d);
}

static int deep_root(void *arg)
{
    return deep_recurse(arg, 0);
}

static void *deep_spawner(void *arg)
{
    struct deep *d = arg;
    for (double t0 = now_s();
         !atomic_load_explicit(&d->d_deep, memory_order_seq_cst) && now_s() - t0 < BOUND_S;)
        sched_yield();
    ck_assert_int_eq(weft_group_spawn(&d->d_group, deep_task, d), 0);
    atomic_store_explicit(&d->d_spawned, 1, memory_order_seq_cst);
    return NULL;
}

START_TEST(test_deep_group_wait_completes)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(1, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        struct deep d = {0};
        ck_assert_int_eq(weft_group_init(&d.d_group, p), 0);
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, deep_spawner, &d), 0);
        ck_assert_int_eq(weft_pool_call(p, deep_root, &d), 0);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        ck_assert_int_eq(atomic_load_explicit(&d.d_ran, memory_order_relaxed), 1);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* weft_sync misuse returns EINVAL in every build. Regression: a second
 * sync of a frame, or a sync of a zeroed frame never spawned, spun for
 * ever. */
static int forty_two(void *arg)
{
    (void)arg;
    return 42;
}

static int misuse_root(void *arg)
{
    (void)arg;
    weft_task t;
    /* Run inline by its sync, then synced again. */
    if (weft_spawn(&t, forty_two, NULL) != 0 || weft_sync(&t) != 42)
        return 100;
    if (weft_sync(&t) != EINVAL)
        return 101;
    /* Never spawned. */
    weft_task z;
    memset(&z, 0, sizeof(z));
    if (weft_sync(&z) != EINVAL)
        return 102;
    return 0;
}

/* A frame the other worker certainly stole and ran, synced twice. */
static int stolen_twice_root(void *arg)
{
    struct hidden *h = arg;
    weft_task a, b;
    if (weft_spawn(&a, short_task, NULL) != 0 || weft_spawn(&b, b_task, h) != 0)
        return 100;
    if (parent_busy(h) != 0)
        return 101; /* b_task runs on the other worker */
    if (weft_sync(&b) != 0 || weft_sync(&a) != 0)
        return 102;
    if (weft_sync(&b) != EINVAL)
        return 103;
    return 0;
}

START_TEST(test_sync_misuse_einval)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        ck_assert_int_eq(weft_pool_call(p, misuse_root, NULL), 0);
        if (m == 0) {
            struct hidden h = {0};
            ck_assert_int_eq(weft_pool_call(p, stolen_twice_root, &h), 0);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- 4. smaller scheduler findings -------------------------------------- */

static double thread_cpu_s(pthread_t th)
{
    clockid_t c;
    struct timespec ts;
    ck_assert_int_eq(pthread_getcpuclockid(th, &c), 0);
    ck_assert_int_eq(clock_gettime(c, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * An outside submitter preempted between the injection queue's tail
 * exchange and its link store leaves the queue non-empty but impossible to
 * dequeue from. Regression: idle workers then spun (pause only) until it
 * ran again. Simulated white-box: the first half of the enqueue (as
 * liburcu's wfcqueue does it), then 300 ms in which the workers must use
 * little CPU, then the second half.
 */
static int set_flag(void *arg)
{
    atomic_store_explicit((_Atomic int *)arg, 1, memory_order_seq_cst); /* read after idle */
    return 0;
}

START_TEST(test_stalled_injection_queue_idles)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    _Atomic int ran = 0;
    struct weft__heap_task *ht;
    ck_assert_int_eq(weft__heap_task_new(p, set_flag, &ran, &ht), 0);
#ifdef WEFT_TSAN
    __tsan_release(ht); /* as weft__inj_enqueue does */
#endif
    struct cds_wfcq_node *old_tail = uatomic_xchg(&p->p_inj_tail.p, &ht->ht_node);
    weft__pool_notify(p); /* the workers see a non-empty queue */
    double cpu0 = thread_cpu_s(p->p_workers[0].w_thread) + thread_cpu_s(p->p_workers[1].w_thread);
    double t0 = now_s();
    nanosleep(&(struct timespec){0, 300000000}, NULL); /* a measurement window */
    double wall = now_s() - t0;
    double cpu = thread_cpu_s(p->p_workers[0].w_thread) + thread_cpu_s(p->p_workers[1].w_thread)
                 - cpu0;
    CMM_STORE_SHARED(old_tail->next, &ht->ht_node); /* the second half */
    weft__pool_notify(p);
    weft__callers_leave(p);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    ck_assert_int_eq(atomic_load_explicit(&ran, memory_order_seq_cst), 1);
    ck_assert_msg(cpu < 0.5 * wall, "idle workers used %.0f ms of CPU in %.0f ms", cpu * 1e3,
                  wall * 1e3);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/*
 * A worker that takes a batch from the injection queue and cannot grow its
 * deque for all of it must not run the rest itself while it still counts
 * as searching (notifiers then skip their wake-ups, so nobody helps).
 * Regression: the taker ran the 29 left-overs of a 32-task batch, one by
 * one, before the batch's first task; now it puts them back into the queue
 * and runs the first task at once. White-box: the dequeue lock is held
 * while the tasks are submitted, so that one batch takes them all, and the
 * growth of the taker's 2-slot deque fails.
 */
#define NBATCH 32
struct batch_rec {
    _Atomic int b_seq;
    struct batch_task {
        struct batch_rec *t_rec;
        _Atomic int t_seq, t_worker;
    } b_tasks[NBATCH];
};

static int batch_task(void *arg)
{
    struct batch_task *t = arg;
    /* Relaxed: read after the group wait, which orders them. */
    atomic_store_explicit(&t->t_worker, weft_worker_index(), memory_order_relaxed);
    atomic_store_explicit(&t->t_seq,
                          atomic_fetch_add_explicit(&t->t_rec->b_seq, 1, memory_order_relaxed),
                          memory_order_relaxed);
    return 0;
}

START_TEST(test_batch_leftovers_not_run_while_searching)
{
    weft_pool_options o = {.workers = 3, .deque_capacity = 2, .seed = 3};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    /* Acquire: as a dequeuer takes the lock. */
    int unlocked = 0;
    ck_assert(atomic_compare_exchange_strong_explicit(&p->p_inj_lock, &unlocked, 1,
                                                      memory_order_acquire,
                                                      memory_order_relaxed));
    static struct batch_rec r;
    memset(&r, 0, sizeof(r));
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, p), 0);
    for (int i = 0; i < NBATCH; i++) {
        r.b_tasks[i].t_rec = &r;
        ck_assert_int_eq(weft_group_spawn(&g, batch_task, &r.b_tasks[i]), 0);
    }
    /* The taker's deque (2 slots) must grow for the batch: fail that. */
    weft__alloc_fail_at(1);
    /* Release: pairs with the next dequeuer's acquire. */
    atomic_store_explicit(&p->p_inj_lock, 0, memory_order_release);
    weft__pool_notify(p);
    ck_assert_int_eq(weft_group_wait(&g), 0);
    weft__alloc_fail_at(0);
    /* Relaxed: ordered by the group wait. */
    int taker = atomic_load_explicit(&r.b_tasks[0].t_worker, memory_order_relaxed);
    int first = atomic_load_explicit(&r.b_tasks[0].t_seq, memory_order_relaxed);
    for (int i = 3; i < NBATCH; i++)
        ck_assert_msg(atomic_load_explicit(&r.b_tasks[i].t_worker, memory_order_relaxed) != taker
                          || atomic_load_explicit(&r.b_tasks[i].t_seq, memory_order_relaxed)
                                 > first,
                      "left-over task %d ran on the batch's taker before its first task", i);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("semantics");
    WEFT_TEST_CASE(s, test_spawned_task_visible_while_owner_busy, 120);
    WEFT_TEST_CASE(s, test_typed_task_visible_while_owner_busy, 120);
    WEFT_TEST_CASE(s, test_visible_with_a_spare_around, 120);
    WEFT_TEST_CASE(s, test_blocking_tasks_get_spares, 120);
    WEFT_TEST_CASE(s, test_consumers_and_producer_in_one_group, 120);
    WEFT_TEST_CASE(s, test_deep_group_wait_completes, 120);
    WEFT_TEST_CASE(s, test_sync_misuse_einval, 120);
    WEFT_TEST_CASE(s, test_stalled_injection_queue_idles, 120);
    WEFT_TEST_CASE(s, test_batch_leftovers_not_run_while_searching, 120);
    return weft_test_run(s);
}
