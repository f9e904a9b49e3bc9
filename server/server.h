/* SPDX-License-Identifier: MIT */
/* server.h — the server's shared state and the interfaces between its parts:
 * conn.c (listeners, sockets, buffers, limits; protocol-neutral), subs.c
 * (subscription registry and dirty marking; protocol-neutral), segwatch.c
 * (segment life and the futex helper thread), render.c (the JSON of quotes,
 * ticks, health), ops.c (the operations, one table for every face),
 * protocol.c (the NDJSON v1 face), server.c (the listener table, wiring). */
#ifndef SEQTICK_SERVER_H
#define SEQTICK_SERVER_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config-private.h"
#include "segment-private.h"
#include "seqtick.h"

#define STK_WRITE_BURST ((size_t)64 * 1024) /* bytes written to one client per turn */
#define STK_READ_CHUNK ((size_t)64 * 1024)  /* one read(2) */
#define STK_LINGER_NS (5000000000ull)       /* a closing connection gets this long */
#define STK_TICK_S 0.1                      /* housekeeping period */
#define STK_OUT_KEEP 4096u                  /* output buffer kept after a drain */

/* error codes of protocol v1 */
enum stk_err {
    STK_E_BAD_REQUEST,
    STK_E_NOT_FOUND,
    STK_E_UNAVAILABLE,
    STK_E_SLOW_CONSUMER,
    STK_E_INTERNAL,
    STK_E_COUNT
};
const char *stk_err_name(enum stk_err e);

struct stk_conn;
struct stk_server;
struct sockaddr;

/* What a wire protocol plugs into the protocol-neutral connection layer.
 * The layer owns the socket, the buffers, the limits, idle timeouts and
 * the slow-consumer cut; the protocol owns framing, its per-connection
 * state, how rendered output may be cut, and its keep-alive period. */
struct stk_proto {
    const char *name;
    /* A subscriber that had no event for this long gets on_heartbeat(). */
    uint64_t heartbeat_ns;
    /* A new connection: set up c->pstate (optional; NULL leaves it NULL).
     * Returns 0 or -errno (the connection is then refused). */
    int (*on_open)(struct stk_conn *c);
    /* The connection is freed: release c->pstate (optional). */
    void (*on_close)(struct stk_conn *c);
    /* Bytes received, data[0..len): serve the complete requests in order
     * while stk_conn_pending(c) < STK_WRITE_BURST, appending replies to
     * c->out. Returns bytes consumed; the layer keeps the rest in c->in and
     * offers it again, with whatever follows, later. at_eof: the peer sent
     * its last byte. The protocol may cut c (stk_conn_fatal); after that
     * the return value is not used. */
    size_t (*on_data)(struct stk_conn *c, const char *data, size_t len, bool at_eof);
    /* Render pending subscription events into c->out while its pending
     * output is below `limit` bytes. Returns events rendered. */
    size_t (*on_events)(struct stk_conn *c, size_t limit);
    /* Render a keep-alive for a subscriber that had no event for a while. */
    void (*on_heartbeat)(struct stk_conn *c);
    /* Render the last message, sent before a connection is cut. */
    void (*on_fatal)(struct stk_conn *c, enum stk_err code, const char *msg);
    /* Where c->out may be cut when its unsent output is dropped (slow
     * consumer): the end of the message that holds byte `sent` - 1, so the
     * peer never gets half a message (a value from `sent` to c->out.len). */
    size_t (*cut_point)(const struct stk_conn *c, size_t sent);
};

/* Where a connection is in its life. Moves only forward, except that a
 * cut may come from any earlier state. */
enum stk_conn_state {
    STK_CONN_OPEN,    /* reading requests, writing replies */
    STK_CONN_EOF,     /* the peer shut its side: serve what it sent, flush, close */
    STK_CONN_DRAIN,   /* the server stops: read no more, flush, close */
    STK_CONN_CUT,     /* cut: the last message goes out; input is read and dropped */
    STK_CONN_CUT_EOF, /* cut after the peer's EOF: the last message goes out */
    STK_CONN_LINGER,  /* cut and flushed, write side shut: until the peer closes or the deadline */
};

/* Cut (on the closing list, waiting for its deadline). */
static inline bool stk_conn_state_cut(enum stk_conn_state st)
{
    return st >= STK_CONN_CUT;
}

/* Still serving requests and events (open, or finishing after the peer's EOF). */
static inline bool stk_conn_state_serving(enum stk_conn_state st)
{
    return st <= STK_CONN_EOF;
}

/* Which list a connection's prev/next links are on. */
enum stk_conn_list { STK_LIST_NONE, STK_LIST_LRU, STK_LIST_CLOSING };

struct stk_sub; /* subs.c */

/* Per-connection subscription state, allocated on the first subscribe. */
struct stk_subscriber {
    struct stk_sub **tab; /* open-addressing hash by ticker name */
    uint32_t tab_mask;
    uint32_t count;
    struct stk_sub *dirty_head, *dirty_tail; /* FIFO of changed tickers */
    bool wildcard;                           /* "*": every ticker, new ones too */
    bool ticks_all;                          /* "*" in ticks mode: new tickers too */
    uint64_t event_seq;                      /* last event seq sent */
    uint64_t last_event_ns;                  /* monotonic */
    uint64_t throttle_ns;                    /* throttle_ms: at most one round of events per this */
    uint64_t next_event_ns;         /* monotonic: no events before (throttle, server.flush_us) */
    uint64_t due_ns;                /* waiting: flush then */
    bool waiting;                   /* on the server's wait list (a server.flush_us window) */
    struct stk_conn *wprev, *wnext; /* the wait list, by due_ns */
    ev_timer throttle;              /* a throttle_ms window longer than server.flush_us */
    struct stk_conn *prev, *next;   /* server's list of subscribed connections */
};

struct stk_conn {
    struct stk_server *srv;
    const struct stk_proto *proto;
    void *pstate; /* the protocol's per-connection state (on_open / on_close) */
    ev_io rio, wio;
    int fd;
    /* packed: with fd these fill 8 bytes (a connection is the server's
     * per-client memory: 10,000 idle ones are a benchmark bar) */
    uint8_t state;      /* enum stk_conn_state */
    uint8_t list;       /* enum stk_conn_list: what prev/next link into */
    bool blocked : 1;   /* the last write hit EAGAIN (or used its burst): wait for POLLOUT */
    bool counted : 1;   /* counted against max_connections (not a refused one) */
    bool flushq : 1;    /* on the server's flush list */
    struct stk_buf in;  /* unprocessed input (a partial request, or requests held back) */
    struct stk_buf out; /* rendered output; out_sent bytes of it already written */
    size_t out_sent;
    uint64_t last_active_ns;        /* monotonic: last bytes read */
    uint64_t deadline_ns;           /* closing: close by then */
    struct stk_conn *prev, *next;   /* idle LRU (no subscriptions) or closing list: `list` */
    struct stk_conn *fprev, *fnext; /* flush list */
    struct stk_conn *aprev, *anext; /* all connections */
    struct stk_subscriber *sub;     /* NULL until the first subscribe */
    char peer[56];                  /* "127.0.0.1:5555" / "[::1]:5555" */
};

/* A doubly linked list through one pair of link fields. */
struct stk_clist {
    struct stk_conn *head, *tail;
    size_t n;
};

/* Room for the op table in the per-op counters (ops.c checks it). */
#define STK_OPS_MAX 16

struct stk_stats {
    uint64_t accepted, rejected, requests, errors, slow_consumers, too_long;
    uint64_t events, heartbeats, closed_idle;
    uint64_t fast_path;           /* requests served by protocol.c's get_quote fast path */
    uint64_t by_op[STK_OPS_MAX];  /* requests run, by operation (the op table's order) */
    uint64_t by_err[STK_E_COUNT]; /* error replies, by code (every face) */
};

/* One listening socket and the protocol its connections speak. */
struct stk_listener {
    struct stk_server *srv;
    const struct stk_proto *proto;
    const char *key; /* the config key it came from ("server.listen") */
    int fd;
    ev_io io;
    char addr[80]; /* the bound address: "127.0.0.1:7878" */
};

#define STK_LISTENERS_MAX 4

struct stk_server {
    struct ev_loop *loop;
    const struct stk_config *cfg;

    /* listening: the listener table */
    struct stk_listener lis[STK_LISTENERS_MAX];
    unsigned nlis;
    int spare_fd; /* kept open for EMFILE: close, accept, close, reopen */

    /* connections */
    struct stk_clist all, lru, closing, flushq;
    size_t nconns; /* counted against max_connections */
    ev_prepare prep;
    ev_timer tick;

    /* segment (loop thread's handle) */
    struct stk_seg *seg;
    int seg_last_err;       /* last open error logged, to log changes only */
    uint64_t dead_after_ns; /* 3 × producer.heartbeat_ms */

    /* subscriptions */
    struct stk_sub **sym_head;   /* per symbol index: list of subs */
    uint64_t *sym_seq;           /* per symbol index: record seq last scanned */
    uint64_t *sym_stuck;         /* per symbol index: odd seq it was found stuck at, 0 none */
    uint32_t sym_logged;         /* symbol entries checked for a valid name */
    uint32_t sym_cap;            /* entries in the two arrays */
    uint32_t sym_known;          /* symbols seen so far (wildcard growth) */
    bool have_unbound;           /* a subscription waits for its ticker to appear */
    struct stk_conn *subscribed; /* list through sub->prev/next */
    size_t nsubscribed;
    /* subscribers waiting for their server.flush_us window to pass, in the
     * order of their due time, and the timerfd that wakes the loop for the
     * first (libev's timers would round a window up to a millisecond) */
    uint64_t flush_ns;
    struct stk_conn *wait_head, *wait_tail;
    int wait_fd;            /* -1: none (ev_timers are used) */
    uint64_t wait_armed_ns; /* the timerfd's expiry, 0 disarmed */
    ev_io wait_io;

    /* futex helper thread */
    pthread_t watch_thread;
    bool watch_started;
    atomic_bool watch_stop;
    atomic_bool watch_reopened;
    _Atomic uint32_t watch_pending; /* 1: signalled, the loop has not scanned yet */
    _Atomic uint32_t watch_wanted;  /* 1: there are subscribers, follow every batch */
    ev_async async;
    /* io_uring futex follower (Linux >= 6.7): the loop itself waits on the
     * segment's futex through a ring whose fd it polls, so a batch wakes
     * the loop directly instead of the helper thread waking it. NULL: not
     * available, the helper follows batches. */
    struct stk_fring *fring;
    ev_io fring_io;
    bool fring_want;    /* subscribers exist: keep a wait armed */
    bool fring_armed;   /* a FUTEX_WAIT is in flight ... */
    uint64_t fring_gen; /* ... with this user_data */

    /* the recorder's store, read by get_bars (bars.c); NULL: none */
    struct stk_bars *bars;

    /* lifecycle */
    ev_signal sigterm, sigint;
    ev_timer drain_timer, stats_timer;
    bool draining;
    uint64_t start_ns;
    struct stk_stats st, st_last;
    /* clocks read at most once per loop iteration (hot path: one read per
     * batch of requests, not two per request); invalidated after the flush */
    uint64_t now_real, now_mono;
    bool now_valid;
    uint64_t warn_window_ns;
    unsigned warn_count, warn_suppressed;
};

/* ---- server.c ---- */

static inline void stk_server_clock(struct stk_server *s)
{
    if (!s->now_valid) {
        s->now_real = stk_now_ns();
        s->now_mono = stk_mono_ns();
        s->now_valid = true;
    }
}

/* CLOCK_REALTIME / CLOCK_MONOTONIC ns of this loop iteration. */
static inline uint64_t stk_server_now(struct stk_server *s)
{
    stk_server_clock(s);
    return s->now_real;
}

static inline uint64_t stk_server_mono(struct stk_server *s)
{
    stk_server_clock(s);
    return s->now_mono;
}

/* Set up everything but the listening sockets: loop watchers, segment
 * probe, helper thread. Returns 0 or -errno. */
int stk_server_init(struct stk_server *s, struct ev_loop *loop, const struct stk_config *cfg);
/* Open every listener the config turns on (the listener table in
 * server.c: server.listen speaks NDJSON, server.http_listen HTTP; at its
 * default address a port in use leaves the HTTP face off with a warning).
 * On failure *ret_addr is the address that failed. Returns 0 or -errno. */
int stk_server_listen_all(struct stk_server *s, const char **ret_addr);
/* Run until SIGTERM/SIGINT and the drain finish. */
void stk_server_run(struct stk_server *s);
/* Stop the helper thread, close every connection, unmap. */
void stk_server_fini(struct stk_server *s);
/* Begin a graceful stop: no more accepts, flush, then leave the loop. */
void stk_server_stop(struct stk_server *s);
/* Rate-limited warn line (at most 50 a second, then a count). */
void stk_server_warn(struct stk_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- conn.c ---- */

/* Bind and listen on `spec` ("HOST:PORT", port 0 allowed) for connections
 * speaking proto; key names the config key in logs. Returns the new
 * listener (its bound address in ->addr) or NULL with *ret_err = -errno. */
struct stk_listener *stk_listen_add(struct stk_server *s, const char *key, const char *spec,
                                    const struct stk_proto *proto, int *ret_err);
/* Stop accepting and close every listening socket. */
void stk_listen_stop(struct stk_server *s);
/* Take a connected socket (accepted, or one end of a socketpair) as a
 * connection speaking proto, peer address sa. Over max_connections (or
 * while stopping) it is refused: cut with UNAVAILABLE. Returns the
 * connection, or NULL (out of memory: fd closed). */
struct stk_conn *stk_conn_open(struct stk_server *s, int fd, const struct sockaddr *sa,
                               const struct stk_proto *proto);
/* Queue c to be written before the loop polls again. */
void stk_conn_schedule(struct stk_conn *c);
/* Bytes rendered but not yet written. */
static inline size_t stk_conn_pending(const struct stk_conn *c)
{
    return c->out.len - c->out_sent;
}
/* Cut c: code/msg as the last message, then close (after a short linger). */
void stk_conn_fatal(struct stk_conn *c, enum stk_err code, const char *msg);
/* Close now and free. */
void stk_conn_close(struct stk_conn *c);
/* Housekeeping: idle timeouts, linger deadlines. */
void stk_conn_tick(struct stk_server *s, uint64_t now_ns);
/* The ev_prepare callback body: write every queued connection. */
void stk_conn_flush_all(struct stk_server *s);
/* Graceful stop for every connection: read no more, flush, close. */
void stk_conn_drain_all(struct stk_server *s);
/* Move c out of (or back into) the idle LRU when it gains (or loses) its
 * subscriptions: subscribers are not idle. */
void stk_conn_set_idle_exempt(struct stk_conn *c, bool exempt);

void stk_clist_push(struct stk_clist *l, struct stk_conn *c, size_t off);
void stk_clist_remove(struct stk_clist *l, struct stk_conn *c, size_t off);

/* ---- subs.c ---- */

/* Subscribe c to `name` (a ticker of the current segment, index sym).
 * snap_seq: the record seq the snapshot showed (events start after it).
 * Returns 1 added, 0 already subscribed, -ENOMEM. */
int stk_subs_add(struct stk_conn *c, const char *name, uint32_t sym, uint64_t snap_seq);
/* Turn the wildcard on: every ticker now and later. Returns 0 or -ENOMEM. */
int stk_subs_add_all(struct stk_conn *c);
/* Unsubscribe one ticker; returns 1 if it was subscribed. */
int stk_subs_remove(struct stk_conn *c, const char *name);
/* Drop every subscription of c (and the wildcard); frees c->sub. */
void stk_subs_remove_all(struct stk_conn *c);
/* Tickers c is subscribed to. */
uint32_t stk_subs_count(const struct stk_conn *c);
/* The epoch moved: compare every record's seq with the last seen, mark the
 * subscribers of changed ones dirty, add new tickers to wildcard
 * subscribers. */
void stk_subs_scan(struct stk_server *s);
/* A new segment was installed (or none): re-bind every subscription by name. */
void stk_subs_rebind(struct stk_server *s);
/* Next dirty subscription of c, taken off its list, or NULL. The caller
 * reads the record and calls stk_subs_sent(). */
struct stk_sub *stk_subs_pop_dirty(struct stk_conn *c);
/* Put a popped sub back at the head (rendering ran out of room). */
void stk_subs_unpop(struct stk_conn *c, struct stk_sub *sub);
/* Put a popped sub back at the tail (more to send after the others). */
void stk_subs_requeue(struct stk_conn *c, struct stk_sub *sub);
/* Accessors for a popped sub. */
uint32_t stk_sub_sym(const struct stk_sub *sub);
const char *stk_sub_name(const struct stk_sub *sub);
uint64_t stk_sub_sent_seq(const struct stk_sub *sub);
void stk_sub_set_sent_seq(struct stk_sub *sub, uint64_t seq);
/* Ticks mode (every ring tick): whether sub is in it, and its cursor, the
 * next ring tick to send. */
bool stk_sub_ticks(const struct stk_sub *sub);
uint64_t stk_sub_cursor(const struct stk_sub *sub);
void stk_sub_set_cursor(struct stk_sub *sub, uint64_t k);
/* Put c's subscription to `name` in ticks mode (on), next tick `from`, and
 * mark it if its ring has ticks from there; or back in latest mode (!on).
 * from = STK_TICKS_KEEP: a subscription already in ticks mode keeps its
 * place, another starts at the ring's head. Returns 0 or -ENOENT. */
#define STK_TICKS_KEEP UINT64_MAX
int stk_subs_set_ticks(struct stk_conn *c, const char *name, bool on, uint64_t from);
#define STK_TICKS_ROUND 1024u     /* ticks rendered per subscription per flush round */
#define STK_SEQ_RESYNC UINT64_MAX /* sent_seq after a re-bind: no conflation count */
/* Housekeeping: heartbeats and throttled flushes. */
void stk_subs_tick(struct stk_server *s, uint64_t now_ns);
/* c has events but its window (throttle_ms, server.flush_us) ends at due
 * (monotonic): have it flushed then, and not before. */
void stk_subs_defer(struct stk_conn *c, uint64_t due);
/* The events window of c: the longer of its throttle and server.flush_us. */
uint64_t stk_subs_window(const struct stk_conn *c);
/* Set up / release the wait list's timerfd (server init and fini). */
void stk_subs_wait_init(struct stk_server *s);
void stk_subs_wait_fini(struct stk_server *s);
/* Release the per-symbol arrays. */
void stk_subs_fini(struct stk_server *s);

/* ---- segwatch.c ---- */

/* Open / re-open the segment if missing or replaced; re-binds subs. */
void stk_segwatch_check(struct stk_server *s, bool full);
/* The loop has scanned and flushed after the helper's signal: lets the
 * helper wait for the next change (a no-op when it was not signalled). */
void stk_segwatch_scanned(struct stk_server *s);
/* Subscribers exist (or no longer): the helper follows the producer's
 * batches only while someone needs them. */
void stk_segwatch_want(struct stk_server *s, bool on);
/* Start / stop the futex helper thread (signals s->async). */
int stk_segwatch_start(struct stk_server *s);
void stk_segwatch_stop(struct stk_server *s);
/* True if the producer's heartbeat is recent (≤ 3 × producer.heartbeat_ms)
 * and the segment is live: the library's stk_seg_alive(). */
bool stk_producer_alive(struct stk_server *s, uint64_t *ret_age_ns);
/* The library's stale rule (stk_quote_stale()) with this server's config. */
bool stk_quote_is_stale(struct stk_server *s, const struct stk_quote *q, uint64_t now_ns);
/* The server's one way to read a latest record, never waiting in the loop:
 * stk_quote_try(), and a record found stuck mid-write is remembered by its
 * odd seq, so later reads answer -EBUSY after one load until it moves.
 * Returns stk_quote_try()'s results, -ENODEV without a segment. */
int stk_server_read(struct stk_server *s, uint32_t sym, struct stk_quote *q);
/* Log (once per entry) symbol-table entries that are not valid names. */
void stk_segwatch_names(struct stk_server *s);

/* ---- render.c: the JSON every face shares ---- */

/* A quote's fields, no braces: "ticker":name,"price":…,"age_ms":…,"stale":…
 * (record sym, read at now_ns). Rendered text is reused per symbol while
 * the record's values are unchanged. */
void stk_render_quote(struct stk_buf *b, struct stk_server *s, uint32_t sym, const char *name,
                      const struct stk_quote *q, uint64_t now_ns);
/* One history tick as an object: {"seq":…,"price":…,…,"ts_ns":…}. */
void stk_render_tick(struct stk_buf *b, const struct stk_quote *q);
/* Ticks mode: the events of sub (ring sym) from its cursor towards the
 * ring head, in tick order, each {"v":1,"type":"tick","ticker":…,"tick":k,…}
 * (a "gap" event first when the ring lapped the cursor), while c's pending
 * output is below limit and at most STK_TICKS_ROUND of them. Never waits:
 * a slot mid-write ends the round. Returns events rendered; *more: ticks
 * are left for the next round. */
size_t stk_render_ticks(struct stk_conn *c, struct stk_sub *sub, size_t limit, bool *more);
/* How a face wraps one conflated quote event: open writes what comes before
 * the quote's fields (given the event's seq and its conflated count, ending
 * with ','), close is what follows them. */
struct stk_event_frame {
    void (*open)(struct stk_buf *b, uint64_t seq, uint64_t conflated);
    const char *close;
    size_t close_len;
};
/* The pending subscription events of c, every face's loop: for each dirty
 * subscription, ticks mode's ring ticks (stk_render_ticks) or the latest
 * quote conflated into one event framed by f, while c's pending output is
 * below limit. Returns the events rendered. */
size_t stk_render_events(struct stk_conn *c, size_t limit, const struct stk_event_frame *f);
/* A new segment (or none): forget the ticks rendered from the old one. */
void stk_render_forget(void);
/* The health fields, each with a leading ',': ,"producer_alive":…,… */
void stk_render_health(struct stk_buf *b, struct stk_server *s);

/* ---- ops.c: the operations, one table every face dispatches through ---- */

struct stk_req;

/* Optional integer arguments an operation may read. */
enum stk_arg {
    STK_ARG_LIMIT,
    STK_ARG_THROTTLE_MS,
    STK_ARG_FROM_MS,
    STK_ARG_TO_MS,
    STK_ARG_FROM_TICK
};
/* Optional string arguments an operation may read. */
enum stk_sarg { STK_SARG_INTERVAL, STK_SARG_MODE };

#define STK_TICKERS_ALL (-2) /* tickers(): "*" */

/* What a face gives the operations: its envelope, its errors, and its
 * arguments decoded from its own syntax (JSON fields, a URL...). */
struct stk_face {
    /* Open a success reply; the operation's fields follow, each with a
     * leading ','. */
    void (*begin)(struct stk_req *r);
    /* Close a success reply. */
    void (*end)(struct stk_req *r);
    /* Reply with an error (and count and log it). Returns -1. */
    int (*fail)(struct stk_req *r, enum stk_err code, const char *msg);
    /* The required ticker into name: 0, -ENOENT for one that cannot be a
     * symbol (the op answers NOT_FOUND), or -1 after an error reply. */
    int (*ticker)(struct stk_req *r, char name[STK_NAME_MAX + 1]);
    /* The required ticker list: its length, STK_TICKERS_ALL for "*" (only
     * when star_ok), or -1 after an error reply. */
    int (*tickers)(struct stk_req *r, bool star_ok);
    /* Item i of the list into name: 0, or -ENOENT for no possible symbol. */
    int (*ticker_at)(struct stk_req *r, int i, char name[STK_NAME_MAX + 1]);
    /* Append item i (or the whole list, i < 0) as the client gave it, JSON. */
    void (*put_tickers)(struct stk_req *r, int i);
    /* An optional integer: 1 into *v, 0 absent, -1 present but no integer. */
    int (*int_arg)(struct stk_req *r, enum stk_arg a, int64_t *v);
    /* An optional string into out[size] (NUL-terminated): its length, 0
     * absent, or -1 after an error reply (not a string, too long). NULL:
     * the face has no string arguments. */
    int (*str_arg)(struct stk_req *r, enum stk_sarg a, char *out, size_t size);
};

/* One request as an operation sees it. */
struct stk_req {
    struct stk_conn *c;
    struct stk_server *s;
    struct stk_buf *b; /* where the reply goes */
    const struct stk_face *face;
    const char *opname; /* the operation, once known */
};

struct stk_op {
    const char *name;
    size_t len;
    int (*fn)(struct stk_req *r); /* 0, or -1 after an error reply */
};

/* The operation called name[0..len), or NULL. */
const struct stk_op *stk_op_find(const char *name, size_t len);
/* Run op for r, counted in r's server's by_op. Returns what op->fn does. */
int stk_op_run(struct stk_req *r, const struct stk_op *op);
/* How many operations there are, and the i-th (for metrics by op). */
size_t stk_op_count(void);
const struct stk_op *stk_op_at(size_t i);
/* get_quote with the ticker already decoded (k: 0, or -ENOENT for a name
 * that cannot be a symbol): the faces' fast paths call it. */
int stk_op_get_quote_named(struct stk_req *r, const char name[STK_NAME_MAX + 1], int k);

/* ---- bars.c: get_bars, OHLC bars from the recorder's store ---- */

#define STK_BARS_DEFAULT 500      /* bars answered without a limit */
#define STK_BARS_MAX 5000         /* the largest limit */
#define STK_BARS_INTERVALS_MAX 16 /* intervals in recorder.bars */

/* Set up bar serving from the recorder's store spec ("sqlite:PATH",
 * "postgresql:CONNINFO", "csv:DIR", "off" or NULL) and its interval list
 * ("1s 1m 1h 1d"). Opens nothing yet: the store is opened on first use.
 * Returns 0, -EINVAL (bad spec or interval list) or -ENOMEM. */
int stk_bars_init(struct stk_server *s, const char *store, const char *intervals);
/* Close the store and free what stk_bars_init() set up (NULL safe). */
void stk_bars_fini(struct stk_server *s);
/* "1s", "15m", "1h", "1d" (s[0..n)) into seconds: 0 or -EINVAL. */
int stk_bars_interval_parse(const char *s, size_t n, uint32_t *ret_secs);
/* What the recorder could not store, from its SQLite store's gaps table:
 * *ret_rows gap rows covering *ret_ticks lost ticks. Never waits: -EAGAIN
 * when the store is busy or unreadable, -ENODATA when there is no SQLite
 * store (off, csv:, postgresql:). Cached: the store is read at most once a
 * second (monotonic clock) and each answer, -EAGAIN included, is repeated
 * until then, so a change shows within about 1 s. */
int stk_bars_gaps(struct stk_server *s, uint64_t *ret_rows, uint64_t *ret_ticks);
/* The get_bars operation (ops.c's table). */
int stk_op_get_bars(struct stk_req *r);

/* ---- protocol.c ---- */

/* NDJSON protocol v1. */
extern const struct stk_proto stk_proto_ndjson;
/* Serve one NDJSON request line (no '\n', a trailing '\r' removed, not
 * blank): the reply is appended to c->out. stk_proto_ndjson's on_data
 * frames lines and calls this for each. */
void stk_ndjson_request(struct stk_conn *c, const char *line, size_t len);
/* Serve the common get_quote shape without the general JSON parser (default
 * true; tests turn it off to compare both paths' replies). */
extern bool stk_ndjson_fast_path;

/* ---- http.c ---- */

/* The HTTP/1.1 face (REST, metrics, the dashboard page). */
extern const struct stk_proto stk_proto_http;

#endif
