/* SPDX-License-Identifier: MIT */
/*
 * runtime/alloc.h - the one door through which weft allocates memory.
 *
 * Private to the library. Every allocation in runtime/ goes through these,
 * so that tests can make the k-th allocation fail and check that each call
 * then returns ENOMEM and changes nothing.
 */
#ifndef WEFT_RUNTIME_ALLOC_H
#define WEFT_RUNTIME_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *weft__malloc(size_t size);
void *weft__calloc(size_t count, size_t size);
/* Aligned allocation (alignment a power of two, multiple of sizeof(void *)). */
void *weft__aligned_alloc(size_t alignment, size_t size);
void weft__free(void *p);

/*
 * Test hook (not public API; tests link the static library): after this
 * call, the k-th allocation made through weft__* (k >= 1) returns NULL, once.
 * Allocations are counted only once a test has called it: until then the
 * hook costs a read of a flag that nobody writes.
 * k <= 0 disables the hook. Returns the number of allocations made through
 * weft__* since the previous call, so a test can count a scenario's
 * allocations first and then fail each of them in turn. Any thread.
 */
long weft__alloc_fail_at(long k);

/* True once a test has called weft__alloc_fail_at (allocations are being
 * counted): caches that would skip weft__malloc must not. Any thread. */
bool weft__alloc_counting(void);

#endif /* WEFT_RUNTIME_ALLOC_H */
