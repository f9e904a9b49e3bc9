# SPDX-License-Identifier: MIT
"""The C++ example strategy examples/spread_watch.cpp against stk-test-writer:
its spreads are the writer's exact bid/ask (price ± 0.01, so the spread in
basis points follows the price's triangle wave), WIDE / NARROW come exactly
when the spread crosses --bps, it follows a replaced segment, waits for one
that appears later, and ends cleanly on SIGTERM / SIGINT."""
import os
import re
import signal
import sys
import time
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import stktest  # noqa: E402

LINE = re.compile(r"^(WIDE|NARROW) (\S+) (\d+\.\d\d) bps (>|<=) ([\d.]+) "
                  r"\(bid (\d+\.\d+) ask (\d+\.\d+)\)$", re.M)
SUMMARY = re.compile(r"^spread_watch: (\S+): (\d+) quotes, spread ([\d.]+)\.\.([\d.]+) bps, "
                     r"(\d+) widenings$", re.M)
STEP = Decimal("0.01234567")  # the writer's price step per tick of its triangle


def spread_watch(*args):
    return [stktest.binary("examples", "spread_watch"), *map(str, args)]


def bps(bid, ask):
    """Spread in basis points of the mid, computed independently (exact)."""
    return Decimal(20000) * (ask - bid) / (ask + bid)


class SpreadWatchTest(unittest.TestCase):
    def writer(self, shm):
        w = toolstest.Writer(shm, "--rate", 1500, "--seconds", 30)
        self.addCleanup(w.close)
        self.addCleanup(stktest.shm_remove, shm)
        return w

    def start(self, *args):
        p = stktest.Proc(spread_watch(*args), env=toolstest.child_env())
        self.addCleanup(p.close)
        return p

    def check_line(self, m, threshold, gen=1):
        """One WIDE/NARROW line against the writer's model (generation gen)."""
        kind, ticker, shown, op, thr, bid, ask = m.groups()
        bid, ask = Decimal(bid), Decimal(ask)
        self.assertEqual(ask - bid, Decimal("0.02"), m[0])
        i = ["AAPL", "MSFT", "NVDA"].index(ticker)
        tri = ((bid + ask) / 2 - 100 - i - (gen - 1) * 1000) / STEP
        self.assertEqual(tri, int(tri), f"{m[0]}: not a price the writer wrote")
        self.assertTrue(0 <= tri <= 100, m[0])
        exact = bps(bid, ask)
        self.assertEqual(shown, f"{float(exact):.2f}", m[0])
        self.assertEqual(Decimal(thr), threshold, m[0])
        if kind == "WIDE":
            self.assertEqual(op, ">", m[0])
            self.assertGreater(exact, threshold, m[0])
        else:
            self.assertEqual(op, "<=", m[0])
            self.assertLessEqual(exact, threshold, m[0])

    def test_widen_and_narrow_from_the_writer(self):
        # AAPL's spread is 2 bps at 100.00 and 1.9756 at 101.2346: above 1.995
        # for 41 of every 200 ticks (0.4 s a period here), so it crosses both
        # ways several times in 2 s; MSFT (101..102.23) and NVDA never do.
        shm = stktest.unique_shm("spread")
        self.writer(shm)
        r = toolstest.run(spread_watch("--shm", shm, "--seconds", 2, "--bps", "1.995"), timeout=30)
        out = r.stdout
        self.assertEqual(r.returncode, 0, f"{out}\n{r.stderr}")
        self.assertIn(f"spread_watch: watching 3 tickers on {shm} (spread > 1.995 bps)", out)
        lines = list(LINE.finditer(out))
        for m in lines:
            self.check_line(m, Decimal("1.995"))
        kinds = [m[1] for m in lines]
        self.assertEqual({m[2] for m in lines}, {"AAPL"}, out)
        self.assertGreaterEqual(kinds.count("WIDE"), 2, out)
        self.assertGreaterEqual(kinds.count("NARROW"), 2, out)
        # a state change per line: WIDE, NARROW, WIDE, ... (the first quote
        # says nothing when it is narrow)
        alternating = (["WIDE", "NARROW"] * len(kinds))[:len(kinds)]
        self.assertEqual(kinds, alternating, out)
        summary = {m[1]: m for m in SUMMARY.finditer(out)}
        self.assertEqual(set(summary), {"AAPL", "MSFT", "NVDA"}, out)
        for i, t in enumerate(["AAPL", "MSFT", "NVDA"]):
            quotes, wid = int(summary[t][2]), int(summary[t][5])
            lo, hi = float(summary[t][3]), float(summary[t][4])
            self.assertGreater(quotes, 50, out)
            self.assertGreaterEqual(lo, 200 / (101.23456700 + i) - 0.005, out)
            self.assertLessEqual(hi, 200 / (100 + i) + 0.005, out)
            self.assertLessEqual(lo, hi)
            self.assertEqual(wid, kinds.count("WIDE") if t == "AAPL" else 0, out)
        self.assertRegex(out, rf"spread_watch: done: {kinds.count('WIDE')} widenings over 3 "
                              r"tickers\n")

    def test_one_ticker_follows_a_replaced_segment_until_sigterm(self):
        # MSFT is always above 1.9 bps in generation 1 (one WIDE, then
        # nothing), and at 0.18 bps in generation 2 (prices + 1000): the
        # spread state survives the switch, so it narrows exactly once.
        shm = stktest.unique_shm("spread-r")
        w = self.writer(shm)
        p = self.start("--shm", shm, "--bps", "1.9", "MSFT")
        stktest.wait_for(lambda: "WIDE MSFT" in p.output(), timeout=15, what="WIDE MSFT")
        self.assertIn(f"spread_watch: watching 1 tickers on {shm}", p.output())
        time.sleep(0.3)
        w.p.send_signal(signal.SIGUSR1)
        w.wait_line("replaced gen=2")
        stktest.wait_for(lambda: "NARROW MSFT" in p.output(), timeout=15, what="NARROW MSFT")
        self.assertEqual(p.stop(signal.SIGTERM), 0, p.output())
        out = p.output()
        lines = list(LINE.finditer(out))
        self.assertEqual([(m[1], m[2]) for m in lines], [("WIDE", "MSFT"), ("NARROW", "MSFT")],
                         out)
        self.check_line(lines[0], Decimal("1.9"))
        self.check_line(lines[1], Decimal("1.9"), gen=2)
        self.assertLess(out.index(f"segment replaced, re-opened {shm}"), out.index("NARROW MSFT"))
        self.assertRegex(out, r"spread_watch: MSFT: \d+ quotes, spread 0\.18\.\.1\.9\d bps, "
                              r"1 widenings\n")
        self.assertIn("spread_watch: done: 1 widenings over 1 tickers\n", out)
        self.assertNotIn("AAPL", out)

    def test_waits_for_the_segment_then_sigint(self):
        shm = stktest.unique_shm("spread-late")
        self.addCleanup(stktest.shm_remove, shm)
        p = self.start("--shm", shm, "--bps", "1.99", "AAPL")
        stktest.wait_for(lambda: f"waiting for the segment {shm}" in p.output(), timeout=15,
                         what="spread_watch waiting")
        self.writer(shm)
        stktest.wait_for(lambda: "WIDE AAPL" in p.output(), timeout=15,
                         what="WIDE AAPL after the segment appeared")
        self.assertEqual(p.stop(signal.SIGINT), 0, p.output())
        self.assertIn("spread_watch: done:", p.output())

    def test_usage_and_errors(self):
        for args in (["--bps", "0"], ["--bps", "x"], ["--seconds", "-1"], ["--nope"]):
            r = toolstest.run(spread_watch(*args))
            self.assertEqual(r.returncode, 100, f"{args}: {r.stdout}{r.stderr}")
        r = toolstest.run(spread_watch("--help"))
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: spread_watch", r.stdout)
        r = toolstest.run(spread_watch("--shm", "no-slash", "--seconds", 1))
        self.assertEqual(r.returncode, 111, r.stdout)
        self.assertIn("unable to open segment 'no-slash'", r.stderr)
        r = toolstest.run(spread_watch("--shm", stktest.unique_shm("none"), "--seconds", 0.3))
        self.assertEqual(r.returncode, 111, r.stdout)
        self.assertIn("no segment", r.stderr)


if __name__ == "__main__":
    stktest.main_unittest()
