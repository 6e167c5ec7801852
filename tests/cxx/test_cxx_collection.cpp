// SPDX-License-Identifier: MIT
// weft::collection<T> (weft/weft.hpp): inline and heap-stored items, move-
// only items, the three orders, capacity and timeouts, complete_adding
// (take's empty optional), shutdown (operation_canceled) and drain, the
// destructor freeing what is left, task_done/join, producer counting,
// complete_adding with an error code (take throws it), stats, many
// threads, moves, bad input.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "cxx_check.hpp"

using namespace std::chrono_literals;

struct point {
    int x, y;
};
struct big {
    long a[4];
};
struct unordered {
    std::string s;
};

static_assert(weft::collection<int>::stored_inline);
static_assert(weft::collection<int *>::stored_inline);
static_assert(weft::collection<point>::stored_inline);
static_assert(!weft::collection<big>::stored_inline);
static_assert(!weft::collection<std::string>::stored_inline);
static_assert(!weft::collection<std::unique_ptr<int>>::stored_inline);

TEST(fifo_until_completed)
{
    weft::collection<int> c;
    for (int i = 0; i < 100; i++)
        c.add(i);
    CHECK(c.size() == 100);
    CHECK(c.capacity() == 0);
    c.complete_adding();
    CHECK(c.is_adding_completed() && !c.is_completed());
    int want = 0;
    while (auto v = c.take())
        CHECK(*v == want++);
    CHECK(want == 100);
    CHECK(c.is_completed());
    CHECK(!c.take());       /* still empty, at once */
    CHECK(!c.try_take(1s)); /* completed: at once, whatever the timeout */
}

TEST(heap_items)
{
    weft::collection<std::string> c;
    std::string s = "a string too long for the small-string buffer";
    c.add(s); /* a copy */
    c.add(std::string(3, 'x'));
    CHECK(s == "a string too long for the small-string buffer");
    CHECK(*c.take() == s);
    CHECK(*c.try_take() == "xxx");
    weft::collection<std::unique_ptr<int>> u; /* move-only */
    u.add(std::make_unique<int>(5));
    std::optional<std::unique_ptr<int>> got = u.take();
    CHECK(got && **got == 5);
    weft::collection<big> b;
    b.add(big{{1, 2, 3, 4}});
    CHECK(b.take()->a[3] == 4);
    weft::collection<point> pts;
    pts.add(point{-1, 7});
    point pt = *pts.take();
    CHECK(pt.x == -1 && pt.y == 7);
}

TEST(pointers_are_items)
{
    int x = 3;
    weft::collection<int *> c;
    c.add(&x);
    c.add(nullptr);
    CHECK(*c.take() == &x);
    std::optional<int *> n = c.take();
    CHECK(n && *n == nullptr); /* a null item is an item, not the end */
}

TEST(lifo_and_priority)
{
    weft::collection<int> l(0, weft::order::lifo);
    for (int i = 0; i < 5; i++)
        l.add(i);
    for (int i = 4; i >= 0; i--)
        CHECK(*l.take() == i);

    weft::collection<int> pq(0, weft::order::priority); /* std::less: smallest first */
    for (int v : {5, 1, 4, 2, 3})
        pq.add(v);
    for (int i = 1; i <= 5; i++)
        CHECK(*pq.take() == i);

    weft::collection<std::string, std::greater<std::string>> big_first(0, weft::order::priority);
    for (const char *w : {"pear", "apple", "quince", "fig"})
        big_first.add(w);
    CHECK(*big_first.take() == "quince");
    CHECK(*big_first.take() == "pear");

    /* No operator<: PRIORITY cannot order the items. */
    CHECK_ERRC((weft::collection<unordered>(0, weft::order::priority)),
               std::errc::invalid_argument);
    weft::collection<unordered> fifo; /* the other orders need none */
    fifo.add(unordered{"u"});
    CHECK(fifo.take()->s == "u");
}

TEST(capacity_and_timeouts)
{
    weft::collection<std::string> c(2);
    CHECK(c.capacity() == 2);
    CHECK(c.try_add("one"));
    CHECK(c.try_add("two", 10ms));
    std::string third = "third, long enough to live on the heap of std::string";
    CHECK(!c.try_add(std::move(third)));       /* full, no wait */
    CHECK(third.size() > 20);                  /* not moved from */
    auto t0 = std::chrono::steady_clock::now();
    CHECK(!c.try_add(std::move(third), 20ms)); /* full, waited */
    CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
    CHECK(third.size() > 20);
    CHECK(*c.take() == "one");
    CHECK(c.try_add(std::move(third), 1h));

    weft::collection<int> e;
    CHECK(!e.try_take());
    t0 = std::chrono::steady_clock::now();
    CHECK(!e.try_take(15ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 15ms);
    CHECK(!e.try_take(-5s)); /* negative: no wait */
    e.add(1);
    CHECK(*e.try_take(std::chrono::hours::max()) == 1); /* saturates, no overflow */
    e.add(2);
    CHECK(*e.try_take(std::chrono::duration<double, std::milli>(0.5)) == 2);
}

TEST(add_after_complete_adding_is_broken_pipe)
{
    weft::collection<std::string> c;
    c.add("x");
    c.complete_adding();
    CHECK_ERRC(c.add("y"), std::errc::broken_pipe);
    CHECK_ERRC(c.try_add("y"), std::errc::broken_pipe);
    CHECK(*c.take() == "x"); /* what is inside still comes out */
    CHECK(!c.take());
}

TEST(shutdown_cancels_and_drain_returns_the_rest)
{
    weft::collection<std::string> c(2);
    c.add("left 1");
    c.add("left 2");
    std::atomic<bool> adder_cancelled{false};
    std::thread adder([&] { /* blocks: full */
        try {
            c.add("never");
        } catch (const std::system_error &e) {
            adder_cancelled = e.code() == std::errc::operation_canceled;
        }
    });
    weft::collection<int> empty;
    std::atomic<bool> taker_cancelled{false};
    std::thread taker([&] { /* blocks: empty */
        try {
            (void)empty.take();
        } catch (const std::system_error &e) {
            taker_cancelled = e.code() == std::errc::operation_canceled;
        }
    });
    /* Blocked or not yet: either way they get operation_canceled. */
    c.shutdown();
    empty.shutdown();
    adder.join();
    taker.join();
    CHECK(adder_cancelled.load());
    CHECK(taker_cancelled.load());
    CHECK_ERRC(c.take(), std::errc::operation_canceled);
    CHECK_ERRC(c.try_take(), std::errc::operation_canceled);
    CHECK_ERRC(c.add("z"), std::errc::operation_canceled);
    std::vector<std::string> rest = c.drain();
    CHECK(rest.size() == 2 && rest[0] == "left 1" && rest[1] == "left 2");
    CHECK(c.drain().empty());
}

TEST(destructor_frees_what_is_left)
{
    auto token = std::make_shared<int>(0);
    {
        weft::collection<std::shared_ptr<int>> c;
        for (int i = 0; i < 10; i++)
            c.add(token);
        CHECK(token.use_count() == 11);
    }
    CHECK(token.use_count() == 1);
}

TEST(task_done_and_join)
{
    weft::collection<int> c;
    CHECK(c.try_join(0s)); /* nothing unfinished */
    for (int i = 0; i < 10; i++)
        c.add(i);
    CHECK(!c.try_join(0s));
    CHECK(!c.try_join(5ms));
    std::thread worker([&c] {
        for (int i = 0; i < 10; i++) {
            (void)c.take();
            c.task_done();
        }
    });
    c.join();
    worker.join();
    CHECK_ERRC(c.task_done(), std::errc::invalid_argument); /* one too many */
}

TEST(many_producers_and_consumers)
{
    weft::collection<std::string> c(16);
    constexpr int producers = 4, consumers = 4, per = 1000;
    std::vector<std::thread> ps, cs;
    std::vector<std::vector<int>> seen(consumers);
    for (int p = 0; p < producers; p++)
        ps.emplace_back([&c, p] {
            for (int i = 0; i < per; i++)
                c.add(std::to_string(p * per + i));
        });
    for (int k = 0; k < consumers; k++)
        cs.emplace_back([&c, &seen, k] {
            while (auto s = c.take())
                seen[k].push_back(std::stoi(*s));
        });
    for (auto &t : ps)
        t.join();
    c.complete_adding();
    for (auto &t : cs)
        t.join();
    std::vector<int> all;
    for (auto &v : seen)
        all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    CHECK(all.size() == static_cast<std::size_t>(producers * per));
    for (int i = 0; i < producers * per; i++)
        CHECK(all[static_cast<std::size_t>(i)] == i); /* each exactly once */
}

TEST(moves)
{
    weft::collection<std::string> a;
    a.add("moved along");
    weft::collection<std::string> b(std::move(a));
    CHECK(a.native_handle() == nullptr); // NOLINT(bugprone-use-after-move)
    CHECK(a.size() == 0 && !a.is_completed());
    CHECK_ERRC(a.add("no"), std::errc::invalid_argument);
    CHECK_ERRC(a.take(), std::errc::invalid_argument);
    CHECK(a.drain().empty());
    weft::collection<std::string> c;
    c.add("dropped with c's old collection");
    c = std::move(b);
    CHECK(*c.take() == "moved along");
}

TEST(producers_complete_adding)
{
    weft::collection<int> c(8);
    constexpr int producers = 4, each = 500;
    for (int i = 0; i < producers; i++)
        c.add_producer(); /* before any starts, so none ends adding early */
    std::vector<std::thread> ts;
    for (int t = 0; t < producers; t++)
        ts.emplace_back([&c] {
            for (int i = 0; i < each; i++)
                c.add(1);
            c.producer_done();
        });
    long sum = 0;
    while (auto x = c.take()) /* empty once the last producer is done */
        sum += *x;
    for (auto &t : ts)
        t.join();
    CHECK(sum == producers * each);
    CHECK(c.is_completed());
    CHECK_ERRC(c.add_producer(), std::errc::broken_pipe);   /* completed: not counted */
    CHECK_ERRC(c.producer_done(), std::errc::invalid_argument); /* none registered */
    weft::collection<int> d;
    CHECK_ERRC(d.producer_done(), std::errc::invalid_argument);
    d.shutdown();
    CHECK_ERRC(d.add_producer(), std::errc::operation_canceled);
}

TEST(complete_adding_with_an_error)
{
    weft::collection<std::string> c;
    c.add("a");
    c.add("b");
    CHECK(c.complete_adding(std::errc::io_error));
    CHECK(!c.complete_adding(std::errc::no_such_file_or_directory)); /* the first close wins */
    CHECK(!c.complete_adding(std::make_error_code(std::errc::io_error)));
    CHECK_ERRC(c.add("c"), std::errc::broken_pipe);
    CHECK(*c.take() == "a"); /* what is left comes first */
    CHECK(*c.try_take() == "b");
    CHECK_ERRC(c.take(), std::errc::io_error); /* then the error, every time */
    CHECK_ERRC(c.try_take(), std::errc::io_error);
    CHECK_ERRC(c.try_take(std::chrono::seconds(5)), std::errc::io_error);
    CHECK(c.drain().empty());
    /* A blocked taker is woken with it. */
    weft::collection<int> d;
    std::atomic<bool> got{false};
    std::thread taker([&] {
        try {
            d.take();
        } catch (const std::system_error &e) {
            got = e.code() == std::errc::connection_reset;
        }
    });
    std::this_thread::sleep_for(10ms);
    CHECK(d.complete_adding(std::make_error_code(std::errc::connection_reset)));
    taker.join();
    CHECK(got);
    /* broken_pipe is a plain close: take() returns an empty optional. */
    weft::collection<int> e;
    CHECK(e.complete_adding(std::errc::broken_pipe));
    CHECK(!e.take());
    /* Refused codes and categories; after shutdown nothing changes. */
    weft::collection<int> f;
    CHECK_ERRC(f.complete_adding(std::errc::timed_out), std::errc::invalid_argument);
    CHECK_ERRC(f.complete_adding(std::errc::operation_canceled), std::errc::invalid_argument);
    CHECK_ERRC(f.complete_adding(std::error_code(5, std::system_category())),
               std::errc::invalid_argument);
    CHECK(!f.is_adding_completed());
    f.shutdown();
    CHECK(!f.complete_adding(std::errc::io_error));
    CHECK_ERRC(f.take(), std::errc::operation_canceled);
    /* The producer count's close counts as the first close. */
    weft::collection<int> g;
    g.add_producer();
    g.producer_done();
    CHECK(!g.complete_adding(std::errc::io_error));
    CHECK(!g.take());
}

TEST(stats)
{
    weft::collection<int> c(2);
    struct weft_collection_stats s = c.stats();
    CHECK(s.added == 0 && s.taken == 0 && s.drained == 0 && s.max_count == 0);
    c.add(1);
    c.add(2);
    CHECK(!c.try_add(3, 5ms)); /* full */
    CHECK(*c.take() == 1);
    c.add(3);
    CHECK(c.drain().size() == 2);
    /* A taker that sleeps while empty, woken by an add. Whether it is
     * asleep before the add comes depends on the OS scheduler (a thread
     * may not run for a long while on a loaded machine), so rounds until
     * one did sleep; a wait that is not counted fails after 200. */
    std::uint64_t rounds = 0;
    do {
        std::thread taker([&c] { c.take(); });
        std::this_thread::sleep_for(20ms);
        c.add(4);
        taker.join();
        rounds++;
    } while (c.stats().take_waits == 0 && rounds < 200);
    s = c.stats();
    CHECK(s.added == 3 + rounds);
    CHECK(s.taken == 1 + rounds);
    CHECK(s.drained == 2);
    CHECK(s.max_count == 2);
    CHECK(s.add_waits >= 1 && s.add_wait_ns > 0);
    CHECK(s.take_waits >= 1 && s.take_wait_ns > 0);
    weft::collection<int> d(std::move(c));
    CHECK_ERRC(c.stats(), std::errc::invalid_argument); /* moved from */
    CHECK(d.stats().added == 3 + rounds);
}
