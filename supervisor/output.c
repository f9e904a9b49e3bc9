/* SPDX-License-Identifier: MIT */
/* output.c — children's stdout/stderr into the supervisor's log: one pipe per
 * start, cut into lines, each prefixed with the child's name; drained after
 * the child is reaped so a kill -9 loses nothing it already wrote. A pipe is
 * read no faster than the log drains and than its child's output budget: a
 * flood back-pressures the child that floods, never the supervisor. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log-private.h"
#include "supervisor.h"
#include "util-private.h"

/* Output budget of one child: a token bucket refilled at OUT_RATE bytes/s up
 * to OUT_BURST, each line costing its length plus LINE_COST (so a flood of
 * short lines is held to OUT_RATE / LINE_COST lines/s). An empty bucket
 * stops reading the pipe: the child blocks in write(2), as it would behind a
 * slow terminal, and loses nothing. */
#define OUT_RATE (4.0 * 1024 * 1024)
#define OUT_BURST (4.0 * 1024 * 1024)
#define LINE_COST 64

struct stk_outpipe {
    ev_io w;
    ev_timer w_budget; /* the bucket has tokens again */
    struct ev_loop *loop;
    int fd;
    bool cont;                  /* the next piece continues an over-long line */
    double tokens;              /* budget left (negative: owed) */
    ev_tstamp refilled;         /* ev_now() of the last refill */
    struct stk_outpipe **owner; /* cleared when the pipe frees itself */
    struct stk_outpipe *prev, *next;
    size_t len;
    char name[64];
    char buf[STK_LOG_PIECE];
};

static struct stk_outpipe *pipes; /* every open pipe, for stk_out_close_all() */
static bool log_full;             /* stk_out_pace(): the log is over its high water */

static void emit(struct stk_outpipe *o, const char *line, size_t len, bool more)
{
    stk_log_child(o->name, line, len, o->cont);
    o->cont = more;
    o->tokens -= (double)(len + LINE_COST);
}

/* Emit every complete line in buf; keep the tail. */
static void split(struct stk_outpipe *o, bool flush)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(o->buf + start, '\n', o->len - start);
        if (!nl)
            break;
        size_t i = (size_t)(nl - o->buf);
        size_t end = i > start && o->buf[i - 1] == '\r' ? i - 1 : i;
        emit(o, o->buf + start, end - start, false);
        start = i + 1;
    }
    if (start == 0 && o->len == sizeof(o->buf)) {
        /* No newline in a full buffer: this piece, marked as continued, cut
         * where no UTF-8 sequence is split. */
        start = stk_utf8_cut(o->buf, o->len);
        emit(o, o->buf, start, true);
    }
    if (flush && start < o->len) {
        emit(o, o->buf + start, o->len - start, false);
        start = o->len;
    }
    memmove(o->buf, o->buf + start, o->len - start);
    o->len -= start;
}

/* Read only while the log takes more and the child's budget lasts; when the
 * budget is spent, come back once it has refilled. */
static void arm(struct stk_outpipe *o)
{
    ev_tstamp now = ev_now(o->loop);
    o->tokens += (now - o->refilled) * OUT_RATE;
    if (o->tokens > OUT_BURST)
        o->tokens = OUT_BURST;
    o->refilled = now;
    bool want = !log_full && o->tokens > 0;
    if (want && !ev_is_active(&o->w))
        ev_io_start(o->loop, &o->w);
    else if (!want && ev_is_active(&o->w))
        ev_io_stop(o->loop, &o->w);
    if (o->tokens <= 0 && !ev_is_active(&o->w_budget)) {
        ev_timer_set(&o->w_budget, (LINE_COST - o->tokens) / OUT_RATE, 0.);
        ev_timer_start(o->loop, &o->w_budget);
    }
}

static void destroy(struct stk_outpipe *o)
{
    split(o, true);
    if (o->owner)
        *o->owner = NULL;
    ev_io_stop(o->loop, &o->w);
    ev_timer_stop(o->loop, &o->w_budget);
    close(o->fd);
    if (o == pipes)
        pipes = o->next;
    else if (o->prev)
        o->prev->next = o->next;
    if (o->next)
        o->next->prev = o->prev;
    free(o);
}

/* Read until EAGAIN (or at most `rounds` buffers; `limited`: also until the
 * log is full or the budget spent). Returns true at EOF or error, when the
 * pipe is done. */
static bool pump(struct stk_outpipe *o, int rounds, bool limited)
{
    while (rounds-- > 0) {
        if (limited && (log_full || o->tokens <= 0))
            return false;
        ssize_t n = stk_read_retry(o->fd, o->buf + o->len, sizeof(o->buf) - o->len);
        if (n == -EAGAIN)
            return false;
        if (n <= 0)
            return true;
        o->len += (size_t)n;
        split(o, false);
    }
    return false;
}

static void readable_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_outpipe *o = w->data;
    /* Bounded per wakeup, so a chatty child cannot starve the loop. */
    if (pump(o, 16, true)) {
        destroy(o);
        return;
    }
    arm(o);
}

static void budget_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    arm(w->data);
}

struct stk_outpipe *stk_out_open(struct ev_loop *loop, int fd, const char *name, bool json,
                                 struct stk_outpipe **owner)
{
    (void)json; /* the logger knows its format */
    struct stk_outpipe *o = calloc(1, sizeof(*o));
    if (!o) {
        close(fd);
        return NULL;
    }
    o->loop = loop;
    o->fd = fd;
    o->owner = owner;
    o->tokens = OUT_BURST;
    o->refilled = ev_now(loop);
    snprintf(o->name, sizeof(o->name), "%s", name);
    ev_io_init(&o->w, readable_cb, fd, EV_READ);
    ev_timer_init(&o->w_budget, budget_cb, 0., 0.);
    o->w.data = o->w_budget.data = o;
    o->next = pipes;
    if (pipes)
        pipes->prev = o;
    pipes = o;
    arm(o);
    return o;
}

void stk_out_detach(struct stk_outpipe *o)
{
    if (!o)
        return;
    if (o->owner)
        *o->owner = NULL;
    o->owner = NULL;
    /* The child is gone, so everything it wrote is in the pipe already:
     * take it all now (large enough for a full 64 KiB pipe buffer), budget
     * or not. If the pipe is not at EOF, a grandchild still holds it: keep
     * the watcher, but the dead child's unfinished last line goes out now. */
    if (pump(o, 1 << 10, false))
        destroy(o);
    else
        split(o, true);
}

void stk_out_pace(bool log_over_high_water)
{
    if (log_full == log_over_high_water)
        return;
    log_full = log_over_high_water;
    for (struct stk_outpipe *o = pipes; o; o = o->next)
        arm(o);
}

void stk_out_close_all(void)
{
    while (pipes) {
        struct stk_outpipe *o = pipes;
        (void)pump(o, 1 << 10, false);
        destroy(o);
    }
}
