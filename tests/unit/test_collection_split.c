/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_collection_split.c - the race windows of the split-lock
 * collection (runtime/collection.c: adders hold c_add_lock, takers
 * c_take_lock, each side caches the other's ring index and the cross-side
 * wake-ups are a seq_cst handshake on per-list waiter counts).
 *
 * A lost wake-up shows up as a hang (the TCase timeout fails the test), a
 * lost or duplicated item as a failed count or order check. Threads are
 * ordered with barriers and the waiter hook, never with sleeps.
 */
#define _GNU_SOURCE /* pthread barriers, sched_yield under -std=c11 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/collection.h>

#include "coll_util.h"
#include "check_main.h"

#ifdef WEFT_TSAN
enum { N_ITEMS = 20000, N_PINGS = 2000, N_ROUNDS = 20 };
#else
enum { N_ITEMS = 50000, N_PINGS = 5000, N_ROUNDS = 100 };
#endif

static weft_collection *make(size_t capacity)
{
    return coll_make(capacity, WEFT_ORDER_FIFO, NULL);
}

/* ---- one producer, one consumer, strict order ------------------------ */

typedef struct {
    weft_collection *s_c;
    pthread_barrier_t *s_start;
    size_t s_n;
    bool s_task_done; /* consumer: call task_done per item */
    bool s_ok;        /* consumer: every item came, in order */
    size_t s_got;
} spsc_arg;

static void *spsc_producer(void *arg)
{
    spsc_arg *a = arg;
    pthread_barrier_wait(a->s_start);
    for (size_t i = 1; i <= a->s_n; i++)
        if (weft_collection_add(a->s_c, COLL_ITEM(i)) != 0)
            abort();
    weft_collection_complete_adding(a->s_c);
    return NULL;
}

static void *spsc_consumer(void *arg)
{
    spsc_arg *a = arg;
    void *it;
    a->s_ok = true;
    pthread_barrier_wait(a->s_start);
    while (weft_collection_take(a->s_c, &it) == 0) {
        if (COLL_VAL(it) != ++a->s_got)
            a->s_ok = false;
        if (a->s_task_done && weft_collection_task_done(a->s_c) != 0)
            a->s_ok = false;
    }
    return NULL;
}

static void spsc_run(size_t capacity, size_t n, bool task_done)
{
    weft_collection *c = make(capacity);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    spsc_arg a = {c, &start, n, task_done, false, 0};
    pthread_t p, q;
    ck_assert_int_eq(pthread_create(&q, NULL, spsc_consumer, &a), 0);
    ck_assert_int_eq(pthread_create(&p, NULL, spsc_producer, &a), 0);
    pthread_join(p, NULL);
    pthread_join(q, NULL);
    ck_assert(a.s_ok);
    ck_assert_uint_eq(a.s_got, n);
    ck_assert(weft_collection_is_completed(c));
    ck_assert_uint_eq(weft_collection_count(c), 0);
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), task_done ? 0 : EAGAIN);
    pthread_barrier_destroy(&start);
    weft_collection_destroy(c);
}

/* The ring doubles (64 -> 2^k slots) while the consumer is taking: the
 * adder takes c_take_lock for the copy and the indices stay free-running,
 * so the consumer's cached c_tail stays valid. Strict FIFO order checks
 * that no slot was read before it was written or after it was reused. */
START_TEST(growth_while_taking)
{
    spsc_run(0, N_ITEMS, false);
    spsc_run(1000, N_ITEMS, false); /* bounded, not a power of two: grows to 1024 */
}
END_TEST

/* Capacity 1: every add after the first finds the collection full unless
 * the consumer just took, and every take finds it empty unless the adder
 * just added, so both handshakes (c_adders.wl_n against c_head, c_takers.wl_n
 * against c_tail) run on almost every item. A lost wake-up hangs. */
START_TEST(handshake_ping_pong)
{
    spsc_run(1, N_PINGS, true);
    spsc_run(2, N_PINGS, true);
    spsc_run(0, N_PINGS, true);
}
END_TEST

/* ---- join against task_done, unfinished = added - done -------------- */

typedef struct {
    weft_collection *j_c;
    pthread_barrier_t *j_step;
    int j_rounds;
} join_arg;

static void *join_worker(void *arg)
{
    join_arg *a = arg;
    void *it;
    for (int r = 0; r < a->j_rounds; r++) {
        pthread_barrier_wait(a->j_step);
        if (weft_collection_take(a->j_c, &it) != 0 || weft_collection_task_done(a->j_c) != 0)
            abort();
    }
    return NULL;
}

/* Each round: add one item, let the worker take and finish it while this
 * thread joins. The joiner registers on c_joiners and re-reads c_done; the
 * worker's task_done CASes c_done and then reads c_joiners.wl_n: whichever
 * comes second sees the other, so join returns (or the test hangs). */
START_TEST(join_races_task_done)
{
    weft_collection *c = make(0);
    pthread_barrier_t step;
    pthread_barrier_init(&step, NULL, 2);
    join_arg a = {c, &step, N_ROUNDS * 10};
    pthread_t w;
    ck_assert_int_eq(pthread_create(&w, NULL, join_worker, &a), 0);
    for (int r = 0; r < a.j_rounds; r++) {
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(r)), 0);
        pthread_barrier_wait(&step);
        ck_assert_int_eq(weft_collection_join(c), 0);
    }
    pthread_join(w, NULL);
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL); /* nothing unfinished */
    pthread_barrier_destroy(&step);
    weft_collection_destroy(c);
}
END_TEST

/* ---- shutdown and complete_adding against running adders and takers -- */

/* Per adder, so that an unbounded run stays small; the close usually
 * comes first. */
enum { HAMMER_MAX_ADDS = 5000 };

typedef struct {
    weft_collection *h_c;
    pthread_barrier_t *h_start;
    uintptr_t h_base;
    size_t h_ok;    /* adder: adds that returned 0; taker: items taken */
    int h_last;     /* the error that ended the loop */
    uint64_t h_sum; /* taker: sum of the items */
    atomic_size_t *h_progress; /* takes so far, by all takers */
} hammer_arg;

static void *hammer_adder(void *arg)
{
    hammer_arg *a = arg;
    pthread_barrier_wait(a->h_start);
    for (uintptr_t i = 1; i <= HAMMER_MAX_ADDS; i++) {
        int r = weft_collection_add(a->h_c, COLL_ITEM(a->h_base + i));
        if (r != 0) {
            a->h_last = r;
            return NULL;
        }
        a->h_ok++;
        a->h_sum += a->h_base + i;
    }
    a->h_last = 0; /* finished before the close */
    return NULL;
}

static void *hammer_taker(void *arg)
{
    hammer_arg *a = arg;
    void *it;
    pthread_barrier_wait(a->h_start);
    for (;;) {
        int r = weft_collection_take(a->h_c, &it);
        if (r != 0) {
            a->h_last = r;
            return NULL;
        }
        a->h_ok++;
        a->h_sum += COLL_VAL(it);
        /* relaxed: a progress hint for the main thread. */
        atomic_fetch_add_explicit(a->h_progress, 1, memory_order_relaxed);
    }
}

/* Two adders and two takers run flat out on a small bounded (or unbounded)
 * collection; the main thread shuts it down (or completes adding) once
 * some items went through. Shutdown takes both locks: afterwards every
 * adder and taker reports ECANCELED (complete_adding: adders EPIPE, takers
 * EPIPE once empty), and what was added is exactly what was taken plus
 * what drain returns; join returns at once after shutdown (the items
 * inside were dropped from the unfinished count, the taken ones are
 * marked done here). */
static void hammer_run(size_t capacity, bool shutdown, int round)
{
    enum { A = 2, T = 2 };
    weft_collection *c = make(capacity);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, A + T + 1);
    hammer_arg h[A + T];
    pthread_t th[A + T];
    atomic_size_t progress;
    atomic_init(&progress, 0);
    for (int i = 0; i < A + T; i++) {
        h[i] = (hammer_arg){c, &start, (uintptr_t)(i + 1) << 40, 0, 0, 0, &progress};
        ck_assert_int_eq(pthread_create(&th[i], NULL, i < A ? hammer_adder : hammer_taker, &h[i]),
                         0);
    }
    pthread_barrier_wait(&start);
    /* Let some items through, then close while all four are running. */
    while (atomic_load_explicit(&progress, memory_order_relaxed) < (size_t)(50 * (round % 7 + 1)))
        sched_yield();
    if (shutdown)
        weft_collection_shutdown(c);
    else
        weft_collection_complete_adding(c);
    size_t taken = 0, added = 0;
    uint64_t sum_added = 0, sum_taken = 0;
    for (int i = 0; i < A + T; i++) {
        pthread_join(th[i], NULL);
        if (i < A) {
            if (h[i].h_last != 0)
                ck_assert_int_eq(h[i].h_last, shutdown ? ECANCELED : EPIPE);
            added += h[i].h_ok;
            sum_added += h[i].h_sum;
        } else {
            ck_assert_int_eq(h[i].h_last, shutdown ? ECANCELED : EPIPE);
            taken += h[i].h_ok;
            sum_taken += h[i].h_sum;
        }
    }
    void *buf[64];
    size_t k, drained = 0;
    while ((k = weft_collection_drain(c, buf, 64)) > 0) {
        for (size_t i = 0; i < k; i++)
            sum_taken += COLL_VAL(buf[i]);
        drained += k;
    }
    if (!shutdown)
        ck_assert_uint_eq(drained, 0); /* takers stop only when completed */
    ck_assert_uint_eq(taken + drained, added);
    ck_assert(sum_taken == sum_added);
    ck_assert(weft_collection_is_completed(c));
    /* Unfinished now: the items taken by a take form (shutdown dropped the
     * ones it found inside; drain after shutdown needs no task_done). */
    for (size_t i = 0; i < taken; i++) {
        ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), EAGAIN);
        ck_assert_int_eq(weft_collection_task_done(c), 0);
    }
    ck_assert_int_eq(weft_collection_try_join(c, WEFT_NO_WAIT), 0);
    ck_assert_int_eq(weft_collection_task_done(c), EINVAL);
    pthread_barrier_destroy(&start);
    weft_collection_destroy(c);
}

START_TEST(shutdown_races_both_sides)
{
    for (int r = 0; r < N_ROUNDS / 5; r++) {
        hammer_run(4, true, r);
        hammer_run(0, true, r);
    }
}
END_TEST

/* complete_adding takes c_add_lock then c_take_lock while adders hold the
 * first (and, when growing, both) and takers the second. */
START_TEST(complete_adding_races_both_sides)
{
    for (int r = 0; r < N_ROUNDS / 5; r++) {
        hammer_run(4, false, r);
        hammer_run(0, false, r);
    }
}
END_TEST

/* ---- take_from_any against adds on the split locks ------------------- */

typedef struct {
    weft_collection *const *y_cs;
    size_t y_n;
    pthread_barrier_t *y_start;
    size_t y_items;
    bool y_ok;
    size_t y_got;
} any_arg;

static void *any_producer(void *arg)
{
    any_arg *a = arg;
    pthread_barrier_wait(a->y_start);
    for (size_t i = 1; i <= a->y_items; i++)
        if (weft_collection_add(a->y_cs[i % a->y_n], COLL_ITEM(i)) != 0)
            abort();
    for (size_t i = 0; i < a->y_n; i++)
        weft_collection_complete_adding(a->y_cs[i]);
    return NULL;
}

/* The consumer mostly finds every member empty and sleeps; each add (on
 * c_add_lock only) must see the consumer's link on that member's c_takers
 * (wl_n raised) or the consumer's scan must see the add. Items come back
 * in order per member. */
static void *any_consumer(void *arg)
{
    any_arg *a = arg;
    size_t last[4] = {0};
    void *it;
    size_t idx;
    a->y_ok = true;
    pthread_barrier_wait(a->y_start);
    for (;;) {
        int r = weft_collection_take_from_any(a->y_cs, a->y_n, &it, &idx, WEFT_FOREVER);
        if (r == EPIPE)
            break;
        if (r != 0 || idx >= a->y_n || COLL_VAL(it) % a->y_n != idx || COLL_VAL(it) <= last[idx]) {
            a->y_ok = false;
            break;
        }
        last[idx] = COLL_VAL(it);
        a->y_got++;
    }
    return NULL;
}

START_TEST(take_from_any_races_adds)
{
    weft_collection *cs[3] = {make(0), make(2), make(0)};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    any_arg a = {cs, 3, &start, N_PINGS, false, 0};
    pthread_t p, q;
    ck_assert_int_eq(pthread_create(&q, NULL, any_consumer, &a), 0);
    ck_assert_int_eq(pthread_create(&p, NULL, any_producer, &a), 0);
    pthread_join(p, NULL);
    pthread_join(q, NULL);
    ck_assert(a.y_ok);
    ck_assert_uint_eq(a.y_got, N_PINGS);
    for (int i = 0; i < 3; i++)
        weft_collection_destroy(cs[i]);
    pthread_barrier_destroy(&start);
}
END_TEST

/* add_to_any blocked on full bounded members is woken by a take, which
 * holds only c_take_lock and reads c_adders.wl_n (raised by the call's
 * link) after its store of c_head. */
START_TEST(add_to_any_races_takes)
{
    weft_collection *cs[2] = {make(1), make(1)};
    void *it;
    ck_assert_int_eq(weft_collection_add(cs[0], COLL_ITEM(100)), 0);
    ck_assert_int_eq(weft_collection_add(cs[1], COLL_ITEM(200)), 0);
    for (int r = 0; r < N_ROUNDS; r++) {
        coll_op o;
        coll_op_start_any(&o, COLL_OP_ADD_ANY, cs, 2, COLL_ITEM(r + 1), WEFT_FOREVER);
        size_t m = (size_t)r % 4 / 2;
        if (r % 2)
            coll_wait_waiters(cs[m], 1); /* sometimes surely blocked */
        ck_assert_int_eq(weft_collection_take(cs[m], &it), 0);
        ck_assert_int_eq(coll_op_join(&o), 0);
        ck_assert_uint_eq(o.op_index, m);
        ck_assert_uint_eq(weft_collection_count(cs[m]), 1);
    }
    for (int i = 0; i < 2; i++)
        weft_collection_destroy(cs[i]);
}
END_TEST

/* ---- a waiter signalled while it registers ------------------------------ */

/*
 * Where membarrier(2) exists, a waiter of a bounded FIFO collection pushes
 * its record, unlocks its side for the membarrier and relocks to re-check
 * (wait_on); the changer can pop and signal the record in that window, and
 * a barging call of the waiter's own side can take the item (the room) it
 * was signalled for. Each round: a helper thread blocks (take on an empty
 * collection of capacity 2, or add on a full one of capacity 1); as soon
 * as the hook counts it registered, the main thread makes it ready and
 * then, on odd rounds, barges with a non-blocking call of the helper's
 * side. Exactly one of the two gets the item (the slot), the other one
 * waits again or fails with EAGAIN; the waiter count must go back to 0 (a
 * record removed twice drives it below 0, a record left behind keeps it
 * up), and a lost wake-up hangs.
 */
typedef struct {
    weft_collection *g_c;
    pthread_barrier_t *g_round; /* start and end of each round */
    bool g_add;                 /* helper adds (else takes) */
    int g_rounds;
    uintptr_t g_got[N_ROUNDS * 10]; /* taker: what each round took */
    int g_bad;                      /* rounds whose call failed */
} reg_arg;

static void *reg_helper(void *arg)
{
    reg_arg *a = arg;
    for (int r = 0; r < a->g_rounds; r++) {
        pthread_barrier_wait(a->g_round);
        void *it = NULL;
        int e = a->g_add ? weft_collection_add(a->g_c, COLL_ITEM(r + 1))
                         : weft_collection_take(a->g_c, &it);
        if (e != 0)
            a->g_bad++;
        a->g_got[r] = COLL_VAL(it);
        pthread_barrier_wait(a->g_round);
    }
    return NULL;
}

static void reg_run(bool add)
{
    weft_collection *c = make(add ? 1 : 2);
    pthread_barrier_t round;
    pthread_barrier_init(&round, NULL, 2);
    reg_arg a = {c, &round, add, N_ROUNDS * 10, {0}, 0};
    pthread_t th;
    void *it;
    ck_assert_int_eq(pthread_create(&th, NULL, reg_helper, &a), 0);
    if (add)
        ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(0)), 0); /* full */
    for (int r = 0; r < a.g_rounds; r++) {
        pthread_barrier_wait(&round);
        coll_wait_waiters(c, 1);
        bool barge = r % 2;
        if (add) {
            /* Free the slot; a barging add may fill it first. */
            ck_assert_int_eq(weft_collection_try_take(c, &it, WEFT_NO_WAIT), 0);
            ck_assert_uint_eq(COLL_VAL(it), (uintptr_t)r); /* the last round's */
            int e =
                barge ? weft_collection_try_add(c, COLL_ITEM(1000000 + r), WEFT_NO_WAIT) : EAGAIN;
            ck_assert(e == 0 || e == EAGAIN);
            if (e == 0) /* we won the slot: make room for the helper again */
                ck_assert_int_eq(weft_collection_take(c, &it), 0);
            pthread_barrier_wait(&round);
            ck_assert_uint_eq(weft_collection_count(c), 1);
        } else {
            ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(r + 1)), 0);
            int e = barge ? weft_collection_try_take(c, &it, WEFT_NO_WAIT) : EAGAIN;
            ck_assert(e == 0 || e == EAGAIN);
            if (e == 0) { /* we took it: the helper waits again for this one */
                ck_assert_uint_eq(COLL_VAL(it), (uintptr_t)r + 1);
                ck_assert_int_eq(weft_collection_add(c, COLL_ITEM(r + 1)), 0);
            }
            pthread_barrier_wait(&round);
            ck_assert_uint_eq(a.g_got[r], (uintptr_t)r + 1);
            ck_assert_uint_eq(weft_collection_count(c), 0);
        }
        ck_assert_uint_eq(weft__collection_waiters(c), 0);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(a.g_bad, 0);
    if (add) /* the last item the helper added is the one inside */
        ck_assert_int_eq(weft_collection_take(c, &it), 0);
    pthread_barrier_destroy(&round);
    weft_collection_destroy(c);
}

START_TEST(signalled_while_registering)
{
    reg_run(false);
    reg_run(true);
}
END_TEST

/* ---- a forked child keeps working ------------------------------------ */

static void *fork_consumer(void *arg)
{
    weft_collection *c = arg;
    void *it;
    uintptr_t want = 1;
    while (weft_collection_take(c, &it) == 0)
        if (COLL_VAL(it) != want++)
            return (void *)1;
    return NULL;
}

/* Capacity 1, so both sides sleep often: waiters and contended locks take
 * the membarrier path where it is used. Returns 0 when all went through. */
static int fork_ping_pong(void)
{
    weft_collection_options o = {.capacity = 1, .order = WEFT_ORDER_FIFO};
    weft_collection *c = NULL;
    pthread_t th;
    void *bad = NULL;
    if (weft_collection_create(&c, &o) != 0 || pthread_create(&th, NULL, fork_consumer, c) != 0)
        return 1;
    for (uintptr_t i = 1; i <= 2000; i++)
        if (weft_collection_add(c, COLL_ITEM(i)) != 0)
            return 1;
    weft_collection_complete_adding(c);
    pthread_join(th, &bad);
    weft_collection_destroy(c);
    return bad != NULL;
}

/* The membarrier registration (made once per process, at the first create)
 * must hold in a child forked after it; the kernel keeps it across fork
 * (checked on 6.18), and a failing membarrier would abort the child. */
START_TEST(works_after_fork)
{
    ck_assert_int_eq(fork_ping_pong(), 0); /* registers in this process */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fork_ping_pong());
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("collection_split");
    WEFT_TEST_CASE(s, growth_while_taking, 60);
    WEFT_TEST_CASE(s, handshake_ping_pong, 60);
    WEFT_TEST_CASE(s, join_races_task_done, 60);
    WEFT_TEST_CASE(s, shutdown_races_both_sides, 60);
    WEFT_TEST_CASE(s, complete_adding_races_both_sides, 60);
    WEFT_TEST_CASE(s, take_from_any_races_adds, 60);
    WEFT_TEST_CASE(s, add_to_any_races_takes, 60);
    WEFT_TEST_CASE(s, signalled_while_registering, 60);
    WEFT_TEST_CASE(s, works_after_fork, 60);
    return weft_test_run(s);
}
