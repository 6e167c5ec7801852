/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/trace.c - a pool's trace captures (start, stop, WEFT_TRACE,
 * fork) and the per-thread event buffers (docs/design/tracing.md). What is
 * recorded is trace_record.c; the clock and scheduler states tstate.c; the
 * JSON writer trace_write.c.
 *
 * Lock order: weft__trace_global_lock, then a capture's t_lock. Workers
 * record without locks: each appends to its own buffer and publishes the
 * count (release) that the writer reads (acquire).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "pool/sched.h"
#include "pool/trace_impl.h"

/* ---- captures ------------------------------------------------------------------- */

/* The capture that collection waits of threads that are no workers record
 * into: the one started last, while it runs (weft__trace_global_lock). The
 * number of running captures, so that a collection wait tests one word. */
pthread_mutex_t weft__trace_global_lock = PTHREAD_MUTEX_INITIALIZER;
struct weft__trace *weft__trace_outside_capture;
_Atomic int weft__trace_running;
static _Atomic unsigned trace_env_pools; /* pools that took WEFT_TRACE so far */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void trace_atfork_prepare(void)
{
    pthread_mutex_lock(&weft__trace_global_lock);
}

static void trace_atfork_parent(void)
{
    pthread_mutex_unlock(&weft__trace_global_lock);
}

static void trace_atfork_child(void)
{
    /* The child's pools are inherited (fork.c): their captures record
     * nothing more, and their files are not written. */
    weft__trace_outside_capture = NULL;
    /* Relaxed: the child has one thread. */
    atomic_store_explicit(&weft__trace_running, 0, memory_order_relaxed);
    pthread_mutex_unlock(&weft__trace_global_lock);
}

static void trace_atfork_register(void)
{
    pthread_atfork(trace_atfork_prepare, trace_atfork_parent, trace_atfork_child);
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return dflt;
    return v;
}

/* Captures are told apart by a number that no other capture of the
 * process ever has (an address may be reused by a later pool's). */
static _Atomic uint64_t trace_uids;

/* p's capture state, made on first use; under weft__trace_global_lock. */
static int capture_get(weft_pool *p, struct weft__trace **out)
{
    /* Relaxed: written under weft__trace_global_lock, which we hold. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_relaxed);
    if (t == NULL) {
        t = weft__calloc(1, sizeof(*t));
        if (t == NULL)
            return ENOMEM;
        pthread_mutex_init(&t->t_lock, NULL);
        atomic_init(&t->t_gen, 0);
        atomic_init(&t->t_bytes, 0);
        atomic_init(&t->t_min_ticks, 0);
        atomic_init(&t->t_max_bytes, 0);
        /* Relaxed RMW: a unique number. */
        t->t_uid = atomic_fetch_add_explicit(&trace_uids, 1, memory_order_relaxed) + 1;
        t->t_pool = p;
        /* Release: a recorder that loads the pointer (acquire) sees the
         * initialised state. */
        atomic_store_explicit(&p->p_trace, t, memory_order_release);
    }
    *out = t;
    return 0;
}

/* Start a capture on p; under weft__trace_global_lock. */
static int capture_start(weft_pool *p, const char *path, unsigned flags)
{
    struct weft__trace *t;
    int rc = capture_get(p, &t);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->t_lock);
    if (t->t_active) {
        pthread_mutex_unlock(&t->t_lock);
        return EBUSY;
    }
    size_t len = strlen(path);
    char *copy = weft__malloc(len + 1);
    if (copy == NULL) {
        pthread_mutex_unlock(&t->t_lock);
        return ENOMEM;
    }
    memcpy(copy, path, len + 1);
    weft__free(t->t_path);
    t->t_path = copy;
    t->t_flags = flags;
    t->t_tsc_per_ns = weft__trace_use_tsc() ? weft__trace_tsc_rate() : 1.0;
    /* Relaxed: parameters; a recorder of the previous capture that reads
     * the new value does no harm. */
    atomic_store_explicit(
        &t->t_min_ticks,
        (uint64_t)((double)env_long("WEFT_TRACE_MIN_NS", 0, 0, LONG_MAX) * t->t_tsc_per_ns),
        memory_order_relaxed);
    atomic_store_explicit(&t->t_max_bytes,
                          (size_t)env_long("WEFT_TRACE_MAX_MB", 256, 1, 1L << 20) << 20,
                          memory_order_relaxed);
    /* Relaxed: the buffers' owners count under this capture only after
     * they see the new generation below (release). */
    atomic_store_explicit(&t->t_bytes, 0, memory_order_relaxed);
    t->t_ns0 = weft__mono_ns();
    t->t_tick0 = weft__trace_now();
    t->t_active = true;
    /* Release: a buffer's owner that reads the new generation (acquire)
     * resets its buffer after the previous capture's writer finished with
     * it (that writer held t_lock before us). */
    atomic_store_explicit(&t->t_gen, atomic_load_explicit(&t->t_gen, memory_order_relaxed) + 1,
                          memory_order_release);
    if ((flags & WEFT__TRACE_DAG) && p->p_mode == WEFT_SCHED_STEALING)
        for (unsigned i = 0, n = weft__nslots(p); i < n; i++)
            /* Relaxed RMW: a bit the owner finds at its next push or pop;
             * it keeps the protocol's bits (deque.c keeps this one). */
            weft__atomic_fetch_or(&p->p_workers[i].w_dq.dq_q.q_hungry, WEFT__HUNGRY_TRACE,
                                     memory_order_relaxed);
    /* Release: pairs with the acquire of t_gen in the recorders (they test
     * this flag relaxed first, then read the generation with acquire). */
    atomic_store_explicit(&p->p_trace_on, WEFT__TRACE_ON | flags, memory_order_release);
    pthread_mutex_unlock(&t->t_lock);
    weft__trace_outside_capture = t;
    atomic_fetch_add_explicit(&weft__trace_running, 1, memory_order_relaxed); /* a hint */
    return 0;
}

/* Stop p's capture and write its file. Takes weft__trace_global_lock only while
 * it stops the recording, not while it writes. */
static int capture_stop(weft_pool *p)
{
    pthread_mutex_lock(&weft__trace_global_lock);
    /* Relaxed: written under weft__trace_global_lock, which we hold. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_relaxed);
    if (t == NULL) {
        pthread_mutex_unlock(&weft__trace_global_lock);
        return EINVAL;
    }
    pthread_mutex_lock(&t->t_lock);
    if (!t->t_active) {
        pthread_mutex_unlock(&t->t_lock);
        pthread_mutex_unlock(&weft__trace_global_lock);
        return EINVAL;
    }
    /* Relaxed: recorders that still see the flag append events the writer
     * below may or may not read (each is published whole). */
    atomic_store_explicit(&p->p_trace_on, 0, memory_order_relaxed);
    if ((t->t_flags & WEFT__TRACE_DAG) && p->p_mode == WEFT_SCHED_STEALING)
        for (unsigned i = 0, n = weft__nslots(p); i < n; i++)
            /* Relaxed RMW: as in capture_start. */
            weft__atomic_fetch_and(&p->p_workers[i].w_dq.dq_q.q_hungry, ~WEFT__HUNGRY_TRACE,
                                      memory_order_relaxed);
    t->t_tick1 = weft__trace_now();
    t->t_ns1 = weft__mono_ns();
    t->t_active = false;
    if (weft__trace_outside_capture == t)
        weft__trace_outside_capture = NULL;
    atomic_fetch_sub_explicit(&weft__trace_running, 1, memory_order_relaxed); /* a hint */
    pthread_mutex_unlock(&weft__trace_global_lock);
    int rc = weft__trace_write(p, t);
    pthread_mutex_unlock(&t->t_lock);
    return rc;
}

/* The path WEFT_TRACE names for the n-th pool that takes it: %p is the
 * process id; a pool after the first gets ".n" before the extension, unless
 * the path says where (%n). */
static int env_path(const char *tmpl, unsigned n, char *out, size_t len)
{
    size_t o = 0;
    bool has_n = strstr(tmpl, "%n") != NULL;
    const char *dot = strrchr(tmpl, '.');
    const char *slash = strrchr(tmpl, '/');
    if (dot != NULL && slash != NULL && dot < slash)
        dot = NULL;
    for (const char *s = tmpl;; s++) {
        char tmp[32] = "";
        if (!has_n && n > 0 && (s == dot || (dot == NULL && *s == '\0')))
            snprintf(tmp, sizeof tmp, ".%u", n);
        size_t tl = strlen(tmp);
        if (o + tl >= len)
            return ENAMETOOLONG;
        memcpy(out + o, tmp, tl);
        o += tl;
        if (*s == '\0')
            break;
        tmp[0] = '\0';
        if (s[0] == '%' && s[1] == 'p') {
            snprintf(tmp, sizeof tmp, "%ld", (long)getpid());
            s++;
        } else if (s[0] == '%' && s[1] == 'n') {
            snprintf(tmp, sizeof tmp, "%u", n);
            s++;
        } else {
            tmp[0] = *s;
            tmp[1] = '\0';
        }
        tl = strlen(tmp);
        if (o + tl >= len)
            return ENAMETOOLONG;
        memcpy(out + o, tmp, tl);
        o += tl;
    }
    out[o] = '\0';
    return 0;
}


int weft__trace_pool_created(weft_pool *p, const char *opt_path, uint64_t opt_flags)
{
    pthread_once(&atfork_once, trace_atfork_register);
    if (opt_path != NULL) {
        if (env_long("WEFT_TRACE_DAG", 0, 0, 1))
            opt_flags |= WEFT_TRACE_DAG; /* as in weft_pool_trace_start */
        pthread_mutex_lock(&weft__trace_global_lock);
        int rc = capture_start(p, opt_path, (opt_flags & WEFT_TRACE_DAG) ? WEFT__TRACE_DAG : 0);
        pthread_mutex_unlock(&weft__trace_global_lock);
        return rc;
    }
    const char *tmpl = getenv("WEFT_TRACE");
    if (tmpl == NULL || *tmpl == '\0')
        return 0;
    /* Relaxed: a number, unique per pool. */
    unsigned n = atomic_fetch_add_explicit(&trace_env_pools, 1, memory_order_relaxed);
    char path[PATH_MAX];
    unsigned flags = env_long("WEFT_TRACE_DAG", 0, 0, 1) ? WEFT__TRACE_DAG : 0;
    int rc = env_path(tmpl, n, path, sizeof path);
    if (rc == 0) {
        pthread_mutex_lock(&weft__trace_global_lock);
        rc = capture_start(p, path, flags);
        pthread_mutex_unlock(&weft__trace_global_lock);
    }
    if (rc != 0)
        fprintf(stderr, "weft: WEFT_TRACE: cannot trace into %s: %s\n", tmpl, strerror(rc));
    return 0;
}

static void tbuf_free_chunks(struct weft__tbuf *b)
{
    for (struct weft__tchunk *c = b->b_head, *next; c != NULL; c = next) {
        /* Relaxed: no other thread uses the buffer any more. */
        next = atomic_load_explicit(&c->c_next, memory_order_relaxed);
        weft__free(c);
    }
    b->b_head = b->b_cur = NULL;
}

void weft__trace_pool_destroy(weft_pool *p)
{
    /* Relaxed: destroy joined every thread of p; only it touches p now. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_relaxed);
    if (t == NULL)
        return;
    /* Relaxed: as above. */
    if (!atomic_load_explicit(&p->p_forked, memory_order_relaxed)) {
        pthread_mutex_lock(&t->t_lock);
        bool active = t->t_active;
        pthread_mutex_unlock(&t->t_lock);
        int rc = active ? capture_stop(p) : 0;
        if (rc != 0)
            fprintf(stderr, "weft: trace: cannot write %s: %s\n", t->t_path, strerror(rc));
    }
    /* Relaxed: destroy joined every thread, which orders their slots. */
    for (unsigned i = 0, n = atomic_load_explicit(&p->p_nslots, memory_order_relaxed); i < n; i++)
        tbuf_free_chunks(&p->p_workers[i].w_tbuf);
    for (struct weft__tbuf *b = t->t_outside, *next; b != NULL; b = next) {
        next = b->b_next;
        tbuf_free_chunks(b);
        weft__free(b);
    }
    weft__free(t->t_path);
    if (!atomic_load_explicit(&p->p_forked, memory_order_relaxed)) /* relaxed: as above */
        pthread_mutex_destroy(&t->t_lock);
    weft__free(t);
    atomic_store_explicit(&p->p_trace, NULL, memory_order_relaxed); /* relaxed: as above */
}

void weft__trace_worker_start(weft__worker *w)
{
    weft_pool *p = w->w_pool;
    if ((WEFT__TRACE_FLAGS(p) & WEFT__TRACE_DAG) && p->p_mode == WEFT_SCHED_STEALING)
        /* Relaxed RMW: as in capture_start (a spare made during a capture). */
        weft__atomic_fetch_or(&w->w_dq.dq_q.q_hungry, WEFT__HUNGRY_TRACE, memory_order_relaxed);
}

int weft_pool_trace_start(weft_pool *p, const char *path, unsigned flags)
{
    if (p == NULL || path == NULL || *path == '\0' || (flags & ~WEFT_TRACE_DAG) != 0)
        return EINVAL;
    bool outside = weft__worker_of(p) == NULL;
    if (outside && weft__callers_enter(p) != 0)
        return EPIPE;
    if (env_long("WEFT_TRACE_DAG", 0, 0, 1))
        flags |= WEFT_TRACE_DAG;
    pthread_once(&atfork_once, trace_atfork_register);
    pthread_mutex_lock(&weft__trace_global_lock);
    int rc = capture_start(p, path, (flags & WEFT_TRACE_DAG) ? WEFT__TRACE_DAG : 0);
    pthread_mutex_unlock(&weft__trace_global_lock);
    if (outside)
        weft__callers_leave(p);
    return rc;
}

int weft_pool_trace_stop(weft_pool *p)
{
    if (p == NULL)
        return EINVAL;
    bool outside = weft__worker_of(p) == NULL;
    if (outside && weft__callers_enter(p) != 0)
        return EPIPE;
    int rc = capture_stop(p);
    if (outside)
        weft__callers_leave(p);
    return rc;
}

/* ---- buffers --------------------------------------------------------------------- */

static struct weft__tchunk *chunk_new(struct weft__trace *t)
{
    /* Relaxed RMW: a budget, not an order. */
    size_t used = atomic_fetch_add_explicit(&t->t_bytes, sizeof(struct weft__tchunk),
                                            memory_order_relaxed);
    /* Relaxed: a parameter (capture_start). */
    if (used + sizeof(struct weft__tchunk)
        > atomic_load_explicit(&t->t_max_bytes, memory_order_relaxed))
        return NULL;
    struct weft__tchunk *c = weft__malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c)); /* its page faults now, inside the GAP event */
    atomic_init(&c->c_next, NULL);
    atomic_init(&c->c_n, 0);
    return c;
}

/* Record, as the first event of the fresh chunk c, the time the recorder
 * took to get it (from g0), so that tools can leave it out. */
static void chunk_gap(struct weft__tchunk *c, uint64_t g0)
{
    struct weft__tev *e = &c->c_ev[0];
    memset(e, 0, sizeof(*e));
    e->e_kind = WEFT__EV_GAP;
    e->e_ts = g0;
    e->e_d = weft__trace_now();
    /* Release: as in tbuf_commit. */
    atomic_store_explicit(&c->c_n, 1, memory_order_release);
}

/* The owner starts its buffer over for capture generation gen: the writer
 * of the previous capture has finished with it (trace.h). */
static void tbuf_reset(struct weft__trace *t, struct weft__tbuf *b, uint32_t gen, uint64_t g0)
{
    tbuf_free_chunks(b);
    b->b_dropped = 0;
    b->b_head = b->b_cur = chunk_new(t);
    b->b_full = b->b_head == NULL;
    if (!b->b_full)
        chunk_gap(b->b_head, g0);
    /* Release: the writer that reads gen (acquire) sees b_head. */
    atomic_store_explicit(&b->b_gen, gen, memory_order_release);
}

/* The next free event of b for capture t (the owner), or NULL (the cap is
 * reached: the event is counted as dropped). Publish it with tbuf_commit. */
static struct weft__tev *tbuf_slot(struct weft__trace *t, struct weft__tbuf *b)
{
    /* Acquire: pairs with capture_start's release (trace.h). */
    uint32_t gen = atomic_load_explicit(&t->t_gen, memory_order_acquire);
    /* Relaxed: only the owner writes b_gen. */
    if (atomic_load_explicit(&b->b_gen, memory_order_relaxed) != gen)
        tbuf_reset(t, b, gen, weft__trace_now());
    if (b->b_full) {
        b->b_dropped++;
        return NULL;
    }
    struct weft__tchunk *c = b->b_cur;
    /* Relaxed: only the owner writes c_n. */
    uint32_t n = atomic_load_explicit(&c->c_n, memory_order_relaxed);
    if (n == WEFT__TCHUNK_EVENTS) {
        uint64_t g0 = weft__trace_now();
        struct weft__tchunk *nc = chunk_new(t);
        if (nc == NULL) {
            b->b_full = true;
            b->b_dropped++;
            return NULL;
        }
        chunk_gap(nc, g0);
        /* Release: the writer that follows the link sees the chunk's
         * counters and its first event. */
        atomic_store_explicit(&c->c_next, nc, memory_order_release);
        b->b_cur = c = nc;
        n = 1;
    }
    return &c->c_ev[n];
}

static void tbuf_commit(struct weft__tbuf *b)
{
    struct weft__tchunk *c = b->b_cur;
    /* Release: publishes the event to the writer's acquire load. Relaxed
     * load: only the owner writes c_n. */
    atomic_store_explicit(&c->c_n, atomic_load_explicit(&c->c_n, memory_order_relaxed) + 1,
                          memory_order_release);
}

void weft__tbuf_put(struct weft__trace *t, struct weft__tbuf *b, unsigned kind, unsigned aux,
                    uint32_t c, uint64_t ts, uint64_t a, uint64_t bb, uint64_t d)
{
    struct weft__tev *e = tbuf_slot(t, b);
    if (e == NULL)
        return;
    e->e_ts = ts;
    e->e_a = a;
    e->e_b = bb;
    e->e_d = d;
    e->e_kind = (uint16_t)kind;
    e->e_aux = (uint16_t)aux;
    e->e_c = c;
    tbuf_commit(b);
}

/* This thread's buffer for a thread that is no worker of p, registered
 * with p's capture on first use; NULL when none can be had. Under
 * t_lock only for the registration. */
static _Thread_local struct {
    uint64_t o_uid; /* the capture's t_uid, 0: none */
    struct weft__tbuf *o_buf;
} outside_tls;

struct weft__tbuf *weft__trace_outside_buf(struct weft__trace *t)
{
    if (outside_tls.o_uid == t->t_uid)
        return outside_tls.o_buf;
    uint64_t g0 = weft__trace_now();
    struct weft__tbuf *b = weft__calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    atomic_init(&b->b_gen, 0);
    b->b_tid = (int)syscall(SYS_gettid);
    if (pthread_getname_np(pthread_self(), b->b_name, sizeof b->b_name) != 0)
        b->b_name[0] = '\0';
    pthread_mutex_lock(&t->t_lock);
    b->b_next = t->t_outside;
    t->t_outside = b;
    pthread_mutex_unlock(&t->t_lock);
    /* The buffer stays with the capture (freed with the pool); the pointer
     * is followed only for the same capture, which lives as long as its
     * pool, which the calling thread is using. */
    outside_tls.o_uid = t->t_uid;
    outside_tls.o_buf = b;
    /* Acquire: as in tbuf_slot. The registration's time goes into the
     * first chunk's GAP event. */
    tbuf_reset(t, b, atomic_load_explicit(&t->t_gen, memory_order_acquire), g0);
    return b;
}

/* The calling thread's buffer for p's capture: its worker's, else its own. */
struct weft__tbuf *weft__trace_my_buf(weft_pool *p)
{
    weft__worker *w = weft__worker_of(p);
    if (w != NULL)
        return &w->w_tbuf;
    /* Acquire: pairs with capture_get's release. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_acquire);
    return t != NULL ? weft__trace_outside_buf(t) : NULL;
}
