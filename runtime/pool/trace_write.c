/* SPDX-License-Identifier: MIT */
/*
 * runtime/pool/trace_write.c - a stopped trace capture as Chrome
 * trace-event JSON (Perfetto and chrome://tracing open it), with the raw
 * events that tools/weft-prof reads in a "weft" member, and task function
 * names (trace_sym.c) (docs/design/tracing.md, "The file").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/version.h>

#include "base/alloc.h"
#include "pool/sched.h"
#include "pool/trace_impl.h"

/* ---- the capture's buffers --------------------------------------------------------- */

struct thr {
    const struct weft__tbuf *t_buf;
    int t_slot; /* worker or spare slot, -1 for other threads */
    long t_tid; /* in the file */
    _Atomic uint64_t *t_lock; /* a worker's lock sums for this capture, or NULL */
};

/* Reading a buffer's published events, oldest first. */
struct evit {
    const struct weft__tchunk *it_c;
    uint32_t it_i, it_n;
};

static uint32_t chunk_count(const struct weft__tchunk *c)
{
    /* Acquire: pairs with tbuf_commit's release (the events). */
    return c != NULL ? atomic_load_explicit(&((struct weft__tchunk *)c)->c_n, memory_order_acquire)
                     : 0;
}

static void evit_init(struct evit *it, const struct weft__tbuf *b)
{
    it->it_c = b->b_head;
    it->it_i = 0;
    it->it_n = chunk_count(it->it_c);
}

static const struct weft__tev *evit_next(struct evit *it)
{
    while (it->it_c != NULL) {
        if (it->it_i < it->it_n)
            return &it->it_c->c_ev[it->it_i++];
        /* Acquire: pairs with the owner's release of the link. */
        it->it_c = atomic_load_explicit(&((struct weft__tchunk *)it->it_c)->c_next,
                                        memory_order_acquire);
        it->it_i = 0;
        it->it_n = chunk_count(it->it_c);
    }
    return NULL;
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

struct wctx {
    FILE *f;
    const struct weft__trace *t;
    long pid;
    unsigned nworkers;
    uint64_t flow;
    bool first;
    uintptr_t *fns; /* sorted, distinct */
    char **names;
    size_t nfns;
};

/* ns since the capture's start for tick value v (may be negative). */
/* An end (of a complete event) after the stop is the stop: a thread
 * descheduled between its work and its record. */
static uint64_t clamp_end(const struct weft__trace *t, uint64_t v)
{
    return (int64_t)(v - t->t_tick1) > 0 ? t->t_tick1 : v;
}

static double rel_ns(const struct weft__trace *t, uint64_t v)
{
    double d = (double)(int64_t)(v - t->t_tick0);
    return d / t->t_tsc_per_ns;
}

static long long rel_ns_ll(const struct weft__trace *t, uint64_t v)
{
    double d = rel_ns(t, v);
    return (long long)(d < 0 ? d - 0.5 : d + 0.5);
}

static const char *fn_name(const struct wctx *x, uintptr_t fn)
{
    size_t lo = 0, hi = x->nfns;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->fns[mid] < fn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < x->nfns && x->fns[lo] == fn && x->names[lo] != NULL ? x->names[lo] : "task";
}

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void ev_head(struct wctx *x, const char *ph, long tid, double ts_ns)
{
    fprintf(x->f, "%s\n{\"ph\":\"%s\",\"pid\":%ld,\"tid\":%ld,\"ts\":%.3f", x->first ? "" : ",", ph,
            x->pid, tid, ts_ns < 0 ? 0.0 : ts_ns / 1000.0);
    x->first = false;
}

static void ev_slice(struct wctx *x, long tid, double b_ns, double e_ns, const char *name,
                     const char *cat)
{
    if (b_ns < 0)
        b_ns = 0;
    if (e_ns < b_ns)
        e_ns = b_ns;
    ev_head(x, "X", tid, b_ns);
    fprintf(x->f, ",\"dur\":%.3f,\"cat\":\"%s\",\"name\":", (e_ns - b_ns) / 1000.0, cat);
    put_str(x->f, name);
}

static const char *const state_names[WEFT__ST_N] = {"running", "searching", "parked", "blocked"};
static const char *const side_names[3] = {"add", "take", "join"};
static const char *const join_names[4] = {"group wait (submit)", "group wait",
                                          "weft_pool_call wait", "weft_pool_wait_idle"};

static long tid_of_slot(unsigned slot)
{
    return (long)slot + 1;
}

/* One thread's events as trace events. */
static void write_thread(struct wctx *x, const struct thr *th)
{
    const struct weft__trace *t = x->t;
    double stop_ns = rel_ns(t, t->t_tick1);
    int state = -1; /* unknown until the first state event */
    double since = 0;
    char name[160];
    struct evit it;
    evit_init(&it, th->t_buf);
    for (const struct weft__tev *e; (e = evit_next(&it)) != NULL;) {
        if ((int64_t)(e->e_ts - t->t_tick1) > 0)
            continue; /* recorded after the stop */
        double ts = rel_ns(t, e->e_ts);
        switch (e->e_kind) {
        case WEFT__EV_TASK: {
            double te = rel_ns(t, clamp_end(t, e->e_d));
            ev_slice(x, th->t_tid, ts, te, fn_name(x, (uintptr_t)e->e_b), "task");
            const char *how = (e->e_aux & WEFT__TF_STOLEN)   ? "stolen"
                              : (e->e_aux & WEFT__TF_INLINE) ? "inline (its sync)"
                              : (e->e_aux & WEFT__TF_HEAP)   ? "queued (heap task)"
                                                             : "own deque";
            fprintf(x->f, ",\"args\":{\"task\":\"0x%" PRIx64 "\",\"how\":\"%s\"", e->e_a, how);
            if (e->e_aux & WEFT__TF_STOLEN)
                fprintf(x->f, ",\"victim\":\"worker %u\"", e->e_c);
            if (e->e_aux & WEFT__TF_NESTED)
                fprintf(x->f, ",\"nested\":true");
            fprintf(x->f, "}}");
            if (e->e_aux & WEFT__TF_STOLEN) {
                /* thief <- victim: a flow from a point on the victim's
                 * track to the stolen task's slice. */
                uint64_t id = ++x->flow;
                long vt = tid_of_slot(e->e_c);
                snprintf(name, sizeof name, "stolen by %s %d",
                         th->t_slot >= (int)x->nworkers ? "spare" : "worker",
                         th->t_slot >= (int)x->nworkers ? th->t_slot - (int)x->nworkers
                                                        : th->t_slot);
                ev_slice(x, vt, ts, ts, name, "steal");
                fprintf(x->f, "}");
                ev_head(x, "s", vt, ts);
                fprintf(x->f, ",\"id\":%" PRIu64 ",\"cat\":\"steal\",\"name\":\"steal\"}", id);
                ev_head(x, "f", th->t_tid, ts);
                fprintf(x->f,
                        ",\"bp\":\"e\",\"id\":%" PRIu64 ",\"cat\":\"steal\",\"name\":\"steal\"}",
                        id);
            }
            break;
        }
        case WEFT__EV_STATE: {
            unsigned from = e->e_aux < WEFT__ST_N ? e->e_aux : WEFT__ST_RUN;
            unsigned to = e->e_c < WEFT__ST_N ? e->e_c : WEFT__ST_RUN;
            if (state < 0) {
                state = (int)from; /* the state the capture found it in */
                since = 0;
            }
            if (state != WEFT__ST_RUN && ts > since) {
                ev_slice(x, th->t_tid, since, ts, state_names[state], "idle");
                fprintf(x->f, "}");
            }
            if (to == WEFT__ST_PARK) {
                ev_head(x, "i", th->t_tid, ts);
                fprintf(x->f, ",\"s\":\"t\",\"cat\":\"idle\",\"name\":\"park\"}");
            } else if (state == WEFT__ST_PARK) {
                ev_head(x, "i", th->t_tid, ts);
                fprintf(x->f, ",\"s\":\"t\",\"cat\":\"idle\",\"name\":\"woken\"}");
            }
            state = (int)to;
            since = ts;
            break;
        }
        case WEFT__EV_WAKE:
            ev_head(x, "i", th->t_tid, ts);
            fprintf(x->f, ",\"s\":\"t\",\"cat\":\"idle\",\"name\":\"wake a worker\"}");
            break;
        case WEFT__EV_COLL_WAIT:
            snprintf(name, sizeof name, "%s wait (%s)",
                     e->e_a != 0 ? "collection" : "collection any", side_names[e->e_c % 3]);
            ev_slice(x, th->t_tid, ts, rel_ns(t, clamp_end(t, e->e_d)), name, "wait");
            fprintf(x->f, ",\"args\":{\"collection\":\"0x%" PRIx64 "\",\"timed_out\":%s}}",
                    e->e_a, e->e_aux ? "true" : "false");
            break;
        case WEFT__EV_SYNC:
            ev_slice(x, th->t_tid, ts, rel_ns(t, clamp_end(t, e->e_d)), "sync wait", "wait");
            fprintf(x->f, ",\"args\":{\"task\":\"0x%" PRIx64 "\"}}", e->e_a);
            break;
        case WEFT__EV_JOIN:
            ev_slice(x, th->t_tid, ts, rel_ns(t, clamp_end(t, e->e_d)), join_names[e->e_c % 4],
                     "wait");
            fprintf(x->f, "}");
            break;
        case WEFT__EV_GAP:
            ev_slice(x, th->t_tid, ts, rel_ns(t, clamp_end(t, e->e_d)), "trace buffer", "weft");
            fprintf(x->f, "}");
            break;
        default: /* STEAL, SPAWN, HSPAWN: in the raw events only */
            break;
        }
    }
    if (state > WEFT__ST_RUN && stop_ns > since) {
        ev_slice(x, th->t_tid, since, stop_ns, state_names[state], "idle");
        fprintf(x->f, "}");
    }
}

static void write_raw_thread(struct wctx *x, const struct thr *th, bool first)
{
    const struct weft__trace *t = x->t;
    fprintf(x->f, "%s\n{\"tid\":%ld,\"slot\":%d,", first ? "" : ",", th->t_tid, th->t_slot);
    if (th->t_lock != NULL) {
        /* Relaxed: sums the owner wrote this capture (it may still add). */
        uint64_t v[4];
        for (int i = 0; i < 4; i++)
            v[i] = atomic_load_explicit(&th->t_lock[i], memory_order_relaxed);
        fprintf(x->f, "\"lock\":{\"sampled_ops\":%" PRIu64 ",\"hold_ns\":%.0f,"
                      "\"wait_ns\":%.0f,\"waited\":%" PRIu64 "},",
                v[0], (double)v[1] / t->t_tsc_per_ns, (double)v[2] / t->t_tsc_per_ns, v[3]);
    }
    fprintf(x->f, "\"events\":[");
    bool f1 = true;
    struct evit it;
    evit_init(&it, th->t_buf);
    for (const struct weft__tev *e; (e = evit_next(&it)) != NULL;) {
        if ((int64_t)(e->e_ts - t->t_tick1) > 0)
            continue; /* recorded after the stop */
        double d = 0;
        switch (e->e_kind) {
        case WEFT__EV_TASK:
        case WEFT__EV_COLL_WAIT:
        case WEFT__EV_SYNC:
        case WEFT__EV_JOIN:
        case WEFT__EV_GAP:
            d = rel_ns(t, clamp_end(t, e->e_d));
            break;
        case WEFT__EV_STEAL:
            d = (double)e->e_d / t->t_tsc_per_ns;
            break;
        default:
            break;
        }
        /* Times in ns with a fraction: TSC ticks are finer than a ns, and
         * tools order the events of a thread by them. */
        fprintf(x->f, "%s[%u,%.2f,%" PRIu64 ",%" PRIu64 ",%u,%u,%.2f]", f1 ? "" : ",",
                e->e_kind, rel_ns(t, e->e_ts), e->e_a, e->e_b, e->e_c, e->e_aux, d);
        f1 = false;
    }
    fprintf(x->f, "]}");
}

int weft__trace_write(weft_pool *p, struct weft__trace *t)
{
    uint32_t gen = atomic_load_explicit(&t->t_gen, memory_order_relaxed); /* ours (t_lock) */
    unsigned nslots = weft__nslots(p);
    size_t nthr = nslots;
    for (const struct weft__tbuf *b = t->t_outside; b != NULL; b = b->b_next)
        nthr++;
    struct thr *thr = weft__calloc(nthr > 0 ? nthr : 1, sizeof(*thr));
    if (thr == NULL)
        return ENOMEM;
    size_t n = 0;
    uint64_t dropped = 0;
    /* Acquire (b_gen): pairs with tbuf_reset's release, so that b_head is
     * the buffer's. A buffer of an older capture was not written to in
     * this one. */
    for (unsigned i = 0; i < nslots; i++) {
        const struct weft__tbuf *b = &p->p_workers[i].w_tbuf;
        if (atomic_load_explicit(&b->b_gen, memory_order_acquire) == gen) {
            weft__worker *w = &p->p_workers[i];
            /* Relaxed: a report; sums of an older capture are left out. */
            bool sums = p->p_mode == WEFT_SCHED_SHARED
                        && atomic_load_explicit(&w->w_tr_lock_gen, memory_order_relaxed) == gen;
            thr[n++] = (struct thr){b, (int)i, tid_of_slot(i), sums ? w->w_tr_lock : NULL};
        }
    }
    long k = 0;
    for (const struct weft__tbuf *b = t->t_outside; b != NULL; b = b->b_next, k++)
        /* Acquire: as above. */
        if (atomic_load_explicit(&b->b_gen, memory_order_acquire) == gen)
            thr[n++] = (struct thr){b, -1, 100000 + k, NULL};
    /* Captures of over a few ms measure the TSC rate themselves. */
    if (t->t_tsc_per_ns != 1.0 && t->t_ns1 - t->t_ns0 > 20000000 && t->t_tick1 > t->t_tick0)
        t->t_tsc_per_ns = (double)(t->t_tick1 - t->t_tick0) / (double)(t->t_ns1 - t->t_ns0);

    /* The functions named in the trace. */
    size_t nf = 0, capf = 0;
    uintptr_t *fns = NULL;
    for (size_t i = 0; i < n; i++) {
        /* b_dropped: the owner's count; read racily as a report only when
         * the owner still records (a capture stopped under a busy pool). */
        struct evit it;
        evit_init(&it, thr[i].t_buf);
        for (const struct weft__tev *e; (e = evit_next(&it)) != NULL;) {
            if ((e->e_kind == WEFT__EV_TASK || e->e_kind == WEFT__EV_SPAWN) && e->e_b != 0) {
                if (nf == capf) {
                    size_t nc = capf ? capf * 2 : 256;
                    uintptr_t *nfns = weft__malloc(nc * sizeof(*nfns));
                    if (nfns == NULL)
                        continue; /* that name stays unknown */
                    if (nf > 0)
                        memcpy(nfns, fns, nf * sizeof(*fns));
                    weft__free(fns);
                    fns = nfns;
                    capf = nc;
                }
                fns[nf++] = (uintptr_t)e->e_b;
                if (nf == capf) { /* dedupe before growing */
                    qsort(fns, nf, sizeof(*fns), cmp_uptr);
                    size_t u = 0;
                    for (size_t j = 0; j < nf; j++)
                        if (u == 0 || fns[u - 1] != fns[j])
                            fns[u++] = fns[j];
                    nf = u;
                }
            }
        }
    }
    if (nf > 0) {
        qsort(fns, nf, sizeof(*fns), cmp_uptr);
        size_t u = 0;
        for (size_t j = 0; j < nf; j++)
            if (u == 0 || fns[u - 1] != fns[j])
                fns[u++] = fns[j];
        nf = u;
    }
    char **names = weft__calloc(nf > 0 ? nf : 1, sizeof(*names));
    struct weft__symmod *mods = NULL;
    for (size_t j = 0; names != NULL && j < nf; j++) {
        char buf[256];
        weft__sym_name(&mods, fns[j], buf, sizeof buf);
        names[j] = weft__trace_strdup(buf);
    }
    weft__symmods_free(mods);

    int rc = 0;
    FILE *f = fopen(t->t_path, "w");
    if (f == NULL) {
        rc = errno;
    } else {
        setvbuf(f, NULL, _IOFBF, (size_t)1 << 20);
        struct wctx x = {.f = f,
                         .t = t,
                         .pid = (long)getpid(),
                         .nworkers = p->p_nworkers,
                         .first = true,
                         .fns = fns,
                         .names = names,
                         .nfns = names != NULL ? nf : 0};
        const char *mode = p->p_mode == WEFT_SCHED_SHARED ? "shared" : "stealing";
        fprintf(f, "{\"displayTimeUnit\":\"ns\",\n\"traceEvents\":[");
        ev_head(&x, "M", 0, 0);
        fprintf(f, ",\"name\":\"process_name\",\"args\":{\"name\":\"weft pool (%s, %u workers)\"}}",
                mode, p->p_nworkers);
        for (size_t i = 0; i < n; i++) {
            char tn[64];
            if (thr[i].t_slot < 0)
                snprintf(tn, sizeof tn, "thread %d%s%s%s", thr[i].t_buf->b_tid,
                         thr[i].t_buf->b_name[0] ? " (" : "", thr[i].t_buf->b_name,
                         thr[i].t_buf->b_name[0] ? ")" : "");
            else if (thr[i].t_slot < (int)p->p_nworkers)
                snprintf(tn, sizeof tn, "worker %d", thr[i].t_slot);
            else
                snprintf(tn, sizeof tn, "spare %d", thr[i].t_slot - (int)p->p_nworkers);
            ev_head(&x, "M", thr[i].t_tid, 0);
            fprintf(f, ",\"name\":\"thread_name\",\"args\":{\"name\":");
            put_str(f, tn);
            fprintf(f, "}}");
            ev_head(&x, "M", thr[i].t_tid, 0);
            fprintf(f, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%ld}}",
                    thr[i].t_slot < 0 ? 100000 + (long)i : (long)thr[i].t_slot);
        }
        for (size_t i = 0; i < n; i++)
            write_thread(&x, &thr[i]);
        for (size_t i = 0; i < n; i++)
            dropped += thr[i].t_buf->b_dropped;
        fprintf(f, "\n],\n\"otherData\":{\"weft_version\":\"%s\",\"scheduler\":\"%s\","
                   "\"workers\":%u,\"dag\":%s,\"dropped_events\":%" PRIu64 "},\n",
                weft_version(), mode, p->p_nworkers,
                (t->t_flags & WEFT__TRACE_DAG) ? "true" : "false", dropped);
        fprintf(f,
                "\"weft\":{\"version\":1,\"scheduler\":\"%s\",\"workers\":%u,\"dag\":%s,"
                "\"clock\":\"%s\",\"duration_ns\":%lld,\"start_monotonic_ns\":%" PRIu64
                ",\"min_task_ns\":%.0f,\"dropped_events\":%" PRIu64 ",\n\"symbols\":{",
                mode, p->p_nworkers, (t->t_flags & WEFT__TRACE_DAG) ? "true" : "false",
                t->t_tsc_per_ns != 1.0 ? "tsc" : "monotonic", rel_ns_ll(t, t->t_tick1),
                t->t_ns0,
                /* Relaxed: written by capture_start under t_lock, which we hold. */
                (double)atomic_load_explicit(&t->t_min_ticks, memory_order_relaxed)
                    / t->t_tsc_per_ns,
                dropped);
        for (size_t j = 0; j < x.nfns; j++) {
            fprintf(f, "%s\"%" PRIuPTR "\":", j ? "," : "", fns[j]);
            put_str(f, names[j] != NULL ? names[j] : "task");
        }
        fprintf(f, "},\n\"threads\":[");
        for (size_t i = 0; i < n; i++)
            write_raw_thread(&x, &thr[i], i == 0);
        fprintf(f, "\n]}}\n");
        if (ferror(f))
            rc = EIO;
        if (fclose(f) != 0 && rc == 0)
            rc = errno != 0 ? errno : EIO;
    }
    for (size_t j = 0; names != NULL && j < nf; j++)
        weft__free(names[j]);
    weft__free(names);
    weft__free(fns);
    weft__free(thr);
    return rc;
}
