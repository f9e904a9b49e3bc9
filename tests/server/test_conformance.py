# SPDX-License-Identifier: MIT
"""Protocol v1 conformance: every operation and error code of docs/protocol.md
against the real server on a real segment."""
import time
import unittest

import srvtest
import stktest


class Conformance(unittest.TestCase):
    def setUp(self):
        self.t0 = time.monotonic()  # the server starts after this
        self.shm, self.w, self.srv = srvtest.stack(self)
        self.c = self.srv.client()
        self.addCleanup(self.c.close)

    def test_ping(self):
        t0 = int(time.time() * 1000)
        r = self.c.req("ping")
        srvtest.ok_response(self, r, "ping")
        self.assertLessEqual(abs(r["ts_ms"] - t0), 5000)

    def test_list_tickers(self):
        r = self.c.req("list_tickers")
        srvtest.ok_response(self, r, "list_tickers")
        self.assertEqual(r["tickers"], ["AAPL", "MSFT", "NVDA"])

    def test_get_quote_fields_and_exact_price(self):
        r = self.c.req("get_quote", ticker="MSFT")
        srvtest.ok_response(self, r, "get_quote")
        for k in ("ticker", "price", "bid", "ask", "bid_size", "ask_size", "volume", "ts_ms",
                  "ts_ns", "age_ms", "stale"):
            self.assertIn(k, r)
        self.assertEqual(r["ticker"], "MSFT")
        self.assertEqual(r["bid_size"], 101)
        self.assertEqual(r["ask_size"], 201)
        self.assertIs(r["stale"], False)
        self.assertEqual(r["ts_ms"], r["ts_ns"] // 1000000)
        # exact decimals: the raw text, not a float round trip
        for price, text in (("189.25", '"price":189.25,'), ("0.00000001", '"price":0.00000001,'),
                            ("-5.5", '"price":-5.5,'),
                            ("92233720368.54775807", '"price":92233720368.54775807,'),
                            ("3", '"price":3,')):
            self.w.cmd(f"tick MSFT {price}")
            self.c.send({"v": 1, "id": "raw", "type": "get_quote", "ticker": "MSFT"})
            line = self.c.line().decode()
            self.assertIn(text, line)

    def test_get_quotes(self):
        r = self.c.req("get_quotes", tickers=["NVDA", "NOPE", "AAPL"])
        srvtest.ok_response(self, r, "get_quotes")
        q = r["quotes"]
        self.assertEqual(len(q), 3)
        self.assertEqual(q[0]["ticker"], "NVDA")
        self.assertEqual(str(q[0]["price"]), "102.25")
        self.assertEqual(q[1], {"ticker": "NOPE", "error": "NOT_FOUND"})
        self.assertEqual(q[2]["price"], 100.25)
        r = self.c.req("get_quotes", tickers=[])
        self.assertEqual(r["quotes"], [])

    def test_get_snapshot_epoch(self):
        r = self.c.req("get_snapshot_epoch")
        srvtest.ok_response(self, r, "get_snapshot_epoch")
        e0 = r["epoch"]
        self.assertEqual(e0 % 2, 0)
        self.assertLessEqual(abs(r["last_update_ms"] - time.time() * 1000), 60000)
        self.w.cmd("tick AAPL 1")
        r = self.c.req("get_snapshot_epoch")
        self.assertGreater(r["epoch"], e0)

    def test_get_history(self):
        self.w.cmd("tick AAPL 101.5")
        self.w.cmd("tick AAPL 102.75")
        r = self.c.req("get_history", ticker="AAPL", limit=3)
        srvtest.ok_response(self, r, "get_history")
        ticks = r["ticks"]
        self.assertEqual([t["price"] for t in ticks], [100.25, 101.5, 102.75])  # newest last
        self.assertEqual([t["seq"] for t in ticks], [0, 1, 2])
        r = self.c.req("get_history", ticker="AAPL", limit=1)
        self.assertEqual(len(r["ticks"]), 1)
        self.assertEqual(r["ticks"][0]["price"], 102.75)
        r = self.c.req("get_history", ticker="AAPL")  # limit defaults to shm.history
        self.assertEqual(len(r["ticks"]), 3)
        r = self.c.req("get_history", ticker="AAPL", limit=65)  # > history 64
        srvtest.error(self, r, "BAD_REQUEST", "get_history", r["id"])
        r = self.c.req("get_history", ticker="ZZZ", limit=2)
        srvtest.error(self, r, "NOT_FOUND", "get_history", r["id"])

    def test_subscribe_and_unsubscribe_acks(self):
        r = self.c.req("subscribe", tickers=["AAPL", "NVDA"])
        srvtest.ok_response(self, r, "subscribe")
        self.assertEqual(r["tickers"], ["AAPL", "NVDA"])
        self.assertEqual([q["ticker"] for q in r["quotes"]], ["AAPL", "NVDA"])
        self.assertEqual(r["quotes"][0]["price"], 100.25)
        self.assertEqual(r["subscriptions"], 2)
        r = self.c.req("unsubscribe", tickers=["AAPL"])
        srvtest.ok_response(self, r, "unsubscribe")
        self.assertEqual(r["removed"], 1)
        self.assertEqual(r["subscriptions"], 1)
        r = self.c.req("unsubscribe", tickers="*")
        self.assertEqual(r["subscriptions"], 0)
        r = self.c.req("subscribe", tickers=[], throttle_ms=100)  # nothing, and no crash
        self.assertEqual((r["quotes"], r["subscriptions"]), ([], 0))
        r = self.c.req("unsubscribe", tickers=["AAPL", "NOPE"])  # not subscribed: ignored
        self.assertEqual((r["removed"], r["subscriptions"]), (0, 0))
        self.assertEqual(self.c.req("ping")["type"], "response")

    def test_health(self):
        r = self.c.req("health")
        srvtest.ok_response(self, r, "health")
        self.assertIs(r["producer_alive"], True)
        self.assertLess(r["heartbeat_age_ms"], 1000)
        self.assertEqual(r["generation"], 1)
        self.assertEqual(r["nsymbols"], 3)
        self.assertEqual(r["connections"], 1)
        # uptime_s: whole seconds since this server started, so no more than
        # this test has run, and it counts up with the clock.
        u0 = r["uptime_s"]
        self.assertIsInstance(u0, int)
        self.assertLessEqual(u0, time.monotonic() - self.t0 + 1)
        start = time.monotonic()
        u1 = u0
        while u1 == u0 and time.monotonic() - start < 10:
            time.sleep(0.1)
            u1 = self.c.req("health")["uptime_s"]
        self.assertGreater(u1, u0)
        self.assertLessEqual(u1 - u0, time.monotonic() - start + 1)
        self.assertLessEqual(u1, time.monotonic() - self.t0 + 1)

    def test_id_echo(self):
        for rid in ("abc", 7, -1.5e3, None, True, "\u00e9\u2028", 12345678901234567890):
            self.c.send({"v": 1, "id": rid, "type": "ping"})
            r = self.c.reply()
            self.assertEqual(r["id"], rid)
            self.assertEqual(r["type"], "response")

    def test_not_found(self):
        r = self.c.req("get_quote", ticker="ZZZZ")
        srvtest.error(self, r, "NOT_FOUND", "get_quote", r["id"])
        r = self.c.req("get_quote", ticker="x" * 200)
        srvtest.error(self, r, "NOT_FOUND", "get_quote", r["id"])
        r = self.c.req("subscribe", tickers=["AAPL", "ZZZZ"])
        srvtest.error(self, r, "NOT_FOUND", "subscribe", r["id"])
        self.assertEqual(self.c.req("health")["subscribers"], 0)  # all or nothing

    def test_bad_request_missing_fields(self):
        for obj in ({"id": 1, "type": "ping"}, {"v": 1, "type": "ping"}, {"v": 1, "id": 1}, {}):
            self.c.send(obj)
            r = self.c.reply()
            srvtest.error(self, r, "BAD_REQUEST", obj.get("type"), obj.get("id"))
            self.assertEqual(r["error"]["message"], "Missing required fields")
        r = self.c.req("get_quote")
        srvtest.error(self, r, "BAD_REQUEST", "get_quote", r["id"])
        r = self.c.req("get_quotes")
        srvtest.error(self, r, "BAD_REQUEST", "get_quotes", r["id"])

    def test_stale_and_producer_down(self):
        self.c.close()
        shm, w, srv = srvtest.stack(self, server={"freshness_ms": 800})
        c = srv.client()
        self.addCleanup(c.close)
        r = c.req("get_quote", ticker="AAPL")
        self.assertIs(r["stale"], False)
        time.sleep(1.2)
        r = c.req("get_quote", ticker="AAPL")
        self.assertIs(r["stale"], True)
        self.assertGreaterEqual(r["age_ms"], 800)
        w.cmd("tick AAPL 5")
        r = c.req("get_quote", ticker="AAPL")
        self.assertIs(r["stale"], False)
        # heartbeat older than 3 x producer.heartbeat_ms (100): producer down
        w.cmd("hb_off")
        stktest.wait_for(lambda: not c.req("health")["producer_alive"], timeout=5,
                         what="producer_alive false")
        w.cmd("tick AAPL 6")
        r = c.req("get_quote", ticker="AAPL")
        self.assertIs(r["stale"], True)
        self.assertEqual(r["price"], 6)
        w.cmd("hb_on")
        stktest.wait_for(lambda: c.req("health")["producer_alive"], timeout=5, what="alive again")


if __name__ == "__main__":
    stktest.main_unittest()
