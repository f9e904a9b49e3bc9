# SPDX-License-Identifier: MIT
"""examples/bars_warmup.py: it warms its moving averages from the bars of a
recorder store (tests/lib/storefix.py; exact SMA values checked), starts
cold where nothing is stored, then builds live bars from stk-test-writer's
segment and keeps going; SIGTERM-free exit at --seconds with a summary."""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import stktest  # noqa: E402
import storefix  # noqa: E402

SCRIPT = os.path.join(toolstest.EXAMPLES_DIR, "bars_warmup.py")


class BarsWarmup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="stk-warm-")
        self.addCleanup(self.tmp.cleanup)
        self.db = os.path.join(self.tmp.name, "seqtick.db")
        storefix.make(self.db, nbars=30, intervals=(1, 60))
        self.shm = stktest.unique_shm("warm")
        self.addCleanup(stktest.shm_remove, self.shm)
        self.w = toolstest.Writer(self.shm, "--rate", 1500, "--seconds", 60)
        self.addCleanup(self.w.close)

    def run_ex(self, *args, rc=0):
        r = toolstest.run([sys.executable, SCRIPT, "--shm", self.shm, *map(str, args)],
                          python=True, timeout=60)
        self.assertEqual(r.returncode, rc, f"rc {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def test_warm_then_live(self):
        out = self.run_ex("--store", "sqlite:" + self.db, "--interval", "1s", "--clock", "pub",
                          "--fast", 5, "--slow", 20, "--seconds", 4)
        for i, t in enumerate(storefix.SYMS):
            closes = [storefix.bar(i, 1, k)[4] / 1e8 for k in range(10, 30)]
            fast, slow = sum(closes[-5:]) / 5, sum(closes) / 20
            last_ms = storefix.bar(i, 1, 29)[0] // 1000000
            self.assertIn(f"warm {t}: 20 1s bars up to {last_ms} ms, SMA5 {fast:.4f} "
                          f"SMA20 {slow:.4f}", out)
        self.assertIn("cold NVDA: 0 stored 1s bars, 20 needed", out)
        m = re.search(r"done: (\d+) live bars, (\d+) BUY and (\d+) SELL signals over 3 tickers",
                      out)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m[1]), 3, out)  # ~3 bars closed per ticker in 4 s

    def test_short_store_and_errors(self):
        out = self.run_ex("--store", self.db, "--interval", "1m", "--slow", 40, "--tickers",
                          "AAPL", "--seconds", 1)
        self.assertIn("cold AAPL: 30 stored 1m bars, 40 needed", out)
        out = self.run_ex("--store", os.path.join(self.tmp.name, "none.db"), "--seconds", 1,
                          rc=111)
        self.assertIn("cannot read the store", out)
        self.run_ex("--store", self.db, "--interval", "1x", rc=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
