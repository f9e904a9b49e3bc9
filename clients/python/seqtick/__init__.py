# SPDX-License-Identifier: MIT
"""seqtick — read seqtick's shared-memory quotes from Python (stdlib only).

    import seqtick
    with seqtick.Segment("/seqtick") as seg:
        print(seg.tickers())
        q = seg.quote("AAPL")           # Quote: exact Decimal + float accessors
        print(q.price, q.price_f, q.age)
        for q in seg.updates(duration=5):  # changed quotes as they come
            print(q.ticker, q.price)

A thin ctypes layer over libseqtick.so (the C reader API, docs/clients.md):
every read goes through the library's seqlock, so a Quote is never torn.
"""
import ctypes
import errno as _errno
import pwd as _pwd
import struct as _struct
import time as _time
from decimal import Context as _Context, Decimal as _Decimal

from . import _lib
from .errors import (AbiError, BusyError, LibraryError, NoDataError, NoSegmentError,
                     SeqtickError, UnknownTickerError, from_open)

__all__ = ["Segment", "Quote", "Store", "Bar", "SeqtickError", "LibraryError", "NoSegmentError",
           "AbiError", "UnknownTickerError", "NoDataError", "BusyError", "library_path",
           "PRICE_SCALE"]
__version__ = "0.1.0"

PRICE_SCALE = 100000000  # prices are fixed point, value x 10^8
FRESHNESS_MS = 5000      # server.freshness_ms default
HEARTBEAT_MS = 100       # producer.heartbeat_ms default
STATE_NAMES = {0: "init", 1: "live", 2: "closed"}

_E8 = _Decimal(PRICE_SCALE)
_CTX = _Context(prec=60)  # exact for any int64 / 10^8, whatever the thread's context
_new_tuple = tuple.__new__
_WAIT_SLICE_MS = 500      # longest single futex wait: re-check a replaced name this often


def _dec(v):
    return _CTX.divide(_Decimal(v), _E8)


class Quote(tuple):
    """One quote, immutable. Prices are exact: `price`, `bid`, `ask` are Decimal,
    `price_f`, `bid_f`, `ask_f` floats, `price_e8` ... the raw integers (x 10^8).

    Fields (tuple order): ticker, seq, price_e8, bid_e8, ask_e8, volume, ts_ns,
    pub_ns, bid_size, ask_size. `seq` is the record's seqlock value for a latest
    quote and the tick number for a history entry. `ts_ns` is the source time,
    `pub_ns` when the producer wrote it (both ns since the Unix epoch).
    """
    __slots__ = ()
    _fields = ("ticker", "seq", "price_e8", "bid_e8", "ask_e8", "volume", "ts_ns", "pub_ns",
               "bid_size", "ask_size")

    def __new__(cls, ticker, seq, price_e8, bid_e8, ask_e8, volume, ts_ns, pub_ns, bid_size,
                ask_size):
        return _new_tuple(cls, (ticker, seq, price_e8, bid_e8, ask_e8, volume, ts_ns, pub_ns,
                                bid_size, ask_size))

    ticker = property(lambda s: s[0], doc="symbol name")
    seq = property(lambda s: s[1])
    price_e8 = property(lambda s: s[2])
    bid_e8 = property(lambda s: s[3])
    ask_e8 = property(lambda s: s[4])
    volume = property(lambda s: s[5])
    ts_ns = property(lambda s: s[6], doc="source time, ns since the Unix epoch")
    pub_ns = property(lambda s: s[7], doc="when the producer wrote it, ns since the epoch")
    bid_size = property(lambda s: s[8])
    ask_size = property(lambda s: s[9])

    price = property(lambda s: _dec(s[2]), doc="last trade, exact Decimal")
    bid = property(lambda s: _dec(s[3]), doc="exact Decimal")
    ask = property(lambda s: _dec(s[4]), doc="exact Decimal")
    price_f = property(lambda s: s[2] / PRICE_SCALE, doc="float (nearest double)")
    bid_f = property(lambda s: s[3] / PRICE_SCALE)
    ask_f = property(lambda s: s[4] / PRICE_SCALE)
    mid = property(lambda s: _CTX.divide(_dec(s[3] + s[4]), 2), doc="(bid + ask) / 2, exact")
    spread = property(lambda s: _dec(s[4] - s[3]), doc="ask - bid, exact Decimal")
    ts = property(lambda s: s[6] / 1e9, doc="source time, float seconds since the epoch")

    @property
    def age(self):
        """Seconds since the producer wrote this quote (now - pub_ns), float."""
        return (_time.time_ns() - self[7]) / 1e9

    @property
    def age_ns(self):
        return _time.time_ns() - self[7]

    def _asdict(self):
        return dict(zip(self._fields, self))

    def __repr__(self):
        return (f"Quote(ticker={self[0]!r}, price={self.price}, bid={self.bid}, "
                f"ask={self.ask}, bid_size={self[8]}, ask_size={self[9]}, volume={self[5]}, "
                f"ts_ns={self[6]}, seq={self[1]})")

    def __reduce__(self):
        return (Quote, tuple(self))


def library_path():
    """Path of the libseqtick.so this process loaded (loads it if needed)."""
    return _lib.lib_path()


class Segment:
    """A read-only attachment to the segment `name` (e.g. "/seqtick").

    Raises NoSegmentError if it does not exist, AbiError if it is not a
    segment of layout v1, SeqtickError for anything else, LibraryError when
    libseqtick.so cannot be found. Not thread-safe: one Segment per thread.
    With follow=True (default) a replaced segment (the supervisor retired it,
    or the name now names another file) is re-opened by name transparently.

    `owner` is the user that must own the segment file (a user name or a uid;
    default: this process's uid), as shm.owner in the config: a file at the
    name owned by anyone else, or one that is not a regular file (a FIFO), is
    refused. A segment closed by its producer, or with a garbage state, is
    "unavailable" (NoSegmentError), as the server and the CLI say: the
    library's one rule (stk_seg_usable). The library's SIGBUS guard is on, so
    a segment truncated under this process is dropped and re-opened instead
    of killing it.
    """

    def __init__(self, name="/seqtick", follow=True, owner=None):
        self._L = L = _lib.lib()
        self.name = name
        self.follow = follow
        self._h = None
        self._opts = _lib.StkSegOpenOpts()
        if owner is not None:
            if isinstance(owner, str) and not owner.isdigit():
                try:
                    owner = _pwd.getpwnam(owner).pw_uid
                except KeyError:
                    raise SeqtickError(f"owner '{owner}': no such user") from None
            self._opts.flags = _lib.OPEN_OWNER
            self._opts.owner_uid = int(owner)
        L.stk_sigbus_guard()
        # Hot-path objects made once: untyped entry point (no argtypes
        # conversion), one preallocated stk_quote and its pointer, one unpacker.
        self._qread = L["stk_quote_read"]
        self._q = _lib.StkQuote()
        self._qp = ctypes.pointer(self._q)
        self._unpack = _struct.Struct(_lib.QUOTE_FORMAT).unpack_from
        self._open()

    # ---- lifecycle ------------------------------------------------------

    def _open_handle(self):
        h = ctypes.c_void_p()
        r = self._L.stk_seg_open_opts(self.name.encode(), ctypes.byref(self._opts),
                                      ctypes.byref(h))
        if r < 0:
            raise from_open(self.name, r, _lib.strerror(r))
        return h

    def _open(self):
        self._attach(self._open_handle())

    def _attach(self, h):
        L = self._L
        self._h = h
        addr = L.stk_seg_header(h)
        self._hdr = _lib.StkHeader.from_address(addr)
        self._state = ctypes.c_uint32.from_address(addr + _lib.StkHeader.state.offset)
        self._gen = ctypes.c_uint64.from_address(addr + _lib.StkHeader.generation.offset)
        self.capacity = self._hdr.capacity
        self.history_len = self._hdr.history
        self.generation = self._hdr.generation
        rec0 = L.stk_seg_record(h, 0)
        arr = (ctypes.c_uint64 * (self.capacity * 8)).from_address(rec0)
        self._seqview = memoryview(arr).cast("B").cast("Q")
        self._idx = {}
        self._seen = L.stk_seg_epoch(h)

    def _detach(self):
        h, self._h = self._h, None
        # Views into the mapping must go before it is unmapped.
        if getattr(self, "_seqview", None) is not None:
            self._seqview.release()
        self._seqview = self._hdr = self._state = self._gen = None
        self._idx = {}
        if h is not None:
            self._L.stk_seg_close(h)

    def close(self):
        """Unmap the segment. Further calls raise SeqtickError."""
        if self._h is not None:
            self._detach()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _check(self):
        if self._h is None:
            raise SeqtickError(f"segment '{self.name}' is closed")

    def replaced(self):
        """True if this mapping is retired (closed, or the name now names
        another file or none)."""
        self._check()
        return bool(self._L.stk_seg_replaced(self._h))

    def refresh(self):
        """Re-open by name if the segment was replaced. Returns True if it
        switched to a new segment. Raises NoSegmentError if the segment was
        retired and nothing replaced it (yet)."""
        self._check()
        if not self._L.stk_seg_replaced(self._h):
            return False
        h = self._open_handle()
        self._detach()
        self._attach(h)
        return True

    def usable(self):
        """0 if the segment may be read (state init or live), else the
        library's negative errno: -ESTALE closed, -EUCLEAN garbage state or
        generation, -EFAULT truncated under us (stk_seg_usable)."""
        self._check()
        return self._L.stk_seg_usable(self._h)

    def _unavailable(self):
        """The segment is not usable: follow a successor, or raise."""
        u = self._L.stk_seg_usable(self._h)
        if u == 0:
            return
        why = _lib.strerror(u)
        if self.follow:
            try:
                self.refresh()
                u = self._L.stk_seg_usable(self._h)
                if u == 0:
                    return
                why = _lib.strerror(u)
            except SeqtickError as e:  # nothing readable at the name now
                why = str(e)
        raise NoSegmentError(f"segment '{self.name}' is unavailable: {why}", -u)

    def alive(self, heartbeat_ms=HEARTBEAT_MS):
        """True if the producer is alive by the library's rule (stk_seg_alive):
        the segment usable and live, its heartbeat at most 3 x heartbeat_ms old."""
        self._check()
        return bool(self._L.stk_seg_alive(self._h, 0, heartbeat_ms, None))

    def stale(self, quote, freshness_ms=FRESHNESS_MS, heartbeat_ms=HEARTBEAT_MS):
        """True if `quote` is stale by the rule the server and the CLI use
        (stk_quote_stale): older than freshness_ms, or the producer not alive."""
        self._check()
        q = _lib.StkQuote(*quote[1:])
        return bool(self._L.stk_quote_stale(self._h, ctypes.byref(q), 0, freshness_ms,
                                            heartbeat_ms))

    # ---- symbols and quotes --------------------------------------------

    def tickers(self):
        """Names of every published symbol, in table order."""
        self._check()
        L, h = self._L, self._h
        # the library returns validated ASCII names, None for an invalid entry
        names = (L.stk_seg_symbol(h, i) for i in range(L.stk_seg_nsymbols(h)))
        return [n.decode("ascii") for n in names if n is not None]

    def __contains__(self, ticker):
        try:
            self._index(ticker)
            return True
        except UnknownTickerError:
            return False

    def _index(self, ticker):
        idx = self._idx.get(ticker)
        if idx is not None:
            return idx
        self._check()
        if not isinstance(ticker, str):
            raise UnknownTickerError(f"ticker must be a str, not {type(ticker).__name__}")
        r = self._L.stk_seg_lookup(self._h, ticker.encode("ascii", "replace"))
        if r < 0:
            raise UnknownTickerError(f"unknown ticker '{ticker}' in segment '{self.name}'",
                                     _errno.ENOENT)
        self._idx[ticker] = r
        return r

    def _read_error(self, r, ticker):
        if r == -_errno.ENODATA:
            return NoDataError(f"no quote for '{ticker}' yet (never written)", _errno.ENODATA)
        if r == -_errno.EBUSY:
            return BusyError(f"'{ticker}': the writer did not finish the record "
                             f"(died mid-write?); retry later", _errno.EBUSY)
        return SeqtickError(f"'{ticker}': {_lib.strerror(r)}", -r)

    def quote(self, ticker):
        """The latest quote of `ticker` (a Quote). Raises UnknownTickerError
        (a KeyError), NoDataError (never written) or BusyError."""
        idx = self._idx.get(ticker)
        if idx is None:
            idx = self._index(ticker)
        # Not live: the library's rule decides (closed, garbage, truncated
        # are unavailable: follow a successor or raise NoSegmentError).
        if ((self._state.value != 1 or self._gen.value != self.generation)
                and self._L.stk_seg_usable(self._h)):
            h = self._h
            self._unavailable()
            if self._h is not h:
                idx = self._index(ticker)
        r = self._qread(self._h, idx, self._qp)
        if r:
            if self._L.stk_seg_usable(self._h):
                self._unavailable()
                return self.quote(ticker)
            raise self._read_error(r, ticker)
        return _new_tuple(Quote, (ticker,) + self._unpack(self._q))

    def get(self, ticker, default=None):
        """quote(ticker), or `default` if unknown or never written."""
        try:
            return self.quote(ticker)
        except (UnknownTickerError, NoDataError):
            return default

    def quotes(self, tickers=None):
        """{ticker: Quote} for `tickers` (default: all); never-written ones left out."""
        out = {}
        for t in self.tickers() if tickers is None else tickers:
            try:
                out[t] = self.quote(t)
            except NoDataError:
                pass
        return out

    def history(self, ticker, n=None):
        """The last up-to-n ticks of `ticker` (default: the whole ring), oldest
        first, newest last; each a Quote whose seq is the tick number."""
        idx = self._index(ticker)
        cap = self.history_len
        n = cap if n is None else max(0, min(int(n), cap))
        if n == 0:
            return []
        buf = (_lib.StkQuote * n)()
        r = self._L.stk_history_read(self._h, idx, buf, n)
        if r < 0:
            raise self._read_error(r, ticker)
        unpack = self._unpack
        size = ctypes.sizeof(_lib.StkQuote)
        mv = memoryview(buf).cast("B")
        return [_new_tuple(Quote, (ticker,) + unpack(mv, i * size)) for i in range(r)]

    # ---- header figures ---------------------------------------------------

    @property
    def epoch(self):
        """The batch counter (even when no batch is being written)."""
        self._check()
        return self._L.stk_seg_epoch(self._h)

    @property
    def heartbeat_age(self):
        """Seconds since the producer's last heartbeat, or None if it never beat."""
        self._check()
        a = self._L.stk_seg_heartbeat_age_ns(self._h)
        return None if a == (1 << 64) - 1 else a / 1e9

    def info(self):
        """The header's figures as a dict."""
        self._check()
        h = self._hdr
        return {
            "name": self.name, "generation": h.generation,
            "state": STATE_NAMES.get(h.state, str(h.state)),
            "capacity": h.capacity, "history": h.history, "nsymbols": h.nsymbols,
            "epoch": self.epoch, "last_update_ns": h.last_update_ns,
            "producer_pid": h.producer_pid, "producer_restarts": h.producer_restarts,
            "producer_start_ns": h.producer_start_ns, "heartbeat_age": self.heartbeat_age,
            "ticks_total": h.ticks_total, "batches_total": h.batches_total,
            "bad_input": h.bad_input, "symbols_dropped": h.symbols_dropped,
            "created_ns": h.created_ns, "total_bytes": h.total_bytes,
        }

    # ---- waiting and updates --------------------------------------------

    def _try_follow(self):
        """Follow a replaced segment; False if the name has no segment now."""
        try:
            return self.refresh()
        except NoSegmentError:
            return False

    def wait(self, timeout=None):
        """Block until the producer finishes a new batch, at most `timeout`
        seconds (None: no limit). The GIL is released while blocked (futex in
        the segment header, no busy wait). Returns True if something changed
        (or the segment was replaced and re-opened), False on timeout.
        Signals (Ctrl-C) are handled promptly."""
        self._check()
        L = self._L
        deadline = None if timeout is None else _time.monotonic() + max(0.0, timeout)
        while True:
            if deadline is None:
                ms = _WAIT_SLICE_MS
            else:
                ms = int(min(_WAIT_SLICE_MS, max(0.0, deadline - _time.monotonic()) * 1000))
            closed = False
            if self._h is not None:
                r = L.stk_seg_wait(self._h, self._seen, ms)
                if r == 0:
                    self._seen = L.stk_seg_epoch(self._h)
                    return True
                closed = r == -_errno.ESTALE
                if r not in (-_errno.ETIMEDOUT, -_errno.EINTR, -_errno.ESTALE):
                    raise SeqtickError(f"wait on '{self.name}': {_lib.strerror(r)}", -r)
                if closed and not self.follow:
                    raise NoSegmentError(f"segment '{self.name}' was retired")
            if self.follow and (closed or L.stk_seg_replaced(self._h)):
                if self._try_follow() and L.stk_seg_usable(self._h) == 0:
                    return True
                if closed:  # no live successor yet: poll for one instead of spinning
                    _time.sleep(min(0.05, ms / 1000))
            if deadline is not None and _time.monotonic() >= deadline:
                return False

    def _seqs(self, n):
        return self._seqview[0:n * 8:8].tolist()

    def updates(self, tickers=None, snapshot=True, duration=None, idle_timeout=None,
                every=None):
        """Yield a Quote each time a ticker's record changes. First (if
        `snapshot`) every quote already written, then each change as the
        producer publishes it; a ticker that changed several times between two
        looks is yielded once, with its latest value (conflated, never a
        backlog). `tickers` limits it to those names; `duration` ends the
        iteration after that many seconds, `idle_timeout` after that long
        without any change. With `every`, None is also yielded every that
        many seconds (a hook for periodic work). Follows a replaced segment
        (starting again with its snapshot)."""
        self._check()
        want = None if tickers is None else set(tickers)
        for t in want or ():
            self._index(t)  # unknown tickers raise now, not later
        end = None if duration is None else _time.monotonic() + duration
        from_current = not snapshot  # first look: skip what is already there
        gen = last = names = None
        idle_since = _time.monotonic()
        next_tick = None if every is None else idle_since + every
        while True:
            if gen is not self._hdr:  # first pass, or a successor was followed
                gen, last, names = self._hdr, [], []
            L, h = self._L, self._h
            n = L.stk_seg_nsymbols(h)
            if len(last) < n:
                cur = self._seqs(n) if from_current else None
                for i in range(len(last), n):
                    nm = L.stk_seg_symbol(h, i)  # validated ASCII, or None: skipped
                    names.append(None if nm is None else nm.decode("ascii"))
                    last.append(cur[i] if cur else 0)
                from_current = False  # later symbols and successors: from their first quote
            seqs = self._seqs(n)
            changed = False
            if seqs != last:
                for i in range(n):
                    if seqs[i] == last[i]:
                        continue
                    name = names[i]
                    if name is None or (want is not None and name not in want):
                        last[i] = seqs[i]
                        continue
                    r = self._qread(h, i, self._qp)
                    if r and L.stk_seg_usable(h):
                        self._unavailable()  # follows a successor, or raises
                        break
                    if r == -_errno.ENODATA:
                        last[i] = seqs[i]
                        continue
                    if r:
                        raise self._read_error(r, name)
                    q = _new_tuple(Quote, (name,) + self._unpack(self._q))
                    last[i] = q[1]
                    changed = True
                    yield q
                    if self._h is not h:  # replaced while the caller held the yield
                        break
            now = _time.monotonic()
            if changed:
                idle_since = now
            if end is not None and now >= end:
                return
            if idle_timeout is not None and now - idle_since >= idle_timeout:
                return
            if next_tick is not None and now >= next_tick:
                next_tick = now + every
                yield None
                now = _time.monotonic()
            left = None if next_tick is None else max(0.0, next_tick - now)
            if end is not None:
                left = end - now if left is None else min(left, end - now)
            if idle_timeout is not None:
                il = idle_since + idle_timeout - now
                left = il if left is None else min(left, il)
            self.wait(left)

    def __iter__(self):
        return self.updates()

    def __repr__(self):
        st = "closed" if self._h is None else STATE_NAMES.get(self._state.value, "?")
        return f"<seqtick.Segment {self.name!r} gen={getattr(self, 'generation', '?')} {st}>"


from .store import Bar, Store  # noqa: E402  (the recorder's store; needs Quote)
