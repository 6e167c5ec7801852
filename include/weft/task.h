/* SPDX-License-Identifier: MIT */
/*
 * weft/task.h - fork-join on a weft pool: strict spawn/sync and task groups.
 *
 * Strict fork-join (the fast path): a task frame lives in the caller's
 * storage, usually its stack.
 *
 *     weft_task t;
 *     weft_spawn(&t, fn, arg);      // fn(arg) may now run on any worker
 *     int r2 = other(arg2);         // meanwhile, the caller works too
 *     int r1 = weft_sync(&t);       // fn's result, once fn has finished
 *
 * Task groups: any number of tasks, one wait; the first error cancels the
 * rest (fail fast, as Go's errgroup and oneTBB's task_group).
 *
 *     weft_group g;
 *     weft_group_init(&g, NULL);
 *     for (...) weft_group_spawn(&g, fn, arg);
 *     int rc = weft_group_wait(&g);
 *
 * Return values. The functions that return an int return weft's status,
 * pthreads-style: 0 or a positive errno value (EINVAL, ENOMEM, EPERM,
 * EPIPE, EAGAIN and ETIMEDOUT for a wait with a timeout), with two
 * exceptions, kept as they are for compatibility: weft_sync returns the
 * task's own result (its only status, EINVAL for misuse, shares that int),
 * and weft_group_wait returns the first non-zero task result in the same
 * int as weft's EINVAL and EPIPE (and ECANCELED for a cancelled group), so
 * a task that returns EPIPE cannot be told from an inherited pool. Where
 * that matters use weft_group_try_wait, which passes the group's result
 * through an out-parameter (as does every function added since 0.1).
 * weft_group_cancel returns nothing; weft_group_cancelled a bool.
 *
 * A worker never blocks in weft_sync or weft_group_wait while there are
 * other tasks it may run: it runs or steals them until the awaited ones
 * are done, and blocks (in a blocking section) only when it finds none.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/export.h>
#include <weft/timeout.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The pool, opaque (weft/pool.h); declared here too because the group and
 * spawn functions below take one. */
typedef struct weft_pool weft_pool;

/* A task body: returns 0 or an error code (kept by the wait that joins it). */
typedef int (*weft_task_fn)(void *arg);

/* A strict fork-join frame, in the caller's storage; the fields are private
 * (function, argument, state, result: 32 bytes, so a deep recursion keeps
 * its stack small). It must stay valid (and not move) from weft_spawn until
 * weft_sync returns. */
typedef struct weft_task {
    uint64_t weft__private[4];
} weft_task;

/* Push fn(arg) on the calling worker's deque (in SHARED mode: on the pool's
 * shared queue); it runs later on this or another worker.
 * Call from a worker thread only. Every spawn must be matched by exactly one
 * weft_sync on the same thread, in LIFO order (the most recent spawn first).
 * Returns 0; EINVAL (t or fn NULL); EPERM (not on a worker thread); ENOMEM
 * (the deque could not grow: nothing was pushed). Never blocks. */
#if defined(WEFT__RUNTIME) || defined(WEFT__DOXYGEN)
WEFT_API int weft_spawn(weft_task *t, weft_task_fn fn, void *arg);
#endif

/* Wait for the task spawned into t and return fn's result. If nobody took
 * it yet the caller runs it itself; if it was stolen, the caller runs other
 * work (preferring the thief's deque) until it is done - it never sleeps.
 * Call on the spawning thread, in LIFO order. Returns fn's result, or EINVAL
 * (t NULL; debug builds also detect out-of-order syncs). */
#if defined(WEFT__RUNTIME) || defined(WEFT__DOXYGEN)
WEFT_API int weft_sync(weft_task *t);
#endif

/* A task group, in the caller's storage; the fields are private. Needs no
 * cleanup after weft_group_wait has returned. */
typedef struct weft_group {
    uint64_t weft__private[8];
} weft_group;

/* Initialise g for pool p (p NULL: the calling worker's pool).
 * Returns 0; EINVAL (g NULL, or p NULL off a worker). Never blocks. */
WEFT_API int weft_group_init(weft_group *g, weft_pool *p);

/* Run fn(arg) as part of g, from a worker or from any outside thread.
 * Returns 0; EINVAL (g or fn NULL, g not initialised); ENOMEM; EPIPE (the
 * pool is being destroyed and the caller is not one of its workers).
 * Never blocks. Any thread; concurrent spawns into one group are fine. */
WEFT_API int weft_group_spawn(weft_group *g, weft_task_fn fn, void *arg);

/* Wait until every task spawned into g has finished (or was skipped because
 * g was cancelled). Returns the first non-zero task result; else ECANCELED
 * if g was cancelled; else 0. EINVAL for g NULL; EPERM from a task of g
 * (it would wait for itself; nothing waits). The first non-zero result
 * cancels g: tasks that have not started are skipped. On a worker of g's
 * pool it runs other tasks while waiting, and blocks (in a blocking
 * section: weft_blocking_begin) when it finds none; elsewhere it blocks.
 * One waiter at a time per group. Until the next spawn, a repeated wait
 * returns the same result; the next spawn starts a new round (no error,
 * not cancelled). */
WEFT_API int weft_group_wait(weft_group *g);

/* weft_group_wait with a timeout (weft/timeout.h), which keeps weft's
 * status apart from the group's result. Returns 0 once every task of the
 * round has finished, and sets *result to what weft_group_wait would
 * return then: the first non-zero task result, else ECANCELED if g was
 * cancelled, else 0 (and, as after weft_group_wait, the next spawn starts
 * a new round). Otherwise *result is unchanged and it returns EAGAIN
 * (WEFT_NO_WAIT, tasks remain), ETIMEDOUT (a positive timeout ran out;
 * the round goes on, wait again later), EINVAL (g or result NULL, g not
 * initialised, timeout below -1), EPERM (called from a task of g, which
 * would wait for itself; whatever the timeout) or EPIPE (in a child of fork(), g was
 * initialised before the fork: its tasks will never run). Waits as
 * weft_group_wait does (a worker of g's pool runs other tasks meanwhile,
 * so its wait may end later than the timeout by the length of the task it
 * ran; then it blocks in a blocking section); WEFT_NO_WAIT never blocks
 * and runs nothing. Any thread; one waiter at a time per group. */
WEFT_API int weft_group_try_wait(weft_group *g, int64_t timeout_ns, int *result);

/* Cancel g: its tasks that have not started are skipped. Running tasks can
 * poll weft_group_cancelled. NULL is ignored. Any thread; never blocks. */
WEFT_API void weft_group_cancel(weft_group *g);

/* true from a cancel (or the first task error) until a spawn after the
 * wait that followed starts a new round (false for NULL). Any thread;
 * never blocks. */
WEFT_API bool weft_group_cancelled(const weft_group *g);

#ifdef __cplusplus
}
#endif

/* In programs, weft_spawn and weft_sync are static inline functions (their
 * declarations above are the library's, whose exported functions do the
 * same): the push or pop of the worker's deque happens in the caller, and
 * everything else in the library (weft/bits/spawn.h). So a file that
 * includes this header cannot declare them itself, and &weft_spawn there
 * is the file's own copy; dlsym finds the library's. */
#if !defined(WEFT__RUNTIME) && !defined(WEFT__DOXYGEN)
#include <weft/bits/spawn.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int weft_spawn(weft_task *t, weft_task_fn fn, void *arg)
{
    return weft__spawn_inline(t, fn, arg);
}

static inline int weft_sync(weft_task *t)
{
    return weft__sync_inline(t);
}

#ifdef __cplusplus
}
#endif
#endif

#endif /* WEFT_TASK_H */
