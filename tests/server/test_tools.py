# SPDX-License-Identifier: MIT
"""scripts/smoke-test and clients/python/client_example.py against a live
server: both must pass (and the smoke test must fail on a server that is not
there)."""
import os
import subprocess
import sys
import unittest

import srvtest
import stktest

SMOKE = os.path.join(stktest.SOURCE, "scripts", "smoke-test")
EXAMPLE = os.path.join(stktest.SOURCE, "clients", "python", "client_example.py")


class Tools(unittest.TestCase):
    def test_smoke_test_passes(self):
        shm, w, srv = srvtest.stack(self, rate=50)
        p = subprocess.run([sys.executable, SMOKE, "--port", str(srv.port), "-v"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("all checks passed", p.stdout)
        self.assertNotIn("FAIL", p.stdout)

    def test_smoke_test_fails_without_producer(self):
        shm = stktest.unique_shm("smoke")
        self.addCleanup(stktest.shm_remove, shm)
        srv = srvtest.Server(shm)
        self.addCleanup(srv.close)
        p = subprocess.run([sys.executable, SMOKE, "--port", str(srv.port)],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("FAIL", p.stdout)

    def test_client_example(self):
        shm, w, srv = srvtest.stack(self, rate=50)
        p = subprocess.run([sys.executable, EXAMPLE, "--port", str(srv.port), "--subscribe",
                            "1"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('> {"v":1,"id":4,"type":"get_quote","ticker":"AAPL"}', p.stderr)
        self.assertIn('"type":"quote"', p.stderr)

    def test_client_example_without_a_server(self):
        port = stktest.free_port()  # nothing listens there
        p = subprocess.run([sys.executable, EXAMPLE, "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 111, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(p.stderr.count("\n"), 1, p.stderr)  # one line
        self.assertIn(f"127.0.0.1:{port}: Connection refused", p.stderr)

    def test_client_example_help_is_whole(self):
        p = subprocess.run([sys.executable, EXAMPLE, "--help"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        # The description is whole sentences, not its first line cut mid-phrase.
        self.assertIn("standard library only.", p.stdout)
        self.assertIn("Exit codes:", p.stdout)
        for opt in ("--host", "--port", "--ticker", "--subscribe"):
            line = next(l for l in p.stdout.splitlines() if l.strip().startswith(opt))
            self.assertGreater(len(line.split(None, 2)), 2, f"{opt} has no help text")
        p = subprocess.run([sys.executable, EXAMPLE, "--no-such-option"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 100, p.stderr)


if __name__ == "__main__":
    stktest.main_unittest()
