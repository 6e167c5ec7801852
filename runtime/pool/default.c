/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/default.c - weft_pool_default: one process-wide pool, made
 * on first use, shut down at exit, made afresh in a child of fork().
 *
 * The first caller creates the pool without holding dp_lock (creating
 * starts threads and takes fork.c's registry lock); callers that come
 * meanwhile wait on dp_cond. So dp_lock is a leaf and our atfork handlers
 * need no order with fork.c's. Lock order: dp_lock is a leaf.
 *
 * At exit the pool is drained and its threads joined (weft__pool_shutdown)
 * but its memory is kept: a thread that still holds the pointer while
 * exit() runs gets EPIPE, not freed memory. In a child of fork() the
 * parent's default pool is an inherited one (fork.c: every call refuses);
 * the child's first call makes a new pool, and the inherited one's memory
 * stays until the child exits.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#include "pool/sched.h"

static pthread_once_t dp_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t dp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dp_cond = PTHREAD_COND_INITIALIZER; /* creation ended */
/* The pool: written under dp_lock (release), read without it (acquire). */
static _Atomic(weft_pool *) dp_pool;
static bool dp_creating;        /* a caller is creating it (dp_lock) */
static bool dp_exiting;         /* exit began: create no more (dp_lock) */
static weft_pool *dp_inherited; /* a child's: the parent's pool, kept (see above) */

static void dp_atexit(void)
{
    pthread_mutex_lock(&dp_lock);
    dp_exiting = true;
    while (dp_creating)
        pthread_cond_wait(&dp_cond, &dp_lock);
    /* Relaxed: under dp_lock, which every store holds. */
    weft_pool *p = atomic_load_explicit(&dp_pool, memory_order_relaxed);
    pthread_mutex_unlock(&dp_lock);
    /* exit() on one of its own threads (a task called it): nobody can wait
     * for that task, and _exit ends the threads anyway. */
    if (p != NULL && weft__worker_of(p) == NULL)
        weft__pool_shutdown(p);
}

static void dp_prepare(void)
{
    pthread_mutex_lock(&dp_lock); /* no half-made state at the fork */
}

static void dp_parent(void)
{
    pthread_mutex_unlock(&dp_lock);
}

static void dp_child(void)
{
    /* One thread now. Relaxed: threads the child makes later are ordered
     * after this by their creation. */
    weft_pool *p = atomic_load_explicit(&dp_pool, memory_order_relaxed);
    if (p != NULL)
        dp_inherited = p; /* an earlier child's one, if any, stays allocated */
    atomic_store_explicit(&dp_pool, NULL, memory_order_relaxed);
    dp_creating = false; /* its creator is not in this process */
    pthread_mutex_init(&dp_lock, NULL);
    pthread_cond_init(&dp_cond, NULL);
}

static void dp_register(void)
{
    /* Either may fail (ENOMEM): then the pool is not shut down at exit (its
     * threads end with the process), or a child of fork() would find a
     * pool it cannot use; weft_pool_default cannot report either. */
    (void)atexit(dp_atexit);
    (void)pthread_atfork(dp_prepare, dp_parent, dp_child);
}

weft_pool *weft_pool_default(void)
{
    /* Acquire: pairs with the release store below, so the pool is made. */
    weft_pool *p = atomic_load_explicit(&dp_pool, memory_order_acquire);
    if (p != NULL)
        return p;
    pthread_once(&dp_once, dp_register);
    pthread_mutex_lock(&dp_lock);
    while (dp_creating)
        pthread_cond_wait(&dp_cond, &dp_lock);
    /* Relaxed: under dp_lock. */
    p = atomic_load_explicit(&dp_pool, memory_order_relaxed);
    if (p == NULL && !dp_exiting) {
        dp_creating = true;
        pthread_mutex_unlock(&dp_lock);
        if (weft__pool_create(&p, NULL, true) != 0)
            p = NULL; /* the next call tries again */
        pthread_mutex_lock(&dp_lock);
        dp_creating = false;
        /* Release: publishes the made pool to the acquire load above. */
        atomic_store_explicit(&dp_pool, p, memory_order_release);
        pthread_cond_broadcast(&dp_cond);
    }
    pthread_mutex_unlock(&dp_lock);
    return p;
}
