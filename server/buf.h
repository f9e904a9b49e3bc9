/* SPDX-License-Identifier: MIT */
/* buf.h — a growable byte buffer and the JSON emitters the server's replies
 * are rendered with (exact decimals, escaped strings). */
#ifndef SEQTICK_SERVER_BUF_H
#define SEQTICK_SERVER_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct stk_buf {
    char *data;
    size_t len; /* bytes held */
    size_t cap; /* bytes allocated */
    int err;    /* sticky: -ENOMEM once an append failed; callers check once */
};

/* Make room for `more` bytes past len. Returns 0 or -ENOMEM (buffer intact,
 * b->err set). */
int stk_buf_grow(struct stk_buf *b, size_t more);

/* Free the storage and reset to empty. */
void stk_buf_free(struct stk_buf *b);

/* Drop the first n bytes (memmove the rest down). */
void stk_buf_consume(struct stk_buf *b, size_t n);

/* Appenders: return 0 or -ENOMEM (on failure the buffer may hold a prefix;
 * callers truncate back to a saved len). */
static inline int stk_buf_put(struct stk_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n && stk_buf_grow(b, n) < 0)
        return b->err;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int stk_buf_puts(struct stk_buf *b, const char *s)
{
    return stk_buf_put(b, s, strlen(s));
}

/* Append a string literal (length known at compile time). */
#define STK_BUF_LIT(b, lit) stk_buf_put((b), (lit), sizeof(lit) - 1)

int stk_buf_putc(struct stk_buf *b, char c);
int stk_buf_u64(struct stk_buf *b, uint64_t v);
int stk_buf_i64(struct stk_buf *b, int64_t v);

/* Fixed-point value × 10^8 as an exact JSON number (189.25, never 189.2499). */
int stk_buf_decimal(struct stk_buf *b, int64_t v);

/* s[0..n) as a JSON string with quotes, escaped by stk_json_escape() (the
 * caller passes valid UTF-8). */
int stk_buf_json_str(struct stk_buf *b, const char *s, size_t n);

/* printf-style append. */
int stk_buf_printf(struct stk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
