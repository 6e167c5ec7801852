/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_nqueens.c - weft-bench workload "nqueens": count the solutions of
 * the n-queens problem, BOTS-style (Duran et al., "Barcelona OpenMP Tasks
 * Suite", ICPP 2009): one task per legal placement in each row, no cutoff,
 * the parent waits for all its children and sums their counts. The board is
 * kept as three bit masks (columns and both diagonals), so a child's
 * argument is a few words rather than BOTS's copied array.
 * Two cases, as fib: "typed" (weft/fj.h: a frame array, spawned in a loop
 * and synced in reverse) and "void*" (weft_spawn/weft_sync); OpenMP and
 * oneTBB (a task_group per node) run the same tree in both.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>

#include <weft/fj.h>

#include "wb.h"

#define NQ_MAX 20 /* children per node, and so n, are at most this */

typedef struct {
    int qs_n;
    bool qs_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
} nq_state;

typedef struct {
    uint32_t na_all, na_cols, na_d1, na_d2; /* na_all: the n low bits */
    uint64_t na_count;
} nq_arg;

static uint64_t nq_serial(uint32_t all, uint32_t cols, uint32_t d1, uint32_t d2)
{
    if (cols == all)
        return 1;
    uint64_t c = 0;
    uint32_t avail = all & ~(cols | d1 | d2);
    while (avail != 0) {
        uint32_t bit = avail & (0u - avail);
        avail ^= bit;
        c += nq_serial(all, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    }
    return c;
}

/* The children of node a: one argument per legal placement in the next row. */
static int nq_children(const nq_arg *a, nq_arg *kids)
{
    int k = 0;
    uint32_t avail = a->na_all & ~(a->na_cols | a->na_d1 | a->na_d2);
    while (avail != 0) {
        uint32_t bit = avail & (0u - avail);
        avail ^= bit;
        kids[k].na_all = a->na_all;
        kids[k].na_cols = a->na_cols | bit;
        kids[k].na_d1 = (a->na_d1 | bit) << 1;
        kids[k].na_d2 = (a->na_d2 | bit) >> 1;
        kids[k].na_count = 0;
        k++;
    }
    return k;
}

static int nq_task(void *p)
{
    nq_arg *a = p;
    if (a->na_cols == a->na_all) {
        a->na_count = 1;
        return 0;
    }
    nq_arg kids[NQ_MAX];
    weft_task t[NQ_MAX];
    int k = nq_children(a, kids);
    int spawned = 0, rc = 0;
    for (; spawned < k; spawned++) {
        rc = weft_spawn(&t[spawned], nq_task, &kids[spawned]);
        if (rc != 0)
            break;
    }
    uint64_t c = 0;
    for (int i = spawned - 1; i >= 0; i--) { /* LIFO, as weft_sync requires */
        int r = weft_sync(&t[i]);
        if (r != 0 && rc == 0)
            rc = r;
        c += kids[i].na_count;
    }
    a->na_count = c;
    return rc;
}

/* The same with a typed task: the board in registers, the count returned. */
WEFT_TASK_4(uint64_t, nq_typed, uint32_t, all, uint32_t, cols, uint32_t, d1, uint32_t, d2)
{
    if (cols == all)
        return 1;
    WEFT_FRAME(nq_typed) f[NQ_MAX];
    int k = 0;
    uint32_t avail = all & ~(cols | d1 | d2);
    while (avail != 0) {
        uint32_t bit = avail & (0u - avail);
        avail ^= bit;
        WEFT_SPAWN(nq_typed, &f[k], all, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
        k++;
    }
    uint64_t c = 0;
    while (k > 0) /* LIFO */
        c += WEFT_SYNC(nq_typed, &f[--k]);
    return c;
}

static int nq_typed_root(void *p)
{
    nq_arg *a = p;
    a->na_count = nq_typed(a->na_all, a->na_cols, a->na_d1, a->na_d2);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: every child a task of the node's task_group, then wait. */
static int nq_tbb(void *p)
{
    nq_arg *a = p;
    if (a->na_cols == a->na_all) {
        a->na_count = 1;
        return 0;
    }
    nq_arg kids[NQ_MAX];
    int k = nq_children(a, kids);
    int rc = wb_tbb_forkn(nq_tbb, kids, sizeof kids[0], (size_t)k, NULL, NULL);
    uint64_t c = 0;
    for (int i = 0; i < k; i++)
        c += kids[i].na_count;
    a->na_count = c;
    return rc;
}
#endif

#if WB_HAVE_OMP
static uint64_t nq_omp(const nq_arg *a)
{
    if (a->na_cols == a->na_all)
        return 1;
    nq_arg kids[NQ_MAX];
    uint64_t counts[NQ_MAX];
    int k = nq_children(a, kids);
    for (int i = 0; i < k; i++) {
#pragma omp task firstprivate(i) shared(kids, counts)
        counts[i] = nq_omp(&kids[i]);
    }
#pragma omp taskwait
    uint64_t c = 0;
    for (int i = 0; i < k; i++)
        c += counts[i];
    return c;
}

static int nq_omp_root(void *p)
{
    nq_arg *a = p;
    a->na_count = nq_omp(a);
    return 0;
}
#endif

/* Tasks = nodes of the search tree below the root. */
static uint64_t nq_nodes(uint32_t all, uint32_t cols, uint32_t d1, uint32_t d2)
{
    uint64_t c = 0;
    uint32_t avail = all & ~(cols | d1 | d2);
    while (avail != 0) {
        uint32_t bit = avail & (0u - avail);
        avail ^= bit;
        c += 1 + nq_nodes(all, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
    }
    return c;
}

static int nq_setup(size_t icase, long size, void **state, char *label, size_t len,
                    uint64_t *tasks)
{
    if (size < 1 || size > NQ_MAX)
        return EINVAL;
    nq_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->qs_n = (int)size;
    s->qs_typed = icase == 0;
    *state = s;
    snprintf(label, len, "n=%ld %s", size, s->qs_typed ? "typed" : "void*");
    *tasks = nq_nodes((1u << size) - 1, 0, 0, 0);
    return 0;
}

static int nq_run(wb_run *r)
{
    nq_state *s = r->r_state;
    nq_arg root = {(1u << s->qs_n) - 1, 0, 0, 0, 0};
    if (r->r_kind == WB_SERIAL) {
        r->r_answer = nq_serial(root.na_all, 0, 0, 0);
        return 0;
    }
    int rc = wb_run_root(r, s->qs_typed ? nq_typed_root : nq_task, WB_OMP_FN(nq_omp_root),
                         WB_TBB_FN(nq_tbb), &root);
    r->r_answer = root.na_count;
    return rc;
}

const wb_workload wb_nqueens = {
    .w_name = "nqueens",
    .w_help = "n-queens solutions, a task per legal placement, no cutoff (BOTS nqueens);"
              " typed and void* cases; size n (default 12)",
    .w_default_size = 12,
    .w_quick_size = 10,
    .w_smoke_size = 6,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = nq_setup,
    .w_run = nq_run,
    .w_teardown = free,
};
