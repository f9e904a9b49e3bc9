# SPDX-License-Identifier: MIT
"""Stopping: TERM then SIGKILL at grace_ms, nothing of the tree survives a
stop or a SIGKILL of the supervisor, the segment's fate, the pidfile lock."""
import mmap
import os
import signal
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402

STATE_OFF = 56  # header.state (docs/layout.md, layout v1)
STATE_CLOSED = 2


def seg_state(name):
    with open(stktest.shm_path(name), "rb") as f:
        with mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ) as m:
            return struct.unpack_from("<I", m, STATE_OFF)[0]


class Stop(suphelp.SupCase):
    def test_term_ignoring_program_killed_at_grace(self):
        grace = 1500
        s = self.s = suphelp.Sup("grace", programs={
            # trap '' keeps SIG_IGN across exec: sleep ignores TERM too.
            "stubborn": {"command": "trap '' TERM; exec sleep 100000", "grace_ms": grace}},
            # the program's own grace_ms counts, not the [supervisor] one
            supervisor={"grace_ms": 300}).start()
        pid = s.child("stubborn")["pid"]
        others = [s.child(n)["pid"] for n in ("producer", "server")]
        rc, dt = s.stop(signal.SIGTERM)
        print(f"stop took {dt * 1000:.0f} ms with grace_ms={grace}")
        self.assertAlmostEqual(dt, grace / 1000, delta=0.4)
        self.assertNotEqual(rc, 0, "a child needed SIGKILL: not a clean stop")
        log = s.log()
        self.assertIn(f"stubborn: pid {pid} still running {grace} ms after SIGTERM: SIGKILL", log)
        self.assertIn(f"stubborn: pid {pid} killed by signal 9", log)
        for p in others + [pid]:
            self.assertTrue(suphelp.gone(p), p)

    def test_stop_leaves_no_process_of_the_tree(self):
        s = self.s = suphelp.Sup("tree", programs={
            # a grandchild in the same group, and one re-parented to us
            "forks": "sleep 100000 & sleep 100001 & wait",
            "orphan": "sh -c 'sleep 100002 &'; exec sleep 100003"}).start()
        stktest.wait_for(lambda: len(suphelp.descendants(s.pid)) >= 7, 5, 0.01,
                         "the whole tree")
        tree = suphelp.descendants(s.pid)
        cmdlines = []
        for p in tree:
            try:
                with open(f"/proc/{p}/cmdline") as f:
                    cmdlines.append(f.read().replace("\0", " "))
            except OSError:
                pass
        self.assertTrue(any("100002" in c for c in cmdlines), cmdlines)
        rc, dt = s.stop(signal.SIGINT)
        self.assertEqual(rc, 0, s.log()[-3000:])
        self.assertLess(dt, 1.5)
        survivors = [p for p in tree if stktest.alive(p)]
        self.assertEqual(survivors, [], s.log()[-3000:])

    def test_sigkill_supervisor_no_child_survives(self):
        s = self.s = suphelp.Sup("kill", programs={"p1": "exec sleep 100000"}).start()
        pids = s.child_pids()
        self.assertEqual(len(pids), 3)
        s.proc.p.send_signal(signal.SIGKILL)
        s.proc.p.wait(5)
        # /proc/PID/stat, not kill -0: a zombie would pass kill -0.
        stktest.wait_for(lambda: all(suphelp.gone(p) for p in pids), 2, 0.01,
                         "every child gone after SIGKILL of the supervisor")

    def test_clean_exit_unlinks_segment(self):
        s = self.s = suphelp.Sup("unl").start()
        self.assertTrue(os.path.exists(stktest.shm_path(s.shm)))
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])
        self.assertFalse(os.path.exists(stktest.shm_path(s.shm)))
        self.assertFalse(os.path.exists(s.pidfile))
        self.assertFalse(os.path.exists(s.status_path))
        self.assertIn("segment %s closed and unlinked" % s.shm, s.log())

    def test_segment_kept_closed_then_warm_restart(self):
        s = self.s = suphelp.Sup("keep", shm={"unlink_on_exit": False}).start()
        self.assertIn("segment %s created: generation 1" % s.shm, s.log())
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        self.assertTrue(os.path.exists(stktest.shm_path(s.shm)))
        self.assertEqual(seg_state(s.shm), STATE_CLOSED)
        # Same geometry: warm restart of the same segment.
        s.proc.close()
        s.start()
        self.assertIn("re-opened (warm restart): generation 1", s.log())
        s.stop()
        # Other geometry: replaced under a new generation.
        s.proc.close()
        s.sections["shm"]["capacity"] = 32
        s.write()
        s.start()
        self.assertIn("was incompatible: replaced under generation 2", s.log())

    def test_second_supervisor_refuses(self):
        s = self.s = suphelp.Sup("two").start()
        pids = s.child_pids()
        other = stktest.Proc([suphelp.supervisor_binary(), "-c", s.conf])
        try:
            rc = other.p.wait(10)
            self.assertNotEqual(rc, 0)
            self.assertIn(f"another supervisor (pid {s.pid}) holds the lock", other.output())
            self.assertIn("refusing to start", other.output())
        finally:
            other.close()
        self.assertEqual(s.child_pids(), pids)
        self.assertTrue(all(stktest.alive(p) for p in pids))
        self.assertTrue(os.path.exists(stktest.shm_path(s.shm)))
        with open(s.pidfile) as f:
            self.assertEqual(int(f.read()), s.pid)

    def test_second_signal_kills_at_once(self):
        s = self.s = suphelp.Sup("twice", programs={
            "stubborn": {"command": "trap '' TERM; exec sleep 100000", "grace_ms": 60000}}).start()
        s.send(signal.SIGTERM)
        s.wait_child("stubborn", lambda c: c["state"] == "stopping", 5)
        rc, dt = s.stop(signal.SIGINT)
        self.assertLess(dt, 2)
        self.assertNotEqual(rc, 0)

    def test_same_signal_twice_at_once_is_one_request(self):
        """timeout(1) and `kill -TERM -PGID` deliver one stop request twice
        within microseconds: the children still get their graceful stop."""
        s = self.s = suphelp.Sup("dup", programs={
            # takes ~0.8 s to stop cleanly on TERM
            "slow": {"command": "trap 'sleep 0.8; exit 0' TERM; while :; do sleep 0.05; done",
                     "grace_ms": 60000}}).start()
        t0 = time.monotonic()
        s.send(signal.SIGTERM)
        # the second after the first was taken (two sent back to back merge
        # into one pending signal), but well inside the 500 ms of a repeat
        stktest.wait_for(lambda: ": stopping" in s.log(), 5, 0.002, "the stop to begin")
        s.send(signal.SIGTERM)
        rc = s.proc.p.wait(20)
        dt = time.monotonic() - t0
        log = s.log()
        self.assertEqual(rc, 0, log[-2000:])
        self.assertGreater(dt, 0.6, "the slow program was not given its graceful stop")
        self.assertIn("the same request twice, ignored", log)
        self.assertNotIn("SIGKILL to everything now", log)

    def test_same_signal_again_later_kills_at_once(self):
        s = self.s = suphelp.Sup("again", programs={
            "stubborn": {"command": "trap '' TERM; exec sleep 100000", "grace_ms": 60000}}).start()
        s.send(signal.SIGTERM)
        s.wait_child("stubborn", lambda c: c["state"] == "stopping", 5)
        time.sleep(0.8)
        rc, dt = s.stop(signal.SIGTERM)
        self.assertLess(dt, 2)
        self.assertNotEqual(rc, 0)
        self.assertIn("SIGKILL to everything now", s.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
