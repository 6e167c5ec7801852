/*
 * runtime/pool/deque.c - the split Chase-Lev deque: growth, take, steal,
 * publish (deque.h; docs/design/deque.md).
 *
 * Memory orders follow Le, Pop, Cohen & Zappa Nardelli, "Correct and
 * efficient work-stealing for weak memory models", PPoPP 2013, Fig. 1
 * ("LPCZ" below); each atomic cites the line of that figure it implements.
 * Retired rings are freed by urcu-memb call_rcu after a grace period
 * (thieves read a ring inside a read-side critical section); under TSan
 * (WEFT_TSAN), which cannot see membarrier-based grace periods, they are
 * kept until weft__deque_fini, and the seq_cst fences become seq_cst
 * operations on top/bottom: docs/design/deque.md, "Reclamation" and
 * "ThreadSanitizer".
 */
#include "pool/deque.h"

#include <errno.h>
#include <stddef.h>

#include <urcu/urcu-memb.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/debug.h"

struct weft__dq_buf {
    struct rcu_head b_rcu;           /* for urcu_memb_call_rcu */
    struct weft__dq_buf *b_retired;  /* WEFT_TSAN: next retired ring */
    int64_t b_mask;                  /* capacity - 1 */
    _Atomic(weft__task_impl *) b_slots[];
};

#define WEFT__DQ_DEFAULT_CAPACITY 1024
#define WEFT__DQ_MAX_CAPACITY ((int64_t)1 << 40)

static struct weft__dq_buf *dq_buf_alloc(int64_t capacity)
{
    size_t bytes = sizeof(struct weft__dq_buf)
                   + (size_t)capacity * sizeof(_Atomic(weft__task_impl *));
    struct weft__dq_buf *b = weft__aligned_alloc(WEFT__CACHE_LINE, bytes);
    if (b == NULL)
        return NULL;
    b->b_retired = NULL;
    b->b_mask = capacity - 1;
    for (int64_t i = 0; i < capacity; i++)
        atomic_init(&b->b_slots[i], NULL);
    return b;
}

int weft__deque_init(weft__deque *dq, size_t capacity)
{
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
    atomic_init(&dq->dq_q.q_hungry, 0);
    dq->dq_q.q_priv = 0;
    dq->dq_q.q_bot = 0;
    dq->dq_q.q_top_cache = 0;
    dq->dq_q.q_mask = b->b_mask;
    dq->dq_q.q_slots = b->b_slots;
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

#ifndef WEFT_TSAN
static void dq_buf_free_rcu(struct rcu_head *head)
{
    weft__free((char *)head - offsetof(struct weft__dq_buf, b_rcu));
}
#endif

int weft__deque_make_room(weft__deque *dq)
{
    /* Acquire, LPCZ push line 3 (load_acquire(&q->top)): the slots below
     * top were read by their thieves before top moved past them. */
    int64_t t = atomic_load_explicit(&dq->dq_top, memory_order_acquire);
    dq->dq_q.q_top_cache = t;
    int64_t p = dq->dq_q.q_priv;
    if (p - t <= dq->dq_q.q_mask)
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
        atomic_store_explicit(&nb->b_slots[i & nb->b_mask],
                              atomic_load_explicit(&ob->b_slots[i & ob->b_mask],
                                                   memory_order_relaxed),
                              memory_order_relaxed);
    /* Release, LPCZ resize (store of q->array): a thief that acquires the
     * new ring sees the copied slots. Thieves load dq_buf after an acquire
     * of bottom, so one that sees a slot published after this growth also
     * sees this ring. */
    atomic_store_explicit(&dq->dq_buf, nb, memory_order_release);
    dq->dq_q.q_slots = nb->b_slots;
    dq->dq_q.q_mask = nb->b_mask;
    dq->dq_grown++;
    WEFT__YIELD();
#ifdef WEFT_TSAN
    ob->b_retired = dq->dq_retired;
    dq->dq_retired = ob;
#else
    /* The old ring is never written again; thieves may still read it until
     * a grace period has passed. The owner is a registered reader thread,
     * as call_rcu requires. */
    urcu_memb_call_rcu(&ob->b_rcu, dq_buf_free_rcu);
#endif
    return 0;
}

weft__task_impl *weft__deque_take(weft__deque *dq)
{
    WEFT__ASSERT(dq->dq_q.q_priv == dq->dq_q.q_bot);
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
    /* Relaxed, LPCZ take line 5: ordered by the fence above. */
    t = atomic_load_explicit(&dq->dq_top, memory_order_relaxed);
#endif
    WEFT__YIELD();
    weft__task_impl *x = NULL;
    if (t <= b) {
        /* Relaxed: the owner wrote this slot. */
        x = atomic_load_explicit(&dq->dq_q.q_slots[b & dq->dq_q.q_mask], memory_order_relaxed);
        if (t == b) {
            /* The last element: race the thieves for it. seq_cst CAS,
             * LPCZ take line 10 (compare_exchange_strong_explicit, seq_cst,
             * relaxed). */
            if (!atomic_compare_exchange_strong_explicit(&dq->dq_top, &t, t + 1,
                                                         memory_order_seq_cst,
                                                         memory_order_relaxed))
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
    dq->dq_q.q_priv = b;
    dq->dq_q.q_top_cache = t; /* a value top had (or passed): never above it */
    return x;
}

/* Owner: make [dq_q.q_bot, nb) stealable (the Le et al. push of those slots). */
static void dq_publish_to(weft__deque *dq, int64_t nb)
{
    /* Relaxed: a hint; cleared before publishing, so that a thief that
     * finds the deque empty again afterwards can ask again. */
    atomic_store_explicit(&dq->dq_q.q_hungry, 0, memory_order_relaxed);
    dq->dq_q.q_bot = nb;
#ifdef WEFT_TSAN
    /* Release store: the TSan-visible form of the two lines below. */
    atomic_store_explicit(&dq->dq_bottom, nb, memory_order_release);
#else
    /* LPCZ push lines 6-7: a release fence, then a relaxed store of bottom:
     * the slots and frames in [old bot, nb) become visible to a thief that
     * acquires bottom (pairs with weft__deque_steal's acquire). The fence
     * form also covers take's later relaxed stores of bottom
     * (docs/design/deque.md, "Publication"). */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&dq->dq_bottom, nb, memory_order_relaxed);
#endif
}

bool weft__deque_publish(weft__deque *dq)
{
    int64_t b = dq->dq_q.q_bot;
    int64_t p = dq->dq_q.q_priv;
    if (p == b)
        return false;
    dq_publish_to(dq, b + (p - b + 1) / 2);
    return true;
}

bool weft__deque_publish_all(weft__deque *dq)
{
    int64_t p = dq->dq_q.q_priv;
    if (p == dq->dq_q.q_bot)
        return false;
    dq_publish_to(dq, p);
    return true;
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
        /* Relaxed: a request; only written when clear, so that idle thieves
         * do not keep the owner's line bouncing. */
        if (atomic_load_explicit(&dq->dq_q.q_hungry, memory_order_relaxed) == 0)
            atomic_store_explicit(&dq->dq_q.q_hungry, 1, memory_order_relaxed);
        return WEFT__STEAL_EMPTY;
    }
    WEFT__YIELD();
#ifndef WEFT_TSAN
    urcu_memb_read_lock();
#endif
    /* Acquire (LPCZ uses consume): see the slots copied into a new ring. */
    struct weft__dq_buf *buf = atomic_load_explicit(&dq->dq_buf, memory_order_acquire);
    /* Relaxed, LPCZ steal line 6: the CAS below validates the value. */
    weft__task_impl *x = atomic_load_explicit(&buf->b_slots[t & buf->b_mask],
                                              memory_order_relaxed);
#ifndef WEFT_TSAN
    urcu_memb_read_unlock();
#endif
    WEFT__YIELD();
    /* seq_cst CAS, LPCZ steal line 7: at most one of the thieves and the
     * owner's take gets index t. */
    if (!atomic_compare_exchange_strong_explicit(&dq->dq_top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return WEFT__STEAL_ABORT;
    *out = x;
    return WEFT__STEAL_OK;
}

bool weft__deque_has_shared(weft__deque *dq)
{
    /* seq_cst: the parking re-check (park.h) must not be reordered before
     * the parker's increment of the waiter count. */
    int64_t t = atomic_load_explicit(&dq->dq_top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&dq->dq_bottom, memory_order_seq_cst);
    return t < b;
}
