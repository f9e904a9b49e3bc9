#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rsi.py — RSI (Wilder) overbought / oversold signals from live seqtick quotes.

For every ticker it computes the relative strength index of the last trade
price over --period updates and prints BUY when RSI falls below --low
(oversold), SELL when it rises above --high (overbought).

    python3 examples/rsi.py --shm /seqtick --period 14 --low 30 --high 70
"""
import collections
import sys

from strategylib import log, parser, run


class Rsi:
    """Wilder's RSI: smoothed average gain / loss over `period` changes."""

    def __init__(self, period):
        self.period = period
        self.prev = None
        self.n = 0
        self.gain = self.loss = 0.0
        self.zone = 0  # -1 oversold, +1 overbought, 0 between

    def add(self, price):
        """Feed one price; return the RSI (0..100) or None while warming up."""
        if self.prev is None:
            self.prev = price
            return None
        ch, self.prev = price - self.prev, price
        g, l = max(ch, 0.0), max(-ch, 0.0)
        p = self.period
        if self.n < p:  # first average: plain mean of the first p changes
            self.gain += g / p
            self.loss += l / p
            self.n += 1
            if self.n < p:
                return None
        else:
            self.gain = (self.gain * (p - 1) + g) / p
            self.loss = (self.loss * (p - 1) + l) / p
        if self.loss == 0:
            return 100.0 if self.gain > 0 else 50.0
        return 100.0 - 100.0 / (1.0 + self.gain / self.loss)


def main():
    p = parser("RSI overbought/oversold signals from the segment")
    p.add_argument("--period", type=int, default=14, help="RSI period, updates (default 14)")
    p.add_argument("--low", type=float, default=30, help="oversold below this (default 30)")
    p.add_argument("--high", type=float, default=70, help="overbought above this (default 70)")
    args = p.parse_args()
    if args.period < 2 or not 0 <= args.low < args.high <= 100:
        p.error("need --period >= 2 and 0 <= --low < --high <= 100")
    books = {}
    counts = collections.Counter()

    def on_quote(q):
        r = books.get(q.ticker)
        if r is None:
            r = books[q.ticker] = Rsi(args.period)
        v = r.add(q.price_f)
        if v is None:
            return
        zone = -1 if v < args.low else 1 if v > args.high else 0
        if zone and zone != r.zone:
            side = "BUY" if zone < 0 else "SELL"
            counts[side] += 1
            what = "oversold" if zone < 0 else "overbought"
            log(f"{side} {q.ticker} at {q.price} (RSI{args.period} {v:.1f} {what})")
        r.zone = zone

    def on_stop():
        log(f"done: {counts['BUY']} BUY and {counts['SELL']} SELL signals over "
            f"{len(books)} tickers")

    return run(args, on_quote, on_stop=on_stop)


if __name__ == "__main__":
    sys.exit(main())
