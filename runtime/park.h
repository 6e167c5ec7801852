/*
 * runtime/park.h - futex wait/wake on a 32-bit atomic word (private).
 *
 * The parking protocol of a pool is an event count (p_epoch, p_waiters in
 * worker.h), Dekker-style:
 *
 *   parker:   waiters++ (seq_cst); e = epoch (seq_cst);
 *             re-check every source of work (seq_cst loads): shared parts of
 *             all deques, the injection queue, the SHARED queue, the stop
 *             flag; if any: waiters--, go back to work;
 *             futex_wait(&epoch, e); waiters--.
 *   notifier: make the work visible (release store / enqueue / unlock);
 *             seq_cst fence; if waiters > 0 (and nobody searches):
 *             epoch++, futex_wake(&epoch, 1).
 *
 * No lost wake-up: the fence and the parker's seq_cst increment order the
 * two sides, so either the notifier sees waiters > 0 (then it bumps epoch
 * after the parker read it, and the futex_wait returns at once or is woken)
 * or the parker's re-check sees the work. The `searching` count lets a
 * notifier skip the wake (and its syscall) while some worker is still
 * looking: that worker decrements searching before it announces itself as
 * a waiter and re-checks, so it finds the work (Go's scheduler does the
 * same with nmspinning). Private deque tasks need no wake-up: their owner
 * runs them at worst, and publishes them (with a notify) when asked.
 */
#ifndef WEFT_RUNTIME_PARK_H
#define WEFT_RUNTIME_PARK_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sleep while *word == expected (spurious returns are possible: loop). */
static inline void weft__futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

/* Wake up to n sleepers on word (INT_MAX: all). */
static inline void weft__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* A futex word that holds a count (count_mask bits) and a waiter bit:
 * block until the count is 0. The counted parties decrement with a release
 * RMW and wake the word when they take the count from 1 to 0 while the
 * waiter bit is set (p_callers in pool.c, g_pending in task.c). The waiter
 * bit stays set on return. */
static inline void weft__futex_wait_zero(_Atomic uint32_t *word, uint32_t count_mask,
                                         uint32_t waiter_bit)
{
    for (;;) {
        /* Acquire: pairs with the parties' release decrements, so their
         * writes happen before our return. */
        uint32_t v = atomic_load_explicit(word, memory_order_acquire);
        if ((v & count_mask) == 0)
            return;
        if (!(v & waiter_bit)) {
            /* Relaxed CAS: RMWs on the word are totally ordered, so the last
             * decrement sees the waiter bit, or our futex_wait sees a
             * changed word and returns at once. */
            if (!atomic_compare_exchange_weak_explicit(word, &v, v | waiter_bit,
                                                       memory_order_relaxed,
                                                       memory_order_relaxed))
                continue;
            v |= waiter_bit;
        }
        weft__futex_wait(word, v);
    }
}

#endif /* WEFT_RUNTIME_PARK_H */
