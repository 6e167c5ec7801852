/*
 * weft/bits/fjq.h - private: the owner's side of a worker's split deque.
 *
 * Not an API: included by <weft/fj.h>, whose typed fast paths inline it,
 * and by the runtime, whose weft_spawn/weft_sync and deque inline the same
 * functions. The algorithm is written here once (as liburcu writes
 * _cds_wfcq_enqueue once in urcu/static/wfcqueue.h); the deque, its memory
 * orders and the thieves' side are described in the runtime's
 * docs/design/deque.md. Everything here may change between versions.
 */
#ifndef WEFT_BITS_FJQ_H
#define WEFT_BITS_FJQ_H

#ifndef __cplusplus

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/export.h>
#include <weft/task.h>

/* ---- task frames -------------------------------------------------------- */

/* ti_state values. 0: spawned, nobody took it. 1..4096: stolen by worker
 * (state - 1), running. DONE: finished, ti_result valid. HEAP: a heap task
 * (submit, group, call); nobody waits on its state. SELF_ARG (with 0 or a
 * thief): a typed frame pushed by the fast path, whose ti_fn takes the
 * frame itself (ti_arg is not set); dropped with DONE. */
#define WEFT__TS_SPAWNED     0
#define WEFT__TS_THIEF_MASK  0x1fff /* the thief bits of a stolen frame's state */
#define WEFT__TS_SELF_ARG    (1 << 28)
#define WEFT__TS_HEAP        (1 << 29)
#define WEFT__TS_DONE        (1 << 30)

/* A task frame's header: the runtime's view of weft_task, the first member
 * of every typed frame and of every heap task. ti_state is written by the
 * spawner (relaxed: published with the frame), by a thief (relaxed: a hint
 * for leapfrogging) and by the runner (DONE, release: publishes ti_result
 * to the syncing owner's acquire load). */
struct weft__task_impl {
    weft_task_fn ti_fn;
    void *ti_arg;
    _Atomic int32_t ti_state;
    int32_t ti_result;
    struct weft__worker *ti_owner; /* debug builds of weft_spawn only */
};

/* ---- the owner's deque line --------------------------------------------- */

/* The flag thieves raise to ask for work (own cache line), then the
 * owner-private split-deque state (own line): the private part is the ring
 * indices [q_bot, q_priv); thieves steal from [top, q_bot), which the owner
 * publishes when asked. The runtime's deque embeds this struct. */
struct weft__fjq {
    alignas(64) _Atomic uint32_t q_hungry;
    alignas(64) int64_t q_priv; /* next free index (the top of the private part) */
    int64_t q_bot;              /* private part: [q_bot, q_priv) */
    int64_t q_top_cache;        /* a past value of the shared top index */
    int64_t q_mask;             /* ring capacity - 1; -1: every push is slow */
    _Atomic(struct weft__task_impl *) *q_slots;
};

/* The calling worker's queue; on a thread that is no worker of a STEALING
 * pool, &weft__fjq_none, whose q_mask -1 makes every fast path fail (and
 * which is never written). Tasks do not move between threads, so a body
 * finds the same queue at each of its spawns and syncs. */
#ifdef WEFT_STATIC_EXE
#define WEFT__FJ_TLS_MODEL "local-exec"
#else
#define WEFT__FJ_TLS_MODEL "initial-exec"
#endif
WEFT_API extern _Thread_local struct weft__fjq *weft__tls_fjq
    __attribute__((tls_model(WEFT__FJ_TLS_MODEL)));
WEFT_API extern const struct weft__fjq weft__fjq_none; /* read-only memory */

/* ---- the private part: owner only ---------------------------------------- */

/* Push t at private index h if h is the queue's private index and the ring
 * has room; false (nothing changed) otherwise. Callers that keep h in a
 * register (typed tasks) compare it with q_priv, so that spawns and syncs
 * never form a store-to-load chain through memory; untyped callers pass
 * q_priv itself. */
static inline __attribute__((always_inline)) bool
weft__fjq_try_push(struct weft__fjq *q, int64_t h, struct weft__task_impl *t)
{
    if (__builtin_expect(q->q_priv != h || h - q->q_top_cache > q->q_mask, 0))
        return false;
    /* Relaxed: a private slot; thieves see it only after the owner
     * publishes it (a release fence, then its store of the shared bottom). */
    atomic_store_explicit(&q->q_slots[h & q->q_mask], t, memory_order_relaxed);
    q->q_priv = h + 1;
    return true;
}

/* The newest private task below index h, or NULL if there is none. */
static inline __attribute__((always_inline)) struct weft__task_impl *
weft__fjq_peek(const struct weft__fjq *q, int64_t h)
{
    if (h <= q->q_bot)
        return NULL;
    /* Relaxed: only the owner wrote this private slot. */
    return atomic_load_explicit(&q->q_slots[(h - 1) & q->q_mask], memory_order_relaxed);
}

/* Pop t if it is the newest private task and h is the private index: true
 * if popped (the caller runs t), false (nothing changed) otherwise. */
static inline __attribute__((always_inline)) bool
weft__fjq_try_pop(struct weft__fjq *q, int64_t h, const struct weft__task_impl *t)
{
    if (__builtin_expect(q->q_priv != h || weft__fjq_peek(q, h) != t, 0))
        return false;
    q->q_priv = h - 1;
    return true;
}

/* Pop the newest private task, or NULL when the private part is empty. */
static inline struct weft__task_impl *weft__fjq_pop_newest(struct weft__fjq *q)
{
    int64_t h = q->q_priv;
    struct weft__task_impl *t = weft__fjq_peek(q, h);
    if (t != NULL)
        q->q_priv = h - 1;
    return t;
}

/* True if a thief asked for work: the owner then publishes part of its
 * private part. Polled after each push and pop. */
static inline __attribute__((always_inline)) bool weft__fjq_hungry(const struct weft__fjq *q)
{
    /* Relaxed: a hint; a thief that is not served asks again. */
    return __builtin_expect(atomic_load_explicit(&q->q_hungry, memory_order_relaxed) != 0, 0);
}

#endif /* !__cplusplus */

#endif /* WEFT_BITS_FJQ_H */
