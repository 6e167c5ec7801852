/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_collection.c - single-threaded behaviour of the blocking
 * collection (include/weft/collection.h): arguments, return codes, orders,
 * the any-variants' routing, task_done/join counting, shutdown and drain,
 * allocation failure. Blocking and concurrency: test_collection_threads.c.
 */
#define _GNU_SOURCE /* pthread barriers, sched_yield under -std=c11 */
#include <check.h>
#include <pthread.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/collection.h>

#include "base/alloc.h"
#include "coll_util.h"
#include "check_main.h"

/* ---- every bad argument: EINVAL, nothing changes ---------------------- */

START_TEST(bad_arguments)
{
    weft_collection *c = NULL, *sentinel = (weft_collection *)&c;
    weft_collection_options prio_nocmp = {.order = WEFT_ORDER_PRIORITY};
    weft_collection_options bad_order = {.order = (weft_order)7};
    ck_assert_int_eq(weft_collection_create(NULL, NULL), EINVAL);
    c = sentinel;
    ck_assert_int_eq(weft_collection_create(&c, &prio_nocmp), EINVAL);
    ck_assert_int_eq(weft_collection_create(&c, &bad_order), EINVAL);
    ck_assert_ptr_eq(c, sentinel);

    c = coll_make(2, WEFT_ORDER_FIFO, NULL);
    void *it = COLL_ITEM(99);
    /* Calls that could otherwise succeed. */
    ck_assert_int_eq(weft_collection_try_add(NULL, it, 0), EINVAL);
    ck_assert_int_eq(weft_collection_add(NULL, it), EINVAL);
    ck_assert_int_eq(weft_collection_try_add(c, it, -2), EINVAL);
    ck_assert_int_eq(weft_collection_try_add(c, it, INT64_MIN), EINVAL);
    ck_assert_uint_eq(weft_collection_count(c), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_take(NULL, &it), EINVAL);
    ck_assert_int_eq(weft_collection_take(c, NULL), EINVAL);
    ck_assert_int_eq(weft_collection_try_take(c, NULL, 0), EINVAL);
    ck_assert_int_eq(weft_collection_try_take(c, &it, -2), EINVAL);
    ck_assert_ptr_eq(it, COLL_ITEM(99)); /* *item not written */
    ck_assert_uint_eq(weft_collection_count(c), 1);

    weft_collection *d = coll_make(0, WEFT_ORDER_FIFO, NULL);
    weft_collection *cs[3] = {c, NULL, d};
    size_t idx = 77;
    ck_assert_int_eq(weft_collection_take_from_any(NULL, 1, &it, &idx, 0), EINVAL);
    ck_assert_int_eq(weft_collection_take_from_any(cs, 0, &it, &idx, 0), EINVAL);
    ck_assert_int_eq(weft_collection_take_from_any(cs, 1, NULL, &idx, 0), EINVAL);
    ck_assert_int_eq(weft_collection_take_from_any(cs, 1, &it, &idx, -5), EINVAL);
    ck_assert_int_eq(weft_collection_take_from_any(cs, 3, &it, &idx, 0), EINVAL);
    ck_assert_int_eq(weft_collection_add_to_any(NULL, 1, it, &idx, 0), EINVAL);
    ck_assert_int_eq(weft_collection_add_to_any(cs, 0, it, &idx, 0), EINVAL);
    ck_assert_int_eq(weft_collection_add_to_any(cs, 1, it, &idx, -5), EINVAL);
    ck_assert_int_eq(weft_collection_add_to_any(cs, 3, it, &idx, 0), EINVAL);
    ck_assert_uint_eq(idx, 77);
    ck_assert_ptr_eq(it, COLL_ITEM(99));
    ck_assert_uint_eq(weft_collection_count(c), 1);
    ck_assert_uint_eq(weft_collection_count(d), 0);

    void *out[2];
    ck_assert_uint_eq(weft_collection_drain(NULL, out, 2), 0);
    ck_assert_uint_eq(weft_collection_drain(c, NULL, 2), 0);
    ck_assert_uint_eq(weft_collection_drain(c, out, 0), 0);
    ck_assert_uint_eq(weft_collection_count(c), 1);

    ck_assert_int_eq(weft_collection_task_done(NULL), EINVAL);
    ck_assert_int_eq(weft_collection_join(NULL), EINVAL);
    ck_assert_int_eq(weft_collection_try_join(NULL, 0), EINVAL);
    ck_assert_int_eq(weft_collection_try_join(c, -2), EINVAL);

    /* NULL is ignored or reads as empty. */
    weft_collection_complete_adding(NULL);
    weft_collection_shutdown(NULL);
    weft_collection_destroy(NULL);
    ck_assert_uint_eq(weft_collection_count(NULL), 0);
    ck_assert_uint_eq(weft_collection_capacity(NULL), 0);
    ck_assert(!weft_collection_is_adding_completed(NULL));
    ck_assert(!weft_collection_is_completed(NULL));
    ck_assert(!weft_collection_is_adding_completed(c));
    weft_collection_destroy(c);
    weft_collection_destroy(d);
}
END_TEST

/* ---- return codes without blocking ------------------------------------ */

START_TEST(codes_eagain_etimedout)
{
    weft_collection *c = coll_make(1, WEFT_ORDER_FIFO, NULL);
    void *it = COLL_ITEM(5);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), EAGAIN);
    /* Any positive timeout is a timeout, even 1 ns. */
    ck_assert_int_eq(weft_collection_try_take(c, &it, 1), ETIMEDOUT);
    int64_t t0 = coll_now_ns();
    ck_assert_int_eq(weft_collection_try_take(c, &it, 2000000), ETIMEDOUT);
    ck_assert_int_ge(coll_now_ns() - t0, 2000000);
    ck_assert_ptr_eq(it, COLL_ITEM(5));
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(1), WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(2), WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(2), 1), ETIMEDOUT);
    t0 = coll_now_ns();
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(2), 2000000), ETIMEDOUT);
    ck_assert_int_ge(coll_now_ns() - t0, 2000000);
    ck_assert_uint_eq(weft_collection_count(c), 1);
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_try_join(c, 1), ETIMEDOUT);
    weft_collection_destroy(c);
}
END_TEST

START_TEST(codes_epipe)
{
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    void *it = NULL;
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(2)), 0);
    weft_collection_complete_adding(c);
    weft_collection_complete_adding(c); /* idempotent */
    ck_assert(weft_collection_is_adding_completed(c));
    ck_assert(!weft_collection_is_completed(c));
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(3)), EPIPE);
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(3), WEFT_NO_WAIT), EPIPE);
    ck_assert_uint_eq(weft_collection_count(c), 2);
    /* Items still come out, then EPIPE at once whatever the timeout. */
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(1));
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(2));
    ck_assert(weft_collection_is_completed(c));
    ck_assert_int_eq(weft_collection_take(c, &it), EPIPE);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_FOREVER), EPIPE);
    ck_assert_int_eq(weft_collection_try_take(c, &it, INT64_MAX), EPIPE);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), EPIPE);
    ck_assert_int_eq(weft_collection_try_take(c, &it, 1), EPIPE);
    ck_assert_ptr_eq(it, COLL_ITEM(2));
    weft_collection_destroy(c);
}
END_TEST

START_TEST(codes_ecanceled)
{
    /* Empty: ECANCELED beats EPIPE. */
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    weft_collection *cs[1] = {c};
    void *it = NULL;
    weft_collection_shutdown(c);
    ck_assert(weft_collection_is_adding_completed(c));
    ck_assert(weft_collection_is_completed(c));
    ck_assert_int_eq(weft_collection_add(c, it), ECANCELED);
    ck_assert_int_eq(weft_collection_try_add(c, it, WEFT_NO_WAIT), ECANCELED);
    ck_assert_int_eq(weft_collection_take(c, &it), ECANCELED);
    ck_assert_int_eq(weft_collection_try_take(c, &it, 1), ECANCELED);
    ck_assert_int_eq(weft_collection_take_from_any(cs, 1, &it, NULL, WEFT_FOREVER), ECANCELED);
    ck_assert_int_eq(weft_collection_add_to_any(cs, 1, it, NULL, WEFT_FOREVER), ECANCELED);
    /* Shutdown does not make join fail. */
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0);
    weft_collection_destroy(c);

    /* Non-empty: still ECANCELED; complete_adding after shutdown and a
     * second shutdown change nothing; the items come back with drain. */
    c = coll_make(4, WEFT_ORDER_FIFO, NULL);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(2)), 0);
    weft_collection_shutdown(c);
    weft_collection_complete_adding(c);
    weft_collection_shutdown(c);
    ck_assert(!weft_collection_is_completed(c));
    ck_assert_int_eq(weft_collection_take(c, &it), ECANCELED);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), ECANCELED);
    ck_assert_uint_eq(weft_collection_count(c), 2);
    void *out[4];
    ck_assert_uint_eq(weft_collection_drain(c, out, 4), 2);
    ck_assert_ptr_eq(out[0], COLL_ITEM(1));
    ck_assert_ptr_eq(out[1], COLL_ITEM(2));
    ck_assert(weft_collection_is_completed(c));
    ck_assert_int_eq(weft_collection_take(c, &it), ECANCELED);
    weft_collection_destroy(c);
}
END_TEST

START_TEST(null_item_and_snapshots)
{
    weft_collection *c = NULL;
    ck_assert_int_eq(weft_collection_create(&c, NULL), 0); /* unbounded FIFO */
    ck_assert_uint_eq(weft_collection_capacity(c), 0);
    void *it = COLL_ITEM(1);
    ck_assert_int_eq(weft_collection_add(c, NULL), 0);
    ck_assert_uint_eq(weft_collection_count(c), 1);
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_ptr_null(it);
    ck_assert_uint_eq(weft_collection_count(c), 0);
    weft_collection_destroy(c);
    c = coll_make(3, WEFT_ORDER_LIFO, NULL);
    ck_assert_uint_eq(weft_collection_capacity(c), 3);
    weft_collection_destroy(c);
}
END_TEST

/* ---- orders ------------------------------------------------------------ */

START_TEST(order_fifo_lifo)
{
    /* Many items so that the ring wraps and grows. */
    enum { N = 1000 };
    weft_collection *f = coll_make(0, WEFT_ORDER_FIFO, NULL);
    weft_collection *l = coll_make(0, WEFT_ORDER_LIFO, NULL);
    void *it;
    for (int round = 0; round < 3; round++) {
        for (uintptr_t i = 0; i < N; i++) {
            ck_assert_int_eq(weft_collection_add(f, COLL_ITEM(i)), 0);
            ck_assert_int_eq(weft_collection_add(l, COLL_ITEM(i)), 0);
            if (i % 3 == 2) { /* interleave takes so that head moves */
                ck_assert_int_eq(weft_collection_take(l, &it), 0);
                ck_assert_ptr_eq(it, COLL_ITEM(i));
                ck_assert_int_eq(weft_collection_add(l, COLL_ITEM(i)), 0);
            }
        }
        for (uintptr_t i = 0; i < N; i++) {
            ck_assert_int_eq(weft_collection_take(f, &it), 0);
            ck_assert_ptr_eq(it, COLL_ITEM(i));
            ck_assert_int_eq(weft_collection_take(l, &it), 0);
            ck_assert_ptr_eq(it, COLL_ITEM(N - 1 - i));
        }
    }
    weft_collection_destroy(f);
    weft_collection_destroy(l);
}
END_TEST

/* PRIORITY items: a key and an id; compare fails the test if it is ever
 * given an item that was already taken. */
typedef struct {
    int p_key;
    int p_id;
    int p_taken;
} prio_item;

static int cmp_prio(const void *a, const void *b)
{
    const prio_item *x = a, *y = b;
    ck_assert(!x->p_taken && !y->p_taken);
    return (x->p_key > y->p_key) - (x->p_key < y->p_key);
}

START_TEST(order_priority_stable)
{
    enum { N = 2000 };
    prio_item *items = calloc(N, sizeof *items);
    ck_assert_ptr_nonnull(items);
    weft_collection *c = coll_make(0, WEFT_ORDER_PRIORITY, cmp_prio);
    /* Few distinct keys, so many ties; keys out of order. */
    for (int i = 0; i < N; i++) {
        items[i].p_key = (i * 7) % 5;
        items[i].p_id = i;
        ck_assert_int_eq(weft_collection_add(c, &items[i]), 0);
    }
    int last_key = -1, last_id = -1;
    void *out[N / 2];
    void *it;
    for (int i = 0; i < N; i++) {
        prio_item *p;
        if (i < N / 2) {
            ck_assert_int_eq(weft_collection_take(c, &it), 0);
            p = it;
        } else {
            if (i == N / 2)
                ck_assert_uint_eq(weft_collection_drain(c, out, N / 2), N / 2);
            p = out[i - N / 2]; /* drain yields take order */
        }
        ck_assert(!p->p_taken);
        p->p_taken = 1;
        ck_assert_int_ge(p->p_key, last_key);
        if (p->p_key == last_key)
            ck_assert_int_gt(p->p_id, last_id); /* ties: insertion order */
        last_key = p->p_key;
        last_id = p->p_id;
    }
    /* Bounded PRIORITY interleaved adds and takes, with plain keys. */
    weft_collection *b = coll_make(3, WEFT_ORDER_PRIORITY, coll_cmp_uintptr);
    ck_assert_int_eq(weft_collection_add(b, COLL_ITEM(5)), 0);
    ck_assert_int_eq(weft_collection_add(b, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_add(b, COLL_ITEM(3)), 0);
    ck_assert_int_eq(weft_collection_try_add(b, COLL_ITEM(0), WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_take(b, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(1));
    ck_assert_int_eq(weft_collection_add(b, COLL_ITEM(0)), 0);
    ck_assert_int_eq(weft_collection_take(b, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(0));
    ck_assert_int_eq(weft_collection_take(b, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(3));
    ck_assert_int_eq(weft_collection_take(b, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(5));
    weft_collection_destroy(b);
    weft_collection_destroy(c);
    free(items);
}
END_TEST

/* ---- any-variants: routing without blocking --------------------------- */

START_TEST(any_routing)
{
    enum { M = 100 }; /* no cap on n */
    weft_collection *cs[M];
    for (int i = 0; i < M; i++)
        cs[i] = coll_make(1, WEFT_ORDER_FIFO, NULL);
    size_t idx = 999;
    void *it = NULL;
    ck_assert_int_eq(weft_collection_take_from_any(cs, M, &it, &idx, WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_take_from_any(cs, M, &it, &idx, 1), ETIMEDOUT);
    ck_assert_uint_eq(idx, 999);
    /* add_to_any fills the lowest index with room. */
    for (size_t i = 0; i < M; i++) {
        ck_assert_int_eq(weft_collection_add_to_any(cs, M, COLL_ITEM(i + 1), &idx, 0), 0);
        ck_assert_uint_eq(idx, i);
    }
    ck_assert_int_eq(weft_collection_add_to_any(cs, M, NULL, &idx, WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_add_to_any(cs, M, NULL, NULL, 1), ETIMEDOUT);
    /* take_from_any prefers the lowest index that has an item. */
    ck_assert_int_eq(weft_collection_take(cs[0], &it), 0);
    ck_assert_int_eq(weft_collection_take(cs[1], &it), 0);
    ck_assert_int_eq(weft_collection_take_from_any(cs, M, &it, &idx, 0), 0);
    ck_assert_uint_eq(idx, 2);
    ck_assert_ptr_eq(it, COLL_ITEM(3));
    ck_assert_int_eq(weft_collection_take_from_any(cs, M, &it, NULL, 0), 0); /* NULL index */
    ck_assert_ptr_eq(it, COLL_ITEM(4));
    ck_assert_uint_eq(weft_collection_count(cs[3]), 0);
    ck_assert_uint_eq(weft_collection_count(cs[4]), 1);
    /* add_to_any: NULL index; lowest with room is 0. */
    ck_assert_int_eq(weft_collection_add_to_any(cs, M, COLL_ITEM(50), NULL, 0), 0);
    ck_assert_uint_eq(weft_collection_count(cs[0]), 1);
    /* Adding-completed members are skipped by add_to_any (1 is empty). */
    weft_collection_complete_adding(cs[1]);
    ck_assert_int_eq(weft_collection_add_to_any(cs, M, COLL_ITEM(51), &idx, 0), 0);
    ck_assert_uint_eq(idx, 2);
    /* Completed members are skipped by take_from_any; EPIPE only when all are. */
    weft_collection *two[3] = {cs[1], cs[1], cs[3]}; /* a duplicate */
    ck_assert_int_eq(weft_collection_take_from_any(two, 3, &it, &idx, 0), EAGAIN);
    ck_assert_int_eq(weft_collection_add(cs[3], COLL_ITEM(77)), 0);
    ck_assert_int_eq(weft_collection_take_from_any(two, 3, &it, &idx, WEFT_FOREVER), 0);
    ck_assert_uint_eq(idx, 2);
    ck_assert_ptr_eq(it, COLL_ITEM(77));
    weft_collection_complete_adding(cs[3]);
    ck_assert_int_eq(weft_collection_take_from_any(two, 3, &it, &idx, WEFT_FOREVER), EPIPE);
    ck_assert_int_eq(weft_collection_add_to_any(two, 3, it, &idx, WEFT_FOREVER), EPIPE);
    /* A shut-down member met in the scan gives ECANCELED. */
    weft_collection_shutdown(cs[1]);
    ck_assert_int_eq(weft_collection_take_from_any(two, 3, &it, &idx, WEFT_FOREVER), ECANCELED);
    ck_assert_int_eq(weft_collection_add_to_any(two, 3, it, &idx, WEFT_FOREVER), ECANCELED);
    /* Same collection twice: one item, taken once. */
    weft_collection *dup[2] = {cs[5], cs[5]};
    ck_assert_int_eq(weft_collection_take_from_any(dup, 2, &it, &idx, 0), 0);
    ck_assert_uint_eq(idx, 0);
    ck_assert_int_eq(weft_collection_take_from_any(dup, 2, &it, &idx, 0), EAGAIN);
    for (int i = 0; i < M; i++)
        weft_collection_destroy(cs[i]);
}
END_TEST

/* ---- task_done / join counting ----------------------------------------- */

START_TEST(task_done_join_counting)
{
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    void *it;
    ck_assert_int_eq(weft_collection_join(c), 0); /* idle: at once */
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL); /* underflow */
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(2)), 0);
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(3), -7), EINVAL); /* no raise */
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), EAGAIN);
    void *out[1];
    ck_assert_uint_eq(weft_collection_drain(c, out, 1), 1); /* still needs task_done */
    ck_assert_int_eq(weft_collection_try_join(c, 1), ETIMEDOUT);
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL);
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0); /* unchanged */
    weft_collection_destroy(c);
}
END_TEST

START_TEST(shutdown_items_inside_and_taken)
{
    weft_collection *c = coll_make(8, WEFT_ORDER_LIFO, NULL);
    void *it;
    for (uintptr_t i = 1; i <= 5; i++)
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
    ck_assert_int_eq(weft_collection_take(c, &it), 0); /* 5 */
    ck_assert_int_eq(weft_collection_take(c, &it), 0); /* 4 */
    weft_collection_shutdown(c);
    /* The 3 inside were dropped from the count; 2 taken are not done. */
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    ck_assert_int_eq(weft_collection_try_join(c, 1), ETIMEDOUT);
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    ck_assert_int_eq(weft_collection_join(c), 0);
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL);
    void *out[8];
    ck_assert_uint_eq(weft_collection_drain(c, out, 2), 2); /* take order: LIFO */
    ck_assert_ptr_eq(out[0], COLL_ITEM(3));
    ck_assert_ptr_eq(out[1], COLL_ITEM(2));
    ck_assert_uint_eq(weft_collection_drain(c, out, 8), 1);
    ck_assert_ptr_eq(out[0], COLL_ITEM(1));
    ck_assert_uint_eq(weft_collection_drain(c, out, 8), 0);
    ck_assert_int_eq(weft_collection_add(c, NULL), ECANCELED);
    weft_collection_destroy(c);
}
END_TEST

START_TEST(drain_before_close)
{
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    void *out[10];
    ck_assert_uint_eq(weft_collection_drain(c, out, 10), 0);
    for (uintptr_t i = 0; i < 6; i++)
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
    ck_assert_uint_eq(weft_collection_drain(c, out, 4), 4);
    for (uintptr_t i = 0; i < 4; i++)
        ck_assert_ptr_eq(out[i], COLL_ITEM(i));
    weft_collection_complete_adding(c);
    ck_assert_uint_eq(weft_collection_drain(c, out, 10), 2);
    ck_assert(weft_collection_is_completed(c));
    void *it;
    ck_assert_int_eq(weft_collection_take(c, &it), EPIPE);
    weft_collection_destroy(c);
}
END_TEST

/* ---- producer counting ------------------------------------------------------ */

START_TEST(producer_counting)
{
    ck_assert_int_eq(weft_collection_add_producer(NULL), EINVAL);
    ck_assert_int_eq(weft_collection_producer_done(NULL), EINVAL);
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    void *it;
    /* done without a producer: EINVAL, nothing changes. */
    ck_assert_int_eq(weft_collection_producer_done(c), EINVAL);
    ck_assert(!weft_collection_is_adding_completed(c));
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_producer_done(c), 0);
    ck_assert(!weft_collection_is_adding_completed(c)); /* one left */
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(2)), 0); /* adds need no registration */
    ck_assert_int_eq(weft_collection_add_producer(c), 0);     /* back to two */
    ck_assert_int_eq(weft_collection_producer_done(c), 0);
    ck_assert_int_eq(weft_collection_producer_done(c), 0);    /* zero: completes */
    ck_assert(weft_collection_is_adding_completed(c));
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(3)), EPIPE);
    ck_assert_int_eq(weft_collection_add_producer(c), EPIPE); /* too late: not counted */
    ck_assert_int_eq(weft_collection_producer_done(c), EINVAL);
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_int_eq(weft_collection_take(c, &it), EPIPE);
    weft_collection_destroy(c);

    /* complete_adding first: the producers still count down, without error. */
    c = coll_make(2, WEFT_ORDER_LIFO, NULL);
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    weft_collection_complete_adding(c);
    ck_assert_int_eq(weft_collection_producer_done(c), 0);
    ck_assert_int_eq(weft_collection_producer_done(c), 0);
    ck_assert_int_eq(weft_collection_producer_done(c), EINVAL);
    ck_assert(weft_collection_is_completed(c));
    weft_collection_destroy(c);

    /* After shutdown: ECANCELED, not counted. */
    c = coll_make(0, WEFT_ORDER_PRIORITY, coll_cmp_uintptr);
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    weft_collection_shutdown(c);
    ck_assert_int_eq(weft_collection_add_producer(c), ECANCELED);
    ck_assert_int_eq(weft_collection_producer_done(c), 0);
    ck_assert_int_eq(weft_collection_producer_done(c), EINVAL);
    weft_collection_destroy(c);
}
END_TEST

/* ---- closing with an error ------------------------------------------------- */

START_TEST(complete_adding_error_codes)
{
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    void *it = COLL_ITEM(77);
    /* Refused: NULL, not positive, one of the take forms' own codes. */
    ck_assert_int_eq(weft_collection_complete_adding_error(NULL, EIO), EINVAL);
    const int refused[] = {0, -1, -EIO, EINVAL, ENOMEM, EAGAIN, ETIMEDOUT, ECANCELED};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        ck_assert_int_eq(weft_collection_complete_adding_error(c, refused[i]), EINVAL);
    ck_assert(!weft_collection_is_adding_completed(c)); /* nothing changed */

    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(2)), 0);
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EIO), 0);
    ck_assert(weft_collection_is_adding_completed(c));
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(3)), EPIPE); /* adders: EPIPE */
    ck_assert_int_eq(weft_collection_take(c, &it), 0); /* the items come first */
    ck_assert_ptr_eq(it, COLL_ITEM(1));
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(2));
    it = COLL_ITEM(77);
    ck_assert_int_eq(weft_collection_take(c, &it), EIO);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), EIO);
    ck_assert_int_eq(weft_collection_try_take(c, &it, 1000000), EIO);
    ck_assert_ptr_eq(it, COLL_ITEM(77)); /* not written */
    ck_assert(weft_collection_is_completed(c));
    /* The first close wins. */
    ck_assert_int_eq(weft_collection_complete_adding_error(c, ENOSPC), EPIPE);
    weft_collection_complete_adding(c);
    ck_assert_int_eq(weft_collection_take(c, &it), EIO);
    /* Shutdown beats the error, as it beats EPIPE. */
    weft_collection_shutdown(c);
    ck_assert_int_eq(weft_collection_take(c, &it), ECANCELED);
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EIO), ECANCELED);
    weft_collection_destroy(c);

    /* complete_adding first: the error is refused, takes say EPIPE. */
    c = coll_make(0, WEFT_ORDER_LIFO, NULL);
    weft_collection_complete_adding(c);
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EIO), EPIPE);
    ck_assert_int_eq(weft_collection_take(c, &it), EPIPE);
    weft_collection_destroy(c);
    /* The last producer_done closes without an error. */
    c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    ck_assert_int_eq(weft_collection_producer_done(c), 0);
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EIO), EPIPE);
    ck_assert_int_eq(weft_collection_take(c, &it), EPIPE);
    weft_collection_destroy(c);
    /* err == EPIPE is a plain close. */
    c = coll_make(4, WEFT_ORDER_PRIORITY, coll_cmp_uintptr);
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EPIPE), 0);
    ck_assert_int_eq(weft_collection_take(c, &it), EPIPE);
    weft_collection_destroy(c);

    /* take_from_any: the err of the first member (by index) closed with one;
     * EPIPE if none was; add_to_any: EPIPE. */
    weft_collection *m[3] = {coll_make(0, WEFT_ORDER_FIFO, NULL),
                             coll_make(0, WEFT_ORDER_LIFO, NULL),
                             coll_make(0, WEFT_ORDER_PRIORITY, coll_cmp_uintptr)};
    size_t idx = 99;
    weft_collection_complete_adding(m[0]);
    ck_assert_int_eq(weft_collection_complete_adding_error(m[1], EIO), 0);
    ck_assert_int_eq(weft_collection_take_from_any(m, 2, &it, &idx, WEFT_NO_WAIT), EIO);
    ck_assert_int_eq(weft_collection_take_from_any(m, 1, &it, &idx, WEFT_NO_WAIT), EPIPE);
    ck_assert_int_eq(weft_collection_take_from_any(m, 3, &it, &idx, WEFT_NO_WAIT), EAGAIN);
    ck_assert_int_eq(weft_collection_complete_adding_error(m[2], ENOSPC), 0);
    ck_assert_int_eq(weft_collection_take_from_any(m, 3, &it, &idx, WEFT_FOREVER), EIO);
    weft_collection *rev[3] = {m[2], m[1], m[0]};
    ck_assert_int_eq(weft_collection_take_from_any(rev, 3, &it, &idx, WEFT_FOREVER), ENOSPC);
    ck_assert_int_eq(weft_collection_add_to_any(m, 3, NULL, &idx, WEFT_FOREVER), EPIPE);
    ck_assert_uint_eq(idx, 99);
    for (int i = 0; i < 3; i++)
        weft_collection_destroy(m[i]);
}
END_TEST

/* ---- statistics ------------------------------------------------------------ */

static struct weft_collection_stats stats_of(weft_collection *c)
{
    struct weft_collection_stats s;
    ck_assert_int_eq(weft_collection_stats(c, &s), 0);
    return s;
}

START_TEST(stats_counts)
{
    struct weft_collection_stats s;
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    ck_assert_int_eq(weft_collection_stats(NULL, &s), EINVAL);
    ck_assert_int_eq(weft_collection_stats(c, NULL), EINVAL);
    s = stats_of(c);
    ck_assert_uint_eq(s.added + s.taken + s.drained + s.max_count, 0);
    ck_assert_uint_eq(s.add_waits + s.take_waits + s.join_waits, 0);

    void *it, *out[4];
    size_t idx;
    weft_collection *cs[1] = {c};
    for (uintptr_t i = 0; i < 5; i++)
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), 0);
    ck_assert_uint_eq(weft_collection_drain(c, out, 2), 2);
    ck_assert_int_eq(weft_collection_add_to_any(cs, 1, NULL, &idx, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_take_from_any(cs, 1, &it, &idx, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), EAGAIN); /* no wait */
    s = stats_of(c);
    ck_assert_uint_eq(s.added, 6);
    ck_assert_uint_eq(s.taken, 4);
    ck_assert_uint_eq(s.drained, 2);
    ck_assert_uint_eq(s.max_count, 5);
    ck_assert_uint_eq(s.add_waits + s.take_waits + s.join_waits, 0);
    ck_assert_uint_eq(s.add_wait_ns + s.take_wait_ns + s.join_wait_ns, 0);
    weft_collection_destroy(c);

    /* The high-water mark: an add, a take, many times (count never above
     * 1), then a burst of 100 (the ring grows past its first 64 slots). */
    weft_order orders[3] = {WEFT_ORDER_FIFO, WEFT_ORDER_LIFO, WEFT_ORDER_PRIORITY};
    for (int o = 0; o < 3; o++) {
        c = coll_make(0, orders[o], coll_cmp_uintptr);
        for (uintptr_t i = 0; i < 1000; i++) {
            ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
            ck_assert_int_eq(weft_collection_take(c, &it), 0);
        }
        ck_assert_uint_eq(stats_of(c).max_count, 1);
        for (uintptr_t i = 0; i < 100; i++)
            ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
        ck_assert_uint_eq(stats_of(c).max_count, 100);
        while (weft_collection_try_take(c, &it, WEFT_NO_WAIT) == 0)
            ;
        s = stats_of(c);
        ck_assert_uint_eq(s.max_count, 100);
        ck_assert_uint_eq(s.added, 1100);
        ck_assert_uint_eq(s.taken, 1100);
        weft_collection_destroy(c);
    }
    /* Bounded: full is the maximum. */
    c = coll_make(3, WEFT_ORDER_FIFO, NULL);
    for (int r = 0; r < 10; r++) {
        while (weft_collection_try_add(c, NULL, WEFT_NO_WAIT) == 0)
            ;
        ck_assert_int_eq(weft_collection_take(c, &it), 0);
        ck_assert_int_eq(weft_collection_take(c, &it), 0);
    }
    ck_assert_uint_eq(stats_of(c).max_count, 3);
    weft_collection_destroy(c);
}
END_TEST

/* A wait is a sleep: a timed call that runs out has slept (once or more),
 * and the time asleep is counted; take_from_any counts at each member. */
START_TEST(stats_waits)
{
    void *it;
    weft_collection *c = coll_make(1, WEFT_ORDER_FIFO, NULL);
    weft_collection *d = coll_make(0, WEFT_ORDER_LIFO, NULL);
    int64_t t0 = coll_now_ns();
    ck_assert_int_eq(weft_collection_try_take(c, &it, 2000000), ETIMEDOUT);
    int64_t dt = coll_now_ns() - t0;
    struct weft_collection_stats s = stats_of(c);
    ck_assert_uint_ge(s.take_waits, 1);
    ck_assert_uint_gt(s.take_wait_ns, 0);
    ck_assert_uint_le(s.take_wait_ns, (uint64_t)dt);
    ck_assert_uint_eq(s.add_waits + s.join_waits, 0);

    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_try_add(c, COLL_ITEM(2), 1000000), ETIMEDOUT);
    ck_assert_int_eq(weft_collection_try_join(c, 1000000), ETIMEDOUT);
    s = stats_of(c);
    ck_assert_uint_ge(s.add_waits, 1);
    ck_assert_uint_gt(s.add_wait_ns, 0);
    ck_assert_uint_ge(s.join_waits, 1);
    ck_assert_uint_gt(s.join_wait_ns, 0);

    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    uint64_t before = stats_of(c).take_waits;
    weft_collection *cs[2] = {c, d};
    ck_assert_int_eq(weft_collection_take_from_any(cs, 2, &it, NULL, 1000000), ETIMEDOUT);
    ck_assert_uint_gt(stats_of(c).take_waits, before);
    ck_assert_uint_ge(stats_of(d).take_waits, 1);
    ck_assert_uint_gt(stats_of(d).take_wait_ns, 0);
    ck_assert_uint_eq(stats_of(d).add_waits, 0);
    weft_collection_destroy(c);
    weft_collection_destroy(d);
}
END_TEST

/* ---- destroy releases the items left inside ------------------------------ */

typedef struct {
    uintptr_t rl_seen[300]; /* the values released, in order */
    size_t rl_n;
} release_log;

/* Items are malloc'ed boxes holding a value: release records it and frees
 * the box, so an item destroy forgets is also a leak (ASan). */
static void release_box(void *item, void *arg)
{
    release_log *log = arg;
    ck_assert_uint_lt(log->rl_n, 300);
    log->rl_seen[log->rl_n++] = *(uintptr_t *)item;
    free(item);
}

static void *box(uintptr_t v)
{
    uintptr_t *p = malloc(sizeof *p);
    ck_assert_ptr_nonnull(p);
    *p = v;
    return p;
}

static int cmp_box(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* Regression: destroy used to drop the items still inside, so a caller that
 * did not drain first leaked whatever they owned. With the release option
 * it hands each of them back, in take order (more than one batch of 64). */
START_TEST(destroy_releases_items_left)
{
    enum { N = 200, TAKEN = 3 };
    weft_order orders[3] = {WEFT_ORDER_FIFO, WEFT_ORDER_LIFO, WEFT_ORDER_PRIORITY};
    for (int o = 0; o < 3; o++) {
        for (int shut = 0; shut < 2; shut++) {
            release_log log = {.rl_n = 0};
            weft_collection_options opts = {.order = orders[o],
                                            .compare = cmp_box,
                                            .release = release_box,
                                            .release_arg = &log};
            weft_collection *c = NULL;
            ck_assert_int_eq(weft_collection_create(&c, &opts), 0);
            /* Values in a scrambled order, so PRIORITY's take order differs
             * from the insertion order. */
            for (uintptr_t i = 0; i < N; i++)
                ck_assert_int_eq(weft_collection_add(c, box((i * 7919) % N)), 0);
            void *it;
            for (int k = 0; k < TAKEN; k++) {
                ck_assert_int_eq(weft_collection_take(c, &it), 0);
                free(it); /* taken items are the caller's */
            }
            if (shut)
                weft_collection_shutdown(c); /* items inside stay releasable */
            weft_collection_destroy(c);
            ck_assert_uint_eq(log.rl_n, N - TAKEN);
            for (size_t k = 0; k < log.rl_n; k++) {
                size_t pos = k + TAKEN; /* position in take order */
                uintptr_t want = orders[o] == WEFT_ORDER_FIFO   ? (pos * 7919) % N
                                 : orders[o] == WEFT_ORDER_LIFO ? ((N - 1 - pos) * 7919) % N
                                                                : pos;
                ck_assert_uint_eq(log.rl_seen[k], want);
            }
        }
    }
    /* No release option (the zero value): nothing is called; an empty
     * collection with one calls nothing either. */
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    weft_collection_destroy(c);
    release_log log = {.rl_n = 0};
    weft_collection_options opts = {.release = release_box, .release_arg = &log};
    ck_assert_int_eq(weft_collection_create(&c, &opts), 0);
    weft_collection_destroy(c);
    ck_assert_uint_eq(log.rl_n, 0);
    weft_collection_destroy(NULL);
}
END_TEST

/* ---- allocation failure ------------------------------------------------ */

START_TEST(alloc_fail_create)
{
    weft_order orders[2] = {WEFT_ORDER_FIFO, WEFT_ORDER_PRIORITY};
    for (int o = 0; o < 2; o++) {
        weft_collection_options opts = {.order = orders[o], .compare = coll_cmp_uintptr};
        weft_collection *c = NULL;
        weft__alloc_fail_at(0);
        ck_assert_int_eq(weft_collection_create(&c, &opts), 0);
        long n = weft__alloc_fail_at(0);
        ck_assert_int_ge(n, 1);
        weft_collection_destroy(c);
        for (long k = 1; k <= n; k++) {
            weft_collection *sentinel = (weft_collection *)&c;
            c = sentinel;
            weft__alloc_fail_at(k);
            ck_assert_int_eq(weft_collection_create(&c, &opts), ENOMEM);
            ck_assert_ptr_eq(c, sentinel);
        }
        weft__alloc_fail_at(0);
    }
}
END_TEST

/* Growth of an unbounded collection fails: ENOMEM, nothing lost, the
 * unfinished count is not raised, and a later add grows it after all. */
static void grow_fail(weft_order order, bool any)
{
    weft_collection *c = coll_make(0, order, coll_cmp_uintptr);
    uintptr_t i = 0, added = 0;
    void *it;
    for (;;) {
        weft__alloc_fail_at(1);
        int r = any ? weft_collection_add_to_any(&c, 1, COLL_ITEM(i), NULL, 0)
                    : weft_collection_add(c, COLL_ITEM(i));
        if (r == ENOMEM)
            break;
        ck_assert_int_eq(r, 0);
        added = ++i;
        ck_assert_uint_lt(added, 100000);
    }
    weft__alloc_fail_at(0);
    ck_assert_uint_eq(weft_collection_count(c), added);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
    added++;
    for (uintptr_t k = 0; k < added; k++) {
        ck_assert_int_eq(weft_collection_take(c, &it), 0);
        ck_assert_ptr_eq(it, COLL_ITEM(k)); /* FIFO and PRIORITY agree here */
        ck_assert_int_eq(weft_collection_task_done(c), 0);
    }
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL); /* ENOMEM add not counted */
    weft_collection_destroy(c);
}

START_TEST(alloc_fail_growth)
{
    grow_fail(WEFT_ORDER_FIFO, false);
    grow_fail(WEFT_ORDER_PRIORITY, false);
    grow_fail(WEFT_ORDER_FIFO, true);
}
END_TEST

/* take_from_any and add_to_any with more than 16 members keep their links
 * in this thread's table, grown when a call needs more and then kept: if
 * it cannot grow, ENOMEM and nothing changed (no link left on a member);
 * once grown, calls of that size allocate nothing. On a fresh thread, whose
 * table is empty (earlier tests may have grown this one's). */
enum { ALF_N = 40, ALF_STEPS = 6 };

typedef struct {
    weft_collection **af_cs; /* 2 * ALF_N members, capacity 1 */
    int af_r[ALF_STEPS];     /* each step's result */
    long af_allocs;          /* allocations of the step that needed none */
    size_t af_waiters;       /* links left after the failed calls */
} alf_run;

static size_t alf_waiters(weft_collection **cs, int n)
{
    size_t w = 0;
    for (int i = 0; i < n; i++)
        w += weft__collection_waiters(cs[i]);
    return w;
}

static void *alf_main(void *arg)
{
    alf_run *a = arg;
    weft_collection **cs = a->af_cs;
    void *it = COLL_ITEM(5);
    weft__alloc_fail_at(1);
    a->af_r[0] = weft_collection_take_from_any(cs, ALF_N, &it, NULL, 1000);
    a->af_waiters = alf_waiters(cs, ALF_N);
    weft__alloc_fail_at(0);
    a->af_r[1] = weft_collection_take_from_any(cs, ALF_N, &it, NULL, 1000);
    weft__alloc_fail_at(1);
    a->af_r[2] = weft_collection_take_from_any(cs, ALF_N, &it, NULL, 1000);
    a->af_allocs = weft__alloc_fail_at(0); /* the table was there */
    a->af_r[3] = it == COLL_ITEM(5) ? 0 : -1;
    /* A bigger call needs a bigger table: add_to_any over 2N full members. */
    for (int i = 0; i < 2 * ALF_N; i++)
        if (weft_collection_add(cs[i], COLL_ITEM(i)) != 0)
            abort();
    weft__alloc_fail_at(1);
    a->af_r[4] = weft_collection_add_to_any(cs, 2 * ALF_N, it, NULL, 1000);
    a->af_waiters += alf_waiters(cs, 2 * ALF_N);
    weft__alloc_fail_at(0);
    a->af_r[5] = weft_collection_add_to_any(cs, 2 * ALF_N, it, NULL, 1000);
    return NULL;
}

START_TEST(alloc_fail_any_links)
{
    weft_collection *cs[2 * ALF_N];
    for (int i = 0; i < 2 * ALF_N; i++)
        cs[i] = coll_make(1, WEFT_ORDER_FIFO, NULL);
    alf_run a = {.af_cs = cs};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, alf_main, &a), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(a.af_r[0], ENOMEM);
    ck_assert_int_eq(a.af_r[1], ETIMEDOUT);
    ck_assert_int_eq(a.af_r[2], ETIMEDOUT);
    ck_assert_int_eq(a.af_allocs, 0);
    ck_assert_int_eq(a.af_r[3], 0); /* *item untouched */
    ck_assert_int_eq(a.af_r[4], ENOMEM);
    ck_assert_int_eq(a.af_r[5], ETIMEDOUT);
    ck_assert_uint_eq(a.af_waiters, 0);
    for (int i = 0; i < 2 * ALF_N; i++) {
        ck_assert_uint_eq(weft_collection_count(cs[i]), 1); /* nothing added */
        weft_collection_destroy(cs[i]);
    }
}
END_TEST

static Suite *collection_suite(void)
{
    Suite *s = suite_create("collection");
    WEFT_TEST_CASE(s, bad_arguments, 30);
    WEFT_TEST_CASE(s, codes_eagain_etimedout, 30);
    WEFT_TEST_CASE(s, codes_epipe, 30);
    WEFT_TEST_CASE(s, codes_ecanceled, 30);
    WEFT_TEST_CASE(s, null_item_and_snapshots, 30);
    WEFT_TEST_CASE(s, order_fifo_lifo, 30);
    WEFT_TEST_CASE(s, order_priority_stable, 30);
    WEFT_TEST_CASE(s, any_routing, 30);
    WEFT_TEST_CASE(s, task_done_join_counting, 30);
    WEFT_TEST_CASE(s, shutdown_items_inside_and_taken, 30);
    WEFT_TEST_CASE(s, drain_before_close, 30);
    WEFT_TEST_CASE(s, producer_counting, 30);
    WEFT_TEST_CASE(s, complete_adding_error_codes, 30);
    WEFT_TEST_CASE(s, destroy_releases_items_left, 30);
    WEFT_TEST_CASE(s, stats_counts, 30);
    WEFT_TEST_CASE(s, stats_waits, 30);
    WEFT_TEST_CASE(s, alloc_fail_create, 30);
    WEFT_TEST_CASE(s, alloc_fail_growth, 30);
    WEFT_TEST_CASE(s, alloc_fail_any_links, 30);
    return s;
}

int main(void)
{
    return weft_test_run(collection_suite());
}
