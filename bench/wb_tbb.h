/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_tbb.h - weft-bench's oneTBB variants: C entry points into
 * wb_tbb.cpp, the one C++ file of weft-bench (built only when CMake finds
 * oneTBB, and never in the TSan build: libtbb is not instrumented).
 *
 * The driver makes one wb_tbb per block of runs (as it makes one weft pool):
 * a task_arena of as many slots as the run has workers, and a
 * tbb::global_control that keeps TBB from starting more threads than that.
 * The workloads write their TBB variants in C with wb_tbb_forkn (a
 * tbb::task_group on the caller's stack: run the children, run one more
 * here, wait), so that each algorithm stays written once.
 */
#ifndef WB_TBB_H
#define WB_TBB_H

#include <stddef.h>
#include <stdint.h>

#include <weft/task.h> /* weft_task_fn: int fn(void *) */

#ifdef __cplusplus
extern "C" {
#endif

/* The TBB side of one block of runs: its arenas and thread limit. */
typedef struct wb_tbb wb_tbb;

/* Limit TBB to `workers` threads doing work: global_control
 * max_allowed_parallelism = workers + 1 (the arena for outside submitters
 * needs `workers` TBB threads besides the submitter), and arenas of
 * `workers` slots. Returns 0, EINVAL (workers 0) or ENOMEM. */
int wb_tbb_create(unsigned workers, wb_tbb **out);

/* NULL is ignored. */
void wb_tbb_destroy(wb_tbb *t);

/* The oneTBB library's version, e.g. "2021.8.0" (for the output). */
const char *wb_tbb_version(void);

/* fn(arg) on the calling thread inside the fork-join arena (`workers`
 * slots, one of them the caller's, as `omp parallel` + `single` does):
 * task_arena::execute. Returns fn's result, or ENOMEM. */
int wb_tbb_call(wb_tbb *t, weft_task_fn fn, void *arg);

/* Fork-join from inside wb_tbb_call: run fn on each of the n arguments
 * args, args + stride, ... as tasks of one tbb::task_group, then
 * here(here_arg) on this thread (skipped when here is NULL), then wait for
 * the group. Returns here's result if non-zero, else the first non-zero
 * result of the tasks, else 0 (ENOMEM if a task could not be made). */
int wb_tbb_forkn(weft_task_fn fn, void *args, size_t stride, size_t n, weft_task_fn here,
                 void *here_arg);

/* Fan-out from one thread outside TBB: task_arena::enqueue of fn(arg) into
 * an arena of `workers` slots none of which is reserved for the submitter,
 * so `workers` TBB threads run the tasks (as `workers` weft workers run
 * weft_pool_submit's). Never blocks. Returns 0 or ENOMEM. */
int wb_tbb_enqueue(wb_tbb *t, weft_task_fn fn, void *arg);

/* Wait (on a condition variable) until every task enqueued so far has run.
 * Returns the first non-zero task result, or 0. */
int wb_tbb_wait_enqueued(wb_tbb *t);

/* body(lo', hi', arg) over sub-ranges of [lo, hi) in the fork-join arena:
 * tbb::parallel_for with a blocked_range and the default (auto)
 * partitioner. Returns the first non-zero body result, or 0. */
int wb_tbb_parallel_for(wb_tbb *t, size_t lo, size_t hi,
                        int (*body)(size_t lo, size_t hi, void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* WB_TBB_H */
