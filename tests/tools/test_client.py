# SPDX-License-Identifier: MIT
"""The Python client (clients/python/seqtick) against stk-test-writer: exact
values, errors, a replaced segment, no torn quote at full write speed,
wait() wake-up / timeout (and the GIL released), update iteration."""
import errno
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import dec, model, stktest  # noqa: E402

import seqtick  # noqa: E402

SYMS = ["AAPL", "MSFT", "NVDA"]


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.shm = stktest.unique_shm("cli-py")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.close()
        stktest.shm_remove(self.shm)

    def writer(self, *args, **kw):
        w = toolstest.Writer(self.shm, *args, **kw)
        self.procs.append(w)
        return w

    def check_quote(self, q, i, c, gen=1):
        price, bid, ask, vol, ts, bsz, asz = model(i, c, gen)
        self.assertEqual((q.price_e8, q.bid_e8, q.ask_e8, q.volume, q.ts_ns, q.bid_size,
                          q.ask_size), (price, bid, ask, vol, ts, bsz, asz))
        self.assertEqual(q.price, dec(price))
        self.assertEqual(q.bid, dec(bid))
        self.assertEqual(q.ask, dec(ask))
        self.assertIsInstance(q.price, Decimal)
        self.assertEqual(q.price_f, float(dec(price)))
        self.assertEqual(q.spread, Decimal("0.02"))

    def test_values_equal_what_was_written(self):
        w = self.writer("--rate", 0, "--count", 3 * 57, "--unwritten", "ZZZ")
        w.finish()
        with seqtick.Segment(self.shm) as seg:
            self.assertEqual(seg.tickers(), SYMS + ["ZZZ"])
            for i, t in enumerate(SYMS):
                q = seg.quote(t)
                self.assertEqual(q.ticker, t)
                self.check_quote(q, i, 57)
                self.assertEqual(str(q.price), str(dec(model(i, 57)[0])))
                self.assertGreater(q.pub_ns, 0)
                self.assertGreaterEqual(q.age, 0)
                self.assertLess(q.age, 60)
                hist = seg.history(t, 5)
                self.assertEqual([h.seq for h in hist], [52, 53, 54, 55, 56])
                for k, h in enumerate(hist):
                    self.check_quote(h, i, 53 + k)
                self.assertEqual(len(seg.history(t)), 57)
                self.assertEqual(seg.history(t, 0), [])
            info = seg.info()
            self.assertEqual(info["nsymbols"], 4)
            self.assertEqual(info["ticks_total"], 3 * 57)
            self.assertEqual(info["state"], "live")
            self.assertEqual(info["generation"], 1)
            allq = seg.quotes()
            self.assertEqual(sorted(allq), SYMS)  # ZZZ never written: left out
            q = seg.quote("AAPL")
            import decimal
            with decimal.localcontext() as ctx:  # a caller's context never rounds prices
                ctx.prec = 3
                self.assertEqual(str(q.price), str(dec(model(0, 57)[0])))
                mid = q.mid
            self.assertEqual(mid, (q.bid + q.ask) / 2)
            self.assertEqual(mid, q.price)  # the writer's bid/ask straddle the price
            with self.assertRaises((AttributeError, TypeError)):
                q.price = 1
            self.assertEqual(q._asdict()["ticker"], "AAPL")

    def test_unknown_ticker_and_no_data(self):
        self.writer("--rate", 0, "--count", 3, "--unwritten", "ZZZ").finish()
        with seqtick.Segment(self.shm) as seg:
            with self.assertRaises(KeyError) as cm:
                seg.quote("NOPE")
            self.assertIsInstance(cm.exception, seqtick.UnknownTickerError)
            self.assertIn("unknown ticker 'NOPE'", str(cm.exception))
            with self.assertRaises(seqtick.UnknownTickerError):
                seg.history("NOPE", 3)
            self.assertNotIn("NOPE", seg)
            self.assertIn("AAPL", seg)
            with self.assertRaises(seqtick.NoDataError) as cm:
                seg.quote("ZZZ")
            self.assertIn("never written", str(cm.exception))
            self.assertIsNone(seg.get("ZZZ"))
            self.assertIsNone(seg.get("NOPE"))
            with self.assertRaises(seqtick.UnknownTickerError):
                list(seg.updates(tickers=["NOPE"], duration=0.1))

    def test_open_errors(self):
        with self.assertRaises(seqtick.NoSegmentError) as cm:
            seqtick.Segment(self.shm)
        self.assertIn(self.shm, str(cm.exception))
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        with self.assertRaises(seqtick.SeqtickError):
            seqtick.Segment("no-slash")
        path = stktest.shm_path(self.shm)
        with open(path, "wb") as f:  # not a segment at all
            f.write(b"x" * 8192)
        with self.assertRaises(seqtick.AbiError) as cm:
            seqtick.Segment(self.shm)
        self.assertIn("bad magic", str(cm.exception))
        with open(path, "wb") as f:  # a segment of a future ABI
            f.write(b"SEQTICK1" + struct.pack("<I", 2) + b"\0" * 8180)
        with self.assertRaises(seqtick.AbiError) as cm:
            seqtick.Segment(self.shm)
        self.assertEqual(cm.exception.errno, errno.EPROTONOSUPPORT)
        self.assertIn("ABI", str(cm.exception))

    def test_replaced_segment_is_followed(self):
        w = self.writer("--rate", 300)
        with seqtick.Segment(self.shm) as seg:
            q = seg.quote("MSFT")
            self.assertLess(q.price_e8, 1000 * 100000000)  # generation 1 prices
            self.assertEqual(seg.generation, 1)
            w.p.send_signal(signal.SIGUSR1)
            w.wait_line("replaced gen=2")
            # quote() follows a retired (closed) segment by itself
            q = stktest.wait_for(lambda: (lambda x: x if x.price_e8 > 1000 * 100000000
                                          else None)(seg.quote("MSFT")),
                                 timeout=10, what="a generation-2 quote")
            self.assertEqual(seg.generation, 2)
            c = q.volume // 100
            self.check_quote(q, 1, c, gen=2)
            self.assertFalse(seg.replaced())
        # wait() follows too: a second replacement while blocked in it
        with seqtick.Segment(self.shm) as seg:
            self.assertEqual(seg.generation, 2)
            w.p.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while seg.generation != 3 and time.monotonic() < deadline:
                seg.wait(1.0)
            self.assertEqual(seg.generation, 3)
            # the new segment's table fills in just after it appears
            stktest.wait_for(lambda: "AAPL" in seg, timeout=10, what="AAPL in generation 3")
            got = [q for q in seg.updates(tickers=["AAPL"], duration=0.3)]
            self.assertTrue(got)
            self.assertGreater(got[-1].price_e8, 2000 * 100000000)

    def test_shut_down_segment(self):
        # Closed and removed (a supervisor's clean exit): reads say so.
        w = self.writer("--rate", 300, "--seconds", 1.0, "--unlink")
        with seqtick.Segment(self.shm) as seg:
            seg.quote("AAPL")
            w.finish()
            with self.assertRaises(seqtick.NoSegmentError):
                seg.quote("AAPL")
            seg.wait(0)  # the writer's last batches are news once
            t = time.monotonic()
            self.assertFalse(seg.wait(0.4))  # polls for a successor, no busy loop
            self.assertGreater(time.monotonic() - t, 0.35)
        # Closed but kept (unlink_on_exit = false): unavailable, as the server
        # and the CLI say (the library's one rule), until a producer revives it.
        self.writer("--rate", 0, "--count", 6, "--close").finish()
        with seqtick.Segment(self.shm) as seg:
            self.assertEqual(seg.info()["state"], "closed")
            for _ in range(3):
                with self.assertRaises(seqtick.NoSegmentError):
                    seg.quote("MSFT")
            t = time.monotonic()
            self.assertFalse(seg.wait(0.4))
            self.assertGreater(time.monotonic() - t, 0.35)
            # a producer attaching again revives it: wait() wakes, quote() follows
            res = []
            th = threading.Thread(target=lambda: res.append(seg.wait(10)))
            th.start()
            time.sleep(0.2)
            self.writer("--rate", 0, "--count", 3).finish()
            th.join(15)
            self.assertEqual(res, [True])
            self.assertEqual(seg.quote("MSFT").volume, 100)

    def test_no_torn_quote_at_full_speed(self):
        self.writer("--rate", 0, "--symbols", "HOT", "--seconds", 20)
        reads, seen = 0, set()
        with seqtick.Segment(self.shm) as seg:
            # Read until the writer has moved a lot under us (or 15 s on a
            # very loaded box); every copy must match one counter.
            end = time.monotonic() + 15.0
            quote = seg.quote
            while time.monotonic() < end and (reads < 50000 or len(seen) < 2000):
                for _ in range(1000):
                    q = quote("HOT")
                    c = q.volume // 100
                    price, bid, ask, vol, ts, bsz, asz = model(0, c)
                    if (q[2], q[3], q[4], q[5], q[6], q[8], q[9]) != (price, bid, ask, vol, ts,
                                                                       bsz, asz):
                        self.fail(f"torn quote after {reads} reads: {tuple(q)} vs counter {c}")
                    seen.add(c)
                    reads += 1
        self.assertGreater(reads, 10000)
        self.assertGreater(len(seen), 200, "the writer did not move while we read")

    def test_wait_wakes_on_write_and_times_out_when_quiet(self):
        self.writer("--rate", 0, "--count", 3).finish()
        with seqtick.Segment(self.shm) as seg:
            t = time.monotonic()
            self.assertFalse(seg.wait(0.3))
            el = time.monotonic() - t
            self.assertGreaterEqual(el, 0.28)
            self.assertLess(el, 3)
            # GIL released while blocked: this thread keeps running.
            counter = [0]
            res = []
            th = threading.Thread(target=lambda: res.append(seg.wait(1.0)))
            th.start()
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                counter[0] += 1
            th.join()
            self.assertEqual(res, [False])
            self.assertGreater(counter[0], 10000, "wait() held the GIL")
            # A write wakes it: a second writer run re-opens the same segment.
            res = []
            th = threading.Thread(target=lambda: res.append((seg.wait(10), time.monotonic())))
            th.start()
            time.sleep(0.3)
            t = time.monotonic()
            self.writer("--rate", 0, "--count", 3).finish()
            th.join(15)
            self.assertEqual(len(res), 1)
            self.assertTrue(res[0][0])
            self.assertLess(res[0][1] - t, 5)
            self.assertEqual(seg.quote("AAPL").volume, 100)  # c=1 again: a new writer run

    def test_updates_iteration(self):
        self.writer("--rate", 0, "--count", 30).finish()
        with seqtick.Segment(self.shm) as seg:
            got = list(seg.updates(idle_timeout=0.3))
            self.assertEqual(sorted(q.ticker for q in got), SYMS)  # snapshot, conflated
            self.assertTrue(all(q.volume == 1000 for q in got))
            self.assertEqual(list(seg.updates(snapshot=False, idle_timeout=0.2)), [])
        self.writer("--rate", 600, "--seconds", 20)
        with seqtick.Segment(self.shm) as seg:
            last = {}
            n = ticks = 0
            for q in seg.updates(tickers=["MSFT"], duration=1.0, every=0.25):
                if q is None:
                    ticks += 1
                    continue
                self.assertEqual(q.ticker, "MSFT")
                self.assertGreater(q.seq, last.get(q.ticker, 0))
                last[q.ticker] = q.seq
                self.check_quote(q, 1, q.volume // 100)
                n += 1
            self.assertGreater(n, 20)
            self.assertGreaterEqual(ticks, 2)

    def test_library_search_order(self):
        lib = os.path.join(stktest.BUILD, "common", "libseqtick.so")
        code = "import seqtick; print(seqtick.library_path())"
        env = toolstest.child_env(python=True)
        env["SEQTICK_LIB"] = lib + ".1"
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), lib + ".1", r.stderr)
        env.pop("SEQTICK_LIB")
        env["SEQTICK_BUILD_DIR"] = stktest.BUILD
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), lib, r.stderr)

    def test_bench_quote_script(self):
        self.writer("--rate", 200, "--seconds", 20)
        r = toolstest.run([sys.executable, os.path.join(toolstest.CLIENT_DIR, "bench_quote.py"),
                           "--shm", self.shm, "--calls", "20000"], python=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"seg\.quote\(\)\s+[\d.]+ ns/call")
        self.assertIn("baseline", r.stdout)


if __name__ == "__main__":
    stktest.main_unittest()
