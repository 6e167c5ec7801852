// SPDX-License-Identifier: MIT
// weft::task_group and weft::parallel_for (weft/weft.hpp): any callable,
// nesting, runs from several threads, exceptions (first wins, the rest is
// cancelled, callables of skipped tasks are still destroyed), cancel,
// reuse, the destructor without wait, wait_for (timeouts that run out,
// exceptions, EPERM from a task of the group), bad input.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "cxx_check.hpp"

TEST(group_runs_every_task)
{
    weft::pool p(2);
    weft::task_group g(p);
    std::vector<int> out(1000, 0);
    for (std::size_t i = 0; i < out.size(); i++)
        g.run([&out, i] { out[i] = static_cast<int>(i) + 1; });
    CHECK(g.wait() == weft::group_status::complete);
    for (std::size_t i = 0; i < out.size(); i++)
        CHECK(out[i] == static_cast<int>(i) + 1);
}

struct functor {
    std::atomic<int> *f_count;
    void operator()() const { f_count->fetch_add(1, std::memory_order_relaxed); }
};

static void free_function(std::atomic<int> *n)
{
    n->fetch_add(1, std::memory_order_relaxed);
}

TEST(group_takes_any_callable)
{
    weft::pool p(2);
    weft::task_group g(p);
    std::atomic<int> n{0};
    g.run(functor{&n});
    g.run(std::bind(free_function, &n));
    std::function<void()> fn = [&n] { n.fetch_add(1, std::memory_order_relaxed); };
    g.run(fn);
    auto u = std::make_unique<int>(1); /* a move-only callable */
    g.run([u = std::move(u), &n] { n.fetch_add(*u, std::memory_order_relaxed); });
    g.wait();
    CHECK(n.load() == 4);
}

static std::uint64_t fib(int k)
{
    if (k < 2)
        return static_cast<std::uint64_t>(k);
    std::uint64_t a = 0, b = 0;
    weft::task_group g; /* on the calling worker's pool */
    g.run([&a, k] { a = fib(k - 1); });
    b = fib(k - 2);
    g.wait();
    return a + b;
}

TEST(nested_groups)
{
    weft::pool p(2);
    CHECK(p.call([] { return fib(18); }) == 2584);
}

TEST(group_off_a_worker_needs_a_pool)
{
    CHECK_ERRC(weft::task_group(), std::errc::invalid_argument);
}

TEST(moved_from_pool_is_rejected)
{
    weft::pool p(2);
    weft::pool q(std::move(p));
    /* Even on a worker of q, where the C API would take NULL as q. */
    bool both = q.call([&p] {
        bool group = false, pfor = false;
        try {
            weft::task_group g(p);
        } catch (const std::system_error &e) {
            group = e.code() == std::errc::invalid_argument;
        }
        try {
            weft::parallel_for(p, 0, 10, [](std::size_t) {});
        } catch (const std::system_error &e) {
            pfor = e.code() == std::errc::invalid_argument;
        }
        return group && pfor;
    });
    CHECK(both);
}

TEST(runs_from_several_threads)
{
    weft::pool p(2);
    weft::task_group g(p);
    std::atomic<int> n{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&g, &n] {
            for (int i = 0; i < 250; i++)
                g.run([&n] { n.fetch_add(1, std::memory_order_relaxed); });
        });
    for (auto &t : ts)
        t.join();
    g.wait();
    CHECK(n.load() == 1000);
    /* Tasks of the group run more tasks of the group. */
    for (int i = 0; i < 10; i++)
        g.run([&g, &n] {
            for (int j = 0; j < 10; j++)
                g.run([&n] { n.fetch_add(1, std::memory_order_relaxed); });
        });
    g.wait();
    CHECK(n.load() == 1100);
}

TEST(first_exception_wins_and_cancels)
{
    weft::pool p(2);
    weft::task_group g(p);
    std::atomic<int> ran{0};
    auto token = std::make_shared<int>(0);
    g.run([] { throw std::runtime_error("first"); });
    for (int i = 0; i < 2000; i++)
        g.run([&ran, token, i] {
            ran.fetch_add(1, std::memory_order_relaxed);
            if (i % 100 == 0)
                throw std::logic_error("later");
        });
    bool caught = false;
    try {
        g.wait();
    } catch (const std::exception &) {
        caught = true; /* one exception, whichever came first */
    }
    CHECK(caught);
    CHECK(ran.load() <= 2000);
    /* Skipped tasks never ran, but their callables were destroyed. */
    CHECK(token.use_count() == 1);
    /* The group starts afresh after wait. */
    CHECK(!g.is_canceling());
    g.run([&ran] { ran.store(-1); });
    CHECK(g.wait() == weft::group_status::complete);
    CHECK(ran.load() == -1);
}

TEST(exception_type_is_kept)
{
    weft::pool p(2);
    weft::task_group g(p);
    g.run([] { throw std::out_of_range("kept"); });
    try {
        g.wait();
        weft_test::fail(__FILE__, __LINE__, "not thrown");
    } catch (const std::out_of_range &e) {
        CHECK(std::string(e.what()) == "kept");
    }
    g.run([] { throw 42; }); /* not even a std::exception */
    CHECK_THROWS(g.wait(), int);
}

TEST(cancel_skips_tasks_not_started)
{
    weft::pool p(2);
    weft::task_group g(p);
    std::atomic<int> ran{0};
    auto token = std::make_shared<int>(0);
    g.cancel();
    CHECK(g.is_canceling());
    for (int i = 0; i < 100; i++)
        g.run([&ran, token] { ran.fetch_add(1); });
    CHECK(g.wait() == weft::group_status::canceled);
    CHECK(ran.load() == 0);
    CHECK(token.use_count() == 1);
    CHECK(!g.is_canceling());
}

TEST(destructor_without_wait)
{
    weft::pool p(2);
    std::atomic<int> ran{0};
    auto token = std::make_shared<int>(0);
    {
        weft::task_group g(p);
        for (int i = 0; i < 500; i++)
            g.run([&ran, token] {
                std::this_thread::yield();
                ran.fetch_add(1, std::memory_order_relaxed);
            });
        /* no wait: the destructor cancels what has not started, waits */
    }
    CHECK(ran.load() <= 500);
    CHECK(token.use_count() == 1);
}

TEST(parallel_for_per_index)
{
    weft::pool p(2);
    std::vector<std::uint64_t> v(100000);
    weft::parallel_for(p, 0, v.size(), [&v](std::size_t i) { v[i] = 2 * i; });
    for (std::size_t i = 0; i < v.size(); i++)
        CHECK(v[i] == 2 * i);
}

TEST(parallel_for_by_range)
{
    weft::pool p(2);
    std::vector<std::atomic<int>> hits(10000);
    std::atomic<std::size_t> widest{0};
    weft::parallel_for(
        p, 100, hits.size(),
        [&](std::size_t lo, std::size_t hi) {
            std::size_t w = widest.load();
            while (hi - lo > w && !widest.compare_exchange_weak(w, hi - lo)) {
            }
            for (std::size_t i = lo; i < hi; i++)
                hits[i].fetch_add(1, std::memory_order_relaxed);
        },
        64);
    for (std::size_t i = 0; i < hits.size(); i++)
        CHECK(hits[i].load() == (i < 100 ? 0 : 1)); /* each index exactly once */
    CHECK(widest.load() <= 64);                     /* the grain */
}

TEST(parallel_for_edges)
{
    weft::pool p(2);
    int calls = 0;
    weft::parallel_for(p, 5, 5, [&calls](std::size_t) { calls++; }); /* empty */
    CHECK(calls == 0);
    CHECK_ERRC(weft::parallel_for(p, 6, 5, [](std::size_t) {}), std::errc::invalid_argument);
    /* From a task: the calling worker helps. */
    long sum = p.call([&p] {
        std::atomic<long> s{0};
        weft::parallel_for(p, 0, 1000, [&s](std::size_t i) { s += static_cast<long>(i); });
        return s.load();
    });
    CHECK(sum == 999 * 1000 / 2);
}

TEST(parallel_for_rethrows)
{
    /* The sub-ranges not started are skipped: counted on one worker, where
     * the order is fixed (left half first, so 0..500 and no more); with two,
     * how many run before the stop is seen depends on the OS scheduler. */
    for (unsigned workers : {1u, 2u}) {
        weft::pool p(workers);
        std::atomic<int> calls{0};
        try {
            weft::parallel_for(
                p, 0, 100000,
                [&calls](std::size_t i) {
                    calls.fetch_add(1, std::memory_order_relaxed);
                    if (i == 500)
                        throw std::runtime_error("at 500");
                },
                100);
            weft_test::fail(__FILE__, __LINE__, "not thrown");
        } catch (const std::runtime_error &e) {
            CHECK(std::string(e.what()) == "at 500");
        }
        if (workers == 1)
            CHECK(calls.load() == 501);
        weft::parallel_for(p, 0, 10, [](std::size_t) {}); /* usable afterwards */
    }
}

TEST(group_wait_for)
{
    using namespace std::chrono_literals;
    weft::pool p(2);
    weft::task_group g(p);
    CHECK(g.wait_for(0s) == weft::group_status::complete); /* nothing to wait for */
    std::atomic<bool> go{false};
    std::atomic<int> ran{0};
    g.run([&] {
        while (!go.load())
            std::this_thread::sleep_for(1ms);
        ran++;
    });
    CHECK(!g.wait_for(0s));
    CHECK(!g.wait_for(-1ms));
    CHECK(!g.wait_for(20ms)); /* runs out; the round goes on */
    go = true;
    std::optional<weft::group_status> st = g.wait_for(std::chrono::hours(1));
    CHECK(st && *st == weft::group_status::complete);
    CHECK(ran == 1);
    /* An exception, rethrown by the wait that sees the round end. */
    for (int i = 0; i < 10; i++)
        g.run([i] {
            if (i == 3)
                throw std::runtime_error("task");
        });
    bool thrown = false;
    try {
        while (!g.wait_for(5ms)) {
        }
    } catch (const std::runtime_error &) {
        thrown = true;
    }
    CHECK(thrown);
    CHECK(g.wait_for(0s) == weft::group_status::complete); /* afresh */
    /* cancel() is reported as wait() reports it. */
    g.cancel();
    g.run([] {});
    CHECK(g.wait_for(std::chrono::hours(1)) == weft::group_status::canceled);
    /* From a task of the group: EPERM. */
    std::atomic<int> eperm{0};
    g.run([&] {
        try {
            g.wait_for(1ms);
        } catch (const std::system_error &e) {
            if (e.code() == std::errc::operation_not_permitted)
                eperm++;
        }
    });
    g.wait();
    CHECK(eperm == 1);
    /* Several threads run while one waits with a timeout. */
    std::atomic<int> count{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; t++)
        ts.emplace_back([&] {
            for (int i = 0; i < 100; i++)
                g.run([&count] { count++; });
        });
    for (auto &t : ts)
        t.join();
    while (!g.wait_for(1ms)) {
    }
    CHECK(count == 300);
}
