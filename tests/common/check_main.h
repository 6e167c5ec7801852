/* SPDX-License-Identifier: MIT */
/*
 * tests/common/check_main.h - the Check boilerplate every suite shares.
 *
 * weft_test_case(s, name, fn, timeout) adds a TCase of one test with its
 * timeout (every TCase has one); WEFT_TEST_CASE(s, fn, timeout) does the
 * same with the test's own name; weft_test_run(s) runs the suite in Check's
 * default fork mode and returns the process exit status (0: all passed).
 */
#ifndef WEFT_TESTS_CHECK_MAIN_H
#define WEFT_TESTS_CHECK_MAIN_H

#include <check.h>

static inline void weft_test_case(Suite *s, const char *name, const TTest *fn, double timeout)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    tcase_add_test(tc, fn);
    suite_add_tcase(s, tc);
}

#define WEFT_TEST_CASE(s, fn, timeout) weft_test_case((s), #fn, (fn), (timeout))

/* The same, with Check tags (space-separated), which CK_EXCLUDE_TAGS and
 * CK_INCLUDE_TAGS select on. Tag "fork": the test forks while the pool's
 * threads run (tests/stress/valgrind_unit.sh leaves those out). */
static inline void weft_test_case_tagged(Suite *s, const char *name, const TTest *fn,
                                         double timeout, const char *tags)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, timeout);
    tcase_set_tags(tc, tags);
    tcase_add_test(tc, fn);
    suite_add_tcase(s, tc);
}

#define WEFT_TEST_CASE_TAGGED(s, fn, timeout, tags)                                             \
    weft_test_case_tagged((s), #fn, (fn), (timeout), (tags))

static inline int weft_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif /* WEFT_TESTS_CHECK_MAIN_H */
