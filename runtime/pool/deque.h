/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/deque.h - the per-worker work-stealing deque (private).
 *
 * A split Chase-Lev deque: thieves steal the oldest task of the shared
 * part [top, bottom) with the Le et al. steal; the owner pushes and pops
 * the private part [bottom, priv) with plain stores (weft/bits/fjq.h, the
 * one definition of that fast path) and publishes the older half when a
 * thief asks; a thief whose request stays unanswered publishes the
 * private part itself (forced publication). Algorithm, memory orders,
 * growth and reclamation: docs/design/deque.md.
 *
 * Thread table ("O" = owner thread only, "A" = any thread):
 *   weft__deque_init/fini   O, no concurrent users
 *   weft__deque_push        O      weft__deque_pop_private  O
 *   weft__deque_take        O      weft__deque_publish_all  O
 *   weft__deque_make_room   O      weft__deque_serve        O
 *   weft__deque_publish     O
 *   weft__deque_hungry      O
 *   weft__deque_steal       A      weft__deque_has_shared   A
 *   weft__deque_ask         A      weft__deque_has_private  A
 *   weft__deque_force       A
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
     * owner's copy of dq_bottom), q_limit (a past value of dq_top plus
     * the capacity), q_mask, q_slots (the current ring's slots). */
    struct weft__fjq dq_q;
    struct weft__dq_buf *dq_retired; /* rings retired by growth, freed by fini */
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
 * not grow; nothing was pushed). The caller then checks weft__deque_hungry
 * (or publishes everything at once). */
static inline int weft__deque_push(weft__deque *dq, weft__task_impl *t)
{
    struct weft__fjq *q = &dq->dq_q;
    if (WEFT__UNLIKELY(!weft__fjq_try_push(q, weft__fjq_priv(q), t))) {
        int rc = weft__deque_make_room(dq);
        if (rc != 0)
            return rc;
        weft__fjq_try_push(q, weft__fjq_priv(q), t); /* has room now */
    }
    return 0;
}

/* Owner: pop the newest private task, or NULL when the private part is
 * empty (the shared part may still hold tasks: weft__deque_take). The
 * caller then checks weft__deque_hungry and, if set, passes the task to
 * weft__deque_serve before it runs it. */
static inline weft__task_impl *weft__deque_pop_private(weft__deque *dq)
{
    return weft__fjq_pop_newest(&dq->dq_q);
}

/* Owner, private part empty: pop the newest shared task (the Le et al.
 * take). NULL when the shared part is empty or a thief won the last one. */
weft__task_impl *weft__deque_take(weft__deque *dq);

/* Owner: publish the whole private part, which serves any request. Returns
 * true if it was not empty (else nothing changes). */
bool weft__deque_publish_all(weft__deque *dq);

/* Owner, after a push or pop found weft__deque_hungry: serve a thief's
 * request (publish the older half, rounded up, of the private part) and
 * catch up with a forced publication. popped: the task the caller just
 * popped, NULL after a push. Returns false if a forcing thief had
 * published popped and another thief then stole it: the caller must wait
 * for it as for any stolen task. *published: whether tasks were published
 * (the caller wakes a worker). */
bool weft__deque_serve(weft__deque *dq, weft__task_impl *popped, bool *published);

/* Owner: serve a request after a push (weft__deque_serve with no popped
 * task); true if something was published. */
static inline bool weft__deque_publish(weft__deque *dq)
{
    bool published;
    weft__deque_serve(dq, NULL, &published);
    return published;
}

/* Owner: true if a thief asked for work or forced a publication. */
static inline bool weft__deque_hungry(const weft__deque *dq)
{
    return weft__fjq_hungry(&dq->dq_q);
}

/* Any thread: take the oldest shared task (the Le et al. steal).
 * WEFT__STEAL_OK (and *out set), WEFT__STEAL_EMPTY (the hungry flag is then
 * set), WEFT__STEAL_ABORT (lost a race; retrying may succeed). */
int weft__deque_steal(weft__deque *dq, weft__task_impl **out);

/* Any thread: ask the owner for work (raise ASKED if the flag is clear). */
void weft__deque_ask(weft__deque *dq);

/* Any thread: publish the owner's private part on its behalf, when it did
 * not answer a request (docs/design/deque.md, "Forced publication").
 * Returns true if it published something; false also where the process has
 * no membarrier(2) (then only asking is possible) or when another thief
 * forces or the owner is moving bottom itself. Costs a membarrier. */
bool weft__deque_force(weft__deque *dq);

/* Any thread: true if the owner had private tasks: the parking re-check
 * after its heavy fence (docs/design/parking.md). */
bool weft__deque_has_private(const weft__deque *dq);

/* Any thread: true if the shared part looked non-empty. seq_cst loads: the
 * parking protocol's re-check (docs/design/parking.md). */
bool weft__deque_has_shared(weft__deque *dq);

/* Owner: number of tasks in the deque (private + shared), approximate for
 * the shared part. */
static inline int64_t weft__deque_size(const weft__deque *dq)
{
    /* Relaxed: an estimate for tests and heuristics. */
    return weft__fjq_priv(&dq->dq_q) - atomic_load_explicit(&dq->dq_top, memory_order_relaxed);
}

#endif /* WEFT_RUNTIME_POOL_DEQUE_H */
