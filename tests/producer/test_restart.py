#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A producer killed with SIGKILL and started again: the segment stays, the
old quotes stay readable the whole time (a reader samples them throughout),
the new producer counts the restart and ticks resume where prices were."""
import signal
import threading
import time

import prodtest
from prodtest import stktest


class Restart(prodtest.ProducerCase):
    def test_kill9_and_restart(self):
        p1 = self.start({"rate": 2000})
        seg = self.segment(p1)
        stktest.wait_for(lambda: seg.header()["ticks_total"] > 500, 20, what="ticks")
        gen = seg.header()["generation"]

        errors, reads = [], [0]
        stop = threading.Event()

        def reader():
            # every symbol readable at every moment: before, during and after
            r = stktest.Segment(self.shm)
            while not stop.is_set():
                try:
                    for s in r.symbols():
                        q = r.quote(s)
                        if q is None or q["price"] <= 0 or q["bid"] >= q["ask"]:
                            errors.append((s, q))
                    reads[0] += 1
                except Exception as e:  # noqa: BLE001 — any failure is the finding
                    errors.append(repr(e))
                time.sleep(0.002)
            r.close()

        t = threading.Thread(target=reader)
        t.start()
        try:
            time.sleep(0.2)
            p1.p.send_signal(signal.SIGKILL)
            p1.p.wait(10)
            down = seg.header()
            before = {s: seg.quote(s) for s in seg.symbols()}
            time.sleep(0.5)  # producer down: nothing moves, everything readable
            self.assertEqual(seg.header()["ticks_total"], down["ticks_total"])
            for s, q in before.items():
                self.assertEqual(seg.quote(s), q)
            reads_down = reads[0]

            p2 = self.start({"rate": 2000})
            stktest.wait_for(lambda: seg.header()["producer_pid"] == p2.pid, 20,
                             what=f"second producer; log:\n{p2.output()}")
            h = seg.header()
            self.assertEqual(h["state"], 1)
            self.assertEqual(h["generation"], gen)  # the same segment, re-opened
            self.assertEqual(h["producer_restarts"], 1)
            stktest.wait_for(lambda: seg.header()["ticks_total"] > down["ticks_total"] + 500,
                             20, what="ticks resume")
            self.assertIn("re-opened (warm restart)", p2.output())
            self.assertIn("resuming from the segment's quotes", p2.output())
            for s, q in before.items():
                now = seg.quote(s)
                self.assertGreater(now["seq"], q["seq"])
                # prices carry on from where they were, not from the start
                self.assertLess(abs(now["price"] - q["price"]) / q["price"], 0.01)
                self.assertGreaterEqual(now["volume"], q["volume"])
            time.sleep(0.1)
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(reads_down, 10)
        self.stop_ok(p2)
        seg.close()


if __name__ == "__main__":
    stktest.main_unittest()
