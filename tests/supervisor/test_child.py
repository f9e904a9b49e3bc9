# SPDX-License-Identifier: MIT
"""What a child gets: no blocked or ignored signals, only fds 0-3, the
readiness fd; its output in the log (even the last lines before kill -9);
readiness aggregation and READY=1 to $NOTIFY_SOCKET; leftovers of its group."""
import json
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


class Child(suphelp.SupCase):
    def test_clean_signals_fds_env(self):
        # Each probe execs straight from sh -c (no redirection, which would
        # make dash keep a saved copy of fd 1): what it prints is exactly
        # what the supervisor gave it. Quick exits back off for 10 s, so
        # each runs once.
        once = {"backoff_min_ms": 10000, "backoff_max_ms": 10000}
        s = suphelp.Sup("env", programs={
            "pstatus": dict(command="exec cat /proc/self/status", **once),
            "pfd": dict(command="exec ls -l /proc/self/fd", **once),
            "penv": dict(command="exec env", **once),
            "pgrp": dict(command="exec sleep 100000", **once)},
            env={"NOTIFY_SOCKET": "/nonexistent/notify"})
        self.s = s
        # The supervisor itself starts with ignored signals and stray fds
        # (7, 8, not close-on-exec): the children must inherit neither.
        s.t_start = time.monotonic()
        s.proc = stktest.Proc(["/bin/sh", "-c", "trap '' USR1 USR2 TERM; exec 7</dev/null 8>&2; exec \"$0\" -c \"$1\"",
                               suphelp.supervisor_binary(), s.conf], env=s.env, cwd=s.dir)
        for name in ("pstatus", "pfd", "penv"):
            s.wait_child(name, lambda c: c["state"] == "backoff", 10)
        lines = s.log().splitlines()

        def out(name):
            return [l[len(name) + 2:] for l in lines if l.startswith(name + ": ")]
        st = dict(l.split(":", 1) for l in out("pstatus") if ":" in l)
        self.assertEqual(int(st["SigBlk"].strip(), 16), 0, st["SigBlk"])
        self.assertEqual(int(st["SigIgn"].strip(), 16), 0, st["SigIgn"])
        fds = {}
        for line in out("pfd"):
            m = re.search(r" (\d+) -> (.*)$", line)
            if m:
                fds[int(m.group(1))] = m.group(2)
        # ls's own directory fd shows up as /proc/...; anything else is a leak
        extra = {k: v for k, v in fds.items() if k > 3 and not v.startswith("/proc/")}
        self.assertEqual(extra, {}, fds)
        self.assertEqual(fds[0], "/dev/null")
        self.assertTrue(fds[1].startswith("pipe:"), fds)
        self.assertEqual(fds[1], fds[2])
        self.assertTrue(fds[3].startswith("pipe:"), fds)
        self.assertNotEqual(fds[1], fds[3])
        env = out("penv")
        self.assertIn("SEQTICK_READY_FD=3", env)
        self.assertFalse([e for e in env if e.startswith("NOTIFY_SOCKET=")])
        # own process group
        pid = s.wait_child("pgrp", lambda c: c["pid"])["pid"]
        self.assertEqual(os.getpgid(pid), pid)
        # and the supervisor, started with TERM ignored, still stops on it
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])

    def test_ready_aggregation_and_sd_notify(self):
        sock_path = os.path.join("/tmp", f"stk-notify-{os.getpid()}-{time.monotonic_ns()}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        try:
            s = self.s = suphelp.Sup("notify", standin_pre={"producer": "sleep 0.6"},
                                     env={"NOTIFY_SOCKET": sock_path})
            t0 = time.monotonic()
            s.start(wait_ready=False)
            sock.settimeout(10)
            msg = sock.recv(4096).decode()
            dt = time.monotonic() - t0
            self.assertEqual(msg, "READY=1")
            self.assertGreater(dt, 0.5, "READY=1 before the producer was ready")
            st = s.status()
            self.assertTrue(st["all_ready"])
            self.assertTrue(all(c["ready"] for c in st["children"]))
            self.assertIn("all 2 children ready", s.log())
            # restarting a child does not send READY=1 again
            old = s.child("server")["pid"]
            os.kill(old, signal.SIGKILL)
            s.wait_child("server", lambda c: c["pid"] not in (0, old) and c["ready"], 5)
            s.send(signal.SIGTERM)
            sock.settimeout(5)
            self.assertEqual(sock.recv(4096).decode(), "STOPPING=1")
            s.proc.p.wait(10)
        finally:
            sock.close()
            os.unlink(sock_path)

    def test_not_ready_until_reported(self):
        s = self.s = suphelp.Sup("notready", standin_pre={"server": "exec sleep 100000"})
        s.start(wait_ready=False)
        s.wait_child("server", lambda c: c["pid"], 5)
        s.wait_child("producer", lambda c: c["ready"], 5)
        time.sleep(1.2)
        c = s.child("server")
        self.assertFalse(c["ready"])
        self.assertEqual(c["state"], "starting")
        self.assertFalse(s.status()["all_ready"])

    def test_last_lines_of_kill9_child_logged(self):
        # The first run writes a burst and SIGKILLs itself at once; a
        # grandchild in its own session keeps the output pipe open.
        cmd = ('if [ ! -e once ]; then touch once; setsid sleep 30 & '
               'i=0; while [ $i -lt 500 ]; do echo "burst line $i"; i=$((i+1)); done; '
               'printf "no newline at the end"; kill -9 $$; fi; exec sleep 100000')
        s = self.s = suphelp.Sup("last", programs={"talker": cmd}).start(wait_ready=False)
        c = s.wait_child("talker", lambda c: c["restarts"] == 1 and c["pid"], 5,
                         "restarted at once despite the grandchild holding the pipe")
        self.assertEqual(c["last_exit"], {"signal": 9})
        log = s.wait_log(r"talker: pid \d+ killed by signal 9", 5) and s.log()
        lines = log.splitlines()
        burst = [l for l in lines if l.startswith("talker: burst line ")]
        self.assertEqual(burst, [f"talker: burst line {i}" for i in range(500)])
        self.assertIn("talker: no newline at the end", lines)
        killed = next(i for i, l in enumerate(lines) if re.search(r"talker: pid \d+ killed", l))
        self.assertLess(lines.index("talker: burst line 499"), killed,
                        "output drained after the exit was logged")

    def test_json_log_and_output_never_filtered(self):
        s = self.s = suphelp.Sup("json", programs={"talker": "echo 'say \"hi\"'; exec sleep 100000"},
                                 extra={"log": {"format": "json", "level": "error"}}).start()
        s.wait_log(r"talker: say", 5)
        recs = [json.loads(l) for l in s.log().splitlines() if l.startswith("{")]
        self.assertTrue(recs)
        self.assertEqual(len(recs), len(s.log().splitlines()), "a line that is not JSON")
        self.assertIn('talker: say "hi"', [r["msg"] for r in recs])
        # level error: the supervisor's own info lines are filtered, not the child's
        self.assertFalse([r for r in recs if "started pid" in r["msg"]])

    def test_leftovers_of_dead_child_killed(self):
        s = self.s = suphelp.Sup("left", programs={"quitter": {
            "command": "sleep 100004 & exit 0", "backoff_min_ms": 10000,
            "backoff_max_ms": 10000}}).start(wait_ready=False)
        s.wait_child("quitter", lambda c: c["state"] == "backoff", 5)
        s.wait_log(r"sent SIGKILL to 1 leftover process\(es\) of group", 5)

        def none_left():
            for p in suphelp.descendants(s.pid):
                try:
                    with open(f"/proc/{p}/cmdline") as f:
                        if "100004" in f.read() and stktest.alive(p):
                            return False
                except OSError:
                    pass
            return True
        stktest.wait_for(none_left, 2, 0.01, "leftover gone")

    def test_leftover_in_other_session_stopped(self):
        s = self.s = suphelp.Sup("sess", programs={
            "detacher": "setsid sleep 100007 & exec sleep 100000"}).start()

        def find():
            for p in suphelp.descendants(s.pid):
                try:
                    with open(f"/proc/{p}/cmdline") as f:
                        if "100007" in f.read():
                            return p
                except OSError:
                    pass
            return None
        p = stktest.wait_for(find, 5, 0.01, "detached grandchild")
        rc, dt = s.stop()
        self.assertLess(dt, 3)
        self.assertTrue(suphelp.gone(p))


if __name__ == "__main__":
    unittest.main(verbosity=2)
