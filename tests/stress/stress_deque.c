/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/stress_deque.c - the split Chase-Lev deque (runtime/deque.h)
 * under an owner racing 1..4 thieves.
 *
 * Each round pushes every item of a 64 Ki array exactly once; the owner
 * mixes bursts of pushes with private pops and shared takes (Le et al.
 * take), publishes when a thief is hungry and sometimes publishes
 * everything, while thieves steal; at the end of the round every item must
 * have been obtained exactly once (owner or thief), and the thieves must
 * have taken part. Thieves that find the shared part empty now and then
 * force a publication of the owner's private part (deque.c's forced
 * publication: the membarrier handshake with the owner's pushes and pops,
 * and the owner's take-back of a task it popped as it was published); the
 * run must have forced some. The push probability varies per round (seeded): low
 * keeps a tiny deque that wraps around its ring of 2 slots over and over,
 * high makes it grow many times. Case "fresh" starts each round with a new
 * deque of capacity 2 (growth from scratch), case "long_lived" keeps one
 * deque for the whole run (indices keep rising, the ring wraps). The
 * WEFT_DEBUG_YIELD build (preset yield) widens the race windows at the
 * WEFT__YIELD() points of deque.c. Seeded (WEFT_SEED), time-bounded
 * (WEFT_STRESS_SECONDS), watchdog on stalls.
 */
#define _GNU_SOURCE
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>


#include "pool/deque.h"
#include "stress_util.h"
#include "pool/sched.h"
#include "check_main.h"

#define NITEMS (1 << 16)
#define MAXTHIEVES 4

static struct weft__task_impl *items;
static _Atomic unsigned char *got;

typedef struct {
    weft__deque *r_dq;
    atomic_bool r_done; /* release by the owner once it stopped; acquire */
    int r_nthieves;
    pthread_barrier_t r_start;
} round_ctx;

typedef struct {
    round_ctx *th_r;
    stress_slot *th_slot;
    uint64_t th_stolen, th_attempts, th_forced;
    int th_bad;
} thief;

static int record(struct weft__task_impl *x)
{
    ptrdiff_t i = x - items;
    if (i < 0 || i >= NITEMS)
        return 1;
    /* relaxed: a count; the joins order it before the check. */
    return atomic_fetch_add_explicit(&got[i], 1, memory_order_relaxed) != 0;
}

static void *thief_main(void *arg)
{
    thief *t = arg;
    pthread_barrier_wait(&t->th_r->r_start);
    for (;;) {
        /* acquire: pairs with the owner's release; after it, one more
         * empty steal proves the deque is empty for good. */
        bool done = atomic_load_explicit(&t->th_r->r_done, memory_order_acquire);
        struct weft__task_impl *x;
        int r = weft__deque_steal(t->th_r->r_dq, &x);
        t->th_attempts++;
        if ((t->th_attempts & 255) == 0)
            stress_progress(t->th_slot, "steal");
        if (r == WEFT__STEAL_OK) {
            t->th_stolen++;
            if (record(x) && t->th_bad == 0)
                t->th_bad = 1;
        } else if (r == WEFT__STEAL_EMPTY && done) {
            break;
        } else if (r == WEFT__STEAL_EMPTY && (t->th_attempts & 15) == 0) {
            t->th_forced += weft__deque_force(t->th_r->r_dq);
        }
    }
    stress_where(t->th_slot, "done");
    return NULL;
}

typedef struct {
    uint64_t s_rounds, s_ops, s_stolen, s_grown, s_forced;
} stats;

/* The owner's pop: the private part first (taking the popped task back as
 * a shared one if a forcing thief published it meanwhile), then the shared
 * part. */
static struct weft__task_impl *owner_pop(weft__deque *dq)
{
    struct weft__task_impl *t = weft__deque_pop_private(dq);
    if (t != NULL) {
        bool published;
        if (weft__deque_hungry(dq) && !weft__deque_serve(dq, t, &published))
            return NULL; /* stolen: recorded by its thief */
        return t;
    }
    return weft__deque_take(dq);
}

/* One round: every item pushed once and obtained once. */
static void run_round(weft__deque *dq, stress_rng *g, stress_watchdog *wd, stats *st)
{
    round_ctx r;
    r.r_dq = dq;
    atomic_init(&r.r_done, false);
    r.r_nthieves = 1 + (int)stress_below(g, MAXTHIEVES);
    pthread_barrier_init(&r.r_start, NULL, (unsigned)r.r_nthieves + 1);
    for (int i = 0; i < NITEMS; i++)
        atomic_store_explicit(&got[i], 0, memory_order_relaxed);
    thief th[MAXTHIEVES];
    pthread_t tid[MAXTHIEVES];
    for (int i = 0; i < r.r_nthieves; i++) {
        th[i] = (thief){&r, &wd->wd_slots[1 + i], 0, 0, 0, 0};
        ck_assert_int_eq(pthread_create(&tid[i], NULL, thief_main, &th[i]), 0);
    }
    /* Push probability in 1/16: 5 (tiny deque, wrap-around) .. 12 (growth). */
    unsigned push16 = st->s_rounds == 0 ? 12 : 5 + (unsigned)stress_below(g, 8);
    unsigned long grown0 = dq->dq_grown;
    stress_slot *me = &wd->wd_slots[0];
    pthread_barrier_wait(&r.r_start);
    int next = 0, bad = 0;
    uint64_t ops = 0;
    while (next < NITEMS) {
        uint64_t x = stress_next(g);
        if ((x & 15) < push16) {
            /* A burst of 1..8 pushes. */
            int burst = 1 + (int)((x >> 8) & 7);
            for (int b = 0; b < burst && next < NITEMS; b++) {
                if (weft__deque_push(dq, &items[next++]) != 0)
                    ck_abort_msg("push failed");
                ops++;
            }
        } else {
            struct weft__task_impl *t = owner_pop(dq);
            if (t != NULL)
                bad |= record(t);
            ops++;
        }
        if (weft__deque_hungry(dq))
            weft__deque_publish(dq);
        else if (((x >> 16) & 63) == 0)
            weft__deque_publish_all(dq);
        if ((ops & 1023) == 0)
            stress_progress(me, "owner loop");
    }
    /* Drain: the rest goes to whoever gets it. */
    for (;;) {
        if (weft__deque_hungry(dq))
            weft__deque_publish(dq);
        struct weft__task_impl *t = owner_pop(dq);
        if (t == NULL && weft__deque_size(dq) == 0)
            break;
        if (t == NULL)
            continue;
        bad |= record(t);
        ops++;
    }
    /* release: pairs with the thieves' acquire of r_done. */
    atomic_store_explicit(&r.r_done, true, memory_order_release);
    stress_where(me, "joining thieves");
    uint64_t stolen = 0;
    for (int i = 0; i < r.r_nthieves; i++) {
        pthread_join(tid[i], NULL);
        ck_assert_msg(th[i].th_bad == 0, "a thief got an item twice or a foreign pointer");
        stolen += th[i].th_stolen;
        ops += th[i].th_attempts;
        st->s_forced += th[i].th_forced;
    }
    pthread_barrier_destroy(&r.r_start);
    ck_assert_msg(bad == 0, "the owner got an item twice or a foreign pointer");
    int missing = 0;
    for (int i = 0; i < NITEMS; i++)
        missing += atomic_load_explicit(&got[i], memory_order_relaxed) != 1;
    ck_assert_msg(missing == 0, "%d items not obtained exactly once (WEFT_SEED=%" PRIu64 ")",
                  missing, stress_seed());
    ck_assert_int_eq(weft__deque_size(dq), 0);
    stress_progress(me, "round done");
    st->s_rounds++;
    st->s_ops += ops;
    st->s_stolen += stolen;
    st->s_grown += dq->dq_grown - grown0;
}

static void run(const char *name, bool fresh)
{
    stress_rng g;
    stress_rng_init(&g, stress_seed_for(name, 0));
    items = calloc(NITEMS, sizeof *items);
    got = calloc(NITEMS, sizeof *got);
    ck_assert(items && got);
    stress_watchdog wd;
    stress_watchdog_init(&wd, name, 1 + MAXTHIEVES, 20.0);
    wd.wd_slots[0].sl_name = "owner";
    for (int i = 1; i <= MAXTHIEVES; i++)
        wd.wd_slots[i].sl_name = "thief";
    stress_watchdog_start(&wd);
    int64_t deadline = stress_now_ns() + stress_duration_ns() / 2;
    stats st = {0};
    weft__deque dq;
    if (!fresh)
        ck_assert_int_eq(weft__deque_init(&dq, 2), 0);
    do {
        if (fresh)
            ck_assert_int_eq(weft__deque_init(&dq, 2), 0);
        run_round(&dq, &g, &wd, &st);
        if (fresh)
            weft__deque_fini(&dq);
    } while (stress_now_ns() < deadline);
    if (!fresh)
        weft__deque_fini(&dq);
    stress_watchdog_stop(&wd);
    ck_assert_uint_gt(st.s_stolen, 0); /* else the thieves proved nothing */
    ck_assert_uint_gt(st.s_grown, 0);
    ck_assert_uint_gt(st.s_forced, 0); /* else forced publication was not exercised */
    printf("%s: %" PRIu64 " rounds, %" PRIu64 " items each obtained exactly once, %" PRIu64
           " stolen, %" PRIu64 " deque operations, %" PRIu64 " growths, %" PRIu64
           " forced publications\n",
           name, st.s_rounds, st.s_rounds * (uint64_t)NITEMS, st.s_stolen, st.s_ops,
           st.s_grown, st.s_forced);
    free(items);
    free(got);
}

START_TEST(fresh)
{
    run("deque_fresh", true);
}
END_TEST

START_TEST(long_lived)
{
    run("deque_long_lived", false);
}
END_TEST

int main(void)
{
    stress_seed();
    Suite *s = suite_create("stress_deque");
    weft_test_case(s, "fresh", fresh, 120 + (double)stress_duration_ns() / 1e9);
    weft_test_case(s, "long_lived", long_lived, 120 + (double)stress_duration_ns() / 1e9);
    return weft_test_run(s);
}
