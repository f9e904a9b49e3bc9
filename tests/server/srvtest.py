# SPDX-License-Identifier: MIT
"""srvtest — helpers for the server's integration tests (stdlib only): the
deterministic segment writer, a seqtick-server on port 0, an NDJSON client."""
import json
import os
import re
import shutil
import select
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402


class Writer:
    """stk-cmd-writer: symbol i starts at (100+i).25; stdin commands."""

    def __init__(self, shm, symbols=("AAPL", "MSFT", "NVDA"), rate=0, heartbeat_ms=100,
                 capacity=64, history=64, extra=()):
        argv = [stktest.binary(os.path.join("tests", "server"), "stk-cmd-writer"),
                "--shm", shm, "--symbols", ",".join(symbols), "--rate", str(rate),
                "--heartbeat-ms", str(heartbeat_ms), "--capacity", str(capacity),
                "--history", str(history), "--stdin", *extra]
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        line = self.readline(10)
        if not line.startswith("ready"):
            raise RuntimeError(f"writer did not start: {line!r}")

    def readline(self, timeout=10):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            raise TimeoutError("writer silent")
        return self.p.stdout.readline().decode()

    def cmd(self, text):
        self.p.stdin.write((text + "\n").encode())
        self.p.stdin.flush()
        ack = self.readline(10)
        assert ack.startswith("ok"), ack

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass


class Server:
    """seqtick-server on 127.0.0.1 port 0; the port is read back from its log."""

    def __init__(self, shm, server=None, log_level="info", env=None, pass_fds=(), nofile=None):
        self.dir = tempfile.mkdtemp(prefix="stk-srv-")
        conf = {"listen": "127.0.0.1:0", "stats_interval_s": 1}
        conf.update(server or {})
        self.conf = stktest.write_config(self.dir, {"shm": {"name": shm}, "server": conf,
                                                    "log": {"level": log_level}})
        argv = [stktest.binary("server", "seqtick-server"), "-c", self.conf]
        if nofile:
            argv = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + argv
        if pass_fds:
            e = dict(os.environ)
            e.update(env or {})
            self.log = tempfile.NamedTemporaryFile(prefix="stk-", suffix=".log", delete=False)
            self.proc = None
            self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=e,
                                      pass_fds=pass_fds, start_new_session=True)
        else:
            self.proc = stktest.Proc(argv, env=env)
            self.p = self.proc.p
            self.log = self.proc.log
        self.pid = self.p.pid
        m = stktest.wait_for(lambda: re.search(r"listening on 127\.0\.0\.1:(\d+)", self.output()),
                             timeout=15, what="server listening")
        self.port = int(m.group(1))

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def client(self, **kw):
        return Client(self.port, **kw)

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            data = f.read()
        fields = data[data.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])

    def stop(self, timeout=10):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def close(self):
        self.stop()
        out = self.output()
        try:
            os.unlink(self.log.name)
        except FileNotFoundError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
        # under ASan/UBSan a report in the server's log fails the test
        for bad in ("Sanitizer", "runtime error:", "LeakSanitizer"):
            if bad in out:
                raise AssertionError("server reported:\n" + out[-4000:])


class Client:
    """One NDJSON connection with a line reader."""

    def __init__(self, port, rcvbuf=None, timeout=10):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(timeout)
        self.s.connect(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.events = []
        self.next_id = 1

    def send_raw(self, data):
        self.s.sendall(data)

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def line(self, timeout=10):
        """Next line as bytes; None at EOF."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from server")
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def msg(self, timeout=10):
        line = self.line(timeout)
        return None if line is None else json.loads(line)

    def reply(self, timeout=10):
        """Next response or error, keeping events aside."""
        while True:
            m = self.msg(timeout)
            if m is None or m.get("type") in ("response", "error"):
                return m
            self.events.append(m)

    def req(self, type_, **fields):
        rid = self.next_id
        self.next_id += 1
        self.send({"v": 1, "id": rid, "type": type_, **fields})
        r = self.reply()
        assert r is not None, "connection closed"
        assert r["id"] == rid, r
        return r

    def event(self, timeout=5, kind="quote"):
        """Next pushed message of `kind` (others kept in self.events)."""
        for i, e in enumerate(self.events):
            if e["type"] == kind:
                return self.events.pop(i)
        end = time.monotonic() + timeout
        while True:
            m = self.msg(max(0.01, end - time.monotonic()))
            if m is None:
                raise EOFError("closed")
            if m["type"] == kind:
                return m
            self.events.append(m)

    def eof(self, timeout=10):
        """True once the server closed (reading and dropping what is left)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.line(end - time.monotonic()) is None:
                    return True
            except TimeoutError:
                return False
        return False

    def close(self):
        self.s.close()


def stack(test, symbols=("AAPL", "MSFT", "NVDA"), server=None, writer=True, **wkw):
    """Writer + server for one test, cleaned up with it."""
    shm = stktest.unique_shm("srv")
    test.addCleanup(stktest.shm_remove, shm)
    w = None
    if writer:
        w = Writer(shm, symbols=symbols, **wkw)
        test.addCleanup(w.stop)
    srv = Server(shm, server=server)
    test.addCleanup(srv.close)
    return shm, w, srv


def ok_response(test, r, op):
    test.assertEqual(r["v"], 1)
    test.assertEqual(r["type"], "response", r)
    test.assertEqual(r["op"], op)


def error(test, r, code, op=None, id_=None):
    test.assertEqual(r["v"], 1)
    test.assertEqual(r["type"], "error", r)
    test.assertEqual(r["error"]["code"], code, r)
    test.assertIsInstance(r["error"]["message"], str)
    test.assertEqual(r["op"], op)
    test.assertEqual(r["id"], id_)
