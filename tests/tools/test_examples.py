# SPDX-License-Identifier: MIT
"""The example strategies (examples/*.py and the C ema_crossover) run for a
few seconds against stk-test-writer and print what they promise; the paper
trader's books balance; SIGTERM ends them cleanly; and, when the supervisor
and the producer are built, they run as [program.NAME] under the supervisor."""
import json
import os
import re
import signal
import sys
import tempfile
import time
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import stktest  # noqa: E402


def script(name):
    return os.path.join(toolstest.EXAMPLES_DIR, name)


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 1500 ticks/s over 3 symbols: the writer's triangle wave (period 200
        # ticks) turns every 0.4 s, so crossovers and RSI extremes are frequent.
        cls.shm = stktest.unique_shm("ex")
        cls.writer = toolstest.Writer(cls.shm, "--rate", 1500, "--seconds", 120)

    @classmethod
    def tearDownClass(cls):
        cls.writer.close()
        stktest.shm_remove(cls.shm)

    def py(self, name, *args, rc=0, timeout=30):
        r = toolstest.run([sys.executable, script(name), "--shm", self.shm, *map(str, args)],
                          python=True, timeout=timeout)
        self.assertEqual(r.returncode, rc, f"{name}: rc {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def test_sma_crossover_signals(self):
        out = self.py("sma_crossover.py", "--seconds", 3, "--fast", 5, "--slow", 20)
        self.assertIn("sma_crossover: watching 3 tickers", out)
        buys = re.findall(r"sma_crossover: BUY (\w+) at (\d+\.\d+) \(SMA5 [\d.]+ > SMA20", out)
        sells = re.findall(r"sma_crossover: SELL (\w+) at (\d+\.\d+) \(SMA5 [\d.]+ < SMA20", out)
        self.assertGreater(len(buys), 2, out)
        self.assertGreater(len(sells), 2, out)
        self.assertEqual({t for t, _ in buys + sells}, {"AAPL", "MSFT", "NVDA"})
        m = re.search(r"done: (\d+) BUY and (\d+) SELL signals over 3 tickers", out)
        self.assertEqual((int(m[1]), int(m[2])), (len(buys), len(sells)))
        self.py("sma_crossover.py", "--fast", 20, "--slow", 5, rc=2)  # argparse usage error

    def test_rsi_signals_and_ticker_filter(self):
        out = self.py("rsi.py", "--seconds", 3, "--tickers", "MSFT", "--period", 14)
        self.assertIn("rsi: watching 1 tickers", out)
        sig = re.findall(r"rsi: (BUY|SELL) (\w+) at [\d.]+ \(RSI14 ([\d.]+) (\w+)\)", out)
        self.assertTrue(any(s[0] == "BUY" for s in sig), out)
        self.assertTrue(any(s[0] == "SELL" for s in sig), out)
        for side, t, v, what in sig:
            self.assertEqual(t, "MSFT")
            # the RSI is printed with one decimal: 70.04 (> 70) shows as "70.0"
            if side == "BUY":
                self.assertLessEqual(float(v), 30)
                self.assertEqual(what, "oversold")
            else:
                self.assertGreaterEqual(float(v), 70)
                self.assertEqual(what, "overbought")
        self.assertIn("done:", out)
        out = self.py("rsi.py", "--seconds", 2, "--tickers", "NOPE", rc=100)
        self.assertIn("unknown tickers", out)

    def test_paper_trader_books_balance(self):
        out = self.py("paper_trader.py", "--seconds", 3, "--cash", 10000, "--qty", 7,
                      "--report", 0.5)
        self.assertIn("starting cash 10000", out)
        buys = re.findall(r"TRADE BUY 7 (\w+) @ (\d+\.\d+)\s+cash (\S+)", out)
        sells = re.findall(r"TRADE SELL 7 (\w+) @ (\d+\.\d+)\s+P&L (\S+)\s+cash (\S+)", out)
        self.assertGreater(len(buys), 1, out)
        self.assertGreater(len(sells), 1, out)
        self.assertGreaterEqual(len(re.findall(r"paper_trader: P&L: cash", out)), 2)
        m = re.search(r"summary: cash (\S+) equity (\S+) realized (\S+) unrealized (\S+) "
                      r"total (\S+) trades (\d+)", out)
        self.assertIsNotNone(m, out)
        cash, equity, realized, unrealized, total = map(Decimal, m.groups()[:5])
        self.assertEqual(int(m[6]), len(buys) + len(sells))
        # Exact bookkeeping: realized P&L is the sum of the closed trades' P&L,
        # cash replays from the trades, and equity - start = total.
        self.assertEqual(realized, sum((Decimal(p) for *_, p, _c in sells), Decimal(0)))
        c = Decimal(10000)
        events = sorted([(out.index(f"TRADE BUY 7 {t} @ {px}"), -Decimal(px) * 7)
                         for t, px, _ in buys] +
                        [(out.index(f"TRADE SELL 7 {t} @ {px}"), Decimal(px) * 7)
                         for t, px, _, _ in sells])
        for _, delta in events:
            c += delta
        self.assertEqual(c, cash)
        self.assertEqual(equity - Decimal(10000), total)
        self.assertEqual(realized + unrealized, total)

    def test_sigterm_ends_cleanly(self):
        p = stktest.Proc([sys.executable, script("sma_crossover.py"), "--shm", self.shm],
                         env=toolstest.child_env(python=True))
        try:
            stktest.wait_for(lambda: "watching" in p.output(), timeout=15, what="strategy start")
            time.sleep(1.0)
            self.assertEqual(p.stop(signal.SIGTERM), 0, p.output())
            self.assertIn("done:", p.output())
        finally:
            p.close()

    def test_waits_for_a_segment_that_appears_later(self):
        shm = stktest.unique_shm("ex-late")
        self.addCleanup(stktest.shm_remove, shm)
        p = stktest.Proc([sys.executable, script("sma_crossover.py"), "--shm", shm,
                          "--seconds", "8"], env=toolstest.child_env(python=True))
        self.addCleanup(p.close)
        stktest.wait_for(lambda: "waiting for the segment" in p.output(), timeout=15,
                         what="the strategy waiting")
        w = toolstest.Writer(shm, "--rate", 1500, "--seconds", 30)
        self.addCleanup(w.close)
        stktest.wait_for(lambda: "BUY" in p.output() and "SELL" in p.output(), timeout=15,
                         what="signals after the segment appeared")

    def test_c_example_strategy(self):
        shm = stktest.unique_shm("ex-c")
        self.addCleanup(stktest.shm_remove, shm)
        w = toolstest.Writer(shm, "--rate", 1500, "--seconds", 30)
        self.addCleanup(w.close)
        p = stktest.Proc([toolstest.example_c_path(), "--shm", shm, "--seconds", "4",
                          "AAPL", "NVDA"], env=toolstest.child_env())
        self.addCleanup(p.close)
        stktest.wait_for(lambda: "watching 2 tickers" in p.output(), timeout=15,
                         what="ema_crossover start")
        time.sleep(1.0)
        w.p.send_signal(signal.SIGUSR1)
        w.wait_line("replaced gen=2")
        self.assertEqual(p.p.wait(20), 0, p.output())
        out = p.output()
        self.assertIn(f"segment replaced, re-opened {shm}", out)
        after = out.split("segment replaced")[1]
        self.assertRegex(after, r"(BUY|SELL) (AAPL|NVDA) at 1\d\d\d\.\d+")  # generation 2
        self.assertRegex(out, r"BUY (AAPL|NVDA) at [\d.]+ \(fast EMA [\d.]+ > slow EMA")
        self.assertRegex(out, r"SELL (AAPL|NVDA) at [\d.]+ \(fast EMA [\d.]+ < slow EMA")
        self.assertNotIn("MSFT", out)
        self.assertRegex(out, r"done: \d+ signals")

    def test_under_the_supervisor(self):
        sup = os.path.join(stktest.BUILD, "supervisor", "seqtick-supervisor")
        prod = os.path.join(stktest.BUILD, "producer", "seqtick-producer")
        if not (os.path.exists(sup) and os.path.exists(prod)):
            self.skipTest(f"needs {sup} and {prod} (not built in this tree)")
        shm = stktest.unique_shm("ex-sup")
        tmp = tempfile.TemporaryDirectory()
        py = sys.executable
        conf = stktest.write_config(tmp.name, {
            "shm": {"name": shm, "capacity": 64, "history": 64},
            "producer": {"feed": "sim", "symbols": "AAPL,MSFT,NVDA", "rate": 3000},
            "server": {"listen": f"127.0.0.1:{stktest.free_port()}"},
            "supervisor": {"pidfile": os.path.join(tmp.name, "s.pid"), "grace_ms": 2000,
                           "bindir": os.path.dirname(prod)},
            "program.sma": {"command": f"exec {py} {script('sma_crossover.py')} --shm {shm}"},
            "program.paper": {"command": f"exec {py} {script('paper_trader.py')} --shm {shm} "
                                         f"--report 1"},
        })
        status = os.path.join(tmp.name, "s.pid.status")
        p = stktest.Proc([sup, "-c", conf], env=toolstest.child_env(python=True))
        try:
            stktest.wait_for(lambda: re.search(r"sma_crossover: (BUY|SELL)", p.output()) and
                             "paper_trader: P&L:" in p.output(), timeout=25,
                             what="strategy output under the supervisor")
            r = toolstest.run([toolstest.cli_path(), "-c", conf, "status", "--json"])
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = json.loads(r.stdout)
            self.assertIsNotNone(doc["supervisor"], f"no {status}")
            kids = {c["name"]: c for c in doc["supervisor"]["children"]}
            for name in ("sma", "paper", "producer"):
                self.assertEqual(kids[name]["state"], "running", doc)
            self.assertEqual(doc["segment"]["state"], "live")
            self.assertEqual(p.stop(signal.SIGTERM, timeout=20), 0, p.output())
            self.assertIn("paper_trader: summary:", p.output())
        finally:
            p.close()
            stktest.shm_remove(shm)
            tmp.cleanup()


if __name__ == "__main__":
    stktest.main_unittest()
