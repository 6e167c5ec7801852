/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/deque.c - the split Chase-Lev deque: growth, take, steal,
 * publish (deque.h; docs/design/deque.md).
 *
 * Memory orders follow Le, Pop, Cohen & Zappa Nardelli, "Correct and
 * efficient work-stealing for weak memory models", PPoPP 2013, Fig. 1
 * ("LPCZ" below); each atomic cites the line of that figure it implements.
 * A ring retired by growth is kept until weft__deque_fini, when no thief
 * runs any more (a thief may still be reading it; together the retired
 * rings are smaller than the current one): docs/design/deque.md,
 * "Reclamation". Under TSan (WEFT_TSAN) the seq_cst fences become seq_cst
 * operations on top/bottom: "ThreadSanitizer".
 */
#include "pool/deque.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>

#include "base/alloc.h"
#include "base/asymfence.h"
#include "base/cpu.h"
#include "base/debug.h"

struct weft__dq_buf {
    struct weft__dq_buf *b_retired;  /* the next older retired ring */
    int64_t b_mask;                  /* capacity - 1 */
    weft__task_impl *b_slots[];      /* weft__atomic_* only (weft/bits/fjq.h) */
};

/* The runtime passes C11 memory_order values to the weft__atomic_* macros
 * of weft/bits/fjq.h, which hand them to GCC's __atomic builtins: they must
 * be the same numbers (as GCC and Clang define them). */
_Static_assert(memory_order_relaxed == __ATOMIC_RELAXED &&
                   memory_order_acquire == __ATOMIC_ACQUIRE &&
                   memory_order_release == __ATOMIC_RELEASE &&
                   memory_order_acq_rel == __ATOMIC_ACQ_REL &&
                   memory_order_seq_cst == __ATOMIC_SEQ_CST,
               "C11 memory orders equal the __ATOMIC_* constants");

#define WEFT__DQ_DEFAULT_CAPACITY 1024
#define WEFT__DQ_MAX_CAPACITY ((int64_t)1 << 40)

static struct weft__dq_buf *dq_buf_alloc(int64_t capacity)
{
    size_t bytes = sizeof(struct weft__dq_buf) + (size_t)capacity * sizeof(weft__task_impl *);
    struct weft__dq_buf *b = weft__aligned_alloc(WEFT__CACHE_LINE, bytes);
    if (b == NULL)
        return NULL;
    b->b_retired = NULL;
    b->b_mask = capacity - 1;
    for (int64_t i = 0; i < capacity; i++)
        b->b_slots[i] = NULL; /* not shared yet (as atomic_init) */
    return b;
}

int weft__deque_init(weft__deque *dq, size_t capacity)
{
    weft__asym_init(); /* membarrier, for forced publication */
    int64_t cap = 2;
    if (capacity == 0)
        capacity = WEFT__DQ_DEFAULT_CAPACITY;
    while ((size_t)cap < capacity && cap < WEFT__DQ_MAX_CAPACITY)
        cap *= 2;
    struct weft__dq_buf *b = dq_buf_alloc(cap);
    if (b == NULL)
        return ENOMEM;
    atomic_init(&dq->dq_top, 0);
    atomic_init(&dq->dq_bottom, 0);
    atomic_init(&dq->dq_buf, b);
    dq->dq_q.q_hungry = 0; /* not shared yet (as atomic_init) */
    dq->dq_q.q_priv = 0;
    dq->dq_q.q_bot = 0;
    dq->dq_q.q_limit = cap;
    dq->dq_q.q_mask = b->b_mask;
    dq->dq_q.q_slots = b->b_slots;
    dq->dq_q.q_spawned = 0; /* not shared yet (as atomic_init) */
    dq->dq_q.q_executed = 0;
    dq->dq_retired = NULL;
    dq->dq_grown = 0;
    return 0;
}

void weft__deque_fini(weft__deque *dq)
{
    if (dq == NULL)
        return;
    /* Relaxed: no other thread uses dq any more (joined by the caller). */
    weft__free(atomic_load_explicit(&dq->dq_buf, memory_order_relaxed));
    atomic_store_explicit(&dq->dq_buf, NULL, memory_order_relaxed);
    while (dq->dq_retired != NULL) {
        struct weft__dq_buf *next = dq->dq_retired->b_retired;
        weft__free(dq->dq_retired);
        dq->dq_retired = next;
    }
}

int weft__deque_make_room(weft__deque *dq)
{
    /* Acquire, LPCZ push line 3 (load_acquire(&q->top)): the slots below
     * top were read by their thieves before top moved past them. */
    int64_t t = atomic_load_explicit(&dq->dq_top, memory_order_acquire);
    dq->dq_q.q_limit = t + dq->dq_q.q_mask + 1;
    int64_t p = weft__fjq_priv(&dq->dq_q);
    if (p < dq->dq_q.q_limit)
        return 0;
    int64_t cap = (dq->dq_q.q_mask + 1) * 2;
    if (cap > WEFT__DQ_MAX_CAPACITY)
        return ENOMEM;
    struct weft__dq_buf *nb = dq_buf_alloc(cap);
    if (nb == NULL)
        return ENOMEM; /* nothing changed */
    /* Relaxed: this thread is the only writer of any slot. */
    struct weft__dq_buf *ob = atomic_load_explicit(&dq->dq_buf, memory_order_relaxed);
    for (int64_t i = t; i < p; i++)
        weft__atomic_store(&nb->b_slots[i & nb->b_mask],
                           weft__atomic_load(&ob->b_slots[i & ob->b_mask], memory_order_relaxed),
                           memory_order_relaxed);
    /* Release, LPCZ resize (store of q->array): a thief that acquires the
     * new ring sees the copied slots. Thieves load dq_buf after an acquire
     * of bottom, so one that sees a slot published after this growth also
     * sees this ring. */
    atomic_store_explicit(&dq->dq_buf, nb, memory_order_release);
    dq->dq_q.q_slots = nb->b_slots;
    dq->dq_q.q_mask = nb->b_mask;
    dq->dq_q.q_limit = t + cap;
    dq->dq_grown++;
    WEFT__YIELD();
    /* The old ring is never written again; a thief may still read it, so
     * it is freed with the deque. */
    ob->b_retired = dq->dq_retired;
    dq->dq_retired = ob;
    return 0;
}

/* ---- the owner's bracket ------------------------------------------------ */

/* Owner: wait out a forcing thief, catch up with a forced publication
 * (q_bot := bottom), then hold OWNER while moving bottom, so that no thief
 * forces meanwhile. Returns whether work was requested: ASKED, or a forced
 * publication (somebody wanted work). */
static bool dq_owner_enter(weft__deque *dq)
{
    unsigned spins = 0;
    for (;;) {
        /* Acquire: pairs with the forcing thief's release RMW to FORCED, so
         * that its store of bottom is visible below. */
        uint32_t v = weft__atomic_load(&dq->dq_q.q_hungry, memory_order_acquire);
        if (v & WEFT__HUNGRY_FORCING) {
            /* A thief is between its CAS and FORCED: a few instructions and
             * one membarrier, unless it was preempted. */
            if (spins++ < 64)
                weft__cpu_relax();
            else
                sched_yield();
            continue;
        }
        WEFT__ASSERT(!(v & WEFT__HUNGRY_OWNER));
        if (v & WEFT__HUNGRY_FORCED)
            /* Relaxed: ordered by the acquire above. */
            dq->dq_q.q_bot = atomic_load_explicit(&dq->dq_bottom, memory_order_relaxed);
        /* Relaxed CAS: thieves only set ASKED (fetch_or) or take FORCING
         * from a value without a phase; a failure means one did, so look
         * again. What we read after it needs no order: only we write bottom
         * and the private part. The phase becomes OWNER; the other bits
         * stay (ASKED, and the trace's DAG bit: runtime/pool/trace.h). */
        uint32_t nv = (v & ~WEFT__HUNGRY_PHASE) | WEFT__HUNGRY_OWNER;
        if (weft__atomic_cas_weak(&dq->dq_q.q_hungry, &v, nv, memory_order_relaxed,
                                  memory_order_relaxed))
            return (v & (WEFT__HUNGRY_ASKED | WEFT__HUNGRY_FORCED)) != 0;
    }
}

/* Owner: leave the bracket; served: something was published, which
 * answers the request (a thief that asks meanwhile finds it, and the
 * caller's notify wakes one that parked). An unanswered request stays, so
 * that the next push is published at once. */
static void dq_owner_exit(weft__deque *dq, bool served)
{
    uint32_t clear = WEFT__HUNGRY_OWNER | (served ? WEFT__HUNGRY_ASKED : 0);
    /* Release: a forcing thief whose CAS reads a later value (acquire) sees
     * our stores of bottom. */
    weft__atomic_fetch_and(&dq->dq_q.q_hungry, ~clear, memory_order_release);
}

/* ---- take and publish (inside the bracket) ------------------------------- */

/* The LPCZ take of the newest shared task; the private part is empty. */
static weft__task_impl *dq_take(weft__deque *dq)
{
    WEFT__ASSERT(weft__fjq_priv(&dq->dq_q) == dq->dq_q.q_bot);
    int64_t b = dq->dq_q.q_bot - 1;
    int64_t t;
#ifdef WEFT_TSAN
    /* seq_cst store + seq_cst load: the TSan-visible form of LPCZ take lines
     * 2-4 (the Dekker pair with the thief's seq_cst loads). */
    atomic_store_explicit(&dq->dq_bottom, b, memory_order_seq_cst);
    t = atomic_load_explicit(&dq->dq_top, memory_order_seq_cst);
#else
    /* LPCZ take line 3: relaxed store of bottom, then line 4: a seq_cst
     * fence, so that either a thief sees the decremented bottom or we see
     * its incremented top (pairs with the fence in weft__deque_steal). */
    atomic_store_explicit(&dq->dq_bottom, b, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    /* Acquire, LPCZ take line 5 (relaxed there, ordered by the fence):
     * acquire because t bounds q_limit, and a push overwrites the
     * slots below it (pairs with the thieves' seq_cst CAS of top). */
    t = atomic_load_explicit(&dq->dq_top, memory_order_acquire);
#endif
    WEFT__YIELD();
    weft__task_impl *x = NULL;
    if (t <= b) {
        /* Relaxed: the owner wrote this slot. */
        x = weft__atomic_load(&dq->dq_q.q_slots[b & dq->dq_q.q_mask], memory_order_relaxed);
        if (t == b) {
            /* The last element: race the thieves for it. seq_cst CAS,
             * LPCZ take line 10; acquire on failure (LPCZ: relaxed) since
             * the value read bounds q_limit, as above. */
            if (!atomic_compare_exchange_strong_explicit(&dq->dq_top, &t, t + 1,
                                                         memory_order_seq_cst,
                                                         memory_order_acquire))
                x = NULL;
            t = b + 1;
            b = b + 1;
            /* Relaxed, LPCZ take line 12: restoring bottom needs no order;
             * the CAS above decided the element. */
            atomic_store_explicit(&dq->dq_bottom, b, memory_order_relaxed);
        }
    } else {
        /* Empty: restore bottom (LPCZ take line 14, relaxed). */
        b = b + 1;
        atomic_store_explicit(&dq->dq_bottom, b, memory_order_relaxed);
    }
    dq->dq_q.q_bot = b;
    /* Relaxed: inside the bracket no thief reads it (none can force). */
    weft__atomic_store(&dq->dq_q.q_priv, b, memory_order_relaxed);
    /* t: a value top had (or passed), never above it. */
    dq->dq_q.q_limit = t + dq->dq_q.q_mask + 1;
    return x;
}

/* Store bottom = nb: the LPCZ push of the slots below it (owner inside its
 * bracket, or a forcing thief). */
static void dq_store_bottom(weft__deque *dq, int64_t nb)
{
#ifdef WEFT_TSAN
    /* Release store: the TSan-visible form of the two lines below. */
    atomic_store_explicit(&dq->dq_bottom, nb, memory_order_release);
#else
    /* LPCZ push lines 6-7: a release fence, then a relaxed store of bottom:
     * the slots and frames below nb become visible to a thief that
     * acquires bottom (pairs with weft__deque_steal's acquire). The fence
     * form also covers take's later relaxed stores of bottom
     * (docs/design/deque.md, "Publication"). */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&dq->dq_bottom, nb, memory_order_relaxed);
#endif
}

/* Publish [q_bot, nb) if it is not empty. */
static bool dq_publish_to(weft__deque *dq, int64_t nb)
{
    if (nb <= dq->dq_q.q_bot)
        return false;
    dq->dq_q.q_bot = nb;
    dq_store_bottom(dq, nb);
    return true;
}

/* ---- the owner's operations ------------------------------------------------ */

weft__task_impl *weft__deque_take(weft__deque *dq)
{
    (void)dq_owner_enter(dq);
    weft__task_impl *x = dq_take(dq);
    dq_owner_exit(dq, false); /* not served: the next push publishes */
    return x;
}

bool weft__deque_publish_all(weft__deque *dq)
{
    (void)dq_owner_enter(dq);
    bool pub = dq_publish_to(dq, weft__fjq_priv(&dq->dq_q));
    dq_owner_exit(dq, pub);
    return pub;
}

bool weft__deque_serve(weft__deque *dq, weft__task_impl *popped, bool *published)
{
    bool req = dq_owner_enter(dq);
    bool mine = true;
    int64_t p = weft__fjq_priv(&dq->dq_q);
    if (popped != NULL && dq->dq_q.q_bot > p) {
        /* A forcing thief read q_priv before our pop of index p and
         * published it (bottom = p + 1; docs/design/deque.md, "Forced
         * publication"): it is a shared task now, so take it back as one. */
        WEFT__ASSERT(dq->dq_q.q_bot == p + 1);
        weft__atomic_store(&dq->dq_q.q_priv, p + 1, memory_order_relaxed);
        mine = dq_take(dq) == popped;
        p = weft__fjq_priv(&dq->dq_q);
    }
    WEFT__ASSERT(p >= dq->dq_q.q_bot);
    /* Serve a request: the older half (rounded up) of the private part. A
     * request that finds nothing to publish stays, so that the next push
     * is published at once (idle workers that parked are waiting for it). */
    bool pub = req && dq_publish_to(dq, dq->dq_q.q_bot + (p - dq->dq_q.q_bot + 1) / 2);
    dq_owner_exit(dq, pub);
    *published = pub;
    return mine;
}

/* ---- thieves ------------------------------------------------------------- */

bool weft__deque_force(weft__deque *dq)
{
#ifndef WEFT_TSAN
    if (!weft__asym)
        return false; /* no heavy side for the handshake: only ask */
#endif
    /* Relaxed: the CAS below validates it. */
    uint32_t v = weft__atomic_load(&dq->dq_q.q_hungry, memory_order_relaxed);
    if (v & WEFT__HUNGRY_PHASE)
        return false; /* another thief forces, or the owner is in its bracket */
#ifdef WEFT_TSAN
    /* seq_cst: the heavy side of the handshake with the owner's seq_cst
     * q_priv store and q_hungry load (weft/bits/fjq.h), in C11 terms. */
    if (!weft__atomic_cas_strong(&dq->dq_q.q_hungry, &v, v | WEFT__HUNGRY_FORCING,
                                 memory_order_seq_cst, memory_order_relaxed))
        return false;
#else
    /* Acquire: pairs with the owner's release when it left its bracket, so
     * that the bottom we read is the one it stored. */
    if (!weft__atomic_cas_strong(&dq->dq_q.q_hungry, &v, v | WEFT__HUNGRY_FORCING,
                                 memory_order_acquire, memory_order_relaxed))
        return false;
    /* The heavy side of the handshake (weft/bits/fjq.h): after it, every
     * push or pop of the owner either is visible below or sees FORCING. */
    weft__asym_heavy();
#endif
    WEFT__YIELD();
    /* Relaxed: the owner is outside its bracket and cannot enter it while
     * we hold FORCING, so bottom is stable; we read its last store (the
     * CAS's acquire). */
    int64_t b = atomic_load_explicit(&dq->dq_bottom, memory_order_relaxed);
    /* The heavy side's load (relaxed after membarrier; seq_cst under TSan,
     * pairing with the owner's seq_cst store, which also orders the slots
     * and frames it pushed before it). */
    int64_t p = weft__atomic_load(&dq->dq_q.q_priv, WEFT__FJQ_PRIV_ORDER);
    bool pub = p > b;
    if (pub)
        dq_store_bottom(dq, p);
    /* Release: pairs with the owner's acquire in dq_owner_enter, which then
     * reads our bottom. An RMW, so that a request raised meanwhile stays. */
    weft__atomic_fetch_xor(&dq->dq_q.q_hungry, WEFT__HUNGRY_FORCING | WEFT__HUNGRY_FORCED,
                           memory_order_release);
    return pub;
}

int weft__deque_steal(weft__deque *dq, weft__task_impl **out)
{
#ifdef WEFT_TSAN
    /* TSan-visible form of LPCZ steal lines 2-4: two seq_cst loads. */
    int64_t t = atomic_load_explicit(&dq->dq_top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&dq->dq_bottom, memory_order_seq_cst);
#else
    /* Acquire, LPCZ steal line 2: see the slots freed by earlier steals. */
    int64_t t = atomic_load_explicit(&dq->dq_top, memory_order_acquire);
    /* LPCZ steal line 3: pairs with the fence in weft__deque_take. */
    atomic_thread_fence(memory_order_seq_cst);
    /* Acquire, LPCZ steal line 4: pairs with the release store of bottom
     * in weft__deque_publish (the published slots and frames). */
    int64_t b = atomic_load_explicit(&dq->dq_bottom, memory_order_acquire);
#endif
    if (t >= b) {
        weft__deque_ask(dq);
        return WEFT__STEAL_EMPTY;
    }
    WEFT__YIELD();
    /* Acquire (LPCZ uses consume): see the slots copied into a new ring. */
    struct weft__dq_buf *buf = atomic_load_explicit(&dq->dq_buf, memory_order_acquire);
    /* Relaxed, LPCZ steal line 6: the CAS below validates the value. */
    weft__task_impl *x = weft__atomic_load(&buf->b_slots[t & buf->b_mask], memory_order_relaxed);
    WEFT__YIELD();
    /* seq_cst CAS, LPCZ steal line 7: at most one of the thieves and the
     * owner's take gets index t. */
    if (!atomic_compare_exchange_strong_explicit(&dq->dq_top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return WEFT__STEAL_ABORT;
    *out = x;
    return WEFT__STEAL_OK;
}

void weft__deque_ask(weft__deque *dq)
{
    /* Relaxed: a request, answered at the owner's next push or pop. Only
     * written when not yet set, so that idle thieves do not keep the
     * owner's line bouncing; an RMW, so that it keeps the phase bits (and
     * is not lost while the owner is in its bracket). */
    if (!(weft__atomic_load(&dq->dq_q.q_hungry, memory_order_relaxed) & WEFT__HUNGRY_ASKED))
        weft__atomic_fetch_or(&dq->dq_q.q_hungry, WEFT__HUNGRY_ASKED, memory_order_relaxed);
}

bool weft__deque_has_private(const weft__deque *dq)
{
    /* The heavy side's loads: relaxed after membarrier, seq_cst under TSan
     * (weft/bits/fjq.h). A transient bottom - 1 of the owner's take reads
     * as a private task: a false alarm costs a search round. */
    int64_t p = weft__atomic_load(&dq->dq_q.q_priv, WEFT__FJQ_PRIV_ORDER);
    return p > atomic_load_explicit(&dq->dq_bottom, memory_order_relaxed);
}

bool weft__deque_has_shared(weft__deque *dq)
{
    /* seq_cst: the parking re-check (park.h) must not be reordered before
     * the parker's increment of the waiter count. */
    int64_t t = atomic_load_explicit(&dq->dq_top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&dq->dq_bottom, memory_order_seq_cst);
    return t < b;
}
