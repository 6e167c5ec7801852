/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_recycle.c - what the submit path keeps per thread: the
 * heap-task nodes each thread recycles, and the finished tasks a worker
 * counts before it subtracts them from the pool's outstanding count.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "check_main.h"
#include "gate.h"
#include "pool/sched.h"

extern int64_t weft__spare_keepalive_ns; /* runtime/pool/blocking.c */

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

static int noop(void *arg)
{
    (void)arg;
    return 0;
}

/* ---- finished tasks counted late, never lost --------------------------------- */

struct retire {
    struct gate r_gate;
    _Atomic int r_held_done; /* the held task has returned */
    _Atomic int r_started;   /* the spare's task has started */
};

static int held_task(void *arg)
{
    struct retire *r = arg;
    gate_task(&r->r_gate);
    atomic_store_explicit(&r->r_held_done, 1, memory_order_release); /* pairs with spare_task */
    return 0;
}

static int spare_task(void *arg)
{
    struct retire *r = arg;
    atomic_store_explicit(&r->r_started, 1, memory_order_relaxed); /* a flag; nothing to order */
    /* Acquire: pairs with held_task's release. */
    while (!atomic_load_explicit(&r->r_held_done, memory_order_acquire))
        sched_yield();
    return 0;
}

/* A worker subtracts the tasks it finished from the pool's count in
 * batches; a spare that goes off duty straight after a task (the blocked
 * worker came back meanwhile) must subtract its own first, or wait_idle
 * waits for it until the spare's thread exits (its keep-alive, made
 * longer than the wait here). The one-worker pool's worker blocks in a
 * held task, a spare runs a task that ends only once the held task has,
 * then goes off duty. The destroy that follows the last wait must not wait
 * for that keep-alive either: a spare that went off duty just as destroy
 * recalled the spares slept through it while destroy joined it (the
 * test's time limit is shorter). */
START_TEST(idle_after_spare_retires)
{
    weft__spare_keepalive_ns = (int64_t)60 * 1000000000;
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(1, modes[m]);
        for (int it = 0; it < 20; it++) {
            struct retire r = {.r_gate = {.g_result = 0}};
            ck_assert_int_eq(weft_pool_submit(p, held_task, &r), 0);
            gate_wait_arrived(&r.r_gate, 1);
            ck_assert_int_eq(weft_pool_submit(p, spare_task, &r), 0);
            while (!atomic_load_explicit(&r.r_started, memory_order_relaxed)) /* a flag */
                sched_yield();
            gate_open(&r.r_gate);
            ck_assert_int_eq(weft_pool_try_wait_idle(p, (int64_t)10 * 1000000000), 0);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Bursts of every size around the batch sizes: the count reaches 0 each
 * time (a count lost or counted twice would hang or return early: the
 * counter says which). */
START_TEST(idle_after_bursts)
{
    for (int m = 0; m < 2; m++) {
        for (unsigned w = 1; w <= 3; w++) {
            weft_pool *p = make_pool(w, modes[m]);
            for (int n = 0; n < 200; n++) {
                _Atomic int c = 0;
                for (int i = 0; i < n; i++)
                    ck_assert_int_eq(weft_pool_submit(p, count_task, &c), 0);
                ck_assert_int_eq(weft_pool_try_wait_idle(p, (int64_t)10 * 1000000000), 0);
                ck_assert_int_eq(atomic_load_explicit(&c, memory_order_relaxed), n);
            }
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
    }
}
END_TEST

/* A spare's stop hook (its keep-alive ran out: the pool lives on) waits
 * for a future and so runs the task itself, after the worker loop's last
 * count: the hook's thread must count it before it exits, or wait_idle and
 * destroy wait for ever. The one worker is busy meanwhile (no blocking
 * section: no spare is called for it), so only the spare can help. */
/* The flags between the test's threads and the hook are seq_cst: each
 * store pairs with the polling load of the thread it releases (and a
 * white-box read of the pool's counters here is a snapshot). */
static _Atomic int hook_fired, hook_done, busy_release, busy_started;

static void helping_stop_hook(unsigned index, void *arg)
{
    (void)arg;
    weft_pool *p = weft_pool_current();
    if (p == NULL || index < weft_pool_size(p) ||
        atomic_exchange_explicit(&hook_fired, 1, memory_order_relaxed))
        return; /* a regular worker, or not the first spare to leave */
    weft_future *f;
    ck_assert_int_eq(weft_pool_async(p, &f, noop, NULL), 0);
    ck_assert_int_eq(weft_future_wait(f, WEFT_FOREVER, NULL), 0);
    weft_future_release(f);
    atomic_store_explicit(&hook_done, 1, memory_order_seq_cst); /* a flag */
}

static int busy_task(void *arg)
{
    (void)arg;
    atomic_store_explicit(&busy_started, 1, memory_order_seq_cst); /* a flag */
    while (!atomic_load_explicit(&busy_release, memory_order_seq_cst)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

START_TEST(idle_after_a_stop_hook_helps)
{
    weft__spare_keepalive_ns = 100 * 1000000; /* spares leave after 100 ms off duty */
    for (int m = 0; m < 2; m++) {
        atomic_store_explicit(&hook_fired, 0, memory_order_seq_cst);
        atomic_store_explicit(&hook_done, 0, memory_order_seq_cst);
        atomic_store_explicit(&busy_release, 0, memory_order_seq_cst);
        atomic_store_explicit(&busy_started, 0, memory_order_seq_cst);
        weft_pool_options o = {
            .workers = 1, .scheduler = modes[m], .on_worker_stop = helping_stop_hook};
        weft_pool *p = NULL;
        ck_assert_int_eq(weft_pool_create(&p, &o), 0);
        /* A spare comes on duty while the worker blocks at the gate. */
        struct gate g = {.g_result = 0};
        ck_assert_int_eq(weft_pool_submit(p, gate_task, &g), 0);
        gate_wait_arrived(&g, 1);
        gate_open(&g);
        ck_assert_int_eq(weft_pool_try_wait_idle(p, (int64_t)10 * 1000000000), 0);
        /* The spare off duty (white-box), so that the worker takes the
         * busy task, not the spare. */
        double t1 = gate_now();
        while (atomic_load_explicit(&p->p_spares_on, memory_order_seq_cst) != 0 &&
               gate_now() - t1 < 30)
            usleep(1000);
        ck_assert_int_eq(weft_pool_submit(p, busy_task, NULL), 0);
        while (!atomic_load_explicit(&busy_started, memory_order_seq_cst))
            sched_yield();
        double t0 = gate_now();
        while (!atomic_load_explicit(&hook_done, memory_order_seq_cst) && gate_now() - t0 < 30)
            usleep(1000);
        ck_assert_msg(atomic_load_explicit(&hook_done, memory_order_seq_cst),
                      "the spare's stop hook did not run");
        atomic_store_explicit(&busy_release, 1, memory_order_seq_cst);
        ck_assert_int_eq(weft_pool_try_wait_idle(p, (int64_t)10 * 1000000000), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* ---- recycled nodes ------------------------------------------------------------ */

/* A child of fork() submits to the inherited pool: EPIPE, before it goes
 * near the pool's node stash, whose lock a thread of the parent may have
 * held at the fork (here one holds it on purpose; a worker returning a
 * batch could). White-box: fills the stash, holds its lock. */
static _Atomic int lock_held, lock_release; /* seq_cst: as the hook's flags above */

static void *lock_holder(void *arg)
{
    pthread_mutex_t *m = arg;
    pthread_mutex_lock(m);
    atomic_store_explicit(&lock_held, 1, memory_order_seq_cst);
    while (!atomic_load_explicit(&lock_release, memory_order_seq_cst))
        usleep(1000);
    pthread_mutex_unlock(m);
    return NULL;
}

/* Fill p's stash: 2000 tasks queued behind one that holds the (single)
 * worker, from a thread that then exits (taking its list with it); when
 * the holder lets go, the worker returns the nodes, batch by batch, to the
 * stash, where nobody takes them back. */
static _Atomic int fill_hold;

static int fill_holder(void *arg)
{
    (void)arg;
    while (atomic_load_explicit(&fill_hold, memory_order_seq_cst)) /* a flag */
        sched_yield();
    return 0;
}

static void *fill_submitter(void *arg)
{
    weft_pool *p = arg;
    static _Atomic int c;
    ck_assert_int_eq(weft_pool_submit(p, fill_holder, NULL), 0);
    for (int i = 0; i < 2000; i++)
        ck_assert_int_eq(weft_pool_submit(p, count_task, &c), 0);
    return NULL;
}

static void fill_stash(weft_pool *p)
{
    atomic_store_explicit(&fill_hold, 1, memory_order_seq_cst);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fill_submitter, p), 0);
    pthread_join(t, NULL);
    atomic_store_explicit(&fill_hold, 0, memory_order_seq_cst);
    ck_assert_int_eq(weft_pool_wait_idle(p), 0);
    ck_assert_uint_gt(atomic_load_explicit(&p->p_nodes_batches, memory_order_seq_cst), 0);
}

START_TEST(inherited_pool_refuses_before_the_stash)
{
    weft_pool_options o = {.workers = 1};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    fill_stash(p); /* this thread's list stays empty */
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, lock_holder, &p->p_nodes_lock), 0);
    while (!atomic_load_explicit(&lock_held, memory_order_seq_cst))
        usleep(1000);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(20); /* a hang ends the child */
        _exit(weft_pool_submit(p, noop, NULL) == EPIPE ? 0 : 1);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    atomic_store_explicit(&lock_release, 1, memory_order_seq_cst);
    pthread_join(t, NULL);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s %d",
                  WIFSIGNALED(st) ? "signal (SIGALRM: hung)" : "exit",
                  WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}
END_TEST

/* A thread-exit destructor that runs after weft's (a key made later) and
 * submits: the thread's list is gone by then, so nothing may be cached in
 * it again - a batch taken from the stash there would leak. White-box:
 * the thread takes one batch for its first submit, the destructor none. */
static pthread_key_t late_key;
static weft_pool *late_pool;
static _Atomic int late_count;

static void late_destructor(void *arg)
{
    (void)arg;
    ck_assert_int_eq(weft_pool_submit(late_pool, count_task, &late_count), 0);
}

static void *late_thread(void *arg)
{
    (void)arg;
    ck_assert_int_eq(weft_pool_submit(late_pool, count_task, &late_count), 0);
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

START_TEST(thread_exit_destructor_after_ours)
{
    weft_pool_options o = {.workers = 1};
    ck_assert_int_eq(weft_pool_create(&late_pool, &o), 0);
    fill_stash(late_pool); /* and weft's key is made before ours */
    pthread_t t;
    ck_assert_int_eq(pthread_key_create(&late_key, late_destructor), 0);
    unsigned before = atomic_load_explicit(&late_pool->p_nodes_batches, memory_order_seq_cst);
    ck_assert_int_eq(pthread_create(&t, NULL, late_thread, NULL), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(weft_pool_wait_idle(late_pool), 0);
    ck_assert_int_eq(atomic_load_explicit(&late_count, memory_order_seq_cst), 2);
    ck_assert_uint_ge(atomic_load_explicit(&late_pool->p_nodes_batches, memory_order_seq_cst) + 1,
                      before);
    ck_assert_int_eq(weft_pool_destroy(late_pool), 0);
    pthread_key_delete(late_key);
}
END_TEST

#define NPOOLS   3
#define NTHREADS 4

struct submitter {
    weft_pool **s_pools;
    _Atomic int *s_count;
    int s_rc;
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 500; i++) {
            int rc = weft_pool_submit(s->s_pools[(i + round) % NPOOLS], count_task, s->s_count);
            if (rc != 0 && s->s_rc == 0)
                s->s_rc = rc;
        }
    return NULL; /* the thread's list of free nodes is freed as it exits */
}

/* Threads that submit to several pools and exit, pools destroyed while
 * other threads' lists hold nodes that their tasks used: every task runs
 * once; LeakSanitizer and valgrind see no node left behind. */
START_TEST(nodes_across_threads_and_pools)
{
    for (int m = 0; m < 2; m++) {
        for (int rep = 0; rep < 3; rep++) {
            weft_pool *pools[NPOOLS];
            for (int i = 0; i < NPOOLS; i++)
                pools[i] = make_pool((unsigned)i + 1, modes[m]);
            _Atomic int count = 0;
            struct submitter s[NTHREADS];
            pthread_t th[NTHREADS];
            for (int t = 0; t < NTHREADS; t++) {
                s[t] = (struct submitter){pools, &count, 0};
                ck_assert_int_eq(pthread_create(&th[t], NULL, submitter_main, &s[t]), 0);
            }
            for (int t = 0; t < NTHREADS; t++) {
                pthread_join(th[t], NULL);
                ck_assert_int_eq(s[t].s_rc, 0);
            }
            /* This thread submits too, and keeps its list across pools. */
            for (int i = 0; i < 1000; i++)
                ck_assert_int_eq(weft_pool_submit(pools[i % NPOOLS], count_task, &count), 0);
            for (int i = 0; i < NPOOLS; i++)
                ck_assert_int_eq(weft_pool_destroy(pools[i]), 0);
            ck_assert_int_eq(atomic_load_explicit(&count, memory_order_relaxed),
                             NTHREADS * 20 * 500 + 1000);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("recycle");
    WEFT_TEST_CASE(s, idle_after_spare_retires, 40); /* < the keep-alive it sets */
    WEFT_TEST_CASE(s, idle_after_bursts, 120);
    WEFT_TEST_CASE(s, idle_after_a_stop_hook_helps, 120);
    WEFT_TEST_CASE_TAGGED(s, inherited_pool_refuses_before_the_stash, 60, "fork");
    WEFT_TEST_CASE(s, thread_exit_destructor_after_ours, 60);
    WEFT_TEST_CASE(s, nodes_across_threads_and_pools, 120);
    return weft_test_run(s);
}
