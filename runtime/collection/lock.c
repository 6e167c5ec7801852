/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/lock.c - the side locks' contended acquire (lock.h;
 * docs/design/collection.md, 'The side locks').
 */
#define _GNU_SOURCE
#include "collection/lock.h"

#include <sched.h>

/* With membarrier, rounds of sched_yield a contended lock tries before it
 * takes the slow path (membarrier + futex); see docs/design/collection.md,
 * 'Tuning'. */
#ifndef COLL_LOCK_YIELDS
#define COLL_LOCK_YIELDS 2
#endif

COLL_NOINLINE void weft__coll_lock_acquire_slow(coll_lock *l)
{
    uint32_t expect;
    if (weft__asym) {
        /* The membarrier below interrupts every other core running this
         * process; first give the holder (often preempted) a chance. */
        for (int i = 0; i < COLL_LOCK_YIELDS; i++) {
            sched_yield();
            expect = COLL_LOCK_FREE;
            /* acquire: as in coll_lock_acquire. */
            if (atomic_compare_exchange_strong_explicit(&l->l_word, &expect, COLL_LOCK_HELD,
                                                        memory_order_acquire, memory_order_relaxed))
                return;
        }
        /* seq_cst: ordered before the membarrier and the CAS below; pairs
         * with the releaser's relaxed read after its store (lock.h). The
         * count stays raised while we loop: one membarrier is enough. */
        atomic_fetch_add_explicit(&l->l_waiters, 1, memory_order_seq_cst);
        weft__asym_heavy();
        for (;;) {
            expect = COLL_LOCK_FREE;
            /* acquire: as in coll_lock_acquire. */
            if (atomic_compare_exchange_strong_explicit(&l->l_word, &expect, COLL_LOCK_HELD,
                                                        memory_order_acquire, memory_order_relaxed))
                break;
            weft__futex_wait_until(&l->l_word, COLL_LOCK_HELD, NULL);
        }
        /* relaxed: a stale non-zero only costs a releaser a futex wake. */
        atomic_fetch_sub_explicit(&l->l_waiters, 1, memory_order_relaxed);
        return;
    }
    /* Mark contended so that the holder's release wakes us (Drepper #3);
     * acquire when the exchange finds the lock free: pairs with the
     * holder's release exchange. */
    while (atomic_exchange_explicit(&l->l_word, COLL_LOCK_CONTENDED, memory_order_acquire) !=
           COLL_LOCK_FREE)
        weft__futex_wait_until(&l->l_word, COLL_LOCK_CONTENDED, NULL);
}
