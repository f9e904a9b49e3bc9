/* SPDX-License-Identifier: MIT */
/* test_log.c — the level is tested before formatting; text and JSON records
 * are one line each, JSON escaped. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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
        strstr(out, "\"msg\":\"quote \\\"AAPL\\\"\\tback\\\\slash\\nnext \\u0001\"}\n"));
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

/* ---- children's lines, long records, the buffered mode ------------------ */

static const char *child_line;
static size_t child_len;
static bool child_cont;

static void emit_child(void)
{
    stk_log_child("strat", child_line, child_len, child_cont);
}

static const char *child(const char *line, size_t len, bool cont)
{
    child_line = line;
    child_len = len;
    child_cont = cont;
    return capture(emit_child);
}

START_TEST(test_child_json_merged)
{
    stk_log_init("sup", STK_LOG_ERROR, STK_LOG_JSON);
    const char *rec =
        "{\"ts\":\"x\",\"level\":\"warn\",\"n\":[1,-2.5e3,{\"b\":null}],\"s\":\"\\u00e9\"}";
    const char *out = child(rec, strlen(rec), false);
    ck_assert_str_eq(out, "{\"child\":\"strat\",\"ts\":\"x\",\"level\":\"warn\",\"n\":[1,-2.5e3,"
                          "{\"b\":null}],\"s\":\"\\u00e9\"}\n");
    out = child("{}", 2, false);
    ck_assert_str_eq(out, "{\"child\":\"strat\"}\n");
    /* not one whole strictly valid object: wrapped, escaped, never merged */
    static const char *const bad[] = {
        "{\"a\":01}", "{\"a\":tx}", "{\"a\":1} x", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}",
        "{\"a\":1,}", "[1]",        "{\"a\"}",     "{\"a\":\"\\q\"}",  "{\"a\":1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = child(bad[i], strlen(bad[i]), false);
        ck_assert_msg(!strncmp(out, "{\"ts\":", 6), "merged: %s -> %s", bad[i], out);
        ck_assert_ptr_nonnull(strstr(out, "\"level\":\"info\",\"prog\":\"sup\""));
        ck_assert_ptr_nonnull(strstr(out, "\"child\":\"strat\",\"msg\":\"strat: "));
    }
}
END_TEST

START_TEST(test_child_bytes_escaped)
{
    stk_log_init("sup", STK_LOG_INFO, STK_LOG_JSON);
    static const char line[] = "a\0b\xff"
                               "c\xc3(\xe2\x82\xac\x7f";
    const char *out = child(line, sizeof(line) - 1, false);
    ck_assert_ptr_nonnull(
        strstr(out, "\"msg\":\"strat: a\\u0000b\\ufffdc\\ufffd(\xe2\x82\xac\\u007f\"}\n"));
    out = child("rest", 4, true);
    ck_assert_ptr_nonnull(strstr(out, "\"msg\":\"strat: rest\",\"cont\":true}\n"));
    stk_log_init("sup", STK_LOG_INFO, STK_LOG_TEXT);
    ck_assert_str_eq(child("first", 5, false), "strat: first\n");
    ck_assert_str_eq(child("rest", 4, true), "strat+: rest\n");
}
END_TEST

static void emit_long(void)
{
    char msg[6001];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = 0;
    stk_info("%s", msg);
}

START_TEST(test_long_message_split)
{
    stk_log_init("t", STK_LOG_INFO, STK_LOG_JSON);
    const char *out = capture(emit_long);
    int lines = 0, conts = 0;
    size_t ms = 0;
    for (const char *p = out; *p; p++) {
        lines += *p == '\n';
        ms += *p == 'm';
    }
    for (const char *p = out; (p = strstr(p, "\"cont\":true")); p++)
        conts++;
    ck_assert_int_eq(lines, 2);
    ck_assert_int_eq(conts, 1);
    ck_assert_uint_eq(ms, 6000 + 2); /* every 'm', plus "msg" twice */
    stk_log_init("t", STK_LOG_INFO, STK_LOG_TEXT);
    out = capture(emit_long);
    ck_assert_ptr_nonnull(strstr(out, "]+: mmm"));
}
END_TEST

START_TEST(test_utf8_cut)
{
    ck_assert_uint_eq(stk_utf8_cut("abcd", 4), 4);
    ck_assert_uint_eq(stk_utf8_cut("ab\xc3\xa9", 4), 4);     /* é complete */
    ck_assert_uint_eq(stk_utf8_cut("ab\xc3\xa9x", 3), 2);    /* é cut after its lead */
    ck_assert_uint_eq(stk_utf8_cut("ab\xe2\x82\xac", 4), 2); /* € cut after 2 of 3 */
    ck_assert_uint_eq(stk_utf8_cut("ab\xe2\x82\xac", 5), 5);
}
END_TEST

/* Bytes waiting in the pipe's read end r, read without blocking. */
static size_t slurp(int r, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t k;
    while (n < cap && (k = read(r, buf + n, cap - n)) > 0)
        n += (size_t)k;
    return n;
}

START_TEST(test_buffered_never_blocks)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    int saved = dup(2);
    dup2(p[1], 2);
    stk_log_init("t", STK_LOG_INFO, STK_LOG_TEXT);
    int fd = -2;
    ck_assert_int_eq(stk_log_async_begin(1 << 20, &fd), 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(stk_log_async_begin(1 << 20, &fd), -EALREADY);
    /* records wait in the buffer until a flush, then go out together */
    for (int i = 0; i < 10; i++)
        stk_info("batched %d", i);
    static char buf[4 << 20];
    ck_assert_uint_eq(slurp(p[0], buf, sizeof(buf)), 0);
    ck_assert_uint_gt(stk_log_pending(), 0);
    ck_assert_int_eq(stk_log_flush(), 0);
    size_t n = slurp(p[0], buf, sizeof(buf));
    buf[n] = 0;
    ck_assert_ptr_nonnull(strstr(buf, "batched 0\n"));
    ck_assert_ptr_nonnull(strstr(buf, "batched 9\n"));
    /* nobody reads: the pipe fills, then the buffer; more is dropped, and
     * nothing here ever blocks */
    for (int i = 0; i < 40000; i++) {
        stk_info("stalled %05d %0100d", i, 0);
        (void)stk_log_flush();
    }
    ck_assert_uint_le(stk_log_pending(), 1 << 20);
    /* the reader is back: everything held, then one line on what was lost */
    size_t total = 0;
    for (int round = 0; round < 100; round++) {
        total += slurp(p[0], buf + total, sizeof(buf) - 1 - total);
        if (stk_log_flush() == 0 && round > 2)
            break;
    }
    total += slurp(p[0], buf + total, sizeof(buf) - 1 - total);
    buf[total] = 0;
    ck_assert_ptr_nonnull(strstr(buf, "stalled 00000 "));
    ck_assert_ptr_nonnull(strstr(buf, " records dropped: stderr was not read fast enough"));
    ck_assert_ptr_null(strstr(buf, "stalled 39999 ")); /* dropped, not blocked on */
    stk_log_async_end(0);
    ck_assert_uint_eq(stk_log_pending(), 0);
    dup2(saved, 2);
    close(saved);
    close(p[0]);
    close(p[1]);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", test_level_before_format}, {"core", test_json_escaped_one_line},
        {"errors", test_parse_names},       {"core", test_child_json_merged},
        {"core", test_child_bytes_escaped}, {"limits", test_long_message_split},
        {"limits", test_utf8_cut},          {"limits", test_buffered_never_blocks},
    };
    return TEST_TABLE_RUN("log", tests);
}
