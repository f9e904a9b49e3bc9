/* SPDX-License-Identifier: MIT */
/* server.c — wiring of seqtick-server: the loop's watchers (prepare-time
 * writes, housekeeping tick, ev_async from the futex helper, signals, stats)
 * and the graceful stop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "server.h"

#define DRAIN_S 2.0 /* SIGTERM: longest time spent flushing */
#define WARN_PER_S 50

void stk_server_warn(struct stk_server *s, const char *fmt, ...)
{
    if (stk_log_level > STK_LOG_WARN)
        return;
    uint64_t now = stk_mono_ns();
    if (now - s->warn_window_ns >= 1000000000ull) {
        if (s->warn_suppressed)
            stk_warn("%u more warnings suppressed in the last second", s->warn_suppressed);
        s->warn_window_ns = now;
        s->warn_count = 0;
        s->warn_suppressed = 0;
    }
    if (++s->warn_count > WARN_PER_S) {
        s->warn_suppressed++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    stk_log_vwrite(STK_LOG_WARN, fmt, ap);
    va_end(ap);
}

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct stk_server *s = w->data;
    stk_conn_flush_all(s);
    /* the events of the last scan are on the wire: now let the helper wait
     * for the next batch (acknowledging before the writes would put its
     * wake-up on the latency path) */
    stk_segwatch_scanned(s);
    s->now_valid = false; /* the next iteration reads the clocks afresh */
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_server *s = w->data;
    uint64_t now = stk_mono_ns();
    stk_segwatch_check(s, true);
    stk_conn_tick(s, now);
    stk_subs_tick(s, now);
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct stk_server *s = w->data;
    bool full = atomic_exchange(&s->watch_reopened, false);
    stk_segwatch_check(s, full);
    stk_subs_scan(s);
}

static void stats_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_server *s = w->data;
    double dt = w->repeat > 0 ? w->repeat : 1;
    struct stk_stats *a = &s->st, *b = &s->st_last;
    stk_info("stats: connections=%zu subscribers=%zu requests=%llu (%.0f/s) errors=%llu "
             "slow_consumers=%llu events=%llu (%.0f/s) rejected=%llu idle_closed=%llu "
             "producer_alive=%s",
             s->nconns, s->nsubscribed, (unsigned long long)a->requests,
             (double)(a->requests - b->requests) / dt, (unsigned long long)a->errors,
             (unsigned long long)a->slow_consumers, (unsigned long long)a->events,
             (double)(a->events - b->events) / dt, (unsigned long long)a->rejected,
             (unsigned long long)a->closed_idle, stk_producer_alive(s, NULL) ? "true" : "false");
    *b = *a;
}

static void drain_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

void stk_server_stop(struct stk_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    stk_info("stopping: no new connections, flushing %zu", s->all.n);
    stk_listen_stop(s);
    stk_conn_drain_all(s);
    if (s->all.n == 0) {
        ev_break(s->loop, EVBREAK_ALL);
        return;
    }
    ev_timer_init(&s->drain_timer, drain_timeout_cb, DRAIN_S, 0);
    ev_timer_start(s->loop, &s->drain_timer);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct stk_server *s = w->data;
    stk_info("signal %d: shutting down", w->signum);
    stk_server_stop(s);
}

int stk_server_init(struct stk_server *s, struct ev_loop *loop, const struct stk_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->spare_fd = -1;
    s->start_ns = stk_mono_ns();
    s->dead_after_ns = 3ull * cfg->producer.heartbeat_ms * 1000000ull;
    s->seg_last_err = 1; /* log the first outcome whatever it is */
    atomic_init(&s->watch_stop, false);
    atomic_init(&s->watch_reopened, false);
    atomic_init(&s->watch_pending, 0);
    atomic_init(&s->watch_wanted, 0);

    ev_prepare_init(&s->prep, prepare_cb);
    s->prep.data = s;
    ev_prepare_start(loop, &s->prep);
    ev_timer_init(&s->tick, tick_cb, STK_TICK_S, STK_TICK_S);
    s->tick.data = s;
    ev_timer_start(loop, &s->tick);
    ev_async_init(&s->async, async_cb);
    s->async.data = s;
    ev_async_start(loop, &s->async);
    ev_signal_init(&s->sigterm, signal_cb, SIGTERM);
    s->sigterm.data = s;
    ev_signal_start(loop, &s->sigterm);
    ev_signal_init(&s->sigint, signal_cb, SIGINT);
    s->sigint.data = s;
    ev_signal_start(loop, &s->sigint);
    if (cfg->server.stats_interval_s) {
        ev_timer_init(&s->stats_timer, stats_cb, cfg->server.stats_interval_s,
                      cfg->server.stats_interval_s);
        s->stats_timer.data = s;
        ev_timer_start(loop, &s->stats_timer);
    }
    s->drain_timer.data = s;
    s->wait_fd = -1;
    stk_subs_wait_init(s);
    stk_segwatch_check(s, false);
    return stk_segwatch_start(s);
}

/* The listener table: each face the server can speak, the config key
 * holding its address, and its protocol. A face whose address is empty
 * (or "off") is not opened. */
static const char *ndjson_addr(const struct stk_config *cfg)
{
    return cfg->server.listen;
}

static const char *http_addr(const struct stk_config *cfg)
{
    return cfg->server.http_listen;
}

static const struct {
    const char *key;
    const char *(*addr)(const struct stk_config *cfg);
    const struct stk_proto *proto; /* NULL: reserved, not built: never opened */
    const char *soft;              /* at this (default) address a port in use only warns */
} faces[] = {
    {"server.listen", ndjson_addr, &stk_proto_ndjson, NULL},
    {"server.http_listen", http_addr, &stk_proto_http, "127.0.0.1:7880"},
};

int stk_server_listen_all(struct stk_server *s, const char **ret_addr)
{
    for (size_t i = 0; i < sizeof(faces) / sizeof(faces[0]); i++) {
        const char *addr = faces[i].addr(s->cfg);
        if (!faces[i].proto || !addr || !*addr || !strcmp(addr, "off"))
            continue;
        int err = 0;
        if (!stk_listen_add(s, faces[i].key, addr, faces[i].proto, &err)) {
            if (err == -EADDRINUSE && faces[i].soft && !strcmp(addr, faces[i].soft)) {
                stk_warn("%s: %s is in use: that face stays off (set %s to a free address, "
                         "or off)",
                         faces[i].key, addr, faces[i].key);
                continue;
            }
            *ret_addr = addr;
            return err;
        }
    }
    return 0;
}

void stk_server_run(struct stk_server *s)
{
    ev_run(s->loop, 0);
}

void stk_server_fini(struct stk_server *s)
{
    stk_segwatch_stop(s);
    s->draining = false; /* no ev_break from the closes below */
    while (s->all.head)
        stk_conn_close(s->all.head);
    stk_listen_stop(s);
    ev_prepare_stop(s->loop, &s->prep);
    ev_timer_stop(s->loop, &s->tick);
    ev_timer_stop(s->loop, &s->stats_timer);
    ev_timer_stop(s->loop, &s->drain_timer);
    ev_async_stop(s->loop, &s->async);
    ev_signal_stop(s->loop, &s->sigterm);
    ev_signal_stop(s->loop, &s->sigint);
    stk_seg_close(s->seg);
    s->seg = NULL;
    stk_subs_fini(s);
    stk_subs_wait_fini(s);
}
