#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_quote.py — ns per Segment.quote() call, next to baselines measured in
the same run: a dict lookup + tuple build (the least a pure-Python quote
cache costs), and one bare ctypes call into libseqtick (stk_seg_epoch).

    python3 clients/python/bench_quote.py --shm /seqtick [--ticker AAPL] [--calls N]

Needs a live segment (the producer, or tests/tools' stk-test-writer).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seqtick  # noqa: E402


def per_call(fn, calls, repeat=5):
    """Best of `repeat` runs of fn(calls), in ns per call."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter_ns()
        fn(calls)
        best = min(best, (time.perf_counter_ns() - t) / calls)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shm", default="/seqtick")
    p.add_argument("--ticker", default=None, help="default: the first one in the segment")
    p.add_argument("--calls", type=int, default=200000)
    args = p.parse_args()
    try:
        seg = seqtick.Segment(args.shm)
    except seqtick.SeqtickError as e:
        print(f"bench_quote: fatal: {e}", file=sys.stderr)
        return 111
    ticker = args.ticker or (seg.tickers() or [None])[0]
    if ticker is None:
        print("bench_quote: fatal: the segment has no symbols", file=sys.stderr)
        return 111
    seg.quote(ticker)  # warm the index cache; raises if unknown / never written

    def loop_quote(n, q=seg.quote, t=ticker):
        for _ in range(n):
            q(t)

    cache = {ticker: (1, 2, 3, 4, 5, 6, 7, 8, 9)}

    def loop_dict(n, d=cache, t=ticker, new=tuple.__new__, cls=tuple):
        for _ in range(n):
            new(cls, (t,) + d[t])

    epoch = seg._L.stk_seg_epoch
    h = seg._h

    def loop_ctypes(n, f=epoch, h=h):
        for _ in range(n):
            f(h)

    def loop_empty(n):
        for _ in range(n):
            pass

    empty = per_call(loop_empty, args.calls)
    rows = [
        ("baseline: dict lookup + tuple build", per_call(loop_dict, args.calls)),
        ("baseline: one ctypes call (stk_seg_epoch)", per_call(loop_ctypes, args.calls)),
        ("seg.quote()", per_call(loop_quote, args.calls)),
    ]
    q = seg.quote(ticker)
    print(f"bench_quote: {args.calls} calls x best of 5, ticker {ticker} on {args.shm} "
          f"(python {sys.version.split()[0]}, loop overhead {empty:.1f} ns subtracted)")
    base = rows[0][1] - empty
    for name, ns in rows:
        net = ns - empty
        print(f"  {name:44s} {net:8.1f} ns/call  x{net / base:5.2f} of the dict baseline")
    target = rows[2][1] - empty
    print(f"  target seg.quote() <= 1000 ns: {'ok' if target <= 1000 else 'MISSED'}")
    print(f"  last quote: {q.ticker} {q.price} bid {q.bid} ask {q.ask} age {q.age * 1e3:.1f} ms")
    seg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
