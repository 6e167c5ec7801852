/* SPDX-License-Identifier: MIT */
/*
 * runtime/alloc.c - allocation with a test hook for failure injection.
 */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

/*
 * alloc_hooked is 1 once a test called weft__alloc_fail_at(); until then
 * an allocation only reads it (no shared write: allocating threads must
 * not contend on a counter in programs that never use the hook).
 * alloc_count counts allocations since the last weft__alloc_fail_at();
 * alloc_fail_at is the count at which one allocation fails (0: never).
 * Relaxed is enough: the hook is armed by a test before it starts the
 * scenario, and the thread creation / calls that follow order the store
 * before any allocation of the scenario; the counter needs only atomicity.
 */
static atomic_int alloc_hooked;
static atomic_long alloc_count;
static atomic_long alloc_fail_at;

static int should_fail(void)
{
    if (__builtin_expect(!atomic_load_explicit(&alloc_hooked, memory_order_relaxed), 1))
        return 0;
    long k = atomic_load_explicit(&alloc_fail_at, memory_order_relaxed);
    long n = atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed) + 1;
    return k > 0 && n == k;
}

void *weft__malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size);
}

void *weft__calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count, size);
}

void *weft__aligned_alloc(size_t alignment, size_t size)
{
    void *p = NULL;
    if (should_fail())
        return NULL;
    if (posix_memalign(&p, alignment, size) != 0)
        return NULL;
    return p;
}

void weft__free(void *p)
{
    free(p);
}

long weft__alloc_fail_at(long k)
{
    atomic_store_explicit(&alloc_hooked, 1, memory_order_relaxed); /* as above */
    atomic_store_explicit(&alloc_fail_at, k > 0 ? k : 0, memory_order_relaxed);
    return atomic_exchange_explicit(&alloc_count, 0, memory_order_relaxed);
}

bool weft__alloc_counting(void)
{
    /* Relaxed: as in should_fail. */
    return atomic_load_explicit(&alloc_hooked, memory_order_relaxed) != 0;
}
