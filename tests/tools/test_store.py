# SPDX-License-Identifier: MIT
"""seqtick.Store (clients/python/seqtick/store.py) over a SQLite store with
known contents (tests/lib/storefix.py): bars and ticks exact, limits and
ranges, read-only, clear errors for what it cannot read."""
import os
import sqlite3
import sys
import tempfile
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402,F401  (puts the client and tests/lib on sys.path)
import storefix  # noqa: E402

import seqtick  # noqa: E402


class StoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="stk-store-")
        cls.path = os.path.join(cls.tmp.name, "seqtick.db")
        storefix.make(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_bars_exact_newest_last(self):
        with seqtick.Store(self.path) as st:
            bars = st.bars("MSFT", "1m", 30)
        self.assertEqual(len(bars), 30)
        want = [storefix.bar(1, 60, k) for k in range(670, 700)]
        self.assertEqual([tuple(b) for b in bars], want)
        b = bars[-1]
        self.assertEqual(b.close, Decimal(storefix.dec(want[-1][4])))
        self.assertIsInstance(b.open, Decimal)
        self.assertEqual(b.t_ms, want[-1][0] // 1000000)

    def test_intervals_and_prefix(self):
        with seqtick.Store("sqlite:" + self.path) as st:
            self.assertEqual([tuple(b) for b in st.bars("AAPL", "1s", 3)],
                             [storefix.bar(0, 1, k) for k in range(697, 700)])
            self.assertEqual(st.bars("AAPL", "1h", 10), [])  # none recorded
            self.assertEqual(st.bars("AAPL", 60, 0), [])
            self.assertEqual(st.tickers(), ["AAPL", "MSFT"])

    def test_range(self):
        t0 = storefix.T0_NS
        with seqtick.Store(self.path) as st:
            bars = st.bars("AAPL", "1m", 500, from_ns=t0 + 10 * 60 * 10**9,
                           to_ns=t0 + 14 * 60 * 10**9)
            self.assertEqual([tuple(b) for b in bars],
                             [storefix.bar(0, 60, k) for k in range(10, 15)])
            bars = st.bars("AAPL", "1m", 2, from_ns=t0 + 10 * 60 * 10**9,
                           to_ns=t0 + 14 * 60 * 10**9)
            self.assertEqual([b.start_ns for b in bars],
                             [storefix.bar(0, 60, k)[0] for k in (13, 14)])

    def test_ticks(self):
        with seqtick.Store(self.path) as st:
            ticks = st.ticks("AAPL")
            self.assertEqual(len(ticks), 50)
            for k, q in enumerate(ticks):
                g, tk, ts, pub, p, bid, ask, vol, bsz, asz = storefix.tick(0, k)
                self.assertEqual((q.ticker, q.seq, q.price_e8, q.bid_e8, q.ask_e8, q.volume,
                                  q.ts_ns, q.pub_ns, q.bid_size, q.ask_size),
                                 ("AAPL", tk, p, bid, ask, vol, ts, pub, bsz, asz))
            since = storefix.tick(1, 40)[2]
            self.assertEqual([q.seq for q in st.ticks("MSFT", since=since)], list(range(40, 50)))
            self.assertEqual([q.seq for q in st.ticks("MSFT", since=since, limit=3)],
                             [40, 41, 42])

    def test_errors(self):
        with seqtick.Store(self.path) as st:
            with self.assertRaises(seqtick.UnknownTickerError):
                st.bars("NOPE", "1m", 5)
            with self.assertRaises(KeyError):
                st.ticks("NOPE")
            with self.assertRaises(ValueError):
                st.bars("AAPL", "1x", 5)
            with self.assertRaises(ValueError):
                st.bars("AAPL", "0m", 5)
        missing = os.path.join(self.tmp.name, "missing.db")
        with self.assertRaises(seqtick.SeqtickError):
            seqtick.Store(missing)
        self.assertFalse(os.path.exists(missing))  # read-only: never created
        with self.assertRaisesRegex(seqtick.SeqtickError, "off"):
            seqtick.Store("off")
        with self.assertRaisesRegex(seqtick.SeqtickError, "csv"):
            seqtick.Store("csv:/tmp")
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            with self.assertRaisesRegex(seqtick.SeqtickError, "psycopg2.*docs/clients.md"):
                seqtick.Store("postgresql:host=/nonexistent dbname=x")

    def test_read_only(self):
        with seqtick.Store(self.path) as st:
            with self.assertRaises(sqlite3.OperationalError):
                st._db.execute("DELETE FROM bars")


if __name__ == "__main__":
    unittest.main(verbosity=2)
