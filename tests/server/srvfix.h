/* SPDX-License-Identifier: MIT */
/* srvfix.h — a test fixture that builds a real server (stk_server_init on
 * a loop, a config, a segment name), adds listeners and socketpair
 * connections, and tears it all down, so tests drive the server through
 * these calls and the server's own API instead of its struct fields. */
#ifndef SEQTICK_TESTS_SRVFIX_H
#define SEQTICK_TESTS_SRVFIX_H

#include <ev.h>
#include <stddef.h>

#include "config-private.h"
#include "server.h"

struct stk_fix;

/* A server on loop with config cfg (borrowed: it must outlive the fixture;
 * its shm.name is replaced by `shm`). Returns NULL on failure. */
struct stk_fix *stk_fix_new(struct ev_loop *loop, struct stk_config *cfg, const char *shm);
/* The server, for its own API (stk_subs_scan(), stk_server_stop()...). */
struct stk_server *stk_fix_server(struct stk_fix *fx);
/* Add a listener on addr ("127.0.0.1:0") speaking proto; the bound address
 * goes to bound[size]. Returns 0 or -errno. */
int stk_fix_listen(struct stk_fix *fx, const char *addr, const struct stk_proto *proto, char *bound,
                   size_t size);
/* A connection speaking proto over one end of a socketpair, as if
 * accepted; the fixture keeps the other end. NULL on failure. */
struct stk_conn *stk_fix_conn(struct stk_fix *fx, const struct stk_proto *proto);
/* The fixture's end of the socketpair of the last stk_fix_conn(), or -1. */
int stk_fix_last_peer(const struct stk_fix *fx);
/* Bytes c's output buffer holds allocated (sent or not). */
size_t stk_fix_out_cap(const struct stk_conn *c);
/* The server's end of c's socket (to set its options). */
int stk_fix_conn_fd(const struct stk_conn *c);
/* Bytes as if read from c's socket: the protocol's framing serves them.
 * Returns bytes consumed (the connection layer would keep the rest). */
size_t stk_fix_feed(struct stk_conn *c, const char *data, size_t len);
/* Output rendered for c and not yet written (NUL-terminated copy kept by
 * c's buffer: valid until the next call on c); *len its length. */
const char *stk_fix_output(struct stk_conn *c, size_t *len);
/* Forget c's rendered output. */
void stk_fix_output_clear(struct stk_conn *c);
/* c was cut (its last message rendered, the socket closing). */
bool stk_fix_conn_cut(const struct stk_conn *c);
/* Render c's pending subscription events (the protocol's on_events) and
 * its keep-alive; return events rendered. */
size_t stk_fix_events(struct stk_conn *c);
void stk_fix_heartbeat(struct stk_conn *c);
/* Counters and gauges. */
const struct stk_stats *stk_fix_stats(const struct stk_fix *fx);
size_t stk_fix_subscribers(const struct stk_fix *fx);
/* The segment the server has open (NULL: none). */
struct stk_seg *stk_fix_segment(const struct stk_fix *fx);
/* Take the server's segment away (NULL) or give it back: returns the one
 * it had. */
struct stk_seg *stk_fix_swap_segment(struct stk_fix *fx, struct stk_seg *seg);
/* Close every connection and listener, stop the server, free. */
void stk_fix_free(struct stk_fix *fx);

#endif
