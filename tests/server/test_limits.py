# SPDX-License-Identifier: MIT
"""Hard limits: max_connections, 1,000 concurrent connections, idle timeout,
and a subscriber that never reads cut at out_buffer_bytes with RSS bounded."""
import resource
import selectors
import socket
import threading
import time
import unittest

import srvtest
import stktest


class Limits(unittest.TestCase):
    def test_max_connections(self):
        shm, w, srv = srvtest.stack(self, server={"max_connections": 5})
        cs = [srv.client() for _ in range(5)]
        for c in cs:
            self.addCleanup(c.close)
            self.assertEqual(c.req("ping")["type"], "response")
        extra = srv.client()
        self.addCleanup(extra.close)
        r = extra.reply()
        srvtest.error(self, r, "UNAVAILABLE")
        self.assertIn("too many connections", r["error"]["message"])
        self.assertTrue(extra.eof())
        # the five still work; closing one makes room
        self.assertEqual(cs[0].req("health")["connections"], 5)
        cs[4].close()
        stktest.wait_for(lambda: cs[0].req("health")["connections"] == 4, timeout=5,
                         what="close seen")
        again = srv.client()
        self.addCleanup(again.close)
        self.assertEqual(again.req("ping")["type"], "response")

    def test_1000_concurrent_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        shm, w, srv = srvtest.stack(self)
        n = 1000
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
            socks.append(s)
            self.addCleanup(s.close)
        for i, s in enumerate(socks):
            s.sendall(b'{"v":1,"id":%d,"type":"get_quote","ticker":"AAPL"}\n' % i)
        sel = selectors.DefaultSelector()
        bufs = {}
        for i, s in enumerate(socks):
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, i)
            bufs[i] = b""
        done = set()
        end = time.monotonic() + 30
        while len(done) < n and time.monotonic() < end:
            for key, _ in sel.select(timeout=1):
                i = key.data
                d = key.fileobj.recv(65536)
                self.assertTrue(d, f"connection {i} closed")
                bufs[i] += d
                if b"\n" in bufs[i]:
                    done.add(i)
                    sel.unregister(key.fileobj)
                    self.assertIn(b'"id":%d,' % i, bufs[i])
                    self.assertIn(b'"price":100.25', bufs[i])
        self.assertEqual(len(done), n)
        c = srv.client()
        self.addCleanup(c.close)
        self.assertEqual(c.req("health")["connections"], n + 1)

    def test_out_of_fds(self):
        """EMFILE: with 48 fds the server sheds what it cannot accept (the
        spare-fd trick: no busy loop on a readable listening socket) and
        keeps serving the connections it has."""
        shm = stktest.unique_shm("emfile")
        self.addCleanup(stktest.shm_remove, shm)
        w = srvtest.Writer(shm)
        self.addCleanup(w.stop)
        srv = srvtest.Server(shm, nofile=48)
        self.addCleanup(srv.close)
        first = srv.client()
        self.addCleanup(first.close)
        self.assertEqual(first.req("ping")["type"], "response")
        extra = []
        for _ in range(80):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            self.addCleanup(s.close)
            extra.append(s)
        time.sleep(0.5)
        c0 = srv.cpu_ticks()
        time.sleep(1.0)
        self.assertLess(srv.cpu_ticks() - c0, 30)  # < 30 % of a core: no accept spin
        self.assertEqual(first.req("ping")["type"], "response")
        shed = 0
        for s in extra:
            s.settimeout(5)
            try:
                s.sendall(b'{"v":1,"id":1,"type":"ping"}\n')
                if not s.recv(4096):
                    shed += 1
            except (ConnectionResetError, BrokenPipeError):
                shed += 1
        self.assertGreater(shed, 0)
        self.assertIn("shedding", srv.output())
        for s in extra:
            s.close()
        time.sleep(0.3)
        again = srv.client()
        self.addCleanup(again.close)
        self.assertEqual(again.req("ping")["type"], "response")

    def test_idle_timeout(self):
        shm, w, srv = srvtest.stack(self, server={"idle_timeout_s": 1})
        idle = srv.client()
        sub = srv.client()
        self.addCleanup(idle.close)
        self.addCleanup(sub.close)
        self.assertEqual(idle.req("ping")["type"], "response")
        sub.req("subscribe", tickers=["AAPL"])
        t0 = time.monotonic()
        self.assertTrue(idle.eof(timeout=10))
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        # the subscriber (heartbeats, no requests) is not idle
        time.sleep(1.5)
        self.assertEqual(sub.req("ping")["type"], "response")

    def test_never_reading_subscriber_is_cut(self):
        syms = [f"S{i:03d}" for i in range(200)]
        cap = 65536
        shm, w, srv = srvtest.stack(self, symbols=syms, rate=50000, capacity=256,
                                    server={"out_buffer_bytes": cap})
        watch = srv.client()
        self.addCleanup(watch.close)
        time.sleep(0.3)
        rss0 = srv.rss_kb()
        slow = srv.client(rcvbuf=4096)
        self.addCleanup(slow.close)
        slow.send({"v": 1, "id": 1, "type": "subscribe", "tickers": "*"})
        # never read; the server must cut it, not buffer without bound
        stktest.wait_for(lambda: watch.req("health")["slow_consumers"] >= 1, timeout=20,
                         interval=0.05, what="slow consumer cut")
        rss1 = srv.rss_kb()
        # now read: whatever was in flight, then the error line, then EOF
        lines = []
        while True:
            line = slow.line(timeout=10)
            if line is None:
                break
            lines.append(line)
        self.assertTrue(lines)
        self.assertIn(b'"code":"SLOW_CONSUMER"', lines[-1])
        self.assertTrue(lines[-1].startswith(b'{"v":1,"id":null,"type":"error"'))
        print(f"RSS before {rss0} kB, at the cut {rss1} kB")
        self.assertLess(rss1 - rss0, 32 * 1024)
        # the server goes on serving
        self.assertEqual(watch.req("ping")["type"], "response")
        slow.close()
        stktest.wait_for(lambda: watch.req("health")["connections"] == 1, timeout=10,
                         what="cut connection released")

    def test_backed_up_client_is_not_read(self):
        """A client pipelining requests with large replies without reading:
        the server stops reading it (back-pressure) instead of buffering
        ~65 MB of replies; once the client reads, every reply arrives in
        order."""
        shm, w, srv = srvtest.stack(self, server={"out_buffer_bytes": 1 << 30})
        w.cmd("burst 64")  # 64 ticks of history: ~13 KB per get_history reply
        c = srv.client(timeout=60)
        self.addCleanup(c.close)
        rss0 = srv.rss_kb()
        n = 5000
        data = b"".join(b'{"v":1,"id":%d,"type":"get_history","ticker":"AAPL","limit":64}\n' % i
                        for i in range(n))
        sender = threading.Thread(target=c.send_raw, args=(data,), daemon=True)
        sender.start()
        time.sleep(2)
        rss1 = srv.rss_kb()
        print(f"RSS before {rss0} kB, with {n} unread replies pending {rss1} kB")
        self.assertLess(rss1 - rss0, 16 * 1024)
        for i in range(n):
            r = c.reply(30)
            self.assertEqual(r["id"], i)
            self.assertEqual(len(r["ticks"]), 64)
        sender.join(30)
        self.assertEqual(c.req("health")["slow_consumers"], 0)

    def test_reading_subscriber_under_load_is_not_cut(self):
        syms = [f"S{i:03d}" for i in range(50)]
        shm, w, srv = srvtest.stack(self, symbols=syms, rate=20000,
                                    server={"out_buffer_bytes": 65536})
        c = srv.client()
        self.addCleanup(c.close)
        c.req("subscribe", tickers="*")
        n = 0
        end = time.monotonic() + 2
        while time.monotonic() < end:
            c.event()
            n += 1
        self.assertGreater(n, 100)
        self.assertEqual(c.req("health")["slow_consumers"], 0)


if __name__ == "__main__":
    stktest.main_unittest()
