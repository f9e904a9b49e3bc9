# SPDX-License-Identifier: MIT
"""Restart policy: immediate restart after kill -9 or a healthy run, backoff
for crash loops, give-up with max_restarts, a missing binary retried."""
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


class Restart(suphelp.SupCase):
    def test_kill9_child_replaced_quickly(self):
        s = self.s = suphelp.Sup("k9").start()
        seg = stktest.shm_path(s.shm)
        self.assertTrue(os.path.exists(seg))
        for name in ("producer", "server"):
            old = s.child(name)["pid"]
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            c = s.wait_child(name, lambda c: c["pid"] not in (0, old), 2.0,
                             f"new {name} pid within 2 s")
            dt = time.monotonic() - t0
            print(f"{name}: kill -9 -> new pid {c['pid']} in {dt * 1000:.1f} ms")
            self.assertTrue(stktest.alive(c["pid"]))
            self.assertEqual(c["last_exit"], {"signal": 9})
            self.assertEqual(c["restarts"], 1)
            self.assertTrue(os.path.exists(seg), "segment unlinked by a child's death")
            s.wait_child(name, lambda c: c["ready"] and c["state"] == "running", 5)
        # The replacement is supervised like the first one: kill it too.
        old = s.child("producer")["pid"]
        os.kill(old, signal.SIGKILL)
        s.wait_child("producer", lambda c: c["pid"] not in (0, old) and c["restarts"] == 2, 2.0)

    def test_crash_loop_backs_off_to_cap(self):
        s = self.s = suphelp.Sup("loop", programs={
            "crash": {"command": "echo crash-run; exit 3", "backoff_min_ms": 50,
                      "backoff_max_ms": 400}}).start(wait_ready=False)
        s.wait_log(r"crash: quick death #7, restarting in", 15)
        log = s.log()
        delays = [int(d) for n, d in re.findall(r"crash: quick death #(\d+), restarting in (\d+) ms",
                                                log)]
        expect = [50, 100, 200, 400, 400, 400, 400]
        for d, e in zip(delays, expect):
            self.assertGreaterEqual(d, e * 0.8 - 1, f"delays {delays}")
            self.assertLessEqual(d, min(e * 1.2 + 1, 400), f"delays {delays}")
        # The delays are really waited: exit -> next start gaps follow them.
        lines = log.splitlines()
        exits = [suphelp.log_time(l) for l in lines if re.search(r"crash: pid \d+ exited", l)]
        starts = [suphelp.log_time(l) for l in lines if re.search(r"crash: started pid", l)]
        for k in range(1, 6):
            gap = starts[k] - exits[k - 1]
            self.assertGreaterEqual(gap, delays[k - 1] / 1000 - 0.005, f"gap {k}: {gap}")
        self.assertIn("crash: crash-run", log)
        # The others are not disturbed.
        self.assertEqual(s.child("producer")["restarts"], 0)

    def test_max_restarts_gives_up_others_stay(self):
        s = self.s = suphelp.Sup("give", programs={
            "bad": {"command": "exit 1", "backoff_min_ms": 10, "backoff_max_ms": 20,
                    "max_restarts": 3, "restart_window_s": 60},
            "good": "exec sleep 100000"}).start(wait_ready=False)
        s.wait_child("producer", lambda c: c["ready"], 10)
        keep = {n: s.child(n)["pid"] for n in ("producer", "server", "good")}
        c = s.wait_child("bad", lambda c: c["state"] == "failed", 10)
        self.assertEqual(c["restarts"], 3)
        self.assertEqual(c["pid"], 0)
        self.assertEqual(c["last_exit"], {"code": 1})
        s.wait_log(r"bad: gave up after 3 restarts within 60 s")
        time.sleep(0.3)
        for n, pid in keep.items():
            self.assertEqual(s.child(n)["pid"], pid, n)
            self.assertTrue(stktest.alive(pid), n)
        self.assertFalse(s.status()["all_ready"])
        self.assertEqual(len(re.findall(r"bad: started pid", s.log())), 4)

    def test_healthy_run_restarts_at_once(self):
        # Dies after 1.2 s: a healthy run, so no 5 s backoff.
        s = self.s = suphelp.Sup("healthy", programs={
            "short": {"command": "sleep 1.2; exit 2", "backoff_min_ms": 5000,
                      "backoff_max_ms": 5000}}).start(wait_ready=False)
        first = s.wait_child("short", lambda c: c["pid"], 5)["pid"]
        c = s.wait_child("short", lambda c: c["pid"] not in (0, first), 4,
                         "restart right after the healthy run")
        self.assertEqual(c["last_exit"], {"code": 2})
        self.assertNotIn("short: quick death", s.log())

    def test_ready_child_restarts_at_once(self):
        # Reported ready and ran 1 s: restarted at once. (Readiness alone
        # is not enough: a death within 1 s of the start is a quick one,
        # see test_tree_policy.py's ready-then-crash.)
        s = self.s = suphelp.Sup("rdy", supervisor={"backoff_min_ms": 5000,
                                                    "backoff_max_ms": 5000},
                                 standin_pre={"server": ""}).start()
        time.sleep(1.2)
        old = s.child("server")["pid"]
        os.kill(old, signal.SIGKILL)
        s.wait_child("server", lambda c: c["pid"] not in (0, old), 2)

    def test_missing_binary_reported_and_retried(self):
        s = self.s = suphelp.Sup("nobin", standins=("producer",),
                                 supervisor={"backoff_min_ms": 50, "backoff_max_ms": 200})
        s.start(wait_ready=False)
        path = os.path.join(s.bindir, "seqtick-server")
        s.wait_log(re.escape(f"server: unable to exec '{path}': No such file or directory"),
                   10, count=3)
        c = s.child("server")
        self.assertIn(c["state"], ("backoff", "starting"))
        self.assertGreaterEqual(c["restarts"], 2)
        self.assertEqual(c["last_exit"], {"code": 127})
        self.assertTrue(s.child("producer")["ready"])
        suphelp.write_standin(s.bindir, "server")
        s.wait(lambda st: st["all_ready"], 5, "server started once installed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
