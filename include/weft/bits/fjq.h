/* SPDX-License-Identifier: MIT */
/*
 * weft/bits/fjq.h - private: the owner's side of a worker's split deque.
 *
 * Not an API: included by <weft/fj.h>, whose typed fast paths inline it,
 * by weft/bits/spawn.h, whose untyped ones (weft_spawn/weft_sync, inline in
 * programs and in the runtime's exported functions) do too, and by the
 * runtime's deque. The algorithm is written here once (as liburcu writes
 * _cds_wfcq_enqueue once in urcu/static/wfcqueue.h); the deque, its memory
 * orders and the thieves' side are described in the runtime's
 * docs/design/deque.md. Everything here may change between versions.
 *
 * C11 and C++11: the fields that other threads touch are plain types,
 * accessed only through the weft__atomic_* macros below (GCC's __atomic
 * builtins, which C and C++ share and which compile to what C11's
 * <stdatomic.h> compiles to); the runtime uses the same macros on them.
 */
/* Before the guard: <weft/task.h> ends by including weft/bits/spawn.h,
 * which needs this file whole; included from here first, it finds this
 * guard still unset and includes all of it. */
#include <weft/task.h>

#ifndef WEFT_BITS_FJQ_H
#define WEFT_BITS_FJQ_H

#include <stddef.h>
#include <stdint.h>

#ifndef __cplusplus
#include <stdalign.h>
#include <stdbool.h>
#endif

#include <weft/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- atomic access to the shared fields ---------------------------------- */

/*
 * The only way to read or write q_hungry, q_priv, the ring's slots and
 * ti_state (Clang rejects these builtins on _Atomic objects, hence plain
 * field types). mo: __ATOMIC_RELAXED etc., or in C the equal
 * memory_order_relaxed etc.; every use says which access it pairs with.
 */
#define weft__atomic_load(p, mo)         __atomic_load_n((p), (mo))
#define weft__atomic_store(p, v, mo)     __atomic_store_n((p), (v), (mo))
#define weft__atomic_exchange(p, v, mo)  __atomic_exchange_n((p), (v), (mo))
#define weft__atomic_fetch_or(p, v, mo)  __atomic_fetch_or((p), (v), (mo))
#define weft__atomic_fetch_and(p, v, mo) __atomic_fetch_and((p), (v), (mo))
#define weft__atomic_fetch_xor(p, v, mo) __atomic_fetch_xor((p), (v), (mo))
/* Compare *p with *e: store v on success, else load *p into *e. */
#define weft__atomic_cas_weak(p, e, v, mo_ok, mo_fail)                                             \
    __atomic_compare_exchange_n((p), (e), (v), 1, (mo_ok), (mo_fail))
#define weft__atomic_cas_strong(p, e, v, mo_ok, mo_fail)                                           \
    __atomic_compare_exchange_n((p), (e), (v), 0, (mo_ok), (mo_fail))

#ifdef __cplusplus
#define WEFT__STATIC_ASSERT(e, msg) static_assert(e, msg)
#define WEFT__THREAD_LOCAL          __thread /* constant-initialized: no C++ TLS wrapper */
#else
#define WEFT__STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#define WEFT__THREAD_LOCAL          _Thread_local
#endif

/* ---- task frames -------------------------------------------------------- */

/* ti_state values. 0: spawned, nobody took it. 1..8191: taken by worker
 * (state - 1), running. DONE: finished, ti_result valid. HEAP: a heap task
 * (submit, group, call); nobody waits on its state. SELF_ARG (with 0 or a
 * thief): a typed frame pushed by the fast path, whose ti_fn takes the
 * frame itself (ti_arg is not set); dropped with DONE. WAITER: the owner
 * sleeps on the word until DONE. SYNCED: a slow sync returned its result
 * (a second sync is misuse). */
#define WEFT__TS_SPAWNED     0
#define WEFT__TS_THIEF_MASK  0x1fff /* the thief bits of a stolen frame's state */
#define WEFT__TS_SYNCED      (1 << 26)
#define WEFT__TS_WAITER      (1 << 27)
#define WEFT__TS_SELF_ARG    (1 << 28)
#define WEFT__TS_HEAP        (1 << 29)
#define WEFT__TS_DONE        (1 << 30)

/* A task frame's header: the runtime's view of weft_task, the first member
 * of every typed frame and of every heap task. ti_state is written by the
 * spawner (relaxed: published with the frame), by a thief (relaxed: a hint
 * for leapfrogging) and by the runner (DONE, release: publishes ti_result
 * to the syncing owner's acquire load). */
struct weft__fjq;
struct weft__task_impl {
    weft_task_fn ti_fn;
    void *ti_arg;
    int32_t ti_state; /* weft__atomic_* only */
    int32_t ti_result;
    /* The spawning worker's queue (untyped spawns, and typed ones that
     * took weft__fj_push_slow; NULL for heap tasks, not set by the typed
     * fast path), which debug builds' weft_sync checks. */
    const struct weft__fjq *ti_owner;
};

/* ---- the owner's deque line --------------------------------------------- */

/* q_hungry: what thieves ask of the owner. ASKED is a request bit that
 * thieves set (fetch_or) and the owner clears once it has published
 * something; at most one of the phases FORCING (a thief whose request
 * stayed unanswered publishes the private part itself), FORCED (it did:
 * the owner must catch up) and OWNER (the owner moves the shared bottom:
 * publish, take) is set besides. Any non-zero value sends the owner's fast
 * paths to their slow path. */
#define WEFT__HUNGRY_ASKED   1u
#define WEFT__HUNGRY_FORCING 2u
#define WEFT__HUNGRY_FORCED  4u
#define WEFT__HUNGRY_OWNER   8u
#define WEFT__HUNGRY_PHASE   (WEFT__HUNGRY_FORCING | WEFT__HUNGRY_FORCED | WEFT__HUNGRY_OWNER)

/* The flag thieves raise to ask for work (own cache line), then the
 * owner's split-deque state (own line): the private part is the ring
 * indices [q_bot, q_priv); thieves steal from [top, bottom), which the
 * owner publishes when asked (and a forcing thief when the owner does not
 * answer). The runtime's deque embeds this struct. */
struct weft__fjq {
    alignas(64) uint32_t q_hungry; /* weft__atomic_* only */
    /* Next free index (the top of the private part): written by the owner
     * only, read by a forcing thief (weft__atomic_* only). */
    alignas(64) int64_t q_priv;
    int64_t q_bot;       /* the owner's copy of bottom: private part [q_bot, q_priv) */
    /* The first index a push may not use without looking at the shared top
     * again: a past value of top plus the ring's capacity. INT64_MIN: every
     * push is slow (no worker, a SHARED worker). */
    int64_t q_limit;
    int64_t q_mask; /* ring capacity - 1 */
    struct weft__task_impl **q_slots; /* the ring; its slots: weft__atomic_* only */
    /* Untyped tasks pushed, and run by their sync, on the fast paths of
     * weft/bits/spawn.h (the slow paths count in the worker): statistics,
     * incremented by the owner only (a relaxed load and store) and read by
     * weft_pool_stats (relaxed). weft__atomic_* only. */
    uint64_t q_spawned;
    uint64_t q_executed;
};

/* The layout that the fields had as C11 _Atomic types, which the runtime
 * and programs built against earlier versions share (LP64); the two
 * counters took the queue's tail padding later. */
#if __SIZEOF_POINTER__ == 8
WEFT__STATIC_ASSERT(offsetof(struct weft__task_impl, ti_state) == 16
                        && offsetof(struct weft__task_impl, ti_result) == 20
                        && offsetof(struct weft__task_impl, ti_owner) == 24
                        && sizeof(struct weft__task_impl) == 32,
                    "weft__task_impl layout");
WEFT__STATIC_ASSERT(offsetof(struct weft__fjq, q_hungry) == 0
                        && offsetof(struct weft__fjq, q_priv) == 64
                        && offsetof(struct weft__fjq, q_bot) == 72
                        && offsetof(struct weft__fjq, q_limit) == 80
                        && offsetof(struct weft__fjq, q_mask) == 88
                        && offsetof(struct weft__fjq, q_slots) == 96
                        && offsetof(struct weft__fjq, q_spawned) == 104
                        && offsetof(struct weft__fjq, q_executed) == 112
                        && sizeof(struct weft__fjq) == 128,
                    "weft__fjq layout");
#endif

/* The calling worker's queue; on a thread that is no worker of a STEALING
 * pool, &weft__fjq_none, whose q_limit makes every fast path fail (and
 * which is never written). Tasks do not move between threads, so a body
 * finds the same queue at each of its spawns and syncs. */
#ifdef WEFT_STATIC_EXE
#define WEFT__FJ_TLS_MODEL "local-exec"
#else
#define WEFT__FJ_TLS_MODEL "initial-exec"
#endif
WEFT_API extern WEFT__THREAD_LOCAL struct weft__fjq *weft__tls_fjq
    __attribute__((tls_model(WEFT__FJ_TLS_MODEL)));
WEFT_API extern const struct weft__fjq weft__fjq_none; /* read-only memory */

/* ---- the private part: owner only ---------------------------------------- */

/*
 * Every store of q_priv is followed, in program order, by a load of
 * q_hungry (weft__fjq_hungry), and a non-zero value sends the caller to its
 * slow path before it uses what it pushed or popped. That pair is the light
 * side of an asymmetric Dekker handshake with a forcing thief, which stores
 * FORCING, makes every thread of the process execute a full barrier
 * (membarrier), then reads q_priv: either the thief sees the owner's store
 * or the owner's load sees FORCING (docs/design/deque.md, "Forced
 * publication"). Between them only a compiler barrier is needed. Under
 * ThreadSanitizer, which models only C11 orders, both sides are seq_cst.
 */
#ifdef WEFT_TSAN
#define WEFT__FJQ_PRIV_ORDER __ATOMIC_SEQ_CST
#else
#define WEFT__FJQ_PRIV_ORDER __ATOMIC_RELAXED
#endif

static inline __attribute__((always_inline)) int64_t weft__fjq_priv(const struct weft__fjq *q)
{
    /* Relaxed: only the calling owner writes it. */
    return weft__atomic_load(&q->q_priv, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void weft__fjq_set_priv(struct weft__fjq *q,
                                                                     int64_t v)
{
    /* The light side's store (above); the forcing thief's load pairs with it. */
    weft__atomic_store(&q->q_priv, v, WEFT__FJQ_PRIV_ORDER);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* keep the hungry load after it */
}

/* Push t at private index h if h is the queue's private index and the ring
 * has room; false (nothing changed) otherwise. Callers that keep h in a
 * register (typed tasks) compare it with q_priv, so that spawns and syncs
 * never form a store-to-load chain through memory; untyped callers pass
 * q_priv itself. Then check weft__fjq_hungry. */
static inline __attribute__((always_inline)) bool
weft__fjq_try_push(struct weft__fjq *q, int64_t h, struct weft__task_impl *t)
{
    if (__builtin_expect(weft__fjq_priv(q) != h || h >= q->q_limit, 0))
        return false;
    /* Relaxed: a private slot; thieves see it only after it is published
     * (a release fence, then the store of the shared bottom). */
    weft__atomic_store(&q->q_slots[h & q->q_mask], t, __ATOMIC_RELAXED);
    weft__fjq_set_priv(q, h + 1);
    return true;
}

/* The newest private task below index h, or NULL if there is none. */
static inline __attribute__((always_inline)) struct weft__task_impl *
weft__fjq_peek(const struct weft__fjq *q, int64_t h)
{
    if (h <= q->q_bot)
        return NULL;
    /* Relaxed: only the owner wrote this private slot. */
    return weft__atomic_load(&q->q_slots[(h - 1) & q->q_mask], __ATOMIC_RELAXED);
}

/* Pop t if it is the newest private task and h is the private index: true
 * if popped, false (nothing changed) otherwise. Then check
 * weft__fjq_hungry before running t: a forcing thief may have published it. */
static inline __attribute__((always_inline)) bool
weft__fjq_try_pop(struct weft__fjq *q, int64_t h, const struct weft__task_impl *t)
{
    if (__builtin_expect(weft__fjq_priv(q) != h || weft__fjq_peek(q, h) != t, 0))
        return false;
    weft__fjq_set_priv(q, h - 1);
    return true;
}

/* Pop the newest private task, or NULL when the private part is empty.
 * Then check weft__fjq_hungry, as after weft__fjq_try_pop. */
static inline struct weft__task_impl *weft__fjq_pop_newest(struct weft__fjq *q)
{
    int64_t h = weft__fjq_priv(q);
    struct weft__task_impl *t = weft__fjq_peek(q, h);
    if (t != NULL)
        weft__fjq_set_priv(q, h - 1);
    return t;
}

/* True if a thief asked for work or forced a publication: the owner's
 * slow path then publishes part of its private part, or catches up with
 * the thief. Checked after each push and pop (above). */
static inline __attribute__((always_inline)) bool weft__fjq_hungry(const struct weft__fjq *q)
{
    /* The light side's load (above): relaxed, or seq_cst under TSan. */
    return __builtin_expect(weft__atomic_load(&q->q_hungry, WEFT__FJQ_PRIV_ORDER) != 0, 0);
}

#ifdef __cplusplus
}
#endif

#endif /* WEFT_BITS_FJQ_H */
