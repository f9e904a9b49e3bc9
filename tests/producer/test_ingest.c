/* SPDX-License-Identifier: MIT */
/* test_ingest.c — the JSON-line protocol: good lines parsed exactly, every
 * kind of bad line rejected with a reason, the bounded line splitter, and
 * the per-line path into a real segment (unknown symbols added while
 * capacity lasts, then dropped and counted; bad lines counted). UTF-8 and
 * JSON themselves are tests/common/test_json.c's. */
#include <errno.h>
#include <fcntl.h>

#include "log-private.h"
#include "ptest.h"

static int parse(const char *s, struct stk_ingest_tick *t, const char **why)
{
    return stk_ingest_parse_line(s, strlen(s), t, why);
}

START_TEST(good_lines)
{
    struct stk_ingest_tick t;
    const char *why = NULL;
    ck_assert_int_eq(parse("{\"symbol\":\"AAPL\",\"price\":\"189.25\",\"bid\":189.24,"
                           "\"ask\":\"189.26\",\"bid_size\":300,\"ask_size\":0,"
                           "\"volume\":123456789012,\"ts_ns\":1700000000123456789}",
                           &t, &why),
                     0);
    ck_assert_str_eq(t.symbol, "AAPL");
    ck_assert_int_eq(t.q.price, 18925000000LL);
    ck_assert_int_eq(t.q.bid, 18924000000LL);
    ck_assert_int_eq(t.q.ask, 18926000000LL);
    ck_assert_uint_eq(t.q.bid_size, 300);
    ck_assert_uint_eq(t.q.ask_size, 0);
    ck_assert_uint_eq(t.q.volume, 123456789012ull);
    ck_assert_uint_eq(t.q.src_ts_ns, 1700000000123456789ull);
    ck_assert_uint_eq(t.has, STK_ING_BID | STK_ING_ASK | STK_ING_BID_SIZE | STK_ING_ASK_SIZE |
                                 STK_ING_VOLUME | STK_ING_TS);

    /* minimal, spaces, a number price, unknown keys of any shape, CR */
    ck_assert_int_eq(parse(" { \"price\" : 0.00000001 , \"symbol\" : \"BRK.B\" , "
                           "\"x\":{\"a\":[1,2,{\"b\":null}]},\"y\":[],\"z\":true }\r",
                           &t, &why),
                     0);
    ck_assert_str_eq(t.symbol, "BRK.B");
    ck_assert_int_eq(t.q.price, 1);
    ck_assert_uint_eq(t.has, 0);
    ck_assert_int_eq(parse("{\"symbol\":\"X\",\"price\":-37.63}", &t, &why), 0);
    ck_assert_int_eq(t.q.price, -3763000000LL);
    ck_assert_int_eq(parse("{\"symbol\":\"X\",\"price\":\"1e2\",\"note\":\"caf\xc3\xa9 \xf0\x9f\x93"
                           "\x88\"}",
                           &t, &why),
                     0);
    ck_assert_int_eq(t.q.price, 10000000000LL);
    /* a 31-byte symbol is the longest */
    ck_assert_int_eq(
        parse("{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234\",\"price\":1}", &t, &why), 0);
}
END_TEST

START_TEST(bad_lines)
{
    static const struct {
        const char *line;
        const char *why_part;
    } bad[] = {
        {"hello", "JSON"},
        {"", "JSON"},
        {"{\"symbol\":\"AAPL\",\"price\":\"189.25\"", "JSON"},
        {"[\"AAPL\",1]", "object"},
        {"\"AAPL\"", "object"},
        {"{\"price\":\"1\"}", "missing \"symbol\""},
        {"{\"symbol\":\"AAPL\"}", "missing \"price\""},
        {"{\"symbol\":\"AAPL\",\"price\":\"abc\"}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":1e400}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":\"1e400\"}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":1.000000001}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":true}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":null}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":{}}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":\"+1\"}", "price"},
        {"{\"symbol\":\"AAPL\",\"price\":\"\"}", "price"},
        {"{\"symbol\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCD\",\"price\":1}", "31"},
        {"{\"symbol\":\"\",\"price\":1}", "symbol"},
        {"{\"symbol\":\"A B\",\"price\":1}", "symbol"},
        {"{\"symbol\":\"A\\u0042\",\"price\":1}", "symbol"},
        {"{\"symbol\":42,\"price\":1}", "symbol"},
        {"{\"symbol\":\"A\",\"symbol\":\"B\",\"price\":1}", "duplicate"},
        {"{\"symbol\":\"A\",\"price\":1,\"price\":2}", "duplicate"},
        {"{\"symbol\":\"A\",\"price\":1} x", "JSON"},
        {"{\"symbol\":\"A\",\"price\":1}{}", "JSON"},
        {"{\"symbol\":\"A\" \"price\":1}", "JSON"},
        {"{\"symbol\":\"A\",,\"price\":1}", "JSON"},
        {"{\"symbol\":\"A\",\"price\":1,\"n\":\"a\tb\"}", "JSON"},
        {"{\"symbol\":\"A\",\"price\":1,\"n\":[1,]}", "JSON"},
        {"{\"symbol\":\"A\",\"price\":1,\"n\":\"\\x\"}", "JSON"},
        {"{\"symbol\":\"A\",\"price\":01}", "JSON"},
        {"{\"symbol\":\"A\",\"price\":1,\"bid\":\"x\"}", "bid"},
        {"{\"symbol\":\"A\",\"price\":1,\"bid_size\":-1}", "bid_size"},
        {"{\"symbol\":\"A\",\"price\":1,\"ask_size\":4294967296}", "ask_size"},
        {"{\"symbol\":\"A\",\"price\":1,\"volume\":1.5}", "volume"},
        {"{\"symbol\":\"A\",\"price\":1,\"volume\":\"5\"}", "volume"},
        {"{\"symbol\":\"A\",\"price\":1,\"ts_ns\":18446744073709551616}", "ts_ns"},
        {"{\"symbol\":\"A\",\"price\":1,\"ts_ns\":-1}", "ts_ns"},
        {"{\"symbol\":\"AAPL\",\"price\":\"1\xff\"}", "UTF-8"},
        {"{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xc0\xaf\"}", "UTF-8"},
        {"{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xed\xa0\x80\"}", "UTF-8"},
        {"{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xe2\x82\"}", "UTF-8"},
        {"{\"symbol\":\"AAPL\",\"price\":\"1\",\"n\":\"\xf4\x90\x80\x80\"}", "UTF-8"},
        {"{'symbol':'AAPL','price':1}", "JSON"},
        {"{\"symbol\":\"A\",\"price\":1,}", "JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct stk_ingest_tick t;
        memset(&t, 0x5a, sizeof(t));
        const char *why = NULL;
        int r = parse(bad[i].line, &t, &why);
        ck_assert_msg(r < 0, "accepted: %s", bad[i].line);
        ck_assert_msg(why && strstr(why, bad[i].why_part), "line %s: reason '%s', want '%s'",
                      bad[i].line, why ? why : "(null)", bad[i].why_part);
        ck_assert_int_eq(t.symbol[0], 0x5a); /* *t untouched on error */
    }
    /* a NUL byte inside */
    const char nul[] = "{\"symbol\":\"A\",\"price\":1}\0junk";
    const char *why;
    struct stk_ingest_tick t;
    ck_assert_int_lt(stk_ingest_parse_line(nul, sizeof(nul) - 1, &t, &why), 0);
    /* more tokens than the parser holds */
    char big[4096];
    size_t o = (size_t)snprintf(big, sizeof(big), "{\"symbol\":\"A\",\"price\":1,\"a\":[");
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "%s%d", i ? "," : "", i);
    snprintf(big + o, sizeof(big) - o, "]}");
    ck_assert_int_lt(parse(big, &t, &why), 0);
}
END_TEST

/* ---- line splitting ---- */

struct lines {
    int n, too_long;
    char got[16][64];
};

static void collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;
    if (!line) {
        l->too_long++;
        snprintf(l->got[l->n++ & 15], 64, "<too long>");
        return;
    }
    snprintf(l->got[l->n++ & 15], 64, "%.*s", (int)(len < 60 ? len : 60), line);
}

START_TEST(linebuf_splits_and_bounds)
{
    struct stk_linebuf lb;
    ck_assert_int_eq(stk_linebuf_init(&lb), 0);
    struct lines l = {0};
    stk_linebuf_feed(&lb, "one\ntw", 6, collect, &l);
    stk_linebuf_feed(&lb, "o\n\nthree", 8, collect, &l);
    ck_assert_int_eq(l.n, 3);
    ck_assert_str_eq(l.got[0], "one");
    ck_assert_str_eq(l.got[1], "two");
    ck_assert_str_eq(l.got[2], "");
    /* a 1 MB line in pieces: one "too long", then the next line is whole */
    stk_linebuf_feed(&lb, "\n", 1, collect, &l);
    ck_assert_str_eq(l.got[3], "three");
    char *mb = malloc(1 << 20);
    memset(mb, 'x', 1 << 20);
    for (int i = 0; i < 4; i++)
        stk_linebuf_feed(&lb, mb, 1 << 18, collect, &l);
    stk_linebuf_feed(&lb, "x\nafter\n", 8, collect, &l);
    ck_assert_int_eq(l.too_long, 1);
    ck_assert_int_eq(l.n, 6);
    ck_assert_str_eq(l.got[5], "after");
    /* exactly STK_INGEST_LINE_MAX bytes is fine; one more is not */
    stk_linebuf_feed(&lb, mb, STK_INGEST_LINE_MAX, collect, &l);
    stk_linebuf_feed(&lb, "\n", 1, collect, &l);
    ck_assert_int_eq(l.too_long, 1);
    ck_assert_int_eq(l.n, 7);
    stk_linebuf_feed(&lb, mb, STK_INGEST_LINE_MAX + 1, collect, &l);
    stk_linebuf_feed(&lb, "\nok\n", 4, collect, &l);
    ck_assert_int_eq(l.too_long, 2);
    ck_assert_int_eq(l.n, 9);
    ck_assert_str_eq(l.got[8], "ok");
    free(mb);

    /* from a pipe: EOF passes on a last line without newline */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "a\nb", 3), 3);
    close(fds[1]);
    struct lines m = {0};
    ck_assert_int_eq(stk_linebuf_read(&lb, fds[0], collect, &m), 3);
    ck_assert_int_eq(stk_linebuf_read(&lb, fds[0], collect, &m), 0);
    ck_assert_int_eq(m.n, 2);
    ck_assert_str_eq(m.got[1], "b");
    close(fds[0]);
    stk_linebuf_free(&lb);
}
END_TEST

/* ---- into a segment ---- */

START_TEST(sink_into_segment)
{
    const char *name = test_shm_name("sink");
    struct stk_seg_params sp = {.name = name, .capacity = 3, .history = 4, .mode = 0600};
    struct stk_seg *seg;
    ck_assert_int_eq(stk_seg_attach_writer(&sp, &seg, NULL), 0);
    stk_log_init("test_ingest", STK_LOG_ERROR, STK_LOG_TEXT);
    struct stk_ingest_sink s = {.seg = seg, .now_ns = 1000, .origin = "test"};
    static const char *const lines[] = {
        "{\"symbol\":\"A\",\"price\":\"1.5\",\"volume\":10}",
        "not json",
        "{\"symbol\":\"B\",\"price\":2,\"bid\":\"1.99\",\"ask\":\"2.01\",\"ts_ns\":77}",
        "{\"symbol\":\"A\",\"price\":\"1.75\"}",                       /* volume kept from before */
        "{\"symbol\":\"B\",\"price\":3,\"bid\":\"2.5\",\"ts_ns\":78}", /* ask = price */
        "{\"symbol\":\"C\",\"price\":3}",
        "{\"symbol\":\"D\",\"price\":4}", /* table full: dropped */
        "{\"symbol\":\"E\",\"price\":5}", /* dropped */
        "   ",                            /* blank: neither good nor bad */
    };
    stk_batch_begin(seg);
    int good = 0;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        good += stk_ingest_line(&s, lines[i], strlen(lines[i]));
    ck_assert_int_eq(stk_ingest_line(&s, NULL, 0), 0); /* over-long line */
    stk_batch_end(seg, 1000);
    ck_assert_int_eq(good, 5);
    ck_assert_uint_eq(s.good, 5);
    ck_assert_uint_eq(s.bad, 2);
    ck_assert_uint_eq(s.dropped, 2);
    ck_assert(s.full_logged);
    const struct stk_header *h = stk_seg_header(seg);
    ck_assert_uint_eq(atomic_load(&h->bad_input), 2);
    ck_assert_uint_eq(atomic_load(&h->symbols_dropped), 2);
    ck_assert_uint_eq(atomic_load(&h->ticks_total), 5);
    ck_assert_uint_eq(stk_seg_nsymbols(seg), 3);

    struct stk_quote q;
    ck_assert_int_eq(stk_quote_read(seg, 0, &q), 0);
    ck_assert_int_eq(q.price, 175000000);
    ck_assert_int_eq(q.bid, 175000000); /* no bid/ask: the price */
    ck_assert_uint_eq(q.volume, 10);
    ck_assert_uint_eq(q.src_ts_ns, 1000);
    ck_assert_int_eq(stk_quote_read(seg, 1, &q), 0);
    ck_assert_int_eq(q.price, 300000000);
    ck_assert_int_eq(q.bid, 250000000);
    ck_assert_int_eq(q.ask, 300000000); /* absent: the price, whatever else is there */
    ck_assert_uint_eq(q.src_ts_ns, 78);
    ck_assert_int_eq(stk_tick_read(seg, 1, 0, &q), 0);
    ck_assert_int_eq(q.bid, 199000000);
    ck_assert_int_eq(q.ask, 201000000);
    ck_assert_uint_eq(q.src_ts_ns, 77);
    ck_assert_uint_eq(q.pub_ts_ns, 1000);
    ck_assert_uint_eq(stk_ring_head(seg, 0), 2);
    stk_seg_close(seg);
    stk_seg_unlink(name);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", good_lines},
        {"errors", bad_lines},
        {"limits", linebuf_splits_and_bounds},
        {"core", sink_into_segment},
    };
    return TEST_TABLE_RUN("ingest", tests);
}
