// SPDX-License-Identifier: MIT
// weft::parallel_reduce (weft/weft.hpp): sums, in-place and value-returning
// bodies and combines, a plain struct accumulator, the order of
// combination, float results bit for bit across 1, 2 and 8 workers and
// both schedulers, exceptions from a body and from a combine, calls from
// workers and from many threads, bad input.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <weft/weft.hpp>

#include "cxx_check.hpp"

TEST(reduce_sums)
{
    weft::pool p(2);
    std::vector<long> v(100000);
    for (std::size_t i = 0; i < v.size(); i++)
        v[i] = long(i);
    long sum = weft::parallel_reduce(
        p, 0, v.size(), 0L,
        [&v](std::size_t lo, std::size_t hi, long acc) {
            for (std::size_t i = lo; i < hi; i++)
                acc += v[i];
            return acc;
        },
        std::plus<>());
    CHECK(sum == 99999L * 100000 / 2);
    /* In place, with a grain, and an empty range (the identity). */
    auto body = [](std::size_t lo, std::size_t hi, long &acc) { acc += long(hi - lo); };
    auto combine = [](long &a, const long &b) { a += b; };
    CHECK(weft::parallel_reduce(p, 10, 1010, 0L, body, combine, 7) == 1000);
    CHECK(weft::parallel_reduce(p, 5, 5, 123L, body, combine) == 123);
}

TEST(reduce_struct_and_order)
{
    weft::pool p(4);
    /* min, max and count at once. */
    struct stats {
        int lo, hi;
        std::size_t n;
    };
    std::vector<int> v(5000);
    for (std::size_t i = 0; i < v.size(); i++)
        v[i] = int((i * 7919) % 10007) - 5000;
    stats s = weft::parallel_reduce(
        p, 0, v.size(), stats{1 << 30, -(1 << 30), 0},
        [&v](std::size_t lo, std::size_t hi, stats &a) {
            for (std::size_t i = lo; i < hi; i++) {
                a.lo = std::min(a.lo, v[i]);
                a.hi = std::max(a.hi, v[i]);
                a.n++;
            }
        },
        [](const stats &a, const stats &b) {
            return stats{std::min(a.lo, b.lo), std::max(a.hi, b.hi), a.n + b.n};
        });
    CHECK(s.n == v.size());
    CHECK(s.lo == *std::min_element(v.begin(), v.end()));
    CHECK(s.hi == *std::max_element(v.begin(), v.end()));
    /* combine gets the left range first: [lo, hi) spans join in order. */
    struct span {
        std::size_t lo, hi;
        bool ok;
    };
    span r = weft::parallel_reduce(
        p, 3, 4003, span{0, 0, true},
        [](std::size_t lo, std::size_t hi, span &a) { a = span{lo, hi, a.ok && a.lo == a.hi}; },
        [](span &a, const span &b) { a = span{a.lo, b.hi, a.ok && b.ok && a.hi == b.lo}; }, 10);
    CHECK(r.ok && r.lo == 3 && r.hi == 4003);
}

/* A float sum whose rounding depends on the order of the additions. */
static float float_sum(weft::pool &p, const std::vector<float> &v, std::size_t grain)
{
    return weft::parallel_reduce(
        p, 0, v.size(), 0.0f,
        [&v](std::size_t lo, std::size_t hi, float acc) {
            for (std::size_t i = lo; i < hi; i++)
                acc += v[i];
            return acc;
        },
        std::plus<>(), grain);
}

static std::uint32_t bits(float f)
{
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

TEST(reduce_float_is_bit_identical_across_workers)
{
    std::vector<float> v(200003);
    std::uint32_t x = 12345;
    for (float &f : v) {
        x = x * 1664525u + 1013904223u;
        f = float(x >> 8) * 1e-3f * ((x & 1) ? 1.0f : -1e-4f);
    }
    for (std::size_t grain : {std::size_t(0), std::size_t(1000), std::size_t(77)}) {
        std::uint32_t first = 0;
        bool have = false;
        for (unsigned workers : {1u, 2u, 8u}) {
            for (weft::scheduler sch : {weft::scheduler::stealing, weft::scheduler::shared}) {
                weft::pool_options o;
                o.workers = workers;
                o.scheduler = sch;
                weft::pool p(o);
                for (int rep = 0; rep < 3; rep++) {
                    std::uint32_t b = bits(float_sum(p, v, grain));
                    if (!have)
                        first = b, have = true;
                    CHECK(b == first);
                }
            }
        }
    }
    /* Sanity: the order does change the sum, so the check above means something. */
    float forward = 0, backward = 0;
    for (std::size_t i = 0; i < v.size(); i++)
        forward += v[i];
    for (std::size_t i = v.size(); i-- > 0;)
        backward += v[i];
    CHECK(bits(forward) != bits(backward));
}

TEST(reduce_rethrows_the_first_exception)
{
    weft::pool p(4);
    std::atomic<int> calls{0};
    auto throwing_body = [&calls](std::size_t lo, std::size_t hi, long acc) {
        calls++;
        if (lo == 0) /* the leftmost leaf: the first the calling worker reaches */
            throw std::runtime_error("body");
        return acc + long(hi - lo);
    };
    CHECK_THROWS(weft::parallel_reduce(p, 0, 100000, 0L, throwing_body, std::plus<>(), 10),
                 std::runtime_error);
    /* The sub-ranges not started are skipped. Counted on one worker, where
     * the order is fixed (left half first): with more, how many leaves run
     * before the stop is seen depends on the OS scheduler. */
    {
        weft::pool one(1);
        calls = 0;
        CHECK_THROWS(weft::parallel_reduce(one, 0, 100000, 0L, throwing_body, std::plus<>(), 10),
                     std::runtime_error);
        CHECK(calls == 1);
    }
    auto throwing_combine = [](long a, long b) -> long {
        if (a + b > 50)
            throw std::logic_error("combine");
        return a + b;
    };
    auto count = [](std::size_t lo, std::size_t hi, long acc) { return acc + long(hi - lo); };
    CHECK_THROWS(weft::parallel_reduce(p, 0, 1000, 0L, count, throwing_combine, 10),
                 std::logic_error);
    /* The pool is fine afterwards. */
    CHECK(weft::parallel_reduce(p, 0, 1000, 0L, count, std::plus<>(), 10) == 1000);
}

TEST(reduce_from_workers_and_threads)
{
    weft::pool p(3);
    auto count = [](std::size_t lo, std::size_t hi, long acc) { return acc + long(hi - lo); };
    /* Nested: a reduce whose body reduces. */
    long nested = p.call([&] {
        return weft::parallel_reduce(
            p, 0, 20, 0L,
            [&](std::size_t lo, std::size_t hi, long acc) {
                for (std::size_t i = lo; i < hi; i++)
                    acc += weft::parallel_reduce(p, 0, 100, 0L, count, std::plus<>(), 9);
                return acc;
            },
            std::plus<>(), 3);
    });
    CHECK(nested == 2000);
    std::vector<std::thread> ts;
    std::atomic<int> bad{0};
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&] {
            for (int i = 0; i < 50; i++)
                if (weft::parallel_reduce(p, 0, 5000, 0L, count, std::plus<>()) != 5000)
                    bad++;
        });
    for (auto &t : ts)
        t.join();
    CHECK(bad == 0);
}

TEST(reduce_bad_input)
{
    weft::pool p(2);
    auto count = [](std::size_t lo, std::size_t hi, long acc) { return acc + long(hi - lo); };
    CHECK_ERRC(weft::parallel_reduce(p, 10, 5, 0L, count, std::plus<>()),
               std::errc::invalid_argument);
    weft::pool q(std::move(p));
    CHECK_ERRC(weft::parallel_reduce(p, 0, 5, 0L, count, std::plus<>()),
               std::errc::invalid_argument); /* moved from */
    CHECK(weft::parallel_reduce(q, 0, 5, 0L, count, std::plus<>()) == 5);
}
