/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_collection_threads.c - blocking and concurrency of the
 * blocking collection (include/weft/collection.h): blocked adders, takers,
 * joiners and any-variants are woken by the right events (and only then),
 * close and shutdown while blocked, complete_adding racing with adders, and
 * N x M producers/consumers with an exact multiset check.
 *
 * A thread is made provably blocked with the private hook
 * weft__collection_waiters (runtime/collection_hooks.h): once it counts the
 * thread, the thread cannot return before a state change. Never sleeps.
 */
#define _GNU_SOURCE /* pthread barriers, sched_yield under -std=c11 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <weft/collection.h>

#include "coll_util.h"
#include "check_main.h"

/* ---- a bounded collection blocks and resumes --------------------------- */

START_TEST(bounded_blocks_and_resumes)
{
    weft_collection *c = coll_make(2, WEFT_ORDER_FIFO, NULL);
    void *it;
    coll_op a;
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(2)), 0);
    coll_op_start(&a, COLL_OP_ADD, c, COLL_ITEM(3), WEFT_FOREVER);
    coll_wait_waiters(c, 1);
    ck_assert(!coll_op_returned(&a));
    ck_assert_uint_eq(weft_collection_count(c), 2);
    ck_assert_int_eq(weft_collection_take(c, &it), 0); /* frees a slot */
    ck_assert_int_eq(coll_op_join(&a), 0);
    ck_assert_uint_eq(weft_collection_count(c), 2);
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(2));
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(3));

    /* A blocked taker resumes on an add. */
    coll_op t;
    coll_op_start(&t, COLL_OP_TAKE, c, NULL, WEFT_FOREVER);
    coll_wait_waiters(c, 1);
    ck_assert(!coll_op_returned(&t));
    ck_assert_int_eq(weft_collection_add(c, NULL), 0); /* NULL item */
    ck_assert_int_eq(coll_op_join(&t), 0);
    ck_assert_ptr_null(t.op_item);

    /* drain frees slots too: it wakes a blocked adder. */
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(4)), 0);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(5)), 0);
    coll_op_start(&a, COLL_OP_ADD, c, COLL_ITEM(6), WEFT_FOREVER);
    coll_wait_waiters(c, 1);
    void *out[2];
    ck_assert_uint_eq(weft_collection_drain(c, out, 2), 2);
    ck_assert_int_eq(coll_op_join(&a), 0);
    ck_assert_uint_eq(weft_collection_count(c), 1);
    weft_collection_destroy(c);
}
END_TEST

/* ---- INT64_MAX waits (no overflow), woken by the event ------------------ */

START_TEST(int64_max_waits)
{
    weft_collection *c = coll_make(1, WEFT_ORDER_FIFO, NULL);
    coll_op o;
    /* A deadline computed without saturation would wrap into the past and
     * return ETIMEDOUT at once; here only the add can end the wait. */
    coll_op_start(&o, COLL_OP_TAKE, c, NULL, INT64_MAX);
    coll_wait_waiters(c, 1);
    ck_assert(!coll_op_returned(&o));
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(8)), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_ptr_eq(o.op_item, COLL_ITEM(8));

    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(9)), 0);
    coll_op_start(&o, COLL_OP_ADD, c, COLL_ITEM(10), INT64_MAX);
    coll_wait_waiters(c, 1);
    ck_assert(!coll_op_returned(&o));
    void *it;
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);

    /* unfinished: 3 adds, 0 done. */
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    coll_op_start(&o, COLL_OP_JOIN, c, NULL, INT64_MAX);
    coll_wait_waiters(c, 1);
    ck_assert(!coll_op_returned(&o));
    ck_assert_int_eq(weft_collection_task_done(c), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);

    weft_collection *cs[2] = {c, c};
    ck_assert_int_eq(weft_collection_take(c, &it), 0);
    coll_op_start_any(&o, COLL_OP_TAKE_ANY, cs, 2, NULL, INT64_MAX);
    coll_wait_waiters(c, 2);
    ck_assert(!coll_op_returned(&o));
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(11)), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_ptr_eq(o.op_item, COLL_ITEM(11));
    ck_assert_uint_eq(o.op_index, 0);
    weft_collection_destroy(c);
}
END_TEST

/* A blocked timed take times out on its own. */
START_TEST(blocked_timed_take_times_out)
{
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    coll_op o;
    int64_t t0 = coll_now_ns();
    coll_op_start(&o, COLL_OP_TAKE, c, COLL_ITEM(1), 20000000);
    ck_assert_int_eq(coll_op_join(&o), ETIMEDOUT);
    ck_assert_int_ge(coll_now_ns() - t0, 20000000);
    ck_assert_ptr_eq(o.op_item, COLL_ITEM(1)); /* not written */
    ck_assert_uint_eq(weft__collection_waiters(c), 0); /* deregistered */
    weft_collection *cs[2] = {c, c};
    coll_op_start_any(&o, COLL_OP_TAKE_ANY, cs, 2, NULL, 20000000);
    ck_assert_int_eq(coll_op_join(&o), ETIMEDOUT);
    ck_assert_uint_eq(weft__collection_waiters(c), 0);
    weft_collection_destroy(c);
}
END_TEST

/* ---- no lost wake-ups ------------------------------------------------- */

START_TEST(n_adds_wake_n_takers)
{
    enum { N = 4 };
    weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    coll_op t[N];
    for (int i = 0; i < N; i++)
        coll_op_start(&t[i], COLL_OP_TAKE, c, NULL, WEFT_FOREVER);
    coll_wait_waiters(c, N);
    for (uintptr_t i = 0; i < N; i++)
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i + 1)), 0);
    unsigned mask = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(coll_op_join(&t[i]), 0);
        mask |= 1u << (COLL_VAL(t[i].op_item) - 1);
    }
    ck_assert_uint_eq(mask, (1u << N) - 1);

    /* And N takes wake N adders blocked on a full collection. */
    weft_collection *b = coll_make(1, WEFT_ORDER_LIFO, NULL);
    ck_assert_int_eq(weft_collection_add(b, COLL_ITEM(0)), 0);
    for (int i = 0; i < N; i++)
        coll_op_start(&t[i], COLL_OP_ADD, b, COLL_ITEM(i + 1), WEFT_FOREVER);
    coll_wait_waiters(b, N);
    void *it;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(weft_collection_take(b, &it), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(coll_op_join(&t[i]), 0);
    ck_assert_uint_eq(weft_collection_count(b), 1);
    weft_collection_destroy(b);
    weft_collection_destroy(c);
}
END_TEST

/* ---- close while blocked ---------------------------------------------- */

START_TEST(complete_adding_wakes_blocked)
{
    enum { N = 3 };
    weft_collection *full = coll_make(1, WEFT_ORDER_FIFO, NULL);
    weft_collection *empty = coll_make(0, WEFT_ORDER_FIFO, NULL);
    coll_op a[N], t[N];
    ck_assert_int_eq(weft_collection_add(full, COLL_ITEM(1)), 0);
    for (int i = 0; i < N; i++) {
        coll_op_start(&a[i], COLL_OP_ADD, full, NULL, WEFT_FOREVER);
        coll_op_start(&t[i], COLL_OP_TAKE, empty, NULL, WEFT_FOREVER);
    }
    coll_wait_waiters(full, N);
    coll_wait_waiters(empty, N);
    weft_collection_complete_adding(full);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(coll_op_join(&a[i]), EPIPE);
    ck_assert(!weft_collection_is_completed(full));
    ck_assert_uint_eq(weft_collection_count(full), 1);
    for (int i = 0; i < N; i++)
        ck_assert(!coll_op_returned(&t[i]));
    weft_collection_complete_adding(empty);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(coll_op_join(&t[i]), EPIPE);
    weft_collection_destroy(full);
    weft_collection_destroy(empty);
}
END_TEST

/* The take that empties a completed collection wakes every other blocked
 * taker: N takers block, one item is added (one taker is signalled), adding
 * is completed; whoever takes the item, all others must end with EPIPE.
 * The interesting order is the one where complete_adding finds the item
 * still inside (then only the emptying take can wake the other takers);
 * a count of 1 read after complete_adding proves that order (count cannot
 * rise after it). Rounds go on until that order was seen a few times. A
 * version that forgot this wake-up hung here; the first test did not see it
 * because its only round usually ran the other order. */
START_TEST(last_take_wakes_other_takers)
{
    enum { N = 4, HITS = 5, MAX_ROUNDS = 500 };
    int hits = 0;
    for (int r = 0; r < MAX_ROUNDS && hits < HITS; r++) {
        weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
        coll_op t[N];
        for (int i = 0; i < N; i++)
            coll_op_start(&t[i], COLL_OP_TAKE, c, NULL, WEFT_FOREVER);
        coll_wait_waiters(c, N);
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(7)), 0);
        weft_collection_complete_adding(c);
        if (weft_collection_count(c) == 1)
            hits++;
        int got = 0;
        for (int i = 0; i < N; i++) {
            int res = coll_op_join(&t[i]);
            if (res == 0) {
                got++;
                ck_assert_ptr_eq(t[i].op_item, COLL_ITEM(7));
            } else {
                ck_assert_int_eq(res, EPIPE);
            }
        }
        ck_assert_int_eq(got, 1);
        weft_collection_destroy(c);
    }
}
END_TEST

START_TEST(shutdown_wakes_blocked)
{
    weft_collection *full = coll_make(1, WEFT_ORDER_FIFO, NULL);
    weft_collection *empty = coll_make(0, WEFT_ORDER_PRIORITY, coll_cmp_uintptr);
    weft_collection *both[2] = {empty, full};
    coll_op a, t, any_t, any_a, j;
    ck_assert_int_eq(weft_collection_add(full, COLL_ITEM(1)), 0);
    coll_op_start(&a, COLL_OP_ADD, full, NULL, WEFT_FOREVER);
    coll_op_start(&t, COLL_OP_TAKE, empty, NULL, WEFT_FOREVER);
    coll_op_start_any(&any_t, COLL_OP_TAKE_ANY, both, 1, NULL, WEFT_FOREVER);
    coll_op_start_any(&any_a, COLL_OP_ADD_ANY, both + 1, 1, NULL, WEFT_FOREVER);
    coll_op_start(&j, COLL_OP_JOIN, full, NULL, WEFT_FOREVER);
    coll_wait_waiters(full, 3);
    coll_wait_waiters(empty, 2);
    weft_collection_shutdown(empty);
    ck_assert_int_eq(coll_op_join(&t), ECANCELED);
    ck_assert_int_eq(coll_op_join(&any_t), ECANCELED);
    ck_assert(!coll_op_returned(&a));
    weft_collection_shutdown(full);
    ck_assert_int_eq(coll_op_join(&a), ECANCELED);
    ck_assert_int_eq(coll_op_join(&any_a), ECANCELED);
    /* The one item inside was dropped from the unfinished count: join
     * returns 0, it does not fail. */
    ck_assert_int_eq(coll_op_join(&j), 0);
    void *out[2];
    ck_assert_uint_eq(weft_collection_drain(full, out, 2), 1);
    ck_assert_ptr_eq(out[0], COLL_ITEM(1));
    weft_collection_destroy(full);
    weft_collection_destroy(empty);
}
END_TEST

/* ---- complete_adding racing with adders --------------------------------- */

typedef struct {
    weft_collection *ra_c;
    pthread_barrier_t *ra_start;
    uintptr_t ra_base;
    size_t ra_ok;
    int ra_last;
} race_adder;

static void *race_adder_main(void *arg)
{
    race_adder *r = arg;
    pthread_barrier_wait(r->ra_start);
    for (uintptr_t k = 0;; k++) {
        r->ra_last = weft_collection_add(r->ra_c, COLL_ITEM(r->ra_base + k));
        if (r->ra_last != 0)
            break;
        r->ra_ok++;
    }
    return NULL;
}

START_TEST(complete_adding_races_adders)
{
    enum { A = 4, ROUNDS = 10 };
    for (int round = 0; round < ROUNDS; round++) {
        weft_collection *c = coll_make(0, WEFT_ORDER_FIFO, NULL);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, A + 1);
        race_adder r[A];
        pthread_t th[A];
        for (int i = 0; i < A; i++) {
            r[i] = (race_adder){c, &start, (uintptr_t)i << 32, 0, 0};
            ck_assert_int_eq(pthread_create(&th[i], NULL, race_adder_main, &r[i]), 0);
        }
        pthread_barrier_wait(&start);
        /* Let the adders get going (polling state, not sleeping). */
        while (weft_collection_count(c) < (size_t)(100 * (round + 1)))
            sched_yield();
        weft_collection_complete_adding(c);
        size_t at_close = weft_collection_count(c);
        size_t ok = 0;
        for (int i = 0; i < A; i++) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(r[i].ra_last, EPIPE);
            ok += r[i].ra_ok;
        }
        ck_assert_uint_eq(weft_collection_count(c), at_close);
        ck_assert_uint_eq(ok, at_close);
        pthread_barrier_destroy(&start);
        weft_collection_destroy(c);
    }
}
END_TEST

/* ---- N x M producers/consumers, exact multiset --------------------------- */

#ifdef WEFT_TSAN
#define MPMC_ITEMS 20000
#else
#define MPMC_ITEMS 100000
#endif
enum { MPMC_P = 4, MPMC_C = 4 };

typedef struct {
    weft_collection **m_cs; /* the collections (one, or several for any) */
    size_t m_n;
    atomic_uint *m_seen; /* per item value: times delivered */
    int m_id;
    bool m_fifo_check;
    size_t m_count;
    bool m_order_ok;
} mpmc_arg;

static void *mpmc_producer(void *arg)
{
    mpmc_arg *a = arg;
    const uintptr_t per = MPMC_ITEMS / MPMC_P;
    for (uintptr_t k = 0; k < per; k++) {
        uintptr_t v = a->m_id * per + k + 1;
        int r = a->m_n == 1
                    ? weft_collection_add(a->m_cs[0], COLL_ITEM(v))
                    : weft_collection_add_to_any(a->m_cs, a->m_n, COLL_ITEM(v), NULL, WEFT_FOREVER);
        if (r != 0)
            abort();
    }
    return NULL;
}

static void *mpmc_consumer(void *arg)
{
    mpmc_arg *a = arg;
    uintptr_t last[MPMC_P] = {0};
    const uintptr_t per = MPMC_ITEMS / MPMC_P;
    a->m_order_ok = true;
    for (;;) {
        void *it;
        size_t idx = 0;
        int r = a->m_n == 1
                    ? weft_collection_take(a->m_cs[0], &it)
                    : weft_collection_take_from_any(a->m_cs, a->m_n, &it, &idx, WEFT_FOREVER);
        if (r == EPIPE)
            break;
        if (r != 0)
            abort();
        uintptr_t v = COLL_VAL(it);
        if (v == 0 || v > MPMC_ITEMS)
            abort();
        /* relaxed: only counted; the joins order it before the check. */
        atomic_fetch_add_explicit(&a->m_seen[v - 1], 1, memory_order_relaxed);
        if (a->m_fifo_check) {
            /* FIFO: one consumer sees each producer's items in order. */
            uintptr_t p = (v - 1) / per;
            if (v <= last[p])
                a->m_order_ok = false;
            last[p] = v;
        }
        if (idx >= a->m_n || weft_collection_task_done(a->m_cs[idx]) != 0)
            abort();
        a->m_count++;
    }
    return NULL;
}

static void mpmc_run(size_t capacity, weft_order order, size_t ncs)
{
    weft_collection *cs[3];
    for (size_t i = 0; i < ncs; i++)
        cs[i] = coll_make(capacity, order, coll_cmp_uintptr);
    atomic_uint *seen = calloc(MPMC_ITEMS, sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    mpmc_arg pa[MPMC_P], ca[MPMC_C];
    pthread_t pt[MPMC_P], ct[MPMC_C];
    for (int i = 0; i < MPMC_C; i++) {
        ca[i] = (mpmc_arg){cs, ncs, seen, i, order == WEFT_ORDER_FIFO && ncs == 1, 0, true};
        ck_assert_int_eq(pthread_create(&ct[i], NULL, mpmc_consumer, &ca[i]), 0);
    }
    for (int i = 0; i < MPMC_P; i++) {
        pa[i] = (mpmc_arg){cs, ncs, seen, i, false, 0, true};
        ck_assert_int_eq(pthread_create(&pt[i], NULL, mpmc_producer, &pa[i]), 0);
    }
    for (int i = 0; i < MPMC_P; i++)
        pthread_join(pt[i], NULL);
    for (size_t i = 0; i < ncs; i++)
        weft_collection_complete_adding(cs[i]);
    size_t total = 0;
    for (int i = 0; i < MPMC_C; i++) {
        pthread_join(ct[i], NULL);
        total += ca[i].m_count;
        ck_assert(ca[i].m_order_ok);
    }
    ck_assert_uint_eq(total, MPMC_ITEMS);
    for (size_t v = 0; v < MPMC_ITEMS; v++)
        if (atomic_load_explicit(&seen[v], memory_order_relaxed) != 1)
            ck_abort_msg("item %zu delivered %u times", v + 1,
                         atomic_load_explicit(&seen[v], memory_order_relaxed));
    for (size_t i = 0; i < ncs; i++) {
        ck_assert(weft_collection_is_completed(cs[i]));
        ck_assert_uint_eq(weft_collection_count(cs[i]), 0);
        ck_assert_int_eq(weft_collection_try_join(cs[i], WEFT_NO_WAIT), 0);
        weft_collection_destroy(cs[i]);
    }
    free(seen);
}

START_TEST(mpmc_fifo)
{
    mpmc_run(0, WEFT_ORDER_FIFO, 1);
    mpmc_run(64, WEFT_ORDER_FIFO, 1);
}
END_TEST

START_TEST(mpmc_lifo)
{
    mpmc_run(0, WEFT_ORDER_LIFO, 1);
    mpmc_run(64, WEFT_ORDER_LIFO, 1);
}
END_TEST

START_TEST(mpmc_priority)
{
    mpmc_run(0, WEFT_ORDER_PRIORITY, 1);
    mpmc_run(64, WEFT_ORDER_PRIORITY, 1);
}
END_TEST

/* Producers add_to_any and consumers take_from_any over 3 small bounded
 * collections; task_done goes to the member reported in *index, so every
 * member's unfinished count ends at zero. Exercises the generation wake-ups. */
START_TEST(mpmc_any)
{
    mpmc_run(8, WEFT_ORDER_FIFO, 3);
}
END_TEST

/* ---- any-variants: blocked, then woken by the right member --------------- */

START_TEST(any_blocked_woken_by_member)
{
    weft_collection *cs[3];
    for (int i = 0; i < 3; i++)
        cs[i] = coll_make(1, WEFT_ORDER_FIFO, NULL);
    coll_op o;
    coll_op_start_any(&o, COLL_OP_TAKE_ANY, cs, 3, NULL, WEFT_FOREVER);
    coll_wait_waiters(cs[2], 1);
    ck_assert(!coll_op_returned(&o));
    ck_assert_int_eq(weft_collection_add(cs[2], COLL_ITEM(3)), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_uint_eq(o.op_index, 2);
    ck_assert_ptr_eq(o.op_item, COLL_ITEM(3));
    ck_assert_uint_eq(weft__collection_waiters(cs[0]), 0);

    /* add_to_any blocked on three full members; a take from the 2nd. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(weft_collection_add(cs[i], COLL_ITEM(10 + i)), 0);
    coll_op_start_any(&o, COLL_OP_ADD_ANY, cs, 3, COLL_ITEM(20), WEFT_FOREVER);
    coll_wait_waiters(cs[1], 1);
    ck_assert(!coll_op_returned(&o));
    void *it;
    ck_assert_int_eq(weft_collection_take(cs[1], &it), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_uint_eq(o.op_index, 1);
    ck_assert_int_eq(weft_collection_take(cs[1], &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(20));

    /* Blocked add_to_any: members complete one by one; EPIPE at the last. */
    ck_assert_int_eq(weft_collection_add(cs[1], COLL_ITEM(21)), 0);
    coll_op_start_any(&o, COLL_OP_ADD_ANY, cs, 3, NULL, WEFT_FOREVER);
    coll_wait_waiters(cs[0], 1);
    weft_collection_complete_adding(cs[0]);
    weft_collection_complete_adding(cs[2]);
    ck_assert(!coll_op_returned(&o)); /* one member still open */
    weft_collection_complete_adding(cs[1]);
    ck_assert_int_eq(coll_op_join(&o), EPIPE);

    /* Blocked take_from_any over completed-but-not-empty members: EPIPE
     * once the last item is gone. */
    for (int i = 0; i < 3; i++)
        while (weft_collection_try_take(cs[i], &it, 0) == 0)
            ;
    weft_collection *e[2];
    e[0] = coll_make(0, WEFT_ORDER_FIFO, NULL);
    e[1] = coll_make(0, WEFT_ORDER_FIFO, NULL);
    coll_op_start_any(&o, COLL_OP_TAKE_ANY, e, 2, NULL, WEFT_FOREVER);
    coll_wait_waiters(e[1], 1);
    weft_collection_complete_adding(e[1]);
    ck_assert(!coll_op_returned(&o)); /* one member still open */
    weft_collection_complete_adding(e[0]);
    ck_assert_int_eq(coll_op_join(&o), EPIPE);
    weft_collection_destroy(e[0]);
    weft_collection_destroy(e[1]);
    for (int i = 0; i < 3; i++)
        weft_collection_destroy(cs[i]);
}
END_TEST

/* ---- any-variants: only a member's change wakes a call -------------------- */

/* Regression: take_from_any and add_to_any used to sleep on one
 * process-wide generation word, and every change of a collection with
 * any-waiters bumped it and woke every any-waiter in the process (K
 * unrelated waiters: K wake-ups per item; bench_any). Two calls blocked on
 * collections nobody touches must not wake while other any-calls are woken
 * ROUNDS times by their own members. Counted with the wake-up hook, not
 * timed. */
START_TEST(any_unrelated_not_woken)
{
    enum { ROUNDS = 50 };
    weft_collection *mine[2], *mine_full[2], *other[2], *other_full[2];
    for (int i = 0; i < 2; i++) {
        mine[i] = coll_make(0, WEFT_ORDER_FIFO, NULL);
        mine_full[i] = coll_make(1, WEFT_ORDER_FIFO, NULL);
        other[i] = coll_make(0, WEFT_ORDER_FIFO, NULL);
        other_full[i] = coll_make(1, WEFT_ORDER_FIFO, NULL);
        ck_assert_int_eq(weft_collection_add(mine_full[i], COLL_ITEM(i)), 0);
        ck_assert_int_eq(weft_collection_add(other_full[i], COLL_ITEM(i)), 0);
    }
    coll_op t, a;
    coll_op_start_any(&t, COLL_OP_TAKE_ANY, mine, 2, NULL, WEFT_FOREVER);
    coll_op_start_any(&a, COLL_OP_ADD_ANY, mine_full, 2, COLL_ITEM(7), WEFT_FOREVER);
    coll_wait_waiters(mine[1], 1);
    coll_wait_waiters(mine_full[1], 1);
    void *it;
    for (int r = 0; r < ROUNDS; r++) {
        /* A take_from_any woken by an add, an add_to_any by a take. */
        coll_op o;
        coll_op_start_any(&o, COLL_OP_TAKE_ANY, other, 2, NULL, WEFT_FOREVER);
        coll_wait_waiters(other[1], 1);
        ck_assert_int_eq(weft_collection_add(other[r % 2], COLL_ITEM(100 + r)), 0);
        ck_assert_int_eq(coll_op_join(&o), 0);
        ck_assert_ptr_eq(o.op_item, COLL_ITEM(100 + r));
        coll_op_start_any(&o, COLL_OP_ADD_ANY, other_full, 2, COLL_ITEM(200 + r), WEFT_FOREVER);
        coll_wait_waiters(other_full[1], 1);
        ck_assert_int_eq(weft_collection_take(other_full[r % 2], &it), 0);
        ck_assert_int_eq(coll_op_join(&o), 0);
        ck_assert_uint_eq(o.op_index, (size_t)(r % 2));
    }
    ck_assert(!coll_op_returned(&t));
    ck_assert(!coll_op_returned(&a));
    ck_assert_int_eq(weft_collection_add(mine[1], COLL_ITEM(5)), 0);
    ck_assert_int_eq(coll_op_join(&t), 0);
    ck_assert_uint_eq(t.op_index, 1);
    ck_assert_int_eq(weft_collection_take(mine_full[1], &it), 0);
    ck_assert_int_eq(coll_op_join(&a), 0);
    ck_assert_uint_eq(a.op_index, 1);
    /* Each woke once (its own member's change), or not at all if that
     * change came before it fell asleep. */
    ck_assert_uint_le(t.op_wakeups, 1);
    ck_assert_uint_le(a.op_wakeups, 1);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(weft__collection_waiters(mine[i]), 0);
        ck_assert_uint_eq(weft__collection_waiters(mine_full[i]), 0);
        weft_collection_destroy(mine[i]);
        weft_collection_destroy(mine_full[i]);
        weft_collection_destroy(other[i]);
        weft_collection_destroy(other_full[i]);
    }
}
END_TEST

/* A change signals one waiter of the member. An any-call whose link on Y
 * was signalled but which took from X (a lower index) must pass Y's signal
 * on when it leaves; otherwise Y's next waiter sleeps beside Y's item. The
 * plain waiter on Y registers after the any-call's link, so the add to Y
 * signals the link first; a lost signal shows as a hang (the test's
 * timeout). Rounds, because the any-call may also see both items at once. */
START_TEST(any_passes_on_unused_signal)
{
    enum { ROUNDS = 30 };
    for (int r = 0; r < ROUNDS; r++) {
        /* take_from_any over {X, Y}; a plain take on Y. */
        weft_collection *xy[2] = {coll_make(0, WEFT_ORDER_FIFO, NULL),
                                  coll_make(0, WEFT_ORDER_FIFO, NULL)};
        coll_op w1, w2;
        coll_op_start_any(&w1, COLL_OP_TAKE_ANY, xy, 2, NULL, WEFT_FOREVER);
        coll_wait_waiters(xy[1], 1);
        coll_op_start(&w2, COLL_OP_TAKE, xy[1], NULL, WEFT_FOREVER);
        coll_wait_waiters(xy[1], 2);
        ck_assert_int_eq(weft_collection_add(xy[0], COLL_ITEM(1)), 0);
        ck_assert_int_eq(weft_collection_add(xy[1], COLL_ITEM(2)), 0);
        ck_assert_int_eq(coll_op_join(&w1), 0);
        ck_assert_int_eq(coll_op_join(&w2), 0);
        ck_assert_uint_eq(COLL_VAL(w1.op_item) + COLL_VAL(w2.op_item), 3);
        ck_assert_ptr_eq(w2.op_item, COLL_ITEM(2)); /* w2 takes from Y only */

        /* add_to_any over full {X, Y}; a plain add to Y. */
        weft_collection *f[2] = {coll_make(1, WEFT_ORDER_FIFO, NULL),
                                 coll_make(1, WEFT_ORDER_FIFO, NULL)};
        void *it;
        ck_assert_int_eq(weft_collection_add(f[0], COLL_ITEM(10)), 0);
        ck_assert_int_eq(weft_collection_add(f[1], COLL_ITEM(11)), 0);
        coll_op_start_any(&w1, COLL_OP_ADD_ANY, f, 2, COLL_ITEM(12), WEFT_FOREVER);
        coll_wait_waiters(f[1], 1);
        coll_op_start(&w2, COLL_OP_ADD, f[1], COLL_ITEM(13), WEFT_FOREVER);
        coll_wait_waiters(f[1], 2);
        ck_assert_int_eq(weft_collection_take(f[0], &it), 0);
        ck_assert_int_eq(weft_collection_take(f[1], &it), 0);
        ck_assert_int_eq(coll_op_join(&w1), 0);
        ck_assert_int_eq(coll_op_join(&w2), 0);
        ck_assert_uint_eq(weft_collection_count(f[0]) + weft_collection_count(f[1]), 2);
        for (int i = 0; i < 2; i++) {
            weft_collection_destroy(xy[i]);
            weft_collection_destroy(f[i]);
        }
    }
}
END_TEST

/* More members than the call keeps on its stack (16): the links come from
 * the thread's table, which grows; the same collection 1000 times is 1000
 * links on one list. */
START_TEST(any_many_members)
{
    enum { N = 40, DUP = 1000 };
    weft_collection *cs[N], *full[N];
    for (int i = 0; i < N; i++) {
        cs[i] = coll_make(0, i % 3 == 0 ? WEFT_ORDER_LIFO : WEFT_ORDER_FIFO, NULL);
        full[i] = coll_make(1, i % 3 == 1 ? WEFT_ORDER_PRIORITY : WEFT_ORDER_FIFO,
                            coll_cmp_uintptr);
        ck_assert_int_eq(weft_collection_add(full[i], COLL_ITEM(i)), 0);
    }
    coll_op o;
    coll_op_start_any(&o, COLL_OP_TAKE_ANY, cs, N, NULL, WEFT_FOREVER);
    coll_wait_waiters(cs[N - 1], 1);
    ck_assert_int_eq(weft_collection_add(cs[37], COLL_ITEM(37)), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_uint_eq(o.op_index, 37);
    ck_assert_ptr_eq(o.op_item, COLL_ITEM(37));

    coll_op_start_any(&o, COLL_OP_ADD_ANY, full, N, COLL_ITEM(99), WEFT_FOREVER);
    coll_wait_waiters(full[N - 1], 1);
    void *it;
    ck_assert_int_eq(weft_collection_take(full[25], &it), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_uint_eq(o.op_index, 25);
    ck_assert_int_eq(weft_collection_take(full[25], &it), 0);
    ck_assert_ptr_eq(it, COLL_ITEM(99));

    weft_collection **dup = malloc(DUP * sizeof *dup);
    ck_assert_ptr_nonnull(dup);
    for (int i = 0; i < DUP; i++)
        dup[i] = cs[5];
    coll_op_start_any(&o, COLL_OP_TAKE_ANY, dup, DUP, NULL, WEFT_FOREVER);
    coll_wait_waiters(cs[5], DUP);
    ck_assert_int_eq(weft_collection_add(cs[5], COLL_ITEM(55)), 0);
    ck_assert_int_eq(coll_op_join(&o), 0);
    ck_assert_uint_lt(o.op_index, DUP); /* its rescan may be under way */
    ck_assert_ptr_eq(o.op_item, COLL_ITEM(55));
    ck_assert_uint_eq(weft__collection_waiters(cs[5]), 0);
    /* Bad input with many members: a NULL one is EINVAL, nothing waits. */
    dup[DUP - 1] = NULL;
    ck_assert_int_eq(weft_collection_take_from_any(dup, DUP, &it, NULL, WEFT_FOREVER), EINVAL);
    ck_assert_int_eq(weft_collection_add_to_any(dup, DUP, NULL, NULL, WEFT_FOREVER), EINVAL);
    ck_assert_uint_eq(weft__collection_waiters(cs[5]), 0);
    free(dup);
    for (int i = 0; i < N; i++) {
        weft_collection_destroy(cs[i]);
        weft_collection_destroy(full[i]);
    }
}
END_TEST

/* ---- producer counting with threads ---------------------------------------- */

typedef struct {
    weft_collection *pc_c;
    uintptr_t pc_first, pc_n;
} counted_producer;

static void *counted_producer_main(void *arg)
{
    counted_producer *p = arg;
    for (uintptr_t i = p->pc_first; i < p->pc_first + p->pc_n; i++)
        if (weft_collection_add(p->pc_c, COLL_ITEM(i)) != 0)
            abort();
    if (weft_collection_producer_done(p->pc_c) != 0)
        abort();
    return NULL;
}

typedef struct {
    weft_collection *cc_c;
    uint64_t cc_sum, cc_n;
    int cc_end; /* the code that ended the loop */
} counting_consumer;

static void *counting_consumer_main(void *arg)
{
    counting_consumer *k = arg;
    void *it;
    while ((k->cc_end = weft_collection_take(k->cc_c, &it)) == 0) {
        k->cc_sum += COLL_VAL(it);
        k->cc_n++;
    }
    return NULL;
}

/* Producers registered before they start; consumers take until the
 * collection completes by itself (nobody calls complete_adding), each
 * item exactly once. Then: a taker blocked on an empty collection is woken
 * (EPIPE) by the last producer_done, from another thread. */
START_TEST(producers_complete_by_count)
{
    enum { P = 4, C = 3, PER = 5000 };
    weft_collection *c = coll_make(16, WEFT_ORDER_FIFO, NULL);
    counted_producer ps[P];
    counting_consumer cs[C];
    pthread_t pt[P], ct[C];
    for (int i = 0; i < P; i++)
        ck_assert_int_eq(weft_collection_add_producer(c), 0);
    for (int i = 0; i < C; i++) {
        cs[i] = (counting_consumer){c, 0, 0, -1};
        ck_assert_int_eq(pthread_create(&ct[i], NULL, counting_consumer_main, &cs[i]), 0);
    }
    for (int i = 0; i < P; i++) {
        ps[i] = (counted_producer){c, 1 + (uintptr_t)i * PER, PER};
        ck_assert_int_eq(pthread_create(&pt[i], NULL, counted_producer_main, &ps[i]), 0);
    }
    uint64_t sum = 0, n = 0, total = (uint64_t)P * PER;
    for (int i = 0; i < P; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < C; i++) {
        pthread_join(ct[i], NULL);
        ck_assert_int_eq(cs[i].cc_end, EPIPE);
        sum += cs[i].cc_sum;
        n += cs[i].cc_n;
    }
    ck_assert_uint_eq(n, total);
    ck_assert_uint_eq(sum, total * (total + 1) / 2);
    ck_assert(weft_collection_is_completed(c));
    weft_collection_destroy(c);

    c = coll_make(0, WEFT_ORDER_FIFO, NULL);
    ck_assert_int_eq(weft_collection_add_producer(c), 0);
    coll_op t;
    coll_op_start(&t, COLL_OP_TAKE, c, NULL, WEFT_FOREVER);
    coll_wait_waiters(c, 1);
    counted_producer last = {c, 1, 0}; /* adds nothing, then is done */
    pthread_t lt;
    ck_assert_int_eq(pthread_create(&lt, NULL, counted_producer_main, &last), 0);
    pthread_join(lt, NULL);
    ck_assert_int_eq(coll_op_join(&t), EPIPE);
    weft_collection_destroy(c);
}
END_TEST

/* ---- closing with an error wakes the blocked takers ------------------------ */

/* Blocked takers (plain and take_from_any) get the err once the collection
 * is empty; blocked adders get EPIPE; a consumer that drains items first
 * sees them all, then the err. */
START_TEST(complete_adding_error_wakes_blocked)
{
    weft_collection *c = coll_make(1, WEFT_ORDER_FIFO, NULL);
    weft_collection *other = coll_make(0, WEFT_ORDER_FIFO, NULL);
    weft_collection *cs[2] = {other, c};
    coll_op t, any;
    coll_op_start(&t, COLL_OP_TAKE, c, NULL, WEFT_FOREVER);
    coll_op_start_any(&any, COLL_OP_TAKE_ANY, cs, 2, NULL, WEFT_FOREVER);
    coll_wait_waiters(c, 2);
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EIO), 0);
    ck_assert_int_eq(coll_op_join(&t), EIO);
    ck_assert(!coll_op_returned(&any)); /* other is still open */
    ck_assert_int_eq(weft_collection_complete_adding_error(other, ENOSPC), 0);
    ck_assert_int_eq(coll_op_join(&any), ENOSPC); /* the first by index */
    weft_collection_destroy(c);
    weft_collection_destroy(other);

    c = coll_make(1, WEFT_ORDER_FIFO, NULL);
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(1)), 0);
    coll_op a;
    coll_op_start(&a, COLL_OP_ADD, c, COLL_ITEM(2), WEFT_FOREVER);
    coll_wait_waiters(c, 1);
    counting_consumer k = {c, 0, 0, -1};
    ck_assert_int_eq(weft_collection_complete_adding_error(c, EPROTO), 0);
    ck_assert_int_eq(coll_op_join(&a), EPIPE);
    pthread_t kt;
    ck_assert_int_eq(pthread_create(&kt, NULL, counting_consumer_main, &k), 0);
    pthread_join(kt, NULL);
    ck_assert_uint_eq(k.cc_n, 1);
    ck_assert_int_eq(k.cc_end, EPROTO);
    weft_collection_destroy(c);
}
END_TEST

/* ---- statistics under threads ----------------------------------------------- */

typedef struct {
    weft_collection *sm_c;
    atomic_int *sm_stop;
    size_t sm_cap;
    int sm_bad; /* a non-zero line: the first broken rule */
    uint64_t sm_snapshots;
} stats_monitor;

/* Snapshots taken while producers and consumers run are consistent: the
 * count they imply is within [0, capacity], the maximum too, and nothing
 * goes backwards. */
static void *stats_monitor_main(void *arg)
{
    stats_monitor *m = arg;
    struct weft_collection_stats prev = {0}, s;
    /* relaxed: a stop flag; the main thread joins us after setting it. */
    while (!atomic_load_explicit(m->sm_stop, memory_order_relaxed)) {
        if (weft_collection_stats(m->sm_c, &s) != 0)
            m->sm_bad = __LINE__;
        uint64_t out = s.taken + s.drained;
        if (!m->sm_bad && (out > s.added || s.added - out > m->sm_cap || s.max_count > m->sm_cap ||
                           s.added < prev.added || s.taken < prev.taken ||
                           s.max_count < prev.max_count || s.take_waits < prev.take_waits ||
                           s.add_wait_ns < prev.add_wait_ns))
            m->sm_bad = __LINE__;
        prev = s;
        m->sm_snapshots++;
        sched_yield();
    }
    return NULL;
}

START_TEST(stats_under_threads)
{
    enum { P = 3, C = 3, PER = 20000, CAP = 8 };
    weft_collection *c = coll_make(CAP, WEFT_ORDER_FIFO, NULL);
    atomic_int stop;
    atomic_init(&stop, 0);
    stats_monitor m = {c, &stop, CAP, 0, 0};
    pthread_t mt, pt[P], ct[C];
    counted_producer ps[P];
    counting_consumer cs[C];
    ck_assert_int_eq(pthread_create(&mt, NULL, stats_monitor_main, &m), 0);
    for (int i = 0; i < P; i++)
        ck_assert_int_eq(weft_collection_add_producer(c), 0);
    for (int i = 0; i < C; i++) {
        cs[i] = (counting_consumer){c, 0, 0, -1};
        ck_assert_int_eq(pthread_create(&ct[i], NULL, counting_consumer_main, &cs[i]), 0);
    }
    for (int i = 0; i < P; i++) {
        ps[i] = (counted_producer){c, 1 + (uintptr_t)i * PER, PER};
        ck_assert_int_eq(pthread_create(&pt[i], NULL, counted_producer_main, &ps[i]), 0);
    }
    for (int i = 0; i < P; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < C; i++)
        pthread_join(ct[i], NULL);
    atomic_store_explicit(&stop, 1, memory_order_relaxed);
    pthread_join(mt, NULL);
    ck_assert_msg(m.sm_bad == 0, "inconsistent snapshot (rule at line %d)", m.sm_bad);
    struct weft_collection_stats s;
    ck_assert_int_eq(weft_collection_stats(c, &s), 0);
    ck_assert_uint_eq(s.added, (uint64_t)P * PER);
    ck_assert_uint_eq(s.taken, (uint64_t)P * PER);
    ck_assert_uint_eq(s.drained, 0);
    ck_assert_uint_ge(s.max_count, 1);
    ck_assert_uint_le(s.max_count, CAP);
    /* Waits and their time come together. */
    ck_assert((s.add_waits == 0) == (s.add_wait_ns == 0));
    ck_assert((s.take_waits == 0) == (s.take_wait_ns == 0));
    weft_collection_destroy(c);
}
END_TEST

/* ---- destroy after threads stopped halfway -------------------------------- */

typedef struct {
    weft_collection *hw_c;
    int hw_n; /* items to add, or to take */
} halfway;

static void *halfway_producer(void *arg)
{
    halfway *h = arg;
    for (int i = 0; i < h->hw_n; i++) {
        int *box = malloc(sizeof *box);
        if (!box || weft_collection_add(h->hw_c, box) != 0)
            abort();
    }
    return NULL;
}

static void *halfway_consumer(void *arg)
{
    halfway *h = arg;
    void *it;
    for (int i = 0; i < h->hw_n; i++) {
        if (weft_collection_take(h->hw_c, &it) != 0)
            abort();
        free(it);
    }
    return NULL;
}

static void release_free(void *item, void *arg)
{
    /* relaxed: counted on the destroying thread, read by it after. */
    atomic_fetch_add_explicit((atomic_int *)arg, 1, memory_order_relaxed);
    free(item);
}

/* Producers and consumers stop halfway; destroy hands back (and the release
 * frees) exactly the items nobody took. */
START_TEST(destroy_releases_after_threads)
{
    enum { P = 3, C = 2, PER_P = 1000, PER_C = 700 };
    atomic_int released;
    atomic_init(&released, 0);
    weft_collection_options o = {.release = release_free, .release_arg = &released};
    weft_collection *c = NULL;
    ck_assert_int_eq(weft_collection_create(&c, &o), 0);
    pthread_t th[P + C];
    halfway hp = {c, PER_P}, hc = {c, PER_C};
    for (int i = 0; i < P + C; i++)
        ck_assert_int_eq(
            pthread_create(&th[i], NULL, i < P ? halfway_producer : halfway_consumer,
                           i < P ? (void *)&hp : (void *)&hc),
            0);
    for (int i = 0; i < P + C; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(weft_collection_count(c), P * PER_P - C * PER_C);
    weft_collection_destroy(c);
    ck_assert_int_eq(atomic_load_explicit(&released, memory_order_relaxed), P * PER_P - C * PER_C);
}
END_TEST

/* ---- join blocked until the last task_done from another thread ---------- */

typedef struct {
    weft_collection *d_c;
    int d_n;
} doner;

static void *doner_main(void *arg)
{
    doner *d = arg;
    for (int i = 0; i < d->d_n; i++) {
        void *it;
        if (weft_collection_take(d->d_c, &it) != 0 || weft_collection_task_done(d->d_c) != 0)
            abort();
    }
    return NULL;
}

START_TEST(join_waits_for_task_done)
{
    enum { N = 1000 };
    weft_collection *c = coll_make(16, WEFT_ORDER_FIFO, NULL);
    coll_op j;
    ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(0)), 0);
    coll_op_start(&j, COLL_OP_JOIN, c, NULL, WEFT_FOREVER);
    coll_wait_waiters(c, 1);
    doner d = {c, N};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, doner_main, &d), 0);
    for (uintptr_t i = 1; i < N; i++)
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(i)), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(coll_op_join(&j), 0);
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL);
    weft_collection_destroy(c);
}
END_TEST

static Suite *collection_threads_suite(void)
{
    Suite *s = suite_create("collection_threads");
    WEFT_TEST_CASE(s, bounded_blocks_and_resumes, 60);
    WEFT_TEST_CASE(s, int64_max_waits, 60);
    WEFT_TEST_CASE(s, blocked_timed_take_times_out, 60);
    WEFT_TEST_CASE(s, n_adds_wake_n_takers, 60);
    WEFT_TEST_CASE(s, complete_adding_wakes_blocked, 60);
    WEFT_TEST_CASE(s, last_take_wakes_other_takers, 60);
    WEFT_TEST_CASE(s, shutdown_wakes_blocked, 60);
    WEFT_TEST_CASE(s, complete_adding_races_adders, 60);
    WEFT_TEST_CASE(s, mpmc_fifo, 60);
    WEFT_TEST_CASE(s, mpmc_lifo, 60);
    WEFT_TEST_CASE(s, mpmc_priority, 60);
    WEFT_TEST_CASE(s, mpmc_any, 60);
    WEFT_TEST_CASE(s, any_blocked_woken_by_member, 60);
    WEFT_TEST_CASE(s, any_unrelated_not_woken, 60);
    WEFT_TEST_CASE(s, any_passes_on_unused_signal, 60);
    WEFT_TEST_CASE(s, any_many_members, 60);
    WEFT_TEST_CASE(s, producers_complete_by_count, 60);
    WEFT_TEST_CASE(s, complete_adding_error_wakes_blocked, 60);
    WEFT_TEST_CASE(s, stats_under_threads, 60);
    WEFT_TEST_CASE(s, destroy_releases_after_threads, 60);
    WEFT_TEST_CASE(s, join_waits_for_task_done, 60);
    return s;
}

int main(void)
{
    return weft_test_run(collection_threads_suite());
}
