# SPDX-License-Identifier: MIT
"""Ticks mode: every tick from the rings in order with its ring tick number,
checked against the writer's deterministic model and the ring itself; gap
events when a paused subscriber is lapped; from_tick replay; the same over
WebSocket; bad mode arguments."""
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import unittest

import srvtest
import test_http

SYMS = ("AAPL", "MSFT", "NVDA")
SCALE = 10**8


def rate_model(i, t, nsym=len(SYMS)):
    """stk-cmd-writer --rate: ring tick t >= 1 of symbol i (price in 1e-8
    units, volume). Tick 0 is the writer's opening price; tick t is its
    paced tick k = (t - 1) * nsym + i, the volume counts all of them."""
    price = (100 + i) * SCALE + 25000000 + ((t - 1) % 100) * 1000000
    return price, (t * nsym + i + 1) * 10


def px(v):
    return round(v * SCALE)


def head_of(c, ticker):
    """The ring head of ticker: one past its newest tick (get_history)."""
    r = c.req("get_history", ticker=ticker, limit=1)
    return r["ticks"][-1]["seq"] + 1 if r["ticks"] else 0


class Bulk:
    """A subscriber that only gathers bytes while the stream runs (cheap
    enough for ten of them at 20k ticks/s) and parses them afterwards."""

    def __init__(self, port):
        self.c = srvtest.Client(port)
        self.chunks = []

    def pump(self):
        try:
            d = self.c.s.recv(1 << 20)
        except BlockingIOError:
            return
        if not d:
            raise EOFError("server closed a subscriber")
        self.chunks.append(d)

    def lines(self):
        data = b"".join(self.chunks)
        self.chunks = [data[data.rindex(b"\n") + 1:]] if b"\n" in data else [data]
        return [json.loads(x) for x in data[:data.rindex(b"\n")].split(b"\n")] \
            if b"\n" in data else []


class Ticks(unittest.TestCase):
    def test_every_tick_ten_subscribers(self):
        # history large enough that a subscriber on 2 loaded cores is
        # never lapped: 6.7k ticks/s per ring, 65536 slots, ~10 s
        shm, w, srv = srvtest.stack(self, symbols=SYMS, rate=20000, capacity=8,
                                    history=65536)
        ctl = srv.client()
        self.addCleanup(ctl.close)
        subs = []
        for _ in range(10):
            b = Bulk(srv.port)
            self.addCleanup(b.c.close)
            r = b.c.req("subscribe", tickers=list(SYMS), mode="ticks")
            self.assertEqual(r["type"], "response", r)
            b.c.s.setblocking(False)
            b.first = b.c.buf  # anything after the ack
            subs.append(b)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5:
            r, _, _ = select.select([b.c.s for b in subs], [], [], 0.5)
            for b in subs:
                if b.c.s in r:
                    b.pump()
        heads = {t: head_of(ctl, t) for t in SYMS}
        self.assertGreater(sum(heads.values()), 20000, "writer far too slow")
        got = [{t: [] for t in SYMS} for _ in subs]
        deadline = time.monotonic() + 60
        for n, b in enumerate(subs):
            b.chunks.insert(0, b.first)
            while True:
                for e in b.lines():
                    self.assertEqual(e["type"], "tick", e)  # no gap, no quote
                    self.assertEqual(e["v"], 1)
                    got[n][e["ticker"]].append(e)
                if all(got[n][t] and got[n][t][-1]["tick"] >= heads[t] - 1 for t in SYMS):
                    break
                self.assertLess(time.monotonic(), deadline, "subscriber did not catch up")
                select.select([b.c.s], [], [], 0.5)
                b.pump()
        for n in range(len(subs)):
            for i, t in enumerate(SYMS):
                ev = got[n][t]
                ks = [e["tick"] for e in ev]
                self.assertEqual(ks, list(range(ks[0], ks[0] + len(ks))),
                                 f"sub {n} {t}: ticks missing, repeated or out of order")
                self.assertGreater(len(ks), 1000)
                for e in ev:
                    price, vol = rate_model(i, e["tick"])
                    self.assertEqual((px(e["price"]), e["volume"]), (price, vol), e)
                    self.assertEqual((e["bid_size"], e["ask_size"]), (100 + i, 200 + i))
        # and the ring itself agrees with what was sent
        for t in SYMS:
            ring = ctl.req("get_history", ticker=t, limit=50)["ticks"]
            sent = {e["tick"]: e for e in got[0][t]}
            for k in ring:
                if k["seq"] in sent:
                    self.assertEqual((sent[k["seq"]]["price"], sent[k["seq"]]["volume"]),
                                     (k["price"], k["volume"]))

    def test_paused_subscriber_gets_a_gap(self):
        shm, w, srv = srvtest.stack(self, symbols=SYMS, history=64)
        ctl = srv.client()
        self.addCleanup(ctl.close)
        h0 = head_of(ctl, "AAPL")
        c = srvtest.Client(srv.port, rcvbuf=4096, timeout=30)
        self.addCleanup(c.close)
        r = c.req("subscribe", tickers=["AAPL"], mode="ticks")
        self.assertEqual(r["type"], "response")
        n = 60000  # far more than the socket buffers and the ring hold
        w.cmd(f"burst {n}")  # the subscriber reads nothing meanwhile
        end = h0 + n
        self.assertEqual(head_of(ctl, "AAPL"), end)
        expect, gaps = h0, []
        while expect < end:
            e = c.msg(30)
            self.assertIsNotNone(e, "connection closed")
            if e["type"] == "gap":
                self.assertEqual((e["ticker"], e["from_tick"]), ("AAPL", expect), e)
                self.assertGreater(e["to_tick"], e["from_tick"])
                self.assertLessEqual(e["to_tick"], end - 64)  # all the ring holds comes
                gaps.append(e)
                expect = e["to_tick"]
                continue
            self.assertEqual(e["type"], "tick", e)
            self.assertEqual(e["tick"], expect, e)
            self.assertEqual(px(e["price"]), 100 * SCALE + ((e["tick"] - h0) % 1000) * 1000000)
            expect += 1
        self.assertTrue(gaps, "a lapped subscriber must get a gap event")
        # then continuous live ticks
        w.cmd("tick AAPL 7.5")
        e = c.event(kind="tick", timeout=10)
        self.assertEqual((e["tick"], e["price"]), (end, 7.5))

    def test_from_tick_replay(self):
        shm, w, srv = srvtest.stack(self, symbols=SYMS, history=64)
        c = srv.client()
        self.addCleanup(c.close)
        h0 = head_of(c, "MSFT")
        for p in range(10):
            w.cmd(f"tick MSFT {p}.5")
        r = c.req("subscribe", tickers=["MSFT"], mode="ticks", from_tick=h0 + 3)
        self.assertEqual(r["quotes"][0]["price"], 9.5)
        for p in range(3, 10):
            e = c.event(kind="tick")
            self.assertEqual((e["ticker"], e["tick"], e["price"]), ("MSFT", h0 + p, p + 0.5))
        w.cmd("tick MSFT 42")
        e = c.event(kind="tick")
        self.assertEqual((e["tick"], e["price"]), (h0 + 10, 42))
        # from a tick the ring no longer holds: a gap, then the oldest held
        for p in range(100):
            w.cmd(f"tick NVDA {p}")
        end = head_of(c, "NVDA")
        c2 = srv.client()
        self.addCleanup(c2.close)
        c2.req("subscribe", tickers=["NVDA"], mode="ticks", from_tick=0)
        g = c2.event(kind="gap")
        self.assertEqual((g["ticker"], g["from_tick"], g["to_tick"]), ("NVDA", 0, end - 64))
        ks = [c2.event(kind="tick")["tick"] for _ in range(64)]
        self.assertEqual(ks, list(range(end - 64, end)))

    def test_without_from_tick_starts_at_the_head(self):
        shm, w, srv = srvtest.stack(self, symbols=SYMS, history=64)
        c = srv.client()
        self.addCleanup(c.close)
        w.cmd("tick AAPL 1")
        h = head_of(c, "AAPL")
        c.req("subscribe", tickers="*", mode="ticks")
        w.cmd("tick AAPL 2")
        e = c.event(kind="tick")
        self.assertEqual((e["ticker"], e["tick"], e["price"]), ("AAPL", h, 2))
        # a ticker new to "*" comes from its first tick
        w.cmd("tick ZZZ 3")
        e = c.event(kind="tick")
        self.assertEqual((e["ticker"], e["tick"], e["price"]), ("ZZZ", 0, 3))
        # subscribing again in latest mode turns a ticker back to quotes
        c.req("subscribe", tickers=["AAPL"], mode="latest")
        w.cmd("tick AAPL 4")
        self.assertEqual(c.event(kind="quote")["price"], 4)
        w.cmd("tick MSFT 5")
        self.assertEqual((c.event(kind="tick")["ticker"]), "MSFT")
        self.assertFalse([e for e in c.events if e["type"] == "tick" and e["ticker"] == "AAPL"])

    def test_star_after_from_tick_keeps_the_place(self):
        # a reconnecting client resumes each ticker with from_tick, then
        # asks "*" for tickers it has not seen: "*" must neither replay nor
        # skip the ticks of a ticker already streaming (it once restarted
        # every ticker at the ring's head)
        shm, w, srv = srvtest.stack(self, symbols=SYMS, history=64)
        c = srv.client()
        self.addCleanup(c.close)
        h0 = head_of(c, "AAPL")
        for p in range(5):
            w.cmd(f"tick AAPL {p}.5")
        # both in one write: served before any event is rendered
        c.send_raw((json.dumps({"v": 1, "id": 91, "type": "subscribe", "tickers": ["AAPL"],
                                "mode": "ticks", "from_tick": h0 + 1}) + "\n" +
                    json.dumps({"v": 1, "id": 92, "type": "subscribe", "tickers": "*",
                                "mode": "ticks"}) + "\n").encode())
        self.assertEqual([c.reply()["id"], c.reply()["id"]], [91, 92])
        for p in range(5, 8):
            w.cmd(f"tick AAPL {p}.5")
        w.cmd("tick MSFT 9")
        ks = []
        while len(ks) < 7:
            e = c.event(kind="tick")
            if e["ticker"] == "AAPL":
                ks.append((e["tick"], e["price"]))
        self.assertEqual(ks, [(h0 + p, p + 0.5) for p in range(1, 8)])
        m = c.event(kind="tick")
        self.assertEqual((m["ticker"], m["price"]), ("MSFT", 9))  # from the head
        self.assertFalse([e for e in c.events if e["type"] == "gap"])

    def test_bad_arguments(self):
        shm, w, srv = srvtest.stack(self, symbols=SYMS)
        c = srv.client()
        self.addCleanup(c.close)
        for bad in ({"mode": "every"}, {"mode": 3}, {"mode": "ticks", "from_tick": -1},
                    {"mode": "ticks", "from_tick": "x"}, {"from_tick": 3}):
            srvtest.error(self, c.req("subscribe", tickers=["AAPL"], **bad), "BAD_REQUEST",
                          "subscribe", c.next_id - 1)
        self.assertEqual(c.req("health")["connections"], 1)
        # latest stays the default: quote events
        c.req("subscribe", tickers=["AAPL"], mode="latest")
        w.cmd("tick AAPL 5")
        self.assertEqual(c.event()["price"], 5)


class VwapExample(unittest.TestCase):
    def test_vwap_net(self):
        shm, w, srv = srvtest.stack(self, symbols=SYMS, rate=600)
        ex = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                          "vwap_net.py")
        r = subprocess.run([sys.executable, ex, "--port", str(srv.port), "--tickers",
                            "AAPL,MSFT", "--every", "100", "--seconds", "3"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        last = {}
        for line in r.stdout.splitlines():
            f = line.split()
            self.assertEqual(f[0], "VWAP", line)
            last[f[1]] = f
        self.assertEqual(sorted(last), ["AAPL", "MSFT"])
        for i, t in enumerate(("AAPL", "MSFT")):
            f = last[t]
            ticks, vol = int(f[3][6:]), int(f[4][7:])
            self.assertGreater(ticks, 100)
            # the writer's volume steps 30 a tick per ticker (3 symbols)
            self.assertEqual(vol, (ticks - 1) * 30)
            self.assertEqual(f[5], "gaps=0")
            # prices cycle (100+i).25 .. (100+i)+1.24
            self.assertTrue(100 + i + 0.25 <= float(f[2]) <= 100 + i + 1.24, line)

    def test_vwap_net_c(self):
        """The C twin (build/examples/vwap_net) on the same stack: the same
        counts, and every printed VWAP is the model's mean price over one run
        of consecutive ring ticks (each weighs its volume step, 30)."""
        shm, w, srv = srvtest.stack(self, symbols=SYMS, rate=600)
        r = subprocess.run([srvtest.stktest.binary("examples", "vwap_net"), "--port",
                            str(srv.port), "--tickers", "AAPL,MSFT", "--every", "100",
                            "--seconds", "3"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {"AAPL": [], "MSFT": []}
        for line in r.stdout.splitlines():
            f = line.split()
            self.assertEqual(f[0], "VWAP", line)
            rows[f[1]].append(f)
        for i, t in enumerate(("AAPL", "MSFT")):
            self.assertTrue(rows[t], r.stdout)
            f = rows[t][-1]
            ticks, vol = int(f[3][6:]), int(f[4][7:])
            self.assertGreater(ticks, 100)
            self.assertEqual(vol, (ticks - 1) * 30)
            # The window starts at a ring tick s the test cannot know: keep
            # the phases s mod 100 (prices cycle every 100 ticks) for which
            # each line's VWAP is the mean of ticks s+1 .. s+ticks-1.
            top = 200 + max(int(g[3][6:]) for g in rows[t])
            pre = [0]
            for k in range(1, top):
                pre.append(pre[-1] + rate_model(i, k)[0])
            phases = set(range(100, 200))
            for g in rows[t]:
                n = int(g[3][6:])
                self.assertEqual(g[5], "gaps=0", g)
                self.assertEqual(int(g[4][7:]), (n - 1) * 30, g)
                phases = {s for s in phases
                          if abs(float(g[2]) - (pre[s + n - 1] - pre[s]) / (n - 1) / SCALE)
                          <= 0.00005 + 1e-9}
            self.assertTrue(phases, f"{t}: no window of ring ticks has these VWAPs: {rows[t]}")

    def test_vwap_net_c_bad_server(self):
        """The C example against a fake server: junk, a 5 MiB line, wrong
        field types are reported on stderr and skipped; gaps, duplicates and
        a reconnect with from_tick; an error reply ends it with exit 1."""
        lsock = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(lsock.close)
        lsock.settimeout(30)
        got, failed = [], []

        def requests(conn, n):
            buf = b""
            while buf.count(b"\n") < n:
                d = conn.recv(65536)
                if not d:
                    break
                buf += d
            got.append([json.loads(x) for x in buf.splitlines()])

        def tick(name, k, price, vol):
            return json.dumps({"v": 1, "type": "tick", "ticker": name, "tick": k, "price": price,
                               "volume": vol, "ts_ms": 1}).encode() + b"\n"

        def serve():
            try:
                conn, _ = lsock.accept()
                with conn:
                    conn.settimeout(30)
                    requests(conn, 1)
                    quotes = [{"ticker": f"Q{k}", "price": 1.5} for k in range(20000)]
                    conn.sendall(json.dumps({"v": 1, "id": 1, "type": "response",
                                             "op": "subscribe", "quotes": quotes}).encode()
                                 + b"\n")
                    conn.sendall(b"this is not json\n" b"\x00\xff{\n" b"[1,2,3]\n"
                                 b'{"type":"tick"} {"x":1}\n' b"\n"
                                 b'{"v":1,"type":"heartbeat","ts_ms":1,"epoch":1}\r\n'
                                 b'{"v":1,"type":"tick","ticker":"AAPL","tick":"7","price":1,'
                                 b'"volume":1}\n'
                                 b'{"v":1,"type":"tick","ticker":"AAPL","tick":7,"price":nan,'
                                 b'"volume":1}\n'
                                 b'{"v":1,"type":"gap","ticker":"AAPL","from_tick":0x1,'
                                 b'"to_tick":2}\n')
                    conn.sendall(tick("AAPL", 10, 5.0, 100) + tick("AAPL", 11, 10.0, 130)
                                 + tick("BRK/B", 3, 50.0, 10).replace(b"/", b"\\/"))
                    # a valid tick, but longer than the client keeps: dropped
                    conn.sendall(tick("AAPL", 12, 1e9, 10**6)[:-2] + b',"pad":"'
                                 + b"x" * (5 << 20) + b'"}\n')
                    conn.sendall(tick("AAPL", 12, 20.0, 160)
                                 + b'{"v":1,"type":"gap","ticker":"AAPL","from_tick":13,'
                                 b'"to_tick":20}\n'
                                 + tick("AAPL", 20, 1000.0, 1000) + tick("AAPL", 21, 12.5, 1030)
                                 + tick("AAPL", 21, 99.0, 2000))
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536):
                        pass
                conn, _ = lsock.accept()
                with conn:
                    conn.settimeout(30)
                    requests(conn, 3)
                    conn.sendall(tick("AAPL", 22, 14.0, 1060)
                                 + b'{"v":1,"id":null,"op":null,"type":"error","error":'
                                 b'{"code":"UNAVAILABLE","message":"the \\"test\\" is over"}}\n')
                    conn.recv(1)
            except Exception as e:  # reported by the test's thread
                failed.append(repr(e))

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        r = subprocess.run([srvtest.stktest.binary("examples", "vwap_net"), "--port",
                            str(lsock.getsockname()[1]), "--tickers", "AAPL,MSFT", "--every", "1",
                            "--seconds", "60"], capture_output=True, text=True, timeout=90)
        th.join(30)
        self.assertEqual(failed, [])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "VWAP AAPL - ticks=1 volume=0 gaps=0",
            "VWAP AAPL 10.0000 ticks=2 volume=30 gaps=0",
            "VWAP BRK/B - ticks=1 volume=0 gaps=0",
            "VWAP AAPL 15.0000 ticks=3 volume=60 gaps=0",
            "GAP AAPL 13..20",
            "VWAP AAPL 15.0000 ticks=4 volume=60 gaps=1",  # the step over the gap: not weighed
            "VWAP AAPL 14.1667 ticks=5 volume=90 gaps=1",
            "VWAP AAPL 14.1250 ticks=6 volume=120 gaps=1",  # after the reconnect
        ])
        sub = {"v": 1, "type": "subscribe", "mode": "ticks"}
        self.assertEqual(got, [
            [dict(sub, id=1, tickers=["AAPL", "MSFT"])],
            [dict(sub, id=1, tickers=["MSFT"]), dict(sub, id=2, tickers=["AAPL"], from_tick=22),
             dict(sub, id=3, tickers=["BRK/B"], from_tick=4)],
        ])
        err = r.stderr.splitlines()
        for why in ("(not JSON): this is not json", "(not JSON): ??{", "(not a JSON object): [1,2,3]",
                    "(data after the JSON object)", "(a tick without integer tick",
                    "(a gap without integer", "(longer than 4 MiB, dropped)"):
            self.assertEqual(sum(why in e for e in err), 1 if "tick without" not in why else 2,
                             (why, r.stderr))
        self.assertIn("vwap_net: server closed the connection; reconnecting", err)
        self.assertEqual(err[-1], 'vwap_net: UNAVAILABLE: the "test" is over')
        self.assertEqual(len(err), 10, r.stderr)


class WebSocketTicks(test_http.HttpBase):
    def test_ticks_over_websocket(self):
        ws = test_http.WsRaw(self.port)
        self.addCleanup(ws.close)
        self.assertTrue(ws.accept_ok())
        ws.text({"v": 1, "id": 1, "type": "subscribe", "tickers": ["AAPL"], "mode": "ticks"})
        self.assertEqual(ws.reply()["type"], "response")
        for p in range(5):
            self.w.cmd(f"tick AAPL {p}")
        ks = []
        while len(ks) < 5:
            e = ws.reply()
            self.assertEqual(e["type"], "tick", e)
            ks.append((e["tick"], e["price"]))
        self.assertEqual([p for _, p in ks], [0, 1, 2, 3, 4])
        self.assertEqual([k for k, _ in ks], list(range(ks[0][0], ks[0][0] + 5)))


class SseTicks(test_http.HttpBase):
    """The SSE face's ticks mode: every tick as `event: tick`, in order,
    with from_tick replay and a gap event; bad arguments are a 400."""

    def test_ticks_over_sse(self):
        c0 = srvtest.Client(self.srv.port)
        self.addCleanup(c0.close)
        h0 = head_of(c0, "AAPL")
        for p in range(3):
            self.w.cmd(f"tick AAPL {p}.5")
        c = test_http.SseClient(self.port, f"/v1/stream?tickers=AAPL&mode=ticks&from_tick={h0}")
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200)
        for p in range(3, 6):
            self.w.cmd(f"tick AAPL {p}.5")
        got = []
        while len(got) < 6:
            b = c.block()
            if b[0].startswith(":") or b[0].startswith("retry"):
                continue
            self.assertEqual(b[0], "event: tick", b)
            self.assertTrue(b[1].startswith("data: "), b)
            d = json.loads(b[1][6:])
            self.assertEqual((d["type"], d["ticker"]), ("tick", "AAPL"))
            got.append((d["tick"], d["price"]))
        self.assertEqual(got, [(h0 + p, p + 0.5) for p in range(6)])
        # a from_tick the ring no longer holds: a gap event first
        for p in range(70):  # laps NVDA's ring (history 64)
            self.w.cmd(f"tick NVDA {p}")
        end = head_of(c0, "NVDA")
        g = test_http.SseClient(self.port, "/v1/stream?tickers=NVDA&mode=ticks&from_tick=0")
        self.addCleanup(g.close)
        b = g.block()
        while b[0].startswith("retry"):
            b = g.block()
        self.assertEqual(b[0], "event: gap", b)
        d = json.loads(b[1][6:])
        self.assertEqual((d["ticker"], d["from_tick"], d["to_tick"]), ("NVDA", 0, end - 64))
        b = g.block()
        self.assertEqual(b[0], "event: tick", b)
        self.assertEqual(json.loads(b[1][6:])["tick"], end - 64)
        for bad in ("mode=every", "mode=ticks&from_tick=-1", "from_tick=3", "mode=ticks&from_tick=x"):
            self.assert_error(f"/v1/stream?tickers=AAPL&{bad}", 400, "BAD_REQUEST")
        self.assert_serving()


if __name__ == "__main__":
    unittest.main(verbosity=2)
