# SPDX-License-Identifier: MIT
"""storefix — a recorder store with known contents for the tests of its
readers (the server's get_bars, `seqtick bars`, seqtick.Store): the
recorder's schema (docs/recorder.md) in SQLite, filled deterministically."""
import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS symbols(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS ticks(symbol_id INTEGER NOT NULL, generation INTEGER NOT NULL,
  tick INTEGER NOT NULL, src_ts_ns INTEGER NOT NULL, pub_ts_ns INTEGER NOT NULL,
  price INTEGER NOT NULL, bid INTEGER NOT NULL, ask INTEGER NOT NULL, volume INTEGER NOT NULL,
  bid_size INTEGER NOT NULL, ask_size INTEGER NOT NULL,
  PRIMARY KEY(symbol_id, generation, tick));
CREATE TABLE IF NOT EXISTS bars(symbol_id INTEGER NOT NULL, interval_s INTEGER NOT NULL,
  start_ns INTEGER NOT NULL, open INTEGER NOT NULL, high INTEGER NOT NULL,
  low INTEGER NOT NULL, close INTEGER NOT NULL, volume INTEGER NOT NULL,
  ticks INTEGER NOT NULL, PRIMARY KEY(symbol_id, interval_s, start_ns));
CREATE TABLE IF NOT EXISTS gaps(symbol_id INTEGER NOT NULL, generation INTEGER NOT NULL,
  from_tick INTEGER NOT NULL, to_tick INTEGER NOT NULL, detected_ns INTEGER NOT NULL);
"""

T0_NS = 1_700_000_040_000_000_000  # a whole minute, hour-aligned enough for tests
SYMS = ["AAPL", "MSFT"]


def bar(sym_i, interval_s, k):
    """Bar k (0 oldest) of symbol sym_i: (start_ns, open, high, low, close,
    volume, ticks), prices × 10^8 with awkward decimals (x.xxxxxxx1)."""
    base = (100 + 50 * sym_i) * 100000000 + k * 1234567 + 1
    return (T0_NS + k * interval_s * 1000000000, base, base + 777, base - 333 * (k % 5),
            base + 25 * (k % 7), 1000 + 17 * k, 1 + k % 9)


def tick(sym_i, k):
    """Tick k of symbol sym_i: (generation, tick, src_ts_ns, pub_ts_ns, price,
    bid, ask, volume, bid_size, ask_size)."""
    p = (100 + 50 * sym_i) * 100000000 + 7 * k + 3
    return (1, k, T0_NS + k * 1000000, T0_NS + k * 1000000 + 500, p, p - 1000000,
            p + 1000000, 10 * k, 100 + k, 200 + k)


def make(path, nbars=700, intervals=(1, 60), nticks=50):
    """Create the store at path: SYMS, nbars bars per symbol per interval,
    nticks ticks per symbol. WAL, like the recorder's."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.execute("INSERT OR REPLACE INTO meta VALUES('schema_version', '1')")
    for i, s in enumerate(SYMS):
        db.execute("INSERT INTO symbols(id, name) VALUES(?, ?)", (i + 1, s))
        for iv in intervals:
            db.executemany("INSERT INTO bars VALUES(?,?,?,?,?,?,?,?,?)",
                           [(i + 1, iv) + bar(i, iv, k) for k in range(nbars)])
        db.executemany("INSERT INTO ticks VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                       [(i + 1,) + tick(i, k) for k in range(nticks)])
    db.commit()
    db.close()


def dec(v):
    """The exact decimal text of a × 10^8 integer, as the server renders it."""
    neg = v < 0
    v = abs(v)
    s = f"{v // 100000000}.{v % 100000000:08d}".rstrip("0").rstrip(".")
    return ("-" if neg else "") + s
