# SPDX-License-Identifier: MIT
"""The recorder stores a deterministic writer's ticks exactly (SQLite and
CSV, column by column, integer prices), and its 1s/1m bars equal the bars
recomputed here from the stored ticks."""
import csv
import glob
import os
import signal
import unittest

import rectest
from rectest import stktest

SYMS = ["AAA", "BBB", "C/D"]  # a "/" in a name: an escaped CSV folder
PER_SYM = 3000


class Store(unittest.TestCase):
    def run_writer(self, st):
        rec = st.recorder()
        # the recorder waits for the segment; the writer then writes
        # PER_SYM ticks per symbol and stays (--linger)
        st.writer("--symbols", ",".join(SYMS), "--rate", "6000", "--history", "4096",
                  "--count", str(PER_SYM * len(SYMS)), "--linger")
        seg = st.segment()
        stktest.wait_for(lambda: all(seg.ring_head(s) == PER_SYM for s in SYMS
                                     if s in seg.symbols()) and len(seg.symbols()) == 3,
                         60, 0.05, "the writer to finish")
        seg.close()
        return rec

    def check_row(self, i, k, row):
        """row: (generation, tick, src_ts_ns, pub_ts_ns, price, bid, ask,
        volume, bid_size, ask_size) of the symbol at index i."""
        price, bid, ask, vol, src, bsz, asz = rectest.model(i, k + 1)
        self.assertEqual(row[0], 1)
        self.assertEqual(row[1], k)
        self.assertEqual(row[2], src)
        self.assertGreater(row[3], 0)
        self.assertEqual(tuple(row[4:]), (price, bid, ask, vol, bsz, asz))

    def test_sqlite_exact(self):
        st = rectest.Stack("exact")
        try:
            rec = self.run_writer(st)
            st.wait_stored({s: PER_SYM for s in SYMS})
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
            self.assertEqual(st.query("SELECT value FROM meta WHERE key='schema_version'"),
                             [("1",)])
            for i, s in enumerate(SYMS):
                rows = st.query(
                    "SELECT generation, tick, src_ts_ns, pub_ts_ns, price, bid, ask, volume, "
                    "bid_size, ask_size FROM ticks t JOIN symbols y ON y.id = t.symbol_id "
                    "WHERE y.name = ? ORDER BY tick", (s,))
                self.assertEqual(len(rows), PER_SYM, s)
                for k, row in enumerate(rows):
                    self.check_row(i, k, row)
            self.assertEqual(st.query("SELECT count(*) FROM gaps"), [(0,)])
            mode = st.query("PRAGMA journal_mode")
            self.assertEqual(mode[0][0].lower(), "wal")
        finally:
            st.close()

    def test_csv_parses_back(self):
        st = rectest.Stack("csv")
        st.store = "csv:" + os.path.join(st.dir, "out")
        stktest.write_config(st.dir, {"shm": {"name": st.shm}, "recorder": {
            "store": "csv:out", "batch_ms": 50}})
        try:
            rec = self.run_writer(st)

            def rows_of(s):
                out = []
                folder = os.path.join(st.dir, "out", s.replace("/", "%2F"))
                for f in sorted(glob.glob(os.path.join(folder, "*.csv"))):
                    with open(f, newline="") as fh:
                        r = list(csv.reader(fh))
                    self.assertEqual(r[0], ["symbol", "generation", "tick", "src_ts_ns",
                                            "pub_ts_ns", "price", "bid", "ask", "volume",
                                            "bid_size", "ask_size"])
                    out += r[1:]
                return out
            stktest.wait_for(lambda: all(len(rows_of(s)) >= PER_SYM for s in SYMS), 60, 0.1,
                             "every tick in the CSV files")
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
            # the writer's source times are 2023-11-14 UTC: one day file each
            for s in SYMS:
                folder = os.path.join(st.dir, "out", s.replace("/", "%2F"))
                self.assertEqual([os.path.basename(f) for f in glob.glob(
                    os.path.join(folder, "*.csv"))], ["2023-11-14.csv"])
            for i, s in enumerate(SYMS):
                rows = rows_of(s)
                self.assertEqual(len(rows), PER_SYM)
                for k, row in enumerate(rows):
                    self.assertEqual(row[0], s)
                    self.check_row(i, k, [int(x) for x in row[1:]])
            self.assertFalse(os.path.exists(os.path.join(st.dir, "out", "gaps.csv")))
        finally:
            st.close()

    def test_bars_match_ticks(self):
        st = rectest.Stack("bars", **{"producer": {"rate": 4000},
                                      "recorder": {"bars": "1s 1m"}})
        try:
            prod = st.producer()
            rec = st.recorder()
            seg = st.segment()
            syms = seg.symbols()
            start = {s: seg.ring_head(s) for s in syms}
            stktest.wait_for(lambda: all(seg.ring_head(s) > start[s] + 6000 // len(syms)
                                         for s in syms), 60, 0.1, "3 s of ticks")
            os.kill(prod.pid, signal.SIGSTOP)
            heads = rectest.freeze_heads(seg, syms)
            st.wait_stored(heads)
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
            d = st.db()
            try:
                self.assertEqual(d.execute("SELECT count(*) FROM gaps").fetchone()[0], 0)
                for sid, in d.execute("SELECT id FROM symbols").fetchall():
                    ticks = d.execute("SELECT src_ts_ns, price, volume FROM ticks WHERE "
                                      "symbol_id = ? ORDER BY generation, tick",
                                      (sid,)).fetchall()
                    self.assertGreater(len(ticks), 100)
                    for iv in (1, 60):
                        want = {}
                        prev = None
                        for ts, price, vol in ticks:
                            dv = 0 if prev is None else (vol - prev if vol >= prev else vol)
                            prev = vol
                            start_ns = ts - ts % (iv * 10**9)
                            b = want.get(start_ns)
                            if b is None:
                                want[start_ns] = [price, price, price, price, dv, 1]
                            else:
                                b[1] = max(b[1], price)
                                b[2] = min(b[2], price)
                                b[3] = price
                                b[4] += dv
                                b[5] += 1
                        got = {r[0]: list(r[1:]) for r in d.execute(
                            "SELECT start_ns, open, high, low, close, volume, ticks FROM bars "
                            "WHERE symbol_id = ? AND interval_s = ?", (sid, iv))}
                        self.assertEqual(got, want, f"symbol {sid} interval {iv}")
                    self.assertEqual(d.execute("SELECT count(*) FROM bars WHERE symbol_id = ? "
                                               "AND interval_s NOT IN (1, 60)",
                                               (sid,)).fetchone()[0], 0)
            finally:
                d.close()
        finally:
            st.close()


if __name__ == "__main__":
    stktest.main_unittest()
