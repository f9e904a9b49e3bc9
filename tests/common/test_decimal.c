/* SPDX-License-Identifier: MIT */
/* test_decimal.c — exact decimal text <-> fixed point × 10^8, and junk. */
#include <errno.h>
#include <string.h>

#include "testutil.h"

static int parse(const char *s, int64_t *v)
{
    return stk_decimal_parse(s, strlen(s), v);
}

static void ok(const char *s, int64_t want)
{
    int64_t v = 12345;
    int r = parse(s, &v);
    ck_assert_msg(r == 0, "parse('%s') = %d", s, r);
    ck_assert_msg(v == want, "parse('%s') = %lld, want %lld", s, (long long)v, (long long)want);
}

static void bad(const char *s, int want)
{
    int64_t v = 12345;
    int r = parse(s, &v);
    ck_assert_msg(r == want, "parse('%s') = %d, want %d", s, r, want);
    ck_assert_int_eq(v, 12345); /* untouched on error */
}

static void fmt(int64_t v, const char *want)
{
    char buf[STK_DECIMAL_MAX];
    int n = stk_decimal_format(v, buf, sizeof(buf));
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(n, (int)strlen(want));
}

START_TEST(test_parse_exact)
{
    ok("189.25", 18925000000LL);
    ok("0", 0);
    ok("-0", 0);
    ok("0.0", 0);
    ok("1", 100000000LL);
    ok("0.00000001", 1);
    ok("-0.00000001", -1);
    ok("0.1", 10000000LL);
    ok("189.24999999", 18924999999LL);
    ok("1.10000000000000", 110000000LL); /* trailing zeros past 8 places are exact */
    ok("1e2", 10000000000LL);
    ok("1.5E-3", 150000LL);
    ok("25e-8", 25);
    ok("0e400", 0);
    ok("92233720368.54775807", INT64_MAX);
    ok("-92233720368.54775808", INT64_MIN);
    ok("100000000000000000000e-18", 10000000000LL); /* 21 digits, exact value 100 */
}
END_TEST

START_TEST(test_parse_rejects)
{
    bad("", -EINVAL);
    bad("-", -EINVAL);
    bad("abc", -EINVAL);
    bad("+1", -EINVAL);
    bad(".5", -EINVAL);
    bad("5.", -EINVAL);
    bad("01", -EINVAL);
    bad("1.2.3", -EINVAL);
    bad("1e", -EINVAL);
    bad("1e+", -EINVAL);
    bad(" 1", -EINVAL);
    bad("1 ", -EINVAL);
    bad("NaN", -EINVAL);
    bad("Infinity", -EINVAL);
    bad("0x10", -EINVAL);
    bad("1,5", -EINVAL);
    bad("0.000000001", -ERANGE); /* 9 decimals */
    bad("189.123456789", -ERANGE);
    bad("1e-9", -ERANGE);
    bad("25e-10", -ERANGE); /* 0.0000000025: 9+ places */
    bad("1e400", -ERANGE);
    bad("1e100000000000", -ERANGE);
    bad("92233720368.54775808", -ERANGE);
    bad("-92233720368.54775809", -ERANGE);
    bad("99999999999999999999999999", -ERANGE);
    bad("1.0000000000000000000000001", -ERANGE);
    /* a NUL inside the given length is junk, not an end */
    int64_t v = 7;
    ck_assert_int_eq(stk_decimal_parse("1\0002", 3, &v), -EINVAL);
    ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_format)
{
    fmt(18925000000LL, "189.25");
    fmt(0, "0");
    fmt(1, "0.00000001");
    fmt(-1, "-0.00000001");
    fmt(100000000LL, "1");
    fmt(-50000000LL, "-0.5");
    fmt(18924999999LL, "189.24999999");
    fmt(INT64_MAX, "92233720368.54775807");
    fmt(INT64_MIN, "-92233720368.54775808");
    char small[4];
    ck_assert_int_eq(stk_decimal_format(18925000000LL, small, sizeof(small)), -ENOBUFS);
}
END_TEST

/* Every value formats to text that parses back to itself. */
START_TEST(test_roundtrip)
{
    uint64_t x = 88172645463325252ull;
    char buf[STK_DECIMAL_MAX];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t v = (int64_t)(x >> (i % 64));
        if (i & 1)
            v = -v;
        int n = stk_decimal_format(v, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        int64_t back;
        ck_assert_int_eq(stk_decimal_parse(buf, (size_t)n, &back), 0);
        ck_assert_int_eq(back, v);
    }
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", test_parse_exact},
        {"core", test_format},
        {"core", test_roundtrip},
        {"errors", test_parse_rejects},
    };
    return TEST_TABLE_RUN("decimal", tests);
}
