/* SPDX-License-Identifier: MIT */
/* render.c — the JSON every face shares: a quote's fields (exact decimal
 * prices, age and the stale flag, a per-symbol cache of the text that does
 * not depend on the time), a history tick, the health fields. Faces wrap
 * them in their own envelopes. */
#include <stdio.h>
#include <string.h>

#include "json-private.h"
#include "segment-private.h"
#include "server.h"

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
void stk_render_quote(struct stk_buf *b, struct stk_server *s, uint32_t sym, const char *name,
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

void stk_render_tick(struct stk_buf *b, const struct stk_quote *q)
{
    STK_BUF_LIT(b, "{\"seq\":");
    stk_buf_u64(b, q->seq);
    STK_BUF_LIT(b, ",\"price\":");
    stk_buf_decimal(b, q->price);
    STK_BUF_LIT(b, ",\"bid\":");
    stk_buf_decimal(b, q->bid);
    STK_BUF_LIT(b, ",\"ask\":");
    stk_buf_decimal(b, q->ask);
    stk_buf_printf(b,
                   ",\"bid_size\":%u,\"ask_size\":%u,\"volume\":%llu,\"ts_ms\":%llu,"
                   "\"ts_ns\":%llu}",
                   q->bid_size, q->ask_size, (unsigned long long)q->volume,
                   (unsigned long long)(q->src_ts_ns / 1000000u), (unsigned long long)q->src_ts_ns);
}

void stk_render_health(struct stk_buf *b, struct stk_server *s)
{
    uint64_t age;
    bool alive = stk_producer_alive(s, &age);
    stk_buf_puts(b, alive ? ",\"producer_alive\":true" : ",\"producer_alive\":false");
    STK_BUF_LIT(b, ",\"heartbeat_age_ms\":");
    if (age == UINT64_MAX)
        STK_BUF_LIT(b, "null");
    else
        stk_buf_u64(b, age / 1000000u);
    STK_BUF_LIT(b, ",\"generation\":");
    if (s->seg)
        stk_buf_u64(b, atomic_load(&stk_seg_header(s->seg)->generation));
    else
        STK_BUF_LIT(b, "null");
    stk_buf_printf(b,
                   ",\"nsymbols\":%u,\"connections\":%zu,\"uptime_s\":%llu,\"segment\":%s,"
                   "\"subscribers\":%zu,\"requests\":%llu,\"errors\":%llu,\"slow_consumers\":%llu",
                   s->seg ? stk_seg_nsymbols(s->seg) : 0u, s->nconns,
                   (unsigned long long)((stk_mono_ns() - s->start_ns) / 1000000000u),
                   s->seg ? "true" : "false", s->nsubscribed, (unsigned long long)s->st.requests,
                   (unsigned long long)s->st.errors, (unsigned long long)s->st.slow_consumers);
    uint64_t gap_rows, gap_ticks;
    if (stk_bars_gaps(s, &gap_rows, &gap_ticks) == 0)
        stk_buf_printf(b, ",\"recorder_gaps\":%llu,\"recorder_lost_ticks\":%llu",
                       (unsigned long long)gap_rows, (unsigned long long)gap_ticks);
}
