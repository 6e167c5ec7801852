/* SPDX-License-Identifier: MIT */
/*
 * runtime/debug.c - see debug.h.
 */
#define _GNU_SOURCE
#include "debug.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef WEFT_DEBUG_YIELD
void weft__debug_yield(void)
{
    /* A per-thread xorshift: no shared state, so it adds no synchronisation
     * that could hide the races it is meant to expose. */
    static _Thread_local uint32_t state;
    if (state == 0)
        state = (uint32_t)(uintptr_t)&state | 1u;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    if ((state & 7u) == 0)
        sched_yield();
}
#endif

#ifndef NDEBUG
void weft__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "weft: internal error: %s (%s:%d)\n", expr, file, line);
    abort();
}
#endif
