/* SPDX-License-Identifier: MIT */
/*
 * weft/pool.h - a fixed pool of worker threads with work stealing.
 *
 * Each worker owns a deque: it pushes and pops its own tasks at the bottom
 * (LIFO) and idle workers steal the oldest task from the top of another's.
 * Outside threads submit through an injection queue. Idle workers park on
 * an event count and use no CPU. In WEFT_SCHED_SHARED mode every task,
 * spawns included, goes through one shared queue instead, with the same API,
 * so that a program can compare the two schedulers by switching one option.
 *
 * Return values. The functions that return an int return weft's status,
 * pthreads-style: 0 or a positive errno value -
 *   EINVAL (bad argument), ENOMEM, EAGAIN (threads could not be created;
 *   for a wait with WEFT_NO_WAIT: not over yet), ETIMEDOUT (a wait's
 *   timeout ran out), EPERM (a call made from the wrong thread, as
 *   documented per function), EPIPE (the pool is being destroyed),
 *   ECANCELED (weft_parallel_reduce: a body stopped it) -
 * with two exceptions, kept as they are for compatibility: weft_pool_call
 * and weft_parallel_for return the task's (the first failing body's)
 * non-zero result in that same int, so a task that returns EPIPE, say,
 * cannot be told from a pool being destroyed. Where that matters use
 * weft_pool_async + weft_future_wait and weft_parallel_reduce, which pass
 * the task's or body's result through an out-parameter (as does every
 * function added since 0.1). The others: weft_pool_size returns a count,
 * weft_worker_index an index (-1: none), weft_pool_current and
 * weft_pool_default a pointer (NULL: none); weft_blocking_begin,
 * weft_blocking_end, weft_future_release and weft_pool_options_init
 * return nothing and never fail. (weft/task.h: weft_sync and
 * weft_group_wait mix too.)
 *
 * Several pools may live in one process; a task of one pool may wait on work
 * of another (from a worker of A, pool B is "outside").
 *
 * Visibility: a spawned task becomes stealable by an idle worker within
 * about one idle search (tens of microseconds), whatever its owner does
 * next - spawn more, compute, block. Workers that run out of work ask the
 * owners for more; an owner that does not answer (busy in its own code, or
 * blocked) has its tasks published for it, which needs membarrier(2)
 * (Linux 4.14; where seccomp forbids it, an owner that does not answer
 * keeps its tasks until its next spawn or sync).
 *
 * Blocking: see weft_blocking_begin. weft's own waits need nothing.
 *
 * Destroy: weft_pool_submit, weft_pool_call, weft_pool_async,
 * weft_parallel_reduce, weft_group_spawn, weft_group_wait and
 * weft_group_try_wait (of p's groups), weft_future_wait (of p's futures),
 * weft_pool_wait_idle, weft_pool_try_wait_idle, weft_pool_stats and
 * weft_pool_size may be called by other threads while one thread destroys
 * p: each completes as if called before destroy began, or refuses with
 * EPIPE (size: 0). Any other use of p once destroy began, and every use
 * after it returned, is undefined.
 *
 * fork(): a child process may create, use and destroy new pools. On a pool
 * it inherited (one that was alive in the parent at the fork), every call
 * returns EPIPE (weft_pool_size: 0; a wait on one of its groups, or on one
 * of its futures whose task had not finished: EPIPE), and
 * weft_pool_destroy frees its memory and returns 0 (the inherited default
 * pool: EPERM; the child's weft_pool_default makes a new one).
 *
 * Limits: where a thread, a mapping or memory cannot be had, calls return
 * EAGAIN or ENOMEM (and change nothing); weft never aborts for them. Worker
 * stacks are RLIMIT_STACK clamped to [8 MiB, 64 MiB] unless the options'
 * stack_size says otherwise.
 *
 * Memory: each task made by weft_pool_submit, weft_pool_call,
 * weft_pool_async or weft_group_spawn takes one cache-line node until it
 * has run. Nodes are kept for reuse rather than freed: fewer than 64 per
 * thread that submits or runs tasks (freed when the thread exits) and at
 * most 2048 per pool (freed by weft_pool_destroy); the rest are freed as
 * they are returned.
 */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/export.h>
#include <weft/timeout.h>
#include <weft/task.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_pool weft_pool; /* opaque: owns threads */

/* How a pool hands tasks to its workers (weft_pool_options.scheduler). */
typedef enum {
    WEFT_SCHED_STEALING = 0, /* per-worker deques and stealing (default) */
    WEFT_SCHED_SHARED = 1    /* every task through one shared queue */
} weft_scheduler;

/* Options of weft_pool_create. Zero is the default of every field, so
 * `weft_pool_options o = {0}` (or a designated initializer) asks for
 * defaults, and NULL options too.
 *
 * Growing: later versions only append fields. A program tells the library
 * which version of the struct it was built with through `size`, set to
 * sizeof(weft_pool_options) by WEFT_POOL_OPTIONS_INIT or
 * weft_pool_options_init; the library reads that many bytes and takes the
 * defaults for the fields it has and the program does not. size 0 stands
 * for this version's struct (0.2: the fields below), so programs that
 * leave it 0 keep working with later libraries, but only with these
 * fields: a program that sets a field added later must set size. A size
 * smaller than this version's or above 4096, or a non-zero byte past the
 * end of the library's struct (a field the library does not know), is
 * EINVAL. */
typedef struct {
    size_t size;              /* sizeof(weft_pool_options), or 0: see above */
    unsigned workers;         /* 0: one per CPU of the affinity mask, and no
                                 more than the cgroup (v2) CPU quota allows,
                                 rounded up (cpu.max of the process's cgroup
                                 and its ancestors); at least 1 */
    weft_scheduler scheduler; /* STEALING (default) or SHARED */
    size_t deque_capacity;    /* initial slots per worker deque, 0: default;
                                 deques grow (and keep the rings they
                                 outgrew until destroy), never abort */
    uint64_t seed;            /* victim selection; same seed, same choices */
    bool pin_workers;         /* pin worker i to the i-th allowed CPU */
    unsigned max_spares;      /* spare threads that may run while workers
                                 block (weft_blocking_begin); 0: 256; at
                                 most 4095 */
    const char *name;         /* NULL: "weft". Worker threads are named
                                 name-0, name-1, ..., spare slots' threads
                                 name-s0, name-s1, ... (pthread_setname_np),
                                 the name cut so that the whole fits Linux's
                                 15 bytes; copied by create; "" is EINVAL */
    size_t stack_size;        /* bytes of each worker's and spare's stack;
                                 0: RLIMIT_STACK clamped to [8 MiB, 64 MiB];
                                 at least 64 KiB (EINVAL below) */
    /* Called on each worker and spare thread itself: on_worker_start before
     * its first task, on_worker_stop after its last, with the thread's
     * weft_worker_index (workers 0..size-1, spares from size on) and
     * hook_arg; weft_worker_index and weft_pool_current answer there. A
     * spare's thread ends after a second off duty and a later one in its
     * slot starts afresh, so a spare index may see several start/stop
     * pairs; every start has its stop (workers' at destroy, also when
     * create fails half-way). create does not wait for the start hooks. A
     * hook must not submit work to the pool or wait for it; a stop hook
     * run by destroy that tries (weft_pool_submit, weft_pool_async,
     * weft_group_spawn) gets EPIPE, as no worker would run the task.
     * NULL: none. */
    void (*on_worker_start)(unsigned index, void *arg); /* see above; NULL: none */
    void (*on_worker_stop)(unsigned index, void *arg);  /* see above; NULL: none */
    void *hook_arg; /* the hooks' second argument */
    /* Trace the pool from create to destroy into this file, as
     * weft_pool_trace_start(p, trace_path, trace_flags) would (see
     * "Tracing" below); it takes the place of WEFT_TRACE for this pool.
     * NULL: none; "" or unknown flags: EINVAL. */
    const char *trace_path;
    uint64_t trace_flags; /* WEFT_TRACE_DAG or 0 (64 bits: no tail padding) */
} weft_pool_options;

/* Options with size set and every other field the default (C, and C++20). */
#define WEFT_POOL_OPTIONS_INIT {.size = sizeof(weft_pool_options)}

/* The same for existing storage (C and C++): every field the default, size
 * set. Never fails; any thread. */
static inline void weft_pool_options_init(weft_pool_options *o)
{
#ifdef __cplusplus
    *o = weft_pool_options();
#else
    *o = (weft_pool_options){0};
#endif
    o->size = sizeof(weft_pool_options);
}

/* Create a pool and start its workers. opts NULL: defaults (all zero).
 * Returns 0 and sets *out; EINVAL (out NULL, unknown scheduler, more than
 * 4096 workers, more than 4095 spares, a bad size, name "" or stack_size
 * below 64 KiB); ENOMEM; EAGAIN (a thread could not be started). Any
 * thread. */
WEFT_API int weft_pool_create(weft_pool **out, const weft_pool_options *opts);

/* Refuse further outside submissions (EPIPE), run everything already
 * submitted and everything it spawns to the end, join the workers (and any
 * spare threads), free the pool. NULL: returns 0. Returns 0; EPERM (called
 * from a worker of p, or p is weft_pool_default's: nothing happens).
 * Blocks (on a worker of another pool, inside a blocking section). Call
 * once, from outside the pool; see "Destroy" above for the calls other
 * threads may make meanwhile. */
WEFT_API int weft_pool_destroy(weft_pool *p);

/* The process's default pool, made on first use with default options
 * (workers = 0; threads named weft-0, weft-1, ...): for code that needs a
 * pool but has no reason to own one, as .NET's ThreadPool and Python's
 * default executor. Any thread, concurrently: every caller gets the same pool
 * (callers during its creation wait for it). Returns NULL if it cannot be
 * created (ENOMEM, EAGAIN: no thread could be started); a later call tries
 * again. Blocks only while the pool is being created (on a worker of
 * another pool, not in a blocking section: creating is quick).
 * The process owns it: weft_pool_destroy refuses it (EPERM). At exit()
 * (an atexit handler registered on first use) it is drained as by
 * weft_pool_destroy: exit waits for the tasks already submitted and what
 * they spawn, so those must end - they must not rely on objects that
 * atexit handlers registered after that first use (which run before)
 * have torn down; a program whose tasks never end should not exit()
 * with them queued. Its threads are then joined and its memory kept, so
 * that threads still using it get EPIPE; from then on this returns that
 * pool, or NULL if there was none. exit() from one of its own tasks skips
 * the drain (nobody can wait for that task). In a child of fork() the
 * parent's default pool is inherited (every call on it: EPIPE) and the
 * child's first call makes a new one. */
WEFT_API weft_pool *weft_pool_default(void);

/* Number of workers (0 for NULL, and once destroy began). Any thread. */
WEFT_API unsigned weft_pool_size(const weft_pool *p);

/* Fire-and-forget: run fn(arg) on the pool; its result is ignored.
 * Any thread, workers included. Returns 0; EINVAL (p or fn NULL); ENOMEM;
 * EPIPE (destroy has begun and the caller is not a worker of p: the task is
 * not run). A task whose submit returned 0 always runs, exactly once. */
WEFT_API int weft_pool_submit(weft_pool *p, weft_task_fn fn, void *arg);

/* Run fn(arg) on the pool, wait for it, and return its result. On a worker
 * of p it calls fn directly (nested parallelism is transparent: fn's spawns
 * go to this worker's deque). Returns fn's result; EINVAL (p or fn NULL);
 * ENOMEM; EPIPE. Blocks; on a worker of another pool, inside a blocking
 * section (weft_blocking_begin). Any thread. */
WEFT_API int weft_pool_call(weft_pool *p, weft_task_fn fn, void *arg);

/* A future: the handle of a task started by weft_pool_async, through
 * which its result is waited for. Opaque; freed by weft_future_release
 * (and by the task, if it ends after the release). */
typedef struct weft_future weft_future;

/* Run fn(arg) on the pool and return at once, with a handle for its result
 * in *out (weft_future_wait; free it with weft_future_release). As submit,
 * the task always runs, exactly once, if this returns 0. Returns 0; EINVAL
 * (p, out or fn NULL); ENOMEM; EPIPE (destroy has begun and the caller is
 * not a worker of p: nothing runs). *out is set only on success. Never
 * blocks. Any thread, workers included. */
WEFT_API int weft_pool_async(weft_pool *p, weft_future **out, weft_task_fn fn, void *arg);

/* Wait until f's task has finished, at most timeout_ns (weft/timeout.h),
 * and then store its result in *result (result may be NULL). The task's
 * result never mixes with weft's status: returns 0 (finished; *result set,
 * whatever the task returned); EAGAIN (WEFT_NO_WAIT, not finished);
 * ETIMEDOUT (a positive timeout ran out); EINVAL (f NULL, timeout below
 * -1); EPERM (called from f's own task, which would wait for itself;
 * whatever the timeout); EPIPE (in a child of fork(): the task had not
 * finished when the process forked, so it never will here). *result is
 * set only with 0.
 * A worker of f's pool runs other tasks while it waits (its wait may end
 * later than the timeout by the length of the task it ran), and blocks in a
 * blocking section when it finds none; any other thread blocks (on a worker
 * of another pool, in a blocking section). WEFT_NO_WAIT never blocks and
 * runs nothing. Any thread; several may wait at once, and again after a
 * wait returned 0 (the same result). A future may be waited for and
 * released after its pool was destroyed (its task ran by then). */
WEFT_API int weft_future_wait(weft_future *f, int64_t timeout_ns, int *result);

/* Let go of the handle f (NULL: nothing). The task need not have finished:
 * it then frees the future when it ends. Call once per handle, after every
 * wait on it has returned; f is invalid afterwards. Never blocks; any
 * thread. */
WEFT_API void weft_future_release(weft_future *f);

/* Wait until all submitted work and everything it spawned has finished.
 * From outside p only. Returns 0; EINVAL (p NULL); EPERM (on a worker of p);
 * EPIPE (destroy has begun).
 * Blocks; on a worker of another pool, inside a blocking section. */
WEFT_API int weft_pool_wait_idle(weft_pool *p);

/* weft_pool_wait_idle with a timeout (weft/timeout.h). Returns 0 (idle);
 * EAGAIN (WEFT_NO_WAIT and work remains; never blocks); ETIMEDOUT (a
 * positive timeout ran out first); EINVAL (p NULL, timeout below -1);
 * EPERM (on a worker of p); EPIPE (destroy has begun). From outside p only;
 * on a worker of another pool it blocks inside a blocking section. */
WEFT_API int weft_pool_try_wait_idle(weft_pool *p, int64_t timeout_ns);

/* Blocking inside a task. A worker that sleeps (in a lock held elsewhere, a
 * read from a pipe, another library's queue) runs no tasks meanwhile; if
 * every worker does, tasks that would wake them never run. Bracket such a
 * call with weft_blocking_begin() and weft_blocking_end(): begin makes the
 * caller's spawned tasks stealable at once, and while the caller is inside,
 * the pool may run a spare thread so that `workers` threads keep running
 * tasks (at most max_spares at a time; a spare that is not needed any more
 * goes back after its task and its thread ends after a second off duty).
 * Every weft call that can sleep on a worker (collection waits, take/add
 * to any, join, weft_pool_call and weft_pool_wait_idle of another pool, a
 * sync or group wait that finds nothing to help with) does this by itself.
 * Sections nest; only the outermost counts. On a thread that is no weft
 * worker both are no-ops. Never fail, never block (begin may start a
 * thread; if none can be started the pool runs with fewer). Call end on the
 * thread that called begin. */
WEFT_API void weft_blocking_begin(void);
/* Ends the blocking section that the same thread's last unmatched
 * weft_blocking_begin() opened (see above). Never fails, never blocks;
 * a no-op on a thread that is no weft worker. */
WEFT_API void weft_blocking_end(void);

/* The calling worker's pool, NULL on a thread that is no weft worker. */
WEFT_API weft_pool *weft_pool_current(void);

/* 0..size-1 on a worker (of any pool), size..size+max_spares-1 on a spare
 * thread (weft_blocking_begin), -1 elsewhere. */
WEFT_API int weft_worker_index(void);

/* Run body over disjoint sub-ranges [lo, hi) that cover [begin, end) exactly
 * once, in parallel on p (p NULL: the calling worker's pool). grain: the
 * largest sub-range handed to one body call, 0: automatic. From a worker or
 * from outside (blocks). Returns 0 (also for an empty range); the first
 * non-zero body result (sub-ranges not started by then are skipped);
 * EINVAL (body NULL, begin > end, p NULL off a worker); ENOMEM; EPIPE. */
WEFT_API int weft_parallel_for(weft_pool *p, size_t begin, size_t end, size_t grain,
                               int (*body)(size_t lo, size_t hi, void *arg), void *arg);

/* A deterministic parallel reduction of [begin, end) into *result, an
 * accumulator of `size` bytes, on p (p NULL: the calling worker's pool).
 *   init(acc, arg)          makes acc (size bytes, aligned for max_align_t)
 *                           an identity accumulator;
 *   body(lo, hi, acc, arg)  folds the sub-range [lo, hi) into acc; non-zero
 *                           stops the reduction (as in weft_parallel_for);
 *   combine(acc, other, arg) merges other (the reduction of the sub-range
 *                           right of acc's) into acc; other is discarded
 *                           afterwards, so it must hand on anything it owns.
 * The tree of combinations depends only on (begin, end, grain): a range
 * longer than grain is split at lo + (hi - lo) / 2, each leaf is folded by
 * one body call into an identity accumulator, and each split combines its
 * left result with its right one. So the result is the same, bit for bit
 * (a floating-point sum included), from run to run, for any number of
 * workers and either scheduler. grain 0: ceil((end - begin) / 1024), at
 * most 1024 leaves whatever the number of workers. The root accumulator is
 * *result itself (init is called on it first); every other accumulator is
 * combined into its parent exactly once, also after a stop. Accumulators
 * up to 128 bytes live on the stack, larger ones are malloc'ed (one per
 * split). body and combine run concurrently on several workers, each on
 * its own accumulators.
 * Returns 0 (*result holds the reduction); ECANCELED (a body returned
 * non-zero: sub-ranges not started by then were skipped, *result holds
 * what was folded); EINVAL (result, init, body or combine NULL, size 0,
 * begin > end, p NULL off a worker; nothing is called); ENOMEM (an
 * accumulator could not be allocated; *result incomplete); EPIPE (destroy
 * has begun and the caller is not a worker of p: *result is the identity).
 * Unless it returns EINVAL it sets *body_result (if not NULL) to the first
 * non-zero body result, or 0: the bodies' results never mix with weft's
 * status. Blocks until done; from a worker it runs the root itself. Any
 * thread. */
WEFT_API int weft_parallel_reduce(weft_pool *p, size_t begin, size_t end, size_t grain,
                                  void *result, size_t size,
                                  void (*init)(void *acc, void *arg),
                                  int (*body)(size_t lo, size_t hi, void *acc, void *arg),
                                  void (*combine)(void *acc, void *other, void *arg),
                                  void *arg, int *body_result);

/* Typed tasks (weft/fj.h) that their spawner runs itself are counted in
 * neither `spawned` nor `executed` (that would cost more than the spawn);
 * stolen ones count as steals and as executed by the thief. */
typedef struct {
    uint64_t executed;      /* tasks run by this worker */
    uint64_t spawned;       /* tasks pushed by this worker */
    uint64_t steals;        /* successful steals (always 0 in SHARED mode) */
    uint64_t failed_steals; /* steal attempts that found nothing */
    uint64_t injected;      /* tasks taken from the injection/shared queue */
    uint64_t parks;         /* times the worker went to sleep */
    uint64_t blocked;       /* blocking sections entered (weft_blocking_begin) */
    uint64_t spares;        /* spare threads started or recalled for them */
    /* Where the thread's time went, in ns, including the current stretch
     * (the clock is read when the thread changes what it does, never per
     * task): */
    uint64_t run_ns;     /* running tasks */
    uint64_t search_ns;  /* looking for work: the idle search, and syncs and
                            group waits that look for tasks to help with */
    uint64_t park_ns;    /* parked (a spare: also off duty) */
    uint64_t blocked_ns; /* inside blocking sections */
} weft_worker_stats;

/* Copy per-thread counters into per_worker[0..n-1]: entries 0..size-1 are
 * the workers, the next ones the spare threads' slots in the order they
 * were made, the rest are zeroed. Counters are read without stopping the
 * workers: executed, spawned, steals, injected, blocked and spares are
 * exact once the pool is idle; failed_steals and parks keep counting while
 * idle workers look for work and park. Returns 0; EINVAL (p or per_worker
 * NULL, n == 0); EPIPE (destroy has begun). Any thread. */
WEFT_API int weft_pool_stats(const weft_pool *p, weft_worker_stats *per_worker, size_t n);

/* Tracing: record what p's threads do and write it to a file that Perfetto
 * (ui.perfetto.dev) and chrome://tracing open (Chrome trace-event JSON):
 * a track per worker, spare and outside thread that used p; slices for the
 * tasks that workers take from their loop or steal (thief <- victim flow
 * arrows), for searching, parking, blocking sections, waits in syncs,
 * groups, calls and collections; instants for parks and wake-ups.
 * docs/design/tracing.md says what is recorded and what it costs; the
 * tool tools/weft-prof reads the file.
 *
 * WEFT_TRACE_DAG also records every spawn, sync and heap task, so that
 * weft-prof can rebuild the task graph (work, span, what-if scheduling):
 * spawns and syncs then take a slower path. Start it while p is idle to
 * get the whole graph.
 *
 * The environment variable WEFT_TRACE=path makes every pool trace from its
 * creation to its destruction ("%p" in the path: the process id; pools
 * after the first add ".N" before the extension, or put "%n" where N
 * goes); WEFT_TRACE_DAG=1 adds the flag (here too); WEFT_TRACE_MIN_NS=n
 * leaves out tasks shorter than n ns that a worker took from its own deque
 * (stolen and queued tasks are always kept); WEFT_TRACE_MAX_MB (default
 * 256) caps the memory a capture takes, beyond which events are counted as
 * dropped. */
#define WEFT_TRACE_DAG 1u

/* Start recording p's activity for the file path (written by
 * weft_pool_trace_stop, or by weft_pool_destroy). Returns 0; EINVAL (p or
 * path NULL or empty, unknown flags); EBUSY (p is being traced); ENOMEM;
 * EPIPE (destroy has begun). Never blocks (but on the locks of other
 * trace calls). Any thread. */
WEFT_API int weft_pool_trace_start(weft_pool *p, const char *path, unsigned flags);

/* Stop recording and write the file. Returns 0; EINVAL (p NULL, or no
 * trace running); EPIPE (destroy has begun); an errno of creating or
 * writing the file (EACCES, ENOSPC, EIO, ...). Blocks while it writes.
 * Any thread. */
WEFT_API int weft_pool_trace_stop(weft_pool *p);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_POOL_H */
