#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""vwap_net.py — a VWAP over the network from every tick (stdlib only).

Connects to seqtick-server's NDJSON port, subscribes in ticks mode (every
tick from the producer's rings, in order, each with its ring tick number) and
keeps a volume-weighted average price per ticker. The quotes' volume is
cumulative, so each tick weighs its price by the volume traded since the
previous tick. A `gap` event (this client fell behind further than the ring
holds) is counted and the next tick's volume step, which spans the lost
ticks, is not weighed. On a lost connection it reconnects and resumes with
`from_tick` at the tick after the last one it saw, so it misses nothing the
ring still holds.

    python3 examples/vwap_net.py --port 7878 --tickers AAPL,MSFT --every 1000

Prints `VWAP TICKER PRICE ticks=N volume=V gaps=G` every --every ticks of a
ticker, and for every ticker at the end (--seconds, SIGTERM or Ctrl-C).
"""
import argparse
import json
import signal
import socket
import sys
import time


class Vwap:
    __slots__ = ("pv", "vol", "last_vol", "ticks", "gaps", "next_tick")

    def __init__(self):
        self.pv = self.vol = self.ticks = self.gaps = 0
        self.last_vol = None  # cumulative volume of the previous tick
        self.next_tick = None  # ring tick to resume from after a reconnect

    def tick(self, e):
        if self.last_vol is not None and e["volume"] > self.last_vol:
            step = e["volume"] - self.last_vol
            self.pv += e["price"] * step
            self.vol += step
        self.last_vol = e["volume"]
        self.ticks += 1
        self.next_tick = e["tick"] + 1

    def gap(self, e):
        self.gaps += 1
        self.last_vol = None  # the step over the lost ticks is not weighed
        self.next_tick = e["to_tick"]

    def line(self, name):
        price = f"{self.pv / self.vol:.4f}" if self.vol else "-"
        return f"VWAP {name} {price} ticks={self.ticks} volume={self.vol} gaps={self.gaps}"


def requests(tickers, books):
    """The subscribe requests of one connection: new tickers from the ring's
    head, each ticker seen before from the tick after its last. "*" comes
    last: a ticker already streaming ticks keeps its place, so it neither
    replays nor skips the ones resumed just before."""
    seen = [t for t in books if books[t].next_tick is not None]
    star = tickers == ["*"]
    fresh = [] if star else [t for t in tickers if t not in seen]
    reqs = [{"tickers": fresh}] if fresh else []
    reqs += [{"tickers": [t], "from_tick": books[t].next_tick} for t in seen]
    if star:
        reqs.append({"tickers": "*"})
    return [dict(v=1, id=i + 1, type="subscribe", mode="ticks", **r) for i, r in enumerate(reqs)]


def stream(args, books, stop):
    """One connection until stop() says so (True) or the server closes it
    (False)."""
    with socket.create_connection((args.host, args.port), timeout=10) as s:
        for r in requests(args.tickers.split(","), books):
            s.sendall(json.dumps(r).encode() + b"\n")
        s.settimeout(0.2)
        buf = b""
        while not stop():
            if b"\n" not in buf:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return False
                buf += data
                continue
            line, buf = buf.split(b"\n", 1)
            e = json.loads(line)
            kind = e["type"]
            if kind == "error":
                sys.exit(f"vwap_net: {e['error']['code']}: {e['error']['message']}")
            if kind not in ("tick", "gap"):
                continue  # the acks, heartbeats
            b = books.setdefault(e["ticker"], Vwap())
            if kind == "gap":
                b.gap(e)
                print(f"GAP {e['ticker']} {e['from_tick']}..{e['to_tick']}", flush=True)
            elif b.next_tick is None or e["tick"] >= b.next_tick:  # never count one twice
                b.tick(e)
                if args.every and b.ticks % args.every == 0:
                    print(b.line(e["ticker"]), flush=True)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7878)
    p.add_argument("--tickers", default="*", help="comma-separated, or * (default)")
    p.add_argument("--every", type=int, default=0, help="print each ticker every N ticks")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    args = p.parse_args()
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(1))
    end = time.monotonic() + (args.seconds or 1e12)

    def stop():
        return bool(stopped) or time.monotonic() >= end

    books = {}
    try:
        while not stop():
            try:
                if stream(args, books, stop):
                    break
                print("vwap_net: server closed the connection; reconnecting", file=sys.stderr)
            except OSError as e:
                print(f"vwap_net: {e}; reconnecting", file=sys.stderr)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for name in sorted(books):
        print(books[name].line(name), flush=True)


if __name__ == "__main__":
    main()
