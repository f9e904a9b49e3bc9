# SPDX-License-Identifier: MIT
"""toolstest — helpers for the tools tests (CLI, Python client, examples):
the deterministic model of stk-test-writer, starting it, and environments
for C and Python children (ASan builds preload libasan into Python)."""
import os
import subprocess
import sys
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stktest  # noqa: E402

CLIENT_DIR = os.path.join(stktest.SOURCE, "clients", "python")
EXAMPLES_DIR = os.path.join(stktest.SOURCE, "examples")
if CLIENT_DIR not in sys.path:
    sys.path.insert(0, CLIENT_DIR)

TS_BASE = 1700000000000000000
E8 = Decimal(100000000)


def model(i, c, gen=1):
    """stk-test-writer's tick c (1-based) of the symbol at table index i, as
    raw integers: (price, bid, ask, volume, src_ts_ns, bid_size, ask_size)."""
    phase = c % 200
    tri = phase if phase < 100 else 200 - phase
    price = (100 + i) * 100000000 + (gen - 1) * 100000000000 + tri * 1234567
    return (price, price - 1000000, price + 1000000, c * 100, TS_BASE + c * 1000,
            c % 1000 + 1, c % 1000 + 2)


def dec(raw):
    """Exact Decimal of a fixed-point integer, computed independently of the client."""
    s = f"{abs(raw) // 100000000}.{abs(raw) % 100000000:08d}".rstrip("0").rstrip(".")
    return Decimal(("-" if raw < 0 else "") + s)


def child_env(python=False):
    """Environment for a child: Python children keep the ASan preload and
    leak checks off; C children get the CI's leak checking back."""
    e = dict(os.environ)
    e["PYTHONPATH"] = CLIENT_DIR + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    if not python and e.get("SEQTICK_CHILD_ASAN_OPTIONS"):
        e["ASAN_OPTIONS"] = e["SEQTICK_CHILD_ASAN_OPTIONS"]
    return e


def writer_path():
    return stktest.binary(os.path.join("tests", "tools"), "stk-test-writer")


def cli_path():
    return stktest.binary("tools", "seqtick")


def bench_path():
    return stktest.binary("tools", "seqtick-bench")


def example_c_path():
    for folder in ("examples", os.path.join("tests", "tools")):
        p = os.path.join(stktest.BUILD, folder, "ema_crossover")
        if os.path.exists(p):
            return p
    raise FileNotFoundError("ema_crossover not built")


class Writer(stktest.Proc):
    """stk-test-writer on `shm`; waits for its 'ready' line."""

    def __init__(self, shm, *args, wait_ready=True):
        super().__init__([writer_path(), "--shm", shm, *map(str, args)], env=child_env())
        self.shm = shm
        if wait_ready:
            try:
                self.wait_line("ready gen=1")
            except BaseException:
                self.close()
                raise

    def wait_line(self, text, timeout=15):
        def seen():
            if text in self.output():
                return True
            if self.p.poll() is not None:
                raise AssertionError(f"stk-test-writer exited {self.p.returncode} before "
                                     f"'{text}':\n{self.output()}")
            return False
        stktest.wait_for(seen, timeout=timeout, what=f"writer line '{text}'")

    def finish(self, timeout=15):
        """Wait for a writer started with --count/--seconds to exit on its own."""
        rc = self.p.wait(timeout)
        assert rc == 0, f"stk-test-writer exit {rc}:\n{self.output()}"


def run(argv, timeout=30, python=False, **kw):
    """Run a program to completion; returns CompletedProcess (text)."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=child_env(python), **kw)
