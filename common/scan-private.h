/* SPDX-License-Identifier: MIT */
/* scan-private.h — the byte scanners the fast paths share (the server's
 * get_quote requests, the producer's ingest lines): each recognises a
 * narrow, escape-free subset of JSON text and otherwise says no, so the
 * caller falls through to its strict parser. */
#ifndef SEQTICK_SCAN_PRIVATE_H
#define SEQTICK_SCAN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
