/* SPDX-License-Identifier: MIT */
/* producer.c — the producer loop: attach as the segment's writer, pump the
 * configured feed into batches, heartbeat, stats, readiness, clean stop.
 *
 * Why a ppoll loop and not libev: the producer waits on at most three fds
 * (a signalfd, the ingestor's stdout and stderr) and two or three deadlines,
 * and its hot path (sim at rate 0, csv at speed 0) must not pay for a loop
 * iteration per tick. A plain loop of "pump one batch, then ppoll with a
 * nanosecond timeout (0 when the feed has more now)" keeps every batch whole
 * (signals are only read from the signalfd between batches) and costs one
 * syscall per batch of up to 4096 ticks. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backoff-private.h"
#include "child.h"
#include "log-private.h"
#include "preflight.h"
#include "producer.h"
#include "segment-private.h"
#include "util-private.h"

#define BATCH_MAX 4096               /* ticks per batch when the feed is ahead */
#define CATCHUP_MAX 65536            /* ticks per batch when a paced feed is behind */
#define BACKOFF_MIN_MS 100           /* ingestor restart: 100 ms, doubling ... */
#define BACKOFF_MAX_MS 10000         /* ... up to 10 s */
#define QUICK_DEATH_NS 1000000000ull /* ran less than 1 s: a quick death */
#define NS 1000000000ull

enum feed_kind { FEED_SIM, FEED_CSV, FEED_STDIN, FEED_EXEC };

struct stk_producer {
    const struct stk_config *cfg;
    struct stk_seg *seg;
    enum feed_kind kind;
    int sigfd;
    bool stop;

    /* sim */
    struct stk_sim *sim;
    uint32_t *sim_index; /* sim symbol → segment index */
    uint64_t sim_emitted, sim_t0;

    /* csv */
    struct stk_csv *csv;
    struct stk_csv_row row; /* next row, when have_row */
    bool have_row, csv_done, pass_had_rows;
    uint64_t csv_t0, csv_ts0; /* mono time and row time the pacing starts from */
    uint64_t csv_rows;

    /* stdin / exec */
    int in_fd; /* stdin or the ingestor's stdout; -1 none */
    struct stk_linebuf lb, errlb;
    struct stk_ingest_sink sink;
    struct stk_child child;
    pid_t log_pid; /* the ingestor's pid for its stderr lines, kept past its reaping */
    const char *command;
    uint64_t restart_at; /* mono; 0 = none scheduled */
    unsigned quick_deaths;

    /* batches, liveness, stats */
    bool in_batch, ready;
    uint64_t next_hb, next_stats, stats_ticks, stats_mono;
    uint64_t now_ns; /* CLOCK_REALTIME read once per batch */
};

/* ---- batches ------------------------------------------------------------- */

static void batch_open(struct stk_producer *p)
{
    if (!p->in_batch) {
        p->now_ns = stk_now_ns();
        stk_batch_begin(p->seg);
        p->in_batch = true;
    }
}

static void batch_close(struct stk_producer *p)
{
    if (!p->in_batch)
        return;
    stk_batch_end(p->seg, p->now_ns);
    p->in_batch = false;
    if (!p->ready) {
        /* live and the first batch written: tell the supervisor */
        p->ready = true;
        int r = stk_ready_notify();
        if (r < 0)
            stk_warn("unable to write to %s: %s", STK_READY_FD_ENV, strerror(-r));
    }
}

static uint64_t header_ticks(struct stk_producer *p)
{
    return atomic_load_explicit(&stk_seg_header(p->seg)->ticks_total, memory_order_relaxed);
}

/* ---- sim ----------------------------------------------------------------- */

static int sim_setup(struct stk_producer *p)
{
    const struct stk_config *c = p->cfg;
    size_t n = c->producer.nsymbols;
    const struct stk_sim_param *corr = &c->producer.correlation;
    char err[STK_CONF_ERR_MAX];
    /* the supervisor's pre-flight makes this very call */
    int r = stk_producer_sim_new(c, &p->sim, err);
    if (r < 0) {
        stk_error("%s", err);
        return r;
    }
    p->sim_index = calloc(n, sizeof(*p->sim_index));
    if (!p->sim_index)
        return -ENOMEM;
    unsigned resumed = 0;
    for (size_t i = 0; i < n; i++) {
        r = stk_sym_add(p->seg, c->producer.symbols[i]);
        if (r < 0) {
            stk_error("producer.symbols: unable to add '%s': %s", c->producer.symbols[i],
                      r == -ENOSPC ? "symbol table full (shm.capacity)" : stk_strerror(r));
            return r == -ENOSPC ? -EINVAL : r;
        }
        p->sim_index[i] = (uint32_t)r;
        /* warm restart: carry on from the last quote instead of jumping back */
        struct stk_quote q;
        if (stk_record_load(stk_seg_record(p->seg, (uint32_t)r), &q) == 0 && q.price > 0) {
            stk_sim_resume(p->sim, (uint32_t)i, q.price, q.volume);
            resumed++;
        }
    }
    stk_info("feed sim: %zu symbols, rate %" PRIu64 "/s%s, seed %" PRIu64
             ", drift %g%s, volatility %g%s, correlation %g%s%s",
             n, c->producer.rate, c->producer.rate ? "" : " (as fast as possible)",
             c->producer.seed, c->producer.drift.all, c->producer.drift.n ? " (+ exceptions)" : "",
             c->producer.volatility.all, c->producer.volatility.n ? " (+ exceptions)" : "",
             corr->all, corr->n ? " (+ pair exceptions)" : "",
             resumed ? ", resuming from the segment's quotes" : "");
    p->sim_t0 = stk_mono_ns();
    return 0;
}

/* Emit what is due; returns the mono time of the next due tick (0: now). */
static uint64_t sim_pump(struct stk_producer *p, uint64_t mono)
{
    uint64_t rate = p->cfg->producer.rate;
    uint64_t n = BATCH_MAX;
    if (rate) {
        uint64_t elapsed = mono - p->sim_t0;
        uint64_t target = (uint64_t)((double)elapsed * (double)rate / 1e9);
        if (target > p->sim_emitted + rate) {
            /* more than a second behind (stopped, swapped out): skip it */
            p->sim_emitted = target - rate / 10;
        }
        n = target > p->sim_emitted ? target - p->sim_emitted : 0;
        if (n > CATCHUP_MAX)
            n = CATCHUP_MAX;
    }
    if (n) {
        batch_open(p);
        struct stk_quote q;
        for (uint64_t k = 0; k < n; k++) {
            uint32_t i = stk_sim_step(p->sim, &q);
            q.src_ts_ns = q.pub_ts_ns = p->now_ns;
            stk_tick_publish(p->seg, p->sim_index[i], &q);
        }
        p->sim_emitted += n;
        batch_close(p);
    }
    if (!rate)
        return 0;
    return p->sim_t0 + (uint64_t)((double)(p->sim_emitted + 1) * 1e9 / (double)rate) + 1;
}

/* ---- csv ----------------------------------------------------------------- */

static void csv_bad(void *ctx, const char *file, unsigned long line, const char *why)
{
    struct stk_producer *p = ctx;
    struct stk_header *h = stk_seg_header_rw(p->seg);
    uint64_t n = atomic_fetch_add_explicit(&h->bad_input, 1, memory_order_relaxed);
    p->sink.bad++;
    (void)n;
    /* every bad row is named while there are few; then one in a thousand */
    if (p->sink.bad <= 100 || p->sink.bad % 1000 == 0)
        stk_warn("%s:%lu: bad row skipped: %s%s", file, line, why,
                 p->sink.bad == 100 ? " (further bad rows are logged 1 in 1000)" : "");
}

static int csv_setup(struct stk_producer *p, const char *path)
{
    int unit = stk_time_unit_parse(p->cfg->producer.csv_time_unit);
    if (unit < 0) {
        stk_error("producer.csv_time_unit = '%s': expected auto, s, ms, us or ns",
                  p->cfg->producer.csv_time_unit);
        return -EINVAL;
    }
    int r = stk_csv_open(path, (enum stk_time_unit)unit, csv_bad, p, &p->csv);
    if (r < 0) {
        char at[STK_CONF_ERR_MAX];
        stk_config_where(p->cfg, "producer.feed", at, sizeof(at));
        stk_error("%s: producer.feed: csv:%s: unable to open: %s", at, path,
                  r == -ENODATA ? "no files in the folder" : strerror(-r));
        return r == -ENODATA || r == -ENOENT ? -EINVAL : r;
    }
    stk_info("feed csv: %s (%zu file%s), speed %g%s, loop %s, time unit %s", path,
             stk_csv_nfiles(p->csv), stk_csv_nfiles(p->csv) == 1 ? "" : "s", p->cfg->producer.speed,
             p->cfg->producer.speed == 0 ? " (as fast as possible)" : "",
             p->cfg->producer.loop ? "on" : "off", p->cfg->producer.csv_time_unit);
    return 0;
}

/* Next row into p->row; handles the end of a pass (loop or done). */
static int csv_fetch(struct stk_producer *p, uint64_t mono)
{
    for (int pass = 0; pass < 2; pass++) {
        int r = stk_csv_next(p->csv, &p->row);
        if (r < 0) {
            stk_error("csv: read error: %s", strerror(-r));
            return r;
        }
        if (r == 1) {
            if (!p->pass_had_rows) {
                p->pass_had_rows = true;
                p->csv_t0 = mono;
                p->csv_ts0 = p->row.q.src_ts_ns;
            }
            p->have_row = true;
            return 1;
        }
        if (!p->cfg->producer.loop || !p->pass_had_rows) {
            stk_info("csv: replay finished after %" PRIu64 " rows%s", p->csv_rows,
                     p->pass_had_rows ? "" : " (no good rows)");
            p->csv_done = true;
            return 0;
        }
        r = stk_csv_rewind(p->csv);
        if (r < 0) {
            stk_error("csv: unable to start over: %s", strerror(-r));
            return r;
        }
        stk_debug("csv: end of data after %" PRIu64 " rows, starting over", p->csv_rows);
        p->pass_had_rows = false;
    }
    p->csv_done = true;
    return 0;
}

static void csv_publish(struct stk_producer *p)
{
    int idx = stk_seg_lookup(p->seg, p->row.symbol);
    if (idx < 0)
        idx = stk_sym_add(p->seg, p->row.symbol);
    if (idx < 0) {
        struct stk_header *h = stk_seg_header_rw(p->seg);
        atomic_fetch_add_explicit(&h->symbols_dropped, 1, memory_order_relaxed);
        p->sink.dropped++;
        if (!p->sink.full_logged) {
            p->sink.full_logged = true;
            stk_warn("csv: symbol table full (capacity %u): rows for new symbols such as %s "
                     "are dropped and counted (raise shm.capacity)",
                     stk_seg_header(p->seg)->capacity, p->row.symbol);
        }
        return;
    }
    p->row.q.pub_ts_ns = p->now_ns;
    stk_tick_publish(p->seg, (uint32_t)idx, &p->row.q);
    p->csv_rows++;
}

static int csv_pump(struct stk_producer *p, uint64_t mono, uint64_t *next)
{
    double speed = p->cfg->producer.speed;
    unsigned n = 0, max = speed > 0 ? CATCHUP_MAX : BATCH_MAX;
    *next = 0;
    while (n < max && !p->csv_done) {
        if (!p->have_row) {
            int r = csv_fetch(p, mono);
            if (r < 0) {
                batch_close(p);
                return r;
            }
            if (r == 0)
                break;
        }
        if (speed > 0) {
            uint64_t dts = p->row.q.src_ts_ns > p->csv_ts0 ? p->row.q.src_ts_ns - p->csv_ts0 : 0;
            uint64_t due = p->csv_t0 + (uint64_t)((double)dts / speed);
            if (due > mono) {
                *next = due;
                break;
            }
        }
        batch_open(p);
        csv_publish(p);
        p->have_row = false;
        n++;
    }
    batch_close(p);
    if (p->csv_done)
        *next = UINT64_MAX;
    return 0;
}

/* ---- stdin / exec -------------------------------------------------------- */

static void on_line(void *ctx, const char *line, size_t len)
{
    struct stk_producer *p = ctx;
    batch_open(p);
    p->sink.now_ns = p->now_ns;
    (void)stk_ingest_line(&p->sink, line, len);
}

static void on_err_line(void *ctx, const char *line, size_t len)
{
    struct stk_producer *p = ctx;
    if (!line)
        stk_info("ingestor[%d]: (stderr line longer than 64 KiB dropped)", (int)p->log_pid);
    else
        stk_info("ingestor[%d]: %.*s", (int)p->log_pid, (int)(len > 4000 ? 4000 : len), line);
}

static void exec_start(struct stk_producer *p)
{
    int r = stk_child_spawn(p->command, &p->child);
    if (r < 0) {
        uint64_t delay = BACKOFF_MAX_MS * 1000000ull;
        stk_error("ingestor: unable to start '%s': %s; retrying in %llu ms", p->command,
                  strerror(-r), (unsigned long long)(delay / 1000000));
        p->restart_at = stk_mono_ns() + delay;
        return;
    }
    p->in_fd = p->child.out_fd;
    p->log_pid = p->child.pid;
    p->restart_at = 0;
    stk_info("ingestor[%d] started: %s", (int)p->child.pid, p->command);
}

/* Drain what the ingestor wrote before it died, then schedule a restart. */
static void exec_reaped(struct stk_producer *p, pid_t pid, int status)
{
    for (int i = 0; i < 1024 && p->child.out_fd >= 0; i++) {
        batch_open(p);
        ssize_t n = stk_linebuf_read(&p->lb, p->child.out_fd, on_line, p);
        if (n <= 0)
            break;
    }
    batch_close(p);
    for (int i = 0; i < 64 && p->child.err_fd >= 0; i++)
        if (stk_linebuf_read(&p->errlb, p->child.err_fd, on_err_line, p) <= 0)
            break;
    stk_child_close_fds(&p->child);
    p->in_fd = -1;
    p->lb.len = 0;
    p->lb.discarding = false;
    p->errlb.len = 0;
    p->errlb.discarding = false;
    if (p->stop)
        return;
    uint64_t now = stk_mono_ns();
    uint64_t ran = now - p->child.started_mono;
    uint64_t delay = 0;
    if (ran < QUICK_DEATH_NS) {
        p->quick_deaths++;
        /* u = 0.5: no jitter, one ingestor has no herd to spread */
        delay = (uint64_t)stk_backoff_ms(BACKOFF_MIN_MS, BACKOFF_MAX_MS, p->quick_deaths, 0.5) *
                1000000u;
    } else {
        p->quick_deaths = 0;
    }
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
    stk_warn("ingestor[%d] %s after %.1f s; restarting in %llu ms", (int)pid, how,
             (double)ran / 1e9, (unsigned long long)(delay / 1000000));
    p->restart_at = now + delay;
}

static void exec_check_child(struct stk_producer *p)
{
    pid_t pid = p->child.pid;
    int status;
    int r = stk_child_reap(&p->child, &status);
    if (r < 0)
        stk_warn("ingestor[%d]: waitid: %s", (int)pid, strerror(-r));
    if (r == 1)
        exec_reaped(p, pid, status);
}

/* SIGCONT+SIGTERM to the ingestor's group, up to ingest_grace_ms for it to
 * go while its output is still read, then SIGKILL. */
static void exec_stop(struct stk_producer *p)
{
    if (p->child.pid <= 0)
        return;
    pid_t pid = p->child.pid;
    int64_t grace = p->cfg->producer.ingest_grace_ms;
    stk_info("stopping ingestor[%d] (SIGTERM, %" PRId64 " ms grace)", (int)pid, grace);
    stk_child_signal(&p->child, SIGTERM);
    uint64_t deadline = stk_mono_ns() + (uint64_t)grace * 1000000u;
    int status = 0;
    for (;;) {
        int r = stk_child_reap(&p->child, &status);
        if (r != 0)
            break;
        uint64_t now = stk_mono_ns();
        if (now >= deadline) {
            stk_warn("ingestor[%d] still running after %" PRId64 " ms: SIGKILL", (int)pid, grace);
            stk_child_signal(&p->child, SIGKILL);
            deadline = UINT64_MAX;
        }
        /* keep its pipes flowing so a child blocked on write can see SIGTERM */
        struct pollfd fds[2] = {{p->child.out_fd, POLLIN, 0}, {p->child.err_fd, POLLIN, 0}};
        (void)poll(fds, 2, 10);
        if (fds[0].revents && p->child.out_fd >= 0) {
            batch_open(p);
            if (stk_linebuf_read(&p->lb, p->child.out_fd, on_line, p) == 0) {
                close(p->child.out_fd);
                p->child.out_fd = -1;
            }
            batch_close(p);
        }
        if (fds[1].revents && p->child.err_fd >= 0 &&
            stk_linebuf_read(&p->errlb, p->child.err_fd, on_err_line, p) == 0) {
            close(p->child.err_fd);
            p->child.err_fd = -1;
        }
    }
    if (p->child.pid == 0)
        stk_info("ingestor[%d] stopped", (int)pid);
    stk_child_close_fds(&p->child);
    p->in_fd = -1;
}

static int ingest_setup(struct stk_producer *p, const char *command)
{
    int r = stk_linebuf_init(&p->lb);
    if (r == 0)
        r = stk_linebuf_init(&p->errlb);
    if (r < 0)
        return r;
    p->sink.seg = p->seg;
    p->sink.origin = command ? "ingestor" : "stdin";
    p->child.out_fd = p->child.err_fd = -1;
    if (command) {
        if (!*command) {
            stk_error("producer.feed = exec: needs a command");
            return -EINVAL;
        }
        p->command = command;
        stk_info("feed exec: %s (restarted with backoff; SIGTERM grace %" PRId64 " ms)", command,
                 p->cfg->producer.ingest_grace_ms);
        exec_start(p);
    } else {
        p->in_fd = 0;
        stk_info("feed stdin: JSON lines on standard input");
    }
    /* an empty first batch: live before the first line arrives */
    batch_open(p);
    batch_close(p);
    return 0;
}

static void ingest_read(struct stk_producer *p, int fd)
{
    if (fd == p->child.err_fd) {
        ssize_t n = stk_linebuf_read(&p->errlb, fd, on_err_line, p);
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
            close(p->child.err_fd);
            p->child.err_fd = -1;
        }
        return;
    }
    batch_open(p);
    ssize_t n = stk_linebuf_read(&p->lb, fd, on_line, p);
    batch_close(p);
    if (n == 0 || (n < 0 && n != -EAGAIN)) {
        if (n < 0)
            stk_warn("%s: read: %s", p->sink.origin, strerror((int)-n));
        if (p->kind == FEED_STDIN) {
            stk_info("stdin: end of input after %" PRIu64 " good and %" PRIu64
                     " bad lines; quotes stay, heartbeat goes on",
                     p->sink.good, p->sink.bad);
        } else {
            close(p->child.out_fd);
            p->child.out_fd = -1;
        }
        p->in_fd = -1;
    }
}

/* ---- lifecycle ----------------------------------------------------------- */

static void stats_line(struct stk_producer *p, uint64_t mono)
{
    uint64_t ticks = header_ticks(p);
    double secs = (double)(mono - p->stats_mono) / 1e9;
    const struct stk_header *h = stk_seg_header(p->seg);
    stk_info("stats: %.0f ticks/s, %" PRIu64 " ticks, %" PRIu64 " bad lines, %" PRIu64
             " dropped, %u symbols",
             secs > 0 ? (double)(ticks - p->stats_ticks) / secs : 0.0, ticks,
             atomic_load_explicit(&h->bad_input, memory_order_relaxed),
             atomic_load_explicit(&h->symbols_dropped, memory_order_relaxed),
             stk_seg_nsymbols(p->seg));
    p->stats_ticks = ticks;
    p->stats_mono = mono;
}

void stk_producer_free(struct stk_producer *p)
{
    if (!p)
        return;
    if (p->kind == FEED_EXEC)
        exec_stop(p);
    if (p->seg) {
        struct stk_header *h = stk_seg_header_rw(p->seg);
        atomic_store_explicit(&h->producer_pid, 0, memory_order_relaxed);
        stk_seg_heartbeat(p->seg, stk_now_ns());
        stk_seg_set_state(p->seg, STK_STATE_INIT);
        stk_seg_close(p->seg);
    }
    if (p->sigfd >= 0)
        close(p->sigfd);
    stk_sim_free(p->sim);
    free(p->sim_index);
    stk_csv_close(p->csv);
    stk_linebuf_free(&p->lb);
    stk_linebuf_free(&p->errlb);
    free(p);
}

int stk_producer_new(const struct stk_config *cfg, struct stk_producer **ret)
{
    struct stk_producer *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->cfg = cfg;
    p->sigfd = -1;
    p->in_fd = -1;
    p->child.out_fd = p->child.err_fd = -1;
    const char *feed = cfg->producer.feed;
    if (!strcmp(feed, "sim"))
        p->kind = FEED_SIM;
    else if (!strncmp(feed, "csv:", 4))
        p->kind = FEED_CSV;
    else if (!strcmp(feed, "stdin"))
        p->kind = FEED_STDIN;
    else if (!strncmp(feed, "exec:", 5))
        p->kind = FEED_EXEC;
    else {
        stk_error("producer.feed = '%s': expected sim, csv:PATH, exec:COMMAND or stdin", feed);
        free(p);
        return -EINVAL;
    }

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
    int r = stk_seg_attach_writer(&sp, &p->seg, &how);
    if (r < 0) {
        if (r == -EALREADY)
            stk_error("segment %s: another producer is attached (flock held)", sp.name);
        else if (r == -EBADMSG)
            stk_error("segment %s: /dev/shm%s is not a seqtick segment (no SEQTICK1 magic): "
                      "refusing to replace it",
                      sp.name, sp.name);
        else
            stk_error("segment %s: unable to attach as writer: %s", sp.name, stk_strerror(r));
        p->seg = NULL;
        stk_producer_free(p);
        return r;
    }
    const struct stk_header *h = stk_seg_header(p->seg);
    stk_info("segment %s %s: capacity %u, history %u, generation %" PRIu64
             ", %u symbols, restarts %u, repaired %" PRIu64,
             sp.name,
             how == STK_SEG_CREATED    ? "created"
             : how == STK_SEG_REPLACED ? "replaced (incompatible geometry)"
             /* the supervisor made it: a first producer attaches, a later one
              * is a warm restart over the quotes its predecessor left */
             : atomic_load(&h->producer_restarts) == 0 ? "attached"
                                                       : "re-opened (warm restart)",
             h->capacity, h->history, atomic_load(&h->generation), stk_seg_nsymbols(p->seg),
             atomic_load(&h->producer_restarts), atomic_load(&h->repaired));

    switch (p->kind) {
    case FEED_SIM:
        r = sim_setup(p);
        break;
    case FEED_CSV:
        r = csv_setup(p, feed + 4);
        break;
    case FEED_STDIN:
        r = ingest_setup(p, NULL);
        break;
    case FEED_EXEC:
        r = ingest_setup(p, feed + 5);
        break;
    }
    if (r < 0) {
        stk_producer_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

/* Read the signalfd: stop on TERM/INT, reap on CHLD. */
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
            if (!p->stop)
                stk_info("%s: finishing the batch and stopping",
                         si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            p->stop = true;
            break;
        case SIGHUP:
            stk_info("SIGHUP ignored: the supervisor restarts the producer when its settings "
                     "change");
            break;
        case SIGCHLD:
            if (p->kind == FEED_EXEC)
                exec_check_child(p);
            break;
        }
    }
}

int stk_producer_run(struct stk_producer *p)
{
    const uint64_t hb_ns = (uint64_t)p->cfg->producer.heartbeat_ms * 1000000u;
    const uint64_t stats_ns = (uint64_t)p->cfg->producer.stats_interval_s * NS;
    uint64_t mono = stk_mono_ns();
    p->next_hb = mono + hb_ns;
    p->next_stats = stats_ns ? mono + stats_ns : UINT64_MAX;
    p->stats_mono = mono;
    p->stats_ticks = header_ticks(p);
    int ret = 0;

    while (!p->stop) {
        mono = stk_mono_ns();
        uint64_t next = UINT64_MAX; /* when the feed has more to do */
        switch (p->kind) {
        case FEED_SIM:
            next = sim_pump(p, mono);
            break;
        case FEED_CSV:
            ret = csv_pump(p, mono, &next);
            break;
        case FEED_EXEC:
            if (p->child.pid == 0 && p->restart_at && mono >= p->restart_at)
                exec_start(p);
            if (p->child.pid == 0 && p->restart_at)
                next = p->restart_at;
            break;
        case FEED_STDIN:
            break;
        }
        if (ret < 0)
            break;

        mono = stk_mono_ns();
        if (mono >= p->next_hb) {
            stk_seg_heartbeat(p->seg, stk_now_ns());
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
        struct pollfd fds[3];
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){p->sigfd, POLLIN, 0};
        if (p->in_fd >= 0)
            fds[nfds++] = (struct pollfd){p->in_fd, POLLIN, 0};
        if (p->child.err_fd >= 0)
            fds[nfds++] = (struct pollfd){p->child.err_fd, POLLIN, 0};
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
        for (nfds_t i = 1; i < nfds; i++)
            /* the signal handling above may have closed it (ingestor reaped) */
            if (fds[i].revents && !p->stop &&
                (fds[i].fd == p->in_fd || fds[i].fd == p->child.err_fd))
                ingest_read(p, fds[i].fd);
    }
    batch_close(p);
    if (p->kind == FEED_EXEC)
        exec_stop(p);
    stk_info("stopped: %" PRIu64 " ticks written in all, %" PRIu64 " bad lines", header_ticks(p),
             atomic_load(&stk_seg_header(p->seg)->bad_input));
    return ret;
}
