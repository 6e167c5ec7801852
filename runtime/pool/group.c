/*
 * runtime/pool/group.c - task groups: any number of heap tasks, one wait,
 * the first error, cancellation. A worker of the group's pool helps while
 * it waits (sched.h's s_help); any other thread sleeps on g_pending.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>

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
        const struct weft__sched *s = g->g_pool->p_sched;
        for (unsigned spins = 0;
             (atomic_load_explicit(&g->g_pending, memory_order_acquire) & WEFT__GROUP_COUNT) != 0;) {
            if (s->s_help(w, -1, g))
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
