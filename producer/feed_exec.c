/* SPDX-License-Identifier: MIT */
/* feed_exec.c — the `exec:COMMAND` and `stdin` feeds: JSON lines through
 * ingest.c into the segment, from an ingestor process (restarted with
 * backoff when it dies, its stderr logged) or from standard input. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoff-private.h"
#include "feed.h"
#include "ingestor.h"
#include "log-private.h"
#include "producer.h"
#include "segment-private.h"

#define BACKOFF_MIN_MS 100           /* ingestor restart: 100 ms, doubling ... */
#define BACKOFF_MAX_MS 10000         /* ... up to 10 s */
#define QUICK_DEATH_NS 1000000000ull /* ran less than 1 s: a quick death */

struct ingest_feed {
    struct stk_feed base;
    int in_fd; /* stdin or the ingestor's stdout; -1 none */
    struct stk_linebuf lb, errlb;
    struct stk_ingest_sink sink;
    const char *command; /* exec: its command; stdin: NULL */
    struct stk_ingestor child;
    pid_t log_pid;       /* the ingestor's pid for its stderr lines, kept past its reaping */
    uint64_t restart_at; /* mono; 0 = none scheduled */
    unsigned quick_deaths;
};

static void on_line(void *ctx, const char *line, size_t len)
{
    struct ingest_feed *g = ctx;
    stk_feed_batch_open(g->base.host);
    g->sink.now_ns = g->base.host->now_ns;
    (void)stk_ingest_line(&g->sink, line, len);
}

static void on_err_line(void *ctx, const char *line, size_t len)
{
    struct ingest_feed *g = ctx;
    if (!line)
        stk_info("ingestor[%d]: (stderr line longer than 64 KiB dropped)", (int)g->log_pid);
    else
        stk_info("ingestor[%d]: %.*s", (int)g->log_pid, (int)(len > 4000 ? 4000 : len), line);
}

static void exec_start(struct ingest_feed *g)
{
    int r = stk_ingestor_spawn(g->command, &g->child);
    if (r < 0) {
        uint64_t delay = BACKOFF_MAX_MS * 1000000ull;
        stk_error("ingestor: unable to start '%s': %s; retrying in %llu ms", g->command,
                  strerror(-r), (unsigned long long)(delay / 1000000));
        g->restart_at = stk_mono_ns() + delay;
        return;
    }
    g->in_fd = g->child.out_fd;
    g->log_pid = g->child.pid;
    g->restart_at = 0;
    stk_info("ingestor[%d] started: %s", (int)g->child.pid, g->command);
}

/* Drain what the ingestor wrote before it died, then schedule a restart. */
static void exec_reaped(struct ingest_feed *g, pid_t pid, int status)
{
    struct stk_feed_host *h = g->base.host;
    for (int i = 0; i < 1024 && g->child.out_fd >= 0; i++) {
        stk_feed_batch_open(h);
        ssize_t n = stk_linebuf_read(&g->lb, g->child.out_fd, on_line, g);
        if (n <= 0)
            break;
    }
    stk_feed_batch_close(h);
    for (int i = 0; i < 64 && g->child.err_fd >= 0; i++)
        if (stk_linebuf_read(&g->errlb, g->child.err_fd, on_err_line, g) <= 0)
            break;
    stk_ingestor_close_fds(&g->child);
    g->in_fd = -1;
    g->lb.len = 0;
    g->lb.discarding = false;
    g->errlb.len = 0;
    g->errlb.discarding = false;
    if (h->stopping)
        return;
    uint64_t now = stk_mono_ns();
    uint64_t ran = now - g->child.started_mono;
    uint64_t delay = 0;
    if (ran < QUICK_DEATH_NS) {
        g->quick_deaths++;
        /* u = 0.5: no jitter, one ingestor has no herd to spread */
        delay = (uint64_t)stk_backoff_ms(BACKOFF_MIN_MS, BACKOFF_MAX_MS, g->quick_deaths, 0.5) *
                1000000u;
    } else {
        g->quick_deaths = 0;
    }
    if (g->child.start_error > 0)
        stk_error("ingestor[%d]: unable to exec /bin/sh: %s", (int)pid,
                  strerror(g->child.start_error));
    else if (g->child.start_error < 0)
        stk_error("ingestor[%d]: set-up before exec failed: %s", (int)pid,
                  strerror(-g->child.start_error));
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
    stk_warn("ingestor[%d] %s after %.1f s; restarting in %llu ms", (int)pid, how,
             (double)ran / 1e9, (unsigned long long)(delay / 1000000));
    g->restart_at = now + delay;
}

static void exec_child_exited(struct stk_feed *f)
{
    struct ingest_feed *g = (struct ingest_feed *)f;
    pid_t pid = g->child.pid;
    int status;
    int r = stk_ingestor_reap(&g->child, &status);
    if (r < 0)
        stk_warn("ingestor[%d]: waitid: %s", (int)pid, strerror(-r));
    if (r == 1)
        exec_reaped(g, pid, status);
}

/* SIGCONT+SIGTERM to the ingestor's group, up to ingest_grace_ms for it to
 * go while its output is still read, then SIGKILL. */
static void exec_stop(struct stk_feed *f)
{
    struct ingest_feed *g = (struct ingest_feed *)f;
    struct stk_feed_host *h = f->host;
    if (g->child.pid <= 0)
        return;
    pid_t pid = g->child.pid;
    int64_t grace = h->cfg->producer.ingest_grace_ms;
    stk_info("stopping ingestor[%d] (SIGTERM, %" PRId64 " ms grace)", (int)pid, grace);
    stk_ingestor_signal(&g->child, SIGTERM);
    uint64_t deadline = stk_mono_ns() + (uint64_t)grace * 1000000u;
    int status = 0;
    for (;;) {
        int r = stk_ingestor_reap(&g->child, &status);
        if (r != 0)
            break;
        uint64_t now = stk_mono_ns();
        if (now >= deadline) {
            stk_warn("ingestor[%d] still running after %" PRId64 " ms: SIGKILL", (int)pid, grace);
            stk_ingestor_signal(&g->child, SIGKILL);
            deadline = UINT64_MAX;
        }
        /* keep its pipes flowing so a child blocked on write can see SIGTERM */
        struct pollfd fds[2] = {{g->child.out_fd, POLLIN, 0}, {g->child.err_fd, POLLIN, 0}};
        (void)poll(fds, 2, 10);
        if (fds[0].revents && g->child.out_fd >= 0) {
            stk_feed_batch_open(h);
            if (stk_linebuf_read(&g->lb, g->child.out_fd, on_line, g) == 0) {
                close(g->child.out_fd);
                g->child.out_fd = -1;
            }
            stk_feed_batch_close(h);
        }
        if (fds[1].revents && g->child.err_fd >= 0 &&
            stk_linebuf_read(&g->errlb, g->child.err_fd, on_err_line, g) == 0) {
            close(g->child.err_fd);
            g->child.err_fd = -1;
        }
    }
    if (g->child.pid == 0)
        stk_info("ingestor[%d] stopped", (int)pid);
    stk_ingestor_close_fds(&g->child);
    g->in_fd = -1;
}

static void ingest_close(struct stk_feed *f)
{
    struct ingest_feed *g = (struct ingest_feed *)f;
    exec_stop(f); /* no-op without an ingestor */
    stk_linebuf_free(&g->lb);
    stk_linebuf_free(&g->errlb);
    free(g);
}

static int ingest_open(struct stk_feed_host *h, const char *command, struct stk_feed **ret,
                       const struct stk_feed_ops *ops)
{
    struct ingest_feed *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->base = (struct stk_feed){ops, h};
    g->in_fd = -1;
    g->child.out_fd = g->child.err_fd = g->child.report_fd = -1;
    int r = stk_linebuf_init(&g->lb);
    if (r == 0)
        r = stk_linebuf_init(&g->errlb);
    if (r < 0)
        goto fail;
    g->sink.seg = h->seg;
    g->sink.origin = command ? "ingestor" : "stdin";
    if (command) {
        if (!*command) {
            stk_error("producer.feed = exec: needs a command");
            r = -EINVAL;
            goto fail;
        }
        g->command = command;
        stk_info("feed exec: %s (restarted with backoff; SIGTERM grace %" PRId64 " ms)", command,
                 h->cfg->producer.ingest_grace_ms);
        exec_start(g);
    } else {
        g->in_fd = 0;
        stk_info("feed stdin: JSON lines on standard input");
    }
    /* an empty first batch: live before the first line arrives */
    stk_feed_batch_open(h);
    stk_feed_batch_close(h);
    *ret = &g->base;
    return 0;
fail:
    ingest_close(&g->base);
    return r;
}

static int exec_open(struct stk_feed_host *h, const char *command, struct stk_feed **ret)
{
    return ingest_open(h, command, ret, &stk_feed_exec);
}

static int stdin_open(struct stk_feed_host *h, const char *arg, struct stk_feed **ret)
{
    (void)arg;
    return ingest_open(h, NULL, ret, &stk_feed_stdin);
}

/* Restart a dead ingestor when its backoff is over. */
static int exec_pump(struct stk_feed *f, uint64_t mono, uint64_t *next)
{
    struct ingest_feed *g = (struct ingest_feed *)f;
    if (g->child.pid == 0 && g->restart_at && mono >= g->restart_at)
        exec_start(g);
    *next = g->child.pid == 0 && g->restart_at ? g->restart_at : UINT64_MAX;
    return 0;
}

/* Lines only arrive through readable(). */
static int stdin_pump(struct stk_feed *f, uint64_t mono, uint64_t *next)
{
    (void)f;
    (void)mono;
    *next = UINT64_MAX;
    return 0;
}

static unsigned ingest_poll_fds(struct stk_feed *f, struct pollfd *fds, unsigned max)
{
    struct ingest_feed *g = (struct ingest_feed *)f;
    unsigned n = 0;
    if (g->in_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){g->in_fd, POLLIN, 0};
    if (g->child.err_fd >= 0 && n < max)
        fds[n++] = (struct pollfd){g->child.err_fd, POLLIN, 0};
    return n;
}

static void ingest_readable(struct stk_feed *f, int fd)
{
    struct ingest_feed *g = (struct ingest_feed *)f;
    struct stk_feed_host *h = f->host;
    if (fd < 0 || (fd != g->in_fd && fd != g->child.err_fd))
        return; /* closed since the poll (the ingestor was reaped) */
    if (fd == g->child.err_fd) {
        ssize_t n = stk_linebuf_read(&g->errlb, fd, on_err_line, g);
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
            close(g->child.err_fd);
            g->child.err_fd = -1;
        }
        return;
    }
    stk_feed_batch_open(h);
    ssize_t n = stk_linebuf_read(&g->lb, fd, on_line, g);
    stk_feed_batch_close(h);
    if (n == 0 || (n < 0 && n != -EAGAIN)) {
        if (n < 0)
            stk_warn("%s: read: %s", g->sink.origin, strerror((int)-n));
        if (!g->command) {
            stk_info("stdin: end of input after %" PRIu64 " good and %" PRIu64
                     " bad lines; quotes stay, heartbeat goes on",
                     g->sink.good, g->sink.bad);
        } else {
            close(g->child.out_fd);
            g->child.out_fd = -1;
        }
        g->in_fd = -1;
    }
}

const struct stk_feed_ops stk_feed_exec = {
    .prefix = "exec:",
    .usage = "exec:COMMAND",
    .open = exec_open,
    .pump = exec_pump,
    .poll_fds = ingest_poll_fds,
    .readable = ingest_readable,
    .child_exited = exec_child_exited,
    .stop = exec_stop,
    .close = ingest_close,
};

const struct stk_feed_ops stk_feed_stdin = {
    .prefix = "stdin",
    .usage = "stdin",
    .open = stdin_open,
    .pump = stdin_pump,
    .poll_fds = ingest_poll_fds,
    .readable = ingest_readable,
    .close = ingest_close,
};
