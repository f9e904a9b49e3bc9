/* SPDX-License-Identifier: MIT */
/* json-private.h — the one JSON module every program uses: a strict RFC 8259
 * validator over jsmn (with documented limits), UTF-8 and number checks, a
 * string escaper, an unsigned-integer formatter, and the flat-object scanner
 * the fast paths (server get_quote, producer ingest lines) are built on. */
#ifndef SEQTICK_JSON_PRIVATE_H
#define SEQTICK_JSON_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scan-private.h"

/* The validator sits on jsmn (header only; libjsmn-dev). */
#ifndef JSMN_STRICT
#define JSMN_STRICT
#endif
#ifndef JSMN_PARENT_LINKS
#define JSMN_PARENT_LINKS
#endif
#ifndef JSMN_STATIC
#define JSMN_HEADER
#endif
#include <jsmn.h>

/* ---- limits (docs/protocol.md, docs/producer.md) -------------------------
 * The validator accepts exactly RFC 8259 JSON text, except that it refuses
 * nesting deeper than STK_JSON_MAX_DEPTH arrays/objects, duplicate keys in
 * one object (compared after unescaping; STK_JSON_DUP_KEYS allows them) and
 * \u escapes of an unpaired UTF-16 surrogate (text must be Unicode).
 * The callers bound the document size (a request or an ingest line). */
#define STK_JSON_MAX_DEPTH 32     /* deeper than any request or line needs */
#define STK_JSON_SMALL_TOKENS 128 /* tokens parsed without a heap allocation */

/* stk_json_parse_flags() flags */
#define STK_JSON_DUP_KEYS 0x1u /* allow duplicate keys (RFC 8259 permits them) */

/* One parsed document. Tokens index into the caller's bytes, which must stay
 * valid while the document is used. */
struct stk_json {
    const char *src;
    size_t len;
    jsmntok_t *tok;
    int ntok;
    jsmntok_t *heap; /* set when the small array was too small */
    bool escapes;    /* some string has a backslash escape (else raw = text) */
    jsmntok_t small[STK_JSON_SMALL_TOKENS];
};

/* Parse and strictly validate src[0..len) as exactly one JSON value (leading
 * and trailing whitespace allowed), duplicate keys refused. Returns 0, or
 * -EINVAL with *ret_err set to a static message naming the problem, or
 * -ENOMEM. Call stk_json_free() either way. */
int stk_json_parse(struct stk_json *j, const char *src, size_t len, const char **ret_err);

/* stk_json_parse() with STK_JSON_* flags. */
int stk_json_parse_flags(struct stk_json *j, const char *src, size_t len, unsigned flags,
                         const char **ret_err);

/* Release what stk_json_parse() allocated. */
void stk_json_free(struct stk_json *j);

/* Index of the token after token t and all its descendants. */
int stk_json_skip(const struct stk_json *j, int t);

/* Value token of key `key` (ASCII, no escapes needed) in object token obj,
 * or -1 if absent or obj is not an object. */
int stk_json_get(const struct stk_json *j, int obj, const char *key);

/* True if token t is a string / an object / an array / a scalar. */
bool stk_json_is_string(const struct stk_json *j, int t);
bool stk_json_is_object(const struct stk_json *j, int t);
bool stk_json_is_array(const struct stk_json *j, int t);
bool stk_json_is_scalar(const struct stk_json *j, int t);

/* The token's source text: for strings including the quotes, so it can be
 * echoed as JSON as-is. */
const char *stk_json_raw(const struct stk_json *j, int t, size_t *ret_len);

/* Decode string token t (escapes resolved, UTF-8 out) into buf[0..size).
 * Returns the length (no NUL added beyond it if it fits, NUL-terminated when
 * len < size), -EINVAL not a string, -E2BIG does not fit. */
int stk_json_str(const struct stk_json *j, int t, char *buf, size_t size);

/* Integer value of a number token written without fraction or exponent.
 * Returns 0, -EINVAL not such a number, -ERANGE out of int64. */
int stk_json_int(const struct stk_json *j, int t, int64_t *ret);

/* ---- grammar pieces ------------------------------------------------------ */

/* True if s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool stk_utf8_valid(const char *s, size_t len);

/* Length (1..4) of the valid UTF-8 sequence that starts s[0..n), or 0 if
 * none does (n == 0, a stray or bad byte, a sequence cut short). */
size_t stk_utf8_seq(const char *s, size_t n);

/* The RFC 8259 number at p (before e): returns the byte after its longest
 * match, or NULL if p does not start one. ("01" matches "0": a byte that
 * cannot follow a number is left for the caller's separator test.) */
static inline const char *stk_json_number_end(const char *p, const char *e)
{
    if (p < e && *p == '-')
        p++;
    if (p >= e || !stk_scan_digit(*p))
        return NULL;
    if (*p++ != '0')
        while (p < e && stk_scan_digit(*p))
            p++;
    if (p < e && *p == '.') {
        if (++p >= e || !stk_scan_digit(*p))
            return NULL;
        while (p < e && stk_scan_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !stk_scan_digit(*p))
            return NULL;
        while (p < e && stk_scan_digit(*p))
            p++;
    }
    return p;
}

/* 0 if s[0..n) is exactly one RFC 8259 number, else -EINVAL. */
int stk_json_number_check(const char *s, size_t n);

/* ---- output ---------------------------------------------------------------- */

#define STK_JSON_ESC_MAX 6 /* most output bytes one input byte escapes to */

/* Escape s[0..n) as the body of a JSON string (no quotes) into out[0..cap):
 * '"' and '\\' backslashed, \b \f \n \r \t in their short forms, other bytes
 * below 0x20 and 0x7f as \u00XX, valid UTF-8 copied, and each byte that is
 * not part of valid UTF-8 as \ufffd (so any bytes give a valid JSON string).
 * Writes whole escapes and whole UTF-8 sequences only. Returns the bytes written; *ret_used (if not
 * NULL) gets how many input bytes they cover (n when cap >= n * 6). */
/* What each ASCII byte becomes inside a JSON string: 0 itself, else the
 * letter of its short escape, or 'u' for \u00XX (stk_json_escape's table). */
extern const char stk_json_esc_class[128];

static inline size_t stk_json_escape(char *restrict out, size_t cap, const char *restrict s,
                                     size_t n, size_t *ret_used)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    char *o = out, *oe = out + cap;
    while (p < e) {
        unsigned char c = *p;
        if (c < 0x80 && !stk_json_esc_class[c]) {
            /* its own text: the common case (inline: names are short) */
            if (o == oe)
                break;
            *o++ = (char)c;
            p++;
            continue;
        }
        if (c >= 0x80) {
            /* a whole UTF-8 sequence as it is; a byte of none, U+FFFD */
            size_t q = stk_utf8_seq((const char *)p, (size_t)(e - p));
            if ((size_t)(oe - o) < (q ? q : 6))
                break;
            if (q)
                memcpy(o, p, q);
            else
                memcpy(o, "\\ufffd", 6);
            o += q ? q : 6;
            p += q ? q : 1;
            continue;
        }
        char k = stk_json_esc_class[c];
        size_t need = k == 'u' ? 6 : 2;
        if ((size_t)(oe - o) < need)
            break;
        o[0] = '\\';
        o[1] = k;
        if (k == 'u') {
            memcpy(o + 2, "00", 2);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
        }
        o += need;
        p++;
    }
    if (ret_used)
        *ret_used = (size_t)(p - (const unsigned char *)s);
    return (size_t)(o - out);
}

/* s (NUL-terminated; NULL writes "") as a quoted JSON string onto f. */
void stk_json_fput_str(FILE *f, const char *s);

/* The decimal digits of v at p (at most 20 bytes, no NUL): returns the end. */
char *stk_json_u64(char *p, uint64_t v);

/* ---- the flat-object scanner of the fast paths ----------------------------
 *
 * The shape both fast paths recognise, and nothing else:
 *
 *   object = "{" sp pair *(sp "," sp pair) sp "}"   nothing before or after
 *   sp     = *" "                                   spaces only
 *   pair   = key sp ":" sp value
 *   key    = '"' *plain '"'      plain = 0x20..0x7e except '"' and '\'
 *
 * Each value is the caller's to scan (its field handling); scalars of any
 * other key go through stk_flat_scalar(). Whatever has this shape with RFC
 * 8259 values is valid JSON, every byte printable ASCII, no escapes. The
 * scanner never rejects: NULL / STK_FLAT_NO mean "not this shape". */

enum { STK_FLAT_NO = -1, STK_FLAT_END = 0, STK_FLAT_MORE = 1 };

/* Past the '{' that must start the text, or NULL. */
static inline const char *stk_flat_open(const char *p, const char *e)
{
    return p < e && *p == '{' ? p + 1 : NULL;
}

/* The key at p (spaces first): *ret_key / *ret_n its text between the quotes.
 * Returns the start of its value (past sp ':' sp), or NULL. */
static inline const char *stk_flat_key(const char *p, const char *e, const char **ret_key,
                                       size_t *ret_n)
{
    p = stk_scan_sp(p, e);
    const char *k = p;
    if (!(p = stk_scan_plain_str(p, e)))
        return NULL;
    *ret_key = k + 1;
    *ret_n = (size_t)(p - k) - 2;
    return stk_scan_colon(p, e);
}

/* True if the key text k[0..n) is lit[0..ln), ln <= 8: one compare of two
 * words (memcmp of a short constant is not always expanded inline). */
static inline bool stk_flat_key_is(const char *k, size_t n, const char *lit, size_t ln)
{
    uint64_t a = 0, b = 0;
    if (n != ln || ln > 8)
        return false;
    memcpy(&a, k, ln);
    memcpy(&b, lit, ln);
    return a == b;
}

/* After a value at *p: sp then ',' (STK_FLAT_MORE, *p past it) or the final
 * '}' at the very end (STK_FLAT_END), else STK_FLAT_NO. */
static inline int stk_flat_next(const char **p, const char *e)
{
    const char *q = stk_scan_sp(*p, e);
    if (q >= e)
        return STK_FLAT_NO;
    if (*q == ',') {
        *p = q + 1;
        return STK_FLAT_MORE;
    }
    return *q == '}' && q + 1 == e ? STK_FLAT_END : STK_FLAT_NO;
}

/* A scalar at p: a plain string, a number, true, false or null. Returns the
 * byte after it, or NULL. */
static inline const char *stk_flat_scalar(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        return stk_scan_plain_str(p, e);
    case 't':
        return e - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
    case 'f':
        return e - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
    case 'n':
        return e - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
    default:
        return stk_json_number_end(p, e);
    }
}

#endif
