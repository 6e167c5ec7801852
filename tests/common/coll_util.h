/* SPDX-License-Identifier: MIT */
/*
 * tests/common/coll_util.h - helpers for the blocking-collection tests.
 *
 * Header-only (static functions): a checked create, a comparator for
 * COLL_ITEM keys, a thread that runs one collection call and records its
 * result (and, for the any-variants, how often it woke up), a wait for "N
 * waiters registered" (the private hooks in runtime/collection/hooks.h),
 * and a monotonic clock. Threads are ordered by the hook and by joins,
 * never by sleeping.
 */
#ifndef WEFT_TESTS_COLL_UTIL_H
#define WEFT_TESTS_COLL_UTIL_H

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include <weft/collection.h>

#include "collection/hooks.h"

/* Items as small integers: NULL is item 0. */
#define COLL_ITEM(i) ((void *)(uintptr_t)(i))
#define COLL_VAL(p) ((uintptr_t)(p))

/* A collection of these options; fails the test if create does. */
static inline weft_collection *coll_make(size_t capacity, weft_order order,
                                         int (*compare)(const void *, const void *))
{
    weft_collection_options o = {.capacity = capacity, .order = order, .compare = compare};
    weft_collection *c = NULL;
    ck_assert_int_eq(weft_collection_create(&c, &o), 0);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* PRIORITY comparator for COLL_ITEM items: by value. */
static inline int coll_cmp_uintptr(const void *a, const void *b)
{
    uintptr_t x = COLL_VAL(a), y = COLL_VAL(b);
    return x < y ? -1 : x > y;
}

typedef enum {
    COLL_OP_ADD,          /* try_add(c, item, timeout) */
    COLL_OP_TAKE,         /* try_take(c, &item, timeout) */
    COLL_OP_JOIN,         /* try_join(c, timeout) */
    COLL_OP_TAKE_ANY,     /* take_from_any(cs, n, &item, &index, timeout) */
    COLL_OP_ADD_ANY       /* add_to_any(cs, n, item, &index, timeout) */
} coll_op_kind;

/* One call, run on its own thread by coll_op_start. */
typedef struct {
    coll_op_kind op_kind;
    weft_collection *op_c;
    weft_collection *const *op_cs;
    size_t op_n;
    void *op_item;      /* in for adds, out for takes */
    size_t op_index;    /* out for the any-variants */
    int64_t op_timeout;
    int op_result;
    uint64_t op_wakeups; /* any-variants: wake-ups from sleeps during the call */
    atomic_int op_done;  /* 1 once the call returned */
    pthread_t op_thread;
} coll_op;

static void *coll_op_main(void *arg)
{
    coll_op *o = arg;
    uint64_t w0 = weft__collection_any_wakeups();
    switch (o->op_kind) {
    case COLL_OP_ADD:
        o->op_result = weft_collection_try_add(o->op_c, o->op_item, o->op_timeout);
        break;
    case COLL_OP_TAKE:
        o->op_result = weft_collection_try_take(o->op_c, &o->op_item, o->op_timeout);
        break;
    case COLL_OP_JOIN:
        o->op_result = weft_collection_try_join(o->op_c, o->op_timeout);
        break;
    case COLL_OP_TAKE_ANY:
        o->op_result = weft_collection_take_from_any(o->op_cs, o->op_n, &o->op_item,
                                                     &o->op_index, o->op_timeout);
        break;
    case COLL_OP_ADD_ANY:
        o->op_result = weft_collection_add_to_any(o->op_cs, o->op_n, o->op_item, &o->op_index,
                                                  o->op_timeout);
        break;
    }
    o->op_wakeups = weft__collection_any_wakeups() - w0;
    /* release: the joiner reads op_result after seeing done (or after join). */
    atomic_store_explicit(&o->op_done, 1, memory_order_release);
    return NULL;
}

static inline void coll_op_start(coll_op *o, coll_op_kind kind, weft_collection *c, void *item,
                                 int64_t timeout)
{
    o->op_kind = kind;
    o->op_c = c;
    o->op_item = item;
    o->op_timeout = timeout;
    o->op_result = -1;
    o->op_wakeups = 0;
    o->op_index = (size_t)-1;
    atomic_init(&o->op_done, 0);
    ck_assert_int_eq(pthread_create(&o->op_thread, NULL, coll_op_main, o), 0);
}

static inline void coll_op_start_any(coll_op *o, coll_op_kind kind, weft_collection *const *cs,
                                     size_t n, void *item, int64_t timeout)
{
    o->op_cs = cs;
    o->op_n = n;
    coll_op_start(o, kind, NULL, item, timeout);
}

static inline int coll_op_join(coll_op *o)
{
    ck_assert_int_eq(pthread_join(o->op_thread, NULL), 0);
    return o->op_result;
}

static inline bool coll_op_returned(coll_op *o)
{
    /* acquire: pairs with the release store in coll_op_main. */
    return atomic_load_explicit(&o->op_done, memory_order_acquire) != 0;
}

/* Wait until at least n waiters are registered on c (blocked for sure: a
 * registered waiter cannot return before a state change of c). */
static inline void coll_wait_waiters(const weft_collection *c, size_t n)
{
    while (weft__collection_waiters(c) < n)
        sched_yield();
}

static inline int64_t coll_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


#endif /* WEFT_TESTS_COLL_UTIL_H */
