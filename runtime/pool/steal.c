/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/steal.c - the STEALING scheduler (sched.h's interface):
 * per-worker deques, random victims, leapfrogging syncs, and the injection
 * queue for submissions from outside.
 *
 * A worker looks for work in its own deque (newest first), then takes a
 * batch from the injection queue, then steals the oldest task of a random
 * victim. A sync whose task was stolen works on the thief's deque first
 * (leapfrogging: van Dijk & van de Pol, "Lace", Euro-Par 2014 workshops;
 * Wagner & Calder, "Leapfrogging", PPoPP 1993), then on anyone's, and
 * never sleeps.
 */
#define _GNU_SOURCE
#include <errno.h>

#include <urcu/wfcqueue.h>

#include "base/asymfence.h"
#include "pool/sched.h"

/* Injected tasks a worker moves into its own deque at once. */
#define WEFT__INJECT_BATCH 32

bool weft__worker_serve(weft__worker *w, struct weft__task_impl *popped)
{
    /* The DAG mode's bit alone (trace.h): nothing to serve. Read as the
     * fast path read it (weft/bits/fjq.h); a later read of the owner's own
     * flag cannot miss a phase that the fast path's read saw. */
    if (weft__atomic_load(&w->w_dq.dq_q.q_hungry, WEFT__FJQ_PRIV_ORDER) == WEFT__HUNGRY_TRACE)
        return true;
    bool published;
    bool mine = weft__deque_serve(&w->w_dq, popped, &published);
    if (published)
        weft__pool_notify(w->w_pool);
    return mine;
}

void weft__worker_publish_all(weft__worker *w)
{
    if (weft__deque_publish_all(&w->w_dq))
        weft__pool_notify(w->w_pool);
}

/* ---- taking work -------------------------------------------------------- */

/* Owner: pop the newest task of the own deque (private part, else the
 * shared part), or NULL when it is empty. */
static struct weft__task_impl *own_pop(weft__worker *w)
{
    struct weft__task_impl *x = weft__deque_pop_private(&w->w_dq);
    if (x != NULL) {
        /* A forcing thief may have published x, and another stolen it;
         * then every older task was stolen too. */
        if (weft__deque_hungry(&w->w_dq) && !weft__worker_serve(w, x))
            return NULL;
        return x;
    }
    /* Relaxed peek: a hint only; weft__deque_take decides. */
    if (w->w_dq.dq_q.q_bot != atomic_load_explicit(&w->w_dq.dq_top, memory_order_relaxed))
        x = weft__deque_take(&w->w_dq);
    return x;
}

static struct weft__task_impl *steal_from(weft__worker *w, weft__worker *v)
{
    struct weft__task_impl *x = NULL;
    uint64_t t0 = WEFT__TRACE_FLAGS(w->w_pool) != 0 ? weft__trace_now() : 0;
    /* Release (here and after): say that we may be between taking one of
     * v's frames and marking it, for v's misuse check (thief_in_flight):
     * an acquire load that reads either store sees our earlier marks. */
    atomic_store_explicit(&w->w_stealing, v->w_index + 1, memory_order_release);
    for (int tries = 0; tries < 4; tries++) {
        int r = weft__deque_steal(&v->w_dq, &x);
        if (r == WEFT__STEAL_OK) {
            weft__stat_inc(&w->w_steals);
            if (t0 != 0)
                weft__trace_steal(w, x, v->w_index, t0);
            /* Relaxed: a hint for the owner's leapfrogging (and its misuse
             * check, through w_stealing); heap tasks have no waiter. The
             * frame was published by the owner's release of bottom, which
             * our steal acquired. */
            int32_t s = weft__atomic_load(&x->ti_state, memory_order_relaxed);
            if (!(s & WEFT__TS_HEAP))
                weft__atomic_store(&x->ti_state,
                                   (s & WEFT__TS_SELF_ARG) | ((int32_t)w->w_index + 1),
                                   memory_order_relaxed);
            break;
        }
        x = NULL;
        if (r == WEFT__STEAL_EMPTY)
            break;
    }
    atomic_store_explicit(&w->w_stealing, 0, memory_order_release);
    if (x == NULL)
        weft__stat_inc(&w->w_failed_steals);
    return x;
}

/* t is not in w's deque and bears no thief's mark: was it stolen by a
 * thief that has not marked it yet? Reading top (acquire) synchronises
 * with the CAS of the thief that took it (RMWs continue its release
 * sequence); that thief raised its w_stealing before, so we see the raise
 * or its release store of 0 after the mark. */
static bool thief_in_flight(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    (void)atomic_load_explicit(&w->w_dq.dq_top, memory_order_acquire);
    for (unsigned v = 0, n = weft__nslots(p); v < n; v++)
        /* Acquire: pairs with steal_from's release stores. */
        if (atomic_load_explicit(&p->p_workers[v].w_stealing, memory_order_acquire)
            == w->w_index + 1)
            return true;
    return false;
}

static struct weft__task_impl *steal_any(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    unsigned n = weft__nslots(p);
    if (n < 2)
        return NULL;
    unsigned start = (unsigned)(weft__rng_next(w) % n);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = start + i < n ? start + i : start + i - n;
        if (v == w->w_index)
            continue;
        struct weft__task_impl *x = steal_from(w, &p->p_workers[v]);
        if (x != NULL)
            return x;
    }
    return NULL;
}

/* Take one injected task (a waiting worker that may run it). */
static struct weft__task_impl *inj_take_one(weft__worker *w)
{
    struct weft__task_impl *x;
    if (weft__inj_take(w->w_pool, &x, 1) == 0)
        return NULL;
    weft__stat_inc(&w->w_injected);
    return x;
}

/* Worker loop only (own deque empty, at top level): move a batch of
 * injected tasks into the own deque, publish all but the one returned, and
 * wake a helper. */
static struct weft__task_impl *inj_take_batch(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    struct weft__task_impl *batch[WEFT__INJECT_BATCH];
    unsigned taken = weft__inj_take(p, batch, WEFT__INJECT_BATCH);
    if (taken == 0)
        return NULL;
    weft__stat_add(&w->w_injected, taken);
    /* Push the rest oldest first: thieves take the oldest end, so injected
     * tasks start roughly in submission order. */
    unsigned i = 1;
    for (; i < taken; i++)
        if (weft__deque_push(&w->w_dq, batch[i]) != 0)
            break;
    if (weft__deque_publish_all(&w->w_dq))
        weft__pool_notify(p);
    /* ENOMEM growing the deque: put what did not fit back into the queue
     * (at its tail), rather than run it here while this worker still
     * counts as searching, which would keep notifiers from waking anyone. */
    for (; i < taken; i++) {
        struct weft__heap_task *ht = (struct weft__heap_task *)batch[i];
        cds_wfcq_node_init(&ht->ht_node);
        weft__inj_enqueue(p, ht);
    }
    return batch[0];
}

/* ---- the interface -------------------------------------------------------- */

static int stealing_spawn(weft__worker *w, struct weft__task_impl *t)
{
    int rc = weft__deque_push(&w->w_dq, t); /* grows the ring */
    if (rc != 0)
        return rc;
    weft__stat_inc(&w->w_spawned);
    if (weft__deque_hungry(&w->w_dq))
        weft__worker_serve(w, NULL);
    return 0;
}

static bool stealing_help(weft__worker *w, int prefer, const struct weft__group_impl *g)
{
    (void)g;
    weft_pool *p = w->w_pool;
    /* The own deque and the thief's (leapfrogging: its tasks are the
     * awaited task's descendants) are always fair game; other work nests
     * unrelated tasks on this stack, so only while it has room. */
    struct weft__task_impl *x = own_pop(w);
    if (x == NULL && prefer >= 0 && (unsigned)prefer != w->w_index
        && (unsigned)prefer < weft__nslots(p))
        x = steal_from(w, &p->p_workers[prefer]);
    if (x == NULL && weft__stack_room(w)) {
        x = steal_any(w);
        if (x == NULL)
            x = inj_take_one(w);
    }
    if (x == NULL)
        return false;
    weft__run_task(w, x);
    return true;
}

/* t, spawned by w, was stolen: until the thief is done with it, take
 * work back from the thief (the tasks t spawned), else from anyone; when
 * there is nothing to help with for a while, sleep until it is done. */
static int leapfrog(weft__worker *w, struct weft__task_impl *t)
{
    for (unsigned spins = 0;;) {
        /* Acquire: pairs with the runner's release of DONE (ti_result). */
        int32_t s = weft__atomic_load(&t->ti_state, memory_order_acquire);
        if (s & WEFT__TS_DONE)
            return weft__frame_result(t, s);
        int32_t id = s & WEFT__TS_THIEF_MASK;
        if (id == 0) {
            /* No mark: a thief about to write it, or a frame that was never
             * ours - synced twice, never spawned, another thread's. */
            if (!thief_in_flight(w)) {
                s = weft__atomic_load(&t->ti_state, memory_order_acquire); /* as above */
                if (!(s & (WEFT__TS_DONE | WEFT__TS_THIEF_MASK)))
                    return EINVAL;
            }
            weft__backoff(&spins);
            continue;
        }
        if (stealing_help(w, id - 1, NULL))
            spins = 0;
        else if (spins >= WEFT__SPINS_BEFORE_BLOCK)
            return weft__frame_wait(w, t);
        else
            weft__backoff(&spins);
    }
}

static int stealing_sync(weft__worker *w, struct weft__task_impl *t)
{
    for (;;) {
        /* Acquire: pairs with the runner's release of DONE (ti_result). */
        int32_t s = weft__atomic_load(&t->ti_state, memory_order_acquire);
        if (s & WEFT__TS_DONE)
            return weft__frame_result(t, s);
        struct weft__task_impl *x = own_pop(w);
        if (x == NULL)
            break; /* t was stolen: every older task is gone too */
        if (x == t) {
            if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
                return weft__trace_dag_inline(w, t); /* trace.h */
            weft__stat_inc(&w->w_executed);
            /* Relaxed: t came off our own deque; only we wrote its state. */
            return t->ti_fn(
                weft__frame_arg(t, weft__atomic_load(&t->ti_state, memory_order_relaxed)));
        }
        /* A newer task (a heap task, or an out-of-order sync): run it. */
#ifndef NDEBUG
        /* Relaxed: x came off our own deque; only we wrote its state. */
        if (!(weft__atomic_load(&x->ti_state, memory_order_relaxed) & WEFT__TS_HEAP))
            weft__report_out_of_order(t, x);
#endif
        weft__run_task(w, x);
    }
    /* Leapfrog (counted as searching: the owner looks for work). */
    unsigned prev = weft__tstate_set(w, WEFT__ST_SEARCH);
    int r = leapfrog(w, t);
    weft__tstate_set(w, prev);
    return r;
}

static int stealing_enqueue(weft_pool *p, weft__worker *w, struct weft__heap_task *ht,
                            bool *woke)
{
    *woke = false;
    if (w != NULL && weft__deque_push(&w->w_dq, &ht->ht_task) == 0) {
        weft__stat_inc(&w->w_spawned);
        /* Publish at once and wake a parked worker: nobody syncs a heap
         * task, so left private it would wait until this worker next polls
         * its deque - forever if the submitting task then waits for it. */
        if (weft__deque_publish_all(&w->w_dq))
            weft__pool_notify(p);
        *woke = true;
        return 0;
    }
    weft__inj_enqueue(p, ht); /* outside, or the deque could not grow: never fails */
    return 0;
}

static struct weft__task_impl *stealing_find(weft__worker *w)
{
    struct weft__task_impl *x = own_pop(w);
    if (x == NULL)
        x = inj_take_batch(w);
    if (x == NULL)
        x = steal_any(w);
    return x;
}

/* Work visible in the deques' shared parts, or the injection queue; a
 * stalled injection queue counts only if count_stalled. */
static bool work_visible(weft_pool *p, bool count_stalled)
{
    /* The wfcq emptiness test is two loads (uatomic, relaxed); the seq_cst
     * fence orders them after the parker's waiter increment. */
    weft__fence_sc(&p->p_fence);
    if (weft__inj_nonempty(p) && (count_stalled || !weft__inj_stalled(p)))
        return true;
    for (unsigned i = 0, n = weft__nslots(p); i < n; i++)
        if (weft__deque_has_shared(&p->p_workers[i].w_dq))
            return true;
    return false;
}

static bool stealing_work_visible(weft_pool *p)
{
    return work_visible(p, true);
}

/* A worker other than w whose private part holds tasks, or -1; scanned
 * from a random start. */
static int hidden_work(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    unsigned n = weft__nslots(p);
    unsigned start = (unsigned)(weft__rng_next(w) % n);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = start + i < n ? start + i : start + i - n;
        if (v != w->w_index && weft__deque_has_private(&p->p_workers[v].w_dq))
            return (int)v;
    }
    return -1;
}

/* Worker v has private tasks that a whole search did not get published.
 * The first time, remember it; if v has not pushed or popped since the
 * last time (its private index is unchanged over a search), it is not
 * answering requests - deep in a long task, or blocked - so publish its
 * private part for it (docs/design/deque.md, "Forced publication"). */
static void consider_forcing(weft__worker *w, int v)
{
    weft__deque *dq = &w->w_pool->p_workers[v].w_dq;
    int64_t priv = weft__fjq_priv(&dq->dq_q); /* a snapshot of another's index */
    if (w->w_force_victim == v && w->w_force_priv == priv) {
        w->w_force_victim = -1;
        if (weft__deque_force(dq))
            weft__pool_notify(w->w_pool);
        return;
    }
    w->w_force_victim = v;
    w->w_force_priv = priv;
}

static int stealing_park_check(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    if (work_visible(p, false))
        return WEFT__PARK_NOT;
    int v = hidden_work(w);
    if (v < 0) {
        /* About to sleep. Ask every owner, so that the next push anywhere
         * is published at once and wakes us; then the heavy side of the
         * handshake with the owners' pushes (weft/bits/fjq.h): a push after
         * it sees the request, one before it is seen by the re-check. */
        for (unsigned i = 0, n = weft__nslots(p); i < n; i++)
            if (i != w->w_index)
                weft__deque_ask(&p->p_workers[i].w_dq);
#ifdef WEFT_TSAN
        weft__fence_sc(&p->p_fence);
#else
        if (weft__asym)
            weft__asym_heavy();
        else
            weft__fence_sc(&p->p_fence); /* no membarrier: a best effort */
#endif
        if (work_visible(p, false))
            return WEFT__PARK_NOT;
        v = hidden_work(w);
        if (v < 0) {
            w->w_force_victim = -1;
            /* A stalled injection queue: its submitter notifies once it
             * has linked the task, but perhaps before we announced our
             * park - so sleep briefly rather than spin meanwhile. */
            return weft__inj_nonempty(p) ? WEFT__PARK_BRIEFLY : WEFT__PARK_SLEEP;
        }
    }
    consider_forcing(w, v);
    return WEFT__PARK_NOT;
}

const struct weft__sched weft__sched_stealing = {
    .s_spawn = stealing_spawn,
    .s_sync = stealing_sync,
    .s_enqueue = stealing_enqueue,
    .s_find = stealing_find,
    .s_help = stealing_help,
    .s_work_visible = stealing_work_visible,
    .s_park_check = stealing_park_check,
};
