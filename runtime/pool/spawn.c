/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/spawn.c - strict fork-join: weft_spawn/weft_sync, and the
 * out-of-line paths of the typed tasks of weft/fj.h.
 *
 * The fast paths (weft/bits/spawn.h, inlined into programs and into the
 * exported functions below) are weft/bits/fjq.h's push and pop of the
 * private deque: no fence, no RMW. Everything else - a full ring, a SHARED
 * pool, a task that is not the newest private one - comes here, and goes
 * to the scheduler (sched.h).
 *
 * Out-of-order syncs are tolerated in every build: sync(a) after spawn(a),
 * spawn(b) runs b first (b's later sync finds it DONE) and returns a's
 * result. Debug builds (no NDEBUG) return EINVAL for a frame spawned by
 * another thread, or never spawned, instead of waiting forever.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include <weft/bits/spawn.h>
#include <weft/fj.h>

#include "pool/sched.h"

static_assert(sizeof(struct weft__task_impl) <= sizeof(weft_task),
              "weft_task storage too small for weft__task_impl");
static_assert(_Alignof(struct weft__task_impl) <= _Alignof(weft_task),
              "weft_task storage under-aligned");
static_assert(WEFT__MAX_WORKERS + WEFT__MAX_SPARES <= WEFT__TS_THIEF_MASK
                  && (WEFT__TS_THIEF_MASK
                      & (WEFT__TS_SYNCED | WEFT__TS_WAITER | WEFT__TS_SELF_ARG | WEFT__TS_HEAP
                         | WEFT__TS_DONE))
                         == 0,
              "ti_state: thief bits overlap the flags");

#ifndef NDEBUG
/* Relaxed: a statistic. */
atomic_ulong weft__debug_out_of_order;

/* The program breaks the documented LIFO contract and pays a slow path
 * (weft still returns the right results): say so once on stderr, and count
 * every occurrence for tests. */
void weft__report_out_of_order(const struct weft__task_impl *t,
                               const struct weft__task_impl *newer)
{
    if (atomic_fetch_add_explicit(&weft__debug_out_of_order, 1, memory_order_relaxed) == 0)
        fprintf(stderr,
                "weft: weft_sync(%p) called while a newer spawn (%p) of the same thread was "
                "not yet synced: syncs must be in LIFO order (debug build; reported once)\n",
                (const void *)t, (const void *)newer);
}
#endif

/* The rare paths of weft/bits/spawn.h's fast paths, which weft_spawn and
 * weft_sync below share with the copies inlined into programs. */

int weft__spawn_slow(weft_task *tp, weft_task_fn fn, void *arg)
{
    if (tp == NULL || fn == NULL)
        return EINVAL;
    weft__worker *w = weft__tls_worker;
    if (WEFT__UNLIKELY(w == NULL))
        return EPERM;
    /* A SHARED worker, or a full ring: the scheduler pushes (and grows). */
    struct weft__task_impl *t = (struct weft__task_impl *)tp;
    weft__spawn_fill(t, fn, arg, &w->w_dq.dq_q);
    int rc = w->w_pool->p_sched->s_spawn(w, t);
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG) && rc == 0)
        weft__trace_dag_spawned(w, t, false); /* trace.h, "DAG mode" */
    return rc;
}

int weft__spawn_serve(void)
{
    weft__worker *w = weft__tls_worker; /* the fast path pushed: a worker */
    if (WEFT__TRACE_DAG_BIT(w))
        weft__trace_dag_spawned(w, NULL, false); /* the push just made */
    weft__worker_serve(w, NULL);
    return 0;
}

int weft__sync_slow(weft_task *tp)
{
    if (WEFT__UNLIKELY(tp == NULL))
        return EINVAL;
    struct weft__task_impl *t = (struct weft__task_impl *)tp;
    weft__worker *w = weft__tls_worker;
    if (w == NULL)
        return EINVAL; /* no thread but a worker can have spawned t */
#ifndef NDEBUG
    if (t->ti_owner != &w->w_dq.dq_q)
        return EINVAL;
#endif
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
        return weft__trace_dag_sync(w, t); /* s_sync, recorded */
    return w->w_pool->p_sched->s_sync(w, t);
}

int weft__sync_serve(weft_task *tp)
{
    /* t was popped but a thief asked for work or forced a publication.
     * Serve it; then run t, unless the thief took it. */
    struct weft__task_impl *t = (struct weft__task_impl *)tp;
    weft__worker *w = weft__tls_worker; /* the fast path popped: a worker */
    if (!weft__worker_serve(w, t))
        return w->w_pool->p_sched->s_sync(w, t);
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
        return weft__trace_dag_inline(w, t); /* t, run and recorded */
    weft__stat_inc(&w->w_executed);
    return t->ti_fn(t->ti_arg);
}

/* The exported functions: what programs built against earlier versions,
 * and the runtime itself, call. */

int weft_spawn(weft_task *tp, weft_task_fn fn, void *arg)
{
    return weft__spawn_inline(tp, fn, arg);
}

int weft_sync(weft_task *tp)
{
    return weft__sync_inline(tp);
}

/* ---- typed fork-join slow paths (weft/fj.h) ---------------------------- */

static weft__worker *worker_of_fjq(struct weft__fjq *q)
{
    /* The queue is the dq_q member of the worker's deque, its first member. */
    return (weft__worker *)(void *)((char *)q - offsetof(weft__worker, w_dq)
                                    - offsetof(weft__deque, dq_q));
}

int64_t weft__fj_push_slow(struct weft__fjq *q, struct weft__task_impl *t)
{
    /* An untyped spawn does what the fast path could not: grow the ring,
     * push above untyped tasks, use the SHARED queue. Where it cannot push
     * (no worker: EPERM; no memory: ENOMEM), t runs now, as the serial
     * program would, and its sync finds it DONE. */
    t->ti_arg = t; /* an untyped frame from here on (state 0, not SELF_ARG) */
    if (weft_spawn((weft_task *)t, t->ti_fn, t->ti_arg) != 0) {
        t->ti_result = t->ti_fn(t->ti_arg);
        /* Relaxed: only this thread reads the state of a frame it ran. */
        weft__atomic_store(&t->ti_state, WEFT__TS_DONE, memory_order_relaxed);
    }
    /* The index after t, or unchanged if t ran here (its sync then fails
     * the fast test, finds t DONE and takes the index from q_priv). */
    return weft__fjq_priv(q);
}

int64_t weft__fj_sync_slow(struct weft__task_impl *t)
{
    /* Acquire: pairs with the runner's release of DONE (the frame's
     * result); a frame run in its spawn was marked by this thread. */
    if (!(weft__atomic_load(&t->ti_state, memory_order_acquire) & WEFT__TS_DONE)) {
        /* Not done, so pushed by this thread, which is a worker. No
         * ti_owner check: typed pushes do not set it. */
        weft__worker *w = weft__tls_worker;
        if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
            (void)weft__trace_dag_sync(w, t); /* s_sync, recorded */
        else
            (void)w->w_pool->p_sched->s_sync(w, t);
    }
    /* The body's index from here on: where the deque's private part ends
     * now (0 off the workers). */
    return weft__fjq_priv(weft__tls_fjq);
}

void weft__fj_publish(struct weft__fjq *q)
{
    weft__worker *w = worker_of_fjq(q);
    if (WEFT__TRACE_DAG_BIT(w))
        weft__trace_dag_spawned(w, NULL, true); /* the typed push just made */
    weft__worker_serve(w, NULL);
}

bool weft__fj_pop_slow(struct weft__fjq *q, struct weft__task_impl *t)
{
    weft__worker *w = worker_of_fjq(q);
    /* In the DAG mode, trace.c runs t (recorded) and its sync finds it done. */
    return weft__worker_serve(w, t) && weft__trace_dag_pop(w, t);
}
