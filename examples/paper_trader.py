#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""paper_trader.py — paper trading against live seqtick quotes.

Trades the moving-average crossover of sma_crossover.py with play money:
buys --qty shares at the ask on a BUY signal when flat, sells the position at
the bid on a SELL signal. Keeps cash, positions and P&L in exact decimals,
marks open positions to the live bid, prints every trade and a P&L line every
--report seconds, and a summary at exit.

    python3 examples/paper_trader.py --shm /seqtick --cash 100000 --qty 10
"""
import sys
from decimal import Decimal

from sma_crossover import Sma
from strategylib import log, parser, run


class Book:
    def __init__(self, cash):
        self.start_cash = self.cash = cash
        self.pos = {}       # ticker -> shares
        self.cost = {}      # ticker -> total cost of the open position
        self.realized = Decimal(0)
        self.trades = 0
        self.last = {}      # ticker -> latest Quote

    def buy(self, q, qty):
        px = q.ask
        if self.cash < px * qty:
            return False
        self.cash -= px * qty
        self.pos[q.ticker] = self.pos.get(q.ticker, 0) + qty
        self.cost[q.ticker] = self.cost.get(q.ticker, Decimal(0)) + px * qty
        self.trades += 1
        log(f"TRADE BUY {qty} {q.ticker} @ {px}  cash {self.cash}")
        return True

    def sell(self, q):
        qty = self.pos.pop(q.ticker, 0)
        if not qty:
            return False
        px = q.bid
        cost = self.cost.pop(q.ticker)
        pnl = px * qty - cost
        self.cash += px * qty
        self.realized += pnl
        self.trades += 1
        log(f"TRADE SELL {qty} {q.ticker} @ {px}  P&L {pnl:+}  cash {self.cash}")
        return True

    def unrealized(self):
        """Open positions marked to the latest bid."""
        u = Decimal(0)
        for t, qty in self.pos.items():
            u += self.last[t].bid * qty - self.cost[t]
        return u

    def equity(self):
        return self.cash + sum((self.last[t].bid * qty for t, qty in self.pos.items()),
                               Decimal(0))

    def report(self, label="P&L"):
        held = ", ".join(f"{t} {n}" for t, n in sorted(self.pos.items())) or "flat"
        total = self.equity() - self.start_cash
        log(f"{label}: cash {self.cash} equity {self.equity()} realized {self.realized:+} "
            f"unrealized {self.unrealized():+} total {total:+} trades {self.trades} "
            f"positions [{held}]")


def main():
    p = parser("paper trading on SMA crossovers against live quotes")
    p.add_argument("--cash", type=Decimal, default=Decimal(100000),
                   help="starting cash (default 100000)")
    p.add_argument("--qty", type=int, default=10, help="shares per buy (default 10)")
    p.add_argument("--fast", type=int, default=5)
    p.add_argument("--slow", type=int, default=20)
    p.add_argument("--report", type=float, default=5.0,
                   help="seconds between P&L lines (default 5)")
    args = p.parse_args()
    if not 0 < args.fast < args.slow or args.qty < 1 or args.cash < 0:
        p.error("need 0 < --fast < --slow, --qty >= 1, --cash >= 0")
    book = Book(args.cash)
    smas = {}

    def on_quote(q):
        book.last[q.ticker] = q
        s = smas.get(q.ticker)
        if s is None:
            s = smas[q.ticker] = Sma(args.fast, args.slow)
        crossed = s.add(q.price_f)
        if crossed > 0 and not book.pos.get(q.ticker):
            book.buy(q, args.qty)
        elif crossed < 0:
            book.sell(q)

    def on_start(seg):
        log(f"starting cash {book.cash}, {args.qty} shares a trade, "
            f"SMA{args.fast}/SMA{args.slow}")

    return run(args, on_quote, on_start=on_start, on_stop=lambda: book.report("summary"),
               on_idle=book.report, idle_every=args.report)


if __name__ == "__main__":
    sys.exit(main())
