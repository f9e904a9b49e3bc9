#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`meson install` (into a temporary DESTDIR) installs what an outside user
needs: the programs, libseqtick with seqtick.h and the generated
seqtick-version.h it includes, the pkg-config file, and the Python client
package, which python3 then imports from the install, not from the tree.
And etc/seqtick.service gives strategies a working directory they may write."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="stk-install-")
        p = subprocess.run(["meson", "install", "-C", stktest.BUILD, "--no-rebuild", "--quiet",
                            "--destdir", cls.dest], capture_output=True, text=True, timeout=120)
        cls.install = p

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def find(self, pattern):
        return glob.glob(os.path.join(self.dest, "**", pattern), recursive=True)

    def test_installed_files(self):
        self.assertEqual(self.install.returncode, 0, self.install.stdout + self.install.stderr)
        for name in ("seqtick.h", "seqtick-version.h", "libseqtick.so.1", "seqtick.pc"):
            self.assertTrue(self.find(name), f"{name} not installed")
        for folder, prog in (("producer", "seqtick-producer"), ("server", "seqtick-server"),
                             ("supervisor", "seqtick-supervisor"), ("tools", "seqtick")):
            if os.path.exists(os.path.join(stktest.BUILD, folder, prog)):
                self.assertTrue(self.find(prog), f"{prog} not installed")

    def test_installed_header_compiles_alone(self):
        inc = os.path.dirname(self.find("seqtick.h")[0])
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "v.c")
            with open(src, "w") as f:
                f.write('#include <seqtick.h>\n#include <stdio.h>\n'
                        'int main(void) { puts(STK_VERSION); return 0; }\n')
            p = subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-fsyntax-only",
                                "-I", inc, src], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_python_client_installed(self):
        inits = [p for p in self.find("__init__.py")
                 if os.path.basename(os.path.dirname(p)) == "seqtick"]
        self.assertEqual(len(inits), 1, inits)
        pkg = os.path.dirname(inits[0])
        for name in ("_lib.py", "errors.py"):
            self.assertTrue(os.path.exists(os.path.join(pkg, name)), name)
        # python3 finds it there (without loading libseqtick: nothing to load here)
        env = dict(os.environ, PYTHONPATH=os.path.dirname(pkg))
        p = subprocess.run([sys.executable, "-c", "import importlib.util as u; "
                            "print(u.find_spec('seqtick').origin)"], env=env,
                           capture_output=True, text=True, timeout=60, cwd=self.dest)
        self.assertEqual(p.stdout.strip(), inits[0], p.stderr)

    def test_unit_has_a_working_directory(self):
        with open(os.path.join(stktest.SOURCE, "etc", "seqtick.service")) as f:
            unit = f.read()
        state = re.search(r"(?m)^StateDirectory=(\S+)$", unit)
        work = re.search(r"(?m)^WorkingDirectory=(\S+)$", unit)
        self.assertIsNotNone(state, "no StateDirectory=")
        self.assertIsNotNone(work, "no WorkingDirectory=")
        self.assertEqual(work.group(1), "/var/lib/" + state.group(1))


if __name__ == "__main__":
    stktest.main_unittest()
