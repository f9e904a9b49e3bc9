# SPDX-License-Identifier: MIT
"""natshelp — NATS for the bridge tests: a private nats-server cluster (the
test's own processes on free loopback ports, routes between them, killed at
the end) and a tiny subscriber speaking the NATS text protocol (CONNECT, SUB,
MSG, PING/PONG) over a socket, to see exactly what the bridge publishes.
"""
import os
import json
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402


def server_binary():
    p = shutil.which("nats-server") or "/usr/bin/nats-server"
    if not os.path.exists(p):
        raise FileNotFoundError("nats-server not installed (scripts/deps test)")
    return p


class Node:
    """One nats-server of a cluster: client port, route port."""

    def __init__(self, cluster, i):
        self.cluster, self.i = cluster, i
        self.extra = []  # more nats-server arguments (auth, TLS)
        self.port = stktest.free_port()
        self.route_port = stktest.free_port()
        self.proc = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        routes = ",".join(f"nats://127.0.0.1:{n.route_port}" for n in self.cluster.nodes
                          if n is not self)
        argv = [server_binary(), "-a", "127.0.0.1", "-p", str(self.port),
                "-n", f"stk-n{self.i}"] + self.extra
        if len(self.cluster.nodes) > 1:
            argv += ["--cluster_name", "stk", "--cluster",
                     f"nats://127.0.0.1:{self.route_port}", "--routes", routes]
        self.proc = stktest.Proc(argv)
        stktest.wait_for(self.listening, 10, what=f"nats-server on {self.port}")
        return self

    def listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                return s.recv(4).startswith(b"INFO")
        except OSError:
            return False

    def kill(self):
        if self.proc:
            self.proc.p.kill()
            self.proc.p.wait()
            self.proc.close()
            self.proc = None

    def close(self):
        self.kill()


class Cluster:
    """n nats-server nodes joined by routes (not started until start())."""

    def __init__(self, n=3):
        self.nodes = []
        for i in range(n):
            self.nodes.append(Node(self, i))

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def urls(self, which=None):
        return ",".join(self.nodes[i].url for i in (which or range(len(self.nodes))))

    def node_by_port(self, port):
        for n in self.nodes:
            if n.port == port:
                return n
        return None

    def wait_routed(self, a, b, timeout=20):
        """Wait until a message published on node a reaches a subscriber on b."""
        sub = Sub(self.nodes[b].port, "stk.probe")
        try:
            pub = Sub(self.nodes[a].port, "stk.none")
            try:
                def got():
                    pub.publish("stk.probe", b"x")
                    time.sleep(0.05)
                    return any(s == "stk.probe" for s, _ in sub.take())
                stktest.wait_for(got, timeout, interval=0.05, what="routes up")
            finally:
                pub.close()
        finally:
            sub.close()

    def close(self):
        for n in self.nodes:
            n.close()


class Sub:
    """A raw-protocol NATS client subscribed to one subject (wildcards ok);
    a thread collects (subject, payload bytes) in arrival order."""

    def __init__(self, port, subject, timeout=10, auth=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        line = self.f.readline()
        if not line.startswith(b"INFO"):
            raise RuntimeError(f"not NATS: {line!r}")
        self.lock = threading.Lock()
        self.msgs = []
        self.closed = False
        conn = {"verbose": False, "pedantic": False, "name": "stk-test"}
        conn.update(auth or {})
        self.sock.sendall(f"CONNECT {json.dumps(conn)}\r\nSUB {subject} 1\r\nPING\r\n".encode())
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("connection closed during SUB")
            if line.startswith(b"PONG"):
                break
            if line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())
        self.sock.settimeout(None)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            while True:
                line = self.f.readline()
                if not line:
                    break
                if line.startswith(b"MSG "):
                    parts = line.split()
                    n = int(parts[-1])
                    data = self.f.read(n + 2)[:n]
                    with self.lock:
                        self.msgs.append((parts[1].decode(), data))
                elif line.startswith(b"PING"):
                    self.sock.sendall(b"PONG\r\n")
        except (OSError, ValueError):
            pass
        self.closed = True

    def publish(self, subject, data):
        self.sock.sendall(f"PUB {subject} {len(data)}\r\n".encode() + data + b"\r\n")

    def take(self):
        """Messages received since the last take()."""
        with self.lock:
            out, self.msgs = self.msgs, []
        return out

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.t.join(5)
