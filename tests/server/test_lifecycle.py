# SPDX-License-Identifier: MIT
"""Segment lifecycle and operability: start before the segment exists,
re-open a replaced segment, SIGTERM exits 0 after flushing, readiness fd,
bad config exits 100, debug logs carry the peer."""
import os
import signal
import subprocess
import time
import unittest

import srvtest
import stktest


class Lifecycle(unittest.TestCase):
    def test_start_before_segment(self):
        shm = stktest.unique_shm("life")
        self.addCleanup(stktest.shm_remove, shm)
        srv = srvtest.Server(shm)
        self.addCleanup(srv.close)
        c = srv.client()
        self.addCleanup(c.close)
        for op, kw in (("get_quote", {"ticker": "AAPL"}), ("list_tickers", {}),
                       ("get_quotes", {"tickers": ["AAPL"]}), ("get_snapshot_epoch", {}),
                       ("get_history", {"ticker": "AAPL"}), ("subscribe", {"tickers": "*"})):
            r = c.req(op, **kw)
            srvtest.error(self, r, "UNAVAILABLE", op, r["id"])
        h = c.req("health")
        self.assertIs(h["producer_alive"], False)
        self.assertIs(h["segment"], False)
        self.assertIsNone(h["generation"])
        self.assertEqual(c.req("ping")["type"], "response")
        w = srvtest.Writer(shm)
        self.addCleanup(w.stop)
        r = stktest.wait_for(lambda: (lambda r: r if r["type"] == "response" else None)(
            c.req("get_quote", ticker="AAPL")), timeout=10, what="quote after writer start")
        self.assertEqual(r["price"], 100.25)
        self.assertIs(c.req("health")["producer_alive"], True)

    def test_replaced_segment_is_reopened(self):
        shm = stktest.unique_shm("repl")
        self.addCleanup(stktest.shm_remove, shm)
        w1 = srvtest.Writer(shm, capacity=64)
        srv = srvtest.Server(shm)
        self.addCleanup(srv.close)
        c = srv.client()
        self.addCleanup(c.close)
        sub = srv.client()
        self.addCleanup(sub.close)
        self.assertEqual(c.req("health")["generation"], 1)
        sub.req("subscribe", tickers=["MSFT"])
        w1.stop()
        # a different geometry: the writer retires the old segment and renames
        # a new one over it with generation + 1
        w2 = srvtest.Writer(shm, symbols=("ZED",), capacity=128)
        self.addCleanup(w2.stop)
        stktest.wait_for(lambda: c.req("health")["generation"] == 2, timeout=10,
                         what="generation 2 seen")
        self.assertEqual(c.req("list_tickers")["tickers"], ["ZED"])
        r = c.req("get_quote", ticker="MSFT")
        srvtest.error(self, r, "NOT_FOUND", "get_quote", r["id"])
        # the subscription follows its ticker by name into the new segment,
        # even though the ticker only appears there later
        w2.cmd("tick MSFT 55.5")
        e = sub.event(timeout=10)
        self.assertEqual((e["ticker"], e["price"], e["conflated"]), ("MSFT", 55.5, 0))
        self.assertEqual(c.req("get_quote", ticker="MSFT")["price"], 55.5)

    def test_sigterm_flushes_and_exits_0(self):
        shm, w, srv = srvtest.stack(self)
        c = srv.client()
        self.addCleanup(c.close)
        c.req("subscribe", tickers="*")
        # a big reply in flight when SIGTERM lands
        c.send_raw(b'{"v":1,"id":"h","type":"get_history","ticker":"AAPL"}\n' * 200)
        time.sleep(0.2)
        srv.p.send_signal(signal.SIGTERM)
        got = 0
        while True:
            m = c.line(timeout=10)
            if m is None:
                break
            if b'"id":"h"' in m:
                got += 1
        self.assertEqual(got, 200)
        self.assertEqual(srv.p.wait(10), 0)
        self.assertIn("stopped", srv.output())

    def test_readiness_fd(self):
        shm = stktest.unique_shm("ready")
        self.addCleanup(stktest.shm_remove, shm)
        r, wfd = os.pipe()
        srv = srvtest.Server(shm, env={"SEQTICK_READY_FD": str(wfd)}, pass_fds=(wfd,))
        self.addCleanup(srv.close)
        os.close(wfd)
        self.assertEqual(os.read(r, 16), b"\n")
        self.assertEqual(os.read(r, 16), b"")  # written once, then closed
        os.close(r)

    def test_debug_log_has_peer_and_warn_has_request(self):
        shm = stktest.unique_shm("log")
        self.addCleanup(stktest.shm_remove, shm)
        srv = srvtest.Server(shm, log_level="debug")
        self.addCleanup(srv.close)
        c = srv.client()
        self.addCleanup(c.close)
        c.req("ping")
        c.send_raw(b'{"v":1,"id":"bad","type":"nope"}\n')
        c.reply()
        port = c.s.getsockname()[1]
        out = stktest.wait_for(lambda: (lambda o: o if "nope" in o else None)(srv.output()),
                               timeout=5, what="warn line")
        self.assertRegex(out, rf"debug .*127\.0\.0\.1:{port} < .*\"ping\"")
        self.assertRegex(out, rf"debug .*127\.0\.0\.1:{port} > .*\"op\":\"ping\"")
        self.assertRegex(out, rf"warn .*127\.0\.0\.1:{port}: BAD_REQUEST: unknown type.*nope")
        stktest.wait_for(lambda: "stats: connections=1" in srv.output(), timeout=5,
                         what="stats line")

    def test_bad_config_and_flags(self):
        exe = stktest.binary("server", "seqtick-server")
        d = srvtest.tempfile.mkdtemp()
        bad = stktest.write_config(d, {"server": {"no_such_key": 1}})
        p = subprocess.run([exe, "-c", bad], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 100)
        self.assertIn("no_such_key", p.stderr)
        p = subprocess.run([exe, "--bogus"], capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 100)
        p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("seqtick-server", p.stdout)
        taken = stktest.write_config(d, {"server": {"listen": "203.0.113.1:1"}}, name="t.conf")
        p = subprocess.run([exe, "-c", taken], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 111)


if __name__ == "__main__":
    stktest.main_unittest()
