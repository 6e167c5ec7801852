/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/trace_record.c - what a trace records: task runs, steals,
 * state changes, wake-ups, the DAG mode's spawns, syncs and joins, and
 * collection waits, each into the calling thread's buffer (trace.c)
 * without a lock, except the waits of threads that are no workers
 * (weft__trace_global_lock). docs/design/tracing.md lists the events.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "pool/sched.h"
#include "pool/trace_impl.h"

/* ---- recording -------------------------------------------------------------------- */

static void record(weft_pool *p, struct weft__tbuf *b, unsigned kind, unsigned aux, uint32_t c,
                   uint64_t ts, uint64_t a, uint64_t bb, uint64_t d)
{
    /* Acquire: pairs with capture_get's release. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_acquire);
    if (b != NULL && t != NULL)
        weft__tbuf_put(t, b, kind, aux, c, ts, a, bb, d);
}

/* A task weft__trace_run runs, until its event is recorded: at its end,
 * or (a heap task) when its function returned, before it wakes whoever
 * waits for it - a waiter may stop the capture, and may take this
 * thread's CPU. */
struct weft__trun {
    struct weft__trun *r_outer; /* the run this one is nested in */
    struct weft__task_impl *r_task;
    weft_task_fn r_fn;
    uint64_t r_t0;
    unsigned r_flags, r_victim;
    bool r_always; /* recorded whatever its length (stolen, heap, DAG) */
    bool r_done;
};

static void trun_record(weft__worker *w, struct weft__trun *r, uint64_t t1)
{
    r->r_done = true;
    /* Acquire: pairs with capture_get's release. */
    struct weft__trace *t = atomic_load_explicit(&w->w_pool->p_trace, memory_order_acquire);
    /* Relaxed: a parameter (capture_start). */
    if (t != NULL
        && (r->r_always
            || t1 - r->r_t0 >= atomic_load_explicit(&t->t_min_ticks, memory_order_relaxed)))
        weft__tbuf_put(t, &w->w_tbuf, WEFT__EV_TASK, r->r_flags, r->r_victim, r->r_t0,
                 (uintptr_t)r->r_task, (uintptr_t)r->r_fn, t1);
}

void weft__trace_run(weft__worker *w, struct weft__task_impl *x)
{
    unsigned prev = weft__tstate_set(w, WEFT__ST_RUN);
    weft_pool *p = w->w_pool;
    unsigned on = WEFT__TRACE_FLAGS(p);
    if (on == 0) {
        weft__run_task_body(w, x);
        weft__tstate_set(w, prev);
        return;
    }
    /* Read before the run: a heap task is freed by it. Relaxed: as in
     * weft__run_task_body. */
    struct weft__trun r = {.r_outer = w->w_tr_cur, .r_task = x, .r_fn = x->ti_fn};
    r.r_flags = (weft__atomic_load(&x->ti_state, memory_order_relaxed) & WEFT__TS_HEAP)
                    ? WEFT__TF_HEAP
                    : 0;
    if (prev != WEFT__ST_RUN)
        r.r_flags |= WEFT__TF_NESTED;
    if (w->w_tr_stolen == x) {
        r.r_flags |= WEFT__TF_STOLEN;
        r.r_victim = w->w_tr_victim;
    }
    w->w_tr_stolen = NULL;
    r.r_always = (on & WEFT__TRACE_DAG) || (r.r_flags & (WEFT__TF_STOLEN | WEFT__TF_HEAP));
    w->w_tr_cur = &r;
    r.r_t0 = weft__trace_now();
    weft__run_task_body(w, x);
    if (!r.r_done)
        trun_record(w, &r, weft__trace_now());
    w->w_tr_cur = r.r_outer;
    weft__tstate_set(w, prev);
}

void weft__trace_heap_ran(struct weft__heap_task *ht)
{
    weft__worker *w = weft__tls_worker;
    if (w != NULL && w->w_tr_cur != NULL && w->w_tr_cur->r_task == &ht->ht_task
        && !w->w_tr_cur->r_done)
        trun_record(w, w->w_tr_cur, weft__trace_now());
}

void weft__trace_lock(uint64_t t0, uint64_t t1, uint64_t t2)
{
    weft__worker *w = weft__tls_worker;
    if (w == NULL)
        return;
    /* Acquire: pairs with capture_get's release. */
    struct weft__trace *t = atomic_load_explicit(&w->w_pool->p_trace, memory_order_acquire);
    if (t == NULL)
        return;
    /* Acquire: as in tbuf_slot. */
    uint32_t gen = atomic_load_explicit(&t->t_gen, memory_order_acquire);
    uint64_t add[4] = {1, t2 - t1, t1 - t0, t1 - t0 > 100 ? 1 : 0};
    for (int i = 0; i < 4; i++) {
        /* Relaxed load + store: only the owner writes them; the writer
         * wants values, not an order. */
        uint64_t v = atomic_load_explicit(&w->w_tr_lock_gen, memory_order_relaxed) == gen
                         ? atomic_load_explicit(&w->w_tr_lock[i], memory_order_relaxed)
                         : 0;
        atomic_store_explicit(&w->w_tr_lock[i], v + add[i], memory_order_relaxed);
    }
    /* Relaxed: read by the writer to tell this capture's sums (a report). */
    atomic_store_explicit(&w->w_tr_lock_gen, gen, memory_order_relaxed);
}

void weft__trace_steal(weft__worker *w, struct weft__task_impl *x, unsigned victim, uint64_t t0)
{
    uint64_t t1 = weft__trace_now();
    w->w_tr_stolen = x;
    w->w_tr_victim = victim;
    record(w->w_pool, &w->w_tbuf, WEFT__EV_STEAL, 0, victim, t1, (uintptr_t)x, 0, t1 - t0);
}

void weft__trace_state(weft__worker *w, unsigned from, unsigned to)
{
    record(w->w_pool, &w->w_tbuf, WEFT__EV_STATE, from, to, weft__trace_now(), 0, 0, 0);
}

void weft__trace_wake(weft_pool *p, int n)
{
    struct weft__tbuf *b = weft__trace_my_buf(p); /* before the clock: it may be made now */
    record(p, b, WEFT__EV_WAKE, 0, (uint32_t)n, weft__trace_now(), 0, 0, 0);
}

/* ---- the DAG mode ------------------------------------------------------------------ */

void weft__trace_dag_spawned(weft__worker *w, struct weft__task_impl *t, bool typed)
{
    weft_pool *p = w->w_pool;
    if (!(WEFT__TRACE_FLAGS(p) & WEFT__TRACE_DAG)) {
        /* A bit left from a capture that stopped (a spare started while it
         * stopped): clear it, so that the fast paths stay fast. Relaxed
         * RMW: as in capture_start. */
        weft__atomic_fetch_and(&w->w_dq.dq_q.q_hungry, ~WEFT__HUNGRY_TRACE,
                                  memory_order_relaxed);
        return;
    }
    if (t == NULL)
        t = weft__fjq_peek(&w->w_dq.dq_q, weft__fjq_priv(&w->w_dq.dq_q));
    if (t == NULL)
        return;
    record(p, &w->w_tbuf, WEFT__EV_SPAWN, typed, 0, weft__trace_now(), (uintptr_t)t,
           (uintptr_t)t->ti_fn, 0);
}

int weft__trace_dag_inline(weft__worker *w, struct weft__task_impl *t)
{
    weft_pool *p = w->w_pool;
    /* Relaxed: our own frame; only we wrote its state. */
    int32_t s = weft__atomic_load(&t->ti_state, memory_order_relaxed);
    weft_task_fn fn = t->ti_fn;
    weft__stat_inc(&w->w_executed);
    uint64_t t0 = weft__trace_now();
    int r = fn(weft__frame_arg(t, s));
    uint64_t t1 = weft__trace_now();
    record(p, &w->w_tbuf, WEFT__EV_TASK, WEFT__TF_INLINE, 0, t0, (uintptr_t)t, (uintptr_t)fn,
           t1);
    return r;
}

bool weft__trace_dag_pop(weft__worker *w, struct weft__task_impl *t)
{
    if (!(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
        return true;
    t->ti_result = weft__trace_dag_inline(w, t);
    /* Relaxed: the frame is this thread's, popped by it; its slow sync
     * (the caller's, next) reads the state on this thread. */
    weft__atomic_store(&t->ti_state, WEFT__TS_DONE, memory_order_relaxed);
    return false;
}

int weft__trace_dag_sync(weft__worker *w, struct weft__task_impl *t)
{
    weft_pool *p = w->w_pool;
    uint64_t t0 = weft__trace_now();
    int r = p->p_sched->s_sync(w, t);
    record(p, &w->w_tbuf, WEFT__EV_SYNC, 0, 0, t0, (uintptr_t)t, 0, weft__trace_now());
    return r;
}

void weft__trace_heap_spawn(weft_pool *p, struct weft__heap_task *ht)
{
    /* A future's task is a group of one, named by the word its wait is
     * recorded under (group.c), so that the wait joins it. */
    const void *fw = ht->ht_call == NULL && ht->ht_group == NULL ? weft__future_word(ht) : NULL;
    unsigned kind = ht->ht_call != NULL                  ? WEFT__HK_CALL
                    : ht->ht_group != NULL || fw != NULL ? WEFT__HK_GROUP
                                                         : WEFT__HK_SUBMIT;
    uintptr_t with = ht->ht_call != NULL    ? (uintptr_t)ht->ht_call
                     : ht->ht_group != NULL ? (uintptr_t)ht->ht_group
                                            : (uintptr_t)fw;
    struct weft__tbuf *b = weft__trace_my_buf(p); /* before the clock: it may be made now */
    record(p, b, WEFT__EV_HSPAWN, 0, kind, weft__trace_now(), (uintptr_t)ht, with, 0);
}

uint64_t weft__trace_join_begin(weft_pool *p, bool *admitted)
{
    *admitted = false;
    if (WEFT__TRACE_FLAGS(p) == 0)
        return 0;
    if (weft__worker_of(p) == NULL) {
        if (weft__callers_enter(p) != 0)
            return 0; /* destroy began: not recorded */
        *admitted = true;
        (void)weft__trace_my_buf(p); /* made before the clock is read */
    }
    return weft__trace_now();
}

void weft__trace_join_end(weft_pool *p, uint64_t t0, bool admitted, const void *what,
                          unsigned kind)
{
    if (t0 != 0 && WEFT__TRACE_FLAGS(p) != 0)
        record(p, weft__trace_my_buf(p), WEFT__EV_JOIN, 0, kind, t0, (uintptr_t)what, 0,
               weft__trace_now());
    if (admitted)
        weft__callers_leave(p);
}

uint64_t weft__trace_group_begin(const weft_pool *p)
{
    if (weft__worker_of(p) != NULL)
        return WEFT__TRACE_FLAGS(p) != 0 ? weft__trace_now() : 0;
    /* Another thread must not touch p (it may be destroyed meanwhile):
     * relaxed, a hint, as in weft__trace_coll_begin. */
    return atomic_load_explicit(&weft__trace_running, memory_order_relaxed) > 0 ? weft__trace_now()
                                                                          : 0;
}

void weft__trace_group_end(const weft_pool *p, uint64_t t0, const void *g)
{
    if (t0 == 0)
        return;
    uint64_t t1 = weft__trace_now();
    weft__worker *w = weft__worker_of(p);
    if (w != NULL) {
        if (WEFT__TRACE_FLAGS(w->w_pool) != 0)
            record(w->w_pool, &w->w_tbuf, WEFT__EV_JOIN, 0, WEFT__HK_GROUP, t0, (uintptr_t)g, 0,
                   t1);
        return;
    }
    /* Into p's capture only if it is the running one the global lock
     * guards (its address is compared, p is not touched). */
    pthread_mutex_lock(&weft__trace_global_lock);
    struct weft__trace *t = weft__trace_outside_capture;
    if (t != NULL && t->t_pool == p) {
        struct weft__tbuf *b = weft__trace_outside_buf(t);
        if (b != NULL)
            weft__tbuf_put(t, b, WEFT__EV_JOIN, 0, WEFT__HK_GROUP, t0, (uintptr_t)g, 0, t1);
    }
    pthread_mutex_unlock(&weft__trace_global_lock);
}

/* ---- collection waits -------------------------------------------------------------- */

uint64_t weft__trace_coll_begin(void)
{
    /* Relaxed: a hint; a wait that overlaps a capture's start is not
     * recorded. */
    return atomic_load_explicit(&weft__trace_running, memory_order_relaxed) > 0 ? weft__trace_now()
                                                                          : 0;
}

void weft__trace_coll_end(uint64_t t0, const void *coll, int side, bool timed_out)
{
    if (t0 == 0)
        return;
    uint64_t t1 = weft__trace_now();
    weft__worker *w = weft__tls_worker;
    if (w != NULL) {
        if (WEFT__TRACE_FLAGS(w->w_pool) != 0)
            record(w->w_pool, &w->w_tbuf, WEFT__EV_COLL_WAIT, timed_out, (uint32_t)side, t0,
                   (uintptr_t)coll, 0, t1);
        return;
    }
    /* Under the global lock: the capture cannot stop (and its pool cannot
     * go) meanwhile. */
    pthread_mutex_lock(&weft__trace_global_lock);
    struct weft__trace *t = weft__trace_outside_capture;
    if (t != NULL) {
        struct weft__tbuf *b = weft__trace_outside_buf(t);
        if (b != NULL)
            weft__tbuf_put(t, b, WEFT__EV_COLL_WAIT, timed_out, (uint32_t)side, t0, (uintptr_t)coll, 0,
                     t1);
    }
    pthread_mutex_unlock(&weft__trace_global_lock);
}
