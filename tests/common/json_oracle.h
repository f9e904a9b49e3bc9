/* SPDX-License-Identifier: MIT */
/* json_oracle.h — the strict JSON validator judged by jansson (Debian's
 * libjansson, an RFC 8259 parser): one document, both verdicts, and the
 * only differences allowed, each a documented limit. Shared by the
 * differential test (test_json_jansson.c) and the fuzzer (fuzz_json.c). */
#ifndef SEQTICK_TEST_JSON_ORACLE_H
#define SEQTICK_TEST_JSON_ORACLE_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "json-private.h"

enum json_verdict {
    JV_AGREE,       /* same verdict */
    JV_DEPTH,       /* ours refuses nesting > STK_JSON_MAX_DEPTH (our limit) */
    JV_JANSSON_NUM, /* jansson refuses a number outside a double (its limit) */
    JV_JANSSON_NUL, /* jansson refuses \u0000 in a key (its limit) */
    JV_MISMATCH,    /* anything else: a bug on one side */
};

/* Deepest array/object nesting of s[0..n), brackets inside strings not
 * counted (exact for a well-formed document). */
static inline int json_oracle_depth(const char *s, size_t n)
{
    int d = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++d > max)
                max = d;
        } else if (c == ']' || c == '}') {
            d--;
        }
    }
    return max;
}

/* Judge s[0..n) parsed with STK_JSON_* flags (STK_JSON_DUP_KEYS: jansson
 * keeps duplicates too, else it rejects them as we do). *ret_ours and
 * *ret_theirs get the two verdicts (true: accepted). */
static inline enum json_verdict json_oracle(const char *s, size_t n, unsigned flags, bool *ret_ours,
                                            bool *ret_theirs)
{
    struct stk_json j;
    const char *err = NULL;
    bool ours = stk_json_parse_flags(&j, s, n, flags, &err) == 0;
    stk_json_free(&j);
    json_error_t je;
    memset(&je, 0, sizeof(je));
    size_t jf = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    if (!(flags & STK_JSON_DUP_KEYS))
        jf |= JSON_REJECT_DUPLICATES;
    /* jansson reads a raw NUL byte as the end of its input, so "1\0" would
     * pass; RFC 8259 allows that byte nowhere (not whitespace, a control
     * character inside strings): with one, the RFC's verdict is "refuse" */
    bool theirs = false;
    if (!memchr(s, 0, n)) {
        json_t *v = json_loadb(s, n, jf, &je);
        theirs = v != NULL;
        json_decref(v);
    }
    *ret_ours = ours;
    *ret_theirs = theirs;
    if (ours == theirs)
        return JV_AGREE;
    if (!ours && err && !strcmp(err, "nesting too deep") &&
        json_oracle_depth(s, n) > STK_JSON_MAX_DEPTH)
        return JV_DEPTH;
    if (ours && !theirs && json_error_code(&je) == json_error_numeric_overflow)
        return JV_JANSSON_NUM;
    if (ours && !theirs && json_error_code(&je) == json_error_null_byte_in_key)
        return JV_JANSSON_NUL;
    return JV_MISMATCH;
}

#endif
