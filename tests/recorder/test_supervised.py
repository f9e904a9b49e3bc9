# SPDX-License-Identifier: MIT
"""The recorder as the supervisor's built-in child (recorder.store set; a
relative path is against the supervisor's working directory; kill -9 →
restarted, recording goes on), and a segment replaced under a new
generation starting a new tick sequence."""
import os
import signal
import sqlite3
import subprocess
import time
import unittest

import rectest
from rectest import stktest


def recorder_pids(root):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        if b"seqtick-recorder" in cmd.split(b"\0")[0] and s[s.rindex(")") + 2] != "Z":
            ppid = int(s[s.rindex(")") + 2:].split()[1])
            if ppid == root:
                out.append(int(d))
    return out


class Supervised(unittest.TestCase):
    def test_builtin_child(self):
        st = rectest.Stack("sup", store="sqlite:var/t.db", **{
            "server": {"listen": "127.0.0.1:0", "http_listen": "off"},
            "supervisor": {"pidfile": "sup.pid", "grace_ms": 3000}})
        try:
            sup = st.start("supervisor", "seqtick-supervisor", "-c", st.conf)
            db = os.path.join(st.dir, "var", "t.db")

            def count():
                if not os.path.exists(db):
                    return 0
                try:
                    d = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
                    try:
                        return d.execute("SELECT count(*) FROM ticks").fetchone()[0]
                    finally:
                        d.close()
                except sqlite3.OperationalError:
                    return 0
            stktest.wait_for(lambda: count() > 100, 60, 0.1, "ticks in var/t.db")
            pids = stktest.wait_for(lambda: recorder_pids(sup.pid), 30, 0.1, "the recorder")
            os.kill(pids[0], signal.SIGKILL)
            def restarted():  # one look: the list may change between two
                now = recorder_pids(sup.pid)
                return bool(now) and now[0] != pids[0]
            stktest.wait_for(restarted, 60, 0.1, "a restarted recorder")
            n = count()
            stktest.wait_for(lambda: count() > n + 100, 60, 0.1, "recording after the restart")
            self.assertEqual(sup.stop(signal.SIGTERM, 60), 0, sup.output()[-3000:])
            self.assertIn("recorder", sup.output())
        finally:
            st.close()

    def test_new_generation(self):
        st = rectest.Stack("gen")
        try:
            rec = st.recorder()
            w = st.writer("--symbols", "AAA,BBB", "--rate", "2000", "--history", "4096",
                          "--replace-after-ms", "1500")
            stktest.wait_for(lambda: "replaced gen=2" in w.output(), 60, 0.05, "the replacement")
            time.sleep(0.5)
            seg = st.segment()
            stktest.wait_for(lambda: seg.header()["generation"] == 2, 30, 0.05, "generation 2")
            os.kill(w.pid, signal.SIGSTOP)
            heads = rectest.freeze_heads(seg, ["AAA", "BBB"])

            def gen_counts():
                return dict(((r[0], r[1]), r[2]) for r in st.query(
                    "SELECT s.name, generation, count(*) FROM ticks t JOIN symbols s "
                    "ON s.id = t.symbol_id GROUP BY 1, 2"))
            stktest.wait_for(lambda: all(gen_counts().get((s, 2), 0) >= h
                                         for s, h in heads.items()), 60, 0.1,
                             "generation 2 stored")
            c = gen_counts()
            for s, h in heads.items():
                self.assertGreater(c.get((s, 1), 0), 100, s)
                self.assertEqual(c[(s, 2)], h, s)
                rows = st.query("SELECT min(tick), max(tick), count(*) FROM ticks t JOIN "
                                "symbols y ON y.id = t.symbol_id WHERE y.name = ? "
                                "GROUP BY generation ORDER BY generation", (s,))
                self.assertEqual(rows[0][0], 0)
                self.assertEqual(rows[0][1] + 1, rows[0][2], f"{s}: generation 1 has a hole")
                self.assertEqual(rows[1], (0, h - 1, h))
            self.assertEqual(st.query("SELECT count(*) FROM gaps"), [(0,)])
            self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
        finally:
            st.close()


if __name__ == "__main__":
    stktest.main_unittest()
