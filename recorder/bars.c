/* SPDX-License-Identifier: MIT */
/* bars.c — recorder.bars / recorder.retention parsing and the OHLC bar
 * accumulator. */
#include "bars.h"

#include <errno.h>
#include <string.h>

#define MAX_DURATION_S (100ull * 366 * 86400)

static bool is_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',';
}

/* s[0..n) as a duration. */
static int duration_n(const char *s, size_t n, uint64_t *ret_s)
{
    if (n == 1 && s[0] == '0') {
        *ret_s = 0;
        return 0;
    }
    if (n < 2)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > MAX_DURATION_S)
            return -EINVAL;
    }
    uint64_t mul;
    switch (s[n - 1]) {
    case 's':
        mul = 1;
        break;
    case 'm':
        mul = 60;
        break;
    case 'h':
        mul = 3600;
        break;
    case 'd':
        mul = 86400;
        break;
    default:
        return -EINVAL;
    }
    if (v == 0 || v * mul > MAX_DURATION_S)
        return -EINVAL;
    *ret_s = v * mul;
    return 0;
}

int stk_rec_duration_parse(const char *s, uint64_t *ret_s)
{
    if (!s)
        return -EINVAL;
    return duration_n(s, strlen(s), ret_s);
}

int stk_rec_bars_parse(const char *s, uint32_t secs[STK_REC_MAX_INTERVALS], unsigned *n)
{
    *n = 0;
    if (!s)
        return 0;
    while (*s) {
        while (is_sep(*s))
            s++;
        if (!*s)
            break;
        size_t len = 0;
        while (s[len] && !is_sep(s[len]))
            len++;
        uint64_t v;
        if (duration_n(s, len, &v) < 0 || v == 0 || v > UINT32_MAX || *n >= STK_REC_MAX_INTERVALS)
            return -EINVAL;
        for (unsigned i = 0; i < *n; i++)
            if (secs[i] == v)
                return -EINVAL;
        secs[(*n)++] = (uint32_t)v;
        s += len;
    }
    return 0;
}

int stk_rec_retention_parse(const char *s, uint64_t *ticks_s, uint64_t *bars_s)
{
    *ticks_s = 0;
    *bars_s = 0;
    bool seen_t = false, seen_b = false;
    if (!s)
        return 0;
    while (*s) {
        while (is_sep(*s))
            s++;
        if (!*s)
            break;
        size_t len = 0;
        while (s[len] && !is_sep(s[len]))
            len++;
        const char *eq = memchr(s, '=', len);
        if (!eq)
            return -EINVAL;
        size_t klen = (size_t)(eq - s);
        uint64_t v;
        if (duration_n(eq + 1, len - klen - 1, &v) < 0)
            return -EINVAL;
        if (klen == 5 && !memcmp(s, "ticks", 5) && !seen_t) {
            *ticks_s = v;
            seen_t = true;
        } else if (klen == 4 && !memcmp(s, "bars", 4) && !seen_b) {
            *bars_s = v;
            seen_b = true;
        } else {
            return -EINVAL;
        }
        s += len;
    }
    return 0;
}

uint64_t stk_bar_dvol(bool have_prev, uint64_t prev, uint64_t cur)
{
    if (!have_prev)
        return 0;
    return cur >= prev ? cur - prev : cur;
}

int stk_bar_add(struct stk_bar_acc *acc, int64_t symbol_id, uint32_t interval_s, uint64_t ts_ns,
                int64_t price, uint64_t dvol, struct stk_rec_bar *closed)
{
    uint64_t span = (uint64_t)interval_s * 1000000000ull;
    uint64_t start = ts_ns - ts_ns % span;
    int ret = 0;
    if (acc->open && start > acc->b.start_ns) {
        *closed = acc->b;
        acc->open = false;
        ret = 1;
    }
    if (!acc->open) {
        acc->b = (struct stk_rec_bar){.symbol_id = symbol_id,
                                      .interval_s = interval_s,
                                      .start_ns = start,
                                      .open = price,
                                      .high = price,
                                      .low = price,
                                      .close = price,
                                      .volume = dvol,
                                      .ticks = 1};
        acc->open = true;
    } else {
        if (price > acc->b.high)
            acc->b.high = price;
        if (price < acc->b.low)
            acc->b.low = price;
        acc->b.close = price;
        acc->b.volume += dvol;
        acc->b.ticks++;
    }
    acc->dirty = true;
    return ret;
}
