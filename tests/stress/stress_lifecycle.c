/* SPDX-License-Identifier: MIT */
/*
 * tests/stress/stress_lifecycle.c - create/destroy 10,000 times leaks no
 * thread, no file descriptor and no byte.
 *
 * Pools (both schedulers, 1-3 workers, some with a deque grown by a spawn
 * burst so that rings are retired) and collections (with
 * items left inside) are created, used and destroyed 10,000 times each.
 * Threads are counted in /proc/self/task, descriptors in /proc/self/fd and
 * heap bytes with mallinfo2() over the second half of the cycles (plain
 * builds; the sanitizer builds replace malloc, so there LeakSanitizer
 * checks bytes at exit instead). The
 * baseline is taken after a warm-up (malloc's arenas).
 * WEFT_LIFECYCLE_ITERS overrides the count; the
 * loop also stops (after at least 1,000 cycles) once WEFT_STRESS_SECONDS
 * have passed, so that the short CI pass stays short: on the 2-core target
 * a plain build needs ~8 s for 10,000 pool cycles, TSan far more. The
 * number of cycles run is printed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/collection.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "stress_util.h"
#include "check_main.h"

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - (strcmp(path, "/proc/self/fd") == 0); /* opendir's own fd */
}

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static int iterations(void)
{
    const char *s = getenv("WEFT_LIFECYCLE_ITERS");
    int n = s && *s ? atoi(s) : 10000;
    return n < 1 ? 1 : n > 10000 ? 10000 : n;
}

static int leaf(void *arg)
{
    (void)arg;
    return 0;
}

/* Spawn 40 nested tasks on a deque of capacity 2: it grows 5 times. */
static int burst(void *arg)
{
    (void)arg;
    weft_task t[40];
    for (int i = 0; i < 40; i++)
        if (weft_spawn(&t[i], leaf, NULL) != 0)
            return 1;
    for (int i = 39; i >= 0; i--)
        if (weft_sync(&t[i]) != 0)
            return 2;
    return 0;
}

static void pool_once(int i)
{
    weft_pool_options o = {.workers = 1 + (unsigned)(i % 3),
                           .scheduler = (i & 4) ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING,
                           .deque_capacity = 2};
    weft_pool *p = NULL;
    ck_assert_int_eq(weft_pool_create(&p, &o), 0);
    if (i % 10 == 0)
        ck_assert_int_eq(weft_pool_call(p, burst, NULL), 0);
    if (i % 3 == 0)
        ck_assert_int_eq(weft_pool_submit(p, leaf, NULL), 0); /* left for destroy */
    ck_assert_int_eq(weft_pool_destroy(p), 0);
}

static void collection_once(int i)
{
    weft_collection_options o = {.capacity = (size_t)(i % 4), .order = (weft_order)(i % 2)};
    weft_collection *c = NULL;
    ck_assert_int_eq(weft_collection_create(&c, &o), 0);
    for (int k = 0; k < 100 && weft_collection_try_add(c, NULL, WEFT_NO_WAIT) == 0; k++)
        ;
    if (i & 1)
        weft_collection_shutdown(c);
    weft_collection_destroy(c); /* items inside are the caller's; none own memory */
}

static void run(const char *name, void (*once)(int))
{
    for (int i = 0; i < 20; i++) /* warm-up: malloc arenas */
        once(i);
    /* The watchdog first: its thread is not part of the count (and the
     * first thread created starts TSan's own background thread). */
    stress_watchdog wd;
    stress_watchdog_init(&wd, name, 1, 30.0);
    wd.wd_slots[0].sl_name = "main";
    stress_watchdog_start(&wd);
    int threads0 = count_dir("/proc/self/task");
    int fds0 = count_dir("/proc/self/fd");
    size_t bytes0 = heap_bytes();
    int n = iterations();
    /* Heap samples every 500 cycles; the check compares the end with the
     * sample half-way through the cycles actually run. */
    enum { EVERY = 500 };
    size_t samples[10000 / EVERY + 2];
    int nsamples = 0;
    int64_t deadline = stress_now_ns() + stress_duration_ns();
    int done = 0;
    for (int i = 0; i < n; i++) {
        if (i % EVERY == 0 && nsamples < (int)(sizeof samples / sizeof samples[0]))
            samples[nsamples++] = heap_bytes();
        once(i);
        done++;
        stress_progress(&wd.wd_slots[0], "create/destroy");
        if (done >= 1000 && done % EVERY == 0 && stress_now_ns() > deadline)
            break;
    }
    n = done;
    /* samples[k] was taken before cycle k * EVERY, so the half-way one is
     * at n / 2 / EVERY (with 1,000 cycles: cycle 500, not cycle 0). */
    size_t bytes_mid = samples[n / 2 / EVERY];
    int threads1 = count_dir("/proc/self/task");
    int fds1 = count_dir("/proc/self/fd");
    size_t bytes1 = heap_bytes();
    stress_watchdog_stop(&wd);
    printf("%s: %d create/destroy cycles; threads %d -> %d, fds %d -> %d, heap bytes %zu -> "
           "%zu (at half-way %zu)\n", name, n, threads0, threads1, fds0, fds1, bytes0, bytes1,
           bytes_mid);
    fflush(stdout);
    ck_assert_int_eq(threads1, threads0);
    ck_assert_int_eq(fds1, fds0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* Over the second half: a leaked block (>= 16 bytes with malloc's
     * header) per cycle would show as >= 8 * n bytes. The first cycles may
     * grow the heap once (~11 KiB measured, the same for 2,000 or 20,000
     * cycles: malloc's bookkeeping for the most threads seen at once), which is not a leak. */
    /* The allowance scales with n (4 bytes a cycle, so a leak of one
     * 32-byte chunk per cycle - 16 bytes a cycle over a half - still fails):
     * with a fixed 4096, runs of ~2,000 cycles failed now and then on a
     * slow warm-up growth of ~6 KiB that flattens out by 10,000 cycles
     * (57,040 -> 57,344 bytes over the second half of 10,000). */
    size_t allowance = 4096 + 4 * (size_t)n;
    ck_assert_msg(bytes1 <= bytes_mid + allowance, "heap grew by %zu bytes over the last half of "
                  "%d cycles (allowed %zu)", bytes1 - bytes_mid, n, allowance);
    ck_assert_msg(bytes1 <= bytes0 + 64 * 1024, "heap grew by %zu bytes over %d cycles",
                  bytes1 - bytes0, n);
#endif
}

START_TEST(pool_create_destroy)
{
    run("pool", pool_once);
}
END_TEST

START_TEST(collection_create_destroy)
{
    run("collection", collection_once);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stress_lifecycle");
    weft_test_case(s, "pool_create_destroy", pool_create_destroy,
                   120 + 2 * (double)stress_duration_ns() / 1e9);
    weft_test_case(s, "collection_create_destroy", collection_create_destroy,
                   120 + 2 * (double)stress_duration_ns() / 1e9);
    return weft_test_run(s);
}
