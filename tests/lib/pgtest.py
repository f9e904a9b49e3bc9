# SPDX-License-Identifier: MIT
"""pgtest — a private PostgreSQL server for one test file or one bench run.

Debian's `postgresql` package provides the binaries (/usr/lib/postgresql/N/bin);
the system cluster and its service are never touched. `PgServer` runs initdb
in a fresh temporary folder (as the `postgres` user when we are root, since
initdb refuses root), starts `postgres` itself listening on a unix socket in
that folder only (no TCP port to collide on), and stops it at the end. The
server is started with PR_SET_PDEATHSIG, so it dies with its test even when
the test is killed.

    with PgServer() as pg:
        pg.psql("CREATE TABLE t(x int)")
        rows = pg.query("SELECT x FROM t")
        conninfo = pg.conninfo  # for libpq: "host=/tmp/... port=... dbname=..."

Command line (used by benches and by hand):
    python3 pgtest.py run -- CMD ARGS...   # CMD runs with PGTEST_CONNINFO set
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def pg_bindir():
    """The newest installed server's bin directory, or None."""
    env = os.environ.get("PGTEST_BINDIR")
    if env:
        return env
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                  key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(dirs[-1]) if dirs else None


def available():
    return pg_bindir() is not None


from stktest import die_with_parent as _pdeathsig  # noqa: E402  (preexec for the server)


class PgServer:
    """One private PostgreSQL server: initdb once, start/stop as often as a
    test needs (the data survives a stop), cleanup() removes everything."""

    def __init__(self, tag="pg", port=5432, fsync=False):
        self.bindir = pg_bindir()
        if not self.bindir:
            raise FileNotFoundError("PostgreSQL server binaries not found "
                                    "(apt-get install postgresql)")
        self.tag = tag
        self.port = port  # only names the socket file: no TCP listener
        self.fsync = fsync
        self.dir = tempfile.mkdtemp(prefix=f"stk-{tag}-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None
        self.uid = self.gid = None
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("postgres")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.dir, self.uid, self.gid)
        self.dbname = "postgres"
        self.user = "postgres"
        self._initdb()

    # --- process helpers ------------------------------------------------
    def _preexec(self):
        _pdeathsig()
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def _env(self):
        """The environment of PostgreSQL's own programs: none of a
        sanitizer build's settings (an LD_PRELOADed libasan hangs initdb's
        `postgres -V`), no PGHOST/PGPORT of the caller."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("LD_PRELOAD", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER")
               and not k.endswith("SAN_OPTIONS")}
        env["LC_ALL"] = "C"
        return env

    def _initdb(self, timeout=120):
        # Its own process group: on a timeout, the programs initdb runs
        # (postgres in bootstrap mode) go with it.
        p = subprocess.Popen(
            [os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", self.user,
             "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            cwd=self.dir, preexec_fn=self._preexec, env=self._env(), start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out = p.communicate(timeout=timeout)[0]
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"initdb did not finish in {timeout}s")
        if p.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed ({p.returncode}):\n{out}")

    @property
    def conninfo(self):
        """libpq connection string for the running server (unix socket)."""
        return f"host={self.dir} port={self.port} dbname={self.dbname} user={self.user}"

    @property
    def socket_path(self):
        return os.path.join(self.dir, f".s.PGSQL.{self.port}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=60.0):
        """Start the server and wait until it accepts connections."""
        if self.running():
            return
        logf = open(self.log, "a")
        args = [os.path.join(self.bindir, "postgres"), "-D", self.data,
                "-p", str(self.port), "-k", self.dir,
                "-c", "listen_addresses=",
                "-c", f"unix_socket_directories={self.dir}",
                "-c", "max_connections=40",
                "-c", "shared_buffers=32MB",
                "-c", "max_wal_size=1GB",
                "-c", "log_min_messages=warning",
                "-c", "fsync=" + ("on" if self.fsync else "off"),
                "-c", "synchronous_commit=" + ("on" if self.fsync else "off"),
                "-c", "full_page_writes=" + ("on" if self.fsync else "off")]
        try:
            self.proc = subprocess.Popen(args, cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf,
                                         preexec_fn=self._preexec, env=self._env())
        finally:
            logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.proc.returncode}):\n{self.log_tail()}")
            if os.path.exists(self.socket_path):
                r = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-q",
                                    "-h", self.dir, "-p", str(self.port)],
                                   env=self._env())
                if r.returncode == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"postgres not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self, mode="fast", timeout=60.0):
        """Stop the server: 'fast' (SIGINT: clients are disconnected) or
        'immediate' (SIGQUIT); SIGKILL if it has not exited by timeout."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            sig = signal.SIGQUIT if mode == "immediate" else signal.SIGINT
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        """Stop the server (if running) and remove the whole folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=4000):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # --- SQL ----------------------------------------------------------
    def psql_args(self):
        return [os.path.join(self.bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-d", self.conninfo]

    def psql(self, sql, check=True, timeout=120, stdin=None):
        """Run SQL (one string, several statements allowed) with psql; its
        unaligned, tuples-only output (fields separated by a tab)."""
        r = subprocess.run(self.psql_args() + ["-A", "-t", "-F", "\t", "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=self._env(), input=stdin)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}) on {sql!r}: {r.stderr}")
        return r.stdout

    def query(self, sql, timeout=120):
        """Rows of a SELECT as lists of strings (NULL is '')."""
        out = self.psql(sql, timeout=timeout)
        return [line.split("\t") for line in out.splitlines() if line != ""]

    def scalar(self, sql):
        rows = self.query(sql)
        return rows[0][0] if rows else None


def main(argv):
    if len(argv) >= 2 and argv[0] == "run" and "--" in argv:
        cmd = argv[argv.index("--") + 1:]
        with PgServer(tag="pgrun") as pg:
            env = dict(os.environ, PGTEST_CONNINFO=pg.conninfo,
                       PGTEST_PSQL=os.path.join(pg.bindir, "psql"))
            return subprocess.call(cmd, env=env)
    sys.stderr.write("usage: pgtest.py run -- CMD [ARGS...]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
