# SPDX-License-Identifier: MIT
"""natstest — a private nats-server cluster for the NATS tests and a tiny
raw NATS text-protocol client (test-only) to publish and subscribe.

    with natstest.Cluster(3) as c:        # three nodes joined by routes
        c.wait_routed()                   # every node reaches every other
        cli = natstest.Client(c.nodes[0].port)
        cli.publish("seqtick.tick.AAPL", b'{"symbol":"AAPL","price":"1"}')
        c.nodes[0].kill(); c.nodes[0].start()

Every node is the test's own process (its own session, so a process-group
kill ends it), on private loopback client and route ports, killed when the
Cluster is closed, also when the test fails (use it as a context manager or
close it in a finally). Nothing is left running and no system service is
involved.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import stktest  # noqa: E402


def server_binary():
    """The nats-server program (Debian puts it in /usr/sbin)."""
    for p in (shutil.which("nats-server"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if p and os.path.exists(p):
            return p
    raise FileNotFoundError("nats-server is not installed (scripts/test-packages: "
                            "scripts/deps test)")


class Node:
    """One nats-server: a client port and a route (cluster) port, both fixed
    for its life so a restart comes back where it was."""

    def __init__(self, cluster, i):
        self.cluster, self.i = cluster, i
        self.port = cluster.pick_port()
        self.route_port = cluster.pick_port()
        self.proc = None
        self.log = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def name(self):
        return f"stk-{self.cluster.tag}-{self.i}"

    def start(self, timeout=20):
        """Start (or restart) the node and wait until it answers INFO as
        itself. A port taken by another process between the pick and the
        bind (concurrent tests): new ports are picked, up to 5 times."""
        for attempt in range(5):
            if self._start(timeout):
                return self
            self.kill()
            self.port = self.cluster.pick_port()
            self.route_port = self.cluster.pick_port()
        raise RuntimeError(f"nats-server node {self.i} never came up:\n{self.output()}")

    def _start(self, timeout):
        if self.running():
            return True
        argv = [server_binary(), "-a", "127.0.0.1", "-p", str(self.port),
                "-n", self.name]
        others = [n for n in self.cluster.nodes if n is not self]
        if others:
            argv += ["--cluster_name", f"stk-{self.cluster.tag}",
                     "--cluster", f"nats://127.0.0.1:{self.route_port}",
                     "--routes", ",".join(f"nats://127.0.0.1:{n.route_port}" for n in others)]
        argv += self.cluster.extra_args
        if self.log is None:
            self.log = tempfile.NamedTemporaryFile(prefix="stk-nats-", suffix=".log",
                                                   delete=False)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=stktest.die_with_parent)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.running():
                return False  # e.g. a port taken: the caller retries elsewhere
            if self.answers():
                return True
            time.sleep(0.05)
        raise TimeoutError(f"nats-server node {self.i} on port {self.port}:\n{self.output()}")

    def answers(self):
        """Our own server (its name in INFO) answers on our client port."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.settimeout(2)
                line = s.makefile("rb").readline()
        except OSError:
            return False
        if not line.startswith(b"INFO "):
            return False
        try:
            info = json.loads(line[5:])
        except ValueError:
            return False
        return info.get("server_name") == self.name

    def kill(self, sig=signal.SIGKILL):
        """Kill the node (its whole process group) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def output(self):
        if self.log is None:
            return ""
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def close(self):
        self.kill()
        if self.log is not None:
            try:
                os.unlink(self.log.name)
            except FileNotFoundError:
                pass
            self.log = None


class Cluster:
    """n nats-server nodes, each routed to all the others (a full mesh of
    routes given on the command line; n = 1 is a lone server)."""

    def __init__(self, n=3, extra_args=(), start=True):
        self.tag = f"{os.getpid()}-{id(self) & 0xffff:x}"
        self.extra_args = list(extra_args)
        self.ports = set()
        self.nodes = [Node(self, i) for i in range(n)]
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    def pick_port(self):
        """A free port no node of this cluster has had."""
        while True:
            p = stktest.free_port()
            if p not in self.ports:
                self.ports.add(p)
                return p

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def urls(self, which=None):
        """"nats://127.0.0.1:P1,nats://…" for the nodes (indexes) asked."""
        idx = range(len(self.nodes)) if which is None else which
        return ",".join(self.nodes[i].url for i in idx)

    def node_by_port(self, port):
        for n in self.nodes:
            if n.port == port:
                return n
        return None

    def wait_routed(self, timeout=30):
        """Wait until a message published on each running node reaches a
        subscriber on every other running node (the routes are up)."""
        up = [n for n in self.nodes if n.running()]
        for a in up:
            for b in up:
                if a is b:
                    continue
                sub = Client(b.port)
                pub = Client(a.port)
                try:
                    subj = f"_stk.probe.{a.i}.{b.i}"
                    sub.subscribe(subj)

                    def got():
                        pub.publish(subj, b"p")
                        pub.ping()
                        return sub.wait(lambda m: m[0] == subj, timeout=0.2)
                    stktest.wait_for(got, timeout, interval=0.05,
                                     what=f"route from node {a.i} to node {b.i}")
                finally:
                    pub.close()
                    sub.close()

    def close(self):
        for n in self.nodes:
            n.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Client:
    """A raw NATS text-protocol client (CONNECT, PUB, SUB, MSG, PING/PONG):
    publishes exactly the bytes given, and a reader thread keeps every MSG
    of its subscriptions as (subject, payload bytes), in arrival order."""

    def __init__(self, port, host="127.0.0.1", timeout=10, name="stk-test", user=None,
                 password=None, token=None):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.rf = self.sock.makefile("rb")
        line = self.rf.readline()
        if not line.startswith(b"INFO"):
            raise RuntimeError(f"not a NATS server: {line!r}")
        self.cv = threading.Condition()
        self.msgs = []
        self.pongs = 0
        self.errors = []
        self.closed = False
        self.sids = 0
        conn = {"verbose": False, "pedantic": False, "name": name, "lang": "python",
                "version": "0"}
        if user is not None:
            conn.update(user=user, **{"pass": password or ""})
        if token is not None:
            conn["auth_token"] = token
        self.sock.sendall(b"CONNECT " + json.dumps(conn).encode() + b"\r\n")
        self.sock.settimeout(None)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.ping()

    def _read(self):
        try:
            while True:
                line = self.rf.readline()
                if not line:
                    break
                if line.startswith(b"MSG "):
                    parts = line.split()
                    n = int(parts[-1])
                    data = self.rf.read(n + 2)[:n]
                    with self.cv:
                        self.msgs.append((parts[1].decode(), data))
                        self.cv.notify_all()
                elif line.startswith(b"PING"):
                    self.sock.sendall(b"PONG\r\n")
                elif line.startswith(b"PONG"):
                    with self.cv:
                        self.pongs += 1
                        self.cv.notify_all()
                elif line.startswith(b"-ERR"):
                    with self.cv:
                        self.errors.append(line.decode(errors="replace").strip())
                        self.cv.notify_all()
        except (OSError, ValueError):
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def ping(self, timeout=10):
        """PING and wait for the PONG: everything sent before is processed."""
        with self.cv:
            want = self.pongs + 1
        self.sock.sendall(b"PING\r\n")
        with self.cv:
            if not self.cv.wait_for(lambda: self.pongs >= want or self.closed, timeout):
                raise TimeoutError("no PONG from nats-server")
            if self.pongs < want:
                raise ConnectionError(f"NATS connection closed {self.errors}")

    def subscribe(self, subject):
        self.sids += 1
        self.sock.sendall(f"SUB {subject} {self.sids}\r\n".encode())
        self.ping()
        return self.sids

    def publish(self, subject, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(f"PUB {subject} {len(data)}\r\n".encode() + data + b"\r\n")

    def publish_many(self, items):
        """Publish [(subject, bytes), …] in one write."""
        buf = bytearray()
        for subject, data in items:
            if isinstance(data, str):
                data = data.encode()
            buf += f"PUB {subject} {len(data)}\r\n".encode() + data + b"\r\n"
        self.sock.sendall(bytes(buf))

    def take(self):
        """The messages received since the last take()."""
        with self.cv:
            out, self.msgs = self.msgs, []
        return out

    def wait(self, pred, timeout=10):
        """Wait until a kept message satisfies pred(msg); return it (None on
        timeout). Kept messages stay kept."""
        with self.cv:
            found = []

            def hit():
                for m in self.msgs:
                    if pred(m):
                        found.append(m)
                        return True
                return self.closed
            self.cv.wait_for(hit, timeout)
            return found[0] if found else None

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.t.join(5)


if __name__ == "__main__":
    # self-check: a three-node cluster, routes, a node killed and restarted
    with Cluster(3) as c:
        c.wait_routed()
        t0 = time.monotonic()
        c.nodes[1].kill()
        c.nodes[1].start()
        c.wait_routed()
        print(f"ok: 3 nodes {c.urls()}, restart+reroute {time.monotonic() - t0:.2f}s")
