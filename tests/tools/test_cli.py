# SPDX-License-Identifier: MIT
"""The `seqtick` CLI against stk-test-writer: every subcommand, text and
--json (parsed, exact decimals), -c FILE, the status file, and the errors
(no segment → 111, usage → 100, unknown ticker → 1)."""
import json
import os
import sys
import tempfile
import time
import unittest
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import toolstest  # noqa: E402
from toolstest import dec, model, stktest  # noqa: E402

SYMS = ["AAPL", "MSFT", "NVDA"]
COUNT = 41  # ticks per symbol the quiet writer leaves behind


def jload(text):
    return json.loads(text, parse_float=Decimal)


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One quiet segment with known contents for the read-only checks.
        cls.shm = stktest.unique_shm("cli")
        cls.t_write = time.monotonic()  # every quote is published after this
        # --linger: done writing, still beating (a live producer with quiet
        # symbols), so the quotes are not stale for want of a producer
        cls.writer = toolstest.Writer(cls.shm, "--rate", 0, "--count", 3 * COUNT,
                                      "--unwritten", "ZZZ", "--linger")
        cls.writer.wait_line(f"done written={3 * COUNT}")
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.writer.close()
        stktest.shm_remove(cls.shm)
        cls.tmp.cleanup()

    def cli(self, *args, shm=None, rc=0):
        argv = [toolstest.cli_path()]
        if shm is not False:
            argv += ["--shm", shm or self.shm]
        r = toolstest.run(argv + list(args))
        self.assertEqual(r.returncode, rc, f"{args}: rc {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def check_json_quote(self, q, i, c):
        price, bid, ask, vol, ts, bsz, asz = model(i, c)
        self.assertEqual(q["price"], dec(price))
        self.assertEqual(q["bid"], dec(bid))
        self.assertEqual(q["ask"], dec(ask))
        self.assertEqual((q["volume"], q["ts_ns"], q["bid_size"], q["ask_size"]),
                         (vol, ts, bsz, asz))
        self.assertEqual(q["ts_ms"], ts // 1000000)
        self.assertFalse(q["stale"])
        # age_ms: since the writer published it, so no more than the time since
        # the writer started (an age taken from the model's source time, or a
        # unit slip, would be far larger).
        self.assertIsInstance(q["age_ms"], int)
        self.assertLessEqual(q["age_ms"], (time.monotonic() - self.t_write) * 1000 + 5)

    def test_quotes(self):
        out = self.cli("quotes").stdout
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^SYMBOL\s+PRICE\s+BID\s+ASK")
        for i, t in enumerate(SYMS):
            row = next(l for l in lines if l.startswith(t + " "))
            price, bid, ask, vol = model(i, COUNT)[:4]
            self.assertEqual(row.split()[1:4], [str(dec(price)), str(dec(bid)), str(dec(ask))])
            self.assertEqual(row.split()[6], str(vol))
        self.assertIn("never written", next(l for l in lines if l.startswith("ZZZ")))
        doc = jload(self.cli("quotes", "--json").stdout)
        self.assertEqual(doc["shm"], self.shm)
        self.assertEqual([q["ticker"] for q in doc["quotes"]], SYMS + ["ZZZ"])
        for i in range(3):
            self.check_json_quote(doc["quotes"][i], i, COUNT)
        self.assertEqual(doc["quotes"][3], {"ticker": "ZZZ", "error": "NO_DATA"})

    def test_get(self):
        out = self.cli("get", "MSFT").stdout
        price, bid, ask = model(1, COUNT)[:3]
        self.assertIn(f"price    {dec(price)}", out)
        self.assertIn(f"bid      {dec(bid)} x {COUNT + 1}", out)
        self.assertIn("spread   0.02", out)
        q = jload(self.cli("--json", "get", "MSFT").stdout)
        self.assertEqual(q["ticker"], "MSFT")
        self.check_json_quote(q, 1, COUNT)
        r = self.cli("get", "NOPE", rc=1)
        self.assertIn("unknown ticker 'NOPE'", r.stderr)
        r = self.cli("get", "NOPE", "--json", rc=1)
        self.assertEqual(jload(r.stdout), {"ticker": "NOPE", "error": "NOT_FOUND"})
        r = self.cli("get", "ZZZ", rc=1)
        self.assertIn("never written", r.stderr)

    def test_history(self):
        out = self.cli("history", "NVDA", "5").stdout.splitlines()
        self.assertRegex(out[0], r"^TICK\s+TIME")
        self.assertEqual(len(out), 6)
        for k, line in enumerate(out[1:]):
            c = COUNT - 4 + k
            f = line.split()
            self.assertEqual(f[0], str(c - 1))  # tick numbers count from 0
            self.assertEqual(f[2], str(dec(model(2, c)[0])))
        self.assertEqual(len(self.cli("history", "NVDA").stdout.splitlines()), 21)  # default 20
        doc = jload(self.cli("history", "NVDA", "100", "--json").stdout)
        self.assertEqual(doc["head"], COUNT)
        self.assertEqual(len(doc["ticks"]), COUNT)  # all there is
        for k, t in enumerate(doc["ticks"]):
            self.assertEqual(t["tick"], k)
            self.check_json_quote(t, 2, k + 1)
        self.cli("history", "NVDA", "zero", rc=100)
        self.cli("history", "NOPE", rc=1)

    def test_status_without_and_with_supervisor_file(self):
        missing = os.path.join(self.tmp.name, "none.status")
        out = self.cli("status", "--status-file", missing).stdout
        self.assertIn("no supervisor status", out)
        self.assertIn(f"segment {self.shm}", out)
        self.assertIn("generation 1, state live, symbols 4 / 64", out)
        self.assertIn(f"ticks_total {3 * COUNT}", out)
        doc = jload(self.cli("status", "--json", "--status-file", missing).stdout)
        self.assertIsNone(doc["supervisor"])
        seg = doc["segment"]
        self.assertEqual((seg["generation"], seg["state"], seg["nsymbols"], seg["ticks_total"],
                          seg["producer_alive"]), (1, "live", 4, 3 * COUNT, True))  # lingering
        self.assertEqual(seg["producer_pid"], self.writer.pid)

        now = time.time_ns()
        status = {
            "supervisor_pid": os.getpid(), "started_ns": now - 150 * 10**9, "updated_ns": now,
            "config": "/etc/seqtick.conf", "shm": self.shm, "all_ready": False,
            "children": [
                {"name": "producer", "pid": os.getpid(), "state": "running", "restarts": 3,
                 "started_ns": now - 10**9, "since_ns": now - 10**9, "ready": True,
                 "last_exit": {"signal": 9}, "command": "seqtick-producer -c x"},
                {"name": "sma", "pid": 0, "state": "backoff", "restarts": 7,
                 "started_ns": 0, "since_ns": now, "ready": False,
                 "last_exit": {"code": 2}, "command": "python3 \"examples/sma.py\""},
                {"name": "server", "pid": 0, "state": "starting", "restarts": 0,
                 "started_ns": 0, "since_ns": 0, "ready": False, "last_exit": None,
                 "command": "seqtick-server"},
            ]}
        path = os.path.join(self.tmp.name, "sup.status")
        with open(path, "w") as f:
            json.dump(status, f)
        out = self.cli("status", "--status-file", path).stdout
        self.assertIn(f"supervisor pid {os.getpid()} (running)", out)
        self.assertRegex(out, r"PROGRAM\s+STATE\s+PID\s+RESTARTS\s+UPTIME\s+SINCE\s+READY")
        self.assertRegex(out, r"producer\s+running\s+\d+\s+3\s+\d+ms\s+\d+ms\s+yes\s+signal 9")
        self.assertRegex(out, r"sma\s+backoff\s+0\s+7\s+-\s+\S+\s+no\s+exit 2")
        self.assertRegex(out, r"server\s+starting\s+0\s+0\s+-\s+-\s+no\s+-")
        self.assertRegex(out, r"supervisor pid \d+ \(running\), up 2m3\ds")
        self.assertIn("generation 1", out)
        doc = jload(self.cli("status", "--json", "--status-file", path).stdout)
        self.assertEqual(doc["supervisor"], status)
        self.assertTrue(doc["supervisor_alive"])
        self.assertEqual(doc["segment"]["nsymbols"], 4)
        # A broken status file is reported, and the segment is still shown.
        with open(path, "w") as f:
            f.write("not json")
        r = self.cli("status", "--status-file", path)
        self.assertIn("unreadable", r.stdout)
        self.assertIn("generation 1", r.stdout)

    def test_config_file(self):
        status = os.path.join(self.tmp.name, "c.pid.status")  # pidfile + .status
        conf = stktest.write_config(self.tmp.name, {
            "shm": {"name": self.shm},
            "supervisor": {"pidfile": os.path.join(self.tmp.name, "c.pid")},
            "server": {"freshness_ms": 1}})
        r = self.cli("-c", conf, "status", shm=False)
        self.assertIn(f"no supervisor status ({status} does not exist)", r.stdout)
        doc = jload(self.cli("-c", conf, "quotes", "--json", shm=False).stdout)
        self.assertTrue(doc["quotes"][0]["stale"])  # freshness_ms = 1 from the file
        self.assertEqual(doc["shm"], self.shm)
        bad = stktest.write_config(self.tmp.name, {"shm": {"nmae": "/x"}}, name="bad.conf")
        r = self.cli("-c", bad, "quotes", shm=False, rc=100)
        self.assertIn("bad.conf:2", r.stderr)
        # --shm wins over the file
        self.cli("-c", conf, "--shm", "/stk-cli-none-here", "quotes", shm=False, rc=111)

    def test_top_frames(self):
        shm = stktest.unique_shm("cli-top")
        w = toolstest.Writer(shm, "--rate", 600, "--seconds", 25)
        try:
            out = self.cli("top", "--once", shm=shm).stdout
            self.assertRegex(out, rf"seqtick top\s+{shm}\s+gen 1\s+live\s+3 symbols")
            self.assertRegex(out, r"SYMBOL\s+PRICE\s+CHANGE\s+CHG%\s+BID\s+ASK\s+AGE\s+TICKS/S")
            for t in SYMS:
                self.assertRegex(out, rf"\n{t}\s+\d+\.\d+")
            self.assertNotIn("\x1b", out)  # not a terminal: plain frames
            out = self.cli("top", "--iterations", "3", "--interval", "150", shm=shm).stdout
            self.assertEqual(out.count("seqtick top"), 3)
            r = self.cli("top", "--json", "--iterations", "2", "--interval", "300", shm=shm)
            frames = [jload(l) for l in r.stdout.splitlines()]
            self.assertEqual(len(frames), 2)
            for f in frames:
                self.assertEqual(f["shm"], shm)
                self.assertEqual([q["ticker"] for q in f["quotes"]], SYMS)
                # 600 ticks/s over 3 symbols: each near 200/s (generous bounds)
                for q in f["quotes"]:
                    self.assertGreater(q["ticks_per_s"], 50)
                    self.assertLess(q["ticks_per_s"], 1000)
                    self.assertIn("change", q)
                    c = q["volume"] // 100
                    self.assertEqual(q["price"], dec(model(SYMS.index(q["ticker"]), c)[0]))
                self.assertGreater(f["ticks_per_s"], 150)
            self.assertGreater(frames[1]["epoch"], frames[0]["epoch"])
        finally:
            w.close()
            stktest.shm_remove(shm)

    def top_on_a_terminal(self, key):
        """Run `seqtick top` on a pseudo-terminal, send `key` once a frame is
        drawn; return (exit status, everything it wrote)."""
        import pty
        import select
        pid, fd = pty.fork()
        if pid == 0:  # child: the CLI on the pty
            try:
                os.execve(toolstest.cli_path(), [toolstest.cli_path(), "--shm", self.shm,
                                                 "top", "--interval", "100"],
                          toolstest.child_env())
            finally:
                os._exit(127)
        out = b""
        sent = False
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.1)
                if r:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:  # EIO: the child closed the pty
                        break
                    if not chunk:
                        break
                    out += chunk
                if not sent and out.count(b"seqtick top") >= 2:
                    os.write(fd, key)
                    sent = True
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(fd)
        self.assertTrue(sent, out)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    def test_top_on_a_terminal_quits_on_q_and_ctrl_c(self):
        for key in (b"q", b"\x03"):
            rc, out = self.top_on_a_terminal(key)
            self.assertEqual(rc, 0, out)
            self.assertIn("\x1b[?1049h", out)  # alternate screen entered ...
            self.assertTrue(out.rstrip().endswith("\x1b[?1049l"), out[-200:])  # ... and left
            self.assertIn("(q quits)", out)
            # The header line is cleared to its end: a shorter header (a
            # heartbeat age of fewer digits) leaves nothing of the last frame.
            heads = [l for l in out.split("\n") if "seqtick top" in l]
            self.assertGreaterEqual(len(heads), 2)
            for l in heads:
                self.assertTrue(l.rstrip("\r").endswith("\x1b[K"), repr(l))
            self.assertRegex(out, r"AAPL\s+\d+\.\d+")

    def test_no_segment_and_usage_errors(self):
        none = stktest.unique_shm("cli-none")
        for args in (["quotes"], ["get", "AAPL"], ["history", "AAPL"], ["top", "--once"],
                     ["quotes", "--json"]):
            r = self.cli(*args, shm=none, rc=111)
            self.assertIn(f"unable to open segment '{none}': no such segment", r.stderr)
            self.assertIn("hint", r.stderr)
        r = self.cli("status", "--status-file", "/nonexistent/x", shm=none, rc=111)
        self.assertIn("no supervisor status", r.stdout)
        self.assertIn(f"segment {none}: none", r.stdout)
        doc = jload(self.cli("status", "--json", "--status-file", "/nonexistent/x", shm=none,
                             rc=111).stdout)
        self.assertIsNone(doc["segment"])
        self.assertIn("no such segment", doc["segment_error"])
        self.cli(rc=100)
        self.assertIn("unknown command", self.cli("frobnicate", rc=100).stderr)
        self.cli("get", rc=100)
        self.cli("get", "A", "B", rc=100)
        self.cli("top", "--iterations", "0", rc=100)
        self.cli("--bogus", "quotes", rc=100)
        self.assertIn("usage: seqtick", self.cli("--help").stdout)
        self.assertRegex(self.cli("--version").stdout, r"^seqtick \d+\.\d+\.\d+")


if __name__ == "__main__":
    stktest.main_unittest()
