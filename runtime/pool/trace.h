/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/trace.h - what a worker did and when: the scheduler state
 * each worker is in (running, searching, parked, blocked: the time in each
 * is in weft_worker_stats), and the trace of a pool (weft_pool_trace_start,
 * WEFT_TRACE): per-thread event buffers written without locks, turned into
 * Chrome trace-event JSON when the trace stops. docs/design/tracing.md
 * describes the format, the buffers and what is recorded.
 *
 * Locks: trace_global_lock (trace.c) before a capture's t_lock; both are
 * taken only to start and stop a capture, to register a thread that is no
 * worker, and to record a collection wait of such a thread. Recording by a
 * worker takes no lock.
 */
#ifndef WEFT_RUNTIME_POOL_TRACE_H
#define WEFT_RUNTIME_POOL_TRACE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <weft/bits/fjq.h>

#include "base/cpu.h"

struct weft__worker;
struct weft_pool;
struct weft__heap_task;

/* ---- scheduler states (always on: weft_worker_stats) -------------------------- */

/* What a worker does; the clock is read only when this changes (never per
 * task): a worker runs tasks back to back in RUN. SEARCH also covers a
 * sync or group wait that looks for work to help with; PARK covers a spare
 * off duty; BLOCK is a blocking section. */
enum { WEFT__ST_RUN = 0, WEFT__ST_SEARCH = 1, WEFT__ST_PARK = 2, WEFT__ST_BLOCK = 3, WEFT__ST_N = 4 };

/* A worker's state and the nanoseconds spent in each. Written by the owner
 * only, read by weft_pool_stats under the sequence count ts_seq (odd while
 * the owner writes; every access seq_cst, so that a reader that saw any new
 * value sees the count move: Boehm, "Can seqlocks get along with
 * programming language memory models?", MSPC 2012). */
struct weft__tstate {
    _Atomic uint32_t ts_seq;
    _Atomic uint32_t ts_state;   /* WEFT__ST_*, or WEFT__ST_N once the thread left */
    _Atomic uint64_t ts_since;   /* CLOCK_MONOTONIC ns of the last change */
    _Atomic uint64_t ts_acc[WEFT__ST_N];
    uint32_t ts_saved;           /* owner: the state a blocking section interrupted */
};

/* ---- trace events ---------------------------------------------------------- */

/* Event kinds. Times are ticks of weft__trace_now (trace.c converts them
 * to ns). "Complete" events are written when they end: ts is the start,
 * e_d the end. */
enum {
    WEFT__EV_TASK = 1,  /* complete: a=task, b=fn, aux=WEFT__TF_*, c=victim if
                           stolen; a task run by weft__run_task, or (DAG mode)
                           inline by its sync */
    WEFT__EV_STATE,     /* c=new state, aux=old state (WEFT__ST_*) */
    WEFT__EV_STEAL,     /* a=task, c=victim slot, d=ticks the steal took */
    WEFT__EV_WAKE,      /* a notifier woke parked workers: c=how many at most */
    WEFT__EV_COLL_WAIT, /* complete: a=collection (0: an any-variant), c=side
                           (0 add, 1 take, 2 join), aux=1 if it timed out */
    WEFT__EV_SPAWN,     /* DAG: a=frame, b=fn, aux=1 typed (weft/fj.h) */
    WEFT__EV_HSPAWN,    /* DAG: a=heap task, b=group, call or a future's word (a
                           future is a group of one), c=kind (WEFT__HK_*) */
    WEFT__EV_SYNC,      /* DAG, complete: a=frame; a sync that waited */
    WEFT__EV_JOIN,      /* DAG, complete: a=group / call task / 0 (wait_idle), c=kind */
    WEFT__EV_GAP,       /* complete: the recorder itself took a new buffer chunk */
    WEFT__EV_N
};
/* WEFT__EV_TASK flags. */
#define WEFT__TF_HEAP   1u /* a heap task (submit, group, call) */
#define WEFT__TF_INLINE 2u /* DAG: run by its own sync, in the spawner's frame */
#define WEFT__TF_NESTED 4u /* run while its worker waited in a sync or group wait */
#define WEFT__TF_STOLEN 8u /* stolen by this worker (e_c: the victim slot) */
/* WEFT__EV_HSPAWN and WEFT__EV_JOIN kinds. */
enum { WEFT__HK_SUBMIT = 0, WEFT__HK_GROUP = 1, WEFT__HK_CALL = 2, WEFT__HK_IDLE = 3 };

struct weft__tev {
    uint64_t e_ts, e_a, e_b, e_d;
    uint16_t e_kind, e_aux;
    uint32_t e_c;
};

#define WEFT__TCHUNK_EVENTS 2048
struct weft__tchunk {
    _Atomic(struct weft__tchunk *) c_next; /* owner writes (release), writer reads */
    _Atomic uint32_t c_n;                  /* events published (release by the owner) */
    struct weft__tev c_ev[WEFT__TCHUNK_EVENTS];
};

/* One thread's events for one capture. Owner-written; the writer of the
 * capture reads the events published in its chunks. A buffer is reset by
 * its owner when it sees a newer capture (b_gen), which begins only after
 * the writer of the previous one has finished. */
struct weft__tbuf {
    _Atomic uint32_t b_gen; /* the capture the events belong to (release by the owner) */
    struct weft__tchunk *b_head, *b_cur; /* written before b_gen */
    uint64_t b_dropped;     /* owner: events lost to the size cap */
    bool b_full;            /* owner: the cap was reached */
    /* Threads that are no workers (the capture's t_outside list, t_lock): */
    struct weft__tbuf *b_next;
    int b_tid;              /* gettid() */
    char b_name[24];
};

/* The DAG mode's bit in a worker's q_hungry (weft/bits/fjq.h): a non-zero
 * q_hungry sends every push and pop of the owner to its slow path, where
 * spawn.c records the edge; the deque's bracket keeps the bit
 * (docs/design/tracing.md, "The DAG mode"). */
#define WEFT__HUNGRY_TRACE 16u
_Static_assert((WEFT__HUNGRY_TRACE & (WEFT__HUNGRY_ASKED | WEFT__HUNGRY_PHASE)) == 0,
               "the trace bit overlaps q_hungry's protocol bits");

/* Capture flags in p_trace_on. */
#define WEFT__TRACE_ON  1u
#define WEFT__TRACE_DAG 2u

/* ---- what the pool and the scheduler call ------------------------------------- */

/* The pool's capture state, allocated at the first start (trace.c). */
struct weft__trace;

/* Ticks of the trace clock (TSC where it is invariant, else
 * CLOCK_MONOTONIC ns). */
uint64_t weft__trace_now(void);
/* CLOCK_MONOTONIC in ns. */
uint64_t weft__mono_ns(void);

/* Scheduler states: enter state s (the owner), returning the previous one;
 * the clock is read only if it changes. Initialise at the worker's start,
 * close at its exit. */
unsigned weft__tstate_set(struct weft__worker *w, unsigned s);
void weft__tstate_start(struct weft__worker *w);
void weft__tstate_exit(struct weft__worker *w);
/* The ns spent in each state so far, including the current one (any thread). */
void weft__tstate_read(const struct weft__worker *w, uint64_t out[WEFT__ST_N]);

/* Decide the trace clock, once, before the first pool's workers start. */
void weft__trace_clock_setup(void);
/* Pool life cycle: at create, the trace_path option (path non-NULL: 0 or
 * an errno that fails create), else WEFT_TRACE (0; an error is printed);
 * stop and free at destroy (after the threads were joined). */
int weft__trace_pool_created(struct weft_pool *p, const char *path, uint64_t flags);
void weft__trace_pool_destroy(struct weft_pool *p);
/* A worker (or spare) thread starts: the DAG bit if the capture wants it. */
void weft__trace_worker_start(struct weft__worker *w);

/* Recording (each a no-op unless the pool traces; callers on paths that
 * run per task test WEFT__TRACE_FLAGS first). Run x on worker w when w is
 * not in RUN or the pool traces: the state change, the task's event, then
 * weft__run_task_body. */
void weft__trace_run(struct weft__worker *w, struct weft__task_impl *x);
/* A heap task's function returned (weft__heap_task_run, before it wakes
 * anyone waiting for it): its end for the trace. */
void weft__trace_heap_ran(struct weft__heap_task *ht);
/* SHARED: the calling worker asked for the queue lock at t0, got it at t1,
 * released it at t2 (summed per worker for the capture; shared.c times one
 * operation in 16). */
void weft__trace_lock(uint64_t t0, uint64_t t1, uint64_t t2);
void weft__trace_steal(struct weft__worker *w, struct weft__task_impl *x, unsigned victim,
                       uint64_t t0);
void weft__trace_state(struct weft__worker *w, unsigned from, unsigned to);
void weft__trace_wake(struct weft_pool *p, int n);
/* A wait (join) is recorded from its begin (0: not recorded) to its end.
 * A thread that is no worker of p stays admitted as a caller of p
 * (*admitted) in between, so that p outlives the record. */
/* DAG mode: the newest private task of w was just pushed (spawn's fast
 * path; typed: weft/fj.h's) or t was (a slow push); run t, which its own
 * sync popped, recording it (returns t's result, with t not marked DONE);
 * a slow sync of t (returns its result); a heap task made runnable; a wait
 * for a group (g), a call (ht) or idleness (both NULL). */
void weft__trace_dag_spawned(struct weft__worker *w, struct weft__task_impl *t, bool typed);
int weft__trace_dag_inline(struct weft__worker *w, struct weft__task_impl *t);
/* DAG mode: t was popped by its typed sync (weft/fj.h): run it as above,
 * store its result and DONE, and return false (its slow sync then finds it
 * done); outside the DAG mode return true (the caller runs it). */
bool weft__trace_dag_pop(struct weft__worker *w, struct weft__task_impl *t);
int weft__trace_dag_sync(struct weft__worker *w, struct weft__task_impl *t);
void weft__trace_heap_spawn(struct weft_pool *p, struct weft__heap_task *ht);
/* future.c: the word a future's wait is recorded under, if ht is the task
 * of a future (weft_pool_async); NULL otherwise. Before ht runs. */
const void *weft__future_word(const struct weft__heap_task *ht);
uint64_t weft__trace_join_begin(struct weft_pool *p, bool *admitted);
void weft__trace_join_end(struct weft_pool *p, uint64_t t0, bool admitted, const void *what,
                          unsigned kind);
/* A group wait: a thread that is no worker of p must not touch p (destroy
 * may free it meanwhile), so its wait is recorded only into the running
 * capture of trace.c's global lock, if it is p's. */
uint64_t weft__trace_group_begin(const struct weft_pool *p);
void weft__trace_group_end(const struct weft_pool *p, uint64_t t0, const void *g);
/* A collection wait (any thread): the start (0 when no capture records
 * it), then the end, with the collection (NULL: an any-variant), its side
 * and whether it timed out. */
uint64_t weft__trace_coll_begin(void);
void weft__trace_coll_end(uint64_t t0, const void *coll, int side, bool timed_out);

/* ---- tests --------------------------------------------------------------------- */

/* The capture flags of p (0: not tracing): one relaxed load, the only test
 * on the paths that run per task while tracing is off (p_trace_on, in
 * sched.h's struct weft_pool; a hint: capture_start/stop order the rest). */
#define WEFT__TRACE_FLAGS(p) atomic_load_explicit(&(p)->p_trace_on, memory_order_relaxed)

/* Whether worker w's q_hungry carries the DAG mode's bit (the owner's
 * relaxed look, as weft__fjq_hungry's). */
#define WEFT__TRACE_DAG_BIT(w)                                                                \
    (weft__atomic_load(&(w)->w_dq.dq_q.q_hungry, memory_order_relaxed) & WEFT__HUNGRY_TRACE)

#endif /* WEFT_RUNTIME_POOL_TRACE_H */
