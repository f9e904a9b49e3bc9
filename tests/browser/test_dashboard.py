# SPDX-License-Identifier: MIT
"""The dashboard in a real Chromium (meson test server-browser).

Installs puppeteer-core with `npm ci` into tests/browser/node_modules when it
is missing (never a browser download: Debian's /usr/bin/chromium is used),
starts the real stack under the supervisor (sim producer, server with its
HTTP face), runs dashboard_test.js, kills the server with SIGKILL when the
page asks for it, lets the supervisor start a new one, and leaves
screenshots in <build>/meson-logs/browser/.
"""
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "supervisor"))
import stktest  # noqa: E402
import suphelp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TICKERS = "AAPL,MSFT,GOOG,AMZN,NVDA,META,TSLA,IBM"


def npm_ci():
    """puppeteer-core from the pinned lock file, once (a lock guards parallel runs)."""
    mods = os.path.join(HERE, "node_modules")
    stamp = os.path.join(mods, ".package-lock.json")
    lock = os.path.join(HERE, "package-lock.json")
    with open(os.path.join(tempfile.gettempdir(), "seqtick-browser-npm.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if (os.path.exists(os.path.join(mods, "puppeteer-core", "package.json"))
                and os.path.exists(stamp)
                and os.path.getmtime(stamp) >= os.path.getmtime(lock)):
            return
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, env=env,
                       check=True, stdout=sys.stderr)


class Stack:
    """seqtick-supervisor with the real producer (sim) and server."""

    def __init__(self):
        self.port = stktest.free_port()
        self.sup = suphelp.Sup("browser", standins=(), shm={"capacity": 64, "history": 256},
                               extra={"producer": {"feed": "sim", "rate": 200,
                                                   "symbols": TICKERS},
                                      "server": {"listen": "127.0.0.1:%d" % stktest.free_port(),
                                                 "http_listen": "127.0.0.1:%d" % self.port}})
        del self.sup.sections["supervisor"]["bindir"]  # the build tree's programs
        self.sup.sections["supervisor"]["grace_ms"] = 10000
        self.sup.sections["log"]["level"] = "info"
        self.sup.write()

    def start(self):
        self.sup.start(timeout=30)
        self.wait_http()

    def wait_http(self):
        def answers():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/v1/quotes" % self.port,
                                            timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        stktest.wait_for(answers, 30, 0.05, "the HTTP face answering")

    def has_stream(self):
        """Does the server answer /v1/stream with 200 (SSE)?"""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=3) as c:
                c.sendall(b"GET /v1/stream?tickers=* HTTP/1.1\r\nHost: x\r\n\r\n")
                line = c.makefile("rb").readline()
                return line.split()[1:2] == [b"200"]
        except OSError:
            return False

    def kill9_server(self):
        old = self.sup.child("server")["pid"]
        os.kill(old, signal.SIGKILL)
        self.sup.wait_child("server", lambda c: c and c["pid"] not in (0, old) and
                            c.get("state") == "running", 30, "a new server")
        self.wait_http()

    def stop(self):
        self.sup.close()


def main():
    if not os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        print("chromium missing: scripts/deps test installs it", file=sys.stderr)
        return 1
    npm_ci()
    artifacts = os.path.join(stktest.BUILD, "meson-logs", "browser")
    os.makedirs(artifacts, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="stk-chromium-")
    server = Stack()
    node = None
    try:
        server.start()
        sse = server.has_stream()
        print("the server %s /v1/stream" % ("serves" if sse else "has no"))
        node = subprocess.Popen(
            ["node", os.path.join(HERE, "dashboard_test.js"),
             "http://127.0.0.1:%d/" % server.port, TICKERS, artifacts, profile,
             "sse" if sse else "polling"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 240
        result = None
        for raw in node.stdout:
            line = raw.decode().strip()
            if line == "KILL":
                server.kill9_server()
                node.stdin.write(b"RESTARTED\n")
                node.stdin.flush()
            elif line == "PASS":
                result = "PASS"
            if time.monotonic() > deadline:
                break
        rc = node.wait(timeout=60)
        print("screenshots in %s" % artifacts)
        if rc != 0 or result != "PASS":
            print("FAIL: dashboard_test.js exit %s" % rc, file=sys.stderr)
            return 1
        print("PASS")
        return 0
    finally:
        if node and node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)  # node and the Chromium it started
            node.wait()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
