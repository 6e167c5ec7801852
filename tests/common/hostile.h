/* SPDX-License-Identifier: MIT */
/*
 * tests/common/hostile.h - run a scenario in a child process, bounded in
 * time, and report how it ended.
 *
 * The hostile tier changes process-wide state (resource limits, user ids,
 * signal handlers, fork) or provokes failures that may end a process
 * (abort, a signal): each scenario runs in a child of its own, and the
 * parent judges it by its exit status. A child that does not finish within
 * its bound is killed (SIGKILL) and counts as a hang.
 */
#ifndef WEFT_TESTS_HOSTILE_H
#define WEFT_TESTS_HOSTILE_H

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Run fn(arg) in a child; its return value is the child's exit status.
 * Returns that status, or -SIGNAL if it died of a signal, or -1000 if it
 * ran longer than bound_s (then it is killed). */
static inline int hostile_run(int (*fn)(void *), void *arg, double bound_s)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg));
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        ck_assert_int_ge(r, 0);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9 > bound_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1000;
        }
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* a bounded poll */
    }
}

/* Assert that a child ended by returning 0, saying how it ended if not. */
#define HOSTILE_OK(what, status)                                                                  \
    do {                                                                                          \
        int hostile_st_ = (status);                                                               \
        ck_assert_msg(hostile_st_ == 0, "%s: %s %d", (what),                                      \
                      hostile_st_ == -1000 ? "hung (killed), status"                              \
                      : hostile_st_ < 0    ? "died of signal"                                     \
                                           : "exited with",                                       \
                      hostile_st_ == -1000 ? 0 : hostile_st_ < 0 ? -hostile_st_ : hostile_st_);  \
    } while (0)

#endif /* WEFT_TESTS_HOSTILE_H */
