/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_sort.c - weft-bench workload "sort" (alias "cilksort"): sort
 * `size` random ints.
 *
 * Variants: a serial top-down merge sort (the reference), libc qsort, and a
 * parallel merge sort on weft, OpenMP tasks and oneTBB: the two halves are
 * sorted in parallel and merged by a parallel divide-and-conquer merge
 * (split the larger run at its middle, binary-search that value in the other
 * run: Cormen et al., "Introduction to Algorithms", 3rd ed., ch. 27.3,
 * P-MERGE). This is BOTS's cilksort (Duran et al., "Barcelona OpenMP Tasks
 * Suite", ICPP 2009, after Cilk's): a parallel merge sort with a parallel
 * merge, serial below a cutoff; BOTS splits four ways and sorts its leaves
 * with quicksort, this splits two ways (two levels make its four) and sorts
 * leaves with merge sort. Runs ping-pong between the array and one scratch
 * buffer, so no copy back. Below SORT_CUTOFF elements a subtree is sorted
 * serially, below MERGE_CUTOFF a merge is serial.
 * Two cases, as fib: "typed" (weft/fj.h) and "void*" (weft_spawn/weft_sync);
 * the tasks are coarse, so the two should be alike.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fj.h>

#include "wb.h"

#define SORT_CUTOFF 4096
#define MERGE_CUTOFF 8192
#define INSERTION_CUTOFF 24

typedef struct {
    size_t ss_n;
    bool ss_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
    int *ss_input; /* the unsorted data, never changed */
    int *ss_a;     /* sorted in place (a fresh copy of the input each run) */
    int *ss_b;     /* scratch */
} sort_state;

static void insertion_sort(int *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void merge_serial(const int *a, size_t na, const int *b, size_t nb, int *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb)
        out[k++] = b[j] < a[i] ? b[j++] : a[i++];
    while (i < na)
        out[k++] = a[i++];
    while (j < nb)
        out[k++] = b[j++];
}

/* Sort a[0..n); the result ends in b if into_b, else in a; the other one is
 * scratch of the same size. */
static void msort_serial(int *a, int *b, size_t n, int into_b)
{
    if (n <= INSERTION_CUTOFF) {
        insertion_sort(a, n);
        if (into_b)
            memcpy(b, a, n * sizeof *a);
        return;
    }
    size_t h = n / 2;
    msort_serial(a, b, h, !into_b);
    msort_serial(a + h, b + h, n - h, !into_b);
    if (into_b)
        merge_serial(a, h, a + h, n - h, b);
    else
        merge_serial(b, h, b + h, n - h, a);
}

/* First index in b[0..n) whose value is >= v. */
static size_t lower_bound(const int *b, size_t n, int v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

typedef struct {
    const int *pm_a, *pm_b;
    size_t pm_na, pm_nb;
    int *pm_out;
} pm_arg;

/* One step of P-MERGE on x. Small: merged serially, returns true. Else the
 * middle value of the larger run is put in its final place and *l, *r are
 * the two merges left to do (in parallel). */
static bool pmerge_split(const pm_arg *x, pm_arg *l, pm_arg *r)
{
    const int *a = x->pm_a, *b = x->pm_b;
    size_t na = x->pm_na, nb = x->pm_nb;
    if (na < nb) {
        const int *t = a;
        a = b;
        b = t;
        size_t tn = na;
        na = nb;
        nb = tn;
    }
    if (na + nb <= MERGE_CUTOFF) {
        merge_serial(a, na, b, nb, x->pm_out);
        return true;
    }
    size_t ma = na / 2;
    size_t mb = lower_bound(b, nb, a[ma]);
    x->pm_out[ma + mb] = a[ma];
    *l = (pm_arg){a, b, ma, mb, x->pm_out};
    *r = (pm_arg){a + ma + 1, b + mb, na - ma - 1, nb - mb, x->pm_out + ma + mb + 1};
    return false;
}

static int pmerge_task(void *p)
{
    pm_arg l, r;
    if (pmerge_split(p, &l, &r))
        return 0;
    weft_task t;
    int rc = weft_spawn(&t, pmerge_task, &l);
    if (rc != 0)
        return rc;
    int rr = pmerge_task(&r);
    int rl = weft_sync(&t);
    return rl != 0 ? rl : rr;
}

typedef struct {
    int *ms_a, *ms_b;
    size_t ms_n;
    int ms_into_b;
} ms_arg;

static int msort_task(void *p)
{
    ms_arg *x = p;
    if (x->ms_n <= SORT_CUTOFF) {
        msort_serial(x->ms_a, x->ms_b, x->ms_n, x->ms_into_b);
        return 0;
    }
    size_t h = x->ms_n / 2;
    ms_arg l = {x->ms_a, x->ms_b, h, !x->ms_into_b};
    ms_arg r = {x->ms_a + h, x->ms_b + h, x->ms_n - h, !x->ms_into_b};
    weft_task t;
    int rc = weft_spawn(&t, msort_task, &l);
    if (rc != 0)
        return rc;
    int rr = msort_task(&r);
    int rl = weft_sync(&t);
    if (rl != 0 || rr != 0)
        return rl != 0 ? rl : rr;
    int *src = x->ms_into_b ? x->ms_a : x->ms_b;
    int *dst = x->ms_into_b ? x->ms_b : x->ms_a;
    pm_arg m = {src, src + h, h, x->ms_n - h, dst};
    return pmerge_task(&m);
}

/* The same with typed tasks. */
WEFT_VOID_TASK_1(pmerge_typed, pm_arg, x)
{
    pm_arg l, r;
    if (pmerge_split(&x, &l, &r))
        return;
    WEFT_FRAME(pmerge_typed) f;
    WEFT_SPAWN(pmerge_typed, &f, l);
    WEFT_CALL(pmerge_typed, r);
    WEFT_SYNC(pmerge_typed, &f);
}

WEFT_VOID_TASK_4(msort_typed, int *, a, int *, b, size_t, n, int, into_b)
{
    if (n <= SORT_CUTOFF) {
        msort_serial(a, b, n, into_b);
        return;
    }
    size_t h = n / 2;
    WEFT_FRAME(msort_typed) f;
    WEFT_SPAWN(msort_typed, &f, a, b, h, !into_b);
    WEFT_CALL(msort_typed, a + h, b + h, n - h, !into_b);
    WEFT_SYNC(msort_typed, &f);
    int *src = into_b ? a : b;
    int *dst = into_b ? b : a;
    pm_arg m = {src, src + h, h, n - h, dst};
    WEFT_CALL(pmerge_typed, m);
}

static int msort_typed_root(void *p)
{
    ms_arg *m = p;
    msort_typed(m->ms_a, m->ms_b, m->ms_n, m->ms_into_b);
    return 0;
}

#if WB_HAVE_TBB
/* oneTBB: the same two-way splits, one half a task of a task_group. */
static int pmerge_tbb(void *p)
{
    pm_arg l, r;
    if (pmerge_split(p, &l, &r))
        return 0;
    return wb_tbb_forkn(pmerge_tbb, &l, sizeof l, 1, pmerge_tbb, &r);
}

static int msort_tbb(void *p)
{
    ms_arg *x = p;
    if (x->ms_n <= SORT_CUTOFF) {
        msort_serial(x->ms_a, x->ms_b, x->ms_n, x->ms_into_b);
        return 0;
    }
    size_t h = x->ms_n / 2;
    ms_arg l = {x->ms_a, x->ms_b, h, !x->ms_into_b};
    ms_arg r = {x->ms_a + h, x->ms_b + h, x->ms_n - h, !x->ms_into_b};
    int rc = wb_tbb_forkn(msort_tbb, &l, sizeof l, 1, msort_tbb, &r);
    if (rc != 0)
        return rc;
    int *src = x->ms_into_b ? x->ms_a : x->ms_b;
    int *dst = x->ms_into_b ? x->ms_b : x->ms_a;
    pm_arg m = {src, src + h, h, x->ms_n - h, dst};
    return pmerge_tbb(&m);
}
#endif

#if WB_HAVE_OMP
static void pmerge_omp(const pm_arg *x)
{
    pm_arg l, r;
    if (pmerge_split(x, &l, &r))
        return;
#pragma omp task /* l is firstprivate: the task has its own copy */
    pmerge_omp(&l);
    pmerge_omp(&r);
#pragma omp taskwait
}

static void msort_omp(int *a, int *b, size_t n, int into_b)
{
    if (n <= SORT_CUTOFF) {
        msort_serial(a, b, n, into_b);
        return;
    }
    size_t h = n / 2;
#pragma omp task
    msort_omp(a, b, h, !into_b);
    msort_omp(a + h, b + h, n - h, !into_b);
#pragma omp taskwait
    if (into_b)
        pmerge_omp(&(pm_arg){a, a + h, h, n - h, b});
    else
        pmerge_omp(&(pm_arg){b, b + h, h, n - h, a});
}

static int msort_omp_root(void *p)
{
    ms_arg *m = p;
    msort_omp(m->ms_a, m->ms_b, m->ms_n, m->ms_into_b);
    return 0;
}
#endif

static void sort_teardown(void *p)
{
    sort_state *s = p;
    if (s != NULL) {
        free(s->ss_input);
        free(s->ss_a);
        free(s->ss_b);
    }
    free(s);
}

static int sort_setup(size_t icase, long size, void **state, char *label, size_t len,
                      uint64_t *tasks)
{
    if (size < 1)
        return EINVAL;
    size_t n = (size_t)size;
    sort_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->ss_n = n;
    s->ss_typed = icase == 0;
    s->ss_input = malloc(n * sizeof(int));
    s->ss_a = malloc(n * sizeof(int));
    s->ss_b = malloc(n * sizeof(int));
    if (s->ss_input == NULL || s->ss_a == NULL || s->ss_b == NULL) {
        sort_teardown(s);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        s->ss_input[i] = (int)(uint32_t)wb_rand_at(wb_env_g.e_seed ^ 0x50a7ull, i);
    *state = s;
    *tasks = 0; /* tasks depend on the cutoffs; ns/task would mislead */
    snprintf(label, len, "cilksort n=%zu %s", n, s->ss_typed ? "typed" : "void*");
    return 0;
}

static int sort_prepare(wb_run *r)
{
    sort_state *s = r->r_state;
    memcpy(s->ss_a, s->ss_input, s->ss_n * sizeof(int));
    return 0;
}

static int sort_run(wb_run *r)
{
    sort_state *s = r->r_state;
    switch (r->r_kind) {
    case WB_SERIAL:
        msort_serial(s->ss_a, s->ss_b, s->ss_n, 0);
        return 0;
    case WB_SERIAL_ALT:
        qsort(s->ss_a, s->ss_n, sizeof(int), cmp_int);
        return 0;
    default: {
        ms_arg m = {s->ss_a, s->ss_b, s->ss_n, 0};
        return wb_run_root(r, s->ss_typed ? msort_typed_root : msort_task,
                           WB_OMP_FN(msort_omp_root), WB_TBB_FN(msort_tbb), &m);
    }
    }
}

/* The answer: a position-weighted checksum; an unsorted result is an error. */
static int sort_finish(wb_run *r)
{
    sort_state *s = r->r_state;
    uint64_t h = 0;
    for (size_t i = 0; i < s->ss_n; i++) {
        if (i > 0 && s->ss_a[i - 1] > s->ss_a[i]) {
            fprintf(stderr, "weft-bench: sort: not sorted at %zu\n", i);
            return EDOM;
        }
        h += (uint64_t)(uint32_t)s->ss_a[i] * (2 * (uint64_t)i + 1);
    }
    r->r_answer = h;
    return 0;
}

static const wb_variant sort_variants[] = {{WB_SERIAL, "serial"},
                                           {WB_SERIAL_ALT, "qsort"},
                                           {WB_STEALING, "stealing"},
                                           {WB_SHARED, "shared"},
                                           {WB_OMP, "omp"},
                                           {WB_TBB, "tbb"}};

const wb_workload wb_sort = {
    .w_name = "sort",
    .w_alias = "cilksort",
    .w_help = "cilksort (BOTS): parallel merge sort with parallel merge of random ints vs"
              " serial merge sort and qsort; typed and void* cases; size n (default 10000000)",
    .w_default_size = 10000000,
    .w_quick_size = 500000,
    .w_smoke_size = 20000,
    .w_variants = sort_variants,
    .w_nvariants = sizeof sort_variants / sizeof sort_variants[0],
    .w_ncases = 2,
    .w_setup = sort_setup,
    .w_prepare = sort_prepare,
    .w_run = sort_run,
    .w_finish = sort_finish,
    .w_teardown = sort_teardown,
};
