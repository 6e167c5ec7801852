/* SPDX-License-Identifier: MIT */
/*
 * tests/common/settle.h - before a test forks under AddressSanitizer: wait
 * until the pool's idle workers have parked.
 *
 * ASan's allocator (gcc 12's libasan) has no fork handler: a child forked
 * while another thread holds its lock - a worker still starting up, or
 * freeing - deadlocks in its first allocation. glibc's malloc has one, so
 * only ASan builds wait. White-box: includes the scheduler's header.
 */
#ifndef WEFT_TESTS_SETTLE_H
#define WEFT_TESTS_SETTLE_H

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <weft/pool.h>

#include "pool/sched.h"

/* Until all but `busy` of p's workers have announced their park (seq_cst:
 * the parkers' announcement), after which they allocate nothing until
 * woken; bounded by the clock (30 s), as a loaded machine may not run them
 * for a while. busy: workers that stay busy meanwhile (the caller's own,
 * a task that waits for the test). */
static inline void settle_before_fork(weft_pool *p, unsigned busy)
{
#if defined(__SANITIZE_ADDRESS__)
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if ((unsigned)atomic_load_explicit(&p->p_park.ec_waiters, memory_order_seq_cst) + busy >=
            (unsigned)weft_pool_size(p))
            return;
        usleep(1000);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 30);
#else
    (void)p;
    (void)busy;
#endif
}

#endif /* WEFT_TESTS_SETTLE_H */
