#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seqtick-producer with the sim feed, end to end: readiness, live header,
heartbeat, determinism per seed through the segment, quote shape, clean stop,
stats line, a second producer refused, bad configuration refused."""
import math
import os
import signal
import subprocess
import time
import unittest

import prodtest
from prodtest import stktest


class SimFeed(prodtest.ProducerCase):
    def test_ready_live_and_clean_stop(self):
        r, w = os.pipe()
        conf = self.config({"rate": 5000})
        env = dict(os.environ, SEQTICK_READY_FD=str(w))
        p = subprocess.Popen([prodtest.PRODUCER, "-c", conf], env=env, pass_fds=(w,),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(w)
        try:
            self.assertEqual(os.read(r, 1), b"\n")  # blocks until ready (or EOF on death)
            seg = stktest.Segment(self.shm)
            h = seg.header()
            self.assertEqual(h["state"], 1)
            self.assertEqual(h["producer_pid"], p.pid)
            self.assertGreater(h["ticks_total"], 0)
            self.assertEqual(seg.symbols(), ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META",
                                             "TSLA", "JPM"])
            t0, hb0, e0 = h["ticks_total"], h["heartbeat_ns"], h["epoch"]
            stktest.wait_for(lambda: seg.header()["heartbeat_ns"] > hb0, 10, what="heartbeat")
            stktest.wait_for(lambda: seg.header()["ticks_total"] > t0 + 1000, 10, what="ticks")
            self.assertGreater(seg.header()["epoch"], e0)
            q = seg.quote("AAPL")
            self.assertGreater(q["price"], 100 * 10**8)
            self.assertLess(q["price"], 300 * 10**8)
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=20)
            self.assertEqual(p.returncode, 0, err)
            h = seg.header()
            self.assertEqual(h["state"], 0)  # not live
            self.assertEqual(h["producer_pid"], 0)
            self.assertEqual(h["epoch"] % 2, 0)  # the last batch was finished
            self.assertIsNotNone(seg.quote("AAPL"))  # quotes stay
            self.assertIn(b"SIGTERM", err)
            seg.close()
        finally:
            os.close(r)
            if p.poll() is None:
                p.kill()
                p.wait()

    def first_ticks(self, seed, n=100):
        """First n ticks of every symbol of a fresh segment with this seed."""
        stktest.shm_remove(self.shm)
        p = self.start({"rate": 2000, "seed": seed, "symbols": "AAPL,MSFT,NVDA,AMZN"},
                       shm={"history": 4096})
        seg = self.segment(p)
        # The segment is there before the first batch adds its symbols.
        stktest.wait_for(lambda: len(seg.symbols()) == 4 and
                         min(seg.ring_head(s) for s in seg.symbols()) >= n, 20, what="ticks")
        self.stop_ok(p)
        out = {s: [(t["price"], t["bid"], t["ask"], t["volume"], t["bid_size"], t["ask_size"])
                   for t in seg.history_ticks(s) if t["k"] < n] for s in seg.symbols()}
        for s in out:
            self.assertEqual(len(out[s]), n)
        seg.close()
        return out

    def test_same_seed_same_prices(self):
        a = self.first_ticks(11)
        b = self.first_ticks(11)
        c = self.first_ticks(12)
        self.assertEqual(a, b)
        for s in a:
            differ = sum(1 for x, y in zip(a[s], c[s]) if x[0] != y[0])
            self.assertGreater(differ, 90, s)

    def test_quote_shape_in_segment(self):
        p = self.start({"rate": 0})
        seg = self.segment(p)
        stktest.wait_for(lambda: seg.header()["ticks_total"] > 100000, 20, what="ticks")
        self.stop_ok(p)
        for s in seg.symbols():
            ticks = seg.history_ticks(s)
            self.assertEqual(len(ticks), 1024)
            vol = 0
            for t in ticks:
                self.assertLess(t["bid"], t["ask"])
                self.assertLessEqual(t["bid"], t["price"])
                self.assertGreaterEqual(t["ask"], t["price"])
                self.assertGreater(t["bid_size"], 0)
                self.assertGreater(t["ask_size"], 0)
                self.assertGreater(t["volume"], vol)
                self.assertGreater(t["pub_ts_ns"], 0)
                vol = t["volume"]
        seg.close()

    def test_per_symbol_volatility_and_pair_correlation(self):
        """producer.volatility / correlation exceptions reach the model: C moves
        ~40x as much as A, A and B move together, A and C do not."""
        p = self.start({"rate": 0, "symbols": "A,B,C", "volatility": "0.05 C=2.0",
                        "correlation": "0, A:B=0.95"}, shm={"history": 4096})
        seg = self.segment(p)
        stktest.wait_for(lambda: set("ABC") <= set(seg.symbols()) and
                         min(seg.ring_head(s) for s in "ABC") > 5000, 20, what="ticks")
        self.stop_ok(p)
        self.assertIn("volatility 0.05 (+ exceptions), correlation 0 (+ pair exceptions)",
                      p.output())
        prices = {s: {t["k"]: t["price"] for t in seg.history_ticks(s)} for s in "ABC"}
        seg.close()
        ks = sorted(set(prices["A"]) & set(prices["B"]) & set(prices["C"]))
        ks = [k for k in ks if k - 1 in prices["A"] and k - 1 in prices["B"]
              and k - 1 in prices["C"]]
        self.assertGreater(len(ks), 3000)
        ret = {s: [math.log(prices[s][k] / prices[s][k - 1]) for k in ks] for s in "ABC"}

        def sd(x):
            m = sum(x) / len(x)
            return math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1))

        def corr(x, y):
            mx, my = sum(x) / len(x), sum(y) / len(y)
            c = sum((a - mx) * (b - my) for a, b in zip(x, y)) / (len(x) - 1)
            return c / (sd(x) * sd(y))

        ratio = sd(ret["C"]) / sd(ret["A"])
        self.assertGreater(ratio, 30, f"sd ratio C/A {ratio}")
        self.assertLess(ratio, 50, f"sd ratio C/A {ratio}")
        self.assertGreater(corr(ret["A"], ret["B"]), 0.9)
        self.assertLess(abs(corr(ret["A"], ret["C"])), 0.1)

    def test_rate_is_kept(self):
        p = self.start({"rate": 2000})
        seg = self.segment(p)
        stktest.wait_for(lambda: seg.header()["ticks_total"] > 0, 10, what="ticks")
        t0, n0 = time.monotonic(), seg.header()["ticks_total"]
        time.sleep(1.5)
        t1, n1 = time.monotonic(), seg.header()["ticks_total"]
        rate = (n1 - n0) / (t1 - t0)
        self.assertGreater(rate, 1500)
        self.assertLess(rate, 2500)
        # spread over the symbols in turn
        heads = [seg.ring_head(s) for s in seg.symbols()]
        self.assertLessEqual(max(heads) - min(heads), 1)
        self.stop_ok(p)
        seg.close()

    def test_stats_line(self):
        p = self.start({"rate": 1000, "stats_interval_s": 1})
        self.segment(p)
        self.wait_log(p, "stats: ")
        line = [x for x in p.output().splitlines() if "stats: " in x][0]
        self.assertIn("ticks/s", line)
        self.assertIn("bad lines", line)
        self.assertIn("8 symbols", line)
        self.stop_ok(p)

    def test_second_producer_refused(self):
        p = self.start({"rate": 100})
        self.segment(p)
        q = self.start({"rate": 100})
        self.assertNotEqual(q.p.wait(20), 0)
        self.assertIn("another producer", q.output())
        self.assertIsNone(p.p.poll())
        self.stop_ok(p)

    def test_bad_config_refused(self):
        for producer, want in (({"feed": "nope"}, "is not a feed"),
                               ({"feed": "csv:/nonexistent/x"}, "unable to open"),
                               ({"symbols": "A,B,C", "correlation": -0.9}, "correlation"),
                               ({"symbols": "A,B,C",
                                 "correlation": "A:B=0.95 B:C=0.95 A:C=-0.95"},
                                "producer.correlation: with its 3 pair exception(s) the "
                                "correlation matrix of the 3 symbols is not positive definite"),
                               ({"volatility": "IBM=0.3"},
                                "producer.volatility: 'IBM' is not one of producer.symbols")):
            stktest.shm_remove(self.shm)
            p = self.start(producer)
            self.assertEqual(p.p.wait(20), 100, p.output())
            self.assertIn(want, p.output())


if __name__ == "__main__":
    stktest.main_unittest()
