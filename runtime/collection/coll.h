/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/coll.h - the blocking collection's private header.
 *
 * Private to runtime/collection/ (the API is include/weft/collection.h).
 * Read docs/design/collection.md first; the code cites its sections by
 * name. A two-lock queue (Michael & Scott, PODC 1996) over a ring with
 * cached indices (Lamport, TOPLAS 1983; FastForward, MCRingBuffer) or a
 * heap, with per-call waiter records (Mellor-Crummey & Scott, TOCS 1991).
 *
 *   coll.h        the object, the inline fast-path helpers, what crosses files
 *   lock.h/.c     the side locks
 *   wait.c        waiter lists, sleeping, deadlines, the wait step
 *   storage.c     ring and heap, allocation and growth
 *   any.c         take_from_any / add_to_any: one link per member on its lists
 *   collection.c  the public API
 *   hooks.h       the test hooks (waiters registered, any-variant wake-ups)
 *
 * Lock order: c_add_lock, then c_take_lock, then c_join_lock. A FIFO adder
 * that grows the ring takes c_take_lock while it holds c_add_lock; shutdown
 * holds both and then takes c_join_lock. Signals that cross sides are sent
 * after the caller released its own side. A thread holds the locks of at
 * most one collection at a time. compare is called with both locks held.
 *
 * Synchronization (the full table: docs/design/collection.md,
 * 'Synchronization table'). "both" = both side locks held. LIFO and
 * PRIORITY take both locks for either side, so only FIFO has the lock-free
 * reads marked (FIFO).
 *
 *   field          written by (how)                read without that lock by (order)
 *   c_tail         adders, c_add_lock; LIFO/PRIO   FIFO takers (acquire; seq_cst when
 *                  takers, both (coll_publish)     re-checking), snapshots (relaxed)
 *   c_head         FIFO takers, c_take_lock        adders (acquire; seq_cst when
 *                  (coll_publish or release)       re-checking), snapshots (acquire)
 *   c_added        adders, c_add_lock (relaxed,    task_done, joiners (acquire)
 *                  published by c_tail)
 *   c_done         task_done, shutdown (seq_cst    joiners (seq_cst)
 *                  CAS)
 *   c_state        both (release)                  either lock (relaxed),
 *                                                  is_completed (acquire)
 *   wl_n           the list's lock (seq_cst add,   changers (seq_cst), after their
 *                  relaxed sub)                    condition-word write
 *   *w_word        signaller, list's lock          the waiter (acquire)
 *                  (release exchange)
 *   c_st_*         the lock named at the field     none (stats takes the locks)
 *   everything else: guarded by the lock named at the field, or immutable.
 */
#ifndef WEFT_RUNTIME_COLLECTION_COLL_H
#define WEFT_RUNTIME_COLLECTION_COLL_H

#include <weft/collection.h>

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/asymfence.h"
#include "base/cpu.h"
#include "collection/lock.h"

/* ---- waiter records ---------------------------------------------------- */

enum { COLL_W_AWAKE = 0, COLL_W_SIGNALLED = 1, COLL_W_SLEEPING = 2 };

/*
 * One waiting call on one list, on the call's own stack (wait.c, any.c). A
 * plain wait (add, take, join) has one record and sleeps on its own
 * w_state; a signaller pops it. An any-variant call has one link per member
 * occurrence, all pointing at the call's one futex word; a signaller marks
 * the link and leaves it listed (docs/design/collection.md, 'Any-variants').
 */
typedef struct coll_waiter {
    struct coll_waiter *w_prev; /* the list's lock */
    struct coll_waiter *w_next; /* the list's lock */
    /* The futex word a signaller sets to COLL_W_SIGNALLED: &w_state for a
     * plain record, the any-call's word for a link. Set before listing. */
    _Atomic uint32_t *w_word;
    /* Plain records: COLL_W_AWAKE (registered, not yet in the futex),
     * COLL_W_SLEEPING (in the futex or about to be), COLL_W_SIGNALLED
     * (popped by a signaller; written under the list's lock, read by the
     * waiter without it). */
    _Atomic uint32_t w_state;
    bool w_any; /* an any-variant link; set before listing */
    /* Links: signalled since the call last looked at this member (the
     * list's lock). */
    bool w_marked;
} coll_waiter;

typedef struct {
    coll_waiter *wl_head; /* the list's lock */
    coll_waiter *wl_tail; /* the list's lock */
    /* Records and links on the list. Written under the list's lock; read
     * without it by changers of the other side (docs/design/collection.md,
     * 'The waiter handshake') and by the test hook. */
    atomic_size_t wl_n;
} coll_wlist;

/* ---- the collection ---------------------------------------------------- */

enum { COLL_ST_ADDING_DONE = 1u, COLL_ST_SHUTDOWN = 2u };

typedef struct {
    void *e_item;
    uint64_t e_seq; /* insertion order: ties in PRIORITY come out FIFO */
} coll_entry;

/*
 * Cache lines: in a 1-producer 1-consumer FIFO run each side writes only its
 * own lines, and the waiter lists' line stays read-shared until somebody
 * waits (docs/design/collection.md, 'Cache-line layout'; there is no shared
 * item count, 'No shared count'). The statistics (c_st_*) sit on the line
 * of the lock that guards them, which their writer already holds.
 */
struct weft_collection {
    /* Add side: c_add_lock and what it guards. */
    alignas(WEFT__CACHE_LINE) coll_lock c_add_lock;
    size_t c_head_cache; /* a past value of c_head (<= c_head); c_add_lock */
    size_t c_head_read_at; /* c_tail when c_head_cache was read; c_add_lock */
    uint64_t c_seq;      /* PRIORITY: next sequence number; both locks */
    /* Items ever added (wraps; only differences count). Written under
     * c_add_lock, read without it by task_done and joiners. */
    atomic_size_t c_added;
    uint64_t c_st_max;         /* the largest count adders saw; c_add_lock */
    uint64_t c_st_add_waits;   /* adders' sleeps; c_add_lock */
    uint64_t c_st_add_wait_ns; /* time they slept; c_add_lock */

    /* Take side: c_take_lock and what it guards. */
    alignas(WEFT__CACHE_LINE) coll_lock c_take_lock;
    size_t c_tail_cache; /* FIFO: a past value of c_tail (<= c_tail); c_take_lock */
    uint64_t c_st_max_take;     /* the largest count takers saw; c_take_lock */
    uint64_t c_st_taken;        /* items taken by take forms; c_take_lock */
    uint64_t c_st_drained;      /* items removed by drain; c_take_lock */
    uint64_t c_st_take_waits;   /* takers' sleeps; c_take_lock */
    uint64_t c_st_take_wait_ns; /* time they slept; c_take_lock */

    /* Items sit at ring indices [c_head, c_tail) (free-running, masked by
     * c_slots - 1; PRIORITY: heap[0 .. c_tail), c_head stays 0). c_tail is
     * written by adders under c_add_lock (LIFO and PRIORITY takers too,
     * under both locks); c_head only by FIFO takers, under c_take_lock.
     * Each is read without its writer's lock by the other side
     * (docs/design/collection.md, 'Ring protocol'). */
    alignas(WEFT__CACHE_LINE) atomic_size_t c_tail;
    alignas(WEFT__CACHE_LINE) atomic_size_t c_head;

    /* Written only when a thread starts or stops waiting. Plain waiters and
     * any-variant links share each list. */
    alignas(WEFT__CACHE_LINE) coll_wlist c_takers; /* c_take_lock */
    coll_wlist c_adders;                           /* c_add_lock */

    /* task_done calls plus the items dropped by shutdown; unfinished is
     * c_added - c_done. Changed by seq_cst CAS (no lock). */
    alignas(WEFT__CACHE_LINE) atomic_size_t c_done;
    coll_lock c_join_lock;
    coll_wlist c_joiners;       /* c_join_lock */
    uint64_t c_st_join_waits;   /* joiners' sleeps; c_join_lock */
    uint64_t c_st_join_wait_ns; /* time they slept; c_join_lock */

    /* Rarely written: changed only with both locks held. */
    alignas(WEFT__CACHE_LINE) _Atomic uint32_t c_state; /* COLL_ST_* bits */
    int c_error;        /* complete_adding_error's err, 0 if none; both locks */
    size_t c_producers; /* add_producer minus producer_done; both locks */
    size_t c_slots;     /* allocated slots (ring: a power of two) */
    void **c_ring;      /* FIFO/LIFO storage */
    coll_entry *c_heap; /* PRIORITY storage */
    /* Immutable after create. */
    size_t c_capacity; /* 0: unbounded */
    weft_order c_order;
    int (*c_compare)(const void *a, const void *b);
    void (*c_release)(void *item, void *arg); /* destroy's, or NULL */
    void *c_release_arg;
};

/* Each group stays within its own line (alignas starts it). */
_Static_assert(offsetof(struct weft_collection, c_take_lock) -
                       offsetof(struct weft_collection, c_add_lock) ==
                   WEFT__CACHE_LINE,
               "the add side fits one cache line");
_Static_assert(offsetof(struct weft_collection, c_tail) -
                       offsetof(struct weft_collection, c_take_lock) ==
                   WEFT__CACHE_LINE,
               "the take side fits one cache line");
_Static_assert(2 * sizeof(coll_wlist) <= WEFT__CACHE_LINE,
               "the takers' and adders' lists share one cache line");
_Static_assert(offsetof(struct weft_collection, c_state) -
                       offsetof(struct weft_collection, c_done) ==
                   WEFT__CACHE_LINE,
               "the join side fits one cache line");

/* ---- what crosses files ------------------------------------------------ */

/* wait.c. The list's lock held: add w at the tail (raising wl_n: the
 * waiter's half of the handshake); take it off. */
void weft__coll_wlist_push(coll_wlist *l, coll_waiter *w);
void weft__coll_wlist_remove(coll_wlist *l, coll_waiter *w);
/* wait.c. The list's lock held: signal the oldest waiter not already
 * signalled (a plain record is popped, a link marked; false if there was
 * none); signal them all. */
bool weft__coll_wlist_signal_one(coll_wlist *l);
void weft__coll_wlist_signal_all(coll_wlist *l);
/* wait.c. No lock held: sleep on *word until a signaller sets it to
 * COLL_W_SIGNALLED or abs (CLOCK_MONOTONIC; NULL: no limit) passes, inside
 * a blocking section. Returns 0 (signalled, or *word was not COLL_W_AWAKE)
 * or ETIMEDOUT; *slept_ns is the time asleep, 0 if it did not sleep. */
int weft__coll_sleep(_Atomic uint32_t *word, const struct timespec *abs, uint64_t *slept_ns);
/* abs = now (CLOCK_MONOTONIC) + ns, saturating at the largest time_t. */
void weft__coll_deadline(int64_t ns, struct timespec *abs);

/* The state of one blocking call across its waits (weft__coll_wait_step). */
typedef struct {
    int64_t wt_timeout;
    struct timespec wt_abs;
    bool wt_have_deadline, wt_timed_out;
} coll_wait;

/* wait.c. The side is locked and the call cannot proceed now: EAGAIN (no
 * wait allowed) or ETIMEDOUT (an earlier wait timed out) end the caller's
 * loop; 0 means it waited (side locked again) and the caller re-checks. */
int weft__coll_wait_step(weft_collection *c, int side, coll_wlist *l, coll_wait *wt);

/* storage.c. Allocate the initial storage of a new collection whose
 * c_order and c_capacity are set (0 or ENOMEM); free it (NULL-safe). */
int weft__coll_store_init(weft_collection *c);
void weft__coll_store_fini(weft_collection *c);
/* storage.c. The add side is locked and the storage is full: grow it
 * (taking c_take_lock for FIFO). 0 or ENOMEM (nothing changed). */
int weft__coll_store_make_room(weft_collection *c);
/* storage.c. Both locks held (PRIORITY): insert item at heap[t] and sift
 * it up; take the root, n = entries left after the pop. */
void weft__coll_heap_push(weft_collection *c, void *item, size_t t);
void *weft__coll_heap_pop(weft_collection *c, size_t n);

/* ---- sides ------------------------------------------------------------- */

enum { COLL_SIDE_ADD, COLL_SIDE_TAKE, COLL_SIDE_JOIN };

/* Only FIFO has independent ends; LIFO and PRIORITY use both locks. */
COLL_INLINE bool coll_split(const weft_collection *c)
{
    return c->c_order == WEFT_ORDER_FIFO;
}

COLL_INLINE void coll_lock_side(weft_collection *c, int side)
{
    if (side == COLL_SIDE_JOIN) {
        coll_lock_acquire(&c->c_join_lock);
        return;
    }
    if (side == COLL_SIDE_ADD || !coll_split(c))
        coll_lock_acquire(&c->c_add_lock);
    if (side == COLL_SIDE_TAKE || !coll_split(c))
        coll_lock_acquire(&c->c_take_lock);
}

COLL_INLINE void coll_unlock_side(weft_collection *c, int side)
{
    if (side == COLL_SIDE_JOIN) {
        coll_lock_release(&c->c_join_lock);
        return;
    }
    if (side == COLL_SIDE_TAKE || !coll_split(c))
        coll_lock_release(&c->c_take_lock);
    if (side == COLL_SIDE_ADD || !coll_split(c))
        coll_lock_release(&c->c_add_lock);
}

/* c_state under either lock. relaxed: it changes only with both locks
 * held, and the caller holds one of them (pairs with that lock). */
COLL_INLINE uint32_t coll_state_locked(const weft_collection *c)
{
    return atomic_load_explicit(&c->c_state, memory_order_relaxed);
}

/* Either lock held, adding completed and the collection empty: what a take
 * reports, the err of complete_adding_error or EPIPE. */
COLL_INLINE int coll_closed_code(const weft_collection *c)
{
    return c->c_error ? c->c_error : EPIPE;
}

/* ---- the handshakes, changer's half ------------------------------------ */

/* Store an index that a waiter may be re-reading. release: publishes the
 * slot (or frees it); the compiler fence keeps the waiter-count load that
 * follows after the store, which is all membarrier needs; without
 * membarrier, seq_cst. Pairs with the waiter's raise + membarrier
 * (docs/design/collection.md, 'Asymmetric fence'). */
static inline void coll_publish(atomic_size_t *idx, size_t v)
{
    if (weft__asym) {
        atomic_store_explicit(idx, v, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        atomic_store_explicit(idx, v, memory_order_seq_cst);
    }
}

/* Whether l has waiters, after the condition-word write (coll_publish, or
 * task_done's seq_cst CAS). seq_cst pairs with the raise in wait.c's
 * wlist_push (a plain load on x86). */
COLL_INLINE bool coll_wlist_nonempty(coll_wlist *l)
{
    return atomic_load_explicit(&l->wl_n, memory_order_seq_cst) != 0;
}

/* ---- counts as each side sees them ------------------------------------- */

/*
 * The add side is locked. Returns the number of items as the adder may
 * assume (at least the true number: c_head only grows, and c_tail is ours).
 * The cached c_head is refreshed only when the cached count reaches
 * min(capacity, slots), or always with fresh. acquire on c_head: pairs with
 * the taker's release store, so its read of a slot we may overwrite
 * happened before; with fresh, seq_cst: the adder's half of the handshake
 * with c_adders.wl_n (the wait re-check and the any-variant scans).
 * relaxed on c_tail: only holders of the add side write it.
 */
COLL_INLINE size_t coll_add_count(weft_collection *c, bool fresh)
{
    size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed);
    size_t lim = c->c_slots;
    if (c->c_capacity && c->c_capacity < lim)
        lim = c->c_capacity;
    if (fresh)
        c->c_head_cache = atomic_load_explicit(&c->c_head, memory_order_seq_cst);
    else if (t - c->c_head_cache >= lim)
        c->c_head_cache = atomic_load_explicit(&c->c_head, memory_order_acquire);
    else
        return t - c->c_head_cache;
    /* Just read: the count is exact here, a look for the statistics (and
     * coll_add_locked's, if it adds at this c_tail). */
    c->c_head_read_at = t;
    if (t - c->c_head_cache > c->c_st_max)
        c->c_st_max = t - c->c_head_cache;
    return t - c->c_head_cache;
}

/*
 * The take side is locked. Returns the number of items the taker may assume
 * (at most the true number). FIFO: the cached c_tail is refreshed only when
 * the cached count is 0, or always with fresh; acquire pairs with the
 * adder's store of c_tail, which published the slot; with fresh, seq_cst:
 * the taker's half of the handshake with c_takers.wl_n.
 * relaxed on c_head: only holders of the take side write it. LIFO and
 * PRIORITY hold both locks: relaxed is exact there (the locks pair).
 */
COLL_INLINE size_t coll_take_count(weft_collection *c, bool fresh)
{
    size_t h = atomic_load_explicit(&c->c_head, memory_order_relaxed);
    if (!coll_split(c))
        return atomic_load_explicit(&c->c_tail, memory_order_relaxed) - h;
    if (fresh)
        c->c_tail_cache = atomic_load_explicit(&c->c_tail, memory_order_seq_cst);
    else if (c->c_tail_cache == h)
        c->c_tail_cache = atomic_load_explicit(&c->c_tail, memory_order_acquire);
    else
        return c->c_tail_cache - h;
    /* Just read: the count is exact here, a look for the statistics. */
    if (c->c_tail_cache - h > c->c_st_max_take)
        c->c_st_max_take = c->c_tail_cache - h;
    return c->c_tail_cache - h;
}

/* Items unfinished now: c_added - c_done. Read c_done first: then c_added,
 * read later, is at least what c_done counts, and the difference does not
 * wrap. seq_cst on c_done: the joiner's half of the handshake with the
 * seq_cst CAS in task_done/shutdown. acquire on c_added (a past add): its
 * stores are relaxed, so it pairs with none; an add that happened before
 * (through the c_tail release the taker acquired) is counted by coherence. */
static inline size_t coll_unfinished(weft_collection *c)
{
    size_t d = atomic_load_explicit(&c->c_done, memory_order_seq_cst);
    return atomic_load_explicit(&c->c_added, memory_order_acquire) - d;
}

/* ---- one add, one take (side locked) ----------------------------------- */

/* The add side is locked and n = coll_add_count(): make room for one more
 * item. 0 or ENOMEM (nothing changed). */
COLL_INLINE int coll_store_reserve(weft_collection *c, size_t n)
{
    if (n < c->c_slots)
        return 0;
    return weft__coll_store_make_room(c);
}

/*
 * The add side is locked, adding is open and n = coll_add_count() is below
 * the capacity. Stores item: 0 or ENOMEM (nothing changed).
 */
COLL_INLINE int coll_add_locked(weft_collection *c, void *item, size_t n)
{
    int r = coll_store_reserve(c, n);
    if (r)
        return r;
    /* relaxed: only holders of c_add_lock write these two; the c_tail store
     * below (release) publishes c_added with the item, so the task_done of
     * whoever takes it sees it counted. */
    size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed);
    atomic_store_explicit(&c->c_added, atomic_load_explicit(&c->c_added, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (c->c_order == WEFT_ORDER_PRIORITY)
        weft__coll_heap_push(c, item, t);
    else
        c->c_ring[t & (c->c_slots - 1)] = item;
    /* n is exact where c_head never moves (LIFO, PRIORITY) or was read at
     * this very c_tail; elsewhere it only bounds the count from above and
     * the maximum is left to the next look ('Statistics'). */
    if (n + 1 > c->c_st_max && (!coll_split(c) || c->c_head_read_at == t))
        c->c_st_max = n + 1;
    /* Publishes the slot to the taker that reads the new c_tail (acquire),
     * and is the adder's half of the handshake with c_takers.wl_n, read
     * after it (coll_add_notify). */
    coll_publish(&c->c_tail, t + 1);
    return 0;
}

/*
 * The take side is locked and coll_take_count() > 0: remove the next item
 * in take order. The take that empties a collection whose adding is
 * completed wakes every taker (they report EPIPE).
 */
COLL_INLINE void *coll_take_locked(weft_collection *c)
{
    void *item;
    /* relaxed: see coll_take_count; the FIFO slot was published by the
     * acquire load of c_tail there. */
    size_t h = atomic_load_explicit(&c->c_head, memory_order_relaxed);
    if (coll_split(c)) {
        item = c->c_ring[h & (c->c_slots - 1)];
        /* release: the slot is free for the adder that reads the new c_head
         * (acquire, coll_add_count). A bounded collection also needs the
         * handshake with c_adders.wl_n (coll_take_notify); an unbounded one
         * has no adder that waits for room. */
        if (c->c_capacity)
            coll_publish(&c->c_head, h + 1);
        else
            atomic_store_explicit(&c->c_head, h + 1, memory_order_release);
        h++;
    } else {
        /* Both locks: the lock orders this against waiters of c (and
         * c_tail's other readers hold a lock too). */
        size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed) - 1;
        if (c->c_order == WEFT_ORDER_LIFO)
            item = c->c_ring[t & (c->c_slots - 1)];
        else
            item = weft__coll_heap_pop(c, t);
        coll_publish(&c->c_tail, t);
    }
    /* COLL_ST_ADDING_DONE cannot change while we hold c_take_lock, and once
     * it is set c_tail is final (relaxed; read only then, so that a FIFO
     * taker does not pull the adder's line on every take). This also marks
     * the any-variant links: a member that just completed is news to them. */
    if ((coll_state_locked(c) & COLL_ST_ADDING_DONE) &&
        h == atomic_load_explicit(&c->c_tail, memory_order_relaxed))
        weft__coll_wlist_signal_all(&c->c_takers);
    return item;
}

/* ---- notifications across sides (no lock held) ------------------------- */

/* After an add released its side: signal one taker (a plain one or an
 * any-variant link) if any is registered. */
COLL_INLINE void coll_add_notify(weft_collection *c)
{
    if (coll_wlist_nonempty(&c->c_takers)) {
        coll_lock_side(c, COLL_SIDE_TAKE);
        weft__coll_wlist_signal_one(&c->c_takers);
        coll_unlock_side(c, COLL_SIDE_TAKE);
    }
}

/* After k items were taken and the take side released: signal one adder
 * per freed slot (only a bounded collection has adders waiting for room;
 * the take that completes a collection marks its takers itself, in
 * coll_take_locked). */
COLL_INLINE void coll_take_notify(weft_collection *c, size_t k)
{
    if (c->c_capacity && coll_wlist_nonempty(&c->c_adders)) {
        coll_lock_side(c, COLL_SIDE_ADD);
        for (size_t i = 0; i < k && weft__coll_wlist_signal_one(&c->c_adders); i++)
            ;
        coll_unlock_side(c, COLL_SIDE_ADD);
    }
}

#endif /* WEFT_RUNTIME_COLLECTION_COLL_H */
