/* SPDX-License-Identifier: MIT */
/* test_backoff.c — the one restart backoff: doubling to the cap, the jitter's
 * bounds, edges, and the schedules its two users (the supervisor, the
 * producer's ingestor) rely on. */
#include <math.h>

#include "backoff-private.h"
#include "testutil.h"

START_TEST(doubles_to_cap)
{
    /* u = 0.5 is the middle of the jitter: exactly the base delay. */
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 1, 0.5), 100);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 2, 0.5), 200);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 3, 0.5), 400);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 9, 0.5), 25600);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 10, 0.5), 30000);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 1000, 0.5), 30000);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 4000000000u, 0.5), 30000);
}
END_TEST

START_TEST(ingestor_schedule)
{
    /* The producer's ingestor: 100 ms doubling to 10 s, no jitter. */
    static const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000};
    for (unsigned q = 1; q <= sizeof(want) / sizeof(want[0]); q++)
        ck_assert_int_eq(stk_backoff_ms(100, 10000, q, 0.5), want[q - 1]);
}
END_TEST

START_TEST(jitter_bounds)
{
    for (unsigned q = 1; q < 20; q++)
        for (double u = 0; u < 1; u += 0.01) {
            int64_t base = stk_backoff_ms(100, 3000, q, 0.5);
            int64_t d = stk_backoff_ms(100, 3000, q, u);
            ck_assert_int_ge(d, base * 8 / 10);
            ck_assert_int_le(d, base * 12 / 10 + 1);
            ck_assert_int_le(d, 3000); /* never above the cap */
        }
    ck_assert_int_eq(stk_backoff_ms(1000, 5000, 1, 0.0), 800);
    ck_assert_int_eq(stk_backoff_ms(1000, 5000, 1, 0.999999), 1200);
    /* u outside [0,1) is clamped into it */
    ck_assert_int_eq(stk_backoff_ms(1000, 5000, 1, -3.0), 800);
    ck_assert_int_eq(stk_backoff_ms(1000, 5000, 1, 7.0), 1200);
    ck_assert_int_eq(stk_backoff_ms(1000, 5000, 1, NAN), 800);
}
END_TEST

START_TEST(edges)
{
    ck_assert_int_eq(stk_backoff_ms(0, 30000, 5, 0.5), 0);
    ck_assert_int_eq(stk_backoff_ms(-5, 30000, 5, 0.5), 0);
    ck_assert_int_eq(stk_backoff_ms(500, 100, 3, 0.5), 500); /* max below min: min */
    ck_assert_int_eq(stk_backoff_ms(100, 100, 7, 0.99), 100);
    ck_assert_int_eq(stk_backoff_ms(100, 30000, 0, 0.5), 100); /* quick 0 counts as 1 */
    /* huge values do not overflow */
    ck_assert_int_eq(stk_backoff_ms(3600000, 86400000, 100, 0.5), 86400000);
    ck_assert_int_eq(stk_backoff_ms(INT64_MAX / 2, INT64_MAX, 70, 0.5), INT64_MAX);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", doubles_to_cap},
        {"core", ingestor_schedule},
        {"core", jitter_bounds},
        {"limits", edges},
    };
    return TEST_TABLE_RUN("backoff", tests);
}
