# SPDX-License-Identifier: MIT
"""seqtick-bench fanout --quick runs every system end to end (seqtick-server
in ticks and latest mode, a private redis-server and nats-server): each prints
a row with events delivered, nobody is cut, and the bench leaves no segment,
temp dir or server behind. The figures themselves are not asserted."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402

SERVER = os.path.join(toolstest.stktest.BUILD, "server", "seqtick-server")
NATS = next((p for p in (shutil.which("nats-server"), "/usr/sbin/nats-server")
             if p and os.access(p, os.X_OK)), None)
SYSTEMS = ("seqtick-ticks", "seqtick-latest", "redis", "nats")


def running_with(text):
    """Pids of the processes whose command line mentions text."""
    pids = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(d))
        except (OSError, ValueError):
            pass
    return pids


class BenchFanout(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(SERVER), "seqtick-server is not built here")
    @unittest.skipUnless(shutil.which("redis-server") and NATS,
                         "redis-server or nats-server missing (scripts/test-packages)")
    def test_quick(self):
        tmp = tempfile.mkdtemp(prefix="stk-fanout-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        env = toolstest.child_env()
        env["TMPDIR"] = tmp
        p = subprocess.Popen([toolstest.bench_path(), "fanout", "--quick"], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            out, err = p.communicate(timeout=240)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 0, f"rc {p.returncode}\n{out}\n{err}")
        for name in SYSTEMS:
            m = re.search(r"^\s+8\s+1000\s+2\s+" + re.escape(name) +
                          r"\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                          r"\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)$", out, re.M)
            self.assertTrue(m, f"no row for {name}:\n{out}\n{err}")
            published, events = int(m.group(1)), int(m.group(2))
            self.assertGreater(published, 0, f"{name}: nothing published\n{out}")
            self.assertGreater(events, 0, f"{name}: no events delivered\n{out}\n{err}")
            self.assertGreater(float(m.group(3)), 0, f"{name}: no latency samples\n{out}")
            self.assertEqual(m.group(7), "0", f"{name}: a subscriber was cut\n{out}")
        self.assertIn("subscribers cut by a server: none", out)
        self.assertRegex(out, r"\(4\) N=1 R=1000: not in this grid")
        self.assertEqual(glob.glob(f"/dev/shm/stk-bench-fanout-{p.pid}"), [])
        self.assertEqual(os.listdir(tmp), [], "the bench left its temp dir")
        # seqtick-server and nats-server ran with a config in tmp: none is left
        self.assertEqual(running_with(tmp), [])

    def test_usage(self):
        r = toolstest.run([toolstest.bench_path(), "fanout", "--systems", "memcached"])
        self.assertEqual(r.returncode, 100, r.stderr)
        r = toolstest.run([toolstest.bench_path(), "fanout", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("--systems", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[sys.argv[0]])
