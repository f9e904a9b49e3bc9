# SPDX-License-Identifier: MIT
"""strategylib — what the example strategies share: finding the seqtick
package, the common options (--shm, --seconds, --tickers), waiting for the
segment to appear, clean exit on SIGTERM (the supervisor's stop), and
timestamped output lines.
"""
import argparse
import os
import signal
import sys
import time

try:
    import seqtick
except ImportError:  # run from a checkout: use clients/python next to us
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients",
                                    "python"))
    import seqtick  # noqa: E402

PROG = os.path.splitext(os.path.basename(sys.argv[0]))[0]


def log(msg):
    """One line to stdout, UTC timestamp first, flushed (a pipe under the
    supervisor is block-buffered otherwise)."""
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"
    print(f"{stamp} {PROG}: {msg}", flush=True)


def parser(description):
    p = argparse.ArgumentParser(prog=PROG, description=description)
    p.add_argument("--shm", default=os.environ.get("SEQTICK_SHM", "/seqtick"),
                   help="segment name (default: $SEQTICK_SHM or /seqtick)")
    p.add_argument("--seconds", type=float, default=0,
                   help="stop after this many seconds (default 0: run until stopped)")
    p.add_argument("--tickers", default="",
                   help="comma-separated tickers to trade (default: every ticker)")
    return p


def _on_term(signum, frame):
    raise SystemExit(0)


def open_segment(args, deadline):
    """Open args.shm, waiting for it to appear (the producer may start after
    us under the supervisor). Returns a Segment, or None if the deadline
    passed first."""
    said = False
    while True:
        try:
            return seqtick.Segment(args.shm)
        except seqtick.NoSegmentError as e:
            if not said:
                log(f"waiting for the segment: {e}")
                said = True
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(0.2)


def run(args, on_quote, on_start=None, on_stop=None, on_idle=None, idle_every=1.0):
    """Attach to the segment and feed every updated Quote to on_quote(q) until
    --seconds pass or SIGTERM/SIGINT. on_idle() is called about every
    `idle_every` seconds. Returns the process exit code."""
    signal.signal(signal.SIGTERM, _on_term)
    end = time.monotonic() + args.seconds if args.seconds > 0 else None
    wanted = [t for t in args.tickers.split(",") if t] or None
    seg = None
    try:
        seg = open_segment(args, end)
        if seg is None:
            log(f"no segment {args.shm} within {args.seconds}s")
            return 111
        if wanted:
            missing = [t for t in wanted if t not in seg]
            if missing:
                log(f"unknown tickers in {args.shm}: {', '.join(missing)}")
                return 100
        names = wanted or seg.tickers()
        log(f"watching {len(names)} tickers on {args.shm} (generation {seg.generation})")
        if on_start:
            on_start(seg)
        while end is None or time.monotonic() < end:
            left = None if end is None else max(0.0, end - time.monotonic())
            try:
                for q in seg.updates(tickers=wanted, duration=left, every=idle_every):
                    if q is not None:
                        on_quote(q)
                    elif on_idle:
                        on_idle()
            except seqtick.NoSegmentError as e:
                log(f"segment gone ({e}); waiting for it to come back")
                seg.close()
                seg = open_segment(args, end)
                if seg is None:
                    break
            except seqtick.BusyError as e:
                log(f"skipping a busy record: {e}")
                time.sleep(0.1)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if on_stop:
            on_stop()
        if seg is not None:
            seg.close()
