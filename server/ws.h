/* SPDX-License-Identifier: MIT */
/* ws.h — the WebSocket side of the HTTP face (ws.c): a connection that
 * asked GET /v1/ws with an Upgrade speaks NDJSON v1, one message per text
 * frame, framed by libwslay. */
#ifndef SEQTICK_SERVER_WS_H
#define SEQTICK_SERVER_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "server.h"

struct stk_ws;

/* The handshake's Sec-WebSocket-Accept for key[0..klen) (SHA-1 and base64
 * from libcrypto) into out (29 bytes with the NUL). Returns 0 or -EINVAL. */
int stk_ws_accept_key(const char *key, size_t klen, char out[29]);
/* A WebSocket session on c (the 101 reply already rendered), frames of at
 * most max_msg bytes. Returns it, or NULL (out of memory). */
struct stk_ws *stk_ws_new(struct stk_conn *c, size_t max_msg);
/* Free w (NULL safe). */
void stk_ws_free(struct stk_ws *w);
/* Frames received, data[0..len): every complete NDJSON message served,
 * replies framed into c->out. Returns bytes consumed (all of them unless
 * the output is over a write burst); may cut c when the session ends. */
size_t stk_ws_data(struct stk_ws *w, const char *data, size_t len);
/* Subscription events, each one text frame, while pending < limit. */
size_t stk_ws_events(struct stk_ws *w, size_t limit);
/* A heartbeat message. */
void stk_ws_heartbeat(struct stk_ws *w);
/* The last message before a cut: an NDJSON error, then a close frame. */
void stk_ws_fatal(struct stk_ws *w, enum stk_err code, const char *msg);

#endif
