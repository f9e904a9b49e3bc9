#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""csv_replay.py — an example seqtick ingestor: replays CSV files as JSON lines.

seqtick-producer runs any program as a feed (producer.feed = exec:COMMAND)
and reads one JSON object per line from its stdout:

    {"symbol":"AAPL","price":"189.25","bid":"189.24","ask":"189.26",
     "bid_size":300,"ask_size":200,"volume":123456,"ts_ns":1700000000000000000}

symbol and price are required; prices are decimal strings (exact: never let
a float round them). Anything written to stderr goes to the producer's log,
prefixed with "ingestor[PID]:". The producer restarts the program when it
exits and stops it with SIGTERM (then SIGKILL after producer.ingest_grace_ms).

This one reads timestamp,symbol,price,volume[,bid,ask,bid_size,ask_size]
rows (the same format as the built-in csv: feed, ms timestamps assumed unless
--unit says otherwise) and prints them at --speed (1 = real time, 0 = as fast
as possible), optionally forever (--loop), with the current time as ts_ns so
the quotes look live. Standard library only.

    [producer]
    feed = exec:python3 examples/ingestors/csv_replay.py --loop examples/data/sample/aapl_msft.csv

A real ingestor would poll a quote API or read a websocket in the same shape:
print one line per quote, flush, and exit non-zero on a fatal error.
"""
import argparse
import csv
import json
import signal
import sys
import time

UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def rows(paths, unit):
    out = []
    for path in paths:
        with open(path, newline="") as f:
            for lineno, rec in enumerate(csv.reader(f), 1):
                if not rec or rec[0].startswith("#"):
                    continue
                if lineno == 1 and not rec[0].strip()[:1].isdigit():
                    continue  # header
                try:
                    ts = int(float(rec[0]) * UNITS[unit])
                    out.append((ts, [x.strip() for x in rec]))
                except (ValueError, IndexError):
                    print(f"{path}:{lineno}: bad row skipped", file=sys.stderr)
    out.sort(key=lambda r: r[0])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", help="CSV files")
    ap.add_argument("--speed", type=float, default=1.0, help="1 real time, 0 as fast as possible")
    ap.add_argument("--loop", action="store_true", help="start over at the end")
    ap.add_argument("--unit", choices=UNITS, default="ms", help="timestamp unit (default ms)")
    args = ap.parse_args()
    # SIGTERM: leave at once, quietly (the producer waits for us to go).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    data = rows(args.files, args.unit)
    if not data:
        print("no rows to replay", file=sys.stderr)
        return 1
    print(f"replaying {len(data)} rows from {len(args.files)} file(s)", file=sys.stderr)
    out = sys.stdout
    while True:
        start, t0 = time.monotonic(), data[0][0]
        for ts, rec in data:
            if args.speed > 0:
                delay = (ts - t0) / 1e9 / args.speed - (time.monotonic() - start)
                if delay > 0:
                    out.flush()
                    time.sleep(delay)
            msg = {"symbol": rec[1], "price": rec[2], "ts_ns": time.time_ns()}
            if len(rec) > 3 and rec[3]:
                msg["volume"] = int(rec[3])
            for i, key in ((4, "bid"), (5, "ask")):
                if len(rec) > i and rec[i]:
                    msg[key] = rec[i]
            for i, key in ((6, "bid_size"), (7, "ask_size")):
                if len(rec) > i and rec[i]:
                    msg[key] = int(rec[i])
            out.write(json.dumps(msg, separators=(",", ":")) + "\n")
        out.flush()
        if not args.loop:
            return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the producer went away
        sys.exit(0)
