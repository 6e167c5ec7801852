/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/worker.c - a worker thread: its loop (find work, search for
 * a while, park), running a task, and the pauses of a waiting worker.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "base/futex.h"
#include "pool/sched.h"

/* Idle search: rounds of looking for work before parking, and pauses
 * between rounds. About 50-100 us on the reference machine. */
#define WEFT__IDLE_ROUNDS 64
#define WEFT__IDLE_PAUSES 32

/* The typed fork-join fast paths (weft/fj.h) find their queue here: the
 * worker's deque; elsewhere weft__fjq_none, on which they always take
 * their slow paths (never NULL: one load, no test). The cast drops const
 * only for the pointer's type: nothing writes through it (a bug that did
 * would fault on read-only memory). */
const struct weft__fjq weft__fjq_none = {.q_limit = INT64_MIN};
_Thread_local struct weft__fjq *weft__tls_fjq
    __attribute__((tls_model("initial-exec"))) = (struct weft__fjq *)&weft__fjq_none;

void weft__backoff(unsigned *spins)
{
    unsigned s = (*spins)++;
    if (s < 64) {
        for (unsigned i = 0; i < 8; i++)
            weft__cpu_relax();
    } else {
        sched_yield(); /* waiting workers never sleep; let the thief run */
    }
}

uint64_t weft__rng_next(weft__worker *w)
{
    /* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
     * xorshift generators, scrambled", 2016). */
    uint64_t x = w->w_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->w_rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void weft__run_task(weft__worker *w, struct weft__task_impl *x)
{
    /* Not running tasks yet (a task found while waiting), or tracing. */
    if (WEFT__UNLIKELY(w->w_ts_cur != WEFT__ST_RUN || WEFT__TRACE_FLAGS(w->w_pool) != 0)) {
        weft__trace_run(w, x);
        return;
    }
    weft__run_task_body(w, x);
}

void weft__run_task_body(weft__worker *w, struct weft__task_impl *x)
{
    /* Relaxed: the state was published with the task (deque release /
     * queue lock), or written by this thread (a thief's mark); only the
     * HEAP and SELF_ARG bits are looked at here. */
    int32_t s = weft__atomic_load(&x->ti_state, memory_order_relaxed);
    weft__stat_inc(&w->w_executed);
    if (s & WEFT__TS_HEAP) {
        weft__heap_task_run((struct weft__heap_task *)x);
        return;
    }
    x->ti_result = x->ti_fn(weft__frame_arg(x, s));
    /* Release: publishes ti_result (and the task's effects) to the syncing
     * owner's acquire load. An exchange, to see whether the owner sleeps on
     * the word (weft__frame_wait); the frame may be gone right after it,
     * and the wake-up only uses its address. */
    int32_t old = weft__atomic_exchange(&x->ti_state, WEFT__TS_DONE, memory_order_release);
    if (old & WEFT__TS_WAITER)
        weft__futex_wake((_Atomic uint32_t *)(void *)&x->ti_state, 1);
}

int weft__frame_result(struct weft__task_impl *t, int32_t s)
{
    if (s & WEFT__TS_SYNCED)
        return EINVAL; /* synced twice */
    /* Relaxed: the owner's own frame; only its later syncs read it. */
    weft__atomic_store(&t->ti_state, s | WEFT__TS_SYNCED, memory_order_relaxed);
    return t->ti_result;
}

int weft__frame_wait(weft__worker *w, struct weft__task_impl *t)
{
    int32_t *st = &t->ti_state;
    /* Acquire: pairs with the runner's release exchange of DONE. */
    int32_t s = weft__atomic_load(st, memory_order_acquire);
    bool blocking = false;
    while (!(s & WEFT__TS_DONE)) {
        /* The runner's exchange of DONE is the only other write now (its
         * mark came before); either it sees WAITER, or our CAS fails on
         * DONE. Acquire (failure; success too, as C11 wants it no
         * weaker): a failure that reads DONE ends the loop, and pairs with
         * the runner's release exchange like the loads (ti_result is read
         * next). */
        if (!(s & WEFT__TS_WAITER)
            && !weft__atomic_cas_weak(st, &s, s | WEFT__TS_WAITER, memory_order_acquire,
                                      memory_order_acquire))
            continue;
        if (!blocking) {
            weft__block_begin(w);
            blocking = true;
        }
        weft__futex_wait((_Atomic uint32_t *)(void *)st, (uint32_t)(s | WEFT__TS_WAITER));
        /* Acquire: as above. */
        s = weft__atomic_load(st, memory_order_acquire);
    }
    if (blocking)
        weft__block_end(w);
    return weft__frame_result(t, s);
}

/* An excess spare goes off duty (weft__spare_retire: false when the pool
 * is being destroyed), counted as parked. It may have taken a wake-up
 * meant for work still to be done - notifiers skip the wake-up while
 * anyone searches, and this spare was the one searching - and tasks may sit
 * in the private part of an owner busy in its own code, which only a
 * searcher's request or forced publication makes visible. So first the
 * check a parker makes (ask the owners, then look: parking.md,
 * "Searching"); where it finds work, the spare passes the wake-up on to a
 * parked worker before it leaves. */
static bool spare_off_duty(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    weft__worker_flush_done(w);
    if (p->p_sched->s_park_check(w) != WEFT__PARK_SLEEP)
        weft__pool_notify(p);
    unsigned prev = weft__tstate_set(w, WEFT__ST_PARK);
    bool recalled = weft__spare_retire(w);
    weft__tstate_set(w, prev);
    return recalled;
}

void *weft__worker_main(void *arg)
{
    weft__worker *w = arg;
    weft_pool *p = w->w_pool;
    const struct weft__sched *s = p->p_sched;
    bool spare = weft__is_spare(w);
    weft__tls_worker = w;
    weft__tls_fjq = &w->w_dq.dq_q; /* a SHARED worker's fails every fast path */
    /* The stack grows down from about here; half of it is the limit below
     * which a waiting worker stops running unrelated tasks. */
    w->w_stack_half = (uintptr_t)__builtin_frame_address(0) - p->p_stack_size / 2;
    weft__tstate_start(w);
    weft__trace_worker_start(w);
    bool searching = false; /* this worker is counted in p_searching */
    for (;;) {
        struct weft__task_impl *x = s->s_find(w);
        if (x == NULL) {
            /* Idle: search for a while, then park; what ran here is
             * counted first (wait_idle may be waiting for it). */
            weft__worker_flush_done(w);
            if (!searching) {
                /* seq_cst: read by notifiers after their fence (idle.c). */
                atomic_fetch_add_explicit(&p->p_searching, 1, memory_order_seq_cst);
                searching = true;
            }
            weft__tstate_set(w, WEFT__ST_SEARCH);
            for (unsigned r = 0; r < WEFT__IDLE_ROUNDS && x == NULL; r++) {
                for (unsigned i = 0; i < WEFT__IDLE_PAUSES; i++)
                    weft__cpu_relax();
                x = s->s_find(w);
            }
        }
        if (x != NULL) {
            if (searching) {
                weft__found_work(p);
                searching = false;
            }
            weft__tstate_set(w, WEFT__ST_RUN);
            weft__run_task(w, x);
            /* A spare no longer needed goes off duty between tasks, once
             * its own deque is empty (blocking.c). */
            if (spare && weft__spare_excess(p) && !weft__deque_has_shared(&w->w_dq)
                && !spare_off_duty(w))
                break;
            continue;
        }
        /* seq_cst: decrement before announcing the park (pairs with the
         * notifier's fence, idle.c). */
        atomic_fetch_sub_explicit(&p->p_searching, 1, memory_order_seq_cst);
        searching = false;
        /* seq_cst: pairs with the seq_cst store in destroy. No task can be
         * left: destroy waited for idleness before setting stop. */
        if (atomic_load_explicit(&p->p_stop, memory_order_seq_cst))
            break;
        if (spare && weft__spare_excess(p)) {
            /* Off duty instead of parking; recalled: search again. */
            if (!spare_off_duty(w))
                break;
            continue;
        }
        weft__park(w);
        /* Woken (or a spurious return): look for work as a searcher, so
         * that notifiers need not wake anyone else meanwhile and found_work
         * passes the wake-up on when more work is visible. seq_cst: as at
         * the start of an idle search. */
        atomic_fetch_add_explicit(&p->p_searching, 1, memory_order_seq_cst);
        searching = true;
    }
    weft__worker_flush_done(w); /* nothing left: flushed before each way out */
    weft__tstate_exit(w);
    weft__tls_fjq = (struct weft__fjq *)&weft__fjq_none;
    weft__tls_worker = NULL;
    return NULL;
}
