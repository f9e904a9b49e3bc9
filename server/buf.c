/* SPDX-License-Identifier: MIT */
/* buf.c — growable byte buffer and JSON value emitters for replies. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "json-private.h"
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

int stk_buf_u64(struct stk_buf *b, uint64_t v)
{
    if (b->cap - b->len < 20 && stk_buf_grow(b, 20) < 0)
        return b->err;
    b->len = (size_t)(stk_json_u64(b->data + b->len, v) - b->data);
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
    /* worst case every byte becomes \u00XX */
    if (stk_buf_grow(b, n * STK_JSON_ESC_MAX + 2) < 0)
        return -ENOMEM;
    b->data[b->len++] = '"';
    b->len += stk_json_escape(b->data + b->len, n * STK_JSON_ESC_MAX, s, n, NULL);
    b->data[b->len++] = '"';
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
