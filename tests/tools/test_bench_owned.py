#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`seqtick-bench server` starts its own redis-server (and seqtick-server):
on a port of its own, never the system's 6379, and they die with the bench
even when the bench itself is killed with SIGKILL mid-run (PDEATHSIG), so
no Redis is left behind."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import stktest  # noqa: E402

HAVE_SERVER = os.path.exists(os.path.join(stktest.BUILD, "server", "seqtick-server"))


def children(pid):
    """{child pid: argv} of pid, from /proc."""
    out = {}
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        try:
            with open(f"/proc/{k}/cmdline", "rb") as f:
                out[k] = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            pass
    return out


@unittest.skipUnless(HAVE_SERVER and shutil.which("redis-server"),
                     "seqtick-server or redis-server missing (scripts/deps test installs it)")
class BenchOwnsItsServers(unittest.TestCase):
    def test_killed_bench_leaves_no_server(self):
        p = subprocess.Popen([toolstest.bench_path(), "server", "--seconds", "30", "--rounds", "3",
                              "--ticks", "100", "--idle", "10"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=toolstest.child_env())
        redis, ours = {}, None
        try:
            def both():
                kids = children(p.pid)
                redis = {k: a for k, a in kids.items() if "redis-server" in a[0]}
                ours = {k: a for k, a in kids.items() if "seqtick-server" in a[0]}
                return (redis, ours) if redis and ours else None
            redis, ours = stktest.wait_for(both, timeout=60, interval=0.05,
                                           what="the bench's redis-server and seqtick-server")
            for argv in redis.values():
                # redis-server retitles itself "redis-server 127.0.0.1:PORT"
                line = " ".join(argv)
                m = re.search(r"127\.0\.0\.1:(\d+)", line) or re.search(r"--port (\d+)", line)
                self.assertIsNotNone(m, line)
                self.assertNotEqual(m.group(1), "6379", "the system Redis port")
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            for pid in list(redis) + list(ours):
                stktest.wait_for(lambda: not stktest.alive(pid), timeout=20,
                                 what=f"pid {pid} gone after the bench was killed")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            for pid in list(redis) + list(ours or ()):  # left behind: do not leak them
                if stktest.alive(pid):
                    os.kill(pid, signal.SIGKILL)
            for path in glob.glob(f"/dev/shm/stk-bench-srv-{p.pid}"):
                os.unlink(path)
            # the killed bench's temp folder (its config and logs), named in
            # seqtick-server's -c
            for argv in ours.values() if ours else ():
                conf = argv[argv.index("-c") + 1] if "-c" in argv else ""
                if conf.startswith("/tmp/stk-bench-server-"):
                    shutil.rmtree(os.path.dirname(conf), ignore_errors=True)

if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[sys.argv[0]])
