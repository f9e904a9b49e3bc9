#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seqtick-producer with stdin and exec: feeds: bad lines counted and skipped
while the good ones around them land, the symbol table filling up, an
ingestor that crashes is restarted, one that ignores SIGTERM is killed after
the grace, stderr forwarded, and the example ingestor."""
import json
import os
import re
import signal
import subprocess
import time

import prodtest
from prodtest import stktest


def line(**kw):
    return (json.dumps(kw) + "\n").encode()


class StdinFeed(prodtest.ProducerCase):
    def test_bad_lines_counted_good_lines_land(self):
        p = self.start({"feed": "stdin"}, stdin=subprocess.PIPE)
        seg = self.segment(p)
        bad = [
            b"this is not json\n",
            b'{"price":"1.00"}\n',                                  # missing symbol
            b'{"symbol":"AAPL","price":"abc"}\n',
            b'{"symbol":"AAPL","price":1e400}\n',
            b'{"symbol":"' + b"A" * 40 + b'","price":"1"}\n',       # 40-char symbol
            b'{"symbol":"AAPL","price":"1","note":"\xff\xfe"}\n',   # invalid UTF-8
            b'{"symbol":"AAPL","price":"1","pad":"' + b"x" * (1 << 20) + b'"}\n',  # 1 MB
        ]
        good = [
            line(symbol="AAPL", price="189.25", bid="189.24", ask="189.26", bid_size=300,
                 ask_size=200, volume=1000, ts_ns=1700000000000000000),
            line(symbol="MSFT", price=415.5, volume=5),
            line(symbol="AAPL", price="189.30", volume=1100),
        ]
        data = good[0] + b"".join(bad[:4]) + good[1] + b"".join(bad[4:]) + good[2]
        p.p.stdin.write(data)
        p.p.stdin.flush()
        stktest.wait_for(lambda: seg.header()["ticks_total"] == 3 and
                         seg.header()["bad_input"] == len(bad), 20,
                         what=f"3 ticks and {len(bad)} bad lines; log:\n{p.output()}")
        a = seg.quote("AAPL")
        self.assertEqual(a["price"], 18930000000)
        self.assertEqual(a["volume"], 1100)
        hist = seg.history_ticks("AAPL")
        self.assertEqual([(t["price"], t["bid"], t["ask"], t["bid_size"], t["ask_size"])
                          for t in hist][0], (18925000000, 18924000000, 18926000000, 300, 200))
        self.assertEqual(hist[0]["src_ts_ns"], 1700000000000000000)
        m = seg.quote("MSFT")
        self.assertEqual(m["price"], 41550000000)
        self.assertEqual((m["bid"], m["ask"]), (41550000000, 41550000000))
        self.assertEqual(sorted(seg.symbols()), ["AAPL", "MSFT"])
        for why in ("not valid JSON", "missing", "price is not a decimal", "price out of range",
                    "longer than 31", "invalid UTF-8", "longer than 65536"):
            self.wait_log(p, why)
        # stdin closed: the producer stays up with its quotes and heartbeat
        p.p.stdin.close()
        self.wait_log(p, "end of input")
        hb = seg.header()["heartbeat_ns"]
        stktest.wait_for(lambda: seg.header()["heartbeat_ns"] > hb, 10, what="heartbeat")
        self.stop_ok(p)
        seg.close()

    def test_bad_line_log_is_rate_limited(self):
        p = self.start({"feed": "stdin"}, stdin=subprocess.PIPE)
        seg = self.segment(p)
        p.p.stdin.write(b"".join(b"junk %d\n" % i for i in range(500)) +
                        line(symbol="OK", price="2"))
        p.p.stdin.flush()
        stktest.wait_for(lambda: seg.header()["ticks_total"] == 1, 20, what="the good line")
        self.assertEqual(seg.header()["bad_input"], 500)
        # the first 10 are logged, the rest only counted (and summarised later)
        self.assertEqual(p.output().count("bad line skipped"), 10)
        self.stop_ok(p)
        seg.close()

    def test_heartbeat_without_ticks(self):
        p = self.start({"feed": "stdin", "heartbeat_ms": 20}, stdin=subprocess.PIPE)
        seg = self.segment(p)
        beats = set()
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            beats.add(seg.header()["heartbeat_ns"])
            time.sleep(0.01)
        self.assertGreaterEqual(len(beats), 10)  # ~50 expected at 20 ms
        self.assertEqual(seg.header()["ticks_total"], 0)
        self.stop_ok(p)
        seg.close()

    def test_symbol_table_full(self):
        p = self.start({"feed": "stdin"}, shm={"capacity": 2}, stdin=subprocess.PIPE)
        seg = self.segment(p)
        for s in ("A", "B", "C", "D", "A", "C"):
            p.p.stdin.write(line(symbol=s, price="1"))
        p.p.stdin.flush()
        stktest.wait_for(lambda: seg.header()["symbols_dropped"] == 3, 20, what="3 dropped")
        h = seg.header()
        self.assertEqual(h["ticks_total"], 3)
        self.assertEqual(h["bad_input"], 0)
        self.assertEqual(seg.symbols(), ["A", "B"])
        self.assertEqual(p.output().count("symbol table full"), 1)  # logged once
        self.stop_ok(p)
        seg.close()


class ExecFeed(prodtest.ProducerCase):
    def script(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_crashing_ingestor_restarted(self):
        runs = os.path.join(self.dir, "runs")
        sh = self.script("crash.sh", f"""
echo run >> {runs}
n=$(wc -l < {runs})
echo "{{\\"symbol\\":\\"RUN\\",\\"price\\":\\"$n\\",\\"volume\\":$n}}"
echo "hello from run $n" >&2
exit 3
""")
        p = self.start({"feed": "exec:sh " + sh})
        seg = self.segment(p)
        stktest.wait_for(lambda: seg.quote("RUN") and seg.quote("RUN")["volume"] >= 3, 20,
                         what=f"third run; log:\n{p.output()}")
        self.wait_log(p, "restarting in 400 ms")  # the third death is logged
        out = p.output()
        self.assertIn("exited with status 3", out)
        self.assertIn("restarting in", out)
        self.wait_log(p, "]: hello from run 2")  # stderr forwarded, with the pid
        self.assertRegex(p.output(), r"ingestor\[[1-9]\d*\]: hello from run 1")
        # quick deaths back off: 100, 200, 400 ms ...
        delays = [int(x) for x in re.findall(r"restarting in (\d+) ms", out)]
        self.assertEqual(delays[:3], [100, 200, 400])
        self.assertEqual(seg.header()["bad_input"], 0)
        self.stop_ok(p)
        seg.close()

    def test_sigterm_ignoring_ingestor_killed_after_grace(self):
        pidfile = os.path.join(self.dir, "pid")
        sh = self.script("stubborn.sh", f"""
trap '' TERM
echo $$ > {pidfile}
echo '{{"symbol":"STUB","price":"1.5"}}'
while :; do sleep 0.05; done
""")
        p = self.start({"feed": "exec:exec sh " + sh, "ingest_grace_ms": 700})
        seg = self.segment(p)
        stktest.wait_for(lambda: seg.quote("STUB"), 20, what="the ingestor's tick")
        with open(pidfile) as f:
            pid = int(f.read())
        self.assertTrue(stktest.alive(pid))
        t0 = time.monotonic()
        p.p.send_signal(signal.SIGTERM)
        rc = p.p.wait(20)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, p.output())
        self.assertGreaterEqual(took, 0.6)
        self.assertLess(took, 10)
        self.assertIn("SIGKILL", p.output())
        stktest.wait_for(lambda: not stktest.alive(pid), 10, what="ingestor gone")
        seg.close()

    def test_example_ingestor(self):
        ing = os.path.join(stktest.SOURCE, "examples", "ingestors", "csv_replay.py")
        sample = os.path.join(stktest.SOURCE, "examples", "data", "sample")
        files = " ".join(os.path.join(sample, f) for f in sorted(os.listdir(sample)))
        p = self.start({"feed": f"exec:python3 {ing} --speed 0 --loop {files}",
                        "ingest_grace_ms": 5000})
        seg = self.segment(p)
        stktest.wait_for(lambda: seg.header()["ticks_total"] >= 240, 30,
                         what=f"ticks; log:\n{p.output()}")
        self.assertEqual(sorted(seg.symbols()), ["AAPL", "MSFT", "NVDA", "TSLA"])
        self.assertEqual(seg.header()["bad_input"], 0)
        self.wait_log(p, "replaying 240 rows")  # its stderr, forwarded
        q = seg.quote("NVDA")
        self.assertLess(q["bid"], q["ask"])
        self.assertEqual(q["bid_size"] % 100, 0)
        t0 = time.monotonic()
        self.stop_ok(p)
        self.assertLess(time.monotonic() - t0, 4.5)  # it leaves on SIGTERM: no SIGKILL
        self.assertNotIn("SIGKILL", p.output())
        seg.close()


if __name__ == "__main__":
    stktest.main_unittest()
