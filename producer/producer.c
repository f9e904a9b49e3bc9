/* SPDX-License-Identifier: MIT */
/* producer.c — the producer loop: attach as the segment's writer, pump the
 * feed producer.feed names (feed.h) into batches, heartbeat, stats,
 * readiness, clean stop.
 *
 * Why a ppoll loop and not libev: the producer waits on a few fds (a
 * signalfd, and what the feed polls: an ingestor's stdout and stderr) and two
 * or three deadlines, and its hot path (sim at rate 0, csv at speed 0) must
 * not pay for a loop iteration per tick. A plain loop of "pump one batch,
 * then ppoll with a nanosecond timeout (0 when the feed has more now)" keeps
 * every batch whole (signals are only read from the signalfd between
 * batches) and costs one syscall per batch of up to 4096 ticks. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "log-private.h"
#include "producer.h"
#include "segment-private.h"
#include "util-private.h"

#define NS 1000000000ull

struct stk_producer {
    struct stk_feed_host host; /* cfg, seg, the open batch: lent to the feed */
    const struct stk_feed_ops *ops;
    struct stk_feed *feed;
    int sigfd;

    /* liveness, stats */
    uint64_t next_hb, next_stats, stats_ticks, stats_mono;
};

/* ---- batches ------------------------------------------------------------- */

void stk_feed_batch_open(struct stk_feed_host *h)
{
    if (!h->in_batch) {
        h->now_ns = stk_now_ns();
        stk_batch_begin(h->seg);
        h->in_batch = true;
    }
}

void stk_feed_batch_close(struct stk_feed_host *h)
{
    if (!h->in_batch)
        return;
    stk_batch_end(h->seg, h->now_ns);
    h->in_batch = false;
    if (!h->ready) {
        /* live and the first batch written: tell the supervisor */
        h->ready = true;
        int r = stk_ready_notify();
        if (r < 0)
            stk_warn("unable to write to %s: %s", STK_READY_FD_ENV, strerror(-r));
    }
}

static uint64_t header_ticks(struct stk_producer *p)
{
    return atomic_load_explicit(&stk_seg_header(p->host.seg)->ticks_total, memory_order_relaxed);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void stats_line(struct stk_producer *p, uint64_t mono)
{
    uint64_t ticks = header_ticks(p);
    double secs = (double)(mono - p->stats_mono) / 1e9;
    const struct stk_header *h = stk_seg_header(p->host.seg);
    stk_info("stats: %.0f ticks/s, %" PRIu64 " ticks, %" PRIu64 " bad lines, %" PRIu64
             " dropped, %u symbols",
             secs > 0 ? (double)(ticks - p->stats_ticks) / secs : 0.0, ticks,
             atomic_load_explicit(&h->bad_input, memory_order_relaxed),
             atomic_load_explicit(&h->symbols_dropped, memory_order_relaxed),
             stk_seg_nsymbols(p->host.seg));
    p->stats_ticks = ticks;
    p->stats_mono = mono;
}

void stk_producer_free(struct stk_producer *p)
{
    if (!p)
        return;
    /* the feed first: a stopping ingestor's last lines still land */
    if (p->feed)
        p->ops->close(p->feed);
    if (p->host.seg) {
        struct stk_header *h = stk_seg_header_rw(p->host.seg);
        atomic_store_explicit(&h->producer_pid, 0, memory_order_relaxed);
        stk_seg_heartbeat(p->host.seg, stk_now_ns());
        stk_seg_set_state(p->host.seg, STK_STATE_INIT);
        stk_seg_close(p->host.seg);
    }
    if (p->sigfd >= 0)
        close(p->sigfd);
    free(p);
}

int stk_producer_new(const struct stk_config *cfg, struct stk_producer **ret)
{
    const char *arg;
    const struct stk_feed_ops *ops = stk_feed_find(cfg->producer.feed, &arg);
    if (!ops) {
        char feeds[256];
        (void)stk_feed_usage(feeds, sizeof(feeds));
        stk_error("producer.feed = '%s': expected %s", cfg->producer.feed, feeds);
        return -EINVAL;
    }
    struct stk_producer *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->host.cfg = cfg;
    p->ops = ops;
    p->sigfd = -1;

    /* Signals arrive on a signalfd read between batches; SIGPIPE is ignored
     * (a dead ingestor shows as EOF and SIGCHLD instead). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (p->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        int r = -errno;
        stk_error("signalfd: %s", strerror(errno));
        free(p);
        return r;
    }
    (void)signal(SIGPIPE, SIG_IGN);

    struct stk_seg_params sp = {
        .name = cfg->shm.name,
        .capacity = cfg->shm.capacity,
        .history = cfg->shm.history,
        .mode = cfg->shm.mode,
    };
    enum stk_seg_how how;
    int r = stk_seg_attach_writer(&sp, &p->host.seg, &how);
    if (r < 0) {
        if (r == -EALREADY)
            stk_error("segment %s: another producer is attached (flock held)", sp.name);
        else if (r == -EBADMSG)
            stk_error("segment %s: /dev/shm%s is not a seqtick segment (no SEQTICK1 magic): "
                      "refusing to replace it",
                      sp.name, sp.name);
        else
            stk_error("segment %s: unable to attach as writer: %s", sp.name, stk_strerror(r));
        p->host.seg = NULL;
        stk_producer_free(p);
        return r;
    }
    const struct stk_header *h = stk_seg_header(p->host.seg);
    stk_info("segment %s %s: capacity %u, history %u, generation %" PRIu64
             ", %u symbols, restarts %u, repaired %" PRIu64,
             sp.name,
             how == STK_SEG_CREATED    ? "created"
             : how == STK_SEG_REPLACED ? "replaced (incompatible geometry)"
             /* the supervisor made it: a first producer attaches, a later one
              * is a warm restart over the quotes its predecessor left */
             : atomic_load(&h->producer_restarts) == 0 ? "attached"
                                                       : "re-opened (warm restart)",
             h->capacity, h->history, atomic_load(&h->generation), stk_seg_nsymbols(p->host.seg),
             atomic_load(&h->producer_restarts), atomic_load(&h->repaired));

    r = ops->open(&p->host, arg, &p->feed);
    if (r < 0) {
        p->feed = NULL;
        stk_producer_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

/* Read the signalfd: stop on TERM/INT, tell the feed of CHLD. */
static void handle_signals(struct stk_producer *p)
{
    struct signalfd_siginfo si;
    for (;;) {
        ssize_t n = read(p->sigfd, &si, sizeof(si));
        if (n != (ssize_t)sizeof(si))
            break;
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            if (!p->host.stopping)
                stk_info("%s: finishing the batch and stopping",
                         si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            p->host.stopping = true;
            break;
        case SIGHUP:
            stk_info("SIGHUP ignored: the supervisor restarts the producer when its settings "
                     "change");
            break;
        case SIGCHLD:
            if (p->ops->child_exited)
                p->ops->child_exited(p->feed);
            break;
        }
    }
}

int stk_producer_run(struct stk_producer *p)
{
    const struct stk_config *cfg = p->host.cfg;
    const uint64_t hb_ns = (uint64_t)cfg->producer.heartbeat_ms * 1000000u;
    const uint64_t stats_ns = (uint64_t)cfg->producer.stats_interval_s * NS;
    uint64_t mono = stk_mono_ns();
    p->next_hb = mono + hb_ns;
    p->next_stats = stats_ns ? mono + stats_ns : UINT64_MAX;
    p->stats_mono = mono;
    p->stats_ticks = header_ticks(p);
    int ret = 0;

    while (!p->host.stopping) {
        mono = stk_mono_ns();
        uint64_t next = UINT64_MAX; /* when the feed has more to do */
        ret = p->ops->pump(p->feed, mono, &next);
        if (ret < 0)
            break;

        mono = stk_mono_ns();
        if (mono >= p->next_hb) {
            stk_seg_heartbeat(p->host.seg, stk_now_ns());
            p->next_hb = mono + hb_ns;
        }
        if (mono >= p->next_stats) {
            stats_line(p, mono);
            p->next_stats = mono + stats_ns;
        }

        uint64_t wake = next < p->next_hb ? next : p->next_hb;
        if (wake > p->next_stats)
            wake = p->next_stats;
        struct timespec ts = {0, 0};
        if (wake > mono) {
            uint64_t d = wake - mono;
            ts.tv_sec = (time_t)(d / NS);
            ts.tv_nsec = (long)(d % NS);
        }
        struct pollfd fds[1 + STK_FEED_POLL_MAX];
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){p->sigfd, POLLIN, 0};
        if (p->ops->poll_fds)
            nfds += p->ops->poll_fds(p->feed, fds + 1, STK_FEED_POLL_MAX);
        int n = ppoll(fds, nfds, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            ret = -errno;
            stk_error("ppoll: %s", strerror(errno));
            break;
        }
        if (n <= 0)
            continue;
        if (fds[0].revents)
            handle_signals(p);
        /* the signal handling above may have closed one (ingestor reaped):
         * the feed ignores an fd no longer its own */
        for (nfds_t i = 1; i < nfds; i++)
            if (fds[i].revents && !p->host.stopping)
                p->ops->readable(p->feed, fds[i].fd);
    }
    stk_feed_batch_close(&p->host);
    if (p->ops->stop)
        p->ops->stop(p->feed);
    stk_info("stopped: %" PRIu64 " ticks written in all, %" PRIu64 " bad lines", header_ticks(p),
             atomic_load(&stk_seg_header(p->host.seg)->bad_input));
    return ret;
}
