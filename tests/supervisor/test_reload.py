# SPDX-License-Identifier: MIT
"""SIGHUP: an invalid file changes nothing; only the children whose settings
changed restart; added programs start, removed ones stop."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


class Reload(suphelp.SupCase):
    def pids(self):
        return {c["name"]: c["pid"] for c in self.s.status()["children"]}

    def hup_and_wait(self, count):
        self.s.send(signal.SIGHUP)
        self.s.wait_log(r"reload: ", 5, count=count)

    def test_invalid_config_changes_nothing(self):
        s = self.s = suphelp.Sup("hupbad", programs={"a": "exec sleep 100000"}).start()
        before = self.pids()
        with open(s.conf) as f:
            good = f.read()
        bad = good.replace("[program.a]\n", "[program.a]\nbogus_key = 1\n")
        bad = bad.replace("command = exec sleep 100000", "command = exec sleep 200000")
        s.write_text(bad)
        lineno = bad.splitlines().index("bogus_key = 1") + 1
        s.send(signal.SIGHUP)
        s.wait_log(r"reload: .*seqtick\.conf:%d: \[program\.a\] bogus_key: unknown key.*keeping "
                   r"the running configuration" % lineno, 5)
        time.sleep(0.5)
        self.assertEqual(self.pids(), before)
        self.assertTrue(all(stktest.alive(p) for p in before.values()))
        self.assertEqual(s.child("a")["command"], "exec sleep 100000")
        # A geometry change is refused too (it needs a supervisor restart).
        s.write_text(good.replace("capacity = 16", "capacity = 32"))
        s.send(signal.SIGHUP)
        s.wait_log(r"shm\.capacity changed, which needs a supervisor restart", 5)
        time.sleep(0.3)
        self.assertEqual(self.pids(), before)

    def test_changed_program_restarts_only_it(self):
        s = self.s = suphelp.Sup("hupchg", programs={
            "a": "exec sleep 100000", "b": "exec sleep 100001",
            "gone": "exec sleep 100002"}).start()
        before = self.pids()
        del s.sections["program.gone"]
        s.sections["program.a"] = {"command": "exec sleep 100005"}
        s.sections["program.added"] = {"command": "exec sleep 100006"}
        # a policy-only change applies in place, without a restart
        s.sections["program.b"] = {"command": "exec sleep 100001", "grace_ms": 100}
        s.write()
        s.send(signal.SIGHUP)
        s.wait_child("a", lambda c: c["pid"] not in (0, before["a"]), 5)
        s.wait_child("added", lambda c: c["pid"] and c["state"] == "running", 5)
        s.wait(lambda st: self.s.child("gone", st) is None, 5, "removed program gone")
        after = self.pids()
        for n in ("producer", "server", "b"):
            self.assertEqual(after[n], before[n], n)
        self.assertTrue(suphelp.gone(before["a"]))
        self.assertTrue(suphelp.gone(before["gone"]))
        self.assertEqual(s.child("a")["command"], "exec sleep 100005")
        with open(f"/proc/{after['a']}/cmdline") as f:
            self.assertIn("100005", f.read())
        self.assertEqual(s.child("a")["restarts"], 1)
        s.wait(lambda st: st["all_ready"], 5)

    def test_changed_producer_section_restarts_producer_only(self):
        s = self.s = suphelp.Sup("hupprod", extra={"producer": {"rate": 100}}).start()
        before = self.pids()
        s.sections["producer"]["rate"] = 200
        s.write()
        s.send(signal.SIGHUP)
        s.wait_child("producer", lambda c: c["pid"] not in (0, before["producer"]), 5)
        self.assertEqual(self.pids()["server"], before["server"])
        # server section change: the server restarts, the producer not
        before = self.pids()
        s.sections.setdefault("server", {})["idle_timeout_s"] = 10
        s.write()
        s.send(signal.SIGHUP)
        s.wait_child("server", lambda c: c["pid"] not in (0, before["server"]), 5)
        self.assertEqual(self.pids()["producer"], before["producer"])
        # nothing changed: nothing restarts
        before = self.pids()
        s.send(signal.SIGHUP)
        s.wait_log(r"reload: .* is valid", 5, count=3)
        time.sleep(0.3)
        self.assertEqual(self.pids(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
