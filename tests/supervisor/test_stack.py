# SPDX-License-Identifier: MIT
"""The real stack under the supervisor (skipped when the producer or the
server is not built in this tree): kill -9 producer -> new pid, quotes flow
again, same segment; kill -9 server -> the port accepts again. The binaries
are found the default way: the build tree's sibling folders."""
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


def built(folder, name):
    return os.path.exists(os.path.join(stktest.BUILD, folder, name))


HAVE_STACK = built("producer", "seqtick-producer") and built("server", "seqtick-server")


def accepting(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@unittest.skipUnless(HAVE_STACK, "seqtick-producer and seqtick-server not built here")
class Stack(unittest.TestCase):
    WATCHDOG_MS = 2000

    def setUp(self):
        self.port = stktest.free_port()
        s = self.s = suphelp.Sup("stack", standins=(), extra={
            "producer": {"feed": "sim", "rate": 2000},
            "server": {"listen": f"127.0.0.1:{self.port}"}})
        # default lookup: ../producer/, ../server/ beside the supervisor
        del s.sections["supervisor"]["bindir"]
        # generous: a sanitizer build's producer can be slow to exit
        s.sections["supervisor"]["grace_ms"] = 10000
        s.sections["supervisor"]["watchdog_ms"] = self.WATCHDOG_MS
        s.write()
        s.start(timeout=20)

    def tearDown(self):
        self.s.close()

    def epoch_moves(self, seg):
        e0 = seg.header()["epoch"]
        stktest.wait_for(lambda: seg.header()["epoch"] > e0 + 2, 5, 0.005, "epoch moving")

    def took_over(self, seg, new, ino):
        """The producer `new` attached, ticks flow, on the segment `ino`."""
        stktest.wait_for(lambda: seg.header()["producer_pid"] == new, 5, 0.005,
                         "new producer attached")
        self.epoch_moves(seg)
        self.assertEqual(os.stat(stktest.shm_path(self.s.shm)).st_ino, ino,
                         "segment was replaced or unlinked")

    def test_kill9_producer_and_server(self):
        s = self.s
        seg = stktest.open_segment(s.shm)
        ino = os.stat(stktest.shm_path(s.shm)).st_ino
        try:
            self.epoch_moves(seg)
            old = s.child("producer")["pid"]
            self.assertEqual(seg.header()["producer_pid"], old)
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            new = s.wait_child("producer", lambda c: c["pid"] not in (0, old), 2)["pid"]
            print(f"producer replaced in {(time.monotonic() - t0) * 1000:.1f} ms")
            self.took_over(seg, new, ino)
            self.assertGreaterEqual(seg.header()["producer_restarts"], 1)

            self.assertTrue(accepting(self.port))
            old = s.child("server")["pid"]
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            s.wait_child("server", lambda c: c["pid"] not in (0, old) and c["ready"], 5)
            stktest.wait_for(lambda: accepting(self.port), 2, 0.005, "port accepting again")
            print(f"server accepting again {(time.monotonic() - t0) * 1000:.1f} ms after kill")
        finally:
            seg.close()
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])
        self.assertFalse(os.path.exists(stktest.shm_path(s.shm)))

    def test_watchdog_replaces_a_stopped_producer(self):
        """A producer frozen with SIGSTOP still holds the writer lock and its
        pid, but its heartbeat stops: the watchdog SIGKILLs it after
        supervisor.watchdog_ms and the restart policy brings a new one."""
        s = self.s
        seg = stktest.open_segment(s.shm)
        ino = os.stat(stktest.shm_path(s.shm)).st_ino
        try:
            self.epoch_moves(seg)
            old = s.child("producer")["pid"]
            t0 = time.monotonic()
            os.kill(old, signal.SIGSTOP)
            new = s.wait_child("producer", lambda c: c["pid"] not in (0, old),
                               self.WATCHDOG_MS / 1000 + 10)["pid"]
            took = time.monotonic() - t0
            print(f"stopped producer replaced {took * 1000:.0f} ms after SIGSTOP "
                  f"(watchdog_ms {self.WATCHDOG_MS})")
            self.assertGreaterEqual(took, self.WATCHDOG_MS / 1000 * 0.9,
                                    "replaced before the watchdog limit")
            self.assertFalse(os.path.exists(f"/proc/{old}"), "the stopped producer is still there")
            self.took_over(seg, new, ino)
            self.assertIn(f"producer: pid {old} has not beaten its heartbeat", s.log())
        finally:
            seg.close()
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
