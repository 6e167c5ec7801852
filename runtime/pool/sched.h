/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/sched.h - the scheduler's private header: workers, the
 * pool, heap tasks, groups, the scheduler interface, and what the files of
 * runtime/pool/ share. docs/design/README.md maps the files. Over 500
 * lines: the pool and worker structs are laid out line by line here, for
 * every file, and splitting them would scatter that layout.
 *
 * Locks: the SHARED queue's sq_lock, the injection queue's dequeue
 * try-lock and the node stash's lock are leaves; no code holds two locks.
 */
#ifndef WEFT_RUNTIME_POOL_SCHED_H
#define WEFT_RUNTIME_POOL_SCHED_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <urcu/wfcqueue.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "base/cpu.h"
#include "base/debug.h"
#include "base/eventcount.h"
#include "pool/deque.h"
#include "pool/trace.h"

#define WEFT__MAX_WORKERS 4096
#define WEFT__MAX_SPARES 4095 /* workers + spares fit ti_state's thief bits */
#define WEFT__DEFAULT_SPARES 256

/* The argument of a strict frame's ti_fn, given its state. */
static inline void *weft__frame_arg(struct weft__task_impl *t, int32_t state)
{
    return (state & WEFT__TS_SELF_ARG) ? (void *)t : t->ti_arg;
}

/* ---- groups, calls, heap tasks -------------------------------------------- */

/* A group's state, in the caller's weft_group storage. */
#define WEFT__GROUP_MAGIC  0x77656674u /* "weft" */
#define WEFT__GROUP_WAITER 0x80000000u /* g_pending: an outside waiter sleeps */
#define WEFT__GROUP_COUNT  0x7fffffffu
struct weft__group_impl {
    weft_pool *g_pool;
    /* Unfinished tasks | WAITER; the futex word outside waiters sleep on. */
    _Atomic uint32_t g_pending;
    _Atomic int32_t g_error;  /* first non-zero result (CAS from 0) */
    _Atomic uint32_t g_state; /* WEFT__GROUP_CANCELLED | WEFT__GROUP_WAITED */
    uint32_t g_magic;         /* WEFT__GROUP_MAGIC once initialised */
    uint32_t g_forks;         /* weft__forks at init (fork.c) */
};
#define WEFT__GROUP_CANCELLED 1u /* cancelled, or a task failed */
#define WEFT__GROUP_WAITED    2u /* a wait returned: the next spawn starts a new round */

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

/* ---- workers ------------------------------------------------------------ */

typedef struct weft__worker {
    weft__deque w_dq; /* first: its lines are laid out in deque.h */
    /* Owner-private (plain): */
    struct weft_pool *w_pool;
    unsigned w_index;
    uint64_t w_rng;         /* xorshift64* state for victim choice */
    uintptr_t w_stack_half; /* frames below this address: over half the stack used */
    pthread_t w_thread;
    /* steal.c: while this thread steals from worker v, v + 1 (else 0):
     * written by this thread (relaxed before, release after the attempt),
     * read by v's misuse check (acquire). */
    _Atomic unsigned w_stealing;
    int w_force_victim;     /* steal.c: a worker whose private tasks we saw, or -1 */
    int64_t w_force_priv;   /* its q_priv then */
    unsigned w_blocking;    /* blocking.c: depth of blocking sections */
    unsigned w_done;        /* idle.c: heap tasks finished here, not yet subtracted */
    /* Spare slots only (blocking.c): SPARE_ON (on duty), SPARE_OFF
     * (retired, waiting to be recalled: the futex word), SPARE_EXIT (its
     * thread left). Written under p_spare_lock; read by the spare. */
    _Atomic uint32_t w_spare_state;
    bool w_joinable; /* a thread was started in this slot and not joined (p_spare_lock) */
    /* Statistics: written only by the owner (relaxed load + store, no RMW),
     * read with relaxed loads by weft_pool_stats. Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t w_executed;
    _Atomic uint64_t w_spawned;
    _Atomic uint64_t w_steals;
    _Atomic uint64_t w_failed_steals;
    _Atomic uint64_t w_injected;
    _Atomic uint64_t w_parks;
    _Atomic uint64_t w_blocked;
    _Atomic uint64_t w_spares;
    /* trace.c: the scheduler state and the time spent in each (owner-written,
     * read by weft_pool_stats under the state's sequence count). Own line. */
    alignas(WEFT__CACHE_LINE) struct weft__tstate w_ts;
    unsigned w_ts_cur; /* owner: the state w_ts says, without the atomics */
    /* trace.c: this thread's events (owner-written, read by the writer of
     * a capture), and the task its last steal took, from which victim. */
    struct weft__tbuf w_tbuf;
    struct weft__task_impl *w_tr_stolen;
    unsigned w_tr_victim;
    struct weft__trun *w_tr_cur; /* trace.c: the traced run of a task under way */
    /* trace.c, SHARED: queue lock operations this capture: count, ticks
     * held, ticks waited, operations that waited (owner-written, relaxed;
     * read by the writer); the capture they count for (owner). */
    _Atomic uint64_t w_tr_lock[4];
    _Atomic uint32_t w_tr_lock_gen;
} weft__worker;

enum { WEFT__SPARE_ON = 0, WEFT__SPARE_OFF = 1, WEFT__SPARE_EXIT = 2 };

/* ---- the scheduler interface ----------------------------------------------- */

/* What differs between WEFT_SCHED_STEALING (steal.c) and WEFT_SCHED_SHARED
 * (shared.c). The spawn/sync fast paths need no test of the mode: a SHARED
 * worker's deque has q_limit INT64_MIN, so they always take the slow path, which
 * calls these. */
struct weft__sched {
    /* A strict spawn the fast path could not do: push t for worker w.
     * 0 or ENOMEM (nothing pushed). Never blocks. */
    int (*s_spawn)(weft__worker *w, struct weft__task_impl *t);
    /* Wait for strict frame t, spawned by w, that is not w's newest private
     * task; returns its result. Runs other work meanwhile, never sleeps. */
    int (*s_sync)(weft__worker *w, struct weft__task_impl *t);
    /* Make heap task ht runnable; w is the caller if it is a worker of the
     * pool, else NULL. Returns 0, with *woke true if it also did the
     * wake-up (else the caller notifies); or ENOMEM (nothing queued). */
    int (*s_enqueue)(weft_pool *p, weft__worker *w, struct weft__heap_task *ht, bool *woke);
    /* The worker loop's next task, or NULL. */
    struct weft__task_impl *(*s_find)(weft__worker *w);
    /* One step of help while w waits: for a stolen frame whose thief is
     * worker `prefer` (-1: none), or for group g (NULL: none). Returns true
     * if it ran a task. */
    bool (*s_help)(weft__worker *w, int prefer, const struct weft__group_impl *g);
    /* Is there work an idle worker could take? seq_cst reads, after the
     * caller's seq_cst RMW (docs/design/parking.md). */
    bool (*s_work_visible)(weft_pool *p);
    /* The parker's re-check, after it announced its park: WEFT__PARK_NOT
     * (work is visible, or hidden in a deque's private part, which it asks
     * for or forces), WEFT__PARK_BRIEFLY (work is queued but cannot be
     * taken yet: an outside submitter is between its two steps), or
     * WEFT__PARK_SLEEP. */
    int (*s_park_check)(weft__worker *w);
};
enum { WEFT__PARK_NOT = 0, WEFT__PARK_BRIEFLY = 1, WEFT__PARK_SLEEP = 2 };

extern const struct weft__sched weft__sched_stealing WEFT__INTERNAL; /* steal.c */
extern const struct weft__sched weft__sched_shared WEFT__INTERNAL;   /* shared.c */

/* ---- the pool --------------------------------------------------------------- */

/* p_callers: outside callers (submit, call, group_spawn off the pool's
 * workers) between their admission and their last access to the pool, plus
 * CLOSING (destroy began: no admission any more) and WAITER (destroy sleeps
 * on the word until the count is 0). One word, so that a caller atomically
 * either counts itself or sees CLOSING - and a refused caller writes
 * nothing. */
#define WEFT__CALLERS_CLOSING 0x80000000u
#define WEFT__CALLERS_WAITER  0x40000000u
#define WEFT__CALLERS_COUNT   0x3fffffffu

/* The SHARED scheduler's queue: one ring of task pointers under a mutex. */
struct weft__sharedq {
    pthread_mutex_t sq_lock;
    struct weft__task_impl **sq_ring; /* sq_lock */
    size_t sq_cap;                    /* sq_lock; a power of two */
    size_t sq_head;                   /* sq_lock; index of the oldest */
    _Atomic size_t sq_count; /* written under sq_lock; read without it
                                (seq_cst) by the parking re-check */
};

struct weft_pool {
    /* Read-only after create (p_forked: set in a child of fork, fork.c). */
    struct weft_pool *p_next, *p_prev; /* the registry of live pools (fork.c) */
    _Atomic bool p_forked;
    unsigned p_nworkers;
    unsigned p_max_spares;
    weft_scheduler p_mode;
    const struct weft__sched *p_sched;
    /* p_nworkers workers, then p_max_spares spare slots, made on first use
     * (blocking.c); cache-line aligned. */
    weft__worker *p_workers;
    size_t p_stack_size; /* of each worker thread */
    char p_name[16];     /* threads are named p_name-i and p_name-sk */
    void (*p_on_start)(unsigned index, void *arg); /* options' hooks, or NULL */
    void (*p_on_stop)(unsigned index, void *arg);
    void *p_hook_arg;
    bool p_default; /* weft_pool_default's pool: destroy refuses it */
    /* Workers plus spare slots made so far: the victims a thief scans.
     * Grows under p_spare_lock (release); read with acquire. */
    _Atomic unsigned p_nslots;

    /* Parking (idle.c): the event count idle workers sleep on, the number
     * of workers looking for work, the stop flag. Own line. */
    alignas(WEFT__CACHE_LINE) struct weft__ecount p_park;
    _Atomic int p_searching; /* workers looking for work, not parked */
    _Atomic bool p_stop;     /* destroy: leave the worker loop */
    _Atomic int p_fence;     /* WEFT_TSAN: target of weft__fence_sc's RMW */

    /* Outstanding heap tasks (submitted, group and call tasks not yet
     * finished), the event count wait_idle sleeps on, the outside callers'
     * guard. Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic uint64_t p_state;
    struct weft__ecount p_idle;
    _Atomic uint32_t p_callers; /* futex word; see WEFT__CALLERS_* */

    /* STEALING: injection queue (wait-free enqueue, any thread); dequeuers
     * exclude each other with the try-lock p_inj_lock. Own lines. */
    alignas(WEFT__CACHE_LINE) struct __cds_wfcq_head p_inj_head;
    alignas(WEFT__CACHE_LINE) struct cds_wfcq_tail p_inj_tail;
    alignas(WEFT__CACHE_LINE) _Atomic int p_inj_lock;
    /* 1 while the queue is not empty but its oldest task cannot be taken
     * yet (inject.c); written by dequeuers, read by parkers (relaxed). */
    _Atomic int p_inj_stalled;

    /* SHARED: the one queue. Own line. */
    alignas(WEFT__CACHE_LINE) struct weft__sharedq p_sq;

    /* Blocking sections and spare threads (blocking.c). Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic int p_blocked; /* threads in a blocking section */
    _Atomic int p_spares_on;                         /* spares on duty */
    pthread_mutex_t p_spare_lock;
    unsigned p_spares_made; /* spare slots made (p_spare_lock) */

    /* nodes.c: the stash of free heap-task nodes (batches, under the
     * leaf lock p_nodes_lock; the count is also peeked at relaxed). */
    alignas(WEFT__CACHE_LINE) pthread_mutex_t p_nodes_lock;
    struct node_free *p_nodes;
    _Atomic unsigned p_nodes_batches;

    /* Tracing (trace.c): the running capture's flags, WEFT__TRACE_ON |
     * WEFT__TRACE_DAG, 0 when none runs (read relaxed on every traced path;
     * written under the capture's lock); the capture state, made at the
     * first start (release; read with acquire). Own line. */
    alignas(WEFT__CACHE_LINE) _Atomic unsigned p_trace_on;
    _Atomic(struct weft__trace *) p_trace;
};

/* ---- shared by the files of runtime/pool/ ----------------------------------- */

/* The calling thread's worker, NULL off a worker. One %fs-relative load. */
extern _Thread_local weft__worker *weft__tls_worker WEFT__INTERNAL
    __attribute__((tls_model("initial-exec")));

/* The number of slots (workers and spares) a victim scan covers. */
static inline unsigned weft__nslots(weft_pool *p)
{
    /* Acquire: pairs with the release that published a new spare slot, so
     * that its deque is initialised. */
    return atomic_load_explicit(&p->p_nslots, memory_order_acquire);
}

/* The calling thread's worker if it is one of p's, else NULL (an outside
 * caller of p: another thread, or a worker of another pool). */
static inline weft__worker *weft__worker_of(const weft_pool *p)
{
    weft__worker *w = weft__tls_worker;
    return w != NULL && w->w_pool == p ? w : NULL;
}

/* p, or for NULL the pool of the calling worker (NULL: the caller is no
 * worker): the "p NULL: the current pool" rule of the public calls. */
static inline weft_pool *weft__pool_or_current(weft_pool *p)
{
    weft__worker *w = weft__tls_worker;
    return p != NULL ? p : w != NULL ? w->w_pool : NULL;
}

/* True while the calling worker has used less than half of its stack: only
 * then may a waiting worker run tasks that are not its own descendants
 * (each nests on its stack, and their waits may nest more). Taking back its
 * own task, or leapfrogging from its thief, is always allowed. */
static inline bool weft__stack_room(const weft__worker *w)
{
    return (uintptr_t)__builtin_frame_address(0) > w->w_stack_half;
}

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

/* Statistics: the owner adds to its own counter without an RMW. */
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

/* blocking.c: whether worker w is a spare, and whether it should go off
 * duty (more spares on duty than threads blocked); then retire it: returns
 * true if it was recalled, false if its thread must exit. Stop spares
 * (destroy) and join every spare thread. */
static inline bool weft__is_spare(const weft__worker *w)
{
    return w->w_index >= w->w_pool->p_nworkers;
}
void weft__block_begin(weft__worker *w);
void weft__block_end(weft__worker *w);
bool weft__spare_excess(weft_pool *p);
/* How long a spare off duty keeps its thread, and how often a parked spare
 * checks whether it is still needed (tests lower it); abs = now + ns on
 * CLOCK_MONOTONIC. */
extern int64_t weft__spare_keepalive_ns WEFT__INTERNAL;
void weft__deadline_after(int64_t ns, struct timespec *abs);
bool weft__spare_retire(weft__worker *w);
void weft__spares_stop_join(weft_pool *p);

/* A wait with a timeout (weft/timeout.h): WEFT_NO_WAIT, WEFT_FOREVER, or a
 * positive number of ns, whose deadline is taken when the wait starts. */
struct weft__timeout {
    int64_t to_ns;
    struct timespec to_abs; /* CLOCK_MONOTONIC; only for to_ns > 0 */
};

static inline void weft__timeout_start(struct weft__timeout *to, int64_t ns)
{
    to->to_ns = ns;
    if (ns > 0)
        weft__deadline_after(ns, &to->to_abs);
}

/* The deadline for a futex wait: NULL for WEFT_FOREVER. */
static inline const struct timespec *weft__timeout_abs(const struct weft__timeout *to)
{
    return to->to_ns > 0 ? &to->to_abs : NULL;
}

/* Whether a positive timeout has run out (never for WEFT_FOREVER). */
static inline bool weft__timeout_passed(const struct weft__timeout *to)
{
    if (to->to_ns <= 0)
        return to->to_ns == 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > to->to_abs.tv_sec
           || (now.tv_sec == to->to_abs.tv_sec && now.tv_nsec >= to->to_abs.tv_nsec);
}

/* worker.c: run any task a worker obtained (strict frame or heap task);
 * pause a waiting worker a little (cpu_relax, sched_yield after a while);
 * a random number for victim choice; the worker thread's body. */
void weft__run_task(weft__worker *w, struct weft__task_impl *x);
/* The run itself, without the state change and trace that weft__run_task
 * adds (via weft__trace_run) when the worker is not in RUN or the pool
 * traces. */
void weft__run_task_body(weft__worker *w, struct weft__task_impl *x);
/* A strict frame's sync is over: its result given its DONE state s, or
 * EINVAL if it was synced before (the state keeps SYNCED). And: block
 * (inside a blocking section) until frame t, which another thread took
 * and marked, is DONE; then its result as above. */
int weft__frame_result(struct weft__task_impl *t, int32_t s);
int weft__frame_wait(weft__worker *w, struct weft__task_impl *t);
void weft__backoff(unsigned *spins);
/* A waiting worker that has found nothing to help with for this many
 * weft__backoff rounds (64 short spins, then yields) blocks instead. */
#define WEFT__SPINS_BEFORE_BLOCK (64 + 32)
uint64_t weft__rng_next(weft__worker *w);
void *weft__worker_main(void *arg);

/* idle.c: wake one parked worker if there are parked workers and nobody
 * searches (call after making work visible; contains a seq_cst fence);
 * wake them all (destroy); park the calling worker until notified; leave
 * the searching state (found_work); the outstanding-task count and the
 * wait for it to reach 0. */
void weft__pool_notify(weft_pool *p);
void weft__pool_notify_all(weft_pool *p);
void weft__park(weft__worker *w);
void weft__found_work(weft_pool *p);
void weft__pool_count_task(weft_pool *p);
void weft__pool_task_done(weft_pool *p, weft__worker *w); /* w: the running worker, or NULL */
void weft__worker_flush_done(weft__worker *w); /* before w stops running tasks */
/* Wait until the count is 0: 0, or EAGAIN (WEFT_NO_WAIT) or ETIMEDOUT
 * before that. Blocks in a blocking section (on a worker of another pool). */
int weft__pool_wait_idle(weft_pool *p, const struct weft__timeout *to);

/* steal.c: the owner, after a push or pop found its hungry flag raised,
 * serves the request and wakes a worker for what it published; popped is
 * the task just popped (NULL after a push); returns false if a thief took
 * it after all (weft__deque_serve). And the owner publishes its whole
 * private part (before it blocks), waking a worker. */
bool weft__worker_serve(weft__worker *w, struct weft__task_impl *popped);
void weft__worker_publish_all(weft__worker *w);

/* inject.c (STEALING): enqueue from any thread; take up to max tasks
 * (oldest first; 0 also when another dequeuer holds the try-lock); whether
 * the queue looks non-empty (relaxed loads: callers fence), and whether
 * the last take found it stalled (an enqueuer between its two steps). */
void weft__inj_enqueue(weft_pool *p, struct weft__heap_task *ht);
unsigned weft__inj_take(weft_pool *p, struct weft__task_impl **out, unsigned max);
bool weft__inj_nonempty(weft_pool *p);
bool weft__inj_stalled(weft_pool *p);

/* shared.c: the SHARED queue's life cycle (0 or ENOMEM). */
int weft__sq_init(struct weft__sharedq *q);
void weft__sq_fini(struct weft__sharedq *q, bool forked);

/* fork.c: the registry of live pools, whose members a child of fork()
 * marks forked; the number of forks this process is a child of (a group
 * initialised before the last one belongs to an inherited pool: checked
 * without touching the pool, which may be gone). */
void weft__registry_add(weft_pool *p);
void weft__registry_remove(weft_pool *p);
extern _Atomic uint32_t weft__forks WEFT__INTERNAL;

/* pool.c: the body of every worker and spare thread: name the thread,
 * run the start hook, the worker loop (weft__worker_main), the stop hook. */
void *weft__thread_main(void *arg);

/* pool.c: create a pool (weft_pool_create's work, with default set for
 * weft_pool_default's pool); drain and stop a pool without freeing it (the
 * default pool at exit: late callers then get EPIPE, not freed memory). */
int weft__pool_create(weft_pool **out, const weft_pool_options *opts, bool is_default);
void weft__pool_shutdown(weft_pool *p);

/* cpus.c: the CPU limit of the cgroup (v2) that cgroup_file names
 * (/proc/self/cgroup), found through mountinfo_file: ceil(quota / period),
 * the smallest over the cgroup and its ancestors; 0 for none. The workers
 * of a pool with workers = 0: the affinity mask's CPUs, at most that limit,
 * at least 1. */
unsigned weft__cgroup_cpu_limit(const char *cgroup_file, const char *mountinfo_file);
unsigned weft__default_workers(void);

/* pool.c: admit an outside caller (0, or EPIPE once destroy began: then
 * nothing of the pool was written), and let it go (its last access). */
int weft__callers_enter(weft_pool *p);
void weft__callers_leave(weft_pool *p);

/* submit.c: allocate a heap task, admit an outside caller and count one
 * outstanding task (0, ENOMEM or EPIPE); then enqueue it, which ends an
 * outside caller's admission (the caller must not touch the pool after
 * it): 0, or ENOMEM (the task is undone: uncounted, out of its group,
 * freed). Run one (worker.c's weft__run_task calls it). */
int weft__heap_task_new(weft_pool *p, weft_task_fn fn, void *arg, struct weft__heap_task **out);
/* nodes.c: a heap task's memory (NULL: ENOMEM), and its return; the
 * pool's stash of free nodes, made with the pool and freed with it. */
struct weft__heap_task *weft__node_alloc(weft_pool *p);
void weft__node_free(weft_pool *p, struct weft__heap_task *ht);
void weft__nodes_init(weft_pool *p);
void weft__nodes_fini(weft_pool *p, bool forked);
int weft__heap_task_enqueue(weft_pool *p, struct weft__heap_task *ht);
void weft__heap_task_run(struct weft__heap_task *ht);

/* group.c: wait until the count in *word (count_mask; waiter_bit as in
 * weft__futex_wait_zero_until) is 0. On a worker of p it helps (s_help,
 * for group g or NULL) until it finds nothing to help with for a while,
 * then blocks in a blocking section; elsewhere it blocks (in a blocking
 * section on a worker of another pool). Returns 0; EAGAIN (WEFT_NO_WAIT
 * and the count is not 0); ETIMEDOUT. Acquire on success: the counted
 * parties' release decrements happen before the return. */
int weft__wait_zero(weft_pool *p, _Atomic uint32_t *word, uint32_t count_mask,
                    uint32_t waiter_bit, const struct weft__group_impl *g,
                    const struct weft__timeout *to);

/* group.c: a task of g finished (or was undone): count it off and wake a
 * waiter at 0. After it g may be gone. */
void weft__group_leave(struct weft__group_impl *g);
/* submit.c: the group whose task this thread is running (the innermost,
 * when a waiting worker runs other tasks), or NULL; thread-private. A wait
 * on it would wait for itself (group.c refuses it). */
extern _Thread_local const struct weft__group_impl *weft__tls_group WEFT__INTERNAL;

/* Test hook (tests/unit/test_pool.c): called where an outside caller's race
 * with weft_pool_destroy matters - ENQUEUED: its task is runnable, the
 * caller has not yet left the pool; REFUSED: it got EPIPE. NULL except in
 * that test, which sets it before it creates any thread. A yield point in
 * the WEFT_DEBUG_YIELD build. */
enum { WEFT__RACE_ENQUEUED = 1, WEFT__RACE_REFUSED = 2 };
extern void (*weft__pool_race_hook)(int where) WEFT__INTERNAL;
#define WEFT__RACE_POINT(where)                                                              \
    do {                                                                                     \
        WEFT__YIELD();                                                                       \
        if (WEFT__UNLIKELY(weft__pool_race_hook != NULL))                                    \
            weft__pool_race_hook(where);                                                     \
    } while (0)

#ifndef NDEBUG
/* Debug builds: how many times weft_sync found a newer unsynced spawn of the
 * same thread above its task (out-of-LIFO-order syncs), and the report of
 * one (spawn.c). */
extern atomic_ulong weft__debug_out_of_order WEFT__INTERNAL;
void weft__report_out_of_order(const struct weft__task_impl *t,
                               const struct weft__task_impl *newer);
#endif

#endif /* WEFT_RUNTIME_POOL_SCHED_H */
