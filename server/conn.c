/* SPDX-License-Identifier: MIT */
/* conn.c — the protocol-neutral connection layer: the listener table's
 * sockets, accept loop with a spare fd for EMFILE, input held for the
 * protocol's framing, output buffering with write bursts, back-pressure,
 * the out_buffer_bytes cap (slow-consumer cut), idle timeouts, lingering
 * close. Each listener's protocol plugs in via stk_proto. */
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
 * memory at all, only a partial request is ever copied into c->in */
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

struct stk_listener *stk_listen_add(struct stk_server *s, const char *key, const char *spec,
                                    const struct stk_proto *proto, int *ret_err)
{
    char host[256], port_s[8];
    uint16_t port;
    if (s->nlis == STK_LISTENERS_MAX) {
        *ret_err = -ENOSPC;
        return NULL;
    }
    int r = stk_listen_parse(spec, host, sizeof(host), &port);
    if (r < 0) {
        *ret_err = r;
        return NULL;
    }
    snprintf(port_s, sizeof(port_s), "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai) != 0 || !ai) {
        *ret_err = -EADDRNOTAVAIL;
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *ret_err = -errno;
        freeaddrinfo(ai);
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        *ret_err = -errno;
        close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    struct stk_listener *l = &s->lis[s->nlis++];
    memset(l, 0, sizeof(*l));
    l->srv = s;
    l->proto = proto;
    l->key = key;
    l->fd = fd;
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr((struct sockaddr *)&ss, l->addr, sizeof(l->addr));
    if (s->spare_fd < 0)
        s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ev_io_init(&l->io, accept_cb, fd, EV_READ);
    l->io.data = l;
    ev_io_start(s->loop, &l->io);
    return l;
}

void stk_listen_stop(struct stk_server *s)
{
    for (unsigned i = 0; i < s->nlis; i++) {
        struct stk_listener *l = &s->lis[i];
        if (l->fd < 0)
            continue;
        ev_io_stop(s->loop, &l->io);
        close(l->fd);
        l->fd = -1;
    }
    if (s->spare_fd >= 0) {
        close(s->spare_fd);
        s->spare_fd = -1;
    }
}

/* ---- connection lifecycle ---- */

static void lru_add(struct stk_conn *c)
{
    if (c->list == STK_LIST_NONE) {
        c->list = STK_LIST_LRU;
        stk_clist_push(&c->srv->lru, c, OFF_LRU);
    }
}

static void lru_del(struct stk_conn *c)
{
    if (c->list == STK_LIST_LRU) {
        c->list = STK_LIST_NONE;
        stk_clist_remove(&c->srv->lru, c, OFF_LRU);
    }
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_flush(struct stk_conn *c);

static void update_watchers(struct stk_conn *c)
{
    struct ev_loop *loop = c->srv->loop;
    bool blocked = c->blocked;
    /* read while nothing is backed up; a cut connection keeps reading (and
     * discarding) so its close does not turn into a RST that would destroy
     * the last message in flight */
    bool want_read;
    switch (c->state) {
    case STK_CONN_OPEN:
        want_read = !blocked && stk_conn_pending(c) < STK_WRITE_BURST;
        break;
    case STK_CONN_CUT:
    case STK_CONN_LINGER:
        want_read = true;
        break;
    default: /* EOF, DRAIN, CUT_EOF: nothing more to read */
        want_read = false;
        break;
    }
    if (want_read && !ev_is_active(&c->rio))
        ev_io_start(loop, &c->rio);
    else if (!want_read && ev_is_active(&c->rio))
        ev_io_stop(loop, &c->rio);
    if (blocked && !ev_is_active(&c->wio))
        ev_io_start(loop, &c->wio);
    else if (!blocked && ev_is_active(&c->wio))
        ev_io_stop(loop, &c->wio);
}

struct stk_conn *stk_conn_open(struct stk_server *s, int fd, const struct sockaddr *sa,
                               const struct stk_proto *proto)
{
    bool reject = s->draining || s->nconns >= s->cfg->server.max_connections;
    struct stk_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->srv = s;
    c->proto = proto;
    c->fd = fd;
    c->state = STK_CONN_OPEN;
    format_addr(sa, c->peer, sizeof(c->peer));
    ev_io_init(&c->rio, read_cb, fd, EV_READ);
    ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
    c->rio.data = c->wio.data = c;
    c->last_active_ns = stk_mono_ns();
    stk_clist_push(&s->all, c, OFF_ALL);
    if (!reject && c->proto->on_open && c->proto->on_open(c) < 0) {
        stk_conn_fatal(c, STK_E_INTERNAL, "out of memory");
        return c;
    }
    if (reject) {
        s->st.rejected++;
        stk_server_warn(s, "%s: refused: %zu connections (server.max_connections)", c->peer,
                        s->nconns);
        stk_conn_fatal(c, STK_E_UNAVAILABLE, "too many connections");
        return c;
    }
    c->counted = true;
    s->nconns++;
    s->st.accepted++;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    lru_add(c);
    ev_io_start(s->loop, &c->rio);
    stk_debug("%s: connected", c->peer);
    return c;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_listener *l = w->data;
    struct stk_server *s = l->srv;
    for (int i = 0; i < ACCEPTS_PER_CALL; i++) {
        struct sockaddr_storage ss = {0};
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            (void)stk_conn_open(s, fd, (struct sockaddr *)&ss, l->proto);
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
                int fd2 = accept(l->fd, NULL, NULL);
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
    if (c->flushq)
        stk_clist_remove(&s->flushq, c, OFF_FLUSH);
    if (c->list == STK_LIST_CLOSING)
        stk_clist_remove(&s->closing, c, OFF_LRU);
    else
        lru_del(c);
    c->list = STK_LIST_NONE;
    stk_clist_remove(&s->all, c, OFF_ALL);
    if (c->counted)
        s->nconns--;
    if (c->proto->on_close)
        c->proto->on_close(c);
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
    if (stk_conn_state_cut(c->state))
        return;
    if (exempt) {
        lru_del(c);
    } else {
        c->last_active_ns = stk_mono_ns();
        lru_add(c);
    }
}

void stk_conn_schedule(struct stk_conn *c)
{
    if (c->flushq)
        return;
    c->flushq = true;
    stk_clist_push(&c->srv->flushq, c, OFF_FLUSH);
}

void stk_conn_fatal(struct stk_conn *c, enum stk_err code, const char *msg)
{
    struct stk_server *s = c->srv;
    if (stk_conn_state_cut(c->state))
        return;
    if (code == STK_E_SLOW_CONSUMER) {
        /* Drop what the client could not take, but finish the message
         * already partly on the wire (the protocol knows where it ends) so
         * the last message starts on its own. */
        c->out.len = c->proto->cut_point(c, c->out_sent);
    }
    /* the peer said EOF (or the server drains): nothing more is read; the
     * state is set before the subs go, so the connection stays off the LRU */
    bool eof = c->state == STK_CONN_EOF || c->state == STK_CONN_DRAIN;
    lru_del(c);
    c->state = eof ? STK_CONN_CUT_EOF : STK_CONN_CUT;
    stk_subs_remove_all(c);
    c->proto->on_fatal(c, code, msg);
    c->deadline_ns = stk_mono_ns() + STK_LINGER_NS;
    c->list = STK_LIST_CLOSING;
    stk_clist_push(&s->closing, c, OFF_LRU);
    stk_buf_free(&c->in);
    stk_conn_schedule(c);
    update_watchers(c);
}

/* ---- input ---- */

/* Offer data[0..len) to the protocol's framing. Returns bytes consumed. */
static size_t serve(struct stk_conn *c, const char *data, size_t len)
{
    return c->proto->on_data(c, data, len, c->state == STK_CONN_EOF);
}

/* Serve what c->in holds (requests held back by back-pressure). */
static void serve_buffered(struct stk_conn *c)
{
    if (c->in.len == 0 || stk_conn_state_cut(c->state))
        return;
    size_t used = serve(c, c->in.data, c->in.len);
    if (stk_conn_state_cut(c->state))
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
    if (stk_conn_state_cut(c->state)) {
        if (n == 0)
            stk_conn_close(c); /* the peer saw our last message and hung up */
        return;                /* lingering: discard */
    }
    if (n == 0) {
        c->state = STK_CONN_EOF;
        serve_buffered(c);
        if (!stk_conn_state_cut(c->state) && stk_conn_pending(c) == 0 && c->in.len == 0) {
            stk_conn_close(c);
            return;
        }
        stk_conn_schedule(c);
        update_watchers(c);
        return;
    }
    c->last_active_ns = stk_server_mono(s);
    if (c->list == STK_LIST_LRU) {
        /* most recently active goes to the tail of the idle LRU */
        stk_clist_remove(&s->lru, c, OFF_LRU);
        stk_clist_push(&s->lru, c, OFF_LRU);
    }
    if (c->in.len == 0) {
        size_t used = serve(c, rbuf, (size_t)n);
        if (!stk_conn_state_cut(c->state) && used < (size_t)n &&
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
    c->blocked = false;
    for (;;) {
        if (c->sub && c->sub->dirty_head && stk_conn_state_serving(c->state) &&
            stk_conn_pending(c) < STK_WRITE_BURST) {
            /* one round of events per window (throttle_ms, server.flush_us):
             * what comes within it waits and goes out together */
            uint64_t now = stk_server_mono(s);
            if (now < c->sub->next_event_ns)
                stk_subs_defer(c, c->sub->next_event_ns);
            else if (c->proto->on_events(c, STK_WRITE_BURST) > 0)
                c->sub->next_event_ns = now + stk_subs_window(c);
        }
        size_t pend = stk_conn_pending(c);
        if (pend == 0)
            break;
        if (!stk_conn_state_cut(c->state) && pend > cap) {
            slow_consumer(c, pend);
            continue;
        }
        size_t n = pend < budget ? pend : budget;
        ssize_t w = send(c->fd, c->out.data + c->out_sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->blocked = true;
                size_t o = owed(c);
                if (!stk_conn_state_cut(c->state) && o > cap) {
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
        } else if (c->out_sent > c->out.len - c->out_sent) {
            /* written at the front, filled at the back: a stream that never
             * drains completely would grow the buffer without bound, so
             * move the unsent rest to the front once the sent part is
             * larger (each byte moved at most once on average). The last
             * byte sent stays in front of it: cut_point() reads it to tell
             * whether a message is partly on the wire. */
            size_t drop = c->out_sent - 1;
            memmove(c->out.data, c->out.data + drop, c->out.len - drop);
            c->out.len -= drop;
            c->out_sent = 1;
        }
        if (budget == 0) {
            /* fair share used: come back on POLLOUT after the others */
            c->blocked = true;
            update_watchers(c);
            return;
        }
        if (stk_conn_pending(c) == 0 && c->in.len && !stk_conn_state_cut(c->state))
            serve_buffered(c);
    }
    /* drained */
    if (stk_conn_state_cut(c->state)) {
        if (c->state != STK_CONN_LINGER) {
            c->state = STK_CONN_LINGER;
            (void)shutdown(c->fd, SHUT_WR);
        }
    } else if ((c->state == STK_CONN_EOF || c->state == STK_CONN_DRAIN) && c->in.len == 0) {
        stk_conn_close(c);
        return;
    } else if (c->in.len) {
        serve_buffered(c);
        if (c->state == STK_CONN_EOF && c->in.len == 0 && stk_conn_pending(c) == 0) {
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
        c->flushq = false;
        if (c->blocked)
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
        c->list = STK_LIST_NONE;
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
        if (!stk_conn_state_cut(c->state)) { /* a cut one finishes its last message */
            c->state = STK_CONN_DRAIN;
            stk_subs_remove_all(c);
        }
        stk_buf_free(&c->in);
        if (stk_conn_pending(c) == 0) {
            stk_conn_close(c);
            continue;
        }
        stk_conn_schedule(c);
        update_watchers(c);
    }
}
