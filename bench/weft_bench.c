/* SPDX-License-Identifier: MIT */
/*
 * bench/weft_bench.c - weft-bench: the benchmark driver.
 *
 * For each workload, case and worker count it runs every variant (serial C,
 * weft STEALING, weft SHARED, OpenMP tasks, oneTBB, ...) in one process, interleaved
 * A B C D A B C D ... so that drift (frequency, noise) hits them all alike.
 * Each figure is the median of the repetitions, with min and max. Every run's
 * answer is checked against the reference variant's (a wrong answer is an
 * error: exit status 1). Output: a table on stdout as it goes, optional JSON
 * and CSV; bench/plot draws the JSON. See `weft-bench --help`.
 *
 * One file of about 1,700 lines, in sections (settings, results, the
 * table, the summary and its Markdown tables, JSON and CSV, running,
 * command line): the plumbing of one program around one row table, which
 * every section reads; the workloads, where the algorithms are, are one
 * file each (wb_*.c).
 */
#define _GNU_SOURCE /* getopt_long */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft/version.h>

#include "wb.h"

#if WB_HAVE_OMP
#include <omp.h>
#endif

wb_env wb_env_g;

const wb_variant wb_task_variants[WB_NTASK_VARIANTS] = {
    {WB_SERIAL, "serial"}, {WB_STEALING, "stealing"}, {WB_SHARED, "shared"}, {WB_OMP, "omp"},
    {WB_TBB, "tbb"}};

/* The recursive workloads of the Lace and BOTS suites first, then weft's own. */
static const wb_workload *const all_workloads[] = {
    &wb_fib,    &wb_nqueens,  &wb_uts,    &wb_sort,   &wb_dfs,  &wb_knapsack, &wb_matmul,
    &wb_strassen, &wb_pi,     &wb_fanout, &wb_skewed, &wb_pfor, &wb_reduce,
    &wb_queue};
#define N_WORKLOADS (sizeof all_workloads / sizeof all_workloads[0])

#define MAX_VARIANTS 8
#define MAX_WORKER_COUNTS 16

/* ---- settings ---- */

typedef enum { MODE_DEFAULT, MODE_QUICK, MODE_SMOKE } wb_mode;

typedef struct {
    wb_mode o_mode;
    int o_reps;
    int o_warmup;
    unsigned o_workers[MAX_WORKER_COUNTS];
    size_t o_nworkers;
    char o_variants[256]; /* comma list, empty: all */
    bool o_no_omp;
    bool o_no_tbb;
    bool o_pin;
    bool o_quiet;
    const char *o_json;
    const char *o_csv;
    const char *o_summary; /* --summary FILE: the summary table alone, Markdown */
    const char *o_trace;   /* --trace DIR: one weft_pool_trace file per timed run */
    const wb_workload *o_sel[N_WORKLOADS * 4];
    long o_size[N_WORKLOADS * 4];          /* -1: the mode's size */
    int o_case[N_WORKLOADS * 4];           /* only this case; -1: all */
    const char *o_selvar[N_WORKLOADS * 4]; /* variants for this one; NULL: o_variants */
    size_t o_nsel;
    long o_fib_table[2]; /* --fib-table N,M; 0: not asked */
} wb_opts;

/* ---- results ---- */

typedef struct {
    const wb_workload *rw_w;
    char rw_case[64];
    const char *rw_variant;
    wb_kind rw_kind;
    unsigned rw_workers;
    int rw_reps;
    double rw_med, rw_min, rw_max; /* seconds */
    double rw_cpu;                 /* median process CPU seconds per run (see run_one) */
    double rw_ref;                 /* reference variant's median, same block */
    double rw_ref_cpu;             /* reference variant's median CPU time, same block */
    double rw_t1;                  /* this variant's median at 1 worker (NAN: none) */
    double rw_ref1;                /* reference median in the 1-worker block */
    double rw_shared_over;         /* stealing rows: T(shared) / T(stealing) */
    double rw_omp_over;            /* stealing rows: T(omp) / T(stealing) */
    double rw_tbb_over;            /* stealing rows: T(tbb) / T(stealing) */
    double rw_steals, rw_parks;    /* median per run; NAN for non-weft variants */
    double rw_util;                /* median share of worker time spent running tasks */
    long rw_rss_kb;                /* peak RSS of the process so far */
    uint64_t rw_tasks;
    uint64_t rw_answer;
} wb_row;

static wb_row *rows_g;
static size_t nrows_g, caprows_g;
static int errors_g;

static wb_row *row_new(void)
{
    if (nrows_g == caprows_g) {
        size_t nc = caprows_g ? 2 * caprows_g : 64;
        wb_row *nr = realloc(rows_g, nc * sizeof *nr);
        if (nr == NULL) {
            fprintf(stderr, "weft-bench: out of memory\n");
            exit(1);
        }
        rows_g = nr;
        caprows_g = nc;
    }
    wb_row *r = &rows_g[nrows_g++];
    memset(r, 0, sizeof *r);
    return r;
}

static bool is_parallel(wb_kind k)
{
    return k == WB_STEALING || k == WB_SHARED || k == WB_OMP || k == WB_TBB;
}

static bool is_weft_pool(wb_kind k)
{
    return k == WB_STEALING || k == WB_SHARED;
}

static bool is_queue(wb_kind k)
{
    return k == WB_QUEUE_MUTEX || k == WB_QUEUE_WEFT;
}

/* Derived figures (NAN where they do not apply). */
static double row_overhead(const wb_row *r) /* T1 / Tserial */
{
    if (is_parallel(r->rw_kind))
        return r->rw_t1 / r->rw_ref1;
    if (r->rw_kind == WB_SERIAL_ALT)
        return r->rw_med / r->rw_ref;
    return NAN;
}

static double row_speedup(const wb_row *r) /* T1 / Tp */
{
    return is_parallel(r->rw_kind) ? r->rw_t1 / r->rw_med : NAN;
}

static double row_vs_ref(const wb_row *r) /* Tref / Tp */
{
    if (r->rw_kind == WB_SERIAL || r->rw_kind == WB_QUEUE_MUTEX)
        return NAN;
    return r->rw_ref / r->rw_med;
}

/* Parallel variants: CPU time spent beyond the serial time, per task:
 * (Tp * p - Tserial) / tasks; at p = 1 this is the per-task overhead.
 * Queue: wall time per item. */
static double row_ns_per_task(const wb_row *r)
{
    if (r->rw_tasks == 0)
        return NAN;
    if (is_queue(r->rw_kind))
        return r->rw_med * 1e9 / (double)r->rw_tasks;
    if (!is_parallel(r->rw_kind))
        return NAN;
    return (r->rw_med * r->rw_workers - r->rw_ref) * 1e9 / (double)r->rw_tasks;
}

/* Wall-clock time per task, ns: the reference's is the work of a task;
 * a parallel variant's the inverse of its throughput. */
static double row_wall_per_task(const wb_row *r)
{
    if (r->rw_tasks == 0 || is_queue(r->rw_kind))
        return NAN;
    return r->rw_med * 1e9 / (double)r->rw_tasks;
}

/* Parallel variants: the CPU time the process spent per task beyond the
 * work, measured ((CPU - CPUserial) / tasks, ns): scheduling, idle
 * spinning, the submitting thread's time, whatever the runtime burns.
 * Unlike ns/task it does not assume that every worker is busy all the
 * time, and CPU times do not count time the threads wait for a CPU that
 * other processes hold. */
static double row_cpu_per_task(const wb_row *r)
{
    if (r->rw_tasks == 0 || !is_parallel(r->rw_kind))
        return NAN;
    return (r->rw_cpu - r->rw_ref_cpu) * 1e9 / (double)r->rw_tasks;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(const double *v, int n, double *med, double *min, double *max)
{
    double s[n > 0 ? n : 1];
    if (n <= 0) {
        *med = *min = *max = NAN;
        return;
    }
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    *min = s[0];
    *max = s[n - 1];
    *med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* ---- the table ---- */

static void put_num(char *buf, size_t len, double v, const char *fmt)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
}

static void print_header(void)
{
    printf("%-8s %-28s %3s %-9s %10s %10s %10s %6s %6s %6s %8s %9s %8s %6s %6s %6s %9s %8s "
           "%7s %6s\n",
           "workload", "case", "w", "variant", "median_ms", "min_ms", "max_ms", "T1/Ts",
           "T1/Tp", "Ts/Tp", "ns/task", "wall/task", "cpu/task", "sh/st", "omp/st", "tbb/st",
           "steals", "parks", "rss_MB", "util%");
}

static void print_row(const wb_row *r)
{
    char ovh[16], spd[16], vs[16], nst[16], wpt[16], cpt[16], sh[16], om[16], tb[16], st[24],
        pk[24], ut[16];
    put_num(ovh, sizeof ovh, row_overhead(r), "%.2f");
    put_num(spd, sizeof spd, row_speedup(r), "%.2f");
    put_num(vs, sizeof vs, row_vs_ref(r), "%.2f");
    put_num(nst, sizeof nst, row_ns_per_task(r), "%.1f");
    put_num(wpt, sizeof wpt, row_wall_per_task(r), "%.1f");
    put_num(cpt, sizeof cpt, row_cpu_per_task(r), "%.1f");
    put_num(sh, sizeof sh, r->rw_shared_over, "%.2f");
    put_num(om, sizeof om, r->rw_omp_over, "%.2f");
    put_num(tb, sizeof tb, r->rw_tbb_over, "%.2f");
    put_num(st, sizeof st, r->rw_steals, "%.0f");
    put_num(pk, sizeof pk, r->rw_parks, "%.0f");
    put_num(ut, sizeof ut, r->rw_util * 100.0, "%.0f");
    printf("%-8s %-28s %3u %-9s %10.3f %10.3f %10.3f %6s %6s %6s %8s %9s %8s %6s %6s %6s %9s %8s "
           "%7.1f %6s\n",
           r->rw_w->w_name, r->rw_case, r->rw_workers, r->rw_variant, r->rw_med * 1e3,
           r->rw_min * 1e3, r->rw_max * 1e3, ovh, spd, vs, nst, wpt, cpt, sh, om, tb, st, pk,
           (double)r->rw_rss_kb / 1024.0, ut);
    fflush(stdout);
}

/* ---- the summary: one line per case, at its largest worker count ---- */

/* Below this serial (reference) time a case is too small for parallelism to
 * pay: waking workers and moving the first tasks to them takes tens of
 * microseconds, and the run is over before they help. */
#define WB_SMALL_MS 5.0

#define SUMMARY_COLS 12

typedef struct {
    char sr_cell[SUMMARY_COLS][96]; /* the cells, as printed */
    bool sr_small;        /* reference under WB_SMALL_MS */
    bool sr_loses;        /* the fastest variant is slower than the reference */
} wb_summary_row;

static const char *const summary_head[SUMMARY_COLS] = {
    "workload", "case", "work/task", "reference", "w",      "fastest",
    "speed-up", "runner-up", "by",      "omp/st",   "tbb/st", "note"};

static void fmt_duration(char *buf, size_t len, double secs)
{
    if (isnan(secs) || secs <= 0)
        snprintf(buf, len, "-");
    else if (secs < 1e-6)
        snprintf(buf, len, "%.1f ns", secs * 1e9);
    else if (secs < 1e-3)
        snprintf(buf, len, "%.1f us", secs * 1e6);
    else if (secs < 1)
        snprintf(buf, len, "%.2f ms", secs * 1e3);
    else
        snprintf(buf, len, "%.2f s", secs);
}

/* Append a note to buf (notes are separated by "; "). */
static void add_note(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used > 0 && used + 2 < len) {
        memcpy(buf + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

/* The rows [first, first + n) are one case (all its worker counts). */
static void summarize_case(const wb_row *first, size_t n, wb_summary_row *out)
{
    unsigned w = 0;
    for (size_t i = 0; i < n; i++)
        if (first[i].rw_workers > w)
            w = first[i].rw_workers;
    /* At w: the reference (the block's first row), and the contenders:
     * the parallel variants (queue: both sides). */
    const wb_row *ref = NULL, *best = NULL, *second = NULL, *st = NULL;
    for (size_t i = 0; i < n; i++) {
        const wb_row *r = &first[i];
        if (r->rw_workers != w)
            continue;
        if (ref == NULL)
            ref = r;
        if (r->rw_kind == WB_STEALING)
            st = r;
        if (!is_parallel(r->rw_kind) && !is_queue(r->rw_kind))
            continue;
        if (best == NULL || r->rw_med < best->rw_med) {
            second = best;
            best = r;
        } else if (second == NULL || r->rw_med < second->rw_med) {
            second = r;
        }
    }
    memset(out, 0, sizeof *out);
    char(*c)[96] = out->sr_cell;
    snprintf(c[0], sizeof c[0], "%s", first->rw_w->w_name);
    snprintf(c[1], sizeof c[1], "%s", first->rw_case);
    char d[32];
    fmt_duration(d, sizeof d,
                 ref && ref->rw_tasks && !is_queue(ref->rw_kind)
                     ? ref->rw_med / (double)ref->rw_tasks
                     : NAN);
    snprintf(c[2], sizeof c[2], "%s", d);
    fmt_duration(d, sizeof d, ref ? ref->rw_med : NAN);
    snprintf(c[3], sizeof c[3], "%s %s", ref ? ref->rw_variant : "-", d);
    snprintf(c[4], sizeof c[4], "%u", w);
    snprintf(c[5], sizeof c[5], "%s", best ? best->rw_variant : "-");
    snprintf(c[6], sizeof c[6], "-");
    snprintf(c[7], sizeof c[7], "-");
    snprintf(c[8], sizeof c[8], "-");
    /* the STEALING row holds the ratios of the other runtimes to it */
    put_num(c[9], sizeof c[9], st ? st->rw_omp_over : NAN, "%.2f");
    put_num(c[10], sizeof c[10], st ? st->rw_tbb_over : NAN, "%.2f");
    snprintf(c[11], sizeof c[11], "-");
    if (best == NULL || ref == NULL)
        return;
    snprintf(c[6], sizeof c[6], "%.2fx", ref->rw_med / best->rw_med);
    if (second != NULL) {
        snprintf(c[7], sizeof c[7], "%s", second->rw_variant);
        snprintf(c[8], sizeof c[8], "%.2fx", second->rw_med / best->rw_med);
    }

    /* The notes, most important first. */
    double ref_ms = ref->rw_med * 1e3;
    char *note = c[11];
    note[0] = '\0';
    fmt_duration(d, sizeof d, ref->rw_med);
#define NOTE(...) add_note(note, sizeof c[11], __VA_ARGS__)
    if (w < 2) {
        NOTE("one worker: no parallelism");
    } else if (!is_queue(ref->rw_kind)) {
        out->sr_small = ref_ms < WB_SMALL_MS;
        out->sr_loses = best == ref || best->rw_med > ref->rw_med;
        if (out->sr_small)
            NOTE("too small: serial %s", d);
        if (out->sr_loses && !isnan(row_overhead(best)) && row_overhead(best) > 1.5)
            NOTE("slower than serial: T1/Ts %.1f", row_overhead(best));
        else if (out->sr_loses)
            NOTE("slower than serial");
    }
    if (best->rw_med > 0 && (best->rw_max - best->rw_min) / best->rw_med > 0.5)
        NOTE("noisy: min-max %.0f%% of median", 100 * (best->rw_max - best->rw_min) / best->rw_med);
#undef NOTE
    if (note[0] == '\0')
        snprintf(note, sizeof c[11], "-");
}

/* ---- more tables: Markdown, padded so that they also read as plain text ---- */

#define MD_MAX_COLS 12
#define MD_CELL 96

typedef struct {
    size_t md_ncols, md_nrows, md_cap;
    char md_head[MD_MAX_COLS][MD_CELL];
    char (*md_cells)[MD_MAX_COLS][MD_CELL];
} md_table;

/* Append a row; returns its cells (all "-"), or NULL when out of memory. */
static char (*md_row(md_table *t))[MD_CELL]
{
    if (t->md_nrows == t->md_cap) {
        size_t nc = t->md_cap ? 2 * t->md_cap : 16;
        void *nr = realloc(t->md_cells, nc * sizeof *t->md_cells);
        if (nr == NULL)
            return NULL;
        t->md_cells = nr;
        t->md_cap = nc;
    }
    char(*c)[MD_CELL] = t->md_cells[t->md_nrows++];
    for (size_t i = 0; i < MD_MAX_COLS; i++)
        snprintf(c[i], MD_CELL, "-");
    return c;
}

static void md_print(FILE *f, md_table *t)
{
    size_t width[MD_MAX_COLS];
    for (size_t c = 0; c < t->md_ncols; c++) {
        width[c] = strlen(t->md_head[c]);
        for (size_t r = 0; r < t->md_nrows; r++)
            if (strlen(t->md_cells[r][c]) > width[c])
                width[c] = strlen(t->md_cells[r][c]);
    }
    for (size_t c = 0; c < t->md_ncols; c++)
        fprintf(f, "| %-*s ", (int)width[c], t->md_head[c]);
    fprintf(f, "|\n");
    for (size_t c = 0; c < t->md_ncols; c++) {
        fprintf(f, "| ");
        for (size_t i = 0; i < width[c]; i++)
            fputc('-', f);
        fputc(' ', f);
    }
    fprintf(f, "|\n");
    for (size_t r = 0; r < t->md_nrows; r++) {
        for (size_t c = 0; c < t->md_ncols; c++)
            fprintf(f, "| %-*s ", (int)width[c], t->md_cells[r][c]);
        fprintf(f, "|\n");
    }
    free(t->md_cells);
    t->md_cells = NULL;
    t->md_nrows = t->md_cap = 0;
}

/* Rows [i, j) of rows_g: one block (one case, one worker count). */
static size_t block_end(size_t i)
{
    size_t j = i + 1;
    while (j < nrows_g && rows_g[j].rw_w == rows_g[i].rw_w
           && rows_g[j].rw_workers == rows_g[i].rw_workers
           && strcmp(rows_g[j].rw_case, rows_g[i].rw_case) == 0)
        j++;
    return j;
}

static const wb_row *block_find(size_t i, size_t j, wb_kind k)
{
    for (; i < j; i++)
        if (rows_g[i].rw_kind == k)
            return &rows_g[i];
    return NULL;
}

/* The fan-out workloads (fanout, skewed: tasks submitted one by one from a
 * thread outside the pool): per task, wall-clock time (Tp / N) and CPU time
 * beyond the work ((CPU - Tserial) / N), per variant and worker count. */
static void print_fanout(FILE *f)
{
    static const wb_kind kinds[] = {WB_STEALING, WB_SHARED, WB_TBB, WB_OMP};
    static const char *const names[] = {"stealing", "shared", "tbb", "omp"};
    bool present[4] = {false, false, false, false};
    bool any = false;
    for (size_t i = 0; i < nrows_g; i++) {
        if (rows_g[i].rw_w != &wb_fanout && rows_g[i].rw_w != &wb_skewed)
            continue;
        any = true;
        for (int k = 0; k < 4; k++)
            present[k] |= rows_g[i].rw_kind == kinds[k];
    }
    if (!any)
        return;
    md_table t = {.md_ncols = 3};
    snprintf(t.md_head[0], MD_CELL, "case");
    snprintf(t.md_head[1], MD_CELL, "w");
    snprintf(t.md_head[2], MD_CELL, "work/task");
    for (int k = 0; k < 4; k++)
        if (present[k]) {
            snprintf(t.md_head[t.md_ncols++], MD_CELL, "%s wall", names[k]);
            snprintf(t.md_head[t.md_ncols++], MD_CELL, "%s cpu+", names[k]);
        }
    for (size_t i = 0; i < nrows_g;) {
        size_t j = block_end(i);
        const wb_row *ref = &rows_g[i];
        if ((ref->rw_w == &wb_fanout || ref->rw_w == &wb_skewed) && ref->rw_tasks > 0) {
            char(*c)[MD_CELL] = md_row(&t);
            if (c == NULL)
                break;
            snprintf(c[0], MD_CELL, "%s %s", ref->rw_w->w_name, ref->rw_case);
            snprintf(c[1], MD_CELL, "%u", ref->rw_workers);
            put_num(c[2], MD_CELL, row_wall_per_task(ref), "%.1f");
            size_t col = 3;
            for (int k = 0; k < 4; k++) {
                if (!present[k])
                    continue;
                const wb_row *r = block_find(i, j, kinds[k]);
                if (r != NULL) {
                    put_num(c[col], MD_CELL, row_wall_per_task(r), "%.1f");
                    put_num(c[col + 1], MD_CELL, row_cpu_per_task(r), "%.1f");
                }
                col += 2;
            }
        }
        i = j;
    }
    fprintf(f, "\n## Fan-out: cost per task (ns), tasks submitted one by one from one outside "
               "thread\n\n");
    md_print(f, &t);
    fprintf(f, "\n"
               "work/task: the serial loop's time per task. wall: Tp / N, wall-clock time per\n"
               "task (the inverse of throughput; ideal: work/task / w). cpu+: (CPU - CPUserial) / N,\n"
               "the process CPU time per task beyond the work (scheduling, queue contention,\n"
               "idle spinning until the workers sleep, the submitting thread), measured with\n"
               "CLOCK_PROCESS_CPUTIME_ID. stealing and shared: weft_pool_submit; tbb:\n"
               "task_arena::enqueue into an arena of w workers; omp: task from a `single`\n"
               "thread that is one of the w.\n");
}

/* A fib row's n and whether its case is the typed one. */
static int fib_case_n(const wb_row *r, bool *typed)
{
    int n = -1;
    if (sscanf(r->rw_case, "n=%d", &n) != 1)
        n = -1;
    *typed = strstr(r->rw_case, "typed") != NULL;
    return n;
}

static void fib_runtime_name(char *buf, size_t len, wb_kind k, bool typed, int n)
{
    switch (k) {
    case WB_STEALING:
    case WB_SHARED:
        snprintf(buf, len, "weft %s, %s, fib(%d)",
                 typed ? "typed (weft/fj.h)" : "untyped (weft_spawn/weft_sync)",
                 k == WB_SHARED ? "SHARED" : "STEALING", n);
        break;
    case WB_TBB:
        snprintf(buf, len, "oneTBB task_group, fib(%d)", n);
        break;
    case WB_OMP:
        snprintf(buf, len, "OpenMP tasks (libgomp), fib(%d)", n);
        break;
    default:
        snprintf(buf, len, "?");
    }
}

/* The fib comparison (--fib-table): per runtime, T1/Tserial and T2/Tserial,
 * each against the plain -O2 serial fib of the same n in the same block.
 * Printed whenever fib ran on 1 and 2 workers. OpenMP and oneTBB appear
 * once per n (they run the same code in both cases). */
static void print_fib_table(FILE *f)
{
    md_table t = {.md_ncols = 3};
    snprintf(t.md_head[0], MD_CELL, "runtime");
    snprintf(t.md_head[1], MD_CELL, "T1/Tserial");
    snprintf(t.md_head[2], MD_CELL, "T2/Tserial");
    int ns[8];
    double ts[8];
    size_t nn = 0;
    struct {
        wb_kind k;
        int n;
    } seen[16];
    size_t nseen = 0;
    for (size_t i = 0; i < nrows_g;) {
        size_t j = block_end(i);
        const wb_row *ser1 = &rows_g[i];
        bool typed;
        int n = fib_case_n(ser1, &typed);
        if (ser1->rw_w != &wb_fib || ser1->rw_workers != 1 || n < 0) {
            i = j;
            continue;
        }
        /* the 2-worker block of the same case */
        size_t i2 = j, j2 = j;
        while (i2 < nrows_g) {
            j2 = block_end(i2);
            if (rows_g[i2].rw_w == &wb_fib && rows_g[i2].rw_workers == 2
                && strcmp(rows_g[i2].rw_case, ser1->rw_case) == 0)
                break;
            i2 = j2;
        }
        if (i2 >= nrows_g) {
            i = j;
            continue;
        }
        const wb_row *ser2 = &rows_g[i2];
        bool have_n = false;
        for (size_t k = 0; k < nn; k++)
            have_n |= ns[k] == n;
        if (!have_n && nn < 8) {
            ns[nn] = n;
            ts[nn++] = ser1->rw_med;
        }
        for (size_t k = i + 1; k < j; k++) {
            const wb_row *r1 = &rows_g[k];
            const wb_row *r2 = block_find(i2, j2, r1->rw_kind);
            if (r2 == NULL)
                continue;
            if (r1->rw_kind == WB_TBB || r1->rw_kind == WB_OMP) {
                bool dup = false;
                for (size_t q = 0; q < nseen; q++)
                    dup |= seen[q].k == r1->rw_kind && seen[q].n == n;
                if (dup || nseen == 16)
                    continue;
                seen[nseen].k = r1->rw_kind;
                seen[nseen++].n = n;
            }
            char(*c)[MD_CELL] = md_row(&t);
            if (c == NULL)
                break;
            fib_runtime_name(c[0], MD_CELL, r1->rw_kind, typed, n);
            put_num(c[1], MD_CELL, r1->rw_med / ser1->rw_med, "%.2f");
            put_num(c[2], MD_CELL, r2->rw_med / ser2->rw_med, "%.2f");
        }
        i = j;
    }
    if (t.md_nrows == 0) {
        free(t.md_cells);
        return;
    }
    /* The reference rows, explicit, first. */
    size_t nrun = t.md_nrows;
    for (size_t k = 0; k < nn; k++) {
        char(*c)[MD_CELL] = md_row(&t);
        if (c == NULL)
            break;
        char d[32];
        fmt_duration(d, sizeof d, ts[k]);
        snprintf(c[0], MD_CELL, "serial int fib(int n), -O2, fib(%d): Tserial %s", ns[k], d);
        snprintf(c[1], MD_CELL, "1.00");
        snprintf(c[2], MD_CELL, "1.00");
    }
    if (t.md_nrows > nrun) { /* rotate them to the top */
        size_t nref = t.md_nrows - nrun;
        char(*tmp)[MD_MAX_COLS][MD_CELL] = malloc(t.md_nrows * sizeof *tmp);
        if (tmp != NULL) {
            memcpy(tmp, t.md_cells + nrun, nref * sizeof *tmp);
            memcpy(tmp + nref, t.md_cells, nrun * sizeof *tmp);
            memcpy(t.md_cells, tmp, t.md_nrows * sizeof *tmp);
            free(tmp);
        }
    }
    fprintf(f, "\n## fib: a spawn per call, no cutoff, against the plain serial fib\n\n");
    md_print(f, &t);
    fprintf(f, "\n"
               "Tserial: the plain serial int fib(int n) { return n < 2 ? n : fib(n-1) +\n"
               "fib(n-2); } as this build compiled it (release: gcc -O2), median of the\n"
               "1-worker block; T2/Tserial uses the 2-worker block's. T1, T2: the runtime on\n"
               "1 and 2 workers. A runtime run at a smaller n than weft is compared with the\n"
               "serial fib of that n: with a spawn per call both times grow as fib(n), so the\n"
               "ratio hardly depends on n.\n");
}

/* Print the summary as a Markdown table, padded so that it also reads as
 * plain text; the same format heads bench/RESULTS.md. */
static void print_summary(FILE *f, const wb_opts *o)
{
    size_t ncases = 0;
    for (size_t i = 0; i < nrows_g; i++)
        if (i == 0 || rows_g[i].rw_w != rows_g[i - 1].rw_w
            || strcmp(rows_g[i].rw_case, rows_g[i - 1].rw_case) != 0)
            ncases++;
    if (ncases == 0)
        return;
    wb_summary_row *sum = calloc(ncases, sizeof *sum);
    if (sum == NULL)
        return;
    size_t k = 0, nsmall = 0, nloses = 0;
    for (size_t i = 0; i < nrows_g;) {
        size_t j = i + 1;
        while (j < nrows_g && rows_g[j].rw_w == rows_g[i].rw_w
               && strcmp(rows_g[j].rw_case, rows_g[i].rw_case) == 0)
            j++;
        summarize_case(&rows_g[i], j - i, &sum[k]);
        nsmall += sum[k].sr_small;
        nloses += sum[k].sr_loses;
        k++;
        i = j;
    }
    size_t width[SUMMARY_COLS];
    for (int c = 0; c < SUMMARY_COLS; c++) {
        width[c] = strlen(summary_head[c]);
        for (size_t r = 0; r < ncases; r++)
            if (strlen(sum[r].sr_cell[c]) > width[c])
                width[c] = strlen(sum[r].sr_cell[c]);
    }
    for (int c = 0; c < SUMMARY_COLS; c++)
        fprintf(f, "| %-*s ", (int)width[c], summary_head[c]);
    fprintf(f, "|\n");
    for (int c = 0; c < SUMMARY_COLS; c++) {
        fprintf(f, "| ");
        for (size_t i = 0; i < width[c]; i++)
            fputc('-', f);
        fputc(' ', f);
    }
    fprintf(f, "|\n");
    for (size_t r = 0; r < ncases; r++) {
        for (int c = 0; c < SUMMARY_COLS; c++)
            fprintf(f, "| %-*s ", (int)width[c], sum[r].sr_cell[c]);
        fprintf(f, "|\n");
    }
    fprintf(f, "\n"
               "w: the largest worker count run (queue: threads). work/task: the reference's\n"
               "time per task. speed-up: the reference's time over the fastest variant's\n"
               "(queue: mutex over weft). by: how many times longer the runner-up took.\n"
               "omp/st, tbb/st: OpenMP's and oneTBB's time over STEALING's (>1: weft is\n"
               "faster). T1/Ts: the fastest variant on one worker over serial (its overhead).\n");
    if (nsmall > 0)
        fprintf(f,
                "\n%zu of %zu cases are too small for parallelism to pay: their serial run takes\n"
                "under %.0f ms, and waking the workers and handing them the first tasks costs\n"
                "tens of microseconds, while tasks this fine cost more than their work (T1/Ts).\n"
                "%s\n",
                nsmall, ncases, WB_SMALL_MS,
                o->o_mode == MODE_DEFAULT ? "Give them larger sizes (WORKLOAD=SIZE)."
                                          : "These are --quick/--smoke sizes, for checking the "
                                            "tool: run without them to compare.");
    if (nloses > nsmall)
        fprintf(f, "\n%zu case(s) not too small are still slower in parallel than serial: "
                   "see their notes.\n",
                nloses - nsmall);
    free(sum);
    print_fanout(f);
    print_fib_table(f);
}

/* ---- JSON and CSV ---- */

static void json_num(FILE *f, const char *key, double v, bool comma)
{
    if (isnan(v) || isinf(v))
        fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
    else
        fprintf(f, "\"%s\": %.9g%s", key, v, comma ? ", " : "");
}

static const char *mode_name(wb_mode m)
{
    return m == MODE_SMOKE ? "smoke" : m == MODE_QUICK ? "quick" : "default";
}

static int write_json(const char *path, const wb_opts *o, int argc, char **argv)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return errno;
    char date[32] = "";
    time_t now = time(NULL);
    struct tm tmv;
    if (gmtime_r(&now, &tmv) != NULL)
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    fprintf(f, "{\n  \"tool\": \"weft-bench\", \"weft_version\": \"%s\", \"date\": \"%s\",\n",
            weft_version(), date);
    fprintf(f, "  \"command\": \"");
    for (int i = 0; i < argc; i++)
        for (const char *c = argv[i]; ; c++) { /* our own args: escape quotes only */
            if (*c == '\0') {
                if (i + 1 < argc)
                    fputc(' ', f);
                break;
            }
            if (*c == '"' || *c == '\\')
                fputc('\\', f);
            fputc(*c, f);
        }
    fprintf(f, "\",\n  \"cpus\": %ld, \"compiler\": \"%s\", \"openmp\": %d,\n",
            sysconf(_SC_NPROCESSORS_ONLN), __VERSION__,
#ifdef _OPENMP
            _OPENMP
#else
            0
#endif
    );
    fprintf(f, "  \"tbb\": \"%s\",\n", WB_HAVE_TBB ? wb_tbb_version() : "");
    const char *wp = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT");
    fprintf(f, "  \"omp_wait_policy\": \"%s\", \"gomp_spincount\": \"%s\",\n", wp ? wp : "",
            sc ? sc : "");
    fprintf(f, "  \"mode\": \"%s\", \"reps\": %d, \"warmup\": %d, \"seed\": %llu, \"workers\": [",
            mode_name(o->o_mode), o->o_reps, o->o_warmup, (unsigned long long)wb_env_g.e_seed);
    for (size_t i = 0; i < o->o_nworkers; i++)
        fprintf(f, "%s%u", i ? ", " : "", o->o_workers[i]);
    fprintf(f, "],\n  \"spin_iters_per_us\": %.6g, \"errors\": %d,\n  \"results\": [\n",
            wb_env_g.e_spin_iters_per_us, errors_g);
    for (size_t i = 0; i < nrows_g; i++) {
        const wb_row *r = &rows_g[i];
        fprintf(f, "    {\"workload\": \"%s\", \"case\": \"%s\", \"variant\": \"%s\", "
                   "\"workers\": %u, \"reps\": %d, ",
                r->rw_w->w_name, r->rw_case, r->rw_variant, r->rw_workers, r->rw_reps);
        json_num(f, "median_s", r->rw_med, true);
        json_num(f, "min_s", r->rw_min, true);
        json_num(f, "max_s", r->rw_max, true);
        json_num(f, "ref_s", r->rw_ref, true);
        json_num(f, "t1_s", r->rw_t1, true);
        json_num(f, "t1_over_tserial", row_overhead(r), true);
        json_num(f, "speedup_t1_over_tp", row_speedup(r), true);
        json_num(f, "speedup_vs_ref", row_vs_ref(r), true);
        json_num(f, "ns_per_task", row_ns_per_task(r), true);
        json_num(f, "cpu_s", r->rw_cpu, true);
        json_num(f, "ref_cpu_s", r->rw_ref_cpu, true);
        json_num(f, "wall_ns_per_task", row_wall_per_task(r), true);
        json_num(f, "cpu_ns_per_task", row_cpu_per_task(r), true);
        json_num(f, "shared_over_stealing", r->rw_shared_over, true);
        json_num(f, "omp_over_stealing", r->rw_omp_over, true);
        json_num(f, "tbb_over_stealing", r->rw_tbb_over, true);
        json_num(f, "steals", r->rw_steals, true);
        json_num(f, "parks", r->rw_parks, true);
        json_num(f, "utilisation", r->rw_util, true);
        fprintf(f, "\"peak_rss_kb\": %ld, \"tasks\": %llu, \"answer\": \"%llu\"}%s\n",
                r->rw_rss_kb, (unsigned long long)r->rw_tasks,
                (unsigned long long)r->rw_answer, i + 1 < nrows_g ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : errno;
}

static void csv_num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fputc(',', f);
    else
        fprintf(f, ",%.9g", v);
}

static int write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return errno;
    fprintf(f, "workload,case,variant,workers,reps,median_s,min_s,max_s,ref_s,t1_s,"
               "t1_over_tserial,speedup_t1_over_tp,speedup_vs_ref,ns_per_task,cpu_s,ref_cpu_s,"
               "wall_ns_per_task,cpu_ns_per_task,"
               "shared_over_stealing,omp_over_stealing,tbb_over_stealing,steals,parks,peak_rss_kb,"
               "tasks,answer,utilisation\n");
    for (size_t i = 0; i < nrows_g; i++) {
        const wb_row *r = &rows_g[i];
        /* case labels contain commas: quote them */
        fprintf(f, "%s,\"%s\",%s,%u,%d", r->rw_w->w_name, r->rw_case, r->rw_variant,
                r->rw_workers, r->rw_reps);
        csv_num(f, r->rw_med);
        csv_num(f, r->rw_min);
        csv_num(f, r->rw_max);
        csv_num(f, r->rw_ref);
        csv_num(f, r->rw_t1);
        csv_num(f, row_overhead(r));
        csv_num(f, row_speedup(r));
        csv_num(f, row_vs_ref(r));
        csv_num(f, row_ns_per_task(r));
        csv_num(f, r->rw_cpu);
        csv_num(f, r->rw_ref_cpu);
        csv_num(f, row_wall_per_task(r));
        csv_num(f, row_cpu_per_task(r));
        csv_num(f, r->rw_shared_over);
        csv_num(f, r->rw_omp_over);
        csv_num(f, r->rw_tbb_over);
        csv_num(f, r->rw_steals);
        csv_num(f, r->rw_parks);
        fprintf(f, ",%ld,%llu,%llu", r->rw_rss_kb, (unsigned long long)r->rw_tasks,
                (unsigned long long)r->rw_answer);
        csv_num(f, r->rw_util);
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : errno;
}

/* ---- running ---- */

/* Sums of the counters we report, over all workers of p: steals, parks,
 * ns running tasks and ns in all (running, searching, parked, blocked). */
typedef struct {
    double c_steals, c_parks, c_run_ns, c_all_ns;
} wb_counts;

static void pool_counts(weft_pool *p, unsigned w, wb_counts *c)
{
    memset(c, 0, sizeof *c);
    weft_worker_stats st[w > 0 ? w : 1];
    if (p == NULL || weft_pool_stats(p, st, w) != 0)
        return;
    for (unsigned i = 0; i < w; i++) {
        c->c_steals += (double)st[i].steals;
        c->c_parks += (double)st[i].parks;
        c->c_run_ns += (double)st[i].run_ns;
        c->c_all_ns += (double)(st[i].run_ns + st[i].search_ns + st[i].park_ns
                                + st[i].blocked_ns);
    }
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* After a parallel run, wait until the process is idle: every runtime's
 * workers spin a while before they sleep (weft before parking, libgomp
 * GOMP_SPINCOUNT, TBB), and that CPU belongs to the run that left them
 * spinning, not to the next variant's. Idle: the process used under 5% of
 * a CPU over the last millisecond (or 200 ms have passed). Returns the
 * process CPU time then. */
#define SETTLE_STEP_NS 1000000L
#define SETTLE_IDLE_S 50e-6
#define SETTLE_MAX_STEPS 200

static double settle(void)
{
    double c0 = cpu_now();
    for (int i = 0; i < SETTLE_MAX_STEPS; i++) {
        struct timespec d = {0, SETTLE_STEP_NS};
        nanosleep(&d, NULL);
        double c1 = cpu_now();
        if (c1 - c0 < SETTLE_IDLE_S)
            return c1;
        c0 = c1;
    }
    return c0;
}

/* One run: prepare, time, finish, check. *secs is the wall time of the
 * run; *cpu the process's CPU time from its start until it is idle again
 * (parallel variants; the reference: its own); *util the workers' share of
 * time running tasks. trace: a file for weft_pool_trace_start around the
 * timed part (NULL: none). */
static int run_one(const wb_workload *W, wb_run *r, const char *trace, double *secs, double *cpu,
                   double *steals, double *parks, double *util)
{
    int rc = W->w_prepare != NULL ? W->w_prepare(r) : 0;
    if (rc != 0)
        return rc;
    wb_counts c0, c1;
    if (r->r_pool != NULL)
        pool_counts(r->r_pool, r->r_workers, &c0);
    int trc = trace != NULL && r->r_pool != NULL ? weft_pool_trace_start(r->r_pool, trace, 0)
                                                   : ENOENT;
    if (trc != 0 && trc != ENOENT)
        fprintf(stderr, "\nweft-bench: weft_pool_trace_start(%s): %s\n", trace, strerror(trc));
    double cpu0 = cpu_now();
    double t0 = wb_now();
    rc = W->w_run(r);
    double t1 = wb_now();
    if (trc == 0 && (trc = weft_pool_trace_stop(r->r_pool)) != 0) {
        fprintf(stderr, "\nweft-bench: weft_pool_trace_stop(%s): %s\n", trace, strerror(trc));
        errors_g++;
    }
    double cpu1 = is_parallel(r->r_kind) ? settle() : cpu_now();
    if (r->r_pool != NULL) /* exact now: the pool is idle */
        pool_counts(r->r_pool, r->r_workers, &c1);
    if (rc != 0)
        return rc;
    if (W->w_finish != NULL && (rc = W->w_finish(r)) != 0)
        return rc;
    *secs = t1 - t0;
    *cpu = cpu1 - cpu0;
    *steals = r->r_pool != NULL ? c1.c_steals - c0.c_steals : 0;
    *parks = r->r_pool != NULL ? c1.c_parks - c0.c_parks : 0;
    *util = r->r_pool != NULL && c1.c_all_ns > c0.c_all_ns
                ? (c1.c_run_ns - c0.c_run_ns) / (c1.c_all_ns - c0.c_all_ns)
                : NAN;
    return 0;
}

/* --trace: DIR/workload-case-variant-wW-rN.json, the case label's odd
 * characters replaced. */
static void trace_path(const wb_opts *o, const wb_workload *W, const char *label,
                       const char *variant, unsigned w, int rep, char *buf, size_t len)
{
    char lab[64];
    snprintf(lab, sizeof lab, "%s", label);
    for (char *q = lab; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')
              || *q == '.' || *q == '-' || *q == '='))
            *q = '_';
    snprintf(buf, len, "%s/%s-%s-%s-w%u-r%d.json", o->o_trace, W->w_name, lab, variant, w, rep);
}

static bool variant_available(wb_kind k)
{
    switch (k) {
    case WB_OMP:
        return WB_HAVE_OMP;
    case WB_TBB:
        return WB_HAVE_TBB;
    default:
        return true;
    }
}

static bool name_in_list(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p != '\0';) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && strncmp(p, name, n) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

/* The variants of W that run (index 0, the reference, always does): those
 * in `only` (a comma list; empty: all) that are built and not skipped. */
static size_t pick_variants(const wb_workload *W, const wb_opts *o, const char *only,
                            size_t *idx)
{
    size_t n = 0;
    for (size_t v = 0; v < W->w_nvariants && n < MAX_VARIANTS; v++) {
        const wb_variant *va = &W->w_variants[v];
        if (v > 0) {
            if (!variant_available(va->v_kind))
                continue;
            if (va->v_kind == WB_OMP && o->o_no_omp)
                continue;
            if (va->v_kind == WB_TBB && o->o_no_tbb)
                continue;
            if (only[0] != '\0' && !name_in_list(va->v_name, only))
                continue;
        }
        idx[n++] = v;
    }
    return n;
}

typedef struct {
    const wb_workload *c_w;
    void *c_state;
    const char *c_label;
    uint64_t c_tasks;
    bool c_have_ref;
    uint64_t c_ref_answer;
    double c_t1[MAX_VARIANTS]; /* per picked variant: median at 1 worker */
    double c_ref1;
} wb_case;

static void progress(const wb_opts *o, const wb_case *c, unsigned w, const char *what)
{
    if (o->o_quiet || !isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\r\033[K[%s %s w=%u] %s", c->c_w->w_name, c->c_label, w, what);
    fflush(stderr);
}

/* Run all picked variants for w workers, reps times interleaved; append the
 * rows. Returns 0 or an errno (wrong answers: EDOM). */
static int run_block(const wb_opts *o, wb_case *c, const size_t *vidx, size_t nv, unsigned w)
{
    const wb_workload *W = c->c_w;
    int reps = o->o_reps;
    double times[MAX_VARIANTS][reps], cpus[MAX_VARIANTS][reps], steals[MAX_VARIANTS][reps],
        parks[MAX_VARIANTS][reps], util[MAX_VARIANTS][reps];
    weft_pool *pools[2] = {NULL, NULL}; /* stealing, shared */
    wb_tbb *tbb = NULL;
    int rc = 0;

    for (size_t i = 0; i < nv && rc == 0; i++) {
        wb_kind k = W->w_variants[vidx[i]].v_kind;
        if (!is_weft_pool(k) || pools[k == WB_SHARED] != NULL)
            continue;
        weft_pool_options po = {.workers = w,
                                .scheduler =
                                    k == WB_SHARED ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING,
                                .seed = wb_env_g.e_seed,
                                .pin_workers = o->o_pin};
        rc = weft_pool_create(&pools[k == WB_SHARED], &po);
        if (rc != 0)
            fprintf(stderr, "weft-bench: weft_pool_create(%u workers): %s\n", w, strerror(rc));
    }
#if WB_HAVE_TBB
    for (size_t i = 0; i < nv && rc == 0; i++) {
        if (W->w_variants[vidx[i]].v_kind != WB_TBB || tbb != NULL)
            continue;
        rc = wb_tbb_create(w, &tbb);
        if (rc != 0)
            fprintf(stderr, "weft-bench: oneTBB arena (%u workers): %s\n", w, strerror(rc));
    }
#endif

    for (int rep = -o->o_warmup; rep < reps && rc == 0; rep++) {
        char what[64];
        if (rep < 0)
            snprintf(what, sizeof what, "warm-up");
        else
            snprintf(what, sizeof what, "rep %d/%d", rep + 1, reps);
        progress(o, c, w, what);
        for (size_t i = 0; i < nv && rc == 0; i++) {
            const wb_variant *va = &W->w_variants[vidx[i]];
            wb_run r = {.r_kind = va->v_kind,
                        .r_workers = w,
                        .r_pool = is_weft_pool(va->v_kind) ? pools[va->v_kind == WB_SHARED]
                                                           : NULL,
                        .r_tbb = va->v_kind == WB_TBB ? tbb : NULL,
                        .r_state = c->c_state};
            double t = 0, cp = 0, s = 0, p = 0, u = NAN;
            char tp[4096];
            if (o->o_trace != NULL && rep >= 0)
                trace_path(o, W, c->c_label, va->v_name, w, rep + 1, tp, sizeof tp);
            rc = run_one(W, &r, o->o_trace != NULL && rep >= 0 ? tp : NULL, &t, &cp, &s, &p, &u);
            if (rc != 0) {
                fprintf(stderr, "\nweft-bench: %s %s w=%u %s: error: %s\n", W->w_name,
                        c->c_label, w, va->v_name, strerror(rc));
                break;
            }
            if (!c->c_have_ref) { /* vidx[0] is the reference and runs first */
                c->c_have_ref = true;
                c->c_ref_answer = r.r_answer;
            } else if (r.r_answer != c->c_ref_answer) {
                fprintf(stderr,
                        "\nweft-bench: %s %s w=%u %s: WRONG ANSWER %llu, reference %s says "
                        "%llu\n",
                        W->w_name, c->c_label, w, va->v_name, (unsigned long long)r.r_answer,
                        W->w_variants[0].v_name, (unsigned long long)c->c_ref_answer);
                rc = EDOM;
                break;
            }
            if (rep >= 0) {
                times[i][rep] = t;
                cpus[i][rep] = cp;
                steals[i][rep] = s;
                parks[i][rep] = p;
                util[i][rep] = u;
            }
        }
    }
    progress(o, c, w, "");
    if (!o->o_quiet && isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K");

    for (int i = 0; i < 2; i++) {
        int rd = weft_pool_destroy(pools[i]);
        if (rd != 0 && rc == 0)
            rc = rd;
    }
#if WB_HAVE_TBB
    wb_tbb_destroy(tbb);
#endif
    if (rc != 0)
        return rc;

    /* Rows: medians first, then the cross-variant ratios. */
    double med[MAX_VARIANTS];
    size_t first = nrows_g; /* an index: row_new may move the array */
    long rss = peak_rss_kb();
    for (size_t i = 0; i < nv; i++) {
        const wb_variant *va = &W->w_variants[vidx[i]];
        wb_row *r = row_new();
        r->rw_w = W;
        snprintf(r->rw_case, sizeof r->rw_case, "%s", c->c_label);
        r->rw_variant = va->v_name;
        r->rw_kind = va->v_kind;
        r->rw_workers = w;
        r->rw_reps = reps;
        summarize(times[i], reps, &r->rw_med, &r->rw_min, &r->rw_max);
        {
            double lo, hi;
            summarize(cpus[i], reps, &r->rw_cpu, &lo, &hi);
        }
        med[i] = r->rw_med;
        r->rw_tasks = c->c_tasks;
        r->rw_answer = c->c_ref_answer;
        r->rw_rss_kb = rss;
        r->rw_shared_over = r->rw_omp_over = r->rw_tbb_over = NAN;
        if (is_weft_pool(va->v_kind)) {
            double lo, hi;
            summarize(steals[i], reps, &r->rw_steals, &lo, &hi);
            summarize(parks[i], reps, &r->rw_parks, &lo, &hi);
            summarize(util[i], reps, &r->rw_util, &lo, &hi);
        } else {
            r->rw_steals = r->rw_parks = r->rw_util = NAN;
        }
        if (w == 1)
            c->c_t1[i] = r->rw_med;
        if (i == 0 && w == 1)
            c->c_ref1 = r->rw_med;
    }
    double t_shared = NAN, t_omp = NAN, t_tbb = NAN;
    for (size_t i = 0; i < nv; i++) {
        wb_kind k = W->w_variants[vidx[i]].v_kind;
        if (k == WB_SHARED)
            t_shared = med[i];
        if (k == WB_OMP)
            t_omp = med[i];
        if (k == WB_TBB)
            t_tbb = med[i];
    }
    for (size_t i = 0; i < nv; i++) {
        wb_row *r = &rows_g[first + i];
        r->rw_ref = med[0];
        r->rw_ref_cpu = rows_g[first].rw_cpu;
        r->rw_t1 = c->c_t1[i];
        r->rw_ref1 = c->c_ref1;
        if (r->rw_kind == WB_STEALING) {
            r->rw_shared_over = t_shared / r->rw_med;
            r->rw_omp_over = t_omp / r->rw_med;
            r->rw_tbb_over = t_tbb / r->rw_med;
        }
        print_row(r);
    }
    return 0;
}

/* Run W's cases (only case `icase` if it is >= 0) with the variants in
 * `only` (NULL: --variants). */
static int run_workload(const wb_opts *o, const wb_workload *W, long size, int icase,
                        const char *only)
{
    size_t vidx[MAX_VARIANTS];
    size_t nv = pick_variants(W, o, only != NULL ? only : o->o_variants, vidx);
    int rc = 0;
    for (size_t ic = 0; ic < W->w_ncases; ic++) {
        if (icase >= 0 && ic != (size_t)icase)
            continue;
        char label[64];
        wb_case c;
        memset(&c, 0, sizeof c);
        c.c_w = W;
        c.c_label = label;
        c.c_ref1 = NAN;
        for (size_t i = 0; i < MAX_VARIANTS; i++)
            c.c_t1[i] = NAN;
        label[0] = '\0';
        progress(o, &c, 0, "setup");
        int r = W->w_setup(ic, size, &c.c_state, label, sizeof label, &c.c_tasks);
        if (r != 0) {
            fprintf(stderr, "weft-bench: %s size %ld case %zu: setup: %s\n", W->w_name, size,
                    ic, strerror(r));
            errors_g++;
            rc = r;
            continue;
        }
        if (W->w_flags & WB_F_OWN_THREADS) {
            r = run_block(o, &c, vidx, nv, W->w_case_threads(c.c_state));
        } else {
            for (size_t iw = 0; iw < o->o_nworkers && r == 0; iw++)
                r = run_block(o, &c, vidx, nv, o->o_workers[iw]);
        }
        if (r != 0) {
            errors_g++;
            rc = r;
        }
        W->w_teardown(c.c_state);
    }
    return rc;
}

/* --fib-table: fib on 1 and 2 workers; serial and weft (both cases) at n,
 * serial, oneTBB and OpenMP (the void* case) at m. */
static void fib_table_plan(wb_opts *o)
{
    long dflt = o->o_mode == MODE_SMOKE   ? wb_fib.w_smoke_size
                : o->o_mode == MODE_QUICK ? wb_fib.w_quick_size
                                          : 40;
    long n = o->o_fib_table[0] > 0 ? o->o_fib_table[0] : dflt;
    long m = o->o_fib_table[1] > 0 ? o->o_fib_table[1]
             : o->o_fib_table[0] > 0 || o->o_mode != MODE_DEFAULT ? n
                                                                  : 35;
    o->o_nworkers = 2;
    o->o_workers[0] = 1;
    o->o_workers[1] = 2;
    o->o_nsel = 0;
    for (int ic = 0; ic < 2; ic++) {
        o->o_sel[o->o_nsel] = &wb_fib;
        o->o_size[o->o_nsel] = n;
        o->o_case[o->o_nsel] = ic;
        o->o_selvar[o->o_nsel++] = ic == 1 && m == n ? "stealing,tbb,omp" : "stealing";
    }
    if (m != n) {
        o->o_sel[o->o_nsel] = &wb_fib;
        o->o_size[o->o_nsel] = m;
        o->o_case[o->o_nsel] = 1;
        o->o_selvar[o->o_nsel++] = "tbb,omp";
    }
}

/* ---- calibration ---- */

static void calibrate_spin(void)
{
    /* best of 5 runs of ~2 ms; the spin does no memory traffic */
    const uint64_t iters = 1u << 20;
    double best = INFINITY;
    volatile uint64_t sink; /* keeps the result alive; not synchronisation */
    for (int i = 0; i < 5; i++) {
        double t0 = wb_now();
        sink = wb_spin(iters, (uint64_t)i);
        double t = wb_now() - t0;
        if (t < best)
            best = t;
    }
    (void)sink;
    wb_env_g.e_spin_iters_per_us = (double)iters / (best * 1e6);
}

/* ---- command line ---- */

/* Where the recursive workloads come from (--list, --help). */
static const char sources_text[] =
    "Sources: BOTS = Duran et al., \"Barcelona OpenMP Tasks Suite: a set of\n"
    "benchmarks targeting the exploitation of task parallelism in OpenMP\", ICPP\n"
    "2009; Lace = van Dijk & van de Pol, \"Lace: non-blocking split deque for\n"
    "work-stealing\", Euro-Par 2014 workshops; UTS = Olivier et al.,\n"
    "\"UTS: an Unbalanced Tree Search benchmark\", LCPC 2006. Runtimes are compared\n"
    "on fib, cilksort (here: sort), dfs, knapsack, matmul, pi, queens, strassen and\n"
    "uts in those suites.\n";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: weft-bench [OPTIONS] [WORKLOAD[=SIZE]...]\n"
            "\n"
            "Runs each workload's variants (serial C, weft STEALING, weft SHARED, OpenMP\n"
            "tasks, oneTBB, ...) interleaved in one process, for each worker count; prints the\n"
            "median, min and max time of --reps runs and derived figures. Every answer\n"
            "is checked against the serial one: a mismatch is an error (exit status 1).\n"
            "\n"
            "Options:\n"
            "  -w, --workers LIST  worker counts, e.g. 1,2,4 (default: 1, 2, 4, ... up to\n"
            "                      the CPU count, and the CPU count)\n"
            "  -r, --reps N        timed runs per variant and worker count (default 5)\n"
            "      --warmup N      untimed runs before them (default 1)\n"
            "      --variants LIST only these variants, e.g. stealing,omp (the reference\n"
            "                      - serial, or mutex for queue - always runs)\n"
            "      --no-omp        skip the OpenMP variants (TSan builds: libgomp is not\n"
            "                      instrumented)\n"
            "      --no-tbb        skip the oneTBB variants (TSan builds leave them out).\n"
            "                      oneTBB runs in task_arena(s) of w slots under a\n"
            "                      global_control of w + 1 threads: recursive workloads\n"
            "                      use task_group (the calling thread takes one slot),\n"
            "                      fanout/skewed task_arena::enqueue from the outside\n"
            "                      thread, pfor parallel_for\n"
            "      --pin           pin weft workers to CPUs\n"
            "      --seed N        inputs (uts tree, skewed costs, sort data) and victim\n"
            "                      choice (default 42)\n"
            "      --json FILE     write all results as JSON (for bench/plot)\n"
            "      --csv FILE      write all results as CSV\n"
            "      --summary FILE  write the summary table (Markdown) to FILE too\n"
            "      --trace DIR     write a weft trace of every timed weft run into DIR\n"
            "                      (Perfetto / chrome://tracing; WEFT_TRACE_DAG=1 in the\n"
            "                      environment adds the task graph for tools/weft-prof)\n"
            "      --quick         small sizes, 3 reps, no warm-up: a few seconds in all\n"
            "      --smoke         tiny sizes, 1 rep, no warm-up: checks answers (CTest)\n"
            "      --fib-table[=N[,M]]\n"
            "                      print the fib comparison: T1/Tserial and T2/Tserial\n"
            "                      for weft typed and untyped (STEALING) at fib(N), oneTBB\n"
            "                      and OpenMP at fib(M), each against the plain -O2 serial\n"
            "                      fib of its n; workers 1,2 (-w and --variants do not\n"
            "                      apply); runs fib alone (default N=40, M=35;\n"
            "                      --quick/--smoke: their fib size for both)\n"
            "  -q, --quiet         no progress line on stderr\n"
            "      --list          list the workloads and their sizes\n"
            "  -h, --help          this text\n"
            "\n"
            "Workloads (default: all, in this order; sort is also named cilksort):\n");
    for (size_t i = 0; i < N_WORKLOADS; i++)
        fprintf(f, "  %-8s %s\n", all_workloads[i]->w_name, all_workloads[i]->w_help);
    fprintf(f, "\n%s", sources_text);
    fprintf(f,
            "\n"
            "Columns: median/min/max in ms; T1/Ts = one-worker time over serial time\n"
            "(overhead); T1/Tp = speed-up over the same variant on one worker; Ts/Tp =\n"
            "speed-up over the reference (queue: mutex time over weft time); ns/task =\n"
            "(Tp*p - Ts)/tasks, the CPU time a task costs beyond its work if all p\n"
            "workers are busy throughout (queue: wall ns per item); wall/task = Tp/tasks\n"
            "in ns (serial: the work of a task); cpu/task = (CPU - CPUserial)/tasks in\n"
            "ns, the process CPU time measured per task beyond the work, until the\n"
            "workers are idle again; sh/st, omp/st and tbb/st = time of SHARED, of\n"
            "OpenMP and of oneTBB over time of STEALING (>1: stealing is faster);\n"
            "steals, parks = medians per run from weft_pool_stats; rss_MB = peak RSS\n"
            "of the process so far; util%% = the workers' time running tasks over all\n"
            "their time (the rest: searching, parked, blocked), median per run.\n"
            "\n"
            "After the table, a summary (Markdown; --summary FILE writes it too): per\n"
            "case, the fastest variant at the largest worker count, its speed-up over\n"
            "the reference, the runner-up, OpenMP's and oneTBB's time over STEALING's,\n"
            "and notes on cases too small for parallelism to pay (serial under 5 ms:\n"
            "--quick and --smoke sizes), variants slower than serial, and noisy runs;\n"
            "then the fan-out cost per task (wall and CPU, per variant and grain) and,\n"
            "where fib ran on 1 and 2 workers, the fib table (T1/Tserial, T2/Tserial).\n"
            "\n"
            "After each parallel run the driver waits (untimed, up to 200 ms) until the\n"
            "process is idle: the runtimes' workers spin a while before they sleep\n"
            "(libgomp: GOMP_SPINCOUNT), and that must neither overlap the next variant\n"
            "nor be charged to it. OMP_WAIT_POLICY=passive removes libgomp's spinning\n"
            "(both settings are recorded).\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return EINVAL;
    *out = v;
    return 0;
}

/* parse_long of the current option's argument; says so on stderr if bad. */
static bool opt_long(const char *name, long lo, long hi, long *out)
{
    if (parse_long(optarg, lo, hi, out) == 0)
        return true;
    fprintf(stderr, "weft-bench: bad --%s '%s'\n", name, optarg);
    return false;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

static int parse_workers(const char *s, wb_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    o->o_nworkers = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        long v;
        if (parse_long(t, 1, 4096, &v) != 0 || o->o_nworkers == MAX_WORKER_COUNTS)
            return EINVAL;
        o->o_workers[o->o_nworkers++] = (unsigned)v;
    }
    if (o->o_nworkers == 0)
        return EINVAL;
    /* ascending, so that the 1-worker block (T1) comes first */
    qsort(o->o_workers, o->o_nworkers, sizeof o->o_workers[0], cmp_unsigned);
    return 0;
}

static void default_workers(wb_opts *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    o->o_nworkers = 0;
    for (long w = 1; w <= ncpu && o->o_nworkers < MAX_WORKER_COUNTS - 1; w *= 2)
        o->o_workers[o->o_nworkers++] = (unsigned)w;
    if (o->o_workers[o->o_nworkers - 1] != (unsigned)ncpu)
        o->o_workers[o->o_nworkers++] = (unsigned)(ncpu > 4096 ? 4096 : ncpu);
}

static int parse_workload(const char *arg, wb_opts *o)
{
    char name[64];
    const char *eq = strchr(arg, '=');
    size_t l = eq ? (size_t)(eq - arg) : strlen(arg);
    if (l >= sizeof name || o->o_nsel == sizeof o->o_sel / sizeof o->o_sel[0])
        return EINVAL;
    memcpy(name, arg, l);
    name[l] = '\0';
    long size = -1;
    if (eq != NULL && parse_long(eq + 1, 0, 4000000000L, &size) != 0)
        return EINVAL;
    for (size_t i = 0; i < N_WORKLOADS; i++) {
        const char *alias = all_workloads[i]->w_alias;
        if (strcmp(all_workloads[i]->w_name, name) == 0
            || (alias != NULL && strcmp(alias, name) == 0)) {
            o->o_sel[o->o_nsel] = all_workloads[i];
            o->o_case[o->o_nsel] = -1;
            o->o_selvar[o->o_nsel] = NULL;
            o->o_size[o->o_nsel++] = size;
            return 0;
        }
    }
    return ENOENT;
}

int main(int argc, char **argv)
{
    enum { OPT_WARMUP = 256, OPT_VARIANTS, OPT_NO_OMP, OPT_NO_TBB, OPT_PIN, OPT_SEED, OPT_JSON, OPT_CSV,
           OPT_SUMMARY, OPT_QUICK, OPT_SMOKE, OPT_LIST, OPT_FIB_TABLE, OPT_TRACE };
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"reps", required_argument, NULL, 'r'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"variants", required_argument, NULL, OPT_VARIANTS},
        {"no-omp", no_argument, NULL, OPT_NO_OMP},
        {"no-tbb", no_argument, NULL, OPT_NO_TBB},
        {"pin", no_argument, NULL, OPT_PIN},
        {"seed", required_argument, NULL, OPT_SEED},
        {"json", required_argument, NULL, OPT_JSON},
        {"csv", required_argument, NULL, OPT_CSV},
        {"summary", required_argument, NULL, OPT_SUMMARY},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"quick", no_argument, NULL, OPT_QUICK},
        {"smoke", no_argument, NULL, OPT_SMOKE},
        {"quiet", no_argument, NULL, 'q'},
        {"list", no_argument, NULL, OPT_LIST},
        {"fib-table", optional_argument, NULL, OPT_FIB_TABLE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    wb_opts o;
    memset(&o, 0, sizeof o);
    o.o_reps = -1;
    o.o_warmup = -1;
    wb_env_g.e_seed = 42;
    default_workers(&o);
    long v;
    int ch;
    while ((ch = getopt_long(argc, argv, "w:r:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'w':
            if (parse_workers(optarg, &o) != 0) {
                fprintf(stderr, "weft-bench: bad --workers '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r':
            if (!opt_long("reps", 1, 1000, &v))
                return 2;
            o.o_reps = (int)v;
            break;
        case OPT_WARMUP:
            if (!opt_long("warmup", 0, 100, &v))
                return 2;
            o.o_warmup = (int)v;
            break;
        case OPT_VARIANTS:
            snprintf(o.o_variants, sizeof o.o_variants, "%s", optarg);
            break;
        case OPT_NO_OMP:
            o.o_no_omp = true;
            break;
        case OPT_NO_TBB:
            o.o_no_tbb = true;
            break;
        case OPT_PIN:
            o.o_pin = true;
            break;
        case OPT_SEED:
            if (!opt_long("seed", 0, LONG_MAX, &v))
                return 2;
            wb_env_g.e_seed = (uint64_t)v;
            break;
        case OPT_JSON:
            o.o_json = optarg;
            break;
        case OPT_CSV:
            o.o_csv = optarg;
            break;
        case OPT_SUMMARY:
            o.o_summary = optarg;
            break;
        case OPT_TRACE:
            o.o_trace = optarg;
            break;
        case OPT_QUICK:
            o.o_mode = MODE_QUICK;
            break;
        case OPT_SMOKE:
            o.o_mode = MODE_SMOKE;
            break;
        case OPT_FIB_TABLE: {
            o.o_fib_table[0] = o.o_fib_table[1] = 0;
            long n = 0, m = 0;
            char tail;
            int got = optarg == NULL ? 0 : sscanf(optarg, "%ld,%ld%c", &n, &m, &tail);
            if (optarg != NULL && (got < 1 || got > 2 || n < 2 || n > 46 || (got == 2 && (m < 2 || m > 46)))) {
                fprintf(stderr, "weft-bench: bad --fib-table '%s' (N or N,M; 2..46)\n", optarg);
                return 2;
            }
            o.o_fib_table[0] = optarg == NULL ? -1 : n; /* -1: the mode's sizes */
            o.o_fib_table[1] = got == 2 ? m : 0;
            break;
        }
        case 'q':
            o.o_quiet = true;
            break;
        case OPT_LIST:
            for (size_t i = 0; i < N_WORKLOADS; i++) {
                const wb_workload *W = all_workloads[i];
                char alias[32] = "";
                if (W->w_alias != NULL)
                    snprintf(alias, sizeof alias, " (or %s)", W->w_alias);
                printf("%-8s%s default %ld, --quick %ld, --smoke %ld: %s\n", W->w_name, alias,
                       W->w_default_size, W->w_quick_size, W->w_smoke_size, W->w_help);
            }
            printf("\n%s", sources_text);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        int r = parse_workload(argv[i], &o);
        if (r != 0) {
            fprintf(stderr, "weft-bench: unknown workload or bad size '%s' (see --list)\n",
                    argv[i]);
            return 2;
        }
    }
    if (o.o_fib_table[0] != 0 && o.o_nsel > 0) {
        fprintf(stderr, "weft-bench: --fib-table runs fib alone: name no workload\n");
        return 2;
    }
    if (o.o_fib_table[0] != 0) {
        fib_table_plan(&o);
    } else if (o.o_nsel == 0) {
        for (size_t i = 0; i < N_WORKLOADS; i++) {
            o.o_sel[i] = all_workloads[i];
            o.o_size[i] = -1;
            o.o_case[i] = -1;
            o.o_selvar[i] = NULL;
        }
        o.o_nsel = N_WORKLOADS;
    }
    if (o.o_trace != NULL && mkdir(o.o_trace, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "weft-bench: --trace %s: %s\n", o.o_trace, strerror(errno));
        return 2;
    }
    if (o.o_reps < 0)
        o.o_reps = o.o_mode == MODE_SMOKE ? 1 : o.o_mode == MODE_QUICK ? 3 : 5;
    if (o.o_warmup < 0)
        o.o_warmup = o.o_mode == MODE_DEFAULT ? 1 : 0;

#if WB_HAVE_OMP
    omp_set_dynamic(0);
#endif
    calibrate_spin();
    printf("# weft-bench %s: %ld CPUs, %s mode, %d reps (median [min max]), %d warm-up, "
           "seed %llu, spin %.0f iters/us%s%s\n",
           weft_version(), sysconf(_SC_NPROCESSORS_ONLN), mode_name(o.o_mode), o.o_reps,
           o.o_warmup, (unsigned long long)wb_env_g.e_seed, wb_env_g.e_spin_iters_per_us,
           WB_HAVE_OMP ? (o.o_no_omp ? "; OpenMP skipped (--no-omp)" : "")
                       : "; built without OpenMP",
           WB_HAVE_TBB ? (o.o_no_tbb ? "; oneTBB skipped (--no-tbb)" : "")
                       : "; built without oneTBB");
#if WB_HAVE_TBB
    if (!o.o_no_tbb)
        printf("# oneTBB %s\n", wb_tbb_version());
#endif
    if (getenv("OMP_WAIT_POLICY") != NULL || getenv("GOMP_SPINCOUNT") != NULL)
        printf("# OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n",
               getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "",
               getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "");
    print_header();

    int status = 0;
    for (size_t i = 0; i < o.o_nsel; i++) {
        const wb_workload *W = o.o_sel[i];
        long size = o.o_size[i] >= 0              ? o.o_size[i]
                    : o.o_mode == MODE_SMOKE ? W->w_smoke_size
                    : o.o_mode == MODE_QUICK ? W->w_quick_size
                                             : W->w_default_size;
        if (run_workload(&o, W, size, o.o_case[i], o.o_selvar[i]) != 0)
            status = 1;
    }
    if (nrows_g > 0) {
        printf("\n# Summary: the fastest variant of each case at its largest worker count\n\n");
        print_summary(stdout, &o);
    }
    if (o.o_summary != NULL) {
        FILE *f = fopen(o.o_summary, "w");
        if (f != NULL)
            print_summary(f, &o);
        if (f == NULL || fclose(f) != 0) {
            fprintf(stderr, "weft-bench: %s: %s\n", o.o_summary, strerror(errno));
            status = 1;
        }
    }
    if (o.o_json != NULL) {
        int r = write_json(o.o_json, &o, argc, argv);
        if (r != 0) {
            fprintf(stderr, "weft-bench: %s: %s\n", o.o_json, strerror(r));
            status = 1;
        }
    }
    if (o.o_csv != NULL) {
        int r = write_csv(o.o_csv);
        if (r != 0) {
            fprintf(stderr, "weft-bench: %s: %s\n", o.o_csv, strerror(r));
            status = 1;
        }
    }
    if (errors_g != 0)
        fprintf(stderr, "weft-bench: %d error(s)\n", errors_g);
    free(rows_g);
    return status;
}
