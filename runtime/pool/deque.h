/*
 * runtime/deque.h - the per-worker work-stealing deque (private).
 *
 * A Chase-Lev deque (Chase & Lev, "Dynamic circular work-stealing deque",
 * SPAA 2005) with the C11 memory orders of Le, Pop, Cohen & Zappa Nardelli
 * ("Correct and efficient work-stealing for weak memory models", PPoPP
 * 2013), whose `bottom` is published lazily - a split deque in the sense of
 * van Dijk & van de Pol ("Lace: non-blocking split deque for work-stealing",
 * Euro-Par 2014 workshops) and of Acar, Chargueraud & Rainey (PPoPP 2013).
 *
 *   index:   top            bottom              priv
 *            |  shared part   |   private part    |
 *            [ oldest ....... ) [ ........ newest )
 *
 *   - slots: one growable power-of-two ring of _Atomic(weft__task_impl *);
 *     indices are signed 64-bit and never wrap in practice.
 *   - [top, bottom) is the shared part: thieves take its oldest slot with
 *     the Le et al. steal (acquire top, seq_cst fence, acquire bottom, CAS
 *     top).
 *   - [bottom, priv) is the private part: only the owner sees it. A push
 *     writes slot[priv] (relaxed store) and increments priv - no shared
 *     write, no fence, no RMW. Popping a private slot is the same backwards.
 *   - When the private part is empty, the owner pops from the shared part
 *     with exactly the Le et al. take (relaxed store of bottom-1, seq_cst
 *     fence, load top, CAS top for the last element).
 *   - A thief that finds [top, bottom) empty sets the owner's `hungry` flag
 *     (only if it reads 0, to keep the line shared rather than ping-ponged).
 *     The owner polls it with a relaxed load on push/pop; when set, it
 *     publishes the older half of the private part by a release store of
 *     `bottom` - that store is the Le et al. push.
 *
 * Why: a textbook pop costs a seq_cst fence (4-6 ns on the target machine)
 * while a whole fib() call costs 0.67 ns; the split keeps the common
 * spawn/sync path fence-free. The price: a task becomes stealable only once
 * a thief asked for work (latency of one owner push/pop).
 *
 * Growth: when [top, priv) fills the ring, the owner copies it into a ring
 * twice as large, publishes that with a release store and retires the old
 * ring (see deque.c for how retired rings are reclaimed). Growth never
 * aborts: allocation failure returns ENOMEM and leaves the deque unchanged.
 *
 * Thread table ("O" = owner thread only, "A" = any registered thread):
 *   weft__deque_init/fini   O, no concurrent users
 *   weft__deque_push        O      weft__deque_pop_private  O
 *   weft__deque_take        O      weft__deque_publish      O
 *   weft__deque_steal       A (a thread registered with urcu-memb)
 *   weft__deque_has_shared  A
 */
#ifndef WEFT_RUNTIME_DEQUE_H
#define WEFT_RUNTIME_DEQUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/fj.h>

#define WEFT__CACHE_LINE 64
#define WEFT__LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT__UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef struct weft__task_impl weft__task_impl;
struct weft__dq_buf; /* a ring; defined in deque.c */

typedef struct weft__deque {
    /* Own line: thieves CAS it; the owner reads it and CASes it for the
     * last element only. */
    alignas(WEFT__CACHE_LINE) _Atomic int64_t dq_top;
    /* Own line: written by the owner only (publish/take), read by thieves. */
    alignas(WEFT__CACHE_LINE) _Atomic int64_t dq_bottom;
    _Atomic(struct weft__dq_buf *) dq_buf; /* owner writes on growth only */
    /* Two lines, laid out in <weft/fj.h> because the typed fork-join fast
     * paths inline them: q_hungry (thieves set it, the owner clears it),
     * then the owner-private state (plain fields, no other thread): q_priv
     * (next free index, >= q_bot), q_bot (the owner's copy of dq_bottom),
     * q_top_cache (a past value of dq_top, <= it), q_mask (ring capacity
     * - 1), q_slots (the current ring's slots). */
    struct weft__fjq dq_q;
    struct weft__dq_buf *dq_retired;           /* WEFT_TSAN: rings kept until fini */
    unsigned long dq_grown;                    /* growths so far (owner) */
} weft__deque;

/* Steal outcomes. */
enum { WEFT__STEAL_OK = 0, WEFT__STEAL_EMPTY = 1, WEFT__STEAL_ABORT = 2 };

/* Capacity is rounded up to a power of two (0: 1024, minimum 2).
 * Returns 0 or ENOMEM. */
int weft__deque_init(weft__deque *dq, size_t capacity);
/* Frees the rings; no thread may use dq any more. NULL-safe. */
void weft__deque_fini(weft__deque *dq);

/* Owner: grow if [top, priv) fills the ring. Returns 0 or ENOMEM. */
int weft__deque_make_room(weft__deque *dq);

/* Owner: push t into the private part. Returns 0, or ENOMEM (the ring could
 * not grow; nothing was pushed). */
static inline int weft__deque_push(weft__deque *dq, weft__task_impl *t)
{
    int64_t p = dq->dq_q.q_priv;
    if (WEFT__UNLIKELY(p - dq->dq_q.q_top_cache > dq->dq_q.q_mask)) {
        int rc = weft__deque_make_room(dq);
        if (rc != 0)
            return rc;
    }
    /* Relaxed: the slot is private until a release store of dq_bottom
     * (weft__deque_publish) makes it stealable; that store orders it. */
    atomic_store_explicit(&dq->dq_q.q_slots[p & dq->dq_q.q_mask], t, memory_order_relaxed);
    dq->dq_q.q_priv = p + 1;
    return 0;
}

/* Owner: the newest private task, or NULL when the private part is empty. */
static inline weft__task_impl *weft__deque_peek_private(const weft__deque *dq)
{
    int64_t p = dq->dq_q.q_priv;
    if (p == dq->dq_q.q_bot)
        return NULL;
    /* Relaxed: only the owner wrote this private slot. */
    return atomic_load_explicit(&dq->dq_q.q_slots[(p - 1) & dq->dq_q.q_mask], memory_order_relaxed);
}

/* Owner: pop the newest private task, or NULL when the private part is
 * empty (the shared part may still hold tasks: weft__deque_take). */
static inline weft__task_impl *weft__deque_pop_private(weft__deque *dq)
{
    weft__task_impl *t = weft__deque_peek_private(dq);
    if (t != NULL)
        dq->dq_q.q_priv--;
    return t;
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
    /* Relaxed: a hint; a missed request is repeated by the thief. */
    return atomic_load_explicit(&dq->dq_q.q_hungry, memory_order_relaxed) != 0;
}

/* Any thread: take the oldest shared task (the Le et al. steal).
 * WEFT__STEAL_OK (and *out set), WEFT__STEAL_EMPTY (the hungry flag is then
 * set), WEFT__STEAL_ABORT (lost a race; retrying may succeed). The caller
 * must be registered with urcu-memb. */
int weft__deque_steal(weft__deque *dq, weft__task_impl **out);

/* Any thread: true if the shared part looked non-empty. seq_cst loads: used
 * by the parking protocol's re-check (see park.h). */
bool weft__deque_has_shared(weft__deque *dq);

/* Owner: number of tasks in the deque (private + shared), approximate for
 * the shared part. */
static inline int64_t weft__deque_size(const weft__deque *dq)
{
    /* Relaxed: an estimate for tests and heuristics. */
    return dq->dq_q.q_priv - atomic_load_explicit(&dq->dq_top, memory_order_relaxed);
}

#endif /* WEFT_RUNTIME_DEQUE_H */
