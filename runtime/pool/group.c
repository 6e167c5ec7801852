/*
 * runtime/pool/group.c - task groups: any number of heap tasks, one wait,
 * the first error, cancellation. A worker of the group's pool helps while
 * it waits (sched.h's s_help); any other thread sleeps on g_pending.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <limits.h>

#include "base/futex.h"
#include "pool/sched.h"

static_assert(sizeof(struct weft__group_impl) <= sizeof(weft_group),
              "weft_group storage too small for weft__group_impl");
static_assert(_Alignof(struct weft__group_impl) <= _Alignof(weft_group),
              "weft_group storage under-aligned");

static struct weft__group_impl *group_of(weft_group *g)
{
    return (struct weft__group_impl *)g;
}

/* The first spawn after a wait returned starts a new round: no error, not
 * cancelled. The error is reset first, while no task of the new round can
 * run; then one RMW clears the flags, so a cancel is either part of the old
 * round (cleared) or of the new one (kept), never lost half-way. */
static void group_reuse(struct weft__group_impl *g)
{
    /* Relaxed: a hint; the CAS below decides. */
    uint32_t st = atomic_load_explicit(&g->g_state, memory_order_relaxed);
    if (!(st & WEFT__GROUP_WAITED))
        return;
    /* Relaxed: published to the new round's tasks by their enqueue. */
    atomic_store_explicit(&g->g_error, 0, memory_order_relaxed);
    while ((st & WEFT__GROUP_WAITED)
           && !atomic_compare_exchange_weak_explicit(&g->g_state, &st, 0, memory_order_relaxed,
                                                     memory_order_relaxed))
        ;
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
    atomic_init(&g->g_state, 0);
    g->g_magic = WEFT__GROUP_MAGIC;
    /* Relaxed: see weft_group_wait. */
    g->g_forks = atomic_load_explicit(&weft__forks, memory_order_relaxed);
    return 0;
}

int weft_group_spawn(weft_group *gp, weft_task_fn fn, void *arg)
{
    if (gp == NULL || fn == NULL)
        return EINVAL;
    struct weft__group_impl *g = group_of(gp);
    if (g->g_magic != WEFT__GROUP_MAGIC || g->g_pool == NULL)
        return EINVAL;
    group_reuse(g);
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(g->g_pool, fn, arg, &ht);
    if (rc != 0)
        return rc;
    ht->ht_group = g;
    /* Relaxed: the task cannot finish (and decrement) before it is
     * enqueued below, which publishes this increment with the task. */
    atomic_fetch_add_explicit(&g->g_pending, 1, memory_order_relaxed);
    return weft__heap_task_enqueue(g->g_pool, ht);
}

void weft__group_leave(struct weft__group_impl *g)
{
    /* acq_rel: releases this task's effects to the waiter (which acquires
     * g_pending); after it g may be gone (only the futex syscall, which
     * touches no user memory, uses its address). */
    uint32_t old = atomic_fetch_sub_explicit(&g->g_pending, 1, memory_order_acq_rel);
    if ((old & WEFT__GROUP_COUNT) == 1 && (old & WEFT__GROUP_WAITER))
        weft__futex_wake(&g->g_pending, INT_MAX);
}

int weft_group_wait(weft_group *gp)
{
    if (gp == NULL)
        return EINVAL;
    struct weft__group_impl *g = group_of(gp);
    if (g->g_magic != WEFT__GROUP_MAGIC || g->g_pool == NULL)
        return EINVAL;
    /* Relaxed: the count changes only in a child's atfork handler, before
     * any other thread exists there. In a child of fork() the tasks of a
     * group initialised before the fork will never run. */
    if (g->g_forks != atomic_load_explicit(&weft__forks, memory_order_relaxed))
        return EPIPE;
    uint64_t t0 = weft__trace_group_begin(g->g_pool); /* 0 unless traced */
    weft__worker *w = weft__worker_of(g->g_pool);
    if (w != NULL) {
        /* A worker of the group's pool helps until the count is 0, or
         * until it finds nothing to help with (another worker runs the
         * last tasks, or they are out of this stack's reach): then it
         * blocks below, and a spare helps in its place. Acquire: pairs
         * with each task's acq_rel decrement. */
        const struct weft__sched *s = g->g_pool->p_sched;
        unsigned prev = weft__tstate_set(w, WEFT__ST_SEARCH); /* a wait that helps */
        for (unsigned spins = 0;
             (atomic_load_explicit(&g->g_pending, memory_order_acquire) & WEFT__GROUP_COUNT) != 0
             && spins < WEFT__SPINS_BEFORE_BLOCK;) {
            if (s->s_help(w, -1, g))
                spins = 0;
            else
                weft__backoff(&spins);
        }
        weft__tstate_set(w, prev);
    }
    /* Acquire: as above. */
    if ((atomic_load_explicit(&g->g_pending, memory_order_acquire) & WEFT__GROUP_COUNT) != 0) {
        /* Block on the futex (outside, on a worker of another pool, or a
         * worker that found nothing to help with). Acquire inside. */
        weft_blocking_begin();
        weft__futex_wait_zero(&g->g_pending, WEFT__GROUP_COUNT, WEFT__GROUP_WAITER);
        weft_blocking_end();
        /* Relaxed: every task is done; only we touch the word now. */
        atomic_fetch_and_explicit(&g->g_pending, WEFT__GROUP_COUNT, memory_order_relaxed);
    }
    weft__trace_group_end(g->g_pool, t0, g);
    /* Relaxed: ordered by the acquire of the final count above. */
    int r = atomic_load_explicit(&g->g_error, memory_order_relaxed);
    /* Relaxed: the flags are hints; a cancel racing with the end of the
     * wait may or may not turn 0 into ECANCELED. The WAITED bit makes the
     * next spawn start a new round (weft_group_spawn); until then
     * weft_group_cancelled stays as it is. */
    uint32_t st = atomic_fetch_or_explicit(&g->g_state, WEFT__GROUP_WAITED, memory_order_relaxed);
    if (r == 0 && (st & WEFT__GROUP_CANCELLED))
        r = ECANCELED;
    return r;
}

void weft_group_cancel(weft_group *gp)
{
    if (gp == NULL)
        return;
    /* Relaxed RMW: a flag tasks poll; no data hangs on it. An RMW, so that
     * it cannot be lost to the reset of a reused group (group_reuse). */
    atomic_fetch_or_explicit(&group_of(gp)->g_state, WEFT__GROUP_CANCELLED, memory_order_relaxed);
}

bool weft_group_cancelled(const weft_group *gp)
{
    if (gp == NULL)
        return false;
    /* Relaxed: as in weft_group_cancel. */
    return (atomic_load_explicit(&group_of((weft_group *)gp)->g_state, memory_order_relaxed)
            & WEFT__GROUP_CANCELLED)
           != 0;
}
