/* SPDX-License-Identifier: MIT */
/* protocol.c — NDJSON protocol v1 (docs/protocol.md): line framing, the
 * request envelope (v, id, type) and its validation, arguments decoded from
 * JSON for the shared operations (ops.c), the get_quote fast path, error
 * lines, and quote / heartbeat events. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json-private.h"
#include "log-private.h"
#include "segment-private.h"
#include "server.h"

/* the request fields any operation reads, located in one pass */
enum {
    F_V,
    F_ID,
    F_TYPE,
    F_TICKER,
    F_TICKERS,
    F_LIMIT,
    F_THROTTLE,
    F_INTERVAL,
    F_FROM_MS,
    F_TO_MS,
    F_MODE,
    F_FROM_TICK,
    F_N
};
static const char *const field_names[F_N] = {"v",       "id",    "type",        "ticker",
                                             "tickers", "limit", "throttle_ms", "interval",
                                             "from_ms", "to_ms", "mode",        "from_tick"};
static const unsigned char field_lens[F_N] = {1, 2, 4, 6, 7, 5, 11, 8, 7, 5, 4, 9};

struct req {
    struct stk_req q; /* first: what the operations see */
    int f[F_N];       /* value token of each field, -1 if absent */
    int tickers;      /* the tickers array's token, once checked */
    struct stk_json j;
    const char *line;
    size_t len;
    const char *id, *op; /* raw JSON text to echo ("null" if none) */
    size_t id_len, op_len;
};

/* The NDJSON request holding the operations' view q. */
static struct req *req_of(struct stk_req *q)
{
    return (struct req *)q;
}

/* A copy of a request fit for a log line: printable ASCII, cut at 200. */
static void log_copy(char *out, size_t size, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        if (i == 200 && n > 201) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
    }
    out[k] = 0;
}

static void error_line(struct stk_buf *b, const char *id, size_t id_len, const char *op,
                       size_t op_len, enum stk_err code, const char *msg)
{
    STK_BUF_LIT(b, "{\"v\":1,\"id\":");
    stk_buf_put(b, id, id_len);
    STK_BUF_LIT(b, ",\"type\":\"error\",\"op\":");
    stk_buf_put(b, op, op_len);
    STK_BUF_LIT(b, ",\"error\":{\"code\":\"");
    stk_buf_puts(b, stk_err_name(code));
    STK_BUF_LIT(b, "\",\"message\":");
    stk_buf_json_str(b, msg, strlen(msg));
    STK_BUF_LIT(b, "}}\n");
}

static int fail(struct req *r, enum stk_err code, const char *msg)
{
    char copy[256];
    r->q.s->st.errors++;
    r->q.s->st.by_err[code]++;
    error_line(r->q.b, r->id, r->id_len, r->op, r->op_len, code, msg);
    if (stk_log_level <= STK_LOG_WARN) {
        log_copy(copy, sizeof(copy), r->line, r->len);
        stk_server_warn(r->q.s, "%s: %s: %s; request (%zu bytes): %s", r->q.c->peer,
                        stk_err_name(code), msg, r->len, copy);
    }
    return -1;
}

/* ---- the face the operations see ---- */

static int nd_fail(struct stk_req *q, enum stk_err code, const char *msg)
{
    return fail(req_of(q), code, msg);
}

static void nd_begin(struct stk_req *q)
{
    struct req *r = req_of(q);
    STK_BUF_LIT(q->b, "{\"v\":1,\"id\":");
    stk_buf_put(q->b, r->id, r->id_len);
    STK_BUF_LIT(q->b, ",\"type\":\"response\",\"op\":\"");
    stk_buf_puts(q->b, q->opname);
    stk_buf_putc(q->b, '"');
}

static void nd_end(struct stk_req *q)
{
    STK_BUF_LIT(q->b, "}\n");
}

/* Decode a ticker string token; 0 ok, -EINVAL not a string, -ENOENT a
 * string that cannot be a ticker (too long, bad bytes). */
static int ticker_of(const struct req *r, int t, char name[STK_NAME_MAX + 1])
{
    if (!stk_json_is_string(&r->j, t))
        return -EINVAL;
    int n = stk_json_str(&r->j, t, name, STK_NAME_MAX + 1);
    if (n < 0 || n > (int)STK_NAME_MAX || stk_sym_check(name, (size_t)n) < 0)
        return -ENOENT;
    return 0;
}

/* The required `ticker` field, into name. Returns 0, -ENOENT for a string
 * that is no valid symbol (the caller answers NOT_FOUND), or -1 after a
 * BAD_REQUEST reply. */
static int nd_ticker(struct stk_req *q, char name[STK_NAME_MAX + 1])
{
    struct req *r = req_of(q);
    int t = r->f[F_TICKER];
    if (t < 0)
        return fail(r, STK_E_BAD_REQUEST, "Missing required field: ticker");
    int k = ticker_of(r, t, name);
    if (k == -EINVAL)
        return fail(r, STK_E_BAD_REQUEST, "ticker must be a string");
    return k;
}

/* tickers: a non-empty array of strings (or "*" where allowed). Returns
 * its length, STK_TICKERS_ALL for "*", or -1 after replying. */
static int nd_tickers(struct stk_req *q, bool star_ok)
{
    struct req *r = req_of(q);
    int t = r->f[F_TICKERS];
    if (t < 0)
        return fail(r, STK_E_BAD_REQUEST, "Missing required field: tickers");
    if (star_ok && stk_json_is_string(&r->j, t)) {
        char tmp[4];
        if (stk_json_str(&r->j, t, tmp, sizeof(tmp)) == 1 && tmp[0] == '*')
            return STK_TICKERS_ALL;
    }
    if (!stk_json_is_array(&r->j, t))
        return fail(r, STK_E_BAD_REQUEST,
                    star_ok ? "tickers must be an array of strings or \"*\""
                            : "tickers must be an array of strings");
    int e = t + 1;
    for (int i = 0; i < r->j.tok[t].size; i++, e++)
        if (!stk_json_is_string(&r->j, e))
            return fail(r, STK_E_BAD_REQUEST, "tickers must be an array of strings");
    r->tickers = t;
    return r->j.tok[t].size;
}

static int nd_ticker_at(struct stk_req *q, int i, char name[STK_NAME_MAX + 1])
{
    struct req *r = req_of(q);
    return ticker_of(r, r->tickers + 1 + i, name) < 0 ? -ENOENT : 0;
}

/* The list (or item i) as the client wrote it, but rebuilt from its
 * strings: the whitespace between them (a raw CR or tab is valid JSON
 * there) never reaches a reply line. */
static void nd_put_tickers(struct stk_req *q, int i)
{
    struct req *r = req_of(q);
    size_t n;
    int first = i < 0 ? 0 : i, end = i < 0 ? r->j.tok[r->tickers].size : i + 1;
    if (i < 0)
        stk_buf_putc(q->b, '[');
    for (int k = first; k < end; k++) {
        const char *raw = stk_json_raw(&r->j, r->tickers + 1 + k, &n);
        if (i < 0 && k > first)
            stk_buf_putc(q->b, ',');
        stk_buf_put(q->b, raw, n);
    }
    if (i < 0)
        stk_buf_putc(q->b, ']');
}

static int nd_int_arg(struct stk_req *q, enum stk_arg a, int64_t *v)
{
    struct req *r = req_of(q);
    static const int field_of[] = {[STK_ARG_LIMIT] = F_LIMIT,
                                   [STK_ARG_THROTTLE_MS] = F_THROTTLE,
                                   [STK_ARG_FROM_MS] = F_FROM_MS,
                                   [STK_ARG_TO_MS] = F_TO_MS,
                                   [STK_ARG_FROM_TICK] = F_FROM_TICK};
    int t = r->f[field_of[a]];
    if (t < 0)
        return 0;
    int64_t x;
    if (stk_json_int(&r->j, t, &x) < 0)
        return -1;
    *v = x;
    return 1;
}

static int nd_str_arg(struct stk_req *q, enum stk_sarg a, char *out, size_t size)
{
    struct req *r = req_of(q);
    int t = r->f[a == STK_SARG_MODE ? F_MODE : F_INTERVAL];
    if (t < 0)
        return 0;
    int n = stk_json_is_string(&r->j, t) ? stk_json_str(&r->j, t, out, size) : -1;
    if (n < 0 || (size_t)n >= size)
        return fail(r, STK_E_BAD_REQUEST,
                    a == STK_SARG_MODE ? "mode must be \"latest\" or \"ticks\""
                                       : "interval must be a string like \"1m\"");
    return n;
}

static const struct stk_face ndjson_face = {
    .begin = nd_begin,
    .end = nd_end,
    .fail = nd_fail,
    .ticker = nd_ticker,
    .tickers = nd_tickers,
    .ticker_at = nd_ticker_at,
    .put_tickers = nd_put_tickers,
    .int_arg = nd_int_arg,
    .str_arg = nd_str_arg,
};

/* One pass over the top-level keys; a key written with escapes sends the
 * lookup to stk_json_get(), which decodes. */
static void index_fields(struct req *r)
{
    const struct stk_json *j = &r->j;
    bool escaped = false;
    for (int k = 0; k < F_N; k++)
        r->f[k] = -1;
    int i = 1;
    for (int c = 0; c < j->tok[0].size && i < j->ntok; c++) {
        const char *key = j->src + j->tok[i].start;
        size_t n = (size_t)(j->tok[i].end - j->tok[i].start);
        if (j->escapes && memchr(key, '\\', n))
            escaped = true;
        for (int k = 0; k < F_N; k++) {
            if (field_lens[k] == n && !memcmp(field_names[k], key, n)) {
                r->f[k] = i + 1;
                break;
            }
        }
        i = stk_json_skip(j, i + 1);
    }
    if (escaped)
        for (int k = 0; k < F_N; k++)
            r->f[k] = stk_json_get(j, 0, field_names[k]);
}

/* ---- fast path ----
 *
 * Nearly every request on a busy connection is a get_quote in one shape:
 * a flat object of v, id, type and ticker, compact or with single spaces
 * (json.dumps). fast_get_quote() recognises exactly that shape (the flat
 * object of json-private.h) and nothing else: v the number 1, id a number or
 * a string of printable ASCII without escapes, type the string "get_quote",
 * ticker a string of printable ASCII
 * without escapes of at most STK_NAME_MAX bytes, each key once, nothing else.
 * Every line it accepts is valid JSON that the strict path would accept with
 * the same fields, so the reply is byte for byte the strict path's; it never
 * rejects anything itself — any other line, valid or not, goes the strict
 * way. tests/server/test_protocol.c checks both paths agree (differential). */

bool stk_ndjson_fast_path = true;

enum { FK_V = 1, FK_ID = 2, FK_TYPE = 4, FK_TICKER = 8, FK_ALL = 15 };

/* Serve line as a get_quote if it has the one common shape (see above).
 * Returns true if it did; false leaves r untouched for the strict path. */
static bool fast_get_quote(struct req *r)
{
    const char *e = r->line + r->len, *p = stk_flat_open(r->line, e);
    const char *id = NULL, *tk = NULL;
    size_t id_len = 0, tk_len = 0;
    unsigned seen = 0;
    if (!p)
        return false;
    for (;;) {
        const char *key;
        size_t kn;
        if (!(p = stk_flat_key(p, e, &key, &kn)))
            return false;
        unsigned bit;
        if (stk_flat_key_is(key, kn, "v", 1))
            bit = FK_V;
        else if (stk_flat_key_is(key, kn, "id", 2))
            bit = FK_ID;
        else if (stk_flat_key_is(key, kn, "type", 4))
            bit = FK_TYPE;
        else if (stk_flat_key_is(key, kn, "ticker", 6))
            bit = FK_TICKER;
        else
            return false;
        if (seen & bit)
            return false; /* duplicate key: the strict path refuses it */
        seen |= bit;
        const char *v = p;
        switch (bit) {
        case FK_V:
            p = stk_json_number_end(p, e);
            if (!p || p - v != 1 || *v != '1')
                return false;
            break;
        case FK_ID:
            /* a plain string or a number: echoed as written, as the strict
             * path echoes the raw text of a scalar id */
            p = p < e && *p == '"' ? stk_scan_plain_str(p, e) : stk_json_number_end(p, e);
            if (!p)
                return false;
            id = v;
            id_len = (size_t)(p - v);
            break;
        case FK_TYPE:
            if ((size_t)(e - p) < 11 || memcmp(p, "\"get_quote\"", 11) != 0)
                return false;
            p += 11;
            break;
        default:
            p = stk_scan_plain_str(p, e);
            if (!p || (size_t)(p - v) - 2 > STK_NAME_MAX)
                return false;
            tk = v + 1;
            tk_len = (size_t)(p - v) - 2;
            break;
        }
        int more = stk_flat_next(&p, e);
        if (more == STK_FLAT_END)
            break;
        if (more == STK_FLAT_NO)
            return false;
    }
    if (seen != FK_ALL)
        return false;
    char name[STK_NAME_MAX + 1];
    memcpy(name, tk, tk_len);
    name[tk_len] = 0;
    r->id = id;
    r->id_len = id_len;
    r->op = "\"get_quote\"";
    r->op_len = 11;
    r->q.opname = "get_quote";
    r->q.s->st.fast_path++;
    r->q.s->st.by_op[0]++; /* get_quote, the op table's first row */
    stk_op_get_quote_named(&r->q, name, stk_sym_check(name, tk_len) < 0 ? -ENOENT : 0);
    return true;
}

static void handle(struct req *r)
{
    if (stk_ndjson_fast_path && fast_get_quote(r))
        return;
    const char *err = NULL;
    int pr = stk_json_parse(&r->j, r->line, r->len, &err);
    if (pr == -ENOMEM) {
        fail(r, STK_E_INTERNAL, "out of memory");
        return;
    }
    if (pr < 0) {
        fail(r, STK_E_BAD_REQUEST, err);
        return;
    }
    if (!stk_json_is_object(&r->j, 0)) {
        fail(r, STK_E_BAD_REQUEST, "request must be a JSON object");
        return;
    }
    index_fields(r);
    int v = r->f[F_V], id = r->f[F_ID], type = r->f[F_TYPE];
    if (id >= 0 && stk_json_is_scalar(&r->j, id))
        r->id = stk_json_raw(&r->j, id, &r->id_len);
    if (type >= 0 && stk_json_is_string(&r->j, type))
        r->op = stk_json_raw(&r->j, type, &r->op_len);
    if (v < 0 || id < 0 || type < 0) {
        fail(r, STK_E_BAD_REQUEST, "Missing required fields");
        return;
    }
    if (!stk_json_is_scalar(&r->j, id)) {
        fail(r, STK_E_BAD_REQUEST, "id must be a JSON scalar");
        return;
    }
    int64_t vv;
    if (stk_json_is_string(&r->j, v) || r->j.tok[v].type != JSMN_PRIMITIVE ||
        r->line[r->j.tok[v].start] == 't' || r->line[r->j.tok[v].start] == 'f' ||
        r->line[r->j.tok[v].start] == 'n') {
        fail(r, STK_E_BAD_REQUEST, "v must be the number 1");
        return;
    }
    if (stk_json_int(&r->j, v, &vv) < 0 || vv != 1) {
        fail(r, STK_E_BAD_REQUEST, "unsupported protocol version (v must be 1)");
        return;
    }
    if (!stk_json_is_string(&r->j, type)) {
        fail(r, STK_E_BAD_REQUEST, "type must be a string");
        return;
    }
    char tbuf[32];
    const char *tname = r->line + r->j.tok[type].start;
    int tn = r->j.tok[type].end - r->j.tok[type].start;
    if (r->j.escapes) {
        tn = stk_json_str(&r->j, type, tbuf, sizeof(tbuf));
        tname = tbuf;
    }
    const struct stk_op *op = stk_op_find(tname, tn > 0 ? (size_t)tn : 0);
    if (!op) {
        fail(r, STK_E_BAD_REQUEST, "unknown type");
        return;
    }
    r->q.opname = op->name;
    stk_op_run(&r->q, op);
}

void stk_ndjson_request(struct stk_conn *c, const char *line, size_t len)
{
    struct req *r, rq;
    r = &rq;
    r->q.c = c;
    r->q.s = c->srv;
    r->q.b = &c->out;
    r->q.face = &ndjson_face;
    r->tickers = -1;
    r->line = line;
    r->len = len;
    r->id = r->op = "null";
    r->id_len = r->op_len = 4;
    r->q.opname = NULL;
    r->j.heap = NULL;
    size_t mark = c->out.len;
    c->srv->st.requests++;
    if (stk_log_level <= STK_LOG_DEBUG) {
        char copy[256];
        log_copy(copy, sizeof(copy), line, len);
        stk_debug("%s < %s", c->peer, copy);
    }
    handle(r);
    stk_json_free(&r->j);
    if (c->out.err) {
        /* out of memory half way: drop the partial reply, say so briefly */
        c->out.len = mark;
        c->out.err = 0;
        c->srv->st.errors++;
        error_line(&c->out, r->id, r->id_len, r->op, r->op_len, STK_E_INTERNAL, "out of memory");
        if (c->out.err) {
            c->out.len = mark;
            c->out.err = 0;
            stk_conn_fatal(c, STK_E_INTERNAL, "out of memory");
            return;
        }
    }
    if (stk_log_level <= STK_LOG_DEBUG && c->out.len > mark)
        stk_debug("%s > %.*s", c->peer, (int)(c->out.len - mark - 1), c->out.data + mark);
}

static void ndjson_event_open(struct stk_buf *b, uint64_t seq, uint64_t conflated)
{
    STK_BUF_LIT(b, "{\"v\":1,\"type\":\"quote\",\"seq\":");
    stk_buf_u64(b, seq);
    STK_BUF_LIT(b, ",\"conflated\":");
    stk_buf_u64(b, conflated);
    stk_buf_putc(b, ',');
}

static const struct stk_event_frame ndjson_frame = {ndjson_event_open, "}\n", 2};

static size_t ndjson_events(struct stk_conn *c, size_t limit)
{
    return stk_render_events(c, limit, &ndjson_frame);
}

static void ndjson_heartbeat(struct stk_conn *c)
{
    STK_BUF_LIT(&c->out, "{\"v\":1,\"type\":\"heartbeat\",\"ts_ms\":");
    stk_buf_u64(&c->out, stk_server_now(c->srv) / 1000000u);
    STK_BUF_LIT(&c->out, ",\"epoch\":");
    stk_buf_u64(&c->out, c->srv->seg ? stk_seg_epoch(c->srv->seg) : 0);
    STK_BUF_LIT(&c->out, "}\n");
    c->out.err = 0;
}

static void ndjson_fatal(struct stk_conn *c, enum stk_err code, const char *msg)
{
    error_line(&c->out, "null", 4, "null", 4, code, msg);
    c->out.err = 0;
}

/* ---- framing: one request per '\n'-terminated line ---- */

static void too_long(struct stk_conn *c, uint64_t max)
{
    c->srv->st.too_long++;
    stk_server_warn(c->srv, "%s: request line longer than %llu bytes (server.max_line_bytes)",
                    c->peer, (unsigned long long)max);
    stk_conn_fatal(c, STK_E_BAD_REQUEST, "line too long");
}

/* Serve the complete lines of data[0..len) in order while the output stays
 * below one write burst (at EOF a last line needs no '\n'). Returns bytes
 * consumed. */
static size_t ndjson_data(struct stk_conn *c, const char *data, size_t len, bool at_eof)
{
    uint64_t max = c->srv->cfg->server.max_line_bytes;
    const char *p = data, *end = data + len;
    while (p < end && !stk_conn_state_cut(c->state)) {
        if (stk_conn_pending(c) >= STK_WRITE_BURST)
            break; /* back-pressure: the rest waits until this drains */
        const char *ls = p;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl && !at_eof)
            break;
        size_t n = (size_t)((nl ? nl : end) - ls);
        if (n > max) {
            too_long(c, max);
            return len;
        }
        p = nl ? nl + 1 : end;
        if (n > 0 && ls[n - 1] == '\r')
            n--;
        /* empty (and blank) lines are keep-alives: ignored */
        size_t k = 0;
        while (k < n && (ls[k] == ' ' || ls[k] == '\t'))
            k++;
        if (k < n)
            stk_ndjson_request(c, ls, n);
    }
    /* a partial line that is already too long is refused without waiting
     * for the rest of it */
    if (!stk_conn_state_cut(c->state) && p < end && !memchr(p, '\n', (size_t)(end - p)) &&
        (uint64_t)(end - p) > max) {
        too_long(c, max);
        return len;
    }
    return (size_t)(p - data);
}

/* Unsent output is cut after the line that is partly on the wire. */
static size_t ndjson_cut_point(const struct stk_conn *c, size_t sent)
{
    if (sent == 0 || c->out.data[sent - 1] == '\n')
        return sent;
    const char *nl = memchr(c->out.data + sent, '\n', c->out.len - sent);
    return nl ? (size_t)(nl - c->out.data) + 1 : c->out.len;
}

const struct stk_proto stk_proto_ndjson = {
    .name = "ndjson",
    .heartbeat_ns = 1000000000ull, /* after 1 s without events */
    .on_data = ndjson_data,
    .on_events = ndjson_events,
    .on_heartbeat = ndjson_heartbeat,
    .on_fatal = ndjson_fatal,
    .cut_point = ndjson_cut_point,
};
