// SPDX-License-Identifier: MIT
/**
 * @file weft/weft.hpp
 * @brief C++17 layer over weft's C API: RAII, any callable, exceptions.
 *
 * Header-only; it calls the C functions of weft/pool.h, weft/task.h and
 * weft/collection.h and links against the same library (weft::weft, or
 * `pkg-config --libs weft`). One header of about 1,300 lines, in one
 * section per class, as the C side has one header per concept: a C++
 * program includes one file and gets the whole layer.
 *
 *     weft::pool pool;                                   // one worker per CPU
 *     int answer = pool.call([] { return 6 * 7; });      // run there, wait
 *
 *     weft::task_group g(pool);
 *     for (auto &f : files)
 *         g.run([&f] { f.hash = hash(f.path); });       // any callable
 *     g.wait();                     // rethrows the first exception, if any
 *
 *     weft::parallel_for(pool, 0, v.size(), [&](std::size_t i) { v[i] *= 2; });
 *
 *     auto f = pool.async([] { return fib(30); });     // a future
 *     long r = f.get();                  // waits; rethrows what fib threw
 *
 *     weft::collection<std::string> q(16);               // bounded FIFO
 *     q.add("hello");
 *     q.complete_adding();
 *     while (auto s = q.take())                          // empty once completed
 *         std::cout << *s << '\n';
 *
 * Errors. The C functions' errno values become exceptions:
 * `std::system_error` whose code() is the errno value in
 * `std::generic_category()` (compare with `std::errc::...`), except ENOMEM,
 * which becomes `std::bad_alloc`. End-of-data is not an error:
 * `collection::take()` returns an empty `std::optional` once the collection
 * is completed (adding completed and empty), unless adding was completed
 * with an error code (then take() throws it); a shut-down collection throws
 * `std::errc::operation_canceled` from every add and take. The timed waits
 * (`wait_for`, `wait_idle_for`, `try_` forms) report a timeout that ran
 * out through their result, not by throwing.
 *
 * Exceptions thrown by a task. No exception ever crosses into the C
 * library: each task runs in a try block. In a task_group, call() and
 * parallel_for, the first exception is kept, the rest of the work is
 * cancelled (tasks and sub-ranges not yet started are skipped), and the
 * exception is rethrown by wait(), call() or parallel_for itself, as
 * oneTBB's task_group does; parallel_reduce does the same with its body
 * and combine. A task given to pool::async rethrows from its future's
 * get(). A task given to pool::submit has no waiter of its own: its
 * exception is rethrown by the next pool::wait_idle() or wait_idle_for().
 *
 * Threads. The classes follow the C functions' rules (see the C headers):
 * every member may be called from any thread unless its comment says
 * otherwise; destructors need that no other call on the object is in
 * progress. A callable given to parallel_for is called concurrently from
 * several workers.
 *
 * Typed fork-join tasks need no wrapper: weft/fj.h's macros work in C++
 * as they are (call the root from pool::call).
 *
 * Not wrapped (yet): weft_collection_add_to_any/take_from_any (their
 * arguments are arrays of C handles, and a collection<T>'s items are its
 * own encoding of T, so a typed form needs its own design: a span of
 * collection<T> *) and weft_pool_stats (plain counters with nothing to
 * own or throw: call it with pool::native_handle()).
 */
#ifndef WEFT_WEFT_HPP
#define WEFT_WEFT_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "weft/weft.hpp needs C++17 (for C, include weft/weft.h)"
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <weft/collection.h>
#include <weft/pool.h>
#include <weft/task.h>
#include <weft/version.h>

/** @brief weft's C++ layer (weft/weft.hpp). */
namespace weft {

/// @cond WEFT_DETAIL
namespace detail {

/* The C API's errno value as the exception a C++ caller expects. */
[[noreturn]] inline void throw_errno(int rc, const char *what)
{
    if (rc == ENOMEM)
        throw std::bad_alloc();
    throw std::system_error(rc, std::generic_category(), what);
}

inline void check(int rc, const char *what)
{
    if (rc != 0)
        throw_errno(rc, what);
}

/* A std::chrono duration as the C API's timeout: 0 (no wait) for zero and
 * negative durations, saturated at INT64_MAX ns (about 292 years). */
template <class Rep, class Period>
std::int64_t timeout_ns(std::chrono::duration<Rep, Period> d)
{
    using ns = std::chrono::duration<long double, std::nano>;
    if (d <= d.zero())
        return WEFT_NO_WAIT;
    long double v = std::chrono::duration_cast<ns>(d).count();
    if (v >= static_cast<long double>(std::numeric_limits<std::int64_t>::max()))
        return std::numeric_limits<std::int64_t>::max();
    return v < 1 ? 1 : static_cast<std::int64_t>(v);
}

/* The first exception of a group of tasks; later ones are dropped. A lock,
 * not a flag alone: a task may fail while the waiter takes the previous
 * exception (work submitted during a wait). */
class first_error {
public:
    /* Returns true for the first caller. */
    bool set(std::exception_ptr e) noexcept
    {
        std::lock_guard<std::mutex> lock(e_lock);
        if (e_ptr)
            return false;
        e_ptr = std::move(e);
        /* Relaxed: a hint for is_set; e_ptr itself is read under e_lock. */
        e_set.store(true, std::memory_order_relaxed);
        return true;
    }
    /* A hint: work not started yet may be skipped. */
    bool is_set() const noexcept { return e_set.load(std::memory_order_relaxed); }
    /* Take the exception (null if none) and start afresh. */
    std::exception_ptr take() noexcept
    {
        std::lock_guard<std::mutex> lock(e_lock);
        e_set.store(false, std::memory_order_relaxed);
        return std::exchange(e_ptr, nullptr);
    }

private:
    std::mutex e_lock;
    std::exception_ptr e_ptr;    /* protected by e_lock */
    std::atomic<bool> e_set{false};
};

/* What pool::call returns for a callable returning R: R, except that an
 * rvalue reference becomes a value (the referent may not outlive the task). */
template <class R>
using call_result_t =
    std::conditional_t<std::is_rvalue_reference_v<R>, std::remove_reference_t<R>, R>;

/* The result of a callable, void and lvalue references included. */
template <class R, class = void>
struct result_slot {
    std::optional<std::remove_reference_t<R>> r_value;
    template <class F>
    void run(F &f) { r_value.emplace(std::invoke(f)); }
    call_result_t<R> get() { return std::move(*r_value); }
};
template <class R>
struct result_slot<R, std::enable_if_t<std::is_lvalue_reference_v<R>>> {
    std::remove_reference_t<R> *r_ptr = nullptr;
    template <class F>
    void run(F &f) { r_ptr = std::addressof(std::invoke(f)); }
    R get() { return *r_ptr; }
};
template <class R>
struct result_slot<R, std::enable_if_t<std::is_void_v<R>>> {
    template <class F>
    void run(F &f) { std::invoke(f); }
    void get() {}
};

/* Shared by a pool and its submitted tasks; outlives both (see ~pool). */
struct pool_state {
    weft_pool *ps_pool = nullptr;
    bool ps_borrowed = false; /* default_pool's: never destroyed from C++ */
    first_error ps_error; /* first exception of a submitted task */
    /* pool_options' hooks, called by the C hooks below until destroy has
     * joined every thread. */
    std::function<void(unsigned)> ps_on_start, ps_on_stop;

    static void on_start(unsigned index, void *arg) noexcept
    {
        static_cast<pool_state *>(arg)->ps_on_start(index);
    }
    static void on_stop(unsigned index, void *arg) noexcept
    {
        static_cast<pool_state *>(arg)->ps_on_stop(index);
    }
};

} // namespace detail
/// @endcond

/** @brief The scheduler of a pool (weft_scheduler). */
enum class scheduler {
    stealing = WEFT_SCHED_STEALING, ///< per-worker deques and stealing (default)
    shared = WEFT_SCHED_SHARED      ///< every task through one shared queue
};

/** @brief Options of a pool (weft_pool_options); the defaults are the C defaults. */
struct pool_options {
    unsigned workers = 0;                    ///< 0: one per CPU (affinity mask, cgroup quota)
    weft::scheduler scheduler = weft::scheduler::stealing; ///< STEALING or SHARED
    std::size_t deque_capacity = 0;          ///< initial slots per worker deque, 0: default
    std::uint64_t seed = 0;                  ///< victim selection
    bool pin_workers = false;                ///< pin worker i to the i-th allowed CPU
    unsigned max_spares = 0;                 ///< spare threads while workers block, 0: 256
    std::string name;                        ///< threads are name-0, name-1, ... (empty: "weft")
    std::size_t stack_size = 0;              ///< per thread, 0: RLIMIT_STACK in [8, 64] MiB
    /** @brief Called on each worker and spare thread before its first task, with its
     *  index (weft_worker_index); an exception thrown there ends the program
     *  (std::terminate). See weft_pool_options for the rules. */
    std::function<void(unsigned)> on_worker_start;
    /** @brief Called on each such thread after its last task; as on_worker_start. */
    std::function<void(unsigned)> on_worker_stop;
    /** @brief Trace the pool from create to destroy into this file (Perfetto /
     *  chrome://tracing), in place of WEFT_TRACE; empty: none. See
     *  weft_pool_options::trace_path. */
    std::string trace_path;
    std::uint64_t trace_flags = 0; ///< WEFT_TRACE_DAG (the task graph, for weft-prof) or 0
};

/// @cond WEFT_DETAIL
namespace detail {

/* What a future's task leaves for its future: shared by the two, so that
 * either may go first (a future released before its task ended). */
template <class R>
struct future_state {
    result_slot<R> fs_result;
    std::exception_ptr fs_error;
};

/* Passed to pool's private constructor for a pool it does not own. */
struct borrow_t {};

} // namespace detail
/// @endcond

/**
 * @brief The result of a task started by pool::async (weft_future), owned
 * (RAII, move-only).
 *
 * get() waits for the task and returns what it returned, or rethrows what
 * it threw; the future is then empty (valid() false), as std::future's is.
 * The destructor lets go of the handle without waiting (weft_future_release):
 * the task still runs to the end, and its result (or exception) is dropped.
 * wait() and wait_for() may be called by several threads at once; get(),
 * moves and the destructor need that no other call on the object is in
 * progress. On a worker of the task's pool every wait runs other tasks
 * meanwhile (so it may end later than its timeout by the length of a task);
 * waiting from the task itself throws std::errc::operation_not_permitted.
 * An empty future's members throw std::errc::invalid_argument.
 *
 * @tparam R what the callable returns (void and lvalue references included;
 *           an rvalue reference becomes a value, as for pool::call)
 */
template <class R>
class future {
public:
    /** @brief An empty future (valid() false). */
    future() noexcept = default;
    /** @brief Take over other's task; other is left empty. */
    future(future &&other) noexcept
        : f_handle(std::exchange(other.f_handle, nullptr)), f_state(std::move(other.f_state))
    {
    }
    /** @brief Let go of this future's task (as the destructor does), then take over other's. */
    future &operator=(future &&other) noexcept
    {
        if (this != &other) {
            release();
            f_handle = std::exchange(other.f_handle, nullptr);
            f_state = std::move(other.f_state);
        }
        return *this;
    }
    future(const future &) = delete;
    future &operator=(const future &) = delete;
    /** @brief Let go of the task without waiting for it (weft_future_release); never blocks. */
    ~future() { release(); }

    /** @brief true while the future refers to a task (until get() or a move). */
    bool valid() const noexcept { return f_handle != nullptr; }

    /**
     * @brief Wait until the task has finished. Blocks (see the class).
     * @throws std::system_error EINVAL (empty), EPERM (from the task itself),
     *         EPIPE (in a child of fork(), a task unfinished at the fork)
     */
    void wait() const { wait_ns(WEFT_FOREVER); }

    /**
     * @brief Wait at most `timeout` (zero or negative: just look) for the task.
     * @return true once the task has finished, false if the timeout ran out
     * @throws as wait()
     */
    template <class Rep, class Period>
    bool wait_for(std::chrono::duration<Rep, Period> timeout) const
    {
        return wait_ns(detail::timeout_ns(timeout));
    }

    /**
     * @brief Wait for the task, then return its result or rethrow its
     * exception; the future is empty afterwards (also when it throws).
     * @throws what the task threw; std::system_error as wait()
     */
    detail::call_result_t<R> get()
    {
        wait_ns(WEFT_FOREVER);
        std::shared_ptr<detail::future_state<R>> s = std::move(f_state);
        release();
        if (s->fs_error)
            std::rethrow_exception(s->fs_error);
        return s->fs_result.get();
    }

private:
    friend class pool;

    future(weft_future *h, std::shared_ptr<detail::future_state<R>> s) noexcept
        : f_handle(h), f_state(std::move(s))
    {
    }

    bool wait_ns(std::int64_t timeout) const
    {
        int rc = weft_future_wait(f_handle, timeout, nullptr);
        if (rc == EAGAIN || rc == ETIMEDOUT)
            return false;
        detail::check(rc, "weft_future_wait");
        return true;
    }

    void release() noexcept
    {
        weft_future_release(std::exchange(f_handle, nullptr)); /* NULL: nothing */
        f_state.reset();
    }

    weft_future *f_handle = nullptr;
    std::shared_ptr<detail::future_state<R>> f_state;
};

/**
 * @brief A weft_pool: a fixed set of worker threads, owned (RAII, move-only).
 *
 * The destructor runs everything already submitted to the end and joins the
 * workers (weft_pool_destroy); it must not run on a worker of the pool
 * (that is a programming error: std::terminate). A moved-from pool has no
 * workers: size() is 0 and the other members throw EINVAL.
 *
 * default_pool() is the exception: a pool object that refers to the
 * process's default pool (weft_pool_default) without owning it.
 */
class pool {
public:
    /** @brief One worker per CPU. @throws std::system_error, std::bad_alloc */
    pool() : pool(pool_options{}) {}
    /** @brief `workers` workers (0: one per CPU). */
    explicit pool(unsigned workers) : pool(make_options(workers)) {}
    /** @brief A pool with these options. @throws std::system_error (EINVAL, EAGAIN), std::bad_alloc */
    explicit pool(const pool_options &o) : p_state(new detail::pool_state)
    {
        weft_pool_options co;
        weft_pool_options_init(&co);
        co.workers = o.workers;
        co.scheduler = static_cast<weft_scheduler>(o.scheduler);
        co.deque_capacity = o.deque_capacity;
        co.seed = o.seed;
        co.pin_workers = o.pin_workers;
        co.max_spares = o.max_spares;
        co.name = o.name.empty() ? nullptr : o.name.c_str(); /* copied by create */
        co.stack_size = o.stack_size;
        co.trace_path = o.trace_path.empty() ? nullptr : o.trace_path.c_str(); /* copied */
        co.trace_flags = o.trace_flags;
        p_state->ps_on_start = o.on_worker_start;
        p_state->ps_on_stop = o.on_worker_stop;
        if (p_state->ps_on_start)
            co.on_worker_start = detail::pool_state::on_start;
        if (p_state->ps_on_stop)
            co.on_worker_stop = detail::pool_state::on_stop;
        co.hook_arg = p_state.get();
        detail::check(weft_pool_create(&p_state->ps_pool, &co), "weft_pool_create");
    }
    /** @brief Take over other's workers; other is left empty. */
    pool(pool &&other) noexcept = default;
    /** @brief Destroy this pool (as the destructor does), then take over other's. */
    pool &operator=(pool &&other) noexcept
    {
        if (this != &other) {
            destroy();
            p_state = std::move(other.p_state);
        }
        return *this;
    }
    pool(const pool &) = delete;
    pool &operator=(const pool &) = delete;
    /** @brief Run what was submitted to the end, join the workers (weft_pool_destroy). */
    ~pool() { destroy(); }

    /** @brief Number of workers (0 for a moved-from pool). Never blocks. */
    unsigned size() const noexcept { return weft_pool_size(handle()); }

    /**
     * @brief The process's default pool (weft_pool_default), made on first
     * use with default options (one worker per CPU, threads weft-0, ...).
     *
     * For code that needs a pool but has no reason to own one. The object
     * does not own the pool: nothing on the C++ side destroys it (the C
     * library drains it at exit()); it lives until the program ends and
     * must not be moved from or assigned to. Its submit() exceptions come
     * out of its wait_idle() as for any pool. Any thread, concurrently; in a
     * child of fork() it returns an object for the child's new default pool.
     * @throws std::system_error EAGAIN (the pool could not be created; a
     *         later call tries again), std::bad_alloc
     */
    static pool &default_pool()
    {
        static std::atomic<pool *> current{nullptr};
        static std::mutex lock;
        weft_pool *h = weft_pool_default();
        if (h == nullptr)
            detail::throw_errno(EAGAIN, "weft_pool_default");
        pool *p = current.load(std::memory_order_acquire);
        if (p != nullptr && p->handle() == h)
            return *p;
        std::lock_guard<std::mutex> guard(lock);
        p = current.load(std::memory_order_relaxed);
        if (p == nullptr || p->handle() != h) {
            /* Never deleted: a reference handed out earlier stays valid (an
             * inherited pool's object after fork() included). */
            p = new pool(detail::borrow_t{}, h);
            current.store(p, std::memory_order_release);
        }
        return *p;
    }

    /** @brief The C handle, for the C API (still owned by this object). */
    weft_pool *native_handle() const noexcept { return handle(); }

    /**
     * @brief Fire-and-forget: run a copy of `f` on the pool.
     *
     * Any thread, workers included. If `f` throws, the first such exception
     * is rethrown by the next wait_idle().
     * @throws std::system_error EPIPE (the pool is being destroyed), std::bad_alloc
     */
    template <class F>
    void submit(F &&f)
    {
        using job = submit_job<std::decay_t<F>>;
        std::unique_ptr<job> j(new job{p_state.get(), std::forward<F>(f)});
        detail::check(weft_pool_submit(handle(), &job::run, j.get()), "weft_pool_submit");
        j.release(); /* the task owns it now */
    }

    /**
     * @brief Run `f()` on the pool, wait for it, and return its result.
     *
     * Rethrows what `f` throws. On a worker of this pool `f` runs at once on
     * the calling worker (the C function would refuse with EPERM). Blocks.
     * @throws std::system_error EPIPE (the pool is being destroyed), std::bad_alloc
     */
    template <class F>
    detail::call_result_t<std::invoke_result_t<F &>> call(F &&f)
    {
        using R = std::invoke_result_t<F &>;
        if (weft_pool_current() == handle() && handle() != nullptr)
            return std::invoke(f);
        call_frame<std::remove_reference_t<F>, R> fr{&f, {}, nullptr};
        detail::check(weft_pool_call(handle(), &decltype(fr)::run, &fr), "weft_pool_call");
        if (fr.cf_error)
            std::rethrow_exception(fr.cf_error);
        return fr.cf_result.get();
    }

    /**
     * @brief Run a copy of `f` on the pool and return at once, with a
     * future for its result (weft_pool_async).
     *
     * What `f` returns or throws goes to the future (get()), not to
     * wait_idle(). The task runs to the end even if the future is destroyed
     * first. Any thread, workers included; never blocks.
     * @throws std::system_error EPIPE (the pool is being destroyed), std::bad_alloc
     */
    template <class F>
    future<detail::call_result_t<std::invoke_result_t<std::decay_t<F> &>>> async(F &&f)
    {
        using R = detail::call_result_t<std::invoke_result_t<std::decay_t<F> &>>;
        using job = async_job<std::decay_t<F>, R>;
        auto state = std::make_shared<detail::future_state<R>>();
        std::unique_ptr<job> j(new job{state, std::forward<F>(f)});
        weft_future *h = nullptr;
        detail::check(weft_pool_async(handle(), &h, &job::run, j.get()), "weft_pool_async");
        j.release(); /* the task owns it now */
        return future<R>(h, std::move(state));
    }

    /**
     * @brief Wait until all submitted work has finished, then rethrow the
     * first exception that a submitted task threw since the last call.
     *
     * From outside the pool only. Blocks.
     * @throws std::system_error EPERM (called on a worker of this pool)
     */
    void wait_idle()
    {
        detail::check(weft_pool_wait_idle(handle()), "weft_pool_wait_idle");
        if (std::exception_ptr e = p_state->ps_error.take())
            std::rethrow_exception(e);
    }

    /**
     * @brief wait_idle() for at most `timeout` (zero or negative: just look)
     * (weft_pool_try_wait_idle).
     * @return true once the pool is idle (after rethrowing the first
     *         exception of a submitted task, as wait_idle() does); false if
     *         work remains when the timeout runs out
     * @throws as wait_idle()
     */
    template <class Rep, class Period>
    bool wait_idle_for(std::chrono::duration<Rep, Period> timeout)
    {
        int rc = weft_pool_try_wait_idle(handle(), detail::timeout_ns(timeout));
        if (rc == EAGAIN || rc == ETIMEDOUT)
            return false;
        detail::check(rc, "weft_pool_try_wait_idle");
        if (std::exception_ptr e = p_state->ps_error.take())
            std::rethrow_exception(e);
        return true;
    }

private:
    /* default_pool's object: refers to h, never destroys it. */
    pool(detail::borrow_t, weft_pool *h) : p_state(new detail::pool_state)
    {
        p_state->ps_pool = h;
        p_state->ps_borrowed = true;
    }

    template <class F, class R>
    struct async_job {
        std::shared_ptr<detail::future_state<R>> aj_state;
        F aj_fn;
        static int run(void *arg) noexcept
        {
            std::unique_ptr<async_job> j(static_cast<async_job *>(arg));
            try {
                j->aj_state->fs_result.run(j->aj_fn);
            } catch (...) {
                j->aj_state->fs_error = std::current_exception();
            }
            return 0;
        }
    };

    template <class F>
    struct submit_job {
        detail::pool_state *sj_state;
        F sj_fn;
        static int run(void *arg) noexcept
        {
            std::unique_ptr<submit_job> j(static_cast<submit_job *>(arg));
            try {
                std::invoke(j->sj_fn);
            } catch (...) {
                j->sj_state->ps_error.set(std::current_exception());
            }
            return 0;
        }
    };

    template <class F, class R>
    struct call_frame {
        F *cf_fn;
        detail::result_slot<R> cf_result;
        std::exception_ptr cf_error;
        static int run(void *arg) noexcept
        {
            auto *fr = static_cast<call_frame *>(arg);
            try {
                fr->cf_result.run(*fr->cf_fn);
            } catch (...) {
                fr->cf_error = std::current_exception();
            }
            return 0;
        }
    };

    static pool_options make_options(unsigned workers)
    {
        pool_options o;
        o.workers = workers;
        return o;
    }

    weft_pool *handle() const noexcept { return p_state ? p_state->ps_pool : nullptr; }

    void destroy() noexcept
    {
        if (!p_state)
            return;
        /* EPERM (on a worker of this pool) would leave the pool running
         * with its state freed under it. */
        if (!p_state->ps_borrowed && weft_pool_destroy(p_state->ps_pool) != 0)
            std::terminate();
        p_state.reset();
    }

    std::unique_ptr<detail::pool_state> p_state;
};

/** @brief What task_group::wait() saw. */
enum class group_status {
    complete, ///< every task ran
    canceled  ///< cancel() was called: tasks not started by then were skipped
};

/**
 * @brief A group of tasks on a pool (weft_group): any number of run()s, one wait().
 *
 * Tasks reference the group, so it can neither be copied nor moved. The
 * first exception thrown by a task cancels the group and is rethrown by
 * wait(). The destructor cancels what has not started and waits for the
 * rest (their exceptions are lost): call wait() first.
 *
 * Cancellation is the group's own flag, checked before each task starts;
 * weft_group_cancel is not used, because the tasks it skips never reach
 * the code that destroys their callables.
 */
class task_group {
public:
    /** @brief A group on `p`. @throws std::system_error EINVAL (a moved-from pool) */
    explicit task_group(pool &p)
    {
        /* The C function takes NULL as "the calling worker's pool". */
        if (p.native_handle() == nullptr)
            detail::throw_errno(EINVAL, "weft_group_init");
        init(p.native_handle());
    }
    /** @brief A group on the calling worker's pool. @throws std::system_error EINVAL (not on a worker) */
    task_group() { init(nullptr); }
    task_group(const task_group &) = delete;
    task_group &operator=(const task_group &) = delete;
    /** @brief Cancel the tasks not started, wait for the others; their exceptions are lost. */
    ~task_group()
    {
        cancel();
        weft_group_wait(&tg_group); /* at once if nothing is pending */
    }

    /**
     * @brief Run a copy of `f` as part of the group; any thread, tasks of
     * the group included. Never blocks.
     * @throws std::system_error EPIPE (the pool is being destroyed), std::bad_alloc
     */
    template <class F>
    void run(F &&f)
    {
        using job = group_job<std::decay_t<F>>;
        std::unique_ptr<job> j(new job{this, std::forward<F>(f)});
        detail::check(weft_group_spawn(&tg_group, &job::run, j.get()), "weft_group_spawn");
        j.release(); /* the task owns it now */
    }

    /**
     * @brief Wait for every task of the group; rethrow the first exception.
     *
     * On a worker it runs other tasks meanwhile; elsewhere it blocks. One
     * waiter at a time. Afterwards the group starts afresh (not cancelled,
     * no exception) and may run new tasks.
     * @return group_status::canceled if cancel() was called (and no task threw)
     */
    group_status wait()
    {
        int rc = weft_group_wait(&tg_group);
        bool cancelled = tg_cancelled.exchange(false, std::memory_order_relaxed);
        if (std::exception_ptr e = tg_error.take())
            std::rethrow_exception(e);
        detail::check(rc, "weft_group_wait");
        return cancelled ? group_status::canceled : group_status::complete;
    }

    /**
     * @brief wait() for at most `timeout` (zero or negative: just look)
     * (weft_group_try_wait).
     *
     * Waits as wait() does (on a worker it runs other tasks meanwhile, so it
     * may end later than the timeout by the length of a task). When the
     * round has ended it does what wait() does: rethrows the first
     * exception, and the group starts afresh. When the timeout runs out the
     * round goes on; wait again later (or let the destructor cancel it).
     * @return the status wait() would return once every task has finished
     *         (true in a condition); empty (false) if tasks remain
     * @throws what a task threw; std::system_error EPERM (from a task of
     *         the group), EPIPE (in a child of fork())
     */
    template <class Rep, class Period>
    std::optional<group_status> wait_for(std::chrono::duration<Rep, Period> timeout)
    {
        int result = 0;
        int rc = weft_group_try_wait(&tg_group, detail::timeout_ns(timeout), &result);
        if (rc == EAGAIN || rc == ETIMEDOUT)
            return std::nullopt;
        detail::check(rc, "weft_group_try_wait");
        bool cancelled = tg_cancelled.exchange(false, std::memory_order_relaxed);
        if (std::exception_ptr e = tg_error.take())
            std::rethrow_exception(e);
        return cancelled ? group_status::canceled : group_status::complete;
    }

    /** @brief Skip the tasks that have not started. Any thread; never blocks. */
    void cancel() noexcept { tg_cancelled.store(true, std::memory_order_relaxed); }

    /** @brief true once cancel() was called or a task threw (until wait() returns). */
    bool is_canceling() const noexcept { return tg_cancelled.load(std::memory_order_relaxed); }

private:
    template <class F>
    struct group_job {
        task_group *gj_group;
        F gj_fn;
        static int run(void *arg) noexcept
        {
            std::unique_ptr<group_job> j(static_cast<group_job *>(arg));
            task_group *g = j->gj_group;
            if (g->is_canceling())
                return 0;
            try {
                std::invoke(j->gj_fn);
            } catch (...) {
                if (g->tg_error.set(std::current_exception()))
                    g->cancel();
            }
            return 0;
        }
    };

    void init(weft_pool *p) { detail::check(weft_group_init(&tg_group, p), "weft_group_init"); }

    weft_group tg_group;
    std::atomic<bool> tg_cancelled{false};
    detail::first_error tg_error;
};

/**
 * @brief Call `f` over [begin, end) in parallel on `p` (weft_parallel_for).
 *
 * `f` is either `f(std::size_t i)`, called once per index, or
 * `f(std::size_t lo, std::size_t hi)`, called on disjoint sub-ranges that
 * cover [begin, end) exactly once. It is called concurrently from several
 * workers, by reference (not copied). `grain`: the largest sub-range handed
 * to one call, 0: automatic. From a worker or from outside (blocks). If `f`
 * throws, sub-ranges not started are skipped and the first exception is
 * rethrown here.
 * @throws std::system_error EINVAL (begin > end), EPIPE, std::bad_alloc
 */
template <class F>
void parallel_for(pool &p, std::size_t begin, std::size_t end, F &&f, std::size_t grain = 0)
{
    using Fn = std::remove_reference_t<F>;
    constexpr bool by_range = std::is_invocable_v<Fn &, std::size_t, std::size_t>;
    static_assert(by_range || std::is_invocable_v<Fn &, std::size_t>,
                  "parallel_for: f must be callable as f(i) or f(lo, hi)");
    struct frame {
        Fn *pf_fn;
        detail::first_error pf_error;
        static int body(std::size_t lo, std::size_t hi, void *arg) noexcept
        {
            auto *fr = static_cast<frame *>(arg);
            if (fr->pf_error.is_set())
                return ECANCELED;
            try {
                if constexpr (by_range) {
                    std::invoke(*fr->pf_fn, lo, hi);
                } else {
                    for (std::size_t i = lo; i < hi; i++)
                        std::invoke(*fr->pf_fn, i);
                }
            } catch (...) {
                fr->pf_error.set(std::current_exception());
                return ECANCELED; /* stops the sub-ranges not started yet */
            }
            return 0;
        }
    } fr{&f, {}};
    if (p.native_handle() == nullptr) /* the C function would take the calling worker's pool */
        detail::throw_errno(EINVAL, "weft_parallel_for");
    int rc = weft_parallel_for(p.native_handle(), begin, end, grain, &frame::body, &fr);
    if (std::exception_ptr e = fr.pf_error.take())
        std::rethrow_exception(e);
    detail::check(rc, "weft_parallel_for");
}

/**
 * @brief A deterministic parallel reduction of [begin, end) on `p`
 * (weft_parallel_reduce), returning the result.
 *
 *     double sum = weft::parallel_reduce(pool, 0, v.size(), 0.0,
 *         [&](std::size_t lo, std::size_t hi, double acc) {
 *             for (std::size_t i = lo; i < hi; i++) acc += v[i];
 *             return acc;
 *         },
 *         std::plus<>());
 *
 * `body(lo, hi, acc)` folds the sub-range [lo, hi) into `acc`, a `T &`
 * that starts as a copy of `identity`: it either returns nothing and
 * updates `acc` in place, or returns the new value (then `acc` may also be
 * taken by value or const reference). `combine(a, b)` merges `b`, the
 * reduction of the sub-range right of `a`'s, into `a` the same way: it
 * returns the merged value (std::plus<>() will do) or updates `a` in place.
 * Both are called by reference (not copied), concurrently from several
 * workers, each call on its own accumulators.
 *
 * Deterministic: the tree of combinations depends only on (begin, end,
 * grain): a range longer than `grain` is split in the middle, each leaf is
 * folded by one body call into a fresh copy of `identity`, and each split
 * combines its left result with its right one. So the result is the same,
 * bit for bit (a floating-point sum included), from run to run, for any
 * number of workers and either scheduler. `grain` 0: automatic (at most
 * 1024 leaves, whatever the number of workers). An empty range returns
 * `identity`.
 *
 * T must be trivially copyable (arithmetic types, pointers, plain structs
 * of them), because the C function keeps accumulators as raw bytes (on its
 * stack or in malloc'ed memory) and discards them without a destructor; to
 * reduce into an object that owns memory, reduce per-leaf results into
 * such a plain type, or use parallel_for with one slot per sub-range.
 *
 * If `body` or `combine` throws, sub-ranges not started are skipped and the
 * first exception is rethrown here (a body stops the reduction only by
 * throwing). From a worker or from outside (blocks).
 * @throws what body or combine threw; std::system_error EINVAL (begin >
 *         end, a moved-from pool), EPIPE (the pool is being destroyed);
 *         std::bad_alloc
 */
template <class T, class Body, class Combine>
T parallel_reduce(pool &p, std::size_t begin, std::size_t end, const T &identity,
                  Body &&body, Combine &&combine, std::size_t grain = 0)
{
    static_assert(std::is_trivially_copyable_v<T>,
                  "parallel_reduce: T must be trivially copyable");
    static_assert(alignof(T) <= alignof(std::max_align_t),
                  "parallel_reduce: T must not be over-aligned");
    using B = std::remove_reference_t<Body>;
    using C = std::remove_reference_t<Combine>;
    static_assert(std::is_invocable_v<B &, std::size_t, std::size_t, T &>,
                  "parallel_reduce: body must be callable as body(lo, hi, acc)");
    static_assert(std::is_invocable_v<C &, T &, const T &>,
                  "parallel_reduce: combine must be callable as combine(a, b)");
    struct frame {
        const T *rf_identity;
        B *rf_body;
        C *rf_combine;
        detail::first_error rf_error;

        /* acc: the C function's storage, made a T by copying one in. */
        static T &as_t(void *acc) noexcept { return *std::launder(static_cast<T *>(acc)); }
        static void init(void *acc, void *arg) noexcept
        {
            std::memcpy(acc, static_cast<frame *>(arg)->rf_identity, sizeof(T));
        }
        static int fold(std::size_t lo, std::size_t hi, void *acc, void *arg) noexcept
        {
            auto *fr = static_cast<frame *>(arg);
            if (fr->rf_error.is_set())
                return ECANCELED;
            try {
                T &a = as_t(acc);
                if constexpr (std::is_void_v<std::invoke_result_t<B &, std::size_t, std::size_t, T &>>)
                    std::invoke(*fr->rf_body, lo, hi, a);
                else
                    a = std::invoke(*fr->rf_body, lo, hi, a);
            } catch (...) {
                fr->rf_error.set(std::current_exception());
                return ECANCELED; /* stops the sub-ranges not started yet */
            }
            return 0;
        }
        static void merge(void *acc, void *other, void *arg) noexcept
        {
            auto *fr = static_cast<frame *>(arg);
            if (fr->rf_error.is_set())
                return; /* the result is thrown away */
            try {
                T &a = as_t(acc);
                const T &b = as_t(other);
                if constexpr (std::is_void_v<std::invoke_result_t<C &, T &, const T &>>)
                    std::invoke(*fr->rf_combine, a, b);
                else
                    a = std::invoke(*fr->rf_combine, a, b);
            } catch (...) {
                fr->rf_error.set(std::current_exception());
            }
        }
    } fr{&identity, &body, &combine, {}};
    if (p.native_handle() == nullptr) /* the C function would take the calling worker's pool */
        detail::throw_errno(EINVAL, "weft_parallel_reduce");
    T result = identity;
    int body_rc = 0;
    int rc = weft_parallel_reduce(p.native_handle(), begin, end, grain, &result, sizeof(T),
                                  &frame::init, &frame::fold, &frame::merge, &fr, &body_rc);
    if (std::exception_ptr e = fr.rf_error.take())
        std::rethrow_exception(e);
    detail::check(rc, "weft_parallel_reduce");
    return result;
}

/** @brief The order in which a collection hands out its items (weft_order). */
enum class order {
    fifo = WEFT_ORDER_FIFO, ///< first added, first taken (default)
    lifo = WEFT_ORDER_LIFO, ///< last added, first taken
    priority = WEFT_ORDER_PRIORITY ///< smallest by Compare first; equal items FIFO
};

/**
 * @brief A blocking collection of T (weft_collection), owned (RAII, move-only).
 *
 * A T that is trivially copyable, default-constructible and no larger than
 * a pointer (ints, pointers, small enums and structs) travels inside the
 * C collection's `void *`; any other T is moved into a heap copy that the
 * collection owns until it is taken (the destructor frees those still
 * inside). Pointers are items like any other: the collection never frees
 * what they point to.
 *
 * For order::priority, `Compare` (default-constructed; it must not throw)
 * orders the items: the smallest first, so the default std::less<> (T's
 * operator<) gives a min-queue and std::greater<> a max-queue.
 *
 * Ends and errors: take() returns an empty optional once the collection is
 * completed, or throws std::system_error with the caller's code if adding
 * was completed with one (complete_adding(std::errc)); every add and take
 * form throws std::system_error with
 * std::errc::operation_canceled once it is shut down, and every add form
 * throws std::errc::broken_pipe once adding is completed. try_take and
 * try_add report "nothing within the timeout" as an empty optional / false.
 * Any thread may call any member, concurrently, except the destructor and
 * assignment.
 */
template <class T, class Compare = std::less<>>
class collection {
public:
    static_assert(std::is_move_constructible_v<T>, "collection<T>: T must be movable");

    /** @brief true when items travel inside the `void *`, without a heap copy. */
    static constexpr bool stored_inline =
        std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>
        && sizeof(T) <= sizeof(void *) && alignof(T) <= alignof(void *);

    /**
     * @brief A collection of at most `capacity` items (0: unbounded).
     * @throws std::system_error EINVAL, std::bad_alloc
     */
    explicit collection(std::size_t capacity = 0, order o = order::fifo)
    {
        weft_collection_options co{};
        co.capacity = capacity;
        co.order = static_cast<weft_order>(o);
        /* PRIORITY without a usable Compare: the C function says EINVAL. */
        if constexpr (std::is_invocable_r_v<bool, Compare &, const T &, const T &>)
            co.compare = o == order::priority ? &compare_items : nullptr;
        detail::check(weft_collection_create(&c_handle, &co), "weft_collection_create");
    }
    /** @brief Take over other's collection; other is left empty. */
    collection(collection &&other) noexcept : c_handle(std::exchange(other.c_handle, nullptr)) {}
    /** @brief Destroy this collection (as the destructor does), then take over other's. */
    collection &operator=(collection &&other) noexcept
    {
        if (this != &other) {
            destroy();
            c_handle = std::exchange(other.c_handle, nullptr);
        }
        return *this;
    }
    collection(const collection &) = delete;
    collection &operator=(const collection &) = delete;
    /**
     * @brief Frees the items still inside (the heap copies of a T not
     * stored_inline; T's destructor runs). No other call may be in progress.
     */
    ~collection() { destroy(); }

    /// @name Adding
    /// @{
    /**
     * @brief Add an item, waiting while the collection is full.
     * @throws std::system_error broken_pipe (adding completed),
     *         operation_canceled (shut down); std::bad_alloc
     */
    void add(const T &item) { add_impl(T(item)); }
    /** @copydoc add(const T &) */
    void add(T &&item) { add_impl(std::move(item)); }

    /**
     * @brief Add an item if there is room within `timeout` (default: now).
     * @return false if the collection stayed full; `item` is then unchanged.
     * @throws as add()
     */
    template <class Rep = long, class Period = std::ratio<1>>
    bool try_add(const T &item, std::chrono::duration<Rep, Period> timeout = {})
    {
        T copy(item);
        return try_add_impl(copy, detail::timeout_ns(timeout));
    }
    /** @copydoc try_add(const T &, std::chrono::duration<Rep, Period>) */
    template <class Rep = long, class Period = std::ratio<1>>
    bool try_add(T &&item, std::chrono::duration<Rep, Period> timeout = {})
    {
        return try_add_impl(item, detail::timeout_ns(timeout));
    }
    /**
     * @brief Close the collection for adding; takers get what is left, then
     * an empty optional. Idempotent; never blocks on waiters.
     */
    void complete_adding() noexcept { weft_collection_complete_adding(c_handle); }

    /**
     * @brief Close the collection for adding with an error (.NET's
     * TryComplete(exception); weft_collection_complete_adding_error).
     *
     * As complete_adding(), but once the items left have been taken, take()
     * and try_take() throw std::system_error with code `err` (in
     * std::generic_category) instead of returning an empty optional, so
     * that consumers learn why the stream ended early. Adders still get
     * broken_pipe; drain() is unaffected. The first close wins.
     * `err` must not be one of the take forms' own codes
     * (invalid_argument, not_enough_memory, resource_unavailable_try_again,
     * timed_out, operation_canceled); broken_pipe is a plain close.
     * Any thread; never blocks on waiters.
     * @return true if this call closed the collection; false if adding was
     *         already completed (by complete_adding, the last
     *         producer_done, an earlier error) or it was shut down: nothing
     *         changes then
     * @throws std::system_error invalid_argument (a refused `err`)
     */
    bool complete_adding(std::errc err) { return complete_adding_code(static_cast<int>(err)); }
    /**
     * @brief complete_adding(std::errc) with an error code, which must be
     * in std::generic_category() (an errno value; otherwise invalid_argument).
     */
    bool complete_adding(const std::error_code &err)
    {
        if (err.category() != std::generic_category())
            detail::throw_errno(EINVAL, "weft_collection_complete_adding_error");
        return complete_adding_code(err.value());
    }

    /**
     * @brief Register a producer (weft_collection_add_producer): when every
     * registered producer has called producer_done(), adding completes by
     * itself, as with complete_adding(). Plain add()s need no registration.
     * Any thread; never blocks on waiters.
     * @throws std::system_error broken_pipe (adding already completed: not
     *         counted, do not call producer_done), operation_canceled (shut down)
     */
    void add_producer()
    {
        detail::check(weft_collection_add_producer(c_handle), "weft_collection_add_producer");
    }

    /**
     * @brief One registered producer is done (weft_collection_producer_done);
     * the last one completes adding. Any thread, not necessarily the
     * producer's; never blocks on waiters.
     * @throws std::system_error invalid_argument (no producer registered)
     */
    void producer_done()
    {
        detail::check(weft_collection_producer_done(c_handle), "weft_collection_producer_done");
    }
    /// @}

    /// @name Taking
    /// @{
    /**
     * @brief Take an item, waiting while the collection is empty.
     * @return the item; empty once the collection is completed (adding
     *         completed and nothing left): `while (auto x = c.take()) ...`
     * @throws std::system_error operation_canceled (shut down); once
     *         completed, the code given to complete_adding(std::errc), if any
     */
    std::optional<T> take() { return take_impl(WEFT_FOREVER, true); }

    /**
     * @brief Take an item if one arrives within `timeout` (default: now).
     * @return the item; empty if none came in time or the collection is
     *         completed (is_completed() tells which).
     * @throws as take()
     */
    template <class Rep = long, class Period = std::ratio<1>>
    std::optional<T> try_take(std::chrono::duration<Rep, Period> timeout = {})
    {
        return take_impl(detail::timeout_ns(timeout), false);
    }

    /**
     * @brief Take every item there is now, without blocking, in take order;
     * works after shutdown too (the way to get the items back). Never throws
     * but std::bad_alloc.
     */
    std::vector<T> drain()
    {
        std::vector<T> out;
        void *buf[64];
        std::size_t n;
        while ((n = weft_collection_drain(c_handle, buf, 64)) != 0) {
            std::size_t i = 0;
            try {
                out.reserve(out.size() + n);
                for (; i < n; i++)
                    out.push_back(unpack(buf[i]));
            } catch (...) {
                for (; i < n; i++)
                    discard(buf[i]);
                throw;
            }
        }
        return out;
    }
    /// @}

    /**
     * @brief Shut down at once: every blocked and later add and take throws
     * operation_canceled; the items inside stay there for drain() (or the
     * destructor). Idempotent.
     */
    void shutdown() noexcept { weft_collection_shutdown(c_handle); }

    /// @name Tracking work (Python's task_done/join)
    /// @{
    /** @brief Mark one taken item as finished. @throws std::system_error EINVAL (nothing unfinished) */
    void task_done() { detail::check(weft_collection_task_done(c_handle), "weft_collection_task_done"); }
    /** @brief Wait until every item added has been marked done (or dropped by shutdown). */
    void join() { detail::check(weft_collection_join(c_handle), "weft_collection_join"); }
    /** @brief join() for at most `timeout`; false if work is still unfinished. */
    template <class Rep, class Period>
    bool try_join(std::chrono::duration<Rep, Period> timeout)
    {
        int rc = weft_collection_try_join(c_handle, detail::timeout_ns(timeout));
        if (rc == EAGAIN || rc == ETIMEDOUT)
            return false;
        detail::check(rc, "weft_collection_try_join");
        return true;
    }
    /// @}

    /// @name State (snapshots)
    /// @{
    std::size_t size() const noexcept { return weft_collection_count(c_handle); } ///< items inside now
    std::size_t capacity() const noexcept { return weft_collection_capacity(c_handle); } ///< 0: unbounded
    bool is_adding_completed() const noexcept { return weft_collection_is_adding_completed(c_handle); } ///< after complete_adding or shutdown
    bool is_completed() const noexcept { return weft_collection_is_completed(c_handle); } ///< adding completed and empty

    /**
     * @brief The collection's counters since its creation (added, taken,
     * drained, max_count, and the sleeps and time asleep of blocked adders,
     * takers and joiners; see struct weft_collection_stats). A consistent
     * snapshot; never blocks on waiters.
     * @throws std::system_error invalid_argument (a moved-from collection)
     */
    struct weft_collection_stats stats() const
    {
        struct weft_collection_stats st {};
        detail::check(weft_collection_stats(c_handle, &st), "weft_collection_stats");
        return st;
    }
    /// @}

    /** @brief The C handle (still owned by this object). Its items are this class's encoding. */
    weft_collection *native_handle() const noexcept { return c_handle; }

private:
    /* T as a C item: inline in the pointer's bytes, or a heap copy. */
    static void *pack(T &&v)
    {
        if constexpr (stored_inline) {
            void *p = nullptr;
            std::memcpy(&p, &v, sizeof(T));
            return p;
        } else {
            return new T(std::move(v));
        }
    }
    static T unpack(void *p)
    {
        if constexpr (stored_inline) {
            T v;
            std::memcpy(&v, &p, sizeof(T));
            return v;
        } else {
            std::unique_ptr<T> owned(static_cast<T *>(p));
            return std::move(*owned);
        }
    }
    static void discard(void *p) noexcept
    {
        if constexpr (!stored_inline)
            delete static_cast<T *>(p);
    }
    /* Called by the C collection, with its lock held. */
    static int compare_items(const void *a, const void *b) noexcept
    {
        Compare less{};
        if constexpr (stored_inline) {
            T x, y;
            std::memcpy(&x, &a, sizeof(T));
            std::memcpy(&y, &b, sizeof(T));
            return less(x, y) ? -1 : less(y, x) ? 1 : 0;
        } else {
            const T &x = *static_cast<const T *>(a), &y = *static_cast<const T *>(b);
            return less(x, y) ? -1 : less(y, x) ? 1 : 0;
        }
    }

    void add_impl(T &&item)
    {
        void *p = pack(std::move(item));
        int rc = weft_collection_add(c_handle, p);
        if (rc != 0) {
            discard(p);
            detail::throw_errno(rc, "weft_collection_add");
        }
    }

    /* item is moved from only when it was added. */
    bool try_add_impl(T &item, std::int64_t timeout)
    {
        void *p = pack(std::move(item));
        int rc = weft_collection_try_add(c_handle, p, timeout);
        if (rc == 0)
            return true;
        if constexpr (!stored_inline) {
            static_assert(std::is_move_assignable_v<T>, "try_add(T&&) needs a move-assignable T");
            std::unique_ptr<T> back(static_cast<T *>(p));
            item = std::move(*back);
        }
        if (rc == EAGAIN || rc == ETIMEDOUT)
            return false;
        detail::throw_errno(rc, "weft_collection_try_add");
    }

    bool complete_adding_code(int err)
    {
        int rc = weft_collection_complete_adding_error(c_handle, err);
        if (rc == EPIPE || rc == ECANCELED)
            return false;
        detail::check(rc, "weft_collection_complete_adding_error");
        return true;
    }

    std::optional<T> take_impl(std::int64_t timeout, bool blocking)
    {
        void *p = nullptr;
        int rc = blocking ? weft_collection_take(c_handle, &p)
                          : weft_collection_try_take(c_handle, &p, timeout);
        if (rc == 0)
            return std::optional<T>(unpack(p));
        if (rc == EPIPE || rc == EAGAIN || rc == ETIMEDOUT)
            return std::nullopt;
        detail::throw_errno(rc, blocking ? "weft_collection_take" : "weft_collection_try_take");
    }

    void destroy() noexcept
    {
        if (c_handle == nullptr)
            return;
        void *buf[64];
        std::size_t n;
        while ((n = weft_collection_drain(c_handle, buf, 64)) != 0)
            for (std::size_t i = 0; i < n; i++)
                discard(buf[i]);
        weft_collection_destroy(c_handle);
        c_handle = nullptr;
    }

    weft_collection *c_handle = nullptr;
};

/** @brief The version of the library linked, "MAJOR.MINOR.PATCH". */
inline const char *version() noexcept { return weft_version(); }

/** @brief 0..size-1 on a worker (of any pool), -1 elsewhere. */
inline int this_worker_index() noexcept { return weft_worker_index(); }

} // namespace weft

#endif // WEFT_WEFT_HPP
