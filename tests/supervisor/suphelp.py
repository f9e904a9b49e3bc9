# SPDX-License-Identifier: MIT
"""suphelp — a seqtick-supervisor under test with stand-in children.

Stand-ins: supervisor.bindir points at a temp folder holding shell scripts
named seqtick-producer / seqtick-server that write "\\n" to the readiness fd
and sleep, so these tests do not depend on the real producer and server.
Every instance has its own shm name, pidfile and temp folder.
"""
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

STANDIN = """#!/bin/sh
echo "{name} stand-in pid $$ args $*"
{pre}
printf '\\n' >&3
exec sleep 100000
"""

LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z")


def supervisor_binary():
    return stktest.binary("supervisor", "seqtick-supervisor")


def write_standin(bindir, name, pre=""):
    path = os.path.join(bindir, f"seqtick-{name}")
    with open(path + ".tmp", "w") as f:
        f.write(STANDIN.format(name=name, pre=pre))
    os.chmod(path + ".tmp", 0o755)
    os.rename(path + ".tmp", path)
    return path


def descendants(root):
    """Every live process below root (by ppid), from /proc."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        parent[int(d)] = int(fields[1])
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p:
                out.append(c)
                todo.append(c)
    return out


class Sup:
    def __init__(self, tag, programs=None, supervisor=None, shm=None, extra=None,
                 standins=("producer", "server"), standin_pre=None, env=None):
        self.dir = tempfile.mkdtemp(prefix=f"stk-sup-{tag}-")
        self.bindir = os.path.join(self.dir, "bin")
        os.mkdir(self.bindir)
        for name in standins:
            write_standin(self.bindir, name, (standin_pre or {}).get(name, ""))
        self.shm = stktest.unique_shm(tag)
        self.pidfile = os.path.join(self.dir, "sup.pid")
        self.status_path = self.pidfile + ".status"
        self.env = env
        self.sections = {
            "shm": {"name": self.shm, "capacity": 16, "history": 16},
            "supervisor": {"pidfile": self.pidfile, "bindir": self.bindir, "grace_ms": 2000},
            "log": {"level": "debug"},
        }
        self.sections["shm"].update(shm or {})
        self.sections["supervisor"].update(supervisor or {})
        for k, v in (extra or {}).items():
            self.sections.setdefault(k, {}).update(v)
        for name, kv in (programs or {}).items():
            self.sections[f"program.{name}"] = kv if isinstance(kv, dict) else {"command": kv}
        self.conf = self.write()
        self.proc = None

    def write(self, sections=None):
        """(Re)write the config atomically; returns its path."""
        tmp = stktest.write_config(self.dir, sections or self.sections, name="next.conf")
        path = os.path.join(self.dir, "seqtick.conf")
        os.rename(tmp, path)
        return path

    def write_text(self, text):
        path = os.path.join(self.dir, "seqtick.conf")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    def start(self, wait_ready=True, timeout=10):
        self.t_start = time.monotonic()
        self.proc = stktest.Proc([supervisor_binary(), "-c", self.conf], env=self.env,
                                 cwd=self.dir)
        if wait_ready:
            self.wait(lambda s: s["all_ready"], timeout, "all children ready")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def child(self, name, st=None):
        st = st or self.status()
        if not st:
            return None
        for c in st["children"]:
            if c["name"] == name:
                return c
        return None

    def wait(self, pred, timeout=10, what="status condition"):
        def check():
            st = self.status()
            try:
                return st if st and pred(st) else None
            except (KeyError, TypeError):
                return None
        try:
            return stktest.wait_for(check, timeout, 0.005, what)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; status={self.status()}\n"
                                 f"log:\n{self.log()[-6000:]}")

    def wait_child(self, name, pred, timeout=10, what=None):
        st = self.wait(lambda s: pred(self.child(name, s)), timeout,
                       what or f"child {name} condition")
        return self.child(name, st)

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        try:
            return stktest.wait_for(lambda: len(rx.findall(self.log())) >= count and
                                    rx.findall(self.log()), timeout, 0.01, pattern)
        except TimeoutError:
            raise AssertionError(f"log never showed {pattern!r} x{count}:\n{self.log()[-6000:]}")

    def log(self):
        return self.proc.output() if self.proc else ""

    def child_pids(self):
        st = self.status() or {"children": []}
        return [c["pid"] for c in st["children"] if c["pid"]]

    def send(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the supervisor and wait for it; returns (exit code, seconds)."""
        t0 = time.monotonic()
        self.proc.p.send_signal(sig)
        rc = self.proc.p.wait(timeout)
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc:
            # Whatever a failed test left: the tree, and the children the
            # status file names (a SIGKILLed supervisor's orphans).
            tree = set()
            for p in self.child_pids():
                try:
                    if os.getpgid(p) == p:  # still a child leader, not a reused pid
                        tree.add(p)
                except ProcessLookupError:
                    pass
            if self.proc.p.poll() is None:
                tree.update(descendants(self.proc.pid))
            self.proc.close()
            for p in tree:
                try:
                    if stktest.alive(p):
                        os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        remove_cgroups(self.shm)
        stktest.shm_remove(self.shm)
        shutil.rmtree(self.dir, ignore_errors=True)


class SupCase(unittest.TestCase):
    """A test that starts at most one supervisor, as self.s, which is
    closed (with whatever it left) however the test ends."""

    def setUp(self):
        self.s = None

    def tearDown(self):
        if self.s:
            self.s.close()


def cgroup_base(shm):
    """The cgroup folder a supervisor of ours on shm uses in cgroup mode."""
    mnt = own = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                if post.startswith("cgroup2 ") and pre.split()[3] == "/":
                    mnt = pre.split()[4]
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    own = line[3:].strip().rstrip("/")
    except OSError:
        return None
    if mnt is None or own is None:
        return None
    return f"{mnt}{own}/seqtick.{shm.lstrip('/')}"


def remove_cgroups(shm):
    """Kill and remove what a failed test left in its cgroups."""
    base = cgroup_base(shm)
    if not base or not os.path.isdir(base):
        return
    for sub in os.listdir(base):
        path = os.path.join(base, sub)
        if not os.path.isdir(path):
            continue
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.01)
    try:
        os.rmdir(base)
    except OSError:
        pass


def log_time(line):
    """Seconds (float, day-relative) of a text log line's timestamp."""
    m = LOG_TS.match(line)
    if not m:
        return None
    t = m.group(1)
    h, mi, s = t[11:13], t[14:16], t[17:]
    return int(h) * 3600 + int(mi) * 60 + float(s)


def gone(pid):
    return not stktest.alive(pid)
