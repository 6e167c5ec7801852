/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/idle.c - idle workers and idle pools: parking, notification,
 * the searching count, and wait_idle's count of outstanding tasks.
 *
 * Both waits are event counts (base/eventcount.h). The parking protocol,
 * the searching count that lets notifiers skip the wake-up while someone
 * looks for work, and why the wake-up is passed on: docs/design/parking.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>

#include "pool/sched.h"

/* How long a worker sleeps when queued work cannot be taken yet. */
#define WEFT__PARK_BRIEF_NS 1000000

/* ---- parking ------------------------------------------------------------ */

void weft__pool_notify(weft_pool *p)
{
    /* seq_cst fence: the work made visible before this point and the
     * loads below form the notifier half of the Dekker pair; pairs with
     * the parker's seq_cst increment in weft__ec_prepare. */
    weft__fence_sc(&p->p_fence);
    if (!weft__ec_waiting(&p->p_park))
        return;
    /* Relaxed: ordered by the fence above (pairs with the searcher's
     * seq_cst decrement in weft__found_work / before parking). */
    if (atomic_load_explicit(&p->p_searching, memory_order_relaxed) != 0)
        return;
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(p) != 0))
        weft__trace_wake(p, 1);
    weft__ec_wake(&p->p_park, 1);
}

void weft__pool_notify_all(weft_pool *p)
{
    /* After the stop flag's seq_cst store: wakes every sleeper. */
    weft__ec_wake(&p->p_park, INT_MAX);
}

void weft__park(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    uint32_t e = weft__ec_prepare(&p->p_park);
    int how = p->p_sched->s_park_check(w);
    /* seq_cst: the stop flag pairs with destroy's seq_cst store. */
    if (how == WEFT__PARK_NOT || atomic_load_explicit(&p->p_stop, memory_order_seq_cst)) {
        weft__ec_cancel(&p->p_park);
        return;
    }
    weft__stat_inc(&w->w_parks);
    unsigned prev = weft__tstate_set(w, WEFT__ST_PARK);
    if (how == WEFT__PARK_BRIEFLY || weft__is_spare(w)) {
        /* Briefly: see s_park_check. A spare wakes up now and then to see
         * whether it is still needed (blocking.c): nobody wakes a parked
         * thread when a blocking section ends. */
        struct timespec abs;
        weft__deadline_after(how == WEFT__PARK_BRIEFLY ? WEFT__PARK_BRIEF_NS
                                                       : weft__spare_keepalive_ns,
                             &abs);
        weft__ec_wait_until(&p->p_park, e, &abs);
    } else {
        weft__ec_wait(&p->p_park, e);
    }
    weft__tstate_set(w, prev);
}

void weft__found_work(weft_pool *p)
{
    /* seq_cst RMW, then the seq_cst re-check: the Dekker pair with a
     * notifier that skipped its wake-up because we were searching. If we
     * were the last searcher and more work is visible, pass the wake-up on
     * (docs/design/parking.md, "Passing the wake-up on"). */
    if (atomic_fetch_sub_explicit(&p->p_searching, 1, memory_order_seq_cst) == 1
        && p->p_sched->s_work_visible(p))
        weft__pool_notify(p);
}

/* ---- outstanding heap tasks and wait_idle --------------------------------- */

void weft__pool_count_task(weft_pool *p)
{
    /* seq_cst RMW: the idle waiter's seq_cst load of p_state sees it before
     * the task can run (the enqueue follows). An outside caller holds the
     * p_callers guard here, so destroy's idle wait comes after it. */
    atomic_fetch_add_explicit(&p->p_state, 1, memory_order_seq_cst);
}

static void tasks_done(weft_pool *p, uint64_t n)
{
    /* seq_cst RMW: releases the tasks' effects to wait_idle (which loads
     * p_state seq_cst) and is the notifier's half of the handshake with
     * weft__ec_prepare's increment. Workers get here, which destroy joins
     * before freeing the pool, and submitters undoing their count, which
     * hold the callers' guard. */
    uint64_t old = atomic_fetch_sub_explicit(&p->p_state, n, memory_order_seq_cst);
    if (old == n && weft__ec_waiting(&p->p_idle))
        weft__ec_wake(&p->p_idle, INT_MAX);
}

/*
 * A worker counts the heap tasks it finishes in w_done and subtracts them
 * from p_state WEFT__DONE_BATCH at a time, and whenever it stops running
 * tasks: before it searches (then parks), goes off duty, or blocks, after
 * its start and stop hooks (which may help run tasks), and as it exits. Per
 * task, p_state's line then stays with the submitter, which writes it
 * three times per submit, instead of crossing to the worker and back.
 * wait_idle sees 0 no earlier than before (the count only lags), and no
 * later than the moment the last running worker stops: while a worker
 * holds finished tasks uncounted it is running a task or a hook (and in a
 * task some heap task is outstanding: the one whose tree that task belongs
 * to) or on its way to one of those flushes.
 */
#define WEFT__DONE_BATCH 32

void weft__pool_task_done(weft_pool *p, weft__worker *w)
{
    if (w == NULL) {
        tasks_done(p, 1);
        return;
    }
    if (++w->w_done >= WEFT__DONE_BATCH)
        weft__worker_flush_done(w);
}

void weft__worker_flush_done(weft__worker *w)
{
    unsigned n = w->w_done;
    if (n != 0) {
        w->w_done = 0;
        tasks_done(w->w_pool, n);
    }
}

int weft__pool_wait_idle(weft_pool *p, const struct weft__timeout *to)
{
    for (;;) {
        uint32_t e = weft__ec_prepare(&p->p_idle);
        /* seq_cst: the waiter's re-check, after prepare's increment. */
        if (atomic_load_explicit(&p->p_state, memory_order_seq_cst) == 0) {
            weft__ec_cancel(&p->p_idle);
            return 0;
        }
        if (weft__timeout_passed(to)) {
            weft__ec_cancel(&p->p_idle);
            return to->to_ns == WEFT_NO_WAIT ? EAGAIN : ETIMEDOUT;
        }
        weft_blocking_begin(); /* a worker of another pool: compensate there */
        if (to->to_ns > 0)
            weft__ec_wait_until(&p->p_idle, e, &to->to_abs);
        else
            weft__ec_wait(&p->p_idle, e);
        weft_blocking_end();
    }
}
