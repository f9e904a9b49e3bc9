/* SPDX-License-Identifier: MIT */
/* bridge.c — seqtick-bridge: follows every ring of the segment like a
 * recorder (per symbol the next tick to read; lapped: the hole counted and
 * skipped), woken by the segment's futex through a helper thread, and
 * publishes each tick with libnats on the libev loop. While NATS is away
 * or lags, ticks wait in a queue of at most bridge.max_pending; past it,
 * only the latest tick per symbol is kept (each tick so dropped counted). */
#include "bridge.h"

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log-private.h"
#include "natsev-private.h"
#include "natsopt-private.h"
#include "seqtick.h"
#include "util-private.h"

/* Bytes libnats may hold unsent before the bridge holds ticks itself. */
#define OUT_HIGH_BYTES (8u << 20)
/* How often (publishes) the direct path looks at libnats' buffer. */
#define CHECK_EVERY 256
#define WAIT_SLICE_MS 200
#define STATS_EVERY_NS (10ull * 1000000000ull)
#define SUBJECT_MAX 256
#define PAYLOAD_MAX 512

/* One tick held back: its symbol's name, segment generation and fields. */
struct held {
    char name[32];
    uint64_t gen;
    struct stk_quote q;
};

struct sym {
    uint64_t next;             /* the next tick number to read */
    bool slot_used;            /* conflated latest tick waiting */
    struct held slot;          /* … that tick */
    char subject[SUBJECT_MAX]; /* SUBJECT.NAME, "" if it cannot be a subject */
};

struct stk_bridge {
    const struct stk_config *cfg;
    struct ev_loop *loop;
    ev_signal sigterm, sigint;
    ev_timer tick; /* heartbeat, stats, catch-up */
    struct stk_natsev nev;
    natsConnection *nc;
    bool nc_ok; /* connected, as the loop last saw it */

    /* segment, loop thread's handle */
    struct stk_seg *seg;
    uint64_t gen;
    uint32_t history, capacity, known;
    bool opened_once;
    struct sym *syms; /* [capacity] */
    uint32_t *used;   /* indices with slot_used, nused of them */
    uint32_t nused;

    /* backlog: a FIFO of held ticks, at most max_pending */
    struct held *q;
    size_t qcap, qhead, qlen;

    /* helper thread: futex waits on its own handle */
    pthread_t waker;
    bool waker_started;
    atomic_bool stop, seg_event, conn_event;
    atomic_uint n_connected, n_disconnected; /* callbacks so far */
    unsigned seen_connected, seen_disconnected;

    bool failed; /* NATS closed for good: exit 111 */
    bool warned_conflate;
    uint64_t published, gaps, conflated, unsendable, pub_errors, hb_sent;
    uint64_t last_stats_ns;
    uint64_t last_shown[4];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_by_name(const struct stk_config *cfg, struct stk_seg **ret)
{
    struct stk_seg_open_opts opts;
    int r = stk_config_owner(cfg->shm.owner, &opts);
    if (r < 0)
        return r;
    r = stk_seg_open_opts(cfg->shm.name, &opts, ret);
    if (r < 0)
        return r;
    r = stk_seg_usable(*ret);
    if (r < 0) {
        stk_seg_close(*ret);
        *ret = NULL;
    }
    return r;
}

/* ---- the helper thread: sleep on the futex, wake the loop ---------------- */

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *waker_main(void *arg)
{
    struct stk_bridge *b = arg;
    struct stk_seg *seg = NULL;
    uint64_t seen = 0;
    while (!atomic_load(&b->stop)) {
        if (!seg) {
            if (open_by_name(b->cfg, &seg) < 0) {
                seg = NULL;
                nap_ms(100);
                continue;
            }
            seen = stk_seg_epoch(seg);
            atomic_store(&b->seg_event, true);
            stk_natsev_wake(&b->nev);
        }
        int r = stk_seg_wait(seg, seen, WAIT_SLICE_MS);
        if (r == 0) {
            seen = stk_seg_epoch(seg);
            stk_natsev_wake(&b->nev);
        } else if (r == -ESTALE || (r == -ETIMEDOUT && stk_seg_replaced(seg))) {
            stk_seg_close(seg);
            seg = NULL;
            atomic_store(&b->seg_event, true);
            stk_natsev_wake(&b->nev);
            nap_ms(50);
        }
    }
    stk_seg_close(seg);
    return NULL;
}

/* ---- publishing ---------------------------------------------------------- */

static char *put_u64(char *p, uint64_t v)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = t[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_dec(char *p, int64_t v)
{
    *p++ = '"';
    int n = stk_decimal_format(v, p, STK_DECIMAL_MAX);
    p += n > 0 ? n : 0;
    *p++ = '"';
    return p;
}

/* The ingest JSON line of one tick (no newline). Returns its length. */
static size_t format_tick(char *buf, const struct held *h)
{
    char *p = put_str(buf, "{\"symbol\":\"");
    for (const char *s = h->name; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    p = put_str(p, "\",\"price\":");
    p = put_dec(p, h->q.price);
    p = put_str(p, ",\"bid\":");
    p = put_dec(p, h->q.bid);
    p = put_str(p, ",\"ask\":");
    p = put_dec(p, h->q.ask);
    p = put_str(p, ",\"bid_size\":");
    p = put_u64(p, h->q.bid_size);
    p = put_str(p, ",\"ask_size\":");
    p = put_u64(p, h->q.ask_size);
    p = put_str(p, ",\"volume\":");
    p = put_u64(p, h->q.volume);
    p = put_str(p, ",\"ts_ns\":");
    p = put_u64(p, h->q.src_ts_ns);
    p = put_str(p, ",\"seq\":");
    p = put_u64(p, h->q.seq);
    p = put_str(p, ",\"gen\":");
    p = put_u64(p, h->gen);
    *p++ = '}';
    return (size_t)(p - buf);
}

/* Can ticks go to libnats now: connected, and its buffer not too full. */
static bool can_send(struct stk_bridge *b)
{
    if (!b->nc || natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED)
        return false;
    return natsConnection_Buffered(b->nc) < (int)OUT_HIGH_BYTES;
}

static void publish(struct stk_bridge *b, const char *subject, const struct held *h)
{
    if (!subject[0]) {
        b->unsendable++;
        return;
    }
    char buf[PAYLOAD_MAX];
    size_t n = format_tick(buf, h);
    natsStatus s = natsConnection_Publish(b->nc, subject, buf, (int)n);
    if (s == NATS_OK)
        b->published++;
    else
        b->pub_errors++;
}

/* SUBJECT.NAME for a symbol; "" if the name has a NATS wildcard or dot-less
 * emptiness that no subject can carry. */
static void make_subject(struct stk_bridge *b, const char *name, char *out)
{
    out[0] = '\0';
    if (strpbrk(name, "*> \t") || !name[0])
        return;
    snprintf(out, SUBJECT_MAX, "%s.%s", b->cfg->bridge.subject, name);
}

/* Hold a tick: in the queue while it has room and nothing is conflated,
 * else as its symbol's latest (the one it replaces is counted). */
static int hold(struct stk_bridge *b, uint32_t i, const struct held *h)
{
    if (b->nused == 0 && b->qlen < b->cfg->bridge.max_pending) {
        if (b->qlen == b->qcap) {
            size_t ncap = b->qcap ? b->qcap * 2 : 1024;
            if (ncap > b->cfg->bridge.max_pending)
                ncap = b->cfg->bridge.max_pending;
            struct held *nq = malloc(ncap * sizeof(*nq));
            if (!nq)
                return -ENOMEM;
            for (size_t k = 0; k < b->qlen; k++)
                nq[k] = b->q[(b->qhead + k) % b->qcap];
            free(b->q);
            b->q = nq;
            b->qcap = ncap;
            b->qhead = 0;
        }
        b->q[(b->qhead + b->qlen) % b->qcap] = *h;
        b->qlen++;
        return 0;
    }
    struct sym *s = &b->syms[i];
    if (s->slot_used) {
        b->conflated++;
    } else {
        s->slot_used = true;
        b->used[b->nused++] = i;
        if (!b->warned_conflate) {
            b->warned_conflate = true;
            stk_warn("backlog past bridge.max_pending (%llu ticks): keeping only the latest "
                     "tick per symbol until NATS takes them",
                     (unsigned long long)b->cfg->bridge.max_pending);
        }
    }
    s->slot = *h;
    return 0;
}

/* Send what is held, oldest first, while libnats takes it. */
static void flush_held(struct stk_bridge *b)
{
    if (b->qlen == 0 && b->nused == 0)
        return;
    if (!can_send(b))
        return;
    unsigned k = 0;
    while (b->qlen) {
        if (++k % CHECK_EVERY == 0 && !can_send(b))
            return;
        struct held *h = &b->q[b->qhead];
        char subject[SUBJECT_MAX];
        make_subject(b, h->name, subject);
        publish(b, subject, h);
        b->qhead = (b->qhead + 1) % b->qcap;
        b->qlen--;
    }
    while (b->nused) {
        if (++k % CHECK_EVERY == 0 && !can_send(b))
            return;
        uint32_t i = b->used[--b->nused];
        struct sym *s = &b->syms[i];
        char subject[SUBJECT_MAX];
        make_subject(b, s->slot.name, subject);
        publish(b, subject, &s->slot);
        s->slot_used = false;
    }
    if (b->warned_conflate) {
        b->warned_conflate = false;
        stk_info("backlog sent; %llu ticks conflated away so far",
                 (unsigned long long)b->conflated);
    }
}

/* ---- the segment --------------------------------------------------------- */

static void seg_drop(struct stk_bridge *b)
{
    stk_seg_close(b->seg);
    b->seg = NULL;
}

/* (Re)open the loop's handle. A first open starts each symbol after its
 * latest tick (a restarted bridge sends no tick twice; what was written
 * while it was down is a seq jump, a gap, on the receiving side); a segment
 * that replaced another starts every symbol at its first tick. */
static void seg_check(struct stk_bridge *b)
{
    if (b->seg && stk_seg_usable(b->seg) == 0 && !stk_seg_replaced(b->seg))
        return;
    if (b->seg) {
        stk_info("segment %s retired: re-opening", b->cfg->shm.name);
        seg_drop(b);
    }
    struct stk_seg *seg = NULL;
    int r = open_by_name(b->cfg, &seg);
    if (r < 0)
        return;
    const struct stk_header *h = stk_seg_header(seg);
    uint32_t cap = h->capacity;
    if (cap > b->capacity) {
        struct sym *ns = realloc(b->syms, cap * sizeof(*ns));
        uint32_t *nu = ns ? realloc(b->used, cap * sizeof(*nu)) : NULL;
        if (ns)
            b->syms = ns;
        if (!ns || !nu) {
            stk_error("out of memory for %u symbols", cap);
            stk_seg_close(seg);
            return;
        }
        b->used = nu;
        memset(b->syms + b->capacity, 0, (cap - b->capacity) * sizeof(*ns));
        b->capacity = cap;
    }
    uint64_t gen = STK_LOAD(&h->generation, acquire);
    bool fresh = !b->opened_once;
    if (!fresh && gen == b->gen) {
        /* the same segment again (a retired-then-restored name): carry on */
    } else {
        /* conflated ticks are kept (they carry their own name and gen) */
        for (uint32_t i = 0; i < b->capacity; i++)
            b->syms[i].next = 0;
        b->known = 0;
    }
    b->seg = seg;
    b->gen = gen;
    b->history = h->history;
    stk_info("segment %s open: generation %llu, %u symbols", b->cfg->shm.name,
             (unsigned long long)gen, stk_seg_nsymbols(seg));
    if (fresh) {
        uint32_t n = stk_seg_nsymbols(seg);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t head = stk_ring_head(seg, i);
            b->syms[i].next = head;
            const char *name = stk_seg_symbol(seg, i);
            make_subject(b, name ? name : "", b->syms[i].subject);
        }
        b->known = n;
        b->opened_once = true;
    }
}

/* Read every new tick of every ring, in order; send or hold each. */
static void drain(struct stk_bridge *b)
{
    if (!b->seg)
        return;
    uint32_t n = stk_seg_nsymbols(b->seg);
    if (n > b->capacity)
        n = b->capacity;
    for (uint32_t i = b->known; i < n; i++) {
        const char *name = stk_seg_symbol(b->seg, i);
        make_subject(b, name ? name : "", b->syms[i].subject);
        b->syms[i].next = 0;
    }
    if (n > b->known)
        b->known = n;
    uint64_t before = b->published;
    bool direct = b->qlen == 0 && b->nused == 0 && can_send(b);
    unsigned k = 0;
    struct held h;
    h.gen = b->gen;
    for (uint32_t i = 0; i < n; i++) {
        struct sym *s = &b->syms[i];
        uint64_t head = stk_ring_head(b->seg, i);
        if (s->next >= head)
            continue;
        const char *name = stk_seg_symbol(b->seg, i);
        snprintf(h.name, sizeof(h.name), "%s", name ? name : "");
        while (s->next < head) {
            int r = stk_tick_read(b->seg, i, s->next, &h.q);
            if (r == -ESTALE) {
                uint64_t h2 = stk_ring_head(b->seg, i);
                uint64_t keep = (uint64_t)b->history * 3 / 4;
                uint64_t resume = h2 > keep ? h2 - keep : 0;
                if (resume <= s->next)
                    resume = s->next + 1;
                b->gaps += resume - s->next;
                stk_warn("%s: lapped by the producer: ticks %llu..%llu lost (%llu gaps so far)",
                         h.name, (unsigned long long)s->next, (unsigned long long)resume - 1,
                         (unsigned long long)b->gaps);
                s->next = resume;
                continue;
            }
            if (r < 0)
                break; /* not written yet, or a writer stuck: next wake */
            s->next++;
            if (direct && ++k % CHECK_EVERY == 0)
                direct = can_send(b);
            if (direct)
                publish(b, s->subject, &h);
            else if (hold(b, i, &h) < 0)
                b->conflated++; /* out of memory: dropped, counted */
        }
    }
    flush_held(b);
    /* write now rather than after one more turn of the loop: the socket is
     * nearly always writable (if not, libnats keeps the rest for the write
     * event), and a tick's latency is what this saves; never with nothing
     * to write: libnats reads a 0-byte send as a closed connection */
    if (b->published != before && b->nc && natsConnection_Buffered(b->nc) > 0)
        natsConnection_ProcessWriteEvent(b->nc);
}

/* ---- NATS callbacks (libnats' threads): note and wake the loop ----------- */

static void on_connected(natsConnection *nc, void *arg)
{
    struct stk_bridge *b = arg;
    atomic_fetch_add(&b->n_connected, 1);
    atomic_store(&b->conn_event, true);
    stk_natsev_wake(&b->nev);
}

static void on_disconnected(natsConnection *nc, void *arg)
{
    struct stk_bridge *b = arg;
    atomic_fetch_add(&b->n_disconnected, 1);
    atomic_store(&b->conn_event, true);
    stk_natsev_wake(&b->nev);
}

static void on_closed(natsConnection *nc, void *arg)
{
    struct stk_bridge *b = arg;
    atomic_store(&b->conn_event, true);
    stk_natsev_wake(&b->nev);
}

static void conn_news(struct stk_bridge *b)
{
    if (!atomic_exchange(&b->conn_event, false) || !b->nc)
        return;
    natsConnStatus st = natsConnection_Status(b->nc);
    if (st == NATS_CONN_STATUS_CLOSED) {
        /* libnats gave up (every server refused us, e.g. bad credentials):
         * exit, and let the supervisor restart us with its back-off */
        const char *why = NULL;
        natsStatus e = natsConnection_GetLastError(b->nc, &why);
        stk_error("NATS connection closed for good (%s%s%s): exiting", natsStatus_GetText(e),
                  why ? ": " : "", why ? why : "");
        b->failed = true;
        ev_break(b->loop, EVBREAK_ALL);
        return;
    }
    bool ok = st == NATS_CONN_STATUS_CONNECTED;
    unsigned nd = atomic_load(&b->n_disconnected), nc = atomic_load(&b->n_connected);
    /* a disconnect the loop did not see as a state (reconnected already) */
    if (nd != b->seen_disconnected || (!ok && b->nc_ok)) {
        b->seen_disconnected = nd;
        stk_warn("NATS connection lost: reconnecting through bridge.nats = %s; holding up to "
                 "%llu ticks meanwhile",
                 b->cfg->bridge.nats, (unsigned long long)b->cfg->bridge.max_pending);
    }
    if (ok && (nc != b->seen_connected || !b->nc_ok)) {
        b->seen_connected = nc;
        char url[256] = "";
        (void)natsConnection_GetConnectedUrl(b->nc, url, sizeof(url));
        stk_info("NATS connected to %s (%zu ticks held, %u symbols conflated)", url, b->qlen,
                 b->nused);
    }
    b->nc_ok = ok;
}

static void on_wake(void *arg)
{
    struct stk_bridge *b = arg;
    conn_news(b);
    if (atomic_exchange(&b->seg_event, false) || !b->seg)
        seg_check(b);
    drain(b);
}

static void on_write(void *arg)
{
    struct stk_bridge *b = arg;
    if (b->qlen || b->nused)
        flush_held(b);
}

/* ---- heartbeat, stats, catch-up ------------------------------------------ */

static void heartbeat(struct stk_bridge *b)
{
    if (!b->nc || natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED)
        return;
    uint64_t now = now_ns(), hb = 0, gen = 0;
    int alive = 0;
    if (b->seg) {
        const struct stk_header *h = stk_seg_header(b->seg);
        hb = STK_LOAD(&h->producer_heartbeat_ns, acquire);
        gen = STK_LOAD(&h->generation, acquire);
        alive = stk_seg_alive(b->seg, now, b->cfg->producer.heartbeat_ms, NULL);
    }
    char buf[PAYLOAD_MAX], subject[SUBJECT_MAX];
    int n = snprintf(buf, sizeof(buf),
                     "{\"producer_alive\":%s,\"heartbeat_ns\":%llu,\"generation\":%llu,"
                     "\"ts_ns\":%llu}",
                     alive == 1 ? "true" : "false", (unsigned long long)hb, (unsigned long long)gen,
                     (unsigned long long)now);
    snprintf(subject, sizeof(subject), "%s._hb", b->cfg->bridge.subject);
    if (natsConnection_Publish(b->nc, subject, buf, n) == NATS_OK)
        b->hb_sent++;
}

static void stats(struct stk_bridge *b, bool force)
{
    uint64_t now = now_ns();
    uint64_t cur[4] = {b->published, b->gaps, b->conflated, b->pub_errors + b->unsendable};
    if (!force &&
        (now - b->last_stats_ns < STATS_EVERY_NS || !memcmp(cur, b->last_shown, sizeof(cur))))
        return;
    b->last_stats_ns = now;
    memcpy(b->last_shown, cur, sizeof(cur));
    stk_info("stats: published=%llu gaps=%llu conflated=%llu held=%zu unsendable=%llu "
             "errors=%llu heartbeats=%llu",
             (unsigned long long)b->published, (unsigned long long)b->gaps,
             (unsigned long long)b->conflated, b->qlen + b->nused,
             (unsigned long long)b->unsendable, (unsigned long long)b->pub_errors,
             (unsigned long long)b->hb_sent);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_bridge *b = w->data;
    conn_news(b);
    seg_check(b);
    drain(b); /* a wake lost or a held backlog: catch up */
    heartbeat(b);
    stats(b, false);
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    stk_info("signal %d: stopping", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

/* ---- life ---------------------------------------------------------------- */

static int connect_nats(struct stk_bridge *b)
{
    const struct stk_config *c = b->cfg;
    struct stk_nats_conf nc = {
        .servers = c->bridge.nats,
        .name = "seqtick-bridge",
        .user = c->bridge.user,
        .password = c->bridge.password,
        .token = c->bridge.token,
        .creds = c->bridge.creds,
        .tls_ca = c->bridge.tls_ca,
        .tls_cert = c->bridge.tls_cert,
        .tls_key = c->bridge.tls_key,
        .reconnect_buf_bytes = (int)OUT_HIGH_BYTES,
    };
    natsOptions *o = NULL;
    char err[512];
    int r = stk_nats_options(&nc, &o, err, sizeof(err));
    if (r < 0) {
        stk_error("bridge: %s", err);
        return r;
    }
    natsStatus s = stk_natsev_options(&b->nev, o);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, on_closed, b);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        stk_error("bridge: NATS options: %s", natsStatus_GetText(s));
        return -EIO;
    }
    s = natsConnection_Connect(&b->nc, o);
    natsOptions_Destroy(o);
    if (s == NATS_OK) {
        atomic_store(&b->conn_event, true);
        conn_news(b);
        return 0;
    }
    if (s == NATS_NOT_YET_CONNECTED) {
        stk_warn("NATS not reachable at %s (%s): retrying in the background (ticks held "
                 "meanwhile)",
                 c->bridge.nats, nats_GetLastError(NULL));
        return 0;
    }
    stk_error("bridge: NATS connect: %s (%s)", natsStatus_GetText(s), nats_GetLastError(NULL));
    b->nc = NULL;
    return -EIO;
}

int stk_bridge_new(const struct stk_config *cfg, struct stk_bridge **ret)
{
    if (!strcmp(cfg->bridge.nats, "off")) {
        stk_error("bridge.nats is off: nothing to bridge");
        return -EINVAL;
    }
    if (strpbrk(cfg->bridge.subject, "*> \t") || cfg->bridge.subject[0] == '.' ||
        cfg->bridge.subject[strlen(cfg->bridge.subject) - 1] == '.') {
        stk_error("bridge.subject = %s: not a NATS subject without wildcards", cfg->bridge.subject);
        return -EINVAL;
    }
    struct stk_bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->cfg = cfg;
    *ret = b;
    return 0;
}

int stk_bridge_run(struct stk_bridge *b)
{
    signal(SIGPIPE, SIG_IGN);
    (void)stk_sigbus_guard();
    b->loop = ev_default_loop(EVFLAG_AUTO);
    if (!b->loop)
        return -ENOMEM;
    int r = stk_natsev_init(&b->nev, b->loop);
    if (r < 0)
        return r;
    b->nev.on_wake = on_wake;
    b->nev.on_write = on_write;
    b->nev.arg = b;
    ev_signal_init(&b->sigterm, stop_cb, SIGTERM);
    ev_signal_init(&b->sigint, stop_cb, SIGINT);
    ev_signal_start(b->loop, &b->sigterm);
    ev_signal_start(b->loop, &b->sigint);
    double every = b->cfg->producer.heartbeat_ms / 1000.0;
    ev_timer_init(&b->tick, tick_cb, every, every);
    b->tick.data = b;
    ev_timer_start(b->loop, &b->tick);

    seg_check(b);
    if (!b->seg)
        stk_info("segment %s not there yet: waiting for it", b->cfg->shm.name);
    r = connect_nats(b);
    if (r == 0) {
        /* ready once the first attempt is done, connected or not: NATS down
         * must not hold the stack's readiness hostage */
        (void)stk_ready_notify();
        r = pthread_create(&b->waker, NULL, waker_main, b);
        if (r == 0) {
            b->waker_started = true;
            stk_info("bridging %s to %s as %s.SYMBOL", b->cfg->shm.name, b->cfg->bridge.nats,
                     b->cfg->bridge.subject);
            drain(b);
            ev_run(b->loop, 0);
        } else {
            stk_error("thread: %s", strerror(r));
            r = -r;
        }
    }
    if (r == 0 && b->failed)
        r = -EIO;
    atomic_store(&b->stop, true);
    if (b->waker_started)
        pthread_join(b->waker, NULL);
    stats(b, true);
    if (b->nc) {
        natsConnection_Destroy(b->nc);
        b->nc = NULL;
    }
    return r;
}

void stk_bridge_free(struct stk_bridge *b)
{
    if (!b)
        return;
    if (b->loop) {
        ev_timer_stop(b->loop, &b->tick);
        ev_signal_stop(b->loop, &b->sigterm);
        ev_signal_stop(b->loop, &b->sigint);
        stk_natsev_fini(&b->nev);
    }
    nats_CloseAndWait(2000);
    stk_seg_close(b->seg);
    free(b->syms);
    free(b->used);
    free(b->q);
    free(b);
}
