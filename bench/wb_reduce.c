/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_reduce.c - weft-bench workload "reduce": the cost of
 * weft_parallel_reduce's fixed combination tree against a plain reduction.
 *
 * The sum of n 64-bit integers (wrapping, so every association gives the
 * same answer and every variant is checked against the serial loop):
 *   det     weft_parallel_reduce, grain 0 (at most 1024 leaves, the tree
 *           fixed by n alone: the deterministic reduction);
 *   plain   weft_parallel_for (automatic grain), each body adding its
 *           chunk's sum into one atomic counter: what a user writes without
 *           a reduce, whose combination order depends on the schedule;
 * each at size n (memory-bound, one pass) and at n/1024 repeated 1024
 * times (the fixed cost of one call). OpenMP's `reduction(+)` runs the same
 * loops; the serial loop is the reference.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "wb.h"

#define REDUCE_SMALL 1024 /* the small cases: n/1024 elements, 1024 calls */

typedef struct {
    int rs_det;    /* 1: weft_parallel_reduce, 0: parallel_for + atomic */
    size_t rs_n;   /* elements per call */
    size_t rs_reps; /* calls per run */
    uint64_t *rs_v;
    /* plain: the chunks' sums (relaxed adds; read after weft_parallel_for
     * returned, which orders every body before its return) */
    _Atomic uint64_t rs_sum;
} reduce_state;

static uint64_t sum_range(const uint64_t *v, size_t lo, size_t hi)
{
    uint64_t s = 0;
    for (size_t i = lo; i < hi; i++)
        s += v[i];
    return s;
}

static void acc_init(void *acc, void *arg)
{
    (void)arg;
    *(uint64_t *)acc = 0;
}

static int acc_body(size_t lo, size_t hi, void *acc, void *arg)
{
    const reduce_state *s = arg;
    *(uint64_t *)acc += sum_range(s->rs_v, lo, hi);
    return 0;
}

static void acc_combine(void *acc, void *other, void *arg)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static int plain_body(size_t lo, size_t hi, void *arg)
{
    reduce_state *s = arg;
    atomic_fetch_add_explicit(&s->rs_sum, sum_range(s->rs_v, lo, hi), memory_order_relaxed);
    return 0;
}

static void reduce_teardown(void *p)
{
    reduce_state *s = p;
    if (s != NULL)
        free(s->rs_v);
    free(s);
}

/* Cases: 0 det n, 1 plain n, 2 det n/1024 x1024, 3 plain n/1024 x1024. */
static int reduce_setup(size_t icase, long size, void **state, char *label, size_t len,
                        uint64_t *tasks)
{
    if (size < REDUCE_SMALL || icase > 3)
        return EINVAL;
    reduce_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->rs_det = icase % 2 == 0;
    int small = icase >= 2;
    s->rs_n = small ? (size_t)size / REDUCE_SMALL : (size_t)size;
    s->rs_reps = small ? REDUCE_SMALL : 1;
    s->rs_v = malloc(s->rs_n * sizeof(uint64_t));
    if (s->rs_v == NULL) {
        free(s);
        return ENOMEM;
    }
    for (size_t i = 0; i < s->rs_n; i++)
        s->rs_v[i] = wb_rand_at(wb_env_g.e_seed, i);
    atomic_init(&s->rs_sum, 0);
    *state = s;
    *tasks = 0;
    snprintf(label, len, "%s,n=%zu%s", s->rs_det ? "det" : "plain", s->rs_n,
             small ? "x1024" : "");
    return 0;
}

static int reduce_run(wb_run *r)
{
    reduce_state *s = r->r_state;
    uint64_t total = 0;
    for (size_t k = 0; k < s->rs_reps; k++) {
        uint64_t sum = 0;
        switch (r->r_kind) {
        case WB_SERIAL:
            sum = sum_range(s->rs_v, 0, s->rs_n);
            break;
        case WB_STEALING:
        case WB_SHARED:
            if (s->rs_det) {
                int body_rc = 0;
                int rc = weft_parallel_reduce(r->r_pool, 0, s->rs_n, 0, &sum, sizeof sum,
                                              acc_init, acc_body, acc_combine, s, &body_rc);
                if (rc != 0)
                    return rc;
            } else {
                atomic_store_explicit(&s->rs_sum, 0, memory_order_relaxed);
                int rc = weft_parallel_for(r->r_pool, 0, s->rs_n, 0, plain_body, s);
                if (rc != 0)
                    return rc;
                sum = atomic_load_explicit(&s->rs_sum, memory_order_relaxed);
            }
            break;
#if WB_HAVE_OMP
        case WB_OMP: {
            const uint64_t *v = s->rs_v;
            size_t n = s->rs_n;
#pragma omp parallel for num_threads(r->r_workers) schedule(static) reduction(+ : sum)
            for (size_t i = 0; i < n; i++)
                sum += v[i];
            break;
        }
#endif
        default:
            return ENOTSUP;
        }
        total += sum;
    }
    r->r_answer = total;
    return 0;
}

static const wb_variant reduce_variants[] = {
    {WB_SERIAL, "serial"}, {WB_STEALING, "stealing"}, {WB_SHARED, "shared"}, {WB_OMP, "omp"}};

const wb_workload wb_reduce = {
    .w_name = "reduce",
    .w_help = "sum of n integers: weft_parallel_reduce (det, a fixed tree) vs parallel_for"
              " adding into an atomic (plain) vs omp reduction, at n and at n/1024 x1024"
              " calls; size n (default 8000000)",
    .w_default_size = 8000000,
    .w_quick_size = 1000000,
    .w_smoke_size = 4096,
    .w_variants = reduce_variants,
    .w_nvariants = sizeof reduce_variants / sizeof reduce_variants[0],
    .w_ncases = 4,
    .w_setup = reduce_setup,
    .w_run = reduce_run,
    .w_teardown = reduce_teardown,
};
