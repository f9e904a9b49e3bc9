#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bars_warmup.py — a bar-based SMA crossover that starts warm.

On start it reads the last --slow bars of each ticker from the recorder's
store (seqtick.Store: recorder.store, e.g. sqlite:var/seqtick.db) and feeds
their closes to its moving averages, so the first signal can come with the
first live bar instead of --slow bars later. Then it builds bars of the same
interval from the live segment and prints BUY / SELL when the fast SMA of
bar closes crosses the slow one.

    python3 examples/bars_warmup.py --store var/seqtick.db --interval 1m --fast 5 --slow 20

--clock src (default) cuts live bars on the quotes' source time, as the
recorder does; --clock pub on the time the producer published them.
"""
import sys

from sma_crossover import Sma
from strategylib import log, parser, run, seqtick


class LiveBar:
    """The bar being built from live quotes: its start and last price."""
    __slots__ = ("start", "close")

    def __init__(self, start, close):
        self.start, self.close = start, close


def main():
    p = parser("SMA crossover on bars, warmed up from the recorder's store")
    p.add_argument("--store", default="sqlite:var/seqtick.db",
                   help="recorder.store: sqlite:PATH, a path, or postgresql:CONNINFO "
                        "(default sqlite:var/seqtick.db)")
    p.add_argument("--interval", default="1m", help="bar interval (default 1m)")
    p.add_argument("--fast", type=int, default=5, help="fast window, bars (default 5)")
    p.add_argument("--slow", type=int, default=20, help="slow window, bars (default 20)")
    p.add_argument("--clock", choices=("src", "pub"), default="src",
                   help="cut live bars on the source time (src) or the publish time (pub)")
    args = p.parse_args()
    if not 0 < args.fast < args.slow:
        p.error("need 0 < --fast < --slow")
    try:
        secs = seqtick.store.interval_seconds(args.interval)
    except ValueError as e:
        p.error(str(e))
    span_ns = secs * 1000000000
    try:
        store = seqtick.Store(args.store)
    except seqtick.SeqtickError as e:
        log(f"cannot read the store: {e}")
        return 111
    books, live = {}, {}
    counts = {"BUY": 0, "SELL": 0, "bars": 0}

    def book(ticker):
        s = books.get(ticker)
        if s is None:
            s = books[ticker] = Sma(args.fast, args.slow)
            try:
                bars = store.bars(ticker, secs, args.slow)
            except KeyError:
                bars = []
            for b in bars:
                s.add(b.close_f)
            if len(bars) >= args.slow:
                fast, slow = s.last
                log(f"warm {ticker}: {len(bars)} {args.interval} bars up to "
                    f"{bars[-1].t_ms} ms, SMA{args.fast} {fast:.4f} SMA{args.slow} {slow:.4f}")
            else:
                log(f"cold {ticker}: {len(bars)} stored {args.interval} bars, "
                    f"{args.slow} needed")
        return s

    def on_start(seg):
        for t in ([t for t in args.tickers.split(",") if t] or seg.tickers()):
            book(t)
        store.close()

    def on_quote(q):
        s = book(q.ticker)
        start = (q.ts_ns if args.clock == "src" else q.pub_ns) // span_ns
        bar = live.get(q.ticker)
        if bar is None:
            live[q.ticker] = LiveBar(start, q.price_f)
            return
        if start == bar.start:
            bar.close = q.price_f
            return
        counts["bars"] += 1  # the bar closed: its close goes to the averages
        crossed = s.add(bar.close)
        if crossed:
            side = "BUY" if crossed > 0 else "SELL"
            counts[side] += 1
            fast, slow = s.last
            log(f"{side} {q.ticker} at {q.price} (SMA{args.fast} {fast:.4f} "
                f"{'>' if crossed > 0 else '<'} SMA{args.slow} {slow:.4f} on "
                f"{args.interval} bars)")
        bar.start, bar.close = start, q.price_f

    def on_stop():
        log(f"done: {counts['bars']} live bars, {counts['BUY']} BUY and {counts['SELL']} "
            f"SELL signals over {len(books)} tickers")

    return run(args, on_quote, on_start=on_start, on_stop=on_stop)


if __name__ == "__main__":
    sys.exit(main())
