/* SPDX-License-Identifier: MIT */
/*
 * weft/bits/spawn.h - private: the fast paths of weft_spawn and weft_sync,
 * inlined into the caller.
 *
 * Not an API: <weft/task.h> defines weft_spawn and weft_sync as static
 * inline functions on these for programs, and the runtime's exported
 * weft_spawn/weft_sync (which programs built against earlier versions call)
 * are the same code. What a call costs is then the deque's push or pop
 * itself (weft/bits/fjq.h) instead of a call through the PLT, a TLS lookup
 * through the GOT and a return; everything else - argument errors, a
 * thread that is no worker, a SHARED pool, a full ring, a thief's request,
 * a task that is not the newest private one - goes out of line to the
 * runtime (runtime/pool/spawn.c), which does what weft_spawn/weft_sync
 * always did. Everything here may change between versions.
 */
/* Before the guard, as in weft/bits/fjq.h: in programs <weft/task.h> ends
 * by including this file and then calls what it defines; included from
 * here first, it finds this guard still unset and includes all of it. */
#include <weft/task.h>

#ifndef WEFT_BITS_SPAWN_H
#define WEFT_BITS_SPAWN_H

#include <weft/bits/fjq.h>
#include <weft/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The out-of-line paths (runtime/pool/spawn.c). weft__spawn_slow and
 * weft__sync_slow do all that weft_spawn/weft_sync do but the fast path;
 * weft__spawn_serve serves a thief's request after the fast push of the
 * calling worker, weft__sync_serve after the fast pop of t (then runs t,
 * unless the thief took it). */
WEFT_API int weft__spawn_slow(weft_task *t, weft_task_fn fn, void *arg);
WEFT_API int weft__spawn_serve(void);
WEFT_API int weft__sync_slow(weft_task *t);
WEFT_API int weft__sync_serve(weft_task *t);

/* One more of a fast-path statistic (q_spawned, q_executed). Relaxed: only
 * the owner writes it; weft_pool_stats reads it relaxed. */
static inline __attribute__((always_inline)) void weft__fjq_count(uint64_t *c)
{
    weft__atomic_store(c, weft__atomic_load(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/* Fill an untyped frame spawned by the owner of q (both spawn paths). */
static inline __attribute__((always_inline)) void
weft__spawn_fill(struct weft__task_impl *t, weft_task_fn fn, void *arg, const struct weft__fjq *q)
{
    t->ti_fn = fn;
    t->ti_arg = arg;
    /* Relaxed: the frame becomes visible to other threads only when its
     * owner publishes it (a release fence, then the store of bottom) or
     * through the SHARED queue's lock. */
    weft__atomic_store(&t->ti_state, WEFT__TS_SPAWNED, __ATOMIC_RELAXED);
    t->ti_owner = q;
}

/* weft_spawn. */
static inline __attribute__((always_inline)) int weft__spawn_inline(weft_task *tp, weft_task_fn fn,
                                                                    void *arg)
{
    struct weft__fjq *q = weft__tls_fjq;
    struct weft__task_impl *t = (struct weft__task_impl *)(void *)tp;
    int64_t h = weft__fjq_priv(q);
    /* q_limit fails a thread that is no worker, a SHARED worker and a full
     * ring; the slow path sorts them out. */
    if (__builtin_expect(tp == NULL || fn == NULL || h >= q->q_limit, 0))
        return weft__spawn_slow(tp, fn, arg);
    weft__spawn_fill(t, fn, arg, q);
    /* Relaxed: a private slot, published as the frame is. */
    weft__atomic_store(&q->q_slots[h & q->q_mask], t, __ATOMIC_RELAXED);
    weft__fjq_set_priv(q, h + 1);
    weft__fjq_count(&q->q_spawned);
    if (weft__fjq_hungry(q))
        return weft__spawn_serve();
    return 0;
}

/* weft_sync. */
static inline __attribute__((always_inline)) int weft__sync_inline(weft_task *tp)
{
    struct weft__fjq *q = weft__tls_fjq;
    struct weft__task_impl *t = (struct weft__task_impl *)(void *)tp;
    int64_t h = weft__fjq_priv(q);
    /* t is the newest private task: pop it and run it here. (On a thread
     * that is no worker the private part is empty.) */
    if (__builtin_expect(t == NULL || weft__fjq_peek(q, h) != t, 0))
        return weft__sync_slow(tp);
    weft__fjq_set_priv(q, h - 1);
    if (weft__fjq_hungry(q))
        return weft__sync_serve(tp);
    weft__fjq_count(&q->q_executed);
    return t->ti_fn(t->ti_arg);
}

#ifdef __cplusplus
}
#endif

#endif /* WEFT_BITS_SPAWN_H */
