/* SPDX-License-Identifier: MIT */
/* buf.c — growable byte buffer and JSON value emitters for replies. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "seqtick.h"

int stk_buf_grow(struct stk_buf *b, size_t more)
{
    size_t need = b->len + more;
    if (need < b->len)
        return b->err = -ENOMEM;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return b->err = -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void stk_buf_free(struct stk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}

void stk_buf_consume(struct stk_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int stk_buf_putc(struct stk_buf *b, char c)
{
    if (b->len == b->cap && stk_buf_grow(b, 1) < 0)
        return -ENOMEM;
    b->data[b->len++] = c;
    return 0;
}

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int stk_buf_u64(struct stk_buf *b, uint64_t v)
{
    char tmp[20], *p = tmp + sizeof(tmp);
    if (b->cap - b->len < sizeof(tmp) && stk_buf_grow(b, sizeof(tmp)) < 0)
        return b->err;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digits2 + (size_t)r * 2, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digits2 + (size_t)v * 2, 2);
    } else {
        *--p = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int stk_buf_i64(struct stk_buf *b, int64_t v)
{
    if (v < 0) {
        if (stk_buf_putc(b, '-') < 0)
            return -ENOMEM;
        return stk_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    }
    return stk_buf_u64(b, (uint64_t)v);
}

int stk_buf_decimal(struct stk_buf *b, int64_t v)
{
    char tmp[STK_DECIMAL_MAX];
    int n = stk_decimal_format(v, tmp, sizeof(tmp));
    if (n < 0)
        return n;
    return stk_buf_put(b, tmp, (size_t)n);
}

int stk_buf_json_str(struct stk_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* worst case every byte becomes \u00XX */
    if (stk_buf_grow(b, n * 6 + 2) < 0)
        return -ENOMEM;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

int stk_buf_printf(struct stk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= b->cap - b->len) {
        if (stk_buf_grow(b, (size_t)n + 1) < 0)
            return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
    return 0;
}
