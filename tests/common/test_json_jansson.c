/* SPDX-License-Identifier: MIT */
/* test_json_jansson.c — the strict JSON validator accepts exactly what RFC
 * 8259 accepts, within its documented limits: many documents, generated
 * valid and then mutated from a fixed seed, judged by jansson too (see
 * json_oracle.h for the only differences allowed). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_oracle.h"
#include "testutil.h"

#define DOC_MAX 8192

/* the same documents on every run (STK_JSON_SEED varies them) */
static uint64_t rng;

static unsigned pick(unsigned n)
{
    return test_below(&rng, n);
}

struct doc {
    char s[DOC_MAX];
    size_t n;
};

static void put(struct doc *d, const char *s, size_t n)
{
    if (d->n + n < DOC_MAX) {
        memcpy(d->s + d->n, s, n);
        d->n += n;
    }
}

static void puts_(struct doc *d, const char *s)
{
    put(d, s, strlen(s));
}

static void ws(struct doc *d)
{
    static const char *const w[] = {"", "", "", " ", "\t", "\n", "\r\n", "  "};
    puts_(d, w[pick(8)]);
}

/* string bodies: plain, escapes, \u (pairs, lone surrogates, NUL), UTF-8 */
static void gen_string(struct doc *d, bool key)
{
    static const char *const parts[] = {
        "a",
        "key",
        "x y",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0041",
        "\\u00e9",
        "\\u20AC",
        "\\ud83d\\ude00",
        "\\uD834\\uDD1E",
        "\\ud800",
        "\\udc00",
        "\\u0000",
        "caf\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xef\xbf\xbf",
        "[{",
        "}]",
        ",:",
        "1",
        "true",
    };
    size_t np = sizeof(parts) / sizeof(parts[0]);
    puts_(d, "\"");
    unsigned k = pick(4);
    for (unsigned i = 0; i < k; i++) {
        const char *p = parts[pick((unsigned)np)];
        if (key && !strcmp(p, "\\u0000"))
            p = "k"; /* jansson cannot hold NUL in a key: kept for values */
        puts_(d, p);
    }
    puts_(d, "\"");
}

static void gen_number(struct doc *d)
{
    static const char *const nums[] = {
        "0",
        "-0",
        "1",
        "-1",
        "42",
        "1234567890",
        "0.5",
        "-0.25",
        "1e5",
        "1E+5",
        "1e-5",
        "-2.5E-3",
        "189.25",
        "9007199254740993",
        "18446744073709551616",
        "1e308",
        "5e-324",
        "123456789012345678901234567890",
        "0.000000001",
        "10.0e0",
    };
    puts_(d, nums[pick(sizeof(nums) / sizeof(nums[0]))]);
}

/* keys from a small set, so objects often repeat one (also spelled with an
 * escape: "a" and "\u0061" are the same key) */
static void gen_key(struct doc *d)
{
    static const char *const keys[] = {"\"a\"",      "\"b\"", "\"\\u0061\"",
                                       "\"symbol\"", "\"\"",  "\"price\""};
    if (pick(3))
        puts_(d, keys[pick(sizeof(keys) / sizeof(keys[0]))]);
    else
        gen_string(d, true);
}

static void gen_value(struct doc *d, int depth, int maxdepth)
{
    unsigned k = depth >= maxdepth ? pick(4) : pick(7);
    switch (k) {
    case 0:
        gen_number(d);
        break;
    case 1:
        gen_string(d, false);
        break;
    case 2: {
        static const char *const lit[] = {"true", "false", "null"};
        puts_(d, lit[pick(3)]);
        break;
    }
    case 3:
        puts_(d, pick(2) ? "[]" : "{}");
        break;
    default: { /* an array (4, 5) or an object (6) */
        bool obj = k == 6;
        unsigned n = pick(5);
        puts_(d, obj ? "{" : "[");
        for (unsigned i = 0; i < n; i++) {
            if (i)
                puts_(d, ",");
            ws(d);
            if (obj) {
                gen_key(d);
                ws(d);
                puts_(d, ":");
                ws(d);
            }
            gen_value(d, depth + 1, maxdepth);
            ws(d);
        }
        puts_(d, obj ? "}" : "]");
        break;
    }
    }
}

/* A chain of n nested arrays or objects around a scalar. */
static void gen_deep(struct doc *d, int n)
{
    for (int i = 0; i < n; i++)
        puts_(d, i & 1 ? "{\"k\":" : "[");
    gen_number(d);
    for (int i = n - 1; i >= 0; i--)
        puts_(d, i & 1 ? "}" : "]");
}

static void gen_doc(struct doc *d)
{
    d->n = 0;
    ws(d);
    if (pick(20) == 0)
        gen_deep(d, STK_JSON_MAX_DEPTH - 2 + (int)pick(6));
    else
        gen_value(d, 0, 1 + (int)pick(5));
    ws(d);
}

/* One random edit: the bytes that matter to a JSON parser, and a few that
 * must never be accepted (NUL, controls, broken UTF-8). */
static void mutate(struct doc *d)
{
    static const char alphabet[] = "{}[]\":,\\ \t\r\nu0123456789-+.eEtrufalsn\x01\x1f\x7f\x80\xc3"
                                   "\xed\xf4\xff";
    size_t na = sizeof(alphabet) - 1;
    size_t at = d->n ? pick((unsigned)d->n + 1) : 0;
    switch (pick(6)) {
    case 0: /* delete a byte */
        if (at < d->n) {
            memmove(d->s + at, d->s + at + 1, d->n - at - 1);
            d->n--;
        }
        break;
    case 1: /* insert one */
        if (d->n + 1 < DOC_MAX) {
            memmove(d->s + at + 1, d->s + at, d->n - at);
            d->s[at] = pick(50) ? alphabet[pick((unsigned)na)] : '\0';
            d->n++;
        }
        break;
    case 2: /* replace one */
        if (at < d->n)
            d->s[at] = alphabet[pick((unsigned)na)];
        break;
    case 3: /* cut the end */
        d->n = at;
        break;
    case 4: { /* repeat a run (a second key, a second value, ...) */
        size_t len = 1 + pick(12);
        if (at + len <= d->n && d->n + len < DOC_MAX) {
            memmove(d->s + at + len, d->s + at, d->n - at);
            d->n += len;
        }
        break;
    }
    default: /* swap two bytes */
        if (d->n > 1) {
            size_t b = pick((unsigned)d->n);
            if (at < d->n) {
                char t = d->s[at];
                d->s[at] = d->s[b];
                d->s[b] = t;
            }
        }
    }
}

static void show(char *out, size_t size, const struct doc *d)
{
    size_t o = 0;
    for (size_t i = 0; i < d->n && o + 5 < size; i++) {
        unsigned char c = (unsigned char)d->s[i];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
    }
    out[o] = 0;
}

struct tally {
    unsigned docs, accepted, rejected, verdict[JV_MISMATCH + 1];
};

static void judge(struct tally *t, const struct doc *d, unsigned flags)
{
    bool ours, theirs;
    enum json_verdict v = json_oracle(d->s, d->n, flags, &ours, &theirs);
    t->docs++;
    t->verdict[v]++;
    if (ours)
        t->accepted++;
    else
        t->rejected++;
    if (v == JV_MISMATCH) {
        static char text[4 * DOC_MAX + 8];
        show(text, sizeof(text), d);
        ck_abort_msg("flags %u: ours %s, jansson %s: %s", flags, ours ? "accepts" : "refuses",
                     theirs ? "accepts" : "refuses", text);
    }
}

static void run(unsigned flags, struct tally *t)
{
    const char *env = getenv("STK_JSON_SEED");
    rng = env ? strtoull(env, NULL, 0) | 1 : 0x5eed7ac4u;
    static struct doc d;
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < 20000; i++) {
        gen_doc(&d);
        judge(t, &d, flags);
        for (unsigned m = 0, nm = 1 + pick(3); m < nm; m++) {
            mutate(&d);
            judge(t, &d, flags);
        }
    }
    printf("flags %u: %u documents, %u accepted, %u refused; over the depth limit %u, "
           "jansson's number range %u, jansson's NUL key %u\n",
           flags, t->docs, t->accepted, t->rejected, t->verdict[JV_DEPTH],
           t->verdict[JV_JANSSON_NUM], t->verdict[JV_JANSSON_NUL]);
}

/* Duplicate keys refused, as the server and every strict caller parse. */
START_TEST(generated_strict)
{
    struct tally t;
    run(0, &t);
    /* the generator reaches both sides and each documented limit */
    ck_assert_uint_gt(t.accepted, 10000);
    ck_assert_uint_gt(t.rejected, 10000);
    ck_assert_uint_gt(t.verdict[JV_DEPTH], 50);
    ck_assert_uint_gt(t.verdict[JV_JANSSON_NUM], 50);
}
END_TEST

/* Duplicate keys allowed (ingest lines, whose unknown keys may repeat). */
START_TEST(generated_dup_keys)
{
    struct tally t;
    run(STK_JSON_DUP_KEYS, &t);
    ck_assert_uint_gt(t.accepted, 10000);
    ck_assert_uint_gt(t.rejected, 10000);
}
END_TEST

/* Hand-picked edges (after JSONTestSuite's y_/n_ cases): each verdict must
 * be jansson's. */
START_TEST(edges)
{
    static const char *const docs[] = {
        "[1e1]",
        "[-0]",
        "[0e+1]",
        "[1E-2]",
        "[-123.456e+7]",
        "[\"\\u0000\"]",
        "\"\"",
        "[]",
        " [1] ",
        "{\"\":0}",
        "[\"\\ud834\\udd1e\"]",
        "[\"\xf4\x8f\xbf\xbf\"]",
        "123",
        "null",
        "[01]",
        "[-01]",
        "[1.]",
        "[.1]",
        "[1e]",
        "[1e+]",
        "[+1]",
        "[0x1]",
        "[Infinity]",
        "[NaN]",
        "[-]",
        "[1,]",
        "[,1]",
        "[1,,2]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{1:1}",
        "{'a':1}",
        "[tru]",
        "[True]",
        "[nulll]",
        "[\"\\x41\"]",
        "[\"\\u00G0\"]",
        "[\"\\ud800\"]",
        "[\"\\udc00\\ud800\"]",
        "[\"\\ud800\\u0041\"]",
        "[\"\t\"]",
        "[\"\x7f\"]",
        "[\"\xc0\xaf\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xe2\x82\"]",
        "[] []",
        "[]x",
        "\xef\xbb\xbf[]",
        "[\f1]",
        "[\v1]",
        "[1]\x1a",
        "",
        " ",
        "{\"a\":1,\"a\":1}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"a\":{\"a\":1}}",
        "[1e99999]",
        "[-1e99999]",
        "[1e-99999]",
    };
    for (int dup = 0; dup < 2; dup++) {
        struct tally t = {0};
        for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
            struct doc d;
            d.n = strlen(docs[i]);
            memcpy(d.s, docs[i], d.n);
            judge(&t, &d, dup ? STK_JSON_DUP_KEYS : 0);
        }
    }
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", edges},
        {"core", generated_strict},
        {"core", generated_dup_keys},
    };
    return TEST_TABLE_RUN("json-jansson", tests);
}
