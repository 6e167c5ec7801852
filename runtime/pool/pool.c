/*
 * runtime/pool.c - the worker pool: create/destroy, worker loop, stealing,
 * parking, injection queue, SHARED queue, submit/call/wait_idle, stats.
 *
 * Locks: p_sq_lock (SHARED queue) and the try-lock p_inj_lock (injection
 * dequeue side) are leaves; no code holds two locks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <urcu/urcu-memb.h>
#include <urcu/wfcqueue.h>

#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#include "base/alloc.h"
#include "base/debug.h"
#include "base/futex.h"
#include "pool/worker.h"

_Thread_local weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));
/* The typed fork-join fast paths (weft/fj.h) find their queue here: the
 * worker's deque in a STEALING pool; elsewhere weft__fjq_none, on which
 * they always take their slow paths (never NULL: one load, no test). */
const struct weft__fjq weft__fjq_none = {.q_mask = -1};
/* The cast drops const only for the pointer's type: nothing writes through
 * it (a bug that did would fault on read-only memory). */
_Thread_local struct weft__fjq *weft__tls_fjq
    __attribute__((tls_model("initial-exec"))) = (struct weft__fjq *)&weft__fjq_none;
void (*weft__pool_race_hook)(int where);

/* Idle search: rounds of stealing over all victims before parking, and
 * pauses between rounds. About 50-100 us on the target machine. */
#define WEFT__IDLE_ROUNDS 64
#define WEFT__IDLE_PAUSES 32
/* Injected tasks a worker moves into its own deque at once. */
#define WEFT__INJECT_BATCH 32

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

void weft__backoff(unsigned *spins)
{
    unsigned s = (*spins)++;
    if (s < 64) {
        for (unsigned i = 0; i < 8; i++)
            cpu_relax();
    } else {
        sched_yield(); /* waiting workers never sleep; let the thief run */
    }
}

static uint64_t rng_next(weft__worker *w)
{
    /* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
     * xorshift generators, scrambled", 2016). */
    uint64_t x = w->w_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->w_rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* ---- outstanding heap tasks, idleness, closing ------------------------- */

static void pool_task_done(weft_pool *p)
{
    /* seq_cst RMW: releases the task's effects to wait_idle (which loads
     * p_state seq_cst) and is the Dekker partner of the idle waiter's
     * increment of p_idle_waiters followed by its load of p_state. Only
     * workers get here, and destroy joins them before freeing the pool. */
    uint64_t old = atomic_fetch_sub_explicit(&p->p_state, 1, memory_order_seq_cst);
    if (old == 1 && atomic_load_explicit(&p->p_idle_waiters, memory_order_seq_cst) > 0) {
        /* seq_cst: bumping after the waiter read the epoch wakes it. */
        atomic_fetch_add_explicit(&p->p_idle_epoch, 1, memory_order_seq_cst);
        weft__futex_wake(&p->p_idle_epoch, INT_MAX);
    }
}

static void pool_count_task(weft_pool *p)
{
    /* seq_cst RMW: the idle waiter's seq_cst load of p_state sees it before
     * the task can run (the enqueue follows). An outside caller holds the
     * p_callers guard here, so destroy's idle wait comes after it. */
    atomic_fetch_add_explicit(&p->p_state, 1, memory_order_seq_cst);
}

/* Admit an outside caller, or EPIPE once destroy began. On EPIPE nothing of
 * the pool was written, so destroy may free it at any moment after. */
static int callers_enter(weft_pool *p)
{
    /* Relaxed: the CAS below validates the value. */
    uint32_t v = atomic_load_explicit(&p->p_callers, memory_order_relaxed);
    do {
        if (v & WEFT__CALLERS_CLOSING)
            return EPIPE;
        /* Relaxed CAS: RMWs on p_callers are totally ordered, so destroy's
         * fetch_or either came first (we see CLOSING) or comes after our
         * increment (and destroy waits for our decrement). Nothing needs
         * ordering before this point. */
    } while (!atomic_compare_exchange_weak_explicit(&p->p_callers, &v, v + 1,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

/* The admitted caller's last access to p: after the decrement destroy may
 * free the pool; the wake-up is only a syscall, and a private FUTEX_WAKE
 * reads no user memory. */
static void callers_leave(weft_pool *p)
{
    /* Release: our writes (the task count, the enqueue) happen before
     * destroy's acquire load that sees the count drop to 0; the decrements
     * are RMWs, so they all belong to the release sequence it reads. */
    uint32_t old = atomic_fetch_sub_explicit(&p->p_callers, 1, memory_order_release);
    if ((old & WEFT__CALLERS_COUNT) == 1 && (old & WEFT__CALLERS_WAITER))
        weft__futex_wake(&p->p_callers, 1);
}

/* destroy: refuse new outside callers, then wait for the admitted ones. */
static void callers_close(weft_pool *p)
{
    /* Relaxed RMW: totally ordered with the callers' CAS (callers_enter). */
    atomic_fetch_or_explicit(&p->p_callers, WEFT__CALLERS_CLOSING, memory_order_relaxed);
    /* Acquire inside: pairs with callers_leave's release decrement. */
    weft__futex_wait_zero(&p->p_callers, WEFT__CALLERS_COUNT, WEFT__CALLERS_WAITER);
}

static void pool_wait_idle(weft_pool *p)
{
    for (;;) {
        /* seq_cst: Dekker with pool_task_done (see there). */
        atomic_fetch_add_explicit(&p->p_idle_waiters, 1, memory_order_seq_cst);
        uint32_t e = atomic_load_explicit(&p->p_idle_epoch, memory_order_seq_cst);
        uint64_t s = atomic_load_explicit(&p->p_state, memory_order_seq_cst);
        if (s == 0) {
            /* Relaxed: only a count; a stale non-zero costs a wake-up. */
            atomic_fetch_sub_explicit(&p->p_idle_waiters, 1, memory_order_relaxed);
            return;
        }
        weft__futex_wait(&p->p_idle_epoch, e);
        /* Relaxed: only a count; the next round re-announces with seq_cst. */
        atomic_fetch_sub_explicit(&p->p_idle_waiters, 1, memory_order_relaxed);
    }
}

/* ---- notification ------------------------------------------------------ */

void weft__pool_notify(weft_pool *p)
{
    /* seq_cst fence: the work made visible before this point and the
     * loads below form the notifier half of the Dekker pair (park.h);
     * pairs with the parker's seq_cst increment of p_waiters. */
    weft__fence_sc(&p->p_fence);
    /* Relaxed: ordered by the fence above. */
    if (atomic_load_explicit(&p->p_waiters, memory_order_relaxed) == 0)
        return;
    if (atomic_load_explicit(&p->p_searching, memory_order_relaxed) != 0)
        return;
    /* seq_cst: the bump must follow the parker's read of the epoch it
     * would sleep on; futex_wait compares against it. */
    atomic_fetch_add_explicit(&p->p_epoch, 1, memory_order_seq_cst);
    weft__futex_wake(&p->p_epoch, 1);
}

static void pool_notify_all(weft_pool *p)
{
    /* seq_cst: after the stop flag store; wakes every sleeper. */
    atomic_fetch_add_explicit(&p->p_epoch, 1, memory_order_seq_cst);
    weft__futex_wake(&p->p_epoch, INT_MAX);
}

void weft__worker_publish(weft__worker *w)
{
    if (weft__deque_publish(&w->w_dq))
        weft__pool_notify(w->w_pool);
}

/* ---- SHARED queue ------------------------------------------------------ */

int weft__sq_push(weft_pool *p, struct weft__task_impl *t)
{
    pthread_mutex_lock(&p->p_sq_lock);
    size_t n = atomic_load_explicit(&p->p_sq_count, memory_order_relaxed);
    if (n == p->p_sq_cap) {
        size_t ncap = p->p_sq_cap * 2;
        struct weft__task_impl **nr = weft__malloc(ncap * sizeof(*nr));
        if (nr == NULL) {
            pthread_mutex_unlock(&p->p_sq_lock);
            return ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            nr[i] = p->p_sq_ring[(p->p_sq_head + i) & (p->p_sq_cap - 1)];
        weft__free(p->p_sq_ring);
        p->p_sq_ring = nr;
        p->p_sq_cap = ncap;
        p->p_sq_head = 0;
    }
    p->p_sq_ring[(p->p_sq_head + n) & (p->p_sq_cap - 1)] = t;
    /* seq_cst store (under the lock): read without the lock by the parking
     * re-check; the caller's notify supplies the notifier's fence. */
    atomic_store_explicit(&p->p_sq_count, n + 1, memory_order_seq_cst);
    pthread_mutex_unlock(&p->p_sq_lock);
    return 0;
}

struct weft__task_impl *weft__sq_take_oldest(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    /* Relaxed: a lock-free peek to skip the lock when empty; the value is
     * re-read under the lock. */
    if (atomic_load_explicit(&p->p_sq_count, memory_order_relaxed) == 0)
        return NULL;
    struct weft__task_impl *t = NULL;
    pthread_mutex_lock(&p->p_sq_lock);
    size_t n = atomic_load_explicit(&p->p_sq_count, memory_order_relaxed);
    if (n > 0) {
        t = p->p_sq_ring[p->p_sq_head];
        p->p_sq_head = (p->p_sq_head + 1) & (p->p_sq_cap - 1);
        atomic_store_explicit(&p->p_sq_count, n - 1, memory_order_relaxed);
        /* Relaxed, under p_sq_lock: tells the spawner's sync (which reads
         * it under the lock too, or as a hint without) that t is no longer
         * queued. Heap tasks keep their HEAP state. */
        if (!(atomic_load_explicit(&t->ti_state, memory_order_relaxed) & WEFT__TS_HEAP))
            atomic_store_explicit(&t->ti_state, (int32_t)w->w_index + 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->p_sq_lock);
    if (t != NULL)
        weft__stat_inc(&w->w_injected);
    return t;
}

/* Remove slot i (0: the oldest) of the n queued tasks; p_sq_lock held. */
static void sq_remove_at(weft_pool *p, size_t i, size_t n)
{
    size_t mask = p->p_sq_cap - 1;
    for (size_t j = i; j + 1 < n; j++)
        p->p_sq_ring[(p->p_sq_head + j) & mask] = p->p_sq_ring[(p->p_sq_head + j + 1) & mask];
    /* Relaxed: under p_sq_lock (see p_sq_count). */
    atomic_store_explicit(&p->p_sq_count, n - 1, memory_order_relaxed);
}

struct weft__task_impl *weft__sq_take_group(weft__worker *w, const struct weft__group_impl *g,
                                            size_t window)
{
    weft_pool *p = w->w_pool;
    /* Relaxed: a peek, re-read under the lock. */
    if (atomic_load_explicit(&p->p_sq_count, memory_order_relaxed) == 0)
        return NULL;
    struct weft__task_impl *x = NULL;
    pthread_mutex_lock(&p->p_sq_lock);
    size_t n = atomic_load_explicit(&p->p_sq_count, memory_order_relaxed);
    size_t mask = p->p_sq_cap - 1;
    for (size_t i = n, seen = 0; i-- > 0 && seen < window; seen++) {
        struct weft__task_impl *t = p->p_sq_ring[(p->p_sq_head + i) & mask];
        /* Relaxed: the HEAP state was set before the task was queued. */
        if ((atomic_load_explicit(&t->ti_state, memory_order_relaxed) & WEFT__TS_HEAP)
            && ((struct weft__heap_task *)t)->ht_group == g) {
            sq_remove_at(p, i, n);
            x = t;
            break;
        }
    }
    pthread_mutex_unlock(&p->p_sq_lock);
    if (x != NULL)
        weft__stat_inc(&w->w_injected);
    return x;
}

bool weft__sq_take_mine(weft_pool *p, struct weft__task_impl *want)
{
    bool found = false;
    pthread_mutex_lock(&p->p_sq_lock);
    /* Relaxed, under p_sq_lock: every taker marks the frame under it. */
    if (atomic_load_explicit(&want->ti_state, memory_order_relaxed) == WEFT__TS_SPAWNED) {
        size_t n = atomic_load_explicit(&p->p_sq_count, memory_order_relaxed);
        size_t mask = p->p_sq_cap - 1;
        /* Scan from the newest end: the caller syncs in LIFO order, so its
         * task is the newest but for other workers' later pushes. */
        for (size_t i = n; i-- > 0;) {
            if (p->p_sq_ring[(p->p_sq_head + i) & mask] == want) {
                sq_remove_at(p, i, n);
                found = true;
                break;
            }
        }
        WEFT__ASSERT(found);
    }
    pthread_mutex_unlock(&p->p_sq_lock);
    return found;
}

/* ---- injection queue (STEALING) ---------------------------------------- */

static bool inj_trylock(weft_pool *p)
{
    /* Relaxed peek first, to keep the line shared while it is held. Acquire
     * exchange: pairs with the release in inj_unlock (the queue's head). */
    return atomic_load_explicit(&p->p_inj_lock, memory_order_relaxed) == 0
           && atomic_exchange_explicit(&p->p_inj_lock, 1, memory_order_acquire) == 0;
}

static void inj_unlock(weft_pool *p)
{
    /* Release: the next dequeuer sees our updates of the queue head. */
    atomic_store_explicit(&p->p_inj_lock, 0, memory_order_release);
}

static bool inj_nonempty(weft_pool *p)
{
    return !cds_wfcq_empty(&p->p_inj_head, &p->p_inj_tail);
}

static struct weft__heap_task *inj_node_task(struct cds_wfcq_node *n)
{
    struct weft__heap_task *ht =
        (struct weft__heap_task *)((char *)n - offsetof(struct weft__heap_task, ht_node));
#ifdef WEFT_TSAN
    /* The queue lives in (uninstrumented) liburcu: tell TSan that the
     * enqueue happened before this dequeue. Pairs with __tsan_release. */
    __tsan_acquire(ht);
#endif
    return ht;
}

/* Dequeue one node, or NULL. The non-blocking variant: the blocking one
 * sleeps 10 ms (poll) when an enqueuer was preempted between its tail
 * exchange and its link store - on a loaded machine that stalls a worker.
 * WOULDBLOCK reads as "nothing now"; the queue stays non-empty, so the
 * caller does not park and comes back (park's re-check sees it). */
static struct cds_wfcq_node *inj_dequeue(weft_pool *p)
{
    struct cds_wfcq_node *n = __cds_wfcq_dequeue_nonblocking(&p->p_inj_head, &p->p_inj_tail);
    return n == CDS_WFCQ_WOULDBLOCK ? NULL : n;
}

/* Take up to max injected tasks into out, oldest first; returns how many.
 * 0 also when another dequeuer holds the try-lock. */
static unsigned inj_take(weft_pool *p, struct weft__task_impl **out, unsigned max)
{
    if (!inj_nonempty(p) || !inj_trylock(p))
        return 0;
    unsigned taken = 0;
    while (taken < max) {
        struct cds_wfcq_node *n = inj_dequeue(p);
        if (n == NULL)
            break;
        out[taken++] = &inj_node_task(n)->ht_task;
    }
    inj_unlock(p);
    return taken;
}

/* Take one injected task (any thread that may run it). */
static struct weft__task_impl *inj_take_one(weft_pool *p)
{
    struct weft__task_impl *x;
    return inj_take(p, &x, 1) != 0 ? x : NULL;
}

/* Worker loop only (own deque empty, at top level): move a batch of
 * injected tasks into the own deque, publish all but the one returned, and
 * wake a helper. */
static struct weft__task_impl *inj_take_batch(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    struct weft__task_impl *batch[WEFT__INJECT_BATCH];
    unsigned taken = inj_take(p, batch, WEFT__INJECT_BATCH);
    if (taken == 0)
        return NULL;
    weft__stat_add(&w->w_injected, taken);
    /* Push the rest oldest first: thieves take the oldest end, so injected
     * tasks start roughly in submission order. */
    unsigned i = 1;
    for (; i < taken; i++)
        if (weft__deque_push(&w->w_dq, batch[i]) != 0)
            break;
    if (weft__deque_publish_all(&w->w_dq))
        weft__pool_notify(p);
    /* ENOMEM growing the deque: run what did not fit here (counted tasks
     * must run; the queue has no push-back). */
    for (; i < taken; i++)
        weft__run_task(w, batch[i]);
    return batch[0];
}

/* ---- heap tasks -------------------------------------------------------- */

int weft__heap_task_new(weft_pool *p, weft_task_fn fn, void *arg, struct weft__heap_task **out)
{
    bool outside = weft__worker_of(p) == NULL;
    struct weft__heap_task *ht = weft__malloc(sizeof(*ht));
    if (ht == NULL)
        return ENOMEM;
    if (outside && callers_enter(p) != 0) {
        WEFT__RACE_POINT(WEFT__RACE_REFUSED);
        weft__free(ht);
        return EPIPE;
    }
    pool_count_task(p);
    ht->ht_task.ti_fn = fn;
    ht->ht_task.ti_arg = arg;
    atomic_init(&ht->ht_task.ti_state, WEFT__TS_HEAP);
    ht->ht_task.ti_result = 0;
    ht->ht_task.ti_owner = NULL;
    cds_wfcq_node_init(&ht->ht_node);
    ht->ht_pool = p;
    ht->ht_group = NULL;
    ht->ht_call = NULL;
    *out = ht;
    return 0;
}

void weft__heap_task_enqueue(weft_pool *p, struct weft__heap_task *ht)
{
    weft__worker *w = weft__worker_of(p);
    bool inside = w != NULL;
    if (p->p_mode == WEFT_SCHED_SHARED) {
        while (weft__sq_push(p, &ht->ht_task) != 0) {
            /* ENOMEM growing the ring: the task is counted and must run;
             * run it here if we are a worker, else retry after a pause. */
            if (inside) {
                weft__run_task(w, &ht->ht_task);
                return;
            }
            sched_yield();
        }
    } else if (inside && weft__deque_push(&w->w_dq, &ht->ht_task) == 0) {
        weft__stat_inc(&w->w_spawned);
        /* Publish at once and wake a parked worker: nobody syncs a heap
         * task, so left private it would wait until this worker next polls
         * its deque - forever if the submitting task then waits for it.
         * Submits are rare next to spawns; the notify's fence is affordable. */
        if (weft__deque_publish_all(&w->w_dq))
            weft__pool_notify(p);
        return;
    } else {
#ifdef WEFT_TSAN
        __tsan_release(ht); /* pairs with __tsan_acquire in inj_node_task */
#endif
        /* Wait-free enqueue; its xchg is a full barrier on x86, and the
         * notify fence orders it before the waiter check (park.h). */
        cds_wfcq_enqueue(&p->p_inj_head, &p->p_inj_tail, &ht->ht_node);
    }
    /* From here a worker may run the task and the pool may become idle; an
     * outside caller still holds its p_callers guard, so destroy waits. */
    if (!inside)
        WEFT__RACE_POINT(WEFT__RACE_ENQUEUED);
    weft__pool_notify(p);
    if (!inside)
        callers_leave(p);
}

static void run_heap_task(struct weft__heap_task *ht)
{
    weft_pool *p = ht->ht_pool;
    struct weft__group_impl *g = ht->ht_group;
    int r = 0;
    /* Relaxed: cancellation is a hint; a task that starts anyway is fine. */
    if (g == NULL || atomic_load_explicit(&g->g_cancelled, memory_order_relaxed) == 0)
        r = ht->ht_task.ti_fn(ht->ht_task.ti_arg);
    if (g != NULL) {
        if (r != 0) {
            int32_t zero = 0;
            /* Relaxed CAS: the first error wins; published to the waiter
             * by the release of the decrement below. */
            atomic_compare_exchange_strong_explicit(&g->g_error, &zero, r,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed);
        }
        /* acq_rel: releases this task's effects to the waiter (which
         * acquires g_pending); after it g may be gone (only the futex
         * syscall, which touches no user memory, uses its address). */
        uint32_t old = atomic_fetch_sub_explicit(&g->g_pending, 1, memory_order_acq_rel);
        if ((old & WEFT__GROUP_COUNT) == 1 && (old & WEFT__GROUP_WAITER))
            weft__futex_wake(&g->g_pending, INT_MAX);
    }
    struct weft__call *c = ht->ht_call;
    weft__free(ht);
    if (c != NULL) {
        c->c_result = r;
        /* Release: publishes c_result to the caller's acquire. After it the
         * caller may return; only the futex syscall uses the address. */
        atomic_store_explicit(&c->c_done, 1, memory_order_release);
        weft__futex_wake(&c->c_done, 1);
    }
    pool_task_done(p);
}

void weft__run_task(weft__worker *w, struct weft__task_impl *x)
{
    /* Relaxed: the state was published with the task (deque release /
     * queue lock), or written by this thread (a thief's mark); only the
     * HEAP and SELF_ARG bits are looked at here. */
    int32_t s = atomic_load_explicit(&x->ti_state, memory_order_relaxed);
    weft__stat_inc(&w->w_executed);
    if (s & WEFT__TS_HEAP) {
        run_heap_task((struct weft__heap_task *)x);
        return;
    }
    x->ti_result = x->ti_fn(weft__frame_arg(x, s));
    /* Release: publishes ti_result (and the task's effects) to the syncing
     * owner's acquire load. The frame is never touched afterwards. */
    atomic_store_explicit(&x->ti_state, WEFT__TS_DONE, memory_order_release);
}

/* ---- stealing ---------------------------------------------------------- */

static struct weft__task_impl *steal_from(weft__worker *w, weft__worker *v)
{
    struct weft__task_impl *x;
    for (int tries = 0; tries < 4; tries++) {
        int r = weft__deque_steal(&v->w_dq, &x);
        if (r == WEFT__STEAL_OK) {
            weft__stat_inc(&w->w_steals);
            /* Relaxed: a hint for the owner's leapfrogging; heap tasks have
             * no waiter. The frame was published by the owner's release of
             * bottom, which our steal acquired. */
            int32_t s = atomic_load_explicit(&x->ti_state, memory_order_relaxed);
            if (!(s & WEFT__TS_HEAP))
                atomic_store_explicit(&x->ti_state,
                                      (s & WEFT__TS_SELF_ARG) | ((int32_t)w->w_index + 1),
                                      memory_order_relaxed);
            return x;
        }
        if (r == WEFT__STEAL_EMPTY)
            break;
    }
    weft__stat_inc(&w->w_failed_steals);
    return NULL;
}

static struct weft__task_impl *steal_any(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    unsigned n = p->p_nworkers;
    if (n < 2)
        return NULL;
    unsigned start = (unsigned)(rng_next(w) % n);
    for (unsigned i = 0; i < n; i++) {
        unsigned v = start + i < n ? start + i : start + i - n;
        if (v == w->w_index)
            continue;
        struct weft__task_impl *x = steal_from(w, &p->p_workers[v]);
        if (x != NULL)
            return x;
    }
    return NULL;
}

struct weft__task_impl *weft__own_pop(weft__worker *w)
{
    struct weft__task_impl *x = weft__deque_pop_private(&w->w_dq);
    if (x == NULL && w->w_dq.dq_q.q_bot != atomic_load_explicit(&w->w_dq.dq_top,
                                                            memory_order_relaxed))
        x = weft__deque_take(&w->w_dq); /* relaxed peek above: a hint only */
    return x;
}

bool weft__help_once(weft__worker *w, int prefer, const struct weft__group_impl *g)
{
    weft_pool *p = w->w_pool;
    struct weft__task_impl *x;
    if (p->p_mode == WEFT_SCHED_SHARED) {
        /* The awaited group's own tasks first (like taking one's own task
         * back: they nest no deeper than the task tree). With stack room:
         * a short look, then the oldest task, like an idle worker. Without:
         * a full look - the group's tasks must not starve. */
        bool room = weft__stack_room(w);
        x = g != NULL ? weft__sq_take_group(w, g, room ? 64 : SIZE_MAX) : NULL;
        if (x == NULL && room)
            x = weft__sq_take_oldest(w);
        if (x != NULL) {
            weft__run_task(w, x);
            return true;
        }
        return false;
    }
    /* The own deque and the thief's (leapfrogging: its tasks are the
     * awaited task's descendants) are always fair game; other work nests
     * unrelated tasks on this stack, so only while it has room. */
    x = weft__own_pop(w);
    if (x == NULL && prefer >= 0 && (unsigned)prefer != w->w_index
        && (unsigned)prefer < p->p_nworkers)
        x = steal_from(w, &p->p_workers[prefer]);
    if (x == NULL && weft__stack_room(w)) {
        x = steal_any(w);
        if (x == NULL) {
            x = inj_take_one(p);
            if (x != NULL)
                weft__stat_inc(&w->w_injected);
        }
    }
    if (x == NULL)
        return false;
    weft__run_task(w, x);
    return true;
}

/* ---- the worker loop --------------------------------------------------- */

static struct weft__task_impl *find_work(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    if (p->p_mode == WEFT_SCHED_SHARED)
        return weft__sq_take_oldest(w);
    struct weft__task_impl *x = weft__own_pop(w);
    if (x == NULL)
        x = inj_take_batch(w);
    if (x == NULL)
        x = steal_any(w);
    return x;
}

static bool work_visible(weft_pool *p)
{
    if (p->p_mode == WEFT_SCHED_SHARED)
        /* seq_cst: the parker's re-check (park.h). */
        return atomic_load_explicit(&p->p_sq_count, memory_order_seq_cst) != 0;
    /* The wfcq emptiness test is two loads (uatomic, relaxed); the seq_cst
     * fence below orders them after our waiter increment. */
    weft__fence_sc(&p->p_fence);
    if (inj_nonempty(p))
        return true;
    for (unsigned i = 0; i < p->p_nworkers; i++)
        if (weft__deque_has_shared(&p->p_workers[i].w_dq))
            return true;
    return false;
}

static void park(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    /* seq_cst: the parker's half of the Dekker pair (park.h). */
    atomic_fetch_add_explicit(&p->p_waiters, 1, memory_order_seq_cst);
    uint32_t e = atomic_load_explicit(&p->p_epoch, memory_order_seq_cst);
    if (!work_visible(p) && !atomic_load_explicit(&p->p_stop, memory_order_seq_cst)) {
        weft__stat_inc(&w->w_parks);
        weft__futex_wait(&p->p_epoch, e);
    }
    /* Relaxed: a count; the next park re-announces with seq_cst. */
    atomic_fetch_sub_explicit(&p->p_waiters, 1, memory_order_relaxed);
}

static void found_work(weft_pool *p)
{
    /* seq_cst RMW, then work_visible's seq_cst re-check: the Dekker pair
     * with a notifier that skipped its wake-up because we were searching
     * (it published, fenced, then read p_searching != 0). Either it read
     * our decrement and woke someone itself, or we see its work here. If
     * we were the last searcher and more work is visible, pass the wake-up
     * on (Go's scheduler does the same): a woken worker takes one task,
     * and the rest would otherwise wait for busy workers - forever if the
     * running tasks block until the rest has run. */
    if (atomic_fetch_sub_explicit(&p->p_searching, 1, memory_order_seq_cst) == 1
        && work_visible(p))
        weft__pool_notify(p);
}

static void *worker_main(void *arg)
{
    weft__worker *w = arg;
    weft_pool *p = w->w_pool;
    weft__tls_worker = w;
    if (!w->w_shared)
        weft__tls_fjq = &w->w_dq.dq_q;
    /* The stack grows down from about here; half of it is the limit below
     * which a waiting worker stops running unrelated tasks. */
    w->w_stack_half = (uintptr_t)__builtin_frame_address(0) - p->p_stack_size / 2;
    urcu_memb_register_thread();
    bool searching = false; /* this worker is counted in p_searching */
    for (;;) {
        struct weft__task_impl *x = find_work(w);
        if (x == NULL) {
            /* Idle: search for a while, then park. */
            if (!searching) {
                /* seq_cst: read by notifiers after their fence (park.h). */
                atomic_fetch_add_explicit(&p->p_searching, 1, memory_order_seq_cst);
                searching = true;
            }
            for (unsigned r = 0; r < WEFT__IDLE_ROUNDS && x == NULL; r++) {
                for (unsigned i = 0; i < WEFT__IDLE_PAUSES; i++)
                    cpu_relax();
                x = find_work(w);
            }
        }
        if (x != NULL) {
            if (searching) {
                found_work(p);
                searching = false;
            }
            weft__run_task(w, x);
            continue;
        }
        /* seq_cst: decrement before announcing the park (park.h). */
        atomic_fetch_sub_explicit(&p->p_searching, 1, memory_order_seq_cst);
        searching = false;
        /* seq_cst: pairs with the seq_cst store in destroy. No task can be
         * left: destroy waited for idleness before setting stop. */
        if (atomic_load_explicit(&p->p_stop, memory_order_seq_cst))
            break;
        park(w);
        /* Woken (or a spurious return): look for work as a searcher, so
         * that notifiers need not wake anyone else meanwhile and found_work
         * passes the wake-up on when more work is visible. seq_cst: as at
         * the start of an idle search (read by notifiers after their fence). */
        atomic_fetch_add_explicit(&p->p_searching, 1, memory_order_seq_cst);
        searching = true;
    }
    urcu_memb_unregister_thread();
    weft__tls_fjq = (struct weft__fjq *)&weft__fjq_none;
    weft__tls_worker = NULL;
    return NULL;
}

/* ---- create / destroy -------------------------------------------------- */

static size_t worker_stack_size(void)
{
    struct rlimit rl;
    size_t sz = (size_t)8 << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur > sz)
        sz = (size_t)rl.rlim_cur;
    return sz;
}

static void pool_free(weft_pool *p)
{
#ifndef WEFT_TSAN
    /* Rings retired with call_rcu must be freed before we return, so that
     * no callback outlives the pool (and leak checkers see no leak). Under
     * TSan the deques keep their retired rings (deque.c). */
    for (unsigned i = 0; i < p->p_nworkers; i++) {
        if (p->p_workers[i].w_dq.dq_grown != 0) {
            urcu_memb_barrier();
            break;
        }
    }
#endif
    for (unsigned i = 0; i < p->p_nworkers; i++)
        weft__deque_fini(&p->p_workers[i].w_dq);
    weft__free(p->p_workers);
    weft__free(p->p_sq_ring);
    pthread_mutex_destroy(&p->p_sq_lock);
    weft__free(p);
}

static void pool_stop_join(weft_pool *p, unsigned started)
{
    /* seq_cst: read by workers before they park (and in park's re-check). */
    atomic_store_explicit(&p->p_stop, true, memory_order_seq_cst);
    pool_notify_all(p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->p_workers[i].w_thread, NULL);
}

int weft_pool_create(weft_pool **out, const weft_pool_options *opts)
{
    weft_pool_options o = {0};
    if (opts != NULL)
        o = *opts;
    if (out == NULL || (o.scheduler != WEFT_SCHED_STEALING && o.scheduler != WEFT_SCHED_SHARED)
        || o.workers > WEFT__MAX_WORKERS)
        return EINVAL;
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    int ncpu = 0;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
        ncpu = CPU_COUNT(&cpus);
    unsigned n = o.workers;
    if (n == 0)
        n = ncpu > 0 ? (unsigned)ncpu : 1;
    if (n > WEFT__MAX_WORKERS)
        n = WEFT__MAX_WORKERS;

    weft_pool *p = weft__aligned_alloc(WEFT__CACHE_LINE, sizeof(*p));
    if (p == NULL)
        return ENOMEM;
    memset(p, 0, sizeof(*p));
    p->p_nworkers = n;
    p->p_mode = o.scheduler;
    atomic_init(&p->p_epoch, 0);
    atomic_init(&p->p_waiters, 0);
    atomic_init(&p->p_searching, 0);
    atomic_init(&p->p_stop, false);
    atomic_init(&p->p_fence, 0);
    atomic_init(&p->p_state, 0);
    atomic_init(&p->p_idle_epoch, 0);
    atomic_init(&p->p_idle_waiters, 0);
    atomic_init(&p->p_callers, 0);
    atomic_init(&p->p_inj_lock, 0);
    atomic_init(&p->p_sq_count, 0);
    __cds_wfcq_init(&p->p_inj_head, &p->p_inj_tail);
    pthread_mutex_init(&p->p_sq_lock, NULL);
    p->p_sq_cap = 256;
    p->p_sq_ring = weft__malloc(p->p_sq_cap * sizeof(*p->p_sq_ring));
    p->p_workers = weft__aligned_alloc(WEFT__CACHE_LINE, (size_t)n * sizeof(weft__worker));
    if (p->p_sq_ring == NULL || p->p_workers == NULL) {
        p->p_nworkers = 0; /* no deque to free yet */
        pool_free(p);
        return ENOMEM;
    }
    memset(p->p_workers, 0, (size_t)n * sizeof(weft__worker));
    for (unsigned i = 0; i < n; i++) {
        weft__worker *w = &p->p_workers[i];
        if (weft__deque_init(&w->w_dq, o.deque_capacity) != 0) {
            p->p_nworkers = i; /* pool_free frees the deques made so far */
            pool_free(p);
            return ENOMEM;
        }
        w->w_pool = p;
        w->w_shared = o.scheduler == WEFT_SCHED_SHARED;
        w->w_index = i;
        w->w_rng = splitmix64(o.seed ^ splitmix64(i + 1)) | 1;
    }

    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        pool_free(p);
        return ENOMEM;
    }
    p->p_stack_size = worker_stack_size();
    unsigned started = 0;
    int rc = pthread_attr_setstacksize(&attr, p->p_stack_size);
    for (; rc == 0 && started < n; started++) {
        weft__worker *w = &p->p_workers[started];
        if (o.pin_workers && ncpu > 0) {
            /* The (i mod count)-th CPU of the affinity mask. */
            int want = (int)(started % (unsigned)ncpu), seen = 0;
            cpu_set_t one;
            CPU_ZERO(&one);
            for (int c = 0; c < CPU_SETSIZE; c++) {
                if (CPU_ISSET(c, &cpus) && seen++ == want) {
                    CPU_SET(c, &one);
                    break;
                }
            }
            rc = pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
            if (rc != 0)
                break; /* ENOMEM or EINVAL: create fails with it */
        }
        if (pthread_create(&w->w_thread, &attr, worker_main, w) != 0) {
            rc = EAGAIN;
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pool_stop_join(p, started);
        pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int weft_pool_destroy(weft_pool *p)
{
    if (p == NULL)
        return 0;
    if (weft__worker_of(p) != NULL)
        return EPERM;
    /* Refuse new outside callers and wait until the admitted ones have left
     * the pool (their tasks are counted by then); then only workers add
     * tasks, so the count can fall to 0 and stay there. */
    callers_close(p);
    pool_wait_idle(p);
    pool_stop_join(p, p->p_nworkers);
    pool_free(p);
    return 0;
}

unsigned weft_pool_size(const weft_pool *p)
{
    return p == NULL ? 0 : p->p_nworkers;
}

/* ---- submit / call / wait_idle ----------------------------------------- */

int weft_pool_submit(weft_pool *p, weft_task_fn fn, void *arg)
{
    if (p == NULL || fn == NULL)
        return EINVAL;
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(p, fn, arg, &ht);
    if (rc != 0)
        return rc;
    weft__heap_task_enqueue(p, ht);
    return 0;
}

int weft_pool_call(weft_pool *p, weft_task_fn fn, void *arg)
{
    if (p == NULL || fn == NULL)
        return EINVAL;
    if (weft__worker_of(p) != NULL)
        return EPERM;
    struct weft__call c;
    atomic_init(&c.c_done, 0);
    c.c_result = 0;
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(p, fn, arg, &ht);
    if (rc != 0)
        return rc;
    ht->ht_call = &c;
    weft__heap_task_enqueue(p, ht);
    /* Acquire: pairs with the runner's release store of c_done. */
    for (unsigned spins = 0; atomic_load_explicit(&c.c_done, memory_order_acquire) == 0;) {
        if (spins++ < 256)
            cpu_relax();
        else
            weft__futex_wait(&c.c_done, 0);
    }
    return c.c_result;
}

int weft_pool_wait_idle(weft_pool *p)
{
    if (p == NULL)
        return EINVAL;
    if (weft__worker_of(p) != NULL)
        return EPERM;
    pool_wait_idle(p);
    return 0;
}

weft_pool *weft_pool_current(void)
{
    weft__worker *w = weft__tls_worker;
    return w == NULL ? NULL : w->w_pool;
}

int weft_worker_index(void)
{
    weft__worker *w = weft__tls_worker;
    return w == NULL ? -1 : (int)w->w_index;
}

int weft_pool_stats(const weft_pool *p, weft_worker_stats *per_worker, size_t n)
{
    if (p == NULL || per_worker == NULL || n == 0)
        return EINVAL;
    if (n > p->p_nworkers)
        n = p->p_nworkers;
    for (size_t i = 0; i < n; i++) {
        weft__worker *w = &p->p_workers[i];
        /* Relaxed: counters, each exact once the pool is idle (the idle
         * wait's acquire orders the workers' last stores before). */
        per_worker[i].executed = atomic_load_explicit(&w->w_executed, memory_order_relaxed);
        per_worker[i].spawned = atomic_load_explicit(&w->w_spawned, memory_order_relaxed);
        per_worker[i].steals = atomic_load_explicit(&w->w_steals, memory_order_relaxed);
        per_worker[i].failed_steals =
            atomic_load_explicit(&w->w_failed_steals, memory_order_relaxed);
        per_worker[i].injected = atomic_load_explicit(&w->w_injected, memory_order_relaxed);
        per_worker[i].parks = atomic_load_explicit(&w->w_parks, memory_order_relaxed);
    }
    return 0;
}
