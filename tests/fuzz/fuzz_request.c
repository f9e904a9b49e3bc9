/* SPDX-License-Identifier: MIT */
/* fuzz_request.c — the server's NDJSON request path, against a real small
 * segment and a server built by the server test fixture
 * (tests/server/srvfix.h). The input is cut into request lines and each
 * goes to the request handler; then the whole input goes through the
 * protocol's own framing on a second connection. Every reply is one line
 * holding a JSON object, printable and valid UTF-8; a get_quote the fast
 * path served gets the same reply from the general parser; the framing
 * answers as many lines; subscribers' events render after a tick. */
#include <ev.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "log-private.h"
#include "segment-private.h"
#include "server.h"
#include "srvfix.h"

static struct {
    bool ready;
    char shm[64];
    struct stk_seg *w;
    struct stk_config cfg;
    struct stk_fix *srv;
    struct stk_conn *conn;   /* requests one line at a time */
    struct stk_conn *framed; /* the same bytes through the protocol's framing */
    size_t replies;          /* reply lines of this input on conn */
    uint64_t ticks;
} fx;

static void publish(uint32_t sym, int64_t price)
{
    struct stk_quote q = {.price = price,
                          .bid = price - 1000000,
                          .ask = price + 1000000,
                          .bid_size = 3,
                          .ask_size = 4,
                          .volume = ++fx.ticks,
                          .src_ts_ns = 1700000000123456789ull,
                          .pub_ts_ns = stk_now_ns()};
    stk_batch_begin(fx.w);
    stk_tick_publish(fx.w, sym, &q);
    stk_batch_end(fx.w, stk_now_ns());
    stk_seg_heartbeat(fx.w, stk_now_ns());
}

static void cleanup(void)
{
    if (fx.ready)
        stk_seg_unlink(fx.shm);
}

/* The segment (AAPL and MSFT written, BRK.B listed but never written), then
 * the server over it, then one connection as the protocol sees it. */
static void setup(void)
{
    snprintf(fx.shm, sizeof(fx.shm), "/stk-fuzz-req-%d", (int)getpid());
    struct stk_seg_params p = {.name = fx.shm, .capacity = 8, .history = 4, .mode = 0600};
    enum stk_seg_how how;
    stk_seg_unlink(fx.shm);
    FUZZ_CHECK(stk_seg_attach_writer(&p, &fx.w, &how) == 0, "cannot create %s", fx.shm);
    FUZZ_CHECK(stk_sym_add(fx.w, "AAPL") == 0 && stk_sym_add(fx.w, "BRK.B") == 1 &&
                   stk_sym_add(fx.w, "MSFT") == 2,
               "stk_sym_add");
    for (int i = 0; i < 6; i++)
        publish(i & 1 ? 2 : 0, 18925000000 + (int64_t)i * 1000000);
    fx.ready = true;
    atexit(cleanup);
    stk_log_init("fuzz", STK_LOG_ERROR, STK_LOG_TEXT);
    FUZZ_CHECK(stk_config_defaults(&fx.cfg) == 0, "stk_config_defaults");
    fx.srv = stk_fix_new(EV_DEFAULT, &fx.cfg, fx.shm);
    FUZZ_CHECK(fx.srv != NULL, "stk_fix_new");
    FUZZ_CHECK(stk_fix_segment(fx.srv) != NULL, "the server did not open %s", fx.shm);
    fx.conn = stk_fix_conn(fx.srv, &stk_proto_ndjson);
    fx.framed = stk_fix_conn(fx.srv, &stk_proto_ndjson);
    FUZZ_CHECK(fx.conn != NULL && fx.framed != NULL, "stk_fix_conn");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setup();
    return 0;
}

/* 1 if s[0..n) is valid UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n || (k == 2 && c < 0xc2) || (k == 4 && c > 0xf4))
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        if ((k == 3 && c == 0xe0 && s[i + 1] < 0xa0) || (k == 3 && c == 0xed && s[i + 1] > 0x9f) ||
            (k == 4 && c == 0xf0 && s[i + 1] < 0x90) || (k == 4 && c == 0xf4 && s[i + 1] > 0x8f))
            return false;
        i += k;
    }
    return true;
}

/* Every line of out[0..len): a {...} object, no control bytes, UTF-8. */
static void check_output(const char *out, size_t len, const char *what)
{
    FUZZ_CHECK(len == 0 || out[len - 1] == '\n', "%s: output does not end a line", what);
    for (const char *p = out, *end = out + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        FUZZ_CHECK(n >= 2 && p[0] == '{' && p[n - 1] == '}', "%s: not an object: %.*s", what,
                   (int)n, p);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK((unsigned char)p[i] >= 0x20, "%s: control byte 0x%02x in %.*s", what,
                       (unsigned char)p[i], (int)n, p);
        FUZZ_CHECK(utf8_ok((const unsigned char *)p, n), "%s: invalid UTF-8: %.*s", what, (int)n,
                   p);
        p = nl + 1;
    }
}

/* Copy out the reply with "age_ms":N dropped (it moves between two runs). */
static size_t reply_without_age(char *dst, size_t cap, const char *src, size_t n)
{
    static const char key[] = "\"age_ms\":";
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        if (n - i >= sizeof(key) - 1 && !memcmp(src + i, key, sizeof(key) - 1)) {
            i += sizeof(key) - 1;
            while (i < n && src[i] >= '0' && src[i] <= '9')
                i++;
            i--;
            continue;
        }
        dst[k++] = src[i];
    }
    return k;
}

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        k++;
    return k;
}

/* The input as a peer would send it, through the protocol's own framing
 * (on_data) on a second connection: everything up to the last newline is
 * consumed and answered with as many reply lines as one line at a time. */
static void framed(const uint8_t *data, size_t size)
{
    struct stk_conn *f = fx.framed;
    stk_fix_output_clear(f);
    size_t used = stk_fix_feed(f, (const char *)data, size);
    FUZZ_CHECK(!stk_fix_conn_cut(f), "framing cut the connection");
    const uint8_t *nl = memrchr(data, '\n', size);
    size_t want = nl ? (size_t)(nl - data) + 1 : 0, n;
    const char *out = stk_fix_output(f, &n);
    check_output(out, n, "framed");
    if (n < STK_WRITE_BURST)
        FUZZ_CHECK(used == want, "framing consumed %zu of %zu bytes (%zu to the last newline)",
                   used, size, want);
    FUZZ_CHECK(count_lines(out, n) == fx.replies, "framed: %zu reply lines, one at a time: %zu",
               count_lines(out, n), fx.replies);
    stk_subs_remove_all(f);
    stk_fix_output_clear(f);
}

static void one_line(const char *line, size_t len)
{
    struct stk_conn *c = fx.conn;
    size_t n;
    stk_fix_output_clear(c);
    uint64_t fast = stk_fix_stats(fx.srv)->fast_path;
    stk_ndjson_fast_path = true;
    stk_ndjson_request(c, line, len);
    const char *out = stk_fix_output(c, &n);
    check_output(out, n, "reply");
    FUZZ_CHECK(n > 0, "no reply to a request line");
    fx.replies += count_lines(out, n);
    if (stk_fix_stats(fx.srv)->fast_path == fast)
        return;
    /* the fast path served it: the general parser must say the same */
    static char a[8192], b[8192];
    size_t na = reply_without_age(a, sizeof(a), out, n);
    stk_fix_output_clear(c);
    stk_ndjson_fast_path = false;
    stk_ndjson_request(c, line, len);
    stk_ndjson_fast_path = true;
    out = stk_fix_output(c, &n);
    size_t nb = reply_without_age(b, sizeof(b), out, n);
    FUZZ_CHECK(na == nb && !memcmp(a, b, na), "fast path: %.*s\ngeneral parser: %.*s", (int)na, a,
               (int)nb, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.ready)
        setup();
    struct stk_conn *c = fx.conn;
    uint64_t max = fx.cfg.server.max_line_bytes;
    /* lines as conn.c cuts them: '\n' ends one, a '\r' before it goes,
     * blank ones are keep-alives, an over-long one ends the connection */
    const char *p = (const char *)data, *end = p + size;
    bool too_long = false;
    fx.replies = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > max) {
            too_long = true;
            break;
        }
        const char *ls = p;
        p = nl ? nl + 1 : end;
        if (n > 0 && ls[n - 1] == '\r')
            n--;
        size_t k = 0;
        while (k < n && (ls[k] == ' ' || ls[k] == '\t'))
            k++;
        if (k < n && nl) /* a last line without its newline waits for more */
            one_line(ls, n);
    }
    /* subscriptions: a tick, the scan the loop would run, the events */
    if (stk_fix_subscribers(fx.srv)) {
        publish(0, 18925000000 + (int64_t)(fx.ticks % 100) * 1000000);
        stk_subs_scan(stk_fix_server(fx.srv));
        stk_fix_output_clear(c);
        stk_fix_events(c);
        stk_fix_heartbeat(c);
        size_t n;
        const char *out = stk_fix_output(c, &n);
        check_output(out, n, "events");
    }
    stk_subs_remove_all(c);
    stk_fix_output_clear(c);
    if (!too_long)
        framed(data, size);
    return 0;
}
