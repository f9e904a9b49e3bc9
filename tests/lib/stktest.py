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
    """A loopback TCP port free now, picked below the kernel's ephemeral range
    (ip_local_port_range), so no outgoing connection of a concurrent test
    can take it before the program under test binds it, as a port from
    bind(0) could be."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    bottom, top = max(1024, lo - 12000), lo - 1
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(bottom, top)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
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


# ---- segment reading (layout v1, docs/layout.md), added for the producer tests

def die_with_parent():
    """preexec_fn for a server a test starts (nats-server, postgres): it gets
    SIGKILL when the test process dies, even by SIGKILL or a runner's
    timeout, so no server outlives its test."""
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


import mmap as _mmap
import struct as _struct

_REC = _struct.Struct("<QqqqQQQII")  # seq price bid ask volume src_ts pub_ts bid_size ask_size


class Segment:
    """A read-only view of a seqtick segment, straight from /dev/shm."""

    def __init__(self, name):
        self.name = name
        with open(shm_path(name), "rb") as f:
            self.mm = _mmap.mmap(f.fileno(), 0, prot=_mmap.PROT_READ)
        if self.mm[0:8] != b"SEQTICK1":
            raise ValueError(f"{name}: bad magic")
        (self.capacity, self.history) = _struct.unpack_from("<II", self.mm, 20)

    def close(self):
        self.mm.close()

    def header(self):
        """The header's figures as a dict."""
        m = self.mm
        u32 = lambda off: _struct.unpack_from("<I", m, off)[0]
        u64 = lambda off: _struct.unpack_from("<Q", m, off)[0]
        return {
            "capacity": u32(20), "history": u32(24), "generation": u64(48),
            "state": u32(56), "nsymbols": u32(60), "epoch": u64(64),
            "last_update_ns": u64(72), "heartbeat_ns": u64(128), "producer_pid": u32(136),
            "producer_restarts": u32(140), "ticks_total": u64(192), "bad_input": u64(200),
            "symbols_dropped": u64(208), "batches_total": u64(216), "repaired": u64(224),
        }

    def symbols(self):
        n = min(_struct.unpack_from("<I", self.mm, 60)[0], self.capacity)
        out = []
        for i in range(n):
            raw = self.mm[4096 + 64 * i: 4096 + 64 * i + 32]
            out.append(raw.split(b"\0", 1)[0].decode("ascii"))
        return out

    def _load(self, off):
        for _ in range(100000):
            s0 = _struct.unpack_from("<Q", self.mm, off)[0]
            if s0 & 1:
                continue
            raw = self.mm[off: off + 64]
            s1 = _struct.unpack_from("<Q", self.mm, off)[0]
            if s0 == s1 and _REC.unpack_from(raw)[0] == s0:
                return _REC.unpack_from(raw)
        raise TimeoutError("record stays odd")

    def quote(self, symbol):
        """Latest record of symbol as a dict (prices × 10^8), or None."""
        syms = self.symbols()
        if symbol not in syms:
            return None
        i = syms.index(symbol)
        r = self._load(4096 + self.capacity * 64 + 64 * i)
        keys = ("seq", "price", "bid", "ask", "volume", "src_ts_ns", "pub_ts_ns",
                "bid_size", "ask_size")
        return dict(zip(keys, r))

    def ring_head(self, symbol):
        i = self.symbols().index(symbol)
        return _struct.unpack_from("<Q", self.mm, 4096 + 2 * self.capacity * 64 + 64 * i)[0]

    def history_ticks(self, symbol):
        """Every tick still in symbol's ring, oldest first, as dicts."""
        i = self.symbols().index(symbol)
        head = self.ring_head(symbol)
        base = 4096 + 3 * self.capacity * 64 + i * self.history * 64
        keys = ("seq", "price", "bid", "ask", "volume", "src_ts_ns", "pub_ts_ns",
                "bid_size", "ask_size")
        out = []
        for k in range(max(0, head - self.history), head):
            off = base + 64 * (k & (self.history - 1))
            raw = self.mm[off: off + 64]
            r = _REC.unpack_from(raw)
            if r[0] == 2 * k + 2:
                d = dict(zip(keys, r))
                d["k"] = k
                out.append(d)
        return out


def open_segment(name, timeout=10.0):
    """Wait for the segment `name` to exist and return a Segment over it."""
    wait_for(lambda: os.path.exists(shm_path(name)), timeout, what=f"segment {name}")
    return Segment(name)
