#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/build DIR OPTIONS on an existing build dir applies OPTIONS (it used
to ignore them once DIR was configured). Configure only
(SEQTICK_BUILD_CONFIGURE_ONLY=1): two meson setups, no compile."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

SCRIPT = os.path.join(stktest.SOURCE, "scripts", "build")


def options(builddir):
    out = subprocess.run(["meson", "introspect", "--buildoptions", builddir],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


class BuildOptions(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="stk-build-")
        self.build = os.path.join(self.dir, "b")
        self.env = dict(os.environ, SEQTICK_BUILD_CONFIGURE_ONLY="1")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_build(self, *opts):
        p = subprocess.run([SCRIPT, self.build, *opts], env=self.env, capture_output=True,
                           text=True, timeout=150)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def test_new_options_apply_to_an_existing_build(self):
        # The parts and tests left out keep both configures short.
        small = ["-Dtests=disabled", "-Dserver=false", "-Dsupervisor=false"]
        self.run_build("--buildtype=debug", *small)
        o = options(self.build)
        self.assertEqual(o["buildtype"], "debug")
        self.assertTrue(o["werror"])
        self.assertFalse(o["server"])
        # The README's example: a release build of an existing tree.
        p = self.run_build("--buildtype=release", "-Dserver=true")
        o = options(self.build)
        self.assertEqual(o["buildtype"], "release", p.stderr)
        self.assertTrue(o["server"])
        self.assertTrue(o["werror"], "the reconfigure dropped --werror")
        self.assertFalse(o["supervisor"], "options not named again are kept")
        # Configure only: nothing compiled.
        self.assertFalse(os.path.exists(os.path.join(self.build, "common", "libseqtick.so")))

    def test_no_options_leaves_the_build_alone(self):
        self.run_build("--buildtype=debug", "-Dtests=disabled", "-Dserver=false",
                       "-Dsupervisor=false", "-Dproducer=false", "-Dtools=false")
        before = os.stat(os.path.join(self.build, "build.ninja")).st_mtime_ns
        p = self.run_build()
        self.assertEqual(os.stat(os.path.join(self.build, "build.ninja")).st_mtime_ns, before,
                         p.stderr)
        self.assertEqual(options(self.build)["buildtype"], "debug")


if __name__ == "__main__":
    stktest.main_unittest()
