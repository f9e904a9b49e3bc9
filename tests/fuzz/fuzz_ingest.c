/* SPDX-License-Identifier: MIT */
/* fuzz_ingest.c — a differential of the ingest parser's two paths: the
 * one-pass fast path may only accept what the strict path accepts, with the
 * same tick, and the parser gives the same answer with the fast path on or
 * off. The input is one line, then a byte stream cut into lines. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "producer.h"
#include "segment-private.h"

static bool same_tick(const struct stk_ingest_tick *a, const struct stk_ingest_tick *b)
{
    return !strcmp(a->symbol, b->symbol) && a->has == b->has && a->q.price == b->q.price &&
           a->q.bid == b->q.bid && a->q.ask == b->q.ask && a->q.bid_size == b->q.bid_size &&
           a->q.ask_size == b->q.ask_size && a->q.volume == b->q.volume &&
           a->q.src_ts_ns == b->q.src_ts_ns && a->q.seq == b->q.seq &&
           a->q.pub_ts_ns == b->q.pub_ts_ns;
}

static void differential(const char *line, size_t len)
{
    struct stk_ingest_tick strict, fast, both;
    const char *why = NULL, *why2 = NULL;
    memset(&strict, 0, sizeof(strict));
    stk_ingest_fast_path = false;
    int rs = stk_ingest_parse_line(line, len, &strict, &why);
    FUZZ_CHECK(rs == 0 || rs == -EINVAL || rs == -ERANGE, "strict returned %d", rs);
    if (rs == 0) {
        size_t n = strnlen(strict.symbol, sizeof(strict.symbol));
        FUZZ_CHECK(n < sizeof(strict.symbol) && stk_sym_check(strict.symbol, n) == 0,
                   "strict accepted a bad symbol");
    } else {
        FUZZ_CHECK(why && *why, "strict refused without a reason");
    }

    memset(&fast, 0, sizeof(fast));
    if (stk_ingest_parse_fast(line, len, &fast)) {
        FUZZ_CHECK(rs == 0, "fast accepted what strict refuses (%s)", why);
        FUZZ_CHECK(same_tick(&fast, &strict), "fast and strict ticks differ ('%s' / '%s')",
                   fast.symbol, strict.symbol);
    }

    memset(&both, 0, sizeof(both));
    stk_ingest_fast_path = true;
    int rb = stk_ingest_parse_line(line, len, &both, &why2);
    FUZZ_CHECK(rb == rs, "fast path on: %d, off: %d", rb, rs);
    if (rs == 0)
        FUZZ_CHECK(same_tick(&both, &strict), "fast path on and off give different ticks");
}

static void on_line(void *ctx, const char *line, size_t len)
{
    (*(size_t *)ctx)++;
    if (line)
        differential(line, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    differential((const char *)data, size);
    /* the same bytes as a stream in two reads, cut where the input says */
    struct stk_linebuf lb;
    if (stk_linebuf_init(&lb) < 0)
        return 0;
    size_t cut = size ? data[0] % (size + 1) : 0, lines = 0;
    stk_linebuf_feed(&lb, (const char *)data, cut, on_line, &lines);
    stk_linebuf_feed(&lb, (const char *)data + cut, size - cut, on_line, &lines);
    FUZZ_CHECK(lines <= size, "%zu lines from %zu bytes", lines, size);
    stk_linebuf_free(&lb);
    return 0;
}
