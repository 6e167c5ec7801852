// SPDX-License-Identifier: MIT
// weft::pool (weft/weft.hpp): construction and options, call (values, void,
// references, move-only results, exceptions, from workers and from many
// threads), submit + wait_idle and wait_idle_for (exceptions included,
// timeouts that run out), default_pool, moves, the trace options, bad input.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <unistd.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "cxx_check.hpp"

TEST(default_pool_has_workers)
{
    weft::pool p;
    CHECK(p.size() >= 1);
    CHECK(p.native_handle() != nullptr);
    weft::pool q(3);
    CHECK(q.size() == 3);
}

TEST(options)
{
    weft::pool_options o;
    o.workers = 2;
    o.scheduler = weft::scheduler::shared;
    o.seed = 7;
    weft::pool p(o);
    CHECK(p.size() == 2);
    CHECK(p.call([] { return 5; }) == 5);
    weft::pool_options bad;
    bad.workers = 100000; /* more than the C API allows */
    CHECK_ERRC(weft::pool(bad), std::errc::invalid_argument);
}

TEST(options_name_stack_hooks)
{
    std::atomic<int> starts{0}, stops{0}, bad{0};
    {
        weft::pool_options o;
        o.workers = 2;
        o.name = "cxx";
        o.stack_size = 1 << 20;
        o.max_spares = 4;
        o.on_worker_start = [&](unsigned i) {
            char name[16] = "";
            pthread_getname_np(pthread_self(), name, sizeof(name));
            if (name != "cxx-" + std::to_string(i) || weft::this_worker_index() != int(i))
                bad++;
            starts++;
        };
        o.on_worker_stop = [&](unsigned) { stops++; };
        weft::pool p(o);
        CHECK(p.call([] { return 1; }) == 1);
    }
    CHECK(starts == 2);
    CHECK(stops == 2);
    CHECK(bad == 0);
    weft::pool_options small;
    small.stack_size = 1000; /* below the C API's minimum */
    CHECK_ERRC(weft::pool(small), std::errc::invalid_argument);
}

/* The trace options reach the C pool: a trace file that Perfetto reads
 * (JSON with traceEvents), with the task graph when asked for; unknown
 * flags are EINVAL. */
TEST(options_trace)
{
    char dir[] = "/tmp/weft-cxx-trace-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string path = std::string(dir) + "/pool.json";
    {
        weft::pool_options o;
        o.workers = 2;
        o.trace_path = path;
        o.trace_flags = WEFT_TRACE_DAG;
        weft::pool p(o);
        CHECK(p.call([] { return 3; }) == 3);
    } /* destroy writes the trace */
    std::FILE *f = std::fopen(path.c_str(), "r");
    CHECK(f != nullptr);
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;)
        text.append(buf, n);
    std::fclose(f);
    CHECK(text.find("\"traceEvents\"") != std::string::npos);
    CHECK(text.find("\"dag\":true") != std::string::npos);
    std::remove(path.c_str());
    rmdir(dir);
    weft::pool_options bad;
    bad.trace_path = path;
    bad.trace_flags = 1u << 20;
    CHECK_ERRC(weft::pool(bad), std::errc::invalid_argument);
}

TEST(call_returns_the_result)
{
    weft::pool p(2);
    CHECK(p.call([] { return 6 * 7; }) == 42);
    CHECK(p.call([] { return std::string("weft"); }) == "weft");
    int ran = 0;
    p.call([&ran] { ran = 1; }); /* void */
    CHECK(ran == 1);
    int x = 0;
    int &r = p.call([&x]() -> int & { return x; }); /* an lvalue reference */
    CHECK(&r == &x);
    std::unique_ptr<int> u = p.call([] { return std::make_unique<int>(9); }); /* move-only */
    CHECK(u && *u == 9);
    int w = p.call([] { return weft::this_worker_index(); });
    CHECK(w >= 0 && w < 2);
    CHECK(weft::this_worker_index() == -1);
}

TEST(call_rethrows)
{
    weft::pool p(2);
    CHECK_THROWS(p.call([]() -> int { throw std::runtime_error("boom"); }), std::runtime_error);
    try {
        p.call([] { throw std::out_of_range("which"); });
        weft_test::fail(__FILE__, __LINE__, "not thrown");
    } catch (const std::out_of_range &e) {
        CHECK(std::string(e.what()) == "which");
    }
    CHECK(p.call([] { return 1; }) == 1); /* still usable */
}

TEST(call_on_a_worker_runs_inline)
{
    weft::pool p(2);
    /* weft_pool_call refuses (EPERM) on a worker of its pool; the C++ call
     * runs the callable right there instead. */
    int r = p.call([&p] { return p.call([] { return weft::this_worker_index(); }) + 100; });
    CHECK(r >= 100 && r < 102);
    weft::pool other(1); /* a worker of another pool is an outside thread */
    CHECK(p.call([&other] { return other.call([] { return 3; }); }) == 3);
}

TEST(call_from_many_threads)
{
    weft::pool p(2);
    std::atomic<long> sum{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&p, &sum, t] {
            for (int i = 0; i < 200; i++)
                sum.fetch_add(p.call([t, i] { return t * 1000 + i; }), std::memory_order_relaxed);
        });
    for (auto &t : ts)
        t.join();
    long want = 0;
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 200; i++)
            want += t * 1000 + i;
    CHECK(sum.load() == want);
}

TEST(submit_and_wait_idle)
{
    weft::pool p(2);
    std::atomic<int> n{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; t++)
        ts.emplace_back([&p, &n] {
            for (int i = 0; i < 500; i++)
                p.submit([&n] { n.fetch_add(1, std::memory_order_relaxed); });
        });
    for (auto &t : ts)
        t.join();
    p.wait_idle();
    CHECK(n.load() == 1500);
    /* A submitted task may submit more (from a worker). */
    p.submit([&p, &n] {
        for (int i = 0; i < 10; i++)
            p.submit([&n] { n.fetch_add(1, std::memory_order_relaxed); });
    });
    p.wait_idle();
    CHECK(n.load() == 1510);
}

TEST(submit_copies_the_callable)
{
    weft::pool p(2);
    auto token = std::make_shared<int>(1);
    {
        auto f = [token] { (void)*token; };
        for (int i = 0; i < 50; i++)
            p.submit(f);
    }
    p.wait_idle();
    CHECK(token.use_count() == 1); /* every copy was destroyed */
    std::unique_ptr<int> u(new int(4));
    std::atomic<int> got{0};
    p.submit([u = std::move(u), &got] { got = *u; }); /* move-only callable */
    p.wait_idle();
    CHECK(got.load() == 4);
}

TEST(submit_exception_reaches_wait_idle)
{
    weft::pool p(2);
    std::atomic<int> n{0};
    for (int i = 0; i < 20; i++)
        p.submit([&n, i] {
            n.fetch_add(1, std::memory_order_relaxed);
            if (i % 5 == 0)
                throw std::runtime_error("task " + std::to_string(i));
        });
    CHECK_THROWS(p.wait_idle(), std::runtime_error); /* one of the four */
    CHECK(n.load() == 20);                           /* the others all ran */
    p.wait_idle();                                   /* reported once */
}

TEST(wait_idle_on_a_worker_is_eperm)
{
    weft::pool p(2);
    bool eperm = p.call([&p] {
        try {
            p.wait_idle();
        } catch (const std::system_error &e) {
            return e.code() == std::errc::operation_not_permitted;
        }
        return false;
    });
    CHECK(eperm);
}

TEST(moves)
{
    weft::pool p(2);
    weft::pool q(std::move(p));
    CHECK(q.size() == 2);
    CHECK(p.size() == 0); // NOLINT(bugprone-use-after-move): a moved-from pool is empty
    CHECK(p.native_handle() == nullptr);
    CHECK_ERRC(p.call([] { return 1; }), std::errc::invalid_argument);
    CHECK_ERRC(p.submit([] {}), std::errc::invalid_argument);
    CHECK_ERRC(p.wait_idle(), std::errc::invalid_argument);
    weft::pool r(1);
    std::atomic<int> n{0};
    r.submit([&n] { n = 1; });
    r = std::move(q); /* destroys r's pool: its work runs first */
    CHECK(n.load() == 1);
    CHECK(r.size() == 2);
    CHECK(r.call([] { return 2; }) == 2);
}

TEST(destructor_runs_submitted_work)
{
    std::atomic<int> n{0};
    {
        weft::pool p(2);
        for (int i = 0; i < 100; i++)
            p.submit([&n] {
                std::this_thread::yield();
                n.fetch_add(1, std::memory_order_relaxed);
            });
    }
    CHECK(n.load() == 100);
}

TEST(version)
{
    CHECK(std::string(weft::version()) == WEFT_VERSION_STRING);
}

TEST(wait_idle_for)
{
    using namespace std::chrono_literals;
    weft::pool p(2);
    CHECK(p.wait_idle_for(0s)); /* nothing submitted: idle now */
    std::atomic<bool> go{false};
    p.submit([&go] {
        while (!go.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    CHECK(!p.wait_idle_for(0s));
    CHECK(!p.wait_idle_for(-5ms));
    CHECK(!p.wait_idle_for(20ms)); /* runs out */
    go = true;
    CHECK(p.wait_idle_for(std::chrono::hours(1)));
    /* A submitted task's exception comes out of the wait that sees it idle. */
    p.submit([] { throw std::runtime_error("late"); });
    bool thrown = false;
    try {
        while (!p.wait_idle_for(10ms)) {
        }
    } catch (const std::runtime_error &) {
        thrown = true;
    }
    CHECK(thrown);
    CHECK(p.wait_idle_for(1s)); /* taken once */
    CHECK(p.call([&p] {          /* on a worker of the pool: EPERM */
        try {
            p.wait_idle_for(1ms);
        } catch (const std::system_error &e) {
            return e.code() == std::errc::operation_not_permitted;
        }
        return false;
    }));
    weft::pool q(std::move(p));
    CHECK_ERRC(p.wait_idle_for(1ms), std::errc::invalid_argument); /* moved from */
}

TEST(default_pool)
{
    weft::pool &d = weft::pool::default_pool();
    CHECK(&d == &weft::pool::default_pool()); /* the same object every time */
    CHECK(d.native_handle() == weft_pool_default());
    CHECK(d.size() >= 1);
    CHECK(d.call([] { return 7; }) == 7);
    CHECK(d.async([] { return 8; }).get() == 8);
    std::atomic<int> n{0};
    d.submit([&n] { n++; });
    d.wait_idle();
    CHECK(n == 1);
    /* Many threads at once get the same one. */
    std::vector<std::thread> ts;
    std::atomic<int> same{0};
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            if (&weft::pool::default_pool() == &d)
                same++;
        });
    for (auto &t : ts)
        t.join();
    CHECK(same == 4);
    /* The C side refuses to destroy it; the C++ side never tries. */
    CHECK(weft_pool_destroy(d.native_handle()) == EPERM);
    CHECK(d.call([] { return 9; }) == 9);
}
