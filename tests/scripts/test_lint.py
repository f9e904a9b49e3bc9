#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The lint gate can fail: with SEQTICK_CI set, a linter that is not
installed is an error (it used to be skipped silently and lint passed);
without it, a note and a skip. Runs scripts/lint with a PATH that holds
none of clang-format, cppcheck, clang-tidy (no linting happens: cheap)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

SCRIPT = os.path.join(stktest.SOURCE, "scripts", "lint")
LINTERS = ("clang-format", "cppcheck", "clang-tidy")


def in_git():
    try:
        return subprocess.run(["git", "-C", stktest.SOURCE, "rev-parse", "--git-dir"],
                              capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


class LintGate(unittest.TestCase):
    def setUp(self):
        if not in_git():
            self.skipTest("not a git checkout: scripts/lint lints tracked files")
        self.bin = tempfile.mkdtemp(prefix="stk-lint-")
        for tool in ("bash", "env", "git", "dirname", "cat", "sed"):
            path = shutil.which(tool)
            if path:
                os.symlink(path, os.path.join(self.bin, tool))

    def tearDown(self):
        shutil.rmtree(self.bin, ignore_errors=True)

    def lint(self, ci):
        env = {k: v for k, v in os.environ.items() if k != "SEQTICK_CI"}
        env["PATH"] = self.bin
        if ci:
            env["SEQTICK_CI"] = "1"
        return subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True,
                              timeout=50)

    def test_missing_linters_fail_in_ci(self):
        p = self.lint(ci=True)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        for tool in LINTERS:
            self.assertIn(tool, p.stderr)
        self.assertIn("SEQTICK_CI", p.stderr)

    def test_missing_linters_are_skipped_outside_ci(self):
        p = self.lint(ci=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        for tool in LINTERS:
            self.assertIn(f"{tool} not installed; skipped", p.stderr)


class Packages(unittest.TestCase):
    def test_test_packages_list_the_linters(self):
        with open(os.path.join(stktest.SOURCE, "scripts", "test-packages")) as f:
            names = {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
        for tool in LINTERS:
            self.assertIn(tool, names)


if __name__ == "__main__":
    stktest.main_unittest()
