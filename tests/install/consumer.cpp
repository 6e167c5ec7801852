// SPDX-License-Identifier: MIT
// A C++ program built against the installed weft (weft/weft.hpp): links,
// runs, checks a pool, a task group with an exception, parallel_for and a
// collection of strings.
#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

int main()
{
    if (std::strcmp(weft::version(), WEFT_VERSION_STRING) != 0)
        return 1;
    weft::pool pool(2);
    if (pool.call([] { return 6 * 7; }) != 42)
        return 2;

    weft::task_group g(pool);
    std::atomic<int> n{0};
    for (int i = 0; i < 100; i++)
        g.run([&n] { n++; });
    g.wait();
    g.run([] { throw std::runtime_error("from a task"); });
    try {
        g.wait();
        return 3;
    } catch (const std::runtime_error &) {
    }

    std::vector<int> v(1000);
    weft::parallel_for(pool, 0, v.size(), [&v](std::size_t i) { v[i] = static_cast<int>(i); });
    if (n != 100 || v[999] != 999)
        return 4;

    weft::collection<std::string> q(4);
    q.add("hello");
    q.complete_adding();
    std::string got;
    while (auto s = q.take())
        got += *s;
    if (got != "hello")
        return 5;
    std::puts("c++ consumer ok");
    return 0;
}
