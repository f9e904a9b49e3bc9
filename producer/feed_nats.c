/* SPDX-License-Identifier: MIT */
/* feed_nats.c — the `nats:URL[,URL…]` feed: ticks another box's bridge
 * publishes on NATS, parsed by ingest.c like exec: lines, into this box's
 * segment with their source time; the remote heartbeat decides whether this
 * segment reads as alive.
 *
 * Threads: the producer's loop is ppoll, not libev, so libnats runs on its
 * own threads (reader, reconnect, one delivery thread per subscription).
 * Their callbacks only queue the message under a mutex and poke an eventfd
 * the loop polls; the loop thread alone parses, writes the segment and logs.
 * The queue is bounded (QUEUE_MAX): past it a message is dropped and
 * counted, so a stalled loop never grows memory without bound. */
#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backoff-private.h"
#include "feed.h"
#include "json-private.h"
#include "log-private.h"
#include "natsopt-private.h"
#include "producer.h"
#include "segment-private.h"

#define QUEUE_MAX (1u << 20)         /* messages waiting for the loop; past it: dropped */
#define RETRY_MIN_MS 100             /* connect/reconnect pass: 100 ms, doubling ... */
#define RETRY_MAX_MS 2000            /* ... up to 2 s (a node back within 2 s is found) */
#define GAP_LOG_BURST 10             /* gap log lines per window ... */
#define GAP_WINDOW_NS 10000000000ull /* ... of 10 s; the rest counted */

enum { EV_CONNECTED = 1, EV_DISCONNECTED = 2, EV_RECONNECTED = 4, EV_ERROR = 8, EV_CLOSED = 16 };

struct nats_feed {
    struct stk_feed base;
    struct stk_ingest_sink sink;
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *sub_ticks, *sub_hb;
    char *servers;    /* the argument, for the log */
    char *hb_subject; /* prefix of producer.nats_subject + "._hb" */
    int efd;          /* eventfd: the libnats threads → the loop */

    pthread_mutex_t mu; /* guards the fields up to `work` */
    natsMsg **q;
    size_t qlen, qcap;
    uint64_t q_dropped; /* queue full: dropped, not yet logged */
    bool closing;       /* nats_close began: messages are dropped at once */
    unsigned events;    /* EV_* since the loop last looked */
    char last_error[160];

    natsMsg **work; /* the loop's batch, swapped with q */
    size_t workcap;

    /* liveness: the remote heartbeat */
    bool hb_seen, hb_alive, live;
    bool closed;                      /* libnats closed the connection for good */
    uint64_t errors, err_logged_mono; /* libnats' async errors, their log limit */
    uint64_t hb_mono;                 /* arrival of the last heartbeat */
    uint64_t alive_ns;                /* STK_ALIVE_BEATS × producer.heartbeat_ms */
    uint64_t bad_hb;

    /* gaps: per segment slot, the sender's last seq and generation */
    uint64_t *last_seq, *last_gen; /* last_seq: the last seq + 1, 0 none */
    uint32_t nslots;
    uint64_t gaps, missing, dropped_total;
    uint64_t gap_window_ns, gap_logged, gap_suppressed;
};

/* ---- libnats threads ----------------------------------------------------- */

static void poke(struct nats_feed *g)
{
    uint64_t one = 1;
    ssize_t n = write(g->efd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

static void push(struct nats_feed *g, natsMsg *m)
{
    bool wake = false;
    pthread_mutex_lock(&g->mu);
    if (g->closing) {
        pthread_mutex_unlock(&g->mu);
        natsMsg_Destroy(m);
        return;
    }
    if (g->qlen == g->qcap && g->qcap < QUEUE_MAX) {
        size_t cap = g->qcap ? g->qcap * 2 : 1024;
        natsMsg **q = realloc(g->q, cap * sizeof(natsMsg *));
        if (q) {
            g->q = q;
            g->qcap = cap;
        }
    }
    if (g->qlen < g->qcap) {
        wake = g->qlen == 0;
        g->q[g->qlen++] = m;
        m = NULL;
    } else {
        g->q_dropped++;
        wake = true;
    }
    pthread_mutex_unlock(&g->mu);
    if (m)
        natsMsg_Destroy(m);
    if (wake)
        poke(g);
}

/* Is the subject's last token "_hb"? */
static bool is_hb_subject(const char *s)
{
    size_t n = strlen(s);
    return n >= 3 && !strcmp(s + n - 3, "_hb") && (n == 3 || s[n - 4] == '.');
}

static void on_tick(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
    (void)nc;
    (void)sub;
    if (is_hb_subject(natsMsg_GetSubject(m))) {
        natsMsg_Destroy(m); /* `>` matches the heartbeat too: its own subscription has it */
        return;
    }
    push(arg, m);
}

static void on_hb(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
    (void)nc;
    (void)sub;
    push(arg, m);
}

static void event(struct nats_feed *g, unsigned ev, const char *err)
{
    pthread_mutex_lock(&g->mu);
    g->events |= ev;
    if (err)
        snprintf(g->last_error, sizeof(g->last_error), "%s", err);
    pthread_mutex_unlock(&g->mu);
    poke(g);
}

static void on_connected(natsConnection *nc, void *arg)
{
    (void)nc;
    event(arg, EV_CONNECTED, NULL);
}

static void on_disconnected(natsConnection *nc, void *arg)
{
    (void)nc;
    event(arg, EV_DISCONNECTED, NULL);
}

static void on_reconnected(natsConnection *nc, void *arg)
{
    (void)nc;
    event(arg, EV_RECONNECTED, NULL);
}

static void on_closed(natsConnection *nc, void *arg)
{
    (void)nc;
    event(arg, EV_CLOSED, NULL);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg)
{
    (void)nc;
    (void)sub;
    event(arg, EV_ERROR, natsStatus_GetText(err));
}

/* After each pass through every URL: back off, 100 ms doubling to 2 s. */
static int64_t retry_delay(natsConnection *nc, int attempts, void *arg)
{
    (void)nc;
    (void)arg;
    /* jitter from the pid: boxes that lost the same node spread out */
    double u = (double)((unsigned)getpid() * 2654435761u % 1000u) / 1000.0;
    return stk_backoff_ms(RETRY_MIN_MS, RETRY_MAX_MS, (unsigned)(attempts > 0 ? attempts : 1), u);
}

/* ---- the loop thread ----------------------------------------------------- */

static void set_live(struct nats_feed *g, bool live, const char *why)
{
    if (live == g->live)
        return;
    g->live = live;
    stk_seg_set_state(g->base.host->seg, live ? STK_STATE_LIVE : STK_STATE_INIT);
    if (live)
        stk_info("nats: remote producer alive: this segment reads as alive again");
    else
        stk_warn("nats: %s: this segment reads as not alive (quotes stale) until it is back", why);
}

static void check_live(struct nats_feed *g, uint64_t mono)
{
    if (!g->hb_seen)
        return;
    if (!g->hb_alive)
        set_live(g, false, "the remote heartbeat says its producer is not alive");
    else if (mono - g->hb_mono > g->alive_ns)
        set_live(g, false, "no remote heartbeat for 3 beats");
    else
        set_live(g, true, NULL);
}

static void heartbeat(struct nats_feed *g, const char *data, size_t len, uint64_t mono)
{
    struct stk_json j;
    const char *err;
    int alive = -1;
    if (stk_json_parse(&j, data, len, &err) == 0) {
        int t = stk_json_get(&j, 0, "producer_alive");
        if (t > 0) {
            const jsmntok_t *k = &j.tok[t];
            size_t n = (size_t)(k->end - k->start);
            if (n == 4 && !memcmp(data + k->start, "true", 4))
                alive = 1;
            else if (n == 5 && !memcmp(data + k->start, "false", 5))
                alive = 0;
        }
        stk_json_free(&j);
    }
    if (alive < 0) {
        if (g->bad_hb++ == 0)
            stk_warn("nats: heartbeat without \"producer_alive\": true|false ignored "
                     "(logged once)");
        return;
    }
    g->hb_seen = true;
    g->hb_alive = alive == 1;
    g->hb_mono = mono;
    check_live(g, mono);
}

static void gap_check(struct nats_feed *g, const struct stk_ingest_tick *t)
{
    if (!(t->has & STK_ING_SEQ))
        return;
    int idx = stk_seg_lookup(g->base.host->seg, t->symbol);
    if (idx < 0 || (uint32_t)idx >= g->nslots)
        return;
    /* last_seq holds the last seq + 1 (seq counts from 0): 0 is none yet */
    uint64_t have = g->last_seq[idx], gen = (t->has & STK_ING_GEN) ? t->gen : 0;
    g->last_seq[idx] = t->seq + 1;
    if (have == 0 || g->last_gen[idx] != gen || t->seq < have) {
        g->last_gen[idx] = gen; /* first tick, a new sender segment, or it started over */
        return;
    }
    if (t->seq == have)
        return;
    uint64_t last = have - 1;
    uint64_t miss = t->seq - last - 1;
    g->gaps++;
    g->missing += miss;
    uint64_t now = g->sink.now_ns;
    if (now >= g->gap_window_ns + GAP_WINDOW_NS) {
        if (g->gap_suppressed)
            stk_warn("nats: %" PRIu64 " more gaps not logged", g->gap_suppressed);
        g->gap_window_ns = now;
        g->gap_logged = g->gap_suppressed = 0;
    }
    if (g->gap_logged >= GAP_LOG_BURST) {
        g->gap_suppressed++;
        return;
    }
    g->gap_logged++;
    stk_warn("nats: gap on %s: seq %" PRIu64 " after %" PRIu64 " (%" PRIu64 " missing; %" PRIu64
             " gaps, %" PRIu64 " ticks missing in all)",
             t->symbol, t->seq, last, miss, g->gaps, g->missing);
}

static void tick(struct nats_feed *g, const char *subject, const char *data, size_t len)
{
    struct stk_ingest_tick t;
    const char *why = NULL;
    if (len > STK_INGEST_LINE_MAX + 1) {
        stk_ingest_bad(&g->sink, NULL, 0, "message longer than 65536 bytes");
        return;
    }
    if (len && data[len - 1] == '\n')
        len--; /* one ingest line, with or without its newline */
    if (stk_ingest_parse_line(data, len, &t, &why) < 0) {
        stk_ingest_bad(&g->sink, data, len, why);
        return;
    }
    size_t sn = strlen(subject), yn = strlen(t.symbol);
    if (sn <= yn || subject[sn - yn - 1] != '.' || strcmp(subject + sn - yn, t.symbol) != 0) {
        stk_ingest_bad(&g->sink, data, len, "symbol is not the subject's last token");
        return;
    }
    if (stk_ingest_tick_in(&g->sink, &t, data, len) == 1)
        gap_check(g, &t);
}

static void report_events(struct nats_feed *g, unsigned ev, uint64_t dropped, const char *err)
{
    char url[256] = "";
    if (ev & (EV_CONNECTED | EV_RECONNECTED))
        (void)natsConnection_GetConnectedUrl(g->nc, url, sizeof(url));
    if (ev & EV_DISCONNECTED)
        stk_warn("nats: disconnected; reconnecting through %s", g->servers);
    if (ev & EV_CONNECTED)
        stk_info("nats: connected to %s", url);
    if (ev & EV_RECONNECTED)
        stk_info("nats: reconnected to %s", url);
    if (ev & EV_ERROR) { /* e.g. slow consumer: at most one line per 10 s */
        uint64_t mono = stk_mono_ns();
        g->errors++;
        if (!g->err_logged_mono || mono - g->err_logged_mono >= GAP_WINDOW_NS) {
            stk_warn("nats: %s (%" PRIu64 " errors reported by libnats so far)", err, g->errors);
            g->err_logged_mono = mono;
        }
    }
    if ((ev & EV_CLOSED) && !g->base.host->stopping) {
        /* libnats gave up (credentials refused by every server): exit, and
         * let the supervisor restart us with its back-off */
        const char *last = NULL;
        if (g->nc && natsConnection_GetLastError(g->nc, &last) == NATS_OK)
            last = NULL;
        stk_error("nats: connection closed for good (%s)", last && *last ? last
                                                           : err[0]      ? err
                                                                         : "libnats gave up");
        g->closed = true;
    }
    if (dropped) {
        g->dropped_total += dropped;
        stk_warn("nats: the producer fell behind: %" PRIu64 " messages dropped (%" PRIu64
                 " in all)",
                 dropped, g->dropped_total);
    }
}

static void nats_readable(struct stk_feed *f, int fd)
{
    struct nats_feed *g = (struct nats_feed *)f;
    struct stk_feed_host *h = f->host;
    if (fd != g->efd)
        return;
    uint64_t v;
    ssize_t rn = read(g->efd, &v, sizeof(v));
    (void)rn;
    char err[sizeof(g->last_error)];
    pthread_mutex_lock(&g->mu);
    natsMsg **msgs = g->q;
    size_t n = g->qlen, cap = g->qcap;
    g->q = g->work;
    g->qcap = g->workcap;
    g->qlen = 0;
    g->work = msgs;
    g->workcap = cap;
    unsigned ev = g->events;
    uint64_t dropped = g->q_dropped;
    g->events = 0;
    g->q_dropped = 0;
    memcpy(err, g->last_error, sizeof(err));
    pthread_mutex_unlock(&g->mu);

    report_events(g, ev, dropped, err);
    if (n == 0)
        return;
    uint64_t mono = stk_mono_ns();
    stk_feed_batch_open(h);
    g->sink.now_ns = h->now_ns;
    for (size_t i = 0; i < n; i++) {
        const char *subject = natsMsg_GetSubject(msgs[i]);
        const char *data = natsMsg_GetData(msgs[i]);
        size_t len = (size_t)natsMsg_GetDataLength(msgs[i]);
        if (!strcmp(subject, g->hb_subject))
            heartbeat(g, data ? data : "", len, mono);
        else
            tick(g, subject, data ? data : "", len);
        natsMsg_Destroy(msgs[i]);
    }
    stk_feed_batch_close(h);
}

static int nats_pump(struct stk_feed *f, uint64_t mono, uint64_t *next)
{
    struct nats_feed *g = (struct nats_feed *)f;
    if (g->closed)
        return -ENOTCONN;
    check_live(g, mono);
    *next = g->live ? g->hb_mono + g->alive_ns + 1 : UINT64_MAX;
    return 0;
}

static unsigned nats_poll_fds(struct stk_feed *f, struct pollfd *fds, unsigned max)
{
    struct nats_feed *g = (struct nats_feed *)f;
    if (max == 0 || g->efd < 0)
        return 0;
    fds[0] = (struct pollfd){g->efd, POLLIN, 0};
    return 1;
}

static void nats_stop(struct stk_feed *f)
{
    struct nats_feed *g = (struct nats_feed *)f;
    if (g->sub_ticks)
        (void)natsSubscription_Unsubscribe(g->sub_ticks);
    if (g->sub_hb)
        (void)natsSubscription_Unsubscribe(g->sub_hb);
    if (g->nc) {
        natsConnection_Close(g->nc);
        stk_info("nats: closed (%" PRIu64 " ticks, %" PRIu64 " bad, %" PRIu64 " gaps, %" PRIu64
                 " ticks missing)",
                 g->sink.good, g->sink.bad, g->gaps, g->missing);
    }
}

static void drop_all(natsMsg **m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        natsMsg_Destroy(m[i]);
}

static void nats_close(struct stk_feed *f)
{
    struct nats_feed *g = (struct nats_feed *)f;
    /* no more queueing; subscriptions, then the connection */
    pthread_mutex_lock(&g->mu);
    g->closing = true;
    pthread_mutex_unlock(&g->mu);
    natsSubscription_Destroy(g->sub_ticks);
    natsSubscription_Destroy(g->sub_hb);
    if (g->nc) {
        natsConnection_Close(g->nc);
        natsConnection_Destroy(g->nc);
    }
    /* messages still queued go back to libnats while it is open */
    pthread_mutex_lock(&g->mu);
    drop_all(g->q, g->qlen);
    g->qlen = 0;
    pthread_mutex_unlock(&g->mu);
    natsOptions_Destroy(g->opts);
    /* libnats runs callbacks (disconnected on close, deliveries) on its own
     * threads: wait until they are all done before freeing what they use.
     * The producer has this one connection, so closing the library is ours. */
    if (g->nc)
        (void)nats_CloseAndWait(5000);
    free(g->q);
    free(g->work);
    free(g->last_seq);
    free(g->last_gen);
    free(g->servers);
    free(g->hb_subject);
    if (g->efd >= 0)
        close(g->efd);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* "a.b.>" → "a.b._hb"; "a.b.AAPL" → "a.b._hb"; "x" → "_hb". */
static char *hb_subject(const char *subject)
{
    const char *dot = strrchr(subject, '.');
    size_t n = dot ? (size_t)(dot - subject) + 1 : 0;
    char *s = malloc(n + 4);
    if (s) {
        memcpy(s, subject, n);
        memcpy(s + n, "_hb", 4);
    }
    return s;
}

static int nats_open(struct stk_feed_host *h, const char *arg, struct stk_feed **ret)
{
    const struct stk_config *cfg = h->cfg;
    struct nats_feed *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->base = (struct stk_feed){&stk_feed_nats, h};
    g->efd = -1;
    pthread_mutex_init(&g->mu, NULL);
    g->sink.seg = h->seg;
    g->sink.origin = "nats";
    g->alive_ns = (uint64_t)STK_ALIVE_BEATS * cfg->producer.heartbeat_ms * 1000000u;
    g->nslots = stk_seg_header(h->seg)->capacity;
    g->servers = strdup(arg);
    g->hb_subject = hb_subject(cfg->producer.nats_subject);
    g->last_seq = calloc(g->nslots, sizeof(uint64_t));
    g->last_gen = calloc(g->nslots, sizeof(uint64_t));
    g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int r = -ENOMEM;
    if (!g->servers || !g->hb_subject || !g->last_seq || !g->last_gen)
        goto fail;
    if (g->efd < 0) {
        r = -errno;
        stk_error("nats: eventfd: %s", strerror(-r));
        goto fail;
    }
    if (!*arg) {
        stk_error("producer.feed = nats: needs a server URL (nats:nats://host:4222[,…])");
        r = -EINVAL;
        goto fail;
    }
    struct stk_nats_conf conf = {
        .servers = arg,
        .name = "seqtick-producer",
        .user = cfg->producer.nats_user,
        .password = cfg->producer.nats_password,
        .token = cfg->producer.nats_token,
        .creds = cfg->producer.nats_creds,
        .tls_ca = cfg->producer.nats_tls_ca,
        .tls_cert = cfg->producer.nats_tls_cert,
        .tls_key = cfg->producer.nats_tls_key,
    };
    char err[256] = "";
    r = stk_nats_options(&conf, &g->opts, err, sizeof(err));
    if (r < 0) {
        stk_error("nats: bad settings (producer.feed, producer.nats_*): %s", err);
        goto fail;
    }
    natsStatus s = natsOptions_SetRetryOnFailedConnect(g->opts, true, on_connected, g);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(g->opts, retry_delay, g);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(g->opts, on_disconnected, g);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(g->opts, on_reconnected, g);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(g->opts, on_closed, g);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(g->opts, on_error, g);
    if (s != NATS_OK) {
        stk_error("nats: options: %s", natsStatus_GetText(s));
        r = -EIO;
        goto fail;
    }
    stk_info("feed nats: %s, subject %s, heartbeat %s", arg, cfg->producer.nats_subject,
             g->hb_subject);
    /* not alive until the remote heartbeat says so */
    stk_seg_set_state(h->seg, STK_STATE_INIT);
    stk_info("nats: this segment reads as not alive until a remote heartbeat says "
             "its producer is alive");
    s = natsConnection_Connect(&g->nc, g->opts);
    if (s == NATS_NOT_YET_CONNECTED) {
        stk_warn("nats: no server reachable at %s yet; retrying in the background "
                 "(%d ms doubling to %d ms between passes)",
                 arg, RETRY_MIN_MS, RETRY_MAX_MS);
    } else if (s != NATS_OK) {
        stk_error("nats: connect to %s: %s", arg, natsStatus_GetText(s));
        r = -EIO;
        goto fail;
    } else {
        char url[256] = "";
        (void)natsConnection_GetConnectedUrl(g->nc, url, sizeof(url));
        stk_info("nats: connected to %s", url);
    }
    s = natsConnection_Subscribe(&g->sub_ticks, g->nc, cfg->producer.nats_subject, on_tick, g);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&g->sub_hb, g->nc, g->hb_subject, on_hb, g);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(g->sub_ticks, 1 << 20, 256 << 20);
    if (s == NATS_CONNECTION_CLOSED) {
        stk_error("nats: connection closed for good before subscribing (%s)",
                  nats_GetLastError(NULL));
        r = -EIO;
        goto fail;
    }
    if (s != NATS_OK) {
        stk_error("nats: subscribe %s: %s", cfg->producer.nats_subject, natsStatus_GetText(s));
        r = s == NATS_INVALID_SUBJECT ? -EINVAL : -EIO;
        goto fail;
    }
    /* an empty first batch: ready before the first message arrives */
    stk_feed_batch_open(h);
    stk_feed_batch_close(h);
    *ret = &g->base;
    return 0;
fail:
    nats_close(&g->base);
    return r;
}

const struct stk_feed_ops stk_feed_nats = {
    .prefix = "nats:",
    .usage = "nats:URL[,URL...]",
    .open = nats_open,
    .pump = nats_pump,
    .poll_fds = nats_poll_fds,
    .readable = nats_readable,
    .stop = nats_stop,
    .close = nats_close,
};
