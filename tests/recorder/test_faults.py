# SPDX-License-Identifier: MIT
"""Disk faults: a database locked by another writer, a full disk (a small
tmpfs this test mounts itself, as root), a read-only folder. The recorder
logs a clear error, retries with backoff, and once the fault is gone stores
what the ring still holds; the database stays sound."""
import os
import signal
import sqlite3
import subprocess
import time
import unittest

import rectest
from rectest import stktest


class Faults(unittest.TestCase):
    def settle_and_check(self, st, prod, rec):
        seg = st.segment()
        syms = seg.symbols()
        os.kill(prod.pid, signal.SIGSTOP)
        heads = rectest.freeze_heads(seg, syms)
        st.wait_stored(heads, 120)
        for s, h in heads.items():
            st.check_exact_cover(self, s, h)
        self.assertEqual(st.query("PRAGMA integrity_check"), [("ok",)])
        self.assertEqual(rec.stop(signal.SIGTERM, 30), 0)
        return heads

    def test_locked(self):
        st = rectest.Stack("lock")
        try:
            prod = st.producer()
            rec = st.recorder()
            stktest.wait_for(lambda: st.counts(), 30, 0.05, "the recorder storing")
            other = sqlite3.connect(st.db_path, timeout=30, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            stktest.wait_for(lambda: "database is locked" in rec.output(), 30, 0.05,
                             "the recorder to report the lock")
            time.sleep(1.0)
            other.execute("ROLLBACK")
            other.close()
            stktest.wait_for(lambda: "writing again" in rec.output(), 30, 0.05,
                             "the recorder to recover")
            self.settle_and_check(st, prod, rec)
            # the ring (16 s here) outlasted the lock: nothing was lost
            self.assertEqual(st.query("SELECT count(*) FROM gaps"), [(0,)])
        finally:
            st.close()

    def test_disk_full(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        st = rectest.Stack("full")
        mnt = os.path.join(st.dir, "db")
        os.makedirs(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt],
                           capture_output=True)
        if r.returncode != 0:
            st.close()
            self.skipTest(f"cannot mount a tmpfs: {r.stderr!r}")
        try:
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:
                f.write(b"x" * 5600 * 1024)
            prod = st.producer()
            rec = st.recorder()
            stktest.wait_for(lambda: "disk is full" in rec.output(), 60, 0.05,
                             "the recorder to report the full disk")
            self.assertTrue(stktest.alive(rec.pid))
            os.unlink(filler)
            stktest.wait_for(lambda: "writing again" in rec.output(), 60, 0.05,
                             "the recorder to recover")
            self.settle_and_check(st, prod, rec)
        finally:
            for p in st.procs:
                p.close()
            subprocess.run(["umount", "-l", mnt])
            st.close()

    def test_read_only_folder(self):
        st = rectest.Stack("ro")
        folder = os.path.join(st.dir, "db")
        os.makedirs(folder)
        mounted = False
        try:
            if os.geteuid() == 0:  # root writes through modes: a read-only mount
                r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=4m", "tmpfs",
                                    folder], capture_output=True)
                if r.returncode != 0:
                    self.skipTest(f"cannot mount a tmpfs: {r.stderr!r}")
                mounted = True
            else:
                os.chmod(folder, 0o500)
            prod = st.producer()
            rec = st.recorder()
            stktest.wait_for(lambda: "cannot open" in rec.output(), 30, 0.05,
                             "the recorder to report the read-only folder")
            self.assertRegex(rec.output(), r"(?i)read-only|unable to open|permission")
            self.assertTrue(stktest.alive(rec.pid))
            # writable again: it opens the store and records
            if mounted:
                subprocess.run(["mount", "-o", "remount,rw", folder], check=True)
            else:
                os.chmod(folder, 0o700)
            stktest.wait_for(lambda: os.path.exists(st.db_path) and st.counts(), 60, 0.1,
                             "ticks stored once the folder is writable")
            self.settle_and_check(st, prod, rec)
        finally:
            for p in st.procs:
                p.close()
            if mounted:
                subprocess.run(["umount", "-l", folder])
            else:
                os.chmod(folder, 0o700)
            st.close()


if __name__ == "__main__":
    stktest.main_unittest()
