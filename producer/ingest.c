/* SPDX-License-Identifier: MIT */
/* ingest.c — the JSON-line protocol of `exec:` and `stdin` feeds: a strict
 * parser (common/json.c's validator) with a one-pass fast path for the common line shape, a
 * bounded line splitter, and the per-line path into the segment with
 * bad-line counting and a rate-limited log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json-private.h"
#include "log-private.h"
#include "producer.h"
#include "segment-private.h"

/* An ingest object has 8 known keys; room for some unknown ones too. */
#define TOKENS_MAX 64

static bool tok_eq(const char *js, const jsmntok_t *t, const char *s, size_t n)
{
    return (size_t)(t->end - t->start) == n && memcmp(js + t->start, s, n) == 0;
}

/* A JSON number or a JSON string holding one, as an exact decimal. */
static int tok_decimal(const char *js, const jsmntok_t *t, int64_t *v)
{
    if (t->type != JSMN_STRING && t->type != JSMN_PRIMITIVE)
        return -EINVAL;
    if (t->type == JSMN_PRIMITIVE &&
        (js[t->start] == 't' || js[t->start] == 'f' || js[t->start] == 'n'))
        return -EINVAL;
    return stk_decimal_parse(js + t->start, (size_t)(t->end - t->start), v);
}

/* A JSON number that is a non-negative integer ≤ max ("12", not "12.0"). */
static int tok_uint(const char *js, const jsmntok_t *t, uint64_t max, uint64_t *v)
{
    if (t->type != JSMN_PRIMITIVE)
        return -EINVAL;
    const char *s = js + t->start;
    size_t n = (size_t)(t->end - t->start);
    if (n > 1 && s[0] == '0')
        return -EINVAL;
    return stk_scan_u64(s, n, max, v);
}

/* Index just past the value starting at token i (skipping nested tokens). */
static int skip_value(const jsmntok_t *tok, int ntok, int i)
{
    int end = tok[i].end, j = i + 1;
    while (j < ntok && tok[j].start < end)
        j++;
    return j;
}

/* ---- fast path ------------------------------------------------------------
 *
 * Nearly every line an ingestor prints has one shape: a flat object of the
 * known fields, as json.dumps or printf writes it. stk_ingest_parse_fast()
 * recognises exactly this and nothing else:
 *
 *   line   = the flat object of json-private.h (stk_flat_*), at most
 *            FAST_PAIRS_MAX pairs, only spaces between tokens
 *   symbol : '"' 1*31 (0x21..0x7e except '"' and '\') '"'
 *   price, bid, ask : '"' *plain '"' or an RFC 8259 number, either way text
 *                     stk_decimal_parse() takes (returns 0 for)
 *   bid_size, ask_size : 0 | [1-9][0-9]* up to UINT32_MAX
 *   volume, ts_ns, seq, gen : 0 | [1-9][0-9]* up to UINT64_MAX
 *   any other key : '"' *plain '"', an RFC 8259 number, true, false or null
 *   each known key at most once; symbol and price present; the whole line
 *   at most STK_INGEST_LINE_MAX bytes
 *
 * Why that is safe: every byte is printable ASCII, so the line is valid
 * UTF-8 with no NUL; the grammar is a subset of RFC 8259 (json-private.h's
 * flat object, no escapes, no nesting), so the strict validator holds; at
 * most 1 + 2 × 16 tokens, well inside TOKENS_MAX; every scalar is followed by ' ', ',' or '}',
 * where a jsmn primitive ends too, so each value covers the same bytes as its jsmn token; keys are
 * compared byte for byte as tok_eq() does; string values have no escapes, so their raw text (what
 * the strict path converts) is their text; a decimal in the usual form (-12.345) is converted
 * inline to the value stk_decimal_parse() gives, any other goes through stk_decimal_parse() itself,
 * on the same bytes as the strict path; integers follow tok_uint()'s rule (no sign, no leading
 * zero, no fraction, in range). So whatever it accepts the strict path accepts with the same *t. It
 * never rejects: any other line, good or bad, takes the strict path, which alone names errors.
 * tests/producer/test_ingest_fast.c checks both paths agree (differential,
 * with seeded mutants). */

bool stk_ingest_fast_path = true;

#define FAST_PAIRS_MAX 16
#define FAST_SYMBOL 0x100u /* beside the STK_ING_* bits */
#define FAST_PRICE 0x200u

/* The usual form of a decimal, -?(0|[1-9][0-9]{0,9})(\.[0-9]{1,8})?, ×
 * 10^8 into *v (at most 9999999999.99999999: no overflow); other forms
 * (exponents, more digits, junk) go to stk_decimal_parse. Returns 0 or its
 * error. */
static inline int decimal(const char *s, size_t n, int64_t *v)
{
    static const int64_t scale[9] = {100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
    const char *p = s, *e = s + n;
    bool neg = p < e && *p == '-';
    p += neg;
    const char *ip = p;
    int64_t x = 0, f = 0;
    while (p < e && stk_scan_digit(*p) && p - ip < 11)
        x = x * 10 + (*p++ - '0');
    size_t ni = (size_t)(p - ip), nf = 0;
    if (ni == 0 || ni > 10 || (*ip == '0' && ni > 1))
        return stk_decimal_parse(s, n, v);
    if (p < e && *p == '.') {
        const char *fp = ++p;
        while (p < e && stk_scan_digit(*p) && p - fp < 9)
            f = f * 10 + (*p++ - '0');
        nf = (size_t)(p - fp);
        if (nf == 0 || nf > 8)
            return stk_decimal_parse(s, n, v);
    }
    if (p != e)
        return stk_decimal_parse(s, n, v);
    x = x * STK_PRICE_SCALE + f * scale[nf];
    *v = neg ? -x : x;
    return 0;
}

/* A decimal value at p, a string or a number, into *v: the byte after it,
 * or NULL (*v may be set then: the caller drops its copy). */
static inline const char *decimal_value(const char *p, const char *e, int64_t *v)
{
    if (p < e && *p == '"') {
        const char *end = stk_scan_plain_str(p, e);
        if (!end || decimal(p + 1, (size_t)(end - p) - 2, v) != 0)
            return NULL;
        return end;
    }
    const char *end = stk_json_number_end(p, e);
    if (!end || decimal(p, (size_t)(end - p), v) != 0)
        return NULL;
    return end;
}

/* An unsigned integer 0 | [1-9][0-9]* ≤ max (at most UINT64_MAX) at p
 * into *v: the byte after it, or NULL. Nineteen digits cannot overflow 64
 * bits, so only a twentieth is checked. */
static inline const char *uint_value(const char *p, const char *e, uint64_t max, uint64_t *v)
{
    const char *s = p;
    uint64_t x = 0;
    while (p < e && stk_scan_digit(*p) && p - s < 19)
        x = x * 10 + (uint64_t)(*p++ - '0');
    if (p < e && stk_scan_digit(*p)) {
        uint64_t d = (uint64_t)(*p++ - '0');
        if (x > (UINT64_MAX - d) / 10 || (p < e && stk_scan_digit(*p)))
            return NULL;
        x = x * 10 + d;
    }
    if (p == s || x > max || (*s == '0' && p - s > 1))
        return NULL;
    *v = x;
    return p;
}

/* The bit of a known key (k[0..n), its text between the quotes), or 0. */
static inline unsigned key_bit(const char *k, size_t n)
{
    switch (n) {
    case 3:
        return !memcmp(k, "bid", 3)   ? STK_ING_BID
               : !memcmp(k, "ask", 3) ? STK_ING_ASK
               : !memcmp(k, "seq", 3) ? STK_ING_SEQ
               : !memcmp(k, "gen", 3) ? STK_ING_GEN
                                      : 0;
    case 5:
        return !memcmp(k, "price", 5) ? FAST_PRICE : !memcmp(k, "ts_ns", 5) ? STK_ING_TS : 0;
    case 6:
        return !memcmp(k, "symbol", 6) ? FAST_SYMBOL : !memcmp(k, "volume", 6) ? STK_ING_VOLUME : 0;
    case 8:
        return !memcmp(k, "bid_size", 8)   ? STK_ING_BID_SIZE
               : !memcmp(k, "ask_size", 8) ? STK_ING_ASK_SIZE
                                           : 0;
    default:
        return 0;
    }
}

bool stk_ingest_parse_fast(const char *line, size_t len, struct stk_ingest_tick *t)
{
    const char *p = line, *e = line + len;
    struct stk_ingest_tick out;
    unsigned seen = 0;
    if (len > STK_INGEST_LINE_MAX || !(p = stk_flat_open(p, e)))
        return false;
    memset(&out, 0, sizeof(out));
    for (int pairs = 0;; pairs++) {
        if (pairs == FAST_PAIRS_MAX)
            return false;
        const char *k;
        size_t kn;
        if (!(p = stk_flat_key(p, e, &k, &kn)))
            return false;
        unsigned bit = key_bit(k, kn);
        const char *v = p;
        if (bit & (STK_ING_SEQ | STK_ING_GEN)) {
            /* the first one that is one u64 is kept; others as unknown keys */
            uint64_t x = 0;
            const char *q = (seen & bit) ? NULL : uint_value(p, e, UINT64_MAX, &x);
            if (q && (q == e || *q == ' ' || *q == ',' || *q == '}')) {
                seen |= bit;
                *(bit == STK_ING_SEQ ? &out.seq : &out.gen) = x;
            }
            bit = 0; /* the value is skipped as any scalar below */
        }
        if (seen & bit)
            return false; /* a duplicate known key: the strict path refuses it */
        seen |= bit;
        uint64_t u = 0;
        switch (bit) {
        case FAST_SYMBOL: {
            p = stk_scan_plain_str(p, e);
            if (!p)
                return false;
            size_t n = (size_t)(p - v) - 2;
            if (n == 0 || n > STK_NAME_MAX || memchr(v + 1, ' ', n))
                return false;
            memcpy(out.symbol, v + 1, n);
            break;
        }
        case FAST_PRICE:
            p = decimal_value(p, e, &out.q.price);
            break;
        case STK_ING_BID:
            p = decimal_value(p, e, &out.q.bid);
            break;
        case STK_ING_ASK:
            p = decimal_value(p, e, &out.q.ask);
            break;
        case STK_ING_BID_SIZE:
        case STK_ING_ASK_SIZE:
            p = uint_value(p, e, UINT32_MAX, &u);
            if (bit == STK_ING_BID_SIZE)
                out.q.bid_size = (uint32_t)u;
            else
                out.q.ask_size = (uint32_t)u;
            break;
        case STK_ING_VOLUME:
            p = uint_value(p, e, UINT64_MAX, &out.q.volume);
            break;
        case STK_ING_TS:
            p = uint_value(p, e, UINT64_MAX, &out.q.src_ts_ns);
            break;
        default:
            p = stk_flat_scalar(p, e);
            break;
        }
        if (!p)
            return false;
        int more = stk_flat_next(&p, e);
        if (more == STK_FLAT_END)
            break;
        if (more == STK_FLAT_NO)
            return false;
    }
    if (!(seen & FAST_SYMBOL) || !(seen & FAST_PRICE))
        return false;
    out.has = seen & ~(FAST_SYMBOL | FAST_PRICE);
    *t = out;
    return true;
}

#define FAIL(code, msg)                                                                            \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return (code);                                                                             \
    } while (0)

int stk_ingest_parse_line(const char *line, size_t len, struct stk_ingest_tick *t, const char **why)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len > STK_INGEST_LINE_MAX)
        FAIL(-EINVAL, "line too long");
    if (stk_ingest_fast_path && stk_ingest_parse_fast(line, len, t))
        return 0;

    /* RFC 8259 with the module's limits (which also refuse bad UTF-8 and
     * NUL bytes); an unknown key may repeat (only the known ones are
     * refused twice, below) */
    struct stk_json j;
    const char *err;
    int pr = stk_json_parse_flags(&j, line, len, STK_JSON_DUP_KEYS, &err);
    int ntok = j.ntok;
    /* at most TOKENS_MAX < STK_JSON_SMALL_TOKENS are used below: those live
     * in j.small, which freeing leaves alone */
    stk_json_free(&j);
    if (pr == -ENOMEM)
        FAIL(-ENOMEM, "out of memory");
    if (pr < 0) {
        /* the reason, in the order the protocol names them */
        if (!stk_utf8_valid(line, len))
            FAIL(-EINVAL, "invalid UTF-8");
        if (memchr(line, '\0', len))
            FAIL(-EINVAL, "NUL byte in line");
        FAIL(-EINVAL, "not valid JSON");
    }
    if (ntok > TOKENS_MAX)
        FAIL(-EINVAL, "too many JSON tokens");
    const jsmntok_t *tok = j.tok;
    if (tok[0].type != JSMN_OBJECT)
        FAIL(-EINVAL, "not a JSON object");
    /* exactly one value on the line: only whitespace after the object */
    for (size_t k = (size_t)tok[0].end; k < len; k++)
        if (line[k] != ' ' && line[k] != '\t')
            FAIL(-EINVAL, "data after the JSON object");

    struct stk_ingest_tick out;
    memset(&out, 0, sizeof(out));
    bool have_symbol = false, have_price = false;
    int npairs = tok[0].size;
    int i = 1;
    for (int pair = 0; pair < npairs; pair++) {
        if (i + 1 >= ntok || tok[i].type != JSMN_STRING)
            FAIL(-EINVAL, "not valid JSON");
        const jsmntok_t *k = &tok[i], *v = &tok[i + 1];
        unsigned bit = 0;
        uint64_t u;
        int r;
        if (tok_eq(line, k, "symbol", 6)) {
            if (have_symbol)
                FAIL(-EINVAL, "duplicate key \"symbol\"");
            if (v->type != JSMN_STRING)
                FAIL(-EINVAL, "symbol is not a string");
            size_t n = (size_t)(v->end - v->start);
            if (n > STK_NAME_MAX)
                FAIL(-EINVAL, "symbol longer than 31 bytes");
            if (stk_sym_check(line + v->start, n) < 0 || memchr(line + v->start, '\\', n))
                FAIL(-EINVAL, "bad symbol (1..31 printable ASCII, no spaces or escapes)");
            memcpy(out.symbol, line + v->start, n);
            have_symbol = true;
        } else if (tok_eq(line, k, "price", 5)) {
            if (have_price)
                FAIL(-EINVAL, "duplicate key \"price\"");
            r = tok_decimal(line, v, &out.q.price);
            if (r == -ERANGE)
                FAIL(-ERANGE, "price out of range or more than 8 decimals");
            if (r < 0)
                FAIL(-EINVAL, "price is not a decimal number");
            have_price = true;
        } else if (tok_eq(line, k, "bid", 3) || tok_eq(line, k, "ask", 3)) {
            bool is_bid = line[k->start] == 'b';
            bit = is_bid ? STK_ING_BID : STK_ING_ASK;
            if (out.has & bit)
                FAIL(-EINVAL, "duplicate key \"bid\"/\"ask\"");
            r = tok_decimal(line, v, is_bid ? &out.q.bid : &out.q.ask);
            if (r == -ERANGE)
                FAIL(-ERANGE, "bid/ask out of range or more than 8 decimals");
            if (r < 0)
                FAIL(-EINVAL, "bid/ask is not a decimal number");
        } else if (tok_eq(line, k, "bid_size", 8) || tok_eq(line, k, "ask_size", 8)) {
            bool is_bid = line[k->start] == 'b';
            bit = is_bid ? STK_ING_BID_SIZE : STK_ING_ASK_SIZE;
            if (out.has & bit)
                FAIL(-EINVAL, "duplicate key \"bid_size\"/\"ask_size\"");
            r = tok_uint(line, v, UINT32_MAX, &u);
            if (r < 0)
                FAIL(r, "bid_size/ask_size is not an integer 0..4294967295");
            if (is_bid)
                out.q.bid_size = (uint32_t)u;
            else
                out.q.ask_size = (uint32_t)u;
        } else if (tok_eq(line, k, "volume", 6)) {
            bit = STK_ING_VOLUME;
            if (out.has & bit)
                FAIL(-EINVAL, "duplicate key \"volume\"");
            if (tok_uint(line, v, UINT64_MAX, &out.q.volume) < 0)
                FAIL(-EINVAL, "volume is not an unsigned 64-bit integer");
        } else if (tok_eq(line, k, "ts_ns", 5)) {
            bit = STK_ING_TS;
            if (out.has & bit)
                FAIL(-EINVAL, "duplicate key \"ts_ns\"");
            if (tok_uint(line, v, UINT64_MAX, &out.q.src_ts_ns) < 0)
                FAIL(-EINVAL, "ts_ns is not an unsigned 64-bit integer");
        } else if (tok_eq(line, k, "seq", 3) || tok_eq(line, k, "gen", 3)) {
            /* the first that is one u64 is kept; otherwise like an unknown key */
            bool is_seq = line[k->start] == 's';
            unsigned b = is_seq ? STK_ING_SEQ : STK_ING_GEN;
            uint64_t x;
            if (!(out.has & b) && tok_uint(line, v, UINT64_MAX, &x) == 0) {
                *(is_seq ? &out.seq : &out.gen) = x;
                bit = b;
            }
        }
        out.has |= bit;
        /* unknown keys are ignored, whatever their value */
        i = skip_value(tok, ntok, i + 1);
    }
    if (!have_symbol)
        FAIL(-EINVAL, "missing \"symbol\"");
    if (!have_price)
        FAIL(-EINVAL, "missing \"price\"");
    *t = out;
    return 0;
}

/* ---- line splitting ------------------------------------------------------ */

int stk_linebuf_init(struct stk_linebuf *lb)
{
    lb->cap = STK_INGEST_LINE_MAX + 1;
    lb->len = 0;
    lb->discarding = false;
    lb->buf = malloc(lb->cap);
    return lb->buf ? 0 : -ENOMEM;
}

void stk_linebuf_free(struct stk_linebuf *lb)
{
    free(lb->buf);
    lb->buf = NULL;
}

/* Split what lb holds; keep the partial tail. */
static void split(struct stk_linebuf *lb, stk_line_fn fn, void *ctx)
{
    char *p = lb->buf, *end = lb->buf + lb->len;
    for (;;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (lb->discarding)
            lb->discarding = false; /* the end of an over-long line */
        else
            fn(ctx, p, (size_t)(nl - p));
        p = nl + 1;
    }
    size_t rest = (size_t)(end - p);
    if (lb->discarding) {
        rest = 0; /* still inside the over-long line */
    } else if (rest > STK_INGEST_LINE_MAX) {
        fn(ctx, NULL, 0); /* counted once, the rest dropped up to the newline */
        lb->discarding = true;
        rest = 0;
    }
    if (rest && p != lb->buf)
        memmove(lb->buf, p, rest);
    lb->len = rest;
}

void stk_linebuf_feed(struct stk_linebuf *lb, const char *data, size_t n, stk_line_fn fn, void *ctx)
{
    while (n > 0) {
        size_t room = lb->cap - lb->len;
        size_t k = n < room ? n : room;
        memcpy(lb->buf + lb->len, data, k);
        lb->len += k;
        data += k;
        n -= k;
        split(lb, fn, ctx);
    }
}

ssize_t stk_linebuf_read(struct stk_linebuf *lb, int fd, stk_line_fn fn, void *ctx)
{
    ssize_t n;
    do
        n = read(fd, lb->buf + lb->len, lb->cap - lb->len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0) {
        if (lb->len && !lb->discarding)
            fn(ctx, lb->buf, lb->len); /* a last line without its newline */
        lb->len = 0;
        lb->discarding = false;
        return 0;
    }
    lb->len += (size_t)n;
    split(lb, fn, ctx);
    return n;
}

/* ---- one line into the segment ------------------------------------------ */

/* Printable excerpt of a bad line for the log. */
static void excerpt(char *out, size_t size, const char *line, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
        }
    }
    if (len && o + 5 >= size && o + 4 <= size) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < size ? o : size - 1] = '\0';
}

/* At most 10 bad-line records per 10 s; the rest are counted and summarised. */
#define BAD_LOG_BURST 10
#define BAD_LOG_WINDOW_NS 10000000000ull

void stk_ingest_bad(struct stk_ingest_sink *s, const char *line, size_t len, const char *why)
{
    s->bad++;
    struct stk_header *h = stk_seg_header_rw(s->seg);
    atomic_fetch_add_explicit(&h->bad_input, 1, memory_order_relaxed);
    if (s->now_ns >= s->bad_window_ns + BAD_LOG_WINDOW_NS) {
        if (s->bad_suppressed)
            stk_warn("%s: %llu more bad lines not logged", s->origin,
                     (unsigned long long)s->bad_suppressed);
        s->bad_window_ns = s->now_ns;
        s->bad_logged = 0;
        s->bad_suppressed = 0;
    }
    if (s->bad_logged >= BAD_LOG_BURST) {
        s->bad_suppressed++;
        return;
    }
    s->bad_logged++;
    char ex[128];
    excerpt(ex, sizeof(ex), line ? line : "", line ? len : 0);
    stk_warn("%s: bad line skipped (%s): %s", s->origin, why, ex);
}

int stk_ingest_line(struct stk_ingest_sink *s, const char *line, size_t len)
{
    struct stk_ingest_tick t;
    const char *why = NULL;
    if (!line) {
        stk_ingest_bad(s, NULL, 0, "line longer than 65536 bytes");
        return 0;
    }
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
        k++;
    if (k == len)
        return 0; /* blank lines are not data */
    if (stk_ingest_parse_line(line, len, &t, &why) < 0) {
        stk_ingest_bad(s, line, len, why);
        return 0;
    }
    return stk_ingest_tick_in(s, &t, line, len);
}

int stk_ingest_tick_in(struct stk_ingest_sink *s, const struct stk_ingest_tick *tick,
                       const char *line, size_t len)
{
    const struct stk_ingest_tick t = *tick;
    int idx = stk_seg_lookup(s->seg, t.symbol);
    if (idx < 0) {
        idx = stk_sym_add(s->seg, t.symbol);
        if (idx == -ENOSPC) {
            s->dropped++;
            struct stk_header *h = stk_seg_header_rw(s->seg);
            atomic_fetch_add_explicit(&h->symbols_dropped, 1, memory_order_relaxed);
            if (!s->full_logged) {
                s->full_logged = true;
                stk_warn("%s: symbol table full (capacity %u): ticks for new symbols such as "
                         "%s are dropped and counted (raise shm.capacity)",
                         s->origin, stk_seg_header(s->seg)->capacity, t.symbol);
            }
            return 0;
        }
        if (idx < 0) {
            stk_ingest_bad(s, line, len, "symbol rejected by the table");
            return 0;
        }
    }
    /* what the line leaves out: bid/ask = price, volume as before, our clock */
    struct stk_quote q = t.q;
    if (!(t.has & STK_ING_BID))
        q.bid = q.price;
    if (!(t.has & STK_ING_ASK))
        q.ask = q.price;
    if (!(t.has & STK_ING_VOLUME)) {
        struct stk_quote prev;
        q.volume =
            stk_record_load(stk_seg_record(s->seg, (uint32_t)idx), &prev) == 0 ? prev.volume : 0;
    }
    if (!(t.has & STK_ING_TS))
        q.src_ts_ns = s->now_ns;
    q.pub_ts_ns = s->now_ns;
    stk_tick_publish(s->seg, (uint32_t)idx, &q);
    s->good++;
    return 1;
}
