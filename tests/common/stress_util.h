/* SPDX-License-Identifier: MIT */
/*
 * tests/common/stress_util.h - seed, duration, random numbers and a progress
 * watchdog for the stress tier (tests/stress) and the randomised unit tests.
 *
 * Header-only (static functions).
 *
 *   WEFT_SEED=<u64>            the run's seed (default: from the clock); it is
 *                              printed, so a failing run is reproduced with
 *                              WEFT_SEED=<printed value>. Each test derives
 *                              its own stream with stress_seed_for().
 *   WEFT_STRESS_SECONDS=<s>    how long each time-bounded test runs (default
 *                              STRESS_DEFAULT_SECONDS; fractional values ok).
 *
 * A reproduction is exact for single-threaded decisions (which operation,
 * which timeout, which tree shape); thread interleavings are not replayable,
 * which is why the tests run for a time and count what they checked.
 *
 * The watchdog: every stressed thread owns a progress slot (a counter it
 * bumps with a relaxed store, and a short "where am I" label). A watchdog
 * thread samples the counters every 100 ms; if none of them moved for
 * stall_seconds, it prints every slot (label and counter) and aborts the
 * process, so that Check (which forks per test) reports the test as failed
 * instead of hanging until the CTest timeout. Ordering is by a flag and a
 * timed condition variable wait, not by sleeping.
 */
#ifndef WEFT_TESTS_STRESS_UTIL_H
#define WEFT_TESTS_STRESS_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef STRESS_DEFAULT_SECONDS
#define STRESS_DEFAULT_SECONDS 2.0
#endif

/* ---- seed, duration ------------------------------------------------------ */

static inline uint64_t stress_mix64(uint64_t z)
{
    /* splitmix64's finaliser (Steele, Lea & Flood, OOPSLA 2014). */
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The run's seed: WEFT_SEED or the clock. Printed once per process. */
static inline uint64_t stress_seed(void)
{
    static uint64_t seed;
    static bool have;
    if (!have) {
        const char *s = getenv("WEFT_SEED");
        if (s && *s) {
            seed = strtoull(s, NULL, 0);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = stress_mix64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
        }
        have = true;
        printf("weft stress: WEFT_SEED=%" PRIu64 "\n", seed);
        fflush(stdout);
    }
    return seed;
}

/* A per-test (per-thread) seed derived from the run's seed and a name. */
static inline uint64_t stress_seed_for(const char *name, uint64_t k)
{
    uint64_t h = stress_seed();
    for (const char *p = name; *p; p++)
        h = stress_mix64(h ^ (uint8_t)*p);
    return stress_mix64(h ^ k);
}

/* WEFT_STRESS_SECONDS or the default, in nanoseconds. */
static inline int64_t stress_duration_ns(void)
{
    const char *s = getenv("WEFT_STRESS_SECONDS");
    double sec = STRESS_DEFAULT_SECONDS;
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (end != s && v >= 0)
            sec = v;
    }
    return (int64_t)(sec * 1e9);
}

static inline int64_t stress_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- random numbers: xorshift64* (Vigna 2016), one state per thread ------ */

typedef struct {
    uint64_t r_s;
} stress_rng;

static inline void stress_rng_init(stress_rng *r, uint64_t seed)
{
    r->r_s = stress_mix64(seed) | 1u;
}

static inline uint64_t stress_next(stress_rng *r)
{
    uint64_t x = r->r_s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->r_s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* In [0, n), n > 0 (modulo bias is irrelevant here). */
static inline uint64_t stress_below(stress_rng *r, uint64_t n)
{
    return stress_next(r) % n;
}

/* ---- the watchdog ---------------------------------------------------------- */

#define STRESS_MAX_SLOTS 64

typedef struct {
    /* Written by the slot's thread (relaxed store), read by the watchdog
     * (relaxed load): a monotone progress counter; atomicity is all that is
     * needed, the watchdog only compares successive samples. */
    _Atomic uint64_t sl_progress;
    /* A static string saying where the thread is (relaxed, as above; the
     * strings are literals, so no data is published through the pointer). */
    _Atomic(const char *) sl_where;
    const char *sl_name; /* immutable once the watchdog started */
} stress_slot;

typedef struct {
    stress_slot wd_slots[STRESS_MAX_SLOTS];
    int wd_nslots;        /* immutable once started */
    double wd_stall_s;    /* immutable once started */
    const char *wd_test;  /* immutable once started */
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv; /* CLOCK_MONOTONIC */
    bool wd_stop;         /* wd_mu */
    pthread_t wd_thread;
    /* Optional: called on a stall, after the slots are printed, to print
     * more (e.g. per-worker pool statistics). Immutable once started. */
    void (*wd_dump)(void *arg, FILE *f);
    void *wd_dump_arg;
} stress_watchdog;

static inline void stress_progress(stress_slot *s, const char *where)
{
    /* relaxed: see sl_progress. Only the owner writes, so load + store. */
    atomic_store_explicit(&s->sl_progress,
                          atomic_load_explicit(&s->sl_progress, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (where)
        atomic_store_explicit(&s->sl_where, where, memory_order_relaxed);
}

static inline void stress_where(stress_slot *s, const char *where)
{
    atomic_store_explicit(&s->sl_where, where, memory_order_relaxed); /* see sl_where */
}

static inline void stress_watchdog_dump(stress_watchdog *w, FILE *f)
{
    for (int i = 0; i < w->wd_nslots; i++) {
        stress_slot *s = &w->wd_slots[i];
        /* Relaxed (both loads): see sl_where and sl_progress. */
        const char *where = atomic_load_explicit(&s->sl_where, memory_order_relaxed);
        fprintf(f, "  slot %2d %-14s progress %-12" PRIu64 " at %s\n", i,
                s->sl_name ? s->sl_name : "?",
                atomic_load_explicit(&s->sl_progress, memory_order_relaxed),
                where ? where : "-");
    }
}

static void *stress_watchdog_main(void *arg)
{
    stress_watchdog *w = arg;
    uint64_t last[STRESS_MAX_SLOTS];
    /* Relaxed loads of the counters (here and below): see sl_progress. */
    for (int i = 0; i < w->wd_nslots; i++)
        last[i] = atomic_load_explicit(&w->wd_slots[i].sl_progress, memory_order_relaxed);
    int64_t last_change = stress_now_ns();
    pthread_mutex_lock(&w->wd_mu);
    while (!w->wd_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_nsec -= 1000000000;
            ts.tv_sec++;
        }
        pthread_cond_timedwait(&w->wd_cv, &w->wd_mu, &ts);
        if (w->wd_stop)
            break;
        bool moved = false;
        for (int i = 0; i < w->wd_nslots; i++) {
            uint64_t v = atomic_load_explicit(&w->wd_slots[i].sl_progress, memory_order_relaxed);
            if (v != last[i])
                moved = true;
            last[i] = v;
        }
        int64_t now = stress_now_ns();
        if (moved) {
            last_change = now;
        } else if (now - last_change > (int64_t)(w->wd_stall_s * 1e9)) {
            fprintf(stderr, "weft stress watchdog: %s made no progress for %.1f s "
                    "(WEFT_SEED=%" PRIu64 "); threads:\n",
                    w->wd_test, w->wd_stall_s, stress_seed());
            stress_watchdog_dump(w, stderr);
            if (w->wd_dump)
                w->wd_dump(w->wd_dump_arg, stderr);
            fflush(stderr);
            abort();
        }
    }
    pthread_mutex_unlock(&w->wd_mu);
    return NULL;
}

/* Prepare w with n slots (set sl_name before starting); the test fails if
 * no slot moves for stall_seconds. */
static inline void stress_watchdog_init(stress_watchdog *w, const char *test, int n,
                                        double stall_seconds)
{
    memset(w, 0, sizeof *w);
    if (n > STRESS_MAX_SLOTS)
        n = STRESS_MAX_SLOTS;
    w->wd_nslots = n;
    w->wd_stall_s = stall_seconds;
    w->wd_test = test;
    for (int i = 0; i < n; i++) {
        atomic_init(&w->wd_slots[i].sl_progress, 0);
        atomic_init(&w->wd_slots[i].sl_where, "start");
    }
    pthread_mutex_init(&w->wd_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wd_cv, &ca);
    pthread_condattr_destroy(&ca);
}

static inline void stress_watchdog_start(stress_watchdog *w)
{
    if (pthread_create(&w->wd_thread, NULL, stress_watchdog_main, w) != 0)
        abort();
}

static inline void stress_watchdog_stop(stress_watchdog *w)
{
    pthread_mutex_lock(&w->wd_mu);
    w->wd_stop = true;
    pthread_cond_signal(&w->wd_cv);
    pthread_mutex_unlock(&w->wd_mu);
    pthread_join(w->wd_thread, NULL);
    pthread_cond_destroy(&w->wd_cv);
    pthread_mutex_destroy(&w->wd_mu);
}

#endif /* WEFT_TESTS_STRESS_UTIL_H */
