# SPDX-License-Identifier: MIT
"""get_bars (server/bars.c) against a SQLite store with known bars
(tests/lib/storefix.py): exact answers newest last, limit and from/to,
errors (no store, unknown ticker, bad interval or limit), and a store held
locked by another process answers UNAVAILABLE at once, never stalling the
loop (a ping on another connection is answered meanwhile)."""
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import unittest

import srvtest
import stktest
import storefix

MINUTE_MS = 60000


class BarServer(srvtest.Server):
    """seqtick-server whose config names a recorder store."""

    def __init__(self, shm, store, bars="1s 1m 1h 1d", extra=None):
        self.dir = tempfile.mkdtemp(prefix="stk-bars-")
        self.conf = stktest.write_config(self.dir, {
            "shm": {"name": shm}, "server": {"listen": "127.0.0.1:0", "http_listen": "off"},
            "recorder": {"store": store, "bars": bars}, "log": {"level": "info"},
            **(extra or {})})
        self.proc = stktest.Proc([stktest.binary("server", "seqtick-server"), "-c", self.conf])
        self.p = self.proc.p
        self.log = self.proc.log
        self.pid = self.p.pid
        m = stktest.wait_for(lambda: re.search(r"listening on 127\.0\.0\.1:(\d+)", self.output()),
                             timeout=15, what="server listening")
        self.port = int(m.group(1))


def want_bar(sym_i, interval_s, k):
    t, o, h, lo, c, v, n = storefix.bar(sym_i, interval_s, k)
    return {"t_ms": t // 1000000, "open": storefix.dec(o), "high": storefix.dec(h),
            "low": storefix.dec(lo), "close": storefix.dec(c), "volume": v, "ticks": n}


class GetBars(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="stk-bars-db-")
        cls.db = os.path.join(cls.tmp, "seqtick.db")
        storefix.make(cls.db)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def server(self, store):
        shm = stktest.unique_shm("bars")
        self.addCleanup(stktest.shm_remove, shm)
        srv = BarServer(shm, store)
        self.addCleanup(srv.close)
        c = srv.client()
        self.addCleanup(c.close)
        return srv, c

    def raw_bars(self, c, **fields):
        """The reply line's bars with prices kept as text."""
        c.send({"v": 1, "id": 7, "type": "get_bars", **fields})
        line = c.line()
        return line.decode() if isinstance(line, bytes) else line

    def check(self, r, sym_i, interval_s, ks):
        srvtest.ok_response(self, r, "get_bars")
        want = [want_bar(sym_i, interval_s, k) for k in ks]
        for w in want:  # the client parses floats; test_exact_text checks the text
            for f in ("open", "high", "low", "close"):
                w[f] = float(w[f])
        self.assertEqual(r["bars"], want)

    def test_exact_newest_last_default_limit(self):
        srv, c = self.server("sqlite:" + self.db)
        r = c.req("get_bars", ticker="MSFT", interval="1m")
        self.check(r, 1, 60, range(200, 700))  # default limit 500, newest last
        self.assertEqual(r["ticker"], "MSFT")
        self.assertEqual(r["interval"], "1m")
        r = c.req("get_bars", ticker="AAPL", interval="1s", limit=3)
        self.check(r, 0, 1, range(697, 700))
        r = c.req("get_bars", ticker="AAPL", interval="1h")
        srvtest.ok_response(self, r, "get_bars")
        self.assertEqual(r["bars"], [])  # a configured interval with nothing stored

    def test_exact_text(self):
        srv, c = self.server("sqlite:" + self.db)
        line = self.raw_bars(c, ticker="AAPL", interval="1m", limit=2)
        parts = []
        for k in (698, 699):
            w = want_bar(0, 60, k)
            parts.append('{"t_ms":%d,"open":%s,"high":%s,"low":%s,"close":%s,"volume":%d,'
                         '"ticks":%d}' % (w["t_ms"], w["open"], w["high"], w["low"], w["close"],
                                          w["volume"], w["ticks"]))
        self.assertEqual(line, '{"v":1,"id":7,"type":"response","op":"get_bars",'
                               '"ticker":"AAPL","interval":"1m","bars":[' + ",".join(parts) + ']}')

    def test_from_to_and_limits(self):
        srv, c = self.server("sqlite:" + self.db)
        t0 = storefix.T0_NS // 1000000
        r = c.req("get_bars", ticker="AAPL", interval="1m", from_ms=t0 + 10 * MINUTE_MS,
                  to_ms=t0 + 14 * MINUTE_MS)
        self.check(r, 0, 60, range(10, 15))
        r = c.req("get_bars", ticker="AAPL", interval="1m", from_ms=t0 + 10 * MINUTE_MS,
                  to_ms=t0 + 14 * MINUTE_MS, limit=2)
        self.check(r, 0, 60, range(13, 15))  # the newest two of the range
        r = c.req("get_bars", ticker="AAPL", interval="1m", from_ms=t0 + 695 * MINUTE_MS)
        self.check(r, 0, 60, range(695, 700))
        r = c.req("get_bars", ticker="AAPL", interval="1m", to_ms=t0 + 1)
        self.check(r, 0, 60, [0])
        r = c.req("get_bars", ticker="AAPL", interval="1m", limit=0)
        self.check(r, 0, 60, [])
        r = c.req("get_bars", ticker="AAPL", interval="1m", limit=5000)
        self.check(r, 0, 60, range(0, 700))
        for bad in (-1, 5001, "10", 1.5):
            r = c.req("get_bars", ticker="AAPL", interval="1m", limit=bad)
            srvtest.error(self, r, "BAD_REQUEST", "get_bars", r["id"])
            self.assertIn("5000", r["error"]["message"])
        for f in ("from_ms", "to_ms"):
            r = c.req("get_bars", ticker="AAPL", interval="1m", **{f: "x"})
            srvtest.error(self, r, "BAD_REQUEST", "get_bars", r["id"])

    def test_errors(self):
        srv, c = self.server("sqlite:" + self.db)
        r = c.req("get_bars", ticker="NOPE", interval="1m")
        srvtest.error(self, r, "NOT_FOUND", "get_bars", r["id"])
        r = c.req("get_bars", ticker="no way", interval="1m")
        srvtest.error(self, r, "NOT_FOUND", "get_bars", r["id"])
        for iv in ("5m", "1x", 60, "m"):
            r = c.req("get_bars", ticker="AAPL", interval=iv)
            srvtest.error(self, r, "BAD_REQUEST", "get_bars", r["id"])
        r = c.req("get_bars", ticker="AAPL")
        srvtest.error(self, r, "BAD_REQUEST", "get_bars", r["id"])
        self.assertIn("interval", r["error"]["message"])
        r = c.req("get_bars", interval="1m")
        srvtest.error(self, r, "BAD_REQUEST", "get_bars", r["id"])
        r = c.req("ping")  # the connection still serves
        srvtest.ok_response(self, r, "ping")

    def test_unavailable_without_store(self):
        for store in ("off", "csv:" + self.tmp):
            srv, c = self.server(store)
            r = c.req("get_bars", ticker="AAPL", interval="1m")
            srvtest.error(self, r, "UNAVAILABLE", "get_bars", r["id"])
        srv, c = self.server("sqlite:" + os.path.join(self.tmp, "missing.db"))
        r = c.req("get_bars", ticker="AAPL", interval="1m")
        srvtest.error(self, r, "UNAVAILABLE", "get_bars", r["id"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "missing.db")))

    def test_store_appears_later(self):
        path = os.path.join(self.tmp, "later.db")
        srv, c = self.server("sqlite:" + path)
        r = c.req("get_bars", ticker="AAPL", interval="1m")
        srvtest.error(self, r, "UNAVAILABLE", "get_bars", r["id"])
        storefix.make(path, nbars=3)
        end = time.monotonic() + 20
        while True:  # reopened at most once a second
            r = c.req("get_bars", ticker="AAPL", interval="1m")
            if r["type"] == "response" or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.check(r, 0, 60, range(0, 3))

    def test_recorder_gaps_in_health(self):
        """What the recorder could not store (its gaps table) is counted in
        health: rows and lost ticks, read from the store at most once a
        second, so a change shows within about a second."""
        import sqlite3
        path = os.path.join(self.tmp, "gaps.db")
        storefix.make(path, nbars=3)
        srv, c = self.server("sqlite:" + path)
        h = c.req("health")
        self.assertEqual((h["recorder_gaps"], h["recorder_lost_ticks"]), (0, 0), h)
        db = sqlite3.connect(path)
        db.execute("INSERT INTO gaps VALUES (1, 1, 100, 356, 1)")
        db.execute("INSERT INTO gaps VALUES (2, 1, 7, 8, 2)")
        db.commit()
        db.close()
        t = time.monotonic()
        h = stktest.wait_for(lambda: (lambda h: h if h["recorder_gaps"] else None)(
            c.req("health")), timeout=20, interval=0.05, what="the gaps in health")
        self.assertLess(time.monotonic() - t, 4.0)  # a 1 s cache, 2 loaded cores
        self.assertEqual((h["recorder_gaps"], h["recorder_lost_ticks"]), (2, 257), h)
        srv2, c2 = self.server("off")
        self.assertNotIn("recorder_gaps", c2.req("health"))

    def test_recorder_gaps_cached_for_a_second(self):
        """A load balancer polling /health or /metrics does not query the
        store each time: within a second of a read, both answer what that read
        found; after it, what the store holds now."""
        import http.client
        import sqlite3
        path = os.path.join(self.tmp, "gapscache.db")
        storefix.make(path, nbars=3)
        shm = stktest.unique_shm("bars")
        self.addCleanup(stktest.shm_remove, shm)
        srv = BarServer(shm, "sqlite:" + path, extra={"server": {
            "listen": "127.0.0.1:0", "http_listen": "127.0.0.1:0"}})
        self.addCleanup(srv.close)
        hport = int(stktest.wait_for(
            lambda: (re.findall(r"listening on 127\.0\.0\.1:(\d+)", srv.output()) + [None])[1],
            timeout=15, what="http listener"))
        c = srv.client()
        self.addCleanup(c.close)
        hc = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
        self.addCleanup(hc.close)

        def metrics():
            hc.request("GET", "/metrics")
            text = hc.getresponse().read().decode()
            return tuple(int(re.search(r"^seqtick_recorder_%s_total (\d+)$" % k, text,
                                       re.M).group(1)) for k in ("gaps", "lost_ticks"))

        def health():
            h = c.req("health")
            return h["recorder_gaps"], h["recorder_lost_ticks"]
        db = sqlite3.connect(path)
        self.addCleanup(db.close)
        for n in range(1, 4):  # a few rounds: one of them is quick enough
            if n > 1:
                time.sleep(1.1)  # the last round's read expired: the next one reads afresh
            t0 = time.monotonic()
            before = health()
            db.execute("INSERT INTO gaps VALUES (?, 1, ?, ?, 1)", (n, 100 * n, 100 * n + 10))
            db.commit()
            got = (health(), metrics())
            if time.monotonic() - t0 < 0.9:  # surely within the second of the first read
                self.assertEqual(got, (before, before), "answered from the cache")
                break
        else:
            self.skipTest("too slow here to see the cache (3 rounds over 0.9 s)")
        want = (n, 10 * n)
        t = time.monotonic()
        stktest.wait_for(lambda: health() == want and metrics() == want, timeout=20,
                         interval=0.05, what="the new gaps")
        self.assertLess(time.monotonic() - t, 4.0)

    def test_locked_store_never_stalls(self):
        # a rollback-journal database held by an EXCLUSIVE transaction: a
        # reader cannot even read the schema, and must not wait for it
        path = os.path.join(self.tmp, "locked.db")
        storefix.make(path, nbars=5)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=DELETE")
        srv, c = self.server("sqlite:" + path)
        r = c.req("get_bars", ticker="AAPL", interval="1m")
        self.check(r, 0, 60, range(0, 5))
        c2 = srv.client()
        self.addCleanup(c2.close)
        c2.req("ping")
        db.execute("BEGIN EXCLUSIVE")
        db.execute("INSERT INTO symbols(id, name) VALUES(99, 'ZZZ')")
        took = []
        try:
            for _ in range(20):
                # a get_bars and a ping on another connection, sent together
                c.send({"v": 1, "id": "b", "type": "get_bars", "ticker": "AAPL",
                        "interval": "1m"})
                t = time.monotonic()
                c2.send({"v": 1, "id": "p", "type": "ping"})
                p = c2.reply()
                dt = time.monotonic() - t
                srvtest.ok_response(self, p, "ping")
                took.append(dt)
                self.assertLess(dt, 0.5)  # a busy wait would be seconds long
                r = c.reply()
                srvtest.error(self, r, "UNAVAILABLE", "get_bars", "b")
                self.assertIn("busy", r["error"]["message"])
        finally:
            db.execute("ROLLBACK")
        took.sort()
        self.assertLess(took[len(took) // 2], 0.05, took)  # median ping, 2 loaded cores
        r = c.req("get_bars", ticker="AAPL", interval="1m")
        self.check(r, 0, 60, range(0, 5))
        db.close()


class WithRecorder(unittest.TestCase):
    def test_real_recorder_bars(self):
        """The sim producer and the real seqtick-recorder fill the store; once
        the recorder stopped, get_bars equals the bars table row for row."""
        try:
            rec_bin = stktest.binary("recorder", "seqtick-recorder")
            prod_bin = stktest.binary("producer", "seqtick-producer")
        except Exception as e:  # built with -Drecorder=false or -Dproducer=false
            self.skipTest(str(e))
        tmp = tempfile.mkdtemp(prefix="stk-bars-rec-")
        self.addCleanup(shutil.rmtree, tmp, True)
        db = os.path.join(tmp, "rec.db")
        shm = stktest.unique_shm("barsrec")
        self.addCleanup(stktest.shm_remove, shm)
        srv = BarServer(shm, "sqlite:" + db, bars="1s 1m",
                        extra={"producer": {"feed": "sim", "symbols": "AAPL,MSFT",
                                            "rate": 2000}})
        self.addCleanup(srv.close)
        prod = stktest.Proc([prod_bin, "-c", srv.conf])
        self.addCleanup(prod.close)
        stktest.wait_for(lambda: os.path.exists("/dev/shm" + shm), timeout=15, what="segment")
        rec = stktest.Proc([rec_bin, "-c", srv.conf])
        self.addCleanup(rec.close)
        c = srv.client()
        self.addCleanup(c.close)

        def bars_seen():
            r = c.req("get_bars", ticker="AAPL", interval="1s")
            return r["type"] == "response" and len(r["bars"]) >= 3
        stktest.wait_for(bars_seen, timeout=60, interval=0.2, what="3 one-second bars")
        t = time.monotonic()  # served while the recorder writes
        self.assertEqual(c.req("ping")["type"], "response")
        self.assertLess(time.monotonic() - t, 1.0)
        rec.stop()
        for sym in ("AAPL", "MSFT"):
            for iv, secs in (("1s", 1), ("1m", 60)):
                r = c.req("get_bars", ticker=sym, interval=iv, limit=5000)
                srvtest.ok_response(self, r, "get_bars")
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                rows = con.execute(
                    "SELECT b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.ticks "
                    "FROM bars b JOIN symbols s ON s.id = b.symbol_id WHERE s.name = ? "
                    "AND b.interval_s = ? ORDER BY b.start_ns", (sym, secs)).fetchall()
                con.close()
                want = [{"t_ms": t // 1000000, "open": o / 1e8, "high": h / 1e8,
                         "low": lo / 1e8, "close": cl / 1e8, "volume": v, "ticks": n}
                        for t, o, h, lo, cl, v, n in rows]
                self.assertGreater(len(want), 0)
                self.assertEqual(r["bars"], want)


if __name__ == "__main__":
    unittest.main(verbosity=2)
