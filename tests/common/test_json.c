/* SPDX-License-Identifier: MIT */
/* test_json.c — Check unit tests of the JSON module: the strict validator
 * over jsmn, UTF-8 and number checks, the escaper, the formatter, the flat
 * scanner. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-private.h"

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

START_TEST(utf8)
{
    ck_assert(stk_utf8_valid("plain ascii text, long enough for the fast path", 47));
    ck_assert(stk_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\x88", 9));
    ck_assert(stk_utf8_valid("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7));
    ck_assert(!stk_utf8_valid("\x80", 1));
    ck_assert(!stk_utf8_valid("\xc1\xbf", 2));
    ck_assert(!stk_utf8_valid("\xe0\x80\xaf", 3));
    ck_assert(!stk_utf8_valid("\xf0\x80\x80\xaf", 4));
    ck_assert(!stk_utf8_valid("\xed\xbf\xbf", 3));
    ck_assert(!stk_utf8_valid("abcdefgh\xf5\x80\x80\x80", 12));
    ck_assert(!stk_utf8_valid("abc\xc3", 4));
}
END_TEST

START_TEST(numbers)
{
    static const struct {
        const char *s;
        int end; /* bytes of the number stk_json_number_end() finds, -1 none */
    } cases[] = {
        {"0", 1},   {"-0", 2},  {"12", 2},  {"1.5", 3}, {"-1.5e+10", 8}, {"1E5", 3},   {"01", 1},
        {"1.", -1}, {".5", -1}, {"-", -1},  {"+1", -1}, {"1e", -1},      {"1e+", -1},  {"1.e5", -1},
        {"12,", 2}, {"1 ", 1},  {"0x1", 1}, {"", -1},   {"9e999", 5},    {"-01.5", 2}, {"3.14}", 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].s, *e = s + strlen(s);
        const char *end = stk_json_number_end(s, e);
        ck_assert_msg(cases[i].end < 0 ? end == NULL : end == s + cases[i].end, "%s", s);
        ck_assert_int_eq(stk_json_number_check(s, strlen(s)),
                         cases[i].end == (int)strlen(s) && cases[i].end > 0 ? 0 : -EINVAL);
    }
}
END_TEST

static const char *esc(const char *s, size_t n)
{
    static char out[256];
    size_t k = stk_json_escape(out, sizeof(out) - 1, s, n, NULL);
    out[k] = 0;
    return out;
}

START_TEST(escape)
{
    ck_assert_str_eq(esc("plain text", 10), "plain text");
    ck_assert_str_eq(esc("a\"b\\c", 5), "a\\\"b\\\\c");
    ck_assert_str_eq(esc("\b\f\n\r\t", 5), "\\b\\f\\n\\r\\t");
    ck_assert_str_eq(esc("\x01\x1f\x7f", 3), "\\u0001\\u001f\\u007f");
    ck_assert_str_eq(esc("\0x", 2), "\\u0000x");
    ck_assert_str_eq(esc("caf\xc3\xa9 /", 7), "caf\xc3\xa9 /"); /* UTF-8 and '/' as they are */
    /* bytes of no valid UTF-8 sequence: U+FFFD each, so the output is JSON */
    ck_assert_str_eq(esc("a\xff", 2), "a\\ufffd");
    ck_assert_str_eq(esc("\xe2\x82", 2), "\\ufffd\\ufffd");
    ck_assert_str_eq(esc("\xed\xa0\x80", 3), "\\ufffd\\ufffd\\ufffd");
    ck_assert_str_eq(esc("\xf0\x9f\x98\x80", 4), "\xf0\x9f\x98\x80");
    ck_assert_uint_eq(stk_utf8_seq("\xf0\x9f\x98\x80", 4), 4);
    ck_assert_uint_eq(stk_utf8_seq("\xf0\x9f\x98", 3), 0);
    ck_assert_uint_eq(stk_utf8_seq("A", 1), 1);
    ck_assert_uint_eq(stk_utf8_seq("", 0), 0);
    /* a short buffer: whole escapes only, and how far the input got */
    char out[8];
    size_t used;
    ck_assert_uint_eq(stk_json_escape(out, 4, "ab\ncd", 5, &used), 4);
    ck_assert_uint_eq(used, 3);
    ck_assert(!memcmp(out, "ab\\n", 4));
    ck_assert_uint_eq(stk_json_escape(out, 7, "ab\x01", 3, &used), 2);
    ck_assert_uint_eq(used, 2);
    ck_assert_uint_eq(stk_json_escape(out, 0, "a", 1, &used), 0);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(stk_json_escape(out, 3, "a\xe2\x82\xac", 4, &used), 1);
    ck_assert_uint_eq(used, 1); /* a sequence is never cut */
    /* every byte escaped or copied, and the result is a JSON string whose
     * decoded text is the input (all 1-byte values but NUL, plus UTF-8) */
    char in[300], doc[2048], back[300];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        in[n++] = (char)c;
    memcpy(in + n, "\xc3\xa9\xf0\x9f\x98\x80", 6);
    n += 6;
    doc[0] = '"';
    size_t k = stk_json_escape(doc + 1, sizeof(doc) - 2, in, n, &used);
    ck_assert_uint_eq(used, n);
    doc[k + 1] = '"';
    struct stk_json j;
    const char *e;
    ck_assert_int_eq(stk_json_parse(&j, doc, k + 2, &e), 0);
    ck_assert_int_eq(stk_json_str(&j, 0, back, sizeof(back)), (int)n);
    ck_assert(!memcmp(back, in, n));
    stk_json_free(&j);
    /* the FILE * adapter: quoted, chunked, NULL as "" */
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    char big[1000];
    memset(big, '\n', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    stk_json_fput_str(f, big);
    stk_json_fput_str(f, NULL);
    fclose(f);
    ck_assert_uint_eq(tlen, 2 + 2 * 999 + 2);
    ck_assert(!memcmp(text + tlen - 4, "n\"\"\"", 4));
    free(text);
}
END_TEST

START_TEST(u64)
{
    static const uint64_t v[] = {0,         1,       9,           10,
                                 99,        100,     12345,       1000,
                                 99999,     1000000, 4294967295u, 10000000000000000000ull,
                                 UINT64_MAX};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char got[24], want[24];
        *stk_json_u64(got, v[i]) = 0;
        snprintf(want, sizeof(want), "%" PRIu64, v[i]);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

/* ---- the flat-object scanner against the strict validator ----
 * A line the scanner takes (with stk_flat_scalar() for every value) must be
 * one the validator accepts (duplicates aside: the scanner leaves those to
 * its caller), as an object of the same pairs over the same bytes. */

static uint64_t flat_rng;

static unsigned flat_below(unsigned n)
{
    return test_below(&flat_rng, n);
}

/* 1 + pairs, with each key's and value's span, if the scanner takes s */
struct flat_seen {
    int pairs;
    const char *k[40], *v[40], *ve[40];
};

static bool flat_scan(const char *s, size_t n, struct flat_seen *f)
{
    const char *e = s + n, *p = stk_flat_open(s, e);
    f->pairs = 0;
    if (!p)
        return false;
    for (;;) {
        const char *key;
        size_t kn;
        if (f->pairs == 40 || !(p = stk_flat_key(p, e, &key, &kn)))
            return false;
        f->k[f->pairs] = key;
        f->v[f->pairs] = p;
        if (!(p = stk_flat_scalar(p, e)))
            return false;
        f->ve[f->pairs++] = p;
        int more = stk_flat_next(&p, e);
        if (more == STK_FLAT_END)
            return true;
        if (more == STK_FLAT_NO)
            return false;
    }
}

static size_t flat_gen(char *out, size_t cap)
{
    static const char *const keys[] = {"\"a\"",   "\"price\"", "\"\"",
                                       "\"k y\"", "\"x\\n\"",  "\"caf\xc3\xa9\""};
    static const char *const vals[] = {"1",     "-0.5e3", "\"s\"", "\"\"",  "true",
                                       "false", "null",   "01",    "1.",    "\"a\\\"\"",
                                       "[]",    "{}",     "tru",   "\"\t\""};
    static const char *const gaps[] = {"", " ", "  ", "\t", "\n"};
    size_t o = 0;
    int np = (int)flat_below(6);
    o += (size_t)snprintf(out + o, cap - o, "%s{", flat_below(8) ? "" : " ");
    for (int i = 0; i < np && o < cap - 64; i++) {
        const char *g = gaps[flat_below(8) < 6 ? flat_below(3) : flat_below(5)];
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s%s:%s%s%s", i ? "," : "", g,
                              keys[flat_below(6)], g, g, vals[flat_below(14)], g);
    }
    o += (size_t)snprintf(out + o, cap - o, "}%s", flat_below(8) ? "" : " ");
    return o < cap ? o : cap - 1;
}

START_TEST(flat_scanner_vs_strict)
{
    static const char alphabet[] = "{}[]\":, \t\\u019-.eEtrfalsn\x01\xc3";
    unsigned taken = 0, refused = 0;
    flat_rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 100000; i++) {
        char s[512];
        size_t n = flat_gen(s, sizeof(s));
        if (i & 1) { /* a mutant: one byte replaced, inserted or dropped */
            size_t at = flat_below((unsigned)n);
            char c = alphabet[flat_below(sizeof(alphabet) - 1)];
            switch (flat_below(3)) {
            case 0:
                s[at] = c;
                break;
            case 1:
                memmove(s + at + 1, s + at, n - at);
                s[at] = c;
                n++;
                break;
            default:
                memmove(s + at, s + at + 1, n - at - 1);
                n--;
            }
        }
        struct flat_seen f;
        if (!flat_scan(s, n, &f)) {
            refused++;
            continue;
        }
        taken++;
        struct stk_json j;
        const char *e = NULL;
        int r = stk_json_parse_flags(&j, s, n, STK_JSON_DUP_KEYS, &e);
        ck_assert_msg(r == 0, "scanner took what the validator refuses (%s): %.*s", e, (int)n, s);
        ck_assert(stk_json_is_object(&j, 0));
        ck_assert_int_eq(j.tok[0].size, f.pairs);
        int t = 1;
        for (int k = 0; k < f.pairs; k++) {
            size_t len;
            ck_assert_ptr_eq(stk_json_raw(&j, t, &len) + 1, f.k[k]);
            const char *raw = stk_json_raw(&j, t + 1, &len);
            ck_assert_ptr_eq(raw, f.v[k]);
            ck_assert_ptr_eq(raw + len, f.ve[k]);
            t = stk_json_skip(&j, t + 1);
        }
        stk_json_free(&j);
    }
    /* key matching of the fast paths */
    ck_assert(stk_flat_key_is("ticker", 6, "ticker", 6));
    ck_assert(!stk_flat_key_is("tickers", 7, "ticker", 6));
    ck_assert(!stk_flat_key_is("tick", 4, "ticker", 6));
    ck_assert(!stk_flat_key_is("typf", 4, "type", 4));
    ck_assert(!stk_flat_key_is("", 0, "v", 1));
    /* both sides of the scanner's border are reached */
    ck_assert_uint_gt(taken, 2000);
    ck_assert_uint_gt(refused, 5000);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", valid_documents},
        {"core", accessors},
        {"core", many_tokens},
        {"errors", literals_and_numbers},
        {"errors", structure},
        {"errors", trailing_and_duplicates},
        {"errors", bytes},
        {"errors", depth},
        {"errors", utf8},
        {"core", numbers},
        {"core", escape},
        {"core", u64},
        {"core", flat_scanner_vs_strict},
    };
    return TEST_TABLE_RUN("json", tests);
}
