/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/stress_collection.c - the blocking collection under random
 * concurrent use.
 *
 * Each round creates one collection (or three, for the any-variants), starts
 * producers, consumers, one joiner per collection and a controller, and lets
 * them run with random operations and random timeouts (WEFT_NO_WAIT, 1 ns,
 * microseconds, a millisecond, WEFT_FOREVER). The controller fires
 * complete_adding, complete_adding_error and/or shutdown on every
 * collection at random moments (after a random number of successful
 * operations); or, in one mode, the producers are counted (add_producer,
 * producer_done) and adding completes by itself when the last one is done.
 * The any-variants run over three collections (the case's order and
 * capacity, an unbounded FIFO, a bounded LIFO). When everyone has finished, the round checks:
 *   - conservation: every item whose add returned 0 was delivered exactly
 *     once (a take form) or returned by drain exactly once; an item whose add
 *     failed was never seen; nothing was delivered twice;
 *   - every return code is one the header allows for that call and state,
 *     and the closed states are sticky (after EPIPE an add never succeeds,
 *     after ECANCELED every call on that collection is ECANCELED);
 *   - join always returns: the joiner threads (WEFT_FOREVER) and a final
 *     try_join all return 0;
 *   - the statistics agree: items added, taken and drained over the
 *     members are the round's, and max_count is within the capacity.
 * Seeded (WEFT_SEED), time-bounded (WEFT_STRESS_SECONDS, shared among the
 * test cases), with a watchdog that fails the test on a stall.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/collection.h>

#include "stress_util.h"
#include "check_main.h"

#define MAXP 3
#define MAXC 3
#define MAXCS 3
#define BUDGET 4096 /* items per producer per round */

enum mode {
    M_COMPLETE,
    M_SHUTDOWN,
    M_COMPLETE_THEN_SHUTDOWN,
    M_SHUTDOWN_THEN_COMPLETE,
    M_ERROR,     /* complete_adding_error(EIO): takers get EIO, not EPIPE */
    M_PRODUCERS, /* counted producers; nobody calls complete_adding */
    M_NMODES
};

#define STRESS_ERR EIO

typedef struct round_ctx round_ctx;

typedef struct {
    round_ctx *t_r;
    int t_id;
    stress_rng t_rng;
    stress_slot *t_slot;
    /* Results, read by main after join. */
    uint64_t t_ops;
    int t_bad; /* a non-zero line number: the first broken rule */
} thr;

struct round_ctx {
    weft_collection *r_cs[MAXCS];
    size_t r_ncs;
    bool r_any;           /* producers/consumers use the any-variants */
    int r_np, r_nc;
    enum mode r_mode;
    uint64_t r_fire1, r_fire2; /* thresholds in successful operations */
    /* Per producer, per sequence number: 1 if its add returned 0 (written by
     * the producer only; read by main after the joins). */
    unsigned char r_added[MAXP][BUDGET];
    /* Delivered (take forms) and drained counts; relaxed increments, read
     * after the joins. */
    _Atomic unsigned char r_taken[MAXP][BUDGET];
    _Atomic unsigned char r_drained[MAXP][BUDGET];
    /* Successful operations so far; relaxed: the controller only compares
     * it against a threshold. */
    atomic_uint_fast64_t r_okops;
    atomic_int r_producers_left; /* relaxed: a hint for the controller */
    /* Whether shutdown was called on cs[i]: set by the controller
     * (release) before the call; read by consumers (acquire) to decide
     * whether a drained item still needs task_done. Only used after the
     * consumer itself saw ECANCELED, which already implies it. */
    atomic_bool r_shut[MAXCS];
};

static uint64_t g_ops, g_items, g_taken, g_drained;

#define ITEM(p, k) ((void *)(uintptr_t)(((uintptr_t)(p) << 32) | (uintptr_t)(k)))
#define ITEM_P(v) ((int)((uintptr_t)(v) >> 32))
#define ITEM_K(v) ((int)((uintptr_t)(v)&0xffffffffu))

#define RULE(t, cond)                                                                        \
    do {                                                                                       \
        if (!(cond) && (t)->t_bad == 0)                                                        \
            (t)->t_bad = __LINE__;                                                             \
    } while (0)

static int64_t rand_timeout(stress_rng *g)
{
    switch (stress_below(g, 8)) {
    case 0:
    case 1:
        return WEFT_NO_WAIT;
    case 2:
        return 1;
    case 3:
        return 1000;
    case 4:
        return 50000;
    case 5:
        return 1000000;
    default:
        return WEFT_FOREVER;
    }
}

/* With several collections, a single add or take never waits forever:
 * producers blocked on a full member and a consumer blocked on another,
 * empty one would wait for each other (a deadlock of the test, not of the
 * collection). The any-variants may wait forever. */
static int64_t single_timeout(const round_ctx *r, int64_t to)
{
    return r->r_ncs > 1 && to == WEFT_FOREVER ? 1000000 : to;
}

static void count_ok(round_ctx *r)
{
    atomic_fetch_add_explicit(&r->r_okops, 1, memory_order_relaxed);
}

static void note_item(thr *t, void *it, _Atomic unsigned char (*arr)[BUDGET])
{
    int p = ITEM_P(it), k = ITEM_K(it);
    bool valid = p >= 0 && p < t->t_r->r_np && k >= 0 && k < BUDGET;
    RULE(t, valid);
    if (valid)
        atomic_fetch_add_explicit(&arr[p][k], 1, memory_order_relaxed);
}

/* ---- producers ---------------------------------------------------------- */

static void *producer_main(void *arg)
{
    thr *t = arg;
    round_ctx *r = t->t_r;
    bool closed[MAXCS] = {false}, cancelled[MAXCS] = {false};
    for (int k = 0; k < BUDGET; k++) {
        void *it = ITEM(t->t_id, k);
        int64_t to = rand_timeout(&t->t_rng);
        int rc;
        size_t i = 0, idx = (size_t)-1;
        bool any = r->r_any && stress_below(&t->t_rng, 2);
        stress_progress(t->t_slot, any ? "add_to_any" : "try_add");
        if (any) {
            rc = weft_collection_add_to_any(r->r_cs, r->r_ncs, it, &idx, to);
            RULE(t, rc != 0 || idx < r->r_ncs);
        } else {
            i = stress_below(&t->t_rng, r->r_ncs);
            to = single_timeout(r, to);
            rc = stress_below(&t->t_rng, 4) == 0 && to == WEFT_FOREVER
                     ? weft_collection_add(r->r_cs[i], it)
                     : weft_collection_try_add(r->r_cs[i], it, to);
        }
        t->t_ops++;
        switch (rc) {
        case 0:
            r->r_added[t->t_id][k] = 1;
            count_ok(r);
            if (!any)
                RULE(t, !closed[i] && !cancelled[i]);
            break;
        case EAGAIN:
            RULE(t, to == WEFT_NO_WAIT);
            break;
        case ETIMEDOUT:
            RULE(t, to > 0);
            break;
        case EPIPE:
            if (!any) {
                RULE(t, !cancelled[i]);
                closed[i] = true;
            }
            break;
        case ECANCELED:
            if (!any)
                closed[i] = cancelled[i] = true;
            break;
        default:
            RULE(t, 0);
        }
        /* Stop once every member refused adding. */
        bool all = true;
        for (size_t j = 0; j < r->r_ncs; j++)
            all = all && closed[j];
        if (all || (any && rc == EPIPE))
            break;
        if (any && rc == ECANCELED) {
            /* Some member is shut down: learn which with single adds. */
            for (size_t j = 0; j < r->r_ncs; j++) {
                int c2 = weft_collection_try_add(r->r_cs[j], ITEM(t->t_id, k), WEFT_NO_WAIT);
                t->t_ops++;
                if (c2 == 0) {
                    r->r_added[t->t_id][k] = 1;
                    count_ok(r);
                    break;
                }
                RULE(t, c2 == EAGAIN || c2 == EPIPE || c2 == ECANCELED);
                if (c2 == EPIPE || c2 == ECANCELED)
                    closed[j] = true;
                if (c2 == ECANCELED)
                    cancelled[j] = true;
            }
        }
    }
    if (r->r_mode == M_PRODUCERS)
        for (size_t j = 0; j < r->r_ncs; j++)
            RULE(t, weft_collection_producer_done(r->r_cs[j]) == 0);
    stress_where(t->t_slot, "done");
    atomic_fetch_sub_explicit(&r->r_producers_left, 1, memory_order_relaxed);
    return NULL;
}

/* ---- consumers ---------------------------------------------------------- */

/* Drain a shut-down member: its items need no task_done. */
static void drain_cancelled(thr *t, weft_collection *c)
{
    void *out[16];
    size_t n;
    while ((n = weft_collection_drain(c, out, 1 + stress_below(&t->t_rng, 16))) > 0) {
        for (size_t j = 0; j < n; j++)
            note_item(t, out[j], t->t_r->r_drained);
        t->t_ops++;
    }
}

static void *consumer_main(void *arg)
{
    thr *t = arg;
    round_ctx *r = t->t_r;
    bool done[MAXCS] = {false}, cancelled[MAXCS] = {false};
    /* Once a member is shut down, take_from_any may keep answering
     * ECANCELED: the consumer goes on with single takes. */
    bool any_ok = r->r_any;
    for (;;) {
        int64_t to = rand_timeout(&t->t_rng);
        void *it = (void *)(uintptr_t)0xdeadbeef;
        size_t i = 0, idx = (size_t)-1;
        int rc;
        bool any = any_ok && stress_below(&t->t_rng, 2);
        unsigned pick = (unsigned)stress_below(&t->t_rng, 16);
        if (!any && pick == 0 &&
            (r->r_mode == M_COMPLETE || r->r_mode == M_ERROR || r->r_mode == M_PRODUCERS)) {
            /* A drain before any shutdown: the items still need task_done. */
            stress_progress(t->t_slot, "drain");
            i = stress_below(&t->t_rng, r->r_ncs);
            void *out[8];
            size_t n = weft_collection_drain(r->r_cs[i], out, 1 + stress_below(&t->t_rng, 8));
            for (size_t j = 0; j < n; j++) {
                note_item(t, out[j], r->r_drained);
                RULE(t, weft_collection_task_done(r->r_cs[i]) == 0);
                count_ok(r);
            }
            t->t_ops++;
            continue;
        }
        stress_progress(t->t_slot, any ? "take_from_any" : "try_take");
        if (any) {
            rc = weft_collection_take_from_any(r->r_cs, r->r_ncs, &it, &idx, to);
            if (rc == 0) {
                RULE(t, idx < r->r_ncs);
                i = idx < r->r_ncs ? idx : 0;
            }
        } else {
            i = stress_below(&t->t_rng, r->r_ncs);
            if (done[i])
                continue;
            to = single_timeout(r, to);
            rc = to == WEFT_FOREVER && pick < 8 ? weft_collection_take(r->r_cs[i], &it)
                                                : weft_collection_try_take(r->r_cs[i], &it, to);
        }
        t->t_ops++;
        switch (rc) {
        case 0:
            note_item(t, it, r->r_taken);
            RULE(t, !cancelled[i]);
            RULE(t, weft_collection_task_done(r->r_cs[i]) == 0);
            count_ok(r);
            break;
        case EAGAIN:
            RULE(t, to == WEFT_NO_WAIT);
            RULE(t, it == (void *)(uintptr_t)0xdeadbeef);
            break;
        case ETIMEDOUT:
            RULE(t, to > 0);
            RULE(t, it == (void *)(uintptr_t)0xdeadbeef);
            break;
        case STRESS_ERR:
            RULE(t, r->r_mode == M_ERROR);
            /* fall through - closed, as with EPIPE */
        case EPIPE:
            RULE(t, rc == STRESS_ERR || r->r_mode != M_ERROR);
            if (!any) {
                RULE(t, !cancelled[i]);
                RULE(t, weft_collection_is_completed(r->r_cs[i]));
                done[i] = true;
            }
            break;
        case ECANCELED:
            if (!any) {
                cancelled[i] = done[i] = true;
                drain_cancelled(t, r->r_cs[i]);
            }
            break;
        default:
            RULE(t, 0);
        }
        if (any && (rc == EPIPE || rc == STRESS_ERR || rc == ECANCELED)) {
            /* EPIPE: every member is completed. ECANCELED: one is shut
             * down; find out with single non-blocking takes. */
            for (size_t j = 0; j < r->r_ncs; j++) {
                if (done[j])
                    continue;
                void *x;
                int c2 = weft_collection_try_take(r->r_cs[j], &x, WEFT_NO_WAIT);
                t->t_ops++;
                if (c2 == 0) {
                    RULE(t, rc == ECANCELED); /* EPIPE said all were empty */
                    note_item(t, x, r->r_taken);
                    RULE(t, weft_collection_task_done(r->r_cs[j]) == 0);
                    count_ok(r);
                } else if (c2 == EPIPE || c2 == STRESS_ERR) {
                    RULE(t, (c2 == STRESS_ERR) == (r->r_mode == M_ERROR));
                    done[j] = true;
                } else if (c2 == ECANCELED) {
                    done[j] = cancelled[j] = true;
                    drain_cancelled(t, r->r_cs[j]);
                } else {
                    RULE(t, c2 == EAGAIN && rc == ECANCELED);
                }
            }
        }
        bool all = true;
        for (size_t j = 0; j < r->r_ncs; j++)
            all = all && done[j];
        if (all)
            break;
        for (size_t j = 0; j < r->r_ncs; j++)
            if (cancelled[j])
                any_ok = false;
    }
    stress_where(t->t_slot, "done");
    return NULL;
}

/* ---- joiners and the controller ---------------------------------------- */

typedef struct {
    weft_collection *j_c;
    int j_rc;
    stress_slot *j_slot;
} joiner;

static void *joiner_main(void *arg)
{
    joiner *j = arg;
    stress_where(j->j_slot, "join");
    j->j_rc = weft_collection_join(j->j_c);
    stress_progress(j->j_slot, "joined");
    return NULL;
}

typedef struct {
    round_ctx *k_r;
    stress_rng k_rng;
    stress_slot *k_slot;
} controller;

/* Wait until threshold successful operations happened or the producers are
 * all gone (then nothing more may come). Polls, yielding: no sleep. */
static void wait_ops(controller *k, uint64_t threshold)
{
    round_ctx *r = k->k_r;
    while (atomic_load_explicit(&r->r_okops, memory_order_relaxed) < threshold &&
           atomic_load_explicit(&r->r_producers_left, memory_order_relaxed) > 0) {
        stress_where(k->k_slot, "waiting for ops");
        sched_yield();
    }
}

static void fire(controller *k, size_t i, bool shutdown)
{
    round_ctx *r = k->k_r;
    stress_progress(k->k_slot, shutdown ? "shutdown" : "complete_adding");
    if (shutdown) {
        /* release: pairs with consumers' acquire (see r_shut). */
        atomic_store_explicit(&r->r_shut[i], true, memory_order_release);
        weft_collection_shutdown(r->r_cs[i]);
    } else if (r->r_mode == M_ERROR) {
        if (weft_collection_complete_adding_error(r->r_cs[i], STRESS_ERR) != 0)
            abort(); /* the first close of this member */
    } else {
        weft_collection_complete_adding(r->r_cs[i]);
    }
}

static void *controller_main(void *arg)
{
    controller *k = arg;
    round_ctx *r = k->k_r;
    /* Members are closed one by one, each at its own moment. */
    for (size_t i = 0; i < r->r_ncs; i++) {
        wait_ops(k, r->r_fire1 + i * stress_below(&k->k_rng, 200));
        switch (r->r_mode) {
        case M_COMPLETE:
            fire(k, i, false);
            break;
        case M_SHUTDOWN:
            fire(k, i, true);
            break;
        case M_COMPLETE_THEN_SHUTDOWN:
            fire(k, i, false);
            wait_ops(k, r->r_fire2);
            fire(k, i, true);
            break;
        case M_SHUTDOWN_THEN_COMPLETE:
            fire(k, i, true);
            fire(k, i, false); /* changes nothing */
            break;
        case M_ERROR:
            fire(k, i, false);
            break;
        default: /* M_PRODUCERS: the last producer_done closes */
            break;
        }
    }
    stress_where(k->k_slot, "done");
    return NULL;
}

/* ---- a round ------------------------------------------------------------ */

static int cmp_item(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    /* Key: the sequence number mixed, so the heap is exercised. */
    uint32_t kx = (uint32_t)(x * 2654435761u) >> 20, ky = (uint32_t)(y * 2654435761u) >> 20;
    return (kx > ky) - (kx < ky);
}

static void run_round(stress_rng *g, weft_order order, size_t capacity, size_t ncs)
{
    round_ctx *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->r_ncs = ncs;
    r->r_any = ncs > 1;
    r->r_np = 1 + (int)stress_below(g, MAXP);
    r->r_nc = 1 + (int)stress_below(g, MAXC);
    r->r_mode = (enum mode)stress_below(g, M_NMODES);
    uint64_t total = (uint64_t)r->r_np * BUDGET;
    r->r_fire1 = stress_below(g, total + total / 4);
    r->r_fire2 = r->r_fire1 + stress_below(g, total / 2 + 1);
    atomic_init(&r->r_okops, 0);
    atomic_init(&r->r_producers_left, r->r_np);
    for (size_t i = 0; i < ncs; i++) {
        /* The any-variants' members differ: the first as the case asks,
         * then an unbounded FIFO and a bounded LIFO. */
        weft_collection_options o = {.capacity = capacity, .order = order, .compare = cmp_item};
        if (i == 1)
            o = (weft_collection_options){.order = WEFT_ORDER_FIFO};
        else if (i == 2)
            o = (weft_collection_options){.capacity = capacity + 1, .order = WEFT_ORDER_LIFO};
        ck_assert_int_eq(weft_collection_create(&r->r_cs[i], &o), 0);
        atomic_init(&r->r_shut[i], false);
        if (r->r_mode == M_PRODUCERS)
            for (int p = 0; p < r->r_np; p++)
                ck_assert_int_eq(weft_collection_add_producer(r->r_cs[i]), 0);
    }
    for (int p = 0; p < MAXP; p++)
        for (int k = 0; k < BUDGET; k++) {
            atomic_init(&r->r_taken[p][k], 0);
            atomic_init(&r->r_drained[p][k], 0);
        }

    stress_watchdog wd;
    int nslots = r->r_np + r->r_nc + (int)ncs + 2;
    stress_watchdog_init(&wd, "stress_collection", nslots, 20.0);
    int s = 0;
    stress_slot *main_slot = &wd.wd_slots[s++];
    main_slot->sl_name = "main";
    thr prod[MAXP], cons[MAXC];
    joiner js[MAXCS];
    controller k = {r, {0}, &wd.wd_slots[s++]};
    k.k_slot->sl_name = "controller";
    stress_rng_init(&k.k_rng, stress_next(g));
    for (int i = 0; i < r->r_np; i++) {
        prod[i] = (thr){r, i, {0}, &wd.wd_slots[s++], 0, 0};
        prod[i].t_slot->sl_name = "producer";
        stress_rng_init(&prod[i].t_rng, stress_next(g));
    }
    for (int i = 0; i < r->r_nc; i++) {
        cons[i] = (thr){r, i, {0}, &wd.wd_slots[s++], 0, 0};
        cons[i].t_slot->sl_name = "consumer";
        stress_rng_init(&cons[i].t_rng, stress_next(g));
    }
    for (size_t i = 0; i < ncs; i++) {
        js[i] = (joiner){r->r_cs[i], -1, &wd.wd_slots[s++]};
        js[i].j_slot->sl_name = "joiner";
    }
    stress_watchdog_start(&wd);

    pthread_t pt[MAXP], ct[MAXC], jt[MAXCS], kt;
    for (size_t i = 0; i < ncs; i++)
        ck_assert_int_eq(pthread_create(&jt[i], NULL, joiner_main, &js[i]), 0);
    for (int i = 0; i < r->r_nc; i++)
        ck_assert_int_eq(pthread_create(&ct[i], NULL, consumer_main, &cons[i]), 0);
    for (int i = 0; i < r->r_np; i++)
        ck_assert_int_eq(pthread_create(&pt[i], NULL, producer_main, &prod[i]), 0);
    ck_assert_int_eq(pthread_create(&kt, NULL, controller_main, &k), 0);

    stress_where(main_slot, "joining producers");
    for (int i = 0; i < r->r_np; i++)
        pthread_join(pt[i], NULL);
    stress_where(main_slot, "joining controller");
    pthread_join(kt, NULL);
    stress_where(main_slot, "joining consumers");
    for (int i = 0; i < r->r_nc; i++)
        pthread_join(ct[i], NULL);
    /* Whatever is left comes back with drain. Members that were never shut
     * down are empty here (their consumers stopped on EPIPE). */
    stress_where(main_slot, "final drain");
    for (size_t i = 0; i < ncs; i++) {
        void *out[64];
        size_t n;
        bool shut = atomic_load_explicit(&r->r_shut[i], memory_order_acquire);
        while ((n = weft_collection_drain(r->r_cs[i], out, 64)) > 0) {
            ck_assert_msg(shut, "items left in a collection that was not shut down");
            for (size_t j = 0; j < n; j++) {
                int p = ITEM_P(out[j]), q = ITEM_K(out[j]);
                ck_assert(p >= 0 && p < r->r_np && q >= 0 && q < BUDGET);
                atomic_fetch_add_explicit(&r->r_drained[p][q], 1, memory_order_relaxed);
            }
        }
        ck_assert(weft_collection_is_completed(r->r_cs[i]));
    }
    stress_where(main_slot, "joining joiners");
    for (size_t i = 0; i < ncs; i++) {
        pthread_join(jt[i], NULL);
        ck_assert_int_eq(js[i].j_rc, 0);
        ck_assert_int_eq(weft_collection_try_join(r->r_cs[i], WEFT_NO_WAIT), 0);
        ck_assert_int_eq(weft_collection_task_done(r->r_cs[i]), EINVAL);
    }
    stress_watchdog_stop(&wd);

    /* The verdicts. */
    uint64_t ops = 0, added = 0, taken = 0, drained = 0;
    for (int i = 0; i < r->r_np; i++) {
        ck_assert_msg(prod[i].t_bad == 0, "producer %d broke the rule at line %d (mode %d)", i,
                      prod[i].t_bad, (int)r->r_mode);
        ops += prod[i].t_ops;
    }
    for (int i = 0; i < r->r_nc; i++) {
        ck_assert_msg(cons[i].t_bad == 0, "consumer %d broke the rule at line %d (mode %d)", i,
                      cons[i].t_bad, (int)r->r_mode);
        ops += cons[i].t_ops;
    }
    for (int p = 0; p < r->r_np; p++)
        for (int q = 0; q < BUDGET; q++) {
            unsigned a = r->r_added[p][q];
            unsigned t = atomic_load_explicit(&r->r_taken[p][q], memory_order_relaxed);
            unsigned d = atomic_load_explicit(&r->r_drained[p][q], memory_order_relaxed);
            if (t + d != a)
                ck_abort_msg("item (%d,%d): added %u, taken %u, drained %u (mode %d)", p, q, a, t,
                             d, (int)r->r_mode);
            added += a;
            taken += t;
            drained += d;
        }
    /* The statistics over the members: what the round counted. */
    uint64_t s_added = 0, s_taken = 0, s_drained = 0;
    for (size_t i = 0; i < ncs; i++) {
        struct weft_collection_stats st;
        ck_assert_int_eq(weft_collection_stats(r->r_cs[i], &st), 0);
        s_added += st.added;
        s_taken += st.taken;
        s_drained += st.drained;
        size_t cap = weft_collection_capacity(r->r_cs[i]);
        ck_assert(cap == 0 || st.max_count <= cap);
        ck_assert((st.take_waits == 0) == (st.take_wait_ns == 0));
        ck_assert((st.add_waits == 0) == (st.add_wait_ns == 0));
    }
    ck_assert_uint_eq(s_added, added);
    ck_assert_uint_eq(s_taken, taken);
    ck_assert_uint_eq(s_drained, drained);
    for (size_t i = 0; i < ncs; i++)
        weft_collection_destroy(r->r_cs[i]);
    g_ops += ops;
    g_items += added;
    g_taken += taken;
    g_drained += drained;
    free(r);
}

/* The test cases, which share the duration. */
#define N_CASES 6

static void run_for(const char *name, weft_order order, size_t capacity, size_t ncs)
{
    int64_t deadline = stress_now_ns() + stress_duration_ns() / N_CASES;
    stress_rng g;
    stress_rng_init(&g, stress_seed_for(name, 0));
    int rounds = 0;
    do {
        run_round(&g, order, capacity, ncs);
        rounds++;
    } while (stress_now_ns() < deadline);
    printf("%s: %d rounds, %" PRIu64 " operations, %" PRIu64 " items added = %" PRIu64
           " taken + %" PRIu64 " drained; nothing lost, nothing duplicated\n",
           name, rounds, g_ops, g_items, g_taken, g_drained);
}

START_TEST(fifo_unbounded)
{
    run_for("fifo_unbounded", WEFT_ORDER_FIFO, 0, 1);
}
END_TEST

START_TEST(fifo_bounded)
{
    run_for("fifo_bounded", WEFT_ORDER_FIFO, 4, 1);
}
END_TEST

START_TEST(lifo_bounded)
{
    run_for("lifo_bounded", WEFT_ORDER_LIFO, 1, 1);
}
END_TEST

START_TEST(priority_bounded)
{
    run_for("priority_bounded", WEFT_ORDER_PRIORITY, 16, 1);
}
END_TEST

START_TEST(any_three_bounded)
{
    run_for("any_three_bounded", WEFT_ORDER_FIFO, 2, 3);
}
END_TEST

START_TEST(any_three_priority)
{
    run_for("any_three_priority", WEFT_ORDER_PRIORITY, 3, 3);
}
END_TEST

int main(void)
{
    stress_seed(); /* print it once, before Check forks */
    Suite *s = suite_create("stress_collection");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"fifo_unbounded", fifo_unbounded},
        {"fifo_bounded", fifo_bounded},
        {"lifo_bounded", lifo_bounded},
        {"priority_bounded", priority_bounded},
        {"any_three_bounded", any_three_bounded},
        {"any_three_priority", any_three_priority},
    };
    _Static_assert(sizeof cases / sizeof cases[0] == N_CASES, "N_CASES counts the cases");
    /* The duration is shared among the cases; the rest is slack for the
     * last round and slow sanitizer builds. */
    double timeout = 120 + 2 * (double)stress_duration_ns() / 1e9;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        weft_test_case(s, cases[i].name, cases[i].test, timeout);
    return weft_test_run(s);
}
