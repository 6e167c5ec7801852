/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_knapsack.c - weft-bench workload "knapsack": 0/1 knapsack by
 * branch and bound, as BOTS's knapsack (Duran et al., "Barcelona OpenMP
 * Tasks Suite", ICPP 2009, after Cilk's) and Lace's: items sorted by value
 * per weight, each node tries the next item out and in, a task per node, no
 * cutoff; a subtree is pruned when its bound, v + c * value/weight of the
 * next item (integer division), is below the best value found so far, which
 * all tasks share.
 *
 * The optimum does not depend on the schedule (the bound is an upper bound,
 * so pruning against any value found never cuts the optimum), but the tree
 * explored does: a thief that finds a good value early prunes more. So the
 * answer is the optimum, checked against the serial run and against dynamic
 * programming over the capacity (done once, in setup), and ns/task is not
 * reported (the task count varies). BOTS's best-so-far is a plain racy int;
 * here it is an atomic, raised with a compare-and-swap.
 *
 * Instances: `size` items, weight uniform in 10..100, value = weight + 10
 * (Pisinger's "strongly correlated" class, where bounds are weak and the
 * tree grows about 1.3x per item), capacity half the total weight; seeded.
 * A node explores "without the item" first, as BOTS's serial code: the
 * parallel versions call that branch and spawn "with the item", so that one
 * worker explores exactly the serial tree.
 * Two cases, as fib: "typed" (weft/fj.h) and "void*" (weft_spawn/weft_sync);
 * OpenMP and oneTBB run the same tree in both.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/fj.h>

#include "wb.h"

#define KS_MAX_ITEMS 200

typedef struct {
    int it_value, it_weight;
} ks_item;

typedef struct {
    int ks_n, ks_capacity;
    int ks_optimum; /* by dynamic programming */
    bool ks_typed;  /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
    ks_item ks_items[KS_MAX_ITEMS];
} ks_state;

/* The best value found so far by the run in progress (the driver runs one
 * at a time), as BOTS's and Lace's global. Relaxed throughout: it is only
 * a bound for pruning, any value read is that of a feasible solution, and
 * no other data is published through it. */
static _Atomic int ks_best_g;

static int ks_best(void)
{
    return atomic_load_explicit(&ks_best_g, memory_order_relaxed);
}

static void ks_raise(int v)
{
    int cur = atomic_load_explicit(&ks_best_g, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&ks_best_g, &cur, v,
                                                               memory_order_relaxed,
                                                               memory_order_relaxed))
        ;
}

/* The leaf and pruning tests of node (e, c, n, v): true with *out set when
 * the node has no children to explore. */
static bool ks_leaf(const ks_item *e, int c, int n, int v, int *out)
{
    if (c < 0) {
        *out = INT_MIN; /* over capacity */
        return true;
    }
    if (n == 0 || c == 0) {
        *out = v;
        return true;
    }
    double ub = (double)v + c * e->it_value / e->it_weight;
    if (ub < (double)ks_best()) {
        *out = INT_MIN; /* pruned */
        return true;
    }
    return false;
}

/* After both children: the node's best, which raises the shared bound. */
static int ks_join(int with, int without)
{
    int best = with > without ? with : without;
    ks_raise(best);
    return best;
}

static int ks_serial(const ks_item *e, int c, int n, int v)
{
    int out;
    if (ks_leaf(e, c, n, v, &out))
        return out;
    int without = ks_serial(e + 1, c, n - 1, v);
    int with = ks_serial(e + 1, c - e->it_weight, n - 1, v + e->it_value);
    return ks_join(with, without);
}

typedef struct {
    const ks_item *ka_e;
    int ka_c, ka_n, ka_v;
    int ka_best; /* out */
} ks_arg;

static int ks_task(void *p)
{
    ks_arg *a = p;
    if (ks_leaf(a->ka_e, a->ka_c, a->ka_n, a->ka_v, &a->ka_best))
        return 0;
    const ks_item *e = a->ka_e;
    ks_arg with = {e + 1, a->ka_c - e->it_weight, a->ka_n - 1, a->ka_v + e->it_value, 0};
    ks_arg without = {e + 1, a->ka_c, a->ka_n - 1, a->ka_v, 0};
    weft_task t;
    int rc = weft_spawn(&t, ks_task, &with);
    if (rc != 0)
        return rc;
    int r0 = ks_task(&without);
    int r1 = weft_sync(&t);
    a->ka_best = ks_join(with.ka_best, without.ka_best);
    return r1 != 0 ? r1 : r0;
}

/* The same with typed tasks. */
WEFT_TASK_4(int, ks_typed, const ks_item *, e, int, c, int, n, int, v)
{
    int out;
    if (ks_leaf(e, c, n, v, &out))
        return out;
    WEFT_FRAME(ks_typed) f;
    WEFT_SPAWN(ks_typed, &f, e + 1, c - e->it_weight, n - 1, v + e->it_value);
    int without = WEFT_CALL(ks_typed, e + 1, c, n - 1, v);
    int with = WEFT_SYNC(ks_typed, &f);
    return ks_join(with, without);
}

static int ks_typed_root(void *p)
{
    ks_arg *a = p;
    a->ka_best = ks_typed(a->ka_e, a->ka_c, a->ka_n, a->ka_v);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: "with" a task of a task_group, "without" here. */
static int ks_tbb(void *p)
{
    ks_arg *a = p;
    if (ks_leaf(a->ka_e, a->ka_c, a->ka_n, a->ka_v, &a->ka_best))
        return 0;
    const ks_item *e = a->ka_e;
    ks_arg k[2] = {{e + 1, a->ka_c - e->it_weight, a->ka_n - 1, a->ka_v + e->it_value, 0},
                   {e + 1, a->ka_c, a->ka_n - 1, a->ka_v, 0}};
    int rc = wb_tbb_forkn(ks_tbb, &k[0], sizeof k[0], 1, ks_tbb, &k[1]);
    a->ka_best = ks_join(k[0].ka_best, k[1].ka_best);
    return rc;
}
#endif

#if WB_HAVE_OMP
static int ks_omp(const ks_item *e, int c, int n, int v)
{
    int out;
    if (ks_leaf(e, c, n, v, &out))
        return out;
    int with, without;
#pragma omp task shared(with)
    with = ks_omp(e + 1, c - e->it_weight, n - 1, v + e->it_value);
    without = ks_omp(e + 1, c, n - 1, v);
#pragma omp taskwait
    return ks_join(with, without);
}

static int ks_omp_root(void *p)
{
    ks_arg *a = p;
    a->ka_best = ks_omp(a->ka_e, a->ka_c, a->ka_n, a->ka_v);
    return 0;
}
#endif

/* Decreasing value per weight (BOTS sorts so); ties: lighter first. */
static int ks_cmp(const void *x, const void *y)
{
    const ks_item *a = x, *b = y;
    /* a.v/a.w > b.v/b.w  <=>  a.v * b.w > b.v * a.w (weights are positive) */
    long l = (long)a->it_value * b->it_weight, r = (long)b->it_value * a->it_weight;
    if (l != r)
        return l > r ? -1 : 1;
    return (a->it_weight > b->it_weight) - (a->it_weight < b->it_weight);
}

/* The optimum by dynamic programming over the capacity: O(n * capacity). */
static int ks_dp(const ks_state *s, int *out)
{
    int *best = calloc((size_t)s->ks_capacity + 1, sizeof *best);
    if (best == NULL)
        return ENOMEM;
    for (int i = 0; i < s->ks_n; i++) {
        const ks_item *it = &s->ks_items[i];
        for (int c = s->ks_capacity; c >= it->it_weight; c--)
            if (best[c - it->it_weight] + it->it_value > best[c])
                best[c] = best[c - it->it_weight] + it->it_value;
    }
    *out = best[s->ks_capacity];
    free(best);
    return 0;
}

static int ks_setup(size_t icase, long size, void **state, char *label, size_t len,
                    uint64_t *tasks)
{
    if (size < 1 || size > KS_MAX_ITEMS)
        return EINVAL;
    ks_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->ks_n = (int)size;
    s->ks_typed = icase == 0;
    long total = 0;
    for (int i = 0; i < s->ks_n; i++) {
        uint64_t r = wb_rand_at(wb_env_g.e_seed ^ 0x6b6e6170ull, (uint64_t)i);
        s->ks_items[i].it_weight = 10 + (int)(r % 91);
        s->ks_items[i].it_value = s->ks_items[i].it_weight + 10;
        total += s->ks_items[i].it_weight;
    }
    s->ks_capacity = (int)(total / 2);
    qsort(s->ks_items, (size_t)s->ks_n, sizeof s->ks_items[0], ks_cmp);
    int rc = ks_dp(s, &s->ks_optimum);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *state = s;
    *tasks = 0; /* the tree explored depends on the schedule */
    snprintf(label, len, "n=%ld,cap=%d %s", size, s->ks_capacity,
             s->ks_typed ? "typed" : "void*");
    return 0;
}

static int ks_prepare(wb_run *r)
{
    (void)r;
    atomic_store_explicit(&ks_best_g, INT_MIN, memory_order_relaxed);
    return 0;
}

static int ks_run(wb_run *r)
{
    ks_state *s = r->r_state;
    if (r->r_kind == WB_SERIAL) {
        r->r_answer = (uint64_t)(uint32_t)ks_serial(s->ks_items, s->ks_capacity, s->ks_n, 0);
        return 0;
    }
    ks_arg a = {s->ks_items, s->ks_capacity, s->ks_n, 0, 0};
    int rc = wb_run_root(r, s->ks_typed ? ks_typed_root : ks_task, WB_OMP_FN(ks_omp_root),
                         WB_TBB_FN(ks_tbb), &a);
    r->r_answer = (uint64_t)(uint32_t)a.ka_best;
    return rc;
}

/* Every variant, the reference included, must find the optimum. */
static int ks_finish(wb_run *r)
{
    ks_state *s = r->r_state;
    if (r->r_answer != (uint64_t)(uint32_t)s->ks_optimum) {
        fprintf(stderr, "weft-bench: knapsack: found %d, the optimum is %d\n",
                (int)(uint32_t)r->r_answer, s->ks_optimum);
        return EDOM;
    }
    return 0;
}

const wb_workload wb_knapsack = {
    .w_name = "knapsack",
    .w_help = "0/1 knapsack by branch and bound, a task per node, shared bound (BOTS"
              " knapsack), strongly correlated items; typed and void* cases; size items"
              " (default 42)",
    .w_default_size = 42,
    .w_quick_size = 36,
    .w_smoke_size = 16,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = ks_setup,
    .w_prepare = ks_prepare,
    .w_run = ks_run,
    .w_finish = ks_finish,
    .w_teardown = free,
};
