# SPDX-License-Identifier: MIT
"""seqtick.store — read what seqtick-recorder stored: OHLC bars and ticks.

    import seqtick
    with seqtick.Store("var/seqtick.db") as st:       # or "sqlite:var/seqtick.db"
        for b in st.bars("AAPL", "1m", 30):           # oldest first
            print(b.start_ns, b.open, b.close, b.volume)
        for q in st.ticks("AAPL", since=t0_ns):       # Quote objects, seq = tick
            ...

SQLite is read with the standard library's sqlite3, opened read-only (the
recorder may write at the same time: the store is in WAL mode). For
"postgresql:CONNINFO" Debian's python3-psycopg2 is used when it is installed;
without it, the SQL in docs/clients.md ("Reading the recorder's store") is
the way in.
"""
import re as _re
import sqlite3 as _sqlite3
from decimal import Decimal as _Decimal

from .errors import SeqtickError, UnknownTickerError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CTX_E8 = _Decimal(100000000)


def interval_seconds(interval):
    """"1s", "1m", "15m", "1h", "1d" (or an int of seconds) → seconds."""
    if isinstance(interval, int) and not isinstance(interval, bool) and interval > 0:
        return interval
    m = _re.fullmatch(r"([1-9][0-9]{0,6})([smhd])", str(interval))
    if not m:
        raise ValueError(f"bad interval {interval!r}: a count and a unit s, m, h or d, "
                         "like 1m")
    return int(m.group(1)) * _UNITS[m.group(2)]


class Bar(tuple):
    """One OHLC bar, immutable. `start_ns` opens it (ns since the Unix epoch);
    `open`, `high`, `low`, `close` are exact Decimals, the `*_e8` fields the
    stored integers (× 10^8); `volume` the traded volume within the bar,
    `ticks` how many ticks it holds."""
    __slots__ = ()
    _fields = ("start_ns", "open_e8", "high_e8", "low_e8", "close_e8", "volume", "ticks")

    def __new__(cls, start_ns, open_e8, high_e8, low_e8, close_e8, volume, ticks):
        return tuple.__new__(cls, (start_ns, open_e8, high_e8, low_e8, close_e8, volume, ticks))

    start_ns = property(lambda s: s[0])
    t_ms = property(lambda s: s[0] // 1000000, doc="start, ms since the Unix epoch")
    open_e8 = property(lambda s: s[1])
    high_e8 = property(lambda s: s[2])
    low_e8 = property(lambda s: s[3])
    close_e8 = property(lambda s: s[4])
    volume = property(lambda s: s[5])
    ticks = property(lambda s: s[6])
    open = property(lambda s: _Decimal(s[1]) / _CTX_E8)
    high = property(lambda s: _Decimal(s[2]) / _CTX_E8)
    low = property(lambda s: _Decimal(s[3]) / _CTX_E8)
    close = property(lambda s: _Decimal(s[4]) / _CTX_E8)
    close_f = property(lambda s: s[4] / 1e8)

    def __repr__(self):
        return (f"Bar(start_ns={self[0]}, open={self.open}, high={self.high}, low={self.low}, "
                f"close={self.close}, volume={self[5]}, ticks={self[6]})")


def _split(spec):
    spec = str(spec)
    if spec.startswith("sqlite:"):
        return "sqlite", spec[len("sqlite:"):]
    if spec.startswith("postgresql:"):
        return "postgresql", spec[len("postgresql:"):]
    if spec.startswith("csv:"):
        return "csv", spec[len("csv:"):]
    if spec == "off":
        return "off", ""
    return "sqlite", spec


class Store:
    """The recorder's store: "sqlite:PATH" or a plain path (read-only), or
    "postgresql:CONNINFO" (needs python3-psycopg2)."""

    def __init__(self, spec):
        kind, where = _split(spec)
        self.kind = kind
        self._ph = "?"
        if kind == "sqlite":
            if not where:
                raise SeqtickError("empty SQLite path")
            uri = "file:" + _sqlite3_quote(where) + "?mode=ro"
            try:
                self._db = _sqlite3.connect(uri, uri=True, timeout=0.5)
                self._db.execute("SELECT 1 FROM bars LIMIT 0")
            except _sqlite3.Error as e:
                raise SeqtickError(f"cannot read the SQLite store '{where}': {e}") from None
        elif kind == "postgresql":
            try:
                import psycopg2  # Debian: python3-psycopg2
            except ImportError:
                raise SeqtickError(
                    "reading a PostgreSQL store from Python needs python3-psycopg2 "
                    "(apt-get install python3-psycopg2); without it use the SQL in "
                    "docs/clients.md, \"Reading the recorder's store\"") from None
            self._db = psycopg2.connect(where)
            self._ph = "%s"
        elif kind == "csv":
            raise SeqtickError("a csv: store holds ticks as files (one per symbol per UTC "
                               "day, docs/recorder.md) and no bars: read them with the csv "
                               "module")
        else:
            raise SeqtickError("recorder.store is off: nothing is stored")

    def close(self):
        if getattr(self, "_db", None) is not None:
            self._db.close()
            self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _q(self, sql, args):
        sql = sql.replace("?", self._ph)
        cur = self._db.cursor()
        try:
            cur.execute(sql, args)
            return cur.fetchall()
        except _sqlite3.OperationalError as e:
            raise SeqtickError(f"store read failed: {e}") from None
        finally:
            cur.close()

    def _sym(self, ticker):
        rows = self._q("SELECT id FROM symbols WHERE name = ?", (ticker,))
        if not rows:
            raise UnknownTickerError(f"unknown ticker '{ticker}' (never recorded)")
        return rows[0][0]

    def tickers(self):
        """The symbols the recorder knows, sorted."""
        return [r[0] for r in self._q("SELECT name FROM symbols ORDER BY name", ())]

    def bars(self, ticker, interval="1m", n=500, from_ns=None, to_ns=None):
        """The last n bars of `interval` (oldest first), optionally only bars
        starting in [from_ns, to_ns]. The newest may be still open."""
        secs = interval_seconds(interval)
        if int(n) < 0:
            raise ValueError("n must be >= 0")
        sid = self._sym(ticker)
        lo = -(1 << 63) if from_ns is None else int(from_ns)
        hi = (1 << 63) - 1 if to_ns is None else int(to_ns)
        rows = self._q("SELECT start_ns, open, high, low, close, volume, ticks FROM bars "
                       "WHERE symbol_id = ? AND interval_s = ? AND start_ns >= ? "
                       "AND start_ns <= ? ORDER BY start_ns DESC LIMIT ?",
                       (sid, secs, lo, hi, int(n)))
        return [Bar(*r) for r in reversed(rows)]

    def ticks(self, ticker, since=None, limit=None):
        """Stored ticks of `ticker` with a source time >= since (ns since the
        Unix epoch; None: all), in order, as Quote objects (seq = the ring's
        tick number; generation in the order, not in the Quote)."""
        from . import Quote
        sid = self._sym(ticker)
        lo = -(1 << 63) if since is None else int(since)
        lim = -1 if limit is None else int(limit)
        sql = ("SELECT tick, price, bid, ask, volume, src_ts_ns, pub_ts_ns, bid_size, "
               "ask_size FROM ticks WHERE symbol_id = ? AND src_ts_ns >= ? "
               "ORDER BY generation, tick")
        if lim >= 0:
            sql += " LIMIT ?"
            rows = self._q(sql, (sid, lo, lim))
        else:
            rows = self._q(sql, (sid, lo))
        return [Quote(ticker, *r) for r in rows]


def _sqlite3_quote(path):
    # a file: URI: '?' and '#' would end the path, '%' starts an escape
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
