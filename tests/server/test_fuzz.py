# SPDX-License-Identifier: MIT
"""Mutation fuzzing of protocol v1 (fixed seeds, a few seconds): random field
values and types, dropped fields, flipped bytes, truncated and doubled lines,
CRLF, over 8 connections with subscriptions and a ticking writer. The server
must not crash (nor, under ASan/UBSan, report anything) and every connection
must still answer a ping at the end, in order."""
import json
import random
import time
import unittest

import srvtest
import stktest

BASE = [
    {"v": 1, "id": 1, "type": "get_quote", "ticker": "AAPL"},
    {"v": 1, "id": "x", "type": "get_quotes", "tickers": ["AAPL", "MSFT", "ZZ"]},
    {"v": 1, "id": 2, "type": "subscribe", "tickers": ["AAPL"], "throttle_ms": 10},
    {"v": 1, "id": 3, "type": "subscribe", "tickers": "*"},
    {"v": 1, "id": 4, "type": "unsubscribe", "tickers": ["AAPL"]},
    {"v": 1, "id": 5, "type": "unsubscribe", "tickers": "*"},
    {"v": 1, "id": 6, "type": "get_history", "ticker": "NVDA", "limit": 5},
    {"v": 1, "id": 7, "type": "health"},
    {"v": 1, "id": 8, "type": "list_tickers"},
    {"v": 1, "id": 9, "type": "get_snapshot_epoch"},
    {"v": 1, "id": 10, "type": "ping"},
]
VALUES = [None, True, False, 0, -1, 1e308, "", "*", [], {}, [1], ["*"], "AAPL", 2**70, "\u0000",
          "\ud7ff\u00e9", [[[]]], 64, 65, 1.5, {"a": [1, {"b": None}]}, "x" * 40]
KEYS = ["ticker", "tickers", "limit", "throttle_ms", "id", "v", "type", "zz"]


class Fuzz(unittest.TestCase):
    def run_seed(self, seed, seconds):
        rnd = random.Random(seed)
        shm, w, srv = srvtest.stack(self, rate=2000, server={"max_line_bytes": 4096})
        conns = [srv.client() for _ in range(8)]
        for c in conns:
            self.addCleanup(c.close)
        end = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < end:
            c = rnd.choice(conns)
            m = dict(rnd.choice(BASE))
            for _ in range(rnd.randint(0, 3)):
                k = rnd.choice(list(m) + KEYS)
                if rnd.random() < 0.2:
                    m.pop(k, None)
                else:
                    m[k] = rnd.choice(VALUES)
            data = json.dumps(m).encode()
            r = rnd.random()
            if r < 0.2:
                i = rnd.randrange(len(data))
                b = rnd.randrange(256)
                if b != 10:  # a newline would only split the line
                    data = data[:i] + bytes([b]) + data[i + 1:]
            elif r < 0.3:
                data = data[:rnd.randrange(len(data) + 1)]
            elif r < 0.35:
                data = data * rnd.randint(2, 3)
            c.send_raw(data + (b"\r\n" if rnd.random() < 0.1 else b"\n"))
            sent += 1
            if rnd.random() < 0.3:  # read now and then, so output never backs up
                c.s.settimeout(0.001)
                try:
                    while c.s.recv(1 << 20):
                        pass
                except OSError:
                    pass
            self.assertIsNone(srv.p.poll(), "server died")
        for i, c in enumerate(conns):
            c.s.settimeout(30)
            c.buf = b""
            c.send_raw(b'{"v":1,"id":"end","type":"ping"}\n')
            while True:
                line = c.line(30)
                self.assertIsNotNone(line, f"connection {i} closed")
                if b'"id":"end"' in line:
                    break
        h = srv.client()
        self.addCleanup(h.close)
        health = h.req("health")
        print(f"seed {seed}: {sent} lines sent, server counted {health['requests']} requests, "
              f"{health['errors']} errors")
        self.assertGreater(health["requests"], 100)
        self.assertGreater(health["errors"], 10)

    def test_seed_1(self):
        self.run_seed(1, 5)

    def test_seed_2(self):
        self.run_seed(2, 5)


if __name__ == "__main__":
    stktest.main_unittest()
