# SPDX-License-Identifier: MIT
"""The HTTP/1.1 face: every REST endpoint and error code against the real
server on a real segment, with curl, http.client and urllib as clients, and
the bad input it must refuse while it keeps serving others."""
import base64
import calendar
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import srvtest
import stktest


def http_port(srv):
    """The HTTP listener's port: the second 'listening on' line."""
    def find():
        m = re.findall(r"listening on 127\.0\.0\.1:(\d+)", srv.output())
        return m[1] if len(m) >= 2 else None
    return int(stktest.wait_for(find, timeout=15, what="http listener"))


def raw(port, data, timeout=10, shut=True):
    """Send bytes on a fresh connection, read until the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def status_of(resp):
    return int(resp.split(b" ", 2)[1])


def body_of(resp):
    return json.loads(resp.split(b"\r\n\r\n", 1)[1])


class HttpBase(unittest.TestCase):
    def setUp(self):
        self.shm, self.w, self.srv = srvtest.stack(
            self, server={"http_listen": "127.0.0.1:0"})
        self.port = http_port(self.srv)

    def conn(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.addCleanup(c.close)
        return c

    def get(self, path, method="GET", c=None):
        c = c or self.conn()
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        return r, body

    def get_json(self, path, status=200):
        r, body = self.get(path)
        self.assertEqual(r.status, status, body)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        return json.loads(body)

    def assert_error(self, path, status, code=None, method="GET"):
        r, body = self.get(path, method)
        self.assertEqual(r.status, status, body)
        e = json.loads(body)["error"]
        self.assertIsInstance(e["message"], str)
        if code:
            self.assertEqual(e["code"], code)
        return e

    def assert_serving(self):
        """Another client still gets an answer."""
        self.assertEqual(self.get_json("/v1/quotes/AAPL")["ticker"], "AAPL")


class Endpoints(HttpBase):
    def test_health_ok_then_down(self):
        h = self.get_json("/health")
        self.assertEqual(h["status"], "ok")
        self.assertIs(h["producer_alive"], True)
        for k in ("heartbeat_age_ms", "generation", "tickers", "uptime_s"):
            self.assertIn(k, h)
        self.assertEqual(h["tickers"], 3)
        self.w.stop()
        stktest.shm_remove(self.shm)
        h = stktest.wait_for(lambda: (lambda r: r if r[0].status == 503 else None)(
            self.get("/health")), timeout=20, what="health 503")
        self.assertIn(json.loads(h[1])["status"], ("degraded", "down"))

    def test_symbols(self):
        self.assertEqual(self.get_json("/symbols"),
                         {"symbols": [{"symbol": "AAPL"}, {"symbol": "MSFT"},
                                      {"symbol": "NVDA"}]})

    def test_price_latest(self):
        self.w.cmd("tick MSFT 189.25")
        before = int(time.time() * 1000)
        p = self.get_json("/price/latest?symbol=MSFT")
        self.assertEqual(set(p), {"symbol", "price", "bid", "ask", "volume", "timestamp",
                                  "ts_ms", "stale"})
        self.assertEqual(p["symbol"], "MSFT")
        self.assertEqual(str(p["price"]), "189.25")
        self.assertIs(p["stale"], False)
        self.assertLessEqual(abs(p["ts_ms"] - before), 10000)
        self.assertRegex(p["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        t = time.strptime(p["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")
        self.assertEqual(calendar.timegm(t), p["ts_ms"] // 1000)
        self.assertEqual(int(p["timestamp"][20:23]), p["ts_ms"] % 1000)
        self.assert_error("/price/latest?symbol=NOPE", 404, "NOT_FOUND")
        self.assert_error("/price/latest", 400, "BAD_REQUEST")
        self.assert_error("/price/latest?symbol=%ZZ", 404)

    def test_quotes(self):
        q = self.get_json("/v1/quotes/NVDA")
        for k in ("ticker", "price", "bid", "ask", "bid_size", "ask_size", "volume", "ts_ms",
                  "ts_ns", "age_ms", "stale"):
            self.assertIn(k, q)
        self.assertEqual(q["ticker"], "NVDA")
        self.assertEqual(str(q["price"]), "102.25")
        allq = self.get_json("/v1/quotes")["quotes"]
        self.assertEqual([x["ticker"] for x in allq], ["AAPL", "MSFT", "NVDA"])
        self.assert_error("/v1/quotes/NOPE", 404, "NOT_FOUND")
        self.assert_error("/v1/quotes/" + "X" * 40, 404, "NOT_FOUND")

    def test_history(self):
        for p in ("1.5", "2.5", "3.5"):
            self.w.cmd(f"tick AAPL {p}")
        h = self.get_json("/v1/history/AAPL?limit=2")
        self.assertEqual(h["ticker"], "AAPL")
        self.assertEqual([str(t["price"]) for t in h["ticks"]], ["2.5", "3.5"])
        self.assertEqual(len(self.get_json("/v1/history/AAPL")["ticks"]), 4)
        self.assert_error("/v1/history/AAPL?limit=x", 400, "BAD_REQUEST")
        self.assert_error("/v1/history/AAPL?limit=100000", 400, "BAD_REQUEST")
        self.assert_error("/v1/history/NOPE", 404, "NOT_FOUND")

    def test_bars_without_store(self):
        e = self.assert_error("/v1/bars/AAPL?interval=1m", 503)
        self.assertIn("recorder", e["message"])

    def test_metrics(self):
        self.get("/v1/quotes/AAPL")
        r, body = self.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        text = body.decode()
        vals = {}
        for line in text.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) seqtick_\w+ ")
                continue
            m = re.match(r'^(seqtick_\w+(?:\{[a-z]+="[^"]*"\})?) (-?[0-9.]+)$', line)
            self.assertTrue(m, line)
            vals[m.group(1)] = float(m.group(2))
        self.assertGreaterEqual(vals["seqtick_ticks_total"], 3)
        self.assertEqual(vals["seqtick_producer_alive"], 1)
        self.assertGreaterEqual(vals['seqtick_connections{face="http"}'], 1)
        self.assertEqual(vals['seqtick_http_requests_total{endpoint="quote"}'], 1)
        self.assertEqual(vals['seqtick_http_requests_total{endpoint="metrics"}'], 1)
        for k in ("seqtick_generation", "seqtick_heartbeat_age_seconds",
                  "seqtick_slow_consumers_total", "seqtick_subscribers",
                  "seqtick_errors_total", 'seqtick_http_responses_total{code="404"}'):
            self.assertIn(k, vals)

    def test_metrics_by_op_and_code(self):
        """Operations and their error codes are counted for every face: a
        get_quote over NDJSON (its fast path), one over HTTP, an unknown
        ticker and a bars request without a store."""
        def metrics():
            _, body = self.get("/metrics")
            return {m.group(1): float(m.group(2)) for m in re.finditer(
                r'^(seqtick_op_(?:requests|errors)_total\{[a-z]+="\w+"\}) ([0-9.]+)$',
                body.decode(), re.M)}
        before = metrics()
        self.assertEqual(before['seqtick_op_requests_total{op="get_quote"}'], 0)
        self.assertIn('seqtick_op_errors_total{code="SLOW_CONSUMER"}', before)
        nd = self.srv.client()
        self.addCleanup(nd.close)
        self.assertEqual(nd.req("get_quote", ticker="AAPL")["type"], "response")
        self.assertEqual(nd.req("get_quote", ticker="NOPE")["error"]["code"], "NOT_FOUND")
        self.get("/v1/quotes/MSFT")
        self.assert_error("/v1/bars/AAPL?interval=1m", 503)
        after = metrics()
        self.assertEqual(after['seqtick_op_requests_total{op="get_quote"}'], 3)
        self.assertEqual(after['seqtick_op_requests_total{op="get_bars"}'], 1)
        self.assertEqual(after['seqtick_op_errors_total{code="NOT_FOUND"}'], 1)
        self.assertEqual(after['seqtick_op_errors_total{code="UNAVAILABLE"}'], 1)

    def test_dashboard_page(self):
        r, body = self.get("/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/html"))
        self.assertIn(b"<html", body.lower())

    def test_head_has_no_body(self):
        c = self.conn()
        r, body = self.get("/v1/quotes/AAPL", "HEAD", c)
        self.assertEqual(r.status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(r.getheader("Content-Length")), 20)
        # the same connection goes on
        r, body = self.get("/symbols", c=c)
        self.assertEqual(r.status, 200)
        self.assertIn(b"AAPL", body)

    def test_unknown_path_and_methods(self):
        self.assert_error("/nope", 404, "NOT_FOUND")
        e = self.assert_error("/health", 405, "METHOD_NOT_ALLOWED", method="DELETE")
        self.assertIn("GET", e["message"])
        self.assert_serving()

    def test_urllib(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/quotes/MSFT",
                                    timeout=10) as r:
            self.assertEqual(json.load(r)["ticker"], "MSFT")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/quotes/NOPE", timeout=10)
        self.assertEqual(cm.exception.code, 404)
        self.assertEqual(json.load(cm.exception)["error"]["code"], "NOT_FOUND")
        cm.exception.close()

    @unittest.skipUnless(shutil.which("curl"), "curl not installed (scripts/test-packages)")
    def test_curl(self):
        base = f"http://127.0.0.1:{self.port}"
        out = subprocess.run(["curl", "-sS", f"{base}/price/latest?symbol=AAPL"],
                             capture_output=True, timeout=30, check=True).stdout
        self.assertEqual(json.loads(out)["symbol"], "AAPL")
        # several requests over one keep-alive connection, and the codes
        out = subprocess.run(["curl", "-sS"] + ["-o", "/dev/null"] * 4 + ["-w", "%{http_code} %{num_connects}\n",
                              f"{base}/health", f"{base}/symbols", f"{base}/v1/quotes/NOPE",
                              f"{base}/v1/bars/AAPL?interval=1m", "-X", "GET"],
                             capture_output=True, timeout=30, check=True).stdout.decode()
        self.assertEqual(out.split("\n")[:4], ["200 1", "200 0", "404 0", "503 0"])
        out = subprocess.run(["curl", "-sS", "-I", f"{base}/v1/quotes/AAPL"],
                             capture_output=True, timeout=30, check=True).stdout
        self.assertTrue(out.startswith(b"HTTP/1.1 200"))


class Config(unittest.TestCase):
    def test_cors_origin(self):
        _, _, srv = srvtest.stack(self, server={"http_listen": "127.0.0.1:0",
                                                "http_cors_origin": "https://ops.example"})
        c = http.client.HTTPConnection("127.0.0.1", http_port(srv), timeout=10)
        self.addCleanup(c.close)
        c.request("GET", "/symbols")
        r = c.getresponse()
        r.read()
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), "https://ops.example")

    def test_off(self):
        _, _, srv = srvtest.stack(self, server={"http_listen": "off"})
        self.assertEqual(len(re.findall(r"listening on ", srv.output())), 1)

    def test_default_address_in_use_only_warns(self):
        # hold 127.0.0.1:7880 (or find it held already): the server starts anyway
        hold = socket.socket()
        self.addCleanup(hold.close)
        try:
            hold.bind(("127.0.0.1", 7880))
            hold.listen(1)
        except OSError:
            pass
        _, _, srv = srvtest.stack(self)
        self.assertEqual(srv.client().req("ping")["type"], "response")
        self.assertRegex(srv.output(), r"server\.http_listen: 127\.0\.0\.1:7880 is in use")

    def test_explicit_address_in_use_is_fatal(self):
        hold = socket.socket()
        self.addCleanup(hold.close)
        hold.bind(("127.0.0.1", 0))
        hold.listen(1)
        port = hold.getsockname()[1]
        shm = stktest.unique_shm("srv")
        d = tempfile.mkdtemp(prefix="stk-http-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = stktest.write_config(d, {"shm": {"name": shm}, "server": {
            "listen": "127.0.0.1:0", "http_listen": f"127.0.0.1:{port}"}})
        p = subprocess.run([stktest.binary("server", "seqtick-server"), "-c", conf],
                           capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"127.0.0.1:{port}".encode(), p.stderr + p.stdout)


def parse_response(resp):
    """One raw response: (status, {lowercase name: [values]}, body)."""
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        assert sep and name == name.strip() and name, f"malformed header line {line!r}"
        hdrs.setdefault(name.lower(), []).append(value.strip())
    return int(lines[0].split(" ", 2)[1]), hdrs, body


KNOWN_PATHS = ("/", "/health", "/symbols", "/price/latest?symbol=AAPL", "/metrics",
               "/v1/quotes", "/v1/quotes/AAPL", "/v1/history/AAPL?limit=3",
               "/v1/bars/AAPL?interval=1m", "/v1/stream?tickers=AAPL", "/v1/ws")
ORIGIN = "https://ops.example"


class Options(HttpBase):
    """OPTIONS without server.http_cors_origin: 204 and Allow, no CORS."""

    def options(self, path, headers=b"", extra=b""):
        out = raw(self.port, b"OPTIONS " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" +
                  headers + b"Connection: close\r\n\r\n" + extra)
        return parse_response(out)

    def test_every_known_endpoint_answers_204(self):
        c = self.conn()  # one keep-alive connection for all of them
        for path in KNOWN_PATHS:
            c.request("OPTIONS", path, headers={"Origin": "https://app.example",
                                                "Access-Control-Request-Method": "GET"})
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (204, b""), path)
            self.assertEqual(r.getheader("Allow"), "GET, HEAD, OPTIONS", path)
            self.assertEqual([h for h in r.getheaders() if h[0].lower().startswith("access-")],
                             [], path)
        self.assert_serving()

    def test_204_has_no_body_nor_length_and_the_connection_goes_on(self):
        # pipelined: a stray body byte after the 204 would corrupt the next answer
        out = raw(self.port, b"OPTIONS /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /v1/quotes/MSFT HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first, _, rest = out.partition(b"\r\n\r\n")
        st, hdrs, body = parse_response(first + b"\r\n\r\n")
        self.assertEqual(st, 204)
        self.assertNotIn("content-length", hdrs)
        self.assertNotIn("content-type", hdrs)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"), rest[:100])
        self.assertEqual(body_of(rest)["ticker"], "MSFT")

    def test_asterisk_and_unknown_path(self):
        st, hdrs, _ = self.options("*")
        self.assertEqual(st, 204)
        self.assertEqual(hdrs["allow"], ["GET, HEAD, OPTIONS"])
        st, hdrs, body = self.options("/nope")
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["error"]["code"], "NOT_FOUND")
        st, _, _ = self.options("/v1/quotes/")  # no ticker: no endpoint
        self.assertEqual(st, 404)
        self.assert_serving()

    def test_other_methods_still_405_with_options_allowed(self):
        for m in ("DELETE", "POST", "PUT", "PATCH"):
            r, body = self.get("/health", m)
            self.assertEqual(r.status, 405, m)
            self.assertEqual(r.getheader("Allow"), "GET, HEAD, OPTIONS")
            self.assertEqual(json.loads(body)["error"]["code"], "METHOD_NOT_ALLOWED")

    def test_with_a_body_is_refused(self):
        out = raw(self.port, b"OPTIONS /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"\r\nhello")
        self.assertEqual(status_of(out), 413, out[:300])
        self.assertIn(b"Connection: close", out)
        out = raw(self.port, b"OPTIONS /health HTTP/1.1\r\nHost: x\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(status_of(out), 400, out[:300])
        st, _, _ = self.options("/health", b"Content-Length: 0\r\n")  # empty: fine
        self.assertEqual(st, 204)
        self.assert_serving()

    def test_counted_in_metrics(self):
        def metrics():
            _, body = self.get("/metrics")
            return {m.group(1): float(m.group(2)) for m in re.finditer(
                r'^(seqtick_(?:http_requests|http_responses|requests)_total'
                r'(?:\{[a-z]+="\w+"\})?) ([0-9.]+)$', body.decode(), re.M)}
        before = metrics()
        self.assertEqual(before['seqtick_http_responses_total{code="204"}'], 0)
        for path in ("/health", "/health", "/v1/quotes/AAPL", "/nope"):
            self.options(path)
        after = metrics()
        self.assertEqual(after['seqtick_http_responses_total{code="204"}'], 3)
        self.assertEqual(after['seqtick_http_requests_total{endpoint="health"}'] -
                         before['seqtick_http_requests_total{endpoint="health"}'], 2)
        self.assertEqual(after['seqtick_http_requests_total{endpoint="quote"}'] -
                         before['seqtick_http_requests_total{endpoint="quote"}'], 1)
        self.assertEqual(after['seqtick_http_requests_total{endpoint="other"}'] -
                         before['seqtick_http_requests_total{endpoint="other"}'], 1)
        self.assertEqual(after['seqtick_http_responses_total{code="404"}'] -
                         before['seqtick_http_responses_total{code="404"}'], 1)
        # the four, and the first /metrics itself
        self.assertEqual(after["seqtick_requests_total"] - before["seqtick_requests_total"], 5)


class Preflight(Options):
    """CORS preflights with server.http_cors_origin set."""

    def setUp(self):
        self.shm, self.w, self.srv = srvtest.stack(
            self, server={"http_listen": "127.0.0.1:0", "http_cors_origin": ORIGIN})
        self.port = http_port(self.srv)

    def preflight(self, path="/v1/quotes/AAPL", acrh=None, more=b""):
        h = b"Origin: https://app.example\r\nAccess-Control-Request-Method: GET\r\n"
        if acrh is not None:
            h += b"Access-Control-Request-Headers: " + acrh + b"\r\n"
        st, hdrs, body = self.options(path, h + more)
        self.assertEqual((st, body), (204, b""))
        self.assertEqual(hdrs["access-control-allow-origin"], [ORIGIN])
        self.assertEqual(hdrs["access-control-allow-methods"], ["GET, HEAD, OPTIONS"])
        self.assertEqual(hdrs["access-control-max-age"], ["600"])
        self.assertEqual(hdrs["allow"], ["GET, HEAD, OPTIONS"])
        self.assertNotIn("content-length", hdrs)
        return hdrs.get("access-control-allow-headers")

    def test_every_known_endpoint_answers_204(self):
        for path in KNOWN_PATHS:
            self.assertIsNone(self.preflight(path), path)
        self.assert_serving()

    def test_requested_headers_are_echoed(self):
        self.assertEqual(self.preflight(acrh=b"X-Request-Id, authorization"),
                         ["x-request-id, authorization"])
        self.assertEqual(self.preflight(acrh=b"content-type"), ["content-type"])
        self.assertEqual(self.preflight(acrh=b" x-a ,, x-b\t,"), ["x-a, x-b"])
        self.assertEqual(self.preflight(acrh=b"x-a", more=b"Access-Control-Request-Headers: "
                                        b"x-b\r\n"), ["x-a, x-b"])  # two lines, one list
        self.assertIsNone(self.preflight(acrh=b""))
        self.assertIsNone(self.preflight(acrh=b" , "))

    def test_junk_in_requested_headers_is_not_echoed(self):
        for junk in (b"x-a, bad header", b"x-a;b", b'x-"q"', b"x-a:b", b"x-(a)", b"x-a/b",
                     b"x-\xc3\xa9", b"x-a=1", b"{x}", b"x-a@b"):
            self.assertIsNone(self.preflight(acrh=junk), junk)
        # a longer name that only starts like the header is some other header
        self.assertIsNone(self.preflight(more=b"Access-Control-Request-Headers-And-More: "
                                         b"x-a\r\n"))
        self.assert_serving()

    def test_control_bytes_never_reach_the_answer(self):
        for junk in (b"x-a\x01", b"x-a\x7f", b"x-a\x00b", b"x-a\rX-Injected: 1"):
            out = raw(self.port, b"OPTIONS /health HTTP/1.1\r\nHost: x\r\n"
                      b"Access-Control-Request-Headers: " + junk + b"\r\n"
                      b"Connection: close\r\n\r\n")
            st, hdrs, _ = parse_response(out)
            self.assertIn(st, (204, 400), out[:300])  # the parser may refuse the line
            self.assertNotIn("access-control-allow-headers", hdrs, junk)
            self.assertNotIn(b"X-Injected", out)
        self.assert_serving()

    def test_overlong_requested_headers(self):
        names = b",".join(b"x-h%03d" % i for i in range(200))  # 1399 bytes
        self.assertIsNone(self.preflight(acrh=names))
        fits = names[:1024].rpartition(b",")[0]  # at the bound: echoed whole
        self.assertEqual(self.preflight(acrh=fits)[0].split(", "),
                         fits.decode().split(","))
        over = fits + b",x-zzzzzzzzzzzzzzzzzzzzzzz"
        self.assertIsNone(self.preflight(acrh=over))
        # beyond the header block's limit: 431 as for any request
        out = raw(self.port, b"OPTIONS /health HTTP/1.1\r\nHost: x\r\n"
                  b"Access-Control-Request-Headers: " + b"x-a," * 5000 + b"\r\n\r\n")
        self.assertEqual(status_of(out), 431, out[:300])
        self.assert_serving()

    def test_get_after_preflight_carries_the_origin(self):
        c = self.conn()
        c.request("OPTIONS", "/v1/quotes/AAPL", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-trace"})
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (204, b""))
        self.assertEqual(r.getheader("Access-Control-Allow-Headers"), "x-trace")
        c.request("GET", "/v1/quotes/AAPL", headers={"Origin": "https://app.example",
                                                     "X-Trace": "1"})
        r = c.getresponse()
        self.assertEqual(json.loads(r.read())["ticker"], "AAPL")
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), ORIGIN)
        # the headers of one preflight are not left over for the next
        c.request("OPTIONS", "/health")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (204, b""))
        self.assertIsNone(r.getheader("Access-Control-Allow-Headers"))
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), ORIGIN)

    @unittest.skipUnless(shutil.which("curl"), "curl not installed (scripts/test-packages)")
    def test_curl_preflight(self):
        out = subprocess.run(
            ["curl", "-sS", "-i", "-X", "OPTIONS", "-H", "Origin: https://app.example",
             "-H", "Access-Control-Request-Method: GET",
             "-H", "Access-Control-Request-Headers: X-Trace-Id, Content-Type",
             f"http://127.0.0.1:{self.port}/v1/quotes/AAPL"],
            capture_output=True, timeout=30, check=True).stdout
        st, hdrs, body = parse_response(out)
        self.assertEqual((st, body), (204, b""))
        self.assertTrue(out.startswith(b"HTTP/1.1 204 No Content\r\n"), out[:100])
        self.assertEqual(hdrs["access-control-allow-origin"], [ORIGIN])
        self.assertEqual(hdrs["access-control-allow-methods"], ["GET, HEAD, OPTIONS"])
        self.assertEqual(hdrs["access-control-allow-headers"], ["x-trace-id, content-type"])
        self.assertEqual(hdrs["access-control-max-age"], ["600"])


class SseClient:
    """A raw Server-Sent Events reader."""

    def __init__(self, port, path, headers=""):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        self.f = self.s.makefile("rb")
        self.status = int(self.f.readline().split()[1])
        self.headers = {}
        while True:
            line = self.f.readline().decode()
            if line in ("\r\n", ""):
                break
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    def block(self):
        """The next event or comment block as a list of lines."""
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("stream closed")
            line = line.decode().rstrip("\n")
            if line == "":
                if lines:
                    return lines
                continue
            lines.append(line)

    def event(self, timeout=10):
        """The next quote event: (id, data) (comments and retry skipped)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            b = self.block()
            if b[0] == "event: quote":
                self.assertions(b)
                return int(b[1][4:]), json.loads(b[2][6:])
        raise TimeoutError("no event")

    @staticmethod
    def assertions(b):
        assert b[1].startswith("id: ") and b[2].startswith("data: "), b

    def close(self):
        self.f.close()
        self.s.close()


class Stream(HttpBase):
    def sse(self, path, headers=""):
        c = SseClient(self.port, path, headers)
        self.addCleanup(c.close)
        return c

    def test_events_in_order_with_increasing_ids(self):
        c = self.sse("/v1/stream?tickers=AAPL,MSFT")
        self.assertEqual(c.status, 200)
        self.assertEqual(c.headers["content-type"], "text/event-stream")
        self.w.cmd("tick AAPL 1.5")
        i1, d1 = c.event()
        self.assertEqual((d1["ticker"], str(d1["price"])), ("AAPL", "1.5"))
        self.w.cmd("tick NVDA 7.5")  # not subscribed
        self.w.cmd("tick MSFT 2.5")
        i2, d2 = c.event()
        self.assertEqual((d2["ticker"], str(d2["price"])), ("MSFT", "2.5"))
        self.assertEqual(i2, i1 + 1)
        self.assertEqual(d2["seq"], i2)
        for k in ("bid", "ask", "volume", "ts_ms", "stale", "conflated"):
            self.assertIn(k, d2)
        self.assert_serving()

    def test_wildcard_and_heartbeat(self):
        c = self.sse("/v1/stream?tickers=*")
        t0 = time.monotonic()
        b = c.block()
        while not b[0].startswith(":"):
            b = c.block()
        self.assertTrue(b[0].startswith(": heartbeat"), b)
        self.assertLess(time.monotonic() - t0, 8)
        self.w.cmd("tick NVDA 3.25")
        _, d = c.event()
        self.assertEqual(d["ticker"], "NVDA")

    def test_last_event_id_sends_the_snapshot_first(self):
        c = self.sse("/v1/stream?tickers=MSFT,NVDA", "Last-Event-ID: 41\r\n")
        got = [c.event(), c.event()]
        self.assertEqual([d["ticker"] for _, d in got], ["MSFT", "NVDA"])
        self.assertEqual([i for i, _ in got], [1, 2])
        self.assertEqual(str(got[0][1]["price"]), "101.25")
        self.w.cmd("tick MSFT 9")
        i, d = c.event()
        self.assertEqual((i, d["price"]), (3, 9))

    def test_conflated_for_a_reader_that_lags(self):
        c = self.sse("/v1/stream?tickers=AAPL")
        for k in range(200):
            self.w.cmd(f"tick AAPL {k + 1}")
        last, seqs = None, []
        while last is None or last["price"] != 200:
            i, last = c.event()
            seqs.append(i)
        self.assertEqual(seqs, sorted(seqs))
        self.assertLessEqual(len(seqs), 200)

    def test_unknown_ticker_is_404_and_keeps_serving(self):
        self.assert_error("/v1/stream?tickers=AAPL,NOPE", 404, "NOT_FOUND")
        self.assert_error("/v1/stream?tickers=", 400, "BAD_REQUEST")
        self.assert_serving()


WS_CLIENT = r"""
import json, sys, websocket
ws = websocket.create_connection(sys.argv[1], timeout=20)
ws.send(json.dumps({"v": 1, "id": 1, "type": "subscribe", "tickers": ["AAPL"]}))
ack = json.loads(ws.recv())
print(json.dumps(ack), flush=True)
sys.stdin.readline()  # the test ticks now
seqs = []
while True:
    m = json.loads(ws.recv())
    if m["type"] != "quote":
        continue
    seqs.append([m["seq"], m["conflated"], str(m["price"])])
    if m["price"] == 50:
        break
print(json.dumps(seqs), flush=True)
ws.close()
"""


def ws_frame(op, payload=b"", fin=True, mask=True):
    b = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        b += bytes([mbit | n])
    elif n < 65536:
        b += bytes([mbit | 126]) + n.to_bytes(2, "big")
    else:
        b += bytes([mbit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return b + payload
    key = b"\x11\x22\x33\x44"
    return b + key + bytes(x ^ key[i % 4] for i, x in enumerate(payload))


class WsRaw:
    """A hand-made WebSocket client for the bad-input cases."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(f"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       f"Connection: Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
                       f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError("no handshake")
            self.buf += d
        self.head, self.buf = self.buf.split(b"\r\n\r\n", 1)

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1(
            (self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        return (self.head.startswith(b"HTTP/1.1 101")
                and f"Sec-WebSocket-Accept: {want}".encode() in self.head)

    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d

    def frame(self):
        """(opcode, payload) of the next server frame."""
        self.need(2)
        op, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        assert not self.buf[1] & 0x80, "server frames are not masked"
        h = 2
        if n == 126:
            self.need(4)
            n, h = int.from_bytes(self.buf[2:4], "big"), 4
        elif n == 127:
            self.need(10)
            n, h = int.from_bytes(self.buf[2:10], "big"), 10
        self.need(h + n)
        p = self.buf[h:h + n]
        self.buf = self.buf[h + n:]
        return op, p

    def send(self, data):
        self.s.sendall(data)

    def text(self, obj):
        self.send(ws_frame(1, json.dumps(obj).encode()))

    def reply(self):
        while True:
            op, p = self.frame()
            if op == 1:
                return json.loads(p)

    def close_code(self):
        while True:
            op, p = self.frame()
            if op == 8:
                return int.from_bytes(p[:2], "big")

    def eof(self):
        while True:
            try:
                d = self.s.recv(65536)
            except ConnectionResetError:
                return True
            if not d:
                return True

    def close(self):
        self.s.close()


class WebSocket(HttpBase):
    def ws(self):
        w = WsRaw(self.port)
        self.addCleanup(w.close)
        self.assertTrue(w.accept_ok(), w.head)
        return w

    def test_handshake_and_requests(self):
        w = self.ws()
        w.text({"v": 1, "id": 7, "type": "get_quote", "ticker": "MSFT"})
        r = w.reply()
        self.assertEqual((r["id"], r["type"], r["ticker"]), (7, "response", "MSFT"))
        w.text({"v": 1, "id": 8, "type": "get_quote", "ticker": "NOPE"})
        self.assertEqual(w.reply()["error"]["code"], "NOT_FOUND")
        w.send(ws_frame(1, b"not json"))
        self.assertEqual(w.reply()["error"]["code"], "BAD_REQUEST")
        # the close handshake
        w.send(ws_frame(8, (1000).to_bytes(2, "big") + b"bye"))
        self.assertEqual(w.close_code(), 1000)
        self.assertTrue(w.eof())

    def test_upgrade_required(self):
        self.assert_error("/v1/ws", 400, "BAD_REQUEST")

    def test_upgrade_elsewhere_is_answered_then_closed(self):
        out = raw(self.port, b"GET /health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\n\r\nGET /symbols HTTP/1.1\r\n\r\n",
                  shut=False)
        self.assertEqual(out.count(b"HTTP/1.1 "), 1)
        self.assertEqual(status_of(out), 200)
        self.assertIn(b"Connection: close", out)
        self.assert_serving()

    def test_unmasked_frame_closes_1002(self):
        w = self.ws()
        w.send(ws_frame(1, b'{"v":1,"id":1,"type":"ping"}', mask=False))
        self.assertEqual(w.close_code(), 1002)
        self.assertTrue(w.eof())
        self.assert_serving()

    def test_bad_utf8_closes_1007(self):
        w = self.ws()
        w.send(ws_frame(1, b'{"v":1,"id":"\xff\xfe","type":"ping"}'))
        self.assertEqual(w.close_code(), 1007)
        self.assert_serving()

    def test_oversized_frame_closes_1009(self):
        w = self.ws()
        w.send(ws_frame(1, b" " * 70000))
        self.assertEqual(w.close_code(), 1009)
        self.assert_serving()

    def test_fragmented_message(self):
        w = self.ws()
        msg = json.dumps({"v": 1, "id": "frag", "type": "get_quote", "ticker": "AAPL"}).encode()
        w.send(ws_frame(1, msg[:10], fin=False))
        w.send(ws_frame(9, b"mid"))  # a control frame between the fragments
        w.send(ws_frame(0, msg[10:20], fin=False))
        w.send(ws_frame(0, msg[20:], fin=True))
        op, p = w.frame()
        self.assertEqual((op, p), (10, b"mid"))  # the pong
        r = w.reply()
        self.assertEqual((r["id"], r["ticker"]), ("frag", "AAPL"))

    def test_ping_flood(self):
        w = self.ws()
        w.send(b"".join(ws_frame(9, b"%d" % i) for i in range(2000)))
        w.text({"v": 1, "id": "after", "type": "ping"})
        pongs = 0
        while True:
            op, p = w.frame()
            if op == 10:
                pongs += 1
                continue
            self.assertEqual(op, 1)
            self.assertEqual(json.loads(p)["id"], "after")
            break
        self.assertGreater(pongs, 0)
        self.assert_serving()

    def test_close_mid_frame(self):
        w = self.ws()
        f = ws_frame(1, b'{"v":1,"id":1,"type":"ping"}')
        w.send(f[:9])
        w.close()
        self.assert_serving()
        w2 = self.ws()
        w2.text({"v": 1, "id": 2, "type": "ping"})
        self.assertEqual(w2.reply()["id"], 2)

    def test_subscription_events(self):
        w = self.ws()
        w.text({"v": 1, "id": 1, "type": "subscribe", "tickers": ["NVDA"]})
        ack = w.reply()
        self.assertEqual(ack["quotes"][0]["ticker"], "NVDA")
        self.w.cmd("tick NVDA 5.5")
        e = w.reply()
        self.assertEqual((e["type"], e["ticker"], str(e["price"])), ("quote", "NVDA", "5.5"))
        # a heartbeat frame after a second without events
        t0 = time.monotonic()
        self.assertEqual(w.reply()["type"], "heartbeat")
        self.assertLess(time.monotonic() - t0, 8)

    @unittest.skipUnless(subprocess.run(["/usr/bin/python3", "-c", "import websocket"],
                                        capture_output=True).returncode == 0,
                         "python3-websocket not installed (scripts/test-packages)")
    def test_real_client_python3_websocket(self):
        p = subprocess.Popen(["/usr/bin/python3", "-c", WS_CLIENT,
                              f"ws://127.0.0.1:{self.port}/v1/ws"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.stdin.close)
        self.addCleanup(p.kill)
        ack = json.loads(p.stdout.readline())
        self.assertEqual(ack["type"], "response")
        self.assertEqual(ack["quotes"][0]["ticker"], "AAPL")
        p.stdin.write("go\n")
        p.stdin.flush()
        for k in range(1, 51):
            self.w.cmd(f"tick AAPL {k}")
        seqs = json.loads(p.stdout.readline())
        self.assertEqual(p.wait(30), 0)
        ids = [s[0] for s in seqs]
        self.assertEqual(ids, sorted(set(ids)))
        self.assertEqual(seqs[-1][2], "50")
        # conflated: every update is accounted for, as an event or in a count
        self.assertEqual(sum(1 + s[1] for s in seqs), 50)


class Children(unittest.TestCase):
    """/health and /metrics show the supervisor's children from its status
    file, only when the file's supervisor is the server's parent."""

    def start(self, supervisor_pid):
        d = tempfile.mkdtemp(prefix="stk-http-")
        self.addCleanup(shutil.rmtree, d, True)
        status = os.path.join(d, "sup.status")
        now = time.time_ns()
        with open(status, "w") as f:
            json.dump({"supervisor_pid": supervisor_pid, "children": [
                {"name": "producer", "pid": 1, "state": "running", "restarts": 3,
                 "started_ns": now - 5 * 10**9},
                {"name": "server", "pid": 2, "state": "running", "restarts": 0,
                 "started_ns": now}]}, f)
        shm = stktest.unique_shm("srv")
        self.addCleanup(stktest.shm_remove, shm)
        w = srvtest.Writer(shm)
        self.addCleanup(w.stop)
        conf = stktest.write_config(d, {"shm": {"name": shm}, "server": {
            "listen": "127.0.0.1:0", "http_listen": "127.0.0.1:0"},
            "supervisor": {"status_file": status}})
        p = stktest.Proc([stktest.binary("server", "seqtick-server"), "-c", conf])
        self.addCleanup(p.close)
        port = http_port(p)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.addCleanup(c.close)
        c.request("GET", "/health")
        h = json.loads(c.getresponse().read())
        c.request("GET", "/metrics")
        m = c.getresponse().read().decode()
        return h, m

    def test_children_of_our_supervisor(self):
        h, m = self.start(os.getpid())  # the test is the server's parent
        self.assertEqual([(x["name"], x["state"], x["restarts"]) for x in h["children"]],
                         [("producer", "running", 3), ("server", "running", 0)])
        self.assertGreaterEqual(h["children"][0]["uptime_s"], 4)
        self.assertIn('seqtick_child_restarts_total{child="producer"} 3\n', m)

    def test_a_stale_status_file_is_ignored(self):
        h, m = self.start(os.getpid() + 100000)
        self.assertNotIn("children", h)
        self.assertNotIn("seqtick_child_restarts_total", m)


class SlowReaders(unittest.TestCase):
    """An SSE or WebSocket reader that never reads is conflated, then cut at
    server.out_buffer_bytes, like an NDJSON subscriber."""

    def setUp(self):
        syms = [f"S{i:03d}" for i in range(200)]
        self.shm, self.w, self.srv = srvtest.stack(
            self, symbols=syms, rate=50000, capacity=256,
            server={"out_buffer_bytes": 65536, "http_listen": "127.0.0.1:0"})
        self.port = http_port(self.srv)
        self.watch = self.srv.client()
        self.addCleanup(self.watch.close)

    def slow_socket(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.port))
        self.addCleanup(s.close)
        return s

    def wait_cut(self):
        stktest.wait_for(lambda: self.watch.req("health")["slow_consumers"] >= 1, timeout=30,
                         interval=0.05, what="slow consumer cut")

    @staticmethod
    def read_all(s):
        out = b""
        while True:
            d = s.recv(1 << 20)
            if not d:
                return out
            out += d

    def test_sse_reader_cut(self):
        s = self.slow_socket()
        s.sendall(b"GET /v1/stream?tickers=* HTTP/1.1\r\nHost: x\r\n\r\n")
        self.wait_cut()
        out = self.read_all(s)
        head, body = out.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"))
        blocks = body.split(b"\n\n")
        self.assertEqual(blocks[-1], b"")  # ends after a whole block
        last = blocks[-2]
        self.assertTrue(last.startswith(b"event: error\ndata: "), last[:200])
        self.assertEqual(json.loads(last.split(b"data: ", 1)[1])["error"]["code"],
                         "SLOW_CONSUMER")
        for b in blocks[1:-2]:  # every event before it is whole
            self.assertTrue(b.startswith(b"event: quote\nid: ") or b.startswith(b":"), b[:100])
            if b.startswith(b"event"):
                json.loads(b.split(b"data: ", 1)[1])
        self.assertEqual(self.watch.req("ping")["type"], "response")

    def test_websocket_reader_cut(self):
        w = WsRaw(self.port)  # never reads until the cut
        self.addCleanup(w.close)
        w.text({"v": 1, "id": 1, "type": "subscribe", "tickers": "*"})
        self.wait_cut()
        texts = []
        code = None
        while True:
            try:
                op, p = w.frame()
            except EOFError:
                break
            if op == 1:
                texts.append(json.loads(p))
            elif op == 8:
                code = int.from_bytes(p[:2], "big")
        self.assertEqual(texts[-1]["error"]["code"], "SLOW_CONSUMER")
        self.assertEqual(code, 1008)
        self.assertEqual(self.watch.req("ping")["type"], "response")


class BadInput(HttpBase):
    def test_keep_alive_and_pipelining_in_order(self):
        names = ["AAPL", "MSFT", "NVDA"]
        req = b"".join(f"GET /v1/quotes/{names[i % 3]} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                       for i in range(1000))
        req += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        out = raw(self.port, req, timeout=60)
        parts = out.split(b"HTTP/1.1 ")[1:]
        self.assertEqual(len(parts), 1001)
        for i, p in enumerate(parts[:1000]):
            self.assertTrue(p.startswith(b"200 OK"), p[:100])
            self.assertIn(f'"ticker":"{names[i % 3]}"'.encode(), p)
        self.assertIn(b'"status":"ok"', parts[1000])

    def test_byte_by_byte(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        for b in b"GET /v1/quotes/MSFT HTTP/1.1\r\nHost: x\r\n\r\n":
            s.send(bytes([b]))
            time.sleep(0.002)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"HTTP/1.1 200"))
        length = 0
        while True:
            line = f.readline()
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            if line == b"\r\n":
                break
        self.assertEqual(json.loads(f.read(length))["ticker"], "MSFT")

    def refused(self, data, status):
        out = raw(self.port, data)
        self.assertEqual(status_of(out), status, out[:300])
        self.assertIn("error", body_of(out))
        self.assertIn(b"Connection: close", out)
        self.assert_serving()
        return out

    def test_smuggling_cl_te(self):
        self.refused(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
        self.refused(b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"0\r\n\r\n", 400)

    def test_two_content_lengths(self):
        self.refused(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                     b"Content-Length: 0\r\n\r\n", 400)

    def test_request_body(self):
        self.refused(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd", 413)

    def test_oversized_request_line(self):
        self.refused(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)

    def test_oversized_headers(self):
        hdrs = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(20))
        self.refused(b"GET /health HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n", 431)

    def test_invalid_method(self):
        self.refused(b"FOO /health HTTP/1.1\r\nHost: x\r\n\r\n", 405)
        out = raw(self.port, b"\x01\x02garbage\r\n\r\n")
        self.assertIn(status_of(out), (400, 405), out[:300])
        self.assert_serving()

    def test_slowloris(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.addCleanup(s.close)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        s.sendall(b"X-Slow: 1\r\n")
        # the others are served meanwhile
        self.assert_serving()
        self.assertEqual(s.recv(100), b"")  # closed by the server
        took = time.monotonic() - t0
        self.assertGreater(took, 8)
        self.assertLess(took, 25)
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
