/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_fib.c - weft-bench workload "fib": fib(n) with no cutoff.
 *
 * Every call with n >= 2 spawns fib(n-1) and computes fib(n-2) itself, so
 * the run is nothing but spawn/sync: T1/Tserial is the fork-join overhead
 * and (T1 - Tserial) / spawns the cost of one spawn+sync.
 * Two cases: "typed" writes fib with weft's typed tasks (weft/fj.h: the
 * arguments and the result in registers, the way to write fine-grained
 * recursion), "void*" with weft_spawn/weft_sync and an argument struct.
 * The same spawn per call in OpenMP (task + taskwait) and oneTBB
 * (task_group: run one call, make the other, wait).
 *
 * The reference is the plain serial program, int fib(int n) { return n < 2
 * ? n : fib(n-1) + fib(n-2); }, as the build's compiler makes it (release:
 * gcc -O2, which turns one of the two calls into a loop): T1/Tserial is
 * measured against what a user would otherwise run, not against a crippled
 * (noinline, volatile) serial version. Hence n <= 46 (fib(46) < 2^31).
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/fj.h>

#include "wb.h"

typedef struct {
    int fs_n;
    bool fs_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
} fib_state;

/* The plain serial reference (external linkage, so that it is compiled as
 * a function of its own, as in a program of its own). */
int wb_fib_plain(int n);
int wb_fib_plain(int n)
{
    return n < 2 ? n : wb_fib_plain(n - 1) + wb_fib_plain(n - 2);
}

typedef struct {
    int fa_n;
    uint64_t fa_r;
} fib_arg;

static int fib_task(void *p)
{
    fib_arg *a = p;
    if (a->fa_n < 2) {
        a->fa_r = (uint64_t)a->fa_n;
        return 0;
    }
    fib_arg x = {a->fa_n - 1, 0};
    fib_arg y = {a->fa_n - 2, 0};
    weft_task t;
    int rc = weft_spawn(&t, fib_task, &x);
    if (rc != 0)
        return rc;
    int ry = fib_task(&y);
    int rx = weft_sync(&t);
    a->fa_r = x.fa_r + y.fa_r;
    return rx != 0 ? rx : ry;
}

/* The same with a typed task: no argument struct, no result in memory. */
WEFT_TASK_1(uint64_t, fib_typed, int, n)
{
    if (n < 2)
        return (uint64_t)n;
    WEFT_FRAME(fib_typed) f;
    WEFT_SPAWN(fib_typed, &f, n - 1);
    uint64_t b = WEFT_CALL(fib_typed, n - 2);
    uint64_t a = WEFT_SYNC(fib_typed, &f);
    return a + b;
}

static int fib_typed_root(void *p)
{
    fib_arg *a = p;
    a->fa_r = fib_typed(a->fa_n);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: fib(n-1) a task of a task_group, fib(n-2) here, then wait. */
static int fib_tbb(void *p)
{
    fib_arg *a = p;
    if (a->fa_n < 2) {
        a->fa_r = (uint64_t)a->fa_n;
        return 0;
    }
    fib_arg k[2] = {{a->fa_n - 1, 0}, {a->fa_n - 2, 0}};
    int rc = wb_tbb_forkn(fib_tbb, &k[0], sizeof k[0], 1, fib_tbb, &k[1]);
    a->fa_r = k[0].fa_r + k[1].fa_r;
    return rc;
}
#endif

#if WB_HAVE_OMP
/* The textbook OpenMP version: one task per call, taskwait. */
static uint64_t fib_omp(int n)
{
    if (n < 2)
        return (uint64_t)n;
    uint64_t x, y;
#pragma omp task shared(x)
    x = fib_omp(n - 1);
    y = fib_omp(n - 2);
#pragma omp taskwait
    return x + y;
}

static int fib_omp_root(void *p)
{
    fib_arg *a = p;
    a->fa_r = fib_omp(a->fa_n);
    return 0;
}
#endif

static int fib_setup(size_t icase, long size, void **state, char *label, size_t len,
                     uint64_t *tasks)
{
    if (size < 0 || size > 46)
        return EINVAL;
    fib_state *s = malloc(sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->fs_n = (int)size;
    s->fs_typed = icase == 0;
    *state = s;
    snprintf(label, len, "n=%ld %s", size, s->fs_typed ? "typed" : "void*");
    /* spawns = calls with n >= 2 = fib(n+1) - 1 */
    uint64_t a = 0, b = 1;
    for (long i = 0; i < size + 1; i++) {
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    *tasks = a > 0 ? a - 1 : 0;
    return 0;
}

static int fib_run(wb_run *r)
{
    fib_state *s = r->r_state;
    if (r->r_kind == WB_SERIAL) {
        r->r_answer = (uint64_t)wb_fib_plain(s->fs_n);
        return 0;
    }
    fib_arg a = {s->fs_n, 0};
    int rc = wb_run_root(r, s->fs_typed ? fib_typed_root : fib_task, WB_OMP_FN(fib_omp_root),
                         WB_TBB_FN(fib_tbb), &a);
    r->r_answer = a.fa_r;
    return rc;
}

const wb_workload wb_fib = {
    .w_name = "fib",
    .w_help = "fib(n), a spawn per call, no cutoff (Lace's and BOTS's fib): pure"
              " spawn/sync, against the plain -O2 serial fib; typed (weft/fj.h) and void*"
              " (weft_spawn) cases; size n <= 46 (default 32; --fib-table: n=40)",
    .w_default_size = 32,
    .w_quick_size = 27,
    .w_smoke_size = 15,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = fib_setup,
    .w_run = fib_run,
    .w_teardown = free,
};
