# SPDX-License-Identifier: MIT
"""rectest — helpers for the recorder tests: a temp folder with a config,
the recorder / producer / stk-test-writer as real processes, and checks
that read the store back with the stdlib sqlite3."""
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stktest  # noqa: E402

TS_BASE = 1700000000000000000


def model(i, c, gen=1):
    """stk-test-writer's tick c (1-based) of the symbol at table index i:
    (price, bid, ask, volume, src_ts_ns, bid_size, ask_size)."""
    phase = c % 200
    tri = phase if phase < 100 else 200 - phase
    price = (100 + i) * 100000000 + (gen - 1) * 100000000000 + tri * 1234567
    return (price, price - 1000000, price + 1000000, c * 100, TS_BASE + c * 1000,
            c % 1000 + 1, c % 1000 + 2)


class Stack:
    """A temp folder, a shm name, a config; the processes started in it
    are killed (and the segment removed) by close()."""

    def __init__(self, tag, store=None, **sections):
        self.dir = tempfile.mkdtemp(prefix=f"stk-rec-{tag}-")
        self.shm = stktest.unique_shm("rec" + tag)
        self.procs = []
        self.store = store or "sqlite:" + os.path.join(self.dir, "db", "t.db")
        conf = {"shm": {"name": self.shm, "history": 4096},
                "producer": {"rate": 2000},
                "recorder": {"store": self.store, "batch_ms": 50},
                "log": {"level": "info"}}
        for sec, kv in sections.items():
            conf.setdefault(sec, {}).update(kv)
        self.conf = stktest.write_config(self.dir, conf)

    @property
    def db_path(self):
        return self.store.split(":", 1)[1]

    def start(self, folder, name, *args):
        p = stktest.Proc([stktest.binary(folder, name)] + list(args), cwd=self.dir)
        self.procs.append(p)
        return p

    def recorder(self):
        return self.start("recorder", "seqtick-recorder", "-c", self.conf)

    def producer(self):
        p = self.start("producer", "seqtick-producer", "-c", self.conf)
        stktest.open_segment(self.shm, 20).close()
        return p

    def writer(self, *args):
        return self.start(os.path.join("tests", "tools"), "stk-test-writer", "--shm", self.shm,
                          *args)

    def segment(self):
        return stktest.open_segment(self.shm, 20)

    def db(self):
        d = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        return d

    def query(self, sql, args=()):
        """Run a read query, retrying while the file is not there yet."""
        end = time.monotonic() + 60
        while True:
            try:
                d = self.db()
                try:
                    return d.execute(sql, args).fetchall()
                finally:
                    d.close()
            except sqlite3.OperationalError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)

    def counts(self):
        """{symbol: (count, max tick)} of generation 1... of every generation."""
        return {r[0]: (r[1], r[2]) for r in self.query(
            "SELECT s.name, count(*), max(t.tick) FROM ticks t JOIN symbols s "
            "ON s.id = t.symbol_id GROUP BY s.name")}

    def wait_stored(self, heads, timeout=60):
        """Wait until every symbol's stored count reaches its ring head."""
        def done():
            c = self.counts()
            return all(c.get(s, (0, 0))[0] + self.lost(s) >= h for s, h in heads.items())
        stktest.wait_for(done, timeout, 0.1, "the recorder to store every tick")

    def lost(self, sym):
        r = self.query("SELECT coalesce(sum(g.to_tick - g.from_tick), 0) FROM gaps g "
                       "JOIN symbols s ON s.id = g.symbol_id WHERE s.name = ?", (sym,))
        return r[0][0]

    def check_exact_cover(self, tc, sym, head):
        """Stored ticks and gap rows of sym (generation 1) together cover
        [0, head) exactly once; returns the gap rows."""
        ticks = [r[0] for r in self.query(
            "SELECT tick FROM ticks t JOIN symbols s ON s.id = t.symbol_id "
            "WHERE s.name = ? ORDER BY tick", (sym,))]
        gaps = self.query("SELECT from_tick, to_tick FROM gaps g JOIN symbols s "
                          "ON s.id = g.symbol_id WHERE s.name = ? ORDER BY from_tick", (sym,))
        cover = [0] * head
        for k in ticks:
            tc.assertLess(k, head, f"{sym}: tick {k} beyond the head {head}")
            cover[k] += 1
        for a, b in gaps:
            tc.assertLess(a, b, f"{sym}: empty gap {a}..{b}")
            for k in range(a, min(b, head)):
                cover[k] += 1
        holes = [k for k, n in enumerate(cover) if n == 0]
        twice = [k for k, n in enumerate(cover) if n > 1]
        tc.assertEqual(holes[:10], [], f"{sym}: ticks neither stored nor in a gap")
        tc.assertEqual(twice[:10], [], f"{sym}: ticks stored or lost twice")
        return gaps

    def close(self):
        for p in reversed(self.procs):
            try:
                os.kill(p.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            p.close()
        stktest.shm_remove(self.shm)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        return "\n".join(p.output() for p in self.procs)


def freeze_heads(seg, syms):
    return {s: seg.ring_head(s) for s in syms}
