/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/submit.c - heap tasks (submit, call, group spawns): their
 * allocation, admission against destroy, enqueueing and running; and
 * weft_pool_submit, weft_pool_call and weft_pool_wait_idle.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>

#include "base/alloc.h"
#include "base/futex.h"
#include "pool/sched.h"

int weft__heap_task_new(weft_pool *p, weft_task_fn fn, void *arg, struct weft__heap_task **out)
{
    bool outside = weft__worker_of(p) == NULL;
    /* Admitted first: a refused caller (destroy under way, a pool inherited
     * through fork, whose stash lock a parent's thread may have held) must
     * not touch the pool's node stash. */
    if (outside && weft__callers_enter(p) != 0) {
        WEFT__RACE_POINT(WEFT__RACE_REFUSED);
        return EPIPE;
    }
    /* A worker of p submitting after destroy stopped the pool: only an
     * on_worker_stop hook can, and no worker would run the task. Relaxed:
     * that hook's thread left its loop on reading the flag set (seq_cst,
     * weft__worker_main), so coherence makes this read see the same store
     * (pool_stop_join's). */
    if (!outside && atomic_load_explicit(&p->p_stop, memory_order_relaxed))
        return EPIPE;
    struct weft__heap_task *ht = weft__node_alloc(p);
    if (ht == NULL) {
        if (outside)
            weft__callers_leave(p);
        return ENOMEM;
    }
    weft__pool_count_task(p);
    ht->ht_task.ti_fn = fn;
    ht->ht_task.ti_arg = arg;
    ht->ht_task.ti_state = WEFT__TS_HEAP; /* not shared yet (as atomic_init) */
    ht->ht_task.ti_result = 0;
    ht->ht_task.ti_owner = NULL;
    cds_wfcq_node_init(&ht->ht_node);
    ht->ht_pool = p;
    ht->ht_group = NULL;
    ht->ht_call = NULL;
    *out = ht;
    return 0;
}

int weft__heap_task_enqueue(weft_pool *p, struct weft__heap_task *ht)
{
    weft__worker *w = weft__worker_of(p);
    bool woke = false;
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(p) & WEFT__TRACE_DAG))
        weft__trace_heap_spawn(p, ht); /* before it can run */
    int rc = p->p_sched->s_enqueue(p, w, ht, &woke);
    if (rc != 0) {
        /* Undo weft__heap_task_new: nothing ran, nothing is left. */
        if (ht->ht_group != NULL)
            weft__group_leave(ht->ht_group);
        weft__node_free(p, ht);
        weft__pool_task_done(p, NULL);
    } else if (!woke) {
        /* From here a worker may run the task and the pool may become
         * idle; an outside caller still holds its p_callers guard, so
         * destroy waits. */
        if (w == NULL)
            WEFT__RACE_POINT(WEFT__RACE_ENQUEUED);
        weft__pool_notify(p);
    }
    if (w == NULL)
        weft__callers_leave(p);
    return rc;
}

_Thread_local const struct weft__group_impl *weft__tls_group;

void weft__heap_task_run(struct weft__heap_task *ht)
{
    weft_pool *p = ht->ht_pool;
    struct weft__group_impl *g = ht->ht_group;
    int r = 0;
    /* Relaxed: cancellation is a hint; a task that starts anyway is fine. */
    if (g == NULL
        || (atomic_load_explicit(&g->g_state, memory_order_relaxed) & WEFT__GROUP_CANCELLED) == 0) {
        const struct weft__group_impl *outer = weft__tls_group;
        weft__tls_group = g;
        r = ht->ht_task.ti_fn(ht->ht_task.ti_arg);
        weft__tls_group = outer;
    }
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(p) != 0))
        weft__trace_heap_ran(ht); /* its end, before the waiters are woken */
    if (g != NULL) {
        if (r != 0) {
            int32_t zero = 0;
            /* Relaxed CAS: the first error wins; published to the waiter
             * by the release of the decrement below. Then fail fast: the
             * tasks that have not started are skipped (relaxed RMW, as in
             * weft_group_cancel). */
            atomic_compare_exchange_strong_explicit(&g->g_error, &zero, r,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed);
            atomic_fetch_or_explicit(&g->g_state, WEFT__GROUP_CANCELLED, memory_order_relaxed);
        }
        weft__group_leave(g);
    }
    struct weft__call *c = ht->ht_call;
    weft__node_free(p, ht);
    if (c != NULL) {
        c->c_result = r;
        /* Release: publishes c_result to the caller's acquire. After it the
         * caller may return; only the futex syscall uses the address. */
        atomic_store_explicit(&c->c_done, 1, memory_order_release);
        weft__futex_wake(&c->c_done, 1);
    }
    weft__pool_task_done(p, weft__worker_of(p)); /* counted later on a worker */
}

int weft_pool_submit(weft_pool *p, weft_task_fn fn, void *arg)
{
    if (p == NULL || fn == NULL)
        return EINVAL;
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(p, fn, arg, &ht);
    if (rc != 0)
        return rc;
    return weft__heap_task_enqueue(p, ht);
}

/* The caller of weft_pool_call waits for its task. */
static void call_wait(struct weft__call *c)
{
    /* Acquire: pairs with the runner's release store of c_done. */
    for (unsigned spins = 0; spins < 256; spins++) {
        if (atomic_load_explicit(&c->c_done, memory_order_acquire) != 0)
            return;
        weft__cpu_relax();
    }
    weft_blocking_begin(); /* a worker of another pool: compensate there */
    while (atomic_load_explicit(&c->c_done, memory_order_acquire) == 0) /* acquire: as above */
        weft__futex_wait(&c->c_done, 0);
    weft_blocking_end();
}

int weft_pool_call(weft_pool *p, weft_task_fn fn, void *arg)
{
    if (p == NULL || fn == NULL)
        return EINVAL;
    if (weft__worker_of(p) != NULL)
        return fn(arg); /* nested: its spawns go to this worker's deque */
    struct weft__call c;
    atomic_init(&c.c_done, 0);
    c.c_result = 0;
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(p, fn, arg, &ht);
    if (rc != 0)
        return rc;
    ht->ht_call = &c;
    bool adm;
    uint64_t t0 = weft__trace_join_begin(p, &adm); /* 0 unless traced */
    rc = weft__heap_task_enqueue(p, ht);
    if (rc != 0) {
        weft__trace_join_end(p, 0, adm, NULL, WEFT__HK_CALL);
        return rc;
    }
    if (t0 != 0)
        t0 = weft__trace_now(); /* the wait starts after the enqueue */
    call_wait(&c);
    if (t0 != 0)
        weft__trace_join_end(p, t0, adm, &c, WEFT__HK_CALL);
    return c.c_result;
}

static int wait_idle(weft_pool *p, int64_t timeout_ns)
{
    if (p == NULL || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    if (weft__worker_of(p) != NULL)
        return EPERM;
    /* Admitted like a submitter, so that destroy does not free the pool
     * while we still touch it. */
    if (weft__callers_enter(p) != 0)
        return EPIPE;
    struct weft__timeout to;
    weft__timeout_start(&to, timeout_ns);
    bool adm;
    uint64_t t0 = weft__trace_join_begin(p, &adm); /* 0 unless traced */
    int rc = weft__pool_wait_idle(p, &to);
    weft__trace_join_end(p, t0, adm, NULL, WEFT__HK_IDLE);
    weft__callers_leave(p);
    return rc;
}

int weft_pool_wait_idle(weft_pool *p)
{
    return wait_idle(p, WEFT_FOREVER);
}

int weft_pool_try_wait_idle(weft_pool *p, int64_t timeout_ns)
{
    return wait_idle(p, timeout_ns);
}
