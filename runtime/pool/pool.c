/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/pool.c - the pool's life cycle: create (options, stacks,
 * pinning, thread names and hooks), destroy (the outside callers' guard,
 * then idleness, then stop), and the calls that read it (size, current,
 * worker index, stats).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/alloc.h"
#include "base/futex.h"
#include "pool/sched.h"

_Thread_local weft__worker *weft__tls_worker __attribute__((tls_model("initial-exec")));
void (*weft__pool_race_hook)(int where);

/* ---- the outside callers' guard ----------------------------------------- */

int weft__callers_enter(weft_pool *p)
{
    /* Relaxed: set before any thread of this (child) process could call. */
    if (atomic_load_explicit(&p->p_forked, memory_order_relaxed))
        return EPIPE; /* inherited through fork(): no workers */
    /* Relaxed: the CAS below validates the value. */
    uint32_t v = atomic_load_explicit(&p->p_callers, memory_order_relaxed);
    do {
        if (v & WEFT__CALLERS_CLOSING)
            return EPIPE;
        /* Relaxed CAS: RMWs on p_callers are totally ordered, so destroy's
         * fetch_or either came first (we see CLOSING) or comes after our
         * increment (and destroy waits for our decrement). Nothing needs
         * ordering before this point. */
    } while (!atomic_compare_exchange_weak_explicit(&p->p_callers, &v, v + 1,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

/* After the decrement destroy may free the pool; the wake-up is only a
 * syscall on the word's address (weft__futex_wake). */
void weft__callers_leave(weft_pool *p)
{
    /* Release: our writes (the task count, the enqueue) happen before
     * destroy's acquire load that sees the count drop to 0; the decrements
     * are RMWs, so they all belong to the release sequence it reads. */
    uint32_t old = atomic_fetch_sub_explicit(&p->p_callers, 1, memory_order_release);
    if ((old & WEFT__CALLERS_COUNT) == 1 && (old & WEFT__CALLERS_WAITER))
        weft__futex_wake(&p->p_callers, 1);
}

/* destroy: refuse new outside callers, then wait for the admitted ones. */
static void callers_close(weft_pool *p)
{
    /* Relaxed RMW: totally ordered with the callers' CAS (weft__callers_enter). */
    atomic_fetch_or_explicit(&p->p_callers, WEFT__CALLERS_CLOSING, memory_order_relaxed);
    /* Acquire inside: pairs with weft__callers_leave's release decrement. */
    weft__futex_wait_zero(&p->p_callers, WEFT__CALLERS_COUNT, WEFT__CALLERS_WAITER);
}

/* ---- create / destroy -------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The main thread's stack limit (RLIMIT_STACK), kept between 8 MiB and
 * 64 MiB: a huge `ulimit -s` must not make thread creation fail. */
#define WEFT__STACK_MIN ((size_t)8 << 20)
#define WEFT__STACK_MAX ((size_t)64 << 20)
static size_t worker_stack_size(void)
{
    struct rlimit rl;
    size_t sz = WEFT__STACK_MIN;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur > sz)
        sz = rl.rlim_cur > WEFT__STACK_MAX ? WEFT__STACK_MAX : (size_t)rl.rlim_cur;
    return sz;
}

/* The smallest stack_size an option may ask for. */
#define WEFT__STACK_OPTION_MIN ((size_t)64 << 10)

/* The options' bytes a caller with size 0 has: this version's fields. Fixed
 * for good: fields appended later are not part of it (and must be laid out
 * without padding, so that a caller's unused tail reads as zeros). */
#define WEFT__OPTS_SIZE_0 (offsetof(weft_pool_options, trace_flags) + sizeof(uint64_t))
/* No version's options will be larger. */
#define WEFT__OPTS_SIZE_MAX ((size_t)4096)
static_assert(WEFT__OPTS_SIZE_0 == sizeof(weft_pool_options),
              "weft_pool_options grew: keep WEFT__OPTS_SIZE_0 at the 0.2 size");

/* Copy the caller's options into o, this version's layout: the first
 * in->size bytes (0: WEFT__OPTS_SIZE_0), the rest zero (the defaults).
 * EINVAL for a size no version had, or a set field this version does not
 * know (bytes past its struct that are not zero). */
static int options_read(const weft_pool_options *in, weft_pool_options *o)
{
    memset(o, 0, sizeof(*o));
    if (in == NULL)
        return 0;
    size_t n = in->size != 0 ? in->size : WEFT__OPTS_SIZE_0;
    if (n < WEFT__OPTS_SIZE_0 || n > WEFT__OPTS_SIZE_MAX)
        return EINVAL; /* no version had it: garbage, not a struct to scan */
    for (size_t i = sizeof(*o); i < n; i++)
        if (((const unsigned char *)in)[i] != 0)
            return EINVAL;
    memcpy(o, in, n < sizeof(*o) ? n : sizeof(*o));
    return 0;
}

/* ---- worker threads: names and hooks ------------------------------------- */

/* "<name>-<i>" for worker i, "<name>-s<k>" for spare slot k; the name is
 * cut so that the suffix fits Linux's 15 bytes. */
static void thread_name(const weft_pool *p, unsigned index, char out[16])
{
    char suffix[16];
    if (index < p->p_nworkers)
        snprintf(suffix, sizeof(suffix), "-%u", index);
    else
        snprintf(suffix, sizeof(suffix), "-s%u", index - p->p_nworkers);
    size_t len = strlen(suffix), keep = strnlen(p->p_name, 15 - len);
    memcpy(out, p->p_name, keep);
    memcpy(out + keep, suffix, len + 1);
}

void *weft__thread_main(void *arg)
{
    weft__worker *w = arg;
    weft_pool *p = w->w_pool;
    char name[16];
    thread_name(p, w->w_index, name);
    (void)pthread_setname_np(pthread_self(), name); /* cosmetic: failure is fine */
    /* The hooks run as the worker: weft_worker_index and weft_pool_current
     * answer there (weft__worker_main sets the same on entry and clears it
     * on return). A hook that waits for tasks it submitted helps run them,
     * so what it finished is counted when it returns (idle.c). */
    if (p->p_on_start != NULL) {
        weft__tls_worker = w;
        weft__tls_fjq = &w->w_dq.dq_q;
        p->p_on_start(w->w_index, p->p_hook_arg);
        weft__worker_flush_done(w);
    }
    weft__worker_main(w);
    if (p->p_on_stop != NULL) {
        weft__tls_worker = w;
        weft__tls_fjq = &w->w_dq.dq_q;
        p->p_on_stop(w->w_index, p->p_hook_arg);
        weft__worker_flush_done(w);
        weft__tls_fjq = (struct weft__fjq *)&weft__fjq_none;
        weft__tls_worker = NULL;
    }
    return NULL;
}

static void pool_free(weft_pool *p)
{
    /* Relaxed: see weft__callers_enter. A pool inherited through fork()
     * may hold locks of threads that do not exist: free, do not destroy. */
    bool forked = atomic_load_explicit(&p->p_forked, memory_order_relaxed);
    weft__trace_pool_destroy(p); /* writes a running trace; frees the buffers */
    /* Relaxed: every thread that used the deques has been joined. */
    for (unsigned i = 0; i < atomic_load_explicit(&p->p_nslots, memory_order_relaxed); i++)
        weft__deque_fini(&p->p_workers[i].w_dq);
    weft__free(p->p_workers);
    weft__sq_fini(&p->p_sq, forked);
    weft__nodes_fini(p, forked);
    if (!forked)
        pthread_mutex_destroy(&p->p_spare_lock);
    weft__free(p);
}

static void pool_stop_join(weft_pool *p, unsigned started)
{
    /* seq_cst: read by workers before they park (and in park's re-check). */
    atomic_store_explicit(&p->p_stop, true, memory_order_seq_cst);
    weft__pool_notify_all(p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->p_workers[i].w_thread, NULL);
    weft__spares_stop_join(p);
}

/* The (i mod count)-th CPU of the affinity mask cpus. */
static void nth_cpu(const cpu_set_t *cpus, int ncpu, unsigned i, cpu_set_t *one)
{
    int want = (int)(i % (unsigned)ncpu), seen = 0;
    CPU_ZERO(one);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, cpus) && seen++ == want) {
            CPU_SET(c, one);
            return;
        }
    }
}

int weft__pool_create(weft_pool **out, const weft_pool_options *opts, bool is_default)
{
    weft_pool_options o;
    if (out == NULL || options_read(opts, &o) != 0
        || (o.scheduler != WEFT_SCHED_STEALING && o.scheduler != WEFT_SCHED_SHARED)
        || o.workers > WEFT__MAX_WORKERS || o.max_spares > WEFT__MAX_SPARES
        || (o.name != NULL && o.name[0] == '\0')
        || (o.trace_path != NULL && o.trace_path[0] == '\0')
        || (o.trace_flags & ~WEFT_TRACE_DAG) != 0
        || (o.stack_size != 0 && o.stack_size < WEFT__STACK_OPTION_MIN))
        return EINVAL;
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    int ncpu = 0;
    if (o.pin_workers && sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
        ncpu = CPU_COUNT(&cpus);
    unsigned n = o.workers != 0 ? o.workers : weft__default_workers();

    weft_pool *p = weft__aligned_alloc(WEFT__CACHE_LINE, sizeof(*p));
    if (p == NULL)
        return ENOMEM;
    memset(p, 0, sizeof(*p));
    atomic_init(&p->p_nslots, 0); /* no deque to free yet */
    atomic_init(&p->p_forked, false);
    p->p_nworkers = n;
    p->p_max_spares = o.max_spares != 0 ? o.max_spares : WEFT__DEFAULT_SPARES;
    p->p_mode = o.scheduler;
    snprintf(p->p_name, sizeof(p->p_name), "%s", o.name != NULL ? o.name : "weft");
    p->p_on_start = o.on_worker_start;
    p->p_on_stop = o.on_worker_stop;
    p->p_hook_arg = o.hook_arg;
    p->p_default = is_default;
    p->p_sched = o.scheduler == WEFT_SCHED_SHARED ? &weft__sched_shared : &weft__sched_stealing;
    weft__ec_init(&p->p_park);
    atomic_init(&p->p_searching, 0);
    atomic_init(&p->p_stop, false);
    atomic_init(&p->p_fence, 0);
    atomic_init(&p->p_state, 0);
    weft__ec_init(&p->p_idle);
    atomic_init(&p->p_callers, 0);
    atomic_init(&p->p_inj_lock, 0);
    atomic_init(&p->p_inj_stalled, 0);
    __cds_wfcq_init(&p->p_inj_head, &p->p_inj_tail);
    atomic_init(&p->p_blocked, 0);
    atomic_init(&p->p_spares_on, 0);
    atomic_init(&p->p_trace_on, 0);
    atomic_init(&p->p_trace, NULL);
    pthread_mutex_init(&p->p_spare_lock, NULL);
    weft__nodes_init(p);
    int sq_rc = weft__sq_init(&p->p_sq);
    /* Room for the spare slots too; they are made (and touched) on first
     * use only (blocking.c). */
    p->p_workers = weft__aligned_alloc(WEFT__CACHE_LINE,
                                       (size_t)(n + p->p_max_spares) * sizeof(weft__worker));
    if (sq_rc != 0 || p->p_workers == NULL) {
        pool_free(p);
        return ENOMEM;
    }
    memset(p->p_workers, 0, (size_t)n * sizeof(weft__worker));
    for (unsigned i = 0; i < n; i++) {
        weft__worker *w = &p->p_workers[i];
        if (weft__deque_init(&w->w_dq, o.deque_capacity) != 0) {
            pool_free(p); /* frees the p_nslots deques made so far */
            return ENOMEM;
        }
        atomic_store_explicit(&p->p_nslots, i + 1, memory_order_relaxed); /* no thread yet */
        /* A SHARED worker's fast paths must always fail into the
         * scheduler's (sched.h); its deque is never used. */
        if (o.scheduler == WEFT_SCHED_SHARED)
            w->w_dq.dq_q.q_limit = INT64_MIN;
        w->w_pool = p;
        w->w_index = i;
        w->w_force_victim = -1;
        w->w_rng = splitmix64(o.seed ^ splitmix64(i + 1)) | 1;
    }

    weft__trace_clock_setup(); /* before any worker starts */
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        pool_free(p);
        return ENOMEM;
    }
    p->p_stack_size = o.stack_size != 0 ? o.stack_size : worker_stack_size();
    unsigned started = 0;
    int rc = pthread_attr_setstacksize(&attr, p->p_stack_size);
    for (; rc == 0 && started < n; started++) {
        weft__worker *w = &p->p_workers[started];
        if (o.pin_workers && ncpu > 0) {
            cpu_set_t one;
            nth_cpu(&cpus, ncpu, started, &one);
            rc = pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
            if (rc != 0)
                break; /* ENOMEM or EINVAL: create fails with it */
        }
        if (pthread_create(&w->w_thread, &attr, weft__thread_main, w) != 0) {
            rc = EAGAIN;
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pool_stop_join(p, started);
        pool_free(p);
        return rc;
    }
    weft__registry_add(p);
    rc = weft__trace_pool_created(p, o.trace_path, o.trace_flags); /* or WEFT_TRACE */
    if (rc != 0) {
        (void)weft_pool_destroy(p); /* nothing ran on it yet */
        return rc;
    }
    *out = p;
    return 0;
}

int weft_pool_create(weft_pool **out, const weft_pool_options *opts)
{
    return weft__pool_create(out, opts, false);
}

/* Refuse new outside callers and wait until the admitted ones have left
 * the pool (their tasks are counted by then); then only workers add tasks,
 * so the count can fall to 0 and stay there; then stop and join. */
static void pool_drain_stop(weft_pool *p)
{
    weft_blocking_begin(); /* a worker of another pool: compensate there */
    callers_close(p);
    struct weft__timeout forever;
    weft__timeout_start(&forever, WEFT_FOREVER);
    weft__pool_wait_idle(p, &forever);
    pool_stop_join(p, p->p_nworkers);
    weft_blocking_end();
}

int weft_pool_destroy(weft_pool *p)
{
    if (p == NULL)
        return 0;
    if (p->p_default || weft__worker_of(p) != NULL)
        return EPERM;
    weft__registry_remove(p);
    /* Relaxed: see weft__callers_enter. */
    if (atomic_load_explicit(&p->p_forked, memory_order_relaxed)) {
        pool_free(p); /* inherited through fork(): its threads do not exist */
        return 0;
    }
    pool_drain_stop(p);
    pool_free(p);
    return 0;
}

void weft__pool_shutdown(weft_pool *p)
{
    /* Relaxed: see weft__callers_enter. */
    if (!atomic_load_explicit(&p->p_forked, memory_order_relaxed))
        pool_drain_stop(p);
}

/* ---- reading the pool --------------------------------------------------- */

/* Let a reader of p in, or refuse it once destroy began: an outside
 * caller is admitted (and must leave), a worker of p needs nothing (destroy
 * joins it first). */
static int reader_enter(weft_pool *p, bool *admitted)
{
    *admitted = weft__worker_of(p) == NULL;
    return *admitted ? weft__callers_enter(p) : 0;
}

unsigned weft_pool_size(const weft_pool *p)
{
    bool admitted;
    if (p == NULL || reader_enter((weft_pool *)p, &admitted) != 0)
        return 0;
    unsigned n = p->p_nworkers;
    if (admitted)
        weft__callers_leave((weft_pool *)p);
    return n;
}

weft_pool *weft_pool_current(void)
{
    weft__worker *w = weft__tls_worker;
    return w == NULL ? NULL : w->w_pool;
}

int weft_worker_index(void)
{
    weft__worker *w = weft__tls_worker;
    return w == NULL ? -1 : (int)w->w_index;
}

int weft_pool_stats(const weft_pool *p, weft_worker_stats *per_worker, size_t n)
{
    if (p == NULL || per_worker == NULL || n == 0)
        return EINVAL;
    bool admitted;
    if (reader_enter((weft_pool *)p, &admitted) != 0)
        return EPIPE;
    unsigned slots = weft__nslots((weft_pool *)p);
    for (size_t i = slots; i < n; i++)
        memset(&per_worker[i], 0, sizeof(per_worker[i]));
    if (n > slots)
        n = slots;
    for (size_t i = 0; i < n; i++) {
        weft__worker *w = &p->p_workers[i];
        /* Relaxed: counters, each exact once the pool is idle (the idle
         * wait's acquire orders the workers' last stores before). */
        /* Plus the untyped fast paths' counts, in the deque's owner line
         * (weft/bits/spawn.h); relaxed as the owner's stores. */
        const struct weft__fjq *q = &w->w_dq.dq_q;
        per_worker[i].executed = atomic_load_explicit(&w->w_executed, memory_order_relaxed)
                                 + weft__atomic_load(&q->q_executed, memory_order_relaxed);
        per_worker[i].spawned = atomic_load_explicit(&w->w_spawned, memory_order_relaxed)
                                + weft__atomic_load(&q->q_spawned, memory_order_relaxed);
        per_worker[i].steals = atomic_load_explicit(&w->w_steals, memory_order_relaxed);
        per_worker[i].failed_steals =
            atomic_load_explicit(&w->w_failed_steals, memory_order_relaxed);
        per_worker[i].injected = atomic_load_explicit(&w->w_injected, memory_order_relaxed);
        per_worker[i].parks = atomic_load_explicit(&w->w_parks, memory_order_relaxed);
        per_worker[i].blocked = atomic_load_explicit(&w->w_blocked, memory_order_relaxed);
        per_worker[i].spares = atomic_load_explicit(&w->w_spares, memory_order_relaxed);
        uint64_t ns[WEFT__ST_N];
        weft__tstate_read(w, ns);
        per_worker[i].run_ns = ns[WEFT__ST_RUN];
        per_worker[i].search_ns = ns[WEFT__ST_SEARCH];
        per_worker[i].park_ns = ns[WEFT__ST_PARK];
        per_worker[i].blocked_ns = ns[WEFT__ST_BLOCK];
    }
    if (admitted)
        weft__callers_leave((weft_pool *)p);
    return 0;
}
