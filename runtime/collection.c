/*
 * runtime/collection.c - the blocking collection (include/weft/collection.h).
 *
 * Design
 * ------
 * One lock per collection (c_lock, a futex mutex, optionally spinning) guards
 * the storage and the state; the storage is a ring array (FIFO and LIFO) or
 * a binary min-heap of (item, sequence number) entries (PRIORITY, stable by
 * the sequence number). Nothing is allocated per item: the array doubles when
 * full (unbounded; a bounded one grows up to its capacity).
 *
 * Waiting. A single-collection call that must wait registers a waiter record
 * that lives on its own stack in one of three intrusive lists of the
 * collection (takers, adders, joiners), then sleeps on the record's own
 * futex word. A state change pops the waiters it can satisfy, under c_lock,
 * and marks each one signalled: an add wakes one taker, a take (or drain)
 * wakes one adder per freed slot, complete_adding wakes every adder and, if
 * empty, every taker, the take that empties a completed collection wakes
 * every taker, shutdown wakes everyone, the last task_done wakes every
 * joiner. Because a signal removes a distinct waiter from the list, N adds
 * wake N distinct takers (no lost wake-up). A woken waiter re-checks the
 * state under c_lock, so a barging caller may take the item first; the
 * item is then consumed anyway and the woken waiter waits again. A waiter
 * always re-checks before it reports ETIMEDOUT, so a signalled waiter never
 * leaves an item or a free slot behind. Signals are only sent when a list is
 * non-empty (the fast path is lock, store, unlock). Before it registers, a
 * caller may spin a bounded number of rounds on a snapshot of the state
 * (c_snap_*; COLL_WAIT_SPIN, off by default: see the tuning note).
 *
 * Waiting on several collections (take_from_any, add_to_any) uses a global
 * generation word, any_gen, because a call may name any number of
 * collections and we do not want to allocate a record per member. The
 * waiter raises c_any_waiters of every member, reads any_gen, scans every
 * member under its lock, and sleeps on any_gen if nothing can proceed. A
 * state change of a collection whose c_any_waiters is non-zero bumps any_gen
 * and wakes every sleeper on it. No wake-up is lost (a Dekker-style
 * argument through c_lock): either the state change's critical section
 * comes before the waiter's scan of that member, and the scan sees it, or it
 * comes after, and then it sees the raised c_any_waiters (the waiter raised
 * it before the scan's unlock, which synchronises with the changer's lock),
 * and bumps any_gen after the waiter read it, so the futex wait returns at
 * once. The cost: a change of any collection with any-waiters wakes every
 * any-waiter in the process, which then rescans (a spurious wake-up, not a
 * busy poll; ordinary takers and adders never pay it).
 *
 * Lock order: a thread holds at most one c_lock at a time (any-variants
 * lock the members one after another). compare is called with c_lock held.
 *
 * References: U. Drepper, "Futexes Are Tricky" (2011), mutex #3, for c_lock;
 * the waiter-record-per-call idea is the classic "specific notification"
 * queue (e.g. the MCS-style explicit waiter queues of Mellor-Crummey and
 * Scott, "Algorithms for scalable synchronization...", TOCS 1991).
 */
#define _GNU_SOURCE
#include <weft/collection.h>

#include "alloc.h"
#include "collection_hooks.h"
#include "debug.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- tuning ---------------------------------------------------------- */

#define COLL_CACHE_LINE 64
/*
 * Spinning is off by default, after measuring (bench/bench_queue on the
 * 2-core target, shared with other jobs): with 2 threads or more per core,
 * a spinner steals the core from the thread it waits for, and a spin on the
 * snapshot (which shares the lock's cache line) slows the lock holder; both
 * lowered throughput. Override with -DCOLL_LOCK_SPIN=n / -DCOLL_WAIT_SPIN=n
 * on machines with spare cores.
 *
 * Rounds a contended c_lock spins before it sleeps (each round one pause). */
#ifndef COLL_LOCK_SPIN
#define COLL_LOCK_SPIN 0
#endif
/* Rounds a caller that cannot proceed spins on the snapshot before it
 * registers as a waiter and sleeps (each round one pause, ~40-140 cycles). */
#ifndef COLL_WAIT_SPIN
#define COLL_WAIT_SPIN 0
#endif
/* Initial storage (slots); grows by doubling. */
#define COLL_INITIAL_SLOTS 64

static inline void coll_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- futex ----------------------------------------------------------- */

/* Sleep while *word == val, until abs (CLOCK_MONOTONIC; NULL: no limit).
 * FUTEX_WAIT_BITSET takes an absolute time on CLOCK_MONOTONIC unless
 * FUTEX_CLOCK_REALTIME is given. Returns 0, EAGAIN (word != val), EINTR or
 * ETIMEDOUT. */
static int coll_futex_wait(_Atomic uint32_t *word, uint32_t val, const struct timespec *abs)
{
    long r = syscall(SYS_futex, (void *)word, FUTEX_WAIT_BITSET_PRIVATE, val, abs, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return r == -1 ? errno : 0;
}

static void coll_futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (void *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- c_lock: Drepper's mutex #3, optional bounded spin ----------- */

enum { LOCK_FREE = 0, LOCK_HELD = 1, LOCK_CONTENDED = 2 };

typedef struct {
    _Atomic uint32_t l_word; /* LOCK_FREE, LOCK_HELD, LOCK_CONTENDED */
} coll_lock;

static void coll_lock_acquire(coll_lock *l)
{
    uint32_t expect = LOCK_FREE;
    /* acquire: pairs with the release exchange in coll_lock_release, so
     * the previous holder's writes to the guarded fields are visible. */
    if (atomic_compare_exchange_strong_explicit(&l->l_word, &expect, LOCK_HELD,
                                                memory_order_acquire, memory_order_relaxed))
        return;
    for (int i = 0; i < COLL_LOCK_SPIN; i++) {
        coll_pause();
        expect = LOCK_FREE;
        /* relaxed peek first (test-and-test-and-set); the CAS is the
         * acquire, as above. */
        if (atomic_load_explicit(&l->l_word, memory_order_relaxed) == LOCK_FREE &&
            atomic_compare_exchange_weak_explicit(&l->l_word, &expect, LOCK_HELD,
                                                  memory_order_acquire, memory_order_relaxed))
            return;
    }
    /* Mark contended so that the holder's release wakes us (Drepper #3);
     * acquire as above when the exchange finds the lock free. */
    while (atomic_exchange_explicit(&l->l_word, LOCK_CONTENDED, memory_order_acquire) !=
           LOCK_FREE)
        coll_futex_wait(&l->l_word, LOCK_CONTENDED, NULL);
}

static void coll_lock_release(coll_lock *l)
{
    /* release: publishes the critical section to the next acquirer. */
    if (atomic_exchange_explicit(&l->l_word, LOCK_FREE, memory_order_release) ==
        LOCK_CONTENDED)
        coll_futex_wake(&l->l_word, 1);
}

/* ---- waiter records -------------------------------------------------- */

enum { W_AWAKE = 0, W_SIGNALLED = 1, W_SLEEPING = 2 };

typedef struct coll_waiter {
    struct coll_waiter *w_prev; /* c_lock of the collection it waits on */
    struct coll_waiter *w_next; /* c_lock */
    /* W_AWAKE (registered, not yet in the futex), W_SLEEPING (in the futex
     * or about to be), W_SIGNALLED (popped from the list by a signaller;
     * written under c_lock, read by the waiter without it). */
    _Atomic uint32_t w_state;
} coll_waiter;

typedef struct {
    coll_waiter *wl_head; /* c_lock */
    coll_waiter *wl_tail; /* c_lock */
} coll_wlist;

/* ---- the collection -------------------------------------------------- */

enum { ST_ADDING_DONE = 1u, ST_SHUTDOWN = 2u, ST_COMPLETED = 4u };

typedef struct {
    void *e_item;
    uint64_t e_seq; /* insertion order: ties in PRIORITY come out FIFO */
} coll_entry;

struct weft_collection {
    /* Every field up to c_snap_* is protected by c_lock. They sit on the
     * lock's own cache lines: a critical section then moves as few lines
     * between cores as possible. */
    coll_lock c_lock;
    uint32_t c_state;      /* ST_* bits; c_lock */
    size_t c_count;        /* items inside; c_lock */
    size_t c_head;         /* ring: index of the oldest item; c_lock */
    size_t c_slots;        /* allocated slots (ring: a power of two); c_lock */
    void **c_ring;         /* FIFO/LIFO storage; c_lock */
    coll_entry *c_heap;    /* PRIORITY storage; c_lock */
    uint64_t c_seq;        /* next PRIORITY sequence number; c_lock */
    size_t c_unfinished;   /* adds minus task_done minus shutdown drop; c_lock */
    coll_wlist c_takers;   /* c_lock */
    coll_wlist c_adders;   /* c_lock */
    coll_wlist c_joiners;  /* c_lock */

    /* Snapshots for lock-free readers (count, is_*, the pre-wait spin):
     * written only under c_lock, read without it. Relaxed is enough: a
     * reader either acts on it as a hint (the spin re-checks under the
     * lock) or reports a snapshot (count, is_*); a reader ordered after
     * a critical section by other means (e.g. the thread that called
     * complete_adding) sees at least that section's values by coherence. */
    atomic_size_t c_snap_count;
    _Atomic uint32_t c_snap_state;
    /* Registered waiters (the test hook); c_lock for writes, relaxed. */
    atomic_size_t c_nwaiters;
    /* Number of any-variant calls registered on this collection (one per
     * occurrence in their cs). Raised/lowered without c_lock; read under
     * c_lock by state changes. See the file comment for the ordering. */
    atomic_size_t c_any_waiters;

    /* Immutable after create. */
    size_t c_capacity; /* 0: unbounded */
    weft_order c_order;
    int (*c_compare)(const void *a, const void *b);
};

/* Global generation for multi-collection waits (see the file comment). */
static _Atomic uint32_t any_gen;

/* ---- lists ----------------------------------------------------------- */

static void wlist_push(weft_collection *c, coll_wlist *l, coll_waiter *w)
{
    w->w_next = NULL;
    w->w_prev = l->wl_tail;
    if (l->wl_tail)
        l->wl_tail->w_next = w;
    else
        l->wl_head = w;
    l->wl_tail = w;
    /* relaxed: a counter for the test hook; c_lock orders the writes. */
    atomic_fetch_add_explicit(&c->c_nwaiters, 1, memory_order_relaxed);
}

static void wlist_remove(weft_collection *c, coll_wlist *l, coll_waiter *w)
{
    if (w->w_prev)
        w->w_prev->w_next = w->w_next;
    else
        l->wl_head = w->w_next;
    if (w->w_next)
        w->w_next->w_prev = w->w_prev;
    else
        l->wl_tail = w->w_prev;
    /* relaxed: as in wlist_push. */
    atomic_fetch_sub_explicit(&c->c_nwaiters, 1, memory_order_relaxed);
}

/* Pop the oldest waiter of l and signal it. Under c_lock, so that the
 * record is alive (its owner must take c_lock before it leaves). */
static bool wlist_signal_one(weft_collection *c, coll_wlist *l)
{
    coll_waiter *w = l->wl_head;
    if (!w)
        return false;
    wlist_remove(c, l, w);
    /* release: pairs with the waiter's acquire load/CAS on w_state; the
     * waiter re-takes c_lock anyway before it reads the collection. */
    if (atomic_exchange_explicit(&w->w_state, W_SIGNALLED, memory_order_release) == W_SLEEPING)
        coll_futex_wake(&w->w_state, 1);
    return true;
}

static void wlist_signal_all(weft_collection *c, coll_wlist *l)
{
    while (wlist_signal_one(c, l))
        ;
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
 * spurious wake-up) or ETIMEDOUT; the caller re-checks under c_lock. */
static int coll_waiter_sleep(coll_waiter *w, const struct timespec *abs)
{
    uint32_t expect = W_AWAKE;
    /* acquire on failure: the signaller's release exchange (pairs). */
    if (!atomic_compare_exchange_strong_explicit(&w->w_state, &expect, W_SLEEPING,
                                                 memory_order_acquire, memory_order_acquire))
        return 0; /* already signalled */
    for (;;) {
        int r = coll_futex_wait(&w->w_state, W_SLEEPING, abs);
        /* acquire: pairs with the signaller's release exchange. */
        if (atomic_load_explicit(&w->w_state, memory_order_acquire) == W_SIGNALLED)
            return 0;
        if (r == ETIMEDOUT)
            return ETIMEDOUT;
    }
}

/* ---- storage (all under c_lock) --------------------------------------- */

static bool heap_less(const weft_collection *c, const coll_entry *a, const coll_entry *b)
{
    int r = c->c_compare(a->e_item, b->e_item);
    return r < 0 || (r == 0 && a->e_seq < b->e_seq);
}

/* Make room for one more item. 0 or ENOMEM (nothing changed). */
static int store_reserve(weft_collection *c)
{
    if (c->c_count < c->c_slots)
        return 0;
    size_t slots = c->c_slots * 2;
    if (c->c_order == WEFT_ORDER_PRIORITY) {
        if (c->c_capacity && slots > c->c_capacity)
            slots = c->c_capacity;
        if (slots < c->c_slots || slots > SIZE_MAX / sizeof(coll_entry))
            return ENOMEM;
        coll_entry *h = weft__malloc(slots * sizeof *h);
        if (!h)
            return ENOMEM;
        memcpy(h, c->c_heap, c->c_count * sizeof *h);
        weft__free(c->c_heap);
        c->c_heap = h;
    } else {
        if (slots < c->c_slots || slots > SIZE_MAX / sizeof(void *))
            return ENOMEM;
        void **r = weft__malloc(slots * sizeof *r);
        if (!r)
            return ENOMEM;
        size_t mask = c->c_slots - 1;
        for (size_t i = 0; i < c->c_count; i++)
            r[i] = c->c_ring[(c->c_head + i) & mask];
        weft__free(c->c_ring);
        c->c_ring = r;
        c->c_head = 0;
    }
    c->c_slots = slots;
    return 0;
}

/* Store item; room was reserved. */
static void store_push(weft_collection *c, void *item)
{
    if (c->c_order == WEFT_ORDER_PRIORITY) {
        coll_entry e = {item, c->c_seq++};
        size_t i = c->c_count;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!heap_less(c, &e, &c->c_heap[p]))
                break;
            c->c_heap[i] = c->c_heap[p];
            i = p;
        }
        c->c_heap[i] = e;
    } else {
        c->c_ring[(c->c_head + c->c_count) & (c->c_slots - 1)] = item;
    }
    c->c_count++;
}

/* Remove and return the next item in take order; c_count > 0. */
static void *store_pop(weft_collection *c)
{
    void *item;
    c->c_count--;
    switch (c->c_order) {
    case WEFT_ORDER_FIFO:
        item = c->c_ring[c->c_head];
        c->c_head = (c->c_head + 1) & (c->c_slots - 1);
        break;
    case WEFT_ORDER_LIFO:
        item = c->c_ring[(c->c_head + c->c_count) & (c->c_slots - 1)];
        break;
    default: {
        /* Sift the last entry down from the root; the taken root is never
         * compared again. */
        item = c->c_heap[0].e_item;
        size_t n = c->c_count;
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
        break;
    }
    }
    return item;
}

/* ---- state changes (under c_lock) -------------------------------------- */

/* Publish the snapshots. relaxed: see the c_snap_* comment. */
static void publish(weft_collection *c)
{
    atomic_store_explicit(&c->c_snap_count, c->c_count, memory_order_relaxed);
    atomic_store_explicit(&c->c_snap_state, c->c_state, memory_order_relaxed);
}

/* Whether any-waiters must be woken after a state change of c. relaxed:
 * read under c_lock, which orders it after the raise of a waiter whose
 * scan of c came earlier (file comment). */
static bool any_waiting(weft_collection *c)
{
    return atomic_load_explicit(&c->c_any_waiters, memory_order_relaxed) != 0;
}

/* Called without any c_lock after a change that any_waiting() flagged. */
static void any_wake(void)
{
    /* release: pairs with the acquire load of any_gen in the any-variants;
     * the RMW makes every later futex compare fail for older readers. */
    atomic_fetch_add_explicit(&any_gen, 1, memory_order_release);
    coll_futex_wake(&any_gen, INT_MAX);
}

/* After an item was stored. Returns whether any-waiters need a wake-up. */
static bool after_add(weft_collection *c)
{
    c->c_unfinished++;
    publish(c);
    if (c->c_takers.wl_head)
        wlist_signal_one(c, &c->c_takers);
    return any_waiting(c);
}

/* After k items were taken. Returns whether any-waiters need a wake-up. */
static bool after_take(weft_collection *c, size_t k)
{
    if (c->c_count == 0 && (c->c_state & ST_ADDING_DONE)) {
        c->c_state |= ST_COMPLETED;
        wlist_signal_all(c, &c->c_takers);
    }
    publish(c);
    if (c->c_capacity)
        for (size_t i = 0; i < k && wlist_signal_one(c, &c->c_adders); i++)
            ;
    return any_waiting(c);
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

    size_t slots = COLL_INITIAL_SLOTS;
    if (o.capacity && o.capacity < slots) {
        slots = 1;
        while (slots < o.capacity)
            slots *= 2;
    }
    weft_collection *c = weft__aligned_alloc(COLL_CACHE_LINE, sizeof *c);
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
    atomic_init(&c->c_lock.l_word, LOCK_FREE);
    atomic_init(&c->c_snap_count, 0);
    atomic_init(&c->c_snap_state, 0);
    atomic_init(&c->c_nwaiters, 0);
    atomic_init(&c->c_any_waiters, 0);
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

/* ---- single-collection add / take ---------------------------------- */

/* Spin a bounded while until the snapshot says the caller may proceed
 * (or the state changed in a way it must report). A hint only. */
static void spin_take(const weft_collection *c)
{
    for (int i = 0; i < COLL_WAIT_SPIN; i++) {
        /* relaxed: a hint, re-checked under c_lock. */
        if (atomic_load_explicit(&c->c_snap_count, memory_order_relaxed) != 0 ||
            atomic_load_explicit(&c->c_snap_state, memory_order_relaxed) != 0)
            return;
        coll_pause();
    }
}

static void spin_add(const weft_collection *c)
{
    for (int i = 0; i < COLL_WAIT_SPIN; i++) {
        /* relaxed: a hint, re-checked under c_lock. */
        if (atomic_load_explicit(&c->c_snap_count, memory_order_relaxed) < c->c_capacity ||
            atomic_load_explicit(&c->c_snap_state, memory_order_relaxed) != 0)
            return;
        coll_pause();
    }
}

/*
 * Register w on l, sleep, and come back holding c_lock with w off the list.
 * Returns ETIMEDOUT when the deadline passed, else 0.
 */
static int wait_on(weft_collection *c, coll_wlist *l, coll_waiter *w, const struct timespec *abs)
{
    atomic_init(&w->w_state, W_AWAKE);
    wlist_push(c, l, w);
    coll_lock_release(&c->c_lock);
    WEFT__YIELD();
    int r = coll_waiter_sleep(w, abs);
    coll_lock_acquire(&c->c_lock);
    /* relaxed: the signaller wrote it under c_lock, which we hold. */
    if (atomic_load_explicit(&w->w_state, memory_order_relaxed) != W_SIGNALLED)
        wlist_remove(c, l, w);
    return r;
}

int weft_collection_try_add(weft_collection *c, void *item, int64_t timeout_ns)
{
    if (!c || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    struct timespec abs;
    bool have_deadline = false, timed_out = false, spun = false, wake_any = false;
    int r;
    coll_lock_acquire(&c->c_lock);
    for (;;) {
        if (c->c_state & ST_SHUTDOWN) {
            r = ECANCELED;
            break;
        }
        if (c->c_state & ST_ADDING_DONE) {
            r = EPIPE;
            break;
        }
        if (!c->c_capacity || c->c_count < c->c_capacity) {
            r = store_reserve(c);
            if (r == 0) {
                store_push(c, item);
                wake_any = after_add(c);
            }
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
        if (!spun && COLL_WAIT_SPIN > 0) {
            spun = true;
            coll_lock_release(&c->c_lock);
            spin_add(c);
            coll_lock_acquire(&c->c_lock);
            continue;
        }
        if (timeout_ns > 0 && !have_deadline) {
            coll_deadline(timeout_ns, &abs);
            have_deadline = true;
        }
        coll_waiter w;
        timed_out = wait_on(c, &c->c_adders, &w, have_deadline ? &abs : NULL) == ETIMEDOUT;
    }
    coll_lock_release(&c->c_lock);
    if (wake_any)
        any_wake();
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
    struct timespec abs;
    bool have_deadline = false, timed_out = false, spun = false, wake_any = false;
    int r;
    coll_lock_acquire(&c->c_lock);
    for (;;) {
        if (c->c_state & ST_SHUTDOWN) {
            r = ECANCELED;
            break;
        }
        if (c->c_count > 0) {
            *item = store_pop(c);
            wake_any = after_take(c, 1);
            r = 0;
            break;
        }
        if (c->c_state & ST_ADDING_DONE) {
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
        if (!spun && COLL_WAIT_SPIN > 0) {
            spun = true;
            coll_lock_release(&c->c_lock);
            spin_take(c);
            coll_lock_acquire(&c->c_lock);
            continue;
        }
        if (timeout_ns > 0 && !have_deadline) {
            coll_deadline(timeout_ns, &abs);
            have_deadline = true;
        }
        coll_waiter w;
        timed_out = wait_on(c, &c->c_takers, &w, have_deadline ? &abs : NULL) == ETIMEDOUT;
    }
    coll_lock_release(&c->c_lock);
    if (wake_any)
        any_wake();
    return r;
}

int weft_collection_take(weft_collection *c, void **item)
{
    return weft_collection_try_take(c, item, WEFT_FOREVER);
}

/* ---- any-variants ----------------------------------------------------- */

enum { SCAN_NONE, SCAN_DONE, SCAN_ALL_CLOSED };

/* One pass over cs in index order; takes or adds at most once. Returns
 * SCAN_DONE with *r set (0, ECANCELED or ENOMEM) and *index, SCAN_ALL_CLOSED
 * when every member is closed for the operation, else SCAN_NONE. */
static int scan_any(weft_collection *const *cs, size_t n, bool is_take, void **item,
                    size_t *index, int *r)
{
    bool all_closed = true;
    for (size_t i = 0; i < n; i++) {
        weft_collection *c = cs[i];
        bool wake_any = false, done = false;
        coll_lock_acquire(&c->c_lock);
        if (c->c_state & ST_SHUTDOWN) {
            *r = ECANCELED;
            done = true;
        } else if (is_take) {
            if (c->c_count > 0) {
                *item = store_pop(c);
                wake_any = after_take(c, 1);
                *r = 0;
                done = true;
            } else if (!(c->c_state & ST_ADDING_DONE)) {
                all_closed = false;
            }
        } else if (!(c->c_state & ST_ADDING_DONE)) {
            if (!c->c_capacity || c->c_count < c->c_capacity) {
                *r = store_reserve(c);
                if (*r == 0) {
                    store_push(c, *item);
                    wake_any = after_add(c);
                }
                done = true;
            } else {
                all_closed = false;
            }
        }
        coll_lock_release(&c->c_lock);
        if (wake_any)
            any_wake();
        if (done) {
            if (index)
                *index = i;
            return SCAN_DONE;
        }
    }
    return all_closed ? SCAN_ALL_CLOSED : SCAN_NONE;
}

static int any_op(weft_collection *const *cs, size_t n, bool is_take, void **item,
                  size_t *index, int64_t timeout_ns)
{
    if (!cs || n == 0 || !item || timeout_ns < WEFT_FOREVER)
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
        if (s == SCAN_DONE)
            break;
        if (s == SCAN_ALL_CLOSED) {
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
                /* relaxed: the scan's c_lock release that follows orders it
                 * before any later critical section of cs[i] (file comment). */
                atomic_fetch_add_explicit(&cs[i]->c_any_waiters, 1, memory_order_relaxed);
            registered = true;
            continue; /* read any_gen, then rescan */
        }
        WEFT__YIELD();
        timed_out = coll_futex_wait(&any_gen, gen, have_deadline ? &abs : NULL) == ETIMEDOUT;
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
    coll_lock_acquire(&c->c_lock);
    size_t k = 0;
    while (k < max && c->c_count > 0)
        out[k++] = store_pop(c);
    bool wake_any = k > 0 && after_take(c, k);
    coll_lock_release(&c->c_lock);
    if (wake_any)
        any_wake();
    return k;
}

void weft_collection_complete_adding(weft_collection *c)
{
    if (!c)
        return;
    bool wake_any = false;
    coll_lock_acquire(&c->c_lock);
    if (!(c->c_state & ST_ADDING_DONE)) {
        c->c_state |= ST_ADDING_DONE;
        wlist_signal_all(c, &c->c_adders);
        if (c->c_count == 0) {
            c->c_state |= ST_COMPLETED;
            wlist_signal_all(c, &c->c_takers);
        }
        publish(c);
        wake_any = any_waiting(c);
    }
    coll_lock_release(&c->c_lock);
    if (wake_any)
        any_wake();
}

void weft_collection_shutdown(weft_collection *c)
{
    if (!c)
        return;
    bool wake_any = false;
    coll_lock_acquire(&c->c_lock);
    if (!(c->c_state & ST_SHUTDOWN)) {
        c->c_state |= ST_ADDING_DONE | ST_SHUTDOWN;
        if (c->c_count == 0)
            c->c_state |= ST_COMPLETED;
        /* Every item inside was added (unfinished++) and not taken, so
         * c_unfinished >= c_count. */
        WEFT__ASSERT(c->c_unfinished >= c->c_count);
        c->c_unfinished -= c->c_count;
        wlist_signal_all(c, &c->c_adders);
        wlist_signal_all(c, &c->c_takers);
        if (c->c_unfinished == 0)
            wlist_signal_all(c, &c->c_joiners);
        publish(c);
        wake_any = any_waiting(c);
    }
    coll_lock_release(&c->c_lock);
    if (wake_any)
        any_wake();
}

/* ---- task_done / join ------------------------------------------------- */

int weft_collection_task_done(weft_collection *c)
{
    if (!c)
        return EINVAL;
    int r = 0;
    coll_lock_acquire(&c->c_lock);
    if (c->c_unfinished == 0) {
        r = EINVAL;
    } else if (--c->c_unfinished == 0) {
        wlist_signal_all(c, &c->c_joiners);
    }
    coll_lock_release(&c->c_lock);
    return r;
}

int weft_collection_try_join(weft_collection *c, int64_t timeout_ns)
{
    if (!c || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    struct timespec abs;
    bool have_deadline = false, timed_out = false;
    int r;
    coll_lock_acquire(&c->c_lock);
    for (;;) {
        if (c->c_unfinished == 0) {
            r = 0;
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
        if (timeout_ns > 0 && !have_deadline) {
            coll_deadline(timeout_ns, &abs);
            have_deadline = true;
        }
        coll_waiter w;
        timed_out = wait_on(c, &c->c_joiners, &w, have_deadline ? &abs : NULL) == ETIMEDOUT;
    }
    coll_lock_release(&c->c_lock);
    return r;
}

int weft_collection_join(weft_collection *c)
{
    return weft_collection_try_join(c, WEFT_FOREVER);
}

/* ---- snapshots -------------------------------------------------------- */

size_t weft_collection_count(const weft_collection *c)
{
    /* relaxed: a snapshot (see c_snap_*). */
    return c ? atomic_load_explicit(&c->c_snap_count, memory_order_relaxed) : 0;
}

size_t weft_collection_capacity(const weft_collection *c)
{
    return c ? c->c_capacity : 0;
}

bool weft_collection_is_adding_completed(const weft_collection *c)
{
    /* relaxed: a snapshot (see c_snap_*). */
    return c && (atomic_load_explicit(&c->c_snap_state, memory_order_relaxed) & ST_ADDING_DONE);
}

bool weft_collection_is_completed(const weft_collection *c)
{
    /* relaxed: a snapshot (see c_snap_*). */
    return c && (atomic_load_explicit(&c->c_snap_state, memory_order_relaxed) & ST_COMPLETED);
}

size_t weft__collection_waiters(const weft_collection *c)
{
    if (!c)
        return 0;
    /* relaxed: snapshots for the test hook. */
    return atomic_load_explicit(&c->c_nwaiters, memory_order_relaxed) +
           atomic_load_explicit(&c->c_any_waiters, memory_order_relaxed);
}
