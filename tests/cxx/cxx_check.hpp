// SPDX-License-Identifier: MIT
// A minimal test harness for the C++ tests (Check is C): TEST(name) defines
// a case, CHECK(cond) fails it. Checks do not depend on NDEBUG. The runner
// runs every case in order, or those named on the command line, prints one
// line per case, and aborts at the first failure (CTest shows the output).
#ifndef WEFT_TESTS_CXX_CHECK_HPP
#define WEFT_TESTS_CXX_CHECK_HPP

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <system_error>
#include <vector>

namespace weft_test {

struct test_case {
    const char *tc_name;
    void (*tc_fn)();
};

inline std::vector<test_case> &registry()
{
    static std::vector<test_case> cases;
    return cases;
}

struct registrar {
    registrar(const char *name, void (*fn)()) { registry().push_back({name, fn}); }
};

[[noreturn]] inline void fail(const char *file, int line, const char *what)
{
    std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    std::fflush(stderr);
    std::abort();
}

} // namespace weft_test

#define TEST(name)                                                                            \
    static void name();                                                                       \
    static const weft_test::registrar name##_registrar(#name, name);                          \
    static void name()

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond))                                                                          \
            weft_test::fail(__FILE__, __LINE__, #cond);                                       \
    } while (0)

// CHECK_ERRC(expr, errc): expr throws std::system_error with that std::errc.
#define CHECK_ERRC(expr, errc)                                                                \
    do {                                                                                      \
        bool thrown_ = false;                                                                 \
        try {                                                                                 \
            (void)(expr);                                                                     \
        } catch (const std::system_error &e_) {                                               \
            thrown_ = true;                                                                   \
            if (e_.code() != (errc))                                                          \
                weft_test::fail(__FILE__, __LINE__, "wrong error from " #expr);               \
        }                                                                                     \
        if (!thrown_)                                                                         \
            weft_test::fail(__FILE__, __LINE__, "no std::system_error from " #expr);          \
    } while (0)

// CHECK_THROWS(expr, type): expr throws an exception of that type.
#define CHECK_THROWS(expr, type)                                                              \
    do {                                                                                      \
        bool thrown_ = false;                                                                 \
        try {                                                                                 \
            (void)(expr);                                                                     \
        } catch (const type &) {                                                              \
            thrown_ = true;                                                                   \
        }                                                                                     \
        if (!thrown_)                                                                         \
            weft_test::fail(__FILE__, __LINE__, "no " #type " from " #expr);                  \
    } while (0)

int main(int argc, char **argv)
{
    int ran = 0;
    for (const weft_test::test_case &tc : weft_test::registry()) {
        bool selected = argc < 2;
        for (int i = 1; i < argc; i++)
            selected = selected || std::strcmp(argv[i], tc.tc_name) == 0;
        if (!selected)
            continue;
        tc.tc_fn();
        std::printf("ok %s\n", tc.tc_name);
        std::fflush(stdout);
        ran++;
    }
    std::printf("%d test(s) passed\n", ran);
    return ran > 0 ? 0 : 1;
}

#endif // WEFT_TESTS_CXX_CHECK_HPP
