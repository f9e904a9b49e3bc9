/* SPDX-License-Identifier: MIT */
/* protocol.c — NDJSON protocol v1 (docs/protocol.md): request validation, every
 * operation and error code, quote / heartbeat events, exact decimal prices. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-private.h"
#include "log-private.h"
#include "segment-private.h"
#include "server.h"

#define MAX_THROTTLE_MS 60000

static const char *const err_names[] = {
    [STK_E_BAD_REQUEST] = "BAD_REQUEST", [STK_E_NOT_FOUND] = "NOT_FOUND",
    [STK_E_UNAVAILABLE] = "UNAVAILABLE", [STK_E_SLOW_CONSUMER] = "SLOW_CONSUMER",
    [STK_E_INTERNAL] = "INTERNAL",
};

const char *stk_err_name(enum stk_err e)
{
    return err_names[e];
}

/* the request fields any operation reads, located in one pass */
enum { F_V, F_ID, F_TYPE, F_TICKER, F_TICKERS, F_LIMIT, F_THROTTLE, F_N };
static const char *const field_names[F_N] = {"v",       "id",    "type",       "ticker",
                                             "tickers", "limit", "throttle_ms"};
static const unsigned char field_lens[F_N] = {1, 2, 4, 6, 7, 5, 11};

struct req {
    int f[F_N]; /* value token of each field, -1 if absent */
    struct stk_conn *c;
    struct stk_server *s;
    struct stk_buf *b;
    struct stk_json j;
    const char *line;
    size_t len;
    const char *id, *op; /* raw JSON text to echo ("null" if none) */
    size_t id_len, op_len;
    const char *opname; /* the type, once known */
};

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
    stk_buf_puts(b, err_names[code]);
    STK_BUF_LIT(b, "\",\"message\":");
    stk_buf_json_str(b, msg, strlen(msg));
    STK_BUF_LIT(b, "}}\n");
}

static int fail(struct req *r, enum stk_err code, const char *msg)
{
    char copy[256];
    r->s->st.errors++;
    error_line(r->b, r->id, r->id_len, r->op, r->op_len, code, msg);
    if (stk_log_level <= STK_LOG_WARN) {
        log_copy(copy, sizeof(copy), r->line, r->len);
        stk_server_warn(r->s, "%s: %s: %s; request (%zu bytes): %s", r->c->peer, err_names[code],
                        msg, r->len, copy);
    }
    return -1;
}

static void head(struct req *r)
{
    STK_BUF_LIT(r->b, "{\"v\":1,\"id\":");
    stk_buf_put(r->b, r->id, r->id_len);
    STK_BUF_LIT(r->b, ",\"type\":\"response\",\"op\":\"");
    stk_buf_puts(r->b, r->opname);
    stk_buf_putc(r->b, '"');
}

static void tail(struct req *r)
{
    STK_BUF_LIT(r->b, "}\n");
}

static uint64_t now_ms(struct stk_server *s)
{
    return stk_server_now(s) / 1000000u;
}

/* The quote fields (no braces). */
#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

/* The fields of a record that do not depend on the time of the reply, from
 * ",\"price\":" to the ts_ns value: at most 9 + 3 × (7 + 21) + 2 × (12 + 10)
 * + 3 × (10 + 20) bytes. */
#define QTEXT_MAX 256

static size_t quote_text(char *out, const struct stk_quote *q)
{
    char *p = out;
    PUT_LIT(p, ",\"price\":");
    p += stk_decimal_format(q->price, p, STK_DECIMAL_MAX);
    PUT_LIT(p, ",\"bid\":");
    p += stk_decimal_format(q->bid, p, STK_DECIMAL_MAX);
    PUT_LIT(p, ",\"ask\":");
    p += stk_decimal_format(q->ask, p, STK_DECIMAL_MAX);
    PUT_LIT(p, ",\"bid_size\":");
    p = stk_json_u64(p, q->bid_size);
    PUT_LIT(p, ",\"ask_size\":");
    p = stk_json_u64(p, q->ask_size);
    PUT_LIT(p, ",\"volume\":");
    p = stk_json_u64(p, q->volume);
    PUT_LIT(p, ",\"ts_ms\":");
    p = stk_json_u64(p, q->src_ts_ns / 1000000u);
    PUT_LIT(p, ",\"ts_ns\":");
    p = stk_json_u64(p, q->src_ts_ns);
    return (size_t)(p - out);
}

/* Rendered quote_text() per symbol index (modulo the table), reused while
 * the values it was rendered from are unchanged: a ticker polled many times
 * between two ticks is formatted once. The key is the values themselves, not
 * the record's seq, so a new segment or a rewritten record can never be
 * served stale text. Used by the loop thread only. */
#define QCACHE_SLOTS 256
static struct qcache {
    int64_t price, bid, ask;
    uint64_t volume, src_ts_ns;
    uint32_t bid_size, ask_size;
    uint32_t len; /* 0: empty */
    char text[QTEXT_MAX];
} qcache[QCACHE_SLOTS];

static bool qcache_match(const struct qcache *e, const struct stk_quote *q)
{
    return e->len && e->price == q->price && e->bid == q->bid && e->ask == q->ask &&
           e->volume == q->volume && e->src_ts_ns == q->src_ts_ns && e->bid_size == q->bid_size &&
           e->ask_size == q->ask_size;
}

/* The quote fields (no braces) of record sym. The hot path of get_quote and
 * of events: one reservation, then plain stores. */
static void quote_fields(struct stk_buf *b, struct stk_server *s, uint32_t sym, const char *name,
                         const struct stk_quote *q, uint64_t now_ns)
{
    uint64_t age = now_ns > q->pub_ts_ns ? now_ns - q->pub_ts_ns : 0;
    bool stale = stk_quote_is_stale(s, q, now_ns); /* the library's one rule */
    STK_BUF_LIT(b, "\"ticker\":");
    stk_buf_json_str(b, name, strlen(name));
    if (stk_buf_grow(b, QTEXT_MAX + 20 + 32) < 0)
        return;
    char *p = b->data + b->len;
    struct qcache *e = &qcache[sym % QCACHE_SLOTS];
    if (!qcache_match(e, q)) {
        e->len = (uint32_t)quote_text(e->text, q);
        e->price = q->price;
        e->bid = q->bid;
        e->ask = q->ask;
        e->volume = q->volume;
        e->src_ts_ns = q->src_ts_ns;
        e->bid_size = q->bid_size;
        e->ask_size = q->ask_size;
    }
    memcpy(p, e->text, e->len);
    p += e->len;
    PUT_LIT(p, ",\"age_ms\":");
    p = stk_json_u64(p, age / 1000000u);
    if (stale)
        PUT_LIT(p, ",\"stale\":true");
    else
        PUT_LIT(p, ",\"stale\":false");
    b->len = (size_t)(p - b->data);
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

/* Index of a ticker in the segment, or -ENOENT. */
static int lookup(struct stk_server *s, const char *name)
{
    return stk_seg_lookup(s->seg, name);
}

static int need_seg(struct req *r)
{
    /* closed, garbage or truncated: the library's rule says drop it now */
    if (r->s->seg && stk_seg_usable(r->s->seg) != 0)
        stk_segwatch_check(r->s, false);
    if (r->s->seg)
        return 0;
    return fail(r, STK_E_UNAVAILABLE, "no segment: the producer is not running");
}

/* ---- operations ---- */

static int op_ping(struct req *r)
{
    head(r);
    STK_BUF_LIT(r->b, ",\"ts_ms\":");
    stk_buf_u64(r->b, now_ms(r->s));
    tail(r);
    return 0;
}

static int op_health(struct req *r)
{
    struct stk_server *s = r->s;
    uint64_t age;
    bool alive = stk_producer_alive(s, &age);
    head(r);
    stk_buf_puts(r->b, alive ? ",\"producer_alive\":true" : ",\"producer_alive\":false");
    STK_BUF_LIT(r->b, ",\"heartbeat_age_ms\":");
    if (age == UINT64_MAX)
        STK_BUF_LIT(r->b, "null");
    else
        stk_buf_u64(r->b, age / 1000000u);
    STK_BUF_LIT(r->b, ",\"generation\":");
    if (s->seg)
        stk_buf_u64(r->b, atomic_load(&stk_seg_header(s->seg)->generation));
    else
        STK_BUF_LIT(r->b, "null");
    stk_buf_printf(r->b,
                   ",\"nsymbols\":%u,\"connections\":%zu,\"uptime_s\":%llu,\"segment\":%s,"
                   "\"subscribers\":%zu,\"requests\":%llu,\"errors\":%llu,\"slow_consumers\":%llu",
                   s->seg ? stk_seg_nsymbols(s->seg) : 0u, s->nconns,
                   (unsigned long long)((stk_mono_ns() - s->start_ns) / 1000000000u),
                   s->seg ? "true" : "false", s->nsubscribed, (unsigned long long)s->st.requests,
                   (unsigned long long)s->st.errors, (unsigned long long)s->st.slow_consumers);
    tail(r);
    return 0;
}

static int op_list_tickers(struct req *r)
{
    if (need_seg(r) < 0)
        return -1;
    uint32_t n = stk_seg_nsymbols(r->s->seg);
    bool first = true;
    stk_segwatch_names(r->s);
    head(r);
    STK_BUF_LIT(r->b, ",\"tickers\":[");
    for (uint32_t i = 0; i < n; i++) {
        /* a valid name (printable ASCII: valid UTF-8, no control bytes) or
         * NULL: an invalid entry is skipped (and logged once) */
        const char *name = stk_seg_symbol(r->s->seg, i);
        if (!name)
            continue;
        if (!first)
            stk_buf_putc(r->b, ',');
        first = false;
        stk_buf_json_str(r->b, name, strlen(name));
    }
    stk_buf_putc(r->b, ']');
    tail(r);
    return 0;
}

/* get_quote once the ticker is decoded: k is ticker_of()'s result for a
 * string (0, or -ENOENT for one that cannot be a ticker). */
static int get_quote_named(struct req *r, const char name[STK_NAME_MAX + 1], int k)
{
    if (need_seg(r) < 0)
        return -1;
    int idx = k < 0 ? -ENOENT : lookup(r->s, name);
    if (idx < 0)
        return fail(r, STK_E_NOT_FOUND, "unknown ticker");
    struct stk_quote q;
    int rr = stk_server_read(r->s, (uint32_t)idx, &q);
    if (rr == -EFAULT) {
        stk_segwatch_check(r->s, false);
        return fail(r, STK_E_UNAVAILABLE, "segment lost: the file shrank under the server");
    }
    if (rr == -ENODATA)
        return fail(r, STK_E_NOT_FOUND, "no quote yet for this ticker");
    if (rr < 0)
        return fail(r, STK_E_UNAVAILABLE, "record busy: the writer did not finish it");
    head(r);
    stk_buf_putc(r->b, ',');
    quote_fields(r->b, r->s, (uint32_t)idx, name, &q, stk_server_now(r->s));
    tail(r);
    return 0;
}

/* The required `ticker` field, into name. Returns 0, -ENOENT for a string
 * that is no valid symbol (the caller answers NOT_FOUND), or -1 after a
 * BAD_REQUEST reply. */
static int required_ticker(struct req *r, char name[STK_NAME_MAX + 1])
{
    int t = r->f[F_TICKER];
    if (t < 0)
        return fail(r, STK_E_BAD_REQUEST, "Missing required field: ticker");
    int k = ticker_of(r, t, name);
    if (k == -EINVAL)
        return fail(r, STK_E_BAD_REQUEST, "ticker must be a string");
    return k;
}

static int op_get_quote(struct req *r)
{
    char name[STK_NAME_MAX + 1];
    int k = required_ticker(r, name);
    if (k == -1)
        return -1;
    return get_quote_named(r, name, k);
}

/* tickers: a non-empty array of strings (or "*" where allowed). Returns
 * the array token, -2 for "*", or -1 after replying. */
static int tickers_arg(struct req *r, bool star_ok)
{
    int t = r->f[F_TICKERS];
    if (t < 0)
        return fail(r, STK_E_BAD_REQUEST, "Missing required field: tickers");
    if (star_ok && stk_json_is_string(&r->j, t)) {
        char tmp[4];
        if (stk_json_str(&r->j, t, tmp, sizeof(tmp)) == 1 && tmp[0] == '*')
            return -2;
    }
    if (!stk_json_is_array(&r->j, t))
        return fail(r, STK_E_BAD_REQUEST,
                    star_ok ? "tickers must be an array of strings or \"*\""
                            : "tickers must be an array of strings");
    int e = t + 1;
    for (int i = 0; i < r->j.tok[t].size; i++, e++)
        if (!stk_json_is_string(&r->j, e))
            return fail(r, STK_E_BAD_REQUEST, "tickers must be an array of strings");
    return t;
}

static int op_get_quotes(struct req *r)
{
    int t = tickers_arg(r, false);
    if (t < 0)
        return -1;
    if (need_seg(r) < 0)
        return -1;
    uint64_t now = stk_server_now(r->s);
    head(r);
    STK_BUF_LIT(r->b, ",\"quotes\":[");
    for (int i = 0; i < r->j.tok[t].size; i++) {
        char name[STK_NAME_MAX + 1];
        struct stk_quote q;
        int e = t + 1 + i;
        if (i)
            stk_buf_putc(r->b, ',');
        int idx = ticker_of(r, e, name) < 0 ? -ENOENT : lookup(r->s, name);
        int rr = idx < 0 ? -ENOENT : stk_server_read(r->s, (uint32_t)idx, &q);
        if (rr == 0) {
            stk_buf_putc(r->b, '{');
            quote_fields(r->b, r->s, (uint32_t)idx, name, &q, now);
            stk_buf_putc(r->b, '}');
            continue;
        }
        size_t n;
        const char *raw = stk_json_raw(&r->j, e, &n);
        STK_BUF_LIT(r->b, "{\"ticker\":");
        stk_buf_put(r->b, raw, n);
        stk_buf_puts(r->b, rr == -EBUSY || rr == -EFAULT ? ",\"error\":\"UNAVAILABLE\"}"
                                                         : ",\"error\":\"NOT_FOUND\"}");
    }
    stk_buf_putc(r->b, ']');
    tail(r);
    return 0;
}

static int op_get_snapshot_epoch(struct req *r)
{
    if (need_seg(r) < 0)
        return -1;
    const struct stk_header *h = stk_seg_header(r->s->seg);
    head(r);
    STK_BUF_LIT(r->b, ",\"epoch\":");
    stk_buf_u64(r->b, stk_seg_epoch(r->s->seg));
    STK_BUF_LIT(r->b, ",\"last_update_ms\":");
    stk_buf_u64(r->b, atomic_load_explicit(&h->last_update_ns, memory_order_relaxed) / 1000000u);
    tail(r);
    return 0;
}

static int op_get_history(struct req *r)
{
    char name[STK_NAME_MAX + 1];
    int k = required_ticker(r, name);
    if (k == -1 || need_seg(r) < 0)
        return -1;
    uint32_t hist = stk_seg_header(r->s->seg)->history;
    int64_t limit = hist;
    int lt = r->f[F_LIMIT];
    if (lt >= 0 && (stk_json_int(&r->j, lt, &limit) < 0 || limit < 0 || limit > (int64_t)hist)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "limit must be an integer from 0 to %u (shm.history)", hist);
        return fail(r, STK_E_BAD_REQUEST, msg);
    }
    int idx = k < 0 ? -ENOENT : lookup(r->s, name);
    if (idx < 0)
        return fail(r, STK_E_NOT_FOUND, "unknown ticker");
    struct stk_quote *ticks = limit ? malloc(sizeof(*ticks) * (size_t)limit) : NULL;
    if (limit && !ticks)
        return fail(r, STK_E_INTERNAL, "out of memory");
    int n = stk_history_read(r->s->seg, (uint32_t)idx, ticks, (size_t)limit);
    if (stk_seg_usable(r->s->seg) != 0) {
        free(ticks);
        stk_segwatch_check(r->s, false);
        return fail(r, STK_E_UNAVAILABLE, "segment lost or retired during the read");
    }
    head(r);
    STK_BUF_LIT(r->b, ",\"ticker\":");
    stk_buf_json_str(r->b, name, strlen(name));
    STK_BUF_LIT(r->b, ",\"ticks\":[");
    for (int i = 0; ticks && i < n; i++) {
        const struct stk_quote *q = &ticks[i];
        stk_buf_puts(r->b, i ? ",{\"seq\":" : "{\"seq\":");
        stk_buf_u64(r->b, q->seq);
        STK_BUF_LIT(r->b, ",\"price\":");
        stk_buf_decimal(r->b, q->price);
        STK_BUF_LIT(r->b, ",\"bid\":");
        stk_buf_decimal(r->b, q->bid);
        STK_BUF_LIT(r->b, ",\"ask\":");
        stk_buf_decimal(r->b, q->ask);
        stk_buf_printf(r->b,
                       ",\"bid_size\":%u,\"ask_size\":%u,\"volume\":%llu,\"ts_ms\":%llu,"
                       "\"ts_ns\":%llu}",
                       q->bid_size, q->ask_size, (unsigned long long)q->volume,
                       (unsigned long long)(q->src_ts_ns / 1000000u),
                       (unsigned long long)q->src_ts_ns);
    }
    stk_buf_putc(r->b, ']');
    tail(r);
    free(ticks);
    return 0;
}

static int op_subscribe(struct req *r)
{
    struct stk_server *s = r->s;
    int t = tickers_arg(r, true);
    if (t == -1)
        return -1;
    int64_t throttle = -1;
    int tt = r->f[F_THROTTLE];
    if (tt >= 0 &&
        (stk_json_int(&r->j, tt, &throttle) < 0 || throttle < 0 || throttle > MAX_THROTTLE_MS))
        return fail(r, STK_E_BAD_REQUEST, "throttle_ms must be an integer from 0 to 60000");
    if (need_seg(r) < 0)
        return -1;
    int count = t >= 0 ? r->j.tok[t].size : 0;
    int *idx = count ? malloc(sizeof(int) * (size_t)count) : NULL;
    if (count && !idx)
        return fail(r, STK_E_INTERNAL, "out of memory");
    /* all or nothing: every ticker must exist */
    for (int i = 0; i < count; i++) {
        char name[STK_NAME_MAX + 1];
        idx[i] = ticker_of(r, t + 1 + i, name) < 0 ? -ENOENT : lookup(s, name);
        if (idx[i] < 0) {
            free(idx);
            return fail(r, STK_E_NOT_FOUND, "unknown ticker: nothing subscribed");
        }
    }
    uint32_t n = t >= 0 ? (uint32_t)count : stk_seg_nsymbols(s->seg);
    uint64_t now = stk_server_now(s);
    head(r);
    STK_BUF_LIT(r->b, ",\"tickers\":");
    if (t < 0) {
        STK_BUF_LIT(r->b, "\"*\"");
        if (stk_subs_add_all(r->c) < 0)
            goto oom;
    } else {
        size_t rn;
        const char *raw = stk_json_raw(&r->j, t, &rn);
        stk_buf_put(r->b, raw, rn);
    }
    STK_BUF_LIT(r->b, ",\"quotes\":[");
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t sym = t >= 0 ? (uint32_t)idx[i] : i;
        const char *name = stk_seg_symbol(s->seg, sym);
        struct stk_quote q = {0};
        if (!name)
            continue; /* "*" over an entry that is no valid name: skipped */
        int rr = stk_server_read(s, sym, &q);
        if (stk_subs_add(r->c, name, sym, rr == 0 || rr == -ENODATA ? q.seq : 0) < 0)
            goto oom;
        if (rr < 0)
            continue;
        stk_buf_puts(r->b, first ? "{" : ",{");
        first = false;
        quote_fields(r->b, s, sym, name, &q, now);
        stk_buf_putc(r->b, '}');
    }
    free(idx);
    if (throttle >= 0 && r->c->sub) /* no sub: an empty list subscribed nothing */
        r->c->sub->throttle_ns = (uint64_t)throttle * 1000000u;
    stk_buf_printf(r->b, "],\"subscriptions\":%u", stk_subs_count(r->c));
    tail(r);
    return 0;
oom:
    free(idx);
    r->b->err = -ENOMEM;
    return -1;
}

static int op_unsubscribe(struct req *r)
{
    int t = tickers_arg(r, true);
    if (t == -1)
        return -1;
    uint32_t removed = 0;
    if (t < 0) {
        removed = stk_subs_count(r->c);
        stk_subs_remove_all(r->c);
    } else {
        if (r->c->sub)
            r->c->sub->wildcard = false; /* naming tickers ends a "*" */
        for (int i = 0; i < r->j.tok[t].size; i++) {
            char name[STK_NAME_MAX + 1];
            if (ticker_of(r, t + 1 + i, name) == 0)
                removed += (uint32_t)stk_subs_remove(r->c, name);
        }
        if (r->c->sub && r->c->sub->count == 0)
            stk_subs_remove_all(r->c);
    }
    head(r);
    stk_buf_printf(r->b, ",\"removed\":%u,\"subscriptions\":%u", removed, stk_subs_count(r->c));
    tail(r);
    return 0;
}

#define OP(name, fn)                                                                               \
    {                                                                                              \
        name, sizeof(name) - 1, fn                                                                 \
    }
static const struct {
    const char *name;
    size_t len;
    int (*fn)(struct req *);
} ops[] = {
    OP("get_quote", op_get_quote),
    OP("get_quotes", op_get_quotes),
    OP("ping", op_ping),
    OP("list_tickers", op_list_tickers),
    OP("get_snapshot_epoch", op_get_snapshot_epoch),
    OP("get_history", op_get_history),
    OP("subscribe", op_subscribe),
    OP("unsubscribe", op_unsubscribe),
    OP("health", op_health),
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
    r->opname = "get_quote";
    r->s->st.fast_path++;
    get_quote_named(r, name, stk_sym_check(name, tk_len) < 0 ? -ENOENT : 0);
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
    for (size_t i = 0; tn > 0 && i < sizeof(ops) / sizeof(ops[0]); i++) {
        if ((size_t)tn == ops[i].len && !memcmp(tname, ops[i].name, (size_t)tn)) {
            r->opname = ops[i].name;
            ops[i].fn(r);
            return;
        }
    }
    fail(r, STK_E_BAD_REQUEST, "unknown type");
}

void stk_ndjson_request(struct stk_conn *c, const char *line, size_t len)
{
    struct req *r, rq;
    r = &rq;
    r->c = c;
    r->s = c->srv;
    r->b = &c->out;
    r->line = line;
    r->len = len;
    r->id = r->op = "null";
    r->id_len = r->op_len = 4;
    r->opname = NULL;
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

static size_t ndjson_events(struct stk_conn *c, size_t limit)
{
    struct stk_server *s = c->srv;
    if (!s->seg)
        return 0;
    struct stk_buf *b = &c->out;
    uint64_t now = stk_server_now(s);
    size_t n = 0;
    struct stk_sub *sub;
    while (stk_conn_pending(c) < limit && (sub = stk_subs_pop_dirty(c)) != NULL) {
        uint32_t sym = stk_sub_sym(sub);
        struct stk_quote q;
        if (sym == UINT32_MAX || stk_server_read(s, sym, &q) < 0)
            continue; /* gone, never written, or stuck: the next change re-marks it */
        uint64_t sent = stk_sub_sent_seq(sub);
        if (q.seq == sent)
            continue;
        uint64_t conflated = 0;
        if (sent != STK_SEQ_RESYNC && q.seq > sent && (q.seq - sent) / 2 > 1)
            conflated = (q.seq - sent) / 2 - 1;
        size_t mark = b->len;
        STK_BUF_LIT(b, "{\"v\":1,\"type\":\"quote\",\"seq\":");
        stk_buf_u64(b, c->sub->event_seq + 1);
        STK_BUF_LIT(b, ",\"conflated\":");
        stk_buf_u64(b, conflated);
        stk_buf_putc(b, ',');
        quote_fields(b, s, sym, stk_sub_name(sub), &q, now);
        STK_BUF_LIT(b, "}\n");
        if (b->err) {
            b->len = mark;
            b->err = 0;
            stk_subs_unpop(c, sub);
            break;
        }
        c->sub->event_seq++;
        stk_sub_set_sent_seq(sub, q.seq);
        n++;
    }
    if (n) {
        c->sub->last_event_ns = stk_server_mono(s);
        s->st.events += n;
    }
    return n;
}

static void ndjson_heartbeat(struct stk_conn *c)
{
    STK_BUF_LIT(&c->out, "{\"v\":1,\"type\":\"heartbeat\",\"ts_ms\":");
    stk_buf_u64(&c->out, now_ms(c->srv));
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
