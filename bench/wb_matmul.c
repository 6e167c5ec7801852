/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_matmul.c - weft-bench workloads "matmul" and "strassen": C = A B
 * for n x n matrices of doubles, n a power of two, by divide and conquer.
 *
 *   matmul:   the recursive block multiply of Cilk's and Lace's matmul (van
 *             Dijk & van de Pol, "Lace: non-blocking split deque for
 *             work-stealing", Euro-Par 2014 workshops): each of the four
 *             quadrants of C is the sum of two products of half size, so a
 *             node runs two rounds of four products (a task each: the four
 *             write disjoint quadrants), the second adding to the first;
 *             MM_BASE x MM_BASE blocks are multiplied by a plain loop. No
 *             temporaries.
 *   strassen: Strassen's seven products (Strassen, "Gaussian elimination is
 *             not optimal", Numer. Math. 1969), as BOTS's strassen (Duran
 *             et al., "Barcelona OpenMP Tasks Suite", ICPP 2009, after
 *             Cilk's): a node forms the operand sums in temporaries, runs
 *             the seven half-size products as tasks and combines them into
 *             C; below ST_CUTOFF it multiplies plainly (matmul's serial
 *             recursion).
 *
 * Entries are small integers (-4..4), so every product and sum is exact:
 * every variant, in any schedule, gives bit-identical C, and so does either
 * algorithm. The answer is a hash of C; each run is also checked by
 * Freivalds' test (C x = A (B x) for a 0/1 vector x, exact here).
 * A parent spawns all its products but one, runs that one itself, then
 * syncs. Two cases, as fib: "typed" (weft/fj.h; a block descriptor passed
 * by value) and "void*" (weft_spawn/weft_sync); OpenMP and oneTBB run the
 * same trees in both.
 */
#define _GNU_SOURCE /* clock_gettime in wb.h */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/fj.h>

#include "wb.h"

#define MM_BASE 32    /* matmul leaf block: a compile-time trip count vectorizes */
#define ST_CUTOFF 64  /* strassen: plain multiply at and below this size */
#define MM_MAX 8192

typedef struct {
    size_t ms_n;
    bool ms_typed; /* case 0: weft/fj.h; case 1: weft_spawn/weft_sync */
    double *ms_a, *ms_b, *ms_c;
} mm_state;

/* One multiply: C (+)= A B, all n x n, with their row strides. */
typedef struct {
    double *mb_c;
    const double *mb_a, *mb_b;
    size_t mb_ldc, mb_lda, mb_ldb;
    size_t mb_n;
    bool mb_add; /* C += A B, else C = A B */
} mm_blk;

/* ---- matmul ---- */

/* C (+)= A B for MM_BASE x MM_BASE blocks, in i-k-j order. */
static void mm_kernel(const mm_blk *x)
{
    const size_t lda = x->mb_lda, ldb = x->mb_ldb, ldc = x->mb_ldc;
    for (size_t i = 0; i < MM_BASE; i++) {
        double *restrict c = x->mb_c + i * ldc;
        if (!x->mb_add)
            for (size_t j = 0; j < MM_BASE; j++)
                c[j] = 0.0;
        for (size_t k = 0; k < MM_BASE; k++) {
            double a = x->mb_a[i * lda + k];
            const double *restrict b = x->mb_b + k * ldb;
            for (size_t j = 0; j < MM_BASE; j++)
                c[j] += a * b[j];
        }
    }
}

/* Round k (0 or 1) of node x: kid[q] is C_ij (+)= A_ik B_kj for the
 * quadrant q = 2i + j; round 1 adds to what round 0 wrote. */
static void mm_round(const mm_blk *x, int k, mm_blk *kid)
{
    size_t h = x->mb_n / 2;
    for (int q = 0; q < 4; q++) {
        size_t i = (size_t)(q >> 1), j = (size_t)(q & 1), kk = (size_t)k;
        kid[q] = (mm_blk){x->mb_c + i * h * x->mb_ldc + j * h,
                          x->mb_a + i * h * x->mb_lda + kk * h,
                          x->mb_b + kk * h * x->mb_ldb + j * h,
                          x->mb_ldc, x->mb_lda, x->mb_ldb, h,
                          k == 0 ? x->mb_add : true};
    }
}

static void mm_serial(const mm_blk *x)
{
    if (x->mb_n <= MM_BASE) {
        mm_kernel(x);
        return;
    }
    mm_blk kid[4];
    for (int k = 0; k < 2; k++) {
        mm_round(x, k, kid);
        for (int q = 0; q < 4; q++)
            mm_serial(&kid[q]);
    }
}

static int mm_task(void *p)
{
    const mm_blk *x = p;
    if (x->mb_n <= MM_BASE) {
        mm_kernel(x);
        return 0;
    }
    mm_blk kid[4];
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        mm_round(x, k, kid);
        weft_task t[3];
        int spawned = 0;
        for (; spawned < 3; spawned++)
            if ((rc = weft_spawn(&t[spawned], mm_task, &kid[spawned])) != 0)
                break;
        if (rc == 0)
            rc = mm_task(&kid[3]);
        for (int q = spawned - 1; q >= 0; q--) { /* LIFO */
            int r = weft_sync(&t[q]);
            if (r != 0 && rc == 0)
                rc = r;
        }
    }
    return rc;
}

WEFT_VOID_TASK_1(mm_typed, mm_blk, x)
{
    if (x.mb_n <= MM_BASE) {
        mm_kernel(&x);
        return;
    }
    mm_blk kid[4];
    WEFT_FRAME(mm_typed) f[3];
    for (int k = 0; k < 2; k++) {
        mm_round(&x, k, kid);
        for (int q = 0; q < 3; q++)
            WEFT_SPAWN(mm_typed, &f[q], kid[q]);
        WEFT_CALL(mm_typed, kid[3]);
        for (int q = 2; q >= 0; q--)
            WEFT_SYNC(mm_typed, &f[q]);
    }
}

static int mm_typed_root(void *p)
{
    mm_typed(*(const mm_blk *)p);
    return 0;
}

#if WB_HAVE_TBB
static int mm_tbb(void *p)
{
    const mm_blk *x = p;
    if (x->mb_n <= MM_BASE) {
        mm_kernel(x);
        return 0;
    }
    mm_blk kid[4];
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        mm_round(x, k, kid);
        rc = wb_tbb_forkn(mm_tbb, kid, sizeof kid[0], 3, mm_tbb, &kid[3]);
    }
    return rc;
}
#endif

#if WB_HAVE_OMP
static void mm_omp(const mm_blk *x)
{
    if (x->mb_n <= MM_BASE) {
        mm_kernel(x);
        return;
    }
    mm_blk kid[4];
    for (int k = 0; k < 2; k++) {
        mm_round(x, k, kid);
        for (int q = 0; q < 3; q++) {
#pragma omp task firstprivate(q) shared(kid)
            mm_omp(&kid[q]);
        }
        mm_omp(&kid[3]);
#pragma omp taskwait
    }
}

static int mm_omp_root(void *p)
{
    mm_omp(p);
    return 0;
}
#endif

/* ---- strassen ---- */

/* D = X + sign * Y, h x h. */
static void mat_addsub(double *d, size_t ldd, const double *x, size_t ldx, const double *y,
                       size_t ldy, size_t h, double sign)
{
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < h; j++)
            d[i * ldd + j] = x[i * ldx + j] + sign * y[i * ldy + j];
}

/* The quadrant (i, j) of an n x n matrix with stride ld. */
#define QUAD(m, ld, h, i, j) ((m) + (i) * (h) * (ld) + (j) * (h))

/* Node x's seven products: allocate *mem (M1..M7, then the operand sums),
 * form the sums, and describe product i as prod[i] (M_i = S_i T_i, all
 * h x h). Returns 0 or ENOMEM. */
static int st_split(const mm_blk *x, double **mem, mm_blk *prod)
{
    size_t h = x->mb_n / 2, hh = h * h;
    double *m = malloc(17 * hh * sizeof *m);
    if (m == NULL)
        return ENOMEM;
    *mem = m;
    const double *A = x->mb_a, *B = x->mb_b;
    size_t la = x->mb_lda, lb = x->mb_ldb;
    const double *a11 = QUAD(A, la, h, 0, 0), *a12 = QUAD(A, la, h, 0, 1);
    const double *a21 = QUAD(A, la, h, 1, 0), *a22 = QUAD(A, la, h, 1, 1);
    const double *b11 = QUAD(B, lb, h, 0, 0), *b12 = QUAD(B, lb, h, 0, 1);
    const double *b21 = QUAD(B, lb, h, 1, 0), *b22 = QUAD(B, lb, h, 1, 1);
    double *s = m + 7 * hh; /* 10 sums: S1 T1 S2 T3 T4 S5 S6 T6 S7 T7 */
    double *s1 = s, *t1 = s + hh, *s2 = s + 2 * hh, *t3 = s + 3 * hh, *t4 = s + 4 * hh;
    double *s5 = s + 5 * hh, *s6 = s + 6 * hh, *t6 = s + 7 * hh, *s7 = s + 8 * hh;
    double *t7 = s + 9 * hh;
    mat_addsub(s1, h, a11, la, a22, la, h, 1.0);  /* M1 = (A11 + A22)(B11 + B22) */
    mat_addsub(t1, h, b11, lb, b22, lb, h, 1.0);
    mat_addsub(s2, h, a21, la, a22, la, h, 1.0);  /* M2 = (A21 + A22) B11 */
    mat_addsub(t3, h, b12, lb, b22, lb, h, -1.0); /* M3 = A11 (B12 - B22) */
    mat_addsub(t4, h, b21, lb, b11, lb, h, -1.0); /* M4 = A22 (B21 - B11) */
    mat_addsub(s5, h, a11, la, a12, la, h, 1.0);  /* M5 = (A11 + A12) B22 */
    mat_addsub(s6, h, a21, la, a11, la, h, -1.0); /* M6 = (A21 - A11)(B11 + B12) */
    mat_addsub(t6, h, b11, lb, b12, lb, h, 1.0);
    mat_addsub(s7, h, a12, la, a22, la, h, -1.0); /* M7 = (A12 - A22)(B21 + B22) */
    mat_addsub(t7, h, b21, lb, b22, lb, h, 1.0);
    /* M_i = S_i T_i: a temporary operand has stride h, a quadrant its matrix's. */
    const struct {
        const double *l, *r;
        size_t ll, lr;
    } ops[7] = {{s1, t1, h, h},   {s2, b11, h, lb}, {a11, t3, la, h}, {a22, t4, la, h},
                {s5, b22, h, lb}, {s6, t6, h, h},   {s7, t7, h, h}};
    for (int i = 0; i < 7; i++)
        prod[i] = (mm_blk){m + (size_t)i * hh, ops[i].l, ops[i].r, h, ops[i].ll, ops[i].lr, h,
                           false};
    return 0;
}

/* C from the seven products in mem, then free mem. */
static void st_combine(const mm_blk *x, double *mem)
{
    size_t h = x->mb_n / 2, hh = h * h, lc = x->mb_ldc;
    const double *m1 = mem, *m2 = mem + hh, *m3 = mem + 2 * hh, *m4 = mem + 3 * hh;
    const double *m5 = mem + 4 * hh, *m6 = mem + 5 * hh, *m7 = mem + 6 * hh;
    double *c11 = QUAD(x->mb_c, lc, h, 0, 0), *c12 = QUAD(x->mb_c, lc, h, 0, 1);
    double *c21 = QUAD(x->mb_c, lc, h, 1, 0), *c22 = QUAD(x->mb_c, lc, h, 1, 1);
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < h; j++) {
            size_t k = i * h + j, o = i * lc + j;
            c11[o] = m1[k] + m4[k] - m5[k] + m7[k];
            c12[o] = m3[k] + m5[k];
            c21[o] = m2[k] + m4[k];
            c22[o] = m1[k] - m2[k] + m3[k] + m6[k];
        }
    free(mem);
}

static int st_serial(const mm_blk *x)
{
    if (x->mb_n <= ST_CUTOFF) {
        mm_serial(x);
        return 0;
    }
    double *mem;
    mm_blk prod[7];
    int rc = st_split(x, &mem, prod);
    for (int i = 0; i < 7 && rc == 0; i++)
        rc = st_serial(&prod[i]);
    if (rc != 0) {
        free(mem);
        return rc;
    }
    st_combine(x, mem);
    return 0;
}

/* The untyped tasks carry their result. */
typedef struct {
    mm_blk sa_x;
    int sa_rc;
} st_arg;

static int st_task(void *p)
{
    st_arg *a = p;
    if (a->sa_x.mb_n <= ST_CUTOFF) {
        mm_serial(&a->sa_x);
        return 0;
    }
    double *mem;
    mm_blk prod[7];
    int rc = st_split(&a->sa_x, &mem, prod);
    if (rc != 0)
        return rc;
    st_arg kid[7];
    weft_task t[6];
    for (int i = 0; i < 7; i++)
        kid[i] = (st_arg){prod[i], 0};
    int spawned = 0;
    for (; spawned < 6; spawned++)
        if ((rc = weft_spawn(&t[spawned], st_task, &kid[spawned])) != 0)
            break;
    if (rc == 0)
        rc = st_task(&kid[6]);
    for (int i = spawned - 1; i >= 0; i--) { /* LIFO */
        int r = weft_sync(&t[i]);
        if (r != 0 && rc == 0)
            rc = r;
    }
    if (rc != 0) {
        free(mem);
        return rc;
    }
    st_combine(&a->sa_x, mem);
    return 0;
}

WEFT_TASK_1(int, st_typed, mm_blk, x)
{
    if (x.mb_n <= ST_CUTOFF) {
        mm_serial(&x);
        return 0;
    }
    double *mem;
    mm_blk prod[7];
    int rc = st_split(&x, &mem, prod);
    if (rc != 0)
        return rc;
    WEFT_FRAME(st_typed) f[6];
    for (int i = 0; i < 6; i++)
        WEFT_SPAWN(st_typed, &f[i], prod[i]);
    rc = WEFT_CALL(st_typed, prod[6]);
    for (int i = 5; i >= 0; i--) {
        int r = WEFT_SYNC(st_typed, &f[i]);
        if (r != 0 && rc == 0)
            rc = r;
    }
    if (rc != 0) {
        free(mem);
        return rc;
    }
    st_combine(&x, mem);
    return 0;
}

static int st_typed_root(void *p)
{
    return st_typed(*(const mm_blk *)p);
}

static int st_root(void *p)
{
    st_arg a = {*(const mm_blk *)p, 0};
    return st_task(&a);
}

#if WB_HAVE_TBB
static int st_tbb(void *p)
{
    const mm_blk *x = p;
    if (x->mb_n <= ST_CUTOFF) {
        mm_serial(x);
        return 0;
    }
    double *mem;
    mm_blk prod[7];
    int rc = st_split(x, &mem, prod);
    if (rc != 0)
        return rc;
    rc = wb_tbb_forkn(st_tbb, prod, sizeof prod[0], 6, st_tbb, &prod[6]);
    if (rc != 0) {
        free(mem);
        return rc;
    }
    st_combine(x, mem);
    return 0;
}
#endif

#if WB_HAVE_OMP
static int st_omp(const mm_blk *x)
{
    if (x->mb_n <= ST_CUTOFF) {
        mm_serial(x);
        return 0;
    }
    double *mem;
    mm_blk prod[7];
    int rc = st_split(x, &mem, prod);
    if (rc != 0)
        return rc;
    int rcs[7];
    for (int i = 0; i < 6; i++) {
#pragma omp task firstprivate(i) shared(prod, rcs)
        rcs[i] = st_omp(&prod[i]);
    }
    rcs[6] = st_omp(&prod[6]);
#pragma omp taskwait
    for (int i = 0; i < 7 && rc == 0; i++)
        rc = rcs[i];
    if (rc != 0) {
        free(mem);
        return rc;
    }
    st_combine(x, mem);
    return 0;
}

static int st_omp_root(void *p)
{
    return st_omp(p);
}
#endif

/* ---- the two workloads ---- */

static void mm_teardown(void *p)
{
    mm_state *s = p;
    if (s != NULL) {
        free(s->ms_a);
        free(s->ms_b);
        free(s->ms_c);
    }
    free(s);
}

static bool is_pow2(long v)
{
    return v > 0 && (v & (v - 1)) == 0;
}

/* Inner nodes of a tree of degree `deg` over n, leaves at <= leaf. */
static uint64_t mm_inner(size_t n, size_t leaf, uint64_t deg)
{
    uint64_t nodes = 0, level = 1;
    for (; n > leaf; n /= 2) {
        nodes += level;
        level *= deg;
    }
    return nodes;
}

static int mm_setup_common(size_t icase, long size, size_t min, void **state)
{
    if (!is_pow2(size) || (size_t)size < min || size > MM_MAX)
        return EINVAL;
    size_t n = (size_t)size;
    mm_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->ms_n = n;
    s->ms_typed = icase == 0;
    s->ms_a = malloc(n * n * sizeof(double));
    s->ms_b = malloc(n * n * sizeof(double));
    s->ms_c = malloc(n * n * sizeof(double));
    if (s->ms_a == NULL || s->ms_b == NULL || s->ms_c == NULL) {
        mm_teardown(s);
        return ENOMEM;
    }
    for (size_t i = 0; i < n * n; i++) {
        s->ms_a[i] = (double)((int)(wb_rand_at(wb_env_g.e_seed ^ 0xa11ull, i) % 9) - 4);
        s->ms_b[i] = (double)((int)(wb_rand_at(wb_env_g.e_seed ^ 0xb22ull, i) % 9) - 4);
    }
    *state = s;
    return 0;
}

static int mm_setup(size_t icase, long size, void **state, char *label, size_t len,
                    uint64_t *tasks)
{
    int rc = mm_setup_common(icase, size, MM_BASE, state);
    if (rc != 0)
        return rc;
    mm_state *s = *state;
    *tasks = 6 * mm_inner(s->ms_n, MM_BASE, 8); /* 2 rounds x 3 spawns per inner node */
    snprintf(label, len, "n=%ld %s", size, s->ms_typed ? "typed" : "void*");
    return 0;
}

static int st_setup(size_t icase, long size, void **state, char *label, size_t len,
                    uint64_t *tasks)
{
    int rc = mm_setup_common(icase, size, ST_CUTOFF, state);
    if (rc != 0)
        return rc;
    mm_state *s = *state;
    *tasks = 6 * mm_inner(s->ms_n, ST_CUTOFF, 7); /* 6 spawns per inner node */
    snprintf(label, len, "n=%ld,cutoff=%d %s", size, ST_CUTOFF,
             s->ms_typed ? "typed" : "void*");
    return 0;
}

/* C is overwritten by every run; poison it, so that a run that skips a
 * block cannot pass on the previous run's result. */
static int mm_prepare(wb_run *r)
{
    mm_state *s = r->r_state;
    memset(s->ms_c, 0xff, s->ms_n * s->ms_n * sizeof(double)); /* NaNs */
    return 0;
}

static mm_blk mm_whole(const mm_state *s)
{
    return (mm_blk){s->ms_c, s->ms_a, s->ms_b, s->ms_n, s->ms_n, s->ms_n, s->ms_n, false};
}

static int mm_run(wb_run *r)
{
    mm_state *s = r->r_state;
    mm_blk x = mm_whole(s);
    if (r->r_kind == WB_SERIAL) {
        mm_serial(&x);
        return 0;
    }
    return wb_run_root(r, s->ms_typed ? mm_typed_root : mm_task, WB_OMP_FN(mm_omp_root),
                       WB_TBB_FN(mm_tbb), &x);
}

static int st_run(wb_run *r)
{
    mm_state *s = r->r_state;
    mm_blk x = mm_whole(s);
    if (r->r_kind == WB_SERIAL)
        return st_serial(&x);
    return wb_run_root(r, s->ms_typed ? st_typed_root : st_root, WB_OMP_FN(st_omp_root),
                       WB_TBB_FN(st_tbb), &x);
}

/* Freivalds' test, then the hash of C as the answer. */
static int mm_finish(wb_run *r)
{
    mm_state *s = r->r_state;
    size_t n = s->ms_n;
    double *v = malloc(3 * n * sizeof *v);
    if (v == NULL)
        return ENOMEM;
    double *x = v, *bx = v + n, *cx = v + 2 * n;
    for (size_t j = 0; j < n; j++)
        x[j] = (double)(wb_rand_at(wb_env_g.e_seed ^ 0xf7e1ull, j) & 1);
    for (size_t i = 0; i < n; i++) {
        double b = 0, c = 0;
        for (size_t j = 0; j < n; j++) {
            b += s->ms_b[i * n + j] * x[j];
            c += s->ms_c[i * n + j] * x[j];
        }
        bx[i] = b;
        cx[i] = c;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        double abx = 0;
        for (size_t k = 0; k < n; k++)
            abx += s->ms_a[i * n + k] * bx[k];
        if (abx != cx[i]) {
            fprintf(stderr, "weft-bench: matmul/strassen: row %zu of C is wrong\n", i);
            rc = EDOM;
        }
    }
    free(v);
    uint64_t h = 0;
    for (size_t i = 0; i < n * n; i++) {
        uint64_t bits;
        memcpy(&bits, &s->ms_c[i], sizeof bits);
        h = (h ^ bits) * 0x100000001b3ull;
    }
    r->r_answer = h;
    return rc;
}

const wb_workload wb_matmul = {
    .w_name = "matmul",
    .w_help = "recursive block matrix multiply, two rounds of 4 half-size products per node"
              " (Cilk's and Lace's matmul), 32x32 leaves; typed and void* cases; size n,"
              " a power of two (default 512)",
    .w_default_size = 512,
    .w_quick_size = 256,
    .w_smoke_size = 64,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = mm_setup,
    .w_prepare = mm_prepare,
    .w_run = mm_run,
    .w_finish = mm_finish,
    .w_teardown = mm_teardown,
};

const wb_workload wb_strassen = {
    .w_name = "strassen",
    .w_help = "Strassen's 7 products per node, temporaries per node (BOTS strassen), plain"
              " multiply at n <= 64; typed and void* cases; size n, a power of two"
              " (default 1024)",
    .w_default_size = 1024,
    .w_quick_size = 256,
    .w_smoke_size = 128,
    .w_variants = wb_task_variants,
    .w_nvariants = WB_NTASK_VARIANTS,
    .w_ncases = 2,
    .w_setup = st_setup,
    .w_prepare = mm_prepare,
    .w_run = st_run,
    .w_finish = mm_finish,
    .w_teardown = mm_teardown,
};
