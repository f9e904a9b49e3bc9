/* SPDX-License-Identifier: MIT */
/* test_policy.c — the supervisor's pure logic: the give-up window, the
 * status file's JSON and reload digests (the backoff's tests are in
 * tests/common/test_backoff.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

#include "testutil.h"

START_TEST(window_gives_up_after_n)
{
    uint64_t start = 0, count = 0, s = 1000000000ull;
    /* max 3 in 10 s: restarts 1..3 pass, the 4th within the window gives up */
    ck_assert(!stk_restart_window_hit(&start, &count, 1 * s, 3, 10));
    ck_assert(!stk_restart_window_hit(&start, &count, 2 * s, 3, 10));
    ck_assert(!stk_restart_window_hit(&start, &count, 3 * s, 3, 10));
    ck_assert(stk_restart_window_hit(&start, &count, 4 * s, 3, 10));
}
END_TEST

START_TEST(window_starts_over)
{
    uint64_t start = 0, count = 0, s = 1000000000ull;
    ck_assert(!stk_restart_window_hit(&start, &count, 1 * s, 2, 10));
    ck_assert(!stk_restart_window_hit(&start, &count, 2 * s, 2, 10));
    /* 11 s after the window opened: a new window */
    ck_assert(!stk_restart_window_hit(&start, &count, 12 * s, 2, 10));
    ck_assert(!stk_restart_window_hit(&start, &count, 13 * s, 2, 10));
    ck_assert(stk_restart_window_hit(&start, &count, 14 * s, 2, 10));
}
END_TEST

START_TEST(window_zero_never_gives_up)
{
    uint64_t start = 0, count = 0;
    for (uint64_t i = 0; i < 100000; i++)
        ck_assert(!stk_restart_window_hit(&start, &count, i, 0, 60));
}
END_TEST

static char *json(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    stk_json_string(f, s);
    fclose(f);
    return out;
}

START_TEST(json_escapes)
{
    char *j = json("a\"b\\c\nd\te\x01");
    ck_assert_str_eq(j, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    free(j);
    j = json("");
    ck_assert_str_eq(j, "\"\"");
    free(j);
}
END_TEST

START_TEST(state_names)
{
    ck_assert_str_eq(stk_child_state_name(STK_CS_STARTING), "starting");
    ck_assert_str_eq(stk_child_state_name(STK_CS_RUNNING), "running");
    ck_assert_str_eq(stk_child_state_name(STK_CS_BACKOFF), "backoff");
    ck_assert_str_eq(stk_child_state_name(STK_CS_STOPPING), "stopping");
    ck_assert_str_eq(stk_child_state_name(STK_CS_STOPPED), "stopped");
    ck_assert_str_eq(stk_child_state_name(STK_CS_FAILED), "failed");
}
END_TEST

static char *digest_of(const char *text, const char *const sections[])
{
    return stk_reload_digest(text, sections);
}

START_TEST(digest_order_and_sections)
{
    static const char *const prod[] = {"producer", "shm", NULL};
    char *a = digest_of("[producer]\nrate = 5\nseed = 2\n[server]\nlisten = 1:2\n", prod);
    char *b = digest_of("[server]\nlisten = 3:4\n[producer]\nseed = 2\nrate = 5\n", prod);
    char *c = digest_of("[producer]\nrate = 6\nseed = 2\n", prod);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a, b); /* order and other sections do not matter */
    ck_assert_str_ne(a, c);
    free(a);
    free(b);
    free(c);
}
END_TEST

#define MS 1000000ull

/* The producer watchdog's verdicts: armed only by the header naming the
 * child, judged by our clock, once per process, never when off. */
START_TEST(watchdog_verdicts)
{
    struct stk_watchdog w = {0};
    uint64_t t = 1000 * MS;
    /* not attached yet (header names nobody, or a predecessor): never judged */
    ck_assert_int_eq(stk_watchdog_check(&w, 42, 0, 5, t, 500), 0);
    ck_assert_int_eq(stk_watchdog_check(&w, 42, 41, 5, t + 10000 * MS, 500), 0);
    ck_assert_int_eq(w.pid, 0);
    /* attached: armed; a beating heartbeat keeps it alive forever */
    ck_assert_int_eq(stk_watchdog_check(&w, 42, 42, 7, t, 500), 0);
    ck_assert_int_eq(w.pid, 42);
    for (uint64_t k = 1; k <= 100; k++)
        ck_assert_int_eq(stk_watchdog_check(&w, 42, 42, 7 + k, t + k * 400 * MS, 500), 0);
    t += 100 * 400 * MS;
    /* stuck: nothing up to the limit, the verdict past it, then disarmed */
    ck_assert_int_eq(stk_watchdog_check(&w, 42, 42, 107, t + 500 * MS, 500), 0);
    ck_assert_int_eq(stk_watchdog_check(&w, 42, 42, 107, t + 501 * MS, 500), 501);
    ck_assert_int_eq(w.pid, 0);
    /* the same stuck process is not judged twice in a row without re-arming */
    ck_assert_int_eq(stk_watchdog_check(&w, 42, 42, 107, t + 600 * MS, 500), 0);
    ck_assert_int_eq(w.pid, 42);
    /* a new producer process: the old arming is dropped */
    ck_assert_int_eq(stk_watchdog_check(&w, 43, 42, 107, t + 5000 * MS, 500), 0);
    ck_assert_int_eq(w.pid, 0);
    /* a producer that detached (clean stop: producer_pid 0) is not judged */
    ck_assert_int_eq(stk_watchdog_check(&w, 43, 43, 1, t, 500), 0);
    ck_assert_int_eq(stk_watchdog_check(&w, 43, 0, 1, t + 9000 * MS, 500), 0);
    /* nothing running: disarmed */
    ck_assert_int_eq(stk_watchdog_check(&w, 0, 43, 1, t + 9000 * MS, 500), 0);
    ck_assert_int_eq(w.pid, 0);
    /* off */
    ck_assert_int_eq(stk_watchdog_check(&w, 44, 44, 1, t, 0), 0);
    ck_assert_int_eq(stk_watchdog_check(&w, 44, 44, 1, t + 99999 * MS, 0), 0);
}
END_TEST

/* The built-in children's table and the config schema agree: each row is a
 * section flagged as a child's (so no [program.NAME] takes its name), each
 * such section has a row, and each section it restarts on exists. */
START_TEST(builtins_match_schema)
{
    ck_assert_uint_ge(stk_nbuiltins, 2);
    for (size_t i = 0; i < stk_nbuiltins; i++) {
        const struct stk_builtin *b = &stk_builtins[i];
        const struct stk_conf_section *sec = stk_config_section(b->name);
        ck_assert_msg(sec && sec->child, "%s: not a child's config section", b->name);
        ck_assert_ptr_eq(stk_builtin_find(b->name), b);
        bool own = false;
        for (const char *const *s = b->sections; *s; s++) {
            ck_assert_msg(stk_config_section(*s) != NULL, "%s restarts on [%s]: no such section",
                          b->name, *s);
            own |= !strcmp(*s, b->name);
        }
        ck_assert_msg(own, "%s: a change of its own section does not restart it", b->name);
    }
    for (size_t s = 0; s < stk_config_nsections; s++)
        if (stk_config_sections[s].child)
            ck_assert_msg(stk_builtin_find(stk_config_sections[s].name) != NULL,
                          "[%s] is a child's section without a built-in row",
                          stk_config_sections[s].name);
    ck_assert_ptr_null(stk_builtin_find("sma"));
    struct stk_config cfg;
    ck_assert_int_eq(stk_config_defaults(&cfg), 0);
    ck_assert(stk_builtin_enabled(stk_builtin_find("producer"), &cfg));
    ck_assert(stk_builtin_enabled(stk_builtin_find("server"), &cfg));
    stk_config_free(&cfg);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", window_gives_up_after_n},
        {"core", window_starts_over},
        {"core", json_escapes},
        {"core", state_names},
        {"core", digest_order_and_sections},
        {"core", watchdog_verdicts},
        {"core", builtins_match_schema},
        {"limits", window_zero_never_gives_up},
    };
    return TEST_TABLE_RUN("supervisor-policy", tests);
}
