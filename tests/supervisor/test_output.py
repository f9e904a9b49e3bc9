# SPDX-License-Identifier: MIT
"""Output never blocks the supervisor: a stalled stderr reader costs counted
log drops, never a stuck loop; a flooding child is held back alone. JSON
logs: a child's JSON record is merged (its level kept, "child" added); NUL
and invalid UTF-8 are escaped; long lines are split with a marker."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


class PipedProc:
    """The supervisor with stdout+stderr on a pipe the test holds: not read
    at all until drain() is called (a stalled pager, a stuck shipper)."""

    def __init__(self, argv, cwd):
        self.r, w = os.pipe()
        self.p = subprocess.Popen(argv, stdout=w, stderr=w, stdin=subprocess.DEVNULL,
                                  cwd=cwd, start_new_session=True)
        os.close(w)
        self.pid = self.p.pid
        self.data = bytearray()
        self.reader = None

    def drain(self):
        """Start reading the pipe (in a thread) from now on."""
        def run():
            while True:
                try:
                    b = os.read(self.r, 1 << 16)
                except OSError:
                    return
                if not b:
                    return
                self.data += b
        self.reader = threading.Thread(target=run, daemon=True)
        self.reader.start()

    def output(self):
        return self.data.decode(errors="replace")

    def close(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        if self.reader is None:
            os.close(self.r)


def execd_sleep(pid):
    """The shell of a program has exec'd its final `sleep`: done talking."""
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().startswith("sleep\0")
    except OSError:
        return False


class Stalled(suphelp.SupCase):
    def start_piped(self, s):
        s.t_start = time.monotonic()
        s.proc = PipedProc([suphelp.supervisor_binary(), "-c", s.conf], s.dir)
        s.wait(lambda st: st["all_ready"], 10, "all children ready")

    def test_stalled_reader_restart_and_stop(self):
        grace = 3000
        s = self.s = suphelp.Sup("stall", programs={
            # ~200 KiB of log at once: far more than a pipe (64 KiB) holds
            "chatter": "i=0; while [ $i -lt 3000 ]; do "
                       "echo \"chatter line $i: $(printf '%060d' $i)\"; i=$((i+1)); done; "
                       "exec sleep 100000",
            "victim": "exec sleep 100000"},
            supervisor={"grace_ms": grace})
        self.start_piped(s)
        # the chatter is out: its 3000 lines went into the (unread) log
        stktest.wait_for(lambda: execd_sleep(s.child("chatter")["pid"]), 20, 0.01,
                         "chatter done talking")
        for round_ in range(3):
            # a healthy run (over 1 s) is restarted at once; a quicker
            # death would wait out the restart backoff
            s.wait_child("victim", lambda c: c["ready"], 5)
            time.sleep(1.1)
            old = s.child("victim")["pid"]
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            c = s.wait_child("victim", lambda c: c["pid"] not in (0, old), 5,
                             "victim replaced while stderr is stalled")
            dt = time.monotonic() - t0
            print(f"stalled stderr: kill -9 -> new pid in {dt * 1000:.1f} ms")
            self.assertLess(dt, 1.0)
            self.assertTrue(stktest.alive(c["pid"]))
            self.assertTrue(suphelp.gone(old))
        s.wait_child("victim", lambda c: c["ready"], 5)
        t0 = time.monotonic()
        s.proc.p.send_signal(signal.SIGTERM)
        rc = s.proc.p.wait(grace / 1000 + 5)
        dt = time.monotonic() - t0
        print(f"stalled stderr: SIGTERM -> exit {rc} in {dt * 1000:.0f} ms")
        s.proc.drain()
        s.proc.reader.join(5)
        self.assertLess(dt, grace / 1000, s.proc.output()[-3000:])
        self.assertEqual(rc, 0, s.proc.output()[-3000:])

    def test_drops_counted_and_reported_when_reader_comes_back(self):
        s = self.s = suphelp.Sup("drops", programs={
            # 4 MiB of output with the reader stalled: the 1 MiB buffer
            # overflows once the reader has been stuck for a second
            "flood": "head -c 4194304 /dev/zero | tr '\\0' 'x' | fold -w 200; "
                     "exec sleep 100000"})
        self.start_piped(s)
        # the flood is read (and dropped) even though nobody reads us
        stktest.wait_for(lambda: execd_sleep(s.child("flood")["pid"]), 30, 0.05,
                         "flood done despite the stalled log")
        s.proc.drain()
        stktest.wait_for(lambda: "records dropped: stderr was not read fast enough"
                         in s.proc.output(), 10, 0.05, "the drop report")
        log = s.proc.output()
        self.assertRegex(log, r"warn seqtick-supervisor\[\d+\]: log: \d+ bytes in \d+ records "
                              r"dropped")
        # whole lines only: every flood line in the log is complete
        lines = [l for l in log.splitlines() if l.startswith("flood: ")]
        self.assertTrue(lines)
        self.assertTrue(all(l == "flood: " + "x" * 200 for l in lines[:-1]), lines[:3])

    def test_flooding_child_does_not_stop_restarts(self):
        s = self.s = suphelp.Sup("flood", programs={
            "flood": "exec yes 'flooding the supervisor log'",
            "victim": "exec sleep 100000"})
        self.start_piped(s)
        s.proc.drain()  # a live reader: the flood is paced, not dropped
        for _ in range(3):
            s.wait_child("victim", lambda c: c["ready"], 5)
            time.sleep(1.1)
            old = s.child("victim")["pid"]
            t0 = time.monotonic()
            os.kill(old, signal.SIGKILL)
            s.wait_child("victim", lambda c: c["pid"] not in (0, old), 5)
            dt = time.monotonic() - t0
            print(f"flood: kill -9 -> new pid in {dt * 1000:.1f} ms")
            self.assertLess(dt, 1.0)
        s.wait_child("victim", lambda c: c["ready"], 5)
        rc, dt = s.stop()
        s.proc.reader.join(5)
        log = "\n".join(l for l in s.proc.output().splitlines() if not l.startswith("flood: "))
        self.assertEqual(rc, 0, log[-3000:])
        self.assertLess(dt, 3)


class JsonLog(suphelp.SupCase):
    def records(self, s):
        lines = s.log().splitlines()
        recs = [json.loads(l) for l in lines]  # every line is JSON
        return recs

    def test_child_json_merged_and_bytes_escaped(self):
        prog = ("printf '%s\\n' '{\"ts\":\"x\",\"level\":\"warn\",\"prog\":\"strat\","
                "\"msg\":\"from the child\",\"n\":[1,2.5e3,{\"a\":null}]}'; "
                "printf 'nul\\000byte\\n'; printf 'bad\\377utf\\303(\\n'; "
                "printf '{\"broken\": tx}\\n'; "
                "head -c 10000 /dev/zero | tr '\\0' 'a'; echo; "
                "exec sleep 100000")
        s = self.s = suphelp.Sup("jsonm", programs={"strat": prog},
                                 extra={"log": {"format": "json"}}).start()
        s.wait_log(r"broken", 5)
        time.sleep(0.2)
        recs = self.records(s)
        mine = [r for r in recs if r.get("child") == "strat"]
        merged = [r for r in mine if r.get("msg") == "from the child"]
        self.assertEqual(len(merged), 1, mine[:5])
        m = merged[0]
        self.assertEqual(m["level"], "warn")
        self.assertEqual(m["prog"], "strat")
        self.assertEqual(m["n"], [1, 2500.0, {"a": None}])
        msgs = [r["msg"] for r in mine]
        self.assertIn("strat: nul\x00byte", msgs)
        self.assertIn("strat: bad\ufffdutf\ufffd(", msgs)
        self.assertIn("strat: {\"broken\": tx}", msgs)
        # the long line: pieces, each after the first marked, nothing lost
        i = next(k for k, r in enumerate(mine) if r["msg"].startswith("strat: aaaa"))
        pieces = [mine[i]]
        for r in mine[i + 1:]:
            if not r.get("cont"):
                break
            pieces.append(r)
        self.assertGreater(len(pieces), 1)
        self.assertNotIn("cont", pieces[0])
        whole = "".join(p["msg"][len("strat: "):] for p in pieces)
        self.assertEqual(whole, "a" * 10000)

    def test_text_long_line_split_not_truncated(self):
        s = self.s = suphelp.Sup("textlong", programs={
            "long": "head -c 9000 /dev/zero | tr '\\0' 'b'; echo; echo after; "
                    "exec sleep 100000"}).start()
        s.wait_log(r"long: after", 5)
        lines = s.log().splitlines()
        i = next(k for k, l in enumerate(lines) if l.startswith("long: bbb"))
        whole = lines[i][len("long: "):]
        for l in lines[i + 1:]:
            if not l.startswith("long+: "):
                break
            whole += l[len("long+: "):]
        self.assertEqual(whole, "b" * 9000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
