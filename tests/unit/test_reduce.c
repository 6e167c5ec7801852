/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_reduce.c - weft_parallel_reduce: bad input, determinism
 * (a float sum compared bit for bit across 1, 2 and 8 workers, both
 * schedulers, repeated runs, several grains, against a serial walk of the
 * same tree), accumulators on the heap and owning memory, early stop (the
 * body's result apart from weft's status), several callers at once, calls
 * from workers, ENOMEM and fork.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "base/alloc.h"
#include "check_main.h"
#include "settle.h"

static const weft_scheduler modes[] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};

static weft_pool *make_pool(unsigned workers, weft_scheduler mode)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode, .seed = workers};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

/* ---- a float sum ------------------------------------------------------- */

enum { N = 100003 };
static float *data; /* values over many magnitudes, both signs */

static void make_data(void)
{
    data = malloc(N * sizeof(*data));
    ck_assert_ptr_nonnull(data);
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < N; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        float mant = (float)(s >> 40) / (float)(1u << 24); /* [0, 1) */
        int e = (int)((s >> 20) % 24) - 8;
        data[i] = (s & 1 ? -1.0f : 1.0f) * mant * (float)(e >= 0 ? 1u << e : 1.0 / (1u << -e));
    }
}

static void f_init(void *acc, void *arg)
{
    (void)arg;
    *(float *)acc = 0.0f;
}

static int f_body(size_t lo, size_t hi, void *acc, void *arg)
{
    const float *v = arg;
    float s = *(float *)acc;
    for (size_t i = lo; i < hi; i++)
        s += v[i];
    *(float *)acc = s;
    return 0;
}

static void f_combine(void *acc, void *other, void *arg)
{
    (void)arg;
    *(float *)acc += *(float *)other;
}

/* The same tree, walked serially: what every run must give. */
static float tree_sum(size_t lo, size_t hi, size_t grain)
{
    if (hi - lo <= grain) {
        float s = 0.0f;
        for (size_t i = lo; i < hi; i++)
            s += data[i];
        return s;
    }
    size_t mid = lo + (hi - lo) / 2;
    float a = tree_sum(lo, mid, grain);
    return a + tree_sum(mid, hi, grain);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static uint32_t reduce_bits(weft_pool *p, size_t begin, size_t end, size_t grain)
{
    float sum = -1.0f;
    int br = -1;
    ck_assert_int_eq(weft_parallel_reduce(p, begin, end, grain, &sum, sizeof(sum), f_init,
                                          f_body, f_combine, data, &br),
                     0);
    ck_assert_int_eq(br, 0);
    return bits(sum);
}

START_TEST(float_sum_bits)
{
    make_data();
    const size_t grains[] = {0, 1, 7, 1000, N};
    const unsigned workers[] = {1, 2, 8};
    /* The test can tell orders apart: a left-to-right sum differs. */
    float flat = 0.0f;
    for (size_t i = 0; i < N; i++)
        flat += data[i];
    ck_assert_uint_ne(bits(flat), bits(tree_sum(0, N, 1)));
    for (size_t gi = 0; gi < sizeof(grains) / sizeof(grains[0]); gi++) {
        size_t grain = grains[gi];
        size_t eff = grain ? grain : N / 1024 + (N % 1024 != 0);
        uint32_t want = bits(tree_sum(0, N, eff));
        uint32_t want_part = bits(tree_sum(17, N - 5, grain ? grain : (N - 22 + 1023) / 1024));
        for (int m = 0; m < 2; m++) {
            for (size_t wi = 0; wi < 3; wi++) {
                weft_pool *p = make_pool(workers[wi], modes[m]);
                for (int rep = 0; rep < 10; rep++)
                    ck_assert_uint_eq(reduce_bits(p, 0, N, grain), want);
                ck_assert_uint_eq(reduce_bits(p, 17, N - 5, grain), want_part);
                ck_assert_int_eq(weft_pool_destroy(p), 0);
            }
        }
    }
    free(data);
}
END_TEST

/* From a worker (p NULL: the worker's pool) and from four outside threads
 * at once: the same bits. */
struct caller {
    weft_pool *c_pool;
    uint32_t c_bits[8];
};

static int reduce_on_worker(void *arg)
{
    struct caller *c = arg;
    for (int i = 0; i < 8; i++) {
        float sum;
        int br;
        if (weft_parallel_reduce(NULL, 0, N, 0, &sum, sizeof(sum), f_init, f_body, f_combine,
                                 data, &br)
            != 0)
            return EIO;
        c->c_bits[i] = bits(sum);
    }
    return 0;
}

static void *reduce_thread(void *arg)
{
    struct caller *c = arg;
    for (int i = 0; i < 8; i++) {
        float sum;
        weft_parallel_reduce(c->c_pool, 0, N, 0, &sum, sizeof(sum), f_init, f_body, f_combine,
                             data, NULL);
        c->c_bits[i] = bits(sum);
    }
    return NULL;
}

START_TEST(concurrent_callers)
{
    make_data();
    uint32_t want = bits(tree_sum(0, N, N / 1024 + 1));
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct caller w = {p, {0}}, c[4];
        ck_assert_int_eq(weft_pool_call(p, reduce_on_worker, &w), 0);
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            c[i] = (struct caller){p, {0}};
            ck_assert_int_eq(pthread_create(&th[i], NULL, reduce_thread, &c[i]), 0);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        for (int k = 0; k < 8; k++) {
            ck_assert_uint_eq(w.c_bits[k], want);
            for (int i = 0; i < 4; i++)
                ck_assert_uint_eq(c[i].c_bits[k], want);
        }
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
    free(data);
}
END_TEST

/* ---- bad input, empty ranges ------------------------------------------- */

/* init + body + combine calls; relaxed: a count, read after the reduction
 * (whose joins order the increments). */
static _Atomic long calls;

static void c_init(void *acc, void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    *(long *)acc = 0;
}

static int c_body(size_t lo, size_t hi, void *acc, void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    *(long *)acc += (long)(hi - lo);
    return 0;
}

static void c_combine(void *acc, void *other, void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    *(long *)acc += *(long *)other;
}

START_TEST(bad_input)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    long acc = 99;
    int br = -7;
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 10, 0, NULL, sizeof(acc), c_init, c_body,
                                          c_combine, NULL, &br), EINVAL);
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 10, 0, &acc, 0, c_init, c_body, c_combine,
                                          NULL, &br), EINVAL);
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 10, 0, &acc, sizeof(acc), NULL, c_body,
                                          c_combine, NULL, &br), EINVAL);
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 10, 0, &acc, sizeof(acc), c_init, NULL,
                                          c_combine, NULL, &br), EINVAL);
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 10, 0, &acc, sizeof(acc), c_init, c_body, NULL,
                                          NULL, &br), EINVAL);
    ck_assert_int_eq(weft_parallel_reduce(p, 10, 9, 0, &acc, sizeof(acc), c_init, c_body,
                                          c_combine, NULL, &br), EINVAL);
    /* p NULL off a worker. */
    ck_assert_int_eq(weft_parallel_reduce(NULL, 0, 10, 0, &acc, sizeof(acc), c_init, c_body,
                                          c_combine, NULL, &br), EINVAL);
    /* Nothing was called. */
    ck_assert_int_eq(atomic_load_explicit(&calls, memory_order_relaxed), 0);
    ck_assert_int_eq(acc, 99);
    ck_assert_int_eq(br, -7);
    /* Empty: the identity, no body. */
    ck_assert_int_eq(weft_parallel_reduce(p, 5, 5, 0, &acc, sizeof(acc), c_init, c_body,
                                          c_combine, NULL, &br), 0);
    ck_assert_int_eq(acc, 0);
    ck_assert_int_eq(br, 0);
    ck_assert_int_eq(atomic_load_explicit(&calls, memory_order_relaxed), 1);
    /* Extremes of the range and the grain. */
    ck_assert_int_eq(weft_parallel_reduce(p, SIZE_MAX - 1000, SIZE_MAX, 3, &acc, sizeof(acc),
                                          c_init, c_body, c_combine, NULL, NULL), 0);
    ck_assert_int_eq(acc, 1000);
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 1000, SIZE_MAX, &acc, sizeof(acc), c_init,
                                          c_body, c_combine, NULL, NULL), 0);
    ck_assert_int_eq(acc, 1000);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* grain 0 makes the same leaves for every number of workers: at most
 * 1024, and one element each for short ranges. */
static int leaf_count(size_t lo, size_t hi, void *acc, void *arg)
{
    (void)lo, (void)hi, (void)arg;
    ++*(long *)acc;
    return 0;
}

START_TEST(auto_grain)
{
    const size_t ns[] = {1, 5, 1023, 1024, 1025, 1000000, 3000017};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        long leaves[3];
        const unsigned workers[] = {1, 2, 8};
        for (int k = 0; k < 3; k++) {
            weft_pool *p = make_pool(workers[k], WEFT_SCHED_STEALING);
            ck_assert_int_eq(weft_parallel_reduce(p, 0, ns[i], 0, &leaves[k], sizeof(long),
                                                  c_init, leaf_count, c_combine, NULL, NULL),
                             0);
            ck_assert_int_eq(weft_pool_destroy(p), 0);
        }
        ck_assert_int_eq(leaves[0], leaves[1]);
        ck_assert_int_eq(leaves[0], leaves[2]);
        ck_assert_int_le(leaves[0], 1024);
        if (ns[i] <= 1024)
            ck_assert_int_eq(leaves[0], (long)ns[i]);
    }
}
END_TEST

/* ---- accumulators that are large and own memory; early stop ------------ */

/* 40 counters (320 bytes: on the heap) and a malloc'ed buffer that combine
 * must hand on: ASan reports an accumulator that was not combined. */
struct hist {
    uint64_t h_bin[40];
    uint64_t *h_owned; /* malloc'ed by init, freed by the combine that drops it */
};

struct hist_arg {
    _Atomic long ha_inits, ha_combines; /* relaxed counts, read after the reduction */
    size_t ha_stop_at; /* a body whose range holds it returns ha_stop_rc */
    int ha_stop_rc;
};

/* Accumulators init made, other than the root, that were not combined: 0. */
static long uncombined(struct hist_arg *a)
{
    return atomic_load_explicit(&a->ha_inits, memory_order_relaxed) - 1
           - atomic_load_explicit(&a->ha_combines, memory_order_relaxed);
}

static void h_init(void *acc, void *arg)
{
    struct hist *h = acc;
    struct hist_arg *a = arg;
    memset(h, 0, sizeof(*h));
    h->h_owned = malloc(sizeof(uint64_t));
    *h->h_owned = 0;
    atomic_fetch_add_explicit(&a->ha_inits, 1, memory_order_relaxed);
}

static int h_body(size_t lo, size_t hi, void *acc, void *arg)
{
    struct hist *h = acc;
    struct hist_arg *a = arg;
    for (size_t i = lo; i < hi; i++) {
        h->h_bin[(i * 2654435761u) % 40]++;
        ++*h->h_owned;
    }
    return lo <= a->ha_stop_at && a->ha_stop_at < hi ? a->ha_stop_rc : 0;
}

static void h_combine(void *acc, void *other, void *arg)
{
    struct hist *h = acc, *o = other;
    struct hist_arg *a = arg;
    for (int i = 0; i < 40; i++)
        h->h_bin[i] += o->h_bin[i];
    *h->h_owned += *o->h_owned;
    free(o->h_owned);
    atomic_fetch_add_explicit(&a->ha_combines, 1, memory_order_relaxed);
}

START_TEST(large_accumulator)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct hist_arg a = {.ha_stop_at = SIZE_MAX};
        struct hist h;
        int br = -7;
        ck_assert_int_eq(weft_parallel_reduce(p, 0, 200000, 100, &h, sizeof(h), h_init, h_body,
                                              h_combine, &a, &br), 0);
        ck_assert_int_eq(br, 0);
        uint64_t want[40] = {0}, total = 0;
        for (size_t i = 0; i < 200000; i++)
            want[(i * 2654435761u) % 40]++;
        for (int i = 0; i < 40; i++) {
            ck_assert_uint_eq(h.h_bin[i], want[i]);
            total += h.h_bin[i];
        }
        ck_assert_uint_eq(*h.h_owned, total);
        ck_assert_int_eq(uncombined(&a), 0);
        free(h.h_owned);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* A body stops the reduction: ECANCELED, its own result (here EPIPE, one
 * of weft's codes) through body_result, and every accumulator made was
 * combined. From outside and from a worker. */
struct stop_case {
    struct hist_arg *sc_arg;
    int sc_rc, sc_br;
};

static int stop_on_worker(void *arg)
{
    struct stop_case *sc = arg;
    struct hist h;
    sc->sc_rc = weft_parallel_reduce(NULL, 0, 100000, 10, &h, sizeof(h), h_init, h_body,
                                     h_combine, sc->sc_arg, &sc->sc_br);
    free(h.h_owned);
    return 0;
}

START_TEST(early_stop)
{
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, modes[m]);
        struct hist_arg a = {.ha_stop_at = 5000, .ha_stop_rc = EPIPE};
        struct hist h;
        int br = -7;
        ck_assert_int_eq(weft_parallel_reduce(p, 0, 100000, 10, &h, sizeof(h), h_init, h_body,
                                              h_combine, &a, &br), ECANCELED);
        ck_assert_int_eq(br, EPIPE);
        ck_assert_int_eq(uncombined(&a), 0);
        free(h.h_owned);

        struct hist_arg b = {.ha_stop_at = 99999, .ha_stop_rc = -3};
        struct stop_case sc = {&b, -1, -1};
        ck_assert_int_eq(weft_pool_call(p, stop_on_worker, &sc), 0);
        ck_assert_int_eq(sc.sc_rc, ECANCELED);
        ck_assert_int_eq(sc.sc_br, -3);
        ck_assert_int_eq(uncombined(&b), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);

        /* The leaves not started are skipped. With one worker the order is
         * fixed (left half first), so the first leaf's stop leaves every
         * other leaf unrun; with more, how many run before the stop is seen
         * depends on the OS scheduler, so only one worker is counted. */
        p = make_pool(1, modes[m]);
        struct hist_arg c = {.ha_stop_at = 0, .ha_stop_rc = 1};
        ck_assert_int_eq(weft_parallel_reduce(p, 0, 100000, 10, &h, sizeof(h), h_init, h_body,
                                              h_combine, &c, &br), ECANCELED);
        ck_assert_int_eq(br, 1);
        ck_assert_int_eq(uncombined(&c), 0);
        ck_assert_uint_le(*h.h_owned, 10); /* the first leaf only */
        free(h.h_owned);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
    }
}
END_TEST

/* Every allocation failing in turn: 0 or ENOMEM, never a lost or doubly
 * combined accumulator (ASan), and the pool works afterwards. */
START_TEST(enomem)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    struct hist_arg a = {.ha_stop_at = SIZE_MAX};
    struct hist h;
    weft__alloc_fail_at(0);
    ck_assert_int_eq(weft_parallel_reduce(p, 0, 1000, 100, &h, sizeof(h), h_init, h_body,
                                          h_combine, &a, NULL), 0);
    long n = weft__alloc_fail_at(0);
    free(h.h_owned);
    int enomem = 0;
    for (long k = 1; k <= n + 2; k++) {
        struct hist_arg b = {.ha_stop_at = SIZE_MAX};
        int br = -7;
        weft__alloc_fail_at(k);
        int rc = weft_parallel_reduce(p, 0, 1000, 100, &h, sizeof(h), h_init, h_body,
                                      h_combine, &b, &br);
        weft__alloc_fail_at(0);
        ck_assert(rc == 0 || rc == ENOMEM);
        enomem += rc == ENOMEM;
        ck_assert_int_eq(br, 0);
        ck_assert_int_eq(uncombined(&b), 0);
        free(h.h_owned);
    }
    ck_assert_int_gt(enomem, 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

START_TEST(after_fork)
{
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    settle_before_fork(p, 0); /* the child allocates before it is refused */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        long acc = 99;
        int br = -7;
        int rc = weft_parallel_reduce(p, 0, 100, 1, &acc, sizeof(acc), c_init, c_body,
                                      c_combine, NULL, &br);
        _exit(rc != EPIPE || acc != 0 || br != 0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce");
    WEFT_TEST_CASE(s, float_sum_bits, 240);
    WEFT_TEST_CASE(s, concurrent_callers, 120);
    WEFT_TEST_CASE(s, bad_input, 60);
    WEFT_TEST_CASE(s, auto_grain, 60);
    WEFT_TEST_CASE(s, large_accumulator, 60);
    WEFT_TEST_CASE(s, early_stop, 60);
    WEFT_TEST_CASE(s, enomem, 60);
    WEFT_TEST_CASE_TAGGED(s, after_fork, 60, "fork");
    return weft_test_run(s);
}
