/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/collection.c - the blocking collection's API
 * (include/weft/collection.h): create/destroy, add/take, drain,
 * complete_adding (plain, with an error, by producer count), shutdown,
 * task_done/join, the snapshots and the statistics. The
 * helpers, the lock order and the synchronization table are in coll.h;
 * the design in docs/design/collection.md.
 */
#define _GNU_SOURCE
#include "collection/coll.h"

#include <errno.h>
#include <string.h>

#include "base/alloc.h"
#include "base/asymfence.h"
#include "collection/hooks.h"

/* ---- create / destroy --------------------------------------------------- */

int weft_collection_create(weft_collection **out, const weft_collection_options *opts)
{
    weft_collection_options o = {0};
    if (!out)
        return EINVAL;
    if (opts)
        o = *opts;
    if (o.order != WEFT_ORDER_FIFO && o.order != WEFT_ORDER_LIFO && o.order != WEFT_ORDER_PRIORITY)
        return EINVAL;
    if (o.order == WEFT_ORDER_PRIORITY && !o.compare)
        return EINVAL;
    weft__asym_init();

    weft_collection *c = weft__aligned_alloc(WEFT__CACHE_LINE, sizeof *c);
    if (!c)
        return ENOMEM;
    memset(c, 0, sizeof *c);
    c->c_capacity = o.capacity;
    c->c_order = o.order;
    c->c_compare = o.order == WEFT_ORDER_PRIORITY ? o.compare : NULL;
    c->c_release = o.release;
    c->c_release_arg = o.release_arg;
    if (weft__coll_store_init(c) != 0) {
        weft__free(c);
        return ENOMEM;
    }
    /* Not yet shared: plain initialisation; the caller's hand-over of *out
     * publishes it. */
    coll_lock_init(&c->c_add_lock);
    coll_lock_init(&c->c_take_lock);
    coll_lock_init(&c->c_join_lock);
    atomic_init(&c->c_head, 0);
    atomic_init(&c->c_tail, 0);
    atomic_init(&c->c_added, 0);
    atomic_init(&c->c_takers.wl_n, 0);
    atomic_init(&c->c_adders.wl_n, 0);
    atomic_init(&c->c_joiners.wl_n, 0);
    atomic_init(&c->c_done, 0);
    atomic_init(&c->c_state, 0);
    *out = c;
    return 0;
}

void weft_collection_destroy(weft_collection *c)
{
    if (!c)
        return;
    if (c->c_release) {
        /* In take order, with no lock held while release runs. */
        void *batch[64];
        size_t k;
        while ((k = weft_collection_drain(c, batch, 64)) > 0)
            for (size_t i = 0; i < k; i++)
                c->c_release(batch[i], c->c_release_arg);
    }
    weft__coll_store_fini(c);
    weft__free(c);
}

/* ---- add / take --------------------------------------------------------- */

int weft_collection_try_add(weft_collection *c, void *item, int64_t timeout_ns)
{
    if (!c || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    coll_wait wt = {.wt_timeout = timeout_ns};
    int r;
    coll_lock_side(c, COLL_SIDE_ADD);
    for (;;) {
        uint32_t st = coll_state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            r = ECANCELED;
            break;
        }
        if (st & COLL_ST_ADDING_DONE) {
            r = EPIPE;
            break;
        }
        size_t n = coll_add_count(c, false);
        if (!c->c_capacity || n < c->c_capacity) {
            r = coll_add_locked(c, item, n);
            break;
        }
        if ((r = weft__coll_wait_step(c, COLL_SIDE_ADD, &c->c_adders, &wt)) != 0)
            break;
    }
    coll_unlock_side(c, COLL_SIDE_ADD);
    if (r == 0)
        coll_add_notify(c);
    return r;
}

int weft_collection_add(weft_collection *c, void *item)
{
    return weft_collection_try_add(c, item, WEFT_FOREVER);
}

int weft_collection_try_take(weft_collection *c, void **item, int64_t timeout_ns)
{
    if (!c || !item || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    coll_wait wt = {.wt_timeout = timeout_ns};
    int r;
    coll_lock_side(c, COLL_SIDE_TAKE);
    for (;;) {
        uint32_t st = coll_state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            r = ECANCELED;
            break;
        }
        if (coll_take_count(c, false) > 0) {
            *item = coll_take_locked(c);
            c->c_st_taken++;
            r = 0;
            break;
        }
        /* coll_take_count returned 0 right after re-reading c_tail. If
         * adding is completed (we see the bit under the lock), c_tail was
         * final before it was set, so the collection is completed. */
        if (st & COLL_ST_ADDING_DONE) {
            r = coll_closed_code(c);
            break;
        }
        if ((r = weft__coll_wait_step(c, COLL_SIDE_TAKE, &c->c_takers, &wt)) != 0)
            break;
    }
    coll_unlock_side(c, COLL_SIDE_TAKE);
    if (r == 0)
        coll_take_notify(c, 1);
    return r;
}

int weft_collection_take(weft_collection *c, void **item)
{
    return weft_collection_try_take(c, item, WEFT_FOREVER);
}

/* ---- drain, close, shutdown --------------------------------------------- */

size_t weft_collection_drain(weft_collection *c, void **out, size_t max)
{
    if (!c || !out || max == 0)
        return 0;
    coll_lock_side(c, COLL_SIDE_TAKE);
    size_t k = 0;
    while (k < max && coll_take_count(c, false) > 0)
        out[k++] = coll_take_locked(c);
    c->c_st_drained += k;
    coll_unlock_side(c, COLL_SIDE_TAKE);
    if (k > 0)
        coll_take_notify(c, k);
    return k;
}

static void lock_both(weft_collection *c)
{
    coll_lock_acquire(&c->c_add_lock); /* lock order: add, then take */
    coll_lock_acquire(&c->c_take_lock);
}

static void unlock_both(weft_collection *c)
{
    coll_lock_release(&c->c_take_lock);
    coll_lock_release(&c->c_add_lock);
}

/* Joiners wait for coll_unfinished() == 0: after a change that may have
 * made it so (its seq_cst CAS of c_done), wake them all if any is
 * registered. */
static void wake_joiners(weft_collection *c)
{
    if (coll_wlist_nonempty(&c->c_joiners)) {
        coll_lock_acquire(&c->c_join_lock);
        weft__coll_wlist_signal_all(&c->c_joiners);
        coll_lock_release(&c->c_join_lock);
    }
}

/* Both locks held, adding open (state st): complete it, with err (0:
 * none). Every adder is signalled (EPIPE), and, if the collection is empty,
 * every taker (EPIPE or err); the any-variant links among them are marked. */
static void close_adding_locked(weft_collection *c, uint32_t st, int err)
{
    c->c_error = err;
    /* release: every add so far (made under c_add_lock, which we hold)
     * happens before a lock-free reader that sees the bit with acquire
     * (pairs with is_completed); lock holders see it through the locks. */
    atomic_store_explicit(&c->c_state, st | COLL_ST_ADDING_DONE, memory_order_release);
    weft__coll_wlist_signal_all(&c->c_adders);
    /* relaxed: both locks held, the indices are final now. */
    if (atomic_load_explicit(&c->c_tail, memory_order_relaxed) ==
        atomic_load_explicit(&c->c_head, memory_order_relaxed))
        weft__coll_wlist_signal_all(&c->c_takers);
}

/* Close for adding with err (0: none): 0 if this call closed it; EPIPE if
 * adding was already completed, ECANCELED if shut down (nothing changes). */
/* Whether state st still takes adders: 0, else ECANCELED (shut down) or
 * EPIPE (adding completed). */
static int adding_open(uint32_t st)
{
    return (st & COLL_ST_SHUTDOWN) ? ECANCELED : (st & COLL_ST_ADDING_DONE) ? EPIPE : 0;
}

static int close_adding(weft_collection *c, int err)
{
    lock_both(c);
    uint32_t st = coll_state_locked(c);
    int r = adding_open(st);
    if (r == 0)
        close_adding_locked(c, st, err);
    unlock_both(c);
    return r;
}

void weft_collection_complete_adding(weft_collection *c)
{
    if (c)
        (void)close_adding(c, 0);
}

int weft_collection_complete_adding_error(weft_collection *c, int err)
{
    /* The take forms' own codes other than EPIPE: err must not be mistaken
     * for one of them (collection.h, top comment). */
    if (!c || err <= 0 || err == EINVAL || err == ENOMEM || err == EAGAIN || err == ETIMEDOUT ||
        err == ECANCELED)
        return EINVAL;
    return close_adding(c, err == EPIPE ? 0 : err);
}

/* ---- producer counting ---------------------------------------------------- */

int weft_collection_add_producer(weft_collection *c)
{
    if (!c)
        return EINVAL;
    lock_both(c);
    int r = adding_open(coll_state_locked(c));
    if (r == 0)
        c->c_producers++;
    unlock_both(c);
    return r;
}

int weft_collection_producer_done(weft_collection *c)
{
    if (!c)
        return EINVAL;
    int r = 0;
    lock_both(c);
    if (c->c_producers == 0) {
        r = EINVAL;
    } else {
        uint32_t st = coll_state_locked(c);
        if (--c->c_producers == 0 && !(st & COLL_ST_ADDING_DONE))
            close_adding_locked(c, st, 0);
    }
    unlock_both(c);
    return r;
}

void weft_collection_shutdown(weft_collection *c)
{
    if (!c)
        return;
    bool zero = false;
    lock_both(c);
    uint32_t st = coll_state_locked(c);
    if (!(st & COLL_ST_SHUTDOWN)) {
        /* release: as in complete_adding. */
        atomic_store_explicit(&c->c_state, st | COLL_ST_ADDING_DONE | COLL_ST_SHUTDOWN,
                              memory_order_release);
        /* Drop the items inside from the unfinished count. Each was added
         * and not taken, so unfinished >= inside unless task_done was
         * called for items never taken; then it stops at 0. relaxed loads:
         * both locks held, so the indices and c_added are stable. seq_cst
         * CAS: the changer's half of the handshake with c_joiners. */
        size_t inside = atomic_load_explicit(&c->c_tail, memory_order_relaxed) -
                        atomic_load_explicit(&c->c_head, memory_order_relaxed);
        size_t a = atomic_load_explicit(&c->c_added, memory_order_relaxed);
        size_t d = atomic_load_explicit(&c->c_done, memory_order_relaxed);
        size_t nd;
        do {
            nd = a - d < inside ? a : d + inside;
        } while (!atomic_compare_exchange_weak_explicit(&c->c_done, &d, nd, memory_order_seq_cst,
                                                        memory_order_relaxed));
        zero = nd == a;
        weft__coll_wlist_signal_all(&c->c_adders);
        weft__coll_wlist_signal_all(&c->c_takers);
    }
    unlock_both(c);
    if (zero)
        wake_joiners(c);
}

/* ---- task_done / join --------------------------------------------------- */

int weft_collection_task_done(weft_collection *c)
{
    if (!c)
        return EINVAL;
    /* acquire (here and on CAS failure): pairs with the CAS of the
     * task_done that wrote d, whose thread had read c_added >= d, so a >= d
     * below and a == d is a true underflow (docs/design/collection.md,
     * 'task_done and weak memory'). */
    size_t d = atomic_load_explicit(&c->c_done, memory_order_acquire);
    size_t a;
    do {
        /* acquire: the add of the item being finished happened before
         * (the caller took it), so a counts it. */
        a = atomic_load_explicit(&c->c_added, memory_order_acquire);
        if (a == d)
            return EINVAL;
        /* seq_cst: the changer's half of the handshake with c_joiners
         * (wake_joiners reads its wl_n after); acquire on failure: as the
         * first load of d. */
    } while (!atomic_compare_exchange_weak_explicit(&c->c_done, &d, d + 1, memory_order_seq_cst,
                                                    memory_order_acquire));
    /* Unfinished reached 0 if no add came after our read of c_added; if
     * one did, the wake-up is spurious (joiners re-check). */
    if (d + 1 == a)
        wake_joiners(c);
    return 0;
}

int weft_collection_try_join(weft_collection *c, int64_t timeout_ns)
{
    if (!c || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    coll_wait wt = {.wt_timeout = timeout_ns};
    int r;
    coll_lock_side(c, COLL_SIDE_JOIN);
    for (;;) {
        if (coll_unfinished(c) == 0) {
            r = 0;
            break;
        }
        if ((r = weft__coll_wait_step(c, COLL_SIDE_JOIN, &c->c_joiners, &wt)) != 0)
            break;
    }
    coll_unlock_side(c, COLL_SIDE_JOIN);
    return r;
}

int weft_collection_join(weft_collection *c)
{
    return weft_collection_try_join(c, WEFT_FOREVER);
}

/* ---- snapshots ---------------------------------------------------------- */

/* Items inside now. acquire on c_head: pairs with the taker's release
 * store, and that taker had seen c_tail beyond it, so c_tail, read next, is
 * not below it (FIFO; LIFO and PRIORITY never move c_head). */
static size_t snap_count(const weft_collection *c)
{
    size_t h = atomic_load_explicit(&c->c_head, memory_order_acquire);
    return atomic_load_explicit(&c->c_tail, memory_order_relaxed) - h;
}

size_t weft_collection_count(const weft_collection *c)
{
    return c ? snap_count(c) : 0;
}

size_t weft_collection_capacity(const weft_collection *c)
{
    return c ? c->c_capacity : 0;
}

bool weft_collection_is_adding_completed(const weft_collection *c)
{
    /* relaxed: a snapshot; pairs with nothing. */
    return c && (atomic_load_explicit(&c->c_state, memory_order_relaxed) & COLL_ST_ADDING_DONE);
}

bool weft_collection_is_completed(const weft_collection *c)
{
    /* acquire: pairs with the release store of COLL_ST_ADDING_DONE, so
     * c_tail read next is final; a count of 0 then means completed for good. */
    return c && (atomic_load_explicit(&c->c_state, memory_order_acquire) & COLL_ST_ADDING_DONE) &&
           snap_count(c) == 0;
}

/* ---- statistics (docs/design/collection.md, 'Statistics') ---------------- */

int weft_collection_stats(weft_collection *c, struct weft_collection_stats *out)
{
    if (!c || !out)
        return EINVAL;
    struct weft_collection_stats s;
    lock_both(c); /* lock order: add, take, then join */
    coll_lock_acquire(&c->c_join_lock);
    /* relaxed: c_added changes only under c_add_lock, which we hold. */
    s.added = atomic_load_explicit(&c->c_added, memory_order_relaxed);
    s.taken = c->c_st_taken;
    s.drained = c->c_st_drained;
    /* relaxed: both locks held, the indices are stable (the locks pair). */
    uint64_t now = atomic_load_explicit(&c->c_tail, memory_order_relaxed) -
                   atomic_load_explicit(&c->c_head, memory_order_relaxed);
    s.max_count = c->c_st_max;
    if (c->c_st_max_take > s.max_count)
        s.max_count = c->c_st_max_take;
    if (now > s.max_count)
        s.max_count = now;
    s.add_waits = c->c_st_add_waits;
    s.add_wait_ns = c->c_st_add_wait_ns;
    s.take_waits = c->c_st_take_waits;
    s.take_wait_ns = c->c_st_take_wait_ns;
    s.join_waits = c->c_st_join_waits;
    s.join_wait_ns = c->c_st_join_wait_ns;
    coll_lock_release(&c->c_join_lock);
    unlock_both(c);
    *out = s;
    return 0;
}

/* ---- test hooks (hooks.h) ------------------------------------------------ */

size_t weft__collection_waiters(const weft_collection *c)
{
    if (!c)
        return 0;
    /* relaxed: snapshots for the test hook; pair with nothing. */
    return atomic_load_explicit(&c->c_takers.wl_n, memory_order_relaxed) +
           atomic_load_explicit(&c->c_adders.wl_n, memory_order_relaxed) +
           atomic_load_explicit(&c->c_joiners.wl_n, memory_order_relaxed);
}
