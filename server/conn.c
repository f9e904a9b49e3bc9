/* SPDX-License-Identifier: MIT */
/* conn.c — the protocol-neutral connection layer: listening socket, accept
 * loop with a spare fd for EMFILE, line framing bounded by max_line_bytes,
 * output buffering with write bursts, back-pressure, the out_buffer_bytes
 * cap, idle timeouts, lingering close. A protocol plugs in via stk_proto. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "server.h"

#define ACCEPTS_PER_CALL 256

/* one read buffer for every connection: idle connections hold no input
 * memory at all, only a partial line is ever copied into c->in */
static char rbuf[STK_READ_CHUNK];

/* ---- intrusive lists: `off` is the offset of the prev pointer, next follows ---- */

#define LPREV(c, off) (*(struct stk_conn **)((char *)(c) + (off)))
#define LNEXT(c, off) (*(struct stk_conn **)((char *)(c) + (off) + sizeof(void *)))
#define OFF_LRU offsetof(struct stk_conn, prev)
#define OFF_FLUSH offsetof(struct stk_conn, fprev)
#define OFF_ALL offsetof(struct stk_conn, aprev)

void stk_clist_push(struct stk_clist *l, struct stk_conn *c, size_t off)
{
    LPREV(c, off) = l->tail;
    LNEXT(c, off) = NULL;
    if (l->tail)
        LNEXT(l->tail, off) = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

void stk_clist_remove(struct stk_clist *l, struct stk_conn *c, size_t off)
{
    struct stk_conn *p = LPREV(c, off), *n = LNEXT(c, off);
    if (p)
        LNEXT(p, off) = n;
    else
        l->head = n;
    if (n)
        LPREV(n, off) = p;
    else
        l->tail = p;
    LPREV(c, off) = LNEXT(c, off) = NULL;
    l->n--;
}

/* ---- listening ---- */

static void format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(buf, size, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(buf, size, "[%s]:%u", host, port);
    } else {
        snprintf(buf, size, "unix");
    }
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents);

int stk_listen_start(struct stk_server *s)
{
    char host[256], port_s[8];
    uint16_t port;
    int r = stk_listen_parse(s->cfg->server.listen, host, sizeof(host), &port);
    if (r < 0)
        return r;
    snprintf(port_s, sizeof(port_s), "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai) != 0 || !ai)
        return -EADDRNOTAVAIL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = -errno;
        freeaddrinfo(ai);
        return r;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        r = -errno;
        close(fd);
        freeaddrinfo(ai);
        return r;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr((struct sockaddr *)&ss, s->listen_addr, sizeof(s->listen_addr));
    s->lfd = fd;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ev_io_init(&s->lio, accept_cb, fd, EV_READ);
    s->lio.data = s;
    ev_io_start(s->loop, &s->lio);
    return 0;
}

void stk_listen_stop(struct stk_server *s)
{
    if (s->lfd < 0)
        return;
    ev_io_stop(s->loop, &s->lio);
    close(s->lfd);
    s->lfd = -1;
    if (s->spare_fd >= 0) {
        close(s->spare_fd);
        s->spare_fd = -1;
    }
}

/* ---- connection lifecycle ---- */

static void lru_add(struct stk_conn *c)
{
    if (!(c->flags & STK_CONN_LRU)) {
        c->flags |= STK_CONN_LRU;
        stk_clist_push(&c->srv->lru, c, OFF_LRU);
    }
}

static void lru_del(struct stk_conn *c)
{
    if (c->flags & STK_CONN_LRU) {
        c->flags &= ~STK_CONN_LRU;
        stk_clist_remove(&c->srv->lru, c, OFF_LRU);
    }
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_flush(struct stk_conn *c);

static void update_watchers(struct stk_conn *c)
{
    struct ev_loop *loop = c->srv->loop;
    bool blocked = c->flags & STK_CONN_BLOCKED;
    /* read while nothing is backed up; a closing connection keeps reading
     * (and discarding) so its close does not turn into a RST that would
     * destroy the error line in flight */
    bool want_read =
        !(c->flags & (STK_CONN_EOF | STK_CONN_DRAIN)) &&
        ((c->flags & STK_CONN_CLOSING) || (!blocked && stk_conn_pending(c) < STK_WRITE_BURST));
    if (want_read && !ev_is_active(&c->rio))
        ev_io_start(loop, &c->rio);
    else if (!want_read && ev_is_active(&c->rio))
        ev_io_stop(loop, &c->rio);
    if (blocked && !ev_is_active(&c->wio))
        ev_io_start(loop, &c->wio);
    else if (!blocked && ev_is_active(&c->wio))
        ev_io_stop(loop, &c->wio);
}

static void new_conn(struct stk_server *s, int fd, const struct sockaddr *sa)
{
    bool reject = s->draining || s->nconns >= s->cfg->server.max_connections;
    struct stk_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->srv = s;
    c->proto = s->proto;
    c->fd = fd;
    format_addr(sa, c->peer, sizeof(c->peer));
    ev_io_init(&c->rio, read_cb, fd, EV_READ);
    ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    c->last_active_ns = stk_mono_ns();
    stk_clist_push(&s->all, c, OFF_ALL);
    if (reject) {
        c->flags |= STK_CONN_REJECTED;
        s->st.rejected++;
        stk_server_warn(s, "%s: refused: %zu connections (server.max_connections)", c->peer,
                        s->nconns);
        stk_conn_fatal(c, STK_E_UNAVAILABLE, "too many connections");
        return;
    }
    s->nconns++;
    s->st.accepted++;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    lru_add(c);
    ev_io_start(s->loop, &c->rio);
    stk_debug("%s: connected", c->peer);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_server *s = w->data;
    for (int i = 0; i < ACCEPTS_PER_CALL; i++) {
        struct sockaddr_storage ss = {0};
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            new_conn(s, fd, (struct sockaddr *)&ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE) {
            /* Out of fds: the pending connection would make the listening
             * socket readable forever (a busy loop). Free the spare fd,
             * accept and close it, take the spare back (libev's advice). */
            stk_server_warn(s, "accept: %s: shedding a connection (raise ulimit -n)",
                            strerror(errno));
            if (s->spare_fd >= 0) {
                close(s->spare_fd);
                int fd2 = accept(s->lfd, NULL, NULL);
                if (fd2 >= 0)
                    close(fd2);
                s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            }
            return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            stk_server_warn(s, "accept: %s", strerror(errno));
        return;
    }
}

void stk_conn_close(struct stk_conn *c)
{
    struct stk_server *s = c->srv;
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    stk_subs_remove_all(c);
    if (c->flags & STK_CONN_FLUSHQ)
        stk_clist_remove(&s->flushq, c, OFF_FLUSH);
    if (c->flags & STK_CONN_LISTED)
        stk_clist_remove(&s->closing, c, OFF_LRU);
    lru_del(c);
    stk_clist_remove(&s->all, c, OFF_ALL);
    if (!(c->flags & STK_CONN_REJECTED))
        s->nconns--;
    close(c->fd);
    stk_debug("%s: closed", c->peer);
    stk_buf_free(&c->in);
    stk_buf_free(&c->out);
    free(c);
    if (s->draining && s->all.n == 0)
        ev_break(s->loop, EVBREAK_ALL);
}

void stk_conn_set_idle_exempt(struct stk_conn *c, bool exempt)
{
    struct stk_server *s = c->srv;
    if (c->flags & STK_CONN_CLOSING)
        return;
    (void)s;
    if (exempt) {
        lru_del(c);
    } else {
        c->last_active_ns = stk_mono_ns();
        lru_add(c);
    }
}

void stk_conn_schedule(struct stk_conn *c)
{
    if (c->flags & STK_CONN_FLUSHQ)
        return;
    c->flags |= STK_CONN_FLUSHQ;
    stk_clist_push(&c->srv->flushq, c, OFF_FLUSH);
}

void stk_conn_fatal(struct stk_conn *c, enum stk_err code, const char *msg)
{
    struct stk_server *s = c->srv;
    if (c->flags & STK_CONN_CLOSING)
        return;
    if (code == STK_E_SLOW_CONSUMER) {
        /* Drop what the client could not take, but finish the line already
         * partly on the wire so the error line starts on a line of its own. */
        size_t keep = c->out_sent;
        if (keep > 0 && c->out.data[keep - 1] != '\n') {
            char *nl = memchr(c->out.data + keep, '\n', c->out.len - keep);
            keep = nl ? (size_t)(nl - c->out.data) + 1 : c->out.len;
        }
        c->out.len = keep;
    }
    c->flags |= STK_CONN_CLOSING; /* before dropping subs: stays out of the LRU */
    stk_subs_remove_all(c);
    lru_del(c);
    c->proto->on_fatal(c, code, msg);
    c->flags |= STK_CONN_CLOSING;
    c->deadline_ns = stk_mono_ns() + STK_LINGER_NS;
    c->flags |= STK_CONN_LISTED;
    stk_clist_push(&s->closing, c, OFF_LRU);
    stk_buf_free(&c->in);
    stk_conn_schedule(c);
    update_watchers(c);
}

/* ---- input ---- */

static void too_long(struct stk_conn *c, uint64_t max)
{
    c->srv->st.too_long++;
    stk_server_warn(c->srv, "%s: request line longer than %llu bytes (server.max_line_bytes)",
                    c->peer, (unsigned long long)max);
    stk_conn_fatal(c, STK_E_BAD_REQUEST, "line too long");
}

/* Serve the complete lines of data[0..len) in order while the output stays
 * below one write burst. Returns bytes consumed; sets *fatal if the
 * connection was cut. */
static size_t serve_lines(struct stk_conn *c, const char *data, size_t len, bool at_eof)
{
    uint64_t max = c->srv->cfg->server.max_line_bytes;
    const char *p = data, *end = data + len;
    while (p < end && !(c->flags & STK_CONN_CLOSING)) {
        if (stk_conn_pending(c) >= STK_WRITE_BURST)
            break; /* back-pressure: the rest waits until this drains */
        const char *ls = p;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl && !at_eof)
            break;
        size_t n = (size_t)((nl ? nl : end) - ls);
        if (n > max) {
            too_long(c, max);
            return len;
        }
        p = nl ? nl + 1 : end;
        if (n > 0 && ls[n - 1] == '\r')
            n--;
        /* empty (and blank) lines are keep-alives: ignored */
        size_t k = 0;
        while (k < n && (ls[k] == ' ' || ls[k] == '\t'))
            k++;
        if (k < n)
            c->proto->on_line(c, ls, n);
    }
    /* a partial line that is already too long is refused without waiting
     * for the rest of it */
    if (!(c->flags & STK_CONN_CLOSING) && p < end && !memchr(p, '\n', (size_t)(end - p)) &&
        (uint64_t)(end - p) > max) {
        too_long(c, max);
        return len;
    }
    return (size_t)(p - data);
}

/* Serve what c->in holds (lines held back by back-pressure). */
static void serve_buffered(struct stk_conn *c)
{
    if (c->in.len == 0 || (c->flags & STK_CONN_CLOSING))
        return;
    size_t used = serve_lines(c, c->in.data, c->in.len, (c->flags & STK_CONN_EOF) != 0);
    if (c->flags & STK_CONN_CLOSING)
        return;
    stk_buf_consume(&c->in, used);
    if (c->in.len == 0)
        stk_buf_free(&c->in);
    if (stk_conn_pending(c))
        stk_conn_schedule(c);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_conn *c = w->data;
    struct stk_server *s = c->srv;
    ssize_t n = read(c->fd, rbuf, sizeof(rbuf));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        stk_debug("%s: read: %s", c->peer, strerror(errno));
        stk_conn_close(c);
        return;
    }
    if (c->flags & STK_CONN_CLOSING) {
        if (n == 0)
            stk_conn_close(c); /* the peer saw our last line and hung up */
        return;                /* lingering: discard */
    }
    if (n == 0) {
        c->flags |= STK_CONN_EOF;
        serve_buffered(c);
        if (!(c->flags & STK_CONN_CLOSING) && stk_conn_pending(c) == 0 && c->in.len == 0) {
            stk_conn_close(c);
            return;
        }
        stk_conn_schedule(c);
        update_watchers(c);
        return;
    }
    c->last_active_ns = stk_server_mono(s);
    if (c->flags & STK_CONN_LRU) {
        /* most recently active goes to the tail of the idle LRU */
        stk_clist_remove(&s->lru, c, OFF_LRU);
        stk_clist_push(&s->lru, c, OFF_LRU);
    }
    if (c->in.len == 0) {
        size_t used = serve_lines(c, rbuf, (size_t)n, false);
        if (!(c->flags & STK_CONN_CLOSING) && used < (size_t)n &&
            stk_buf_put(&c->in, rbuf + used, (size_t)n - used) < 0) {
            stk_conn_fatal(c, STK_E_INTERNAL, "out of memory");
            return;
        }
    } else {
        if (stk_buf_put(&c->in, rbuf, (size_t)n) < 0) {
            stk_conn_fatal(c, STK_E_INTERNAL, "out of memory");
            return;
        }
        serve_buffered(c);
    }
    if (stk_conn_pending(c))
        stk_conn_schedule(c);
    update_watchers(c);
}

/* ---- output ---- */

/* Bytes c owes its peer: our buffer plus what the kernel still holds unacked
 * (on loopback that is only non-zero when the peer's window is closed, i.e.
 * it is not reading). */
static size_t owed(const struct stk_conn *c)
{
    int q = 0;
    if (ioctl(c->fd, SIOCOUTQ, &q) < 0 || q < 0)
        q = 0;
    return stk_conn_pending(c) + (size_t)q;
}

static void slow_consumer(struct stk_conn *c, size_t bytes)
{
    c->srv->st.slow_consumers++;
    stk_server_warn(c->srv, "%s: slow consumer: %zu bytes owed > server.out_buffer_bytes %llu; cut",
                    c->peer, bytes, (unsigned long long)c->srv->cfg->server.out_buffer_bytes);
    stk_conn_fatal(c, STK_E_SLOW_CONSUMER, "output buffer limit exceeded");
}

/* Write up to one burst; render subscription events while there is room.
 * Called before the loop polls again (ev_prepare) and on POLLOUT. */
static void conn_flush(struct stk_conn *c)
{
    struct stk_server *s = c->srv;
    size_t budget = STK_WRITE_BURST;
    uint64_t cap = s->cfg->server.out_buffer_bytes;
    c->flags &= ~STK_CONN_BLOCKED;
    for (;;) {
        if (c->sub && c->sub->dirty_head && !(c->flags & (STK_CONN_CLOSING | STK_CONN_DRAIN)) &&
            stk_conn_pending(c) < STK_WRITE_BURST) {
            uint64_t now = stk_server_mono(s);
            if (now >= c->sub->next_event_ns && c->proto->on_events(c, STK_WRITE_BURST) > 0)
                c->sub->next_event_ns = now + c->sub->throttle_ns;
        }
        size_t pend = stk_conn_pending(c);
        if (pend == 0)
            break;
        if (!(c->flags & STK_CONN_CLOSING) && pend > cap) {
            slow_consumer(c, pend);
            continue;
        }
        size_t n = pend < budget ? pend : budget;
        ssize_t w = send(c->fd, c->out.data + c->out_sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->flags |= STK_CONN_BLOCKED;
                size_t o = owed(c);
                if (!(c->flags & STK_CONN_CLOSING) && o > cap) {
                    slow_consumer(c, o);
                    return;
                }
                update_watchers(c);
                return;
            }
            stk_debug("%s: write: %s", c->peer, strerror(errno));
            stk_conn_close(c);
            return;
        }
        c->out_sent += (size_t)w;
        budget -= (size_t)w;
        if (c->out_sent == c->out.len) {
            c->out.len = c->out_sent = 0;
            if (c->out.cap > STK_OUT_KEEP)
                stk_buf_free(&c->out);
        }
        if (budget == 0) {
            /* fair share used: come back on POLLOUT after the others */
            c->flags |= STK_CONN_BLOCKED;
            update_watchers(c);
            return;
        }
        if (stk_conn_pending(c) == 0 && c->in.len && !(c->flags & STK_CONN_CLOSING))
            serve_buffered(c);
    }
    /* drained */
    if (c->flags & STK_CONN_CLOSING) {
        if (!(c->flags & STK_CONN_SHUTWR)) {
            c->flags |= STK_CONN_SHUTWR;
            (void)shutdown(c->fd, SHUT_WR);
        }
    } else if ((c->flags & (STK_CONN_EOF | STK_CONN_DRAIN)) && c->in.len == 0) {
        stk_conn_close(c);
        return;
    } else if (c->in.len) {
        serve_buffered(c);
        if (c->flags & STK_CONN_EOF && c->in.len == 0 && stk_conn_pending(c) == 0) {
            stk_conn_close(c);
            return;
        }
    }
    update_watchers(c);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn_flush(w->data);
}

void stk_conn_flush_all(struct stk_server *s)
{
    struct stk_conn *c;
    while ((c = s->flushq.head) != NULL) {
        stk_clist_remove(&s->flushq, c, OFF_FLUSH);
        c->flags &= ~STK_CONN_FLUSHQ;
        if (c->flags & STK_CONN_BLOCKED)
            continue; /* POLLOUT will come */
        conn_flush(c);
    }
}

/* ---- housekeeping ---- */

void stk_conn_tick(struct stk_server *s, uint64_t now)
{
    struct stk_conn *c;
    while ((c = s->closing.head) != NULL && c->deadline_ns <= now) {
        stk_clist_remove(&s->closing, c, OFF_LRU);
        c->flags &= ~STK_CONN_LISTED;
        stk_conn_close(c);
    }
    uint64_t idle = s->cfg->server.idle_timeout_s * 1000000000ull;
    if (idle == 0)
        return;
    while ((c = s->lru.head) != NULL && c->last_active_ns + idle <= now) {
        s->st.closed_idle++;
        stk_debug("%s: idle for %llu s: closing", c->peer,
                  (unsigned long long)s->cfg->server.idle_timeout_s);
        stk_conn_fatal(c, STK_E_UNAVAILABLE, "idle timeout");
    }
}

void stk_conn_drain_all(struct stk_server *s)
{
    struct stk_conn *c = s->all.head, *next;
    for (; c; c = next) {
        next = c->anext;
        c->flags |= STK_CONN_DRAIN;
        stk_subs_remove_all(c);
        stk_buf_free(&c->in);
        if (stk_conn_pending(c) == 0) {
            stk_conn_close(c);
            continue;
        }
        stk_conn_schedule(c);
        update_watchers(c);
    }
}
