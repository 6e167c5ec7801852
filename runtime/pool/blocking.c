/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/blocking.c - blocking inside tasks: weft_blocking_begin /
 * weft_blocking_end, and the spare threads that keep `workers` threads
 * running tasks while some block (managed blocking, as Java's ForkJoinPool
 * compensates a ManagedBlocker and Go's scheduler hands a P over at a
 * blocking system call).
 *
 * A thread that enters a blocking section first publishes its private
 * tasks (a blocked thread cannot run them), then counts itself in
 * p_blocked; while more threads are blocked than spares are on duty, it
 * puts a spare on duty: one that retired earlier, else a new thread in a
 * new slot (up to max_spares). A spare is a worker like the others (its own
 * deque, stealing, parking) whose slot comes after the workers'. Between
 * tasks, and instead of parking, a spare checks whether more spares are on
 * duty than threads blocked; if so it goes off duty and waits to be
 * recalled, and its thread exits after WEFT__SPARE_KEEPALIVE_NS off duty.
 * Lock order: p_spare_lock is a leaf.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <weft/pool.h>

#include "base/futex.h"
#include "pool/sched.h"

/* How long a spare off duty keeps its thread. Tests may lower it. */
int64_t weft__spare_keepalive_ns = 1000000000;

/* Make spare slot k (under p_spare_lock): its worker and deque. 0 or ENOMEM. */
static int spare_slot_make(weft_pool *p, unsigned k)
{
    weft__worker *w = &p->p_workers[p->p_nworkers + k];
    memset(w, 0, sizeof(*w));
    if (weft__deque_init(&w->w_dq, 0) != 0)
        return ENOMEM;
    w->w_pool = p;
    w->w_index = p->p_nworkers + k;
    w->w_rng = ((uint64_t)w->w_index * 0x9E3779B97F4A7C15ull) | 1;
    w->w_force_victim = -1;
    if (p->p_mode == WEFT_SCHED_SHARED)
        w->w_dq.dq_q.q_limit = INT64_MIN; /* as the workers' (pool.c) */
    atomic_init(&w->w_spare_state, WEFT__SPARE_ON);
    return 0;
}

/* Start a thread in slot w, on duty (under p_spare_lock). 0 or EAGAIN. */
static int spare_thread_start(weft_pool *p, weft__worker *w)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return EAGAIN;
    int rc = pthread_attr_setstacksize(&attr, p->p_stack_size);
    /* Relaxed: under p_spare_lock; the thread reads it after its creation. */
    atomic_store_explicit(&w->w_spare_state, WEFT__SPARE_ON, memory_order_relaxed);
    if (rc == 0 && pthread_create(&w->w_thread, &attr, weft__thread_main, w) != 0)
        rc = EAGAIN;
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return rc;
    w->w_joinable = true;
    return 0;
}

/* Put one more spare on duty (the caller counted it in p_spares_on):
 * recall one that is off duty, else restart an exited one, else make a new
 * slot. false if none could be had (all slots busy, ENOMEM, EAGAIN). */
static bool spare_call(weft_pool *p)
{
    bool ok = false;
    pthread_mutex_lock(&p->p_spare_lock);
    weft__worker *exited = NULL;
    for (unsigned k = 0; k < p->p_spares_made && !ok; k++) {
        weft__worker *w = &p->p_workers[p->p_nworkers + k];
        /* Relaxed: written under p_spare_lock, which we hold. */
        uint32_t st = atomic_load_explicit(&w->w_spare_state, memory_order_relaxed);
        if (st == WEFT__SPARE_OFF) {
            /* Release: the spare's acquire load sees everything before. */
            atomic_store_explicit(&w->w_spare_state, WEFT__SPARE_ON, memory_order_release);
            weft__futex_wake(&w->w_spare_state, 1);
            ok = true;
        } else if (st == WEFT__SPARE_EXIT && exited == NULL) {
            exited = w;
        }
    }
    if (!ok && exited != NULL) {
        /* Its thread has left the worker loop (or is leaving it): reap it
         * and start a new one in the slot, whose deque is empty. */
        if (exited->w_joinable)
            pthread_join(exited->w_thread, NULL);
        exited->w_joinable = false;
        ok = spare_thread_start(p, exited) == 0;
    } else if (!ok && p->p_spares_made < p->p_max_spares) {
        unsigned k = p->p_spares_made;
        if (spare_slot_make(p, k) == 0) {
            weft__worker *w = &p->p_workers[p->p_nworkers + k];
            p->p_spares_made = k + 1;
            /* Release: a thief that sees the new count sees the slot's
             * initialised deque (pairs with weft__nslots). */
            atomic_store_explicit(&p->p_nslots, p->p_nworkers + k + 1, memory_order_release);
            ok = spare_thread_start(p, w) == 0;
            if (!ok)
                atomic_store_explicit(&w->w_spare_state, WEFT__SPARE_EXIT, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&p->p_spare_lock);
    return ok;
}

/* While more threads are blocked than spares are on duty, call spares. */
static void spares_ensure(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    /* Relaxed: counts; the CAS below decides. */
    int on = atomic_load_explicit(&p->p_spares_on, memory_order_relaxed);
    while (on < atomic_load_explicit(&p->p_blocked, memory_order_relaxed)) {
        /* Relaxed CAS: a count whose RMWs are totally ordered; the spare
         * itself is handed over under p_spare_lock. */
        if (!atomic_compare_exchange_weak_explicit(&p->p_spares_on, &on, on + 1,
                                                   memory_order_relaxed, memory_order_relaxed))
            continue;
        if (!spare_call(p)) {
            atomic_fetch_sub_explicit(&p->p_spares_on, 1, memory_order_relaxed);
            return; /* no spare to be had: run with fewer threads */
        }
        weft__stat_inc(&w->w_spares);
        on++;
    }
}

/* ---- blocking sections ------------------------------------------------------ */

void weft__block_begin(weft__worker *w)
{
    if (w->w_blocking++ > 0)
        return;
    weft__stat_inc(&w->w_blocked);
    weft__worker_flush_done(w); /* it may sleep: count what it finished */
    w->w_ts.ts_saved = weft__tstate_set(w, WEFT__ST_BLOCK);
    if (w->w_pool->p_mode == WEFT_SCHED_STEALING)
        weft__worker_publish_all(w);
    /* seq_cst: a spare that reads the count to decide whether to retire
     * must not miss it (pairs with weft__spare_excess's loads; a stale read
     * there only delays a retirement or costs a recall). */
    atomic_fetch_add_explicit(&w->w_pool->p_blocked, 1, memory_order_seq_cst);
    spares_ensure(w);
}

void weft__block_end(weft__worker *w)
{
    if (--w->w_blocking > 0)
        return;
    /* seq_cst: as in weft__block_begin. Excess spares retire by themselves. */
    atomic_fetch_sub_explicit(&w->w_pool->p_blocked, 1, memory_order_seq_cst);
    weft__tstate_set(w, w->w_ts.ts_saved);
}

void weft_blocking_begin(void)
{
    weft__worker *w = weft__tls_worker;
    if (w != NULL)
        weft__block_begin(w);
}

void weft_blocking_end(void)
{
    weft__worker *w = weft__tls_worker;
    if (w != NULL && w->w_blocking > 0)
        weft__block_end(w);
}

/* ---- spares going off duty ------------------------------------------------- */

bool weft__spare_excess(weft_pool *p)
{
    /* Relaxed: a hint; weft__spare_retire's CAS decides. */
    return atomic_load_explicit(&p->p_spares_on, memory_order_relaxed)
           > atomic_load_explicit(&p->p_blocked, memory_order_relaxed);
}

void weft__deadline_after(int64_t ns, struct timespec *abs)
{
    clock_gettime(CLOCK_MONOTONIC, abs);
    abs->tv_sec += (time_t)(ns / 1000000000);
    abs->tv_nsec += (long)(ns % 1000000000);
    if (abs->tv_nsec >= 1000000000) {
        abs->tv_nsec -= 1000000000;
        abs->tv_sec++;
    }
}

bool weft__spare_retire(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    /* Relaxed CAS: as in spares_ensure. */
    int on = atomic_load_explicit(&p->p_spares_on, memory_order_relaxed);
    do {
        if (on <= atomic_load_explicit(&p->p_blocked, memory_order_relaxed))
            return true; /* needed after all: stay on duty */
    } while (!atomic_compare_exchange_weak_explicit(&p->p_spares_on, &on, on - 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    pthread_mutex_lock(&p->p_spare_lock);
    /* seq_cst: pairs with destroy's seq_cst store of p_stop, which comes
     * before its recall of off-duty spares under this lock: either that
     * recall finds us off duty (and wakes us), or we see the flag here and
     * leave at once rather than sleep through the keep-alive while
     * destroy joins us. */
    bool stopping = atomic_load_explicit(&p->p_stop, memory_order_seq_cst);
    /* Relaxed: under p_spare_lock. */
    atomic_store_explicit(&w->w_spare_state, stopping ? WEFT__SPARE_EXIT : WEFT__SPARE_OFF,
                          memory_order_relaxed);
    pthread_mutex_unlock(&p->p_spare_lock);
    if (stopping)
        return false;
    struct timespec abs;
    weft__deadline_after(weft__spare_keepalive_ns, &abs);
    for (;;) {
        /* Acquire: pairs with spare_call's (or destroy's) release store of
         * ON. */
        if (atomic_load_explicit(&w->w_spare_state, memory_order_acquire) == WEFT__SPARE_ON)
            return true;
        if (weft__futex_wait_until(&w->w_spare_state, WEFT__SPARE_OFF, &abs) == ETIMEDOUT) {
            pthread_mutex_lock(&p->p_spare_lock);
            /* Relaxed: under p_spare_lock. */
            bool recalled = atomic_load_explicit(&w->w_spare_state, memory_order_relaxed)
                            == WEFT__SPARE_ON;
            if (!recalled)
                atomic_store_explicit(&w->w_spare_state, WEFT__SPARE_EXIT, memory_order_relaxed);
            pthread_mutex_unlock(&p->p_spare_lock);
            return recalled;
        }
    }
}

void weft__spares_stop_join(weft_pool *p)
{
    /* p_stop is set (seq_cst, before the release stores below): recall the
     * spares off duty, which then see it and leave; join every thread. */
    pthread_mutex_lock(&p->p_spare_lock);
    unsigned made = p->p_spares_made;
    for (unsigned k = 0; k < made; k++) {
        weft__worker *w = &p->p_workers[p->p_nworkers + k];
        /* Relaxed: under p_spare_lock. */
        if (atomic_load_explicit(&w->w_spare_state, memory_order_relaxed) == WEFT__SPARE_OFF) {
            /* Release: pairs with weft__spare_retire's acquire. */
            atomic_store_explicit(&w->w_spare_state, WEFT__SPARE_ON, memory_order_release);
            weft__futex_wake(&w->w_spare_state, 1);
        }
    }
    pthread_mutex_unlock(&p->p_spare_lock);
    for (unsigned k = 0; k < made; k++) {
        weft__worker *w = &p->p_workers[p->p_nworkers + k];
        pthread_mutex_lock(&p->p_spare_lock);
        bool join = w->w_joinable;
        w->w_joinable = false;
        pthread_mutex_unlock(&p->p_spare_lock);
        if (join)
            pthread_join(w->w_thread, NULL);
    }
}
