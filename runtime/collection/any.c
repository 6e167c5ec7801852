/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/any.c - take_from_any and add_to_any (coll.h;
 * docs/design/collection.md, 'Any-variants').
 *
 * A call that must wait puts one link per member occurrence on that
 * member's list of its side (c_takers or c_adders, beside the plain
 * waiters), every link pointing at the call's one futex word; then it
 * rescans and sleeps. A change of a member signals one waiter of that
 * member only: a plain record is popped, a link is marked (and stays
 * listed). A call looks at its members in index order and clears each
 * link's mark as it looks; a link still marked when the call leaves got a
 * signal the call did not use, and the call passes it on to the member's
 * next waiter. Links live on the caller's stack (up to COLL_ANY_INLINE
 * members) or in a per-thread table that grows and is freed at thread exit:
 * nothing is allocated per item, and n has no limit.
 */
#define _GNU_SOURCE
#include "collection/coll.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "base/alloc.h"
#include "base/asymfence.h"
#include "base/debug.h"
#include "collection/hooks.h"
#include "pool/trace.h"

/* Calls with at most this many members keep their links on the stack. */
#define COLL_ANY_INLINE 16

/* ---- the per-thread table of links ---------------------------------------- */

/* This thread's table (a thread is inside at most one call at a time). */
static _Thread_local coll_waiter *any_table;
static _Thread_local size_t any_table_n;
/* The test hook's count (hooks.h): this thread's wake-ups from sleeps in
 * any-variant calls. */
static _Thread_local uint64_t any_wakeups;

static pthread_once_t any_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t any_key;
/* Written once under pthread_once, read after it. */
static bool any_key_ok;

/* The key's destructor, on the exiting thread: forget the table too, in
 * case another key's destructor makes an any-variant call after this. */
static void any_table_free(void *p)
{
    weft__free(p);
    any_table = NULL;
    any_table_n = 0;
}

static void any_key_init(void)
{
    any_key_ok = pthread_key_create(&any_key, any_table_free) == 0;
}

/* n links for a call: the stack's (n <= COLL_ANY_INLINE), this thread's
 * table (grown by doubling; freed by the key's destructor at thread exit),
 * or, if no key could be made, an allocation for this call only (*owned).
 * NULL: ENOMEM. */
static coll_waiter *any_links(size_t n, coll_waiter *inline_links, bool *owned)
{
    *owned = false;
    if (n <= COLL_ANY_INLINE)
        return inline_links;
    if (n > SIZE_MAX / sizeof(coll_waiter))
        return NULL;
    pthread_once(&any_key_once, any_key_init);
    if (!any_key_ok) {
        *owned = true;
        return weft__malloc(n * sizeof(coll_waiter));
    }
    if (n <= any_table_n)
        return any_table;
    size_t m = any_table_n ? any_table_n : COLL_ANY_INLINE;
    while (m < n)
        m = m > SIZE_MAX / 2 / sizeof(coll_waiter) ? n : 2 * m;
    coll_waiter *t = weft__malloc(m * sizeof *t);
    if (!t || pthread_setspecific(any_key, t) != 0) {
        weft__free(t);
        return NULL;
    }
    weft__free(any_table);
    any_table = t;
    any_table_n = m;
    return t;
}

uint64_t weft__collection_any_wakeups(void)
{
    return any_wakeups;
}

/* ---- one call ------------------------------------------------------------- */

typedef struct {
    weft_collection *const *ac_cs;
    size_t ac_n;
    int ac_side;                     /* COLL_SIDE_TAKE or COLL_SIDE_ADD */
    coll_waiter *ac_links;           /* one per member; NULL until registered */
    _Atomic uint32_t ac_word;        /* the futex word every link signals */
    uint64_t ac_sleeps, ac_slept_ns; /* for the members' statistics */
} any_call;

static coll_wlist *any_list(weft_collection *c, int side)
{
    return side == COLL_SIDE_TAKE ? &c->c_takers : &c->c_adders;
}

enum { COLL_SCAN_NONE, COLL_SCAN_DONE, COLL_SCAN_ALL_CLOSED };

/* One pass over the members in index order; takes or adds at most once.
 * Returns COLL_SCAN_DONE with *r set (0, ECANCELED or ENOMEM) and *index,
 * COLL_SCAN_ALL_CLOSED with *r set (EPIPE, or for takes the err of the
 * first member closed with complete_adding_error) when every member is
 * closed for the operation, else COLL_SCAN_NONE. The counts are read fresh
 * (seq_cst): the scan's half of the handshake with the members' changers.
 * Each member's link, if registered, loses its mark as the scan looks at
 * the member, under the member's lock. */
static int scan_any(any_call *ac, void **item, size_t *index, int *r)
{
    bool all_closed = true;
    int closed_code = EPIPE;
    bool is_take = ac->ac_side == COLL_SIDE_TAKE;
    for (size_t i = 0; i < ac->ac_n; i++) {
        weft_collection *c = ac->ac_cs[i];
        bool done = false;
        coll_lock_side(c, ac->ac_side);
        if (ac->ac_links)
            ac->ac_links[i].w_marked = false;
        uint32_t st = coll_state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            *r = ECANCELED;
            done = true;
        } else if (is_take) {
            if (coll_take_count(c, true) > 0) {
                *item = coll_take_locked(c);
                c->c_st_taken++;
                *r = 0;
                done = true;
            } else if (!(st & COLL_ST_ADDING_DONE)) {
                all_closed = false;
            } else if (closed_code == EPIPE) {
                closed_code = coll_closed_code(c);
            }
        } else if (!(st & COLL_ST_ADDING_DONE)) {
            size_t cnt = coll_add_count(c, true);
            if (!c->c_capacity || cnt < c->c_capacity) {
                *r = coll_add_locked(c, *item, cnt);
                done = true;
            } else {
                all_closed = false;
            }
        }
        coll_unlock_side(c, ac->ac_side);
        if (done) {
            if (*r == 0) {
                if (is_take)
                    coll_take_notify(c, 1);
                else
                    coll_add_notify(c);
            }
            *index = i;
            return COLL_SCAN_DONE;
        }
    }
    if (!all_closed)
        return COLL_SCAN_NONE;
    *r = closed_code;
    return COLL_SCAN_ALL_CLOSED;
}

/* Put one link on each member's list, then (where a member's changers
 * publish without its lock: FIFO with membarrier) the heavy fence; the
 * caller rescans after it. */
static void any_register(any_call *ac, coll_waiter *links)
{
    bool split = false;
    ac->ac_links = links;
    for (size_t i = 0; i < ac->ac_n; i++) {
        weft_collection *c = ac->ac_cs[i];
        coll_waiter *w = &links[i];
        w->w_word = &ac->ac_word;
        w->w_any = true;
        w->w_marked = false;
        split = split || coll_split(c);
        WEFT__YIELD(); /* a change the handshake must not miss comes here */
        coll_lock_side(c, ac->ac_side);
        weft__coll_wlist_push(any_list(c, ac->ac_side), w);
        coll_unlock_side(c, ac->ac_side);
    }
    /* The seq_cst raises of wl_n above, then the rescan's seq_cst reads:
     * with membarrier, the changers' publication is a plain store, so the
     * fence goes here ('Asymmetric fence'). LIFO and PRIORITY members
     * publish under both locks, which the registration and the rescan take:
     * the lock is their handshake. */
    if (split && weft__asym)
        weft__asym_heavy();
}

/* Take every link off its list. A link still marked got a signal this call
 * did not use (the scan did not look at that member again after it): pass
 * it on to the member's next waiter. The call's sleeps count as waits of
 * each member's side. */
static void any_unregister(any_call *ac)
{
    for (size_t i = 0; i < ac->ac_n; i++) {
        weft_collection *c = ac->ac_cs[i];
        coll_waiter *w = &ac->ac_links[i];
        coll_wlist *l = any_list(c, ac->ac_side);
        coll_lock_side(c, ac->ac_side);
        weft__coll_wlist_remove(l, w);
        if (w->w_marked)
            weft__coll_wlist_signal_one(l);
        if (ac->ac_sleeps) {
            if (ac->ac_side == COLL_SIDE_TAKE) {
                c->c_st_take_waits += ac->ac_sleeps;
                c->c_st_take_wait_ns += ac->ac_slept_ns;
            } else {
                c->c_st_add_waits += ac->ac_sleeps;
                c->c_st_add_wait_ns += ac->ac_slept_ns;
            }
        }
        coll_unlock_side(c, ac->ac_side);
    }
}

/* item points at the caller's item (add) or a local (take): never NULL. */
static int any_op(weft_collection *const *cs, size_t n, int side, void **item, size_t *index,
                  int64_t timeout_ns)
{
    if (!cs || n == 0 || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!cs[i])
            return EINVAL;

    any_call ac = {.ac_cs = cs, .ac_n = n, .ac_side = side};
    atomic_init(&ac.ac_word, COLL_W_AWAKE);
    coll_waiter inline_links[COLL_ANY_INLINE];
    bool owned = false;
    struct timespec abs;
    bool have_deadline = false, timed_out = false;
    size_t idx = 0;
    int r;
    for (;;) {
        int s = scan_any(&ac, item, &idx, &r);
        if (s != COLL_SCAN_NONE)
            break;
        if (timeout_ns == WEFT_NO_WAIT) {
            r = EAGAIN;
            break;
        }
        if (timed_out) {
            r = ETIMEDOUT;
            break;
        }
        if (!ac.ac_links) {
            coll_waiter *links = any_links(n, inline_links, &owned);
            if (!links) {
                r = ENOMEM;
                break;
            }
            if (timeout_ns > 0) {
                weft__coll_deadline(timeout_ns, &abs);
                have_deadline = true;
            }
            any_register(&ac, links);
            continue; /* rescan: the re-check of the handshake */
        }
        WEFT__YIELD();
        uint64_t ns;
        uint64_t tr = weft__trace_coll_begin(); /* 0 unless a trace runs */
        timed_out = weft__coll_sleep(&ac.ac_word, have_deadline ? &abs : NULL, &ns) == ETIMEDOUT;
        weft__trace_coll_end(tr, NULL, ac.ac_side, timed_out);
        if (ns) {
            ac.ac_sleeps++;
            ac.ac_slept_ns += ns;
            any_wakeups++;
        }
        /* acquire: pairs with the signallers' release exchange; the signal
         * is consumed here, before the rescan that looks for its cause. */
        atomic_exchange_explicit(&ac.ac_word, COLL_W_AWAKE, memory_order_acquire);
    }
    if (ac.ac_links) {
        any_unregister(&ac);
        if (owned)
            weft__free(ac.ac_links);
    }
    if (r == 0 && index)
        *index = idx;
    return r;
}

int weft_collection_add_to_any(weft_collection *const *cs, size_t n, void *item, size_t *index,
                               int64_t timeout_ns)
{
    return any_op(cs, n, COLL_SIDE_ADD, &item, index, timeout_ns);
}

int weft_collection_take_from_any(weft_collection *const *cs, size_t n, void **item, size_t *index,
                                  int64_t timeout_ns)
{
    if (!item)
        return EINVAL;
    void *got = NULL;
    int r = any_op(cs, n, COLL_SIDE_TAKE, &got, index, timeout_ns);
    if (r == 0)
        *item = got;
    return r;
}
