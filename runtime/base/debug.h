/* SPDX-License-Identifier: MIT */
/*
 * runtime/debug.h - debug-yield injection and internal assertions.
 *
 * WEFT__YIELD() marks a racy point (between two atomic steps of a protocol).
 * In a WEFT_DEBUG_YIELD build (cmake -DWEFT_DEBUG_YIELD=ON, preset "yield")
 * it yields the CPU at random, about one time in eight, to widen race
 * windows for the stress tier (idea: liburcu's tests/common/debug-yield.h).
 * In every other build it compiles to nothing.
 *
 * WEFT__ASSERT(cond) aborts with a message on a broken internal invariant
 * (a bug in weft, never a condition the environment can cause); it is
 * compiled out when NDEBUG is defined.
 */
#ifndef WEFT_RUNTIME_DEBUG_H
#define WEFT_RUNTIME_DEBUG_H

#ifdef WEFT_DEBUG_YIELD
void weft__debug_yield(void);
#define WEFT__YIELD() weft__debug_yield()
#else
#define WEFT__YIELD() ((void)0)
#endif

#ifdef NDEBUG
#define WEFT__ASSERT(cond) ((void)0)
#else
void weft__assert_fail(const char *expr, const char *file, int line);
#define WEFT__ASSERT(cond) ((cond) ? (void)0 : weft__assert_fail(#cond, __FILE__, __LINE__))
#endif

#endif /* WEFT_RUNTIME_DEBUG_H */
