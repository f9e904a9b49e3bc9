# SPDX-License-Identifier: MIT
"""dashstub — a test-only stand-in for the HTTP face, for developing the dashboard.

Serves the real dashboard page (server/dashboard/index.html) at /, and fake
/health, /metrics, /v1/history/S and /v1/stream (SSE) in the server's shapes,
with prices on a random walk. Usage:
    python3 dashstub.py PORT [TICKERS] [TICKS_PER_S]
TICKERS is comma-separated (default AAPL,MSFT,GOOG,AMZN,NVDA,META,TSLA,IBM).
"""
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(HERE, "..", "..", "server", "dashboard", "index.html")
START = time.time()


class Market:
    def __init__(self, tickers, rate):
        self.tickers = tickers
        self.rate = rate
        self.cond = threading.Condition()
        self.seq = 0
        self.quotes = {}
        self.hist = {t: [] for t in tickers}
        for t in tickers:
            self._set(t, round(random.uniform(50, 500), 2))
        threading.Thread(target=self._run, daemon=True).start()

    def _set(self, t, price):
        self.seq += 1
        now = time.time()
        q = {"ticker": t, "price": price, "bid": round(price - 0.01, 2),
             "ask": round(price + 0.01, 2), "bid_size": 100, "ask_size": 100,
             "volume": self.seq * 10, "ts_ms": int(now * 1000), "ts_ns": int(now * 1e9),
             "age_ms": 0, "stale": False}
        self.quotes[t] = (self.seq, q)
        h = self.hist[t]
        h.append(dict(q, seq=self.seq))
        del h[:-256]

    def _run(self):
        period = 1.0 / self.rate
        nxt = time.monotonic()
        while True:
            nxt += period
            with self.cond:
                t = random.choice(self.tickers)
                p = self.quotes[t][1]["price"]
                self._set(t, round(max(1.0, p + random.choice((-1, 1)) * 0.01 *
                                       random.randint(1, 20)), 2))
                self.cond.notify_all()
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()


MARKET = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, code=200):
        self._send(code, "application/json", json.dumps(obj).encode())

    def do_GET(self):
        path, _, query = self.path.partition("?")
        args = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if path == "/":
            with open(PAGE, "rb") as f:
                self._send(200, "text/html; charset=utf-8", f.read())
        elif path == "/health":
            self._json({"status": "ok", "producer_alive": True, "heartbeat_age_ms": 12,
                        "generation": 1, "tickers": len(MARKET.tickers),
                        "uptime_s": int(time.time() - START),
                        "children": [{"name": "producer", "state": "running", "restarts": 0,
                                      "uptime_s": int(time.time() - START)},
                                     {"name": "server", "state": "running", "restarts": 0,
                                      "uptime_s": int(time.time() - START)}]})
        elif path == "/metrics":
            body = ("# TYPE seqtick_ticks_total counter\nseqtick_ticks_total %d\n"
                    "seqtick_connections{face=\"ndjson\"} 0\n"
                    "seqtick_connections{face=\"http\"} 2\n"
                    "seqtick_subscribers 1\nseqtick_slow_consumers_total 0\n" % MARKET.seq)
            self._send(200, "text/plain; version=0.0.4", body.encode())
        elif path.startswith("/v1/quotes/"):
            t = path[len("/v1/quotes/"):]
            if t not in MARKET.quotes:
                self._json({"error": {"code": "NOT_FOUND", "message": "unknown ticker"}}, 404)
                return
            self._json(MARKET.quotes[t][1])
        elif path.startswith("/v1/history/"):
            t = path[len("/v1/history/"):]
            if t not in MARKET.hist:
                self._json({"error": {"code": "NOT_FOUND", "message": "unknown ticker"}}, 404)
                return
            n = int(args.get("limit", "100") or 100)
            with MARKET.cond:
                ticks = list(MARKET.hist[t][-n:])
            self._json({"ticker": t, "ticks": ticks})
        elif path == "/v1/stream":
            self._stream()
        else:
            self._json({"error": {"code": "NOT_FOUND", "message": "no such path"}}, 404)

    def _stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        sent = {}
        last_write = time.monotonic()
        try:
            while True:
                out = []
                with MARKET.cond:
                    MARKET.cond.wait(0.5)
                    for t, (seq, q) in MARKET.quotes.items():
                        if sent.get(t) != seq:
                            sent[t] = seq
                            out.append("event: quote\nid: %d\ndata: %s\n\n" % (seq, json.dumps(q)))
                if not out and time.monotonic() - last_write > 1:
                    out.append(": heartbeat\n\n")
                if out:
                    self.wfile.write("".join(out).encode())
                    self.wfile.flush()
                    last_write = time.monotonic()
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    global MARKET
    port = int(sys.argv[1])
    tickers = (sys.argv[2] if len(sys.argv) > 2 else
               "AAPL,MSFT,GOOG,AMZN,NVDA,META,TSLA,IBM").split(",")
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 50.0
    MARKET = Market(tickers, rate)
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print("dashstub: listening on %d" % port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
