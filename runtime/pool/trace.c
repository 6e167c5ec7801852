/*
 * runtime/pool/trace.c - scheduler states and their times (always on), and
 * a pool's trace: sessions, per-thread buffers, recording
 * (docs/design/tracing.md). The JSON writer is trace_write.c.
 *
 * Lock order: trace_global_lock, then a session's t_lock. Workers record
 * without locks: each appends to its own buffer and publishes the count
 * (release) that the writer reads (acquire).
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

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "base/alloc.h"
#include "pool/sched.h"
#include "pool/trace_impl.h"

/* ---- clocks ------------------------------------------------------------------ */

uint64_t weft__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the trace clock is the TSC: decided once, at the first pool's
 * creation (before its workers exist), from CPUID alone. Relaxed: set
 * before any session can record (sessions need a pool, whose creator ran
 * the once first); recorders on other threads see it through the pool's
 * publication. */
static _Atomic bool use_tsc;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;
/* Ticks per ns, measured at the first session's start (under the global
 * lock; read only by session_start, under it). */
static double tsc_per_ns;

static void trace_clock_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every
     * power state (an "invariant TSC"), synchronised across the cores. */
    const char *env = getenv("WEFT_TRACE_CLOCK");
    if ((env == NULL || strcmp(env, "monotonic") != 0)
        && __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8)))
        atomic_store_explicit(&use_tsc, true, memory_order_relaxed);
#endif
}

/* The TSC's rate: 2 ms against CLOCK_MONOTONIC (sessions over 20 ms
 * measure their own). Under trace_global_lock. */
static double tsc_rate(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (tsc_per_ns == 0.0) {
        uint64_t n0 = weft__mono_ns(), t0 = __rdtsc(), n1, t1;
        do {
            n1 = weft__mono_ns();
            t1 = __rdtsc();
        } while (n1 - n0 < 2000000);
        tsc_per_ns = t1 > t0 ? (double)(t1 - t0) / (double)(n1 - n0) : 1.0;
    }
    return tsc_per_ns;
#else
    return 1.0;
#endif
}

uint64_t weft__trace_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /* Relaxed: see use_tsc. */
    if (atomic_load_explicit(&use_tsc, memory_order_relaxed))
        return __rdtsc();
#endif
    return weft__mono_ns();
}

/* ---- scheduler states ------------------------------------------------------------ */

/* The owner's writes, inside the sequence count (seq_cst: trace.h). */
static void tstate_write(struct weft__tstate *s, unsigned from, unsigned to, uint64_t now)
{
    uint32_t q = atomic_load_explicit(&s->ts_seq, memory_order_relaxed); /* only we write it */
    atomic_store_explicit(&s->ts_seq, q + 1, memory_order_seq_cst);
    uint64_t since = atomic_load_explicit(&s->ts_since, memory_order_relaxed); /* ours */
    if (from < WEFT__ST_N && now > since) {
        uint64_t acc = atomic_load_explicit(&s->ts_acc[from], memory_order_relaxed); /* ours */
        atomic_store_explicit(&s->ts_acc[from], acc + (now - since), memory_order_seq_cst);
    }
    atomic_store_explicit(&s->ts_since, now, memory_order_seq_cst);
    atomic_store_explicit(&s->ts_state, to, memory_order_seq_cst);
    atomic_store_explicit(&s->ts_seq, q + 2, memory_order_seq_cst);
}

unsigned weft__tstate_set(weft__worker *w, unsigned s)
{
    unsigned from = w->w_ts_cur;
    if (from == s)
        return from;
    w->w_ts_cur = s;
    tstate_write(&w->w_ts, from, s, weft__mono_ns());
    if (WEFT__UNLIKELY(WEFT__TRACE_FLAGS(w->w_pool) != 0))
        weft__trace_state(w, from, s);
    return from;
}

void weft__tstate_start(weft__worker *w)
{
    /* A new thread in the slot (a restarted spare keeps the totals). */
    w->w_ts_cur = WEFT__ST_RUN;
    tstate_write(&w->w_ts, WEFT__ST_N, WEFT__ST_RUN, weft__mono_ns());
}

void weft__tstate_exit(weft__worker *w)
{
    unsigned from = w->w_ts_cur;
    w->w_ts_cur = WEFT__ST_N;
    tstate_write(&w->w_ts, from, WEFT__ST_N, weft__mono_ns());
}

void weft__tstate_read(const weft__worker *w, uint64_t out[WEFT__ST_N])
{
    const struct weft__tstate *s = &w->w_ts;
    for (;;) {
        /* seq_cst, all of them: the reader's side of the sequence count
         * (trace.h); pairs with tstate_write's stores. */
        uint32_t q = atomic_load_explicit(&s->ts_seq, memory_order_seq_cst);
        if (q & 1u) {
            weft__cpu_relax();
            continue;
        }
        for (unsigned i = 0; i < WEFT__ST_N; i++)
            out[i] = atomic_load_explicit(&s->ts_acc[i], memory_order_seq_cst);
        unsigned st = atomic_load_explicit(&s->ts_state, memory_order_seq_cst);
        uint64_t since = atomic_load_explicit(&s->ts_since, memory_order_seq_cst);
        if (atomic_load_explicit(&s->ts_seq, memory_order_seq_cst) != q)
            continue;
        uint64_t now = weft__mono_ns();
        if (st < WEFT__ST_N && since != 0 && now > since)
            out[st] += now - since;
        return;
    }
}

/* ---- sessions ------------------------------------------------------------------- */

/* The session that collection waits of threads that are no workers record
 * into: the one started last, while it runs (trace_global_lock). The
 * number of running sessions, so that a collection wait tests one word. */
static pthread_mutex_t trace_global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct weft__trace *trace_outside_session;
static _Atomic int trace_running;
static _Atomic unsigned trace_env_pools; /* pools that took WEFT_TRACE so far */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void trace_atfork_prepare(void)
{
    pthread_mutex_lock(&trace_global_lock);
}

static void trace_atfork_parent(void)
{
    pthread_mutex_unlock(&trace_global_lock);
}

static void trace_atfork_child(void)
{
    /* The child's pools are inherited (fork.c): their sessions record
     * nothing more, and their files are not written. */
    trace_outside_session = NULL;
    /* Relaxed: the child has one thread. */
    atomic_store_explicit(&trace_running, 0, memory_order_relaxed);
    pthread_mutex_unlock(&trace_global_lock);
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

/* Sessions are told apart by a number that no other session of the
 * process ever has (an address may be reused by a later pool's). */
static _Atomic uint64_t trace_uids;

/* p's session state, made on first use; under trace_global_lock. */
static int session_get(weft_pool *p, struct weft__trace **out)
{
    /* Relaxed: written under trace_global_lock, which we hold. */
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

/* Start a session on p; under trace_global_lock. */
static int session_start(weft_pool *p, const char *path, unsigned flags)
{
    struct weft__trace *t;
    int rc = session_get(p, &t);
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
    /* Relaxed: see use_tsc. */
    t->t_tsc_per_ns = atomic_load_explicit(&use_tsc, memory_order_relaxed) ? tsc_rate() : 1.0;
    /* Relaxed: parameters; a recorder of the previous session that reads
     * the new value does no harm. */
    atomic_store_explicit(
        &t->t_min_ticks,
        (uint64_t)((double)env_long("WEFT_TRACE_MIN_NS", 0, 0, LONG_MAX) * t->t_tsc_per_ns),
        memory_order_relaxed);
    atomic_store_explicit(&t->t_max_bytes,
                          (size_t)env_long("WEFT_TRACE_MAX_MB", 256, 1, 1L << 20) << 20,
                          memory_order_relaxed);
    /* Relaxed: the buffers' owners count under this session only after
     * they see the new generation below (release). */
    atomic_store_explicit(&t->t_bytes, 0, memory_order_relaxed);
    t->t_ns0 = weft__mono_ns();
    t->t_tick0 = weft__trace_now();
    t->t_active = true;
    /* Release: a buffer's owner that reads the new generation (acquire)
     * resets its buffer after the previous session's writer finished with
     * it (that writer held t_lock before us). */
    atomic_store_explicit(&t->t_gen, atomic_load_explicit(&t->t_gen, memory_order_relaxed) + 1,
                          memory_order_release);
    if ((flags & WEFT__TRACE_DAG) && p->p_mode == WEFT_SCHED_STEALING)
        for (unsigned i = 0, n = weft__nslots(p); i < n; i++)
            /* Relaxed RMW: a bit the owner finds at its next push or pop;
             * it keeps the protocol's bits (deque.c keeps this one). */
            atomic_fetch_or_explicit(&p->p_workers[i].w_dq.dq_q.q_hungry, WEFT__HUNGRY_TRACE,
                                     memory_order_relaxed);
    /* Release: pairs with the acquire of t_gen in the recorders (they test
     * this flag relaxed first, then read the generation with acquire). */
    atomic_store_explicit(&p->p_trace_on, WEFT__TRACE_ON | flags, memory_order_release);
    pthread_mutex_unlock(&t->t_lock);
    trace_outside_session = t;
    atomic_fetch_add_explicit(&trace_running, 1, memory_order_relaxed); /* a hint */
    return 0;
}

/* Stop p's session and write its file. Takes trace_global_lock only while
 * it stops the recording, not while it writes. */
static int session_stop(weft_pool *p)
{
    pthread_mutex_lock(&trace_global_lock);
    /* Relaxed: written under trace_global_lock, which we hold. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_relaxed);
    if (t == NULL) {
        pthread_mutex_unlock(&trace_global_lock);
        return EINVAL;
    }
    pthread_mutex_lock(&t->t_lock);
    if (!t->t_active) {
        pthread_mutex_unlock(&t->t_lock);
        pthread_mutex_unlock(&trace_global_lock);
        return EINVAL;
    }
    /* Relaxed: recorders that still see the flag append events the writer
     * below may or may not read (each is published whole). */
    atomic_store_explicit(&p->p_trace_on, 0, memory_order_relaxed);
    if ((t->t_flags & WEFT__TRACE_DAG) && p->p_mode == WEFT_SCHED_STEALING)
        for (unsigned i = 0, n = weft__nslots(p); i < n; i++)
            /* Relaxed RMW: as in session_start. */
            atomic_fetch_and_explicit(&p->p_workers[i].w_dq.dq_q.q_hungry, ~WEFT__HUNGRY_TRACE,
                                      memory_order_relaxed);
    t->t_tick1 = weft__trace_now();
    t->t_ns1 = weft__mono_ns();
    t->t_active = false;
    if (trace_outside_session == t)
        trace_outside_session = NULL;
    atomic_fetch_sub_explicit(&trace_running, 1, memory_order_relaxed); /* a hint */
    pthread_mutex_unlock(&trace_global_lock);
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

void weft__trace_clock_setup(void)
{
    pthread_once(&clock_once, trace_clock_init);
}

void weft__trace_pool_created(weft_pool *p)
{
    pthread_once(&atfork_once, trace_atfork_register);
    const char *tmpl = getenv("WEFT_TRACE");
    if (tmpl == NULL || *tmpl == '\0')
        return;
    /* Relaxed: a number, unique per pool. */
    unsigned n = atomic_fetch_add_explicit(&trace_env_pools, 1, memory_order_relaxed);
    char path[PATH_MAX];
    unsigned flags = env_long("WEFT_TRACE_DAG", 0, 0, 1) ? WEFT__TRACE_DAG : 0;
    int rc = env_path(tmpl, n, path, sizeof path);
    if (rc == 0) {
        pthread_mutex_lock(&trace_global_lock);
        rc = session_start(p, path, flags);
        pthread_mutex_unlock(&trace_global_lock);
    }
    if (rc != 0)
        fprintf(stderr, "weft: WEFT_TRACE: cannot trace into %s: %s\n", tmpl, strerror(rc));
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
        int rc = active ? session_stop(p) : 0;
        if (rc != 0)
            fprintf(stderr, "weft: trace: cannot write %s: %s\n", t->t_path, strerror(rc));
    }
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
        /* Relaxed RMW: as in session_start (a spare made during a session). */
        atomic_fetch_or_explicit(&w->w_dq.dq_q.q_hungry, WEFT__HUNGRY_TRACE, memory_order_relaxed);
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
    pthread_mutex_lock(&trace_global_lock);
    int rc = session_start(p, path, (flags & WEFT_TRACE_DAG) ? WEFT__TRACE_DAG : 0);
    pthread_mutex_unlock(&trace_global_lock);
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
    int rc = session_stop(p);
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
    /* Relaxed: a parameter (session_start). */
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

/* The owner starts its buffer over for session generation gen: the writer
 * of the previous session has finished with it (trace.h). */
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

/* The next free event of b for session t (the owner), or NULL (the cap is
 * reached: the event is counted as dropped). Publish it with tbuf_commit. */
static struct weft__tev *tbuf_slot(struct weft__trace *t, struct weft__tbuf *b)
{
    /* Acquire: pairs with session_start's release (trace.h). */
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

static void tbuf_put(struct weft__trace *t, struct weft__tbuf *b, unsigned kind, unsigned aux,
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
 * with p's session on first use; NULL when none can be had. Under
 * t_lock only for the registration. */
static _Thread_local struct {
    uint64_t o_uid; /* the session's t_uid, 0: none */
    struct weft__tbuf *o_buf;
} outside_tls;

static struct weft__tbuf *outside_buf(struct weft__trace *t)
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
    /* The buffer stays with the session (freed with the pool); the pointer
     * is followed only for the same session, which lives as long as its
     * pool, which the calling thread is using. */
    outside_tls.o_uid = t->t_uid;
    outside_tls.o_buf = b;
    /* Acquire: as in tbuf_slot. The registration's time goes into the
     * first chunk's GAP event. */
    tbuf_reset(t, b, atomic_load_explicit(&t->t_gen, memory_order_acquire), g0);
    return b;
}

/* The calling thread's buffer for p's session: its worker's, else its own. */
static struct weft__tbuf *my_buf(weft_pool *p)
{
    weft__worker *w = weft__worker_of(p);
    if (w != NULL)
        return &w->w_tbuf;
    /* Acquire: pairs with session_get's release. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_acquire);
    return t != NULL ? outside_buf(t) : NULL;
}

/* ---- recording -------------------------------------------------------------------- */

static void record(weft_pool *p, struct weft__tbuf *b, unsigned kind, unsigned aux, uint32_t c,
                   uint64_t ts, uint64_t a, uint64_t bb, uint64_t d)
{
    /* Acquire: pairs with session_get's release. */
    struct weft__trace *t = atomic_load_explicit(&p->p_trace, memory_order_acquire);
    if (b != NULL && t != NULL)
        tbuf_put(t, b, kind, aux, c, ts, a, bb, d);
}

/* A task weft__trace_run runs, until its event is recorded: at its end,
 * or (a heap task) when its function returned, before it wakes whoever
 * waits for it - a waiter may stop the session, and may take this
 * thread's CPU. */
struct weft__trun {
    struct weft__trun *r_outer; /* the run this one is nested in */
    struct weft__task_impl *r_task;
    weft_task_fn r_fn;
    uint64_t r_t0;
    unsigned r_flags, r_victim;
    bool r_always; /* recorded whatever its length (stolen, heap, DAG) */
    bool r_done;
};

static void trun_record(weft__worker *w, struct weft__trun *r, uint64_t t1)
{
    r->r_done = true;
    /* Acquire: pairs with session_get's release. */
    struct weft__trace *t = atomic_load_explicit(&w->w_pool->p_trace, memory_order_acquire);
    /* Relaxed: a parameter (session_start). */
    if (t != NULL
        && (r->r_always
            || t1 - r->r_t0 >= atomic_load_explicit(&t->t_min_ticks, memory_order_relaxed)))
        tbuf_put(t, &w->w_tbuf, WEFT__EV_TASK, r->r_flags, r->r_victim, r->r_t0,
                 (uintptr_t)r->r_task, (uintptr_t)r->r_fn, t1);
}

void weft__trace_run(weft__worker *w, struct weft__task_impl *x)
{
    unsigned prev = weft__tstate_set(w, WEFT__ST_RUN);
    weft_pool *p = w->w_pool;
    unsigned on = WEFT__TRACE_FLAGS(p);
    if (on == 0) {
        weft__run_task_body(w, x);
        weft__tstate_set(w, prev);
        return;
    }
    /* Read before the run: a heap task is freed by it. Relaxed: as in
     * weft__run_task_body. */
    struct weft__trun r = {.r_outer = w->w_tr_cur, .r_task = x, .r_fn = x->ti_fn};
    r.r_flags = (atomic_load_explicit(&x->ti_state, memory_order_relaxed) & WEFT__TS_HEAP)
                    ? WEFT__TF_HEAP
                    : 0;
    if (prev != WEFT__ST_RUN)
        r.r_flags |= WEFT__TF_NESTED;
    if (w->w_tr_stolen == x) {
        r.r_flags |= WEFT__TF_STOLEN;
        r.r_victim = w->w_tr_victim;
    }
    w->w_tr_stolen = NULL;
    r.r_always = (on & WEFT__TRACE_DAG) || (r.r_flags & (WEFT__TF_STOLEN | WEFT__TF_HEAP));
    w->w_tr_cur = &r;
    r.r_t0 = weft__trace_now();
    weft__run_task_body(w, x);
    if (!r.r_done)
        trun_record(w, &r, weft__trace_now());
    w->w_tr_cur = r.r_outer;
    weft__tstate_set(w, prev);
}

void weft__trace_heap_ran(struct weft__heap_task *ht)
{
    weft__worker *w = weft__tls_worker;
    if (w != NULL && w->w_tr_cur != NULL && w->w_tr_cur->r_task == &ht->ht_task
        && !w->w_tr_cur->r_done)
        trun_record(w, w->w_tr_cur, weft__trace_now());
}

void weft__trace_lock(uint64_t t0, uint64_t t1, uint64_t t2)
{
    weft__worker *w = weft__tls_worker;
    if (w == NULL)
        return;
    /* Acquire: pairs with session_get's release. */
    struct weft__trace *t = atomic_load_explicit(&w->w_pool->p_trace, memory_order_acquire);
    if (t == NULL)
        return;
    /* Acquire: as in tbuf_slot. */
    uint32_t gen = atomic_load_explicit(&t->t_gen, memory_order_acquire);
    uint64_t add[4] = {1, t2 - t1, t1 - t0, t1 - t0 > 100 ? 1 : 0};
    for (int i = 0; i < 4; i++) {
        /* Relaxed load + store: only the owner writes them; the writer
         * wants values, not an order. */
        uint64_t v = atomic_load_explicit(&w->w_tr_lock_gen, memory_order_relaxed) == gen
                         ? atomic_load_explicit(&w->w_tr_lock[i], memory_order_relaxed)
                         : 0;
        atomic_store_explicit(&w->w_tr_lock[i], v + add[i], memory_order_relaxed);
    }
    /* Relaxed: read by the writer to tell this session's sums (a report). */
    atomic_store_explicit(&w->w_tr_lock_gen, gen, memory_order_relaxed);
}

void weft__trace_steal(weft__worker *w, struct weft__task_impl *x, unsigned victim, uint64_t t0)
{
    uint64_t t1 = weft__trace_now();
    w->w_tr_stolen = x;
    w->w_tr_victim = victim;
    record(w->w_pool, &w->w_tbuf, WEFT__EV_STEAL, 0, victim, t1, (uintptr_t)x, 0, t1 - t0);
}

void weft__trace_state(weft__worker *w, unsigned from, unsigned to)
{
    record(w->w_pool, &w->w_tbuf, WEFT__EV_STATE, from, to, weft__trace_now(), 0, 0, 0);
}

void weft__trace_wake(weft_pool *p, int n)
{
    struct weft__tbuf *b = my_buf(p); /* before the clock: it may be made now */
    record(p, b, WEFT__EV_WAKE, 0, (uint32_t)n, weft__trace_now(), 0, 0, 0);
}

/* ---- the DAG mode ------------------------------------------------------------------ */

void weft__trace_dag_spawned(weft__worker *w, struct weft__task_impl *t, bool typed)
{
    weft_pool *p = w->w_pool;
    if (!(WEFT__TRACE_FLAGS(p) & WEFT__TRACE_DAG)) {
        /* A bit left from a session that stopped (a spare started while it
         * stopped): clear it, so that the fast paths stay fast. Relaxed
         * RMW: as in session_start. */
        atomic_fetch_and_explicit(&w->w_dq.dq_q.q_hungry, ~WEFT__HUNGRY_TRACE,
                                  memory_order_relaxed);
        return;
    }
    if (t == NULL)
        t = weft__fjq_peek(&w->w_dq.dq_q, weft__fjq_priv(&w->w_dq.dq_q));
    if (t == NULL)
        return;
    record(p, &w->w_tbuf, WEFT__EV_SPAWN, typed, 0, weft__trace_now(), (uintptr_t)t,
           (uintptr_t)t->ti_fn, 0);
}

int weft__trace_dag_inline(weft__worker *w, struct weft__task_impl *t)
{
    weft_pool *p = w->w_pool;
    /* Relaxed: our own frame; only we wrote its state. */
    int32_t s = atomic_load_explicit(&t->ti_state, memory_order_relaxed);
    weft_task_fn fn = t->ti_fn;
    weft__stat_inc(&w->w_executed);
    uint64_t t0 = weft__trace_now();
    int r = fn(weft__frame_arg(t, s));
    uint64_t t1 = weft__trace_now();
    record(p, &w->w_tbuf, WEFT__EV_TASK, WEFT__TF_INLINE, 0, t0, (uintptr_t)t, (uintptr_t)fn,
           t1);
    return r;
}

bool weft__trace_dag_pop(weft__worker *w, struct weft__task_impl *t)
{
    if (!(WEFT__TRACE_FLAGS(w->w_pool) & WEFT__TRACE_DAG))
        return true;
    t->ti_result = weft__trace_dag_inline(w, t);
    /* Relaxed: the frame is this thread's, popped by it; its slow sync
     * (the caller's, next) reads the state on this thread. */
    atomic_store_explicit(&t->ti_state, WEFT__TS_DONE, memory_order_relaxed);
    return false;
}

int weft__trace_dag_sync(weft__worker *w, struct weft__task_impl *t)
{
    weft_pool *p = w->w_pool;
    uint64_t t0 = weft__trace_now();
    int r = p->p_sched->s_sync(w, t);
    record(p, &w->w_tbuf, WEFT__EV_SYNC, 0, 0, t0, (uintptr_t)t, 0, weft__trace_now());
    return r;
}

void weft__trace_heap_spawn(weft_pool *p, struct weft__heap_task *ht)
{
    unsigned kind = ht->ht_call != NULL    ? WEFT__HK_CALL
                    : ht->ht_group != NULL ? WEFT__HK_GROUP
                                           : WEFT__HK_SUBMIT;
    uintptr_t with = ht->ht_call != NULL ? (uintptr_t)ht->ht_call : (uintptr_t)ht->ht_group;
    struct weft__tbuf *b = my_buf(p); /* before the clock: it may be made now */
    record(p, b, WEFT__EV_HSPAWN, 0, kind, weft__trace_now(), (uintptr_t)ht, with, 0);
}

uint64_t weft__trace_join_begin(weft_pool *p, bool *admitted)
{
    *admitted = false;
    if (WEFT__TRACE_FLAGS(p) == 0)
        return 0;
    if (weft__worker_of(p) == NULL) {
        if (weft__callers_enter(p) != 0)
            return 0; /* destroy began: not recorded */
        *admitted = true;
        (void)my_buf(p); /* made before the clock is read */
    }
    return weft__trace_now();
}

void weft__trace_join_end(weft_pool *p, uint64_t t0, bool admitted, const void *what,
                          unsigned kind)
{
    if (t0 != 0 && WEFT__TRACE_FLAGS(p) != 0)
        record(p, my_buf(p), WEFT__EV_JOIN, 0, kind, t0, (uintptr_t)what, 0,
               weft__trace_now());
    if (admitted)
        weft__callers_leave(p);
}

uint64_t weft__trace_group_begin(const weft_pool *p)
{
    if (weft__worker_of(p) != NULL)
        return WEFT__TRACE_FLAGS(p) != 0 ? weft__trace_now() : 0;
    /* Another thread must not touch p (it may be destroyed meanwhile):
     * relaxed, a hint, as in weft__trace_coll_begin. */
    return atomic_load_explicit(&trace_running, memory_order_relaxed) > 0 ? weft__trace_now()
                                                                          : 0;
}

void weft__trace_group_end(const weft_pool *p, uint64_t t0, const void *g)
{
    if (t0 == 0)
        return;
    uint64_t t1 = weft__trace_now();
    weft__worker *w = weft__worker_of(p);
    if (w != NULL) {
        if (WEFT__TRACE_FLAGS(w->w_pool) != 0)
            record(w->w_pool, &w->w_tbuf, WEFT__EV_JOIN, 0, WEFT__HK_GROUP, t0, (uintptr_t)g, 0,
                   t1);
        return;
    }
    /* Into p's session only if it is the running one the global lock
     * guards (its address is compared, p is not touched). */
    pthread_mutex_lock(&trace_global_lock);
    struct weft__trace *t = trace_outside_session;
    if (t != NULL && t->t_pool == p) {
        struct weft__tbuf *b = outside_buf(t);
        if (b != NULL)
            tbuf_put(t, b, WEFT__EV_JOIN, 0, WEFT__HK_GROUP, t0, (uintptr_t)g, 0, t1);
    }
    pthread_mutex_unlock(&trace_global_lock);
}

/* ---- collection waits -------------------------------------------------------------- */

uint64_t weft__trace_coll_begin(void)
{
    /* Relaxed: a hint; a wait that overlaps a session's start is not
     * recorded. */
    return atomic_load_explicit(&trace_running, memory_order_relaxed) > 0 ? weft__trace_now()
                                                                          : 0;
}

void weft__trace_coll_end(uint64_t t0, const void *coll, int side, bool timed_out)
{
    if (t0 == 0)
        return;
    uint64_t t1 = weft__trace_now();
    weft__worker *w = weft__tls_worker;
    if (w != NULL) {
        if (WEFT__TRACE_FLAGS(w->w_pool) != 0)
            record(w->w_pool, &w->w_tbuf, WEFT__EV_COLL_WAIT, timed_out, (uint32_t)side, t0,
                   (uintptr_t)coll, 0, t1);
        return;
    }
    /* Under the global lock: the session cannot stop (and its pool cannot
     * go) meanwhile. */
    pthread_mutex_lock(&trace_global_lock);
    struct weft__trace *t = trace_outside_session;
    if (t != NULL) {
        struct weft__tbuf *b = outside_buf(t);
        if (b != NULL)
            tbuf_put(t, b, WEFT__EV_COLL_WAIT, timed_out, (uint32_t)side, t0, (uintptr_t)coll, 0,
                     t1);
    }
    pthread_mutex_unlock(&trace_global_lock);
}
