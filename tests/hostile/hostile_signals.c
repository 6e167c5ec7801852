/* SPDX-License-Identifier: MIT */
/*
 * tests/hostile/hostile_signals.c - a signal every 100 us to every thread,
 * with and without SA_RESTART: no call returns EINTR, timeouts are exact
 * (never early), blocking calls keep blocking, results stay right.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <weft/collection.h>
#include <weft/fj.h>
#include <weft/pool.h>
#include <weft/task.h>

#include "check_main.h"
#include "hostile.h"

static _Atomic long signals_seen;
static _Atomic int storm_stop;

static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add_explicit(&signals_seen, 1, memory_order_relaxed); /* a count */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Every 100 us, SIGUSR1 to every thread of the process. */
static void *storm(void *arg)
{
    (void)arg;
    pid_t self = (pid_t)syscall(SYS_gettid);
    /* seq_cst: the test's stop flag. */
    while (!atomic_load_explicit(&storm_stop, memory_order_seq_cst)) {
        DIR *d = opendir("/proc/self/task");
        if (d == NULL)
            break;
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            pid_t tid = (pid_t)atoi(e->d_name);
            if (tid > 0 && tid != self)
                syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
        }
        closedir(d);
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
    return NULL;
}

WEFT_TASK_1(long, fib, int, n)
{
    if (n < 2)
        return n;
    WEFT_FRAME(fib) f;
    WEFT_SPAWN(fib, &f, n - 1);
    long b = WEFT_CALL(fib, n - 2);
    return WEFT_SYNC(fib, &f) + b;
}

static int fib_task(void *arg)
{
    (void)arg;
    return fib(24) == 46368 ? 0 : 1;
}

struct pc {
    weft_collection *q;
    int items;
};

static int consumer(void *arg)
{
    struct pc *c = arg;
    void *item;
    int n = 0, r;
    while ((r = weft_collection_take(c->q, &item)) == 0) {
        n++;
        if (weft_collection_task_done(c->q) != 0)
            return 60;
    }
    return r == EPIPE ? 0 : 61 + (r == EINTR);
}

static int producer(void *arg)
{
    struct pc *c = arg;
    for (intptr_t i = 0; i < c->items; i++)
        if (weft_collection_add(c->q, (void *)i) != 0)
            return 70;
    int r = weft_collection_join(c->q);
    weft_collection_complete_adding(c->q);
    return r;
}

static int storm_child(void *arg)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = arg != NULL ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        return 2;
    pthread_t th;
    if (pthread_create(&th, NULL, storm, NULL) != 0)
        return 3;
    int result = 0;
    for (int m = 0; m < 2 && result == 0; m++) {
        weft_pool_options o = {.workers = 2,
                               .scheduler = m ? WEFT_SCHED_SHARED : WEFT_SCHED_STEALING};
        weft_pool *p = NULL;
        if (weft_pool_create(&p, &o) != 0) {
            result = 10;
            break;
        }
        /* Fork-join under signals. */
        for (int i = 0; i < 5 && result == 0; i++)
            if (weft_pool_call(p, fib_task, NULL) != 0)
                result = 11;
        /* Consumers blocked in take (blocking sections), a producer in join. */
        struct pc c = {NULL, 20000};
        weft_collection_options co = {.capacity = 8};
        if (result == 0 && weft_collection_create(&c.q, &co) != 0)
            result = 12;
        weft_group g;
        if (result == 0) {
            weft_group_init(&g, p);
            for (int i = 0; i < 3; i++)
                weft_group_spawn(&g, consumer, &c);
            weft_group_spawn(&g, producer, &c);
            int r = weft_group_wait(&g);
            if (r != 0)
                result = 100 + r;
            weft_collection_destroy(c.q);
        }
        /* Timeouts: exact, never early, never EINTR. */
        weft_collection *e = NULL;
        if (result == 0 && weft_collection_create(&e, NULL) != 0)
            result = 13;
        for (int i = 0; i < 20 && result == 0; i++) {
            void *item;
            double t0 = now_s();
            int r = weft_collection_try_take(e, &item, 10 * 1000000);
            double dt = now_s() - t0;
            if (r != ETIMEDOUT)
                result = r == EINTR ? 14 : 15;
            else if (dt < 0.010)
                result = 16; /* returned early */
            weft_collection *cs[1] = {e};
            r = weft_collection_take_from_any(cs, 1, &item, NULL, 1000000);
            if (r != ETIMEDOUT)
                result = r == EINTR ? 17 : 18;
            if (weft_collection_try_join(e, 1000000) != 0)
                result = 19; /* nothing unfinished: at once */
        }
        weft_collection_destroy(e);
        if (result == 0 && weft_pool_wait_idle(p) != 0)
            result = 20;
        if (weft_pool_destroy(p) != 0 && result == 0)
            result = 21;
    }
    atomic_store_explicit(&storm_stop, 1, memory_order_seq_cst);
    pthread_join(th, NULL);
    /* Relaxed: a count; the storm has been joined. */
    if (result == 0 && atomic_load_explicit(&signals_seen, memory_order_relaxed) < 100)
        result = 4; /* the storm did not happen: nothing shown */
    return result;
}

START_TEST(test_signal_storm_without_restart)
{
    HOSTILE_OK("SIGUSR1 every 100 us, no SA_RESTART", hostile_run(storm_child, NULL, 120));
}
END_TEST

START_TEST(test_signal_storm_with_restart)
{
    HOSTILE_OK("SIGUSR1 every 100 us, SA_RESTART", hostile_run(storm_child, (void *)1, 120));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_signals");
    WEFT_TEST_CASE(s, test_signal_storm_without_restart, 300);
    WEFT_TEST_CASE(s, test_signal_storm_with_restart, 300);
    return weft_test_run(s);
}
