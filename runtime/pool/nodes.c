/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/nodes.c - heap-task nodes, recycled.
 *
 * A submitter allocates a node per task and a worker frees it. With malloc
 * each node then crosses threads: glibc's per-thread cache fills on the
 * freeing side and runs dry on the allocating one, so both go to the arena,
 * about a quarter of an outside submit's cost at 0.1 us per task.
 *
 * Here each thread keeps a list of free nodes (thread-local, no atomics).
 * When it grows past 2 * NODE_BATCH, NODE_BATCH of them go to the pool's
 * stash; when it is empty, an allocation takes a batch from the stash: one
 * lock operation per NODE_BATCH nodes on each side. Memory held is
 * bounded: a thread keeps under 2 * NODE_BATCH nodes (freed when it
 * exits), a pool's stash NODE_STASH batches (freed by destroy); batches
 * beyond that are freed at once.
 *
 * A node is one cache line where the task fits in one (LP64): a worker
 * that takes a task from another thread then misses once, not twice.
 * Nodes are plain memory of one size, not tied to a pool: a thread's list
 * serves every pool it submits to. While a test counts allocations
 * (weft__alloc_fail_at) nodes are not recycled, so that each allocation
 * still goes through the hook. Under AddressSanitizer a free node is
 * poisoned, except its links: a use after free still reports.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "base/alloc.h"
#include "pool/sched.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEFT__NODES_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT__NODES_ASAN 1
#endif
#endif
#ifdef WEFT__NODES_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define NODE_BATCH 32
#define NODE_STASH 64

/* A free node, seen through the heap task's ht_node and ht_pool: the
 * next node of its list or batch, and (in the stash, for a batch's first
 * node) the next batch. */
struct node_free {
    unsigned char nf_task[offsetof(struct weft__heap_task, ht_node)];
    struct node_free *nf_next;
    struct node_free *nf_batch;
};
_Static_assert(sizeof(struct node_free) <= sizeof(struct weft__heap_task), "node_free fits");
#define NODE_LINKS_AT  offsetof(struct node_free, nf_next)
#define NODE_LINKS_END (offsetof(struct node_free, nf_batch) + sizeof(struct node_free *))

static void node_poison(struct node_free *f)
{
#ifdef WEFT__NODES_ASAN
    ASAN_POISON_MEMORY_REGION(f, NODE_LINKS_AT);
    ASAN_POISON_MEMORY_REGION((char *)f + NODE_LINKS_END,
                              sizeof(struct weft__heap_task) - NODE_LINKS_END);
#else
    (void)f;
#endif
}

static void node_unpoison(struct node_free *f)
{
#ifdef WEFT__NODES_ASAN
    ASAN_UNPOISON_MEMORY_REGION(f, sizeof(struct weft__heap_task));
#else
    (void)f;
#endif
}

/* ---- the thread's list ------------------------------------------------------ */

struct node_list {
    struct node_free *nl_first;
    unsigned nl_count;
    bool nl_keyed; /* the thread-exit destructor is armed */
    bool nl_gone;  /* it ran: from here (later destructors) no list is kept */
};

static _Thread_local struct node_list tls_nodes;
static pthread_key_t node_key;
static pthread_once_t node_once = PTHREAD_ONCE_INIT;
static bool node_key_made; /* written once under node_once */

static void free_chain(struct node_free *f)
{
    while (f != NULL) {
        struct node_free *next = f->nf_next;
        node_unpoison(f);
        weft__free(f);
        f = next;
    }
}

static void node_thread_exit(void *arg)
{
    struct node_list *l = arg;
    free_chain(l->nl_first);
    l->nl_first = NULL;
    l->nl_count = 0;
    l->nl_keyed = false;
    l->nl_gone = true;
}

static void node_key_make(void)
{
    node_key_made = pthread_key_create(&node_key, node_thread_exit) == 0;
}

/* Arm the destructor that frees the list when the thread exits; false if
 * it cannot be (no key left), or if it has run (a later thread-exit
 * destructor that submits): the thread then keeps no list. */
static bool node_list_keyed(struct node_list *l)
{
    if (!l->nl_keyed && !l->nl_gone) {
        pthread_once(&node_once, node_key_make);
        l->nl_keyed = node_key_made && pthread_setspecific(node_key, l) == 0;
    }
    return l->nl_keyed;
}

/* ---- the pool's stash -------------------------------------------------------- */

void weft__nodes_init(weft_pool *p)
{
    pthread_mutex_init(&p->p_nodes_lock, NULL);
    p->p_nodes = NULL;
    atomic_init(&p->p_nodes_batches, 0);
}

void weft__nodes_fini(weft_pool *p, bool forked)
{
    for (struct node_free *b = p->p_nodes, *next; b != NULL; b = next) {
        next = b->nf_batch;
        free_chain(b);
    }
    p->p_nodes = NULL;
    if (!forked) /* a child of fork may find it locked by a thread that is gone */
        pthread_mutex_destroy(&p->p_nodes_lock);
}

/* Move the first NODE_BATCH nodes of l to p's stash, or free them. */
static void stash_give(weft_pool *p, struct node_list *l)
{
    struct node_free *first = l->nl_first, *last = first;
    for (unsigned i = 1; i < NODE_BATCH; i++)
        last = last->nf_next;
    l->nl_first = last->nf_next;
    l->nl_count -= NODE_BATCH;
    last->nf_next = NULL;
    pthread_mutex_lock(&p->p_nodes_lock);
    /* Relaxed: written only under the lock, which we hold. */
    unsigned n = atomic_load_explicit(&p->p_nodes_batches, memory_order_relaxed);
    bool kept = n < NODE_STASH;
    if (kept) {
        first->nf_batch = p->p_nodes;
        p->p_nodes = first;
        /* Relaxed: the lock orders the stash; takers only peek at it. */
        atomic_store_explicit(&p->p_nodes_batches, n + 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->p_nodes_lock);
    if (!kept)
        free_chain(first);
}

/* Refill an empty l with a batch of p's stash; false if it has none. */
static bool stash_take(weft_pool *p, struct node_list *l)
{
    /* Relaxed: a hint that spares an empty stash the lock (the lock
     * decides; pairs with the stores under it). */
    if (atomic_load_explicit(&p->p_nodes_batches, memory_order_relaxed) == 0)
        return false;
    pthread_mutex_lock(&p->p_nodes_lock);
    struct node_free *b = p->p_nodes;
    if (b != NULL) {
        p->p_nodes = b->nf_batch;
        /* Relaxed: as in stash_give. */
        atomic_store_explicit(&p->p_nodes_batches,
                              atomic_load_explicit(&p->p_nodes_batches, memory_order_relaxed) - 1,
                              memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->p_nodes_lock);
    if (b == NULL)
        return false;
    l->nl_first = b;
    l->nl_count = NODE_BATCH;
    return true;
}

/* ---- allocation ----------------------------------------------------------------- */

struct weft__heap_task *weft__node_alloc(weft_pool *p)
{
    struct node_list *l = &tls_nodes;
    /* A list is refilled only where the thread-exit destructor can free it. */
    if (weft__alloc_counting() || (l->nl_count == 0 && (!node_list_keyed(l) || !stash_take(p, l))))
        return weft__aligned_alloc(WEFT__CACHE_LINE, sizeof(struct weft__heap_task));
    struct node_free *f = l->nl_first;
    l->nl_first = f->nf_next;
    l->nl_count--;
    node_unpoison(f);
    return (struct weft__heap_task *)(void *)f;
}

void weft__node_free(weft_pool *p, struct weft__heap_task *ht)
{
    struct node_list *l = &tls_nodes;
    if (weft__alloc_counting() || !node_list_keyed(l)) {
        weft__free(ht);
        return;
    }
    struct node_free *f = (struct node_free *)(void *)ht;
    f->nf_next = l->nl_first;
    l->nl_first = f;
    node_poison(f);
    if (++l->nl_count >= 2 * NODE_BATCH)
        stash_give(p, l);
}
