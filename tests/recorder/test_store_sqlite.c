/* SPDX-License-Identifier: MIT */
/* test_store_sqlite.c — the sqlite: store through its ops: schema, symbol
 * ids, resume points, bar upserts, rollback of a failed batch, and
 * retention in bounded batches. */
#include <errno.h>
#include <sqlite3.h>

#include "store.h"
#include "testutil.h"

static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/stk-rec-u-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub/t.db", dir); /* the folder is created */
}

static void teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct stk_rec_tick tick(int64_t sid, uint64_t k, uint64_t ts)
{
    return (struct stk_rec_tick){.symbol_id = sid,
                                 .generation = 1,
                                 .tick = k,
                                 .src_ts_ns = ts,
                                 .pub_ts_ns = ts + 1,
                                 .price = 100 + (int64_t)k,
                                 .bid = 99,
                                 .ask = 101,
                                 .volume = 10 * k,
                                 .bid_size = 1,
                                 .ask_size = 2};
}

START_TEST(resume_points)
{
    const struct stk_store_ops *o = &stk_store_sqlite;
    struct stk_store *st;
    char err[256];
    ck_assert_int_eq(o->open(path, &st, err, sizeof(err)), 0);
    int64_t a, b, a2;
    ck_assert_int_eq(o->symbol_id(st, "AAPL", &a, err, sizeof(err)), 0);
    ck_assert_int_eq(o->symbol_id(st, "MSFT", &b, err, sizeof(err)), 0);
    ck_assert_int_eq(o->symbol_id(st, "AAPL", &a2, err, sizeof(err)), 0);
    ck_assert_int_eq(a, a2);
    ck_assert_int_ne(a, b);
    uint64_t last;
    ck_assert_int_eq(o->last_tick(st, a, 1, &last, err, sizeof(err)), -ENOENT);
    struct stk_rec_tick t[3] = {tick(a, 0, 1000), tick(a, 1, 2000), tick(a, 2, 3000)};
    ck_assert_int_eq(o->begin(st, err, sizeof(err)), 0);
    ck_assert_int_eq(o->put_ticks(st, t, 3, err, sizeof(err)), 0);
    struct stk_rec_bar bar = {.symbol_id = a,
                              .interval_s = 60,
                              .start_ns = 0,
                              .open = 1,
                              .high = 2,
                              .low = 1,
                              .close = 2,
                              .volume = 5,
                              .ticks = 2};
    ck_assert_int_eq(o->put_bar(st, &bar, err, sizeof(err)), 0);
    bar.close = 3;
    bar.ticks = 3;
    ck_assert_int_eq(o->put_bar(st, &bar, err, sizeof(err)), 0); /* upsert */
    ck_assert_int_eq(o->commit(st, err, sizeof(err)), 0);
    ck_assert_int_eq(o->last_tick(st, a, 1, &last, err, sizeof(err)), 0);
    ck_assert_uint_eq(last, 2);
    ck_assert_int_eq(o->last_tick(st, a, 2, &last, err, sizeof(err)), -ENOENT);
    struct stk_rec_tick g;
    ck_assert_int_eq(o->get_tick(st, a, 1, 2, &g, err, sizeof(err)), 0);
    ck_assert_int_eq(memcmp(&g, &t[2], sizeof(g)), 0);
    struct stk_rec_bar gb;
    ck_assert_int_eq(o->get_bar(st, a, 60, 0, &gb, err, sizeof(err)), 0);
    ck_assert_int_eq(gb.close, 3);
    ck_assert_uint_eq(gb.ticks, 3);
    /* a batch that fails (a duplicate key) leaves nothing behind */
    struct stk_rec_tick u[2] = {tick(a, 3, 4000), tick(a, 2, 3000)};
    ck_assert_int_eq(o->begin(st, err, sizeof(err)), 0);
    ck_assert_int_lt(o->put_ticks(st, u, 2, err, sizeof(err)), 0);
    ck_assert_int_eq(o->begin(st, err, sizeof(err)), 0); /* rolls the failed one back */
    ck_assert_int_eq(o->commit(st, err, sizeof(err)), 0);
    ck_assert_int_eq(o->last_tick(st, a, 1, &last, err, sizeof(err)), 0);
    ck_assert_uint_eq(last, 2);
    o->close(st);
}
END_TEST

START_TEST(locked)
{
    const struct stk_store_ops *o = &stk_store_sqlite;
    struct stk_store *st;
    char err[256];
    ck_assert_int_eq(o->open(path, &st, err, sizeof(err)), 0);
    sqlite3 *other;
    ck_assert_int_eq(sqlite3_open(path, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(o->begin(st, err, sizeof(err)), -EBUSY);
    ck_assert_ptr_nonnull(strstr(err, "locked"));
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    ck_assert_int_eq(o->begin(st, err, sizeof(err)), 0);
    ck_assert_int_eq(o->commit(st, err, sizeof(err)), 0);
    o->close(st);
}
END_TEST

START_TEST(retention_batches)
{
    const struct stk_store_ops *o = &stk_store_sqlite;
    struct stk_store *st;
    char err[256];
    ck_assert_int_eq(o->open(path, &st, err, sizeof(err)), 0);
    int64_t a;
    ck_assert_int_eq(o->symbol_id(st, "AAPL", &a, err, sizeof(err)), 0);
    enum { OLD = 25000, NEW = 100 };
    struct stk_rec_tick *t = malloc((OLD + NEW) * sizeof(*t));
    ck_assert_ptr_nonnull(t);
    for (uint64_t k = 0; k < OLD + NEW; k++)
        t[k] = tick(a, k, k < OLD ? 1000 + k : 1000000000 + k);
    ck_assert_int_eq(o->begin(st, err, sizeof(err)), 0);
    ck_assert_int_eq(o->put_ticks(st, t, OLD + NEW, err, sizeof(err)), 0);
    ck_assert_int_eq(o->commit(st, err, sizeof(err)), 0);
    free(t);
    ck_assert_int_eq(o->retain(st, 1000000000, STK_STORE_TICKS, 10000, err, sizeof(err)), 10000);
    ck_assert_int_eq(o->retain(st, 1000000000, STK_STORE_TICKS, 10000, err, sizeof(err)), 10000);
    ck_assert_int_eq(o->retain(st, 1000000000, STK_STORE_TICKS, 10000, err, sizeof(err)), 5000);
    ck_assert_int_eq(o->retain(st, 1000000000, STK_STORE_TICKS, 10000, err, sizeof(err)), 0);
    uint64_t last;
    ck_assert_int_eq(o->last_tick(st, a, 1, &last, err, sizeof(err)), 0);
    ck_assert_uint_eq(last, OLD + NEW - 1);
    ck_assert_int_eq(o->retain(st, 1000000000, STK_STORE_BARS, 10000, err, sizeof(err)), 0);
    o->close(st);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"store", resume_points},
        {"store", locked},
        {"store", retention_batches},
    };
    return TEST_TABLE_RUN_WITH("recorder-sqlite", tests, setup, teardown);
}
