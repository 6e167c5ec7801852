/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_fanout.c - weft-bench workloads "fanout" and "skewed": N
 * independent tasks submitted one by one from one outside thread
 * (weft_pool_submit, then weft_pool_wait_idle), each spinning for a
 * calibrated time. This is where a single shared queue suffers most: every
 * submit and every take meets on one lock.
 *
 *   fanout: four cases with a fixed task cost (0.1, 1, 10, 100 us); N is
 *           chosen so that each case holds `size` ms of serial work.
 *   skewed: `size` tasks whose costs follow a seeded Pareto distribution
 *           (alpha 1.5, minimum 0.5 us, capped at 5 ms): a few huge tasks
 *           among many small ones.
 *
 * The OpenMP version is the usual producer idiom: `parallel` + `single`, one
 * `task` per item, the implicit barrier waits for them. The oneTBB version
 * submits as weft does, from the outside thread: task_arena::enqueue into an
 * arena of w slots none of which is reserved for the submitter (so w TBB
 * threads run the tasks, as w weft workers do), then waits for a count of
 * finished tasks (wb_tbb_enqueue, wb_tbb_wait_enqueued).
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "wb.h"

typedef struct {
    uint64_t sl_iters; /* spin length */
    uint64_t sl_seed;  /* spin start value (the slot's index) */
    uint64_t sl_out;   /* written by the task that runs the slot */
} fan_slot;

typedef struct {
    size_t fs_n;
    fan_slot *fs_slots;
} fan_state;

static void fan_do(fan_slot *s)
{
    s->sl_out = wb_spin(s->sl_iters, s->sl_seed);
}

static int fan_task(void *p)
{
    fan_do(p);
    return 0;
}

static int fan_prepare(wb_run *r)
{
    fan_state *s = r->r_state;
    for (size_t i = 0; i < s->fs_n; i++)
        s->fs_slots[i].sl_out = 0;
    return 0;
}

static int fan_run(wb_run *r)
{
    fan_state *s = r->r_state;
    switch (r->r_kind) {
    case WB_SERIAL:
        for (size_t i = 0; i < s->fs_n; i++)
            fan_do(&s->fs_slots[i]);
        return 0;
    case WB_STEALING:
    case WB_SHARED: {
        int rc = 0;
        for (size_t i = 0; i < s->fs_n && rc == 0; i++)
            rc = weft_pool_submit(r->r_pool, fan_task, &s->fs_slots[i]);
        int rw = weft_pool_wait_idle(r->r_pool);
        return rc != 0 ? rc : rw;
    }
#if WB_HAVE_TBB
    case WB_TBB: {
        int rc = 0;
        for (size_t i = 0; i < s->fs_n && rc == 0; i++)
            rc = wb_tbb_enqueue(r->r_tbb, fan_task, &s->fs_slots[i]);
        int rw = wb_tbb_wait_enqueued(r->r_tbb);
        return rc != 0 ? rc : rw;
    }
#endif
#if WB_HAVE_OMP
    case WB_OMP: {
        fan_slot *slots = s->fs_slots;
        size_t n = s->fs_n;
#pragma omp parallel num_threads(r->r_workers)
#pragma omp single
        for (size_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
            fan_do(&slots[i]);
        }
        return 0;
    }
#endif
    default:
        return ENOTSUP;
    }
}

static int fan_finish(wb_run *r)
{
    fan_state *s = r->r_state;
    uint64_t h = 0;
    for (size_t i = 0; i < s->fs_n; i++)
        h = h * 31 + s->fs_slots[i].sl_out;
    r->r_answer = h;
    return 0;
}

static void fan_teardown(void *p)
{
    fan_state *s = p;
    if (s != NULL)
        free(s->fs_slots);
    free(s);
}

static int fan_alloc(size_t n, fan_state **out)
{
    fan_state *s = malloc(sizeof *s);
    fan_slot *slots = calloc(n > 0 ? n : 1, sizeof *slots);
    if (s == NULL || slots == NULL) {
        free(s);
        free(slots);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        slots[i].sl_seed = i;
    s->fs_n = n;
    s->fs_slots = slots;
    *out = s;
    return 0;
}

/* ---- fanout: the grain sweep ---- */

static const double fan_grains_us[] = {0.1, 1.0, 10.0, 100.0};
#define FAN_NGRAINS (sizeof fan_grains_us / sizeof fan_grains_us[0])

static int fan_setup(size_t icase, long size, void **state, char *label, size_t len,
                     uint64_t *tasks)
{
    if (size < 1 || icase >= FAN_NGRAINS)
        return EINVAL;
    double us = fan_grains_us[icase];
    size_t n = (size_t)((double)size * 1000.0 / us + 0.5);
    if (n < 1)
        n = 1;
    fan_state *s;
    int rc = fan_alloc(n, &s);
    if (rc != 0)
        return rc;
    uint64_t iters = wb_us_to_iters(us);
    for (size_t i = 0; i < n; i++)
        s->fs_slots[i].sl_iters = iters;
    *state = s;
    *tasks = n;
    snprintf(label, len, "%gus,N=%zu", us, n);
    return 0;
}

const wb_workload wb_fanout = {
    .w_name = "fanout",
    .w_help = "N tasks submitted from one outside thread, cost 0.1/1/10/100 us;"
              " size = ms of serial work per cost (default 100)",
    .w_default_size = 100,
    .w_quick_size = 10,
    .w_smoke_size = 1,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = FAN_NGRAINS,
    .w_setup = fan_setup,
    .w_prepare = fan_prepare,
    .w_run = fan_run,
    .w_finish = fan_finish,
    .w_teardown = fan_teardown,
};

/* ---- skewed: Pareto-distributed costs ---- */

#define SKEW_ALPHA 1.5
#define SKEW_MIN_US 0.5
#define SKEW_MAX_US 5000.0

static int skew_setup(size_t icase, long size, void **state, char *label, size_t len,
                      uint64_t *tasks)
{
    (void)icase;
    if (size < 1)
        return EINVAL;
    fan_state *s;
    int rc = fan_alloc((size_t)size, &s);
    if (rc != 0)
        return rc;
    double total_us = 0, max_us = 0;
    for (size_t i = 0; i < s->fs_n; i++) {
        /* u uniform in (0, 1]; Pareto by inversion: xm * u^(-1/alpha) */
        double u = ((double)(wb_rand_at(wb_env_g.e_seed ^ 0x5ce3ull, i) >> 11) + 1.0) *
                   (1.0 / 9007199254740992.0);
        double us = SKEW_MIN_US * pow(u, -1.0 / SKEW_ALPHA);
        if (us > SKEW_MAX_US)
            us = SKEW_MAX_US;
        total_us += us;
        if (us > max_us)
            max_us = us;
        s->fs_slots[i].sl_iters = wb_us_to_iters(us);
    }
    *state = s;
    *tasks = s->fs_n;
    snprintf(label, len, "N=%zu,mean=%.2gus,max=%.3gus", s->fs_n, total_us / (double)s->fs_n,
             max_us);
    return 0;
}

const wb_workload wb_skewed = {
    .w_name = "skewed",
    .w_help = "fan-out with Pareto(alpha 1.5, min 0.5 us, cap 5 ms) task costs;"
              " size N tasks (default 50000)",
    .w_default_size = 50000,
    .w_quick_size = 10000,
    .w_smoke_size = 300,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 1,
    .w_setup = skew_setup,
    .w_prepare = fan_prepare,
    .w_run = fan_run,
    .w_finish = fan_finish,
    .w_teardown = fan_teardown,
};
