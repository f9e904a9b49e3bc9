/* SPDX-License-Identifier: MIT */
/* fuzz_decimal.c — decimals both ways: text that parses formats back to text
 * that parses to the same value, agrees with strtold within its precision,
 * and any int64 (the input's first 8 bytes) survives format then parse. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "seqtick.h"

/* format v, check the text's shape, parse it back: v again */
static void round_trip(int64_t v)
{
    char out[STK_DECIMAL_MAX];
    int n = stk_decimal_format(v, out, sizeof(out));
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(out) && out[n] == '\0', "format(%lld) = %d",
               (long long)v, n);
    FUZZ_CHECK(strlen(out) == (size_t)n, "format(%lld): length %d, text '%s'", (long long)v, n,
               out);
    int64_t back = 0;
    int r = stk_decimal_parse(out, (size_t)n, &back);
    FUZZ_CHECK(r == 0 && back == v, "format(%lld) = '%s' parses to %d, %lld", (long long)v, out, r,
               (long long)back);
    /* shortest: no trailing zero after a point, never a bare point */
    if (strchr(out, '.'))
        FUZZ_CHECK(out[n - 1] != '0' && out[n - 1] != '.', "'%s' is not the shortest form", out);
    /* one byte too few: refused, nothing written past it */
    char small[STK_DECIMAL_MAX + 1];
    memset(small, 'x', sizeof(small));
    FUZZ_CHECK(stk_decimal_format(v, small, (size_t)n) == -ENOBUFS, "format in %d bytes", n);
    FUZZ_CHECK(small[n] == 'x', "format wrote past its %d bytes", n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t v = 12345;
    int r = stk_decimal_parse(s, size, &v);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "parse returned %d", r);
    if (r < 0) {
        FUZZ_CHECK(v == 12345, "*ret changed on error (%d)", r);
    } else {
        round_trip(v);
        /* the value itself, against long double (64-bit mantissa): a parse
         * error of a digit would be far outside this tolerance */
        char *copy = malloc(size + 1);
        if (copy) {
            memcpy(copy, data, size);
            copy[size] = '\0';
            long double ld = strtold(copy, NULL) * 1e8L;
            long double diff = fabsl(ld - (long double)v);
            FUZZ_CHECK(diff <= 1.0L + fabsl((long double)v) * 1e-15L,
                       "'%s' parsed as %lld, strtold says %.3Lf", copy, (long long)v, ld);
            free(copy);
        }
    }
    if (size >= 8) {
        int64_t raw;
        memcpy(&raw, data, sizeof(raw));
        round_trip(raw);
    }
    return 0;
}
