/* SPDX-License-Identifier: MIT */
/* test_protocol.c — Check unit tests of the NDJSON protocol layer: a real
 * segment, a real server built by the fixture (srvfix.h), a connection over
 * a socketpair whose rendered output is inspected before it is written. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "server.h"
#include "srvfix.h"

#include "testutil.h"

static char shm[64];
static struct stk_seg *wseg;
static struct stk_config cfg;
static struct stk_fix *fx;
static struct stk_conn *conn;

static void setup(void)
{
    snprintf(shm, sizeof(shm), "/stk-unit-proto-%d", (int)getpid());
    struct stk_seg_params p = {.name = shm, .capacity = 16, .history = 8, .mode = 0600};
    enum stk_seg_how how;
    stk_seg_unlink(shm);
    ck_assert_int_eq(stk_seg_attach_writer(&p, &wseg, &how), 0);
    ck_assert_int_eq(stk_sym_add(wseg, "AAPL"), 0);
    ck_assert_int_eq(stk_sym_add(wseg, "BRK.B"), 1);
    struct stk_quote q = {.price = 18925000000,
                          .bid = 18924000000,
                          .ask = 18926000000,
                          .bid_size = 3,
                          .ask_size = 4,
                          .volume = 99,
                          .src_ts_ns = 1700000000123456789ull,
                          .pub_ts_ns = stk_now_ns()};
    stk_batch_begin(wseg);
    stk_tick_publish(wseg, 0, &q);
    stk_batch_end(wseg, stk_now_ns());
    stk_seg_heartbeat(wseg, stk_now_ns());
    ck_assert_int_eq(stk_config_defaults(&cfg), 0);
    stk_log_init("test", STK_LOG_ERROR, STK_LOG_TEXT);
    fx = stk_fix_new(EV_DEFAULT, &cfg, shm);
    ck_assert_ptr_nonnull(fx);
    conn = stk_fix_conn(fx, &stk_proto_ndjson);
    ck_assert_ptr_nonnull(conn);
}

static void teardown(void)
{
    stk_fix_free(fx);
    stk_seg_close(wseg);
    stk_seg_unlink(shm);
    stk_config_free(&cfg);
}

/* The reply to one request line (static, without the newline). */
static const char *reply_text(void)
{
    static char out[8192];
    size_t n;
    const char *o = stk_fix_output(conn, &n);
    ck_assert_msg(n > 0 && o[n - 1] == '\n', "no reply line");
    ck_assert(n < sizeof(out));
    memcpy(out, o, n - 1);
    out[n - 1] = 0;
    ck_assert_msg(!strchr(out, '\n'), "one line per reply: %s", out);
    return out;
}

/* Send one line, return the reply text (static, without the newline). */
static const char *ask(const char *line)
{
    stk_fix_output_clear(conn);
    stk_ndjson_request(conn, line, strlen(line));
    return reply_text();
}

#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL, "'%s' lacks '%s'", (s), (sub))

START_TEST(get_quote_exact)
{
    const char *r = ask("{\"v\":1,\"id\":7,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}");
    HAS(r, "{\"v\":1,\"id\":7,\"type\":\"response\",\"op\":\"get_quote\",\"ticker\":\"AAPL\","
           "\"price\":189.25,\"bid\":189.24,\"ask\":189.26,\"bid_size\":3,\"ask_size\":4,"
           "\"volume\":99,\"ts_ms\":1700000000123,\"ts_ns\":1700000000123456789,\"age_ms\":");
    HAS(r, "\"stale\":false}");
}
END_TEST

START_TEST(errors)
{
    const char *r = ask("{\"v\":1,\"id\":\"x\",\"type\":\"get_quote\",\"ticker\":\"NOPE\"}");
    ck_assert_str_eq(r, "{\"v\":1,\"id\":\"x\",\"type\":\"error\",\"op\":\"get_quote\",\"error\":"
                        "{\"code\":\"NOT_FOUND\",\"message\":\"unknown ticker\"}}");
    r = ask("{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"BRK.B\"}");
    HAS(r, "\"code\":\"NOT_FOUND\""); /* listed but never written */
    r = ask("{oops");
    HAS(r,
        "{\"v\":1,\"id\":null,\"type\":\"error\",\"op\":null,\"error\":{\"code\":\"BAD_REQUEST\"");
    r = ask("{\"id\":[1],\"type\":\"ping\"}");
    HAS(r, "\"id\":null,\"type\":\"error\",\"op\":\"ping\"");
    HAS(r, "Missing required fields");
    r = ask("{\"v\":1,\"id\":2,\"type\":\"teleport\"}");
    HAS(r, "\"op\":\"teleport\",\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"unknown type\"");
    r = ask("{\"v\":3,\"id\":2,\"type\":\"ping\"}");
    HAS(r, "unsupported protocol version");
    r = ask("{\"v\":1,\"id\":2,\"type\":\"get_history\",\"ticker\":\"AAPL\",\"limit\":9}");
    HAS(r, "limit must be an integer from 0 to 8");
    ck_assert_uint_eq(stk_fix_stats(fx)->errors, 7);
    ck_assert_uint_eq(stk_fix_stats(fx)->requests, 7);
}
END_TEST

START_TEST(unavailable_without_segment)
{
    struct stk_seg *seg = stk_fix_swap_segment(fx, NULL);
    const char *r = ask("{\"v\":1,\"id\":1,\"type\":\"list_tickers\"}");
    HAS(r, "\"code\":\"UNAVAILABLE\"");
    r = ask("{\"v\":1,\"id\":1,\"type\":\"health\"}");
    HAS(r, "\"producer_alive\":false,\"heartbeat_age_ms\":null,\"generation\":null");
    stk_fix_swap_segment(fx, seg);
}
END_TEST

START_TEST(ops)
{
    const char *r = ask("{\"v\":1,\"id\":1,\"type\":\"list_tickers\"}");
    HAS(r, "\"tickers\":[\"AAPL\",\"BRK.B\"]}");
    r = ask(
        "{\"v\":1,\"id\":1,\"type\":\"get_quotes\",\"tickers\":[\"BRK.B\",\"AAPL\",\"Q\\\"\"]}");
    HAS(r, "\"quotes\":[{\"ticker\":\"BRK.B\",\"error\":\"NOT_FOUND\"},{\"ticker\":\"AAPL\","
           "\"price\":189.25");
    HAS(r, "{\"ticker\":\"Q\\\"\",\"error\":\"NOT_FOUND\"}]}");
    r = ask("{\"v\":1,\"id\":1,\"type\":\"get_history\",\"ticker\":\"AAPL\",\"limit\":8}");
    HAS(r, "\"ticks\":[{\"seq\":0,\"price\":189.25,\"bid\":189.24,\"ask\":189.26,\"bid_size\":3,"
           "\"ask_size\":4,\"volume\":99,\"ts_ms\":1700000000123,\"ts_ns\":1700000000123456789}]}");
    r = ask("{\"v\":1,\"id\":1,\"type\":\"get_snapshot_epoch\"}");
    HAS(r, "\"epoch\":2,\"last_update_ms\":");
    r = ask("{\"v\":1,\"id\":1,\"type\":\"health\"}");
    HAS(r, "\"producer_alive\":true");
    HAS(r, "\"generation\":1,\"nsymbols\":2,\"connections\":1");
    r = ask("{\"v\":1,\"id\":1,\"type\":\"ping\"}");
    HAS(r, "\"op\":\"ping\",\"ts_ms\":");
    /* escapes in keys and values are decoded before they are matched */
    r = ask("{\"\\u0076\":1,\"id\":\"e\",\"t\\u0079pe\":\"get_\\u0071uote\",\"ticker\":"
            "\"AAP\\u004c\"}");
    HAS(r, "\"id\":\"e\",\"type\":\"response\",\"op\":\"get_quote\",\"ticker\":\"AAPL\",\"price\":"
           "189.25");
}
END_TEST

START_TEST(subscription_events)
{
    const char *r = ask("{\"v\":1,\"id\":1,\"type\":\"subscribe\",\"tickers\":[\"AAPL\"]}");
    HAS(r, "\"tickers\":[\"AAPL\"],\"quotes\":[{\"ticker\":\"AAPL\",\"price\":189.25");
    HAS(r, "\"subscriptions\":1}");
    ck_assert_uint_eq(stk_fix_subscribers(fx), 1);
    /* three writes, one scan: one event that replaced two */
    struct stk_quote q = {.price = 100000000, .pub_ts_ns = stk_now_ns(), .src_ts_ns = 1};
    for (int i = 0; i < 3; i++) {
        q.price += 50000000;
        stk_batch_begin(wseg);
        stk_tick_publish(wseg, 0, &q);
        stk_batch_end(wseg, stk_now_ns());
    }
    stk_subs_scan(stk_fix_server(fx));
    stk_fix_output_clear(conn);
    ck_assert_uint_eq(stk_fix_events(conn), 1);
    size_t n;
    HAS(stk_fix_output(conn, &n),
        "{\"v\":1,\"type\":\"quote\",\"seq\":1,\"conflated\":2,\"ticker\":\"AAPL\","
        "\"price\":2.5,");
    /* nothing new: nothing rendered */
    stk_subs_scan(stk_fix_server(fx));
    ck_assert_uint_eq(stk_fix_events(conn), 0);
    r = ask("{\"v\":1,\"id\":1,\"type\":\"unsubscribe\",\"tickers\":\"*\"}");
    HAS(r, "\"removed\":1,\"subscriptions\":0}");
    ck_assert_uint_eq(stk_subs_count(conn), 0);
    ck_assert_uint_eq(stk_fix_subscribers(fx), 0);
}
END_TEST

/* Rendered quote text is reused only while the record's values are the
 * same: every change shows in the next reply. */
START_TEST(quote_text_follows_record)
{
    const char *line = "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}";
    HAS(ask(line), "\"price\":189.25,\"bid\":189.24,\"ask\":189.26,\"bid_size\":3");
    HAS(ask(line), "\"price\":189.25,\"bid\":189.24,\"ask\":189.26,\"bid_size\":3");
    struct stk_quote q = {.price = -150000001,
                          .bid = 0,
                          .ask = 1,
                          .bid_size = 4294967295u,
                          .ask_size = 0,
                          .volume = 18446744073709551615ull,
                          .src_ts_ns = 999999,
                          .pub_ts_ns = stk_now_ns()};
    stk_batch_begin(wseg);
    stk_tick_publish(wseg, 0, &q);
    stk_batch_end(wseg, stk_now_ns());
    HAS(ask(line), "\"price\":-1.50000001,\"bid\":0,\"ask\":0.00000001,\"bid_size\":4294967295,"
                   "\"ask_size\":0,\"volume\":18446744073709551615,\"ts_ms\":0,\"ts_ns\":999999,");
    /* one field at a time */
    struct {
        void *field;
        size_t size;
        uint64_t value;
        const char *want;
    } steps[] = {
        {&q.price, 8, 100000000, "\"price\":1,\"bid\":0,"},
        {&q.bid, 8, 200000000, "\"bid\":2,\"ask\":0.00000001,"},
        {&q.ask, 8, 300000000, "\"ask\":3,\"bid_size\":"},
        {&q.bid_size, 4, 5, "\"bid_size\":5,\"ask_size\":0,"},
        {&q.ask_size, 4, 6, "\"ask_size\":6,\"volume\":"},
        {&q.volume, 8, 7, "\"volume\":7,\"ts_ms\":0,"},
        {&q.src_ts_ns, 8, 8000000, "\"ts_ms\":8,\"ts_ns\":8000000,"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (steps[i].size == 8)
            memcpy(steps[i].field, &steps[i].value, 8);
        else
            *(uint32_t *)steps[i].field = (uint32_t)steps[i].value;
        stk_batch_begin(wseg);
        stk_tick_publish(wseg, 0, &q);
        stk_batch_end(wseg, stk_now_ns());
        HAS(ask(line), steps[i].want);
    }
}
END_TEST

/* ---- fast path vs strict path (differential) ---- */

/* Reply to line[0..len) with the get_quote fast path on or off: the output
 * and the error count it added. */
static size_t reply_with(bool fast, const char *line, size_t len, char *out, size_t size,
                         uint64_t *ret_errors)
{
    stk_ndjson_fast_path = fast;
    uint64_t e0 = stk_fix_stats(fx)->errors;
    stk_fix_output_clear(conn);
    stk_ndjson_request(conn, line, len);
    stk_ndjson_fast_path = true;
    *ret_errors = stk_fix_stats(fx)->errors - e0;
    size_t n;
    const char *o = stk_fix_output(conn, &n);
    ck_assert(n > 0 && n <= size);
    memcpy(out, o, n);
    return n;
}

static void same_reply(const char *line, size_t len)
{
    static char a[8192], b[8192];
    uint64_t ea, eb;
    size_t na = reply_with(true, line, len, a, sizeof(a), &ea);
    size_t nb = reply_with(false, line, len, b, sizeof(b), &eb);
    ck_assert_msg(na == nb && !memcmp(a, b, na) && ea == eb,
                  "fast and strict paths differ on '%.*s':\n fast:   %.*s strict: %.*s", (int)len,
                  line, (int)na, a, (int)nb, b);
}

static const char *const shapes[] = {
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\": 1, \"id\": 12345678901234567890123, \"type\": \"get_quote\", \"ticker\": \"AAPL\"}",
    "{\"ticker\":\"AAPL\",\"type\":\"get_quote\",\"id\":\"req-7 x\",\"v\":1}",
    "{ \"v\" : 1 , \"id\" : -0 , \"type\" : \"get_quote\" , \"ticker\" : \"AAPL\" }",
    "{\"v\":1,\"id\":\"\",\"type\":\"get_quote\",\"ticker\":\"BRK.B\"}",
    "{\"v\":1,\"id\":0,\"type\":\"get_quote\",\"ticker\":\"NOPE\"}",
    "{\"v\":1,\"id\":0,\"type\":\"get_quote\",\"ticker\":\"\"}",
    "{\"v\":1,\"id\":0,\"type\":\"get_quote\",\"ticker\":\"aapl\"}",
    "{\"v\":1,\"id\":0,\"type\":\"get_quote\",\"ticker\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"}",
    "{\"v\":1,\"id\":0,\"type\":\"get_quote\",\"ticker\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\"}",
    "{\"v\":1,\"id\":0,\"type\":\"get_quote\",\"ticker\":\"A A\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\",\"x\":1}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\"}",
    "{\"v\":1,\"id\":1,\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1.0,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":01,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1e0,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":2,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":\"1\",\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":true,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":01,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1.5,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":-,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":null,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":[1],\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":\"\\u0041\",\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":\"\xc3\xa9\",\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":\"\xc3\",\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":\"\x01\",\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quot\\u0065\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quotes\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAP\\u004c\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\\\"\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":1}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":[\"AAPL\"]}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"} ",
    " {\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}x",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\",}",
    "{\"v\":1,,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1\t,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1 \"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\"1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"",
    "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL",
    "[{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}]",
};

START_TEST(fast_path_shapes)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        same_reply(shapes[i], strlen(shapes[i]));
    /* the shapes the fast path exists for do take it */
    uint64_t f0 = stk_fix_stats(fx)->fast_path;
    const char *r = ask(shapes[0]);
    HAS(r,
        "\"id\":1,\"type\":\"response\",\"op\":\"get_quote\",\"ticker\":\"AAPL\",\"price\":189.25");
    r = ask(shapes[1]);
    HAS(r, "\"id\":12345678901234567890123,\"type\":\"response\"");
    r = ask(shapes[2]);
    HAS(r, "\"id\":\"req-7 x\",\"type\":\"response\"");
    ask(shapes[5]); /* NOT_FOUND, answered by the fast path too */
    ck_assert_uint_eq(stk_fix_stats(fx)->fast_path - f0, 4);
    /* and the ones that must not (duplicate key, extra key, escapes) do not */
    f0 = stk_fix_stats(fx)->fast_path;
    ask(shapes[11]);
    ask(shapes[13]);
    ask(shapes[35]);
    ck_assert_uint_eq(stk_fix_stats(fx)->fast_path, f0);
}
END_TEST

/* Seeded mutations of the common shapes: insert, delete or replace bytes
 * drawn from the ones that matter to either parser; both paths must agree
 * on every result. */
START_TEST(fast_path_mutations)
{
    static const char alphabet[] = "{}[]\":, \t\\u0123456789-.eE+vidtypeckrgqAPLNOtruefalsn\x01\x7f"
                                   "\xc3\xa9\xff";
    unsigned seed = 20261121;
    uint64_t f0 = stk_fix_stats(fx)->fast_path;
    for (int n = 0; n < 60000; n++) {
        char line[256];
        const char *base = shapes[n % 4];
        size_t len = strlen(base);
        memcpy(line, base, len);
        int edits = 1 + (int)(rand_r(&seed) % 3);
        for (int k = 0; k < edits; k++) {
            size_t at = (size_t)rand_r(&seed) % (len + 1);
            char ch = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
            if (rand_r(&seed) % 16 == 0)
                ch = 0;
            switch (rand_r(&seed) % 3) {
            case 0:
                if (len < sizeof(line) - 1) {
                    memmove(line + at + 1, line + at, len - at);
                    line[at] = ch;
                    len++;
                }
                break;
            case 1:
                if (at < len && len > 1) {
                    memmove(line + at, line + at + 1, len - at - 1);
                    len--;
                }
                break;
            default:
                if (at < len)
                    line[at] = ch;
            }
        }
        same_reply(line, len);
    }
    /* many mutants stay in the fast path's shape (other ids, spaces) */
    ck_assert_uint_gt(stk_fix_stats(fx)->fast_path - f0, 1000);
}
END_TEST

/* ---- framing: on_data cuts lines, the connection layer keeps the rest ---- */

START_TEST(framing_lines)
{
    const char *q = "{\"v\":1,\"id\":1,\"type\":\"ping\"}";
    char buf[256];
    size_t n;
    /* a partial line is not consumed and gets no reply */
    ck_assert_uint_eq(stk_fix_feed(conn, q, 10), 0);
    stk_fix_output(conn, &n);
    ck_assert_uint_eq(n, 0);
    /* two lines (one CRLF), a blank one and a spaces-only one in one chunk;
     * the partial third line is left over */
    int len = snprintf(buf, sizeof(buf), "%s\r\n\n  \t\n%s\n{\"v\":1", q, q);
    size_t used = stk_fix_feed(conn, buf, (size_t)len);
    ck_assert_uint_eq(used, (size_t)len - strlen("{\"v\":1"));
    const char *o = stk_fix_output(conn, &n);
    const char *nl = memchr(o, '\n', n);
    ck_assert_ptr_nonnull(nl);
    ck_assert_ptr_eq(memchr(nl + 1, '\n', n - (size_t)(nl + 1 - o)), o + n - 1);
    HAS(o, "\"op\":\"ping\",\"ts_ms\":");
    ck_assert_uint_eq(stk_fix_stats(fx)->requests, 2);
    ck_assert(!stk_fix_conn_cut(conn));
}
END_TEST

START_TEST(framing_too_long)
{
    /* longer than server.max_line_bytes without a newline: cut at once */
    size_t len = (size_t)cfg.server.max_line_bytes + 1;
    char *big = malloc(len);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', len);
    stk_fix_feed(conn, big, len);
    free(big);
    ck_assert(stk_fix_conn_cut(conn));
    ck_assert_uint_eq(stk_fix_stats(fx)->too_long, 1);
    HAS(reply_text(), "\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"line too long\"}");
}
END_TEST

/* The listener table: a listener speaking NDJSON on an ephemeral port
 * serves a real client through the loop. */
START_TEST(listener_serves)
{
    char addr[80];
    ck_assert_int_eq(stk_fix_listen(fx, "127.0.0.1:0", &stk_proto_ndjson, addr, sizeof(addr)), 0);
    const char *colon = strrchr(addr, ':');
    ck_assert_ptr_nonnull(colon);
    int port = atoi(colon + 1);
    ck_assert_int_gt(port, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    const char *req = "{\"v\":1,\"id\":9,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}\n";
    ck_assert_int_eq(write(fd, req, strlen(req)), (int)strlen(req));
    char got[4096];
    size_t have = 0;
    for (int i = 0; i < 300 && !memchr(got, '\n', have); i++) {
        ev_run(EV_DEFAULT, EVRUN_ONCE); /* the 0.1 s tick bounds each turn */
        ssize_t r = recv(fd, got + have, sizeof(got) - 1 - have, MSG_DONTWAIT);
        if (r > 0)
            have += (size_t)r;
    }
    got[have] = 0;
    close(fd);
    HAS(got, "{\"v\":1,\"id\":9,\"type\":\"response\",\"op\":\"get_quote\",\"ticker\":"
             "\"AAPL\",\"price\":189.25,");
    ck_assert_uint_eq(stk_fix_stats(fx)->accepted, 2); /* the fixture's conn and this one */
}
END_TEST

/* A ticks stream to a reader slower than it: the connection always has
 * output waiting, its buffer is written at the front and filled at the
 * back and never empties; it must stay bounded (it once grew by every byte
 * sent: hundreds of MB in seconds under seqtick-bench fanout). */
START_TEST(stream_never_drained_stays_bounded)
{
    int peer = stk_fix_last_peer(fx);
    ck_assert_int_ge(peer, 0);
    /* a socket that takes less than a turn renders: every write is partial */
    int small = 4096;
    ck_assert_int_eq(
        setsockopt(stk_fix_conn_fd(conn), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    for (uint32_t i = 2; i < 16; i++) {
        char name[8];
        snprintf(name, sizeof(name), "S%u", i);
        ck_assert_int_eq(stk_sym_add(wseg, name), (int)i);
    }
    const char *sub = "{\"v\":1,\"id\":1,\"type\":\"subscribe\",\"tickers\":\"*\","
                      "\"mode\":\"ticks\"}\n";
    stk_fix_feed(conn, sub, strlen(sub));
    struct stk_server *s = stk_fix_server(fx);
    char buf[512]; /* a turn renders more than this */
    size_t got = 0, maxcap = 0;
    uint64_t t0 = stk_mono_ns();
    for (int round = 0; got < 4u << 20 && stk_mono_ns() - t0 < 20000000000ull; round++) {
        stk_batch_begin(wseg);
        for (int k = 0; k < 8; k++)
            for (uint32_t i = 0; i < 16; i++) {
                struct stk_quote q = {.price = (int64_t)(round * 8 + k + 1) * 1000000,
                                      .bid_size = 1,
                                      .ask_size = 1,
                                      .volume = (uint64_t)round,
                                      .src_ts_ns = stk_now_ns()};
                stk_tick_publish(wseg, i, &q);
            }
        stk_batch_end(wseg, stk_now_ns());
        stk_subs_scan(s);
        ev_run(EV_DEFAULT, EVRUN_NOWAIT); /* flush, and POLLOUT when blocked */
        ssize_t r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT); /* slower than the stream */
        if (r > 0)
            got += (size_t)r;
        size_t cap = stk_fix_out_cap(conn);
        if (cap > maxcap)
            maxcap = cap;
    }
    ck_assert_msg(got >= 4u << 20, "too little streamed to judge: %zu", got);
    ck_assert_msg(!stk_fix_conn_cut(conn), "the reader was cut");
    ck_assert_msg(maxcap <= 256u * 1024, "output buffer grew to %zu bytes (%zu read)", maxcap, got);
}
END_TEST

/* Quote events of the fixture's connection that reached its peer. */
static int peer_events(int peer)
{
    char buf[8192];
    int n = 0;
    ssize_t r;
    while ((r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        for (ssize_t i = 0; i + 16 < r; i++)
            n += !memcmp(buf + i, "\"type\":\"quote\"", 14);
    return n;
}

static void tick_aapl(int64_t price)
{
    struct stk_quote q = {.price = price, .pub_ts_ns = stk_now_ns(), .src_ts_ns = 1};
    stk_batch_begin(wseg);
    stk_tick_publish(wseg, 0, &q);
    stk_batch_end(wseg, stk_now_ns());
    stk_subs_scan(stk_fix_server(fx));
}

/* server.flush_us: an event within the window of the last send waits for
 * the window's end, then goes out at once (a timerfd, not the 100 ms
 * housekeeping tick); the first after a quiet spell is not held. */
START_TEST(flush_window)
{
    stk_fix_free(fx);
    cfg.server.flush_us = 500;
    fx = stk_fix_new(EV_DEFAULT, &cfg, shm);
    ck_assert_ptr_nonnull(fx);
    conn = stk_fix_conn(fx, &stk_proto_ndjson);
    ck_assert_ptr_nonnull(conn);
    int peer = stk_fix_last_peer(fx);
    const char *sub = "{\"v\":1,\"id\":1,\"type\":\"subscribe\",\"tickers\":[\"AAPL\"]}\n";
    stk_fix_feed(conn, sub, strlen(sub));
    ev_run(EV_DEFAULT, EVRUN_NOWAIT);
    (void)peer_events(peer);
    int judged = 0;
    for (int attempt = 0; attempt < 20 && !judged; attempt++) {
        usleep(2000); /* a quiet spell: the next event is not held */
        tick_aapl(100000000 + attempt * 2);
        ev_run(EV_DEFAULT, EVRUN_NOWAIT);
        uint64_t t1 = stk_mono_ns();
        ck_assert_int_eq(peer_events(peer), 1);
        tick_aapl(100000000 + attempt * 2 + 1); /* within the window */
        ev_run(EV_DEFAULT, EVRUN_NOWAIT);
        int early = peer_events(peer);
        if (stk_mono_ns() - t1 > 300000)
            continue; /* the machine stalled: the window may be over; again */
        ck_assert_msg(early == 0, "an event inside the window was sent at once");
        int got = 0;
        while (!got && stk_mono_ns() - t1 < 2000000000ull) {
            ev_run(EV_DEFAULT, EVRUN_ONCE);   /* until the window's end wakes it */
            ev_run(EV_DEFAULT, EVRUN_NOWAIT); /* the flush, before the next poll */
            got = peer_events(peer);
        }
        uint64_t dt = stk_mono_ns() - t1;
        ck_assert_int_eq(got, 1);
        ck_assert_msg(dt >= 350000, "sent %llu ns after the last: inside the window",
                      (unsigned long long)dt);
        ck_assert_msg(dt < 60000000, "sent %llu ns after the last: not at the window's end",
                      (unsigned long long)dt);
        judged = 1;
    }
    ck_assert_msg(judged, "too slow here to judge the window");
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", get_quote_exact},
        {"core", stream_never_drained_stays_bounded},
        {"core", flush_window},
        {"core", ops},
        {"core", subscription_events},
        {"core", quote_text_follows_record},
        {"core", fast_path_shapes},
        {"core", fast_path_mutations},
        {"errors", errors},
        {"errors", unavailable_without_segment},
        {"framing", framing_lines},
        {"framing", framing_too_long},
        {"listener", listener_serves},
    };
    return TEST_TABLE_RUN_WITH("server-protocol", tests, setup, teardown);
}
