/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/shared.c - the SHARED scheduler (sched.h's interface): every
 * task, spawns included, goes through one FIFO ring under one mutex, as a
 * classic thread pool does; the point of comparison for work stealing.
 *
 * A sync takes its own task back if it is still queued; otherwise it helps
 * with the oldest queued task (never the newest: that is usually another
 * worker's fresh spawn, whose wait would nest another one without bound)
 * while the stack has room. A group wait looks for its group's tasks first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "base/alloc.h"
#include "pool/sched.h"

#define WEFT__SQ_INITIAL 256

/* The queue lock, timed while the pool traces (trace.h: weft__trace_lock):
 * when the thread asked for it and when it got it. One operation in
 * WEFT__LOCK_SAMPLE is timed, which keeps three clock reads off the rest. */
#define WEFT__LOCK_SAMPLE 16
struct sq_held {
    uint64_t h_ask, h_got;
};

static _Thread_local unsigned sq_sample; /* this thread's operations, traced or not */

static void sq_lock(struct weft__sharedq *q, struct sq_held *h)
{
    weft_pool *p = (weft_pool *)(void *)((char *)q - offsetof(weft_pool, p_sq));
    h->h_ask = WEFT__UNLIKELY(WEFT__TRACE_FLAGS(p) != 0) && ++sq_sample % WEFT__LOCK_SAMPLE == 0
                   ? weft__trace_now()
                   : 0;
    pthread_mutex_lock(&q->sq_lock);
    if (h->h_ask != 0)
        h->h_got = weft__trace_now();
}

static void sq_unlock(struct weft__sharedq *q, const struct sq_held *h)
{
    uint64_t rel = h->h_ask != 0 ? weft__trace_now() : 0;
    pthread_mutex_unlock(&q->sq_lock);
    if (rel != 0)
        weft__trace_lock(h->h_ask, h->h_got, rel);
}

int weft__sq_init(struct weft__sharedq *q)
{
    pthread_mutex_init(&q->sq_lock, NULL);
    q->sq_cap = WEFT__SQ_INITIAL;
    q->sq_head = 0;
    atomic_init(&q->sq_count, 0);
    q->sq_ring = weft__malloc(q->sq_cap * sizeof(*q->sq_ring));
    return q->sq_ring == NULL ? ENOMEM : 0;
}

void weft__sq_fini(struct weft__sharedq *q, bool forked)
{
    weft__free(q->sq_ring);
    if (!forked) /* a child of fork may find it locked by a thread that is gone */
        pthread_mutex_destroy(&q->sq_lock);
}

/* Push t at the tail: 0 or ENOMEM (the ring could not grow); the caller
 * notifies. */
static int sq_push(struct weft__sharedq *q, struct weft__task_impl *t)
{
    struct sq_held held;
    sq_lock(q, &held);
    /* Relaxed: written only under sq_lock, which we hold. */
    size_t n = atomic_load_explicit(&q->sq_count, memory_order_relaxed);
    if (n == q->sq_cap) {
        size_t ncap = q->sq_cap * 2;
        struct weft__task_impl **nr = weft__malloc(ncap * sizeof(*nr));
        if (nr == NULL) {
            sq_unlock(q, &held);
            return ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            nr[i] = q->sq_ring[(q->sq_head + i) & (q->sq_cap - 1)];
        weft__free(q->sq_ring);
        q->sq_ring = nr;
        q->sq_cap = ncap;
        q->sq_head = 0;
    }
    q->sq_ring[(q->sq_head + n) & (q->sq_cap - 1)] = t;
    /* seq_cst store (under the lock): read without the lock by the parking
     * re-check; the caller's notify supplies the notifier's fence. */
    atomic_store_explicit(&q->sq_count, n + 1, memory_order_seq_cst);
    sq_unlock(q, &held);
    return 0;
}

/* Remove slot i (0: the oldest) of the n queued tasks; sq_lock held. */
static void sq_remove_at(struct weft__sharedq *q, size_t i, size_t n)
{
    size_t mask = q->sq_cap - 1;
    for (size_t j = i; j + 1 < n; j++)
        q->sq_ring[(q->sq_head + j) & mask] = q->sq_ring[(q->sq_head + j + 1) & mask];
    /* Relaxed: under sq_lock (see sq_count). */
    atomic_store_explicit(&q->sq_count, n - 1, memory_order_relaxed);
}

/* Worker w removes the oldest task, or NULL; a strict frame is marked as
 * taken by w (its ti_state) under the queue lock. Counted in w's
 * `injected` statistic. */
static struct weft__task_impl *sq_take_oldest(weft__worker *w)
{
    struct sq_held held;
    struct weft__sharedq *q = &w->w_pool->p_sq;
    /* Relaxed: a lock-free peek to skip the lock when empty; the value is
     * re-read under the lock. */
    if (atomic_load_explicit(&q->sq_count, memory_order_relaxed) == 0)
        return NULL;
    struct weft__task_impl *t = NULL;
    sq_lock(q, &held);
    size_t n = atomic_load_explicit(&q->sq_count, memory_order_relaxed);
    if (n > 0) {
        t = q->sq_ring[q->sq_head];
        q->sq_head = (q->sq_head + 1) & (q->sq_cap - 1);
        atomic_store_explicit(&q->sq_count, n - 1, memory_order_relaxed);
        /* Relaxed, under sq_lock: tells the spawner's sync (which reads it
         * under the lock too, or as a hint without) that t is no longer
         * queued. Heap tasks keep their HEAP state. */
        if (!(weft__atomic_load(&t->ti_state, memory_order_relaxed) & WEFT__TS_HEAP))
            weft__atomic_store(&t->ti_state, (int32_t)w->w_index + 1, memory_order_relaxed);
    }
    sq_unlock(q, &held);
    if (t != NULL)
        weft__stat_inc(&w->w_injected);
    return t;
}

/* Worker w removes the newest queued task of group g, looking at the
 * newest `window` tasks only (SIZE_MAX: all), or NULL. Counted as above. */
static struct weft__task_impl *sq_take_group(weft__worker *w, const struct weft__group_impl *g,
                                             size_t window)
{
    struct sq_held held;
    struct weft__sharedq *q = &w->w_pool->p_sq;
    /* Relaxed: a peek, re-read under the lock. */
    if (atomic_load_explicit(&q->sq_count, memory_order_relaxed) == 0)
        return NULL;
    struct weft__task_impl *x = NULL;
    sq_lock(q, &held);
    size_t n = atomic_load_explicit(&q->sq_count, memory_order_relaxed);
    size_t mask = q->sq_cap - 1;
    for (size_t i = n, seen = 0; i-- > 0 && seen < window; seen++) {
        struct weft__task_impl *t = q->sq_ring[(q->sq_head + i) & mask];
        /* Relaxed: the HEAP state was set before the task was queued. */
        if ((weft__atomic_load(&t->ti_state, memory_order_relaxed) & WEFT__TS_HEAP) &&
            ((struct weft__heap_task *)t)->ht_group == g) {
            sq_remove_at(q, i, n);
            x = t;
            break;
        }
    }
    sq_unlock(q, &held);
    if (x != NULL)
        weft__stat_inc(&w->w_injected);
    return x;
}

/* Remove t if it is still queued (its spawner syncs it): 1 if it did, 0
 * if a taker has it, -1 if it is neither queued nor taken (a frame synced
 * before, never spawned, or another thread's: misuse). */
static int sq_take_mine(struct weft__sharedq *q, struct weft__task_impl *want)
{
    struct sq_held held;
    int found = 0;
    sq_lock(q, &held);
    /* Relaxed, under sq_lock: every taker marks the frame under it. */
    if (weft__atomic_load(&want->ti_state, memory_order_relaxed) == WEFT__TS_SPAWNED) {
        size_t n = atomic_load_explicit(&q->sq_count, memory_order_relaxed);
        size_t mask = q->sq_cap - 1;
        found = -1;
        /* Scan from the newest end: the caller syncs in LIFO order, so its
         * task is the newest but for other workers' later pushes. */
        for (size_t i = n; i-- > 0;) {
            if (q->sq_ring[(q->sq_head + i) & mask] == want) {
                sq_remove_at(q, i, n);
                found = 1;
                break;
            }
        }
    }
    sq_unlock(q, &held);
    return found;
}

/* ---- the interface -------------------------------------------------------- */

static int shared_spawn(weft__worker *w, struct weft__task_impl *t)
{
    int rc = sq_push(&w->w_pool->p_sq, t);
    if (rc == 0) {
        weft__stat_inc(&w->w_spawned);
        weft__pool_notify(w->w_pool);
    }
    return rc;
}

/* shared_sync's loop; *prev: the state before its first wait for another
 * worker (WEFT__ST_N until then). */
static int shared_sync_loop(weft__worker *w, struct weft__task_impl *t, unsigned *prev)
{
    for (unsigned spins = 0;;) {
        /* Acquire: pairs with the runner's release of DONE (ti_result). */
        int32_t s = weft__atomic_load(&t->ti_state, memory_order_acquire);
        if (s & WEFT__TS_DONE)
            return weft__frame_result(t, s);
        /* Still queued (the taker's mark says otherwise): take it back by
         * identity and run it here, as the fast path would. */
        if (s == WEFT__TS_SPAWNED) {
            int mine = sq_take_mine(&w->w_pool->p_sq, t);
            if (mine < 0)
                return EINVAL;
            if (mine > 0) {
                if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
                    return weft__trace_dag_inline(w, t); /* trace.h */
                weft__stat_inc(&w->w_executed);
                return t->ti_fn(t->ti_arg);
            }
            continue; /* taken meanwhile: marked now */
        }
        /* Another worker runs t: help with the oldest queued work while the
         * stack has room (file comment); when there is none for a while,
         * sleep until t is done. Counted as searching. */
        if (*prev == WEFT__ST_N)
            *prev = weft__tstate_set(w, WEFT__ST_SEARCH);
        struct weft__task_impl *x = weft__stack_room(w) ? sq_take_oldest(w) : NULL;
        if (x != NULL) {
            weft__run_task(w, x);
            spins = 0;
        } else if (spins >= WEFT__SPINS_BEFORE_BLOCK) {
            return weft__frame_wait(w, t);
        } else {
            weft__backoff(&spins);
        }
    }
}

static int shared_sync(weft__worker *w, struct weft__task_impl *t)
{
    unsigned prev = WEFT__ST_N;
    int r = shared_sync_loop(w, t, &prev);
    if (prev != WEFT__ST_N)
        weft__tstate_set(w, prev);
    return r;
}

static int shared_enqueue(weft_pool *p, weft__worker *w, struct weft__heap_task *ht,
                          bool *woke)
{
    *woke = false;
    int rc = sq_push(&p->p_sq, &ht->ht_task); /* ENOMEM: the ring could not grow */
    if (rc == 0 && w != NULL)
        weft__stat_inc(&w->w_spawned); /* as STEALING counts a worker's push */
    return rc;
}

static bool shared_help(weft__worker *w, int prefer, const struct weft__group_impl *g)
{
    (void)prefer;
    /* The awaited group's own tasks first (like taking one's own task back:
     * they nest no deeper than the task tree). With stack room: a short
     * look, then the oldest task, like an idle worker. Without: a full look
     * - the group's tasks must not starve. */
    bool room = weft__stack_room(w);
    struct weft__task_impl *x = g != NULL ? sq_take_group(w, g, room ? 64 : SIZE_MAX) : NULL;
    if (x == NULL && room)
        x = sq_take_oldest(w);
    if (x == NULL)
        return false;
    weft__run_task(w, x);
    return true;
}

static bool shared_work_visible(weft_pool *p)
{
    /* seq_cst: the parker's re-check (docs/design/parking.md). */
    return atomic_load_explicit(&p->p_sq.sq_count, memory_order_seq_cst) != 0;
}

static int shared_park_check(weft__worker *w)
{
    return shared_work_visible(w->w_pool) ? WEFT__PARK_NOT : WEFT__PARK_SLEEP;
}

const struct weft__sched weft__sched_shared = {
    .s_spawn = shared_spawn,
    .s_sync = shared_sync,
    .s_enqueue = shared_enqueue,
    .s_find = sq_take_oldest,
    .s_help = shared_help,
    .s_work_visible = shared_work_visible,
    .s_park_check = shared_park_check,
};
