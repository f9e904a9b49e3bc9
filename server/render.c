/* SPDX-License-Identifier: MIT */
/* render.c — the JSON every face shares: a quote's fields (exact decimal
 * prices, age and the stale flag, a per-symbol cache of the text that does
 * not depend on the time), a history tick, the health fields. Faces wrap
 * them in their own envelopes. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A tick's fields after its number: ,"price":… to the ts_ns value (the
 * same fields as a quote's time-independent text). */
static void tick_fields(struct stk_buf *b, const struct stk_quote *q)
{
    if (stk_buf_grow(b, QTEXT_MAX) < 0)
        return;
    b->len += quote_text(b->data + b->len, q);
}

void stk_render_tick(struct stk_buf *b, const struct stk_quote *q)
{
    STK_BUF_LIT(b, "{\"seq\":");
    stk_buf_u64(b, q->seq);
    tick_fields(b, q);
    stk_buf_putc(b, '}');
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

static void gap_event(struct stk_buf *b, const char *name, uint64_t from, uint64_t to)
{
    STK_BUF_LIT(b, "{\"v\":1,\"type\":\"gap\",\"ticker\":");
    stk_buf_json_str(b, name, strlen(name));
    STK_BUF_LIT(b, ",\"from_tick\":");
    stk_buf_u64(b, from);
    STK_BUF_LIT(b, ",\"to_tick\":");
    stk_buf_u64(b, to);
    STK_BUF_LIT(b, "}\n");
}

/* Tick events are rendered once per ring and shared by every ticks-mode
 * subscriber: a run holds the event lines of ticks [first, first + n) of one
 * symbol back to back, tick first + i starting at off[i]. A subscriber at a
 * place the run covers copies the text instead of formatting it again, so N
 * subscribers cost one rendering and N copies; one elsewhere starts the run
 * afresh (no worse than rendering its own). Loop thread only, like qcache. */
#define TRUN_SLOTS 128
#define TRUN_TICKS 128
#define TRUN_BYTES 32768
/* one tick event line: the envelope, a name escaped, the tick number, the fields */
#define TLINE_MAX (64 + STK_NAME_MAX * STK_JSON_ESC_MAX + 20 + QTEXT_MAX)

struct trun {
    uint32_t sym; /* index + 1; 0: empty */
    uint32_t n;
    uint64_t first;
    uint32_t off[TRUN_TICKS + 1];
    char text[TRUN_BYTES];
};
static struct trun *truns[TRUN_SLOTS];

void stk_render_forget(void)
{
    for (size_t i = 0; i < TRUN_SLOTS; i++)
        if (truns[i])
            truns[i]->sym = 0;
}

/* The tick event line of tick k into out (TLINE_MAX bytes); its length. */
static size_t tick_line(char *out, const char *name, uint64_t k, const struct stk_quote *q)
{
    char *p = out;
    PUT_LIT(p, "{\"v\":1,\"type\":\"tick\",\"ticker\":\"");
    size_t nlen = strlen(name);
    p += stk_json_escape(p, nlen * STK_JSON_ESC_MAX, name, nlen, NULL);
    PUT_LIT(p, "\",\"tick\":");
    p = stk_json_u64(p, k);
    p += quote_text(p, q);
    PUT_LIT(p, "}\n");
    return (size_t)(p - out);
}

/* The run of sym that covers tick cur or ends there (started afresh at cur
 * when it does neither), or NULL without memory. */
static struct trun *trun_at(uint32_t sym, uint64_t cur)
{
    struct trun **slot = &truns[sym % TRUN_SLOTS], *t = *slot;
    if (!t) {
        if (!(t = *slot = malloc(sizeof(*t))))
            return NULL;
        t->sym = 0;
    }
    if (t->sym != sym + 1 || cur < t->first || cur > t->first + t->n) {
        t->sym = sym + 1;
        t->first = cur;
        t->n = 0;
        t->off[0] = 0;
    }
    return t;
}

/* Append tick cur (== t->first + t->n) to the run, dropping its older half
 * when full. */
static void trun_append(struct trun *t, const char *name, uint64_t cur, const struct stk_quote *q)
{
    if (t->n == TRUN_TICKS || t->off[t->n] + TLINE_MAX > TRUN_BYTES) {
        uint32_t d = t->n / 2, cut = t->off[d];
        memmove(t->text, t->text + cut, t->off[t->n] - cut);
        for (uint32_t i = d; i <= t->n; i++)
            t->off[i - d] = t->off[i] - cut;
        t->first += d;
        t->n -= d;
    }
    t->off[t->n + 1] = t->off[t->n] + (uint32_t)tick_line(t->text + t->off[t->n], name, cur, q);
    t->n++;
}

size_t stk_render_ticks(struct stk_conn *c, struct stk_sub *sub, size_t limit, bool *more)
{
    struct stk_server *s = c->srv;
    struct stk_buf *b = &c->out;
    uint32_t sym = stk_sub_sym(sub);
    const char *name = stk_sub_name(sub);
    *more = false;
    if (!s->seg || sym == UINT32_MAX || sym >= stk_seg_nsymbols(s->seg))
        return 0;
    uint64_t hist = stk_seg_history(s->seg);
    uint64_t cur = stk_sub_cursor(sub);
    size_t n = 0;
    for (unsigned budget = STK_TICKS_ROUND;;) {
        uint64_t head = stk_ring_head(s->seg, sym);
        if (head < cur)
            cur = head; /* cannot be (heads only grow): follow the ring */
        if (head - cur > hist) {
            size_t mark = b->len;
            gap_event(b, name, cur, head - hist);
            if (b->err) {
                b->len = mark;
                b->err = 0;
                *more = true;
                break;
            }
            n++;
            cur = head - hist;
        }
        if (cur == head)
            break;
        size_t pend = stk_conn_pending(c);
        if (budget == 0 || pend >= limit) {
            *more = true;
            break;
        }
        struct trun *t = trun_at(sym, cur);
        if (!t) {
            *more = true; /* out of memory: try again next round */
            break;
        }
        if (cur == t->first + t->n) {
            struct stk_quote q;
            int rc = stk_tick_try(s->seg, sym, cur, &q);
            if (rc == -ESTALE) {
                budget--; /* lapped while we looked: the head tells how far */
                continue;
            }
            if (rc < 0)
                break; /* mid-write: never waited for; the next change re-marks it */
            trun_append(t, name, cur, &q);
        }
        /* copy from cur as far as the run goes, the budget allows and the
         * room lasts (the last event may cross the limit, as a rendered
         * one would) */
        uint32_t i = (uint32_t)(cur - t->first), j = i + 1;
        size_t room = limit - pend;
        while (j < t->n && j - i < budget && t->off[j] - t->off[i] < room)
            j++;
        if (stk_buf_put(b, t->text + t->off[i], t->off[j] - t->off[i]) < 0) {
            b->err = 0;
            *more = true;
            break;
        }
        n += j - i;
        budget -= j - i;
        cur += j - i;
    }
    stk_sub_set_cursor(sub, cur);
    return n;
}

size_t stk_render_events(struct stk_conn *c, size_t limit, const struct stk_event_frame *f)
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
        if (stk_sub_ticks(sub)) {
            bool more;
            n += stk_render_ticks(c, sub, limit, &more);
            if (more) {
                stk_subs_requeue(c, sub); /* the rest after the others */
                break;
            }
            continue;
        }
        if (sym == UINT32_MAX || stk_server_read(s, sym, &q) < 0)
            continue; /* gone, never written, or stuck: the next change re-marks it */
        uint64_t sent = stk_sub_sent_seq(sub);
        if (q.seq == sent)
            continue;
        uint64_t conflated = 0;
        if (sent != STK_SEQ_RESYNC && q.seq > sent && (q.seq - sent) / 2 > 1)
            conflated = (q.seq - sent) / 2 - 1;
        size_t mark = b->len;
        f->open(b, c->sub->event_seq + 1, conflated);
        stk_render_quote(b, s, sym, stk_sub_name(sub), &q, now);
        stk_buf_put(b, f->close, f->close_len);
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
