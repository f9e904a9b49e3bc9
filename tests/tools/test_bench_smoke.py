# SPDX-License-Identifier: MIT
"""Every seqtick-bench subcommand runs end to end on tiny settings and prints
its figures next to a same-run baseline, so the benches the docs quote
cannot rot unnoticed. The figures themselves are not asserted (machine-bound)."""
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402

HAVE_PRODUCER = os.path.exists(os.path.join(toolstest.stktest.BUILD, "producer",
                                            "seqtick-producer"))
HAVE_STACK = HAVE_PRODUCER and all(os.path.exists(os.path.join(toolstest.stktest.BUILD, d, n))
                                   for d, n in (("server", "seqtick-server"),
                                                ("supervisor", "seqtick-supervisor")))


class BenchSmoke(unittest.TestCase):
    def bench(self, *args, timeout=120):
        r = toolstest.run([toolstest.bench_path(), *args], timeout=timeout)
        self.assertEqual(r.returncode, 0, f"rc {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def test_shm(self):
        out = self.bench("shm", "--iterations", "1000", "--reps", "1")
        self.assertRegex(out, r"read  stk_record_load \(inline, header\)\s+[\d.]+\s+[\d.]+\s+[\d.]+")
        self.assertRegex(out, r"write contended \(reader on other core\)\s+[\d.]+\s+[\d.]+\s+[\d.]+")
        bad = toolstest.run([toolstest.bench_path(), "shm", "--iterations", "5"], timeout=30)
        self.assertEqual(bad.returncode, 100)

    @unittest.skipUnless(HAVE_PRODUCER, "seqtick-producer not built here")
    def test_producer(self):
        out = self.bench("producer", "--seconds", "0.2")
        self.assertRegex(out, r"sim   feed at rate 0: .* [\d.]+x of baseline")
        self.assertRegex(out, r"json  stdin path: .* [\d.]+x of baseline")
        self.assertRegex(out, r"targets: sim [\d.]+ M/s")

    @unittest.skipUnless(HAVE_STACK, "the supervisor and server are not built here")
    def test_restart(self):
        out = self.bench("restart", "-n", "3")
        self.assertRegex(out, r"kill -> replacement ready \(running\)\s+[\d.]+")
        self.assertRegex(out, r"ready p50 vs baseline p50: [\d.]+x")

    @unittest.skipUnless(HAVE_STACK, "the supervisor and server are not built here")
    def test_supervisor_flood(self):
        out = self.bench("supervisor", "-s", "1")
        self.assertRegex(out, r"baseline: yes > /dev/null\s+-\s+[\d.]+")
        m = re.search(r"supervised, log.format = text\s+([\d.]+)", out)
        self.assertTrue(m, out)
        self.assertLess(float(m.group(1)), 50, "the flood is not held back")
        self.assertRegex(out, r"supervised, log.format = json\s+[\d.]+")
        self.assertRegex(out, r"supervisor RSS after the flood: text VmRSS \d+ kB")

    @unittest.skipUnless(HAVE_STACK and shutil.which("redis-server"),
                         "seqtick-server or redis-server missing (scripts/deps installs it)")
    def test_server_vs_redis(self):
        out = self.bench("server", "--seconds", "0.3", "--rounds", "1", "--ticks", "100",
                         "--idle", "100")
        self.assertEqual(len(re.findall(r"^  ratio\s+50\s+(1|16)\s+[\d.]+x", out, re.M)), 2, out)
        self.assertRegex(out, r"ratio p50 [\d.]+x")


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[sys.argv[0]])
