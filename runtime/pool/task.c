/*
 * runtime/task.c - strict fork-join (weft_spawn/weft_sync) and task groups.
 *
 * The spawn/sync fast path touches only the calling worker's private deque
 * state (deque.h): no fence, no RMW. sync falls back to sync_slow when the
 * task is not the newest private one: it was published (Le et al. take),
 * stolen (leapfrog: steal back from the thief, as in Lace - van Dijk & van
 * de Pol, Euro-Par 2014 - then from anyone, never sleeping), or the pool is
 * in SHARED mode (help from the shared queue until the task has run).
 *
 * Out-of-order syncs are tolerated in every build: sync(a) after spawn(a),
 * spawn(b) runs b first (b's later sync finds it DONE) and returns a's
 * result. Debug builds (no NDEBUG) return EINVAL for a frame spawned by
 * another thread, or never spawned, instead of waiting forever.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "base/debug.h"
#include "base/futex.h"
#include "pool/worker.h"

static_assert(sizeof(struct weft__task_impl) <= sizeof(weft_task),
              "weft_task storage too small for weft__task_impl");
static_assert(_Alignof(struct weft__task_impl) <= _Alignof(weft_task),
              "weft_task storage under-aligned");
static_assert(WEFT__MAX_WORKERS + 1 <= WEFT__TS_THIEF_MASK
                  && (WEFT__TS_THIEF_MASK & (WEFT__TS_SELF_ARG | WEFT__TS_HEAP | WEFT__TS_DONE)) == 0,
              "ti_state: thief bits overlap the flags");
static_assert(sizeof(struct weft__group_impl) <= sizeof(weft_group),
              "weft_group storage too small for weft__group_impl");
static_assert(_Alignof(struct weft__group_impl) <= _Alignof(weft_group),
              "weft_group storage under-aligned");

/* ---- spawn / sync ------------------------------------------------------ */

#ifndef NDEBUG
/* Debug builds: weft_sync(t) found a newer strict spawn of this thread above
 * t, i.e. the syncs are not in LIFO order. weft still returns the right
 * results (it runs the newer task first), but the program breaks the
 * documented contract and pays a slow path: say so once on stderr, and
 * count every occurrence for tests. Relaxed: a statistic. */
atomic_ulong weft__debug_out_of_order;

static void weft__report_out_of_order(const struct weft__task_impl *t,
                                      const struct weft__task_impl *newer)
{
    if (atomic_fetch_add_explicit(&weft__debug_out_of_order, 1, memory_order_relaxed) == 0)
        fprintf(stderr,
                "weft: weft_sync(%p) called while a newer spawn (%p) of the same thread was "
                "not yet synced: syncs must be in LIFO order (debug build; reported once)\n",
                (const void *)t, (const void *)newer);
}
#endif

static __attribute__((noinline)) int spawn_shared(weft__worker *w, struct weft__task_impl *t)
{
    int rc = weft__sq_push(w->w_pool, t);
    if (rc == 0) {
        weft__stat_inc(&w->w_spawned);
        weft__pool_notify(w->w_pool);
    }
    return rc;
}

/* Spawn's rare paths, out of line and entered by tail calls, so that the
 * fast path needs no callee-saved registers (no push/pop). */
static __attribute__((noinline)) int spawn_grow(weft__worker *w, struct weft__task_impl *t)
{
    int rc = weft__deque_push(&w->w_dq, t);
    if (rc != 0)
        return rc;
    weft__stat_inc(&w->w_spawned);
    if (weft__deque_hungry(&w->w_dq))
        weft__worker_publish(w);
    return 0;
}

static __attribute__((noinline)) int spawn_publish(weft__worker *w)
{
    weft__worker_publish(w);
    return 0;
}

int weft_spawn(weft_task *tp, weft_task_fn fn, void *arg)
{
    if (tp == NULL || fn == NULL)
        return EINVAL;
    weft__worker *w = weft__tls_worker;
    if (WEFT__UNLIKELY(w == NULL))
        return EPERM;
    struct weft__task_impl *t = (struct weft__task_impl *)tp;
    t->ti_fn = fn;
    t->ti_arg = arg;
    /* Relaxed: the frame becomes visible to other threads only through a
     * release store of the deque's bottom (or the SHARED queue's lock). */
    atomic_store_explicit(&t->ti_state, WEFT__TS_SPAWNED, memory_order_relaxed);
#ifndef NDEBUG
    t->ti_owner = w;
#endif
    if (WEFT__UNLIKELY(w->w_shared))
        return spawn_shared(w, t);
    weft__deque *dq = &w->w_dq;
    int64_t p = dq->dq_q.q_priv;
    if (WEFT__UNLIKELY(p - dq->dq_q.q_top_cache > dq->dq_q.q_mask))
        return spawn_grow(w, t); /* the ring may be full */
    /* Relaxed: a private slot until weft__deque_publish's release store. */
    atomic_store_explicit(&dq->dq_q.q_slots[p & dq->dq_q.q_mask], t, memory_order_relaxed);
    dq->dq_q.q_priv = p + 1;
    weft__stat_inc(&w->w_spawned);
    if (WEFT__UNLIKELY(weft__deque_hungry(dq)))
        return spawn_publish(w);
    return 0;
}

static int sync_shared(weft__worker *w, struct weft__task_impl *t)
{
    weft_pool *p = w->w_pool;
    for (unsigned spins = 0;;) {
        /* Acquire: pairs with the runner's release of DONE (ti_result). */
        int32_t s = atomic_load_explicit(&t->ti_state, memory_order_acquire);
        if (s & WEFT__TS_DONE)
            return t->ti_result;
        /* Still queued (the taker's mark says otherwise): take it back by
         * identity and run it here, as the fast path would. */
        if (s == WEFT__TS_SPAWNED && weft__sq_take_mine(p, t)) {
            weft__stat_inc(&w->w_executed);
            return t->ti_fn(t->ti_arg);
        }
        /* Another worker runs t: help with the oldest queued work (as an
         * idle worker would) while the stack has room, else wait. Never the
         * newest: that is usually another worker's fresh spawn, whose wait
         * would nest yet another one (unbounded nesting: the bug that
         * overflowed an 8 MiB stack in nqueens on 2 workers). */
        struct weft__task_impl *x = weft__stack_room(w) ? weft__sq_take_oldest(w) : NULL;
        if (x != NULL) {
            weft__run_task(w, x);
            spins = 0;
        } else {
            weft__backoff(&spins);
        }
    }
}

/* t is not the newest private task of w (which spawned it). */
static int sync_wait(weft__worker *w, struct weft__task_impl *t)
{
    if (w->w_shared)
        return sync_shared(w, t);
    for (;;) {
        /* Acquire: pairs with the runner's release of DONE (ti_result). */
        if (atomic_load_explicit(&t->ti_state, memory_order_acquire) & WEFT__TS_DONE)
            return t->ti_result;
        struct weft__task_impl *x = weft__own_pop(w);
        if (x == NULL)
            break; /* t was stolen: every older task is gone too */
        if (x == t) {
            weft__stat_inc(&w->w_executed);
            /* Relaxed: t came off our own deque; only we wrote its state. */
            return t->ti_fn(
                weft__frame_arg(t, atomic_load_explicit(&t->ti_state, memory_order_relaxed)));
        }
        /* A newer task (a heap task, or an out-of-order sync): run it. */
#ifndef NDEBUG
        /* Relaxed: x came off our own deque; only we wrote its state. */
        if (!(atomic_load_explicit(&x->ti_state, memory_order_relaxed) & WEFT__TS_HEAP))
            weft__report_out_of_order(t, x);
#endif
        weft__run_task(w, x);
    }
    /* Leapfrog: until the thief is done with t, take work back from it
     * (the tasks t spawned), else from anyone. Never sleeps. */
    for (unsigned spins = 0;;) {
        /* Acquire: as above. */
        int32_t s = atomic_load_explicit(&t->ti_state, memory_order_acquire);
        if (s & WEFT__TS_DONE)
            return t->ti_result;
        int32_t id = s & WEFT__TS_THIEF_MASK;
        int thief = (id > 0 && id <= WEFT__MAX_WORKERS) ? id - 1 : -1;
        if (weft__help_once(w, thief, NULL))
            spins = 0;
        else
            weft__backoff(&spins);
    }
}

static __attribute__((noinline)) int sync_slow(weft__worker *w, struct weft__task_impl *t)
{
    if (w == NULL)
        return EINVAL; /* no thread but a worker can have spawned t */
#ifndef NDEBUG
    if (t->ti_owner != w)
        return EINVAL;
#endif
    return sync_wait(w, t);
}

/* Sync's rare path: a thief asked for work; publish, then run t. */
static __attribute__((noinline)) int sync_publish_run(weft__worker *w, struct weft__task_impl *t)
{
    weft__worker_publish(w);
    return t->ti_fn(t->ti_arg);
}

int weft_sync(weft_task *tp)
{
    if (WEFT__UNLIKELY(tp == NULL))
        return EINVAL;
    struct weft__task_impl *t = (struct weft__task_impl *)tp;
    weft__worker *w = weft__tls_worker;
    if (WEFT__LIKELY(w != NULL)) {
        weft__deque *dq = &w->w_dq;
        int64_t p = dq->dq_q.q_priv;
        /* Fast path: t is the newest private task; pop and run it inline. */
        if (WEFT__LIKELY(p != dq->dq_q.q_bot)
            && WEFT__LIKELY(atomic_load_explicit(&dq->dq_q.q_slots[(p - 1) & dq->dq_q.q_mask],
                                                 memory_order_relaxed)
                            == t)) { /* relaxed: a private slot, written by us */
            dq->dq_q.q_priv = p - 1;
            weft__stat_inc(&w->w_executed);
            if (WEFT__UNLIKELY(weft__deque_hungry(dq)))
                return sync_publish_run(w, t);
            return t->ti_fn(t->ti_arg);
        }
    }
    return sync_slow(w, t);
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
        atomic_store_explicit(&t->ti_state, WEFT__TS_DONE, memory_order_relaxed);
    }
    /* The index after t, or unchanged if t ran here (its sync then fails
     * the fast test, finds t DONE and takes the index from q_priv). */
    return q->q_priv;
}

int64_t weft__fj_sync_slow(struct weft__task_impl *t)
{
    /* Acquire: pairs with the runner's release of DONE (the frame's
     * result); a frame run in its spawn was marked by this thread. */
    if (!(atomic_load_explicit(&t->ti_state, memory_order_acquire) & WEFT__TS_DONE)) {
        /* Not done, so pushed by this thread, which is a worker. No
         * ti_owner check: typed pushes do not set it. */
        (void)sync_wait(weft__tls_worker, t);
    }
    /* The body's index from here on: where the deque's private part ends
     * now (0 off the workers). */
    return weft__tls_fjq->q_priv;
}

void weft__fj_publish(struct weft__fjq *q)
{
    weft__worker_publish(worker_of_fjq(q));
}

/* ---- groups ------------------------------------------------------------ */

static struct weft__group_impl *group_of(weft_group *g)
{
    return (struct weft__group_impl *)g;
}

int weft_group_init(weft_group *gp, weft_pool *p)
{
    if (gp == NULL)
        return EINVAL;
    if (p == NULL) {
        weft__worker *w = weft__tls_worker;
        if (w == NULL)
            return EINVAL;
        p = w->w_pool;
    }
    struct weft__group_impl *g = group_of(gp);
    g->g_pool = p;
    atomic_init(&g->g_pending, 0);
    atomic_init(&g->g_error, 0);
    atomic_init(&g->g_cancelled, 0);
    g->g_magic = WEFT__GROUP_MAGIC;
    return 0;
}

int weft_group_spawn(weft_group *gp, weft_task_fn fn, void *arg)
{
    if (gp == NULL || fn == NULL)
        return EINVAL;
    struct weft__group_impl *g = group_of(gp);
    if (g->g_magic != WEFT__GROUP_MAGIC || g->g_pool == NULL)
        return EINVAL;
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(g->g_pool, fn, arg, &ht);
    if (rc != 0)
        return rc;
    ht->ht_group = g;
    /* Relaxed: the task cannot finish (and decrement) before it is
     * enqueued below, which publishes this increment with the task. */
    atomic_fetch_add_explicit(&g->g_pending, 1, memory_order_relaxed);
    weft__heap_task_enqueue(g->g_pool, ht);
    return 0;
}

int weft_group_wait(weft_group *gp)
{
    if (gp == NULL)
        return EINVAL;
    struct weft__group_impl *g = group_of(gp);
    if (g->g_magic != WEFT__GROUP_MAGIC || g->g_pool == NULL)
        return EINVAL;
    weft__worker *w = weft__worker_of(g->g_pool);
    if (w != NULL) {
        /* A worker of the group's pool helps until the count is 0.
         * Acquire: pairs with each task's acq_rel decrement. */
        for (unsigned spins = 0;
             (atomic_load_explicit(&g->g_pending, memory_order_acquire) & WEFT__GROUP_COUNT) != 0;) {
            if (weft__help_once(w, -1, g))
                spins = 0;
            else
                weft__backoff(&spins);
        }
    } else {
        /* Outside (or a worker of another pool): block on the futex.
         * Acquire inside: as above. */
        weft__futex_wait_zero(&g->g_pending, WEFT__GROUP_COUNT, WEFT__GROUP_WAITER);
        /* Relaxed: every task is done; only we touch the word now. */
        atomic_fetch_and_explicit(&g->g_pending, WEFT__GROUP_COUNT, memory_order_relaxed);
    }
    /* Relaxed: ordered by the acquire of the final count above. */
    int r = atomic_load_explicit(&g->g_error, memory_order_relaxed);
    if (r == 0 && atomic_load_explicit(&g->g_cancelled, memory_order_relaxed))
        r = ECANCELED;
    /* Reuse: a waited group starts afresh (no error, not cancelled). */
    atomic_store_explicit(&g->g_error, 0, memory_order_relaxed);
    atomic_store_explicit(&g->g_cancelled, 0, memory_order_relaxed);
    return r;
}

void weft_group_cancel(weft_group *gp)
{
    if (gp == NULL)
        return;
    /* Relaxed: a flag tasks poll; no data hangs on it. */
    atomic_store_explicit(&group_of(gp)->g_cancelled, 1, memory_order_relaxed);
}

bool weft_group_cancelled(const weft_group *gp)
{
    if (gp == NULL)
        return false;
    /* Relaxed: as in weft_group_cancel. */
    return atomic_load_explicit(&group_of((weft_group *)gp)->g_cancelled, memory_order_relaxed)
           != 0;
}
