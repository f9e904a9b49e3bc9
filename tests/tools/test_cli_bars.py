# SPDX-License-Identifier: MIT
"""`seqtick bars` (tools/cli_bars.c) over a SQLite store with known bars
(tests/lib/storefix.py): the table and --json exact, -n and --interval, the
store from -c FILE's recorder.store or --store, exit codes."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import stktest  # noqa: E402
import pgtest  # noqa: E402
import storefix  # noqa: E402


class CliBars(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="stk-clibars-")
        cls.db = os.path.join(cls.tmp.name, "seqtick.db")
        storefix.make(cls.db, nbars=40)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_cli(self, *args):
        p = subprocess.run([toolstest.cli_path()] + list(args),
                           capture_output=True, text=True, timeout=30,
                           env=toolstest.child_env())
        return p

    def want_json(self, sym_i, iv, secs, ks):
        bars = []
        for k in ks:
            t, o, h, lo, c, v, n = storefix.bar(sym_i, secs, k)
            bars.append('{"t_ms":%d,"open":%s,"high":%s,"low":%s,"close":%s,"volume":%d,'
                        '"ticks":%d}' % (t // 1000000, storefix.dec(o), storefix.dec(h),
                                         storefix.dec(lo), storefix.dec(c), v, n))
        return ('{"ticker":"%s","interval":"%s","bars":[%s]}\n'
                % (storefix.SYMS[sym_i], iv, ",".join(bars)))

    def test_json_exact(self):
        p = self.run_cli("--store", "sqlite:" + self.db, "--json", "bars", "MSFT", "-n", "5")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.want_json(1, "1m", 60, range(35, 40)))
        p = self.run_cli("bars", "AAPL", "--interval", "1s", "-n", "2", "--json", "--store",
                         "sqlite:" + self.db)
        self.assertEqual(p.stdout, self.want_json(0, "1s", 1, range(38, 40)))
        json.loads(p.stdout)
        p = self.run_cli("bars", "AAPL", "-n", "0", "--json", "--store", "sqlite:" + self.db)
        self.assertEqual(p.stdout, '{"ticker":"AAPL","interval":"1m","bars":[]}\n')

    def test_table_and_config(self):
        conf = stktest.write_config(self.tmp.name, {"recorder": {"store": "sqlite:" + self.db}})
        p = self.run_cli("-c", conf, "bars", "AAPL")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["START", "(UTC)", "OPEN", "HIGH", "LOW", "CLOSE",
                                            "VOLUME", "TICKS"])
        self.assertEqual(len(lines), 21)  # default 20 bars
        t, o, h, lo, c, v, n = storefix.bar(0, 60, 39)
        self.assertEqual(lines[-1].split()[1:],
                         [storefix.dec(o), storefix.dec(h), storefix.dec(lo), storefix.dec(c),
                          str(v), str(n)])
        p = self.run_cli("-c", conf, "bars", "AAPL", "-i", "1h")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no 1h bars", p.stdout)

    def test_errors(self):
        s = "sqlite:" + self.db
        p = self.run_cli("--store", s, "bars", "NOPE")
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown ticker", p.stderr)
        for bad in (["-i", "1x"], ["-n", "-1"], ["-n", "x"]):
            p = self.run_cli("--store", s, "bars", "AAPL", *bad)
            self.assertEqual(p.returncode, 100, (bad, p.stderr))
        p = self.run_cli("bars", "AAPL")  # no store anywhere
        self.assertEqual(p.returncode, 111)
        self.assertIn("recorder.store", p.stderr)
        missing = os.path.join(self.tmp.name, "missing.db")
        p = self.run_cli("--store", "sqlite:" + missing, "bars", "AAPL")
        self.assertEqual(p.returncode, 111)
        self.assertFalse(os.path.exists(missing))
        p = self.run_cli("--store", "csv:" + self.tmp.name, "bars", "AAPL")
        self.assertEqual(p.returncode, 111)
        self.assertIn("csv", p.stderr)

    def test_postgresql(self):
        # the Debian postgresql package's server, private to this test; an
        # ASan build preloads libasan into python3, and initdb/postgres must
        # not inherit that (initdb hangs under it)
        pre = os.environ.pop("LD_PRELOAD", None)
        if pre is not None:
            self.addCleanup(os.environ.__setitem__, "LD_PRELOAD", pre)
        with pgtest.PgServer(tag="clibars") as pg:
            rows = []
            for i, sym in enumerate(storefix.SYMS):
                rows.append(f"INSERT INTO symbols(id, name) VALUES({i + 1}, '{sym}');")
                for k in range(40):
                    b = storefix.bar(i, 60, k)
                    rows.append("INSERT INTO bars VALUES(%d, 60, %d, %d, %d, %d, %d, %d, %d);"
                                % ((i + 1,) + b))
            pg.psql("CREATE TABLE symbols(id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
                    "CREATE TABLE bars(symbol_id BIGINT NOT NULL, interval_s BIGINT NOT NULL,"
                    " start_ns BIGINT NOT NULL, open BIGINT NOT NULL, high BIGINT NOT NULL,"
                    " low BIGINT NOT NULL, close BIGINT NOT NULL, volume BIGINT NOT NULL,"
                    " ticks BIGINT NOT NULL, PRIMARY KEY(symbol_id, interval_s, start_ns));"
                    + "".join(rows))
            store = "postgresql:" + pg.conninfo
            p = self.run_cli("--store", store, "--json", "bars", "MSFT", "-n", "5")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, self.want_json(1, "1m", 60, range(35, 40)))
            p = self.run_cli("--store", store, "--json", "bars", "AAPL", "-i", "1h")
            self.assertEqual(p.stdout, '{"ticker":"AAPL","interval":"1h","bars":[]}\n')
            p = self.run_cli("--store", store, "bars", "NOPE")
            self.assertEqual(p.returncode, 1, p.stderr)
        p = self.run_cli("--store", store, "bars", "AAPL")  # the server is gone
        self.assertEqual(p.returncode, 111)
        self.assertIn("postgresql:", p.stderr)

    def test_bench_bars_runs(self):
        # seqtick-bench bars end to end on tiny settings (the figure itself
        # is for a quiet machine: only its shape is checked here)
        r = toolstest.run([toolstest.bench_path(), "bars", "--requests", "50", "--limit",
                           "100"], timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"get_quote \(baseline\)\s+p50\s+[\d.]+ us\s+p99")
        self.assertRegex(r.stdout, r"get_bars 100 x 1m \(\d+ B\)\s+p50\s+[\d.]+ us")
        self.assertRegex(r.stdout, r"get_bars p50 [\d.]+ ms \(target <= 1 ms\)")
        r = toolstest.run([toolstest.bench_path(), "bars", "--limit", "0"], timeout=30)
        self.assertEqual(r.returncode, 100)


if __name__ == "__main__":
    unittest.main(verbosity=2)
