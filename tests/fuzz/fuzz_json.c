/* SPDX-License-Identifier: MIT */
/* fuzz_json.c — the strict JSON validator (common/json.c) against jansson:
 * each input is judged by both, with and without duplicate keys allowed,
 * and may differ only by a documented limit (tests/common/json_oracle.h);
 * an accepted document's tokens, strings and integers must be readable. */
#include <errno.h>

#include "../common/json_oracle.h"
#include "fuzz.h"

/* What every accessor must manage on an accepted document. */
static void walk(const struct stk_json *j)
{
    char buf[64];
    int64_t v;
    for (int t = 0; t < j->ntok; t++) {
        size_t n;
        const char *raw = stk_json_raw(j, t, &n);
        FUZZ_CHECK(raw >= j->src && raw + n <= j->src + j->len, "token %d outside the text", t);
        FUZZ_CHECK(stk_json_skip(j, t) > t && stk_json_skip(j, t) <= j->ntok, "skip of %d", t);
        if (stk_json_is_string(j, t)) {
            int r = stk_json_str(j, t, buf, sizeof(buf));
            FUZZ_CHECK(r >= 0 || r == -E2BIG, "string token %d: %d", t, r);
            if (r >= 0)
                FUZZ_CHECK(stk_utf8_valid(buf, (size_t)r), "string token %d decodes to bad UTF-8",
                           t);
        } else {
            (void)stk_json_int(j, t, &v);
        }
        if (stk_json_is_object(j, t))
            (void)stk_json_get(j, t, "type");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    for (unsigned flags = 0; flags <= STK_JSON_DUP_KEYS; flags += STK_JSON_DUP_KEYS) {
        bool ours, theirs;
        enum json_verdict v = json_oracle(s, size, flags, &ours, &theirs);
        FUZZ_CHECK(v != JV_MISMATCH, "flags %u: ours %s, jansson %s (%zu bytes)", flags,
                   ours ? "accepts" : "refuses", theirs ? "accepts" : "refuses", size);
        if (ours) {
            struct stk_json j;
            const char *err;
            FUZZ_CHECK(stk_json_parse_flags(&j, s, size, flags, &err) == 0, "not repeatable");
            walk(&j);
            stk_json_free(&j);
        }
    }
    return 0;
}
