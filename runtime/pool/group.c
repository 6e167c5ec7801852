/* SPDX-License-Identifier: MIT */
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
    if ((p = weft__pool_or_current(p)) == NULL)
        return EINVAL;
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

int weft__wait_zero(weft_pool *p, _Atomic uint32_t *word, uint32_t count_mask,
                    uint32_t waiter_bit, const struct weft__group_impl *g,
                    const struct weft__timeout *to)
{
    /* Acquire: pairs with each party's release decrement. */
    if ((atomic_load_explicit(word, memory_order_acquire) & count_mask) == 0)
        return 0;
    if (to->to_ns == WEFT_NO_WAIT)
        return EAGAIN;
    uint64_t t0 = weft__trace_group_begin(p); /* 0 unless traced */
    int rc = 0;
    weft__worker *w = weft__worker_of(p);
    if (w != NULL) {
        /* A worker of the pool helps until the count is 0, or until it
         * finds nothing to help with (another worker runs the last tasks,
         * or they are out of this stack's reach): then it blocks below,
         * and a spare helps in its place. Acquire: as above. */
        const struct weft__sched *s = p->p_sched;
        unsigned prev = weft__tstate_set(w, WEFT__ST_SEARCH); /* a wait that helps */
        for (unsigned spins = 0;
             (atomic_load_explicit(word, memory_order_acquire) & count_mask) != 0
             && spins < WEFT__SPINS_BEFORE_BLOCK;) {
            if (weft__timeout_passed(to)) {
                rc = ETIMEDOUT;
                break;
            }
            if (s->s_help(w, -1, g))
                spins = 0;
            else
                weft__backoff(&spins);
        }
        weft__tstate_set(w, prev);
    }
    /* Acquire: as above. */
    if (rc == 0 && (atomic_load_explicit(word, memory_order_acquire) & count_mask) != 0) {
        /* Block on the futex (outside, on a worker of another pool, or a
         * worker that found nothing to help with). Acquire inside. */
        weft_blocking_begin();
        rc = weft__futex_wait_zero_until(word, count_mask, waiter_bit, weft__timeout_abs(to));
        weft_blocking_end();
    }
    /* A future's wait (g NULL) is named by its word. */
    weft__trace_group_end(p, t0, g != NULL ? (const void *)g : (const void *)word);
    return rc;
}

/* A group wait with a timeout: 0 with *result set as weft_group_wait
 * returns it for a finished round; EINVAL, EPIPE (fork), EAGAIN,
 * ETIMEDOUT. */
static int group_wait(weft_group *gp, int64_t timeout_ns, int *result)
{
    if (gp == NULL || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    struct weft__group_impl *g = group_of(gp);
    if (g->g_magic != WEFT__GROUP_MAGIC || g->g_pool == NULL)
        return EINVAL;
    /* Relaxed: the count changes only in a child's atfork handler, before
     * any other thread exists there. In a child of fork() the tasks of a
     * group initialised before the fork will never run. */
    if (g->g_forks != atomic_load_explicit(&weft__forks, memory_order_relaxed))
        return EPIPE;
    if (g == weft__tls_group)
        return EPERM; /* from a task of g: the count cannot reach 0 while it waits */
    struct weft__timeout to;
    weft__timeout_start(&to, timeout_ns);
    int rc = weft__wait_zero(g->g_pool, &g->g_pending, WEFT__GROUP_COUNT, WEFT__GROUP_WAITER, g,
                             &to);
    if (rc != 0)
        return rc; /* the round goes on; a later wait sees it end */
    /* Relaxed: every task is done and only the waiter touches the word now;
     * clears the waiter bit a blocking wait may have set. */
    atomic_fetch_and_explicit(&g->g_pending, WEFT__GROUP_COUNT, memory_order_relaxed);
    /* Relaxed: ordered by the acquire of the final count in
     * weft__wait_zero. */
    int r = atomic_load_explicit(&g->g_error, memory_order_relaxed);
    /* Relaxed: the flags are hints; a cancel racing with the end of the
     * wait may or may not turn 0 into ECANCELED. The WAITED bit makes the
     * next spawn start a new round (weft_group_spawn); until then
     * weft_group_cancelled stays as it is. */
    uint32_t st = atomic_fetch_or_explicit(&g->g_state, WEFT__GROUP_WAITED, memory_order_relaxed);
    if (r == 0 && (st & WEFT__GROUP_CANCELLED))
        r = ECANCELED;
    *result = r;
    return 0;
}

int weft_group_wait(weft_group *gp)
{
    /* Compatibility: weft's status and the group's result share the int. */
    int r = 0;
    int rc = group_wait(gp, WEFT_FOREVER, &r);
    return rc != 0 ? rc : r;
}

int weft_group_try_wait(weft_group *gp, int64_t timeout_ns, int *result)
{
    if (result == NULL)
        return EINVAL;
    return group_wait(gp, timeout_ns, result);
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
