# SPDX-License-Identifier: MIT
"""Chaos: the real stack under the supervisor while the producer and the
server are killed with -9 at random for several seconds (skipped when they
are not built here). Throughout, a reader of the segment checks every quote
it copies (the sim's invariants: price > 0, bid < ask, bid <= price <= ask,
per symbol volume and publish time never going back) and a subscriber on
the server reconnects after each kill and keeps receiving events.
Afterwards both run again on the same segment inode, every producer kill
is counted in producer_restarts, quotes flow, the server answers, and the
stop is clean."""
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402

CHAOS_S = 6.0
SYMS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM"]


def built(folder, name):
    return os.path.exists(os.path.join(stktest.BUILD, folder, name))


HAVE_STACK = built("producer", "seqtick-producer") and built("server", "seqtick-server")


class Reader(threading.Thread):
    """Reads every symbol's latest quote in a loop and checks it."""

    def __init__(self, shm):
        super().__init__(daemon=True)
        self.seg = stktest.Segment(shm)
        self.stop = threading.Event()
        self.reads = self.odd = 0
        self.bad = []
        self.last = {}

    def check(self, sym, q):
        if q["pub_ts_ns"] == 0:
            return
        if not (q["price"] > 0 and q["bid"] < q["ask"] and q["bid"] <= q["price"] <= q["ask"]):
            self.bad.append((sym, "shape", q))
        prev = self.last.get(sym)
        if prev and (q["volume"] < prev["volume"] or q["pub_ts_ns"] < prev["pub_ts_ns"]):
            self.bad.append((sym, "went back", prev, q))
        self.last[sym] = q

    def run(self):
        while not self.stop.is_set():
            for sym in SYMS:
                try:
                    q = self.seg.quote(sym)
                except TimeoutError:  # left odd by a killed producer, until repaired
                    self.odd += 1
                    continue
                if q:
                    self.reads += 1
                    self.check(sym, q)


class Subscriber(threading.Thread):
    """Subscribes to every symbol and reconnects whenever the server goes."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.events = self.connects = 0
        self.last_event = 0.0
        self.errors = []

    def session(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            self.connects += 1
            s.sendall((json.dumps({"v": 1, "id": 1, "type": "subscribe", "tickers": SYMS})
                       + "\n").encode())
            buf = b""
            while not self.stop.is_set():
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    m = json.loads(line)
                    if m.get("type") == "quote":
                        self.events += 1
                        self.last_event = time.monotonic()
                    elif m.get("type") == "error":
                        self.errors.append(m)

    def run(self):
        while not self.stop.is_set():
            try:
                self.session()
            except OSError:
                time.sleep(0.02)


@unittest.skipUnless(HAVE_STACK, "seqtick-producer and seqtick-server not built here")
class Chaos(unittest.TestCase):
    def setUp(self):
        self.port = stktest.free_port()
        s = self.s = suphelp.Sup("chaos", standins=(), extra={
            "producer": {"feed": "sim", "rate": 20000},
            "server": {"listen": f"127.0.0.1:{self.port}", "idle_timeout_s": 0}})
        del s.sections["supervisor"]["bindir"]
        s.sections["supervisor"]["grace_ms"] = 10000
        s.write()
        s.start(timeout=20)

    def tearDown(self):
        self.s.close()

    def kill_ready(self, name):
        """SIGKILL the child once it is ready (a ready child is restarted at
        once; killing one still starting would only test the backoff)."""
        c = self.s.wait_child(name, lambda c: c["pid"] and c["ready"] and
                              c["state"] == "running", 10)
        os.kill(c["pid"], signal.SIGKILL)
        return c["pid"]

    def test_random_kill9_while_reading_and_subscribed(self):
        s = self.s
        ino = os.stat(stktest.shm_path(s.shm)).st_ino
        reader, sub = Reader(s.shm), Subscriber(self.port)
        reader.start()
        sub.start()
        rng = random.Random(20261121)
        kills = {"producer": 0, "server": 0}
        try:
            stktest.wait_for(lambda: sub.events > 0, 10, 0.01, "first subscribed events")
            end = time.monotonic() + CHAOS_S
            while time.monotonic() < end:
                time.sleep(rng.uniform(0.1, 0.35))
                name = "producer" if rng.random() < 0.6 else "server"
                self.kill_ready(name)
                kills[name] += 1
            print(f"killed producer {kills['producer']}x, server {kills['server']}x in "
                  f"{CHAOS_S:.0f} s")
            s.wait(lambda st: all(c["ready"] and c["state"] == "running"
                                  for c in st["children"]), 10, "both running again")
            t_calm = time.monotonic()
            stktest.wait_for(lambda: sub.last_event > t_calm + 0.2, 10, 0.01,
                             "subscribed events after the last kill")
            seg = reader.seg
            e0 = seg.header()["epoch"]
            stktest.wait_for(lambda: seg.header()["epoch"] > e0 + 10, 10, 0.01, "ticks again")
        finally:
            reader.stop.set()
            sub.stop.set()
            reader.join(10)
            sub.join(10)
        h = reader.seg.header()
        reader.seg.close()
        print(f"reader: {reader.reads} quotes checked, {reader.odd} reads found a record "
              f"odd; subscriber: {sub.events} events over {sub.connects} connections")
        self.assertEqual(reader.bad[:5], [], "a quote broke the sim's invariants (torn?)")
        self.assertGreater(reader.reads, 1000)
        self.assertEqual(sub.errors, [])
        if kills["server"]:
            self.assertGreaterEqual(sub.connects, 2, "the subscriber never reconnected")
        # every kill is a restart (the watchdog, were it to fire on a loaded
        # machine, would only add some): the status file and the header agree
        self.assertGreaterEqual(h["producer_restarts"], kills["producer"])
        self.assertEqual(h["state"], 1)
        self.assertEqual(os.stat(stktest.shm_path(s.shm)).st_ino, ino,
                         "the segment was replaced or unlinked")
        st = s.status()
        for c in st["children"]:
            self.assertGreaterEqual(c["restarts"], kills[c["name"]], c)
            if c["name"] == "producer":
                self.assertEqual(c["restarts"], h["producer_restarts"], c)
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])
        self.assertFalse(os.path.exists(stktest.shm_path(s.shm)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
