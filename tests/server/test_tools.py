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


if __name__ == "__main__":
    stktest.main_unittest()
