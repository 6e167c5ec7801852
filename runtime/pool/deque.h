/*
 * runtime/pool/deque.h - the per-worker work-stealing deque (private).
 *
 * A split Chase-Lev deque: thieves steal the oldest task of the shared
 * part [top, bottom) with the Le et al. steal; the owner pushes and pops
 * the private part [bottom, priv) with plain stores (weft/bits/fjq.h, the
 * one definition of that fast path) and publishes the older half when a
 * thief raises `hungry`. Algorithm, memory orders, growth and reclamation:
 * docs/design/deque.md.
 *
 * Thread table ("O" = owner thread only, "A" = any thread registered with
 * urcu-memb):
 *   weft__deque_init/fini   O, no concurrent users
 *   weft__deque_push        O      weft__deque_pop_private  O
 *   weft__deque_take        O      weft__deque_publish(_all) O
 *   weft__deque_make_room   O      weft__deque_hungry       O
 *   weft__deque_steal       A      weft__deque_has_shared   A
 */
#ifndef WEFT_RUNTIME_POOL_DEQUE_H
#define WEFT_RUNTIME_POOL_DEQUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/bits/fjq.h>

#include "base/cpu.h"

typedef struct weft__task_impl weft__task_impl;
struct weft__dq_buf; /* a ring; defined in deque.c */

typedef struct weft__deque {
    /* Thieves CAS it; the owner reads it, and CASes it for the last
     * element only. Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic int64_t dq_top;
    /* Written by the owner only (publish, take), read by thieves. Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic int64_t dq_bottom;
    _Atomic(struct weft__dq_buf *) dq_buf; /* the owner writes it on growth only */
    /* Two lines laid out in weft/bits/fjq.h: q_hungry (thieves set it, the
     * owner clears it), then the owner-private state: q_priv, q_bot (the
     * owner's copy of dq_bottom), q_top_cache (a past value of dq_top),
     * q_mask, q_slots (the current ring's slots). */
    struct weft__fjq dq_q;
    struct weft__dq_buf *dq_retired; /* WEFT_TSAN: rings kept until fini */
    unsigned long dq_grown;          /* growths so far (owner) */
} weft__deque;

/* Steal outcomes. */
enum { WEFT__STEAL_OK = 0, WEFT__STEAL_EMPTY = 1, WEFT__STEAL_ABORT = 2 };

/* Capacity is rounded up to a power of two (0: 1024, minimum 2).
 * Returns 0 or ENOMEM. */
int weft__deque_init(weft__deque *dq, size_t capacity);
/* Frees the rings; no thread may use dq any more. NULL-safe. */
void weft__deque_fini(weft__deque *dq);

/* Owner: grow if [top, priv) fills the ring. Returns 0 or ENOMEM (nothing
 * changed). */
int weft__deque_make_room(weft__deque *dq);

/* Owner: push t into the private part. Returns 0, or ENOMEM (the ring could
 * not grow; nothing was pushed). */
static inline int weft__deque_push(weft__deque *dq, weft__task_impl *t)
{
    if (WEFT__UNLIKELY(!weft__fjq_try_push(&dq->dq_q, dq->dq_q.q_priv, t))) {
        int rc = weft__deque_make_room(dq);
        if (rc != 0)
            return rc;
        weft__fjq_try_push(&dq->dq_q, dq->dq_q.q_priv, t); /* has room now */
    }
    return 0;
}

/* Owner: pop the newest private task, or NULL when the private part is
 * empty (the shared part may still hold tasks: weft__deque_take). */
static inline weft__task_impl *weft__deque_pop_private(weft__deque *dq)
{
    return weft__fjq_pop_newest(&dq->dq_q);
}

/* Owner, private part empty: pop the newest shared task (the Le et al.
 * take). NULL when the shared part is empty or a thief won the last one. */
weft__task_impl *weft__deque_take(weft__deque *dq);

/* Owner: publish the older half (rounded up) of the private part and clear
 * the hungry flag. Returns true if something was published. */
bool weft__deque_publish(weft__deque *dq);

/* Owner: publish the whole private part and clear the hungry flag. Returns
 * true if it was not empty (else nothing changes). */
bool weft__deque_publish_all(weft__deque *dq);

/* Owner: true if a thief asked for work. */
static inline bool weft__deque_hungry(const weft__deque *dq)
{
    return weft__fjq_hungry(&dq->dq_q);
}

/* Any thread: take the oldest shared task (the Le et al. steal).
 * WEFT__STEAL_OK (and *out set), WEFT__STEAL_EMPTY (the hungry flag is then
 * set), WEFT__STEAL_ABORT (lost a race; retrying may succeed). The caller
 * must be registered with urcu-memb. */
int weft__deque_steal(weft__deque *dq, weft__task_impl **out);

/* Any thread: true if the shared part looked non-empty. seq_cst loads: the
 * parking protocol's re-check (docs/design/parking.md). */
bool weft__deque_has_shared(weft__deque *dq);

/* Owner: number of tasks in the deque (private + shared), approximate for
 * the shared part. */
static inline int64_t weft__deque_size(const weft__deque *dq)
{
    /* Relaxed: an estimate for tests and heuristics. */
    return dq->dq_q.q_priv - atomic_load_explicit(&dq->dq_top, memory_order_relaxed);
}

#endif /* WEFT_RUNTIME_POOL_DEQUE_H */
