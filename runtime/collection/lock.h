/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/lock.h - the collection's side locks (private).
 *
 * A futex lock with two protocols, chosen once per process by weft__asym
 * (base/asymfence.h):
 *   - with membarrier: an asymmetric lock whose uncontended acquire/release
 *     pair costs one locked instruction (Dice, Huang and Yang, "Asymmetric
 *     Dekker Synchronization", 2001); l_word is COLL_LOCK_FREE or
 *     COLL_LOCK_HELD, and a thread that must sleep raises l_waiters first;
 *   - without (an old kernel, valgrind, TSan): U. Drepper's mutex #3
 *     ("Futexes Are Tricky", 2011), whose release is an exchange that tells
 *     whether to wake.
 * See docs/design/collection.md, 'The side locks'.
 *
 * The fast paths are inline (always_inline: the uncontended add and take
 * must stay free of calls); the slow path is lock.c. Any thread; acquire
 * blocks, release never does. Not recursive.
 *
 *   field       written by                          read by, order, pairs with
 *   l_word      acquirers: CAS acquire (exchange    acquirers' CAS acquire pairs with
 *               acquire in Drepper's slow path);    the holder's release store or
 *               the holder: release store/exchange  exchange
 *   l_waiters   slow acquirers: seq_cst add before  the releaser (asym): relaxed, after
 *               their membarrier, relaxed sub       its store and a compiler fence;
 *                                                   pairs with the add via membarrier
 */
#ifndef WEFT_RUNTIME_COLLECTION_LOCK_H
#define WEFT_RUNTIME_COLLECTION_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/asymfence.h"
#include "base/futex.h"

/* The uncontended add and take paths are a few dozen instructions; keep
 * them free of calls (check with objdump -d or callgrind: bench_queue --st).
 * Slow paths stay out of line (COLL_NOINLINE, also under LTO). */
#if defined(__GNUC__)
#define COLL_INLINE   static inline __attribute__((always_inline))
#define COLL_NOINLINE __attribute__((noinline))
#else
#define COLL_INLINE static inline
#define COLL_NOINLINE
#endif

enum { COLL_LOCK_FREE = 0, COLL_LOCK_HELD = 1, COLL_LOCK_CONTENDED = 2 };

typedef struct {
    _Atomic uint32_t l_word;    /* COLL_LOCK_FREE, _HELD (, _CONTENDED) */
    _Atomic uint32_t l_waiters; /* weft__asym: threads in the slow path */
} coll_lock;

/* Not yet shared: no ordering needed. */
static inline void coll_lock_init(coll_lock *l)
{
    atomic_init(&l->l_word, COLL_LOCK_FREE);
    atomic_init(&l->l_waiters, 0);
}

/* The contended acquire (lock.c): yield, then sleep. */
void weft__coll_lock_acquire_slow(coll_lock *l);

COLL_INLINE void coll_lock_acquire(coll_lock *l)
{
    uint32_t expect = COLL_LOCK_FREE;
    /* acquire: pairs with the release store/exchange in coll_lock_release,
     * so the previous holder's writes to the guarded fields are visible. */
    if (!atomic_compare_exchange_strong_explicit(&l->l_word, &expect, COLL_LOCK_HELD,
                                                 memory_order_acquire, memory_order_relaxed))
        weft__coll_lock_acquire_slow(l);
}

COLL_INLINE void coll_lock_release(coll_lock *l)
{
    if (weft__asym) {
        /* release: pairs with the next acquirer's CAS. The compiler fence
         * keeps the l_waiters read after the store, which is all the
         * membarrier argument needs; relaxed read likewise: pairs with the
         * slow acquirer's seq_cst add through its membarrier. */
        atomic_store_explicit(&l->l_word, COLL_LOCK_FREE, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&l->l_waiters, memory_order_relaxed) != 0)
            weft__futex_wake(&l->l_word, 1);
        return;
    }
    /* release: as above; the exchange tells whether anyone sleeps (pairs
     * with the slow path's exchange to COLL_LOCK_CONTENDED). */
    if (atomic_exchange_explicit(&l->l_word, COLL_LOCK_FREE, memory_order_release) ==
        COLL_LOCK_CONTENDED)
        weft__futex_wake(&l->l_word, 1);
}

#endif /* WEFT_RUNTIME_COLLECTION_LOCK_H */
