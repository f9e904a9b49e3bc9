# SPDX-License-Identifier: MIT
"""Who owns a segment: a second supervisor on the same shm name (another
pidfile, another port) exits 111 and touches nothing, while the first stack
keeps serving; a file at the shm name that is not a seqtick segment, of any
size, is left exactly as it was and named, exit 111."""
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


def built(folder, name):
    return os.path.exists(os.path.join(stktest.BUILD, folder, name))


HAVE_STACK = built("producer", "seqtick-producer") and built("server", "seqtick-server")


def get_quote(port, ticker="AAPL"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b'{"v":1,"id":1,"type":"get_quote","ticker":"%s"}\n' % ticker.encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def real_stack(tag, port, shm=None):
    s = suphelp.Sup(tag, standins=(), extra={
        "producer": {"feed": "sim", "rate": 2000},
        "server": {"listen": f"127.0.0.1:{port}"}})
    del s.sections["supervisor"]["bindir"]  # the build tree's producer and server
    s.sections["supervisor"]["grace_ms"] = 10000  # a sanitizer build is slow to exit
    if shm:
        stktest.shm_remove(s.shm)
        s.shm = s.sections["shm"]["name"] = shm
    s.write()
    return s


class SecondSupervisor(unittest.TestCase):
    def setUp(self):
        self.a = self.b = None

    def tearDown(self):
        for s in (self.b, self.a):
            if s:
                s.close()

    def fresh_quote(self, port):
        def ok():
            r = get_quote(port)
            return r if r.get("type") == "response" and r.get("stale") is False else None
        return stktest.wait_for(ok, 10, 0.05, "a fresh quote")

    @unittest.skipUnless(HAVE_STACK, "seqtick-producer and seqtick-server not built here")
    def test_second_supervisor_refused_first_keeps_serving(self):
        pa, pb = stktest.free_port(), stktest.free_port()
        a = self.a = real_stack("own1", pa).start(timeout=30)
        seg = stktest.open_segment(a.shm)
        path = stktest.shm_path(a.shm)
        ino = os.stat(path).st_ino
        producer = a.child("producer")["pid"]
        stktest.wait_for(lambda: seg.header()["producer_pid"] == producer, 10, 0.01,
                         "producer attached")
        self.fresh_quote(pa)

        b = self.b = real_stack("own2", pb, shm=a.shm)
        b.start(wait_ready=False)
        rc = b.proc.p.wait(30)
        self.assertEqual(rc, 111, b.log())
        self.assertRegex(b.log(), r"segment %s is owned by another supervisor \(pid %d\)"
                         % (a.shm, a.pid))
        self.assertNotIn("supervising", b.log())  # started nothing
        self.assertFalse(os.path.exists(b.pidfile), "the refused one left its pidfile")
        self.assertFalse(os.path.exists(b.pidfile + ".conf"))

        # The first stack is untouched: same file, same producer writing into
        # it (not into an unlinked one), the server answers with fresh quotes.
        time.sleep(0.5)
        self.assertEqual(os.stat(path).st_ino, ino, "segment replaced or unlinked")
        h = seg.header()
        self.assertEqual(h["producer_pid"], producer)
        self.assertEqual(h["state"], 1)  # live
        e0 = h["epoch"]
        stktest.wait_for(lambda: seg.header()["epoch"] > e0 + 2, 10, 0.01, "epoch moving")
        self.assertEqual(os.stat(path).st_ino, ino)
        self.assertEqual(a.child("producer")["pid"], producer)
        self.fresh_quote(pa)
        self.assertIsNone(a.proc.p.poll())
        seg.close()

        # Once the first is gone, the name is free for the next one.
        rc, _ = a.stop()
        self.assertEqual(rc, 0, a.log())
        self.assertFalse(os.path.exists(path))

    def test_second_supervisor_standins(self):
        # The same refusal with stand-in children, whatever is built here:
        # the second one never even starts its children.
        a = self.a = suphelp.Sup("own3").start()
        ino = os.stat(stktest.shm_path(a.shm)).st_ino
        b = self.b = suphelp.Sup("own4", shm={"name": a.shm})
        b.shm = a.shm
        b.start(wait_ready=False)
        self.assertEqual(b.proc.p.wait(20), 111, b.log())
        self.assertIn("owned by another supervisor (pid %d)" % a.pid, b.log())
        self.assertNotIn("stand-in", b.log())
        self.assertEqual(os.stat(stktest.shm_path(a.shm)).st_ino, ino)
        self.assertIsNone(a.proc.p.poll())
        a.stop()
        b.shm = "/stk-own4-nothing"  # a.close() removes the shared one


class ForeignFile(unittest.TestCase):
    CASES = [
        ("empty", b""),
        ("six", b"hello\n"),
        ("text37", b"this is not a segment, it is text!!\n\n"),
        ("mega", bytes((i * 7 + 3) & 0xFF for i in range(1 << 20))),
        ("wrongmagic", b"SEQTICK2" + b"\0" * 8184),
    ]

    def test_foreign_file_survives(self):
        for tag, data in self.CASES:
            with self.subTest(tag):
                self.one_foreign(tag, data)

    def one_foreign(self, tag, data):
        if tag == "text37":
            self.assertEqual(len(data), 37)
        s = suphelp.Sup("alien-" + tag)
        path = stktest.shm_path(s.shm)
        try:
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o600)
            st0 = os.stat(path)
            s.start(wait_ready=False)
            self.assertEqual(s.proc.p.wait(20), 111, s.log())
            self.assertIn(f"{path} is not a seqtick segment", s.log())
            self.assertNotIn("stand-in", s.log())
            st1 = os.stat(path)
            self.assertEqual((st1.st_ino, st1.st_size, st1.st_mode),
                             (st0.st_ino, st0.st_size, st0.st_mode))
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual([n for n in os.listdir("/dev/shm")
                              if n.startswith(s.shm[1:] + ".")], [])
        finally:
            s.close()  # stops what it started, removes the file
    @unittest.skipUnless(built("producer", "seqtick-producer"), "seqtick-producer not built here")
    def test_producer_alone_leaves_foreign_file(self):
        # A producer started without a supervisor follows the same rule.
        for tag, data in self.CASES[1:3]:
            with self.subTest(tag):
                d = tempfile.mkdtemp(prefix="stk-own-prod-")
                shm = stktest.unique_shm("alienp")
                path = stktest.shm_path(shm)
                try:
                    with open(path, "wb") as f:
                        f.write(data)
                    ino = os.stat(path).st_ino
                    conf = stktest.write_config(d, {"shm": {"name": shm, "capacity": 16,
                                                            "history": 16}})
                    p = stktest.Proc([stktest.binary("producer", "seqtick-producer"), "-c",
                                      conf])
                    try:
                        self.assertEqual(p.p.wait(20), 111, p.output())
                        self.assertIn(f"{path} is not a seqtick segment", p.output())
                    finally:
                        p.close()
                    self.assertEqual(os.stat(path).st_ino, ino)
                    with open(path, "rb") as f:
                        self.assertEqual(f.read(), data)
                finally:
                    stktest.shm_remove(shm)
                    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
