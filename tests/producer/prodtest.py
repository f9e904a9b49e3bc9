# SPDX-License-Identifier: MIT
"""prodtest — helpers of the producer's integration tests: a producer run on
its own shm name and temp folder, with its log captured."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

PRODUCER = stktest.binary("producer", "seqtick-producer")


class ProducerCase(unittest.TestCase):
    """Each test gets self.dir (a temp folder) and self.shm (a fresh name);
    producers started with self.start() are killed and the segment removed
    afterwards."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="stk-prod-")
        self.shm = stktest.unique_shm("prod")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.p.stdin:
                try:
                    p.p.stdin.close()
                except OSError:
                    pass
            p.close()
        stktest.shm_remove(self.shm)
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self, producer=None, shm=None, name="seqtick.conf", **extra):
        sections = {
            "shm": {"name": self.shm, "capacity": 64, "history": 1024, **(shm or {})},
            "producer": {"heartbeat_ms": 50, "stats_interval_s": 0, **(producer or {})},
            "log": {"level": "info"},
        }
        sections.update(extra)
        return stktest.write_config(self.dir, sections, name=name)

    def start(self, producer=None, shm=None, stdin=subprocess.DEVNULL, **kw):
        conf = self.config(producer, shm)
        p = stktest.Proc([PRODUCER, "-c", conf], stdin=stdin, **kw)
        self.procs.append(p)
        return p

    def segment(self, p=None, timeout=20):
        """The segment once a producer made it live (state 1)."""
        seg = stktest.open_segment(self.shm, timeout)
        stktest.wait_for(lambda: seg.header()["state"] == 1 or (p and p.p.poll() is not None),
                         timeout, what="segment live")
        if p is not None and p.p.poll() is not None:
            self.fail(f"producer exited {p.p.returncode}:\n{p.output()}")
        return seg

    def wait_log(self, p, text, timeout=20):
        return stktest.wait_for(lambda: text in p.output(), timeout, interval=0.05,
                                what=f"log line with {text!r}; log so far:\n{p.output()}")

    def stop_ok(self, p, timeout=20):
        rc = p.stop(signal.SIGTERM, timeout)
        self.assertEqual(rc, 0, p.output())
