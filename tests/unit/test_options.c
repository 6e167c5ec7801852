/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_options.c - weft_pool_options: the size rule (growth),
 * bad input, thread names (cut to 15 bytes, spares), the start/stop hooks
 * (on the thread itself, paired, for spares too, from several threads'
 * pools at once; a stop hook's submissions refused), stack_size, and the
 * default worker count (affinity mask and cgroup v2 CPU quota, on fake
 * cgroup trees).
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <weft/pool.h>

#include "check_main.h"
#include "pool/sched.h"

/* ---- the size rule, bad input ----------------------------------------- */

START_TEST(size_rule)
{
    weft_pool *p = NULL;
    weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
    ck_assert_uint_eq(o.size, sizeof(weft_pool_options));
    ck_assert_uint_eq(o.workers, 0);
    weft_pool_options o2;
    memset(&o2, 0xff, sizeof(o2));
    weft_pool_options_init(&o2);
    ck_assert_int_eq(memcmp(&o, &o2, sizeof(o)), 0);
    o.workers = 1;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    ck_assert_uint_eq(weft_pool_size(p), 1);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    /* size 0: this version's struct. */
    o.size = 0;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    ck_assert_uint_eq(weft_pool_size(p), 1);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    /* A later version's struct: more bytes, zero (fields left default)... */
    struct {
        weft_pool_options base;
        uint64_t later[4];
    } big;
    memset(&big, 0, sizeof(big));
    big.base.size = sizeof(big);
    big.base.workers = 2;
    ck_assert_int_eq(weft_pool_create(&p, &big.base), 0);
    ck_assert_uint_eq(weft_pool_size(p), 2);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    /* ... or set: a field this library does not know. */
    big.later[3] = 1;
    p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &big.base), EINVAL);
    ck_assert_ptr_null(p);
    /* No version was smaller than this one. */
    o.size = sizeof(size_t);
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.size = sizeof(o) - 1;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.size = 4097; /* garbage: not scanned */
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.size = SIZE_MAX;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(bad_input)
{
    weft_pool *p = NULL;
    weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
    o.name = "";
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.name = NULL;
    o.stack_size = 64 * 1024 - 1;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.stack_size = 1;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.stack_size = 0;
    o.max_spares = 4096;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    o.max_spares = 0;
    o.workers = 4097;
    ck_assert_int_eq(weft_pool_create(&p, &o), EINVAL);
    ck_assert_ptr_null(p);
    /* A stack no mapping can hold: EAGAIN, nothing left behind. */
    o.workers = 1;
    o.stack_size = (size_t)1 << 62;
    ck_assert_int_eq(weft_pool_create(&p, &o), EAGAIN);
    ck_assert_ptr_null(p);
}
END_TEST

/* ---- hooks and names ------------------------------------------------------ */

enum { MAXW = 16 };

/* A start hook writes h_name and h_current, then counts itself in h_starts
 * with release; the test reads them after an acquire load of h_starts (or
 * after destroy joined the threads). The other counters are relaxed
 * counts read after destroy. */
struct hooks {
    _Atomic int h_starts[MAXW + 4], h_stops[MAXW + 4];
    char h_name[MAXW + 4][16];
    _Atomic int h_index_ok, h_index_bad; /* weft_worker_index() == index */
    weft_pool *_Atomic h_current[MAXW + 4];
    _Atomic int h_spare_started;
};

static void on_start(unsigned index, void *arg)
{
    struct hooks *h = arg;
    ck_assert_uint_lt(index, MAXW + 4);
    pthread_getname_np(pthread_self(), h->h_name[index], 16);
    atomic_fetch_add_explicit(weft_worker_index() == (int)index ? &h->h_index_ok : &h->h_index_bad,
                              1, memory_order_relaxed);
    atomic_store_explicit(&h->h_current[index], weft_pool_current(), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->h_starts[index], 1, memory_order_release); /* see struct hooks */
}

static void on_stop(unsigned index, void *arg)
{
    struct hooks *h = arg;
    atomic_fetch_add_explicit(weft_worker_index() == (int)index ? &h->h_index_ok : &h->h_index_bad,
                              1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->h_stops[index], 1, memory_order_relaxed);
}

static weft_pool *hooked_pool(struct hooks *h, unsigned workers, const char *name,
                              weft_scheduler mode)
{
    weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
    o.workers = workers;
    o.name = name;
    o.scheduler = mode;
    o.on_worker_start = on_start;
    o.on_worker_stop = on_stop;
    o.hook_arg = h;
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    return p;
}

/* A task that blocks until a spare has started (its start hook ran). */
static int wait_for_spare(void *arg)
{
    struct hooks *h = arg;
    weft_blocking_begin();
    /* Acquire: see struct hooks. */
    while (atomic_load_explicit(&h->h_starts[weft_pool_size(weft_pool_current())],
                                memory_order_acquire) == 0)
        sched_yield();
    weft_blocking_end();
    return 0;
}

START_TEST(names_and_hooks)
{
    const weft_scheduler modes[] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};
    for (int m = 0; m < 2; m++) {
        struct hooks h;
        memset(&h, 0, sizeof(h));
        weft_pool *p = hooked_pool(&h, 3, "tiny", modes[m]);
        ck_assert_int_eq(weft_pool_call(p, wait_for_spare, &h), 0);
        ck_assert_int_eq(weft_pool_wait_idle(p), 0);
        for (int i = 0; i < 3; i++) {
            /* create does not wait for the hooks; the tasks ran after. */
            while (atomic_load_explicit(&h.h_starts[i], memory_order_acquire) == 0)
                sched_yield();
            char want[16];
            snprintf(want, sizeof(want), "tiny-%d", i);
            ck_assert_str_eq(h.h_name[i], want);
            ck_assert_ptr_eq(atomic_load_explicit(&h.h_current[i], memory_order_relaxed), p);
        }
        ck_assert_str_eq(h.h_name[3], "tiny-s0"); /* the spare */
        ck_assert_ptr_eq(atomic_load_explicit(&h.h_current[3], memory_order_relaxed), p);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
        /* Every start has its stop (the spare's too), each on its thread. */
        for (int i = 0; i < MAXW + 4; i++)
            ck_assert_int_eq(atomic_load_explicit(&h.h_starts[i], memory_order_relaxed),
                             atomic_load_explicit(&h.h_stops[i], memory_order_relaxed));
        for (int i = 0; i < 4; i++)
            ck_assert_int_ge(atomic_load_explicit(&h.h_starts[i], memory_order_relaxed), 1);
        ck_assert_int_eq(atomic_load_explicit(&h.h_index_bad, memory_order_relaxed), 0);
    }
}
END_TEST

START_TEST(long_and_default_names)
{
    struct hooks h;
    memset(&h, 0, sizeof(h));
    weft_pool *p = hooked_pool(&h, 12, "abcdefghijklmnopqrstuvwxyz", WEFT_SCHED_STEALING);
    ck_assert_int_eq(weft_pool_destroy(p), 0); /* joins: every start hook ran */
    ck_assert_str_eq(h.h_name[0], "abcdefghijklm-0");
    ck_assert_str_eq(h.h_name[11], "abcdefghijkl-11");
    memset(&h, 0, sizeof(h));
    p = hooked_pool(&h, 2, NULL, WEFT_SCHED_STEALING);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    ck_assert_str_eq(h.h_name[0], "weft-0");
    ck_assert_str_eq(h.h_name[1], "weft-1");
}
END_TEST

/* Four threads make and destroy hooked pools at once. */
static void *make_pools(void *arg)
{
    (void)arg;
    long bad = 0;
    for (int r = 0; r < 10; r++) {
        struct hooks *h = calloc(1, sizeof(*h));
        weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
        o.workers = 2;
        o.name = "many";
        o.on_worker_start = on_start;
        o.on_worker_stop = on_stop;
        o.hook_arg = h;
        weft_pool *p;
        bad += weft_pool_create(&p, &o) != 0;
        bad += weft_pool_destroy(p) != 0;
        for (int i = 0; i < 2; i++)
            bad += atomic_load_explicit(&h->h_starts[i], memory_order_relaxed) != 1
                   || atomic_load_explicit(&h->h_stops[i], memory_order_relaxed) != 1;
        bad += atomic_load_explicit(&h->h_index_bad, memory_order_relaxed);
        free(h);
    }
    return (void *)bad;
}

START_TEST(hooks_several_threads)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, make_pools, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        ck_assert_ptr_null(bad);
    }
}
END_TEST

/* Regression: a stop hook run by destroy that submitted to its own pool
 * got 0, but every worker had left its loop, so the task never ran (the
 * item was lost, and a future made there was never finished: a wait on it
 * hung). Such submissions are refused with EPIPE. */
struct stop_submit {
    _Atomic int ss_calls;
    _Atomic int ss_bad; /* a submission that did not return EPIPE */
};

static int never_runs(void *arg)
{
    atomic_fetch_add_explicit((_Atomic int *)arg, 1, memory_order_relaxed);
    return 0;
}

static void submit_on_stop(unsigned index, void *arg)
{
    (void)index;
    struct stop_submit *ss = arg;
    weft_pool *p = weft_pool_current();
    weft_future *f = NULL;
    weft_group g;
    atomic_fetch_add_explicit(&ss->ss_calls, 1, memory_order_relaxed);
    if (weft_pool_submit(p, never_runs, &ss->ss_bad) != EPIPE)
        atomic_fetch_add_explicit(&ss->ss_bad, 1, memory_order_relaxed);
    if (weft_pool_async(p, &f, never_runs, &ss->ss_bad) != EPIPE || f != NULL)
        atomic_fetch_add_explicit(&ss->ss_bad, 1, memory_order_relaxed);
    if (weft_group_init(&g, p) != 0 || weft_group_spawn(&g, never_runs, &ss->ss_bad) != EPIPE)
        atomic_fetch_add_explicit(&ss->ss_bad, 1, memory_order_relaxed);
}

START_TEST(stop_hook_submits)
{
    const weft_scheduler modes[] = {WEFT_SCHED_STEALING, WEFT_SCHED_SHARED};
    for (int m = 0; m < 2; m++) {
        struct stop_submit ss;
        atomic_init(&ss.ss_calls, 0);
        atomic_init(&ss.ss_bad, 0);
        weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
        o.workers = 2;
        o.scheduler = modes[m];
        o.on_worker_stop = submit_on_stop;
        o.hook_arg = &ss;
        weft_pool *p;
        ck_assert_int_eq(weft_pool_create(&p, &o), 0);
        ck_assert_int_eq(weft_pool_destroy(p), 0);
        /* Relaxed: destroy joined the hooks' threads. */
        ck_assert_int_eq(atomic_load_explicit(&ss.ss_calls, memory_order_relaxed), 2);
        ck_assert_int_eq(atomic_load_explicit(&ss.ss_bad, memory_order_relaxed), 0);
    }
}
END_TEST

/* ---- stack size ----------------------------------------------------------- */

static int stack_of_worker(void *arg)
{
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return EIO;
    pthread_attr_getstacksize(&a, (size_t *)arg);
    pthread_attr_destroy(&a);
    return 0;
}

START_TEST(stack_size)
{
    weft_pool_options o = WEFT_POOL_OPTIONS_INIT;
    o.workers = 1;
    o.stack_size = 256 * 1024;
    weft_pool *p;
    size_t sz = 0;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    ck_assert_int_eq(weft_pool_call(p, stack_of_worker, &sz), 0);
    ck_assert_uint_ge(sz, 256 * 1024);
    ck_assert_uint_lt(sz, 1024 * 1024);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    o.stack_size = 0; /* the default: at least 8 MiB */
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    ck_assert_int_eq(weft_pool_call(p, stack_of_worker, &sz), 0);
    ck_assert_uint_ge(sz, 8u << 20);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}
END_TEST

/* ---- the default worker count ------------------------------------------- */

static char tmp[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmp, rel);
    ck_assert_int_eq(mkdir(path, 0755), 0);
}

/* A mountinfo whose cgroup2 line mounts root at tmp/mnt. */
static void mountinfo(const char *root, const char *mnt_rel)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
             "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
             "41 31 0:38 %s %s/%s rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n",
             root, tmp, mnt_rel);
    put("mountinfo", text);
}

static unsigned limit(void)
{
    char cg[256], mi[256];
    snprintf(cg, sizeof(cg), "%s/cgroup", tmp);
    snprintf(mi, sizeof(mi), "%s/mountinfo", tmp);
    return weft__cgroup_cpu_limit(cg, mi);
}

START_TEST(cgroup_quota)
{
    snprintf(tmp, sizeof(tmp), "/tmp/weft-cg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    dir("mnt");
    dir("mnt/a");
    dir("mnt/a/b");
    put("cgroup", "12:cpu,cpuacct:/ignored\n0::/a/b\n");
    mountinfo("/", "mnt");
    ck_assert_uint_eq(limit(), 0); /* no cpu.max anywhere */
    put("mnt/a/b/cpu.max", "max 100000\n");
    ck_assert_uint_eq(limit(), 0);
    put("mnt/a/b/cpu.max", "150000 100000\n"); /* 1.5 CPUs: 2 */
    ck_assert_uint_eq(limit(), 2);
    put("mnt/a/cpu.max", "max 100000\n");
    ck_assert_uint_eq(limit(), 2);
    put("mnt/a/cpu.max", "50000 100000\n"); /* an ancestor's smaller limit wins */
    ck_assert_uint_eq(limit(), 1);
    put("mnt/a/cpu.max", "400000 100000\n");
    ck_assert_uint_eq(limit(), 2);
    put("mnt/a/b/cpu.max", "1 100000\n"); /* a tiny quota: still 1 */
    ck_assert_uint_eq(limit(), 1);
    put("mnt/a/b/cpu.max", "garbage\n"); /* unreadable: ignored */
    ck_assert_uint_eq(limit(), 4);
    /* A cgroup namespace: the mount shows cgroup /a, so /a/b is mnt/b. */
    dir("mnt/b");
    put("mnt/b/cpu.max", "300000 100000\n");
    mountinfo("/a", "mnt");
    ck_assert_uint_eq(limit(), 3);
    put("cgroup", "0::/elsewhere\n"); /* not under the mount's root */
    ck_assert_uint_eq(limit(), 0);
    put("cgroup", "0::/a\n"); /* the mount's root itself */
    put("mnt/cpu.max", "700000 100000\n");
    ck_assert_uint_eq(limit(), 7);
    /* A mount point with a space, escaped as \040 in mountinfo. */
    dir("m n");
    put("m n/cpu.max", "200000 100000\n");
    char text[512];
    snprintf(text, sizeof(text), "41 31 0:38 / %s/m\\040n rw - cgroup2 cgroup2 rw\n", tmp);
    put("mountinfo", text);
    put("cgroup", "0::/\n");
    ck_assert_uint_eq(limit(), 2);
    /* cgroup v1 only, or missing files: no limit. */
    put("mountinfo", "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n");
    ck_assert_uint_eq(limit(), 0);
    put("cgroup", "1:cpu:/\n");
    mountinfo("/", "mnt");
    ck_assert_uint_eq(limit(), 0);
    ck_assert_uint_eq(weft__cgroup_cpu_limit("/nonexistent/cgroup", "/nonexistent/mi"), 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(default_workers)
{
    cpu_set_t cpus;
    ck_assert_int_eq(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
    unsigned n = weft__default_workers();
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_le(n, (unsigned)CPU_COUNT(&cpus));
    weft_pool *p;
    ck_assert_int_eq(weft_pool_create(&p, NULL), 0);
    ck_assert_uint_eq(weft_pool_size(p), n);
    ck_assert_int_eq(weft_pool_destroy(p), 0);
    /* One CPU in the mask: one worker (this test runs in its own process). */
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &cpus)) {
            CPU_SET(c, &one);
            break;
        }
    }
    ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
    ck_assert_uint_eq(weft__default_workers(), 1);
    ck_assert_int_eq(sched_setaffinity(0, sizeof(cpus), &cpus), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("options");
    WEFT_TEST_CASE(s, size_rule, 60);
    WEFT_TEST_CASE(s, bad_input, 60);
    WEFT_TEST_CASE(s, names_and_hooks, 60);
    WEFT_TEST_CASE(s, long_and_default_names, 60);
    WEFT_TEST_CASE(s, hooks_several_threads, 120);
    WEFT_TEST_CASE(s, stop_hook_submits, 60);
    WEFT_TEST_CASE(s, stack_size, 60);
    WEFT_TEST_CASE(s, cgroup_quota, 60);
    WEFT_TEST_CASE(s, default_workers, 60);
    return weft_test_run(s);
}
