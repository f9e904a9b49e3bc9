#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A config file that cannot be opened is the user's input error: every
program says the same thing (PROG: fatal: unable to open config 'PATH':
REASON) and exits 100. The supervisor used to exit 111 with other words."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

PROGRAMS = [("producer", "seqtick-producer", []), ("server", "seqtick-server", []),
            ("supervisor", "seqtick-supervisor", []), ("tools", "seqtick", ["status"])]


class ConfigMissing(unittest.TestCase):
    def check_all(self, path, reason):
        seen = 0
        for folder, name, extra in PROGRAMS:
            exe = os.path.join(stktest.BUILD, folder, name)
            if not os.path.exists(exe):
                continue
            p = subprocess.run([exe, "-c", path, *extra], capture_output=True, text=True,
                               timeout=20, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 100, (name, p.stderr))
            self.assertEqual(p.stderr, f"{name}: fatal: unable to open config '{path}': {reason}\n")
            seen += 1
        self.assertGreater(seen, 0, "no program built")

    def test_missing_file(self):
        with tempfile.TemporaryDirectory() as d:
            self.check_all(os.path.join(d, "nope.conf"), "No such file or directory")

    def test_a_directory(self):
        # A directory opens for reading and reads as empty: it used to run on
        # the defaults. (tests/common/test_config.c has the unit test; here
        # only the CLI, which touches no segment if this regresses.)
        with tempfile.TemporaryDirectory() as d:
            exe = os.path.join(stktest.BUILD, "tools", "seqtick")
            if not os.path.exists(exe):
                self.skipTest("seqtick not built")
            p = subprocess.run([exe, "-c", d, "status"], capture_output=True, text=True,
                               timeout=20, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 100, p.stderr)
            self.assertEqual(p.stderr,
                             f"seqtick: fatal: unable to open config '{d}': Is a directory\n")


if __name__ == "__main__":
    stktest.main_unittest()
