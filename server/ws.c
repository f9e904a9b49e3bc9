/* SPDX-License-Identifier: MIT */
/* ws.c — WebSocket on the HTTP face: the handshake key (libcrypto's SHA-1
 * and base64), frames parsed and built by libwslay (masking, fragments,
 * ping/pong, the close handshake, the size limit), each text message one
 * NDJSON v1 request served by protocol.c, each reply and event one text
 * frame. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "json-private.h"
#include "log-private.h"
#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct stk_ws {
    struct stk_conn *c;
    wslay_event_context_ptr ctx; /* made on first use: an idle session holds none */
    size_t max_msg;
    const char *in; /* the bytes wslay reads next */
    size_t in_len;
};

int stk_ws_accept_key(const char *key, size_t klen, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char buf[128];
    if (klen == 0 || klen > sizeof(buf) - sizeof(WS_GUID))
        return -EINVAL;
    memcpy(buf, key, klen);
    memcpy(buf + klen, WS_GUID, sizeof(WS_GUID) - 1);
    if (!EVP_Digest(buf, klen + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return -EINVAL;
    EVP_EncodeBlock((unsigned char *)out, md, 20); /* 28 characters and a NUL */
    return 0;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    struct stk_ws *w = user;
    (void)flags;
    if (w->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < w->in_len ? len : w->in_len;
    memcpy(buf, w->in, n);
    w->in += n;
    w->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct stk_ws *w = user;
    (void)flags;
    if (stk_buf_put(&w->c->out, data, len) < 0) {
        w->c->out.err = 0;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static const struct wslay_event_callbacks callbacks;

/* The wslay context, made when the session first sends or receives (its
 * buffers are most of a session's memory). Returns 0 or -ENOMEM. */
static int ctx_get(struct stk_ws *w)
{
    if (w->ctx)
        return 0;
    if (wslay_event_context_server_init(&w->ctx, &callbacks, w) != 0) {
        w->ctx = NULL;
        return -ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(w->ctx, w->max_msg);
    return 0;
}

/* What c->out gained past mark (NDJSON lines) becomes one text frame a
 * line: taken out, queued, sent. */
static void frame_lines(struct stk_ws *w, size_t mark)
{
    struct stk_buf *b = &w->c->out;
    size_t n = b->len - mark;
    if (n == 0)
        return;
    if (ctx_get(w) < 0) {
        b->len = mark;
        return;
    }
    char *copy = malloc(n);
    if (!copy) {
        b->len = mark;
        return;
    }
    memcpy(copy, b->data + mark, n);
    b->len = mark;
    for (size_t p = 0; p < n;) {
        const char *nl = memchr(copy + p, '\n', n - p);
        size_t e = nl ? (size_t)(nl - copy) : n;
        struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)copy + p, e - p};
        (void)wslay_event_queue_msg(w->ctx, &m);
        p = e + 1;
    }
    free(copy);
    (void)wslay_event_send(w->ctx);
}

static void close_with(struct stk_ws *w, uint16_t code, const char *why)
{
    if (ctx_get(w) < 0)
        return;
    (void)wslay_event_queue_close(w->ctx, code, (const uint8_t *)why, strlen(why));
    (void)wslay_event_send(w->ctx);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    struct stk_ws *w = user;
    (void)ctx;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        close_with(w, WSLAY_CODE_UNSUPPORTED_DATA, "text frames only");
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME)
        return; /* ping, pong, close: wslay answers them */
    if (!stk_utf8_valid((const char *)arg->msg, arg->msg_length)) {
        stk_server_warn(w->c->srv, "%s: websocket text that is not UTF-8: closed 1007", w->c->peer);
        close_with(w, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, "text must be UTF-8");
        return;
    }
    const char *m = (const char *)arg->msg;
    size_t n = arg->msg_length;
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '\r'))
        n--;
    size_t k = 0;
    while (k < n && (m[k] == ' ' || m[k] == '\t'))
        k++;
    if (k == n || stk_conn_state_cut(w->c->state))
        return;
    size_t mark = w->c->out.len;
    stk_ndjson_request(w->c, m, n);
    if (!stk_conn_state_cut(w->c->state))
        frame_lines(w, mark);
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_msg_recv_callback = on_msg,
};

struct stk_ws *stk_ws_new(struct stk_conn *c, size_t max_msg)
{
    struct stk_ws *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->c = c;
    w->max_msg = max_msg;
    return w;
}

void stk_ws_free(struct stk_ws *w)
{
    if (!w)
        return;
    if (w->ctx)
        wslay_event_context_free(w->ctx);
    free(w);
}

/* The session is over (close handshake done, or a protocol error closed
 * it): the connection goes once the close frame is out. */
static void maybe_end(struct stk_ws *w)
{
    if (!wslay_event_want_read(w->ctx) && !stk_conn_state_cut(w->c->state)) {
        (void)wslay_event_send(w->ctx);
        stk_conn_fatal(w->c, STK_E_BAD_REQUEST, NULL);
    }
}

size_t stk_ws_data(struct stk_ws *w, const char *data, size_t len)
{
    if (len == 0 || stk_conn_pending(w->c) >= STK_WRITE_BURST)
        return 0; /* nothing yet, or back-pressure */
    if (ctx_get(w) < 0) {
        stk_conn_fatal(w->c, STK_E_INTERNAL, "out of memory");
        return len;
    }
    w->in = data;
    w->in_len = len;
    int r = wslay_event_recv(w->ctx);
    size_t used = len - w->in_len;
    w->in_len = 0;
    (void)wslay_event_send(w->ctx);
    if (r != 0 && !stk_conn_state_cut(w->c->state)) {
        stk_conn_fatal(w->c, STK_E_BAD_REQUEST, NULL);
        return len;
    }
    maybe_end(w);
    return stk_conn_state_cut(w->c->state) ? len : used;
}

size_t stk_ws_events(struct stk_ws *w, size_t limit)
{
    size_t mark = w->c->out.len;
    size_t n = stk_proto_ndjson.on_events(w->c, limit);
    frame_lines(w, mark);
    return n;
}

void stk_ws_heartbeat(struct stk_ws *w)
{
    size_t mark = w->c->out.len;
    stk_proto_ndjson.on_heartbeat(w->c);
    frame_lines(w, mark);
}

void stk_ws_fatal(struct stk_ws *w, enum stk_err code, const char *msg)
{
    if (msg) {
        size_t mark = w->c->out.len;
        stk_proto_ndjson.on_fatal(w->c, code, msg);
        frame_lines(w, mark);
        close_with(w, code == STK_E_SLOW_CONSUMER ? 1008 : WSLAY_CODE_POLICY_VIOLATION, msg);
    }
    w->c->out.err = 0;
}
