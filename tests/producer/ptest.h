/* SPDX-License-Identifier: MIT */
/* ptest.h — shared bits of the producer unit tests: unique shm names and a
 * table-driven Check runner (the same shape as tests/common/testutil.h). */
#ifndef SEQTICK_PTEST_H
#define SEQTICK_PTEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "producer.h"
#include "segment-private.h"

/* A shm name no other test uses: "/stk-p-<tag>-<pid>-<n>". */
static inline const char *test_shm_name(const char *tag)
{
    static char buf[8][96];
    static int n;
    char *b = buf[n++ & 7];
    snprintf(b, 96, "/stk-p-%s-%ld-%d", tag, (long)getpid(), n);
    return b;
}

struct test_case {
    const char *tcase; /* "core", "limits", "errors" */
    const TTest *test;
};

static inline int test_run(const char *suite_name, const struct test_case *tests, size_t n)
{
    Suite *s = suite_create(suite_name);
    TCase *tc = NULL;
    const char *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cur || strcmp(cur, tests[i].tcase) != 0) {
            cur = tests[i].tcase;
            tc = tcase_create(cur);
            tcase_set_timeout(tc, 120);
            suite_add_tcase(s, tc);
        }
        tcase_add_test(tc, tests[i].test);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define TEST_TABLE_RUN(name, table) test_run(name, table, sizeof(table) / sizeof(table[0]))

#endif
