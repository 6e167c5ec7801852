/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_uts.c - weft-bench workload "uts": Unbalanced Tree Search
 * (Olivier et al., "UTS: An Unbalanced Tree Search Benchmark", LCPC 2006),
 * binomial tree with the shape of UTS's T3: the root has b0 children, every
 * other node has m = 8 children with probability q = 0.124875 and none
 * otherwise (q*m = 0.999: a nearly critical, very unbalanced tree).
 *
 * UTS derives each node's randomness from its parent's by SHA-1 so that the
 * tree is the same in any traversal order; here a splittable splitmix64
 * stands in: a node's digest is its seed mixed UTS_GRAN times (the per-node
 * work, standing in for SHA-1's cost), its child count is a threshold test on
 * the digest, and child i's seed is the (i+1)-th splitmix64 value after the
 * digest. The answer is the node count; one task per node (no cutoff).
 * Two cases, as fib: "typed" (weft/fj.h) and "void*" (weft_spawn/weft_sync);
 * OpenMP and oneTBB (a task_group per node) run the same tree in both.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>

#include <weft/fj.h>

#include "wb.h"

#define UTS_M 8          /* children of an inner non-root node */
#define UTS_GRAN 16      /* mix rounds per node */
/* q = 0.124875 as a fraction of 2^64 */
#define UTS_Q_THRESHOLD ((uint64_t)(0.124875 * 18446744073709551616.0))

typedef struct {
    uint64_t us_root_seed;
    long us_b0;
    bool us_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
} uts_state;

static uint64_t uts_digest(uint64_t seed)
{
    for (int i = 0; i < UTS_GRAN; i++)
        seed = wb_mix64(seed + (uint64_t)i);
    return seed;
}

/* Children of a non-root node with this digest. */
static int uts_nkids(uint64_t digest)
{
    return wb_mix64(digest ^ 0xd1b54a32d192ed03ull) < UTS_Q_THRESHOLD ? UTS_M : 0;
}

static uint64_t uts_serial(uint64_t seed)
{
    uint64_t d = uts_digest(seed);
    uint64_t c = 1;
    int k = uts_nkids(d);
    for (int i = 0; i < k; i++)
        c += uts_serial(wb_rand_at(d, (uint64_t)i));
    return c;
}

static uint64_t uts_serial_root(const uts_state *s)
{
    uint64_t d = uts_digest(s->us_root_seed);
    uint64_t c = 1;
    for (long i = 0; i < s->us_b0; i++)
        c += uts_serial(wb_rand_at(d, (uint64_t)i));
    return c;
}

typedef struct {
    uint64_t ua_seed;
    uint64_t ua_count; /* out: nodes in the subtree */
} uts_arg;

static int uts_task(void *p);

/* Spawn the k children of the node whose digest is d into kids[]/t[], sync
 * them in LIFO order, and return the first error; *count gets the node
 * itself plus its subtree sizes. Shared by the root (heap frames) and every
 * other node (stack frames). */
static int uts_children(uint64_t d, long k, uts_arg *kids, weft_task *t, uint64_t *count)
{
    long spawned = 0;
    int rc = 0;
    for (; spawned < k; spawned++) {
        kids[spawned].ua_seed = wb_rand_at(d, (uint64_t)spawned);
        kids[spawned].ua_count = 0;
        rc = weft_spawn(&t[spawned], uts_task, &kids[spawned]);
        if (rc != 0)
            break;
    }
    uint64_t c = 1;
    for (long i = spawned - 1; i >= 0; i--) {
        int r = weft_sync(&t[i]);
        if (r != 0 && rc == 0)
            rc = r;
        c += kids[i].ua_count;
    }
    *count = c;
    return rc;
}

static int uts_task(void *p)
{
    uts_arg *a = p;
    uint64_t d = uts_digest(a->ua_seed);
    uts_arg kids[UTS_M];
    weft_task t[UTS_M];
    return uts_children(d, uts_nkids(d), kids, t, &a->ua_count);
}

typedef struct {
    const uts_state *ur_s;
    uint64_t ur_count;
} uts_root_arg;

/* The root's b0 children: frames on the heap (b0 may be large). */
static int uts_root_task(void *p)
{
    uts_root_arg *ra = p;
    long b0 = ra->ur_s->us_b0;
    uint64_t d = uts_digest(ra->ur_s->us_root_seed);
    uts_arg *kids = malloc((size_t)(b0 > 0 ? b0 : 1) * sizeof *kids);
    weft_task *t = malloc((size_t)(b0 > 0 ? b0 : 1) * sizeof *t);
    if (kids == NULL || t == NULL) {
        free(kids);
        free(t);
        return ENOMEM;
    }
    int rc = uts_children(d, b0, kids, t, &ra->ur_count);
    free(kids);
    free(t);
    return rc;
}

/* The same with typed tasks: the seed in, the subtree's size out. */
WEFT_TASK_1(uint64_t, uts_typed, uint64_t, seed)
{
    uint64_t d = uts_digest(seed);
    int k = uts_nkids(d);
    WEFT_FRAME(uts_typed) f[UTS_M];
    for (int i = 0; i < k; i++)
        WEFT_SPAWN(uts_typed, &f[i], wb_rand_at(d, (uint64_t)i));
    uint64_t c = 1;
    for (int i = k - 1; i >= 0; i--) /* LIFO */
        c += WEFT_SYNC(uts_typed, &f[i]);
    return c;
}

/* The root's b0 children, into frames f[0 .. b0) (on the heap). */
WEFT_TASK_2(uint64_t, uts_typed_children, const uts_state *, s, WEFT_FRAME(uts_typed) *, f)
{
    uint64_t d = uts_digest(s->us_root_seed);
    for (long i = 0; i < s->us_b0; i++)
        WEFT_SPAWN(uts_typed, &f[i], wb_rand_at(d, (uint64_t)i));
    uint64_t c = 1;
    for (long i = s->us_b0 - 1; i >= 0; i--)
        c += WEFT_SYNC(uts_typed, &f[i]);
    return c;
}

static int uts_typed_root(void *p)
{
    uts_root_arg *ra = p;
    long b0 = ra->ur_s->us_b0;
    WEFT_FRAME(uts_typed) *f = malloc((size_t)(b0 > 0 ? b0 : 1) * sizeof *f);
    if (f == NULL)
        return ENOMEM;
    ra->ur_count = uts_typed_children(ra->ur_s, f);
    free(f);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: every child a task of the node's task_group, then wait. */
static int uts_tbb(void *p)
{
    uts_arg *a = p;
    uint64_t d = uts_digest(a->ua_seed);
    int k = uts_nkids(d);
    uts_arg kids[UTS_M];
    for (int i = 0; i < k; i++)
        kids[i] = (uts_arg){wb_rand_at(d, (uint64_t)i), 0};
    int rc = wb_tbb_forkn(uts_tbb, kids, sizeof kids[0], (size_t)k, NULL, NULL);
    uint64_t c = 1;
    for (int i = 0; i < k; i++)
        c += kids[i].ua_count;
    a->ua_count = c;
    return rc;
}

static int uts_tbb_root(void *p)
{
    uts_root_arg *ra = p;
    long b0 = ra->ur_s->us_b0;
    uint64_t d = uts_digest(ra->ur_s->us_root_seed);
    uts_arg *kids = malloc((size_t)(b0 > 0 ? b0 : 1) * sizeof *kids);
    if (kids == NULL)
        return ENOMEM;
    for (long i = 0; i < b0; i++)
        kids[i] = (uts_arg){wb_rand_at(d, (uint64_t)i), 0};
    int rc = wb_tbb_forkn(uts_tbb, kids, sizeof kids[0], (size_t)b0, NULL, NULL);
    uint64_t c = 1;
    for (long i = 0; i < b0; i++)
        c += kids[i].ua_count;
    free(kids);
    ra->ur_count = c;
    return rc;
}
#endif

#if WB_HAVE_OMP
static uint64_t uts_omp(uint64_t seed)
{
    uint64_t d = uts_digest(seed);
    int k = uts_nkids(d);
    uint64_t counts[UTS_M];
    for (int i = 0; i < k; i++) {
#pragma omp task firstprivate(i) shared(counts)
        counts[i] = uts_omp(wb_rand_at(d, (uint64_t)i));
    }
#pragma omp taskwait
    uint64_t c = 1;
    for (int i = 0; i < k; i++)
        c += counts[i];
    return c;
}

static int uts_omp_root(void *p)
{
    uts_root_arg *ra = p;
    const uts_state *s = ra->ur_s;
    uint64_t d = uts_digest(s->us_root_seed);
    uint64_t *counts = malloc((size_t)(s->us_b0 > 0 ? s->us_b0 : 1) * sizeof *counts);
    if (counts == NULL)
        return ENOMEM;
    for (long i = 0; i < s->us_b0; i++) {
#pragma omp task firstprivate(i) shared(counts)
        counts[i] = uts_omp(wb_rand_at(d, (uint64_t)i));
    }
#pragma omp taskwait
    uint64_t c = 1;
    for (long i = 0; i < s->us_b0; i++)
        c += counts[i];
    free(counts);
    ra->ur_count = c;
    return 0;
}
#endif

static int uts_setup(size_t icase, long size, void **state, char *label, size_t len,
                     uint64_t *tasks)
{
    if (size < 1 || size > 100000000)
        return EINVAL;
    uts_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->us_root_seed = wb_env_g.e_seed;
    s->us_b0 = size;
    s->us_typed = icase == 0;
    *state = s;
    *tasks = uts_serial_root(s) - 1; /* one task per node but the root */
    snprintf(label, len, "b0=%ld,N=%llu %s", size, (unsigned long long)(*tasks + 1),
             s->us_typed ? "typed" : "void*");
    return 0;
}

static int uts_run(wb_run *r)
{
    uts_state *s = r->r_state;
    if (r->r_kind == WB_SERIAL) {
        r->r_answer = uts_serial_root(s);
        return 0;
    }
    uts_root_arg ra = {s, 0};
    int rc = wb_run_root(r, s->us_typed ? uts_typed_root : uts_root_task,
                         WB_OMP_FN(uts_omp_root), WB_TBB_FN(uts_tbb_root), &ra);
    r->r_answer = ra.ur_count;
    return rc;
}

const wb_workload wb_uts = {
    .w_name = "uts",
    .w_help = "Unbalanced Tree Search (UTS, in BOTS and Lace), T3-like binomial"
              " (q=0.124875, m=8), task per node;"
              " typed and void* cases; size b0 = root children (default 2000; tree shape"
              " follows --seed)",
    .w_default_size = 2000,
    .w_quick_size = 500,
    .w_smoke_size = 20,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = uts_setup,
    .w_run = uts_run,
    .w_teardown = free,
};
