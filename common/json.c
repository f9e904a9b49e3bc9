/* SPDX-License-Identifier: MIT */
/* json.c — the strict JSON validator: jsmn (Debian's header-only tokenizer,
 * the measured fastest) plus the checks it leaves out (literals, numbers,
 * separators, control characters, UTF-8, surrogates, duplicate keys,
 * trailing data, nesting depth); the UTF-8 and number checks, the string
 * escaper and the integer formatter every program shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* the one translation unit holding jsmn's code (static); json-private.h
 * gives the others its types, with the same STRICT / PARENT_LINKS layout */
#define JSMN_STATIC
#include "json-private.h"

size_t stk_utf8_seq(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* > U+10FFFF */
    } else {
        return 0; /* a continuation byte, overlong 0xc0/0xc1, or > 0xf4 */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

bool stk_utf8_valid(const char *str, size_t len)
{
    const char *s = str, *end = str + len;
    while (s < end) {
        /* fast path: eight ASCII bytes at a time */
        while (end - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (w & 0x8080808080808080ull)
                break;
            s += 8;
        }
        if (s == end)
            break;
        size_t q = stk_utf8_seq(s, (size_t)(end - s));
        if (q == 0)
            return false;
        s += q;
    }
    return true;
}

int stk_json_number_check(const char *s, size_t n)
{
    return stk_json_number_end(s, s + n) == s + n && n ? 0 : -EINVAL;
}

/* Byte classes of the pre-scan, outside strings and inside them (0: a byte
 * that needs nothing, the common case, skipped by a tight loop). Outside,
 * control bytes and '\\' are jsmn's to refuse. */
enum { C_PLAIN, C_QUOTE, C_BSLASH, C_CTRL, C_OPEN, C_CLOSE, C_HIGH, C_NUL };

static const unsigned char out_cls[128] = {
    [0] = C_NUL, ['"'] = C_QUOTE, ['{'] = C_OPEN, ['['] = C_OPEN, ['}'] = C_CLOSE, [']'] = C_CLOSE,
};

static const unsigned char in_cls[128] = {
    [0] = C_NUL,   [1] = C_CTRL,  [2] = C_CTRL,    [3] = C_CTRL,      [4] = C_CTRL,  [5] = C_CTRL,
    [6] = C_CTRL,  [7] = C_CTRL,  [8] = C_CTRL,    [9] = C_CTRL,      [10] = C_CTRL, [11] = C_CTRL,
    [12] = C_CTRL, [13] = C_CTRL, [14] = C_CTRL,   [15] = C_CTRL,     [16] = C_CTRL, [17] = C_CTRL,
    [18] = C_CTRL, [19] = C_CTRL, [20] = C_CTRL,   [21] = C_CTRL,     [22] = C_CTRL, [23] = C_CTRL,
    [24] = C_CTRL, [25] = C_CTRL, [26] = C_CTRL,   [27] = C_CTRL,     [28] = C_CTRL, [29] = C_CTRL,
    [30] = C_CTRL, [31] = C_CTRL, ['"'] = C_QUOTE, ['\\'] = C_BSLASH,
};

/* The class of byte c in a table of the ASCII ones. */
static inline unsigned char cls(const unsigned char *t, unsigned char c)
{
    return c < 0x80 ? t[c] : C_HIGH;
}

/* One linear pass before jsmn: NUL bytes (jsmn would stop at them), UTF-8,
 * raw control characters inside strings, and nesting depth (so a 20,000-deep
 * line is refused before any token is allocated). */
static int prescan(const char *src, size_t len, bool *escapes, const char **err)
{
    const unsigned char *s = (const unsigned char *)src;
    int depth = 0;
    bool ascii = true;
    size_t i = 0;
    for (;;) {
        while (i < len && s[i] < 0x80 && !out_cls[s[i]])
            i++;
        if (i >= len)
            break;
        unsigned char k = cls(out_cls, s[i++]);
        switch (k) {
        case C_OPEN:
            if (++depth > STK_JSON_MAX_DEPTH) {
                *err = "nesting too deep";
                return -EINVAL;
            }
            continue;
        case C_CLOSE:
            depth--;
            continue;
        case C_HIGH:
            ascii = false;
            continue;
        case C_NUL:
            *err = "NUL byte in request";
            return -EINVAL;
        default: /* '"': the string runs to the next unescaped '"' */
            for (;;) {
                while (i < len && s[i] < 0x80 && !in_cls[s[i]])
                    i++;
                if (i >= len)
                    return 0; /* unterminated: jsmn reports it */
                k = cls(in_cls, s[i++]);
                if (k == C_QUOTE)
                    break;
                if (k == C_HIGH) {
                    ascii = false;
                    continue;
                }
                if (k == C_BSLASH) {
                    *escapes = true;
                    if (i >= len)
                        continue;
                    k = cls(in_cls, s[i]);
                    if (k == C_HIGH)
                        ascii = false;
                    else if (k == C_CTRL || k == C_NUL)
                        goto ctrl_or_nul;
                    i++;
                    continue;
                }
            ctrl_or_nul:
                *err = k == C_NUL ? "NUL byte in request" : "control character in string";
                return -EINVAL;
            }
        }
    }
    if (!ascii && !stk_utf8_valid(src, len)) {
        *err = "invalid UTF-8";
        return -EINVAL;
    }
    return 0;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Source span of token t: strings include their quotes. */
static void span(const struct stk_json *j, int t, size_t *b, size_t *e)
{
    const jsmntok_t *k = &j->tok[t];
    if (k->type == JSMN_STRING) {
        *b = (size_t)k->start - 1;
        *e = (size_t)k->end + 1;
    } else {
        *b = (size_t)k->start;
        *e = (size_t)k->end;
    }
}

/* src[b..e) must be whitespace around exactly `sep` (or nothing if sep 0). */
static inline bool gap_ok(const char *s, size_t b, size_t e, char sep)
{
    /* compact JSON: nothing, or just the separator; json.dumps: ", " ": " */
    if (e == b)
        return sep == 0;
    if (sep && s[b] == sep && (e == b + 1 || (e == b + 2 && s[b + 1] == ' ')))
        return true;
    bool seen = sep == 0;
    for (size_t i = b; i < e; i++) {
        if (is_ws(s[i]))
            continue;
        if (s[i] == sep && !seen) {
            seen = true;
            continue;
        }
        return false;
    }
    return seen;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* jsmn checked the four hex digits */
static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 4 | (unsigned)(hexval(p[i]) & 15);
    return v;
}

/* Decode a string body s[0..n) (jsmn checked the escape shapes) into out
 * (NULL: only validate surrogate pairing). Returns the decoded length or
 * -EINVAL (lone surrogate) / -E2BIG. */
static long str_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned cp;
        if (c != '\\') {
            if (out) {
                if (o >= size)
                    return -E2BIG;
                out[o] = c;
            }
            o++;
            continue;
        }
        c = s[++i];
        switch (c) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (i + 4 >= n)
                return -EINVAL;
            cp = hex4(s + i + 1);
            i += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return -EINVAL; /* low surrogate first */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 6 >= n || s[i + 1] != '\\' || s[i + 2] != 'u')
                    return -EINVAL;
                unsigned lo = hex4(s + i + 3);
                if (lo < 0xdc00 || lo > 0xdfff)
                    return -EINVAL;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            break;
        default: /* " \ / */
            cp = (unsigned char)c;
        }
        char u[4];
        size_t k;
        if (cp < 0x80) {
            u[0] = (char)cp;
            k = 1;
        } else if (cp < 0x800) {
            u[0] = (char)(0xc0 | cp >> 6);
            u[1] = (char)(0x80 | (cp & 0x3f));
            k = 2;
        } else if (cp < 0x10000) {
            u[0] = (char)(0xe0 | cp >> 12);
            u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
            u[2] = (char)(0x80 | (cp & 0x3f));
            k = 3;
        } else {
            u[0] = (char)(0xf0 | cp >> 18);
            u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
            u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
            u[3] = (char)(0x80 | (cp & 0x3f));
            k = 4;
        }
        if (out) {
            if (o + k > size)
                return -E2BIG;
            memcpy(out + o, u, k);
        }
        o += k;
    }
    return (long)o;
}

/* Point *s / *n at the decoded text of a key that has escapes, decoded into
 * a buffer returned for the caller to free (NULL, text left raw, if decoding
 * fails: a bad escape was already rejected by the syntax check). */
static char *key_decoded(const char **s, size_t *n)
{
    char *d = malloc(*n + 1);
    long r = d ? str_decode(*s, *n, d, *n) : -ENOMEM;
    if (r < 0) {
        free(d);
        return NULL;
    }
    *s = d;
    *n = (size_t)r;
    return d;
}

/* Compare two key tokens by their decoded text. */
static int key_cmp(const struct stk_json *j, int a, int b)
{
    const jsmntok_t *ta = &j->tok[a], *tb = &j->tok[b];
    const char *sa = j->src + ta->start, *sb = j->src + tb->start;
    size_t na = (size_t)(ta->end - ta->start), nb = (size_t)(tb->end - tb->start);
    /* the common case, no escapes: the raw bytes are the text */
    char *da = memchr(sa, '\\', na) ? key_decoded(&sa, &na) : NULL;
    char *db = memchr(sb, '\\', nb) ? key_decoded(&sb, &nb) : NULL;
    int c = memcmp(sa, sb, na < nb ? na : nb);
    if (c == 0)
        c = na < nb ? -1 : na > nb;
    free(da);
    free(db);
    return c;
}

/* Pairwise duplicate test: raw bytes decide unless an escape is involved. */
static bool keys_equal(const struct stk_json *j, int a, int b, bool escapes)
{
    const jsmntok_t *ta = &j->tok[a], *tb = &j->tok[b];
    if (!escapes)
        return ta->end - ta->start == tb->end - tb->start &&
               !memcmp(j->src + ta->start, j->src + tb->start, (size_t)(ta->end - ta->start));
    return key_cmp(j, a, b) == 0;
}

static int key_cmp_r(const void *x, const void *y, void *ctx)
{
    return key_cmp(ctx, *(const int *)x, *(const int *)y);
}

/* What the walk over the tokens carries. */
struct walk {
    unsigned flags; /* STK_JSON_* */
    bool high;      /* some string has a byte >= 0x80 (UTF-8 checked at the end) */
    bool escapes;   /* some string has a backslash */
};

/* The body of a string token, s[0..n): -1 if it holds a raw control byte,
 * else 1 if it has a backslash, 0 if not; notes bytes >= 0x80 in w. */
static int str_scan(const char *str, size_t n, struct walk *w)
{
    const unsigned char *s = (const unsigned char *)str;
    int esc = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x80 && !in_cls[c])
            continue;
        if (c >= 0x80)
            w->high = true;
        else if (c == '\\')
            esc = 1;
        else if (c != '"')
            return -1;
    }
    w->escapes |= esc;
    return esc;
}

/* Validate token t (at nesting depth `depth` if a container) and its
 * subtree; returns the index after it or -1. */
static int check(const struct stk_json *j, int t, int depth, struct walk *w, const char **err)
{
    const jsmntok_t *k = &j->tok[t];
    const char *s = j->src;
    if (k->type == JSMN_PRIMITIVE) {
        size_t n = (size_t)(k->end - k->start);
        const char *p = s + k->start;
        if (k->size != 0)
            goto syntax;
        if ((n == 4 && !memcmp(p, "true", 4)) || (n == 5 && !memcmp(p, "false", 5)) ||
            (n == 4 && !memcmp(p, "null", 4)))
            return t + 1;
        if (p[0] == 't' || p[0] == 'f' || p[0] == 'n') {
            *err = "invalid literal";
            return -1;
        }
        if (stk_json_number_check(p, n) < 0) {
            *err = "invalid number";
            return -1;
        }
        return t + 1;
    }
    if (k->type == JSMN_STRING) {
        if (k->size != 0)
            goto syntax;
        size_t n = (size_t)(k->end - k->start);
        int esc = str_scan(s + k->start, n, w);
        if (esc < 0) {
            *err = "control character in string";
            return -1;
        }
        if (esc && str_decode(s + k->start, n, NULL, 0) < 0) {
            *err = "invalid \\u escape (unpaired surrogate)";
            return -1;
        }
        return t + 1;
    }
    if (depth > STK_JSON_MAX_DEPTH) {
        *err = "nesting too deep";
        return -1;
    }
    bool obj = k->type == JSMN_OBJECT;
    size_t pos = (size_t)k->start + 1;
    int next = t + 1;
    /* the keys are collected for the duplicate test only */
    int nkeys = obj && !(w->flags & STK_JSON_DUP_KEYS) ? k->size : 0;
    int keys_small[16];
    bool esc[16]; /* key c has a backslash (pairwise path only) */
    int *keys = keys_small;
    if (nkeys > 16) {
        keys = malloc(sizeof(int) * (size_t)nkeys);
        if (!keys) {
            *err = "out of memory";
            return -1;
        }
    }
    for (int c = 0; c < k->size; c++) {
        size_t b, e;
        if (next >= j->ntok)
            goto syntax_free;
        span(j, next, &b, &e);
        if (!gap_ok(s, pos, b, c ? ',' : 0))
            goto syntax_free;
        if (obj) {
            if (j->tok[next].type != JSMN_STRING || j->tok[next].size != 1)
                goto syntax_free;
            const char *ks = s + j->tok[next].start;
            size_t kn = (size_t)(j->tok[next].end - j->tok[next].start);
            int has_esc = str_scan(ks, kn, w);
            if (has_esc < 0) {
                *err = "control character in string";
                goto fail_free;
            }
            if (c < 16)
                esc[c] = has_esc;
            if (has_esc && str_decode(ks, kn, NULL, 0) < 0) {
                *err = "invalid \\u escape (unpaired surrogate)";
                goto fail_free;
            }
            if (c < nkeys)
                keys[c] = next;
            size_t vb, ve;
            next++;
            if (next >= j->ntok)
                goto syntax_free;
            span(j, next, &vb, &ve);
            if (!gap_ok(s, e, vb, ':'))
                goto syntax_free;
        }
        int after = check(j, next, depth + 1, w, err);
        if (after < 0)
            goto fail_free;
        span(j, next, &b, &e);
        pos = e;
        next = after;
    }
    if (!gap_ok(s, pos, (size_t)k->end - 1, 0))
        goto syntax_free;
    if (nkeys > 1) {
        if (nkeys <= 16) {
            for (int a = 0; a < nkeys; a++)
                for (int b = a + 1; b < nkeys; b++)
                    if (keys_equal(j, keys[a], keys[b], esc[a] || esc[b]))
                        goto dup;
        } else {
            qsort_r(keys, (size_t)nkeys, sizeof(int), key_cmp_r, (void *)j);
            for (int a = 1; a < nkeys; a++)
                if (key_cmp(j, keys[a - 1], keys[a]) == 0)
                    goto dup;
        }
    }
    if (keys != keys_small)
        free(keys);
    return next;
dup:
    *err = "duplicate key";
    goto fail_free;
syntax_free:
    *err = "malformed JSON";
fail_free:
    if (keys != keys_small)
        free(keys);
    return -1;
syntax:
    *err = "malformed JSON";
    return -1;
}

/* jsmn and the walk over its tokens, which together refuse whatever the
 * pre-scan refuses (a NUL byte stops jsmn short of the end, jsmn's strict
 * mode refuses non-ASCII outside strings); only which message comes first
 * differs, so a failure is named by the pre-scan when it fails too. */
static int parse(struct stk_json *j, const char *src, size_t len, unsigned flags, bool *prescanned,
                 const char **ret_err)
{
    jsmn_parser p;
    struct walk w = {.flags = flags};
    size_t b0 = 0, e0 = len;
    int r;
    while (b0 < len && is_ws(src[b0]))
        b0++;
    while (e0 > b0 && is_ws(src[e0 - 1]))
        e0--;
    if (b0 < e0 && src[b0] != '{' && src[b0] != '[' && src[b0] != '"') {
        /* a bare scalar: jsmn's strict mode wants a delimiter after it */
        j->small[0] = (jsmntok_t){
            .type = JSMN_PRIMITIVE, .start = (int)b0, .end = (int)e0, .size = 0, .parent = -1};
        j->ntok = 1;
        for (size_t i = b0; i < e0; i++)
            if (is_ws(src[i]) || src[i] == ',' || src[i] == ':') {
                *ret_err = "trailing data after the JSON value";
                return -EINVAL;
            }
        return check(j, 0, 1, &w, ret_err) < 0 ? -EINVAL : 0;
    }
    jsmn_init(&p);
    r = jsmn_parse(&p, src, len, j->small, STK_JSON_SMALL_TOKENS);
    if (r == JSMN_ERROR_NOMEM) {
        /* a big document: the pre-scan first, so a 20,000-deep one is
         * refused before any token is allocated */
        *prescanned = true;
        bool esc = false;
        if ((r = prescan(src, len, &esc, ret_err)) < 0)
            return r;
        jsmn_init(&p);
        int count = jsmn_parse(&p, src, len, NULL, 0);
        if (count <= 0) {
            *ret_err = "malformed JSON";
            return -EINVAL;
        }
        j->heap = malloc(sizeof(jsmntok_t) * (size_t)count);
        if (!j->heap) {
            *ret_err = "out of memory";
            return -ENOMEM;
        }
        j->tok = j->heap;
        jsmn_init(&p);
        r = jsmn_parse(&p, src, len, j->heap, (unsigned)count);
    }
    if (r == JSMN_ERROR_PART) {
        *ret_err = "truncated JSON";
        return -EINVAL;
    }
    if (r <= 0) {
        *ret_err = r == 0 ? "empty request" : "malformed JSON";
        return -EINVAL;
    }
    j->ntok = r;
    size_t b, e;
    span(j, 0, &b, &e);
    if (!gap_ok(src, 0, b, 0)) {
        *ret_err = "malformed JSON";
        return -EINVAL;
    }
    int after = check(j, 0, 1, &w, ret_err);
    if (after < 0)
        return -EINVAL;
    if (after != j->ntok || !gap_ok(src, e, len, 0)) {
        *ret_err = "trailing data after the JSON value";
        return -EINVAL;
    }
    if (w.high && !stk_utf8_valid(src, len)) {
        *ret_err = "invalid UTF-8";
        return -EINVAL;
    }
    j->escapes = w.escapes;
    return 0;
}

int stk_json_parse_flags(struct stk_json *j, const char *src, size_t len, unsigned flags,
                         const char **ret_err)
{
    j->src = src;
    j->len = len;
    j->heap = NULL;
    j->tok = j->small;
    j->ntok = 0;
    j->escapes = false;
    bool prescanned = false;
    int r = parse(j, src, len, flags, &prescanned, ret_err);
    if (r == -EINVAL && !prescanned) {
        bool esc = false;
        const char *why;
        if (prescan(src, len, &esc, &why) < 0)
            *ret_err = why;
    }
    return r;
}

int stk_json_parse(struct stk_json *j, const char *src, size_t len, const char **ret_err)
{
    return stk_json_parse_flags(j, src, len, 0, ret_err);
}

void stk_json_free(struct stk_json *j)
{
    free(j->heap);
    j->heap = NULL;
}

int stk_json_skip(const struct stk_json *j, int t)
{
    int end = j->tok[t].end;
    int i = t + 1;
    while (i < j->ntok && j->tok[i].start < end)
        i++;
    return i;
}

static bool key_is(const struct stk_json *j, int t, const char *key)
{
    const jsmntok_t *k = &j->tok[t];
    size_t n = (size_t)(k->end - k->start), kl = strlen(key);
    const char *s = j->src + k->start;
    if (n == kl && !memcmp(s, key, n))
        return true;
    if (n > kl * 6 || !memchr(s, '\\', n))
        return false;
    char tmp[256];
    long r = str_decode(s, n, tmp, sizeof(tmp));
    return r == (long)kl && !memcmp(tmp, key, kl);
}

int stk_json_get(const struct stk_json *j, int obj, const char *key)
{
    if (obj < 0 || obj >= j->ntok || j->tok[obj].type != JSMN_OBJECT)
        return -1;
    int i = obj + 1;
    for (int c = 0; c < j->tok[obj].size; c++) {
        if (key_is(j, i, key))
            return i + 1;
        i = stk_json_skip(j, i + 1);
    }
    return -1;
}

bool stk_json_is_string(const struct stk_json *j, int t)
{
    return t >= 0 && t < j->ntok && j->tok[t].type == JSMN_STRING;
}

bool stk_json_is_object(const struct stk_json *j, int t)
{
    return t >= 0 && t < j->ntok && j->tok[t].type == JSMN_OBJECT;
}

bool stk_json_is_array(const struct stk_json *j, int t)
{
    return t >= 0 && t < j->ntok && j->tok[t].type == JSMN_ARRAY;
}

bool stk_json_is_scalar(const struct stk_json *j, int t)
{
    return t >= 0 && t < j->ntok &&
           (j->tok[t].type == JSMN_STRING || j->tok[t].type == JSMN_PRIMITIVE);
}

const char *stk_json_raw(const struct stk_json *j, int t, size_t *ret_len)
{
    size_t b, e;
    span(j, t, &b, &e);
    *ret_len = e - b;
    return j->src + b;
}

int stk_json_str(const struct stk_json *j, int t, char *buf, size_t size)
{
    if (!stk_json_is_string(j, t))
        return -EINVAL;
    const jsmntok_t *k = &j->tok[t];
    long r = str_decode(j->src + k->start, (size_t)(k->end - k->start), buf, size);
    if (r < 0)
        return (int)r;
    if ((size_t)r < size)
        buf[r] = 0;
    return (int)r;
}

int stk_json_int(const struct stk_json *j, int t, int64_t *ret)
{
    if (t < 0 || t >= j->ntok || j->tok[t].type != JSMN_PRIMITIVE)
        return -EINVAL;
    const char *s = j->src + j->tok[t].start;
    size_t n = (size_t)(j->tok[t].end - j->tok[t].start);
    size_t i = 0;
    bool neg = false;
    if (n && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= n)
        return -EINVAL;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (!stk_scan_digit(s[i]))
            return -EINVAL;
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return -ERANGE;
    *ret = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

const char stk_json_esc_class[128] = {
    [0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u',  [0x04] = 'u', [0x05] = 'u',
    [0x06] = 'u', [0x07] = 'u', ['\b'] = 'b', ['\t'] = 't',  ['\n'] = 'n', [0x0b] = 'u',
    ['\f'] = 'f', ['\r'] = 'r', [0x0e] = 'u', [0x0f] = 'u',  [0x10] = 'u', [0x11] = 'u',
    [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',  [0x16] = 'u', [0x17] = 'u',
    [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u',  [0x1c] = 'u', [0x1d] = 'u',
    [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\', [0x7f] = 'u',
};

void stk_json_fput_str(FILE *f, const char *s)
{
    char chunk[256];
    size_t n = s ? strlen(s) : 0;
    fputc('"', f);
    while (n) {
        size_t used;
        size_t k = stk_json_escape(chunk, sizeof(chunk), s, n, &used);
        fwrite(chunk, 1, k, f);
        s += used;
        n -= used;
    }
    fputc('"', f);
}

char *stk_json_u64(char *p, uint64_t v)
{
    static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                             "34353637383940414243444546474849505152535455565758596061626364656667"
                             "6869707172737475767778798081828384858687888990919293949596979899";
    static const uint64_t pow10[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};
    unsigned n = 1;
    while (n < 20 && v >= pow10[n])
        n++;
    char *t = p + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, d2 + (size_t)r * 2, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, d2 + (size_t)v * 2, 2);
    } else {
        *--t = (char)('0' + v);
    }
    return p + n;
}
