# SPDX-License-Identifier: MIT
"""The configuration the supervisor accepted is the one its children run:
what a child would refuse at start is refused by the supervisor first (exit
100, FILE:LINE); a crash restart after an edit that was never applied runs
the accepted file; a refused shm.name change never reaches /dev/shm; a
failed program comes back when a reload changes its section."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402


def built(folder, name):
    return os.path.exists(os.path.join(stktest.BUILD, folder, name))


HAVE_STACK = built("producer", "seqtick-producer") and built("server", "seqtick-server")

# The stand-in producer shows which file it was given and what it says.
SHOW_CONF = 'echo "conf rate: $(grep "^rate" "$2")"'


def lineno(path, text):
    with open(path) as f:
        return f.read().splitlines().index(text) + 1


class PreFlight(suphelp.SupCase):
    def refused(self, tag, producer, want):
        s = self.s = suphelp.Sup(tag, extra={"producer": producer})
        s.start(wait_ready=False)
        self.assertEqual(s.proc.p.wait(20), 100, s.log())
        self.assertRegex(s.log(), want)
        self.assertNotIn("stand-in", s.log())  # no child was started
        self.assertFalse(os.path.exists(s.pidfile))
        self.assertFalse(os.path.exists(stktest.shm_path(s.shm)))
        return s

    def test_not_positive_definite_matrix(self):
        s = self.refused("nonpd", {"symbols": "A B C",
                                   "correlation": "A:B=0.95 B:C=0.95 A:C=-0.95"},
                         r"seqtick\.conf:\d+: producer\.correlation: with its 3 pair "
                         r"exception\(s\) the correlation matrix of the 3 symbols is not "
                         r"positive definite")
        n = lineno(s.conf, "correlation = A:B=0.95 B:C=0.95 A:C=-0.95")
        self.assertIn(f"seqtick.conf:{n}: producer.correlation", s.log())

    def test_equicorrelation_and_capacity(self):
        self.refused("rho", {"symbols": "A B C", "correlation": -0.9},
                     r"seqtick\.conf:\d+: producer\.correlation: -0\.9 is not a valid "
                     r"correlation for 3 symbols")
        self.s.close()
        self.refused("cap", {"symbols": " ".join(f"S{i}" for i in range(20))},
                     r"seqtick\.conf:\d+: producer\.symbols: 20 symbols do not fit "
                     r"shm\.capacity = 16")

    def test_cross_key_checks_name_the_line(self):
        s = self.refused("xkey", {"volatility": "NVDX=0.3"},
                         r"seqtick\.conf:\d+: producer\.volatility: 'NVDX' is not one of "
                         r"producer\.symbols")
        n = lineno(s.conf, "volatility = NVDX=0.3")
        self.assertIn(f"seqtick.conf:{n}: producer.volatility", s.log())

    def test_missing_csv_replay(self):
        self.refused("csv", {"feed": "csv:no/such/replay.csv"},
                     r"seqtick\.conf:\d+: producer\.feed: csv:no/such/replay\.csv: unable to "
                     r"open")


class Accepted(suphelp.SupCase):
    def test_crash_restart_runs_the_accepted_file(self):
        s = self.s = suphelp.Sup("acc", extra={"producer": {"rate": 100}},
                                 standin_pre={"producer": SHOW_CONF}).start()
        s.wait_log(r"conf rate: rate = 100", 5)
        first = s.child("producer")["pid"]
        # An edit nobody applied: valid but different, then invalid.
        for edit in ({"rate": 250}, {"rate": "fast"}):
            s.sections["producer"].update(edit)
            s.write()
            pid = s.child("producer")["pid"]
            os.kill(pid, signal.SIGKILL)
            s.wait_child("producer", lambda c: c["pid"] not in (0, pid) and c["ready"], 10)
        s.wait_log(r"conf rate: rate = 100", 5, count=3)
        self.assertNotIn("conf rate: rate = 250", s.log())
        self.assertNotIn("conf rate: rate = fast", s.log())
        self.assertNotEqual(s.child("producer")["pid"], first)
        # The accepted copy is private to the supervisor and names the file.
        copy = s.pidfile + ".conf"
        self.assertEqual(os.stat(copy).st_mode & 0o777, 0o600)
        with open(copy) as f:
            self.assertEqual(f.readline().strip(),
                             "# seqtick: accepted copy of " + os.path.realpath(s.conf))
        # A valid reload is what the next start runs; an invalid one is not.
        s.sections["producer"]["rate"] = 300
        s.write()
        s.send(signal.SIGHUP)
        s.wait_log(r"conf rate: rate = 300", 10)
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log())
        self.assertFalse(os.path.exists(copy), "the accepted copy outlived the supervisor")

    def test_copy_never_replaces_the_users_file(self):
        # -c PIDFILE.conf itself: the copy goes elsewhere, the file survives.
        s = self.s = suphelp.Sup("accself", standin_pre={"producer": SHOW_CONF})
        s.pidfile = s.sections["supervisor"]["pidfile"] = os.path.join(s.dir, "seqtick")
        s.status_path = s.pidfile + ".status"
        s.write()
        with open(s.conf) as f:
            text = f.read()
        s.start()
        self.assertTrue(os.path.exists(s.pidfile + ".accepted.conf"))
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log())
        with open(s.conf) as f:
            self.assertEqual(f.read(), text)
        self.assertFalse(os.path.exists(s.pidfile + ".accepted.conf"))

    @unittest.skipUnless(HAVE_STACK, "seqtick-producer and seqtick-server not built here")
    def test_refused_shm_name_change_never_reaches_dev_shm(self):
        port = stktest.free_port()
        s = self.s = suphelp.Sup("accshm", standins=(), extra={
            "producer": {"feed": "sim", "rate": 500},
            "server": {"listen": f"127.0.0.1:{port}"}})
        del s.sections["supervisor"]["bindir"]
        s.sections["supervisor"]["grace_ms"] = 10000
        s.write()
        s.start(timeout=30)
        seg = stktest.open_segment(s.shm)
        other = stktest.unique_shm("accshm-new")
        self.addCleanup(stktest.shm_remove, other)
        s.sections["shm"]["name"] = other
        s.write()
        s.send(signal.SIGHUP)
        s.wait_log(r"shm\.name changed, which needs a supervisor restart", 5)
        pid = s.child("producer")["pid"]
        os.kill(pid, signal.SIGKILL)
        new = s.wait_child("producer", lambda c: c["pid"] not in (0, pid) and c["ready"],
                           20)["pid"]
        stktest.wait_for(lambda: seg.header()["producer_pid"] == new, 10, 0.01,
                         "the new producer on the accepted segment")
        time.sleep(0.3)
        self.assertFalse(os.path.exists(stktest.shm_path(other)),
                         "a refused shm.name took effect on a crash restart")
        seg.close()


class FailedComesBack(suphelp.SupCase):
    def test_failed_program_returns_on_section_change(self):
        s = self.s = suphelp.Sup("failback", programs={"p": {
            "command": "test -f ready.flag && exec sleep 100000; exit 3",
            "max_restarts": 1, "backoff_min_ms": 10, "backoff_max_ms": 20}}).start(
            wait_ready=False)
        s.wait_child("p", lambda c: c["state"] == "failed", 20)
        with open(os.path.join(s.dir, "ready.flag"), "w"):
            pass
        # Nothing changed: a reload leaves it failed.
        s.send(signal.SIGHUP)
        s.wait_log(r"reload: .* is valid", 5)
        time.sleep(0.5)
        self.assertEqual(s.child("p")["state"], "failed")
        # Its section changed (not its command): it comes back.
        s.sections["program.p"]["grace_ms"] = 1500
        s.write()
        s.send(signal.SIGHUP)
        c = s.wait_child("p", lambda c: c["state"] == "running" and c["pid"], 10)
        self.assertTrue(stktest.alive(c["pid"]))

    def test_failed_producer_returns_on_section_change(self):
        # Exit 100 (a configuration error) leaves the producer failed; a
        # reload that changes [producer] starts it again.
        s = self.s = suphelp.Sup("failprod", extra={"producer": {"rate": 100}},
                                 standin_pre={"producer": "test -f ok.flag || exit 100"})
        s.start(wait_ready=False)
        s.wait_child("producer", lambda c: c["state"] == "failed", 20)
        with open(os.path.join(s.dir, "ok.flag"), "w"):
            pass
        s.sections["producer"]["rate"] = 200
        s.write()
        s.send(signal.SIGHUP)
        c = s.wait_child("producer", lambda c: c["state"] == "running" and c["pid"], 10)
        self.assertTrue(stktest.alive(c["pid"]))
        s.wait(lambda st: st["all_ready"], 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
