/* SPDX-License-Identifier: MIT */
/* scan-private.h — the byte scanners the fast paths share (the server's
 * get_quote requests, the producer's ingest lines): each recognises a
 * narrow, escape-free subset of JSON text and otherwise says no, so the
 * caller falls through to its strict parser. */
#ifndef SEQTICK_SCAN_PRIVATE_H
#define SEQTICK_SCAN_PRIVATE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool stk_scan_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Printable ASCII other than '"' and '\\': a string byte that is its own text. */
static inline bool stk_scan_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Past the spaces (only ' ': tabs and line ends are not the common shape). */
static inline const char *stk_scan_sp(const char *p, const char *e)
{
    while (p < e && *p == ' ')
        p++;
    return p;
}

/* A string of plain bytes at p (at its opening quote): returns the byte
 * after the closing quote, or NULL. */
static inline const char *stk_scan_plain_str(const char *p, const char *e)
{
    if (p >= e || *p != '"')
        return NULL;
    for (p++; p < e; p++) {
        if (*p == '"')
            return p + 1;
        if (!stk_scan_plain((unsigned char)*p))
            return NULL;
    }
    return NULL;
}

/* Past "sp ':' sp" at p (between a key and its value), or NULL. */
static inline const char *stk_scan_colon(const char *p, const char *e)
{
    p = stk_scan_sp(p, e);
    if (p >= e || *p != ':')
        return NULL;
    return stk_scan_sp(p + 1, e);
}

/* s[0..n) all decimal digits, as an unsigned value <= max, into *ret.
 * Returns 0, -EINVAL (empty, or a byte that is not a digit) or -ERANGE. */
static inline int stk_scan_u64(const char *s, size_t n, uint64_t max, uint64_t *ret)
{
    if (n == 0)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!stk_scan_digit(s[i]))
            return -EINVAL;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (max - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

#endif
