/* SPDX-License-Identifier: MIT */
/*
 * runtime/base/eventcount.h - an event count: sleep until "something
 * changed" without losing a wake-up (private).
 *
 * The waiter announces itself, reads the epoch, re-checks its condition,
 * and sleeps on the epoch only if the condition still fails; the notifier
 * makes its change visible, then - if anyone announced - bumps the epoch
 * and wakes. Dekker-style: the waiter's seq_cst increment of ec_waiters
 * and the notifier's seq_cst fence (or seq_cst RMW) before it reads
 * ec_waiters order the two sides, so either the notifier sees the waiter
 * (and its bump makes the futex wait return) or the waiter's re-check sees
 * the change. (The idea: Reed & Kanodia, "Synchronization with eventcounts
 * and sequencers", CACM 1979; the futex form as in Drepper's "Futexes Are
 * Tricky".)
 *
 *   waiter:   e = weft__ec_prepare(ec);
 *             if (condition holds) { weft__ec_cancel(ec); return; }
 *             weft__ec_wait(ec, e);          // then loop: re-prepare
 *   notifier: make the change visible;
 *             seq_cst fence (or a seq_cst RMW that made the change);
 *             if (weft__ec_waiting(ec)) weft__ec_wake(ec, n);
 *
 * The pool uses one for parking idle workers and one for wait_idle.
 */
#ifndef WEFT_RUNTIME_BASE_EVENTCOUNT_H
#define WEFT_RUNTIME_BASE_EVENTCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "futex.h"

struct weft__ecount {
    _Atomic uint32_t ec_epoch; /* futex word, bumped by each wake */
    _Atomic int ec_waiters;    /* threads between prepare and cancel/wait */
};

static inline void weft__ec_init(struct weft__ecount *ec)
{
    atomic_init(&ec->ec_epoch, 0);
    atomic_init(&ec->ec_waiters, 0);
}

/* Announce a wait; returns the epoch to pass to weft__ec_wait. */
static inline uint32_t weft__ec_prepare(struct weft__ecount *ec)
{
    /* seq_cst: the waiter's half of the handshake; the condition re-check
     * that follows must not be ordered before it. Pairs with the
     * notifier's fence before weft__ec_waiting. */
    atomic_fetch_add_explicit(&ec->ec_waiters, 1, memory_order_seq_cst);
    /* seq_cst: read before the re-check; a wake that bumps the epoch after
     * this read makes the futex wait return at once. */
    return atomic_load_explicit(&ec->ec_epoch, memory_order_seq_cst);
}

/* The condition held after prepare: withdraw the announcement. */
static inline void weft__ec_cancel(struct weft__ecount *ec)
{
    /* Relaxed: only a count; a stale non-zero costs a notifier a wake-up. */
    atomic_fetch_sub_explicit(&ec->ec_waiters, 1, memory_order_relaxed);
}

/* Sleep unless the epoch moved since prepare, then withdraw. */
static inline void weft__ec_wait(struct weft__ecount *ec, uint32_t epoch)
{
    weft__futex_wait(&ec->ec_epoch, epoch);
    weft__ec_cancel(ec);
}

/* The same, waking at abs (CLOCK_MONOTONIC) at the latest. */
static inline void weft__ec_wait_until(struct weft__ecount *ec, uint32_t epoch,
                                       const struct timespec *abs)
{
    weft__futex_wait_until(&ec->ec_epoch, epoch, abs);
    weft__ec_cancel(ec);
}

/* The notifier's check, after its seq_cst fence (or RMW). */
static inline bool weft__ec_waiting(struct weft__ecount *ec)
{
    /* seq_cst: after the caller's seq_cst fence or RMW, the notifier's half
     * of the handshake; pairs with the increment in weft__ec_prepare. */
    return atomic_load_explicit(&ec->ec_waiters, memory_order_seq_cst) != 0;
}

/* Wake up to n waiters (INT_MAX: all). */
static inline void weft__ec_wake(struct weft__ecount *ec, int n)
{
    /* seq_cst: the bump must follow a waiter's read of the epoch it would
     * sleep on (prepare); the futex compares against it. */
    atomic_fetch_add_explicit(&ec->ec_epoch, 1, memory_order_seq_cst);
    weft__futex_wake(&ec->ec_epoch, n);
}

#endif /* WEFT_RUNTIME_BASE_EVENTCOUNT_H */
