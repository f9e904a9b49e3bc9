/* SPDX-License-Identifier: MIT */
/* test_seam.c — Check unit tests of the server's protocol seam: a second,
 * made-up protocol (requests ended by NUL bytes, "OP [TICKER]") plugged
 * into a listener of a real server, with its own framing, per-connection
 * state and face, served through the shared operations and renderer while
 * the NDJSON listener keeps working beside it. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "server.h"
#include "srvfix.h"

#include "testutil.h"

static char shm[64];
static struct stk_seg *wseg;
static struct stk_config cfg;
static struct stk_fix *fx;

/* ---- the made-up protocol ---- */

struct nul_state {
    unsigned served; /* requests on this connection */
};
static int nul_opened, nul_closed;

struct nul_req {
    struct stk_req q; /* first */
    const char *arg;  /* the word after the op, or NULL */
    size_t arg_len;
};

static void nul_begin(struct stk_req *q)
{
    STK_BUF_LIT(q->b, "{\"op\":");
    stk_buf_json_str(q->b, q->opname, strlen(q->opname));
}

static void nul_end(struct stk_req *q)
{
    STK_BUF_LIT(q->b, "}");
    stk_buf_putc(q->b, 0);
}

static int nul_fail(struct stk_req *q, enum stk_err code, const char *msg)
{
    STK_BUF_LIT(q->b, "{\"error\":");
    stk_buf_json_str(q->b, stk_err_name(code), strlen(stk_err_name(code)));
    stk_buf_putc(q->b, '}');
    stk_buf_putc(q->b, 0);
    return -1;
}

static int nul_ticker(struct stk_req *q, char name[STK_NAME_MAX + 1])
{
    struct nul_req *r = (struct nul_req *)q;
    if (!r->arg)
        return nul_fail(q, STK_E_BAD_REQUEST, "ticker");
    if (r->arg_len > STK_NAME_MAX)
        return -ENOENT;
    memcpy(name, r->arg, r->arg_len);
    name[r->arg_len] = 0;
    return stk_sym_check(name, r->arg_len) < 0 ? -ENOENT : 0;
}

static int nul_tickers(struct stk_req *q, bool star_ok)
{
    return nul_fail(q, STK_E_BAD_REQUEST, "no lists here");
}

static int nul_ticker_at(struct stk_req *q, int i, char name[STK_NAME_MAX + 1])
{
    return -ENOENT;
}

static void nul_put_tickers(struct stk_req *q, int i)
{
    STK_BUF_LIT(q->b, "null");
}

static int nul_int_arg(struct stk_req *q, enum stk_arg a, int64_t *v)
{
    return 0;
}

static const struct stk_face nul_face = {
    .begin = nul_begin,
    .end = nul_end,
    .fail = nul_fail,
    .ticker = nul_ticker,
    .tickers = nul_tickers,
    .ticker_at = nul_ticker_at,
    .put_tickers = nul_put_tickers,
    .int_arg = nul_int_arg,
};

static int nul_open(struct stk_conn *c)
{
    c->pstate = calloc(1, sizeof(struct nul_state));
    nul_opened++;
    return c->pstate ? 0 : -ENOMEM;
}

static void nul_close(struct stk_conn *c)
{
    if (c->pstate)
        nul_closed++;
    free(c->pstate);
    c->pstate = NULL;
}

static size_t nul_data(struct stk_conn *c, const char *data, size_t len, bool at_eof)
{
    const char *p = data, *end = data + len, *z;
    while (p < end && !stk_conn_state_cut(c->state) && (z = memchr(p, 0, (size_t)(end - p)))) {
        struct nul_req r = {.q = {.c = c, .s = c->srv, .b = &c->out, .face = &nul_face}};
        const char *sp = memchr(p, ' ', (size_t)(z - p));
        size_t oplen = (size_t)((sp ? sp : z) - p);
        if (sp) {
            r.arg = sp + 1;
            r.arg_len = (size_t)(z - sp - 1);
        }
        ((struct nul_state *)c->pstate)->served++;
        const struct stk_op *op = stk_op_find(p, oplen);
        if (op) {
            r.q.opname = op->name;
            op->fn(&r.q);
        } else {
            nul_fail(&r.q, STK_E_BAD_REQUEST, "unknown op");
        }
        p = z + 1;
    }
    return (size_t)(p - data);
}

static size_t nul_events(struct stk_conn *c, size_t limit)
{
    return 0;
}

static void nul_heartbeat(struct stk_conn *c)
{
}

static void nul_fatal(struct stk_conn *c, enum stk_err code, const char *msg)
{
    STK_BUF_LIT(&c->out, "{\"fatal\":true}");
    stk_buf_putc(&c->out, 0);
}

static size_t nul_cut_point(const struct stk_conn *c, size_t sent)
{
    if (sent == 0 || c->out.data[sent - 1] == 0)
        return sent;
    const char *z = memchr(c->out.data + sent, 0, c->out.len - sent);
    return z ? (size_t)(z - c->out.data) + 1 : c->out.len;
}

static const struct stk_proto proto_nul = {
    .name = "nul",
    .on_open = nul_open,
    .on_close = nul_close,
    .on_data = nul_data,
    .on_events = nul_events,
    .on_heartbeat = nul_heartbeat,
    .on_fatal = nul_fatal,
    .cut_point = nul_cut_point,
};

/* ---- fixture ---- */

static void setup(void)
{
    snprintf(shm, sizeof(shm), "/stk-unit-seam-%d", (int)getpid());
    struct stk_seg_params p = {.name = shm, .capacity = 8, .history = 4, .mode = 0600};
    enum stk_seg_how how;
    stk_seg_unlink(shm);
    ck_assert_int_eq(stk_seg_attach_writer(&p, &wseg, &how), 0);
    ck_assert_int_eq(stk_sym_add(wseg, "AAPL"), 0);
    struct stk_quote q = {.price = 18925000000,
                          .bid = 18924000000,
                          .ask = 18926000000,
                          .bid_size = 3,
                          .ask_size = 4,
                          .volume = 99,
                          .src_ts_ns = 1700000000123456789ull,
                          .pub_ts_ns = stk_now_ns()};
    stk_batch_begin(wseg);
    stk_tick_publish(wseg, 0, &q);
    stk_batch_end(wseg, stk_now_ns());
    stk_seg_heartbeat(wseg, stk_now_ns());
    ck_assert_int_eq(stk_config_defaults(&cfg), 0);
    stk_log_init("test", STK_LOG_ERROR, STK_LOG_TEXT);
    fx = stk_fix_new(EV_DEFAULT, &cfg, shm);
    ck_assert_ptr_nonnull(fx);
    nul_opened = nul_closed = 0;
}

static void teardown(void)
{
    stk_fix_free(fx);
    stk_seg_close(wseg);
    stk_seg_unlink(shm);
    stk_config_free(&cfg);
}

static int dial(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    ck_assert_ptr_nonnull(colon);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

/* Run the loop until `want` bytes ending in `last` have come back on fd. */
static size_t collect(int fd, char *buf, size_t size, size_t want_msgs, char last)
{
    size_t have = 0, msgs = 0;
    for (int i = 0; i < 300 && msgs < want_msgs; i++) {
        ev_run(EV_DEFAULT, EVRUN_ONCE); /* the 0.1 s tick bounds each turn */
        ssize_t r = recv(fd, buf + have, size - 1 - have, MSG_DONTWAIT);
        if (r > 0) {
            for (ssize_t k = 0; k < r; k++)
                msgs += buf[have + (size_t)k] == last;
            have += (size_t)r;
        }
    }
    buf[have] = 0;
    return have;
}

/* Run the loop for a few turns. */
static void turns(int n)
{
    for (int i = 0; i < n; i++)
        ev_run(EV_DEFAULT, EVRUN_ONCE);
}

#define HAS(s, sub) ck_assert_msg(strstr((s), (sub)) != NULL, "'%s' lacks '%s'", (s), (sub))

/* Two listeners, two protocols, one server: each connection speaks its
 * listener's protocol; the operations and the quote text are shared. */
START_TEST(two_protocols)
{
    char a_nul[80], a_nd[80], buf[4096];
    ck_assert_int_eq(stk_fix_listen(fx, "127.0.0.1:0", &proto_nul, a_nul, sizeof(a_nul)), 0);
    ck_assert_int_eq(stk_fix_listen(fx, "127.0.0.1:0", &stk_proto_ndjson, a_nd, sizeof(a_nd)), 0);
    int fn = dial(a_nul), fj = dial(a_nd);
    /* a request split across two writes: the framing keeps the rest */
    static const char req1[] = "get_quote AA";
    static const char req2[] = "PL\0teleport\0get_quote NOPE\0ping";
    ck_assert_int_eq(write(fn, req1, sizeof(req1) - 1), (int)sizeof(req1) - 1);
    turns(3);
    ck_assert_int_eq(write(fn, req2, sizeof(req2) - 1), (int)sizeof(req2) - 1);
    size_t n = collect(fn, buf, sizeof(buf), 3, 0);
    /* three NUL-ended answers; "ping" has no NUL yet: not served */
    const char *m1 = buf, *m2 = m1 + strlen(m1) + 1, *m3 = m2 + strlen(m2) + 1;
    ck_assert_uint_eq(n, (size_t)(m3 + strlen(m3) + 1 - buf));
    HAS(m1, "{\"op\":\"get_quote\",\"ticker\":\"AAPL\",\"price\":189.25,\"bid\":189.24,");
    ck_assert_str_eq(m2, "{\"error\":\"BAD_REQUEST\"}");
    ck_assert_str_eq(m3, "{\"error\":\"NOT_FOUND\"}");
    static const char req3[] = "\0";
    ck_assert_int_eq(write(fn, req3, 1), 1);
    collect(fn, buf, sizeof(buf), 1, 0);
    HAS(buf, "{\"op\":\"ping\",\"ts_ms\":");
    /* NDJSON beside it, unchanged */
    static const char jreq[] = "{\"v\":1,\"id\":3,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}\n";
    ck_assert_int_eq(write(fj, jreq, sizeof(jreq) - 1), (int)sizeof(jreq) - 1);
    collect(fj, buf, sizeof(buf), 1, '\n');
    HAS(buf, "{\"v\":1,\"id\":3,\"type\":\"response\",\"op\":\"get_quote\",\"ticker\":\"AAPL\","
             "\"price\":189.25,\"bid\":189.24,");
    /* per-connection state: opened for the NUL connection only, freed on
     * close */
    ck_assert_int_eq(nul_opened, 1);
    ck_assert_int_eq(nul_closed, 0);
    close(fn);
    for (int i = 0; i < 300 && !nul_closed; i++)
        turns(1);
    ck_assert_int_eq(nul_closed, 1);
    close(fj);
}
END_TEST

/* The slow-consumer cut keeps whole messages: the protocol's cut point. */
START_TEST(cut_point_whole_messages)
{
    struct stk_conn *c = stk_fix_conn(fx, &proto_nul);
    ck_assert_ptr_nonnull(c);
    static const char reqs[] = "ping\0ping\0";
    ck_assert_uint_eq(stk_fix_feed(c, reqs, sizeof(reqs) - 1), sizeof(reqs) - 1);
    size_t n;
    const char *o = stk_fix_output(c, &n);
    size_t first = strlen(o) + 1;
    ck_assert_uint_gt(n, first);
    /* as if the first 3 bytes were on the wire: the cut keeps message 1 */
    ck_assert_uint_eq(proto_nul.cut_point(c, 3), first);
    ck_assert_uint_eq(proto_nul.cut_point(c, first), first);
    ck_assert_uint_eq(proto_nul.cut_point(c, first + 1), n);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"seam", two_protocols},
        {"seam", cut_point_whole_messages},
    };
    return TEST_TABLE_RUN_WITH("server-seam", tests, setup, teardown);
}
