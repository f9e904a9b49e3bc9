# SPDX-License-Identifier: MIT
"""Process trees: every process a child starts belongs to it, in both
tracking modes (cgroup v2 where the machine allows, process group + /proc
scan always). A strategy behind a shell gets its whole grace; a setsid
grandchild dies on stop and on restart; nothing piles up across restarts;
what a SIGKILLed supervisor left is killed before anything starts again."""
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import suphelp  # noqa: E402
import stktest  # noqa: E402

FLUSH_PY = r"""
import os, signal, sys, time
d = sys.argv[1]
terms = []
def on_term(sig, frame):
    terms.append(time.monotonic())
    with open(os.path.join(d, "terms"), "a") as f:
        f.write("TERM\n")
signal.signal(signal.SIGTERM, on_term)
with open(os.path.join(d, "strat.pid"), "w") as f:
    f.write(str(os.getpid()))
while not terms:
    time.sleep(0.01)
time.sleep(0.5)  # the flush
with open(os.path.join(d, "flushed"), "w") as f:
    f.write("ok")
sys.exit(0)
"""


def marker():
    """A number no other test's sleep uses: names this test's processes."""
    return random.randrange(10 ** 8, 9 * 10 ** 8)


def with_args(cmdline):
    """Pids of live processes whose command line is exactly cmdline."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.strip() == cmdline and stktest.alive(int(d)):
            out.append(int(d))
    return out


def cgroup_possible():
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                if post.startswith("cgroup2 ") and pre.split()[3] == "/":
                    return os.access(pre.split()[4], os.W_OK)
    except OSError:
        pass
    return False


class TreeTests:
    """The tests, run once per tracking mode (MODE)."""
    MODE = None

    def sup(self, tag, **kw):
        env = dict(kw.pop("env", None) or {})
        env["SEQTICK_TRACKING"] = self.MODE
        self.s = suphelp.Sup(f"{tag}-{self.MODE[0]}", env=env, **kw)
        return self.s

    def check_mode(self, s):
        want = "cgroup v2" if self.MODE == "cgroup" else "process group + subreaper"
        self.assertIn(f"process tracking: {want}", s.log())
        self.assertEqual(s.status()["tracking"], self.MODE)

    def test_shell_strategy_gets_its_whole_grace(self):
        """`cd DIR && python3 s.py` (the shell does not exec): the shell dies
        of SIGTERM at once, the strategy still gets TERM once and its 0.5 s
        flush, and the stop is clean."""
        d = None
        s = self.sup("shell", programs={"strat": {"grace_ms": 8000}})
        d = s.dir
        with open(os.path.join(d, "s.py"), "w") as f:
            f.write(FLUSH_PY)
        s.sections["program.strat"]["command"] = f"cd {d} && python3 s.py {d}"
        s.conf = s.write()
        s.start()
        self.check_mode(s)
        stktest.wait_for(lambda: os.path.exists(os.path.join(d, "strat.pid")), 10, 0.01,
                         "the strategy to start")
        rc, dt = s.stop(signal.SIGTERM, timeout=30)
        log = s.log()
        print(f"[{self.MODE}] stop took {dt * 1000:.0f} ms")
        self.assertTrue(os.path.exists(os.path.join(d, "flushed")),
                        f"the strategy never finished its flush\n{log[-3000:]}")
        with open(os.path.join(d, "terms")) as f:
            self.assertEqual(f.read().count("TERM"), 1, "SIGTERM more than once")
        self.assertEqual(rc, 0, log[-3000:])
        self.assertGreater(dt, 0.45)
        self.assertLess(dt, 8.0)
        self.assertNotIn("still running", log)
        self.assertNotIn("SIGKILL to", log)

    def test_stop_right_after_start_is_clean(self):
        """SIGTERM in the loop's first turn, while the children forked a
        moment ago may not have joined their cgroup yet: each still gets
        TERM (not SIGKILL at the grace), and the stop is clean and quick."""
        grace = 4000
        for k in range(5):
            m = marker()
            s = self.sup(f"early{k}", programs={
                "a": {"command": f"exec sleep {m}1", "grace_ms": grace},
                "b": {"command": f"exec sleep {m}2", "grace_ms": grace}})
            # The supervisor starts with TERM blocked and already pending, so
            # its loop's first turn, right after the forks, is the stop; on
            # one CPU it runs on after each fork, before the children run.
            cpus = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {min(cpus)})
            old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            try:
                s.start(wait_ready=False)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                os.sched_setaffinity(0, cpus)
            rc, dt = s.stop(signal.SIGTERM, timeout=grace / 1000 + 10)
            log = s.log()
            self.assertEqual(rc, 0, f"run {k}: {log[-3000:]}")
            self.assertLess(dt, grace / 1000 - 1, f"run {k}: waited for the grace\n{log[-3000:]}")
            self.assertNotIn("still running", log)
            self.assertEqual(with_args(f"sleep {m}1") + with_args(f"sleep {m}2"), [])
            s.close()

    def test_setsid_grandchild_dies_on_stop_within_bound(self):
        """A child ignoring TERM with a setsid grandchild ignoring it too:
        both get SIGKILL at the grace, the stop ends by grace + 1 s, exit 1."""
        m = marker()
        grace = 1000
        s = self.sup("setsid", programs={"stub": {
            "command": f"trap '' TERM; setsid sleep {m}2 & exec sleep {m}1",
            "grace_ms": grace}}).start()
        self.check_mode(s)
        gc = stktest.wait_for(lambda: with_args(f"sleep {m}2"), 5, 0.01, "the grandchild")
        rc, dt = s.stop(signal.SIGTERM, timeout=grace / 1000 + 10)
        print(f"[{self.MODE}] stop took {dt * 1000:.0f} ms with grace {grace} ms")
        self.assertEqual(rc, 1, "SIGKILL was needed: not a clean stop")
        self.assertLess(dt, grace / 1000 + 1.0 + 0.5)
        self.assertGreater(dt, grace / 1000 - 0.1)
        self.assertTrue(all(suphelp.gone(p) for p in gc), "the setsid grandchild survived")
        self.assertEqual(with_args(f"sleep {m}1") + with_args(f"sleep {m}2"), [])

    def test_grace_bounds_a_tree_whose_leader_went_first(self):
        """The shell dies of TERM at once, a grandchild ignores TERM: it is
        SIGKILLed at the grace all the same, by stop and by a reload."""
        m = marker()
        grace = 1000
        cmd = f"sh -c \"trap '' TERM; exec sleep {m}2\" & sleep {m}1; true"
        s = self.sup("lead", programs={"p": {"command": cmd, "grace_ms": grace}}).start()
        gc = stktest.wait_for(lambda: with_args(f"sleep {m}2"), 5, 0.01, "the grandchild")
        # a reload that changes it: the old tree goes within grace + 1 s
        s.sections["program.p"]["command"] = cmd + " #2"
        s.conf = s.write()
        t0 = time.monotonic()
        s.send(signal.SIGHUP)
        s.wait_child("p", lambda c: "#2" in c["command"] and c["state"] in ("starting", "running"),
                     grace / 1000 + 3, "the new run")
        dt = time.monotonic() - t0
        self.assertTrue(all(suphelp.gone(p) for p in gc), "the old grandchild survived")
        self.assertGreater(dt, grace / 1000 - 0.1)
        self.assertLess(dt, grace / 1000 + 1.5)
        gc = stktest.wait_for(lambda: with_args(f"sleep {m}2"), 5, 0.01, "the new grandchild")
        rc, dt = s.stop(signal.SIGTERM, timeout=grace / 1000 + 10)
        self.assertEqual(rc, 1, "SIGKILL was needed: not a clean stop")
        self.assertLess(dt, grace / 1000 + 1.5)
        self.assertTrue(all(suphelp.gone(p) for p in gc), "the grandchild survived the stop")
        self.assertEqual(with_args(f"sleep {m}1") + with_args(f"sleep {m}2"), [])

    def test_no_stray_piles_up_over_restarts(self):
        """A leader killed 4 times: its strays (a non-exec shell's sleep, a
        setsid grandchild) die with it each time; one set at the end."""
        m = marker()
        s = self.sup("pile", programs={"p": {
            "command": f"setsid sleep {m}3 & sh -c 'sleep {m}2; true' & exec sleep {m}1",
            "backoff_min_ms": 20, "backoff_max_ms": 50}}).start()
        for k in range(4):
            stktest.wait_for(lambda: len(with_args(f"sleep {m}2")) == 1 and
                             len(with_args(f"sleep {m}3")) == 1, 5, 0.01,
                             f"the tree of run {k}")
            old = s.child("p")["pid"]
            os.kill(old, signal.SIGKILL)
            s.wait_child("p", lambda c: c["pid"] not in (0, old), 5, "a new run")
        stktest.wait_for(lambda: len(with_args(f"sleep {m}2")) >= 1 and
                         len(with_args(f"sleep {m}3")) >= 1, 5, 0.01, "the last tree")
        time.sleep(0.3)
        for n in (1, 2, 3):
            self.assertEqual(len(with_args(f"sleep {m}{n}")), 1,
                             f"sleep {m}{n}: {with_args(f'sleep {m}{n}')}\n{s.log()[-3000:]}")
        self.assertIn("leftover process(es) of group", s.log())
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])
        self.assertEqual(with_args(f"sleep {m}1") + with_args(f"sleep {m}2"), [])

    def test_sigkilled_supervisor_leaves_no_duplicate(self):
        """kill -9 of the supervisor: a strategy behind a non-exec shell and
        a setsid daemon survive it; the next supervisor on the same pidfile
        kills them (and logs them) before it starts its own."""
        m = marker()
        s = self.sup("dup", programs={"strat": f"setsid sleep {m}2 & sleep {m}1; true"}).start()
        stktest.wait_for(lambda: with_args(f"sleep {m}1") and with_args(f"sleep {m}2"), 5, 0.01,
                         "the strategy and its daemon")
        old = with_args(f"sleep {m}1") + with_args(f"sleep {m}2")
        s.proc.p.send_signal(signal.SIGKILL)
        s.proc.p.wait(5)
        time.sleep(0.2)
        self.assertTrue(all(stktest.alive(p) for p in old), "nothing survived: no test")
        first_log = s.log()
        s.proc.close()
        s.start(wait_ready=False)
        # the dead one's status file says all ready: wait for ours
        s.wait(lambda st: st["supervisor_pid"] == s.pid and st["all_ready"], 15,
               "the new supervisor ready")
        log = s.log()
        for p in old:
            self.assertEqual(log.count(f"survivor of a previous supervisor: pid {p} "), 1, log)
            self.assertTrue(suphelp.gone(p), f"survivor {p} still there")
        stktest.wait_for(lambda: with_args(f"sleep {m}1") and with_args(f"sleep {m}2"), 5, 0.01,
                         "the new strategy")
        self.assertEqual(len(with_args(f"sleep {m}1")), 1, "two strategies at once")
        self.assertEqual(len(with_args(f"sleep {m}2")), 1, "two daemons at once")
        # killed before anything started
        self.assertLess(log.index("killed 2 survivor(s)") if "killed 2 survivor(s)" in log
                        else log.index("survivor(s)"), log.index("strat: started pid"))
        del first_log
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])
        self.assertEqual(with_args(f"sleep {m}1") + with_args(f"sleep {m}2"), [])

    def test_restart_via_reload_waits_for_the_tree(self):
        """A reload that changes a program behind a shell: the old strategy
        gets its flush before the new one starts (never two at once)."""
        s = self.sup("reload", programs={"strat": {"grace_ms": 8000}})
        d = s.dir
        with open(os.path.join(d, "s.py"), "w") as f:
            f.write(FLUSH_PY)
        s.sections["program.strat"]["command"] = f"cd {d} && python3 s.py {d}"
        s.conf = s.write()
        s.start()
        stktest.wait_for(lambda: os.path.exists(os.path.join(d, "strat.pid")), 10, 0.01,
                         "the strategy to start")
        with open(os.path.join(d, "strat.pid")) as f:
            old = int(f.read())
        s.sections["program.strat"]["command"] = f"cd {d} && python3 s.py {d} #2"
        s.conf = s.write()
        s.send(signal.SIGHUP)
        stktest.wait_for(lambda: os.path.exists(os.path.join(d, "flushed")), 10, 0.01,
                         "the old strategy's flush")
        s.wait_child("strat", lambda c: c["state"] in ("starting", "running") and
                     "#2" in c["command"], 10)
        self.assertTrue(suphelp.gone(old))
        with open(os.path.join(d, "terms")) as f:
            self.assertEqual(f.read().count("TERM"), 1)
        self.assertNotIn("still running", s.log())
        self.assertNotIn("SIGKILL to", s.log())


@unittest.skipUnless(cgroup_possible(), "needs root and a writable cgroup v2 hierarchy")
class TreeCgroup(TreeTests, suphelp.SupCase):
    MODE = "cgroup"

    def test_cgroups_removed_at_exit(self):
        s = self.sup("cgrm", programs={"p": "exec sleep 100000"}).start()
        base = None
        for line in s.log().splitlines():
            if "one cgroup per child under " in line:
                base = line.split("one cgroup per child under ", 1)[1].strip()
        self.assertTrue(base and os.path.isdir(os.path.join(base, "p")), s.log()[-2000:])
        with open(os.path.join(base, "p", "cgroup.procs")) as f:
            self.assertIn(str(s.child("p")["pid"]), f.read().split())
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(base))


    def test_pgroup_successor_kills_cgroup_survivors(self):
        """A cgroup-mode supervisor SIGKILLed, the next one in process-group
        mode: it still finds the stale cgroup (named in the procs file),
        kills its members and removes it."""
        m = marker()
        s = self.sup("xmode", programs={"strat": f"setsid sleep {m}2 & sleep {m}1; true"}).start()
        stktest.wait_for(lambda: with_args(f"sleep {m}1") and with_args(f"sleep {m}2"), 5, 0.01,
                         "the strategy and its daemon")
        old = with_args(f"sleep {m}1") + with_args(f"sleep {m}2")
        base = suphelp.cgroup_base(s.shm)
        s.proc.p.send_signal(signal.SIGKILL)
        s.proc.p.wait(5)
        time.sleep(0.2)
        s.proc.close()
        s.env["SEQTICK_TRACKING"] = "pgroup"
        s.start(wait_ready=False)
        s.wait(lambda st: st["supervisor_pid"] == s.pid and st["all_ready"], 15,
               "the new supervisor ready")
        for p in old:
            self.assertTrue(suphelp.gone(p), f"survivor {p} still there\n{s.log()}")
        self.assertEqual(s.status()["tracking"], "pgroup")
        self.assertFalse(os.path.exists(base), "the stale cgroup was left")
        rc, _ = s.stop()
        self.assertEqual(rc, 0, s.log()[-3000:])


class TreePgroup(TreeTests, suphelp.SupCase):
    MODE = "pgroup"

    def test_procs_file_lists_the_tree(self):
        m = marker()
        s = self.sup("procs", programs={"p": f"setsid sleep {m}2 & exec sleep {m}1"}).start()
        gc = stktest.wait_for(lambda: with_args(f"sleep {m}2"), 5, 0.01, "the grandchild")
        path = s.pidfile + ".procs"

        def listed():
            try:
                with open(path) as f:
                    text = f.read()
            except OSError:
                return False
            return all(f"proc {p} " in text for p in gc) and text
        stktest.wait_for(listed, 5, 0.05, "the grandchild in the procs file")
        rc, _ = s.stop()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    unittest.main(verbosity=2)
