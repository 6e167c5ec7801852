/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/hooks.h - white-box test hooks of the blocking collection.
 *
 * Private to the library (never installed). Tests link the static library
 * and use these to order threads without sleeping (a test that needs a
 * thread to be provably blocked in a collection call spins until
 * weft__collection_waiters() reports it) and to count wake-ups.
 */
#ifndef WEFT_RUNTIME_COLLECTION_HOOKS_H
#define WEFT_RUNTIME_COLLECTION_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <weft/collection.h>

/*
 * The number of waiters registered on c now: blocked takers, adders and
 * joiners of c, plus one per (call, occurrence of c in cs) of a blocked
 * take_from_any/add_to_any (its link on c's list). A waiter is registered (under the lock of its
 * side of c) after it found that it cannot proceed and before it sleeps, so
 * once this counts a thread, any later state change of c wakes it (or the
 * re-check it makes right after registering sees the change and it does
 * not sleep at all). 0 for NULL. Any thread; a
 * snapshot (relaxed read), never blocks.
 */
size_t weft__collection_waiters(const weft_collection *c);

/*
 * How many times the calling thread came back from a sleep inside
 * take_from_any or add_to_any (woken, timed out or spurious), since it
 * started. A test reads it before and after a call on the same thread to
 * count that call's wake-ups: a call blocked on collections nobody changes
 * must not wake. Calling thread only; never blocks.
 */
uint64_t weft__collection_any_wakeups(void);

#endif /* WEFT_RUNTIME_COLLECTION_HOOKS_H */
