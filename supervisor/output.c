/* SPDX-License-Identifier: MIT */
/* output.c — children's stdout/stderr into the supervisor's log: one pipe per
 * start, cut into lines, each prefixed with the child's name; drained after
 * the child is reaped so a kill -9 loses nothing it already wrote. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log-private.h"
#include "supervisor.h"
#include "util-private.h"

#define LINE_MAX_BYTES 4000 /* a longer line is cut into pieces of this size */

struct stk_outpipe {
    ev_io w;
    struct ev_loop *loop;
    int fd;
    bool json;
    struct stk_outpipe **owner; /* cleared when the pipe frees itself */
    struct stk_outpipe *prev, *next;
    size_t len;
    char name[72];
    char buf[LINE_MAX_BYTES];
};

static struct stk_outpipe *pipes; /* every open pipe, for stk_out_close_all() */

static void emit(struct stk_outpipe *o, const char *line, size_t len)
{
    if (o->json) {
        /* Bypasses the level test: a child's output is never filtered. */
        stk_log_write(STK_LOG_INFO, "%s: %.*s", o->name, (int)len, line);
        return;
    }
    /* Text: the child's line as it wrote it (it carries its own timestamp),
     * behind "NAME: ", in one write so lines from several children never
     * interleave. */
    char out[sizeof(o->name) + 2 + LINE_MAX_BYTES + 1];
    size_t n = strlen(o->name);
    memcpy(out, o->name, n);
    out[n++] = ':';
    out[n++] = ' ';
    memcpy(out + n, line, len);
    n += len;
    out[n++] = '\n';
    (void)stk_write_all(STDERR_FILENO, out, n);
}

/* Emit every complete line in buf; keep the tail. */
static void split(struct stk_outpipe *o, bool flush)
{
    size_t start = 0;
    for (size_t i = 0; i < o->len; i++)
        if (o->buf[i] == '\n') {
            size_t end = i > start && o->buf[i - 1] == '\r' ? i - 1 : i;
            emit(o, o->buf + start, end - start);
            start = i + 1;
        }
    if (start == 0 && o->len == sizeof(o->buf)) {
        emit(o, o->buf, o->len); /* no newline in a full buffer: cut it */
        start = o->len;
    }
    if (flush && start < o->len) {
        emit(o, o->buf + start, o->len - start);
        start = o->len;
    }
    memmove(o->buf, o->buf + start, o->len - start);
    o->len -= start;
}

static void destroy(struct stk_outpipe *o)
{
    split(o, true);
    if (o->owner)
        *o->owner = NULL;
    ev_io_stop(o->loop, &o->w);
    close(o->fd);
    if (o == pipes)
        pipes = o->next;
    else if (o->prev)
        o->prev->next = o->next;
    if (o->next)
        o->next->prev = o->prev;
    free(o);
}

/* Read until EAGAIN (or at most `rounds` buffers). Returns true at EOF or
 * error, when the pipe is done. */
static bool pump(struct stk_outpipe *o, int rounds)
{
    while (rounds-- > 0) {
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
    if (pump(o, 16))
        destroy(o);
}

struct stk_outpipe *stk_out_open(struct ev_loop *loop, int fd, const char *name, bool json,
                                 struct stk_outpipe **owner)
{
    struct stk_outpipe *o = calloc(1, sizeof(*o));
    if (!o) {
        close(fd);
        return NULL;
    }
    o->loop = loop;
    o->fd = fd;
    o->json = json;
    o->owner = owner;
    snprintf(o->name, sizeof(o->name), "%s", name);
    ev_io_init(&o->w, readable_cb, fd, EV_READ);
    o->w.data = o;
    ev_io_start(loop, &o->w);
    o->next = pipes;
    if (pipes)
        pipes->prev = o;
    pipes = o;
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
     * take it all now (large enough for a full 64 KiB pipe buffer). If the
     * pipe is not at EOF, a grandchild still holds it: keep the watcher,
     * but the dead child's unfinished last line goes out now. */
    if (pump(o, 1 << 10))
        destroy(o);
    else
        split(o, true);
}

void stk_out_close_all(void)
{
    while (pipes) {
        struct stk_outpipe *o = pipes;
        (void)pump(o, 1 << 10);
        destroy(o);
    }
}
