/* SPDX-License-Identifier: MIT */
/* json.h — request parsing: jsmn tokenizes, a strict layer on top checks
 * what jsmn lets through (literals, numbers, separators, control characters,
 * UTF-8, surrogates, duplicate keys, trailing data, nesting depth). */
#ifndef SEQTICK_SERVER_JSON_H
#define SEQTICK_SERVER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#define STK_JSON_MAX_DEPTH 32     /* deeper than any request needs */
#define STK_JSON_SMALL_TOKENS 128 /* tokens parsed without a heap allocation */

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
 * and trailing whitespace allowed). Returns 0, or -EINVAL with *ret_err set
 * to a static message naming the problem, or -ENOMEM. Call stk_json_free()
 * either way. */
int stk_json_parse(struct stk_json *j, const char *src, size_t len, const char **ret_err);

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

/* Validators exposed for unit tests. 0 if valid, else -EINVAL. */
int stk_json_number_check(const char *s, size_t n);
int stk_utf8_check(const unsigned char *s, size_t n);

#endif
