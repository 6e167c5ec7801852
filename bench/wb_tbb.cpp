/* SPDX-License-Identifier: MIT */
/*
 * bench/wb_tbb.cpp - weft-bench's oneTBB variants (see wb_tbb.h): arenas
 * limited to the run's worker count, task_group fork-join, enqueue from an
 * outside thread, parallel_for. No exception leaves this file: every entry
 * point turns them into ENOMEM.
 */
#include "wb_tbb.h"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

namespace {

/* Keep the first non-zero result. */
inline void keep_first(std::atomic<int> &first, int rc)
{
    int zero = 0;
    if (rc != 0)
        first.compare_exchange_strong(zero, rc, std::memory_order_relaxed);
}

} // namespace

struct wb_tbb {
    unsigned t_workers;
    /* Process-wide while it lives: at most t_workers + 1 threads (TBB
     * counts the external thread in); the arenas below bind tighter. */
    tbb::global_control t_limit;
    /* Fork-join: t_workers slots, one reserved for the thread that calls
     * execute (it works too, as the OpenMP master does). */
    tbb::task_arena t_fj;
    /* Fan-out from outside: t_workers slots, none reserved. */
    tbb::task_arena t_enq;
    bool t_enq_ready;
    /* Tasks enqueued and not yet finished, plus 1 held by the submitter
     * until it waits. Whoever takes it to 0 is the last to touch it: a task
     * then sets t_zero under t_mu and signals t_cv, so the waiter returns
     * only after that task has let go of t_mu, its last touch of this. */
    std::atomic<size_t> t_pending;
    std::atomic<int> t_enq_rc;
    std::mutex t_mu;
    bool t_zero; /* protected by t_mu */
    std::condition_variable t_cv;

    explicit wb_tbb(unsigned w)
        : t_workers(w),
          t_limit(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(w) + 1),
          t_fj(static_cast<int>(w), 1), t_enq(static_cast<int>(w), 0), t_enq_ready(false),
          t_pending(1), t_enq_rc(0), t_zero(false)
    {
        t_fj.initialize(); /* start the workers now, not in the first timed run */
    }
};

extern "C" int wb_tbb_create(unsigned workers, wb_tbb **out)
{
    if (workers == 0 || out == nullptr)
        return EINVAL;
    try {
        *out = new wb_tbb(workers);
        return 0;
    } catch (...) {
        return ENOMEM;
    }
}

extern "C" void wb_tbb_destroy(wb_tbb *t)
{
    delete t; /* the arenas' destructors terminate them */
}

extern "C" const char *wb_tbb_version(void)
{
    return TBB_runtime_version();
}

extern "C" int wb_tbb_call(wb_tbb *t, weft_task_fn fn, void *arg)
{
    try {
        return t->t_fj.execute([=] { return fn(arg); });
    } catch (...) {
        return ENOMEM;
    }
}

extern "C" int wb_tbb_forkn(weft_task_fn fn, void *args, size_t stride, size_t n,
                            weft_task_fn here, void *here_arg)
{
    std::atomic<int> first(0);
    int rc_here = 0;
    try {
        tbb::task_group g;
        char *p = static_cast<char *>(args);
        for (size_t i = 0; i < n; i++) {
            void *a = p + i * stride;
            g.run([fn, a, &first] { keep_first(first, fn(a)); });
        }
        if (here != nullptr)
            rc_here = here(here_arg);
        g.wait();
    } catch (...) {
        keep_first(first, ENOMEM);
    }
    return rc_here != 0 ? rc_here : first.load(std::memory_order_relaxed);
}

extern "C" int wb_tbb_enqueue(wb_tbb *t, weft_task_fn fn, void *arg)
{
    if (!t->t_enq_ready) {
        try {
            t->t_enq.initialize();
        } catch (...) {
            return ENOMEM;
        }
        t->t_enq_ready = true;
    }
    try {
        /* Counted before the task can finish: the waiter never sees 0 early. */
        t->t_pending.fetch_add(1, std::memory_order_relaxed);
        t->t_enq.enqueue([t, fn, arg] {
            keep_first(t->t_enq_rc, fn(arg));
            /* acq_rel: each task's writes happen before whoever takes the
             * count to 0 (the waiter, or the task that signals it). */
            if (t->t_pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                std::lock_guard<std::mutex> lk(t->t_mu);
                t->t_zero = true;
                t->t_cv.notify_all();
            }
        });
        return 0;
    } catch (...) {
        t->t_pending.fetch_sub(1, std::memory_order_relaxed); /* never the last: we hold 1 */
        return ENOMEM;
    }
}

extern "C" int wb_tbb_wait_enqueued(wb_tbb *t)
{
    /* Drop the submitter's hold; acq_rel pairs with the tasks' fetch_sub. */
    if (t->t_pending.fetch_sub(1, std::memory_order_acq_rel) != 1) {
        std::unique_lock<std::mutex> lk(t->t_mu);
        t->t_cv.wait(lk, [t] { return t->t_zero; });
        t->t_zero = false;
    }
    t->t_pending.store(1, std::memory_order_relaxed); /* no task is left to see it */
    return t->t_enq_rc.exchange(0, std::memory_order_relaxed);
}

extern "C" int wb_tbb_parallel_for(wb_tbb *t, size_t lo, size_t hi,
                                   int (*body)(size_t, size_t, void *), void *arg)
{
    std::atomic<int> first(0);
    try {
        t->t_fj.execute([&] {
            tbb::parallel_for(tbb::blocked_range<size_t>(lo, hi),
                              [&](const tbb::blocked_range<size_t> &r) {
                                  keep_first(first, body(r.begin(), r.end(), arg));
                              });
        });
    } catch (...) {
        keep_first(first, ENOMEM);
    }
    return first.load(std::memory_order_relaxed);
}
