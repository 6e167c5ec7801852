/*
 * runtime/collection.c - the blocking collection (include/weft/collection.h).
 *
 * Design
 * ------
 * Two locks per collection, after the two-lock queue of M. M. Michael and
 * M. L. Scott ("Simple, Fast, and Practical Non-Blocking and Blocking
 * Concurrent Queue Algorithms", PODC 1996): c_add_lock serialises adders,
 * c_take_lock serialises takers. Storage is a ring array (FIFO, LIFO) or a
 * binary min-heap of (item, sequence number) entries (PRIORITY, stable by
 * the sequence number); nothing is allocated per item; the ring doubles
 * when full (a bounded one up to its capacity).
 *
 * Only FIFO is split. LIFO and PRIORITY touch the same end (or the whole
 * heap) from both sides, so their "add side" and "take side" both mean
 * "both locks" (lock_side). The code paths are the same.
 *
 * Ring protocol (FIFO), after Lamport's single-producer single-consumer
 * ring (L. Lamport, "Specifying Concurrent Program Modules", TOPLAS 1983)
 * with each side caching the other's index (as in FastForward, Giacomoni
 * et al., PPoPP 2008, and MCRingBuffer, Lee et al., ANCS 2009); the locks
 * turn "one producer, one consumer" into "one adder at a time, one taker at
 * a time". Items sit at [c_head, c_tail) (free-running indices, masked by
 * c_slots - 1). An adder writes slot c_tail, then stores c_tail + 1
 * (release: publishes the slot). A taker that sees c_tail > c_head
 * (acquire) reads slot c_head, then stores c_head + 1 (release: the slot is
 * free). An adder that sees c_tail - c_head < c_slots (acquire on c_head)
 * may overwrite slot c_tail. Each side reads the other's index only when
 * its cached copy (c_head_cache, c_tail_cache) says full or empty, so while
 * the consumer lags, a take costs no transfer of the producer's lines and
 * an add none of the consumer's, except the slots themselves. Everything
 * else about the storage (c_ring, c_slots, growth, and all of LIFO and
 * PRIORITY) changes only with both locks held, so either lock is enough to
 * read it. The state bits (c_state) also change only with both locks held.
 *
 * There is no shared item count: measured (bench/bench_queue, 1P1C), an
 * atomic count that both sides update on every call (the classic two-lock
 * blocking queue, e.g. java.util.concurrent.LinkedBlockingQueue) moves its
 * cache line about three times per item and was slower than one lock.
 * The unfinished count is c_added (adders, under c_add_lock) minus c_done
 * (task_done and shutdown, by CAS), for the same reason.
 *
 * Waiting. A call that must wait pushes a waiter record (on its own stack)
 * onto one of three intrusive lists, each guarded by one lock: c_takers
 * (c_take_lock), c_adders (c_add_lock), c_joiners (c_join_lock); then it
 * sleeps on the record's own futex word. A signaller pops a record under
 * the list's lock and marks it signalled, so N adds wake N distinct takers.
 * A woken waiter re-checks under its lock (a barging caller may have taken
 * the item; the woken one then waits again), and re-checks before it
 * reports ETIMEDOUT, so a signalled waiter never leaves an item behind.
 *
 * Because an adder does not hold c_take_lock, "is a taker waiting?" is a
 * Dekker-style handshake, not a lock: the waiter raises its list's wl_n
 * and then re-reads the condition word (c_tail for takers, c_head for
 * adders, c_done for joiners); the changer writes the condition word and
 * then reads wl_n. With seq_cst on both sides, the single total order of
 * seq_cst operations makes one of the two reads see the other's write (the
 * index stores use membarrier(2) instead where the kernel has it: see
 * "asymmetric fence"), so either the waiter does not sleep or the changer
 * takes the list's lock and signals (at worst a record that was already
 * leaving: a spurious wake-up). wl_n sits on a
 * line that is written only when someone starts or stops waiting, so in
 * the common case it stays shared in both caches and the check is a hit.
 * A bounded FIFO waiter makes its membarrier with its side unlocked, so
 * that the changer can pop its record meanwhile (wait_on says why).
 *
 * Cost of the uncontended paths (what bench_queue --st measures): one
 * locked instruction per add and per take where membarrier(2) exists (the
 * lock's CAS; the release, the index publication and the waiter checks are
 * plain stores and loads, see "asymmetric fence"), against two per call
 * for a pthread mutex (lock and unlock).
 *
 * Waiting on several collections (take_from_any, add_to_any) uses a global
 * generation word, any_gen, because a call may name any number of
 * collections and we do not want to allocate a record per member. The
 * waiter raises c_any_waiters of every member (seq_cst), reads any_gen,
 * scans every member (under the member's side lock, reading the other
 * side's index seq_cst), and sleeps on any_gen if nothing can proceed. An
 * add (and a take of a bounded collection) reads c_any_waiters after its
 * index store (coll_publish) and, if non-zero, bumps any_gen and wakes
 * every sleeper on it: the same Dekker argument as above. State bits
 * change under both locks, so for them the argument goes through the lock
 * the scan held (the raise precedes the scan's unlock). The cost: a change
 * of any collection with any-waiters wakes every any-waiter in the process,
 * which then rescans (a spurious wake-up, not a busy poll; ordinary takers
 * and adders never pay it).
 *
 * Lock order: c_add_lock, then c_take_lock, then c_join_lock (an adder that
 * must grow the ring takes c_take_lock while it holds c_add_lock; shutdown
 * holds both and then takes c_join_lock). Signals that cross sides (an add
 * waking a taker, a take waking an adder) are sent after the caller
 * released its own side. A thread holds the locks of at most one collection
 * at a time (any-variants lock the members one after another). compare is
 * called with both locks held.
 *
 * References: M. M. Michael and M. L. Scott, PODC 1996 (two-lock queue);
 * L. Lamport, TOPLAS 1983, and the cached-index rings cited above;
 * U. Drepper, "Futexes Are Tricky" (2011), mutex #3, and Dice, Lev and
 * Moir, "Asymmetric Dekker Synchronization" (2001), for the locks;
 * Dekker's mutual exclusion argument (E. W. Dijkstra, 1965) for the
 * handshake; membarrier(2); waiter records per call are the
 * classic "specific notification" queue (Mellor-Crummey and Scott, TOCS 1991).
 */
#define _GNU_SOURCE
#include <weft/collection.h>

#include "base/alloc.h"
#include "base/asymfence.h"
#include "base/cpu.h"
#include "base/debug.h"
#include "base/futex.h"
#include "collection/hooks.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- tuning ---------------------------------------------------------- */

/* With membarrier, rounds of sched_yield a contended lock tries before it
 * takes the slow path (membarrier + futex). */
#ifndef COLL_LOCK_YIELDS
#define COLL_LOCK_YIELDS 2
#endif
/* Initial storage (slots); grows by doubling. */
#define COLL_INITIAL_SLOTS 64

/* The uncontended add and take paths are a few dozen instructions; keep
 * them free of calls (callgrind: bench_queue --st). Slow paths stay out of
 * line (COLL_NOINLINE). */
#if defined(__GNUC__)
#define COLL_INLINE static inline __attribute__((always_inline))
#define COLL_NOINLINE static __attribute__((noinline))
#else
#define COLL_INLINE static inline
#define COLL_NOINLINE static
#endif

/* The publisher's half: store an index that a waiter may be re-reading.
 * release: publishes the slot (or frees it). The compiler fence keeps the
 * waiter-count load that follows after the store in program order, which
 * is all membarrier needs; without membarrier, seq_cst (file comment). */
static inline void coll_publish(atomic_size_t *idx, size_t v)
{
    if (weft__asym) {
        atomic_store_explicit(idx, v, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        atomic_store_explicit(idx, v, memory_order_seq_cst);
    }
}

/* ---- the locks ---------------------------------------------------------- */

/*
 * Without membarrier (and under TSan): U. Drepper's mutex #3 ("Futexes Are
 * Tricky"): l_word is COLL_LOCK_FREE, COLL_LOCK_HELD or COLL_LOCK_CONTENDED, and the
 * release is an exchange that tells whether to wake.
 *
 * With membarrier (weft__asym): an asymmetric lock, so that an uncontended
 * acquire/release pair costs one locked instruction, not two (each 4-6 ns
 * here, the bulk of an uncontended add or take). l_word is COLL_LOCK_FREE or
 * COLL_LOCK_HELD; a thread that must sleep first raises l_waiters and calls
 * membarrier, then retries the CAS and sleeps while l_word == COLL_LOCK_HELD.
 * The release is "store COLL_LOCK_FREE (release); compiler fence; read
 * l_waiters", and wakes one sleeper if it is non-zero. Either the releaser
 * sees the raised count, or its store is visible to the waiter's CAS after
 * the membarrier (the same argument as for coll_publish); the count stays
 * raised while the waiter loops, so one membarrier per slow acquisition is
 * enough. (The idea: Dice, Lev and Moir, "Asymmetric Dekker
 * Synchronization", 2001; made sound by membarrier(2).)
 */
enum { COLL_LOCK_FREE = 0, COLL_LOCK_HELD = 1, COLL_LOCK_CONTENDED = 2 };

typedef struct {
    _Atomic uint32_t l_word;    /* COLL_LOCK_FREE, COLL_LOCK_HELD (, COLL_LOCK_CONTENDED) */
    _Atomic uint32_t l_waiters; /* weft__asym: threads in the slow path */
} coll_lock;

COLL_NOINLINE void coll_lock_acquire_slow(coll_lock *l)
{
    uint32_t expect;
    if (weft__asym) {
        /* The membarrier below costs an interrupt on every other core
         * running this process; first give the holder a chance to finish
         * (on an oversubscribed machine it is often preempted). */
        for (int i = 0; i < COLL_LOCK_YIELDS; i++) {
            sched_yield();
            expect = COLL_LOCK_FREE;
            /* acquire: as in coll_lock_acquire. */
            if (atomic_compare_exchange_strong_explicit(&l->l_word, &expect, COLL_LOCK_HELD,
                                                        memory_order_acquire,
                                                        memory_order_relaxed))
                return;
        }
        /* seq_cst: ordered before the membarrier and the CAS below (the
         * releaser reads it after its store; see above). */
        atomic_fetch_add_explicit(&l->l_waiters, 1, memory_order_seq_cst);
        weft__asym_heavy();
        for (;;) {
            expect = COLL_LOCK_FREE;
            /* acquire: as in coll_lock_acquire. */
            if (atomic_compare_exchange_strong_explicit(&l->l_word, &expect, COLL_LOCK_HELD,
                                                        memory_order_acquire,
                                                        memory_order_relaxed))
                break;
            weft__futex_wait_until(&l->l_word, COLL_LOCK_HELD, NULL);
        }
        /* relaxed: a stale non-zero only costs a releaser a futex wake. */
        atomic_fetch_sub_explicit(&l->l_waiters, 1, memory_order_relaxed);
        return;
    }
    /* Mark contended so that the holder's release wakes us (Drepper #3);
     * acquire as above when the exchange finds the lock free. */
    while (atomic_exchange_explicit(&l->l_word, COLL_LOCK_CONTENDED, memory_order_acquire) !=
           COLL_LOCK_FREE)
        weft__futex_wait_until(&l->l_word, COLL_LOCK_CONTENDED, NULL);
}

COLL_INLINE void coll_lock_acquire(coll_lock *l)
{
    uint32_t expect = COLL_LOCK_FREE;
    /* acquire: pairs with the release store/exchange in coll_lock_release,
     * so the previous holder's writes to the guarded fields are visible. */
    if (!atomic_compare_exchange_strong_explicit(&l->l_word, &expect, COLL_LOCK_HELD,
                                                 memory_order_acquire, memory_order_relaxed))
        coll_lock_acquire_slow(l);
}

COLL_INLINE void coll_lock_release(coll_lock *l)
{
    if (weft__asym) {
        /* release: publishes the critical section to the next acquirer.
         * The compiler fence keeps the l_waiters read after the store, which
         * is all the membarrier argument needs; relaxed read likewise. */
        atomic_store_explicit(&l->l_word, COLL_LOCK_FREE, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&l->l_waiters, memory_order_relaxed) != 0)
            weft__futex_wake(&l->l_word, 1);
        return;
    }
    /* release: as above; the exchange tells whether anyone sleeps. */
    if (atomic_exchange_explicit(&l->l_word, COLL_LOCK_FREE, memory_order_release) ==
        COLL_LOCK_CONTENDED)
        weft__futex_wake(&l->l_word, 1);
}

/* ---- waiter records -------------------------------------------------- */

enum { COLL_W_AWAKE = 0, COLL_W_SIGNALLED = 1, COLL_W_SLEEPING = 2 };

typedef struct coll_waiter {
    struct coll_waiter *w_prev; /* the list's lock */
    struct coll_waiter *w_next; /* the list's lock */
    /* COLL_W_AWAKE (registered, not yet in the futex), COLL_W_SLEEPING (in the futex
     * or about to be), COLL_W_SIGNALLED (popped from the list by a signaller;
     * written under the list's lock, read by the waiter without it). */
    _Atomic uint32_t w_state;
} coll_waiter;

typedef struct {
    coll_waiter *wl_head; /* the list's lock */
    coll_waiter *wl_tail; /* the list's lock */
    /* Records on the list. Written under the list's lock; read without it
     * by changers of the other side (the Dekker handshake, file comment)
     * and by the test hook. */
    atomic_size_t wl_n;
} coll_wlist;

/* ---- the collection -------------------------------------------------- */

enum { COLL_ST_ADDING_DONE = 1u, COLL_ST_SHUTDOWN = 2u };

typedef struct {
    void *e_item;
    uint64_t e_seq; /* insertion order: ties in PRIORITY come out FIFO */
} coll_entry;

/*
 * Cache-line layout. In a 1-producer 1-consumer FIFO run the producer
 * writes only its own lines (add side, c_tail) and the consumer only its
 * own (take side, c_head); each reads the other's index only when its
 * cached copy says "full" or "empty", and the waiter lists' line is read-
 * shared until somebody waits. Measured (bench_queue, see the tuning note):
 * a single shared count word written by both sides on every call moved
 * its line three times per item and halved throughput, so there is none.
 */
struct weft_collection {
    /* Add side: c_add_lock and what it guards. */
    alignas(WEFT__CACHE_LINE) coll_lock c_add_lock;
    size_t c_head_cache;      /* a past value of c_head (<= c_head); c_add_lock */
    uint64_t c_seq;           /* PRIORITY: next sequence number; both locks */
    /* Items ever added (wraps; only differences count). Written under
     * c_add_lock, read without it by task_done and joiners. */
    atomic_size_t c_added;

    /* Take side: c_take_lock and what it guards. */
    alignas(WEFT__CACHE_LINE) coll_lock c_take_lock;
    size_t c_tail_cache;      /* FIFO: a past value of c_tail (<= c_tail); c_take_lock */

    /* Items sit at ring indices [c_head, c_tail) (free-running, masked by
     * c_slots - 1; PRIORITY: heap[0 .. c_tail), c_head stays 0). c_tail is
     * written by adders under c_add_lock (LIFO and PRIORITY takers too,
     * under both locks); c_head only by FIFO takers, under c_take_lock.
     * Each is read without its writer's lock by the other side (the ring
     * protocol in the file comment). */
    alignas(WEFT__CACHE_LINE) atomic_size_t c_tail;
    alignas(WEFT__CACHE_LINE) atomic_size_t c_head;

    /* Written only when a thread starts or stops waiting. */
    alignas(WEFT__CACHE_LINE) coll_wlist c_takers; /* c_take_lock */
    coll_wlist c_adders;                          /* c_add_lock */
    /* Any-variant calls registered on this collection (one per occurrence
     * in their cs). Raised/lowered without a lock (file comment). */
    atomic_size_t c_any_waiters;

    /* task_done calls plus the items dropped by shutdown; unfinished is
     * c_added - c_done. Changed by seq_cst CAS (no lock). */
    alignas(WEFT__CACHE_LINE) atomic_size_t c_done;
    coll_lock c_join_lock;
    coll_wlist c_joiners; /* c_join_lock */

    /* Rarely written: changed only with both locks held. */
    alignas(WEFT__CACHE_LINE) _Atomic uint32_t c_state; /* COLL_ST_* bits */
    size_t c_slots;     /* allocated slots (ring: a power of two) */
    void **c_ring;      /* FIFO/LIFO storage */
    coll_entry *c_heap; /* PRIORITY storage */
    /* Immutable after create. */
    size_t c_capacity; /* 0: unbounded */
    weft_order c_order;
    int (*c_compare)(const void *a, const void *b);
};

_Static_assert(2 * sizeof(coll_wlist) + sizeof(atomic_size_t) <= WEFT__CACHE_LINE,
               "the waiter lists and c_any_waiters share one cache line");

/* Global generation for multi-collection waits (see the file comment). */
static _Atomic uint32_t any_gen;

/* ---- sides ------------------------------------------------------------ */

enum { COLL_SIDE_ADD, COLL_SIDE_TAKE, COLL_SIDE_JOIN };

/* Only FIFO has independent ends; LIFO and PRIORITY use both locks. */
COLL_INLINE bool coll_split(const weft_collection *c)
{
    return c->c_order == WEFT_ORDER_FIFO;
}

COLL_INLINE void lock_side(weft_collection *c, int side)
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

COLL_INLINE void unlock_side(weft_collection *c, int side)
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

/* c_state under either lock. relaxed: it changes only with both locks
 * held, and the caller holds one of them. */
COLL_INLINE uint32_t state_locked(const weft_collection *c)
{
    return atomic_load_explicit(&c->c_state, memory_order_relaxed);
}

/* ---- lists (under the list's lock) ------------------------------------ */

static void wlist_push(coll_wlist *l, coll_waiter *w)
{
    w->w_next = NULL;
    w->w_prev = l->wl_tail;
    if (l->wl_tail)
        l->wl_tail->w_next = w;
    else
        l->wl_head = w;
    l->wl_tail = w;
    /* seq_cst: the waiter's half of the handshake; the re-check of the
     * condition word that follows must not be ordered before it. */
    atomic_fetch_add_explicit(&l->wl_n, 1, memory_order_seq_cst);
}

static void wlist_remove(coll_wlist *l, coll_waiter *w)
{
    if (w->w_prev)
        w->w_prev->w_next = w->w_next;
    else
        l->wl_head = w->w_next;
    if (w->w_next)
        w->w_next->w_prev = w->w_prev;
    else
        l->wl_tail = w->w_prev;
    /* relaxed: a stale non-zero read by a changer only costs it a trip to
     * the list's lock; the list itself is guarded by the lock. */
    atomic_fetch_sub_explicit(&l->wl_n, 1, memory_order_relaxed);
}

/* Pop the oldest waiter of l and signal it. Under l's lock, so that the
 * record is alive (its owner must take the lock before it leaves). */
COLL_NOINLINE bool wlist_signal_one(coll_wlist *l)
{
    coll_waiter *w = l->wl_head;
    if (!w)
        return false;
    wlist_remove(l, w);
    /* release: pairs with the waiter's acquire load/CAS on w_state; the
     * waiter re-takes the lock anyway before it reads the collection. */
    if (atomic_exchange_explicit(&w->w_state, COLL_W_SIGNALLED, memory_order_release) ==
        COLL_W_SLEEPING)
        weft__futex_wake(&w->w_state, 1);
    return true;
}

COLL_NOINLINE void wlist_signal_all(coll_wlist *l)
{
    while (wlist_signal_one(l))
        ;
}

/* Whether l has waiters: the changer's half of the handshake, after its
 * write of the condition word (coll_publish, or task_done's seq_cst CAS).
 * seq_cst pairs with wlist_push (a plain load on x86). */
COLL_INLINE bool wlist_nonempty(coll_wlist *l)
{
    return atomic_load_explicit(&l->wl_n, memory_order_seq_cst) != 0;
}

/* ---- time ------------------------------------------------------------ */

#define COLL_TIME_T_MAX ((time_t)(((uintmax_t)1 << (sizeof(time_t) * CHAR_BIT - 1)) - 1))

/* abs = now (CLOCK_MONOTONIC) + ns, saturating at the largest time_t. */
static void coll_deadline(int64_t ns, struct timespec *abs)
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

/* Sleep until w is signalled or abs passes. Returns 0 (signalled or a
 * spurious wake-up) or ETIMEDOUT; the caller re-checks under its side's
 * lock. */
static int coll_waiter_sleep(coll_waiter *w, const struct timespec *abs)
{
    uint32_t expect = COLL_W_AWAKE;
    /* acquire on failure: the signaller's release exchange (pairs). */
    if (!atomic_compare_exchange_strong_explicit(&w->w_state, &expect, COLL_W_SLEEPING,
                                                 memory_order_acquire, memory_order_acquire))
        return 0; /* already signalled */
    for (;;) {
        int r = weft__futex_wait_until(&w->w_state, COLL_W_SLEEPING, abs);
        /* acquire: pairs with the signaller's release exchange. */
        if (atomic_load_explicit(&w->w_state, memory_order_acquire) == COLL_W_SIGNALLED)
            return 0;
        if (r == ETIMEDOUT)
            return ETIMEDOUT;
    }
}

/* ---- counts as each side sees them -------------------------------------- */

/*
 * The add side is locked. Returns the number of items as the adder may
 * assume (at least the true number: c_head only grows, and c_tail is ours).
 * The cached c_head is refreshed only when the cached count reaches
 * min(capacity, slots), or always with fresh. acquire on c_head: pairs with
 * the taker's store, so its read of a slot we may overwrite happened before;
 * with fresh, seq_cst: the adder's half of the handshake with c_adders.wl_n
 * (wait_on re-checks with it after registering) and with c_any_waiters (the
 * any-variant scans). relaxed on c_tail: only holders of the add side write
 * it.
 */
COLL_INLINE size_t add_count(weft_collection *c, bool fresh)
{
    size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed);
    size_t lim = c->c_slots;
    if (c->c_capacity && c->c_capacity < lim)
        lim = c->c_capacity;
    if (fresh)
        c->c_head_cache = atomic_load_explicit(&c->c_head, memory_order_seq_cst);
    else if (t - c->c_head_cache >= lim)
        c->c_head_cache = atomic_load_explicit(&c->c_head, memory_order_acquire);
    return t - c->c_head_cache;
}

/*
 * The take side is locked. Returns the number of items the taker may assume
 * (at most the true number). FIFO: the cached c_tail is refreshed only when
 * the cached count is 0, or always with fresh; acquire pairs with the adder's
 * store of c_tail, which published the slot; with fresh, seq_cst: the
 * taker's half of the handshake with c_takers.wl_n / c_any_waiters. LIFO and
 * PRIORITY hold both locks: relaxed is exact there.
 */
COLL_INLINE size_t take_count(weft_collection *c, bool fresh)
{
    size_t h = atomic_load_explicit(&c->c_head, memory_order_relaxed);
    if (!coll_split(c))
        return atomic_load_explicit(&c->c_tail, memory_order_relaxed) - h;
    if (fresh)
        c->c_tail_cache = atomic_load_explicit(&c->c_tail, memory_order_seq_cst);
    else if (c->c_tail_cache == h)
        c->c_tail_cache = atomic_load_explicit(&c->c_tail, memory_order_acquire);
    return c->c_tail_cache - h;
}

/* ---- storage ---------------------------------------------------------- */

static bool heap_less(const weft_collection *c, const coll_entry *a, const coll_entry *b)
{
    int r = c->c_compare(a->e_item, b->e_item);
    return r < 0 || (r == 0 && a->e_seq < b->e_seq);
}

/*
 * Both locks held: double the storage if it is full. 0 or ENOMEM (nothing
 * changed). The ring keeps its free-running indices (slot i moves from
 * i & old mask to i & new mask), so both sides' cached indices stay valid.
 * relaxed loads: both locks held, nobody else writes the indices now.
 */
COLL_NOINLINE int store_grow(weft_collection *c)
{
    size_t h = atomic_load_explicit(&c->c_head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed);
    if (t - h < c->c_slots)
        return 0;
    size_t slots = c->c_slots * 2;
    if (c->c_order == WEFT_ORDER_PRIORITY) {
        if (c->c_capacity && slots > c->c_capacity)
            slots = c->c_capacity;
        if (slots < c->c_slots || slots > SIZE_MAX / sizeof(coll_entry))
            return ENOMEM;
        coll_entry *e = weft__malloc(slots * sizeof *e);
        if (!e)
            return ENOMEM;
        memcpy(e, c->c_heap, t * sizeof *e);
        weft__free(c->c_heap);
        c->c_heap = e;
    } else {
        if (slots < c->c_slots || slots > SIZE_MAX / sizeof(void *))
            return ENOMEM;
        void **r = weft__malloc(slots * sizeof *r);
        if (!r)
            return ENOMEM;
        for (size_t i = h; i != t; i++)
            r[i & (slots - 1)] = c->c_ring[i & (c->c_slots - 1)];
        weft__free(c->c_ring);
        c->c_ring = r;
    }
    c->c_slots = slots;
    return 0;
}

/* The add side is locked and n = add_count(): make room for one more item.
 * A FIFO adder takes c_take_lock for the copy (lock order add, then take). */
static int store_reserve(weft_collection *c, size_t n)
{
    if (n < c->c_slots)
        return 0;
    if (coll_split(c))
        coll_lock_acquire(&c->c_take_lock);
    int r = store_grow(c);
    if (coll_split(c))
        coll_lock_release(&c->c_take_lock);
    return r;
}

/* Both locks held (PRIORITY): sift item up from heap[t]. */
COLL_NOINLINE void heap_push(weft_collection *c, void *item, size_t t)
{
    coll_entry e = {item, c->c_seq++};
    size_t i = t;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(c, &e, &c->c_heap[p]))
            break;
        c->c_heap[i] = c->c_heap[p];
        i = p;
    }
    c->c_heap[i] = e;
}

/* Both locks held (PRIORITY), n = entries left after the pop: take the root
 * and sift heap[n] down from it; the taken root is never compared again. */
COLL_NOINLINE void *heap_pop(weft_collection *c, size_t n)
{
    void *item = c->c_heap[0].e_item;
    if (n > 0) {
        coll_entry last = c->c_heap[n];
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1;
            if (l >= n)
                break;
            size_t m = l;
            if (l + 1 < n && heap_less(c, &c->c_heap[l + 1], &c->c_heap[l]))
                m = l + 1;
            if (!heap_less(c, &c->c_heap[m], &last))
                break;
            c->c_heap[i] = c->c_heap[m];
            i = m;
        }
        c->c_heap[i] = last;
    }
    return item;
}

/* ---- one add, one take (side locked) ------------------------------------ */

/*
 * The add side is locked, adding is open and n = add_count() is below the
 * capacity. Stores item: 0 or ENOMEM (nothing changed).
 */
COLL_INLINE int add_locked(weft_collection *c, void *item, size_t n)
{
    int r = store_reserve(c, n);
    if (r)
        return r;
    /* relaxed: only holders of c_add_lock write these two; the c_tail store
     * below (release) publishes c_added with the item, so the task_done of
     * whoever takes it sees it counted. */
    size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed);
    atomic_store_explicit(&c->c_added,
                          atomic_load_explicit(&c->c_added, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (c->c_order == WEFT_ORDER_PRIORITY)
        heap_push(c, item, t);
    else
        c->c_ring[t & (c->c_slots - 1)] = item;
    /* Publishes the slot to the taker that reads the new c_tail (acquire),
     * and is the adder's half of the handshake with c_takers.wl_n and
     * c_any_waiters, read after it (add_notify). */
    coll_publish(&c->c_tail, t + 1);
    return 0;
}

/*
 * The take side is locked and take_count() > 0: remove the next item in
 * take order. The take that empties a collection whose adding is completed
 * wakes every taker (they report EPIPE).
 */
COLL_INLINE void *take_locked(weft_collection *c)
{
    void *item;
    /* relaxed: see take_count; the FIFO slot was published by the acquire
     * load of c_tail there. */
    size_t h = atomic_load_explicit(&c->c_head, memory_order_relaxed);
    if (coll_split(c)) {
        item = c->c_ring[h & (c->c_slots - 1)];
        /* release: the slot is free for the adder that reads the new c_head
         * (acquire, add_count). A bounded collection also needs the
         * handshake with c_adders.wl_n and c_any_waiters (take_notify);
         * an unbounded one has no adder that waits for room. */
        if (c->c_capacity)
            coll_publish(&c->c_head, h + 1);
        else
            atomic_store_explicit(&c->c_head, h + 1, memory_order_release);
        h++;
    } else {
        /* Both locks: the lock orders this against waiters of c; the
         * publication is for the any-waiter handshake, as above. */
        size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed) - 1;
        if (c->c_order == WEFT_ORDER_LIFO)
            item = c->c_ring[t & (c->c_slots - 1)];
        else
            item = heap_pop(c, t);
        coll_publish(&c->c_tail, t);
    }
    /* COLL_ST_ADDING_DONE cannot change while we hold c_take_lock, and once it
     * is set c_tail is final (relaxed; read only then, so that a FIFO taker
     * does not pull the adder's line on every take). */
    if ((state_locked(c) & COLL_ST_ADDING_DONE) &&
        h == atomic_load_explicit(&c->c_tail, memory_order_relaxed))
        wlist_signal_all(&c->c_takers);
    return item;
}

/* ---- notifications across sides (no lock held) ------------------------ */

/* Called without any lock after a change that any-waiters must see. */
COLL_NOINLINE void any_wake(void)
{
    /* release: pairs with the acquire load of any_gen in the any-variants;
     * the RMW makes every later futex compare fail for older readers. */
    atomic_fetch_add_explicit(&any_gen, 1, memory_order_release);
    weft__futex_wake(&any_gen, INT_MAX);
}

/* The changer's half of the any-waiter handshake, after coll_publish (file
 * comment); seq_cst pairs with the raise in any_op. */
COLL_INLINE bool any_waiting(weft_collection *c)
{
    return atomic_load_explicit(&c->c_any_waiters, memory_order_seq_cst) != 0;
}

/* After an add released its side: wake one taker if any is registered. */
COLL_INLINE void add_notify(weft_collection *c)
{
    if (wlist_nonempty(&c->c_takers)) {
        lock_side(c, COLL_SIDE_TAKE);
        wlist_signal_one(&c->c_takers);
        unlock_side(c, COLL_SIDE_TAKE);
    }
    if (any_waiting(c))
        any_wake();
}

/* After k items were taken and the take side released: wake one adder per
 * freed slot (only a bounded collection has adders waiting for room), and
 * the any-waiters. An unbounded collection's take matters to an any-waiter
 * only when it completes the collection (COLL_ST_ADDING_DONE is set then; the
 * relaxed read sees it: we read it under c_take_lock just before). */
COLL_INLINE void take_notify(weft_collection *c, size_t k)
{
    if (c->c_capacity) {
        if (wlist_nonempty(&c->c_adders)) {
            lock_side(c, COLL_SIDE_ADD);
            for (size_t i = 0; i < k && wlist_signal_one(&c->c_adders); i++)
                ;
            unlock_side(c, COLL_SIDE_ADD);
        }
    } else if (!(atomic_load_explicit(&c->c_state, memory_order_relaxed) & COLL_ST_ADDING_DONE)) {
        return;
    }
    if (any_waiting(c))
        any_wake();
}

/* ---- create / destroy ------------------------------------------------- */

int weft_collection_create(weft_collection **out, const weft_collection_options *opts)
{
    weft_collection_options o = {0, WEFT_ORDER_FIFO, NULL};
    if (!out)
        return EINVAL;
    if (opts)
        o = *opts;
    if (o.order != WEFT_ORDER_FIFO && o.order != WEFT_ORDER_LIFO &&
        o.order != WEFT_ORDER_PRIORITY)
        return EINVAL;
    if (o.order == WEFT_ORDER_PRIORITY && !o.compare)
        return EINVAL;
    weft__asym_init();

    size_t slots = COLL_INITIAL_SLOTS;
    if (o.capacity && o.capacity < slots) {
        slots = 1;
        while (slots < o.capacity)
            slots *= 2;
    }
    weft_collection *c = weft__aligned_alloc(WEFT__CACHE_LINE, sizeof *c);
    if (!c)
        return ENOMEM;
    memset(c, 0, sizeof *c);
    if (o.order == WEFT_ORDER_PRIORITY)
        c->c_heap = weft__malloc(slots * sizeof *c->c_heap);
    else
        c->c_ring = weft__malloc(slots * sizeof *c->c_ring);
    if (!c->c_heap && !c->c_ring) {
        weft__free(c);
        return ENOMEM;
    }
    c->c_slots = slots;
    c->c_capacity = o.capacity;
    c->c_order = o.order;
    c->c_compare = o.order == WEFT_ORDER_PRIORITY ? o.compare : NULL;
    coll_lock *locks[3] = {&c->c_add_lock, &c->c_take_lock, &c->c_join_lock};
    for (int i = 0; i < 3; i++) {
        atomic_init(&locks[i]->l_word, COLL_LOCK_FREE);
        atomic_init(&locks[i]->l_waiters, 0);
    }
    atomic_init(&c->c_head, 0);
    atomic_init(&c->c_tail, 0);
    atomic_init(&c->c_added, 0);
    atomic_init(&c->c_takers.wl_n, 0);
    atomic_init(&c->c_adders.wl_n, 0);
    atomic_init(&c->c_joiners.wl_n, 0);
    atomic_init(&c->c_any_waiters, 0);
    atomic_init(&c->c_done, 0);
    atomic_init(&c->c_state, 0);
    *out = c;
    return 0;
}

void weft_collection_destroy(weft_collection *c)
{
    if (!c)
        return;
    weft__free(c->c_ring);
    weft__free(c->c_heap);
    weft__free(c);
}

/* ---- waiting ----------------------------------------------------------- */

/* Items unfinished now: c_added - c_done. Read c_done first: then c_added,
 * read later, is at least what c_done counts, and the difference does not
 * wrap. seq_cst on c_done: the joiner's half of the handshake with the
 * seq_cst CAS in task_done/shutdown; acquire on c_added (a past add). */
static size_t unfinished(weft_collection *c)
{
    size_t d = atomic_load_explicit(&c->c_done, memory_order_seq_cst);
    return atomic_load_explicit(&c->c_added, memory_order_acquire) - d;
}

/* Whether a waiter of side may stop waiting: the re-check after it pushed
 * its record (the waiter's half of the handshake, seq_cst reads inside
 * add_count/take_count/unfinished). The state bits need no re-check: they
 * change only under both locks and the caller holds one. */
static bool side_ready(weft_collection *c, int side)
{
    switch (side) {
    case COLL_SIDE_TAKE:
        return take_count(c, true) != 0;
    case COLL_SIDE_ADD:
        return add_count(c, true) < c->c_capacity;
    default:
        return unfinished(c) == 0;
    }
}

/*
 * The caller (side locked) cannot proceed. Register w on l, re-check,
 * sleep, and come back with side locked and w off the list.
 * Returns ETIMEDOUT when the deadline passed, else 0; the caller re-checks
 * its condition either way.
 *
 * A waiter of a bounded FIFO collection makes its membarrier with its side
 * unlocked. The membarrier costs 13-14 us on the 2-core VM when the other
 * thread runs on the other CPU (an IPI and a VM exit; 0.1 us when no other
 * CPU runs the process). Held across it, the side lock stalled the very
 * call that makes the waiter ready: the changer, which has just seen wl_n
 * raised, needs that lock to pop the record, so it yielded, paid a
 * membarrier of its own in the lock's slow path and slept; then it was the
 * changer that found the ring full (empty) and waited. Measured with
 * counters in these paths (bench_queue --only 1 --cap 1024, 5 runs of 2M
 * items, quiet machine): ~18k sleeps and ~21k membarriers per 10M items,
 * 0.9 CPUs busy, 16-31M items/s. With the side unlocked the changer pops
 * the record during the membarrier (no futex wake: the waiter is COLL_W_AWAKE)
 * and the waiter, back under the lock, finds itself signalled and returns
 * without sleeping: ~8k waits, 3.5k-7.6k of them signalled in the window,
 * 100-5000 sleeps, 1.3-1.9 CPUs busy, 45-47M items/s. The handshake is
 * unchanged: the raise of wl_n (in wlist_push) precedes the membarrier, the
 * re-check follows it, and the record stays on the list (raised) while
 * unlocked. A record popped in the window is off the list and COLL_W_SIGNALLED,
 * as after a sleep; the caller re-checks (a barging call of our side may
 * have used the item or the room; we then wait again).
 *
 * An unbounded collection keeps its side locked across the membarrier
 * (only takers wait there). Unlocked, 2P2C and 4P4C unbounded lost 20-40%
 * (55 against 65-90M items/s): the takers, no longer queued behind the
 * waiting one, drained the ring and waited ~10x as often (each wait a
 * membarrier), and the adders, no longer held up on c_take_lock, fought
 * over c_add_lock (perf: the add lock's CAS, 44% of the samples against
 * 36%).
 */
static int wait_on(weft_collection *c, int side, coll_wlist *l, coll_waiter *w,
                   const struct timespec *abs)
{
    atomic_init(&w->w_state, COLL_W_AWAKE);
    WEFT__YIELD(); /* the change that the handshake must not miss comes here */
    wlist_push(l, w);
    /* Joiners: task_done's CAS is seq_cst already. LIFO/PRIORITY: both
     * sides publish under both locks, which we hold, so the lock is the
     * handshake and a membarrier would only lengthen the critical section.
     * Without membarrier (weft__asym 0) the changers publish seq_cst and
     * the waiter needs nothing here ("asymmetric fence"). */
    if (side != COLL_SIDE_JOIN && coll_split(c) && weft__asym) {
        if (!c->c_capacity) {
            weft__asym_heavy();
        } else {
            unlock_side(c, side);
            WEFT__YIELD(); /* a changer pops and signals w here */
            weft__asym_heavy();
            lock_side(c, side);
            /* relaxed: written by the signaller under the list's lock,
             * which we hold again; signalled means already off the list. */
            if (atomic_load_explicit(&w->w_state, memory_order_relaxed) == COLL_W_SIGNALLED)
                return 0;
        }
    }
    if (side_ready(c, side)) {
        wlist_remove(l, w);
        return 0;
    }
    unlock_side(c, side);
    WEFT__YIELD();
    int r = coll_waiter_sleep(w, abs);
    lock_side(c, side);
    /* relaxed: the signaller wrote it under the list's lock, which we hold. */
    if (atomic_load_explicit(&w->w_state, memory_order_relaxed) != COLL_W_SIGNALLED)
        wlist_remove(l, w);
    return r;
}

/* ---- single-collection add / take ---------------------------------- */

/*
 * The blocking step shared by the add, take and join loops, called with the
 * side's lock held when the operation cannot proceed now: EAGAIN (no wait
 * allowed) or ETIMEDOUT (the deadline passed on an earlier wait) end the
 * loop; 0 means it waited, and the caller re-checks its condition. The
 * deadline is computed once, on the first wait.
 */
typedef struct {
    int64_t wt_timeout;
    struct timespec wt_abs;
    bool wt_have_deadline, wt_timed_out;
} coll_wait;

static int coll_wait_step(weft_collection *c, int side, coll_wlist *l, coll_wait *wt)
{
    if (wt->wt_timeout == WEFT_NO_WAIT)
        return EAGAIN;
    if (wt->wt_timed_out)
        return ETIMEDOUT;
    if (wt->wt_timeout > 0 && !wt->wt_have_deadline) {
        coll_deadline(wt->wt_timeout, &wt->wt_abs);
        wt->wt_have_deadline = true;
    }
    coll_waiter w;
    wt->wt_timed_out =
        wait_on(c, side, l, &w, wt->wt_have_deadline ? &wt->wt_abs : NULL) == ETIMEDOUT;
    return 0;
}

int weft_collection_try_add(weft_collection *c, void *item, int64_t timeout_ns)
{
    if (!c || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    coll_wait wt = {.wt_timeout = timeout_ns};
    int r;
    lock_side(c, COLL_SIDE_ADD);
    for (;;) {
        uint32_t st = state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            r = ECANCELED;
            break;
        }
        if (st & COLL_ST_ADDING_DONE) {
            r = EPIPE;
            break;
        }
        size_t n = add_count(c, false);
        if (!c->c_capacity || n < c->c_capacity) {
            r = add_locked(c, item, n);
            break;
        }
        if ((r = coll_wait_step(c, COLL_SIDE_ADD, &c->c_adders, &wt)) != 0)
            break;
    }
    unlock_side(c, COLL_SIDE_ADD);
    if (r == 0)
        add_notify(c);
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
    lock_side(c, COLL_SIDE_TAKE);
    for (;;) {
        uint32_t st = state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            r = ECANCELED;
            break;
        }
        if (take_count(c, false) > 0) {
            *item = take_locked(c);
            r = 0;
            break;
        }
        /* take_count returned 0 right after re-reading c_tail. If adding
         * is completed (we see the bit under the lock), c_tail was final
         * before it was set, so the collection is completed. */
        if (st & COLL_ST_ADDING_DONE) {
            r = EPIPE;
            break;
        }
        if ((r = coll_wait_step(c, COLL_SIDE_TAKE, &c->c_takers, &wt)) != 0)
            break;
    }
    unlock_side(c, COLL_SIDE_TAKE);
    if (r == 0)
        take_notify(c, 1);
    return r;
}

int weft_collection_take(weft_collection *c, void **item)
{
    return weft_collection_try_take(c, item, WEFT_FOREVER);
}

/* ---- any-variants ----------------------------------------------------- */

enum { COLL_SCAN_NONE, COLL_SCAN_DONE, COLL_SCAN_ALL_CLOSED };

/* One pass over cs in index order; takes or adds at most once. Returns
 * COLL_SCAN_DONE with *r set (0, ECANCELED or ENOMEM) and *index, COLL_SCAN_ALL_CLOSED
 * when every member is closed for the operation, else COLL_SCAN_NONE. The counts
 * are read fresh (seq_cst): the scan's half of the any-waiter handshake. */
static int scan_any(weft_collection *const *cs, size_t n, bool is_take, void **item,
                    size_t *index, int *r)
{
    bool all_closed = true;
    int side = is_take ? COLL_SIDE_TAKE : COLL_SIDE_ADD;
    for (size_t i = 0; i < n; i++) {
        weft_collection *c = cs[i];
        bool done = false;
        lock_side(c, side);
        uint32_t st = state_locked(c);
        if (st & COLL_ST_SHUTDOWN) {
            *r = ECANCELED;
            done = true;
        } else if (is_take) {
            if (take_count(c, true) > 0) {
                *item = take_locked(c);
                *r = 0;
                done = true;
            } else if (!(st & COLL_ST_ADDING_DONE)) {
                all_closed = false;
            }
        } else if (!(st & COLL_ST_ADDING_DONE)) {
            size_t cnt = add_count(c, true);
            if (!c->c_capacity || cnt < c->c_capacity) {
                *r = add_locked(c, *item, cnt);
                done = true;
            } else {
                all_closed = false;
            }
        }
        unlock_side(c, side);
        if (done) {
            if (*r == 0) {
                if (is_take)
                    take_notify(c, 1);
                else
                    add_notify(c);
            }
            if (index)
                *index = i;
            return COLL_SCAN_DONE;
        }
    }
    return all_closed ? COLL_SCAN_ALL_CLOSED : COLL_SCAN_NONE;
}

/* item points at the caller's item (add) or a local (take): never NULL. */
static int any_op(weft_collection *const *cs, size_t n, bool is_take, void **item,
                  size_t *index, int64_t timeout_ns)
{
    if (!cs || n == 0 || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!cs[i])
            return EINVAL;

    struct timespec abs;
    bool have_deadline = false, timed_out = false, registered = false;
    uint32_t gen = 0;
    size_t idx = 0;
    int r;
    for (;;) {
        if (registered)
            /* acquire: pairs with any_wake's release increment. The value
             * only decides whether the futex wait below returns at once. */
            gen = atomic_load_explicit(&any_gen, memory_order_acquire);
        int s = scan_any(cs, n, is_take, item, &idx, &r);
        if (s == COLL_SCAN_DONE)
            break;
        if (s == COLL_SCAN_ALL_CLOSED) {
            r = EPIPE;
            break;
        }
        if (timeout_ns == WEFT_NO_WAIT) {
            r = EAGAIN;
            break;
        }
        if (timed_out) {
            r = ETIMEDOUT;
            break;
        }
        if (!registered) {
            if (timeout_ns > 0) {
                coll_deadline(timeout_ns, &abs);
                have_deadline = true;
            }
            for (size_t i = 0; i < n; i++)
                /* seq_cst: the waiter's half of the handshake with the
                 * changers' index stores (file comment), with the
                 * coll_asym_heavy below; for state bits, the scan's unlock
                 * that follows orders it. */
                atomic_fetch_add_explicit(&cs[i]->c_any_waiters, 1, memory_order_seq_cst);
            weft__asym_heavy();
            registered = true;
            continue; /* read any_gen, then rescan */
        }
        WEFT__YIELD();
        timed_out = weft__futex_wait_until(&any_gen, gen, have_deadline ? &abs : NULL) == ETIMEDOUT;
    }
    if (registered)
        for (size_t i = 0; i < n; i++)
            /* relaxed: a stale non-zero only costs a spurious wake-up. */
            atomic_fetch_sub_explicit(&cs[i]->c_any_waiters, 1, memory_order_relaxed);
    if (r == 0 && index)
        *index = idx;
    return r;
}

int weft_collection_add_to_any(weft_collection *const *cs, size_t n, void *item, size_t *index,
                               int64_t timeout_ns)
{
    return any_op(cs, n, false, &item, index, timeout_ns);
}

int weft_collection_take_from_any(weft_collection *const *cs, size_t n, void **item,
                                  size_t *index, int64_t timeout_ns)
{
    if (!item)
        return EINVAL;
    void *got = NULL;
    int r = any_op(cs, n, true, &got, index, timeout_ns);
    if (r == 0)
        *item = got;
    return r;
}

/* ---- drain, close, shutdown ------------------------------------------ */

size_t weft_collection_drain(weft_collection *c, void **out, size_t max)
{
    if (!c || !out || max == 0)
        return 0;
    lock_side(c, COLL_SIDE_TAKE);
    size_t k = 0;
    while (k < max && take_count(c, false) > 0)
        out[k++] = take_locked(c);
    unlock_side(c, COLL_SIDE_TAKE);
    if (k > 0)
        take_notify(c, k);
    return k;
}

/* Joiners wait for unfinished() == 0: after a change that may have made it
 * so (its seq_cst CAS of c_done), wake them all if any is registered. */
static void wake_joiners(weft_collection *c)
{
    if (wlist_nonempty(&c->c_joiners)) {
        coll_lock_acquire(&c->c_join_lock);
        wlist_signal_all(&c->c_joiners);
        coll_lock_release(&c->c_join_lock);
    }
}

void weft_collection_complete_adding(weft_collection *c)
{
    if (!c)
        return;
    bool wake_any = false;
    lock_both(c);
    uint32_t st = state_locked(c);
    if (!(st & COLL_ST_ADDING_DONE)) {
        /* release: every add so far (made under c_add_lock, which we hold)
         * happens before a lock-free reader that sees the bit with acquire
         * (is_completed); lock holders see it through the locks. */
        atomic_store_explicit(&c->c_state, st | COLL_ST_ADDING_DONE, memory_order_release);
        wlist_signal_all(&c->c_adders);
        /* relaxed: both locks held, the indices are final now. */
        if (atomic_load_explicit(&c->c_tail, memory_order_relaxed) ==
            atomic_load_explicit(&c->c_head, memory_order_relaxed))
            wlist_signal_all(&c->c_takers);
        wake_any = any_waiting(c);
    }
    unlock_both(c);
    if (wake_any)
        any_wake();
}

void weft_collection_shutdown(weft_collection *c)
{
    if (!c)
        return;
    bool wake_any = false, zero = false;
    lock_both(c);
    uint32_t st = state_locked(c);
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
        wlist_signal_all(&c->c_adders);
        wlist_signal_all(&c->c_takers);
        wake_any = any_waiting(c);
    }
    unlock_both(c);
    if (zero)
        wake_joiners(c);
    if (wake_any)
        any_wake();
}

/* ---- task_done / join ------------------------------------------------- */

int weft_collection_task_done(weft_collection *c)
{
    if (!c)
        return EINVAL;
    /* acquire (here and on CAS failure): synchronizes with the task_done
     * that wrote d, whose thread had read c_added >= d; read-read coherence
     * then gives a >= d below, so a == d is a true underflow. With relaxed,
     * a weak-memory CPU could read an older c_added than that thread saw
     * and report a false EINVAL (found in review; x86 cannot show it). */
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
    lock_side(c, COLL_SIDE_JOIN);
    for (;;) {
        if (unfinished(c) == 0) {
            r = 0;
            break;
        }
        if ((r = coll_wait_step(c, COLL_SIDE_JOIN, &c->c_joiners, &wt)) != 0)
            break;
    }
    unlock_side(c, COLL_SIDE_JOIN);
    return r;
}

int weft_collection_join(weft_collection *c)
{
    return weft_collection_try_join(c, WEFT_FOREVER);
}

/* ---- snapshots -------------------------------------------------------- */

/* Items inside now. acquire on c_head: the taker that stored it had seen
 * c_tail beyond it, so c_tail, read next, is not below it (FIFO; LIFO and
 * PRIORITY never move c_head). */
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
    /* relaxed: a snapshot. */
    return c && (atomic_load_explicit(&c->c_state, memory_order_relaxed) & COLL_ST_ADDING_DONE);
}

bool weft_collection_is_completed(const weft_collection *c)
{
    /* acquire: pairs with the release store of COLL_ST_ADDING_DONE, so c_tail
     * read next is final; a count of 0 then means completed for good. */
    return c &&
           (atomic_load_explicit(&c->c_state, memory_order_acquire) & COLL_ST_ADDING_DONE) &&
           snap_count(c) == 0;
}

size_t weft__collection_waiters(const weft_collection *c)
{
    if (!c)
        return 0;
    /* relaxed: snapshots for the test hook. */
    return atomic_load_explicit(&c->c_takers.wl_n, memory_order_relaxed) +
           atomic_load_explicit(&c->c_adders.wl_n, memory_order_relaxed) +
           atomic_load_explicit(&c->c_joiners.wl_n, memory_order_relaxed) +
           atomic_load_explicit(&c->c_any_waiters, memory_order_relaxed);
}
