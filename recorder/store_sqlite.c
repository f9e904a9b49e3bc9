/* SPDX-License-Identifier: MIT */
/* store_sqlite.c — the sqlite:PATH store: one database file in WAL mode,
 * prepared statements, one IMMEDIATE transaction per batch, a busy timeout. */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "storeutil.h"

#define BUSY_TIMEOUT_MS 250

struct stk_store {
    sqlite3 *db;
    sqlite3_stmt *ins_tick, *ins_bar, *ins_gap, *sel_sym, *ins_sym, *last, *get_tick, *get_bar,
        *del_ticks, *del_bars;
};

/* sqlite result code → -errno. */
static int sq_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return -EACCES;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EUCLEAN;
    default:
        return -EIO;
    }
}

static int fail(struct stk_store *st, int rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "sqlite: %s: %s", what,
             st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    return sq_errno(rc);
}

static void sq_close(struct stk_store *st)
{
    if (!st)
        return;
    sqlite3_stmt *all[] = {st->ins_tick, st->ins_bar,  st->ins_gap, st->sel_sym,   st->ins_sym,
                           st->last,     st->get_tick, st->get_bar, st->del_ticks, st->del_bars};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sqlite3_finalize(all[i]);
    if (st->db) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(st->db);
    }
    free(st);
}

static int prep(struct stk_store *st, const char *sql, sqlite3_stmt **s, char *err, size_t errlen)
{
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
    return rc == SQLITE_OK ? 0 : fail(st, rc, "prepare", err, errlen);
}

static int sq_open(const char *arg, struct stk_store **ret, char *err, size_t errlen)
{
    if (!arg || !*arg) {
        snprintf(err, errlen, "sqlite: empty path");
        return -EINVAL;
    }
    int r = stk_rec_mkdir_parent(arg);
    if (r < 0) {
        snprintf(err, errlen, "sqlite: cannot create the folder of %s: %s", arg, strerror(-r));
        return r;
    }
    struct stk_store *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    int rc = sqlite3_open_v2(
        arg, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        r = fail(st, rc, arg, err, errlen);
        sq_close(st);
        return r;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(st->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; " STK_STORE_SCHEMA_SQL
                      "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        r = fail(st, rc, arg, err, errlen);
        sq_close(st);
        return r;
    }
    if ((r = prep(st, "INSERT INTO ticks VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)", &st->ins_tick,
                  err, errlen)) < 0 ||
        (r = prep(st, "INSERT OR REPLACE INTO bars VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                  &st->ins_bar, err, errlen)) < 0 ||
        (r = prep(st, "INSERT INTO gaps VALUES(?1,?2,?3,?4,?5)", &st->ins_gap, err, errlen)) < 0 ||
        (r = prep(st, "SELECT id FROM symbols WHERE name = ?1", &st->sel_sym, err, errlen)) < 0 ||
        (r = prep(st, "INSERT INTO symbols(name) VALUES(?1)", &st->ins_sym, err, errlen)) < 0 ||
        (r = prep(st, "SELECT max(tick) FROM ticks WHERE symbol_id = ?1 AND generation = ?2",
                  &st->last, err, errlen)) < 0 ||
        (r = prep(st,
                  "SELECT src_ts_ns, pub_ts_ns, price, bid, ask, volume, bid_size, ask_size "
                  "FROM ticks WHERE symbol_id = ?1 AND generation = ?2 AND tick = ?3",
                  &st->get_tick, err, errlen)) < 0 ||
        (r = prep(st,
                  "SELECT open, high, low, close, volume, ticks FROM bars "
                  "WHERE symbol_id = ?1 AND interval_s = ?2 AND start_ns = ?3",
                  &st->get_bar, err, errlen)) < 0 ||
        (r = prep(st,
                  "DELETE FROM ticks WHERE rowid IN (SELECT rowid FROM ticks "
                  "WHERE src_ts_ns < ?1 LIMIT ?2)",
                  &st->del_ticks, err, errlen)) < 0 ||
        (r = prep(st,
                  "DELETE FROM bars WHERE rowid IN (SELECT rowid FROM bars "
                  "WHERE start_ns < ?1 LIMIT ?2)",
                  &st->del_bars, err, errlen)) < 0) {
        sq_close(st);
        return r;
    }
    *ret = st;
    return 0;
}

/* Step a statement that returns no row, then reset it. */
static int step_done(struct stk_store *st, sqlite3_stmt *s, const char *what, char *err,
                     size_t errlen)
{
    int rc = sqlite3_step(s);
    int r = rc == SQLITE_DONE ? 0 : fail(st, rc, what, err, errlen);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return r;
}

static int sq_symbol_id(struct stk_store *st, const char *name, int64_t *id_ret, char *err,
                        size_t errlen)
{
    sqlite3_bind_text(st->sel_sym, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st->sel_sym);
    if (rc == SQLITE_ROW) {
        *id_ret = sqlite3_column_int64(st->sel_sym, 0);
        sqlite3_reset(st->sel_sym);
        return 0;
    }
    sqlite3_reset(st->sel_sym);
    if (rc != SQLITE_DONE)
        return fail(st, rc, "select symbol", err, errlen);
    sqlite3_bind_text(st->ins_sym, 1, name, -1, SQLITE_TRANSIENT);
    int r = step_done(st, st->ins_sym, "insert symbol", err, errlen);
    if (r < 0)
        return r;
    *id_ret = sqlite3_last_insert_rowid(st->db);
    return 0;
}

static int sq_last_tick(struct stk_store *st, int64_t sid, uint64_t gen, uint64_t *tick_ret,
                        char *err, size_t errlen)
{
    sqlite3_bind_int64(st->last, 1, sid);
    sqlite3_bind_int64(st->last, 2, (sqlite3_int64)gen);
    int rc = sqlite3_step(st->last);
    int r = -ENOENT;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st->last, 0) != SQLITE_NULL) {
            *tick_ret = (uint64_t)sqlite3_column_int64(st->last, 0);
            r = 0;
        }
    } else {
        r = fail(st, rc, "last tick", err, errlen);
    }
    sqlite3_reset(st->last);
    return r;
}

static int sq_get_tick(struct stk_store *st, int64_t sid, uint64_t gen, uint64_t tick,
                       struct stk_rec_tick *t, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->get_tick;
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)gen);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)tick);
    int rc = sqlite3_step(s);
    int r = -ENOENT;
    if (rc == SQLITE_ROW) {
        *t = (struct stk_rec_tick){.symbol_id = sid,
                                   .generation = gen,
                                   .tick = tick,
                                   .src_ts_ns = (uint64_t)sqlite3_column_int64(s, 0),
                                   .pub_ts_ns = (uint64_t)sqlite3_column_int64(s, 1),
                                   .price = sqlite3_column_int64(s, 2),
                                   .bid = sqlite3_column_int64(s, 3),
                                   .ask = sqlite3_column_int64(s, 4),
                                   .volume = (uint64_t)sqlite3_column_int64(s, 5),
                                   .bid_size = (uint32_t)sqlite3_column_int64(s, 6),
                                   .ask_size = (uint32_t)sqlite3_column_int64(s, 7)};
        r = 0;
    } else if (rc != SQLITE_DONE) {
        r = fail(st, rc, "get tick", err, errlen);
    }
    sqlite3_reset(s);
    return r;
}

static int sq_get_bar(struct stk_store *st, int64_t sid, uint32_t iv, uint64_t start,
                      struct stk_rec_bar *b, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->get_bar;
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int64(s, 2, iv);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)start);
    int rc = sqlite3_step(s);
    int r = -ENOENT;
    if (rc == SQLITE_ROW) {
        *b = (struct stk_rec_bar){.symbol_id = sid,
                                  .interval_s = iv,
                                  .start_ns = start,
                                  .open = sqlite3_column_int64(s, 0),
                                  .high = sqlite3_column_int64(s, 1),
                                  .low = sqlite3_column_int64(s, 2),
                                  .close = sqlite3_column_int64(s, 3),
                                  .volume = (uint64_t)sqlite3_column_int64(s, 4),
                                  .ticks = (uint64_t)sqlite3_column_int64(s, 5)};
        r = 0;
    } else if (rc != SQLITE_DONE) {
        r = fail(st, rc, "get bar", err, errlen);
    }
    sqlite3_reset(s);
    return r;
}

static int sq_begin(struct stk_store *st, char *err, size_t errlen)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(st, rc, "begin", err, errlen);
}

static int sq_put_ticks(struct stk_store *st, const struct stk_rec_tick *t, size_t n, char *err,
                        size_t errlen)
{
    sqlite3_stmt *s = st->ins_tick;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(s, 1, t[i].symbol_id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)t[i].generation);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)t[i].tick);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)t[i].src_ts_ns);
        sqlite3_bind_int64(s, 5, (sqlite3_int64)t[i].pub_ts_ns);
        sqlite3_bind_int64(s, 6, t[i].price);
        sqlite3_bind_int64(s, 7, t[i].bid);
        sqlite3_bind_int64(s, 8, t[i].ask);
        sqlite3_bind_int64(s, 9, (sqlite3_int64)t[i].volume);
        sqlite3_bind_int64(s, 10, t[i].bid_size);
        sqlite3_bind_int64(s, 11, t[i].ask_size);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return fail(st, rc, "insert tick", err, errlen);
    }
    return 0;
}

static int sq_put_bar(struct stk_store *st, const struct stk_rec_bar *b, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->ins_bar;
    sqlite3_bind_int64(s, 1, b->symbol_id);
    sqlite3_bind_int64(s, 2, b->interval_s);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)b->start_ns);
    sqlite3_bind_int64(s, 4, b->open);
    sqlite3_bind_int64(s, 5, b->high);
    sqlite3_bind_int64(s, 6, b->low);
    sqlite3_bind_int64(s, 7, b->close);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)b->volume);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)b->ticks);
    return step_done(st, s, "upsert bar", err, errlen);
}

static int sq_put_gap(struct stk_store *st, int64_t sid, uint64_t gen, uint64_t from, uint64_t to,
                      uint64_t detected_ns, char *err, size_t errlen)
{
    sqlite3_stmt *s = st->ins_gap;
    sqlite3_bind_int64(s, 1, sid);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)gen);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)from);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)to);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)detected_ns);
    return step_done(st, s, "insert gap", err, errlen);
}

static int sq_commit(struct stk_store *st, char *err, size_t errlen)
{
    int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    int r = fail(st, rc, "commit", err, errlen);
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static int sq_retain(struct stk_store *st, uint64_t older_than_ns, enum stk_store_kind kind,
                     int max_rows, char *err, size_t errlen)
{
    sqlite3_stmt *s = kind == STK_STORE_TICKS ? st->del_ticks : st->del_bars;
    sqlite3_bind_int64(
        s, 1, older_than_ns > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)older_than_ns);
    sqlite3_bind_int(s, 2, max_rows);
    int r = step_done(st, s, "retention delete", err, errlen);
    return r < 0 ? r : sqlite3_changes(st->db);
}

const struct stk_store_ops stk_store_sqlite = {
    .scheme = "sqlite",
    .open = sq_open,
    .symbol_id = sq_symbol_id,
    .last_tick = sq_last_tick,
    .get_tick = sq_get_tick,
    .get_bar = sq_get_bar,
    .begin = sq_begin,
    .put_ticks = sq_put_ticks,
    .put_bar = sq_put_bar,
    .put_gap = sq_put_gap,
    .commit = sq_commit,
    .retain = sq_retain,
    .close = sq_close,
};
