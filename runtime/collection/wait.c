/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/wait.c - waiter records and waiting (coll.h;
 * docs/design/collection.md, 'Waiting' and 'The waiter handshake').
 *
 * A call that must wait pushes a record from its own stack onto its side's
 * list (c_takers under c_take_lock, c_adders under c_add_lock, c_joiners
 * under c_join_lock), re-checks, and sleeps on the record's futex word; a
 * signaller pops the record under the list's lock, so N changes wake N
 * distinct waiters ("specific notification", Mellor-Crummey & Scott, TOCS
 * 1991). The any-variants (any.c) put links on the same lists; a signaller
 * marks a link instead of popping it.
 */
#define _GNU_SOURCE
#include "collection/coll.h"

#include <weft/pool.h> /* weft_blocking_begin/end around sleeps */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "base/asymfence.h"
#include "base/debug.h"
#include "base/futex.h"
#include "pool/trace.h"

/* ---- lists (under the list's lock) -------------------------------------- */

void weft__coll_wlist_push(coll_wlist *l, coll_waiter *w)
{
    w->w_next = NULL;
    w->w_prev = l->wl_tail;
    if (l->wl_tail)
        l->wl_tail->w_next = w;
    else
        l->wl_head = w;
    l->wl_tail = w;
    /* seq_cst: the waiter's half of the handshake, paired with the
     * changer's seq_cst read in coll_wlist_nonempty; the re-check of the
     * condition word that follows must not be ordered before it. */
    atomic_fetch_add_explicit(&l->wl_n, 1, memory_order_seq_cst);
}

static void wlist_unlink(coll_wlist *l, coll_waiter *w)
{
    if (w->w_prev)
        w->w_prev->w_next = w->w_next;
    else
        l->wl_head = w->w_next;
    if (w->w_next)
        w->w_next->w_prev = w->w_prev;
    else
        l->wl_tail = w->w_prev;
}

void weft__coll_wlist_remove(coll_wlist *l, coll_waiter *w)
{
    wlist_unlink(l, w);
    /* relaxed: a stale non-zero read by a changer only costs it a trip to
     * the list's lock; the list itself is guarded by the lock. */
    atomic_fetch_sub_explicit(&l->wl_n, 1, memory_order_relaxed);
}

/* Set w's futex word to COLL_W_SIGNALLED and wake its sleeper. Under the
 * list's lock, so that the word is alive (a record's owner, and an
 * any-call for each of its links, must take the lock before it leaves). */
static void waiter_wake(coll_waiter *w)
{
    /* release: pairs with the waiter's acquire load/CAS/exchange of the
     * word; the waiter re-takes the lock anyway before it reads the
     * collection. */
    if (atomic_exchange_explicit(w->w_word, COLL_W_SIGNALLED, memory_order_release) ==
        COLL_W_SLEEPING)
        weft__futex_wake(w->w_word, 1);
}

/* A plain record is popped; an any-variant link is marked and moved to the
 * tail, and stays listed until its call leaves (docs/design/collection.md,
 * 'Any-variants'). Links already marked are skipped: their calls will look
 * at this collection again, or pass the signal on when they leave. */
COLL_NOINLINE bool weft__coll_wlist_signal_one(coll_wlist *l)
{
    for (coll_waiter *w = l->wl_head; w; w = w->w_next) {
        if (!w->w_any) {
            weft__coll_wlist_remove(l, w);
        } else if (!w->w_marked) {
            w->w_marked = true;
            if (w != l->wl_tail) {
                wlist_unlink(l, w);
                w->w_next = NULL;
                w->w_prev = l->wl_tail;
                l->wl_tail->w_next = w;
                l->wl_tail = w;
            }
        } else {
            continue;
        }
        waiter_wake(w);
        return true;
    }
    return false;
}

COLL_NOINLINE void weft__coll_wlist_signal_all(coll_wlist *l)
{
    coll_waiter *next;
    for (coll_waiter *w = l->wl_head; w; w = next) {
        next = w->w_next;
        if (w->w_any)
            w->w_marked = true;
        else
            weft__coll_wlist_remove(l, w);
        waiter_wake(w);
    }
}

/* ---- time --------------------------------------------------------------- */

#define COLL_TIME_T_MAX ((time_t)(((uintmax_t)1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))

void weft__coll_deadline(int64_t ns, struct timespec *abs)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t sec = ns / 1000000000;
    long nsec = (long)(ns % 1000000000) + now.tv_nsec;
    if (nsec >= 1000000000) {
        nsec -= 1000000000;
        sec++;
    }
    if (now.tv_sec > COLL_TIME_T_MAX - sec) {
        abs->tv_sec = COLL_TIME_T_MAX;
        abs->tv_nsec = 999999999;
    } else {
        abs->tv_sec = now.tv_sec + (time_t)sec;
        abs->tv_nsec = nsec;
    }
}

/* ---- sleeping ----------------------------------------------------------- */

/* The time between two CLOCK_MONOTONIC readings, in ns (at least 1: "slept"). */
static uint64_t elapsed_ns(const struct timespec *t0, const struct timespec *t1)
{
    int64_t ns = (int64_t)(t1->tv_sec - t0->tv_sec) * 1000000000 + (t1->tv_nsec - t0->tv_nsec);
    return ns > 0 ? (uint64_t)ns : 1;
}

/* On a pool's worker the sleep is a blocking section (weft/pool.h): the
 * worker's tasks become stealable and a spare may run in its place. A
 * signal meanwhile makes the futex wait return at once. The clock is read
 * only around a real sleep ('Statistics'). */
int weft__coll_sleep(_Atomic uint32_t *word, const struct timespec *abs, uint64_t *slept_ns)
{
    uint32_t expect = COLL_W_AWAKE;
    *slept_ns = 0;
    /* acquire on failure: pairs with the signaller's release exchange. */
    if (!atomic_compare_exchange_strong_explicit(word, &expect, COLL_W_SLEEPING,
                                                 memory_order_acquire, memory_order_acquire))
        return 0; /* already signalled */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    weft_blocking_begin();
    int r;
    for (;;) {
        r = weft__futex_wait_until(word, COLL_W_SLEEPING, abs);
        /* acquire: pairs with the signaller's release exchange. */
        if (atomic_load_explicit(word, memory_order_acquire) == COLL_W_SIGNALLED) {
            r = 0;
            break;
        }
        if (r == ETIMEDOUT)
            break;
    }
    weft_blocking_end();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *slept_ns = elapsed_ns(&t0, &t1);
    return r == ETIMEDOUT ? ETIMEDOUT : 0;
}

/* Side locked, after a sleep of ns (> 0): count it in the side's
 * statistics, guarded by the lock the caller holds again. */
static void note_wait(weft_collection *c, int side, uint64_t ns)
{
    switch (side) {
    case COLL_SIDE_TAKE:
        c->c_st_take_waits++;
        c->c_st_take_wait_ns += ns;
        break;
    case COLL_SIDE_ADD:
        c->c_st_add_waits++;
        c->c_st_add_wait_ns += ns;
        break;
    default:
        c->c_st_join_waits++;
        c->c_st_join_wait_ns += ns;
        break;
    }
}

/* Whether a waiter of side may stop waiting: the re-check after it pushed
 * its record (the waiter's half of the handshake, seq_cst reads inside
 * coll_add_count/coll_take_count/coll_unfinished). The state bits need no
 * re-check: they change only under both locks and the caller holds one. */
static bool side_ready(weft_collection *c, int side)
{
    switch (side) {
    case COLL_SIDE_TAKE:
        return coll_take_count(c, true) != 0;
    case COLL_SIDE_ADD:
        return coll_add_count(c, true) < c->c_capacity;
    default:
        return coll_unfinished(c) == 0;
    }
}

/*
 * The caller (side locked) cannot proceed. Register w on l, re-check,
 * sleep, and come back with side locked and w off the list. Returns
 * ETIMEDOUT when the deadline passed, else 0; the caller re-checks its
 * condition either way. A bounded FIFO waiter makes its membarrier with its
 * side unlocked, an unbounded one keeps it locked (docs/design/collection.md,
 * 'Waiting with the side unlocked').
 */
static int wait_on(weft_collection *c, int side, coll_wlist *l, coll_waiter *w,
                   const struct timespec *abs)
{
    atomic_init(&w->w_state, COLL_W_AWAKE);
    w->w_word = &w->w_state;
    w->w_any = false;
    w->w_marked = false;
    WEFT__YIELD(); /* the change that the handshake must not miss comes here */
    weft__coll_wlist_push(l, w);
    /* Joiners: task_done's CAS is seq_cst already. LIFO/PRIORITY: both
     * sides publish under both locks, which we hold, so the lock is the
     * handshake and a membarrier would only lengthen the critical section.
     * Without membarrier (weft__asym 0) the changers publish seq_cst and
     * the waiter needs nothing here ('Asymmetric fence'). */
    if (side != COLL_SIDE_JOIN && coll_split(c) && weft__asym) {
        if (!c->c_capacity) {
            weft__asym_heavy();
        } else {
            coll_unlock_side(c, side);
            WEFT__YIELD(); /* a changer pops and signals w here */
            weft__asym_heavy();
            coll_lock_side(c, side);
            /* relaxed: written by the signaller under the list's lock,
             * which we hold again (pairs through it); signalled means
             * already off the list. */
            if (atomic_load_explicit(&w->w_state, memory_order_relaxed) == COLL_W_SIGNALLED)
                return 0;
        }
    }
    if (side_ready(c, side)) {
        weft__coll_wlist_remove(l, w);
        return 0;
    }
    coll_unlock_side(c, side);
    WEFT__YIELD();
    uint64_t ns;
    uint64_t tr = weft__trace_coll_begin(); /* 0 unless a trace runs */
    int r = weft__coll_sleep(&w->w_state, abs, &ns);
    weft__trace_coll_end(tr, c, side, r == ETIMEDOUT);
    coll_lock_side(c, side);
    if (ns)
        note_wait(c, side, ns);
    /* relaxed: the signaller wrote it under the list's lock, which we hold
     * (pairs through it). */
    if (atomic_load_explicit(&w->w_state, memory_order_relaxed) != COLL_W_SIGNALLED)
        weft__coll_wlist_remove(l, w);
    return r;
}

/* ---- the wait step ------------------------------------------------------ */

/* Shared by the add, take and join loops; the deadline is computed once, on
 * the first wait. */
int weft__coll_wait_step(weft_collection *c, int side, coll_wlist *l, coll_wait *wt)
{
    if (wt->wt_timeout == WEFT_NO_WAIT)
        return EAGAIN;
    if (wt->wt_timed_out)
        return ETIMEDOUT;
    if (wt->wt_timeout > 0 && !wt->wt_have_deadline) {
        weft__coll_deadline(wt->wt_timeout, &wt->wt_abs);
        wt->wt_have_deadline = true;
    }
    coll_waiter w;
    wt->wt_timed_out =
        wait_on(c, side, l, &w, wt->wt_have_deadline ? &wt->wt_abs : NULL) == ETIMEDOUT;
    return 0;
}
