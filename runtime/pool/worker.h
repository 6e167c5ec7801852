/*
 * runtime/worker.h - private scheduler structures: task frames, workers, the
 * pool, and the functions pool.c, task.c and parallel_for.c share.
 *
 * Lock order: p_sq_lock (SHARED mode queue) is a leaf lock; the injection
 * dequeue try-lock p_inj_lock is a leaf too; no two locks are ever held.
 */
#ifndef WEFT_RUNTIME_WORKER_H
#define WEFT_RUNTIME_WORKER_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/wfcqueue.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "pool/deque.h"

/* ---- task frames ------------------------------------------------------ */

/* ti_state values. 0: spawned, nobody took it. 1..WEFT__MAX_WORKERS: stolen
 * by worker (state - 1), running. DONE: finished, ti_result valid. HEAP: a
 * heap task (submit, group, call); nobody waits on its state. */
#define WEFT__TS_SPAWNED 0
#define WEFT__TS_DONE (1 << 30)
#define WEFT__TS_HEAP (1 << 29)
/* WEFT__TS_SELF_ARG (1 << 28, weft/fj.h): a typed frame pushed by the fast
 * path: call ti_fn(frame), ti_arg is not set. Kept when a thief marks the
 * frame, dropped with DONE. */
#define WEFT__TS_THIEF_MASK 0x1fff /* the thief bits of a stolen frame's state */

/* The argument of a strict frame's ti_fn, given its state. */
static inline void *weft__frame_arg(struct weft__task_impl *t, int32_t state)
{
    return (state & WEFT__TS_SELF_ARG) ? (void *)t : t->ti_arg;
}
#define WEFT__MAX_WORKERS 4096

struct weft__worker;

/* struct weft__task_impl, a strict fork-join frame (in the caller's
 * weft_task storage, or the head of a typed frame), is defined in
 * <weft/fj.h>: the typed fast paths inline it. ti_state is written by the
 * spawner (0), the thief (index + 1, relaxed: a hint for leapfrogging) and
 * the runner (DONE, release: publishes ti_result). ti_owner is set by debug
 * builds of weft_spawn only. */

/* A group's state, in the caller's weft_group storage. */
#define WEFT__GROUP_MAGIC 0x77656674u /* "weft" */
#define WEFT__GROUP_WAITER 0x80000000u /* g_pending: an outside waiter sleeps */
#define WEFT__GROUP_COUNT 0x7fffffffu
struct weft__group_impl {
    weft_pool *g_pool;
    /* Unfinished tasks | WAITER; the futex word outside waiters sleep on. */
    _Atomic uint32_t g_pending;
    _Atomic int32_t g_error;      /* first non-zero result (CAS from 0) */
    _Atomic uint32_t g_cancelled; /* 1 once cancelled */
    uint32_t g_magic;             /* WEFT__GROUP_MAGIC once initialised */
};

/* pool_call's rendezvous, on the caller's stack. */
struct weft__call {
    _Atomic uint32_t c_done; /* futex word: 0 running, 1 done (release) */
    int c_result;            /* written before c_done = 1 */
};

/* A heap task: submit, group spawn, call. Freed by the worker that ran it. */
struct weft__heap_task {
    struct weft__task_impl ht_task; /* first: a deque slot points here */
    struct cds_wfcq_node ht_node;   /* injection queue link */
    weft_pool *ht_pool;
    struct weft__group_impl *ht_group; /* or NULL */
    struct weft__call *ht_call;        /* or NULL */
};

/* ---- workers and the pool --------------------------------------------- */

typedef struct weft__worker {
    weft__deque w_dq; /* first: its lines are laid out in deque.h */
    /* Owner-private (plain): */
    struct weft_pool *w_pool;
    bool w_shared; /* p_mode == SHARED, copied here: spawn's test needs no
                      load of w_pool */
    unsigned w_index;
    uint64_t w_rng; /* xorshift64* state for victim choice */
    uintptr_t w_stack_half; /* frames below this address: over half the stack used */
    pthread_t w_thread;
    /* Statistics: written only by the owner (relaxed load + store, no RMW),
     * read with relaxed loads by weft_pool_stats. Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t w_executed;
    _Atomic uint64_t w_spawned;
    _Atomic uint64_t w_steals;
    _Atomic uint64_t w_failed_steals;
    _Atomic uint64_t w_injected;
    _Atomic uint64_t w_parks;
} weft__worker;

/* p_callers: outside callers (submit, call, group_spawn off the pool's
 * workers) between their admission and their last access to the pool, plus
 * CLOSING (destroy began: no admission any more) and WAITER (destroy sleeps
 * on the word until the count is 0). One word, so that a caller atomically
 * either counts itself or sees CLOSING - and a refused caller writes
 * nothing. */
#define WEFT__CALLERS_CLOSING 0x80000000u
#define WEFT__CALLERS_WAITER 0x40000000u
#define WEFT__CALLERS_COUNT 0x3fffffffu

struct weft_pool {
    /* Read-only after create. */
    unsigned p_nworkers;
    weft_scheduler p_mode;
    weft__worker *p_workers; /* p_nworkers, cache-line aligned */
    size_t p_stack_size;     /* of each worker thread */

    /* Event count for parking (park.h). Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint32_t p_epoch; /* futex word */
    _Atomic int p_waiters;   /* workers between announcing and leaving a park */
    _Atomic int p_searching; /* workers looking for work, not parked */
    _Atomic bool p_stop;     /* destroy: leave the worker loop */
    _Atomic int p_fence;     /* WEFT_TSAN: target of weft__fence_sc's RMW */

    /* Outstanding heap tasks (submitted, group and call tasks not yet
     * finished); idle waiters; the outside callers' guard. Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t p_state;
    _Atomic uint32_t p_callers; /* futex word; see WEFT__CALLERS_* */
    _Atomic uint32_t p_idle_epoch; /* futex word, bumped when idle */
    _Atomic int p_idle_waiters;

    /* STEALING: injection queue (wait-free enqueue, any thread); dequeuers
     * exclude each other with the try-lock p_inj_lock. Own line. */
    alignas(WEFT__CACHE_LINE) struct __cds_wfcq_head p_inj_head;
    alignas(WEFT__CACHE_LINE) struct cds_wfcq_tail p_inj_tail;
    alignas(WEFT__CACHE_LINE) _Atomic int p_inj_lock;

    /* SHARED: one ring of task pointers, protected by p_sq_lock. */
    alignas(WEFT__CACHE_LINE) pthread_mutex_t p_sq_lock;
    struct weft__task_impl **p_sq_ring; /* p_sq_lock */
    size_t p_sq_cap;                    /* p_sq_lock; a power of two */
    size_t p_sq_head;                   /* p_sq_lock; index of the oldest */
    _Atomic size_t p_sq_count; /* written under p_sq_lock; read without it
                                  (seq_cst) by the parking re-check */
};

/* Test hook (tests/unit/test_pool.c): called where an outside caller's race
 * with weft_pool_destroy matters - ENQUEUED: its task is runnable, the
 * caller has not yet left the pool; REFUSED: it got EPIPE. NULL except in
 * that test, which sets it before it creates any thread. A yield point in
 * the WEFT_DEBUG_YIELD build. */
enum { WEFT__RACE_ENQUEUED = 1, WEFT__RACE_REFUSED = 2 };
extern void (*weft__pool_race_hook)(int where);
#include "base/debug.h"
#define WEFT__RACE_POINT(where)                                                              \
    do {                                                                                     \
        WEFT__YIELD();                                                                       \
        if (WEFT__UNLIKELY(weft__pool_race_hook != NULL))                                    \
            weft__pool_race_hook(where);                                                     \
    } while (0)

/* The calling thread's worker, NULL off a worker. One %fs-relative load. */
extern _Thread_local weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));

/* The calling thread's worker if it is one of p's, else NULL (an outside
 * caller of p: another thread, or a worker of another pool). */
static inline weft__worker *weft__worker_of(const weft_pool *p)
{
    weft__worker *w = weft__tls_worker;
    return w != NULL && w->w_pool == p ? w : NULL;
}

/* Run any task a worker obtained (strict frame or heap task). */
void weft__run_task(weft__worker *w, struct weft__task_impl *x);

/* Help once while waiting: run one task from the own deque, the preferred
 * victim (leapfrogging; -1: none), then - only while the stack has room -
 * another victim or the injection queue. SHARED mode: a task of group g
 * (group_wait; NULL: none) taken back from the shared queue, else - with
 * stack room - its oldest task. Returns true if it ran something. Never
 * pushes batches. */
bool weft__help_once(weft__worker *w, int prefer, const struct weft__group_impl *g);

/* Wake one parked worker if there are parked workers and nobody searches;
 * call after making work visible. Contains a seq_cst fence. */
void weft__pool_notify(weft_pool *p);

/* The owner publishes part of its private deque (a thief asked) and wakes
 * a parked worker if needed. */
void weft__worker_publish(weft__worker *w);

/* SHARED mode queue: push at the tail (0 or ENOMEM); the caller notifies. */
int weft__sq_push(weft_pool *p, struct weft__task_impl *t);
/* SHARED: remove t from the queue if it is still there (the caller spawned
 * it and syncs it). Returns true if it did. */
bool weft__sq_take_mine(weft_pool *p, struct weft__task_impl *t);
/* SHARED: worker w removes the oldest task, or NULL; a strict frame is
 * marked as taken by w (its ti_state) under the queue lock. */
struct weft__task_impl *weft__sq_take_oldest(weft__worker *w);
/* SHARED: worker w removes the newest queued task of group g, looking at
 * the newest `window` tasks only (SIZE_MAX: all), or NULL. Both takes count
 * the task in w's `injected` statistic. */
struct weft__task_impl *weft__sq_take_group(weft__worker *w, const struct weft__group_impl *g,
                                            size_t window);

/* True while the calling worker has used less than half of its stack: only
 * then may a waiting worker run tasks that are not its own descendants
 * (each nests on its stack, and their waits may nest more). Taking back its
 * own task, or leapfrogging from its thief, is always allowed. */
static inline bool weft__stack_room(const weft__worker *w)
{
    return (uintptr_t)__builtin_frame_address(0) > w->w_stack_half;
}

/* Heap tasks: allocate; admit an outside caller (EPIPE once destroy began:
 * then nothing of the pool was written) and count one outstanding task.
 * Then enqueue (never fails), which ends an outside caller's admission: the
 * caller must not touch the pool after it. */
int weft__heap_task_new(weft_pool *p, weft_task_fn fn, void *arg, struct weft__heap_task **out);
void weft__heap_task_enqueue(weft_pool *p, struct weft__heap_task *ht);

/* Owner: pop the newest task of the own deque (private part, else the
 * shared part), or NULL when it is empty. */
struct weft__task_impl *weft__own_pop(weft__worker *w);

/* Pause a waiting worker a little (cpu_relax, sched_yield after a while). */
void weft__backoff(unsigned *spins);

/* A seq_cst fence. TSan does not model atomic_thread_fence (and gcc warns
 * with -Wtsan); there a seq_cst RMW on a pool word stands in for it. */
static inline void weft__fence_sc(_Atomic int *tsan_word)
{
#ifdef WEFT_TSAN
    atomic_fetch_add_explicit(tsan_word, 0, memory_order_seq_cst);
#else
    (void)tsan_word;
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* Statistics helpers: the owner adds to its own counter without an RMW. */
static inline void weft__stat_add(_Atomic uint64_t *c, uint64_t n)
{
    /* Relaxed load + store: only the owner writes c; readers want a value,
     * not an order. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void weft__stat_inc(_Atomic uint64_t *c)
{
    weft__stat_add(c, 1);
}

#ifndef NDEBUG
/* Debug builds: how many times weft_sync found a newer unsynced spawn of the
 * same thread above its task (out-of-LIFO-order syncs; task.c). */
extern atomic_ulong weft__debug_out_of_order;
#endif

#endif /* WEFT_RUNTIME_WORKER_H */
