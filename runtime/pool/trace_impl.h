/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/trace_impl.h - a pool's trace capture, shared by trace.c
 * (captures, buffers), trace_record.c (recording), tstate.c (the clock),
 * trace_write.c (the JSON file) and trace_sym.c (function names).
 */
#ifndef WEFT_RUNTIME_POOL_TRACE_IMPL_H
#define WEFT_RUNTIME_POOL_TRACE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/trace.h"

/* One per pool, made at its first capture, freed with the pool. */
struct weft__trace {
    pthread_mutex_t t_lock;
    uint64_t t_uid; /* unique in the process (read-only) */
    const struct weft_pool *t_pool; /* its pool, compared only (read-only) */
    /* The capture: bumped (release) at each start; a buffer whose b_gen
     * differs belongs to an older one. */
    _Atomic uint32_t t_gen;
    /* Parameters of the running capture, read by recorders (relaxed). */
    _Atomic uint64_t t_min_ticks; /* WEFT_TRACE_MIN_NS in ticks */
    _Atomic size_t t_max_bytes;   /* WEFT_TRACE_MAX_MB */
    _Atomic size_t t_bytes;       /* chunk bytes taken so far (relaxed RMW) */
    /* Under t_lock: */
    bool t_active;
    unsigned t_flags; /* WEFT__TRACE_DAG */
    char *t_path;
    double t_tsc_per_ns; /* ticks per ns (1 when the ticks are ns) */
    uint64_t t_tick0, t_ns0, t_tick1, t_ns1; /* start and stop */
    struct weft__tbuf *t_outside; /* threads that are no workers of the pool */
};

/* trace.c: the capture that waits of threads that are no workers record
 * into (the one started last, while it runs) and the lock that guards it;
 * the number of running captures (a hint, read relaxed, so that a
 * collection wait tests one word). */
extern pthread_mutex_t weft__trace_global_lock;
extern struct weft__trace *weft__trace_outside_capture;
extern _Atomic int weft__trace_running;

/* trace.c: append an event to buffer b of capture t (its owner only;
 * dropped past the size cap); the calling thread's buffer for a capture
 * of a pool it is no worker of (registered on first use; NULL when none
 * can be had); the calling thread's buffer for p's capture. */
void weft__tbuf_put(struct weft__trace *t, struct weft__tbuf *b, unsigned kind, unsigned aux,
                    uint32_t c, uint64_t ts, uint64_t a, uint64_t bb, uint64_t d);
struct weft__tbuf *weft__trace_outside_buf(struct weft__trace *t);
struct weft__tbuf *weft__trace_my_buf(struct weft_pool *p);

/* tstate.c: whether the trace clock is the TSC, and its ticks per ns
 * (under weft__trace_global_lock). */
bool weft__trace_use_tsc(void);
double weft__trace_tsc_rate(void);

/* trace_sym.c: the name of the function at addr into buf (modules whose
 * symbol tables were read are kept in *mods until weft__symmods_free);
 * a copy of s (weft__malloc; NULL: ENOMEM). */
struct weft__symmod;
void weft__sym_name(struct weft__symmod **mods, uintptr_t addr, char *buf, size_t len);
void weft__symmods_free(struct weft__symmod *m);
char *weft__trace_strdup(const char *s);

/* trace_write.c: write the capture that just stopped to t_path (under
 * t_lock). 0 or the errno of the file's creation or writing. */
int weft__trace_write(struct weft_pool *p, struct weft__trace *t);

#endif /* WEFT_RUNTIME_POOL_TRACE_IMPL_H */
