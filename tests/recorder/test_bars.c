/* SPDX-License-Identifier: MIT */
/* test_bars.c — the recorder's pure parts: durations, recorder.bars and
 * recorder.retention parsing, the OHLC accumulator, the volume rule. */
#include <errno.h>

#include "bars.h"
#include "testutil.h"

START_TEST(durations)
{
    uint64_t s;
    ck_assert_int_eq(stk_rec_duration_parse("0", &s), 0);
    ck_assert_uint_eq(s, 0);
    ck_assert_int_eq(stk_rec_duration_parse("90s", &s), 0);
    ck_assert_uint_eq(s, 90);
    ck_assert_int_eq(stk_rec_duration_parse("1m", &s), 0);
    ck_assert_uint_eq(s, 60);
    ck_assert_int_eq(stk_rec_duration_parse("12h", &s), 0);
    ck_assert_uint_eq(s, 43200);
    ck_assert_int_eq(stk_rec_duration_parse("7d", &s), 0);
    ck_assert_uint_eq(s, 604800);
    const char *bad[] = {"", "s", "10", "0s", "1x", "-1d", "1.5h", "99999999999d", "1 d", " 1d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(stk_rec_duration_parse(bad[i], &s) == -EINVAL, "%s accepted", bad[i]);
    ck_assert_int_eq(stk_rec_duration_parse(NULL, &s), -EINVAL);
}
END_TEST

START_TEST(bars_list)
{
    uint32_t iv[STK_REC_MAX_INTERVALS];
    unsigned n;
    ck_assert_int_eq(stk_rec_bars_parse("1s 1m 1h 1d", iv, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(iv[0], 1);
    ck_assert_uint_eq(iv[1], 60);
    ck_assert_uint_eq(iv[2], 3600);
    ck_assert_uint_eq(iv[3], 86400);
    ck_assert_int_eq(stk_rec_bars_parse("  5m,15m ", iv, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(iv[1], 900);
    ck_assert_int_eq(stk_rec_bars_parse("", iv, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(stk_rec_bars_parse("1m 60s", iv, &n), -EINVAL); /* a repeat */
    ck_assert_int_eq(stk_rec_bars_parse("0", iv, &n), -EINVAL);
    ck_assert_int_eq(stk_rec_bars_parse("1m x", iv, &n), -EINVAL);
    ck_assert_int_eq(
        stk_rec_bars_parse("1s 2s 3s 4s 5s 6s 7s 8s 9s 10s 11s 12s 13s 14s 15s 16s 17s", iv, &n),
        -EINVAL);
}
END_TEST

START_TEST(retention)
{
    uint64_t t, b;
    ck_assert_int_eq(stk_rec_retention_parse("ticks=0 bars=0", &t, &b), 0);
    ck_assert_uint_eq(t, 0);
    ck_assert_uint_eq(b, 0);
    ck_assert_int_eq(stk_rec_retention_parse("ticks=7d bars=0", &t, &b), 0);
    ck_assert_uint_eq(t, 604800);
    ck_assert_uint_eq(b, 0);
    ck_assert_int_eq(stk_rec_retention_parse("bars=12h", &t, &b), 0);
    ck_assert_uint_eq(t, 0);
    ck_assert_uint_eq(b, 43200);
    ck_assert_int_eq(stk_rec_retention_parse("", &t, &b), 0);
    const char *bad[] = {"ticks",           "ticks=", "ticks=7", "quotes=1d", "ticks=1d ticks=2d",
                         "ticks=1d,bars=x", "=1d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(stk_rec_retention_parse(bad[i], &t, &b) == -EINVAL, "%s accepted", bad[i]);
}
END_TEST

START_TEST(ohlc)
{
    struct stk_bar_acc a = {0};
    struct stk_rec_bar c;
    const uint64_t s = 1000000000ull, t0 = 1700000040ull * s; /* a whole minute */
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 1, 100, 0, &c), 0);
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 10 * s, 120, 5, &c), 0);
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 20 * s, 90, 3, &c), 0);
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 59 * s, 110, 2, &c), 0);
    ck_assert(a.open && a.dirty);
    ck_assert_uint_eq(a.b.start_ns, t0);
    /* the next minute closes the bar */
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 60 * s, 111, 4, &c), 1);
    ck_assert_int_eq(c.symbol_id, 7);
    ck_assert_uint_eq(c.interval_s, 60);
    ck_assert_uint_eq(c.start_ns, t0);
    ck_assert_int_eq(c.open, 100);
    ck_assert_int_eq(c.high, 120);
    ck_assert_int_eq(c.low, 90);
    ck_assert_int_eq(c.close, 110);
    ck_assert_uint_eq(c.volume, 10);
    ck_assert_uint_eq(c.ticks, 4);
    ck_assert_uint_eq(a.b.start_ns, t0 + 60 * s);
    ck_assert_int_eq(a.b.open, 111);
    ck_assert_uint_eq(a.b.ticks, 1);
    ck_assert_uint_eq(a.b.volume, 4);
    /* a clock that went back: merged into the open bar */
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 5 * s, 50, 1, &c), 0);
    ck_assert_int_eq(a.b.low, 50);
    ck_assert_uint_eq(a.b.ticks, 2);
    /* skipping empty bars: the next one starts where its tick falls */
    ck_assert_int_eq(stk_bar_add(&a, 7, 60, t0 + 600 * s + 3, 1, 0, &c), 1);
    ck_assert_uint_eq(a.b.start_ns, t0 + 600 * s);
    /* a day bar is a UTC day */
    struct stk_bar_acc d = {0};
    stk_bar_add(&d, 1, 86400, t0, 1, 0, &c);
    ck_assert_uint_eq(d.b.start_ns % (86400 * s), 0);
    ck_assert_uint_le(t0 - d.b.start_ns, 86400 * s);
}
END_TEST

START_TEST(dvol)
{
    ck_assert_uint_eq(stk_bar_dvol(false, 0, 500), 0);
    ck_assert_uint_eq(stk_bar_dvol(true, 500, 730), 230);
    ck_assert_uint_eq(stk_bar_dvol(true, 730, 730), 0);
    ck_assert_uint_eq(stk_bar_dvol(true, 730, 20), 20); /* the source reset its count */
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"parse", durations}, {"parse", bars_list}, {"parse", retention},
        {"bars", ohlc},       {"bars", dvol},
    };
    return TEST_TABLE_RUN("recorder-bars", tests);
}
