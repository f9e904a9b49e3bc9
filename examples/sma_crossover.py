#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sma_crossover.py — moving-average crossover signals from live seqtick quotes.

For every ticker it keeps a fast and a slow simple moving average of the last
trade price (one sample per quote update) and prints BUY when the fast one
crosses above the slow one, SELL when it crosses below.

    python3 examples/sma_crossover.py --shm /seqtick --fast 5 --slow 20 --seconds 60
"""
import collections
import sys

from strategylib import log, parser, run


class Sma:
    def __init__(self, fast, slow):
        self.fast, self.slow = fast, slow
        self.window = collections.deque(maxlen=slow)
        self.fast_sum = self.slow_sum = 0.0
        self.side = 0  # +1 fast above slow, -1 below, 0 unknown

    def add(self, price):
        """Feed one price; return +1 (cross up), -1 (cross down) or 0."""
        w = self.window
        if len(w) == w.maxlen:
            self.slow_sum -= w[0]
        if len(w) >= self.fast:
            self.fast_sum -= w[-self.fast]
        w.append(price)
        self.slow_sum += price
        self.fast_sum += price
        if len(w) < self.slow:
            return 0
        fast = self.fast_sum / self.fast
        slow = self.slow_sum / self.slow
        side = (fast > slow) - (fast < slow)
        crossed = side if side and self.side and side != self.side else 0
        if side:
            self.side = side
        self.last = (fast, slow)
        return crossed


def main():
    p = parser("moving-average crossover signals from the segment")
    p.add_argument("--fast", type=int, default=5, help="fast window, updates (default 5)")
    p.add_argument("--slow", type=int, default=20, help="slow window, updates (default 20)")
    args = p.parse_args()
    if not 0 < args.fast < args.slow:
        p.error("need 0 < --fast < --slow")
    books = {}
    counts = collections.Counter()

    def on_quote(q):
        s = books.get(q.ticker)
        if s is None:
            s = books[q.ticker] = Sma(args.fast, args.slow)
        crossed = s.add(q.price_f)
        if crossed:
            side = "BUY" if crossed > 0 else "SELL"
            counts[side] += 1
            fast, slow = s.last
            log(f"{side} {q.ticker} at {q.price} (SMA{args.fast} {fast:.4f} "
                f"{'>' if crossed > 0 else '<'} SMA{args.slow} {slow:.4f})")

    def on_stop():
        log(f"done: {counts['BUY']} BUY and {counts['SELL']} SELL signals over "
            f"{len(books)} tickers")

    return run(args, on_quote, on_stop=on_stop)


if __name__ == "__main__":
    sys.exit(main())
