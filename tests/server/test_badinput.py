# SPDX-License-Identifier: MIT
"""Bad input: every kind is answered with the right error and the same
connection keeps serving (an over-long line is the one that closes)."""
import socket
import time
import unittest

import srvtest
import stktest

MAX_LINE = 1024


class BadInput(unittest.TestCase):
    def setUp(self):
        self.shm, self.w, self.srv = srvtest.stack(self, server={"max_line_bytes": MAX_LINE})
        self.c = self.srv.client()
        self.addCleanup(self.c.close)

    def still_serving(self):
        r = self.c.req("ping")
        self.assertEqual(r["type"], "response")

    def raw(self, data, code="BAD_REQUEST", id_=None, op=None):
        self.c.send_raw(data + b"\n")
        r = self.c.reply()
        self.assertIsNotNone(r, "connection closed")
        srvtest.error(self, r, code, op, id_)
        self.still_serving()
        return r

    def test_malformed_json(self):
        for bad in (b'{"v":1,', b'{"v":1 "id":2}', b"{'v':1}", b'{"v":1,"id":1,"type":"ping",}',
                    b"nonsense", b'{"v":tru,"id":1,"type":"ping"}', b'{"v":01,"id":1,"type":"ping"}',
                    b'{"v":1,"id":1,"type":"ping"}{}', b'{"v":1,"id":1,"type":"ping"} x',
                    b'{"v":1,"id":1,"type":"ping","v":1}', b'\x01{}', b"}"):
            self.raw(bad)

    def test_not_an_object(self):
        for bad in (b"[1,2]", b'"ping"', b"42", b"null", b"true"):
            r = self.raw(bad)
            self.assertIn("object", r["error"]["message"])

    def test_wrong_field_types(self):
        cases = [
            (b'{"v":"1","id":1,"type":"ping"}', 1, "ping"),
            (b'{"v":true,"id":1,"type":"ping"}', 1, "ping"),
            (b'{"v":1,"id":1,"type":5}', 1, None),
            (b'{"v":1,"id":{"a":1},"type":"ping"}', None, "ping"),
            (b'{"v":1,"id":[1],"type":"ping"}', None, "ping"),
            (b'{"v":1,"id":1,"type":"get_quote","ticker":5}', 1, "get_quote"),
            (b'{"v":1,"id":1,"type":"get_quote","ticker":["AAPL"]}', 1, "get_quote"),
            (b'{"v":1,"id":1,"type":"get_quotes","tickers":"AAPL"}', 1, "get_quotes"),
            (b'{"v":1,"id":1,"type":"get_quotes","tickers":[1]}', 1, "get_quotes"),
            (b'{"v":1,"id":1,"type":"get_history","ticker":"AAPL","limit":"3"}', 1, "get_history"),
            (b'{"v":1,"id":1,"type":"get_history","ticker":"AAPL","limit":-1}', 1, "get_history"),
            (b'{"v":1,"id":1,"type":"get_history","ticker":"AAPL","limit":1.5}', 1, "get_history"),
            (b'{"v":1,"id":1,"type":"subscribe","tickers":"AAPL"}', 1, "subscribe"),
            (b'{"v":1,"id":1,"type":"subscribe","tickers":["AAPL"],"throttle_ms":"x"}', 1,
             "subscribe"),
            (b'{"v":1,"id":1,"type":"unsubscribe","tickers":5}', 1, "unsubscribe"),
        ]
        for data, id_, op in cases:
            self.raw(data, id_=id_, op=op)

    def test_unknown_type(self):
        r = self.raw(b'{"v":1,"id":"u","type":"get_everything"}', id_="u", op="get_everything")
        self.assertIn("unknown type", r["error"]["message"])

    def test_unsupported_v(self):
        for v in (b"2", b"0", b"-1", b"1.0", b"100000000000000000000"):
            r = self.raw(b'{"v":' + v + b',"id":3,"type":"ping"}', id_=3, op="ping")
            self.assertIn("version", r["error"]["message"])

    def test_invalid_utf8(self):
        for bad in (b'{"v":1,"id":"\xff","type":"ping"}', b'{"v":1,"id":"\xc0\xaf","type":"ping"}',
                    b'{"v":1,"id":"\xed\xa0\x80","type":"ping"}',
                    b'{"v":1,"id":"\\ud800","type":"ping"}'):
            self.raw(bad)
        # valid UTF-8 is fine and echoed
        self.c.send_raw('{"v":1,"id":"caf\u00e9 \U0001F600","type":"ping"}\n'.encode())
        self.assertEqual(self.c.reply()["id"], "caf\u00e9 \U0001F600")

    def test_nul_and_control_bytes(self):
        r = self.raw(b'{"v":1,"id":1,"type":"ping\x00"}')
        self.assertIn("NUL", r["error"]["message"])
        self.raw(b'\x00')
        self.raw(b'{"v":1,"id":"a\x01b","type":"ping"}')

    def test_deep_nesting(self):
        self.c.s.settimeout(30)
        deep = b"[" * 20000 + b"]" * 20000
        r = self.raw(deep[:MAX_LINE // 2] + deep[-MAX_LINE // 2:])
        self.assertIn("nesting", r["error"]["message"])
        srv2 = None
        # the real 20,000-deep lines need a server that accepts 100 KB lines
        shm = stktest.unique_shm("deep")
        self.addCleanup(stktest.shm_remove, shm)
        srv2 = srvtest.Server(shm, server={"max_line_bytes": 262144})
        self.addCleanup(srv2.close)
        c2 = srv2.client(timeout=30)
        self.addCleanup(c2.close)
        for doc in (deep, b'{"v":1,"id":1,"type":"ping","x":' + b"{\"a\":" * 20000 + b"1" +
                    b"}" * 20001):
            c2.send_raw(doc + b"\n")
            r = c2.reply(30)
            srvtest.error(self, r, "BAD_REQUEST")
            self.assertIn("nesting", r["error"]["message"])
        self.assertEqual(c2.req("ping")["type"], "response")

    def test_line_too_long_closes(self):
        # exactly max_line_bytes is served
        base = b'{"v":1,"id":1,"type":"ping","pad":""}'
        line = base[:-2] + b"x" * (MAX_LINE - len(base)) + b'"}'
        self.assertEqual(len(line), MAX_LINE)
        self.c.send_raw(line + b"\n")
        self.assertEqual(self.c.reply()["type"], "response")
        # one more byte: BAD_REQUEST, then the server closes
        line = base[:-2] + b"x" * (MAX_LINE + 1 - len(base)) + b'"}'
        self.c.send_raw(line + b"\n")
        r = self.c.reply()
        srvtest.error(self, r, "BAD_REQUEST")
        self.assertIn("too long", r["error"]["message"])
        self.assertTrue(self.c.eof())
        # a client streaming an endless line without newline is cut too
        c2 = self.srv.client()
        self.addCleanup(c2.close)
        try:
            c2.send_raw(b"x" * (MAX_LINE * 4))
        except OSError:
            pass
        r = c2.reply()
        srvtest.error(self, r, "BAD_REQUEST")
        self.assertTrue(c2.eof())
        # the server still serves others
        c3 = self.srv.client()
        self.addCleanup(c3.close)
        self.assertEqual(c3.req("ping")["type"], "response")

    def test_split_byte_by_byte(self):
        data = b'{"v":1,"id":"split","type":"get_quote","ticker":"AAPL"}\n'
        for i in range(len(data)):
            self.c.send_raw(data[i:i + 1])
            time.sleep(0.002)
        r = self.c.reply()
        self.assertEqual(r["id"], "split")
        self.assertEqual(r["price"], 100.25)

    def test_pipelined_2000(self):
        n = 2000
        reqs = []
        for i in range(n):
            if i % 3 == 0:
                reqs.append(b'{"v":1,"id":%d,"type":"get_quote","ticker":"MSFT"}' % i)
            elif i % 3 == 1:
                reqs.append(b'{"v":1,"id":%d,"type":"ping"}' % i)
            else:
                reqs.append(b'{"v":1,"id":%d,"type":"bogus"}' % i)
        self.c.send_raw(b"\n".join(reqs) + b"\n")  # one write
        for i in range(n):
            r = self.c.reply(30)
            self.assertEqual(r["id"], i)
            self.assertEqual(r["type"], "error" if i % 3 == 2 else "response")
        self.still_serving()

    def test_crlf_and_empty_lines(self):
        self.c.send_raw(b'\n\r\n   \n{"v":1,"id":"crlf","type":"ping"}\r\n\n\n'
                        b'{"v":1,"id":"lf","type":"ping"}\n')
        self.assertEqual(self.c.reply()["id"], "crlf")
        self.assertEqual(self.c.reply()["id"], "lf")
        # empty lines got no answer: the next reply is for the next request
        r = self.c.req("ping")
        self.assertEqual(r["type"], "response")

    def test_half_close_still_answered(self):
        c = self.srv.client()
        self.addCleanup(c.close)
        c.send_raw(b'{"v":1,"id":1,"type":"ping"}\n{"v":1,"id":2,"type":"ping"}')
        c.s.shutdown(socket.SHUT_WR)
        self.assertEqual(c.reply()["id"], 1)
        self.assertEqual(c.reply()["id"], 2)  # last line without newline at EOF
        self.assertTrue(c.eof())


if __name__ == "__main__":
    stktest.main_unittest()
