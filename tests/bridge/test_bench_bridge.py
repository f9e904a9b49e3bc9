# SPDX-License-Identifier: MIT
"""seqtick-bench bridge runs end to end on tiny settings (its own
nats-server, a real seqtick-bridge) and prints each figure beside its
same-run bare libnats baseline; the figures are not asserted (machine-bound)."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402


class BenchBridge(unittest.TestCase):
    def run_bench(self, *args):
        return subprocess.run([stktest.binary("tools", "seqtick-bench"), "bridge", *args],
                              capture_output=True, text=True, timeout=180)

    def test_runs_with_baselines(self):
        before = {f for f in os.listdir("/dev/shm") if f.startswith("stk-bench-bridge-")}
        r = self.run_bench("-n", "5000", "-l", "200", "-s", "10")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertRegex(out, r"seqtick-bridge\s+\d+ ticks/s\n")
        self.assertRegex(out, r"bare libnats\s+\d+ msgs/s")
        self.assertRegex(out, r"ratio\s+[\d.]+ x")
        self.assertRegex(out, r"seqtick-bridge\s+[\d.]+ /\s+[\d.]+\n")
        self.assertRegex(out, r"bare libnats\s+[\d.]+ /\s+[\d.]+ \(send-asap")
        self.assertRegex(out, r"full path: (segment A|skipped)")
        left = {f for f in os.listdir("/dev/shm") if f.startswith("stk-bench-bridge-")}
        self.assertEqual(left, before, "the bench left a segment behind")

    def test_usage(self):
        self.assertEqual(self.run_bench("-n", "5").returncode, 100)
        self.assertEqual(self.run_bench("-x").returncode, 100)


if __name__ == "__main__":
    stktest.main_unittest()
