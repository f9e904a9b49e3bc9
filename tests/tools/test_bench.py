# SPDX-License-Identifier: MIT
"""seqtick-bench latency runs end to end (writer and reader processes over a
real segment) and reports every figure with its baseline; it cleans up its
segment. The targets themselves are machine-dependent and not asserted."""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402


class BenchLatencyTest(unittest.TestCase):
    def bench(self, *args, rc=0):
        r = toolstest.run([toolstest.bench_path(), "latency", *args], timeout=60)
        self.assertEqual(r.returncode, rc, f"rc {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def before(self):
        return {f for f in os.listdir("/dev/shm") if f.startswith("stk-bench-lat-")}

    def test_json_figures(self):
        left = self.before()
        doc = json.loads(self.bench("--samples", "3000", "--futex-samples", "200", "--json"))
        for k in ("spin_baseline", "spin_seqtick", "futex_baseline", "futex_seqtick"):
            s = doc[k]
            self.assertGreater(s["samples"], 0)
            self.assertTrue(0 < s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"], s)
        # spinning sees a write far sooner than a futex wake-up does
        self.assertLess(doc["spin_seqtick"]["p50"], doc["futex_seqtick"]["p50"])
        self.assertEqual((doc["spin_target_ns"], doc["futex_target_ns"]), (150, 20000))
        self.assertIsInstance(doc["spin_ok"], bool)
        self.assertEqual(self.before(), left, "the bench left its segment behind")

    def test_text_report(self):
        out = self.bench("--samples", "2000", "--futex-samples", "100")
        self.assertRegex(out, r"spin\s+baseline\s+2000\s+\d+\s+\d+")
        self.assertRegex(out, r"spin\s+seqtick\s+2000 .* p50 x[\d.]+ of baseline; target <= 150")
        self.assertRegex(out, r"futex\s+seqtick\s+100 .* target <= 20000: (ok|MISSED)")
        self.bench("--samples", "1", rc=100)
        self.bench("--bogus", rc=100)
        self.assertIn("usage: seqtick-bench latency", self.bench("--help"))


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[sys.argv[0]])
