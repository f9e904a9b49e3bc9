/* SPDX-License-Identifier: MIT */
/* test_json.c — Check unit tests of the strict JSON layer over jsmn. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "testutil.h"

static int parse(const char *s, const char **err)
{
    struct stk_json j;
    const char *e = NULL;
    int r = stk_json_parse(&j, s, strlen(s), &e);
    stk_json_free(&j);
    if (err)
        *err = e;
    return r;
}

static void ok(const char *s)
{
    const char *e = NULL;
    ck_assert_msg(parse(s, &e) == 0, "expected valid: %s (%s)", s, e ? e : "");
}

static void bad(const char *s, const char *want)
{
    const char *e = NULL;
    ck_assert_msg(parse(s, &e) == -EINVAL, "expected invalid: %s", s);
    if (want)
        ck_assert_msg(e && strstr(e, want), "for %s: got '%s', want '%s'", s, e ? e : "", want);
}

START_TEST(valid_documents)
{
    ok("{}");
    ok("[]");
    ok(" {\"v\":1,\"id\":\"a\",\"type\":\"ping\"} ");
    ok("{\"a\":[1,-2.5e3,0,0.1,true,false,null,\"x\"],\"b\":{\"c\":{}}}");
    ok("{\"k\":\"\\u00e9\\n\\\"\\\\\\/\"}");
    ok("{\"k\":\"\\ud83d\\ude00\"}");
    ok("{\"k\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
    ok("1");
    ok("\"s\"");
}
END_TEST

START_TEST(literals_and_numbers)
{
    bad("{\"a\":tru}", "literal");
    bad("{\"a\":nul}", "literal");
    bad("{\"a\":falsey}", "literal");
    bad("{\"a\":01}", "number");
    bad("{\"a\":1.}", "number");
    bad("{\"a\":.5}", NULL);
    bad("{\"a\":+1}", NULL);
    bad("{\"a\":1e}", "number");
    bad("{\"a\":-}", "number");
    bad("{\"a\":0x10}", "number");
    ck_assert_int_eq(stk_json_number_check("-0.5E+10", 8), 0);
    ck_assert_int_eq(stk_json_number_check("00", 2), -EINVAL);
}
END_TEST

START_TEST(structure)
{
    bad("{\"a\" 1}", "malformed");
    bad("{\"a\":1 \"b\":2}", "malformed");
    bad("[1 2]", "malformed");
    bad("{\"a\":1,}", "malformed");
    bad("[1,]", "malformed");
    bad("[,1]", "malformed");
    bad("{\"a\"}", "malformed");
    bad("{\"a\",1}", "malformed");
    bad("{1:2}", NULL);
    bad("{\"a\"::1}", "malformed");
    bad("{\"a\":1:2}", NULL);
    bad("{", NULL);
    bad("{\"a\":\"x", NULL);
    bad("}", NULL);
    bad("", NULL);
    bad("   ", NULL);
}
END_TEST

START_TEST(trailing_and_duplicates)
{
    bad("{} {}", "trailing");
    bad("{}x", NULL);
    bad("{\"a\":1}1", NULL);
    bad("{\"a\":1,\"a\":2}", "duplicate");
    bad("{\"type\":1,\"t\\u0079pe\":2}", "duplicate");
    /* many keys go through the sorted path */
    char big[4096];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(big + n, sizeof(big) - n, "}");
    ok(big);
    snprintf(big + n, sizeof(big) - n, ",\"k7\":1}");
    bad(big, "duplicate");
}
END_TEST

START_TEST(bytes)
{
    const char nul[] = "{\"a\":\"x\0y\"}";
    struct stk_json j;
    const char *e = NULL;
    ck_assert_int_eq(stk_json_parse(&j, nul, sizeof(nul) - 1, &e), -EINVAL);
    stk_json_free(&j);
    ck_assert_str_eq(e, "NUL byte in request");
    bad("{\"a\":\"\x01\"}", "control");
    bad("{\"a\":\"\t\"}", "control");
    bad("{\"a\":\"\xff\"}", "UTF-8");
    bad("{\"a\":\"\xc0\xaf\"}", "UTF-8");         /* overlong */
    bad("{\"a\":\"\xed\xa0\x80\"}", "UTF-8");     /* surrogate */
    bad("{\"a\":\"\xf4\x90\x80\x80\"}", "UTF-8"); /* > U+10FFFF */
    bad("{\"a\":\"\xe2\x82\"}", "UTF-8");         /* truncated */
    bad("{\"a\":\"\\ud800\"}", "surrogate");
    bad("{\"a\":\"\\udc00\\ud800\"}", "surrogate");
    bad("{\"a\":\"\\x\"}", NULL);
    bad("{\"a\":\"\\u12\"}", NULL);
}
END_TEST

START_TEST(depth)
{
    char *s = malloc(40002);
    memset(s, '[', 20000);
    memset(s + 20000, ']', 20000);
    s[40000] = 0;
    bad(s, "nesting");
    free(s);
    char d[200];
    int n = 0;
    for (int i = 0; i < STK_JSON_MAX_DEPTH; i++)
        d[n++] = '[';
    for (int i = 0; i < STK_JSON_MAX_DEPTH; i++)
        d[n++] = ']';
    d[n] = 0;
    ok(d);
    memmove(d + 1, d, (size_t)n + 1);
    d[0] = '[';
    strcat(d, "]");
    bad(d, "nesting");
    /* brackets inside strings do not count */
    char str[200] = "{\"a\":\"";
    for (int i = 0; i < 100; i++)
        strcat(str, "[");
    strcat(str, "\"}");
    ok(str);
}
END_TEST

START_TEST(accessors)
{
    const char *src =
        "{\"v\":1,\"id\":\"x\\\"y\",\"type\":\"get_quotes\",\"tickers\":[\"A\",\"B\"],"
        "\"n\":-9223372036854775808,\"big\":9223372036854775808,\"f\":1.5}";
    struct stk_json j;
    const char *e;
    ck_assert_int_eq(stk_json_parse(&j, src, strlen(src), &e), 0);
    int id = stk_json_get(&j, 0, "id");
    ck_assert_int_ge(id, 0);
    size_t n;
    const char *raw = stk_json_raw(&j, id, &n);
    ck_assert_int_eq((int)n, 6);
    ck_assert(!memcmp(raw, "\"x\\\"y\"", n));
    char buf[16];
    ck_assert_int_eq(stk_json_str(&j, id, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "x\"y");
    int t = stk_json_get(&j, 0, "tickers");
    ck_assert(stk_json_is_array(&j, t));
    ck_assert_int_eq(j.tok[t].size, 2);
    int64_t v;
    ck_assert_int_eq(stk_json_int(&j, stk_json_get(&j, 0, "v"), &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(stk_json_int(&j, stk_json_get(&j, 0, "n"), &v), 0);
    ck_assert(v == INT64_MIN);
    ck_assert_int_eq(stk_json_int(&j, stk_json_get(&j, 0, "big"), &v), -ERANGE);
    ck_assert_int_eq(stk_json_int(&j, stk_json_get(&j, 0, "f"), &v), -EINVAL);
    ck_assert_int_eq(stk_json_get(&j, 0, "missing"), -1);
    ck_assert_int_eq(stk_json_str(&j, id, buf, 2), -E2BIG);
    stk_json_free(&j);
}
END_TEST

START_TEST(many_tokens)
{
    /* more tokens than the small array: the heap path */
    size_t cap = 20000, n = 0;
    char *s = malloc(cap);
    n += (size_t)sprintf(s + n, "{\"tickers\":[");
    for (int i = 0; i < 1000; i++)
        n += (size_t)sprintf(s + n, "%s\"T%d\"", i ? "," : "", i);
    sprintf(s + n, "]}");
    struct stk_json j;
    const char *e;
    ck_assert_int_eq(stk_json_parse(&j, s, strlen(s), &e), 0);
    ck_assert_int_eq(j.tok[stk_json_get(&j, 0, "tickers")].size, 1000);
    stk_json_free(&j);
    free(s);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", valid_documents}, {"core", accessors},
        {"core", many_tokens},     {"errors", literals_and_numbers},
        {"errors", structure},     {"errors", trailing_and_duplicates},
        {"errors", bytes},         {"errors", depth},
    };
    return TEST_TABLE_RUN("server-json", tests);
}
