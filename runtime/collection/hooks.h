/*
 * runtime/collection/hooks.h - white-box test hooks of the blocking collection.
 *
 * Private to the library (never installed). Tests link the static library
 * and use these to order threads without sleeping: a test that needs a
 * thread to be provably blocked in a collection call spins until
 * weft__collection_waiters() reports it.
 */
#ifndef WEFT_RUNTIME_COLLECTION_HOOKS_H
#define WEFT_RUNTIME_COLLECTION_HOOKS_H

#include <stddef.h>

#include <weft/collection.h>

/*
 * The number of waiters registered on c now: blocked takers, adders and
 * joiners of c, plus one per (call, occurrence of c in cs) of a blocked
 * take_from_any/add_to_any. A waiter is registered (under the lock of its
 * side of c) after it found that it cannot proceed and before it sleeps, so
 * once this counts a thread, any later state change of c wakes it (or the
 * re-check it makes right after registering sees the change and it does
 * not sleep at all). 0 for NULL. Any thread; a
 * snapshot (relaxed read), never blocks.
 */
size_t weft__collection_waiters(const weft_collection *c);

#endif /* WEFT_RUNTIME_COLLECTION_HOOKS_H */
