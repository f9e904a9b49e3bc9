#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seqtick-producer with the csv: feed: order across files, speed 0 vs 1
pacing, bad rows named file:line and skipped, loop, the shipped sample."""
import os
import time

import prodtest
from prodtest import stktest

T0 = 1700000000


class CsvFeed(prodtest.ProducerCase):
    def write(self, name, text):
        path = os.path.join(self.dir, "data", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_until_done(self, producer):
        p = self.start(producer)
        seg = self.segment(p)
        self.wait_log(p, "replay finished")
        return p, seg

    def test_order_across_files(self):
        # one symbol split over three files (ms, s and ns timestamps): price k at time k
        self.write("a.csv", "timestamp,symbol,price,volume\n" +
                   "".join(f"{(T0 + k) * 1000},X,{k},{k}\n" for k in range(1, 31, 3)))
        self.write("b.csv", "".join(f"{T0 + k}.0,X,{k},{k}\n" for k in range(2, 31, 3)))
        self.write("c.csv", "".join(f"{(T0 + k) * 10**9},X,{k},{k}\n" for k in range(3, 31, 3)))
        p, seg = self.run_until_done({"feed": "csv:" + os.path.join(self.dir, "data"),
                                      "speed": 0})
        ticks = seg.history_ticks("X")
        self.assertEqual([t["price"] // 10**8 for t in ticks], list(range(1, 31)))
        self.assertEqual([t["src_ts_ns"] for t in ticks],
                         [(T0 + k) * 10**9 for k in range(1, 31)])
        self.assertEqual(seg.header()["bad_input"], 0)
        self.assertIn("3 files", p.output())
        self.stop_ok(p)
        seg.close()

    def pacing(self, speed):
        stktest.shm_remove(self.shm)
        # five rows half a second apart: 2 s of data
        path = self.write(f"pace{speed}.csv",
                          "".join(f"{T0 * 1000 + 500 * k},P,{k + 1},1\n" for k in range(5)))
        p, seg = self.run_until_done({"feed": "csv:" + path, "speed": speed})
        ticks = seg.history_ticks("P")
        self.assertEqual(len(ticks), 5)
        span = (ticks[-1]["pub_ts_ns"] - ticks[0]["pub_ts_ns"]) / 1e9
        gaps = [(b["pub_ts_ns"] - a["pub_ts_ns"]) / 1e9 for a, b in zip(ticks, ticks[1:])]
        self.stop_ok(p)
        seg.close()
        return span, gaps

    def test_speed_0_vs_1(self):
        span1, gaps1 = self.pacing(1)
        self.assertGreaterEqual(span1, 1.95)
        self.assertLess(span1, 4.0)
        for g in gaps1:
            self.assertGreaterEqual(g, 0.45)
        span0, _ = self.pacing(0)
        self.assertLess(span0, 0.5)
        span4, _ = self.pacing(4)  # four times real time: half a second
        self.assertGreaterEqual(span4, 0.45)
        self.assertLess(span4, 1.5)

    def test_bad_rows_reported_and_skipped(self):
        path = self.write("bad.csv", "timestamp,symbol,price,volume\n"
                          f"{T0},G,1,1\n"
                          f"{T0 + 1},G,abc,1\n"
                          f"{T0 + 2},G,2\n"
                          f"{T0 + 3},G G,3,1\n"
                          f"{T0 + 4},G,4,1\n"
                          "timestamp,symbol,price,volume\n"
                          f"{T0 + 5},G,1e400,1\n"
                          f"{T0 + 6},G,6,1\n")
        p, seg = self.run_until_done({"feed": "csv:" + path, "speed": 0})
        out = p.output()
        for line, why in ((3, "bad price"), (4, "too few fields"), (5, "bad symbol"),
                          (7, "timestamp is not a number"), (8, "bad price")):
            self.assertIn(f"{path}:{line}: bad row skipped: {why}", out)
        self.assertNotIn(f"{path}:1:", out)  # the header is not an error
        self.assertEqual(seg.header()["bad_input"], 5)
        self.assertEqual([t["price"] // 10**8 for t in seg.history_ticks("G")], [1, 4, 6])
        self.stop_ok(p)
        seg.close()

    def test_loop(self):
        path = self.write("loop.csv", "".join(f"{T0 + k},L,{k + 1},1\n" for k in range(10)))
        p = self.start({"feed": "csv:" + path, "speed": 0, "loop": True})
        seg = self.segment(p)
        stktest.wait_for(lambda: seg.header()["ticks_total"] > 1000, 20, what="looped ticks")
        self.assertNotIn("replay finished", p.output())
        self.stop_ok(p)
        seg.close()

    def test_shipped_sample(self):
        sample = os.path.join(stktest.SOURCE, "examples", "data", "sample")
        p, seg = self.run_until_done({"feed": "csv:" + sample, "speed": 0})
        self.assertEqual(sorted(seg.symbols()), ["AAPL", "MSFT", "NVDA", "TSLA"])
        h = seg.header()
        self.assertEqual(h["ticks_total"], 240)
        self.assertEqual(h["bad_input"], 0)
        q = seg.quote("AAPL")
        self.assertLess(q["bid"], q["ask"])
        self.stop_ok(p)
        seg.close()


if __name__ == "__main__":
    stktest.main_unittest()
