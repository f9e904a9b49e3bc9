#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/run CONFIG takes a relative CONFIG from the caller's directory
(it used to cd to the repository first and look there), starts the stack in
the foreground, and Ctrl-C (SIGINT) stops it cleanly. SEQTICK_RUN_BUILT
points it at this build tree, so it neither installs nor builds."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

SCRIPT = os.path.join(stktest.SOURCE, "scripts", "run")
HAVE_STACK = all(os.path.exists(os.path.join(stktest.BUILD, f, "seqtick-" + f))
                 for f in ("producer", "server", "supervisor"))


def steps(lines):
    """The supervisor's own lines, as their first words ("segment",
    "producer: started", ...), up to "all N children ready"; the two
    children's "ready" lines may come in either order, so both read "child ready"."""
    out = []
    for line in lines:
        if line.startswith(("producer: ", "server: ", "recorder: ")) or "]: " not in line:
            continue
        words = line.split("]: ", 1)[1].split()
        key = words[0] + (" " + words[1] if words[0].endswith(":") else "")
        out.append("child ready" if key.endswith(": pid") else key)
        if key == "all":
            break
    return out


def supervisor_steps(lines):
    return steps(lines)


def readme_steps():
    """The same steps from README.md's "What you see" log."""
    with open(os.path.join(stktest.SOURCE, "README.md")) as f:
        text = f.read()
    block = text.split("Within a second the log shows", 1)[1].split("```", 2)[1]
    return steps(block.strip().splitlines())


class Run(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="stk-run-")
        self.shm = stktest.unique_shm("run")
        self.env = dict(os.environ, SEQTICK_RUN_BUILT=os.path.abspath(stktest.BUILD))

    def tearDown(self):
        stktest.shm_remove(self.shm)
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_missing_config_names_it_and_exits_100(self):
        p = subprocess.run([SCRIPT, "no-such.conf"], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 100, p.stderr)
        # Named as the caller meant it: in the caller's directory.
        self.assertIn(os.path.join(self.dir, "no-such.conf"), p.stderr)

    @unittest.skipUnless(HAVE_STACK, "producer, server or supervisor not built")
    def test_relative_config_from_the_callers_directory(self):
        port = stktest.free_port()
        stktest.write_config(self.dir, {
            "shm": {"name": self.shm, "capacity": 16, "history": 16},
            "producer": {"rate": 100, "symbols": "AAA BBB"},
            "server": {"listen": f"127.0.0.1:{port}", "http_listen": "off"},
            "recorder": {"store": "sqlite:var/run-test.db"},  # as etc/seqtick.conf
            "supervisor": {"pidfile": os.path.join(self.dir, "sup.pid"), "grace_ms": 3000},
        }, name="mine.conf")
        p = subprocess.Popen([SCRIPT, "mine.conf"], cwd=self.dir, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
        lines = []
        try:
            end = time.monotonic() + 30
            while time.monotonic() < end:
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if "children ready" in line:
                    break
            log = "".join(lines)
            self.assertIn("children ready", log)
            self.assertEqual(supervisor_steps(log.splitlines()), readme_steps())
            self.assertIn(os.path.join(self.dir, "mine.conf"), log)
            self.assertTrue(os.path.exists(stktest.shm_path(self.shm)))
            # Ctrl-C reaches the whole foreground process group as SIGINT.
            os.killpg(p.pid, signal.SIGINT)
            rest, _ = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, log + rest)
            self.assertFalse(os.path.exists(stktest.shm_path(self.shm)), "segment left behind")
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


if __name__ == "__main__":
    stktest.main_unittest()
