/* SPDX-License-Identifier: MIT */
/* test_csv.c — CSV rows (units, optional fields, headers, errors) and the
 * replay reader: a folder merged by timestamp, bad rows named file:line. */
#include <errno.h>
#include <sys/stat.h>

#include "ptest.h"

static int row(const char *s, enum stk_time_unit u, bool first, struct stk_csv_row *r,
               const char **why)
{
    return stk_csv_parse_row(s, strlen(s), u, first, r, why);
}

START_TEST(rows)
{
    struct stk_csv_row r;
    const char *why = NULL;
    ck_assert_int_eq(row("1700000000,AAPL,189.25,100", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_str_eq(r.symbol, "AAPL");
    ck_assert_uint_eq(r.q.src_ts_ns, 1700000000000000000ull);
    ck_assert_int_eq(r.q.price, 18925000000LL);
    ck_assert_int_eq(r.q.bid, r.q.price); /* absent: the price */
    ck_assert_int_eq(r.q.ask, r.q.price);
    ck_assert_uint_eq(r.q.volume, 100);
    /* every unit, detected from the magnitude or configured */
    ck_assert_int_eq(row("1700000000123,X,1,0", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, 1700000000123000000ull);
    ck_assert_int_eq(row("1700000000123456,X,1,0", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, 1700000000123456000ull);
    ck_assert_int_eq(row("1700000000123456789,X,1,0", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, 1700000000123456789ull);
    ck_assert_int_eq(row("1700000000.25,X,1,0", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, 1700000000250000000ull);
    ck_assert_int_eq(row("5,X,1,0", STK_UNIT_MS, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, 5000000ull);
    ck_assert_int_eq(row("5,X,1,0", STK_UNIT_S, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, 5000000000ull);
    /* all fields, spaces and CR tolerated, empty optional fields */
    ck_assert_int_eq(row(" 1700000000 , MSFT , 415.5 , 7 , 415.49 , 415.51 , 300 , 400\r",
                         STK_UNIT_AUTO, false, &r, &why),
                     0);
    ck_assert_str_eq(r.symbol, "MSFT");
    ck_assert_int_eq(r.q.bid, 41549000000LL);
    ck_assert_int_eq(r.q.ask, 41551000000LL);
    ck_assert_uint_eq(r.q.bid_size, 300);
    ck_assert_uint_eq(r.q.ask_size, 400);
    ck_assert_int_eq(row("1700000000,X,2,7,,2.5", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_int_eq(r.q.bid, 200000000);
    ck_assert_int_eq(r.q.ask, 250000000);
    /* a header only on the first line */
    ck_assert_int_eq(row("timestamp,symbol,price,volume", STK_UNIT_AUTO, true, &r, &why), -ENOMSG);
    ck_assert_int_eq(row("timestamp,symbol,price,volume", STK_UNIT_AUTO, false, &r, &why), -EINVAL);

    static const char *const bad[] = {
        "1700000000,AAPL,189.25",  "1700000000,AAPL,abc,1",
        "1700000000,AAPL,1e400,1", "1700000000,,1,1",
        "1700000000,A B,1,1",      "1700000000,AAPL,1,-5",
        "1700000000,AAPL,1,1,x",   "1700000000,AAPL,1,1,1,1,1,1,1",
        "17000x0000,AAPL,1,1",     "1700000000,AAPL,1,1,1,1,99999999999",
        "1700000000.,AAPL,1,1",    "1700000000,ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456,1,1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(row(bad[i], STK_UNIT_AUTO, false, &r, &why) == -EINVAL, "accepted %s",
                      bad[i]);
        ck_assert_ptr_nonnull(why);
    }
    ck_assert_int_eq(stk_time_unit_parse("us"), STK_UNIT_US);
    ck_assert_int_eq(stk_time_unit_parse("hours"), -EINVAL);
}
END_TEST

/* Timestamps past what a u64 of ns holds are refused, not wrapped to 1970. */
START_TEST(timestamp_range)
{
    struct stk_csv_row r;
    const char *why = NULL;
    /* the last instant that fits: 18446744073.709551615 s */
    ck_assert_int_eq(row("18446744073.709551615,X,1,1", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_uint_eq(r.q.src_ts_ns, UINT64_MAX);
    static const char *const over[] = {
        "18446744073.9,AAPL,1,1",         /* the fraction carries it over */
        "18446744073.709551616,AAPL,1,1", /* one ns too many */
        "18446744074,AAPL,1,1",           /* the integer part alone */
        "18446744073709551616,AAPL,1,1",  /* more than a u64 */
        "18446744073709551.7,AAPL,1,1",   /* us: 18446744073709551000 + 700 */
    };
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        why = NULL;
        ck_assert_msg(row(over[i], STK_UNIT_AUTO, false, &r, &why) == -EINVAL, "accepted %s",
                      over[i]);
        ck_assert_msg(why && strstr(why, "out of range"), "%s: %s", over[i], why);
    }
}
END_TEST

/* RFC 4180 quoting: a field wholly in double quotes is unquoted ("" is one
 * quote), then checked like any other; a stray quote is an error. */
START_TEST(quoted_fields)
{
    struct stk_csv_row r;
    const char *why = NULL;
    ck_assert_int_eq(row("1700000000,\"AAPL\",189.25,100", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_str_eq(r.symbol, "AAPL");
    ck_assert_int_eq(row("\"1700000000\", \"MSFT\" ,\"415.5\",\"7\",\"\",\"415.51\"", STK_UNIT_AUTO,
                         false, &r, &why),
                     0);
    ck_assert_str_eq(r.symbol, "MSFT");
    ck_assert_uint_eq(r.q.src_ts_ns, 1700000000000000000ull);
    ck_assert_int_eq(r.q.price, 41550000000LL);
    ck_assert_int_eq(r.q.bid, r.q.price);
    ck_assert_int_eq(r.q.ask, 41551000000LL);
    ck_assert_int_eq(row("1700000000,\"A\"\"B\",1,1", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_str_eq(r.symbol, "A\"B");
    ck_assert_int_eq(row("1700000000,\"A,B\",1,1,2", STK_UNIT_AUTO, false, &r, &why), 0);
    ck_assert_str_eq(r.symbol, "A,B"); /* the comma stays in the field */
    ck_assert_int_eq(r.q.bid, 200000000);
    /* a quoted header line */
    ck_assert_int_eq(
        row("\"timestamp\",\"symbol\",\"price\",\"volume\"", STK_UNIT_AUTO, true, &r, &why),
        -ENOMSG);
    static const char *const bad[] = {
        "1700000000,\"AAPL,1,1",    /* unterminated */
        "1700000000,\"AA\"PL,1,1",  /* text after the closing quote */
        "1700000000,AA\"PL,1,1",    /* a quote in an unquoted field */
        "1700000000,AAPL\",1,1",    /* the same */
        "1700000000,\"AA PL\",1,1", /* unquoted, still the symbol grammar */
        "1700000000,\"\",1,1",      /* empty */
        "1700000000,\"ABCDEFGHIJKLMNOPQRSTUVWXYZ01234\"\"\",1,1", /* 32 bytes unquoted */
        "1700000000,AAPL,\"1\"\"\",1",                            /* a quote in a number */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_msg(row(bad[i], STK_UNIT_AUTO, false, &r, &why) == -EINVAL, "accepted %s",
                      bad[i]);
        ck_assert_ptr_nonnull(why);
    }
    /* 31 bytes once unquoted: accepted */
    ck_assert_int_eq(row("1700000000,\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123\"\"\",1,1", STK_UNIT_AUTO,
                         false, &r, &why),
                     0);
    ck_assert_str_eq(r.symbol, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123\"");
}
END_TEST

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

struct badlog {
    int n;
    char where[8][256];
};

static void on_bad(void *ctx, const char *file, unsigned long line, const char *why)
{
    struct badlog *b = ctx;
    const char *base = strrchr(file, '/');
    snprintf(b->where[b->n++ & 7], 256, "%s:%lu", base ? base + 1 : file, line);
}

START_TEST(folder_merge)
{
    char dir[] = "/tmp/stk-csv-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char a[300], b[300], hidden[300];
    snprintf(a, sizeof(a), "%s/a.csv", dir);
    snprintf(b, sizeof(b), "%s/b.csv", dir);
    snprintf(hidden, sizeof(hidden), "%s/.skip.csv", dir);
    /* ms in one file, s with fractions in the other: merged by time */
    put(a, "timestamp,symbol,price,volume\n"
           "1700000000000,A,1,1\n"
           "1700000002000,A,3,3\n"
           "garbage row\n"
           "\n"
           "# comment\n"
           "1700000004000,A,5,5\n");
    put(b, "\xef\xbb\xbf" /* a byte-order mark first */
           "1700000001.0,B,2,2\n"
           "1700000002,B,4,4\n"
           "1700000003,B,abc,4\n"
           "1700000005.5,B,6,6\n");
    put(hidden, "1,Z,1,1\n");
    struct badlog bl = {0};
    struct stk_csv *csv;
    ck_assert_int_eq(stk_csv_open(dir, STK_UNIT_AUTO, on_bad, &bl, &csv), 0);
    ck_assert_uint_eq(stk_csv_nfiles(csv), 2);
    for (int pass = 0; pass < 2; pass++) {
        struct stk_csv_row r;
        const char *want[] = {"A", "B", "A", "B", "A", "B"};
        int64_t prev = 0;
        for (int i = 0; i < 6; i++) {
            ck_assert_int_eq(stk_csv_next(csv, &r), 1);
            ck_assert_str_eq(r.symbol, want[i]);
            ck_assert_int_eq(r.q.price, (int64_t)(i + 1) * STK_PRICE_SCALE);
            ck_assert_int_ge((int64_t)r.q.src_ts_ns, prev);
            prev = (int64_t)r.q.src_ts_ns;
        }
        ck_assert_int_eq(stk_csv_next(csv, &r), 0);
        ck_assert_int_eq(bl.n, 2 * (pass + 1));
        ck_assert_str_eq(bl.where[2 * pass], "a.csv:4");
        ck_assert_str_eq(bl.where[2 * pass + 1], "b.csv:3");
        ck_assert_int_eq(stk_csv_rewind(csv), 0);
    }
    stk_csv_close(csv);
    /* a single file */
    ck_assert_int_eq(stk_csv_open(b, STK_UNIT_AUTO, NULL, NULL, &csv), 0);
    ck_assert_uint_eq(stk_csv_nfiles(csv), 1);
    stk_csv_close(csv);
    unlink(a);
    unlink(b);
    unlink(hidden);
    /* an empty folder, a missing path */
    ck_assert_int_eq(stk_csv_open(dir, STK_UNIT_AUTO, NULL, NULL, &csv), -ENODATA);
    rmdir(dir);
    ck_assert_int_eq(stk_csv_open(dir, STK_UNIT_AUTO, NULL, NULL, &csv), -ENOENT);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", rows},
        {"core", folder_merge},
        {"limits", timestamp_range},
        {"core", quoted_fields},
    };
    return TEST_TABLE_RUN("csv", tests);
}
