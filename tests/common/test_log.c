/* SPDX-License-Identifier: MIT */
/* test_log.c — the level is tested before formatting; text and JSON records
 * are one line each, JSON escaped. */
#include <fcntl.h>
#include <string.h>

#include "log-private.h"
#include "testutil.h"

static int evaluated;

static const char *side_effect(void)
{
    evaluated++;
    return "x";
}

/* Run fn with stderr captured; returns what it wrote (static buffer). */
static const char *capture(void (*fn)(void))
{
    static char buf[8192];
    char path[] = "/tmp/stk-log-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n < 0 ? 0 : n] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static void emit_levels(void)
{
    stk_debug("hidden %s", side_effect());
    stk_info("shown %d", 42);
    stk_warn("warned");
}

static void emit_json(void)
{
    stk_info("quote \"AAPL\"\tback\\slash\nnext \x01");
}

START_TEST(test_level_before_format)
{
    evaluated = 0;
    stk_log_init("t", STK_LOG_INFO, STK_LOG_TEXT);
    const char *out = capture(emit_levels);
    ck_assert_int_eq(evaluated, 0); /* arguments of a filtered record never run */
    ck_assert_ptr_null(strstr(out, "hidden"));
    ck_assert_ptr_nonnull(strstr(out, " info t["));
    ck_assert_ptr_nonnull(strstr(out, "]: shown 42\n"));
    ck_assert_ptr_nonnull(strstr(out, " warn t["));
    stk_log_init("t", STK_LOG_DEBUG, STK_LOG_TEXT);
    out = capture(emit_levels);
    ck_assert_int_eq(evaluated, 1);
    ck_assert_ptr_nonnull(strstr(out, "hidden x"));
}
END_TEST

START_TEST(test_json_escaped_one_line)
{
    stk_log_init("prog", STK_LOG_DEBUG, STK_LOG_JSON);
    const char *out = capture(emit_json);
    ck_assert_ptr_nonnull(strstr(out, "\"level\":\"info\",\"prog\":\"prog\""));
    ck_assert_ptr_nonnull(
        strstr(out, "\"msg\":\"quote \\\"AAPL\\\"\\u0009back\\\\slash\\nnext \\u0001\"}\n"));
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* exactly one line */
    stk_log_init("prog", STK_LOG_INFO, STK_LOG_TEXT);
    out = capture(emit_json);
    ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1); /* newline folded */
}
END_TEST

START_TEST(test_parse_names)
{
    ck_assert_int_eq(stk_log_level_parse("debug"), STK_LOG_DEBUG);
    ck_assert_int_eq(stk_log_level_parse("error"), STK_LOG_ERROR);
    ck_assert_int_eq(stk_log_level_parse("warning"), STK_LOG_WARN);
    ck_assert_int_lt(stk_log_level_parse("INFO"), 0);
    ck_assert_int_eq(stk_log_format_parse("json"), STK_LOG_JSON);
    ck_assert_int_lt(stk_log_format_parse("yaml"), 0);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", test_level_before_format},
        {"core", test_json_escaped_one_line},
        {"errors", test_parse_names},
    };
    return TEST_TABLE_RUN("log", tests);
}
