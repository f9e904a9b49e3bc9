#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""client_example.py — the minimal NDJSON client for seqtick-server (protocol
v1, docs/protocol.md), standard library only. It logs every request it sends
and every line it receives: ping, health, list_tickers, get_quote, get_quotes,
get_snapshot_epoch, get_history, then a subscription for a few seconds.

    python3 clients/python/client_example.py [--host 127.0.0.1] [--port 7878]
        [--ticker AAPL] [--subscribe SECONDS]

Exit codes: 0 done, 100 bad usage, 111 no server there, or it went away
(start one with scripts/run).
"""
import argparse
import itertools
import json
import logging
import socket
import sys
import time

log = logging.getLogger("client_example")


class Client:
    """One connection; request() returns the response for its id, keeping any
    pushed events (quote / heartbeat) that arrive in between."""

    def __init__(self, host="127.0.0.1", port=7878, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")
        self.ids = itertools.count(1)
        self.events = []

    def send(self, msg):
        line = json.dumps(msg, separators=(",", ":"))
        log.info("> %s", line)
        self.sock.sendall(line.encode() + b"\n")

    def receive(self):
        raw = self.reader.readline()
        if not raw:
            raise ConnectionError("server closed the connection")
        log.info("< %s", raw.decode(errors="replace").rstrip("\n"))
        return json.loads(raw)

    def request(self, type_, **fields):
        rid = next(self.ids)
        self.send({"v": 1, "id": rid, "type": type_, **fields})
        while True:
            msg = self.receive()
            if msg.get("type") in ("response", "error") and msg.get("id") in (rid, None):
                return msg
            self.events.append(msg)

    def close(self):
        self.reader.close()
        self.sock.close()


class UsageParser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"client_example.py: fatal: {message}", file=sys.stderr)
        sys.exit(100)


def main():
    ap = UsageParser(
        description="The" + __doc__.split("\n\n")[0].split("— the", 1)[1],
        epilog=__doc__.split("\n\n")[-1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="server address (default: %(default)s)")
    ap.add_argument("--port", type=int, default=7878, help="server port (default: %(default)s)")
    ap.add_argument("--ticker", default=None, help="ticker to query (default: the first listed)")
    ap.add_argument("--subscribe", type=float, default=3.0, metavar="SECONDS",
                    help="how long to print streamed quotes (0: skip)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        return session(args)
    except (OSError, ConnectionError, ValueError) as e:
        # No server there, or it went away: one line, not a traceback.
        hint = ""
        if isinstance(e, ConnectionRefusedError):
            hint = " (is seqtick-server running? scripts/run starts it)"
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"client_example.py: fatal: {args.host}:{args.port}: {why}{hint}", file=sys.stderr)
        return 111


def session(args):
    c = Client(args.host, args.port)
    c.request("ping")
    c.request("health")
    tickers = c.request("list_tickers").get("tickers", [])
    ticker = args.ticker or (tickers[0] if tickers else "AAPL")
    c.request("get_quote", ticker=ticker)
    c.request("get_quotes", tickers=tickers[:3] + ["NO_SUCH_TICKER"])
    c.request("get_snapshot_epoch")
    c.request("get_history", ticker=ticker, limit=5)
    if args.subscribe > 0:
        c.request("subscribe", tickers=[ticker])
        end = time.monotonic() + args.subscribe
        c.sock.settimeout(1.5)
        while time.monotonic() < end:
            try:
                c.receive()  # quote events and heartbeats are logged as they come
            except socket.timeout:
                pass
        c.sock.settimeout(10)
        c.request("unsubscribe", tickers="*")
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
