/* SPDX-License-Identifier: MIT */
/*
 * weft/collection.h - a blocking collection shared by any number of threads.
 *
 * Modelled on .NET's BlockingCollection<T> (bounded capacity with
 * backpressure, CompleteAdding, take-from-any) plus task_done/join/shutdown
 * of Python 3.13's queue.Queue. Items are opaque `void *` values; NULL is a
 * valid item. An item that was added is delivered exactly once: by a take
 * form, or by drain.
 *
 * Return values. Every function that returns int returns 0 on success or a
 * positive errno value (pthreads-style), and results go through
 * out-pointers. The other functions return a result, never an error code:
 *   size_t     drain (items taken), count (items inside), capacity (as
 *              given at create): 0 for a NULL handle;
 *   bool       is_adding_completed, is_completed: false for NULL;
 *   void       destroy, complete_adding, shutdown: they cannot fail, and a
 *              NULL handle is ignored.
 * The codes weft itself returns:
 *   EINVAL     a bad argument (NULL handle or out-pointer, n == 0, a NULL
 *              member of cs, timeout < -1, a refused err) or a call the
 *              state does not allow (task_done with nothing unfinished,
 *              producer_done with no producer); checked first, nothing
 *              changes.
 *   ENOMEM     an allocation failed; nothing changed.
 *   EAGAIN     timeout WEFT_NO_WAIT and the operation cannot proceed now.
 *   ETIMEDOUT  a positive timeout ran out (any positive timeout, even 1 ns).
 *   EPIPE      closed for this operation: an add after adding was completed,
 *              or a take from a completed collection (adding completed and
 *              empty); complete_adding_error and add_producer on a closed
 *              collection.
 *   ECANCELED  the collection was shut down: every add and take form gets it,
 *              blocked or not, empty or not (ECANCELED beats EPIPE).
 * One code comes from the caller instead: a collection closed with
 * weft_collection_complete_adding_error(c, err) makes the take forms
 * return err where they would return EPIPE. err is refused (EINVAL) if it
 * is one of EINVAL, ENOMEM, EAGAIN, ETIMEDOUT and ECANCELED, so a take
 * form's result other than 0 and those five means the collection is
 * completed: EPIPE (closed without an error) or the caller's err. No other
 * function returns err.
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
 * After fork(), as with a pthread mutex, the child may use a collection it
 * inherited only if no other thread was inside a call on it at the fork
 * (blocked calls included); new collections in the child are fine.
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

/* The order in which a collection hands out its items
 * (weft_collection_options.order). */
typedef enum {
    WEFT_ORDER_FIFO = 0,    /* first added, first taken (the default) */
    WEFT_ORDER_LIFO = 1,    /* last added, first taken */
    WEFT_ORDER_PRIORITY = 2 /* smallest by compare first; equal items FIFO */
} weft_order;

/* Options for weft_collection_create. All-zero is an unbounded FIFO with
 * nothing else; fields may be added at the end in later versions, so
 * initialise with designated initialisers or zero the whole struct. */
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
    /* NULL: none. Otherwise weft_collection_destroy calls
     * release(item, release_arg) for every item still inside, in take order,
     * on the destroying thread, with no lock held; it must not call into the
     * collection being destroyed. Items already taken or drained are the
     * caller's, as always. */
    void (*release)(void *item, void *arg);
    /* Passed to release as its second argument (ignored without release). */
    void *release_arg;
} weft_collection_options;

/* Counters of a collection since its creation, filled by the function of
 * the same name (a struct tag, as with struct stat and stat()). A wait is
 * one sleep of a blocked call (a call that had to wait may sleep more than
 * once; one that found its condition met on re-checking does not count);
 * the time is the time asleep. A blocked take_from_any or add_to_any counts
 * its sleeps, and the time, at each member occurrence. */
struct weft_collection_stats {
    uint64_t added;   /* items added (add, try_add, add_to_any) */
    uint64_t taken;   /* items taken (take, try_take, take_from_any) */
    uint64_t drained; /* items removed by drain */
    /* The largest count seen: exact for LIFO and PRIORITY. A FIFO
     * collection counts where one side reads the other's position (an
     * adder that finds it full by its cached view, a taker that finds it
     * empty) and at this call, so a short peak in between may be missed: a
     * lower bound (the capacity if an adder ever found it full). */
    uint64_t max_count;
    uint64_t add_waits;    /* adders' sleeps while full */
    uint64_t add_wait_ns;  /* adders' time asleep, ns */
    uint64_t take_waits;   /* takers' sleeps while empty */
    uint64_t take_wait_ns; /* takers' time asleep, ns */
    uint64_t join_waits;   /* join/try_join's sleeps while work is unfinished */
    uint64_t join_wait_ns; /* joiners' time asleep, ns */
};

/* WEFT_NO_WAIT (0) and WEFT_FOREVER (-1): weft/timeout.h. */

/* Create a collection. opts NULL: unbounded FIFO.
 * Returns 0 and sets *out; EINVAL (out NULL, order unknown, PRIORITY without
 * compare); ENOMEM. Never blocks. */
WEFT_API int weft_collection_create(weft_collection **out, const weft_collection_options *opts);

/* Free the collection. Items still inside go to the release option, in take
 * order, if one was given; otherwise they are dropped (drain them first if
 * they own memory). NULL is fine. No other call may be in progress. Never
 * blocks on waiters; cannot fail. */
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
 * empty, also while blocked), or instead the err of complete_adding_error;
 * ECANCELED. Blocks while empty.
 * The consuming loop: while (weft_collection_take(c, &item) == 0) { ... } */
WEFT_API int weft_collection_take(weft_collection *c, void **item);

/* Take an item, waiting at most timeout_ns while empty.
 * Returns 0 and sets *item; EINVAL; EAGAIN; ETIMEDOUT; EPIPE (at once on a
 * completed collection, whatever the timeout) or the err of
 * complete_adding_error; ECANCELED. *item is only written on success. */
WEFT_API int weft_collection_try_take(weft_collection *c, void **item, int64_t timeout_ns);

/* Add to the first of cs[0..n-1] (lowest index first) that can take the item
 * now, waiting up to timeout_ns for any of them. Members whose adding is
 * completed are skipped. Sets *index (if index is not NULL) to the member used.
 * Returns 0; EINVAL (cs NULL, n == 0, a NULL member, bad timeout); ENOMEM
 * (storage growth, or n > 16 and this thread's table of wait links could
 * not grow); EAGAIN; ETIMEDOUT; EPIPE (every member has adding completed);
 * ECANCELED (a member that would otherwise be chosen or waited on is shut
 * down). No limit on n. The same collection may appear more than once.
 * Blocks (timeout_ns permitting); a change of one member wakes only calls
 * waiting on that member. Any thread. */
WEFT_API int weft_collection_add_to_any(weft_collection *const *cs, size_t n, void *item,
                                        size_t *index, int64_t timeout_ns);

/* Take from the first of cs[0..n-1] (lowest index first) that has an item,
 * waiting up to timeout_ns. Completed members are skipped. Sets *item and
 * *index (if index is not NULL). Returns 0; EINVAL; ENOMEM (n > 16 and this
 * thread's table of wait links could not grow); EAGAIN; ETIMEDOUT; EPIPE
 * (every member is completed), or instead the err of the first member (by
 * index) closed with complete_adding_error; ECANCELED (a member is shut
 * down). Blocks as add_to_any does. */
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

/* Close the collection for adding with an error (.NET's TryComplete(ex)):
 * as complete_adding, and once it is empty the take forms (take, try_take,
 * and take_from_any when every member is completed) return err where they
 * would return EPIPE. Adders still get EPIPE; drain is unaffected.
 * err must be positive and none of EINVAL, ENOMEM, EAGAIN, ETIMEDOUT,
 * ECANCELED (the take forms' own status codes; see the top of this file);
 * err == EPIPE is a plain close. The first close wins.
 * Returns 0 (closed now, with err); EINVAL (c NULL or err refused: nothing
 * changes); EPIPE (adding was already completed, by complete_adding,
 * producer_done or an earlier complete_adding_error: nothing changes, the
 * earlier close stands); ECANCELED (shut down: nothing changes). Never
 * blocks on waiters. Any thread. */
WEFT_API int weft_collection_complete_adding_error(weft_collection *c, int err);

/* Producer counting (.NET's bounded producer/consumer, crossbeam's "all
 * senders dropped"): each producer calls add_producer before it starts and
 * producer_done when it has added its last item (from any thread, not
 * necessarily the same). When the count returns to 0, adding completes by
 * itself, as with complete_adding. Plain adds need no registration; the
 * count only decides when adding completes.
 *
 * add_producer returns 0 (counted); EINVAL (c NULL); EPIPE (adding is
 * already completed: not counted, do not call producer_done); ECANCELED
 * (shut down: not counted). Never blocks on waiters. Any thread. */
WEFT_API int weft_collection_add_producer(weft_collection *c);

/* One registered producer is done. Returns 0 (counted down; at 0 adding is
 * now completed, waking waiters as complete_adding does, unless it was
 * already completed); EINVAL (c NULL, or no producer registered: nothing
 * changes). Never blocks on waiters. Any thread. */
WEFT_API int weft_collection_producer_done(weft_collection *c);

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

/* Fill *out with the collection's counters (struct weft_collection_stats). The
 * counters are kept always, at no cost to the uncontended add and take.
 * Returns 0; EINVAL (c or out NULL). A consistent snapshot: it takes the
 * collection's locks for a moment (never blocks on waiters). Any thread. */
WEFT_API int weft_collection_stats(weft_collection *c, struct weft_collection_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_COLLECTION_H */
