/* SPDX-License-Identifier: MIT */
/*
 * tests/hostile/hostile_limits.c - resource limits give error codes, never
 * a signal: a full thread limit, a tight address space, a huge stack limit.
 *
 * Each scenario runs in a child process (tests/common/hostile.h) whose
 * limits it lowers, and exits 0 only if every weft call returned 0 or an
 * error code it documents. As root the child first becomes nobody, since
 * RLIMIT_NPROC does not bind root.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <weft/collection.h>
#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "check_main.h"
#include "hostile.h"

static int ok_or(int rc, int a, int b)
{
    return rc == 0 || rc == a || rc == b;
}

/* A spawn burst that grows the deque, blocking sections (whose spares may
 * not start), a collection: everything a limit may make fail. Returns 0
 * if every result was 0 or a documented error. */
WEFT_TASK_1(long, burst, int, depth)
{
    if (depth == 0)
        return 1;
    WEFT_FRAME(burst) f[8];
    for (int i = 0; i < 8; i++)
        WEFT_SPAWN(burst, &f[i], depth - 1);
    long n = 0;
    for (int i = 7; i >= 0; i--)
        n += WEFT_SYNC(burst, &f[i]);
    return n;
}

static int use_pool(void *arg)
{
    (void)arg;
    weft_blocking_begin(); /* a spare may be wanted and not start */
    weft_blocking_end();
    return burst(5) == 32768 ? 0 : 50;
}

static int exercise(unsigned workers)
{
    weft_pool_options o = {.workers = workers, .deque_capacity = 2};
    weft_pool *p = NULL;
    int rc = weft_pool_create(&p, &o);
    if (rc == EAGAIN || rc == ENOMEM)
        return 0; /* a clean refusal */
    if (rc != 0)
        return 10;
    rc = weft_pool_call(p, use_pool, NULL);
    if (!ok_or(rc, ENOMEM, EAGAIN))
        return 11;
    weft_collection *c = NULL;
    rc = weft_collection_create(&c, NULL);
    if (!ok_or(rc, ENOMEM, ENOMEM))
        return 12;
    if (c != NULL) {
        for (intptr_t i = 0; i < 10000; i++)
            if (!ok_or(weft_collection_add(c, (void *)i), ENOMEM, ENOMEM))
                return 13;
        weft_collection_destroy(c);
    }
    return weft_pool_destroy(p) == 0 ? 0 : 14;
}

static int become_nobody(void)
{
    if (geteuid() != 0)
        return 0;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
        return -1;
    return 0;
}

/* arg: the RLIMIT_NPROC to set (processes and threads of this user). */
static int thread_limit_child(void *arg)
{
    rlim_t n = (rlim_t)(uintptr_t)arg;
    if (become_nobody() != 0)
        return 2;
    struct rlimit rl = {n, n};
    if (setrlimit(RLIMIT_NPROC, &rl) != 0)
        return 3;
    for (unsigned w = 1; w <= 4; w *= 2) {
        int r = exercise(w);
        if (r != 0)
            return r;
    }
    return 0;
}

/*
 * Regression: with the thread limit reached after the pool's workers were
 * started, the first deque growth made liburcu start its call_rcu thread,
 * which it could not, and liburcu called abort().
 */
START_TEST(test_thread_limit)
{
    for (uintptr_t n = 1; n <= 8; n++) {
        char what[64];
        snprintf(what, sizeof(what), "RLIMIT_NPROC %u", (unsigned)n);
        HOSTILE_OK(what, hostile_run(thread_limit_child, (void *)n, 60));
    }
}
END_TEST

static long vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    if (f == NULL || fscanf(f, "%ld", &pages) != 1)
        pages = 0;
    if (f != NULL)
        fclose(f);
    return pages * sysconf(_SC_PAGESIZE);
}

/* arg: MiB of address space to allow above the current size. */
static int address_space_child(void *arg)
{
    long extra = (long)(uintptr_t)arg << 20;
    rlim_t lim = (rlim_t)(vm_size_bytes() + extra);
    struct rlimit rl = {lim, lim};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 3;
    for (unsigned w = 1; w <= 8; w *= 2) {
        int r = exercise(w);
        if (r != 0)
            return r;
    }
    return 0;
}

START_TEST(test_address_space_limit)
{
    static const unsigned mib[] = {8, 24, 40, 64, 100};
    for (size_t i = 0; i < sizeof(mib) / sizeof(mib[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "RLIMIT_AS +%u MiB", mib[i]);
        HOSTILE_OK(what, hostile_run(address_space_child, (void *)(uintptr_t)mib[i], 60));
    }
}
END_TEST

/* Regression: worker stacks were as large as RLIMIT_STACK, so with
 * `ulimit -s` at 32 GiB pool creation failed with EAGAIN. They are capped
 * at 64 MiB now. */
static int huge_stack_child(void *arg)
{
    (void)arg;
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) != 0)
        return 2;
    rl.rlim_cur = (rlim_t)32 << 30;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
        return 0; /* cannot raise it here: nothing to show */
    if (setrlimit(RLIMIT_STACK, &rl) != 0)
        return 3;
    weft_pool_options o = {.workers = 4};
    weft_pool *p = NULL;
    if (weft_pool_create(&p, &o) != 0)
        return 4;
    if (weft_pool_call(p, use_pool, NULL) != 0)
        return 5;
    return weft_pool_destroy(p) == 0 ? 0 : 6;
}

START_TEST(test_huge_stack_limit)
{
    HOSTILE_OK("RLIMIT_STACK 32 GiB", hostile_run(huge_stack_child, NULL, 60));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_limits");
    WEFT_TEST_CASE(s, test_thread_limit, 600);
    WEFT_TEST_CASE(s, test_address_space_limit, 600);
    WEFT_TEST_CASE(s, test_huge_stack_limit, 120);
    return weft_test_run(s);
}
