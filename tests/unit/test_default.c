/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/test_default.c - weft_pool_default: one pool for every caller
 * (8 threads racing for the first use, workers of another pool), owned by
 * the process (destroy: EPERM), drained at exit (tasks still queued run;
 * later calls get EPIPE; exit() from one of its tasks does not hang), and
 * made afresh in a child of fork(). Check runs each test in a process of
 * its own, so each starts without a default pool; the exit scenarios run
 * in a child of the test.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <weft/pool.h>

#include "check_main.h"
#include "pool/sched.h"
#include "settle.h"

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static pthread_barrier_t start;

static void *get_default(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    return weft_pool_default();
}

START_TEST(one_pool_for_all)
{
    pthread_t th[8];
    ck_assert_int_eq(pthread_barrier_init(&start, NULL, 8), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, get_default, NULL), 0);
    void *got[8];
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], &got[i]);
    pthread_barrier_destroy(&start);
    weft_pool *p = weft_pool_default();
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 8; i++)
        ck_assert_ptr_eq(got[i], p);
    ck_assert_uint_eq(weft_pool_size(p), weft__default_workers());
    ck_assert_int_eq(weft_pool_call(p, ret_arg, (void *)(intptr_t)5), 5);
    ck_assert_int_eq(weft_pool_destroy(p), EPERM); /* the process owns it */
    ck_assert_int_eq(weft_pool_call(p, ret_arg, (void *)(intptr_t)6), 6);
}
END_TEST

/* From a worker of another pool, and from its own workers. */
static int default_from_task(void *arg)
{
    *(weft_pool **)arg = weft_pool_default();
    return 0;
}

START_TEST(from_workers)
{
    weft_pool_options o = {.workers = 2};
    weft_pool *other, *seen = NULL;
    ck_assert_int_eq(weft_pool_create(&other, &o), 0);
    ck_assert_int_eq(weft_pool_call(other, default_from_task, &seen), 0);
    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_eq(seen, weft_pool_default());
    weft_pool *inside = NULL;
    ck_assert_int_eq(weft_pool_call(seen, default_from_task, &inside), 0);
    ck_assert_ptr_eq(inside, seen);
    ck_assert_int_eq(weft_pool_destroy(other), 0);
}
END_TEST

/* A child of fork() gets a new default pool; the parent's is inherited
 * (refuses) and still the process's (destroy: EPERM). Also a child forked
 * before the first use. */
START_TEST(after_fork)
{
    weft_pool *parent = weft_pool_default();
    ck_assert_ptr_nonnull(parent);
    settle_before_fork(parent, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = 0;
        bad |= (weft_pool_submit(parent, ret_arg, NULL) != EPIPE) << 3;
        bad |= (weft_pool_destroy(parent) != EPERM) << 4;
#ifdef WEFT_TSAN
        /* TSan cannot start threads in a child of a multi-threaded
         * process; the other builds check the child's own pool. */
        _exit(bad);
#endif
        weft_pool *mine = weft_pool_default();
        bad |= (mine == NULL || mine == parent) << 0;
        bad |= (weft_pool_default() != mine) << 1;
        bad |= (weft_pool_call(mine, ret_arg, (void *)(intptr_t)7) != 7) << 2;
        /* A grandchild: again a new one. */
        settle_before_fork(mine, 0);
        pid_t g = fork();
        if (g == 0) {
            weft_pool *its = weft_pool_default();
            _exit(its == NULL || its == mine || weft_pool_call(its, ret_arg, NULL) != 0);
        }
        int st;
        bad |= (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
               << 5;
        exit(bad); /* exit, not _exit: the child's pool is drained at exit */
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_eq(weft_pool_call(parent, ret_arg, (void *)(intptr_t)8), 8);
}
END_TEST

/* ---- at exit ----------------------------------------------------------------- */

static int out_fd; /* the write end of the test's pipe, in the child */

/* A task queued when exit() is called: it still runs, and says so. */
static int queued_task(void *arg)
{
    (void)arg;
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 20000; i++)
        x = x + i; /* some work, so that the others queue up */
    return write(out_fd, x != 1 ? "t" : "T", 1) == 1 ? 0 : EIO;
}

/* Registered before the first use, so it runs after the default pool's
 * exit handler: the pool is drained and refuses. */
static void after_teardown(void)
{
    weft_pool *p = weft_pool_default();
    char c = p != NULL && weft_pool_submit(p, queued_task, NULL) == EPIPE
                     && weft_pool_size(p) == 0 && weft_pool_wait_idle(p) == EPIPE
                 ? 'E'
                 : 'x';
    (void)!write(out_fd, &c, 1);
}

/* Reads the child's report until EOF; returns its exit status. */
static int run_child(void (*child)(void), char *buf, size_t n, size_t *got)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        out_fd = fds[1];
        child();
        _exit(99); /* not reached */
    }
    close(fds[1]);
    *got = 0;
    ssize_t r;
    while ((r = read(fds[0], buf + *got, n - *got)) > 0)
        *got += (size_t)r;
    close(fds[0]);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

enum { QUEUED = 300 };

static void child_exit_with_queued(void)
{
    atexit(after_teardown);
    weft_pool *p = weft_pool_default();
    for (int i = 0; i < QUEUED; i++)
        if (weft_pool_submit(p, queued_task, NULL) != 0)
            _exit(3);
    exit(0); /* while most of them are still queued */
}

START_TEST(exit_drains)
{
    char buf[QUEUED + 16];
    size_t got;
    ck_assert_int_eq(run_child(child_exit_with_queued, buf, sizeof(buf), &got), 0);
    ck_assert_uint_eq(got, QUEUED + 1);
    for (int i = 0; i < QUEUED; i++)
        ck_assert_int_eq(buf[i], 't'); /* every queued task ran before... */
    ck_assert_int_eq(buf[QUEUED], 'E'); /* ... the teardown, which refuses */
}
END_TEST

static int exit_from_task(void *arg)
{
    (void)arg;
    exit(7);
}

static void child_exit_in_task(void)
{
    weft_pool *p = weft_pool_default();
    for (int i = 0; i < 20; i++)
        weft_pool_submit(p, queued_task, NULL);
    weft_pool_call(p, exit_from_task, NULL);
    _exit(3); /* not reached */
}

START_TEST(exit_in_task)
{
    char buf[64];
    size_t got;
    ck_assert_int_eq(run_child(child_exit_in_task, buf, sizeof(buf), &got), 7);
}
END_TEST

/* A child of fork() that never made its own default pool exits: the
 * handler finds none, and from then on weft_pool_default returns NULL
 * (it makes no pool while the process exits). */
static void late_first_use(void)
{
    char c = weft_pool_default() == NULL ? 'N' : 'x';
    (void)!write(out_fd, &c, 1);
}

static void child_fork_then_exit(void)
{
    atexit(late_first_use); /* before the first use: runs after its handler */
    if (weft_pool_default() == NULL)
        _exit(3);
    settle_before_fork(weft_pool_default(), 0);
    pid_t g = fork();
    if (g == 0)
        exit(0); /* the grandchild: its default pool is the inherited one */
    int st;
    _exit(g > 0 && waitpid(g, &st, 0) == g && WIFEXITED(st) ? WEXITSTATUS(st) : 4);
}

START_TEST(exit_without_pool)
{
    char buf[8];
    size_t got;
    ck_assert_int_eq(run_child(child_fork_then_exit, buf, sizeof(buf), &got), 0);
    ck_assert_uint_eq(got, 1);
    ck_assert_int_eq(buf[0], 'N');
}
END_TEST

int main(void)
{
    Suite *s = suite_create("default");
    WEFT_TEST_CASE(s, one_pool_for_all, 60);
    WEFT_TEST_CASE(s, from_workers, 60);
    WEFT_TEST_CASE_TAGGED(s, after_fork, 60, "fork");
    WEFT_TEST_CASE_TAGGED(s, exit_drains, 60, "fork");
    WEFT_TEST_CASE_TAGGED(s, exit_in_task, 60, "fork");
    WEFT_TEST_CASE_TAGGED(s, exit_without_pool, 60, "fork");
    return weft_test_run(s);
}
