/* SPDX-License-Identifier: MIT */
/*
 * bench/wb.h - weft-bench internals: the workload interface shared by the
 * driver (weft_bench.c) and the workloads (wb_*.c), plus small helpers
 * (clock, splitmix64, calibrated spinning).
 *
 * A workload has one or more cases (e.g. the four fan-out grains) and a list
 * of variants (serial, stealing, shared, omp, ...). The driver owns the
 * timing, the interleaving (A B A B ...) and the answer check; a workload
 * only builds its input (setup), resets it between runs (prepare, untimed),
 * runs one variant (run, timed) and reads the answer back (finish, untimed).
 */
#ifndef WB_H
#define WB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <weft/pool.h>
#include <weft/task.h>

#include "wb_tbb.h"

/* What a variant runs on. */
typedef enum {
    WB_SERIAL,      /* plain C on the calling thread: the reference answer */
    WB_SERIAL_ALT,  /* another one-thread baseline (sort: libc qsort) */
    WB_STEALING,    /* weft pool, WEFT_SCHED_STEALING */
    WB_SHARED,      /* weft pool, WEFT_SCHED_SHARED */
    WB_OMP,         /* OpenMP tasks / parallel for (libgomp) */
    WB_TBB,         /* oneTBB task_group / enqueue / parallel_for (wb_tbb.cpp) */
    WB_QUEUE_MUTEX, /* queue: mutex + two condvars ring (the reference) */
    WB_QUEUE_WEFT   /* queue: weft_collection */
} wb_kind;

typedef struct {
    wb_kind v_kind;
    const char *v_name; /* as printed and as matched by --variants */
} wb_variant;

/* Process-wide settings every workload may read (set once by the driver). */
typedef struct {
    uint64_t e_seed;          /* --seed: inputs (uts, skewed, sort) */
    double e_spin_iters_per_us; /* calibrated wb_spin speed */
} wb_env;

extern wb_env wb_env_g;

/* The variants of a task-parallel workload: serial C (the reference),
 * weft STEALING and SHARED, OpenMP, oneTBB. */
#define WB_NTASK_VARIANTS 5
extern const wb_variant wb_task_variants[WB_NTASK_VARIANTS];

/* One timed run of one variant. */
typedef struct {
    wb_kind r_kind;
    unsigned r_workers; /* threads the variant may use */
    weft_pool *r_pool;  /* STEALING / SHARED: the pool, else NULL */
    wb_tbb *r_tbb;      /* TBB: its arenas, limited to r_workers, else NULL */
    void *r_state;      /* the case state made by setup */
    uint64_t r_answer;  /* out (run or finish): must equal the reference's */
} wb_run;

/* Workload flags. */
#define WB_F_OWN_THREADS 1u /* ignores --workers: case_threads() says how many */

typedef struct {
    const char *w_name;
    const char *w_alias; /* another name the command line accepts, or NULL */
    const char *w_help;  /* one line for --list and --help: size meaning, default */
    long w_default_size; /* runs in seconds on the 2-core reference machine */
    long w_quick_size;   /* --quick */
    long w_smoke_size;   /* --smoke: tiny, also fine under TSan */
    unsigned w_flags;
    const wb_variant *w_variants; /* w_variants[0] is the reference */
    size_t w_nvariants;
    size_t w_ncases; /* cases: setup's icase is 0 .. w_ncases-1 */
    /* Build case i: *state, a label ("n=32"), the number of tasks one
     * parallel run creates (0: not meaningful). Returns 0 or an errno. */
    int (*w_setup)(size_t icase, long size, void **state, char *label, size_t label_len,
                   uint64_t *tasks);
    /* Untimed, before each run (may be NULL). */
    int (*w_prepare)(wb_run *r);
    /* Timed. Returns 0 or an errno (an error, not a number). */
    int (*w_run)(wb_run *r);
    /* Untimed, after each run: set r_answer from the output (may be NULL). */
    int (*w_finish)(wb_run *r);
    void (*w_teardown)(void *state);
    /* WB_F_OWN_THREADS only: threads the case uses (for the table). */
    unsigned (*w_case_threads)(void *state);
} wb_workload;

extern const wb_workload wb_fib, wb_nqueens, wb_uts, wb_fanout, wb_skewed, wb_sort, wb_pfor,
    wb_queue, wb_dfs, wb_pi, wb_knapsack, wb_matmul, wb_strassen, wb_reduce;

/* ---- helpers ---- */

static inline double wb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64's output function (Steele, Lea, Flood: "Fast splittable
 * pseudorandom number generators", OOPSLA 2014): a strong 64-bit mix. */
static inline uint64_t wb_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The i-th value of the splitmix64 sequence started at seed. */
static inline uint64_t wb_rand_at(uint64_t seed, uint64_t i)
{
    return wb_mix64(seed + (i + 1) * 0x9e3779b97f4a7c15ull);
}

/* Spin for `iters` dependent multiply steps (no memory traffic: TSan and
 * ASan do not slow it). The result depends on every step, so it cannot be
 * optimised away; wb_env_g.e_spin_iters_per_us converts time to iters. */
static inline uint64_t wb_spin(uint64_t iters, uint64_t x)
{
    for (uint64_t i = 0; i < iters; i++)
        x = (x ^ (x >> 29)) * 0x5851f42d4c957f2dull + i;
    return x;
}

static inline uint64_t wb_us_to_iters(double us)
{
    double it = us * wb_env_g.e_spin_iters_per_us;
    return it < 1.0 ? 1 : (uint64_t)(it + 0.5);
}

/* For the OpenMP variants: true when built with -fopenmp. */
#ifdef _OPENMP
#define WB_HAVE_OMP 1
#else
#define WB_HAVE_OMP 0
#endif

/* The OpenMP root of a workload, or NULL where OpenMP is compiled out. */
#if WB_HAVE_OMP
#define WB_OMP_FN(fn) (fn)
#else
#define WB_OMP_FN(fn) NULL
#endif

/* For the oneTBB variants: WB_HAVE_TBB is defined (1) by the build when
 * wb_tbb.cpp is compiled in. */
#ifndef WB_HAVE_TBB
#define WB_HAVE_TBB 0
#endif

/* The TBB root of a workload, or NULL where oneTBB is compiled out. */
#if WB_HAVE_TBB
#define WB_TBB_FN(fn) (fn)
#else
#define WB_TBB_FN(fn) NULL
#endif

/* The parallel variants of a recursive workload: weft_fn(arg) on r's pool
 * (STEALING, SHARED), omp_fn(arg) by one thread of a team of r_workers
 * (`parallel` + `single`, the OpenMP tasking idiom), or tbb_fn(arg) on the
 * calling thread inside an arena of r_workers slots (wb_tbb_call). Returns
 * the root's result; ENOTSUP for any other kind. */
static inline int wb_run_root(const wb_run *r, weft_task_fn weft_fn, weft_task_fn omp_fn,
                              weft_task_fn tbb_fn, void *arg)
{
    switch (r->r_kind) {
    case WB_STEALING:
    case WB_SHARED:
        return weft_pool_call(r->r_pool, weft_fn, arg);
#if WB_HAVE_OMP
    case WB_OMP: {
        int rc = 0;
#pragma omp parallel num_threads(r->r_workers)
#pragma omp single
        rc = omp_fn(arg);
        return rc;
    }
#endif
#if WB_HAVE_TBB
    case WB_TBB:
        return wb_tbb_call(r->r_tbb, tbb_fn, arg);
#endif
    default:
        (void)omp_fn;
        (void)tbb_fn;
        return ENOTSUP;
    }
}

#endif /* WB_H */
