/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/fork.c - pools across fork(): a registry of live pools and
 * pthread_atfork handlers.
 *
 * A child of fork() has only the thread that called fork: the pools it
 * inherited have no workers, and their memory may hold locks that other
 * threads held at the fork. The child handler marks every inherited pool
 * forked: each call on it then refuses (EPIPE; weft_pool_size: 0), a group
 * wait on one of its groups returns EPIPE instead of waiting for tasks
 * that will never run, and weft_pool_destroy frees its memory without
 * joining threads that do not exist. New pools in the child are
 * unaffected (weft keeps no process-wide state besides this registry and
 * the membarrier registration, which the child inherits).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "pool/sched.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static weft_pool *registry; /* live pools, linked by p_next/p_prev (registry_lock) */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
_Atomic uint32_t weft__forks;

static void atfork_prepare(void)
{
    pthread_mutex_lock(&registry_lock); /* no pool is half-linked at the fork */
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&registry_lock);
}

static void atfork_child(void)
{
    for (weft_pool *p = registry; p != NULL; p = p->p_next)
        /* Relaxed: the child has one thread now; threads it creates later
         * are ordered after this by their creation. */
        atomic_store_explicit(&p->p_forked, true, memory_order_relaxed);
    registry = NULL; /* the inherited pools are no one's to track */
    /* Relaxed: as above. */
    atomic_fetch_add_explicit(&weft__forks, 1, memory_order_relaxed);
    /* The thread that forked may have been a worker: it is none here. */
    weft__tls_worker = NULL;
    weft__tls_fjq = (struct weft__fjq *)&weft__fjq_none;
    pthread_mutex_init(&registry_lock, NULL); /* held by atfork_prepare */
}

static void atfork_register(void)
{
    /* pthread_atfork returns ENOMEM at worst: then fork() support is lost,
     * which weft_pool_create cannot report any better. */
    (void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void weft__registry_add(weft_pool *p)
{
    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&registry_lock);
    p->p_prev = NULL;
    p->p_next = registry;
    if (registry != NULL)
        registry->p_prev = p;
    registry = p;
    pthread_mutex_unlock(&registry_lock);
}

void weft__registry_remove(weft_pool *p)
{
    pthread_mutex_lock(&registry_lock);
    /* A pool inherited through fork() is in no list (atfork_child). */
    if (!atomic_load_explicit(&p->p_forked, memory_order_relaxed)) {
        if (p->p_prev != NULL)
            p->p_prev->p_next = p->p_next;
        else
            registry = p->p_next;
        if (p->p_next != NULL)
            p->p_next->p_prev = p->p_prev;
    }
    pthread_mutex_unlock(&registry_lock);
}
