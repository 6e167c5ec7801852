/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_dfs.c - weft-bench workload "dfs": Lace's dfs benchmark (van Dijk
 * & van de Pol, "Lace: non-blocking split deque for work-stealing",
 * Euro-Par 2014 workshops): a balanced tree of depth d and breadth
 * DFS_BREADTH, a task per node (a node spawns all its children, then syncs
 * them), and trivial work at each leaf (DFS_LEAF_ITERS dependent multiply
 * steps, ~50 ns). Unlike fib every node has many children, so a steal takes
 * a large subtree. The answer is the sum of the leaves' results (each leaf
 * spins from its own index in the tree).
 * Two cases, as fib: "typed" (weft/fj.h) and "void*" (weft_spawn/weft_sync);
 * OpenMP and oneTBB (a task_group per node) run the same tree in both.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/fj.h>

#include "wb.h"

#define DFS_BREADTH 8
#define DFS_LEAF_ITERS 32
#define DFS_MAX_DEPTH 9 /* 8^9 = 134M leaves */

typedef struct {
    int ds_depth;
    bool ds_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
} dfs_state;

/* A leaf's work; id numbers the nodes (child i of id is id * B + i + 1). */
static uint64_t dfs_leaf(uint64_t id)
{
    return wb_spin(DFS_LEAF_ITERS, id);
}

static uint64_t dfs_serial(int d, uint64_t id)
{
    if (d == 0)
        return dfs_leaf(id);
    uint64_t s = 0;
    for (int i = 0; i < DFS_BREADTH; i++)
        s += dfs_serial(d - 1, id * DFS_BREADTH + (uint64_t)i + 1);
    return s;
}

typedef struct {
    int da_d;
    uint64_t da_id;
    uint64_t da_sum; /* out */
} dfs_arg;

/* Children of a: kids[0 .. DFS_BREADTH). */
static void dfs_children(const dfs_arg *a, dfs_arg *kids)
{
    for (int i = 0; i < DFS_BREADTH; i++)
        kids[i] = (dfs_arg){a->da_d - 1, a->da_id * DFS_BREADTH + (uint64_t)i + 1, 0};
}

static int dfs_task(void *p)
{
    dfs_arg *a = p;
    if (a->da_d == 0) {
        a->da_sum = dfs_leaf(a->da_id);
        return 0;
    }
    dfs_arg kids[DFS_BREADTH];
    weft_task t[DFS_BREADTH];
    dfs_children(a, kids);
    int spawned = 0, rc = 0;
    for (; spawned < DFS_BREADTH; spawned++) {
        rc = weft_spawn(&t[spawned], dfs_task, &kids[spawned]);
        if (rc != 0)
            break;
    }
    uint64_t s = 0;
    for (int i = spawned - 1; i >= 0; i--) { /* LIFO */
        int r = weft_sync(&t[i]);
        if (r != 0 && rc == 0)
            rc = r;
        s += kids[i].da_sum;
    }
    a->da_sum = s;
    return rc;
}

/* The same with typed tasks. */
WEFT_TASK_2(uint64_t, dfs_typed, int, d, uint64_t, id)
{
    if (d == 0)
        return dfs_leaf(id);
    WEFT_FRAME(dfs_typed) f[DFS_BREADTH];
    for (int i = 0; i < DFS_BREADTH; i++)
        WEFT_SPAWN(dfs_typed, &f[i], d - 1, id * DFS_BREADTH + (uint64_t)i + 1);
    uint64_t s = 0;
    for (int i = DFS_BREADTH - 1; i >= 0; i--) /* LIFO */
        s += WEFT_SYNC(dfs_typed, &f[i]);
    return s;
}

static int dfs_typed_root(void *p)
{
    dfs_arg *a = p;
    a->da_sum = dfs_typed(a->da_d, a->da_id);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: every child a task of the node's task_group, then wait. */
static int dfs_tbb(void *p)
{
    dfs_arg *a = p;
    if (a->da_d == 0) {
        a->da_sum = dfs_leaf(a->da_id);
        return 0;
    }
    dfs_arg kids[DFS_BREADTH];
    dfs_children(a, kids);
    int rc = wb_tbb_forkn(dfs_tbb, kids, sizeof kids[0], DFS_BREADTH, NULL, NULL);
    uint64_t s = 0;
    for (int i = 0; i < DFS_BREADTH; i++)
        s += kids[i].da_sum;
    a->da_sum = s;
    return rc;
}
#endif

#if WB_HAVE_OMP
static uint64_t dfs_omp(int d, uint64_t id)
{
    if (d == 0)
        return dfs_leaf(id);
    uint64_t sums[DFS_BREADTH];
    for (int i = 0; i < DFS_BREADTH; i++) {
#pragma omp task firstprivate(i) shared(sums)
        sums[i] = dfs_omp(d - 1, id * DFS_BREADTH + (uint64_t)i + 1);
    }
#pragma omp taskwait
    uint64_t s = 0;
    for (int i = 0; i < DFS_BREADTH; i++)
        s += sums[i];
    return s;
}

static int dfs_omp_root(void *p)
{
    dfs_arg *a = p;
    a->da_sum = dfs_omp(a->da_d, a->da_id);
    return 0;
}
#endif

static int dfs_setup(size_t icase, long size, void **state, char *label, size_t len,
                     uint64_t *tasks)
{
    if (size < 1 || size > DFS_MAX_DEPTH)
        return EINVAL;
    dfs_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->ds_depth = (int)size;
    s->ds_typed = icase == 0;
    *state = s;
    /* tasks: every node but the root */
    uint64_t level = 1, nodes = 0;
    for (long i = 0; i < size; i++) {
        level *= DFS_BREADTH;
        nodes += level;
    }
    *tasks = nodes;
    snprintf(label, len, "d=%ld,b=%d %s", size, DFS_BREADTH, s->ds_typed ? "typed" : "void*");
    return 0;
}

static int dfs_run(wb_run *r)
{
    dfs_state *s = r->r_state;
    if (r->r_kind == WB_SERIAL) {
        r->r_answer = dfs_serial(s->ds_depth, 0);
        return 0;
    }
    dfs_arg a = {s->ds_depth, 0, 0};
    int rc = wb_run_root(r, s->ds_typed ? dfs_typed_root : dfs_task, WB_OMP_FN(dfs_omp_root),
                         WB_TBB_FN(dfs_tbb), &a);
    r->r_answer = a.da_sum;
    return rc;
}

const wb_workload wb_dfs = {
    .w_name = "dfs",
    .w_help = "balanced tree, breadth 8, a task per node, ~50 ns of work per leaf (Lace's"
              " dfs); typed and void* cases; size depth d (default 7)",
    .w_default_size = 7,
    .w_quick_size = 6,
    .w_smoke_size = 2,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = dfs_setup,
    .w_run = dfs_run,
    .w_teardown = free,
};
