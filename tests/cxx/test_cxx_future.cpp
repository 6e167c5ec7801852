// SPDX-License-Identifier: MIT
// weft::future and pool::async (weft/weft.hpp): values, void, references,
// move-only results, exceptions through get(), wait_for whose timeout runs
// out, a future destroyed before its task ends, moves, many threads, async
// from a worker, bad input (an empty future, a moved-from pool, waiting
// from the task itself).
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "cxx_check.hpp"

using namespace std::chrono_literals;

TEST(async_returns_the_result)
{
    weft::pool p(2);
    weft::future<int> f = p.async([] { return 6 * 7; });
    CHECK(f.valid());
    CHECK(f.get() == 42);
    CHECK(!f.valid()); /* get() empties it */
    CHECK(p.async([] { return std::string("weft"); }).get() == "weft");
    std::atomic<int> ran{0};
    weft::future<void> v = p.async([&ran] { ran = 1; });
    v.get();
    CHECK(ran == 1);
    int x = 0;
    weft::future<int &> r = p.async([&x]() -> int & { return x; });
    CHECK(&r.get() == &x);
    auto u = p.async([] { return std::make_unique<int>(9); }); /* move-only result */
    std::unique_ptr<int> got = u.get();
    CHECK(got && *got == 9);
    std::string s = "moved";
    auto m = p.async([t = std::make_unique<std::string>(s)] { return *t; }); /* move-only callable */
    CHECK(m.get() == "moved");
}

TEST(async_rethrows_from_get)
{
    weft::pool p(2);
    auto f = p.async([]() -> int { throw std::runtime_error("boom"); });
    f.wait(); /* waiting does not throw the task's exception */
    CHECK(f.wait_for(0s));
    CHECK_THROWS(f.get(), std::runtime_error);
    CHECK(!f.valid());
    /* The exception is the future's, not the pool's. */
    p.wait_idle();
}

TEST(wait_for_times_out)
{
    weft::pool p(2);
    std::atomic<bool> go{false};
    auto f = p.async([&go] {
        while (!go.load())
            std::this_thread::sleep_for(1ms);
        return 5;
    });
    CHECK(!f.wait_for(0s));     /* just looks */
    CHECK(!f.wait_for(-1s));    /* negative: just looks */
    CHECK(!f.wait_for(20ms));   /* runs out */
    CHECK(f.valid());
    go = true;
    CHECK(f.wait_for(std::chrono::hours(1)));
    CHECK(f.wait_for(0s)); /* again, the same answer */
    CHECK(f.get() == 5);
}

TEST(future_destroyed_before_its_task_ends)
{
    std::atomic<bool> go{false};
    std::atomic<int> done{0};
    {
        weft::pool p(2);
        {
            auto f = p.async([&] {
                while (!go.load())
                    std::this_thread::sleep_for(1ms);
                done++;
                return std::string("dropped");
            });
            auto g = p.async([]() -> int { throw std::runtime_error("dropped too"); });
        } /* both released: the tasks still run */
        go = true;
        p.wait_idle(); /* their results and exceptions are dropped */
    }
    CHECK(done == 1);
}

TEST(futures_move)
{
    weft::pool p(2);
    auto a = p.async([] { return 1; });
    weft::future<int> b(std::move(a));
    CHECK(!a.valid());
    CHECK(b.valid());
    weft::future<int> c;
    CHECK(!c.valid());
    c = std::move(b);
    CHECK(c.get() == 1);
    auto d = p.async([] { return 2; });
    d = p.async([] { return 3; }); /* lets go of the first */
    CHECK(d.get() == 3);
    auto e = p.async([] { return 4; });
    weft::future<int> &alias = e;
    e = std::move(alias); /* self-move changes nothing */
    CHECK(e.get() == 4);
}

TEST(async_from_many_threads_and_workers)
{
    weft::pool p(4);
    std::vector<std::thread> ts;
    std::atomic<long> sum{0};
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&p, &sum, t] {
            std::vector<weft::future<long>> fs;
            for (long i = 0; i < 200; i++)
                fs.push_back(p.async([i, t] { return i + 1000L * t; }));
            for (auto &f : fs)
                sum += f.get();
        });
    for (auto &t : ts)
        t.join();
    /* 4 * (0 + ... + 199) + 200 * 1000 * (0 + 1 + 2 + 3) */
    CHECK(sum == 4L * 19900 + 200L * 1000 * 6);
    /* From a task: its wait runs other tasks meanwhile. */
    int nested = p.call([&p] {
        auto f = p.async([] { return 20; });
        auto g = p.async([&p] { return p.async([] { return 1; }).get() + 1; });
        return f.get() + g.get();
    });
    CHECK(nested == 22);
}

TEST(async_bad_input)
{
    weft::future<int> empty;
    CHECK_ERRC(empty.get(), std::errc::invalid_argument);
    CHECK_ERRC(empty.wait(), std::errc::invalid_argument);
    CHECK_ERRC(empty.wait_for(1ms), std::errc::invalid_argument);
    weft::pool p(1);
    weft::pool q(std::move(p));
    CHECK_ERRC(p.async([] { return 1; }), std::errc::invalid_argument); /* moved from */
    /* A task that waits for its own future: EPERM, whatever the timeout. */
    weft::future<bool> self;
    std::atomic<bool> ready{false};
    self = q.async([&self, &ready] {
        while (!ready.load())
            std::this_thread::sleep_for(1ms);
        try {
            self.wait_for(1ms);
        } catch (const std::system_error &e) {
            return e.code() == std::errc::operation_not_permitted;
        }
        return false;
    });
    ready = true;
    self.wait(); /* waits alongside the task's own wait_for, then get() alone */
    CHECK(self.get());
}
