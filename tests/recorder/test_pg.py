# SPDX-License-Identifier: MIT
"""The recorder's PostgreSQL store against a real server started here
(tests/lib/pgtest.py: initdb in a temp folder, a unix socket, stopped at the
end): exact storage column by column, kill -9 resume without duplicates,
the server stopped and restarted under a running recorder, and a server
unreachable when the recorder starts. One server for the whole file; each
test uses its own database."""
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "supervisor"))
import pgtest  # noqa: E402
import stktest  # noqa: E402
import suphelp  # noqa: E402
from toolstest import model  # noqa: E402

PG = None


def setUpModule():
    global PG
    PG = pgtest.PgServer(tag="pgrec")
    PG.start()


def tearDownModule():
    if PG:
        PG.cleanup()


def writer_bin():
    return stktest.binary(os.path.join("tests", "tools"), "stk-test-writer")


def recorder_bin():
    return stktest.binary("recorder", "seqtick-recorder")


class PgRecorder(unittest.TestCase):
    SYMS = ["AAA", "BBB", "CCC"]

    def setUp(self):
        self.shm = stktest.unique_shm("pg")
        self.db = f"t_{self._testMethodName.lower()}_{os.getpid()}"
        PG.psql(f"CREATE DATABASE {self.db}")
        self.conninfo = PG.conninfo.replace("dbname=postgres", f"dbname={self.db}")
        self.dir = PG.dir  # a folder that exists for the file's whole run
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.close()
        stktest.shm_remove(self.shm)
        if PG.running():
            PG.psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)", check=False)

    # ---- helpers ----------------------------------------------------
    def q(self, sql):
        old = PG.dbname
        PG.dbname = self.db
        try:
            return PG.query(sql)
        finally:
            PG.dbname = old

    def writer(self, *args):
        p = stktest.Proc([writer_bin(), "--shm", self.shm, "--symbols", ",".join(self.SYMS),
                          *args])
        self.procs.append(p)
        stktest.wait_for(lambda: "ready" in p.output(), 30, what="writer ready")
        return p

    def config(self, conninfo=None, env_budget=None):
        return stktest.write_config(self.dir, {
            "shm": {"name": self.shm},
            "recorder": {"store": "postgresql:" + (conninfo or self.conninfo),
                         "batch_ms": 20},
            "log": {"level": "info"},
        }, name=f"rec-{self.db}.conf")

    def recorder(self, conf, env=None):
        p = stktest.Proc([recorder_bin(), "-c", conf], env=env)
        self.procs.append(p)
        return p

    def heads(self):
        seg = stktest.Segment(self.shm)
        try:
            return {s: seg.ring_head(s) for s in self.SYMS}
        finally:
            seg.close()

    def stored_counts(self):
        rows = self.q("SELECT s.name, count(*) FROM ticks t JOIN symbols s ON s.id = t.symbol_id"
                      " GROUP BY s.name")
        return {name: int(n) for name, n in rows}

    def wait_stored(self, want, timeout=60):
        def done():
            try:
                got = self.stored_counts()
            except RuntimeError:
                return False
            return all(got.get(s, 0) >= n for s, n in want.items())
        stktest.wait_for(done, timeout, 0.1, what=f"ticks stored {want}")

    def check_exact(self, gen=1):
        """Every stored row equals the writer's model, column by column."""
        rows = self.q("SELECT s.name, t.generation, t.tick, t.price, t.bid, t.ask, t.volume,"
                      " t.src_ts_ns, t.bid_size, t.ask_size, t.pub_ts_ns FROM ticks t"
                      " JOIN symbols s ON s.id = t.symbol_id ORDER BY 1, 2, 3")
        self.assertTrue(rows)
        for r in rows:
            name, g, k = r[0], int(r[1]), int(r[2])
            i = self.SYMS.index(name)
            self.assertEqual(g, gen)
            got = tuple(int(v) for v in r[3:10])
            self.assertEqual(got, model(i, k + 1, gen), f"{name} tick {k}")
            self.assertGreater(int(r[10]), 0, "pub_ts_ns stored")
        return rows

    def check_each_once(self, heads):
        """Every tick below the ring head is in ticks or in exactly one gap
        range, never both, never twice."""
        for s, head in heads.items():
            ticks = [int(r[0]) for r in self.q(
                "SELECT t.tick FROM ticks t JOIN symbols s ON s.id = t.symbol_id"
                f" WHERE s.name = '{s}' ORDER BY 1")]
            self.assertEqual(len(ticks), len(set(ticks)), f"{s}: a tick stored twice")
            gaps = [(int(a), int(b)) for a, b in self.q(
                "SELECT g.from_tick, g.to_tick FROM gaps g JOIN symbols s ON s.id = g.symbol_id"
                f" WHERE s.name = '{s}' ORDER BY 1")]
            covered = set(ticks)
            for a, b in gaps:
                rng = set(range(a, b))  # to_tick exclusive
                self.assertFalse(rng & covered, f"{s}: gap {a}..{b} overlaps stored ticks")
                covered |= rng
            self.assertEqual(covered, set(range(head)), f"{s}: holes not recorded as gaps")
        return gaps

    # ---- tests --------------------------------------------------------
    def test_exact_storage(self):
        """A deterministic writer's ticks, stored exactly (integer prices),
        in BIGINT columns, no gap."""
        self.writer("--rate", "3000", "--count", str(1500 * len(self.SYMS)), "--history", "4096",
                    "--linger")
        rec = self.recorder(self.config())
        self.wait_stored({s: 1500 for s in self.SYMS})
        rows = self.check_exact()
        self.assertEqual(len(rows), 1500 * len(self.SYMS))
        self.assertEqual(self.q("SELECT count(*) FROM gaps"), [["0"]])
        types = dict(self.q("SELECT column_name, data_type FROM information_schema.columns"
                            " WHERE table_name = 'ticks'"))
        for col in ("generation", "tick", "price", "bid", "ask", "volume", "src_ts_ns",
                    "pub_ts_ns"):
            self.assertEqual(types[col], "bigint", col)
        self.assertEqual(rec.p.poll(), None, rec.output())

    def test_kill9_resume(self):
        """kill -9 the recorder again and again: every tick once, no gap."""
        w = self.writer("--rate", "4000", "--count", "6000", "--history", "4096", "--linger")
        conf = self.config()
        for _ in range(6):
            rec = self.recorder(conf)
            time.sleep(0.3)
            os.kill(rec.pid, signal.SIGKILL)
            rec.p.wait()
        self.recorder(conf)
        stktest.wait_for(lambda: "done" in w.output(), 60, what="writer done")
        heads = self.heads()
        self.wait_stored(heads)
        self.check_exact()
        gaps = self.check_each_once(heads)
        self.assertEqual(gaps, [])
        self.assertEqual(self.q("SELECT count(*) FROM gaps"), [["0"]])

    def test_server_restarted(self):
        """PostgreSQL stopped under a running recorder, then restarted: the
        ticks resume, the hole the ring could not hold is a gaps row, nothing
        is duplicated."""
        self.writer("--rate", "2000", "--history", "256", "--seconds", "30", "--linger")
        # A small waiting budget, so the ring laps while the server is away.
        rec = self.recorder(self.config(), env={"SEQTICK_RECORDER_PG_BUFFER": "65536"})
        self.wait_stored({s: 200 for s in self.SYMS})
        PG.stop()
        try:
            time.sleep(3)  # 6000 ticks per symbol: the 256-tick ring laps
        finally:
            PG.start()
        stktest.wait_for(lambda: "writing again" in rec.output(), 60, 0.1, what="reconnect")
        h = self.heads()
        self.wait_stored({s: 100 for s in self.SYMS})
        # Everything up to a head read after the reconnect is accounted for.
        def settled():
            return all(self.check_each_once_quiet(h, s) for s in self.SYMS)
        stktest.wait_for(settled, 60, 0.2, what="ticks and gaps cover every tick")
        self.check_exact()
        ngaps = int(self.q("SELECT count(*) FROM gaps")[0][0])
        self.assertGreaterEqual(ngaps, len(self.SYMS), "the lapped hole is a gaps row")
        self.assertIn("gap", rec.output().lower())
        self.assertEqual(rec.p.poll(), None, rec.output())

    def check_each_once_quiet(self, heads, s):
        """True when every tick of s below heads[s] is stored or in a gap
        (checked for duplicates and overlaps on the way)."""
        ticks = [int(r[0]) for r in self.q(
            "SELECT t.tick FROM ticks t JOIN symbols s ON s.id = t.symbol_id"
            f" WHERE s.name = '{s}' AND t.tick < {heads[s]}")]
        self.assertEqual(len(ticks), len(set(ticks)), f"{s}: a tick stored twice")
        covered = set(ticks)
        for a, b in self.q("SELECT g.from_tick, g.to_tick FROM gaps g JOIN symbols s"
                           f" ON s.id = g.symbol_id WHERE s.name = '{s}'"):
            rng = set(range(int(a), int(b)))
            self.assertFalse(rng & covered, f"{s}: gap {a}..{b} overlaps")
            covered |= rng
        return set(range(heads[s])) <= covered

    def test_unreachable_at_start(self):
        """No server when the stack starts: the recorder logs and retries,
        the supervisor keeps producer, server and recorder running; once
        the server is there, the ticks are recorded with no hole."""
        other = pgtest.PgServer(tag="pgoff")  # initdb'd, not started yet
        port = stktest.free_port()
        sup = suphelp.Sup("pgrec", standins=(), shm={"history": 65536}, extra={
            "producer": {"feed": "sim", "rate": 1000, "symbols": "AAA,BBB"},
            "server": {"listen": f"127.0.0.1:{port}"},
            "recorder": {"store": "postgresql:" + other.conninfo, "batch_ms": 50},
            "log": {"level": "info"}})
        del sup.sections["supervisor"]["bindir"]
        sup.sections["supervisor"]["grace_ms"] = 10000
        sup.write()
        try:
            sup.start(timeout=30)
            pids = {n: sup.child(n)["pid"] for n in ("producer", "server", "recorder")}
            sup.wait_log("unable to connect", timeout=30)
            time.sleep(2)  # several attempts under backoff
            for n, pid in pids.items():
                self.assertTrue(stktest.alive(pid), f"{n} died:\n{sup.log()}")
                self.assertEqual(sup.child(n)["pid"], pid, f"{n} was restarted")

            other.start()

            def stored():
                try:
                    n = other.scalar("SELECT count(DISTINCT symbol_id) FROM ticks")
                except RuntimeError:
                    return False
                return n and int(n) == 2
            stktest.wait_for(stored, 60, 0.2, what="ticks stored once the server is there")
            # history 65536 held everything: from tick 0, no hole.
            self.assertEqual(other.scalar("SELECT count(*) FROM gaps"), "0")
            self.assertEqual(other.scalar("SELECT min(tick) FROM ticks"), "0")
            self.assertEqual(sup.child("recorder")["pid"], pids["recorder"])
        finally:
            sup.close()
            other.cleanup()


if __name__ == "__main__":
    stktest.main_unittest()
