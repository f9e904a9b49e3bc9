# SPDX-License-Identifier: MIT
"""The dashboard in a real Chromium (meson test server-browser).

Installs puppeteer-core with `npm ci` into tests/browser/node_modules when it
is missing (never a browser download: Debian's /usr/bin/chromium is used),
starts the server, runs dashboard_test.js, kills the server with SIGKILL when
the page asks for it, starts it again, and leaves screenshots in
<build>/meson-logs/browser/.
"""
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

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


class StubServer:
    """tests/server/dashstub.py: the page's bytes plus fake REST and SSE."""

    def __init__(self, port):
        self.port = port
        self.proc = None

    def start(self):
        stub = os.path.join(HERE, "..", "server", "dashstub.py")
        self.proc = subprocess.Popen([sys.executable, stub, str(self.port), TICKERS, "50"],
                                     stdout=subprocess.PIPE, start_new_session=True)
        line = self.proc.stdout.readline().decode()
        if "listening" not in line:
            raise RuntimeError("dashstub did not start: %r" % line)

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill9()


def main():
    if not os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        print("chromium missing: scripts/deps test installs it", file=sys.stderr)
        return 1
    npm_ci()
    artifacts = os.path.join(stktest.BUILD, "meson-logs", "browser")
    os.makedirs(artifacts, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="stk-chromium-")
    server = StubServer(stktest.free_port())
    node = None
    try:
        server.start()
        node = subprocess.Popen(
            ["node", os.path.join(HERE, "dashboard_test.js"),
             "http://127.0.0.1:%d/" % server.port, TICKERS, artifacts, profile],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 240
        result = None
        for raw in node.stdout:
            line = raw.decode().strip()
            if line == "KILL":
                server.kill9()
                time.sleep(1.0)  # the page must see the server gone
                server.start()
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
