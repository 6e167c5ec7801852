/*
 * weft/collection.h - a blocking collection shared by any number of threads.
 *
 * Modelled on .NET's BlockingCollection<T> (bounded capacity with
 * backpressure, CompleteAdding, take-from-any) plus task_done/join/shutdown
 * of Python 3.13's queue.Queue. Items are opaque `void *` values; NULL is a
 * valid item. An item that was added is delivered exactly once: by a take
 * form, or by drain.
 *
 * Return values: the functions that return an int return 0 on success or
 * a positive errno value (pthreads-style; drain, count and capacity return
 * a count, the is_ functions a bool, destroy, complete_adding and shutdown
 * nothing):
 *   EINVAL     a bad argument (NULL handle or out-pointer, n == 0, a NULL
 *              member of cs, timeout < -1); checked first, nothing changes.
 *   ENOMEM     an allocation failed; nothing changed.
 *   EAGAIN     timeout WEFT_NO_WAIT and the operation cannot proceed now.
 *   ETIMEDOUT  a positive timeout ran out (any positive timeout, even 1 ns).
 *   EPIPE      closed for this operation: an add after complete_adding, or a
 *              take from a completed collection (adding completed and empty).
 *   ECANCELED  the collection was shut down: every add and take form gets it,
 *              blocked or not, empty or not (ECANCELED beats EPIPE).
 *
 * Timeouts are in nanoseconds, measured on CLOCK_MONOTONIC:
 *   WEFT_NO_WAIT (0) never blocks, WEFT_FOREVER (-1) waits without limit,
 *   a positive value waits at most that long (INT64_MAX waits, it does not
 *   overflow), anything below -1 is EINVAL.
 *
 * Thread-safety: every function may be called from any thread at any time,
 * concurrently with any other, except weft_collection_destroy, which needs
 * that no other call on the collection is in progress or follows it
 * (destroying a collection that still has blocked waiters is undefined).
 */
#ifndef WEFT_COLLECTION_H
#define WEFT_COLLECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/export.h>
#include <weft/timeout.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: owns a lock and waiters. */
typedef struct weft_collection weft_collection;

typedef enum {
    WEFT_ORDER_FIFO = 0,    /* first added, first taken (the default) */
    WEFT_ORDER_LIFO = 1,    /* last added, first taken */
    WEFT_ORDER_PRIORITY = 2 /* smallest by compare first; equal items FIFO */
} weft_order;

typedef struct {
    /* 0: unbounded; otherwise an add blocks while count == capacity. */
    size_t capacity;
    /* WEFT_ORDER_FIFO (the zero value), _LIFO or _PRIORITY. */
    weft_order order;
    /* PRIORITY only (required there, ignored otherwise): receives two items
     * themselves (the void * values that were added) and returns <0, 0 or >0
     * like strcmp. Called with the collection's lock held: it must not call
     * back into the collection. Never called on an item already taken. */
    int (*compare)(const void *a, const void *b);
} weft_collection_options;

/* WEFT_NO_WAIT (0) and WEFT_FOREVER (-1): weft/timeout.h. */

/* Create a collection. opts NULL: unbounded FIFO.
 * Returns 0 and sets *out; EINVAL (out NULL, order unknown, PRIORITY without
 * compare); ENOMEM. Never blocks. */
WEFT_API int weft_collection_create(weft_collection **out, const weft_collection_options *opts);

/* Free the collection. Items still inside are not freed (drain them first if
 * they own memory). NULL is fine. No other call may be in progress. */
WEFT_API void weft_collection_destroy(weft_collection *c);

/* Add an item, waiting while the collection is full: try_add(c, item, WEFT_FOREVER).
 * Returns 0; EINVAL; ENOMEM; EPIPE (adding completed, also while blocked);
 * ECANCELED (shut down). Blocks while full. */
WEFT_API int weft_collection_add(weft_collection *c, void *item);

/* Add an item, waiting at most timeout_ns while full.
 * Returns 0; EINVAL; ENOMEM; EAGAIN; ETIMEDOUT; EPIPE; ECANCELED.
 * On success the unfinished-task count (see task_done) rises by one. */
WEFT_API int weft_collection_try_add(weft_collection *c, void *item, int64_t timeout_ns);

/* Take an item, waiting while empty: try_take(c, item, WEFT_FOREVER).
 * Returns 0 and sets *item; EINVAL; EPIPE (completed: adding completed and
 * empty, also while blocked); ECANCELED. Blocks while empty.
 * The consuming loop: while (weft_collection_take(c, &item) == 0) { ... } */
WEFT_API int weft_collection_take(weft_collection *c, void **item);

/* Take an item, waiting at most timeout_ns while empty.
 * Returns 0 and sets *item; EINVAL; EAGAIN; ETIMEDOUT; EPIPE (at once on a
 * completed collection, whatever the timeout); ECANCELED. *item is only
 * written on success. */
WEFT_API int weft_collection_try_take(weft_collection *c, void **item, int64_t timeout_ns);

/* Add to the first of cs[0..n-1] (lowest index first) that can take the item
 * now, waiting up to timeout_ns for any of them. Members whose adding is
 * completed are skipped. Sets *index (if index is not NULL) to the member used.
 * Returns 0; EINVAL (cs NULL, n == 0, a NULL member, bad timeout); ENOMEM;
 * EAGAIN; ETIMEDOUT; EPIPE (every member has adding completed); ECANCELED
 * (a member that would otherwise be chosen or waited on is shut down). No
 * limit on n. The same collection may appear more than once. */
WEFT_API int weft_collection_add_to_any(weft_collection *const *cs, size_t n, void *item,
                                        size_t *index, int64_t timeout_ns);

/* Take from the first of cs[0..n-1] (lowest index first) that has an item,
 * waiting up to timeout_ns. Completed members are skipped. Sets *item and
 * *index (if index is not NULL). Returns 0; EINVAL; EAGAIN; ETIMEDOUT; EPIPE
 * (every member is completed); ECANCELED (a member is shut down). */
WEFT_API int weft_collection_take_from_any(weft_collection *const *cs, size_t n, void **item,
                                           size_t *index, int64_t timeout_ns);

/* Take up to max items without blocking, in take order, into out[0..].
 * Returns how many were taken (0 if c or out is NULL, or max is 0). Works
 * after complete_adding and after shutdown too: after shutdown it is the way
 * to get back the items still inside (their unfinished count was already
 * dropped by shutdown); before shutdown each drained item still needs its
 * task_done. Never blocks. */
WEFT_API size_t weft_collection_drain(weft_collection *c, void **out, size_t max);

/* Close the collection for adding. Idempotent; NULL is ignored. When it
 * returns no add can still succeed (an add racing with it finished before it
 * or fails with EPIPE), count is final, and every blocked adder (EPIPE) and,
 * if empty, every blocked taker (EPIPE) has been woken. After shutdown it
 * changes nothing. Never blocks on waiters. */
WEFT_API void weft_collection_complete_adding(weft_collection *c);

/* Shut down at once (Python 3.13 shutdown(immediate=True), without losing
 * data): completes adding, wakes every waiter with ECANCELED, and lowers the
 * unfinished count by the items still inside (so join returns once the items
 * already taken are done). Those items stay retrievable with drain.
 * Idempotent; NULL is ignored. */
WEFT_API void weft_collection_shutdown(weft_collection *c);

/* Mark one taken item as finished. Returns 0; EINVAL (c NULL, or the
 * unfinished count is already 0: nothing changes). Wakes joiners at zero. */
WEFT_API int weft_collection_task_done(weft_collection *c);

/* Wait until every item ever added has been marked done (or dropped by
 * shutdown): try_join(c, WEFT_FOREVER). Returns 0 at once if nothing is
 * unfinished; EINVAL. Blocks. */
WEFT_API int weft_collection_join(weft_collection *c);

/* join with a timeout. Returns 0; EINVAL; EAGAIN (WEFT_NO_WAIT, unfinished
 * work); ETIMEDOUT. Shutdown does not make join fail. */
WEFT_API int weft_collection_try_join(weft_collection *c, int64_t timeout_ns);

/* Items inside now (0 for NULL). A snapshot; never blocks on waiters. */
WEFT_API size_t weft_collection_count(const weft_collection *c);

/* The capacity given at create, 0 for unbounded (and for NULL). */
WEFT_API size_t weft_collection_capacity(const weft_collection *c);

/* true once complete_adding (or shutdown) was called (false for NULL). */
WEFT_API bool weft_collection_is_adding_completed(const weft_collection *c);

/* true once adding is completed and the collection is empty (false for NULL). */
WEFT_API bool weft_collection_is_completed(const weft_collection *c);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_COLLECTION_H */
