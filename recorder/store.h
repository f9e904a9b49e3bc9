/* SPDX-License-Identifier: MIT */
/* store.h — the recorder's store interface: one table of operations every
 * backend (sqlite:, postgresql:, csv:) implements, the rows it stores, and
 * the one schema they share (docs/recorder.md documents it column by column). */
#ifndef SEQTICK_RECORDER_STORE_H
#define SEQTICK_RECORDER_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Schema version written to meta('schema_version'). */
#define STK_STORE_SCHEMA_VERSION 1

/* The schema, SQLite spelling (every column an INTEGER; prices are the value
 * × 10^8, times ns since the Unix epoch). PostgreSQL uses the same tables,
 * columns and keys with BIGINT for INTEGER (symbols.id assigned by the
 * backend: symbol_id() returns it). CSV stores only the ticks columns.
 *
 *   meta(key, value)            key 'schema_version' → "1"
 *   symbols(id, name)           one row per symbol name ever recorded
 *   ticks(symbol_id, generation, tick, src_ts_ns, pub_ts_ns, price, bid, ask,
 *         volume, bid_size, ask_size)     PK (symbol_id, generation, tick)
 *       generation: the segment header's generation; tick: the ring's tick
 *       number k (0, 1, 2 ... per symbol per generation); volume cumulative.
 *   bars(symbol_id, interval_s, start_ns, open, high, low, close, volume,
 *        ticks)                  PK (symbol_id, interval_s, start_ns)
 *       start_ns: the bar's start, a multiple of interval_s seconds of the
 *       tick's src_ts_ns; volume: change of cumulative volume over the bar;
 *       ticks: number of ticks in it.
 *   gaps(symbol_id, generation, from_tick, to_tick, detected_ns)
 *       ticks [from_tick, to_tick) of that ring were lost (lapped, or a
 *       store fault outlasted the ring); detected_ns: when it was seen. */
#define STK_STORE_SCHEMA_SQL                                                                       \
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);\n"                         \
    "CREATE TABLE IF NOT EXISTS symbols(id INTEGER PRIMARY KEY, name TEXT NOT NULL "               \
    "UNIQUE);\n"                                                                                   \
    "CREATE TABLE IF NOT EXISTS ticks(symbol_id INTEGER NOT NULL, generation INTEGER "             \
    "NOT NULL, tick INTEGER NOT NULL, src_ts_ns INTEGER NOT NULL, pub_ts_ns INTEGER NOT "          \
    "NULL, price INTEGER NOT NULL, bid INTEGER NOT NULL, ask INTEGER NOT NULL, volume "            \
    "INTEGER NOT NULL, bid_size INTEGER NOT NULL, ask_size INTEGER NOT NULL, "                     \
    "PRIMARY KEY(symbol_id, generation, tick));\n"                                                 \
    "CREATE TABLE IF NOT EXISTS bars(symbol_id INTEGER NOT NULL, interval_s INTEGER NOT "          \
    "NULL, start_ns INTEGER NOT NULL, open INTEGER NOT NULL, high INTEGER NOT NULL, low "          \
    "INTEGER NOT NULL, close INTEGER NOT NULL, volume INTEGER NOT NULL, ticks INTEGER "            \
    "NOT NULL, PRIMARY KEY(symbol_id, interval_s, start_ns));\n"                                   \
    "CREATE TABLE IF NOT EXISTS gaps(symbol_id INTEGER NOT NULL, generation INTEGER NOT "          \
    "NULL, from_tick INTEGER NOT NULL, to_tick INTEGER NOT NULL, detected_ns INTEGER "             \
    "NOT NULL);\n"

/* One tick as stored (the ticks table's row). */
struct stk_rec_tick {
    int64_t symbol_id;
    uint64_t generation;
    uint64_t tick; /* ring tick number k */
    uint64_t src_ts_ns, pub_ts_ns;
    int64_t price, bid, ask; /* × 10^8 */
    uint64_t volume;         /* cumulative */
    uint32_t bid_size, ask_size;
};

/* One bar as stored (the bars table's row). */
struct stk_rec_bar {
    int64_t symbol_id;
    uint32_t interval_s;
    uint64_t start_ns;
    int64_t open, high, low, close; /* × 10^8 */
    uint64_t volume;                /* change of cumulative volume */
    uint64_t ticks;
};

/* What retain() deletes. */
enum stk_store_kind { STK_STORE_TICKS = 0, STK_STORE_BARS = 1 };

struct stk_store; /* a backend's open handle */

/* A backend. Every int-returning op returns 0 or -errno (-ENOSPC disk
 * full, -EBUSY locked, -EROFS/-EACCES read-only, -EIO other, -ENOTCONN
 * server gone) and writes a one-line reason into err[errlen] on failure;
 * it never logs or exits. Writes happen between begin() and commit(): a
 * failed op leaves the batch to be rolled back by the caller's next begin()
 * (a backend rolls back an open batch in begin()); nothing of a batch is
 * visible unless commit() returned 0. */
struct stk_store_ops {
    const char *scheme; /* "sqlite", "postgresql", "csv" */
    /* Open the store at `arg` (the text after "scheme:"), creating the
     * schema (and a missing parent directory for a path) if needed. */
    int (*open)(const char *arg, struct stk_store **ret, char *err, size_t errlen);
    /* The id of symbol `name`, inserting it if new. Outside or inside a batch. */
    int (*symbol_id)(struct stk_store *st, const char *name, int64_t *id_ret, char *err,
                     size_t errlen);
    /* The highest stored tick of (symbol_id, generation) into *tick_ret
     * (the resume point is *tick_ret + 1); -ENOENT none stored. */
    int (*last_tick)(struct stk_store *st, int64_t symbol_id, uint64_t generation,
                     uint64_t *tick_ret, char *err, size_t errlen);
    /* Optional (NULL: bars restart empty after a restart). The stored tick
     * (symbol_id, generation, tick) into *ret; -ENOENT none. The recorder
     * reads the last one back at resume for its volume and time. */
    int (*get_tick)(struct stk_store *st, int64_t symbol_id, uint64_t generation, uint64_t tick,
                    struct stk_rec_tick *ret, char *err, size_t errlen);
    /* Optional. The stored bar (symbol_id, interval_s, start_ns) into *ret;
     * -ENOENT none. At resume the open bar continues from what is stored. */
    int (*get_bar)(struct stk_store *st, int64_t symbol_id, uint32_t interval_s, uint64_t start_ns,
                   struct stk_rec_bar *ret, char *err, size_t errlen);
    int (*begin)(struct stk_store *st, char *err, size_t errlen);
    /* Append n ticks (in tick order per symbol; never already stored). */
    int (*put_ticks)(struct stk_store *st, const struct stk_rec_tick *t, size_t n, char *err,
                     size_t errlen);
    /* Insert or replace the bar keyed (symbol_id, interval_s, start_ns): the
     * open bar is rewritten each batch, its last write is when it closed.
     * NULL for a store without bars (csv). */
    int (*put_bar)(struct stk_store *st, const struct stk_rec_bar *b, char *err, size_t errlen);
    /* Record lost ticks [from_tick, to_tick). NULL: the store keeps no gaps. */
    int (*put_gap)(struct stk_store *st, int64_t symbol_id, uint64_t generation, uint64_t from_tick,
                   uint64_t to_tick, uint64_t detected_ns, char *err, size_t errlen);
    int (*commit)(struct stk_store *st, char *err, size_t errlen);
    /* Delete at most max_rows rows of `kind` older than older_than_ns
     * (ticks: src_ts_ns; bars: start_ns), in its own short transaction
     * (outside a batch). Returns the number deleted (>= 0; < max_rows means
     * done) or -errno. NULL: no retention (csv keeps its files). */
    int (*retain)(struct stk_store *st, uint64_t older_than_ns, enum stk_store_kind kind,
                  int max_rows, char *err, size_t errlen);
    /* Close (rolls back an uncommitted batch); NULL is a no-op. */
    void (*close)(struct stk_store *st);
};

extern const struct stk_store_ops stk_store_sqlite;
extern const struct stk_store_ops stk_store_csv;
extern const struct stk_store_ops stk_store_pg; /* store_pg.c, when built */

#endif
