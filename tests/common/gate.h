/* SPDX-License-Identifier: MIT */
/*
 * tests/common/gate.h - a gate that holds tasks until the test opens it,
 * and a monotonic clock in seconds. A held task waits inside a blocking
 * section, so the pool keeps its other workers (or a spare) running.
 */
#ifndef WEFT_TESTS_GATE_H
#define WEFT_TESTS_GATE_H

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include <weft/pool.h>

struct gate {
    _Atomic int g_open;    /* 1 once opened */
    _Atomic int g_arrived; /* tasks that reached the gate */
    int g_result;          /* what a gate task returns */
};

/* A task: arrive, wait until the gate opens, return g_result. */
static inline int gate_task(void *arg)
{
    struct gate *g = arg;
    atomic_fetch_add_explicit(&g->g_arrived, 1, memory_order_relaxed); /* a count */
    weft_blocking_begin();
    /* Acquire: pairs with gate_open's release (nothing else to order). */
    while (!atomic_load_explicit(&g->g_open, memory_order_acquire))
        sched_yield();
    weft_blocking_end();
    return g->g_result;
}

static inline void gate_wait_arrived(struct gate *g, int n)
{
    while (atomic_load_explicit(&g->g_arrived, memory_order_relaxed) < n) /* a count */
        sched_yield();
}

static inline void gate_open(struct gate *g)
{
    atomic_store_explicit(&g->g_open, 1, memory_order_release); /* pairs with gate_task */
}

static inline double gate_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif /* WEFT_TESTS_GATE_H */
