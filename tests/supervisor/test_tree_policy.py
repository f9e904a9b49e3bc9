# SPDX-License-Identifier: MIT
"""Restart policy and readiness: restart = on-failure | never leave a child
`done`; exit 100 is `failed` at once; a child that reports ready and
crashes is still a quick death (no hot loop); READY=1 reaches systemd once
the producer and the server are ready, whatever the [program.*] do; the
readiness fd is read once; ready_timeout_ms is logged and shown."""
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


class FakeSystemd:
    """A NOTIFY_SOCKET: a unix datagram socket that keeps what it gets."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.got = []

    def wait(self, msg, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if msg in self.got:
                return True
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return msg in self.got

    def close(self):
        self.sock.close()


class Policy(suphelp.SupCase):
    def test_one_shot_on_failure_is_done_and_ready_1_arrives(self):
        s = suphelp.Sup("oneshot", programs={
            "once": {"command": "echo did-it; exit 0", "restart": "on-failure"},
            "config-error": {"command": "exit 100"},
            "slow": "exec sleep 100000"})
        self.s = s
        sd = FakeSystemd(s.dir)
        self.addCleanup(sd.close)
        s.env = {"NOTIFY_SOCKET": sd.path}
        s.start(wait_ready=False)
        self.assertTrue(sd.wait("READY=1", 10), f"no READY=1: {sd.got}\n{s.log()[-3000:]}")
        c = s.wait_child("once", lambda c: c["state"] == "done", 5)
        self.assertEqual(c["restarts"], 0)
        self.assertEqual(c["last_exit"], {"code": 0})
        c = s.wait_child("config-error", lambda c: c["state"] == "failed", 5)
        self.assertEqual(c["restarts"], 0, "exit 100 was restarted")
        time.sleep(1.5)
        log = s.log()
        self.assertEqual(len(re.findall(r"once: started pid", log)), 1, log[-3000:])
        self.assertEqual(len(re.findall(r"config-error: started pid", log)), 1, log[-3000:])
        self.assertIn("once: done, not restarted (restart = on-failure)", log)
        self.assertIn("config-error: exit code 100 is a configuration error", log)
        # done counts as ready; failed does not
        self.assertFalse(s.status()["all_ready"])
        self.assertEqual(sd.got.count("READY=1"), 1)

    def test_on_failure_restarts_a_failure_never_does_not(self):
        s = self.s = suphelp.Sup("never", programs={
            "flaky": {"command": "exit 3", "restart": "on-failure", "backoff_min_ms": 20,
                      "backoff_max_ms": 40},
            "once": {"command": "exit 3", "restart": "never"}}).start(wait_ready=False)
        s.wait_child("flaky", lambda c: c["restarts"] >= 3, 10)
        c = s.wait_child("once", lambda c: c["state"] == "stopped" and c["last_exit"], 5)
        self.assertEqual(c["restarts"], 0)
        self.assertEqual(c["last_exit"], {"code": 3})

    def test_ready_then_crash_at_most_2_starts_per_second(self):
        s = self.s = suphelp.Sup("rcrash")
        with open(os.path.join(s.bindir, "seqtick-server"), "w") as f:
            f.write("#!/bin/sh\nprintf '\\n' >&3\nsleep 0.02\nexit 1\n")
        s.start(wait_ready=False)
        t0 = time.monotonic()
        time.sleep(4.0)
        n = len(re.findall(r"server: started pid", s.log()))
        dt = time.monotonic() - t0
        print(f"{n} starts in {dt:.1f} s")
        self.assertLessEqual(n, 2 * dt + 1, s.log()[-3000:])
        self.assertGreaterEqual(n, 3)  # it is restarted, with backoff
        self.assertIn("server: quick death #", s.log())
        self.assertEqual(s.child("producer")["restarts"], 0)

    def test_ready_timeout_logged_and_shown(self):
        s = self.s = suphelp.Sup("rto", supervisor={"ready_timeout_ms": 300},
                                 standin_pre={"producer": "exec sleep 100000"})
        s.start(wait_ready=False)
        c = s.wait_child("producer", lambda c: c["not_ready"], 5)
        self.assertEqual(c["state"], "starting")
        self.assertIn("producer: pid %d not ready 300 ms after its start" % c["pid"], s.log())
        self.assertFalse(s.child("server")["not_ready"])

    def test_readiness_fd_read_once(self):
        garbage = "x" * 300
        s = self.s = suphelp.Sup("rgarb", standin_pre={
            "server": f"printf '{garbage}' >&3; exec sleep 100000"}).start(wait_ready=False)
        s.wait_log(r"server: 256 bytes without a newline on the readiness fd", 5)
        time.sleep(0.3)
        c = s.child("server")
        self.assertFalse(c["ready"])
        self.assertTrue(stktest.alive(c["pid"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
