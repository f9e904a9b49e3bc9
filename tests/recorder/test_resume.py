# SPDX-License-Identifier: MIT
"""Exactly once within the ring's reach: kill -9 the recorder 20 times in
10 s while the sim writes 20,000 ticks/s (history 4096) — every tick stored
once, no gap; stop the recorder until a ring laps it — the hole is one gap
row with the right bounds, a warn line, and nothing else is missing."""
import os
import random
import signal
import time
import unittest

import rectest
from rectest import stktest


class Resume(unittest.TestCase):
    def test_kill9_loop(self):
        st = rectest.Stack("kill", **{"producer": {"rate": 20000}})
        try:
            prod = st.producer()
            rnd = random.Random(13)
            t0 = time.monotonic()
            for _ in range(20):
                rec = st.recorder()
                time.sleep(rnd.uniform(0.2, 0.5))
                os.kill(rec.pid, signal.SIGKILL)
                rec.p.wait()
            self.assertLess(time.monotonic() - t0, 15.0)  # 20 kills, sleeps <= 10 s in all
            rec = st.recorder()
            seg = st.segment()
            syms = seg.symbols()
            time.sleep(0.3)
            os.kill(prod.pid, signal.SIGSTOP)
            heads = rectest.freeze_heads(seg, syms)
            self.assertGreater(min(heads.values()), 5000, heads)
            st.wait_stored(heads, 120)
            self.assertEqual(st.query("SELECT count(*) FROM gaps"), [(0,)], st.log()[-3000:])
            counts = st.counts()
            for s, h in heads.items():
                self.assertEqual(counts[s], (h, h - 1), s)
            dup = st.query("SELECT count(*) FROM (SELECT symbol_id, generation, tick, count(*) "
                           "AS n FROM ticks GROUP BY 1, 2, 3 HAVING n > 1)")
            self.assertEqual(dup, [(0,)])
            for s, h in heads.items():
                st.check_exact_cover(self, s, h)
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
        finally:
            st.close()

    def test_kill9_producer_and_both(self):
        """kill -9 of the producer (warm restart: same segment, same
        generation, the rings kept), then of the producer and the recorder
        together, three times each: every tick stored once, no gap."""
        st = rectest.Stack("kprod", **{"producer": {"rate": 20000}})
        try:
            prod = st.producer()
            rec = st.recorder()
            seg = st.segment()
            stktest.wait_for(lambda: st.counts(), 30, 0.05, "the recorder storing")
            for k in range(6):
                time.sleep(0.4)
                os.kill(prod.pid, signal.SIGKILL)
                prod.p.wait()
                if k % 2:  # both at once
                    os.kill(rec.pid, signal.SIGKILL)
                    rec.p.wait()
                    rec = st.recorder()
                prod = st.producer()
            seg = st.segment()
            self.assertEqual(seg.header()["generation"], 1, "a warm restart keeps the rings")
            syms = seg.symbols()
            time.sleep(0.5)
            os.kill(prod.pid, signal.SIGSTOP)
            heads = rectest.freeze_heads(seg, syms)
            self.assertGreater(min(heads.values()), 2000, heads)
            st.wait_stored(heads, 120)
            self.assertEqual(st.query("SELECT count(*) FROM gaps"), [(0,)], st.log()[-3000:])
            counts = st.counts()
            for s, h in heads.items():
                self.assertEqual(counts[s], (h, h - 1), s)
                st.check_exact_cover(self, s, h)
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
        finally:
            st.close()

    def test_lapped(self):
        st = rectest.Stack("lap", **{"producer": {"rate": 8000}, "shm": {"history": 1024}})
        try:
            prod = st.producer()
            rec = st.recorder()
            seg = st.segment()
            syms = seg.symbols()
            stktest.wait_for(lambda: "segment" in rec.output() and st.counts(), 30, 0.05,
                             "the recorder storing")
            os.kill(rec.pid, signal.SIGSTOP)
            stopped = {s: seg.ring_head(s) for s in syms}
            # until every ring went round more than once past where it stopped
            stktest.wait_for(lambda: all(seg.ring_head(s) > stopped[s] + 2 * 1024
                                         for s in syms), 60, 0.05, "the rings to lap")
            os.kill(rec.pid, signal.SIGCONT)
            time.sleep(0.5)
            os.kill(prod.pid, signal.SIGSTOP)
            heads = rectest.freeze_heads(seg, syms)
            st.wait_stored(heads, 120)
            for s, h in heads.items():
                gaps = st.check_exact_cover(self, s, h)
                self.assertGreaterEqual(len(gaps), 1, s)
                # the first gap starts where the recorder had stopped
                # reading at the latest, and ends within the ring's reach
                a, b = gaps[0]
                self.assertLessEqual(a, stopped[s], s)
                self.assertGreater(b, stopped[s] + 1024, s)
            self.assertIn("lapped the recorder", rec.output())
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
            self.assertRegex(rec.output(), r"gaps=[1-9]")
        finally:
            st.close()


if __name__ == "__main__":
    stktest.main_unittest()
