# SPDX-License-Identifier: MIT
"""The producer's nats: feed against a real three-node nats-server cluster
(the test's own processes, tests/lib/natstest.py), fed by a raw-protocol
publisher: exact decimals, order, gaps, bad payloads, the remote heartbeat
deciding liveness, NATS down at start, and the node in use killed."""
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import natstest  # noqa: E402
import prodtest  # noqa: E402
import stktest  # noqa: E402

HB_MS = 50
SUBJ = "seqtick.tick"


def tick(sym, price, seq, gen=1, **kw):
    d = {"symbol": sym, "price": price, "seq": seq, "gen": gen}
    d.update(kw)
    return json.dumps(d, separators=(",", ":")).encode()


class Beat(threading.Thread):
    """The remote heartbeat on SUBJ._hb every HB_MS while `on`."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.cli = natstest.Client(port)
        self.on, self.alive, self.stop_ = True, True, False

    def run(self):
        while not self.stop_:
            if self.on:
                now = time.time_ns()
                body = json.dumps({"producer_alive": self.alive, "heartbeat_ns": now,
                                   "generation": 1, "ts_ns": now})
                try:
                    self.cli.publish(SUBJ + "._hb", body)
                except OSError:
                    return
            time.sleep(HB_MS / 1000)

    def close(self):
        self.stop_ = True
        self.join(5)
        self.cli.close()


def seg_alive(seg):
    h = seg.header()
    return h["state"] == 1 and time.time_ns() - h["heartbeat_ns"] <= 3 * HB_MS * 1_000_000


class NatsFeed(prodtest.ProducerCase):
    def setUp(self):
        super().setUp()
        self.cluster = natstest.Cluster(3)
        self.addCleanup(self.cluster.close)
        self.cluster.wait_routed()

    def start_feed(self, urls):
        p = self.start({"feed": f"nats:{urls}", "heartbeat_ms": HB_MS})
        seg = stktest.open_segment(self.shm, 20)
        self.addCleanup(seg.close)
        self.wait_log(p, "feed nats:")
        return p, seg

    def probe(self, pub, seg, sym="PROBE", timeout=30):
        """Publish sym until it lands (the feed's subscription reached the
        publisher's node); returns the price seen."""
        n = [0]

        def landed():
            n[0] += 1
            pub.publish(f"{SUBJ}.{sym}", tick(sym, str(n[0]), 0, gen=0))
            pub.ping()
            q = seg.quote(sym)
            return q is not None and q["pub_ts_ns"] != 0
        stktest.wait_for(landed, timeout, interval=0.05, what=f"{sym} through NATS")

    def test_ticks_exact_ordered_gaps_bad_and_liveness(self):
        c = self.cluster
        # the feed on node 0 (first URL), the publisher on node 2: through a route
        p, seg = self.start_feed(c.urls())
        pub = natstest.Client(c.nodes[2].port)
        self.addCleanup(pub.close)
        self.probe(pub, seg)
        # not alive until a remote heartbeat says so
        self.assertFalse(seg_alive(seg))
        beat = Beat(c.nodes[1].port)
        self.addCleanup(beat.close)
        beat.start()
        stktest.wait_for(lambda: seg_alive(seg), 10, what="alive once the heartbeat comes")

        # exact decimals, all fields, source time kept, order
        prices = ["189.25", "0.00000001", "9999999999.99999999", "-3.5", "42"]
        items = []
        for i, px in enumerate(prices):
            items.append((f"{SUBJ}.AAPL", tick("AAPL", px, i, bid=px, ask="189.26",
                                               bid_size=100 + i, ask_size=200, volume=123456 + i,
                                               ts_ns=1700000000000000000 + i)))
        pub.publish_many(items)
        pub.ping()
        stktest.wait_for(lambda: (seg.quote("AAPL") or {}).get("volume") == 123460, 10,
                         what="AAPL's last tick")
        q = seg.quote("AAPL")
        self.assertEqual((q["price"], q["bid"], q["ask"]), (4200000000, 4200000000, 18926000000))
        self.assertEqual((q["bid_size"], q["ask_size"], q["src_ts_ns"]),
                         (104, 200, 1700000000000000004))
        hist = seg.history_ticks("AAPL")
        self.assertEqual([t["price"] for t in hist],
                         [18925000000, 1, 999999999999999999, -350000000, 4200000000])

        # a gap: seq 0, 1, 2, then 5 (3 and 4 lost)
        pub.publish_many([(f"{SUBJ}.GAPX", tick("GAPX", "1", s)) for s in (0, 1, 2, 5, 6)])
        self.wait_log(p, "nats: gap on GAPX: seq 5 after 2 (2 missing")
        # a new sender generation starts over: no gap
        pub.publish(f"{SUBJ}.GAPX", tick("GAPX", "1", 0, gen=2))

        # bad payloads: counted and skipped, the feed goes on
        bad0 = seg.header()["bad_input"]
        pub.publish(f"{SUBJ}.AAPL", b"not json at all")
        pub.publish(f"{SUBJ}.AAPL", tick("MSFT", "1", 9))        # not the subject's symbol
        pub.publish(f"{SUBJ}.AAPL", b'{"symbol":"AAPL","price":"1","pad":"'
                    + b"x" * 200000 + b'"}')                      # huge
        pub.publish(f"{SUBJ}.AAPL", b"")                          # empty
        pub.publish(f"{SUBJ}.OK", tick("OK", "7.125", 0))
        pub.ping()
        stktest.wait_for(lambda: seg.quote("OK") is not None, 10, what="OK after the bad ones")
        self.assertEqual(seg.header()["bad_input"] - bad0, 4, p.output())
        self.assertIsNone(seg.quote("MSFT"))
        self.assertEqual(seg.quote("OK")["price"], 712500000)
        self.assertIn("bad line skipped (symbol is not the subject's last token)", p.output())
        # the heartbeats on SUBJ._hb are not ticks (`>` matches them too)
        self.assertNotIn("_hb", seg.symbols())

        # heartbeat says the remote producer is dead: not alive at once
        beat.alive = False
        stktest.wait_for(lambda: not seg_alive(seg), 5, what="not alive (remote dead)")
        self.wait_log(p, "the remote heartbeat says its producer is not alive")
        beat.alive = True
        stktest.wait_for(lambda: seg_alive(seg), 5, what="alive again")
        # heartbeats stop: not alive after 3 beats, alive when they come back
        beat.on = False
        t0 = time.monotonic()
        stktest.wait_for(lambda: not seg_alive(seg), 5, what="not alive (no heartbeat)")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9 * 3 * HB_MS / 1000)
        beat.on = True
        stktest.wait_for(lambda: seg_alive(seg), 5, what="alive once heartbeats return")
        # the producer's own header heartbeat went on all along (no watchdog kill)
        self.assertLess(time.time_ns() - seg.header()["heartbeat_ns"], 2_000_000_000)
        self.assertIsNone(p.p.poll())
        self.stop_ok(p)

    def test_down_at_start_then_up(self):
        lone = natstest.Cluster(1, start=False)
        self.addCleanup(lone.close)
        p, seg = self.start_feed(lone.urls())
        self.wait_log(p, "no server reachable")
        time.sleep(1.0)  # it keeps retrying, never exits
        self.assertIsNone(p.p.poll(), p.output())
        lone.nodes[0].start()
        pub = natstest.Client(lone.nodes[0].port)
        self.addCleanup(pub.close)
        self.probe(pub, seg, timeout=30)
        self.wait_log(p, "nats: connected to nats://127.0.0.1:")
        self.stop_ok(p)

    def test_auth_user_password_and_bad_settings(self):
        sec = natstest.Cluster(1, extra_args=["--user", "stk", "--pass", "s3cret"])
        self.addCleanup(sec.close)
        p = self.start({"feed": f"nats:{sec.urls()}", "heartbeat_ms": HB_MS,
                        "nats_user": "stk", "nats_password": "s3cret"})
        seg = stktest.open_segment(self.shm, 20)
        self.addCleanup(seg.close)
        pub = natstest.Client(sec.nodes[0].port, user="stk", password="s3cret")
        self.addCleanup(pub.close)
        self.probe(pub, seg)
        self.stop_ok(p)
        # a user without a password: a setting to fix, exit 100, said why
        bad = self.start({"feed": f"nats:{sec.urls()}", "nats_user": "stk"})
        self.assertEqual(bad.p.wait(30), 100, bad.output())
        self.assertIn("nats: bad settings", bad.output())
        # a wrong password: refused by every server, the producer exits
        # (its supervisor restarts it with back-off), never hangs
        wrong = self.start({"feed": f"nats:{sec.urls()}", "nats_user": "stk",
                            "nats_password": "nope"})
        self.assertEqual(wrong.p.wait(30), 111, wrong.output())
        self.assertIn("nats: connection closed for good", wrong.output())

    def test_stop_while_messages_flow(self):
        """SIGTERM while a stream arrives: messages still queued are freed
        while libnats is open, the exit is clean (0), every time."""
        node = self.cluster.nodes[0]
        for i in range(3):
            p = self.start({"feed": f"nats:{node.url}", "heartbeat_ms": HB_MS})
            seg = stktest.open_segment(self.shm, 20)
            pub = natstest.Client(node.port)
            try:
                self.probe(pub, seg)
                stop = threading.Event()

                def flood():
                    n = 0
                    while not stop.is_set():
                        try:
                            pub.publish_many([(f"{SUBJ}.AAPL", tick("AAPL", str(n + k), n + k))
                                              for k in range(200)])
                        except OSError:
                            return
                        n += 200
                t = threading.Thread(target=flood)
                t.start()
                try:
                    time.sleep(0.2 + 0.1 * i)
                    self.stop_ok(p)
                finally:
                    stop.set()
                    t.join(10)
            finally:
                pub.close()
                seg.close()

    def connected_port(self, p, after=0):
        """The port of the last 'connected/reconnected to' in p's log."""
        out = p.output()
        import re
        ports = [int(m) for m in re.findall(r"nats: (?:re)?connected to nats://127\.0\.0\.1:(\d+)",
                                            out)]
        return ports[-1] if len(ports) > after else None

    def test_node_in_use_killed_twice(self):
        c = self.cluster
        p, seg = self.start_feed(c.urls())
        self.wait_log(p, "nats: connected to")
        seen = 1
        pubs = {n.port: natstest.Client(n.port) for n in c.nodes}
        for cl in pubs.values():
            self.addCleanup(cl.close)
        n = [0]

        def resumed(pub):
            """A tick published from now on lands (publishing on)."""
            since = n[0]

            def f():
                n[0] += 1
                try:
                    pub.publish(f"{SUBJ}.FAIL", tick("FAIL", str(n[0]), n[0]))
                except OSError:
                    return False
                q = seg.quote("FAIL")
                return q is not None and q["price"] > since * 100000000
            return f
        for round_ in range(2):
            port = self.connected_port(p, seen - 1)
            node = c.node_by_port(port)
            self.assertIsNotNone(node, p.output())
            live = [x for x in c.nodes if x is not node and x.running()]
            pub = pubs[live[-1].port]
            stktest.wait_for(resumed(pub), 30, interval=0.02, what="ticks before the kill")
            t0 = time.monotonic()
            node.kill()
            stktest.wait_for(resumed(pub), 10, interval=0.005, what="ticks after the kill")
            took = time.monotonic() - t0
            self.assertLess(took, 2.0, f"quotes resumed {took:.2f}s after the kill\n{p.output()}")
            seen += 1
            stktest.wait_for(lambda: self.connected_port(p, seen - 1) not in (None, port), 10,
                             what="a reconnect logged")
        self.assertIsNone(p.p.poll(), p.output())
        self.stop_ok(p)


if __name__ == "__main__":
    stktest.main_unittest()
