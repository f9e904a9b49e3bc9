# SPDX-License-Identifier: MIT
"""seqtick-bridge against a real nats-server cluster (three nodes, routes,
private ports): every tick in order with exact decimals, the heartbeat,
fail-over to another node, NATS down at start, max_pending conflation, and
kill -9 under the supervisor."""
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "supervisor"))
sys.path.insert(0, os.path.dirname(__file__))
import natshelp  # noqa: E402
import natstest  # noqa: E402
import stktest  # noqa: E402
import suphelp  # noqa: E402

SYMS = ["AAPL", "MSFT", "NVDA", "TSLA"]
TICK_KEYS = ["symbol", "price", "bid", "ask", "bid_size", "ask_size", "volume", "ts_ns",
             "seq", "gen"]


def dec(v):
    """A value × 10^8 as the shortest exact decimal ("189.25", "-0.5", "3")."""
    sign = "-" if v < 0 else ""
    v = abs(v)
    whole, frac = divmod(v, 10**8)
    f = f"{frac:08d}".rstrip("0")
    return f"{sign}{whole}.{f}" if f else f"{sign}{whole}"


def ticks_of(msgs):
    """{symbol: [tick dict, …]} of the tick messages, in arrival order."""
    out = {}
    for subj, data in msgs:
        if subj.endswith("._hb"):
            continue
        t = json.loads(data)
        assert subj == "seqtick.tick." + t["symbol"], (subj, t)
        out.setdefault(t["symbol"], []).append(t)
    return out


class BridgeCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="stk-bridge-")
        self.shm = stktest.unique_shm("br")
        self.procs, self.subs = [], []
        self.cluster = None

    def tearDown(self):
        for s in self.subs:
            s.close()
        for p in self.procs:
            p.stop(timeout=10)
            p.close()
        if self.cluster:
            self.cluster.close()
        stktest.shm_remove(self.shm)
        shutil.rmtree(self.dir, ignore_errors=True)

    def conf(self, nats, rate=2000, **bridge):
        b = {"nats": nats}
        b.update(bridge)
        return stktest.write_config(self.dir, {
            "shm": {"name": self.shm, "capacity": 16, "history": 4096},
            "producer": {"feed": "sim", "rate": rate, "symbols": ",".join(SYMS)},
            "bridge": b,
            "log": {"level": "info"},
        })

    def start(self, conf):
        prod = stktest.Proc([stktest.binary("producer", "seqtick-producer"), "-c", conf])
        self.procs.append(prod)
        stktest.open_segment(self.shm).close()
        br = stktest.Proc([stktest.binary("bridge", "seqtick-bridge"), "-c", conf])
        self.procs.append(br)
        return prod, br

    def sub(self, node):
        s = natstest.Client(node.port)
        self.subs.append(s)
        s.subscribe("seqtick.tick.>")
        return s

    def wait_log(self, proc, pattern, timeout=20, count=1):
        rx = re.compile(pattern)
        try:
            return stktest.wait_for(lambda: len(rx.findall(proc.output())) >= count and
                                    rx.findall(proc.output()), timeout, 0.01, pattern)
        except TimeoutError:
            raise AssertionError(f"log never showed {pattern!r}:\n{proc.output()[-4000:]}")

    def connected_port(self, br, count=1):
        return int(self.wait_log(br, r"NATS connected to nats://127\.0\.0\.1:(\d+)",
                                 count=count)[-1])

    def wait_ticks(self, sub, what, timeout=10):
        got = []

        def some():
            got.extend(sub.take())
            return any(not s.endswith("._hb") for s, _ in got)
        stktest.wait_for(some, timeout, 0.002, what)
        return got

    def test_every_tick_in_order_exact(self):
        self.cluster = natstest.Cluster(3)
        self.cluster.wait_routed()
        sub = self.sub(self.cluster.nodes[2])
        _, br = self.start(self.conf(self.cluster.urls([0, 1])))
        self.connected_port(br)
        msgs = self.wait_ticks(sub, "first tick")
        time.sleep(3)
        msgs += sub.take()
        ticks = ticks_of(msgs)
        self.assertEqual(sorted(ticks), sorted(SYMS))
        seg = stktest.Segment(self.shm)
        try:
            gen = seg.header()["generation"]
            for sym, ts in ticks.items():
                self.assertGreater(len(ts), 200, sym)
                seqs = [t["seq"] for t in ts]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                                 f"{sym}: ticks missing or out of order")
                ring = {r["k"]: r for r in seg.history_ticks(sym)}
                checked = 0
                for t in ts:
                    self.assertEqual(list(t), TICK_KEYS)
                    r = ring.get(t["seq"])
                    if r is None:
                        continue
                    checked += 1
                    self.assertEqual(t["price"], dec(r["price"]))
                    self.assertEqual(t["bid"], dec(r["bid"]))
                    self.assertEqual(t["ask"], dec(r["ask"]))
                    self.assertEqual((t["bid_size"], t["ask_size"], t["volume"], t["ts_ns"]),
                                     (r["bid_size"], r["ask_size"], r["volume"],
                                      r["src_ts_ns"]))
                    self.assertEqual(t["gen"], gen)
                self.assertGreater(checked, 200, sym)
        finally:
            seg.close()
        hbs = [json.loads(d) for s, d in msgs if s == "seqtick.tick._hb"]
        self.assertGreater(len(hbs), 10)
        self.assertTrue(all(h["producer_alive"] for h in hbs[1:]), hbs)
        self.assertEqual(sorted(hbs[-1]), ["generation", "heartbeat_ns", "producer_alive",
                                           "ts_ns"])

    def test_failover_to_another_node(self):
        self.cluster = natstest.Cluster(3)
        self.cluster.wait_routed()
        subs = {n.port: self.sub(n) for n in self.cluster.nodes}
        _, br = self.start(self.conf(self.cluster.urls()))
        alive = dict(subs)
        for round_ in (1, 2):
            port = self.connected_port(br, count=round_)
            any_sub = next(s for p, s in alive.items() if p != port)
            self.wait_ticks(any_sub, "ticks before the kill")
            self.cluster.node_by_port(port).kill()
            t0 = time.monotonic()
            del alive[port]
            for s in alive.values():
                s.take()
            watch = next(iter(alive.values()))
            got = self.wait_ticks(watch, f"ticks after killing node {port}", timeout=10)
            took = time.monotonic() - t0
            self.assertLess(took, 2.0, f"publishing resumed after {took:.2f}s")
            # still in order per symbol after the move
            time.sleep(0.3)
            got += watch.take()
            for sym, ts in ticks_of(got).items():
                seqs = [t["seq"] for t in ts]
                self.assertEqual(seqs, sorted(set(seqs)), sym)
        self.assertIsNone(br.p.poll(), br.output()[-3000:])

    def test_nats_down_at_start_then_conflated(self):
        self.cluster = natstest.Cluster(1, start=False)
        node = self.cluster.nodes[0]
        _, br = self.start(self.conf(node.url, rate=4000, max_pending=50))
        self.wait_log(br, r"NATS not reachable")
        self.wait_log(br, r"backlog past bridge\.max_pending \(50 ticks\)")
        time.sleep(1.0)
        self.assertIsNone(br.p.poll(), br.output()[-3000:])
        self.assertNotIn("NATS connected", br.output())
        node.start()
        self.assertEqual(self.connected_port(br), node.port)
        n = int(self.wait_log(br, r"backlog sent; (\d+) ticks conflated away")[-1])
        self.assertGreater(n, 1000)  # ~4000 ticks/s for over a second, 50 held
        sub = self.sub(node)
        got = self.wait_ticks(sub, "ticks once NATS is up")
        time.sleep(0.5)
        got += sub.take()
        for sym, ts in ticks_of(got).items():
            seqs = [t["seq"] for t in ts]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), sym)
        # the last stats line, written at a clean stop, counts them too
        self.assertEqual(br.stop(), 0)
        stats = re.findall(r"stats: published=\d+ gaps=\d+ conflated=(\d+)", br.output())
        self.assertGreaterEqual(int(stats[-1]), n)

    def test_heartbeat_says_when_the_producer_dies(self):
        self.cluster = natstest.Cluster(1)
        node = self.cluster.nodes[0]
        sub = natstest.Client(node.port)
        self.subs.append(sub)
        sub.subscribe("seqtick.tick._hb")
        prod, br = self.start(self.conf(node.url))
        alive = lambda want: lambda m: json.loads(m[1])["producer_alive"] is want  # noqa: E731
        self.assertTrue(sub.wait(alive(True), 20), br.output()[-3000:])
        os.killpg(prod.pid, signal.SIGKILL)
        prod.p.wait()
        sub.take()
        t0 = time.monotonic()
        self.assertTrue(sub.wait(alive(False), 20), br.output()[-3000:])
        # 3 beats of 100 ms missed, then the next heartbeat: well under 2 s
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertIsNone(br.p.poll())

    def auth_case(self, server_args, sub_auth, good, bad):
        self.cluster = natstest.Cluster(1, extra_args=server_args)
        node = self.cluster.nodes[0]
        sub = natshelp.AuthSub(node.port, "seqtick.tick.>", sub_auth)
        self.subs.append(sub)
        # wrong credentials: every server refuses them, libnats gives up:
        # logged, exit 111 (the supervisor restarts it with its back-off)
        _, br = self.start(self.conf(node.url, **bad))
        self.assertEqual(br.p.wait(30), 111, br.output()[-3000:])
        self.assertIn("NATS connection closed for good", br.output())
        self.assertNotIn("NATS connected", br.output())
        # the right ones: ticks flow
        br2 = stktest.Proc([stktest.binary("bridge", "seqtick-bridge"), "-c",
                            self.conf(node.url, **good)])
        self.procs.append(br2)
        self.connected_port(br2)
        self.wait_ticks(sub, "ticks with credentials")

    def test_auth_user_password(self):
        self.auth_case(["--user", "stk", "--pass", "s3cret"],
                       {"user": "stk", "pass": "s3cret"},
                       {"user": "stk", "password": "s3cret"},
                       {"user": "stk", "password": "wrong"})

    def test_auth_token(self):
        self.auth_case(["--auth", "t0ken"], {"auth_token": "t0ken"},
                       {"token": "t0ken"}, {"token": "nope"})

    def test_bad_auth_combination_is_a_config_error(self):
        conf = self.conf("nats://127.0.0.1:1", token="t", user="u", password="p")
        p = stktest.Proc([stktest.binary("bridge", "seqtick-bridge"), "-c", conf])
        self.procs.append(p)
        self.assertEqual(p.p.wait(20), 100, p.output())
        self.assertIn("give one of user+password, token, creds", p.output())


class SupervisedBridge(unittest.TestCase):
    def setUp(self):
        self.s = None
        self.cluster = None
        self.subs = []

    def tearDown(self):
        for s in self.subs:
            s.close()
        if self.s:
            self.s.close()
        if self.cluster:
            self.cluster.close()

    def test_kill9_restarts_and_ticks_resume(self):
        self.cluster = natstest.Cluster(1)
        node = self.cluster.nodes[0]
        self.s = suphelp.Sup("br9", standins=(), extra={
            "shm": {"history": 1024},
            "producer": {"feed": "sim", "rate": 1000, "symbols": "AAPL,MSFT"},
            "server": {"listen": f"127.0.0.1:{stktest.free_port()}"},
            "bridge": {"nats": node.url},
        })
        for folder, name in (("producer", "seqtick-producer"), ("server", "seqtick-server"),
                             ("bridge", "seqtick-bridge")):
            os.symlink(os.path.abspath(stktest.binary(folder, name)),
                       os.path.join(self.s.bindir, name))
        sub = natstest.Client(node.port)
        self.subs.append(sub)
        sub.subscribe("seqtick.tick.>")
        self.s.start(timeout=30)
        pid = self.s.wait_child("bridge", lambda c: c and c["pid"], 30)["pid"]
        before = []

        def ticks_in(into):
            into += [m for m in sub.take() if not m[0].endswith("._hb")]
            return into
        stktest.wait_for(lambda: ticks_in(before), 20, what="ticks from the supervised bridge")
        os.kill(pid, signal.SIGKILL)
        stktest.wait_for(lambda: not stktest.alive(pid), 10, what="bridge gone")
        before = ticks_in(before)
        last = {t["symbol"]: t["seq"] for t in (json.loads(d) for _, d in before)}
        c = self.s.wait_child("bridge", lambda c: c and c["pid"] and c["pid"] != pid, 30,
                              "bridge restarted")
        after = []
        stktest.wait_for(lambda: len(ticks_in(after)) >= 4, 20, what="ticks after the restart")
        self.assertTrue(stktest.alive(c["pid"]))
        # the restarted bridge sends no tick twice: every seq is new
        for t in (json.loads(d) for _, d in after):
            self.assertGreater(t["seq"], last.get(t["symbol"], -1), t)

    def test_ready_while_nats_is_down(self):
        dead = stktest.free_port()  # nothing listens there
        self.s = suphelp.Sup("brdown", standins=(), extra={
            "producer": {"feed": "sim", "rate": 100, "symbols": "AAPL"},
            "server": {"listen": f"127.0.0.1:{stktest.free_port()}"},
            "bridge": {"nats": f"nats://127.0.0.1:{dead}"},
        })
        for folder, name in (("producer", "seqtick-producer"), ("server", "seqtick-server"),
                             ("bridge", "seqtick-bridge")):
            os.symlink(os.path.abspath(stktest.binary(folder, name)),
                       os.path.join(self.s.bindir, name))
        # NATS down does not hold the stack's readiness hostage
        self.s.start(timeout=30)
        self.s.wait_log(r"NATS not reachable", 20)
        c = self.s.child("bridge")
        self.assertTrue(c and c["pid"] and stktest.alive(c["pid"]), c)


if __name__ == "__main__":
    stktest.main_unittest()
