/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_pi.c - weft-bench workload "pi": Monte-Carlo estimation of pi as
 * in Lace's pi benchmark (van Dijk & van de Pol, "Lace: non-blocking split
 * deque for work-stealing", Euro-Par 2014 workshops): the n samples are
 * split in two halves recursively, one half spawned and the other called,
 * down to leaves of PI_GRAIN samples (Lace goes down to one sample).
 *
 * Lace draws from a per-worker rand_r, so its count depends on the
 * schedule; here sample i is drawn from the counter-based splitmix64 at i
 * (wb_rand_at), so each leaf's generator is its own, the count is the same
 * in any schedule, and every variant must agree with the serial loop. A
 * sample is two 31-bit integers x, y, a hit when x^2 + y^2 < 2^62: integer
 * arithmetic, no rounding. The answer is the hit count (pi ~ 4 hits / n).
 * Two cases, as fib: "typed" (weft/fj.h) and "void*" (weft_spawn/weft_sync);
 * OpenMP and oneTBB run the same tree in both.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/fj.h>

#include "wb.h"

#define PI_GRAIN 32 /* samples per leaf */

typedef struct {
    uint64_t ps_n;
    uint64_t ps_seed;
    bool ps_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
} pi_state;

/* Hits among samples [start, start + cnt). */
static uint64_t pi_leaf(uint64_t seed, uint64_t start, uint64_t cnt)
{
    uint64_t hits = 0;
    for (uint64_t i = start; i < start + cnt; i++) {
        uint64_t r = wb_rand_at(seed, i);
        uint64_t x = r >> 33, y = r & 0x7fffffffu;
        hits += x * x + y * y < (1ull << 62);
    }
    return hits;
}

typedef struct {
    uint64_t pa_seed, pa_start, pa_cnt;
    uint64_t pa_hits; /* out */
} pi_arg;

static int pi_task(void *p)
{
    pi_arg *a = p;
    if (a->pa_cnt <= PI_GRAIN) {
        a->pa_hits = pi_leaf(a->pa_seed, a->pa_start, a->pa_cnt);
        return 0;
    }
    uint64_t h = a->pa_cnt / 2;
    pi_arg l = {a->pa_seed, a->pa_start, h, 0};
    pi_arg r = {a->pa_seed, a->pa_start + h, a->pa_cnt - h, 0};
    weft_task t;
    int rc = weft_spawn(&t, pi_task, &l);
    if (rc != 0)
        return rc;
    int rr = pi_task(&r);
    int rl = weft_sync(&t);
    a->pa_hits = l.pa_hits + r.pa_hits;
    return rl != 0 ? rl : rr;
}

/* The same with typed tasks. */
WEFT_TASK_3(uint64_t, pi_typed, uint64_t, seed, uint64_t, start, uint64_t, cnt)
{
    if (cnt <= PI_GRAIN)
        return pi_leaf(seed, start, cnt);
    uint64_t h = cnt / 2;
    WEFT_FRAME(pi_typed) f;
    WEFT_SPAWN(pi_typed, &f, seed, start, h);
    uint64_t b = WEFT_CALL(pi_typed, seed, start + h, cnt - h);
    uint64_t a = WEFT_SYNC(pi_typed, &f);
    return a + b;
}

static int pi_typed_root(void *p)
{
    pi_arg *a = p;
    a->pa_hits = pi_typed(a->pa_seed, a->pa_start, a->pa_cnt);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: one half a task of a task_group, the other here. */
static int pi_tbb(void *p)
{
    pi_arg *a = p;
    if (a->pa_cnt <= PI_GRAIN) {
        a->pa_hits = pi_leaf(a->pa_seed, a->pa_start, a->pa_cnt);
        return 0;
    }
    uint64_t h = a->pa_cnt / 2;
    pi_arg k[2] = {{a->pa_seed, a->pa_start, h, 0},
                   {a->pa_seed, a->pa_start + h, a->pa_cnt - h, 0}};
    int rc = wb_tbb_forkn(pi_tbb, &k[0], sizeof k[0], 1, pi_tbb, &k[1]);
    a->pa_hits = k[0].pa_hits + k[1].pa_hits;
    return rc;
}
#endif

#if WB_HAVE_OMP
static uint64_t pi_omp(uint64_t seed, uint64_t start, uint64_t cnt)
{
    if (cnt <= PI_GRAIN)
        return pi_leaf(seed, start, cnt);
    uint64_t h = cnt / 2, a, b;
#pragma omp task shared(a)
    a = pi_omp(seed, start, h);
    b = pi_omp(seed, start + h, cnt - h);
#pragma omp taskwait
    return a + b;
}

static int pi_omp_root(void *p)
{
    pi_arg *a = p;
    a->pa_hits = pi_omp(a->pa_seed, a->pa_start, a->pa_cnt);
    return 0;
}
#endif

/* Spawns in the tree over cnt samples: one per inner node. */
static uint64_t pi_spawns(uint64_t cnt)
{
    if (cnt <= PI_GRAIN)
        return 0;
    return 1 + pi_spawns(cnt / 2) + pi_spawns(cnt - cnt / 2);
}

static int pi_setup(size_t icase, long size, void **state, char *label, size_t len,
                    uint64_t *tasks)
{
    if (size < 1)
        return EINVAL;
    pi_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->ps_n = (uint64_t)size;
    s->ps_seed = wb_env_g.e_seed ^ 0x314159ull;
    s->ps_typed = icase == 0;
    *state = s;
    *tasks = pi_spawns(s->ps_n);
    snprintf(label, len, "n=%ld,grain=%d %s", size, PI_GRAIN, s->ps_typed ? "typed" : "void*");
    return 0;
}

static int pi_run(wb_run *r)
{
    pi_state *s = r->r_state;
    if (r->r_kind == WB_SERIAL) { /* the plain loop over all samples */
        r->r_answer = pi_leaf(s->ps_seed, 0, s->ps_n);
        return 0;
    }
    pi_arg a = {s->ps_seed, 0, s->ps_n, 0};
    int rc = wb_run_root(r, s->ps_typed ? pi_typed_root : pi_task, WB_OMP_FN(pi_omp_root),
                         WB_TBB_FN(pi_tbb), &a);
    r->r_answer = a.pa_hits;
    return rc;
}

const wb_workload wb_pi = {
    .w_name = "pi",
    .w_help = "Monte-Carlo pi, halves split recursively down to 32 samples (Lace's pi),"
              " a counter-based RNG per sample; typed and void* cases; size samples"
              " (default 100000000)",
    .w_default_size = 100000000,
    .w_quick_size = 10000000,
    .w_smoke_size = 10000,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = pi_setup,
    .w_run = pi_run,
    .w_teardown = free,
};
