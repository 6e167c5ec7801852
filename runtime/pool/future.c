/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/future.c - futures: weft_pool_async runs a heap task whose
 * result a handle keeps for weft_future_wait.
 *
 * A future is shared by two parties, the task and the handle, and freed by
 * the last of them to let go (f_refs), so the handle may be released
 * before the task ends. Its completion is a count of one in a futex word
 * with a waiter bit, waited for as a group's count is (weft__wait_zero):
 * a worker of the pool helps meanwhile, any other thread blocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>

#include "base/alloc.h"
#include "base/futex.h"
#include "pool/sched.h"

#define FUTURE_PENDING 1u          /* f_pending: the task has not finished */
#define FUTURE_WAITER  0x80000000u /* f_pending: a waiter sleeps on the word */

struct weft_future {
    /* PENDING until the task finished | WAITER; the futex word. */
    _Atomic uint32_t f_pending;
    _Atomic uint32_t f_refs; /* the task's and the handle's: 2, 1, then freed */
    int f_result;            /* the task's result, written before PENDING clears */
    uint32_t f_forks;        /* weft__forks at async (fork.c) */
    weft_pool *f_pool;       /* compared, never dereferenced by a wait */
    weft_task_fn f_fn;
    void *f_arg;
};

/* The future whose task this thread is running (the innermost, when a
 * waiting worker runs other tasks), or NULL: a wait on it would wait for
 * itself. Thread-private. */
static _Thread_local struct weft_future *future_running;

static void future_unref(struct weft_future *f)
{
    /* acq_rel: the last party's acquire sees every access of the other
     * (the task's result, a waiter's reads) before it frees. */
    if (atomic_fetch_sub_explicit(&f->f_refs, 1, memory_order_acq_rel) == 1)
        weft__free(f);
}

/* The heap task: run fn, keep its result, wake the waiters, let go. */
static int future_run(void *arg)
{
    struct weft_future *f = arg;
    struct weft_future *outer = future_running;
    future_running = f;
    f->f_result = f->f_fn(f->f_arg);
    future_running = outer;
    /* Release: publishes f_result to the waiter's acquire load of the word
     * (weft__wait_zero). The task still holds its reference, so the wake
     * below touches live memory. */
    uint32_t old = atomic_fetch_and_explicit(&f->f_pending, ~FUTURE_PENDING, memory_order_release);
    if (old & FUTURE_WAITER)
        weft__futex_wake(&f->f_pending, INT_MAX);
    future_unref(f);
    return 0; /* the result is the future's, not the pool's */
}

const void *weft__future_word(const struct weft__heap_task *ht)
{
    /* Called as the task is enqueued, before it can run: f is alive. */
    if (ht->ht_task.ti_fn != future_run)
        return NULL;
    return &((const struct weft_future *)ht->ht_task.ti_arg)->f_pending;
}

int weft_pool_async(weft_pool *p, weft_future **out, weft_task_fn fn, void *arg)
{
    if (p == NULL || out == NULL || fn == NULL)
        return EINVAL;
    struct weft_future *f = weft__malloc(sizeof(*f));
    if (f == NULL)
        return ENOMEM;
    atomic_init(&f->f_pending, FUTURE_PENDING);
    atomic_init(&f->f_refs, 2);
    f->f_result = 0;
    /* Relaxed: see weft_group_wait (group.c). */
    f->f_forks = atomic_load_explicit(&weft__forks, memory_order_relaxed);
    f->f_pool = p;
    f->f_fn = fn;
    f->f_arg = arg;
    struct weft__heap_task *ht;
    int rc = weft__heap_task_new(p, future_run, f, &ht);
    if (rc == 0)
        rc = weft__heap_task_enqueue(p, ht); /* publishes f with the task */
    if (rc != 0) {
        weft__free(f); /* nothing ran: the task never saw f */
        return rc;
    }
    *out = f;
    return 0;
}

int weft_future_wait(weft_future *f, int64_t timeout_ns, int *result)
{
    if (f == NULL || timeout_ns < WEFT_FOREVER)
        return EINVAL;
    if (f == future_running)
        return EPERM; /* from f's own task: it cannot finish while it waits */
    struct weft__timeout to;
    weft__timeout_start(&to, timeout_ns);
    /* Relaxed: as in group_wait. A child of fork() never runs a task that
     * had not finished in the parent. */
    bool inherited = f->f_forks != atomic_load_explicit(&weft__forks, memory_order_relaxed);
    int rc = weft__wait_zero(f->f_pool, &f->f_pending, FUTURE_PENDING, FUTURE_WAITER, NULL,
                             inherited ? &(struct weft__timeout){.to_ns = WEFT_NO_WAIT} : &to);
    if (rc != 0)
        return inherited ? EPIPE : rc;
    if (result != NULL)
        *result = f->f_result; /* ordered by weft__wait_zero's acquire */
    return 0;
}

void weft_future_release(weft_future *f)
{
    if (f != NULL)
        future_unref(f);
}
