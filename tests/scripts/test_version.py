#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One version source: meson.build's project() version is what every
program's --version prints, what libseqtick reports (stk_version, through
`seqtick --version`), what the installed seqtick-version.h says, and the
Python client's __version__."""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

PROGRAMS = [("producer", "seqtick-producer"), ("server", "seqtick-server"),
            ("supervisor", "seqtick-supervisor"), ("tools", "seqtick"),
            ("tools", "seqtick-bench")]


def project_version():
    out = subprocess.run(["meson", "introspect", "--projectinfo", stktest.BUILD],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)["version"]


class Version(unittest.TestCase):
    def setUp(self):
        self.version = project_version()
        self.assertRegex(self.version, r"^\d+\.\d+\.\d+$")

    def test_every_program(self):
        seen = 0
        for folder, name in PROGRAMS:
            path = os.path.join(stktest.BUILD, folder, name)
            if not os.path.exists(path):
                continue
            p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 0, (name, p.stderr))
            # "NAME VERSION ..." and, for the CLI, "(libseqtick VERSION)"
            self.assertTrue(p.stdout.startswith(f"{name} {self.version}"), (name, p.stdout))
            for v in re.findall(r"\d+\.\d+\.\d+", p.stdout):
                self.assertEqual(v, self.version, (name, p.stdout))
            seen += 1
        self.assertGreater(seen, 0, "no program built")

    def test_generated_header(self):
        with open(os.path.join(stktest.BUILD, "common", "seqtick-version.h")) as f:
            self.assertIn(f'#define STK_VERSION "{self.version}"', f.read())
        with open(os.path.join(stktest.SOURCE, "common", "seqtick.h")) as f:
            text = f.read()
        self.assertIn('#include "seqtick-version.h"', text)
        self.assertNotRegex(text, r'#define\s+STK_VERSION\s+"', "a second version in seqtick.h")

    def test_python_client(self):
        with open(os.path.join(stktest.SOURCE, "clients", "python", "seqtick",
                               "__init__.py")) as f:
            m = re.search(r'^__version__\s*=\s*"([^"]+)"', f.read(), re.M)
        self.assertIsNotNone(m, "__version__ not found")
        self.assertEqual(m.group(1), self.version,
                         "clients/python/seqtick/__init__.py: __version__ differs from "
                         "meson.build's project() version")


if __name__ == "__main__":
    stktest.main_unittest()
