# SPDX-License-Identifier: MIT
"""stktest — shared helpers for seqtick's integration tests (stdlib only).

Every test gets its own shm name and its own port (port 0 where the program
supports it), so tests run in parallel without colliding.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("SEQTICK_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SOURCE = os.environ.get("SEQTICK_SOURCE_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")


def binary(folder, name):
    """Path of a built program, e.g. binary('producer', 'seqtick-producer')."""
    p = os.path.join(BUILD, folder, name)
    if not os.path.exists(p):
        raise FileNotFoundError(f"{p} not built")
    return p


def unique_shm(tag="t"):
    """A fresh POSIX shm name for one test."""
    return f"/stk-{tag}-{os.getpid()}-{random.randrange(1 << 30):x}"


def shm_path(name):
    return "/dev/shm" + name


def shm_remove(name):
    try:
        os.unlink(shm_path(name))
    except FileNotFoundError:
        pass


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(dirpath, sections, name="seqtick.conf"):
    """Write an INI file from {'section': {'key': value}}; returns its path."""
    path = os.path.join(dirpath, name)
    with open(path, "w") as f:
        for sec, kv in sections.items():
            f.write(f"[{sec}]\n")
            for k, v in kv.items():
                if isinstance(v, bool):
                    v = "true" if v else "false"
                f.write(f"{k} = {v}\n")
            f.write("\n")
    return path


def wait_for(pred, timeout=10.0, interval=0.01, what="condition"):
    """Poll pred() until it returns a true value; return it or raise."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def proc_state(pid):
    """The state letter of /proc/PID/stat ('R', 'S', 'Z', ...) or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(")") + 2]


def alive(pid):
    """True if pid exists and is not a zombie (kill -0 succeeds on zombies)."""
    s = proc_state(pid)
    return s is not None and s not in ("Z", "X")


class Proc:
    """A child program with its output captured to a temp file."""

    def __init__(self, argv, env=None, cwd=None, stdin=subprocess.DEVNULL):
        self.log = tempfile.NamedTemporaryFile(prefix="stk-", suffix=".log", delete=False)
        e = dict(os.environ)
        if env:
            e.update(env)
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                  cwd=cwd, stdin=stdin, start_new_session=True)
        self.pid = self.p.pid

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            try:
                self.p.send_signal(sig)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        return self.p.returncode

    def close(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()
        try:
            os.unlink(self.log.name)
        except FileNotFoundError:
            pass


def main_unittest():
    """Run unittest.main with output suited to meson test."""
    import unittest
    unittest.main(verbosity=2, argv=[sys.argv[0]])
