# SPDX-License-Identifier: MIT
"""natshelp — what the bridge tests need beyond tests/lib/natstest.py: a
subscriber that authenticates (user/password or token in CONNECT), speaking
the NATS text protocol over a socket, to see what the bridge publishes to a
server that demands credentials."""
import json
import socket
import threading


class AuthSub:
    """A raw NATS client with credentials, subscribed to one subject; a
    thread keeps (subject, payload bytes) in arrival order."""

    def __init__(self, port, subject, auth, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        line = self.f.readline()
        if not line.startswith(b"INFO"):
            raise RuntimeError(f"not NATS: {line!r}")
        self.lock = threading.Lock()
        self.msgs = []
        conn = {"verbose": False, "pedantic": False, "name": "stk-test"}
        conn.update(auth)
        self.sock.sendall(f"CONNECT {json.dumps(conn)}\r\nSUB {subject} 1\r\nPING\r\n".encode())
        while True:
            line = self.f.readline()
            if not line or line.startswith(b"-ERR"):
                raise RuntimeError(f"refused: {line!r}")
            if line.startswith(b"PONG"):
                break
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
