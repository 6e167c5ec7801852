/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_fj.c - typed fork-join tasks (weft/fj.h): results on 1, 2
 * and 4 workers, a task that is certainly stolen, SHARED mode, a thread
 * that is no worker (several at once), spawns mixed with group spawns,
 * spawn loops, out-of-order syncs, deep nesting, a deque that cannot grow,
 * a published frame taken back, two pools, and every arity.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "check_main.h"
#include "pool/sched.h" /* the deque's indices, for published_then_taken */

static weft_pool *make_pool(unsigned workers, weft_scheduler mode, size_t deque_capacity)
{
    weft_pool *p = NULL;
    weft_pool_options o = {.workers = workers, .scheduler = mode, .deque_capacity = deque_capacity};
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

static uint64_t fib_ref(int n)
{
    uint64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
}

WEFT_TASK_1(uint64_t, fib, int, n)
{
    if (n < 2)
        return (uint64_t)n;
    WEFT_FRAME(fib) f;
    WEFT_SPAWN(fib, &f, n - 1);
    uint64_t b = WEFT_CALL(fib, n - 2);
    uint64_t a = WEFT_SYNC(fib, &f);
    return a + b;
}

struct fib_call {
    int fc_n;
    uint64_t fc_r;
};

static int fib_root(void *arg)
{
    struct fib_call *c = arg;
    c->fc_r = fib(c->fc_n);
    return 0;
}

static uint64_t pool_fib(weft_pool *p, int n)
{
    struct fib_call c = {n, 0};
    ck_assert_int_eq(weft_pool_call(p, fib_root, &c), 0);
    return c.fc_r;
}

/* Run fn(x) - a typed task taking an int - on a worker of p (entered through
 * weft_pool_call) and return its result. */
struct int_call {
    int (*ic_fn)(int);
    int ic_arg, ic_result;
};

static int int_call_task(void *arg)
{
    struct int_call *c = arg;
    c->ic_result = c->ic_fn(c->ic_arg);
    return 0;
}

static int on_pool(weft_pool *p, int (*fn)(int), int x)
{
    struct int_call c = {fn, x, 0};
    ck_assert_int_eq(weft_pool_call(p, int_call_task, &c), 0);
    return c.ic_result;
}

/* Workers' and spares' steals (a spare's entry follows the workers': a
 * spawner that waits for its stolen task may block and call one). */
static uint64_t total_steals(weft_pool *p)
{
    weft_worker_stats st[16];
    ck_assert_int_eq(weft_pool_stats(p, st, 16), 0);
    uint64_t s = 0;
    for (unsigned i = 0; i < 16; i++)
        s += st[i].steals;
    return s;
}

START_TEST(fib_on_workers)
{
    static const unsigned counts[] = {1, 2, 4};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        weft_pool *p = make_pool(counts[i], WEFT_SCHED_STEALING, 0);
        for (int n = 0; n <= 24; n += 6)
            ck_assert_uint_eq(pool_fib(p, n), fib_ref(n));
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

START_TEST(fib_shared_mode)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_SHARED, 0);
    ck_assert_uint_eq(pool_fib(p, 18), fib_ref(18));
    ck_assert_uint_eq(total_steals(p), 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

START_TEST(fib_off_pool_runs_serially)
{
    /* No worker: every spawn runs its task at once; the answer is right. */
    ck_assert_uint_eq(fib(20), fib_ref(20));
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING, 0);
    ck_assert_uint_eq(fib(15), fib_ref(15)); /* a pool exists, still no worker */
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* A task the spawner cannot finish without a thief: the spawner spawns it
 * and then spins (spawning and syncing small tasks, which serves thieves'
 * requests) until the task reports that it runs - on another worker. */
WEFT_TASK_1(int, noop, int, x)
{
    return x;
}

WEFT_TASK_1(int, where_run, atomic_int *, started)
{
    /* Relaxed is enough: the spawner only waits for the value. */
    atomic_store_explicit(started, 1, memory_order_relaxed);
    return weft_worker_index();
}

WEFT_TASK_1(int, steal_root, int, unused)
{
    (void)unused;
    atomic_int started = 0;
    WEFT_FRAME(where_run) f;
    WEFT_SPAWN(where_run, &f, &started);
    while (!atomic_load_explicit(&started, memory_order_relaxed)) {
        WEFT_FRAME(noop) g;
        WEFT_SPAWN(noop, &g, 1);
        ck_assert_int_eq(WEFT_SYNC(noop, &g), 1);
    }
    int thief = WEFT_SYNC(where_run, &f);
    return thief != weft_worker_index() ? 1 : 0;
}

START_TEST(stolen_task_result)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING, 0);
    for (int round = 0; round < 20; round++) {
        ck_assert_int_eq(on_pool(p, steal_root, 0), 1);
    }
    ck_assert_uint_ge(total_steals(p), 20);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* Typed spawns around group spawns: a group's heap task sits on the deque
 * above a typed frame, so syncs and spawns must see that the private index
 * moved under them (slow paths) and lose nothing. */
static atomic_int group_ran;

static int group_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&group_ran, 1, memory_order_relaxed);
    return 0;
}

WEFT_TASK_1(int, mix, int, n)
{
    if (n == 0)
        return 1;
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, NULL), 0);
    WEFT_FRAME(mix) f1, f2, f3;
    /* The frame is still the slot under the index, but not the newest. */
    WEFT_SPAWN(mix, &f1, n - 1);
    ck_assert_int_eq(weft_group_spawn(&g, group_fn, NULL), 0);
    int a = WEFT_SYNC(mix, &f1);
    /* A spawn above a heap task; a sync whose slot holds the heap task. */
    WEFT_SPAWN(mix, &f2, n - 1);
    ck_assert_int_eq(weft_group_spawn(&g, group_fn, NULL), 0);
    WEFT_SPAWN(mix, &f3, n - 1);
    int c = WEFT_SYNC(mix, &f3);
    int b = WEFT_SYNC(mix, &f2);
    ck_assert_int_eq(weft_group_wait(&g), 0);
    return a + b + c;
}

START_TEST(mixed_with_group_spawns)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = make_pool(workers, WEFT_SCHED_STEALING, 0);
        /* Relaxed: the pool call and its group waits order the counts. */
        atomic_store_explicit(&group_ran, 0, memory_order_relaxed);
        ck_assert_int_eq(on_pool(p, mix, 6), 729); /* 3^6 */
        /* 2 per inner node */
        ck_assert_int_eq(atomic_load_explicit(&group_ran, memory_order_relaxed), 728);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Void tasks with two arguments, spawned in a loop into an array of
 * frames and synced in reverse; a four-argument task as a reduction. */
WEFT_VOID_TASK_2(add_to, atomic_long *, acc, long, v)
{
    atomic_fetch_add_explicit(acc, v, memory_order_relaxed);
}

WEFT_TASK_4(long, affine_sum, long, lo, long, hi, long, scale, long, off)
{
    if (hi - lo == 1)
        return lo * scale + off;
    long mid = lo + (hi - lo) / 2;
    WEFT_FRAME(affine_sum) f;
    WEFT_SPAWN(affine_sum, &f, lo, mid, scale, off);
    long right = WEFT_CALL(affine_sum, mid, hi, scale, off);
    return WEFT_SYNC(affine_sum, &f) + right;
}

#define LOOP_N 300
WEFT_TASK_1(long, loop_root, atomic_long *, acc)
{
    WEFT_FRAME(add_to) f[LOOP_N];
    for (long i = 0; i < LOOP_N; i++)
        WEFT_SPAWN(add_to, &f[i], acc, i + 1);
    for (long i = LOOP_N - 1; i >= 0; i--)
        WEFT_SYNC(add_to, &f[i]);
    return affine_sum(0, 1000, 3, 7);
}

static int loop_call(void *arg)
{
    atomic_long *acc = arg;
    long s = loop_root(acc);
    /* sum of 3i + 7 over i < 1000 */
    ck_assert_int_eq(s, 3L * 999 * 1000 / 2 + 7L * 1000);
    return 0;
}

START_TEST(spawn_loops_void_and_four_args)
{
    for (unsigned workers = 1; workers <= 4; workers *= 2) {
        /* Capacity 4: the loop of 300 spawns must grow the deque. */
        weft_pool *p = make_pool(workers, WEFT_SCHED_STEALING, 4);
        atomic_long acc = 0;
        ck_assert_int_eq(weft_pool_call(p, loop_call, &acc), 0);
        /* Relaxed: after the pool call, which joins every task. */
        ck_assert_int_eq(atomic_load_explicit(&acc, memory_order_relaxed),
                         (long)LOOP_N * (LOOP_N + 1) / 2);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

struct noop_arg {
    int na_in, na_out;
};

static int untyped_noop(void *arg)
{
    struct noop_arg *a = arg;
    a->na_out = a->na_in;
    return 0;
}

/* Syncs in FIFO order break the contract, but the results stay right (the
 * newer task runs first, its own sync then finds it done). */
WEFT_TASK_1(int, out_of_order, int, unused)
{
    (void)unused;
    WEFT_FRAME(noop) a, b;
    WEFT_SPAWN(noop, &a, 11);
    WEFT_SPAWN(noop, &b, 22);
    int ra = WEFT_SYNC(noop, &a);
    int rb = WEFT_SYNC(noop, &b);
    /* The index is back where it was: a following pair takes the fast path
     * again and is still right. */
    WEFT_SPAWN(noop, &a, 33);
    int rc = WEFT_SYNC(noop, &a);
    /* An untyped spawn above a typed frame, synced after it: the frame is
     * in the slot under the index but not the newest private task. */
    WEFT_SPAWN(noop, &a, 44);
    struct noop_arg u = {55, 0};
    weft_task t;
    ck_assert_int_eq(weft_spawn(&t, untyped_noop, &u), 0);
    int rd = WEFT_SYNC(noop, &a);
    ck_assert_int_eq(weft_sync(&t), 0);
    return ra == 11 && rb == 22 && rc == 33 && rd == 44 && u.na_out == 55;
}

START_TEST(out_of_order_syncs)
{
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING, 0);
    ck_assert_int_eq(on_pool(p, out_of_order, 0), 1);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* A chain of 10,000 nested spawn/sync pairs (the brief: worker stacks are
 * at least the process default). */
WEFT_TASK_1(int, chain, int, depth)
{
    if (depth == 0)
        return 0;
    WEFT_FRAME(chain) f;
    WEFT_SPAWN(chain, &f, depth - 1);
    return WEFT_SYNC(chain, &f) + 1;
}

START_TEST(deep_chain)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING, 0);
    ck_assert_int_eq(on_pool(p, chain, 10000), 10000);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* When the deque cannot grow, a spawn runs its task at once. */
static atomic_int syncing; /* 1 once enomem_root starts syncing */
static atomic_int ran_in_spawn;

WEFT_TASK_1(int, record, int, x)
{
    if (!atomic_load_explicit(&syncing, memory_order_relaxed))
        atomic_fetch_add_explicit(&ran_in_spawn, 1, memory_order_relaxed);
    return x * 2;
}

WEFT_TASK_1(int, enomem_root, int, n)
{
    WEFT_FRAME(record) f[16];
    weft__alloc_fail_at(1); /* the deque's next growth fails */
    for (int i = 0; i < n; i++)
        WEFT_SPAWN(record, &f[i], i);
    weft__alloc_fail_at(0);
    atomic_store_explicit(&syncing, 1, memory_order_relaxed);
    int ok = 1;
    for (int i = n - 1; i >= 0; i--)
        ok &= WEFT_SYNC(record, &f[i]) == 2 * i;
    return ok;
}

START_TEST(deque_cannot_grow)
{
    /* One worker, capacity 2: the third spawn needs a growth, which fails. */
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING, 2);
    ck_assert_int_eq(on_pool(p, enomem_root, 16), 1);
    /* Relaxed: after the call. */
    ck_assert_int_ge(atomic_load_explicit(&ran_in_spawn, memory_order_relaxed), 1);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* A thief's request served by a typed push: the frame is published (the
 * shared part), so its sync must take it back with the Le et al. take. */
WEFT_TASK_1(int, published_root, int, x)
{
    struct weft__fjq *q = weft__tls_fjq;
    /* Relaxed: as a thief's request (only this test writes it here). */
    weft__atomic_store(&q->q_hungry, 1, memory_order_relaxed);
    WEFT_FRAME(noop) f;
    WEFT_SPAWN(noop, &f, x);
    ck_assert_int_eq(q->q_bot, weft__fjq_priv(q)); /* published: no private part */
    int r = WEFT_SYNC(noop, &f);
    weft__worker *w = weft__tls_worker;
    /* Relaxed: this worker's own indices, read by itself. */
    ck_assert_int_eq(atomic_load_explicit(&w->w_dq.dq_top, memory_order_relaxed),
                     atomic_load_explicit(&w->w_dq.dq_bottom, memory_order_relaxed));
    ck_assert_int_eq(q->q_bot, weft__fjq_priv(q));
    return r;
}

START_TEST(published_then_taken)
{
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING, 0);
    for (int round = 0; round < 10; round++) {
        ck_assert_int_eq(on_pool(p, published_root, 77), 77);
    }
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* Several threads that are no workers run typed code at once: they share
 * the read-only weft__fjq_none (TSan would see a write to it). */
static void *outside_fib(void *arg)
{
    uint64_t *r = arg;
    for (int i = 0; i < 20; i++)
        *r = fib(16);
    return NULL;
}

START_TEST(outside_threads_at_once)
{
    pthread_t th[3];
    uint64_t r[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, outside_fib, &r[i]), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_uint_eq(r[i], fib_ref(16));
    }
}
END_TEST

/* A typed body calls into a second pool (its worker is "outside" there)
 * and runs parallel_for while a typed frame of its own is pending. */
static weft_pool *second_pool;

static int add_range(size_t lo, size_t hi, void *arg)
{
    atomic_fetch_add_explicit((atomic_long *)arg, (long)(hi - lo), memory_order_relaxed);
    return 0;
}

WEFT_TASK_3(uint64_t, two_pools, int, n, int, depth, atomic_long *, counted)
{
    WEFT_FRAME(fib) f;
    WEFT_SPAWN(fib, &f, n);
    uint64_t other = 0;
    if (depth > 0) {
        struct fib_call c = {n, 0};
        ck_assert_int_eq(weft_pool_call(second_pool, fib_root, &c), 0);
        other = c.fc_r;
    }
    ck_assert_int_eq(weft_parallel_for(NULL, 0, 1000, 7, add_range, counted), 0);
    return WEFT_SYNC(fib, &f) + other;
}

struct two_call {
    atomic_long tc_counted;
    uint64_t tc_r;
};

static int two_pools_call(void *arg)
{
    struct two_call *c = arg;
    c->tc_r = two_pools(15, 1, &c->tc_counted);
    return 0;
}

START_TEST(typed_body_calls_other_pool)
{
    static const weft_scheduler modes[] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            weft_pool *p = make_pool(2, modes[a], 0);
            second_pool = make_pool(2, modes[b], 0);
            struct two_call c = {0, 0};
            ck_assert_int_eq(weft_pool_call(p, two_pools_call, &c), 0);
            ck_assert_uint_eq(c.tc_r, 2 * fib_ref(15));
            /* Relaxed: after the call. */
            ck_assert_int_eq(atomic_load_explicit(&c.tc_counted, memory_order_relaxed), 1000);
            ck_assert_int_eq(weft_pool_destroy(second_pool), 0);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
}
END_TEST

/* Every arity compiles and passes its arguments in order. */
WEFT_TASK_2(long, lin2, long, a, long, b)
{
    return a * 10 + b;
}

WEFT_VOID_TASK_1(store1, long *, out)
{
    *out = 1;
}

WEFT_VOID_TASK_3(store3, long *, out, long, a, long, b)
{
    *out = a * 10 + b;
}

WEFT_VOID_TASK_4(store4, long *, out, long, a, long, b, long, c)
{
    *out = (a * 10 + b) * 10 + c;
}

WEFT_TASK_1(int, arities, int, unused)
{
    (void)unused;
    long o1 = 0, o3 = 0, o4 = 0;
    WEFT_FRAME(lin2) f2;
    WEFT_FRAME(store1) g1;
    WEFT_FRAME(store3) g3;
    WEFT_FRAME(store4) g4;
    WEFT_SPAWN(lin2, &f2, 4, 2);
    WEFT_SPAWN(store1, &g1, &o1);
    WEFT_SPAWN(store3, &g3, &o3, 1, 2);
    WEFT_SPAWN(store4, &g4, &o4, 3, 4, 5);
    WEFT_SYNC(store4, &g4);
    WEFT_SYNC(store3, &g3);
    WEFT_SYNC(store1, &g1);
    long r2 = WEFT_SYNC(lin2, &f2);
    return r2 == 42 && o1 == 1 && o3 == 12 && o4 == 345 && WEFT_CALL(lin2, 7, 8) == 78;
}

START_TEST(every_arity)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING, 0);
    for (int round = 0; round < 50; round++) {
        ck_assert_int_eq(on_pool(p, arities, 0), 1);
    }
    ck_assert_int_eq(arities(0), 1); /* off the pool: serially */
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fj");
    WEFT_TEST_CASE(s, fib_on_workers, 60);
    WEFT_TEST_CASE(s, fib_shared_mode, 60);
    WEFT_TEST_CASE(s, fib_off_pool_runs_serially, 30);
    WEFT_TEST_CASE(s, stolen_task_result, 60);
    WEFT_TEST_CASE(s, mixed_with_group_spawns, 60);
    WEFT_TEST_CASE(s, spawn_loops_void_and_four_args, 60);
    WEFT_TEST_CASE(s, out_of_order_syncs, 30);
    WEFT_TEST_CASE(s, deep_chain, 60);
    WEFT_TEST_CASE(s, deque_cannot_grow, 30);
    WEFT_TEST_CASE(s, published_then_taken, 30);
    WEFT_TEST_CASE(s, outside_threads_at_once, 60);
    WEFT_TEST_CASE(s, typed_body_calls_other_pool, 60);
    WEFT_TEST_CASE(s, every_arity, 30);
    return weft_test_run(s);
}
