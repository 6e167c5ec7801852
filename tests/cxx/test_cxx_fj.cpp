// SPDX-License-Identifier: MIT
// Typed fork-join tasks (weft/fj.h) compiled as C++: fib on 1, 2 and 4
// workers, a task that is certainly stolen, SHARED mode, a thread that is
// no worker, every arity, void tasks, C++ argument types (references to
// std::vector through pointers, std::atomic), and typed spawns mixed with
// weft_spawn and a weft_group in one body. The pools run the roots through
// weft::pool::call (weft/weft.hpp), the way a C++ program would.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

#include <weft/fj.h>
#include <weft/weft.hpp>

#include "cxx_check.hpp"

namespace {

std::uint64_t fib_serial(int n)
{
    return n < 2 ? std::uint64_t(n) : fib_serial(n - 1) + fib_serial(n - 2);
}

weft::pool make_pool(unsigned workers, weft::scheduler s = weft::scheduler::stealing)
{
    weft::pool_options o;
    o.workers = workers;
    o.scheduler = s;
    return weft::pool(o);
}

// Workers' and spares' steals: a root that waits for its stolen task may
// block, and a spare called meanwhile may do the next round's steal (its
// entry follows the workers'; unused entries are zeroed).
std::uint64_t total_steals(const weft::pool &p)
{
    weft_worker_stats st[16];
    CHECK(weft_pool_stats(p.native_handle(), st, 16) == 0);
    std::uint64_t s = 0;
    for (const weft_worker_stats &w : st)
        s += w.steals;
    return s;
}

} // namespace

// The README's example, as C++.
WEFT_TASK_1(std::uint64_t, fib, int, n)
{
    if (n < 2)
        return std::uint64_t(n);
    WEFT_FRAME(fib) f;
    WEFT_SPAWN(fib, &f, n - 1);
    std::uint64_t b = WEFT_CALL(fib, n - 2);
    return WEFT_SYNC(fib, &f) + b;
}

TEST(fib_on_workers)
{
    for (unsigned w : {1u, 2u, 4u}) {
        weft::pool p = make_pool(w);
        CHECK(p.call([] { return fib(25); }) == fib_serial(25));
    }
}

TEST(fib_shared_mode)
{
    weft::pool p = make_pool(2, weft::scheduler::shared);
    CHECK(p.call([] { return fib(20); }) == fib_serial(20));
    CHECK(total_steals(p) == 0);
}

TEST(fib_off_pool_runs_serially)
{
    CHECK(fib(20) == fib_serial(20)); // the test's main thread
    std::uint64_t r = 0;
    std::thread t([&] { r = fib(18); }); // a thread no pool knows
    t.join();
    CHECK(r == fib_serial(18));
}

// A task that waits for nothing and reports where it ran; its spawner
// keeps spawning and syncing until a thief has started it.
WEFT_TASK_1(int, noop, int, x)
{
    return x;
}

WEFT_TASK_1(int, where_run, std::atomic<int> *, started)
{
    started->store(1, std::memory_order_relaxed); // the spawner only waits for the value
    return weft_worker_index();
}

WEFT_TASK_1(bool, steal_root, int, unused)
{
    (void)unused;
    std::atomic<int> started{0};
    WEFT_FRAME(where_run) f;
    WEFT_SPAWN(where_run, &f, &started);
    while (started.load(std::memory_order_relaxed) == 0) {
        WEFT_FRAME(noop) g;
        WEFT_SPAWN(noop, &g, 1);
        CHECK(WEFT_SYNC(noop, &g) == 1);
    }
    int thief = WEFT_SYNC(where_run, &f);
    return thief != weft_worker_index();
}

TEST(stolen_task_result)
{
    weft::pool p = make_pool(2);
    for (int round = 0; round < 20; round++)
        CHECK(p.call([] { return steal_root(0); }));
    CHECK(total_steals(p) >= 20);
}

// Every arity, with and without a result, each spawned and synced.
WEFT_TASK_2(long, lin2, long, a, long, b)
{
    return 2 * a + b;
}

WEFT_TASK_3(long, lin3, long, a, long, b, long, c)
{
    return 3 * a + 2 * b + c;
}

WEFT_TASK_4(long, lin4, long, a, long, b, long, c, long, d)
{
    return 4 * a + 3 * b + 2 * c + d;
}

WEFT_VOID_TASK_1(store1, long *, out)
{
    *out = 1;
}

WEFT_VOID_TASK_2(store2, long *, out, long, a)
{
    *out = a;
}

WEFT_VOID_TASK_3(store3, long *, out, long, a, long, b)
{
    *out = a + b;
}

WEFT_VOID_TASK_4(store4, long *, out, long, a, long, b, long, c)
{
    *out = a + b + c;
}

WEFT_TASK_1(long, arities, int, unused)
{
    (void)unused;
    long o1 = 0, o2 = 0, o3 = 0, o4 = 0;
    WEFT_FRAME(noop) f1;
    WEFT_FRAME(lin2) f2;
    WEFT_FRAME(lin3) f3;
    WEFT_FRAME(lin4) f4;
    WEFT_FRAME(store1) v1;
    WEFT_FRAME(store2) v2;
    WEFT_FRAME(store3) v3;
    WEFT_FRAME(store4) v4;
    WEFT_SPAWN(noop, &f1, 1);
    WEFT_SPAWN(lin2, &f2, 1, 2);
    WEFT_SPAWN(lin3, &f3, 1, 2, 3);
    WEFT_SPAWN(lin4, &f4, 1, 2, 3, 4);
    WEFT_SPAWN(store1, &v1, &o1);
    WEFT_SPAWN(store2, &v2, &o2, 2);
    WEFT_SPAWN(store3, &v3, &o3, 1, 2);
    WEFT_SPAWN(store4, &v4, &o4, 1, 2, 1);
    WEFT_SYNC(store4, &v4);
    WEFT_SYNC(store3, &v3);
    WEFT_SYNC(store2, &v2);
    WEFT_SYNC(store1, &v1);
    long r = WEFT_SYNC(lin4, &f4);     // 20
    r = r * 100 + WEFT_SYNC(lin3, &f3); // 10
    r = r * 100 + WEFT_SYNC(lin2, &f2); // 4
    r = r * 100 + WEFT_SYNC(noop, &f1); // 1
    long calls = WEFT_CALL(lin2, 1, 1) + WEFT_CALL(lin3, 1, 1, 1) + WEFT_CALL(lin4, 1, 1, 1, 1);
    WEFT_CALL(store4, &o4, 2, 2, 2);
    return r * 1000 + calls * 10 + o1 + o2 + o3 + o4; // o4 is 6 after the call
}

TEST(every_arity)
{
    const long want = 20100401L * 1000 + (3 + 6 + 10) * 10 + 1 + 2 + 3 + 6;
    CHECK(arities(0) == want); // serially, off the pool
    for (unsigned w : {1u, 4u}) {
        weft::pool p = make_pool(w);
        CHECK(p.call([] { return arities(0); }) == want);
    }
    weft::pool s = make_pool(2, weft::scheduler::shared);
    CHECK(s.call([] { return arities(0); }) == want);
}

// A divide-and-conquer sum over a std::vector: void tasks in a loop of
// spawns, synced in reverse, with C++ types behind the pointers.
WEFT_VOID_TASK_4(sum_range, const std::vector<long> *, v, std::size_t, lo, std::size_t, hi,
                 long *, out)
{
    if (hi - lo <= 64) {
        *out = std::accumulate(v->begin() + std::ptrdiff_t(lo), v->begin() + std::ptrdiff_t(hi),
                               0L);
        return;
    }
    const std::size_t parts = 4;
    long sums[parts] = {};
    WEFT_FRAME(sum_range) f[parts - 1];
    std::size_t step = (hi - lo) / parts;
    for (std::size_t i = 0; i + 1 < parts; i++)
        WEFT_SPAWN(sum_range, &f[i], v, lo + i * step, lo + (i + 1) * step, &sums[i]);
    WEFT_CALL(sum_range, v, lo + (parts - 1) * step, hi, &sums[parts - 1]);
    for (std::size_t i = parts - 1; i-- > 0;)
        WEFT_SYNC(sum_range, &f[i]);
    *out = std::accumulate(sums, sums + parts, 0L);
}

TEST(void_tasks_over_a_vector)
{
    std::vector<long> v(100000);
    std::iota(v.begin(), v.end(), 1L);
    const long want = long(v.size()) * long(v.size() + 1) / 2;
    for (unsigned w : {1u, 2u, 4u}) {
        weft::pool p = make_pool(w);
        long total = 0;
        p.call([&] { sum_range(&v, 0, v.size(), &total); });
        CHECK(total == want);
    }
}

// Typed spawns around untyped ones: a weft_spawn and a group's heap task
// sit on the deque above typed frames, so the typed syncs take their slow
// paths and must lose nothing.
static std::atomic<int> untyped_ran{0};

static int untyped_fn(void *arg)
{
    (void)arg;
    untyped_ran.fetch_add(1, std::memory_order_relaxed); // a count, read after the pool's wait
    return 0;
}

WEFT_TASK_1(int, mix, int, n)
{
    if (n == 0)
        return 1;
    WEFT_FRAME(mix) a;
    WEFT_SPAWN(mix, &a, n - 1);
    weft_task t;
    CHECK(weft_spawn(&t, untyped_fn, nullptr) == 0);
    weft_group g;
    CHECK(weft_group_init(&g, nullptr) == 0);
    CHECK(weft_group_spawn(&g, untyped_fn, nullptr) == 0);
    WEFT_FRAME(mix) b;
    WEFT_SPAWN(mix, &b, n - 1);
    int rb = WEFT_SYNC(mix, &b);
    CHECK(weft_group_wait(&g) == 0);
    CHECK(weft_sync(&t) == 0);
    return WEFT_SYNC(mix, &a) + rb;
}

TEST(mixed_with_weft_spawn_and_groups)
{
    for (unsigned w : {1u, 2u, 4u}) {
        untyped_ran = 0;
        weft::pool p = make_pool(w);
        CHECK(p.call([] { return mix(8); }) == 256);
        CHECK(untyped_ran.load() == 2 * 255);
    }
    untyped_ran = 0;
    weft::pool s = make_pool(2, weft::scheduler::shared);
    CHECK(s.call([] { return mix(6); }) == 64);
    CHECK(untyped_ran.load() == 2 * 63);
}
