/* SPDX-License-Identifier: MIT */
/*
 * runtime/base/futex.h - futex wait/wake on a 32-bit atomic word (private).
 *
 * All futexes are process-private (FUTEX_*_PRIVATE): weft never shares a
 * word between processes. A wait may return spuriously; callers loop.
 * Includers define _GNU_SOURCE (for syscall()), as every runtime source
 * does first.
 */
#ifndef WEFT_RUNTIME_BASE_FUTEX_H
#define WEFT_RUNTIME_BASE_FUTEX_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *word == expected. */
static inline void weft__futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

/* Sleep while *word == expected, until abs (CLOCK_MONOTONIC; NULL: no
 * limit). FUTEX_WAIT_BITSET takes an absolute time on CLOCK_MONOTONIC
 * unless FUTEX_CLOCK_REALTIME is given. Returns 0, EAGAIN (word !=
 * expected), EINTR or ETIMEDOUT. */
static inline int weft__futex_wait_until(_Atomic uint32_t *word, uint32_t expected,
                                         const struct timespec *abs)
{
    long r = syscall(SYS_futex, (void *)word, FUTEX_WAIT_BITSET_PRIVATE, expected, abs, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return r == -1 ? errno : 0;
}

/* Wake up to n sleepers on word (INT_MAX: all). A private wake reads no
 * user memory, so it may be called on a word whose memory was just freed
 * (the object's owner may free it as soon as it sees the change). */
static inline void weft__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* A futex word that holds a count (count_mask bits) and a waiter bit:
 * block until the count is 0, or until abs (CLOCK_MONOTONIC; NULL: no
 * limit). The counted parties decrement with a release RMW and wake the
 * word when they take the count from 1 to 0 while the waiter bit is set
 * (the pool's outside-callers guard, a group's pending count, a future).
 * The waiter bit stays set on return. Returns 0 (the count is 0) or
 * ETIMEDOUT (abs passed first). */
static inline int weft__futex_wait_zero_until(_Atomic uint32_t *word, uint32_t count_mask,
                                              uint32_t waiter_bit, const struct timespec *abs)
{
    for (;;) {
        /* Acquire: pairs with the parties' release decrements, so their
         * writes happen before our return. */
        uint32_t v = atomic_load_explicit(word, memory_order_acquire);
        if ((v & count_mask) == 0)
            return 0;
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
        if (weft__futex_wait_until(word, v, abs) == ETIMEDOUT
            /* Acquire: as above; the count may have reached 0 meanwhile. */
            && (atomic_load_explicit(word, memory_order_acquire) & count_mask) != 0)
            return ETIMEDOUT;
    }
}

/* The same without a time limit. */
static inline void weft__futex_wait_zero(_Atomic uint32_t *word, uint32_t count_mask,
                                         uint32_t waiter_bit)
{
    (void)weft__futex_wait_zero_until(word, count_mask, waiter_bit, NULL);
}

#endif /* WEFT_RUNTIME_BASE_FUTEX_H */
