/* SPDX-License-Identifier: MIT */
/* http.c — the HTTP/1.1 face (docs/http.md): requests parsed by
 * libhttp-parser, keep-alive and pipelining answered in order, HEAD, the
 * REST endpoints (health, symbols, latest price, quotes, history, bars),
 * Prometheus metrics and the dashboard page, OPTIONS and CORS preflights;
 * limits on the request line,
 * the header block, request bodies and slow headers. The operations are
 * the shared ones (ops.c), reached through an HTTP face. */
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dashboard.h"
#include "json-private.h"
#include "log-private.h"
#include "segment-private.h"
#include "server.h"
#include "ws.h"

#define URL_MAX 8192u                    /* request line: 414 beyond */
#define HEADER_MAX 16384u                /* header block: 431 beyond */
#define HEADER_TIMEOUT_NS 10000000000ull /* slowloris: headers complete by then */
#define SWEEP_S 1.0                      /* how often slow headers are looked for */
#define FIELD_MAX 32                     /* header names we look at are shorter */
#define ACRH_MAX 1024u                   /* Access-Control-Request-Headers: longer is not echoed */

/* HTTP statuses this face answers with, for the metrics */
enum { ST_200, ST_204, ST_400, ST_404, ST_405, ST_413, ST_414, ST_431, ST_500, ST_503, ST_N };
static const int st_code[ST_N] = {200, 204, 400, 404, 405, 413, 414, 431, 500, 503};

/* what the requests asked for, for the metrics */
enum ep {
    EP_DASHBOARD,
    EP_HEALTH,
    EP_SYMBOLS,
    EP_PRICE,
    EP_METRICS,
    EP_QUOTES,
    EP_QUOTE,
    EP_HISTORY,
    EP_BARS,
    EP_STREAM,
    EP_WS,
    EP_OTHER,
    EP_REFUSED,
    EP_N
};
static const char *const ep_name[EP_N] = {
    "dashboard", "health", "symbols", "price_latest", "metrics", "quotes",  "quote",
    "history",   "bars",   "stream",  "ws",           "other",   "refused",
};

/* per-connection state */
struct hconn {
    http_parser p;
    struct stk_buf url; /* the request target, as received */
    uint64_t start_ns;  /* monotonic: a request's first byte (0: between requests) */
    uint32_t hdr_bytes; /* bytes of the header block so far */
    int status;         /* an error status found while parsing (0: none) */
    char field[FIELD_MAX + 1];
    uint8_t flen;
    bool field_te; /* the header being read is Transfer-Encoding */
    bool in_value;
    bool te;         /* the request has Transfer-Encoding */
    bool quiet;      /* the cut needs no last message: a response went out */
    bool field_leid; /* the header being read is Last-Event-ID */
    bool acrh_long;  /* Access-Control-Request-Headers beyond ACRH_MAX */
    bool leid;       /* the request has Last-Event-ID */
    bool ticks;      /* an SSE stream in ticks mode */
    uint8_t mode;    /* enum mode: what the connection speaks now */
    uint8_t wskey_len;
    char wskey[30];      /* Sec-WebSocket-Key */
    struct stk_ws *ws;   /* after the upgrade */
    struct stk_buf acrh; /* Access-Control-Request-Headers (lines joined by ',') */
};

/* what an HTTP connection speaks: requests, or (after one) a stream */
enum mode { M_HTTP, M_SSE, M_WS };

/* the whole face's counters and its slow-header sweep */
static struct {
    uint64_t status[ST_N];
    uint64_t requests[EP_N];
    size_t conns;
    ev_timer sweep;
    struct ev_loop *loop;
    struct stk_buf body; /* one reply body rendered at a time */
} H;

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    default:
        return "Service Unavailable";
    }
}

static void count_status(int status)
{
    for (int i = 0; i < ST_N; i++)
        if (st_code[i] == status)
            H.status[i]++;
}

/* the methods served, for Allow and Access-Control-Allow-Methods */
#define ALLOWED "GET, HEAD, OPTIONS"
#define NOT_ALLOWED_MSG "only GET, HEAD and OPTIONS are served"

/* Append one whole response: status line, headers, body (not for HEAD). */
static void respond(struct stk_conn *c, int status, const char *ctype, const char *body, size_t len,
                    bool head, bool close)
{
    struct stk_buf *b = &c->out;
    const char *cors = c->srv->cfg->server.http_cors_origin;
    count_status(status);
    stk_buf_printf(b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                   reason(status), ctype, len);
    STK_BUF_LIT(b, "Cache-Control: no-store\r\n");
    if (status == 405)
        STK_BUF_LIT(b, "Allow: " ALLOWED "\r\n");
    if (cors && *cors)
        stk_buf_printf(b, "Access-Control-Allow-Origin: %s\r\n", cors);
    if (close)
        STK_BUF_LIT(b, "Connection: close\r\n");
    STK_BUF_LIT(b, "\r\n");
    if (!head)
        stk_buf_put(b, body, len);
}

static void error_body(struct stk_buf *b, const char *code, const char *msg)
{
    b->len = 0;
    STK_BUF_LIT(b, "{\"error\":{\"code\":\"");
    stk_buf_puts(b, code);
    STK_BUF_LIT(b, "\",\"message\":");
    stk_buf_json_str(b, msg, strlen(msg));
    STK_BUF_LIT(b, "}}\n");
}

static const char *json_type = "application/json";

/* An error answered before any operation runs, e.g. a limit; the
 * connection closes after it when close is set. */
static void respond_error(struct stk_conn *c, int status, const char *code, const char *msg,
                          bool head, bool close)
{
    c->srv->st.errors++;
    error_body(&H.body, code, msg);
    respond(c, status, json_type, H.body.data, H.body.len, head, close);
}

/* ---- the face the operations see ---- */

struct hreq {
    struct stk_req q; /* first: what the operations see */
    const char *ticker;
    size_t ticker_len;
    const char *query; /* the query string, for the integer arguments */
    size_t query_len;
    int status;
    size_t mark;
    const char *list; /* /v1/stream: the tickers parameter, comma-separated */
    size_t list_len;
};

static struct hreq *hreq_of(struct stk_req *q)
{
    return (struct hreq *)q;
}

static int status_of(enum stk_err e)
{
    switch (e) {
    case STK_E_BAD_REQUEST:
        return 400;
    case STK_E_NOT_FOUND:
        return 404;
    case STK_E_INTERNAL:
        return 500;
    default:
        return 503;
    }
}

static void h_begin(struct stk_req *q)
{
    stk_buf_putc(q->b, '{');
    hreq_of(q)->mark = q->b->len;
}

static void h_end(struct stk_req *q)
{
    struct hreq *r = hreq_of(q);
    struct stk_buf *b = q->b;
    /* the fields came with a leading ',': the first one loses it */
    if (b->len > r->mark && b->data[r->mark] == ',') {
        memmove(b->data + r->mark, b->data + r->mark + 1, b->len - r->mark - 1);
        b->len--;
    }
    STK_BUF_LIT(b, "}\n");
}

static int h_fail(struct stk_req *q, enum stk_err code, const char *msg)
{
    struct hreq *r = hreq_of(q);
    q->s->st.errors++;
    q->s->st.by_err[code]++;
    r->status = status_of(code);
    error_body(q->b, stk_err_name(code), msg);
    stk_debug("%s: http %s: %s", q->c->peer, stk_err_name(code), msg);
    return -1;
}

static int h_ticker(struct stk_req *q, char name[STK_NAME_MAX + 1])
{
    struct hreq *r = hreq_of(q);
    if (r->ticker_len == 0 || r->ticker_len > STK_NAME_MAX)
        return r->ticker_len ? -ENOENT : h_fail(q, STK_E_BAD_REQUEST, "a ticker is required");
    memcpy(name, r->ticker, r->ticker_len);
    name[r->ticker_len] = 0;
    return stk_sym_check(name, r->ticker_len) < 0 ? -ENOENT : 0;
}

/* Item i of a comma-separated list, or NULL. */
static const char *list_item(const char *l, size_t n, int i, size_t *len)
{
    size_t a = 0;
    for (int k = 0;; k++) {
        size_t e = a;
        while (e < n && l[e] != ',')
            e++;
        if (k == i) {
            *len = e - a;
            return l + a;
        }
        if (e >= n)
            return NULL;
        a = e + 1;
    }
}

static int list_count(const char *l, size_t n)
{
    int k = 1;
    for (size_t i = 0; i < n; i++)
        k += l[i] == ',';
    return k;
}

/* The ticker list: /v1/stream's parameter, or (for /v1/quotes) every
 * symbol of the segment. */
static int h_tickers(struct stk_req *q, bool star_ok)
{
    struct hreq *r = hreq_of(q);
    if (r->list) {
        if (star_ok && r->list_len == 1 && r->list[0] == '*')
            return STK_TICKERS_ALL;
        return list_count(r->list, r->list_len);
    }
    if (!q->s->seg)
        return h_fail(q, STK_E_UNAVAILABLE, "no segment: the producer is not running");
    return (int)stk_seg_nsymbols(q->s->seg);
}

static int h_ticker_at(struct stk_req *q, int i, char name[STK_NAME_MAX + 1])
{
    struct hreq *r = hreq_of(q);
    if (r->list) {
        size_t len;
        const char *t = list_item(r->list, r->list_len, i, &len);
        if (!t || len == 0 || len > STK_NAME_MAX)
            return -ENOENT;
        memcpy(name, t, len);
        name[len] = 0;
        return stk_sym_check(name, len) < 0 ? -ENOENT : 0;
    }
    const char *n = q->s->seg ? stk_seg_symbol(q->s->seg, (uint32_t)i) : NULL;
    if (!n)
        return -ENOENT;
    snprintf(name, STK_NAME_MAX + 1, "%s", n);
    return 0;
}

static void h_put_tickers(struct stk_req *q, int i)
{
    struct hreq *r = hreq_of(q);
    if (r->list) {
        size_t len;
        const char *t;
        if (i >= 0) {
            t = list_item(r->list, r->list_len, i, &len);
            stk_buf_json_str(q->b, t ? t : "", t ? len : 0);
            return;
        }
        stk_buf_putc(q->b, '[');
        for (int k = 0; (t = list_item(r->list, r->list_len, k, &len)) != NULL; k++) {
            if (k)
                stk_buf_putc(q->b, ',');
            stk_buf_json_str(q->b, t, len);
        }
        stk_buf_putc(q->b, ']');
        return;
    }
    const char *n = q->s->seg && i >= 0 ? stk_seg_symbol(q->s->seg, (uint32_t)i) : NULL;
    if (n)
        stk_buf_json_str(q->b, n, strlen(n));
    else
        STK_BUF_LIT(q->b, "null");
}

static int query_get(const char *q, size_t n, const char *key, char *out, size_t size);

static int h_int_arg(struct stk_req *q, enum stk_arg a, int64_t *v)
{
    struct hreq *r = hreq_of(q);
    char text[32], *end = NULL;
    const char *key = a == STK_ARG_LIMIT       ? "limit"
                      : a == STK_ARG_FROM_TICK ? "from_tick"
                                               : "throttle_ms";
#ifdef STK_BARS_DEFAULT /* get_bars (bars.c) */
    if (a == STK_ARG_FROM_MS || a == STK_ARG_TO_MS)
        key = a == STK_ARG_FROM_MS ? "from" : "to";
#endif
    int k = query_get(r->query, r->query_len, key, text, sizeof(text));
    if (k == -ENOENT)
        return 0;
    if (k <= 0)
        return -1;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 1;
}

/* The string arguments from the query: the bars' interval, a stream's mode. */
static int h_str_arg(struct stk_req *q, enum stk_sarg a, char *out, size_t size)
{
    struct hreq *r = hreq_of(q);
    const char *key = a == STK_SARG_MODE ? "mode" : "interval";
    int k = query_get(r->query, r->query_len, key, out, size);
    if (k == -ENOENT)
        return 0;
    if (k < 0)
        return h_fail(q, STK_E_BAD_REQUEST,
                      a == STK_SARG_MODE ? "mode: too long or badly escaped"
                                         : "interval: too long or badly escaped");
    return k;
}

static const struct stk_face http_face = {
    .begin = h_begin,
    .end = h_end,
    .fail = h_fail,
    .ticker = h_ticker,
    .tickers = h_tickers,
    .ticker_at = h_ticker_at,
    .put_tickers = h_put_tickers,
    .int_arg = h_int_arg,
    .str_arg = h_str_arg,
};

/* ---- the query string ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The value of `key` in query q[0..n), percent-decoded into out (size
 * bytes). Returns its length, -ENOENT if absent, -EINVAL if malformed or
 * too long. */
static int query_get(const char *q, size_t n, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key), i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && q[e] != '&')
            e++;
        if (e - i > klen && !memcmp(q + i, key, klen) && q[i + klen] == '=') {
            size_t k = 0;
            for (size_t j = i + klen + 1; j < e; j++) {
                char ch = q[j];
                if (ch == '%') {
                    int hi = j + 2 < e ? hexval(q[j + 1]) : -1;
                    int lo = j + 2 < e ? hexval(q[j + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return -EINVAL;
                    ch = (char)(hi * 16 + lo);
                    j += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                if (k + 1 >= size)
                    return -EINVAL;
                out[k++] = ch;
            }
            out[k] = 0;
            return (int)k;
        }
        i = e + 1;
    }
    return -ENOENT;
}

/* ---- endpoints ---- */

/* Run an operation for this request into H.body; the status it ends with. */
static int run_op_list(struct stk_conn *c, const char *op, const char *ticker, size_t tlen,
                       const char *query, size_t qlen, const char *list, size_t list_len)
{
    struct hreq r = {0};
    r.list = list;
    r.list_len = list_len;
    r.q.c = c;
    r.q.s = c->srv;
    r.q.b = &H.body;
    r.q.face = &http_face;
    r.q.opname = op;
    r.ticker = ticker;
    r.ticker_len = tlen;
    r.status = 200;
    r.query = query;
    r.query_len = qlen;
    const struct stk_op *o = stk_op_find(op, strlen(op));
    if (!o) {
        h_fail(&r.q, STK_E_INTERNAL, "operation missing");
        return 500;
    }
    stk_op_run(&r.q, o);
    if (H.body.err) {
        H.body.err = 0;
        h_fail(&r.q, STK_E_INTERNAL, "out of memory");
    }
    return r.status;
}

static int run_op(struct stk_conn *c, const char *op, const char *ticker, size_t tlen,
                  const char *query, size_t qlen)
{
    return run_op_list(c, op, ticker, tlen, query, qlen, NULL, 0);
}

/* ---- the supervisor's children, from its status file ---- */

#define CHILDREN_MAX 32
#define STATUS_MAX 65536

struct child {
    char name[64], state[24];
    int64_t restarts, started_ns;
};

/* Read the supervisor's status file, if this server is its child (the
 * file names the supervisor's pid: our parent's, else it is not ours or
 * stale). Returns the children read into ch[], 0 when there is none. */
static int read_children(struct stk_server *s, struct child *ch)
{
    const char *path = s->cfg->supervisor.status_file;
    if (!path || !*path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    char *text = malloc(STATUS_MAX);
    ssize_t n = text ? read(fd, text, STATUS_MAX) : -1;
    close(fd);
    int k = 0;
    struct stk_json j = {0};
    int64_t pid = 0;
    if (n <= 0 || n == STATUS_MAX || stk_json_parse(&j, text, (size_t)n, NULL) < 0)
        goto out;
    int t = stk_json_get(&j, 0, "supervisor_pid");
    if (t < 0 || stk_json_int(&j, t, &pid) < 0 || pid != (int64_t)getppid())
        goto out;
    int arr = stk_json_get(&j, 0, "children");
    if (arr < 0 || !stk_json_is_array(&j, arr))
        goto out;
    int e = arr + 1;
    for (int i = 0; i < j.tok[arr].size && k < CHILDREN_MAX; i++, e = stk_json_skip(&j, e)) {
        if (!stk_json_is_object(&j, e))
            continue;
        struct child *c = &ch[k];
        int tn = stk_json_get(&j, e, "name"), ts = stk_json_get(&j, e, "state");
        int tr = stk_json_get(&j, e, "restarts"), tt = stk_json_get(&j, e, "started_ns");
        if (tn < 0 || stk_json_str(&j, tn, c->name, sizeof(c->name)) < 0)
            continue;
        if (ts < 0 || stk_json_str(&j, ts, c->state, sizeof(c->state)) < 0)
            snprintf(c->state, sizeof(c->state), "unknown");
        if (tr < 0 || stk_json_int(&j, tr, &c->restarts) < 0)
            c->restarts = 0;
        if (tt < 0 || stk_json_int(&j, tt, &c->started_ns) < 0)
            c->started_ns = 0;
        k++;
    }
out:
    stk_json_free(&j);
    free(text);
    return k;
}

static int ep_health(struct stk_conn *c)
{
    struct stk_server *s = c->srv;
    struct stk_buf *b = &H.body;
    uint64_t age;
    bool alive = stk_producer_alive(s, &age);
    const char *st = !s->seg ? "down" : alive ? "ok" : "degraded";
    stk_buf_printf(b, "{\"status\":\"%s\"", st);
    stk_render_health(b, s);
    stk_buf_printf(b, ",\"tickers\":%u", s->seg ? stk_seg_nsymbols(s->seg) : 0u);
    struct child ch[CHILDREN_MAX];
    int n = read_children(s, ch);
    uint64_t now = stk_server_now(s);
    for (int i = 0; i < n; i++) {
        stk_buf_puts(b, i ? ",{\"name\":" : ",\"children\":[{\"name\":");
        stk_buf_json_str(b, ch[i].name, strlen(ch[i].name));
        STK_BUF_LIT(b, ",\"state\":");
        stk_buf_json_str(b, ch[i].state, strlen(ch[i].state));
        stk_buf_printf(b, ",\"restarts\":%lld,\"uptime_s\":", (long long)ch[i].restarts);
        if (ch[i].started_ns > 0 && (uint64_t)ch[i].started_ns <= now)
            stk_buf_u64(b, (now - (uint64_t)ch[i].started_ns) / 1000000000u);
        else
            STK_BUF_LIT(b, "null");
        stk_buf_putc(b, '}');
    }
    if (n)
        stk_buf_putc(b, ']');
    STK_BUF_LIT(b, "}\n");
    return s->seg && alive ? 200 : 503;
}

static int no_segment(void)
{
    error_body(&H.body, "UNAVAILABLE", "no segment: the producer is not running");
    return 503;
}

static int ep_symbols(struct stk_conn *c)
{
    struct stk_server *s = c->srv;
    if (!s->seg)
        return no_segment();
    struct stk_buf *b = &H.body;
    uint32_t n = stk_seg_nsymbols(s->seg);
    bool first = true;
    STK_BUF_LIT(b, "{\"symbols\":[");
    for (uint32_t i = 0; i < n; i++) {
        const char *name = stk_seg_symbol(s->seg, i);
        if (!name)
            continue;
        stk_buf_puts(b, first ? "{\"symbol\":" : ",{\"symbol\":");
        first = false;
        stk_buf_json_str(b, name, strlen(name));
        stk_buf_putc(b, '}');
    }
    STK_BUF_LIT(b, "]}\n");
    return 200;
}

static int ep_price_latest(struct stk_conn *c, const char *query, size_t qlen)
{
    struct stk_server *s = c->srv;
    char name[STK_NAME_MAX + 2];
    int k = query_get(query, qlen, "symbol", name, sizeof(name));
    if (k == -ENOENT || k == 0) {
        error_body(&H.body, "BAD_REQUEST", "the symbol parameter is required");
        return 400;
    }
    if (!s->seg)
        return no_segment();
    int idx = k < 0 || stk_sym_check(name, (size_t)k) < 0 ? -ENOENT : stk_seg_lookup(s->seg, name);
    struct stk_quote q;
    int rr = idx < 0 ? -ENOENT : stk_server_read(s, (uint32_t)idx, &q);
    if (rr == -ENOENT || rr == -ENODATA) {
        error_body(&H.body, "NOT_FOUND", rr == -ENOENT ? "unknown symbol" : "no quote yet");
        return 404;
    }
    if (rr < 0) {
        error_body(&H.body, "UNAVAILABLE", "record busy or segment lost");
        return 503;
    }
    uint64_t now = stk_server_now(s);
    struct stk_buf *b = &H.body;
    time_t secs = (time_t)(q.src_ts_ns / 1000000000u);
    struct tm tm;
    char ts[40];
    gmtime_r(&secs, &tm);
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03uZ", (unsigned)(q.src_ts_ns / 1000000u % 1000u));
    STK_BUF_LIT(b, "{\"symbol\":");
    stk_buf_json_str(b, name, (size_t)k);
    STK_BUF_LIT(b, ",\"price\":");
    stk_buf_decimal(b, q.price);
    STK_BUF_LIT(b, ",\"bid\":");
    stk_buf_decimal(b, q.bid);
    STK_BUF_LIT(b, ",\"ask\":");
    stk_buf_decimal(b, q.ask);
    stk_buf_printf(b, ",\"volume\":%llu,\"timestamp\":\"%s\",\"ts_ms\":%llu,\"stale\":%s}\n",
                   (unsigned long long)q.volume, ts, (unsigned long long)(q.src_ts_ns / 1000000u),
                   stk_quote_is_stale(s, &q, now) ? "true" : "false");
    return 200;
}

#define METRIC(b, name, type, help, fmt, ...)                                                      \
    stk_buf_printf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n" name fmt "\n",        \
                   __VA_ARGS__)

static int ep_metrics(struct stk_conn *c)
{
    struct stk_server *s = c->srv;
    struct stk_buf *b = &H.body;
    size_t by_face[2] = {0, 0};
    for (struct stk_conn *x = s->all.head; x; x = x->anext)
        by_face[x->proto == &stk_proto_http]++;
    uint64_t age;
    bool alive = stk_producer_alive(s, &age);
    const struct stk_header *hd = s->seg ? stk_seg_header(s->seg) : NULL;
    uint64_t ticks = hd ? atomic_load(&hd->ticks_total) : 0;
    uint64_t bad = hd ? atomic_load(&hd->bad_input) : 0;
    uint64_t dropped = hd ? atomic_load(&hd->symbols_dropped) : 0;
    uint64_t gen = hd ? atomic_load(&hd->generation) : 0;
    METRIC(b, "seqtick_ticks_total", "counter", "Ticks the producer wrote to the segment.", " %llu",
           (unsigned long long)ticks);
    METRIC(b, "seqtick_bad_input_total", "counter", "Feed lines or rows the producer rejected.",
           " %llu", (unsigned long long)bad);
    METRIC(b, "seqtick_symbols_dropped_total", "counter",
           "Ticks for symbols beyond the segment's capacity.", " %llu",
           (unsigned long long)dropped);
    METRIC(b, "seqtick_producer_alive", "gauge", "1 while the producer's heartbeat is fresh.",
           " %d", alive ? 1 : 0);
    METRIC(b, "seqtick_heartbeat_age_seconds", "gauge", "Age of the producer's heartbeat.", " %.3f",
           age == UINT64_MAX ? -1.0 : (double)age / 1e9);
    METRIC(b, "seqtick_generation", "gauge", "Segment generation.", " %llu",
           (unsigned long long)gen);
    stk_buf_printf(b,
                   "# HELP seqtick_connections Open client connections by face.\n"
                   "# TYPE seqtick_connections gauge\n"
                   "seqtick_connections{face=\"ndjson\"} %zu\n"
                   "seqtick_connections{face=\"http\"} %zu\n",
                   by_face[0], by_face[1]);
    METRIC(b, "seqtick_requests_total", "counter", "Requests served (every face).", " %llu",
           (unsigned long long)s->st.requests);
    STK_BUF_LIT(b, "# HELP seqtick_http_requests_total HTTP requests by endpoint.\n"
                   "# TYPE seqtick_http_requests_total counter\n");
    for (int i = 0; i < EP_N; i++)
        stk_buf_printf(b, "seqtick_http_requests_total{endpoint=\"%s\"} %llu\n", ep_name[i],
                       (unsigned long long)H.requests[i]);
    STK_BUF_LIT(b, "# HELP seqtick_http_responses_total HTTP responses by status.\n"
                   "# TYPE seqtick_http_responses_total counter\n");
    for (int i = 0; i < ST_N; i++)
        stk_buf_printf(b, "seqtick_http_responses_total{code=\"%d\"} %llu\n", st_code[i],
                       (unsigned long long)H.status[i]);
    METRIC(b, "seqtick_errors_total", "counter", "Error replies (every face).", " %llu",
           (unsigned long long)s->st.errors);
    uint64_t gap_rows, gap_ticks;
    if (stk_bars_gaps(s, &gap_rows, &gap_ticks) == 0) {
        METRIC(b, "seqtick_recorder_gaps_total", "counter",
               "Holes the recorder could not store (rows of its gaps table).", " %llu",
               (unsigned long long)gap_rows);
        METRIC(b, "seqtick_recorder_lost_ticks_total", "counter",
               "Ticks in those holes (lapped by a ring before they were stored).", " %llu",
               (unsigned long long)gap_ticks);
    }
    STK_BUF_LIT(b, "# HELP seqtick_op_requests_total Operations run, by op (every face).\n"
                   "# TYPE seqtick_op_requests_total counter\n");
    for (size_t i = 0; i < stk_op_count(); i++)
        stk_buf_printf(b, "seqtick_op_requests_total{op=\"%s\"} %llu\n", stk_op_at(i)->name,
                       (unsigned long long)s->st.by_op[i]);
    STK_BUF_LIT(b, "# HELP seqtick_op_errors_total Error replies of operations, by code (every "
                   "face).\n"
                   "# TYPE seqtick_op_errors_total counter\n");
    for (int i = 0; i < STK_E_COUNT; i++)
        stk_buf_printf(b, "seqtick_op_errors_total{code=\"%s\"} %llu\n",
                       stk_err_name((enum stk_err)i), (unsigned long long)s->st.by_err[i]);
    METRIC(b, "seqtick_slow_consumers_total", "counter", "Connections cut as slow consumers.",
           " %llu", (unsigned long long)s->st.slow_consumers);
    METRIC(b, "seqtick_subscribers", "gauge", "Connections with subscriptions.", " %zu",
           s->nsubscribed);
    METRIC(b, "seqtick_events_total", "counter", "Subscription events sent.", " %llu",
           (unsigned long long)s->st.events);
    METRIC(b, "seqtick_accepted_total", "counter", "Connections accepted.", " %llu",
           (unsigned long long)s->st.accepted);
    METRIC(b, "seqtick_rejected_total", "counter", "Connections refused (max_connections).",
           " %llu", (unsigned long long)s->st.rejected);
    struct child ch[CHILDREN_MAX];
    int nch = read_children(s, ch);
    if (nch)
        STK_BUF_LIT(b, "# HELP seqtick_child_restarts_total Restarts of each supervised child.\n"
                       "# TYPE seqtick_child_restarts_total counter\n");
    for (int i = 0; i < nch; i++) {
        STK_BUF_LIT(b, "seqtick_child_restarts_total{child=");
        stk_buf_json_str(b, ch[i].name, strlen(ch[i].name));
        stk_buf_printf(b, "} %lld\n", (long long)ch[i].restarts);
    }
    METRIC(b, "seqtick_uptime_seconds", "gauge", "Seconds since the server started.", " %llu",
           (unsigned long long)((stk_mono_ns() - s->start_ns) / 1000000000u));
    return 200;
}

/* ---- Server-Sent Events: /v1/stream ---- */

static void sse_event(struct stk_buf *b, uint64_t seq, uint64_t conflated)
{
    STK_BUF_LIT(b, "event: quote\nid: ");
    stk_buf_u64(b, seq);
    STK_BUF_LIT(b, "\ndata: {\"seq\":");
    stk_buf_u64(b, seq);
    STK_BUF_LIT(b, ",\"conflated\":");
    stk_buf_u64(b, conflated);
    stk_buf_putc(b, ',');
}

/* The subscribe reply's snapshot (in H.body) as events: each quote object
 * of its "quotes" array (flat objects: no nesting, no braces in names). */
static void sse_snapshot(struct stk_conn *c)
{
    const char *p = H.body.data, *end = p + H.body.len;
    const char *q = p ? strstr(p, "\"quotes\":[") : NULL;
    if (!q || !c->sub)
        return;
    for (q += 10; q < end && *q == '{';) {
        const char *e = memchr(q, '}', (size_t)(end - q));
        if (!e)
            break;
        sse_event(&c->out, ++c->sub->event_seq, 0);
        stk_buf_put(&c->out, q + 1, (size_t)(e - q - 1));
        STK_BUF_LIT(&c->out, "}\n\n");
        q = e + 1;
        if (q < end && *q == ',')
            q++;
    }
}

static void ep_stream(struct stk_conn *c, struct hconn *h, const char *query, size_t qlen,
                      bool head)
{
    char list[4096];
    int k = query_get(query, qlen, "tickers", list, sizeof(list));
    if (k == -ENOENT) {
        list[0] = '*';
        k = 1;
    }
    if (k <= 0) {
        respond_error(c, 400, "BAD_REQUEST", "tickers must be symbols separated by commas, or *",
                      head, false);
        return;
    }
    if (head) {
        respond(c, 200, "text/event-stream", "", 0, true, false);
        return;
    }
    int st = run_op_list(c, "subscribe", NULL, 0, query, qlen, list, (size_t)k);
    if (st != 200) {
        respond(c, st, json_type, H.body.data, H.body.len, false, false);
        return;
    }
    const char *cors = c->srv->cfg->server.http_cors_origin;
    count_status(200);
    STK_BUF_LIT(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n");
    if (cors && *cors)
        stk_buf_printf(&c->out, "Access-Control-Allow-Origin: %s\r\n", cors);
    STK_BUF_LIT(&c->out, "\r\nretry: 1000\n\n");
    h->mode = M_SSE;
    char mode[8];
    h->ticks = query_get(query, qlen, "mode", mode, sizeof(mode)) > 0 && !strcmp(mode, "ticks");
    if (h->leid)
        sse_snapshot(c);
}

/* Pending quote events as SSE, conflated: each subscribed ticker's latest
 * value, never a backlog (the loop every face shares). */
static const struct stk_event_frame sse_frame = {sse_event, "}\n\n", 3};

/* Ticks mode: the NDJSON event lines rendered from out[mark] on become SSE
 * events named by their type ("tick", "gap"), each line the data. */
static void sse_frame_lines(struct stk_conn *c, size_t mark)
{
    static struct stk_buf lines; /* the rendered lines, moved aside */
    struct stk_buf *b = &c->out;
    if (b->len == mark)
        return;
    lines.len = 0;
    if (stk_buf_put(&lines, b->data + mark, b->len - mark) < 0) {
        b->len = mark; /* out of memory: the ticks are lost to this round */
        lines.err = 0;
        return;
    }
    b->len = mark;
    for (const char *p = lines.data, *end = p + lines.len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *t = memmem(p, len, "\"type\":\"", 8);
        const char *te = t ? memchr(t + 8, '"', len - (size_t)(t + 8 - p)) : NULL;
        STK_BUF_LIT(b, "event: ");
        if (te)
            stk_buf_put(b, t + 8, (size_t)(te - t - 8));
        else
            STK_BUF_LIT(b, "message");
        STK_BUF_LIT(b, "\ndata: ");
        stk_buf_put(b, p, len);
        STK_BUF_LIT(b, "\n\n");
        p += len + 1;
    }
    b->err = 0;
    if (lines.cap > 1u << 20)
        stk_buf_free(&lines);
}

static size_t sse_events(struct stk_conn *c, size_t limit)
{
    struct hconn *h = c->pstate;
    size_t mark = c->out.len;
    size_t n = stk_render_events(c, limit, &sse_frame);
    if (h->ticks)
        sse_frame_lines(c, mark);
    return n;
}

/* GET /v1/ws with an Upgrade: the 101 answer, then WebSocket frames. */
static void ep_ws(struct stk_conn *c, struct hconn *h, bool head)
{
    char accept[29];
    if (!h->p.upgrade || head || stk_ws_accept_key(h->wskey, h->wskey_len, accept) < 0) {
        respond_error(c, 400, "BAD_REQUEST",
                      "a WebSocket upgrade is expected here (Upgrade: websocket, "
                      "Sec-WebSocket-Key)",
                      head, true);
        h->quiet = true;
        stk_conn_fatal(c, STK_E_BAD_REQUEST, NULL);
        return;
    }
    h->ws = stk_ws_new(c, c->srv->cfg->server.max_line_bytes);
    if (!h->ws) {
        respond_error(c, 503, "UNAVAILABLE", "out of memory", false, true);
        h->quiet = true;
        stk_conn_fatal(c, STK_E_INTERNAL, NULL);
        return;
    }
    count_status(200);
    stk_buf_printf(&c->out,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                   accept);
    h->mode = M_WS;
    stk_buf_free(&h->url); /* no more requests on this connection */
}

/* Does the path start with prefix and then name one ticker? */
static bool path_ticker(const char *path, size_t plen, const char *prefix, const char **t,
                        size_t *tlen)
{
    size_t n = strlen(prefix);
    if (plen <= n || memcmp(path, prefix, n) != 0 || memchr(path + n, '/', plen - n))
        return false;
    *t = path + n;
    *tlen = plen - n;
    return true;
}

static bool path_is(const char *path, size_t plen, const char *lit)
{
    return plen == strlen(lit) && !memcmp(path, lit, plen);
}

/* The endpoint path[0..plen) names, EP_OTHER if none; *t and *tlen: the
 * ticker of /v1/quotes/S, /v1/history/S and /v1/bars/S. */
static enum ep route(const char *path, size_t plen, const char **t, size_t *tlen)
{
    static const struct {
        const char *path;
        enum ep ep;
    } exact[] = {
        {"/", EP_DASHBOARD},         {"/health", EP_HEALTH},    {"/symbols", EP_SYMBOLS},
        {"/price/latest", EP_PRICE}, {"/metrics", EP_METRICS},  {"/v1/quotes", EP_QUOTES},
        {"/v1/ws", EP_WS},           {"/v1/stream", EP_STREAM},
    };
    *t = NULL;
    *tlen = 0;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (path_is(path, plen, exact[i].path))
            return exact[i].ep;
    if (path_ticker(path, plen, "/v1/quotes/", t, tlen))
        return EP_QUOTE;
    if (path_ticker(path, plen, "/v1/history/", t, tlen))
        return EP_HISTORY;
    if (path_ticker(path, plen, "/v1/bars/", t, tlen))
        return EP_BARS;
    return EP_OTHER;
}

static bool tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Is l[0..n) a list of header names (tokens, commas, spaces and tabs), and
 * how many names does it hold? -1 if it is not. */
static int token_list(const char *l, size_t n)
{
    int names = 0;
    for (size_t i = 0; i < n;) {
        if (l[i] == ',' || l[i] == ' ' || l[i] == '\t') {
            i++;
            continue;
        }
        if (!tchar(l[i]))
            return -1;
        while (i < n && tchar(l[i]))
            i++;
        names++;
        /* a name ends at a comma (spaces may come before it) or the end */
        while (i < n && (l[i] == ' ' || l[i] == '\t'))
            i++;
        if (i < n && l[i] != ',')
            return -1;
    }
    return names;
}

/* The names of a valid token list, lowercase, joined by ", ". */
static void put_token_list(struct stk_buf *b, const char *l, size_t n)
{
    bool first = true;
    for (size_t i = 0; i < n;) {
        if (!tchar(l[i])) {
            i++;
            continue;
        }
        if (!first)
            STK_BUF_LIT(b, ", ");
        first = false;
        for (; i < n && tchar(l[i]); i++)
            stk_buf_putc(b, l[i] >= 'A' && l[i] <= 'Z' ? (char)(l[i] + 32) : l[i]);
    }
}

/* OPTIONS on a known path (or "*"): 204 with Allow (RFC 9110 §9.3.7) and,
 * when server.http_cors_origin is set, the answer to a CORS preflight. The
 * requested headers are allowed by echoing them only when they form a valid
 * list of at most ACRH_MAX bytes; otherwise none are, and the browser keeps
 * the request it asked about to itself. A 204 has no body and no
 * Content-Length (RFC 9110 §8.6). */
static void respond_options(struct stk_conn *c, struct hconn *h, bool close)
{
    struct stk_buf *b = &c->out;
    const char *cors = c->srv->cfg->server.http_cors_origin;
    count_status(204);
    STK_BUF_LIT(b, "HTTP/1.1 204 No Content\r\nAllow: " ALLOWED "\r\n");
    if (cors && *cors) {
        stk_buf_printf(b,
                       "Access-Control-Allow-Origin: %s\r\n"
                       "Access-Control-Allow-Methods: " ALLOWED "\r\n",
                       cors);
        if (!h->acrh_long && token_list(h->acrh.data, h->acrh.len) > 0) {
            STK_BUF_LIT(b, "Access-Control-Allow-Headers: ");
            put_token_list(b, h->acrh.data, h->acrh.len);
            STK_BUF_LIT(b, "\r\n");
        }
        STK_BUF_LIT(b, "Access-Control-Max-Age: 600\r\n");
    }
    if (close)
        STK_BUF_LIT(b, "Connection: close\r\n");
    STK_BUF_LIT(b, "\r\n");
}

/* Serve the request h has parsed: the reply goes to c->out. */
static void serve_request(struct stk_conn *c, struct hconn *h, bool close)
{
    struct stk_server *s = c->srv;
    bool head = h->p.method == HTTP_HEAD;
    const char *url = h->url.data ? h->url.data : "";
    size_t ulen = h->url.len;
    const char *qm = memchr(url, '?', ulen);
    size_t plen = qm ? (size_t)(qm - url) : ulen;
    const char *query = qm ? qm + 1 : "";
    size_t qlen = qm ? ulen - plen - 1 : 0;
    const char *ctype = json_type;
    const char *t;
    size_t tlen;
    int status;
    s->st.requests++;
    H.body.len = 0;
    H.body.err = 0;
    stk_debug("%s < %s %.*s", c->peer, http_method_str(h->p.method), (int)ulen, url);
    if (h->p.method != HTTP_GET && h->p.method != HTTP_HEAD && h->p.method != HTTP_OPTIONS) {
        H.requests[EP_REFUSED]++;
        respond_error(c, 405, "METHOD_NOT_ALLOWED", NOT_ALLOWED_MSG, head, close);
        return;
    }
    enum ep ep = route(url, plen, &t, &tlen);
    H.requests[ep]++;
    if (h->p.method == HTTP_OPTIONS && (ep != EP_OTHER || path_is(url, ulen, "*"))) {
        respond_options(c, h, close);
        return;
    }
    switch (ep) {
    case EP_DASHBOARD: {
        const char *page;
        size_t len;
        stk_dashboard_page(&page, &len);
        respond(c, 200, "text/html; charset=utf-8", page, len, head, close);
        return;
    }
    case EP_HEALTH:
        status = ep_health(c);
        break;
    case EP_SYMBOLS:
        status = ep_symbols(c);
        break;
    case EP_PRICE:
        status = ep_price_latest(c, query, qlen);
        break;
    case EP_METRICS:
        status = ep_metrics(c);
        ctype = "text/plain; version=0.0.4; charset=utf-8";
        break;
    case EP_QUOTES:
        status = run_op(c, "get_quotes", NULL, 0, query, qlen);
        break;
    case EP_QUOTE:
        status = run_op(c, "get_quote", t, tlen, query, qlen);
        break;
    case EP_HISTORY:
        status = run_op(c, "get_history", t, tlen, query, qlen);
        break;
    case EP_WS:
        ep_ws(c, h, head);
        return;
    case EP_STREAM:
        ep_stream(c, h, query, qlen, head);
        return;
    case EP_BARS:
        if (stk_op_find("get_bars", 8)) {
            status = run_op(c, "get_bars", t, tlen, query, qlen);
        } else {
            error_body(&H.body, "UNAVAILABLE", "no recorder store configured");
            status = 503;
        }
        break;
    default:
        error_body(&H.body, "NOT_FOUND", "no such endpoint");
        status = 404;
        break;
    }
    if (H.body.err) {
        H.body.err = 0;
        error_body(&H.body, "INTERNAL", "out of memory");
        status = 500;
    }
    if (status != 200 && status != 503)
        s->st.errors++;
    respond(c, status, ctype, H.body.data, H.body.len, head, close);
}

/* ---- parsing ---- */

static struct hconn *hc_of(http_parser *p)
{
    return (struct hconn *)p; /* p is the first member */
}

static int on_begin(http_parser *p)
{
    struct hconn *h = hc_of(p);
    h->url.len = 0;
    h->hdr_bytes = 0;
    h->status = 0;
    h->te = h->field_te = h->in_value = h->leid = h->acrh_long = false;
    h->acrh.len = 0;
    h->acrh.err = 0;
    h->wskey_len = 0;
    h->flen = 0;
    if (!h->start_ns)
        h->start_ns = stk_mono_ns();
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct hconn *h = hc_of(p);
    if (h->url.len + len > URL_MAX) {
        h->status = 414;
        return 1;
    }
    h->hdr_bytes += (uint32_t)len;
    if (stk_buf_put(&h->url, at, len) < 0) {
        h->status = 500;
        return 1;
    }
    return 0;
}

static int grow_header(struct hconn *h, size_t len)
{
    h->hdr_bytes += (uint32_t)len + 4; /* ": " and CRLF */
    if (h->hdr_bytes > HEADER_MAX) {
        h->status = 431;
        return 1;
    }
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct hconn *h = hc_of(p);
    if (h->in_value) {
        h->in_value = false;
        h->flen = 0;
    }
    for (size_t i = 0; i < len && h->flen <= FIELD_MAX; i++) {
        char ch = at[i];
        if (h->flen == FIELD_MAX)
            h->flen++; /* longer than any name looked at: matches none */
        else
            h->field[h->flen++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    h->field[h->flen > FIELD_MAX ? 0 : h->flen] = 0;
    return grow_header(h, len);
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct hconn *h = hc_of(p);
    if (!h->in_value) {
        h->in_value = true;
        if (!strcmp(h->field, "transfer-encoding"))
            h->te = true;
        if (!strcmp(h->field, "last-event-id"))
            h->leid = true;
        if (!strcmp(h->field, "access-control-request-headers") && h->acrh.len &&
            stk_buf_putc(&h->acrh, ',') < 0) /* a second line: one list */
            h->acrh_long = true;
    }
    if (len && !strcmp(h->field, "access-control-request-headers") && !h->acrh_long &&
        (h->acrh.len + len > ACRH_MAX || stk_buf_put(&h->acrh, at, len) < 0))
        h->acrh_long = true;
    if (!strcmp(h->field, "sec-websocket-key")) {
        for (size_t i = 0; i < len && h->wskey_len < sizeof(h->wskey) - 1; i++)
            if (at[i] != ' ' && at[i] != '\t')
                h->wskey[h->wskey_len++] = at[i];
    }
    return grow_header(h, len);
}

static int on_headers(http_parser *p)
{
    struct hconn *h = hc_of(p);
    h->start_ns = 0;
    if (h->te) {
        h->status = 400;
        return -1;
    }
    if (p->content_length > 0 && p->content_length != ULLONG_MAX) {
        h->status = 413;
        return -1;
    }
    return 1; /* no body */
}

static int on_complete(http_parser *p)
{
    http_parser_pause(p, 1); /* one request at a time: served before the next is read */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_message_complete = on_complete,
};

/* Refuse what the parser or a limit stopped, then close. */
static void refuse(struct stk_conn *c, struct hconn *h)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
    int st = h->status;
    const char *code = "BAD_REQUEST", *msg = "malformed request";
    if (!st && e == HPE_HEADER_OVERFLOW)
        st = 431;
    if (!st && e == HPE_INVALID_METHOD)
        st = 405;
    switch (st) {
    case 405:
        code = "METHOD_NOT_ALLOWED";
        msg = NOT_ALLOWED_MSG;
        break;
    case 413:
        code = "PAYLOAD_TOO_LARGE";
        msg = "request bodies are not accepted";
        break;
    case 414:
        code = "URI_TOO_LONG";
        msg = "request line longer than 8 KiB";
        break;
    case 431:
        code = "HEADERS_TOO_LARGE";
        msg = "header block larger than 16 KiB";
        break;
    case 500:
        code = "INTERNAL";
        msg = "out of memory";
        break;
    case 400:
        if (h->te)
            msg = "Transfer-Encoding on a request is refused";
        break;
    default:
        st = 400;
        msg = http_errno_description(e);
        break;
    }
    stk_server_warn(c->srv, "%s: http %d: %s", c->peer, st, msg);
    H.requests[EP_REFUSED]++;
    respond_error(c, st, code, msg, false, true);
    h->quiet = true;
    stk_conn_fatal(c, STK_E_BAD_REQUEST, msg);
}

static size_t http_data(struct stk_conn *c, const char *data, size_t len, bool at_eof)
{
    struct hconn *h = c->pstate;
    size_t pos = 0;
    (void)at_eof;
    if (h->mode == M_SSE)
        return len; /* a stream's client has nothing more to say: dropped */
    if (h->mode == M_WS)
        return stk_ws_data(h->ws, data, len);
    while (pos < len && !stk_conn_state_cut(c->state)) {
        if (stk_conn_pending(c) >= STK_WRITE_BURST)
            break; /* back-pressure: the rest waits until this drains */
        size_t n = http_parser_execute(&h->p, &settings, data + pos, len - pos);
        pos += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
        if (e == HPE_PAUSED) {
            /* an upgrade anywhere but /v1/ws: answered, then closed (the
             * parser reads no more after an upgrade) */
            bool keep = http_should_keep_alive(&h->p) && !h->p.upgrade;
            serve_request(c, h, !keep);
            http_parser_pause(&h->p, 0);
            if (h->mode == M_SSE || stk_conn_state_cut(c->state))
                return len;
            if (h->mode == M_WS) {
                /* the parser stops before the header's last '\n' on an upgrade */
                if (pos < len && data[pos] == '\n')
                    pos++;
                return pos + stk_ws_data(h->ws, data + pos, len - pos);
            }
            if (!keep) {
                h->quiet = true;
                stk_conn_fatal(c, STK_E_BAD_REQUEST, "connection: close");
                return len;
            }
            continue;
        }
        if (e != HPE_OK) {
            refuse(c, h);
            return len;
        }
        break; /* all of it parsed: the rest of a request is still to come */
    }
    return pos;
}

/* ---- connections ---- */

/* Close connections whose request header is not complete in time. */
static void sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct stk_server *s = w->data;
    uint64_t now = stk_mono_ns();
    struct stk_conn *c = s->all.head;
    while (c) {
        struct stk_conn *next = c->anext;
        struct hconn *h = c->proto == &stk_proto_http ? c->pstate : NULL;
        if (h && h->start_ns && now - h->start_ns > HEADER_TIMEOUT_NS &&
            !stk_conn_state_cut(c->state)) {
            stk_server_warn(s, "%s: http request header not complete within 10 s: closed", c->peer);
            h->quiet = true;
            stk_conn_fatal(c, STK_E_BAD_REQUEST, "header timeout");
        }
        c = next;
    }
}

static int http_open(struct stk_conn *c)
{
    struct hconn *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    http_parser_init(&h->p, HTTP_REQUEST);
    h->start_ns = stk_mono_ns();
    c->pstate = h;
    if (H.conns++ == 0) {
        H.loop = c->srv->loop;
        ev_timer_init(&H.sweep, sweep_cb, SWEEP_S, SWEEP_S);
        H.sweep.data = c->srv;
        ev_timer_start(H.loop, &H.sweep);
    }
    return 0;
}

static void http_close(struct stk_conn *c)
{
    struct hconn *h = c->pstate;
    if (!h)
        return;
    stk_buf_free(&h->url);
    stk_buf_free(&h->acrh);
    stk_ws_free(h->ws);
    free(h);
    c->pstate = NULL;
    if (--H.conns == 0)
        ev_timer_stop(H.loop, &H.sweep);
}

static size_t http_events(struct stk_conn *c, size_t limit)
{
    struct hconn *h = c->pstate;
    if (h && h->mode == M_WS)
        return stk_ws_events(h->ws, limit);
    return h && h->mode == M_SSE ? sse_events(c, limit) : 0;
}

static void http_heartbeat(struct stk_conn *c)
{
    struct hconn *h = c->pstate;
    if (h && h->mode == M_WS)
        stk_ws_heartbeat(h->ws);
    if (!h || h->mode != M_SSE)
        return;
    STK_BUF_LIT(&c->out, ": heartbeat ");
    stk_buf_u64(&c->out, stk_server_now(c->srv) / 1000000u);
    STK_BUF_LIT(&c->out, "\n\n");
    c->out.err = 0;
}

static void http_fatal(struct stk_conn *c, enum stk_err code, const char *msg)
{
    struct hconn *h = c->pstate;
    if (h && h->quiet)
        return;
    if (h && h->mode == M_WS) {
        stk_ws_fatal(h->ws, code, msg);
        return;
    }
    if (h && h->mode == M_SSE) {
        error_body(&H.body, stk_err_name(code), msg ? msg : "closed");
        STK_BUF_LIT(&c->out, "event: error\ndata: ");
        stk_buf_put(&c->out, H.body.data, H.body.len - 1);
        STK_BUF_LIT(&c->out, "\n\n");
        c->out.err = 0;
        return;
    }
    int st = status_of(code);
    error_body(&H.body, stk_err_name(code), msg ? msg : "closed");
    respond(c, st, json_type, H.body.data, H.body.len, false, true);
    c->out.err = 0;
}

/* A stream is cut after the event partly on the wire; responses are
 * kept whole (their output stays under one write burst). */
static size_t http_cut_point(const struct stk_conn *c, size_t sent)
{
    const struct hconn *h = c->pstate;
    if (!h || h->mode != M_SSE)
        return c->out.len;
    if (sent == 0)
        return 0;
    const char *d = c->out.data;
    for (size_t i = sent - 1; i + 1 < c->out.len; i++)
        if (d[i] == '\n' && d[i + 1] == '\n')
            return i + 2 > sent || (i + 2 == sent) ? i + 2 : sent;
    return c->out.len;
}

const struct stk_proto stk_proto_http = {
    .name = "http",
    .heartbeat_ns = 1000000000ull, /* streams: a comment after 1 s without events */
    .on_open = http_open,
    .on_close = http_close,
    .on_data = http_data,
    .on_events = http_events,
    .on_heartbeat = http_heartbeat,
    .on_fatal = http_fatal,
    .cut_point = http_cut_point,
};
