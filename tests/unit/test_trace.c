/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_trace.c - tracing and scheduler-state times (weft/pool.h:
 * weft_pool_trace_start/stop, WEFT_TRACE, weft_worker_stats' *_ns): bad
 * arguments and errors, the time per state adding up, the DAG mode
 * leaving results and the fast paths' flag as they were, WEFT_TRACE at
 * create, and traces for tests/trace/check_trace.py (which checks their
 * structure: it runs the case "demo" with WEFT_TEST_TRACE_DIR set).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "pool/sched.h"
#include "check_main.h"

static weft_pool *make_pool(unsigned workers, weft_scheduler mode)
{
    weft_pool_options o = {.workers = workers, .scheduler = mode, .seed = 7};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin_us(double us)
{
    double end = now_s() + us * 1e-6;
    while (now_s() < end)
        ;
}

/* A temporary directory for this test (removed by the caller's rm). */
static void tmpdir(char *buf, size_t len)
{
    const char *env = getenv("WEFT_TEST_TRACE_DIR");
    if (env != NULL) {
        snprintf(buf, len, "%s", env);
        mkdir(buf, 0777);
        return;
    }
    snprintf(buf, len, "/tmp/weft-trace-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* Remove what tmpdir made (unless the caller named the directory). */
static void tmpdir_done(const char *dir)
{
    if (getenv("WEFT_TEST_TRACE_DIR") != NULL)
        return;
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void file_head(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* ---- fork-join work ------------------------------------------------------- */

struct fib_arg {
    int n;
    long r;
};

static int fib(void *p)
{
    struct fib_arg *a = p;
    if (a->n < 2) {
        a->r = a->n;
        return 0;
    }
    struct fib_arg x = {a->n - 1, 0}, y = {a->n - 2, 0};
    weft_task t;
    ck_assert_int_eq(weft_spawn(&t, fib, &x), 0);
    fib(&y);
    ck_assert_int_eq(weft_sync(&t), 0);
    a->r = x.r + y.r;
    return 0;
}

WEFT_TASK_1(long, tfib, int, n)
{
    if (n < 2)
        return n;
    WEFT_FRAME(tfib) f;
    WEFT_SPAWN(tfib, &f, n - 1);
    long b = WEFT_CALL(tfib, n - 2);
    long a = WEFT_SYNC(tfib, &f);
    return a + b;
}

static int tfib_root(void *p)
{
    struct fib_arg *a = p;
    a->r = tfib(a->n);
    return 0;
}

static int spin_task(void *arg)
{
    spin_us(*(double *)arg);
    return 0;
}

/* Spawns children that spin, so that an idle worker steals some. */
static int fan_root(void *arg)
{
    (void)arg;
    static double us = 300;
    weft_task t[8];
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(weft_spawn(&t[i], spin_task, &us), 0);
    for (int i = 7; i >= 0; i--)
        ck_assert_int_eq(weft_sync(&t[i]), 0);
    return 0;
}

static int group_root(void *arg)
{
    weft_group g;
    ck_assert_int_eq(weft_group_init(&g, NULL), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(weft_group_spawn(&g, spin_task, arg), 0);
    return weft_group_wait(&g);
}

/* A chain through a future: spin, wait for a future's task that spins,
 * spin. With the future's task joined by the wait, the graph's span is
 * its work (check_trace.py asks weft-prof). */
static int future_chain(void *arg)
{
    spin_us(*(double *)arg);
    weft_future *f;
    ck_assert_int_eq(weft_pool_async(weft_pool_current(), &f, spin_task, arg), 0);
    int r = -1;
    ck_assert_int_eq(weft_future_wait(f, WEFT_FOREVER, &r), 0);
    ck_assert_int_eq(r, 0);
    weft_future_release(f);
    spin_us(*(double *)arg);
    return 0;
}

static uint64_t pool_steals(weft_pool *p, unsigned n)
{
    weft_worker_stats st[8];
    ck_assert_int_eq(weft_pool_stats(p, st, n), 0);
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s += st[i].steals;
    return s;
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_trace_args)
{
    char dir[256], path[512];
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/args.json", dir);
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING);
    ck_assert_int_eq(weft_pool_trace_start(NULL, path, 0), EINVAL);
    ck_assert_int_eq(weft_pool_trace_start(p, NULL, 0), EINVAL);
    ck_assert_int_eq(weft_pool_trace_start(p, "", 0), EINVAL);
    ck_assert_int_eq(weft_pool_trace_start(p, path, 0x80), EINVAL);
    ck_assert_int_eq(weft_pool_trace_stop(NULL), EINVAL);
    ck_assert_int_eq(weft_pool_trace_stop(p), EINVAL); /* none running */
    ck_assert_int_eq(weft_pool_trace_start(p, path, 0), 0);
    ck_assert_int_eq(weft_pool_trace_start(p, path, 0), EBUSY);
    ck_assert_int_eq(weft_pool_trace_stop(p), 0);
    ck_assert_int_gt(file_size(path), 0);
    ck_assert_int_eq(weft_pool_trace_stop(p), EINVAL);
    /* A file that cannot be made: stop says why, and the capture is over. */
    snprintf(path, sizeof path, "%s/no/such/dir/t.json", dir);
    ck_assert_int_eq(weft_pool_trace_start(p, path, WEFT_TRACE_DAG), 0);
    ck_assert_int_eq(weft_pool_trace_stop(p), ENOENT);
    ck_assert_int_eq(weft_pool_trace_stop(p), EINVAL);
    /* A trace running at destroy is written then. */
    snprintf(path, sizeof path, "%s/at-destroy.json", dir);
    ck_assert_int_eq(weft_pool_trace_start(p, path, 0), 0);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    ck_assert_int_gt(file_size(path), 0);
    tmpdir_done(dir);
}
END_TEST

/* The four times of each worker add up to its life, and running time
 * grows with the work. A worker's times count from its thread's start,
 * which the OS may delay for long on a loaded machine: so the check is on
 * the growth between two readings, each bracketed by clock readings (a
 * reading adds the current state's time up to its own clock reading, so
 * the sum grows exactly as the clock does). */
static void state_sums(weft_pool *p, double sum[2], weft_worker_stats st[2], double *before,
                       double *after)
{
    *before = now_s();
    ck_assert_int_eq(weft_pool_stats(p, st, 2), 0);
    *after = now_s();
    for (int i = 0; i < 2; i++)
        sum[i] = (double)(st[i].run_ns + st[i].search_ns + st[i].park_ns + st[i].blocked_ns) * 1e-9;
}

START_TEST(test_state_times)
{
    for (int m = 0; m < 2; m++) {
        double t0 = now_s();
        weft_pool *p = make_pool(2, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        weft_worker_stats st[2];
        double sum0[2], sum1[2], a0, a1, b0, b1;
        /* Until both threads have started (their times count). */
        for (double w0 = now_s();; usleep(1000)) {
            state_sums(p, sum0, st, &a0, &a1);
            if (sum0[0] > 0 && sum0[1] > 0)
                break;
            ck_assert_msg(now_s() - w0 < 30, "the workers did not start in 30 s");
        }
        static double us = 2000;
        for (int i = 0; i < 10; i++)
            ck_assert_int_eq(weft_pool_submit(p, spin_task, &us), 0);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        /* Until both have parked for a while (an idle search takes 50-100
         * us; much longer under a sanitizer on a loaded machine). */
        for (double w0 = now_s();;) {
            usleep(10000);
            state_sums(p, sum1, st, &b0, &b1);
            if (st[0].park_ns > 5000000 && st[1].park_ns > 5000000)
                break;
            ck_assert_msg(now_s() - w0 < 30, "the workers did not park for 5 ms in 30 s");
        }
        uint64_t run = 0;
        for (int i = 0; i < 2; i++) {
            /* 1 us of slack: the sums are rounded to ns, then to doubles. */
            double grew = sum1[i] - sum0[i];
            ck_assert_msg(grew >= (b0 - a1) - 1e-6 && grew <= (b1 - a0) + 1e-6,
                          "worker %d: states grew by %.6f s in [%.6f, %.6f] s", i, grew, b0 - a1,
                          b1 - a0);
            ck_assert_msg(sum1[i] <= b1 - t0 + 1e-6, "worker %d: states sum to %.6f s of %.6f s", i,
                          sum1[i], b1 - t0);
            ck_assert_uint_gt(st[i].park_ns, 0);
            run += st[i].run_ns;
        }
        ck_assert_msg(run >= 15000000, "run_ns %llu for 20 ms of work",
                      (unsigned long long)run);
        weft_pool_destroy(p);
    }
}
END_TEST

/* The DAG mode sends spawns and syncs through recording slow paths: the
 * results are the same, and stopping takes the flag out of every deque. */
START_TEST(test_dag_mode_results)
{
    char dir[256], path[512];
    tmpdir(dir, sizeof dir);
    for (int m = 0; m < 2; m++) {
        weft_pool *p = make_pool(2, m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        snprintf(path, sizeof path, "%s/dag-%d.json", dir, m);
        ck_assert_int_eq(weft_pool_trace_start(p, path, WEFT_TRACE_DAG), 0);
        struct fib_arg a = {18, 0};
        ck_assert_int_eq(weft_pool_call(p, fib, &a), 0);
        ck_assert_int_eq(a.r, 2584);
        a.r = 0;
        ck_assert_int_eq(weft_pool_call(p, tfib_root, &a), 0);
        ck_assert_int_eq(a.r, 2584);
        static double us = 50;
        ck_assert_int_eq(weft_pool_call(p, group_root, &us), 0);
        ck_assert_int_eq(weft_pool_trace_stop(p), 0);
        for (unsigned i = 0; i < weft__nslots(p); i++)
            ck_assert_uint_eq(weft__atomic_load(&p->p_workers[i].w_dq.dq_q.q_hungry, memory_order_relaxed)
                                  & WEFT__HUNGRY_TRACE,
                              0);
        char head[64];
        file_head(path, head, sizeof head);
        ck_assert_msg(strncmp(head, "{\"displayTimeUnit\"", 18) == 0, "%s", head);
        a.r = 0;
        ck_assert_int_eq(weft_pool_call(p, fib, &a), 0);
        ck_assert_int_eq(a.r, 2584);
        weft_pool_destroy(p);
    }
    tmpdir_done(dir);
}
END_TEST

START_TEST(test_env_trace)
{
    char dir[256], tmpl[512], path[600];
    tmpdir(dir, sizeof dir);
    snprintf(tmpl, sizeof tmpl, "%s/env-%%p.json", dir);
    ck_assert_int_eq(setenv("WEFT_TRACE", tmpl, 1), 0);
    weft_pool *p = make_pool(1, WEFT_SCHED_STEALING);
    weft_pool *q = make_pool(1, WEFT_SCHED_SHARED);
    ck_assert_int_eq(weft_pool_trace_start(p, "x.json", 0), EBUSY); /* WEFT_TRACE's */
    unsetenv("WEFT_TRACE");
    struct fib_arg a = {10, 0};
    ck_assert_int_eq(weft_pool_call(p, fib, &a), 0);
    ck_assert_int_eq(weft_pool_call(q, fib, &a), 0);
    weft_pool_destroy(q);
    weft_pool_destroy(p);
    snprintf(path, sizeof path, "%s/env-%ld.json", dir, (long)getpid());
    ck_assert_int_gt(file_size(path), 0);
    snprintf(path, sizeof path, "%s/env-%ld.1.json", dir, (long)getpid());
    ck_assert_int_gt(file_size(path), 0);
    tmpdir_done(dir);
}
END_TEST

/* The trace_path option traces from create to destroy, in place of
 * WEFT_TRACE; its flags are checked. */
START_TEST(test_option_trace)
{
    char dir[256], path[512], tmpl[512], env[600], head[256];
    tmpdir(dir, sizeof dir);
    weft_pool *p = NULL;
    weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
    o.workers = 2;
    o.trace_path = "";
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    snprintf(path, sizeof path, "%s/opt.json", dir);
    o.trace_path = path;
    o.trace_flags = 0x80;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    ck_assert_ptr_null(p);
    o.trace_flags = WEFT_TRACE_DAG;
    snprintf(tmpl, sizeof tmpl, "%s/env-%%p.json", dir);
    ck_assert_int_eq(setenv("WEFT_TRACE", tmpl, 1), 0);
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    unsetenv("WEFT_TRACE");
    ck_assert_int_eq(weft_pool_trace_start(p, "x.json", 0), EBUSY); /* the option's */
    struct fib_arg a = {12, 0};
    ck_assert_int_eq(weft_pool_call(p, fib, &a), 0);
    ck_assert_int_eq(a.r, 144);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    file_head(path, head, sizeof head);
    ck_assert_ptr_nonnull(strstr(head, "traceEvents"));
    snprintf(env, sizeof env, "%s/env-%ld.json", dir, (long)getpid());
    ck_assert_int_eq(file_size(env), -1); /* WEFT_TRACE did not apply */
    tmpdir_done(dir);
}
END_TEST

/* Traces of small runs for tests/trace/check_trace.py: a STEALING pool with
 * steals, the same in the DAG mode, a SHARED pool. */
START_TEST(demo)
{
    char dir[256], path[512];
    tmpdir(dir, sizeof dir);
    for (int k = 0; k < 3; k++) {
        weft_pool *p = make_pool(2, k == 2 ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING);
        static const char *const names[3] = {"stealing", "stealing-dag", "shared"};
        snprintf(path, sizeof path, "%s/demo-%s.json", dir, names[k]);
        ck_assert_int_eq(weft_pool_trace_start(p, path, k == 1 ? WEFT_TRACE_DAG : 0), 0);
        /* Until the idle worker stole something (it asks, the spawner's
         * next push publishes; under load that may take many tries: the
         * thief must get a core while a call runs): bounded by the clock,
         * not by a count of tries. SHARED, which never steals: 50 calls.
         * Two steals, not one: a thief records a stolen task's slice just
         * after the task is done, so the call that saw the first steal may
         * return (and the capture stop) before the slice, and its flow, are
         * written; a second steal means the first thief has moved on (to
         * steal again, or to run the next call's root), its slice written. */
        double t0 = now_s();
        for (int i = 0; k == 2 ? i < 50 : pool_steals(p, 2) < 2 && now_s() - t0 < 30; i++)
            ck_assert_int_eq(weft_pool_call(p, fan_root, NULL), 0);
        if (k != 2)
            ck_assert_uint_gt(pool_steals(p, 2), 0);
        struct fib_arg a = {12, 0};
        ck_assert_int_eq(weft_pool_call(p, fib, &a), 0);
        static double us = 100;
        ck_assert_int_eq(weft_pool_call(p, group_root, &us), 0);
        ck_assert_int_eq(weft_pool_trace_stop(p), 0);
        ck_assert_int_gt(file_size(path), 0);
        weft_pool_destroy(p);
    }
    /* The future chain, in DAG mode. */
    weft_pool *p = make_pool(2, WEFT_SCHED_STEALING);
    snprintf(path, sizeof path, "%s/demo-future-dag.json", dir);
    ck_assert_int_eq(weft_pool_trace_start(p, path, WEFT_TRACE_DAG), 0);
    static double ms5 = 5000;
    ck_assert_int_eq(weft_pool_call(p, future_chain, &ms5), 0);
    ck_assert_int_eq(weft_pool_trace_stop(p), 0);
    ck_assert_int_gt(file_size(path), 0);
    weft_pool_destroy(p);
    tmpdir_done(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace");
    WEFT_TEST_CASE(s, test_trace_args, 60);
    WEFT_TEST_CASE(s, test_state_times, 60);
    WEFT_TEST_CASE(s, test_dag_mode_results, 60);
    WEFT_TEST_CASE(s, test_env_trace, 60);
    WEFT_TEST_CASE(s, test_option_trace, 60);
    WEFT_TEST_CASE(s, demo, 120);
    return weft_test_run(s);
}
