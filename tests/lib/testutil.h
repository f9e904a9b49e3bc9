/* SPDX-License-Identifier: MIT */
/* testutil.h — shared bits of the C unit tests of every part: unique shm
 * names and a table-driven Check runner. */
#ifndef SEQTICK_TESTUTIL_H
#define SEQTICK_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "segment-private.h"

/* A shm name no other test uses: "<TEST_SHM_PREFIX><tag>-<pid>-<n>-<nonce>".
 * The nonce matters: a failed test leaves its segments behind (a Check
 * assertion ends the test before its unlink), and a later test that gets
 * the same pid must not attach to that stale segment and its counters. */
#ifndef TEST_SHM_PREFIX
#define TEST_SHM_PREFIX "/stk-u-"
#endif
static inline const char *test_shm_name(const char *tag)
{
    static char buf[8][96];
    static int n;
    static unsigned nonce;
    if (!nonce) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        nonce = (unsigned)(ts.tv_nsec ^ (ts.tv_sec << 20)) | 1u;
    }
    char *b = buf[n++ & 7];
    snprintf(b, 96, TEST_SHM_PREFIX "%s-%ld-%d-%08x", tag, (long)getpid(), n, nonce);
    return b;
}

/* xorshift64*: the generated inputs of a test, the same sequence on every
 * libc for a seed (*state, never 0); test_below() is uniform enough below n. */
static inline uint64_t test_rand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

static inline unsigned test_below(uint64_t *state, unsigned n)
{
    return (unsigned)(test_rand(state) % n);
}

struct test_case {
    const char *tcase; /* "core", "limits", "errors" */
    const TTest *test;
};

/* Run every test of a suite, one TCase per run of equal `tcase` names, each
 * with the checked fixture (setup, teardown) when given; exit status for
 * meson. */
static inline int test_run_with(const char *suite_name, const struct test_case *tests, size_t n,
                                SFun setup, SFun teardown)
{
    Suite *s = suite_create(suite_name);
    TCase *tc = NULL;
    const char *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cur || strcmp(cur, tests[i].tcase) != 0) {
            cur = tests[i].tcase;
            tc = tcase_create(cur);
            tcase_set_timeout(tc, 120);
            if (setup || teardown)
                tcase_add_checked_fixture(tc, setup, teardown);
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

static inline int test_run(const char *suite_name, const struct test_case *tests, size_t n)
{
    return test_run_with(suite_name, tests, n, NULL, NULL);
}

#define TEST_TABLE_RUN(name, table) test_run(name, table, sizeof(table) / sizeof(table[0]))
#define TEST_TABLE_RUN_WITH(name, table, setup, teardown)                                          \
    test_run_with(name, table, sizeof(table) / sizeof(table[0]), setup, teardown)

#endif
