/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_recycle.c - what the submit path keeps per thread: the
 * heap-task nodes each thread recycles, and the finished tasks a worker
 * counts before it subtracts them from the pool's outstanding count.
 */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "check_main.h"
#include "gate.h"

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

/* ---- recycled nodes ------------------------------------------------------------ */

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
    WEFT_TEST_CASE(s, nodes_across_threads_and_pools, 120);
    return weft_test_run(s);
}
