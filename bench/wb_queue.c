/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_queue.c - weft-bench workload "queue": P producers and P
 * consumers (1P1C .. 4P4C) pass `size` items through one queue, bounded
 * (capacity 1024) or unbounded. weft_collection against the classic
 * baseline: a ring under one mutex with two condition variables (not empty,
 * not full), growing when unbounded. Producers add the values 1..size
 * (split round-robin), the main thread closes the queue once they are done,
 * consumers take until the queue says it is completed; the answer is the sum
 * of what was taken (checked against size*(size+1)/2 as well).
 *
 * The time includes creating and joining the 2P threads (tens of us).
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "wb.h"

#include <weft/collection.h>

#define QUEUE_MAX_PAIRS 4
#define QUEUE_BOUND 1024

/* ---- the baseline: mutex + two condvars ---- */

typedef struct {
    pthread_mutex_t mq_lock;
    pthread_cond_t mq_not_empty; /* signalled on put and on close */
    pthread_cond_t mq_not_full;  /* signalled on take (bounded only) */
    /* All below: protected by mq_lock. */
    void **mq_buf;
    size_t mq_slots; /* allocated */
    size_t mq_bound; /* 0: unbounded (the ring grows) */
    size_t mq_head, mq_count;
    bool mq_closed;
} wb_mq;

static int mq_init(wb_mq *q, size_t bound)
{
    q->mq_slots = bound != 0 ? bound : 1024;
    q->mq_buf = malloc(q->mq_slots * sizeof *q->mq_buf);
    if (q->mq_buf == NULL)
        return ENOMEM;
    q->mq_bound = bound;
    q->mq_head = q->mq_count = 0;
    q->mq_closed = false;
    pthread_mutex_init(&q->mq_lock, NULL);
    pthread_cond_init(&q->mq_not_empty, NULL);
    pthread_cond_init(&q->mq_not_full, NULL);
    return 0;
}

static void mq_fini(wb_mq *q)
{
    pthread_mutex_destroy(&q->mq_lock);
    pthread_cond_destroy(&q->mq_not_empty);
    pthread_cond_destroy(&q->mq_not_full);
    free(q->mq_buf);
}

static int mq_put(wb_mq *q, void *item)
{
    pthread_mutex_lock(&q->mq_lock);
    while (q->mq_bound != 0 && q->mq_count == q->mq_bound)
        pthread_cond_wait(&q->mq_not_full, &q->mq_lock);
    if (q->mq_count == q->mq_slots) { /* unbounded and full: double */
        void **nb = malloc(2 * q->mq_slots * sizeof *nb);
        if (nb == NULL) {
            pthread_mutex_unlock(&q->mq_lock);
            return ENOMEM;
        }
        for (size_t i = 0; i < q->mq_count; i++)
            nb[i] = q->mq_buf[(q->mq_head + i) % q->mq_slots];
        free(q->mq_buf);
        q->mq_buf = nb;
        q->mq_head = 0;
        q->mq_slots *= 2;
    }
    q->mq_buf[(q->mq_head + q->mq_count) % q->mq_slots] = item;
    q->mq_count++;
    pthread_cond_signal(&q->mq_not_empty);
    pthread_mutex_unlock(&q->mq_lock);
    return 0;
}

/* 0 and *item, or EPIPE once closed and empty. */
static int mq_take(wb_mq *q, void **item)
{
    pthread_mutex_lock(&q->mq_lock);
    while (q->mq_count == 0 && !q->mq_closed)
        pthread_cond_wait(&q->mq_not_empty, &q->mq_lock);
    if (q->mq_count == 0) {
        pthread_mutex_unlock(&q->mq_lock);
        return EPIPE;
    }
    *item = q->mq_buf[q->mq_head];
    q->mq_head = (q->mq_head + 1) % q->mq_slots;
    q->mq_count--;
    if (q->mq_bound != 0)
        pthread_cond_signal(&q->mq_not_full);
    pthread_mutex_unlock(&q->mq_lock);
    return 0;
}

static void mq_close(wb_mq *q)
{
    pthread_mutex_lock(&q->mq_lock);
    q->mq_closed = true;
    pthread_cond_broadcast(&q->mq_not_empty);
    pthread_mutex_unlock(&q->mq_lock);
}

/* ---- the workload ---- */

typedef struct {
    unsigned qs_pairs;
    size_t qs_bound;
    uint64_t qs_items;
} queue_state;

typedef struct {
    wb_kind qt_kind;
    wb_mq *qt_mq;
    weft_collection *qt_coll;
    uint64_t qt_first, qt_step, qt_last; /* producer: values first, first+step, .. <= last */
    uint64_t qt_sum;                     /* consumer: what it took */
    int qt_rc;
} queue_thread;

static void *producer_main(void *p)
{
    queue_thread *t = p;
    for (uint64_t v = t->qt_first; v <= t->qt_last && t->qt_rc == 0; v += t->qt_step) {
        void *item = (void *)(uintptr_t)v;
        if (t->qt_kind == WB_QUEUE_WEFT)
            t->qt_rc = weft_collection_add(t->qt_coll, item);
        else
            t->qt_rc = mq_put(t->qt_mq, item);
    }
    return NULL;
}

static void *consumer_main(void *p)
{
    queue_thread *t = p;
    void *item;
    uint64_t sum = 0;
    int rc;
    if (t->qt_kind == WB_QUEUE_WEFT) {
        while ((rc = weft_collection_take(t->qt_coll, &item)) == 0)
            sum += (uint64_t)(uintptr_t)item;
    } else {
        while ((rc = mq_take(t->qt_mq, &item)) == 0)
            sum += (uint64_t)(uintptr_t)item;
    }
    t->qt_rc = rc == EPIPE ? 0 : rc;
    t->qt_sum = sum;
    return NULL;
}

static int queue_setup(size_t icase, long size, void **state, char *label, size_t len,
                       uint64_t *tasks)
{
    if (size < 1 || icase >= 2 * QUEUE_MAX_PAIRS)
        return EINVAL;
    queue_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->qs_pairs = (unsigned)(icase / 2) + 1;
    s->qs_bound = icase % 2 == 0 ? QUEUE_BOUND : 0;
    s->qs_items = (uint64_t)size;
    *state = s;
    *tasks = s->qs_items; /* items: ns/item is reported as ns/task */
    if (s->qs_bound != 0)
        snprintf(label, len, "%uP%uC,cap=%zu", s->qs_pairs, s->qs_pairs, s->qs_bound);
    else
        snprintf(label, len, "%uP%uC,unbounded", s->qs_pairs, s->qs_pairs);
    return 0;
}

static unsigned queue_threads(void *state)
{
    const queue_state *s = state;
    return 2 * s->qs_pairs;
}

static int queue_run(wb_run *r)
{
    queue_state *s = r->r_state;
    unsigned np = s->qs_pairs;
    queue_thread th[2 * QUEUE_MAX_PAIRS];
    pthread_t tid[2 * QUEUE_MAX_PAIRS];
    wb_mq mq;
    weft_collection *coll = NULL;
    int rc;

    if (r->r_kind == WB_QUEUE_MUTEX) {
        rc = mq_init(&mq, s->qs_bound);
    } else if (r->r_kind == WB_QUEUE_WEFT) {
        weft_collection_options o = {.capacity = s->qs_bound, .order = WEFT_ORDER_FIFO};
        rc = weft_collection_create(&coll, &o);
    } else {
        return ENOTSUP;
    }
    if (rc != 0)
        return rc;

    for (unsigned i = 0; i < 2 * np; i++) {
        queue_thread *t = &th[i];
        t->qt_kind = r->r_kind;
        t->qt_mq = &mq;
        t->qt_coll = coll;
        t->qt_first = i + 1; /* th[0..np) produce, th[np..2np) consume */
        t->qt_step = np;
        t->qt_last = s->qs_items;
        t->qt_sum = 0;
        t->qt_rc = 0;
    }
    /* Consumers start first: if a thread cannot be started, no producer is
     * left blocked on a full queue that nobody drains. */
    bool started[2 * QUEUE_MAX_PAIRS] = {false};
    for (unsigned k = 0; k < 2 * np && rc == 0; k++) {
        unsigned i = (k + np) % (2 * np); /* np..2np-1, then 0..np-1 */
        void *(*fn)(void *) = i < np ? producer_main : consumer_main;
        if (pthread_create(&tid[i], NULL, fn, &th[i]) != 0)
            rc = EAGAIN;
        else
            started[i] = true;
    }
    /* Join the producers, close the queue, join the consumers. */
    for (unsigned i = 0; i < np; i++)
        if (started[i])
            pthread_join(tid[i], NULL);
    if (r->r_kind == WB_QUEUE_WEFT)
        weft_collection_complete_adding(coll);
    else
        mq_close(&mq);
    uint64_t sum = 0;
    for (unsigned i = np; i < 2 * np; i++) {
        if (started[i]) {
            pthread_join(tid[i], NULL);
            sum += th[i].qt_sum;
        }
    }
    for (unsigned i = 0; i < 2 * np && rc == 0; i++)
        rc = th[i].qt_rc;
    if (r->r_kind == WB_QUEUE_WEFT)
        weft_collection_destroy(coll);
    else
        mq_fini(&mq);
    r->r_answer = sum;
    if (rc == 0 && sum != s->qs_items * (s->qs_items + 1) / 2) {
        fprintf(stderr, "weft-bench: queue: items lost or duplicated\n");
        rc = EDOM;
    }
    return rc;
}

static const wb_variant queue_variants[] = {{WB_QUEUE_MUTEX, "mutex"},
                                            {WB_QUEUE_WEFT, "weft"}};

const wb_workload wb_queue = {
    .w_name = "queue",
    .w_help = "1P1C..4P4C through weft_collection vs mutex+2 condvars, bounded 1024 and"
              " unbounded; size items (default 1000000); ignores --workers",
    .w_default_size = 1000000,
    .w_quick_size = 100000,
    .w_smoke_size = 2000,
    .w_flags = WB_F_OWN_THREADS,
    .w_variants = queue_variants,
    .w_nvariants = sizeof queue_variants / sizeof queue_variants[0],
    .w_ncases = 2 * QUEUE_MAX_PAIRS,
    .w_setup = queue_setup,
    .w_run = queue_run,
    .w_teardown = free,
    .w_case_threads = queue_threads,
};
