# SPDX-License-Identifier: MIT
"""The control socket and the CLI over it: seqtick restart|stop|start NAME,
seqtick reload, seqtick status live from the socket; exit codes 0, 100
(unknown name), 111 (no supervisor); mode 0600; a stale status file from a
SIGKILLed supervisor is shown as stale, its children as unknown."""
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


def cli(s, *args, timeout=20, conf=True):
    where = ["-c", s.conf] if conf else ["--socket", s.pidfile + ".sock"]
    p = subprocess.run([stktest.binary("tools", "seqtick")] + where + list(args),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ask(path, line):
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(10)
        c.connect(path)
        c.sendall(line)
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    return data


class Control(suphelp.SupCase):
    def test_restart_stop_start_over_the_socket(self):
        s = self.s = suphelp.Sup("ctl", programs={"strat": "exec sleep 100000"}).start()
        sock = s.pidfile + ".sock"
        st = os.lstat(sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

        old = s.child("strat")["pid"]
        rc, out, err = cli(s, "restart", "strat")
        self.assertEqual(rc, 0, err)
        c = s.wait_child("strat", lambda c: c["pid"] not in (0, old) and c["state"] == "running",
                         5)
        self.assertTrue(suphelp.gone(old))
        self.assertEqual(c["last_exit"], {"signal": 15})
        self.assertEqual(s.child("producer")["restarts"], 0, "only strat was restarted")

        # stop: stopped and left so, however long we wait
        pid = c["pid"]
        rc, out, err = cli(s, "stop", "strat")
        self.assertEqual(rc, 0, err)
        s.wait_child("strat", lambda c: c["state"] == "stopped" and c["pid"] == 0, 5)
        self.assertTrue(suphelp.gone(pid))
        time.sleep(1.5)
        self.assertEqual(s.child("strat")["state"], "stopped")
        # a built-in too
        prod = s.child("producer")["pid"]
        rc, out, err = cli(s, "stop", "producer")
        self.assertEqual(rc, 0, err)
        s.wait_child("producer", lambda c: c["state"] == "stopped", 5)
        self.assertTrue(suphelp.gone(prod))

        # start: both back
        rc, out, err = cli(s, "start", "strat")
        self.assertEqual(rc, 0, err)
        rc, out, err = cli(s, "start", "producer")
        self.assertEqual(rc, 0, err)
        s.wait_child("strat", lambda c: c["state"] == "running", 5)
        s.wait_child("producer", lambda c: c["state"] == "running", 5)
        # starting a running one is refused, with its name
        rc, out, err = cli(s, "start", "strat")
        self.assertEqual(rc, 100)
        self.assertIn("strat", err)

        # live status from the socket: the same document as the file
        rc, out, err = cli(s, "--json", "status")
        doc = json.loads(out)
        self.assertEqual(doc["source"], "socket")
        self.assertTrue(doc["supervisor_alive"])
        self.assertFalse(doc["stale"])
        names = [c["name"] for c in doc["supervisor"]["children"]]
        self.assertEqual(names, ["producer", "server", "strat"])
        raw = json.loads(ask(sock, b"status\n"))
        self.assertEqual(raw["supervisor_pid"], s.pid)

        rc, dt = s.stop()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(sock), "control socket left behind")

    def test_unknown_name_bad_requests_and_no_supervisor(self):
        s = self.s = suphelp.Sup("ctlbad").start()
        sock = s.pidfile + ".sock"
        rc, out, err = cli(s, "restart", "nosuch")
        self.assertEqual(rc, 100)
        self.assertIn("unknown program 'nosuch'", err)
        reply = json.loads(ask(sock, b"frobnicate\n"))
        self.assertFalse(reply["ok"])
        self.assertIn("unknown request", reply["error"])
        reply = json.loads(ask(sock, b"x" * 5000 + b"\n"))
        self.assertFalse(reply["ok"])
        self.assertIn("too long", reply["error"])
        # a client that says nothing does not stop the others
        idle = socket.socket(socket.AF_UNIX)
        idle.connect(sock)
        self.assertTrue(json.loads(ask(sock, b"status\n"))["children"])
        idle.close()
        self.assertEqual(s.child("producer")["restarts"], 0)
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        rc, out, err = cli(s, "restart", "producer")
        self.assertEqual(rc, 111, err)
        self.assertIn("unable to reach the supervisor", err)

    def test_reload_over_the_socket(self):
        s = self.s = suphelp.Sup("ctlrl", programs={"strat": "exec sleep 100000"}).start()
        old = s.child("strat")["pid"]
        s.sections["program.strat"]["command"] = "exec sleep 100001"
        s.write()
        rc, out, err = cli(s, "reload")
        self.assertEqual(rc, 0, err)
        s.wait_child("strat", lambda c: c["pid"] not in (0, old) and "100001" in c["command"]
                     and c["state"] == "running", 5)
        self.assertIn("control: reload requested", s.log())
        # an invalid file: refused, said so, the running configuration kept
        s.write_text("[supervisor]\ngrace_ms = banana\n")
        rc, out, err = cli(s, "reload", conf=False)
        self.assertEqual(rc, 100)
        self.assertIn("reload refused", err)
        self.assertEqual(s.child("strat")["state"], "running")

    def test_non_socket_at_the_path_is_refused(self):
        s = self.s = suphelp.Sup("ctlfile")
        path = s.pidfile + ".sock"
        with open(path, "w") as f:
            f.write("precious\n")
        s.start(wait_ready=False)
        rc = s.proc.p.wait(10)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not a socket; refusing to remove it", s.log())
        with open(path) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_stale_status_after_sigkill(self):
        s = self.s = suphelp.Sup("ctlstale", programs={"strat": "exec sleep 100000"}).start()
        pids = s.child_pids()
        s.proc.p.send_signal(signal.SIGKILL)
        s.proc.p.wait(5)
        stktest.wait_for(lambda: all(suphelp.gone(p) for p in pids), 5, 0.01, "children gone")
        self.assertTrue(os.path.exists(s.status_path))
        rc, out, err = cli(s, "status")
        self.assertIn("not running: STALE status file, children unknown", out)
        rows = [l.split() for l in out.splitlines()
                if not l.startswith(" ") and l.split()[:1] in (["producer"], ["server"], ["strat"])]
        self.assertEqual(len(rows), 3, out)
        self.assertTrue(all(r[1] == "unknown" for r in rows), out)
        self.assertNotIn("running", " ".join(r[1] for r in rows))
        rc, out, err = cli(s, "--json", "status")
        doc = json.loads(out)
        self.assertEqual(doc["source"], "file")
        self.assertTrue(doc["stale"])
        self.assertFalse(doc["supervisor_alive"])
        # the next supervisor replaces the dead one's socket
        s.proc.close()
        s.start(wait_ready=False)
        s.wait(lambda st: st["supervisor_pid"] == s.pid and st["all_ready"], 10, "new supervisor")
        rc, out, err = cli(s, "--json", "status")
        self.assertEqual(json.loads(out)["source"], "socket", s.log()[-3000:])

    def test_reused_pid_is_not_taken_for_alive(self):
        """A status file naming a live pid with another start time (the pid
        was reused) is stale: pid and start time are compared."""
        s = self.s = suphelp.Sup("ctlreuse")
        doc = {"supervisor_pid": os.getpid(), "supervisor_start_ticks": 1, "started_ns": 1,
               "updated_ns": 1, "config": s.conf, "shm": s.shm, "all_ready": True,
               "children": [{"name": "producer", "pid": os.getpid(), "state": "running",
                             "restarts": 0, "started_ns": 1, "since_ns": 1, "ready": True,
                             "last_exit": None, "command": "x"}]}
        with open(s.status_path, "w") as f:
            json.dump(doc, f)
        rc, out, err = cli(s, "status")
        self.assertIn("STALE", out)
        self.assertRegex(out, r"producer\s+unknown")


if __name__ == "__main__":
    unittest.main(verbosity=2)
