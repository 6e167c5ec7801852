/* SPDX-License-Identifier: MIT */
/*
 * runtime/collection/storage.c - where the items sit: a ring (FIFO, LIFO)
 * or a binary min-heap of (item, sequence number) entries (PRIORITY, stable
 * by the sequence number); nothing is allocated per item, and the storage
 * doubles when full (a bounded one up to its capacity). See coll.h and
 * docs/design/collection.md, 'Storage'.
 *
 * c_ring, c_heap, c_slots and c_seq change only with both locks held, so
 * either lock is enough to read them.
 */
#define _GNU_SOURCE
#include "collection/coll.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

/* Initial storage (slots); grows by doubling. */
#define COLL_INITIAL_SLOTS 64

int weft__coll_store_init(weft_collection *c)
{
    size_t slots = COLL_INITIAL_SLOTS;
    if (c->c_capacity && c->c_capacity < slots) {
        slots = 1;
        while (slots < c->c_capacity)
            slots *= 2;
    }
    if (c->c_order == WEFT_ORDER_PRIORITY)
        c->c_heap = weft__malloc(slots * sizeof *c->c_heap);
    else
        c->c_ring = weft__malloc(slots * sizeof *c->c_ring);
    if (!c->c_heap && !c->c_ring)
        return ENOMEM;
    c->c_slots = slots;
    return 0;
}

void weft__coll_store_fini(weft_collection *c)
{
    weft__free(c->c_ring);
    weft__free(c->c_heap);
}

/*
 * Both locks held: double the storage if it is full. 0 or ENOMEM (nothing
 * changed). The ring keeps its free-running indices (slot i moves from
 * i & old mask to i & new mask), so both sides' cached indices stay valid.
 * relaxed loads: both locks held, nobody else writes the indices now
 * (pairs with the locks).
 */
static COLL_NOINLINE int store_grow(weft_collection *c)
{
    size_t h = atomic_load_explicit(&c->c_head, memory_order_relaxed);
    size_t t = atomic_load_explicit(&c->c_tail, memory_order_relaxed);
    if (t - h < c->c_slots)
        return 0;
    size_t slots = c->c_slots * 2;
    if (c->c_order == WEFT_ORDER_PRIORITY) {
        if (c->c_capacity && slots > c->c_capacity)
            slots = c->c_capacity;
        if (slots < c->c_slots || slots > SIZE_MAX / sizeof(coll_entry))
            return ENOMEM;
        coll_entry *e = weft__malloc(slots * sizeof *e);
        if (!e)
            return ENOMEM;
        memcpy(e, c->c_heap, t * sizeof *e);
        weft__free(c->c_heap);
        c->c_heap = e;
    } else {
        if (slots < c->c_slots || slots > SIZE_MAX / sizeof(void *))
            return ENOMEM;
        void **r = weft__malloc(slots * sizeof *r);
        if (!r)
            return ENOMEM;
        for (size_t i = h; i != t; i++)
            r[i & (slots - 1)] = c->c_ring[i & (c->c_slots - 1)];
        weft__free(c->c_ring);
        c->c_ring = r;
    }
    c->c_slots = slots;
    return 0;
}

/* The slow half of coll_store_reserve. A FIFO adder takes c_take_lock for
 * the copy (lock order add, then take). */
COLL_NOINLINE int weft__coll_store_make_room(weft_collection *c)
{
    if (coll_split(c))
        coll_lock_acquire(&c->c_take_lock);
    int r = store_grow(c);
    if (coll_split(c))
        coll_lock_release(&c->c_take_lock);
    return r;
}

/* ---- the heap (PRIORITY; both locks held) ------------------------------- */

static bool heap_less(const weft_collection *c, const coll_entry *a, const coll_entry *b)
{
    int r = c->c_compare(a->e_item, b->e_item);
    return r < 0 || (r == 0 && a->e_seq < b->e_seq);
}

COLL_NOINLINE void weft__coll_heap_push(weft_collection *c, void *item, size_t t)
{
    coll_entry e = {item, c->c_seq++};
    size_t i = t;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(c, &e, &c->c_heap[p]))
            break;
        c->c_heap[i] = c->c_heap[p];
        i = p;
    }
    c->c_heap[i] = e;
}

/* Sift heap[n] down from the root; the taken root is never compared again. */
COLL_NOINLINE void *weft__coll_heap_pop(weft_collection *c, size_t n)
{
    void *item = c->c_heap[0].e_item;
    if (n > 0) {
        coll_entry last = c->c_heap[n];
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1;
            if (l >= n)
                break;
            size_t m = l;
            if (l + 1 < n && heap_less(c, &c->c_heap[l + 1], &c->c_heap[l]))
                m = l + 1;
            if (!heap_less(c, &c->c_heap[m], &last))
                break;
            c->c_heap[i] = c->c_heap[m];
            i = m;
        }
        c->c_heap[i] = last;
    }
    return item;
}
