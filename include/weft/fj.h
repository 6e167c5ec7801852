/* SPDX-License-Identifier: MIT */
/*
 * weft/fj.h - typed fork-join tasks: the fastest spawn/sync weft has (C11
 * and C++11).
 *
 * weft_spawn/weft_sync (weft/task.h) take an `int fn(void *)`, so arguments
 * and results travel through memory, and every call finds the worker's
 * private deque index in memory again: each spawn and sync loads the index
 * the previous one stored, a chain of store-to-load forwardings that bounds
 * fine-grained recursion. The macros below
 * generate, per task, a typed body that receives that index as a hidden
 * parameter, much as Lace passes its deque head (van Dijk & van de Pol,
 * "Lace: non-blocking split deque for work-stealing", Euro-Par 2014
 * workshops): the index stays in a register from spawn to sync, arguments
 * are plain parameters, and a task that nobody stole is called directly
 * with its arguments (about a third of the cost of weft_spawn/weft_sync).
 *
 *     WEFT_TASK_1(uint64_t, fib, int, n)        // uint64_t fib(int n)
 *     {
 *         if (n < 2)
 *             return (uint64_t)n;
 *         WEFT_FRAME(fib) f;                    // the spawned task's frame
 *         WEFT_SPAWN(fib, &f, n - 1);           // fib(n - 1) may be stolen
 *         uint64_t b = WEFT_CALL(fib, n - 2);   // a plain call, meanwhile
 *         uint64_t a = WEFT_SYNC(fib, &f);      // fib(n - 1)'s result
 *         return a + b;
 *     }
 *
 * WEFT_TASK_n(R, name, T1, a1, ..., Tn, an), n = 1..4, defines the
 * function `R name(T1 a1, ..., Tn an)` (external linkage: other files
 * declare and call it as a plain function) and, for the rest of this file,
 * the frame type WEFT_FRAME(name) and the spawn/sync helpers. The body that
 * follows the macro is the function's body; R is not void
 * (WEFT_VOID_TASK_n(name, ...) for tasks without a result).
 * Inside a body (only there: they use the hidden parameters):
 *   WEFT_SPAWN(name, frame, args...)  push name(args) on the worker's deque;
 *                                     frame: a WEFT_FRAME(name) that stays
 *                                     valid (and unmoved) until the sync.
 *   WEFT_SYNC(name, frame)            name(args)'s result (void for void
 *                                     tasks): runs it here if nobody stole
 *                                     it, else works on other tasks until
 *                                     the thief is done (and sleeps, in a
 *                                     blocking section, when there are
 *                                     none).
 *   WEFT_CALL(name, args...)          name(args) as a plain call (cheaper
 *                                     than calling name() directly).
 * Argument and result types must not be const-qualified at the top level
 * (`const char *` is fine, `const int` is not: the frame stores them).
 * Use at most one WEFT_SPAWN or WEFT_SYNC per full expression (each
 * updates the hidden index): `return WEFT_SYNC(f, &a) + WEFT_SYNC(f, &b);`
 * is undefined. A task can spawn itself and tasks defined above it.
 * Every spawn is synced exactly once, in LIFO order (the newest first), in
 * the body that spawned it; frames may be an array (spawn in a loop, then
 * sync in reverse). Spawn and sync cannot fail: where a task cannot be
 * made stealable (the calling thread is no weft worker, or the deque cannot
 * grow: ENOMEM) it runs at once, in the spawn, as the serial program would;
 * in a WEFT_SCHED_SHARED pool every spawn goes through the shared queue.
 * Calling name() on a thread that is no worker runs the whole tree serially;
 * to run it on a pool, call it from a task (e.g. weft_pool_call).
 * Typed and untyped spawns mix freely in one body (group spawns included).
 * Typed tasks that their spawner runs itself are not counted in
 * weft_pool_stats' spawned/executed (they cost no more than a call); stolen
 * ones count as steals and as executed by the thief.
 * Typed spawns keep weft/pool.h's guarantees: a spawned task becomes
 * stealable whatever the body does next (an idle worker publishes it if
 * the body does not answer), and a body may block in weft calls or inside
 * weft_blocking_begin/end. Misusing WEFT_SYNC (twice on a frame) cannot
 * return an error: its result is then unspecified, but it never hangs.
 *
 * Define WEFT_STATIC_EXE before including this header in files of a
 * program that links weft statically into its executable (not into a
 * shared library: that fails to link): the fast paths then read the
 * worker's queue from TLS with one instruction (local-exec) at each spawn
 * and sync, instead of receiving it as a second hidden parameter, which
 * keeps one register more (about 4% on fib). weft-bench does. Without it
 * (the shared library, as users link) fib's typed path is within about 4%
 * of that.
 *
 * C++ (C++11 and later; GCC or Clang): the same macros, rules and code.
 * Define tasks at namespace scope. Argument and result types must be
 * default-constructible and copy-assignable (the frame holds them as
 * members; WEFT_FRAME(name) f; default-constructs it). No exception may
 * leave a body: a thief runs it under C code, and a frame unwound before
 * its sync is still on the deque (catch inside, or use weft/weft.hpp's
 * task_group, which carries exceptions). A root runs on a pool through
 * weft::pool::call:
 *
 *     #include <weft/fj.h>
 *     #include <weft/weft.hpp>
 *
 *     WEFT_TASK_1(std::uint64_t, fib, int, n)   // the body above, unchanged
 *     { ... }
 *
 *     weft::pool pool;
 *     std::uint64_t r = pool.call([] { return fib(40); });
 *
 * The fast paths are the same code in C and C++: weft/bits/fjq.h accesses
 * the deque with GCC's __atomic builtins, which both languages share.
 */
#ifndef WEFT_FJ_H
#define WEFT_FJ_H

#include <stddef.h>
#include <stdint.h>

#ifndef __cplusplus
#include <stdatomic.h> /* included since C-only versions: C programs may rely on it */
#include <stdbool.h>
#endif

#include <weft/bits/fjq.h>
#include <weft/export.h>
#include <weft/task.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- private: the inline fast paths ---------------------------------------- */

/* Out of line: a spawn the fast path could not do (returns the new index),
 * a sync whose task is not the newest private one, a thief's request after
 * a push, and after a pop (returns false if a thief took t after all). */
WEFT_API int64_t weft__fj_push_slow(struct weft__fjq *q, struct weft__task_impl *t);
WEFT_API int64_t weft__fj_sync_slow(struct weft__task_impl *t); /* returns q_priv */
WEFT_API void weft__fj_publish(struct weft__fjq *q);
WEFT_API bool weft__fj_pop_slow(struct weft__fjq *q, struct weft__task_impl *t);

#ifdef __cplusplus
}
#endif

/* How a body finds its worker's queue. In a program that links weft
 * statically (WEFT_STATIC_EXE) it reads it from TLS at each spawn and sync
 * (one instruction), which leaves the body one callee-saved register
 * more. Elsewhere a TLS read takes two loads (the variable's offset from
 * the GOT, then the variable), and the compiler keeps the offset in a
 * callee-saved register anyway: there the queue is passed to the body as
 * a second hidden parameter instead, read from TLS once per task. */
#ifdef WEFT_STATIC_EXE
#define WEFT__FJ_QDECL
#define WEFT__FJ_QARG
#define WEFT__FJ_QOF(q)
#define WEFT__FJ_Q weft__tls_fjq
#else
#define WEFT__FJ_QDECL  , struct weft__fjq *weft__fj_q
#define WEFT__FJ_QARG   , weft__fj_q
#define WEFT__FJ_QOF(q) , (q)
#define WEFT__FJ_Q      weft__fj_q
#endif

/* Push t at index h (the caller's private index, kept in a register) on
 * queue q and return the index after it. */
static inline __attribute__((always_inline)) int64_t
weft__fj_push(int64_t h, struct weft__fjq *q, struct weft__task_impl *t, weft_task_fn fn)
{
    /* No ti_arg: the state says "the argument is the frame" (one store
     * less; stores are what a fine-grained spawn is bound by). */
    t->ti_fn = fn;
    /* Relaxed: the frame becomes visible to thieves only when the owner
     * publishes it (weft/bits/fjq.h). */
    weft__atomic_store(&t->ti_state, WEFT__TS_SELF_ARG, __ATOMIC_RELAXED);
    /* Fails when untyped spawns (a group's) sit above our index, or the
     * ring is full. */
    if (!weft__fjq_try_push(q, h, t))
        return weft__fj_push_slow(q, t);
    if (weft__fjq_hungry(q))
        weft__fj_publish(q);
    return h + 1;
}

/* h: the index after t's push. True if t was the newest private task and
 * is now popped: the caller runs it. */
static inline __attribute__((always_inline)) bool weft__fj_pop(int64_t h, struct weft__fjq *q,
                                                              struct weft__task_impl *t)
{
    if (__builtin_expect(weft__fjq_try_pop(q, h, t), 1)) {
        if (weft__fjq_hungry(q))
            return weft__fj_pop_slow(q, t);
        return true;
    }
    return false;
}

#define WEFT__ID(...) __VA_ARGS__
#define WEFT__UNUSED  __attribute__((unused))

/* The generator behind WEFT_TASK_n: PARAMS "T1 a1, T2 a2", XPARAMS and
 * XARGS the same with a leading comma, FIELDS "T1 a1; T2 a2;", STORE the
 * frame stores, FARGS the arguments read back from frame weft__f. */
#define WEFT__TASK(R, NAME, PARAMS, XPARAMS, XARGS, FIELDS, STORE, FARGS)                          \
    struct weft__frame_##NAME {                                                                    \
        struct weft__task_impl weft__task;                                                         \
        R weft__result;                                                                            \
        WEFT__ID FIELDS                                                                            \
    };                                                                                             \
    static R weft__body_##NAME(int64_t weft__fj_h WEFT__FJ_QDECL WEFT__ID XPARAMS);                \
    static int weft__run_##NAME(void *weft__p)                                                     \
    {                                                                                              \
        struct weft__frame_##NAME *weft__f = (struct weft__frame_##NAME *)weft__p;                 \
        struct weft__fjq *weft__q = weft__tls_fjq;                                                 \
        weft__f->weft__result =                                                                    \
            weft__body_##NAME(weft__fjq_priv(weft__q) WEFT__FJ_QOF(weft__q) WEFT__ID FARGS);       \
        return 0;                                                                                  \
    }                                                                                              \
    static inline __attribute__((always_inline, unused)) int64_t weft__spawn_##NAME(               \
        int64_t weft__h WEFT__FJ_QDECL, struct weft__frame_##NAME *weft__f WEFT__ID XPARAMS)       \
    {                                                                                              \
        WEFT__ID STORE;                                                                            \
        return weft__fj_push(weft__h, WEFT__FJ_Q, &weft__f->weft__task, weft__run_##NAME);         \
    }                                                                                              \
    static inline __attribute__((always_inline, unused))                                           \
    R weft__sync_##NAME(int64_t *weft__hp WEFT__FJ_QDECL, struct weft__frame_##NAME *weft__f)      \
    {                                                                                              \
        int64_t weft__h = *weft__hp;                                                               \
        if (weft__fj_pop(weft__h, WEFT__FJ_Q, &weft__f->weft__task)) {                             \
            *weft__hp = weft__h - 1;                                                               \
            return weft__body_##NAME(weft__h - 1 WEFT__FJ_QARG WEFT__ID FARGS);                    \
        }                                                                                          \
        *weft__hp = weft__fj_sync_slow(&weft__f->weft__task);                                      \
        return weft__f->weft__result;                                                              \
    }                                                                                              \
    R NAME(PARAMS)                                                                                 \
    {                                                                                              \
        struct weft__fjq *weft__q = weft__tls_fjq;                                                 \
        return weft__body_##NAME(weft__fjq_priv(weft__q) WEFT__FJ_QOF(weft__q) WEFT__ID XARGS);    \
    }                                                                                              \
    static R weft__body_##NAME(int64_t weft__fj_h WEFT__UNUSED WEFT__FJ_QDECL WEFT__UNUSED         \
                                   WEFT__ID XPARAMS)

/* The same for tasks without a result. */
#define WEFT__VOID_TASK(NAME, PARAMS, XPARAMS, XARGS, FIELDS, STORE, FARGS)                        \
    struct weft__frame_##NAME {                                                                    \
        struct weft__task_impl weft__task;                                                         \
        WEFT__ID FIELDS                                                                            \
    };                                                                                             \
    static void weft__body_##NAME(int64_t weft__fj_h WEFT__FJ_QDECL WEFT__ID XPARAMS);             \
    static int weft__run_##NAME(void *weft__p)                                                     \
    {                                                                                              \
        struct weft__frame_##NAME *weft__f = (struct weft__frame_##NAME *)weft__p;                 \
        struct weft__fjq *weft__q = weft__tls_fjq;                                                 \
        weft__body_##NAME(weft__fjq_priv(weft__q) WEFT__FJ_QOF(weft__q) WEFT__ID FARGS);           \
        return 0;                                                                                  \
    }                                                                                              \
    static inline __attribute__((always_inline, unused)) int64_t weft__spawn_##NAME(               \
        int64_t weft__h WEFT__FJ_QDECL, struct weft__frame_##NAME *weft__f WEFT__ID XPARAMS)       \
    {                                                                                              \
        WEFT__ID STORE;                                                                            \
        return weft__fj_push(weft__h, WEFT__FJ_Q, &weft__f->weft__task, weft__run_##NAME);         \
    }                                                                                              \
    static inline __attribute__((always_inline, unused)) void weft__sync_##NAME(                   \
        int64_t *weft__hp WEFT__FJ_QDECL, struct weft__frame_##NAME *weft__f)                      \
    {                                                                                              \
        int64_t weft__h = *weft__hp;                                                               \
        if (weft__fj_pop(weft__h, WEFT__FJ_Q, &weft__f->weft__task)) {                             \
            *weft__hp = weft__h - 1;                                                               \
            weft__body_##NAME(weft__h - 1 WEFT__FJ_QARG WEFT__ID FARGS);                           \
        } else {                                                                                   \
            *weft__hp = weft__fj_sync_slow(&weft__f->weft__task);                                  \
        }                                                                                          \
    }                                                                                              \
    void NAME(PARAMS)                                                                              \
    {                                                                                              \
        struct weft__fjq *weft__q = weft__tls_fjq;                                                 \
        weft__body_##NAME(weft__fjq_priv(weft__q) WEFT__FJ_QOF(weft__q) WEFT__ID XARGS);           \
    }                                                                                              \
    static void weft__body_##NAME(int64_t weft__fj_h WEFT__UNUSED WEFT__FJ_QDECL WEFT__UNUSED      \
                                  WEFT__ID XPARAMS)

/* ---- public ------------------------------------------------------------ */

#define WEFT_FRAME(NAME) struct weft__frame_##NAME

/* The three below work only inside a body of WEFT_TASK_n/WEFT_VOID_TASK_n
 * (they use its hidden deque index, which moves up with each spawn and
 * down with each sync; after a slow sync - a stolen task, an out-of-order
 * sync, a task that ran in its spawn - it is read from the deque again, so
 * the fast paths of the body's older frames still match). None can fail
 * and none blocks, except WEFT_SYNC as said there. */

/* Push NAME(args...) on this worker's deque, where idle workers may steal
 * it; FRAME is a WEFT_FRAME(NAME) * that stays valid and unmoved until its
 * WEFT_SYNC. Where the task cannot be made stealable (no worker, ENOMEM)
 * it runs here, at once. */
#define WEFT_SPAWN(NAME, ...)                                                                      \
    ((void)(weft__fj_h = weft__spawn_##NAME(weft__fj_h WEFT__FJ_QARG, __VA_ARGS__)))
/* The result of the task spawned with FRAME (nothing for a void task):
 * runs it here if nobody stole it, else runs other tasks until the thief
 * is done, sleeping (in a blocking section) when there are none. Exactly
 * once per spawn, newest first, in the body that spawned it. */
#define WEFT_SYNC(NAME, FRAME) weft__sync_##NAME(&weft__fj_h WEFT__FJ_QARG, (FRAME))
/* NAME(args...) as a plain call that passes the hidden index on (cheaper
 * than calling NAME() itself, which reads the index from the deque). */
#define WEFT_CALL(NAME, ...)   weft__body_##NAME(weft__fj_h WEFT__FJ_QARG, __VA_ARGS__)

/* Define the typed task `R NAME(T1 A1, ..., Tn An)` (n = 1..4; R not void;
 * argument and result types not const-qualified at the top level), its
 * frame type WEFT_FRAME(NAME) and its spawn/sync helpers; the block that
 * follows is the body. NAME has external linkage and may be called from
 * any thread (on a thread that is no worker, the whole tree runs
 * serially). */

#define WEFT_TASK_1(R, NAME, T1, A1)                                                               \
    WEFT__TASK(R, NAME, T1 A1, (, T1 A1), (, A1), (T1 A1;), (weft__f->A1 = A1), (, weft__f->A1))
/* WEFT_TASK_n with two arguments. */
#define WEFT_TASK_2(R, NAME, T1, A1, T2, A2)                                                       \
    WEFT__TASK(R, NAME, WEFT__ID(T1 A1, T2 A2), (, T1 A1, T2 A2), (, A1, A2), (T1 A1; T2 A2;),     \
               (weft__f->A1 = A1, weft__f->A2 = A2), (, weft__f->A1, weft__f->A2))
/* WEFT_TASK_n with three arguments. */
#define WEFT_TASK_3(R, NAME, T1, A1, T2, A2, T3, A3)                                               \
    WEFT__TASK(R, NAME, WEFT__ID(T1 A1, T2 A2, T3 A3), (, T1 A1, T2 A2, T3 A3), (, A1, A2, A3),    \
               (T1 A1; T2 A2; T3 A3;), (weft__f->A1 = A1, weft__f->A2 = A2, weft__f->A3 = A3),     \
               (, weft__f->A1, weft__f->A2, weft__f->A3))
/* WEFT_TASK_n with four arguments. */
#define WEFT_TASK_4(R, NAME, T1, A1, T2, A2, T3, A3, T4, A4)                                       \
    WEFT__TASK(R, NAME, WEFT__ID(T1 A1, T2 A2, T3 A3, T4 A4), (, T1 A1, T2 A2, T3 A3, T4 A4),      \
               (, A1, A2, A3, A4), (T1 A1; T2 A2; T3 A3; T4 A4;),                                  \
               (weft__f->A1 = A1, weft__f->A2 = A2, weft__f->A3 = A3, weft__f->A4 = A4),           \
               (, weft__f->A1, weft__f->A2, weft__f->A3, weft__f->A4))

/* As WEFT_TASK_n, for a task without a result: `void NAME(T1 A1, ...)`;
 * WEFT_SYNC of its frame is a void expression. */
#define WEFT_VOID_TASK_1(NAME, T1, A1)                                                             \
    WEFT__VOID_TASK(NAME, T1 A1, (, T1 A1), (, A1), (T1 A1;), (weft__f->A1 = A1), (, weft__f->A1))
/* WEFT_VOID_TASK_n with two arguments. */
#define WEFT_VOID_TASK_2(NAME, T1, A1, T2, A2)                                                     \
    WEFT__VOID_TASK(NAME, WEFT__ID(T1 A1, T2 A2), (, T1 A1, T2 A2), (, A1, A2), (T1 A1; T2 A2;),   \
                    (weft__f->A1 = A1, weft__f->A2 = A2), (, weft__f->A1, weft__f->A2))
/* WEFT_VOID_TASK_n with three arguments. */
#define WEFT_VOID_TASK_3(NAME, T1, A1, T2, A2, T3, A3)                                             \
    WEFT__VOID_TASK(NAME, WEFT__ID(T1 A1, T2 A2, T3 A3), (, T1 A1, T2 A2, T3 A3), (, A1, A2, A3),  \
                    (T1 A1; T2 A2; T3 A3;),                                                        \
                    (weft__f->A1 = A1, weft__f->A2 = A2, weft__f->A3 = A3),                        \
                    (, weft__f->A1, weft__f->A2, weft__f->A3))
/* WEFT_VOID_TASK_n with four arguments. */
#define WEFT_VOID_TASK_4(NAME, T1, A1, T2, A2, T3, A3, T4, A4)                                     \
    WEFT__VOID_TASK(NAME, WEFT__ID(T1 A1, T2 A2, T3 A3, T4 A4), (, T1 A1, T2 A2, T3 A3, T4 A4),    \
                    (, A1, A2, A3, A4), (T1 A1; T2 A2; T3 A3; T4 A4;),                             \
                    (weft__f->A1 = A1, weft__f->A2 = A2, weft__f->A3 = A3, weft__f->A4 = A4),      \
                    (, weft__f->A1, weft__f->A2, weft__f->A3, weft__f->A4))

#endif /* WEFT_FJ_H */
