/* SPDX-License-Identifier: MIT */
/* test_ingest_fast.c — the ingest fast path against the strict path
 * (differential): hand-written line shapes, generated good lines in many
 * field orders and spacings, and seeded mutants of them are each parsed with
 * stk_ingest_fast_path on and off, and must come out the same (accepted or
 * not, every field, the reason); then the same lines go into two segments,
 * whose counters and records must match. */
#include <errno.h>
#include <inttypes.h>

#include "log-private.h"
#include "ptest.h"

/* ---- comparing the two paths ---- */

struct outcome {
    int r;
    const char *why;
    struct stk_ingest_tick t;
};

static void parse_with(bool fast, const char *line, size_t len, struct outcome *o)
{
    memset(&o->t, 0x5a, sizeof(o->t)); /* must stay so on error */
    o->why = NULL;
    stk_ingest_fast_path = fast;
    o->r = stk_ingest_parse_line(line, len, &o->t, &o->why);
    stk_ingest_fast_path = true;
}

static bool tick_eq(const struct stk_ingest_tick *a, const struct stk_ingest_tick *b)
{
    return !memcmp(a->symbol, b->symbol, sizeof(a->symbol)) && a->q.seq == b->q.seq &&
           a->q.price == b->q.price && a->q.bid == b->q.bid && a->q.ask == b->q.ask &&
           a->q.volume == b->q.volume && a->q.src_ts_ns == b->q.src_ts_ns &&
           a->q.pub_ts_ns == b->q.pub_ts_ns && a->q.bid_size == b->q.bid_size &&
           a->q.ask_size == b->q.ask_size && a->has == b->has;
}

static bool why_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The line, printable, for failure messages (at most 200 bytes of it). */
static const char *show(const char *line, size_t len)
{
    static char out[1024];
    size_t o = 0;
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
    }
    snprintf(out + o, sizeof(out) - o, "%s (%zu bytes)", len > 200 ? "..." : "", len);
    return out;
}

static const char *show_tick(const struct outcome *o)
{
    static char out[2][256];
    static int k;
    char *s = out[k++ & 1];
    if (o->r < 0) {
        snprintf(s, 256, "error %d (%s)", o->r, o->why ? o->why : "no reason");
        return s;
    }
    snprintf(s, 256,
             "ok %.32s price %" PRId64 " bid %" PRId64 " ask %" PRId64 " sizes %" PRIu32 "/%" PRIu32
             " volume %" PRIu64 " ts %" PRIu64 " has %#x",
             o->t.symbol, o->t.q.price, o->t.q.bid, o->t.q.ask, o->t.q.bid_size, o->t.q.ask_size,
             o->t.q.volume, o->t.q.src_ts_ns, o->t.has);
    return s;
}

struct tally {
    unsigned long lines, fast, accepted;
};

/* Parse with the fast path on and off: the same outcome, and whatever the
 * recogniser takes on its own the strict path accepts with the same tick.
 * Returns whether the recogniser took the line. */
static bool same_outcome(const char *line, size_t len, struct tally *n)
{
    struct outcome f, s, direct;
    parse_with(true, line, len, &f);
    parse_with(false, line, len, &s);
    ck_assert_msg(f.r == s.r && why_eq(f.why, s.why) && tick_eq(&f.t, &s.t),
                  "fast and strict paths differ on %s\n fast:   %s\n strict: %s", show(line, len),
                  show_tick(&f), show_tick(&s));
    /* the recogniser alone, on what stk_ingest_parse_line hands it: the line
     * without its one trailing CR */
    size_t dlen = len && line[len - 1] == '\r' ? len - 1 : len;
    struct stk_ingest_tick untouched;
    memset(&untouched, 0x5a, sizeof(untouched));
    direct.t = untouched;
    direct.r = 0;
    direct.why = NULL;
    bool took = stk_ingest_parse_fast(line, dlen, &direct.t);
    if (took)
        ck_assert_msg(s.r == 0 && tick_eq(&direct.t, &s.t),
                      "fast path accepts what the strict path does not: %s\n fast:   %s\n "
                      "strict: %s",
                      show(line, len), show_tick(&direct), show_tick(&s));
    else
        ck_assert_msg(!memcmp(&direct.t, &untouched, sizeof(untouched)),
                      "fast path refused but wrote *t: %s", show(line, len));
    if (n) {
        n->lines++;
        n->fast += took;
        n->accepted += s.r == 0;
    }
    return took;
}

/* ---- hand-written shapes ---- */

struct text {
    const char *s;
    size_t n;
};
#define T(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

/* The shapes the fast path exists for: each must take it, and be accepted. */
static const struct text fast_shapes[] = {
    T("{\"symbol\":\"AAPL\",\"price\":\"189.25\",\"bid\":\"189.24\",\"ask\":\"189.26\","
      "\"bid_size\":300,\"ask_size\":200,\"volume\":123456,\"ts_ns\":1700000000000000000}"),
    T("{\"symbol\": \"AAPL\", \"price\": \"189.25\", \"bid\": \"189.24\", \"ask\": \"189.26\", "
      "\"bid_size\": 300, \"ask_size\": 200, \"volume\": 123456, \"ts_ns\": 1700000000000000000}"),
    T("{ \"ts_ns\" : 1 , \"volume\" : 0 , \"ask_size\" : 0 , \"bid_size\" : 4294967295 , "
      "\"ask\" : 1e2 , \"bid\" : -0 , \"price\" : 0.00000001 , \"symbol\" : \"BRK.B\" }"),
    T("{\"price\":415.5,\"symbol\":\"MSFT\"}"),
    T("{\"symbol\":\"MSFT\",\"price\":415.5,\"volume\":5}"),
    T("{\"symbol\":\"X\",\"price\":-37.63}"),
    T("{\"symbol\":\"X\",\"price\":\"-37.63\",\"exchange\":\"XNAS\",\"seq\":123456789012345678901,"
      "\"live\":true,\"halted\":false,\"note\":null,\"f\":-1.5e-300,\"e\":\"\"}"),
    T("{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234\",\"price\":1}"),
    T("{\"symbol\":\"!#$%&'()*+-./:;<=>?@[]^_`{|}~\",\"price\":\"1\"}"),
    T("{\"symbol\":\"A\",\"price\":\"92233720368.54775807\",\"bid\":\"-92233720368.54775808\"}"),
    T("{\"symbol\":\"A\",\"price\":1.0e2,\"bid\":1E+2,\"ask\":100E-2}"),
    T("{\"symbol\":\"A\",\"price\":0e99999,\"bid\":\"1.000000000000000000000\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":18446744073709551615,"
      "\"ts_ns\":18446744073709551615}"),
    T("{\"symbol\":\"A\",\"price\":1,\"x\":1,\"x\":2,\"symbol \":3}"), /* unknown repeats: fine */
    T("{\"symbol\":\"A\",\"price\":1,\"\":0,\"a b\":\"c d\",\"{}\":\"[],:\"}"),
    T("{\"symbol\":\"A\",\"price\":1}\r"), /* the one trailing CR is cut before either path */
};

/* Valid lines outside the shape: the strict path serves them (the fast path
 * must leave them alone, though taking them would not be wrong). */
static const struct text strict_shapes[] = {
    T(" {\"symbol\":\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1} "),
    T("{\"symbol\":\"A\",\"price\":1}\t"),
    T("{\"symbol\":\"A\",\t\"price\":1}"),
    T("{\"symbol\":\"A\",\n\"price\":1}"),
    T("{\"symbol\":\"A\",\r\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"pr\\u0069ce\":2}"), /* escaped: an unknown key to both */
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"caf\xc3\xa9\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"a\\\"b\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"x\":{\"a\":[1,2,{\"b\":null}]},\"y\":[]}"),
    T("{\"symbol\":\"A\",\"price\":1,\"x\":{}}"),
};

/* Everything else: bad lines of every kind (test_ingest.c, test_feed_ingest.py
 * and more), near misses of the shape, number forms, limits. */
static const struct text other_shapes[] = {
    T(""),
    T("hello"),
    T("this is not json"),
    T("{}"),
    T("{ }"),
    T("[]"),
    T("null"),
    T("\"AAPL\""),
    T("[\"AAPL\",1]"),
    T("[{\"symbol\":\"A\",\"price\":1}]"),
    T("{\"symbol\":\"AAPL\",\"price\":\"189.25\""),
    T("{\"symbol\":\"AAPL\",\"price\":\"189.25"),
    T("{\"symbol\":\"AAPL\",\"price\":189.25"),
    T("{\"symbol\":\"AAPL\",\"price\":"),
    T("{\"symbol\":\"AAPL\",\"price\""),
    T("{\"symbol\":\"AAPL\","),
    T("{\"symbol\""),
    T("{\""),
    T("{"),
    T("}"),
    T("{\"price\":\"1\"}"),
    T("{\"price\":\"1.00\"}"),
    T("{\"symbol\":\"AAPL\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"abc\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e400}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1e400\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":1.000000001}"),
    T("{\"symbol\":\"AAPL\",\"price\":1.0000000000000000000000000001}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1.0000000000000000000000000001x\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":true}"),
    T("{\"symbol\":\"AAPL\",\"price\":false}"),
    T("{\"symbol\":\"AAPL\",\"price\":null}"),
    T("{\"symbol\":\"AAPL\",\"price\":{}}"),
    T("{\"symbol\":\"AAPL\",\"price\":[1]}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"+1\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":+1}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\" 1\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1 \"}"),
    T("{\"symbol\":\"AAPL\",\"price\":-0}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"-0\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":-0.0}"),
    T("{\"symbol\":\"AAPL\",\"price\":-}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"-\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":--1}"),
    T("{\"symbol\":\"AAPL\",\"price\":1.0e2}"),
    T("{\"symbol\":\"AAPL\",\"price\":00.5}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"00.5\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":01}"),
    T("{\"symbol\":\"AAPL\",\"price\":.5}"),
    T("{\"symbol\":\"AAPL\",\"price\":\".5\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":5.}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"5.\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e+}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e-8}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e-9}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e10}"),
    T("{\"symbol\":\"AAPL\",\"price\":1e11}"),
    T("{\"symbol\":\"AAPL\",\"price\":1.5.3}"),
    T("{\"symbol\":\"AAPL\",\"price\":0x10}"),
    T("{\"symbol\":\"AAPL\",\"price\":Infinity}"),
    T("{\"symbol\":\"AAPL\",\"price\":NaN}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"92233720368.54775808\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":-92233720368.54775809}"),
    T("{\"symbol\":\"AAPL\",\"price\":99999999999999999999}"),
    T("{\"symbol\":\"AAPL\",\"price\":1x}"),
    T("{\"symbol\":\"AAPL\",\"price\":1\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\"\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\"1}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\\u0030\"}"),
    T("{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCD\",\"price\":1}"),
    T("{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\",\"price\":1}"),
    T("{\"symbol\":\"\",\"price\":1}"),
    T("{\"symbol\":\" \",\"price\":1}"),
    T("{\"symbol\":\"A B\",\"price\":1}"),
    T("{\"symbol\":\"A \",\"price\":1}"),
    T("{\"symbol\":\"A\\u0042\",\"price\":1}"),
    T("{\"symbol\":\"A\\\\\",\"price\":1}"),
    T("{\"symbol\":\"A\\\"\",\"price\":1}"),
    T("{\"symbol\":\"A\x7f\",\"price\":1}"),
    T("{\"symbol\":\"\xc3\xa9\",\"price\":1}"),
    T("{\"symbol\":42,\"price\":1}"),
    T("{\"symbol\":null,\"price\":1}"),
    T("{\"symbol\":[\"A\"],\"price\":1}"),
    T("{\"symbol\":\"A\",\"symbol\":\"B\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"symbol\":\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"price\":2}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid\":1,\"bid\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ask\":1,\"ask\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":1,\"bid_size\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ask_size\":1,\"ask_size\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":1,\"volume\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ts_ns\":1,\"ts_ns\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"pr\\u0069ce\":\"x\"}"),
    T("{\"symbol\":\"A\",\"pr\\u0069ce\":1}"),
    T("{\"symb\\u006fl\":\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1} x"),
    T("{\"symbol\":\"A\",\"price\":1}x"),
    T("{\"symbol\":\"A\",\"price\":1}{}"),
    T("{\"symbol\":\"A\",\"price\":1}}"),
    T("{\"symbol\":\"A\",\"price\":1},"),
    T("{\"symbol\":\"A\",\"price\":1}\n"),
    T("{\"symbol\":\"A\",\"price\":1}\r\r"),
    T("{\"symbol\":\"A\",\"price\":1}\r "),
    T("\r{\"symbol\":\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\" \"price\":1}"),
    T("{\"symbol\":\"A\",,\"price\":1}"),
    T("{,\"symbol\":\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,}"),
    T("{\"symbol\":\"A\",\"price\":1 ,}"),
    T("{\"symbol\":\"A\",\"price\":1, }"),
    T("{\"symbol\"\"A\",\"price\":1}"),
    T("{\"symbol\"::\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\":\"price\":1}"),
    T("{\"symbol\",\"A\",\"price\":1}"),
    T("{symbol:\"A\",\"price\":1}"),
    T("{'symbol':'AAPL','price':1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"a\tb\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":[1,]}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"\\x\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"\\u12\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":tru}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":truex}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":True}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":nul}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":01}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":-}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":1.}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":{\"symbol\":\"B\",\"price\":2}}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":"
      "{\"i\":{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":{\"p\":{\"q\":{\"r\":{\"s\":{\"t\":{\"u\":"
      "{\"v\":{\"w\":{\"x\":{\"y\":{\"z\":{\"0\":{\"1\":{\"2\":{\"3\":{\"4\":{\"5\":1}}}}}}}}}}}}}}"
      "}}"
      "}}}}}}}}}}}}}}}}}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid\":\"x\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid\":true}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ask\":1e400}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":-1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":-0}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":+1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":01}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":00}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":0}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":1.0}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":1e2}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":\"1\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"bid_size\":null}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ask_size\":4294967296}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ask_size\":4294967295}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ask_size\":99999999999999999999999}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":1.5}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":\"5\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":-5}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":18446744073709551616}"),
    T("{\"symbol\":\"A\",\"price\":1,\"volume\":99999999999999999999999999}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ts_ns\":18446744073709551616}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ts_ns\":-1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"ts_ns\":1.7e18}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\xff\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\",\"note\":\"\xff\xfe\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xc0\xaf\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xed\xa0\x80\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xe2\x82\"}"),
    T("{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xf4\x90\x80\x80\"}"),
    T("\xef\xbb\xbf{\"symbol\":\"A\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1}\0junk"),
    T("{\"symbol\":\"A\",\"price\":1\0}"),
    T("{\"symbol\":\"A\0\",\"price\":1}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"\0\"}"),
    T("\0"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"\x01\"}"),
    T("{\"symbol\":\"A\",\"price\":1,\"n\":\"\x1f\"}"),
};

/* Lines built at run time: the length limit, and the pair limit of both
 * parsers (16 pairs for the fast path, 31 for the strict path's tokens). */
static void limit_shapes(struct tally *n)
{
    size_t cap = STK_INGEST_LINE_MAX + 64;
    char *line = malloc(cap);
    ck_assert_ptr_nonnull(line);
    const char head[] = "{\"symbol\":\"A\",\"price\":1,\"pad\":\"";
    for (size_t want = STK_INGEST_LINE_MAX - 2; want <= STK_INGEST_LINE_MAX + 2; want++) {
        for (int cr = 0; cr < 2; cr++) {
            size_t len = want + (size_t)cr;
            memcpy(line, head, sizeof(head) - 1);
            memset(line + sizeof(head) - 1, 'x', want - (sizeof(head) - 1) - 2);
            memcpy(line + want - 2, "\"}\r", 3);
            bool took = same_outcome(line, len, n);
            ck_assert_msg(took == (want <= STK_INGEST_LINE_MAX), "%zu bytes, cr %d", want, cr);
        }
    }
    for (int pairs = 2; pairs <= 40; pairs++) {
        size_t o = (size_t)snprintf(line, cap, "{\"symbol\":\"A\",\"price\":1");
        for (int k = 2; k < pairs; k++)
            o += (size_t)snprintf(line + o, cap - o, ",\"k%d\":%d", k, k);
        o += (size_t)snprintf(line + o, cap - o, "}");
        bool took = same_outcome(line, o, n);
        ck_assert_int_eq(took, pairs <= 16);
        /* also as an array holding the same scalars: too many tokens for jsmn */
        o = (size_t)snprintf(line, cap, "{\"symbol\":\"A\",\"price\":1,\"a\":[");
        for (int k = 0; k < pairs * 2; k++)
            o += (size_t)snprintf(line + o, cap - o, "%s%d", k ? "," : "", k);
        o += (size_t)snprintf(line + o, cap - o, "]}");
        same_outcome(line, o, n);
    }
    /* a 1 MB line */
    free(line);
    size_t big = (size_t)1 << 20;
    line = malloc(big);
    ck_assert_ptr_nonnull(line);
    memcpy(line, head, sizeof(head) - 1);
    memset(line + sizeof(head) - 1, 'x', big - sizeof(head) - 1);
    memcpy(line + big - 2, "\"}", 2);
    ck_assert(!same_outcome(line, big, n));
    free(line);
}

START_TEST(shapes_agree)
{
    struct tally n = {0};
    for (size_t i = 0; i < sizeof(fast_shapes) / sizeof(fast_shapes[0]); i++)
        ck_assert_msg(same_outcome(fast_shapes[i].s, fast_shapes[i].n, &n),
                      "the fast path does not take %s", show(fast_shapes[i].s, fast_shapes[i].n));
    ck_assert_uint_eq(n.accepted, n.lines);
    memset(&n, 0, sizeof(n));
    for (size_t i = 0; i < sizeof(strict_shapes) / sizeof(strict_shapes[0]); i++)
        ck_assert_msg(!same_outcome(strict_shapes[i].s, strict_shapes[i].n, &n),
                      "the fast path takes %s", show(strict_shapes[i].s, strict_shapes[i].n));
    ck_assert_uint_eq(n.accepted, n.lines);
    for (size_t i = 0; i < sizeof(other_shapes) / sizeof(other_shapes[0]); i++)
        same_outcome(other_shapes[i].s, other_shapes[i].n, NULL);
    limit_shapes(NULL);

    /* a few outcomes pinned, so "the same" cannot mean "both wrong" here */
    struct outcome o;
    parse_with(true, fast_shapes[2].s, fast_shapes[2].n, &o);
    ck_assert_int_eq(o.r, 0);
    ck_assert_str_eq(o.t.symbol, "BRK.B");
    ck_assert_int_eq(o.t.q.price, 1);
    ck_assert_int_eq(o.t.q.bid, 0);
    ck_assert_int_eq(o.t.q.ask, 10000000000LL);
    ck_assert_uint_eq(o.t.q.bid_size, 4294967295u);
    ck_assert_uint_eq(o.t.q.src_ts_ns, 1);
    ck_assert_uint_eq(o.t.has, STK_ING_BID | STK_ING_ASK | STK_ING_BID_SIZE | STK_ING_ASK_SIZE |
                                   STK_ING_VOLUME | STK_ING_TS);
    parse_with(true, fast_shapes[9].s, fast_shapes[9].n, &o);
    ck_assert_int_eq(o.t.q.price, INT64_MAX);
    ck_assert_int_eq(o.t.q.bid, INT64_MIN);
    const char dup[] = "{\"symbol\":\"A\",\"price\":1,\"price\":2}";
    parse_with(true, dup, sizeof(dup) - 1, &o);
    ck_assert_int_eq(o.r, -EINVAL);
    ck_assert_str_eq(o.why, "duplicate key \"price\"");
}
END_TEST

/* ---- generated good lines and their mutants ---- */

static uint64_t rng_state;

static unsigned below(unsigned n)
{
    return test_below(&rng_state, n);
}

/* A random spacing: nothing most often, json.dumps's one space, or a few. */
static const char *sp(int style)
{
    static const char *const runs[] = {"", " ", "  ", "   "};
    return style < 2 ? (style == 1 ? " " : "") : runs[below(4)];
}

static const char *const decimals[] = {
    "189.25", "0",       "-0",          "0.00000001", "1e2",
    "1.5E-3", "-37.63",  "12345678901", "100E-2",     "1.10000000",
    "2e+1",   "0.5",     "-0.5",        "9.2e10",     "7",
    "415.5",  "0e99999", "10.000",      "1E8",        "92233720368.54775807",
};
static const char *const uints[] = {
    "0", "1", "300", "4294967295", "1700000000123456789", "18446744073709551615"};
static const char *const others[] = {"\"XNAS\"",     "true", "false", "null",
                                     "-1.5e-300",    "0",    "\"\"",  "123456789012345678901",
                                     "\"a, b: {c}\""};
static const char sym_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_/:^=!~abcdz";

/* One good line in the fast path's shape: symbol and price, some of the
 * optional fields, maybe unknown keys, in a random order and spacing. */
static size_t gen_line(char *out, size_t cap, unsigned *ret_has)
{
    char pairs[12][96];
    int np = 0, style = (int)below(3);
    unsigned has = 0;
    /* mostly one of 40 names (so a segment of 64 holds them), else random */
    char sym[32];
    uint64_t x = below(4) ? below(40) : test_rand(&rng_state);
    unsigned sn = x < 40 ? 1 + (unsigned)x % 5 : 1 + below(below(4) ? 5 : 31);
    for (unsigned i = 0; i < sn; i++, x /= sizeof(sym_chars) - 1)
        sym[i] = sym_chars[x % (sizeof(sym_chars) - 1)];
    sym[sn] = 0;
    const char *s1 = sp(style), *s2 = sp(style);
    snprintf(pairs[np++], 96, "\"symbol\"%s:%s\"%s\"", s1, s2, sym);
    static const char *const dec_keys[] = {"price", "bid", "ask"};
    static const unsigned dec_bits[] = {0, STK_ING_BID, STK_ING_ASK};
    for (int k = 0; k < 3; k++) {
        if (k && below(2))
            continue;
        const char *d = decimals[below(sizeof(decimals) / sizeof(decimals[0]))];
        bool str = below(2);
        snprintf(pairs[np++], 96, "\"%s\"%s:%s%s%s%s", dec_keys[k], sp(style), sp(style),
                 str ? "\"" : "", d, str ? "\"" : "");
        has |= dec_bits[k];
    }
    static const char *const int_keys[] = {"bid_size", "ask_size", "volume", "ts_ns"};
    static const unsigned int_bits[] = {STK_ING_BID_SIZE, STK_ING_ASK_SIZE, STK_ING_VOLUME,
                                        STK_ING_TS};
    for (int k = 0; k < 4; k++) {
        if (below(2))
            continue;
        unsigned nu = k < 2 ? 4 : 6; /* sizes stop at UINT32_MAX */
        snprintf(pairs[np++], 96, "\"%s\"%s:%s%s", int_keys[k], sp(style), sp(style),
                 uints[below(nu)]);
        has |= int_bits[k];
    }
    for (unsigned k = below(below(3) ? 1 : 5); k > 0; k--)
        snprintf(pairs[np++], 96, "\"x%u\"%s:%s%s", below(3), sp(style), sp(style),
                 others[below(sizeof(others) / sizeof(others[0]))]);
    for (int i = np - 1; i > 0; i--) { /* shuffle */
        int j = (int)below((unsigned)i + 1);
        char tmp[96];
        memcpy(tmp, pairs[i], 96);
        memcpy(pairs[i], pairs[j], 96);
        memcpy(pairs[j], tmp, 96);
    }
    size_t o = (size_t)snprintf(out, cap, "{%s", sp(style));
    for (int i = 0; i < np; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s%s", i ? sp(style) : "", i ? "," : "",
                              i ? sp(style) : "", pairs[i]);
    o += (size_t)snprintf(out + o, cap - o, "%s}", sp(style));
    *ret_has = has;
    return o;
}

#define NGOOD 4000
#define NMUTANTS 200000
#define LINE_CAP 1024

static char (*good)[LINE_CAP];
static size_t *good_len;

static void make_good_lines(void)
{
    good = malloc(NGOOD * sizeof(*good));
    good_len = malloc(NGOOD * sizeof(*good_len));
    ck_assert(good && good_len);
    rng_state = 20260314;
    for (int i = 0; i < NGOOD; i++) {
        unsigned has;
        good_len[i] = gen_line(good[i], LINE_CAP, &has);
        struct outcome o;
        parse_with(true, good[i], good_len[i], &o);
        ck_assert_msg(o.r == 0 && o.t.has == has, "generated line %s: %s",
                      show(good[i], good_len[i]), show_tick(&o));
    }
}

START_TEST(generated_lines_agree)
{
    make_good_lines();
    struct tally n = {0};
    for (int i = 0; i < NGOOD; i++)
        ck_assert_msg(same_outcome(good[i], good_len[i], &n), "the fast path does not take %s",
                      show(good[i], good_len[i]));
    free(good);
    free(good_len);
}
END_TEST

/* Bytes that matter to either parser, and some that matter to neither. */
static const char alphabet[] = "{}[]\":, \t\r\n\\/u0123456789-+.eE"
                               "symbolpricebidaskvolumets_nzAPLtruefalsenull\x01\x1f\x7f"
                               "\x80\xc3\xa9\xed\xf4\xff";

/* One random edit of line[0..*len) (capacity cap). */
static void mutate(char *line, size_t *len, size_t cap)
{
    size_t n = *len, at = below((unsigned)n + 1);
    char ch = below(24) ? alphabet[below(sizeof(alphabet) - 1)] : (char)(below(2) ? 0 : below(256));
    switch (below(8)) {
    case 0: /* insert a byte */
        if (n < cap) {
            memmove(line + at + 1, line + at, n - at);
            line[at] = ch;
            n++;
        }
        break;
    case 1: /* delete a byte */
        if (at < n) {
            memmove(line + at, line + at + 1, n - at - 1);
            n--;
        }
        break;
    case 2: /* replace a byte */
        if (at < n)
            line[at] = ch;
        break;
    case 3: /* flip a bit */
        if (at < n)
            line[at] = (char)(line[at] ^ (1 << below(8)));
        break;
    case 4: /* truncate */
        n = at;
        break;
    case 5: { /* copy a slice elsewhere: repeated keys, pairs, separators */
        size_t a = below((unsigned)n + 1), b = a + below(24);
        if (b > n)
            b = n;
        if (n + (b - a) <= cap) {
            char tmp[64];
            memcpy(tmp, line + a, b - a);
            memmove(line + at + (b - a), line + at, n - at);
            memcpy(line + at, tmp, b - a);
            n += b - a;
        }
        break;
    }
    case 6: { /* delete a slice */
        size_t b = at + below(12);
        if (b > n)
            b = n;
        memmove(line + at, line + b, n - b);
        n -= b - at;
        break;
    }
    default: /* a digit up or down: leading zeros, limits */
        if (at < n && line[at] >= '0' && line[at] <= '9')
            line[at] = (char)(line[at] == '9' ? '0' : line[at] + 1);
        else if (at < n)
            line[at] = ch;
        break;
    }
    *len = n;
}

/* Mutant k (deterministic): a base line with one to four edits. */
static size_t make_mutant(unsigned k, char *line, size_t cap)
{
    rng_state = 0x9e3779b97f4a7c15ull * (k + 1);
    unsigned nf = sizeof(fast_shapes) / sizeof(fast_shapes[0]);
    unsigned nb = nf + sizeof(other_shapes) / sizeof(other_shapes[0]);
    unsigned b = below(4) ? below(NGOOD) : NGOOD + below(nb);
    size_t len;
    if (b < NGOOD) {
        len = good_len[b];
        memcpy(line, good[b], len);
    } else {
        b -= NGOOD;
        const struct text *t = b < nf ? &fast_shapes[b] : &other_shapes[b - nf];
        len = t->n < cap ? t->n : cap;
        memcpy(line, t->s, len);
    }
    for (unsigned e = below(4) ? 1 : 2 + below(3); e > 0; e--)
        mutate(line, &len, cap);
    return len;
}

START_TEST(mutants_agree)
{
    make_good_lines();
    struct tally n = {0};
    char line[LINE_CAP];
    for (unsigned k = 0; k < NMUTANTS; k++) {
        size_t len = make_mutant(k, line, sizeof(line));
        same_outcome(line, len, &n);
    }
    /* the mutants cover both sides of the fast path's border */
    ck_assert_msg(n.fast > NMUTANTS / 10 && n.accepted - n.fast > NMUTANTS / 1000 &&
                      n.lines - n.accepted > NMUTANTS / 5,
                  "%lu mutants: %lu by the fast path, %lu accepted", n.lines, n.fast, n.accepted);
    free(good);
    free(good_len);
}
END_TEST

/* ---- the same lines into two segments ---- */

struct side {
    const char *name;
    struct stk_seg *seg;
    struct stk_ingest_sink s;
};

static void side_open(struct side *d, const char *tag)
{
    d->name = test_shm_name(tag);
    struct stk_seg_params sp = {.name = d->name, .capacity = 64, .history = 4, .mode = 0600};
    ck_assert_int_eq(stk_seg_attach_writer(&sp, &d->seg, NULL), 0);
    memset(&d->s, 0, sizeof(d->s));
    d->s.seg = d->seg;
    d->s.origin = tag;
}

static void both_ingest(struct side *f, struct side *s, const char *line, size_t len, uint64_t now)
{
    struct side *sides[2] = {f, s};
    int r[2];
    for (int i = 0; i < 2; i++) {
        stk_ingest_fast_path = i == 0;
        sides[i]->s.now_ns = now;
        stk_batch_begin(sides[i]->seg);
        r[i] = stk_ingest_line(&sides[i]->s, line, len);
        stk_batch_end(sides[i]->seg, now);
    }
    stk_ingest_fast_path = true;
    ck_assert_msg(r[0] == r[1], "stk_ingest_line differs on %s", show(line, len));
}

START_TEST(segments_agree)
{
    stk_log_init("test_ingest_fast", STK_LOG_ERROR, STK_LOG_TEXT);
    make_good_lines();
    struct side f, s;
    side_open(&f, "fast");
    side_open(&s, "strict");
    uint64_t now = 1000;
    char line[LINE_CAP];
    for (size_t i = 0; i < sizeof(fast_shapes) / sizeof(fast_shapes[0]); i++)
        both_ingest(&f, &s, fast_shapes[i].s, fast_shapes[i].n, now++);
    for (size_t i = 0; i < sizeof(other_shapes) / sizeof(other_shapes[0]); i++)
        both_ingest(&f, &s, other_shapes[i].s, other_shapes[i].n, now++);
    for (unsigned k = 0; k < 20000; k++) {
        size_t len;
        if (k % 2) {
            len = make_mutant(k, line, sizeof(line));
        } else {
            len = good_len[k % NGOOD];
            memcpy(line, good[k % NGOOD], len);
        }
        both_ingest(&f, &s, line, len, now++);
    }
    ck_assert_uint_gt(f.s.good, 5000);
    ck_assert_uint_gt(f.s.bad, 1000);
    ck_assert_uint_gt(f.s.dropped, 100);
    ck_assert_uint_eq(f.s.good, s.s.good);
    ck_assert_uint_eq(f.s.bad, s.s.bad);
    ck_assert_uint_eq(f.s.dropped, s.s.dropped);
    const struct stk_header *hf = stk_seg_header(f.seg), *hs = stk_seg_header(s.seg);
    ck_assert_uint_eq(atomic_load(&hf->bad_input), atomic_load(&hs->bad_input));
    ck_assert_uint_eq(atomic_load(&hf->symbols_dropped), atomic_load(&hs->symbols_dropped));
    ck_assert_uint_eq(atomic_load(&hf->ticks_total), atomic_load(&hs->ticks_total));
    uint32_t nsym = stk_seg_nsymbols(f.seg);
    ck_assert_uint_eq(nsym, stk_seg_nsymbols(s.seg));
    for (uint32_t i = 0; i < nsym; i++) {
        ck_assert_str_eq(stk_seg_symbol(f.seg, i), stk_seg_symbol(s.seg, i));
        ck_assert_uint_eq(stk_ring_head(f.seg, i), stk_ring_head(s.seg, i));
        struct stk_quote a, b;
        ck_assert_int_eq(stk_quote_read(f.seg, i, &a), 0);
        ck_assert_int_eq(stk_quote_read(s.seg, i, &b), 0);
        ck_assert_msg(a.seq == b.seq && a.price == b.price && a.bid == b.bid && a.ask == b.ask &&
                          a.volume == b.volume && a.src_ts_ns == b.src_ts_ns &&
                          a.pub_ts_ns == b.pub_ts_ns && a.bid_size == b.bid_size &&
                          a.ask_size == b.ask_size,
                      "symbol %s: records differ", stk_seg_symbol(f.seg, i));
    }
    stk_seg_close(f.seg);
    stk_seg_close(s.seg);
    stk_seg_unlink(f.name);
    stk_seg_unlink(s.name);
    free(good);
    free(good_len);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", shapes_agree},
        {"core", generated_lines_agree},
        {"core", mutants_agree},
        {"core", segments_agree},
    };
    return TEST_TABLE_RUN("ingest-fast", tests);
}
