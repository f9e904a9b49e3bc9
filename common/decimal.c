/* SPDX-License-Identifier: MIT */
/* decimal.c — exact conversion between decimal text and fixed point × 10^8.
 * No floating point anywhere: "189.25" is 18925000000, never 18924999999. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "seqtick.h"

#define MAX_DIGITS 19 /* an int64 magnitude has at most 19 digits */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int stk_decimal_parse(const char *s, size_t len, int64_t *ret)
{
    const char *p = s, *end = s + len;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p == end || !is_digit(*p))
        return -EINVAL;
    /* JSON number grammar: no leading zeros ("01"), digits both sides of '.' */
    if (*p == '0' && p + 1 < end && is_digit(p[1]))
        return -EINVAL;

    /* Significant digits (leading zeros dropped) and the power of ten that
     * scales them: value = digits × 10^pow10. */
    char digits[MAX_DIGITS + 1];
    int ndigits = 0;
    long pow10 = 0;
    bool overflow = false;
    for (; p < end && is_digit(*p); p++) {
        if (ndigits == 0 && *p == '0')
            continue;
        if (ndigits < MAX_DIGITS + 1)
            digits[ndigits++] = *p;
        else if (*p == '0')
            pow10++; /* a zero past what fits: keep only the magnitude */
        else
            overflow = true;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return -EINVAL;
        for (; p < end && is_digit(*p); p++) {
            pow10--;
            if (ndigits == 0 && *p == '0')
                continue;
            if (ndigits < MAX_DIGITS + 1)
                digits[ndigits++] = *p;
            else if (*p != '0')
                return -ERANGE; /* a nonzero digit this far right is below 10^-8 */
            else
                pow10++; /* a trailing zero: drop it */
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !is_digit(*p))
            return -EINVAL;
        long e = 0;
        for (; p < end && is_digit(*p); p++)
            if (e < 100000)
                e = e * 10 + (*p - '0');
        pow10 += eneg ? -e : e;
    }
    if (p != end)
        return -EINVAL;
    if (ndigits == 0) {
        *ret = 0;
        return 0;
    }
    /* Trailing zeros of the significand only move the power of ten. */
    while (ndigits > 0 && digits[ndigits - 1] == '0') {
        ndigits--;
        pow10++;
    }
    long shift = pow10 + (long)STK_PRICE_DECIMALS; /* value × 10^8 = digits × 10^shift */
    if (shift < 0)
        return -ERANGE; /* more than 8 decimals */
    if (overflow || ndigits + shift > MAX_DIGITS)
        return -ERANGE;
    uint64_t m = 0;
    for (int i = 0; i < ndigits; i++)
        m = m * 10 + (uint64_t)(digits[i] - '0');
    for (long i = 0; i < shift; i++) {
        if (m > UINT64_MAX / 10)
            return -ERANGE;
        m *= 10;
    }
    if (m > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return -ERANGE;
    *ret = neg ? (int64_t)(0 - m) : (int64_t)m;
    return 0;
}

int stk_decimal_format(int64_t v, char *buf, size_t size)
{
    char tmp[STK_DECIMAL_MAX];
    char *p = tmp + sizeof(tmp);
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = m / (uint64_t)STK_PRICE_SCALE;
    uint64_t fp = m % (uint64_t)STK_PRICE_SCALE;
    *--p = '\0';
    if (fp) {
        int width = STK_PRICE_DECIMALS;
        while (fp % 10 == 0) {
            fp /= 10;
            width--;
        }
        while (width-- > 0) {
            *--p = (char)('0' + fp % 10);
            fp /= 10;
        }
        *--p = '.';
    }
    do {
        *--p = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    if (n > size)
        return -ENOBUFS;
    memcpy(buf, p, n);
    return (int)n - 1;
}
