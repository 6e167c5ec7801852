/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_pfor.c - weft-bench workload "pfor": weft_parallel_for (automatic
 * grain) against OpenMP `parallel for schedule(static)`, oneTBB's
 * parallel_for (auto partitioner) and a plain loop.
 *
 *   mem: a STREAM-like triad a[i] = b[i] + k*c[i] over `size` uint64 elements
 *        (3 arrays), PFOR_PASSES passes (one parallel loop each): bound by
 *        memory bandwidth.
 *   cpu: out[i] = PFOR_ROUNDS rounds of a 64-bit mix of i over size/8
 *        elements: bound by the ALUs, no sharing.
 * Integer arithmetic, so every variant's result is bit-identical.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb.h"

#define PFOR_PASSES 8
#define PFOR_ROUNDS 64

typedef struct {
    int ps_cpu; /* 0: mem case, 1: cpu case */
    size_t ps_n;
    uint64_t *ps_a, *ps_b, *ps_c;
    uint64_t ps_k; /* the triad factor of the pass being run */
} pfor_state;

static void triad(pfor_state *s, size_t lo, size_t hi, uint64_t k)
{
    uint64_t *a = s->ps_a;
    const uint64_t *b = s->ps_b, *c = s->ps_c;
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + k * c[i];
}

static void crunch(pfor_state *s, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        uint64_t x = i;
        for (int r = 0; r < PFOR_ROUNDS; r++)
            x = wb_mix64(x + (uint64_t)r);
        s->ps_a[i] = x;
    }
}

static int triad_body(size_t lo, size_t hi, void *arg)
{
    pfor_state *s = arg;
    triad(s, lo, hi, s->ps_k);
    return 0;
}

static int crunch_body(size_t lo, size_t hi, void *arg)
{
    crunch(arg, lo, hi);
    return 0;
}

static void pfor_teardown(void *p)
{
    pfor_state *s = p;
    if (s != NULL) {
        free(s->ps_a);
        free(s->ps_b);
        free(s->ps_c);
    }
    free(s);
}

static int pfor_setup(size_t icase, long size, void **state, char *label, size_t len,
                      uint64_t *tasks)
{
    if (size < 8 || icase > 1)
        return EINVAL;
    pfor_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->ps_cpu = (int)icase;
    s->ps_n = s->ps_cpu ? (size_t)size / 8 : (size_t)size;
    s->ps_a = calloc(s->ps_n, sizeof(uint64_t));
    if (!s->ps_cpu) {
        s->ps_b = malloc(s->ps_n * sizeof(uint64_t));
        s->ps_c = malloc(s->ps_n * sizeof(uint64_t));
    }
    if (s->ps_a == NULL || (!s->ps_cpu && (s->ps_b == NULL || s->ps_c == NULL))) {
        pfor_teardown(s);
        return ENOMEM;
    }
    for (size_t i = 0; !s->ps_cpu && i < s->ps_n; i++) {
        s->ps_b[i] = i;
        s->ps_c[i] = i ^ 0x5555;
    }
    *state = s;
    *tasks = 0;
    if (s->ps_cpu)
        snprintf(label, len, "cpu,n=%zu", s->ps_n);
    else
        snprintf(label, len, "mem,n=%zu", s->ps_n);
    return 0;
}

static int pfor_prepare(wb_run *r)
{
    pfor_state *s = r->r_state;
    memset(s->ps_a, 0, s->ps_n * sizeof(uint64_t));
    return 0;
}

static int pfor_run(wb_run *r)
{
    pfor_state *s = r->r_state;
    size_t n = s->ps_n;
    switch (r->r_kind) {
    case WB_SERIAL:
        if (s->ps_cpu)
            crunch(s, 0, n);
        else
            for (uint64_t k = 1; k <= PFOR_PASSES; k++)
                triad(s, 0, n, k);
        return 0;
    case WB_STEALING:
    case WB_SHARED:
        if (s->ps_cpu)
            return weft_parallel_for(r->r_pool, 0, n, 0, crunch_body, s);
        for (uint64_t k = 1; k <= PFOR_PASSES; k++) {
            s->ps_k = k; /* read by the bodies: ordered by parallel_for's start */
            int rc = weft_parallel_for(r->r_pool, 0, n, 0, triad_body, s);
            if (rc != 0)
                return rc;
        }
        return 0;
#if WB_HAVE_OMP
    case WB_OMP:
        if (s->ps_cpu) {
#pragma omp parallel for num_threads(r->r_workers) schedule(static)
            for (size_t i = 0; i < n; i++)
                crunch(s, i, i + 1);
        } else {
            uint64_t *a = s->ps_a;
            const uint64_t *b = s->ps_b, *c = s->ps_c;
            for (uint64_t k = 1; k <= PFOR_PASSES; k++) {
#pragma omp parallel for num_threads(r->r_workers) schedule(static)
                for (size_t i = 0; i < n; i++)
                    a[i] = b[i] + k * c[i];
            }
        }
        return 0;
#endif
#if WB_HAVE_TBB
    case WB_TBB:
        if (s->ps_cpu)
            return wb_tbb_parallel_for(r->r_tbb, 0, n, crunch_body, s);
        for (uint64_t k = 1; k <= PFOR_PASSES; k++) {
            s->ps_k = k; /* read by the bodies: ordered by the arena's start */
            int rc = wb_tbb_parallel_for(r->r_tbb, 0, n, triad_body, s);
            if (rc != 0)
                return rc;
        }
        return 0;
#endif
    default:
        return ENOTSUP;
    }
}

static int pfor_finish(wb_run *r)
{
    pfor_state *s = r->r_state;
    uint64_t h = 0;
    for (size_t i = 0; i < s->ps_n; i++)
        h = h * 0x100000001b3ull + s->ps_a[i];
    r->r_answer = h;
    return 0;
}

const wb_workload wb_pfor = {
    .w_name = "pfor",
    .w_help = "weft_parallel_for vs omp parallel for vs tbb::parallel_for: triad"
              " (memory-bound, 8 passes) and"
              " hashing (compute-bound, n/8); size n (default 4000000)",
    .w_default_size = 4000000,
    .w_quick_size = 1000000,
    .w_smoke_size = 4096,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = pfor_setup,
    .w_prepare = pfor_prepare,
    .w_run = pfor_run,
    .w_finish = pfor_finish,
    .w_teardown = pfor_teardown,
};
