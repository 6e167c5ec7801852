/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/tstate.c - the trace clock, and the scheduler state of each
 * worker with the time spent in each (always on: weft_worker_stats). The
 * clock is read only when a worker's state changes, never per task
 * (docs/design/tracing.md, "Scheduler states").
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "pool/sched.h"
#include "pool/trace_impl.h"

/* ---- clocks ------------------------------------------------------------------ */

uint64_t weft__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the trace clock is the TSC: decided once, at the first pool's
 * creation (before its workers exist), from CPUID alone. Relaxed: set
 * before any capture can record (captures need a pool, whose creator ran
 * the once first); recorders on other threads see it through the pool's
 * publication. */
static _Atomic bool use_tsc;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;
/* Ticks per ns, measured at the first capture's start (under the global
 * lock; read only by capture_start, under it). */
static double tsc_per_ns;

static void trace_clock_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every
     * power state (an "invariant TSC"), synchronised across the cores. */
    const char *env = getenv("WEFT_TRACE_CLOCK");
    if ((env == NULL || strcmp(env, "monotonic") != 0)
        && __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8)))
        atomic_store_explicit(&use_tsc, true, memory_order_relaxed); /* see use_tsc */
#endif
}

/* The TSC's rate: 2 ms against CLOCK_MONOTONIC (captures over 20 ms
 * measure their own). Under weft__trace_global_lock. */
double weft__trace_tsc_rate(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (tsc_per_ns == 0.0) {
        uint64_t n0 = weft__mono_ns(), t0 = __rdtsc(), n1, t1;
        do {
            n1 = weft__mono_ns();
            t1 = __rdtsc();
        } while (n1 - n0 < 2000000);
        tsc_per_ns = t1 > t0 ? (double)(t1 - t0) / (double)(n1 - n0) : 1.0;
    }
    return tsc_per_ns;
#else
    return 1.0;
#endif
}

bool weft__trace_use_tsc(void)
{
    /* Relaxed: see use_tsc. */
    return atomic_load_explicit(&use_tsc, memory_order_relaxed);
}

uint64_t weft__trace_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* Relaxed: see use_tsc. */
    if (atomic_load_explicit(&use_tsc, memory_order_relaxed))
        return __rdtsc();
#endif
    return weft__mono_ns();
}

/* ---- scheduler states ------------------------------------------------------------ */

/* The owner's writes, inside the sequence count (seq_cst: trace.h). */
static void tstate_write(struct weft__tstate *s, unsigned from, unsigned to, uint64_t now)
{
    uint32_t q = atomic_load_explicit(&s->ts_seq, memory_order_relaxed); /* only we write it */
    atomic_store_explicit(&s->ts_seq, q + 1, memory_order_seq_cst);
    uint64_t since = atomic_load_explicit(&s->ts_since, memory_order_relaxed); /* ours */
    if (from < WEFT__ST_N && now > since) {
        uint64_t acc = atomic_load_explicit(&s->ts_acc[from], memory_order_relaxed); /* ours */
        atomic_store_explicit(&s->ts_acc[from], acc + (now - since), memory_order_seq_cst);
    }
    atomic_store_explicit(&s->ts_since, now, memory_order_seq_cst);
    atomic_store_explicit(&s->ts_state, to, memory_order_seq_cst);
    atomic_store_explicit(&s->ts_seq, q + 2, memory_order_seq_cst);
}

unsigned weft__tstate_set(weft__worker *w, unsigned s)
{
    unsigned from = w->w_ts_cur;
    if (from == s)
        return from;
    w->w_ts_cur = s;
    tstate_write(&w->w_ts, from, s, weft__mono_ns());
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) != 0))
        weft__trace_state(w, from, s);
    return from;
}

void weft__tstate_start(weft__worker *w)
{
    /* A new thread in the slot (a restarted spare keeps the totals). */
    w->w_ts_cur = WEFT__ST_RUN;
    tstate_write(&w->w_ts, WEFT__ST_N, WEFT__ST_RUN, weft__mono_ns());
}

void weft__tstate_exit(weft__worker *w)
{
    unsigned from = w->w_ts_cur;
    w->w_ts_cur = WEFT__ST_N;
    tstate_write(&w->w_ts, from, WEFT__ST_N, weft__mono_ns());
}

void weft__tstate_read(const weft__worker *w, uint64_t out[WEFT__ST_N])
{
    const struct weft__tstate *s = &w->w_ts;
    for (;;) {
        /* seq_cst, all of them: the reader's side of the sequence count
         * (trace.h); pairs with tstate_write's stores. */
        uint32_t q = atomic_load_explicit(&s->ts_seq, memory_order_seq_cst);
        if (q & 1u) {
            weft__cpu_relax();
            continue;
        }
        for (unsigned i = 0; i < WEFT__ST_N; i++)
            out[i] = atomic_load_explicit(&s->ts_acc[i], memory_order_seq_cst);
        unsigned st = atomic_load_explicit(&s->ts_state, memory_order_seq_cst);
        uint64_t since = atomic_load_explicit(&s->ts_since, memory_order_seq_cst);
        if (atomic_load_explicit(&s->ts_seq, memory_order_seq_cst) != q)
            continue;
        uint64_t now = weft__mono_ns();
        if (st < WEFT__ST_N && since != 0 && now > since)
            out[st] += now - since;
        return;
    }
}

void weft__trace_clock_setup(void)
{
    pthread_once(&clock_once, trace_clock_init);
}
