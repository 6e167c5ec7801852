/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/inject.c - the injection queue of a STEALING pool: where
 * threads that are no workers of the pool submit (liburcu's wait-free
 * concurrent queue, wfcqueue: any thread enqueues; dequeuers exclude each
 * other with a try-lock, so a worker never waits for another to dequeue).
 */
#define _GNU_SOURCE
#include <stddef.h>

#include <urcu/wfcqueue.h>

#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#include "pool/sched.h"

static bool inj_trylock(weft_pool *p)
{
    /* Relaxed peek first, to keep the line shared while it is held. Acquire
     * exchange: pairs with the release in inj_unlock (the queue's head). */
    return atomic_load_explicit(&p->p_inj_lock, memory_order_relaxed) == 0
           && atomic_exchange_explicit(&p->p_inj_lock, 1, memory_order_acquire) == 0;
}

static void inj_unlock(weft_pool *p)
{
    /* Release: the next dequeuer sees our updates of the queue head. */
    atomic_store_explicit(&p->p_inj_lock, 0, memory_order_release);
}

bool weft__inj_nonempty(weft_pool *p)
{
    return !cds_wfcq_empty(&p->p_inj_head, &p->p_inj_tail);
}

void weft__inj_enqueue(weft_pool *p, struct weft__heap_task *ht)
{
#ifdef WEFT_TSAN
    __tsan_release(ht); /* pairs with __tsan_acquire in inj_node_task */
#endif
    /* Wait-free; its xchg is a full barrier on x86, and the caller's notify
     * fence orders it before the waiter check (docs/design/parking.md). */
    cds_wfcq_enqueue(&p->p_inj_head, &p->p_inj_tail, &ht->ht_node);
}

static struct weft__heap_task *inj_node_task(struct cds_wfcq_node *n)
{
    struct weft__heap_task *ht =
        (struct weft__heap_task *)((char *)n - offsetof(struct weft__heap_task, ht_node));
#ifdef WEFT_TSAN
    /* The queue lives in (uninstrumented) liburcu: tell TSan that the
     * enqueue happened before this dequeue. Pairs with __tsan_release. */
    __tsan_acquire(ht);
#endif
    return ht;
}

/* Dequeue one node, or NULL. The non-blocking variant: the blocking one
 * sleeps 10 ms (poll) when an enqueuer was preempted between its tail
 * exchange and its link store - on a loaded machine that stalls a worker.
 * WOULDBLOCK reads as "nothing now"; the queue stays non-empty, so the
 * caller does not park and comes back (park's re-check sees it). */
static struct cds_wfcq_node *inj_dequeue(weft_pool *p)
{
    struct cds_wfcq_node *n = __cds_wfcq_dequeue_nonblocking(&p->p_inj_head, &p->p_inj_tail);
    return n == CDS_WFCQ_WOULDBLOCK ? NULL : n;
}

unsigned weft__inj_take(weft_pool *p, struct weft__task_impl **out, unsigned max)
{
    if (!weft__inj_nonempty(p) || !inj_trylock(p))
        return 0;
    unsigned taken = 0;
    while (taken < max) {
        struct cds_wfcq_node *n = inj_dequeue(p);
        if (n == NULL)
            break;
        out[taken++] = &inj_node_task(n)->ht_task;
    }
    /* Stalled: not empty, yet nothing could be taken. Relaxed: a hint for
     * parkers (stealing_park_check), written only when it changes. */
    int stalled = taken == 0 && weft__inj_nonempty(p);
    if (atomic_load_explicit(&p->p_inj_stalled, memory_order_relaxed) != stalled)
        atomic_store_explicit(&p->p_inj_stalled, stalled, memory_order_relaxed);
    inj_unlock(p);
    return taken;
}

bool weft__inj_stalled(weft_pool *p)
{
    /* Relaxed: a hint (above). */
    return atomic_load_explicit(&p->p_inj_stalled, memory_order_relaxed) != 0;
}
