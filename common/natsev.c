/* SPDX-License-Identifier: MIT */
/* natsev.c — libnats' event-loop adapter for libev (Debian's libnats ships
 * adapters for libevent and libuv only). libnats calls it from the loop's
 * thread and from its reconnect and flusher threads; libev is not thread
 * safe, so a call from another thread records the wanted state under a
 * mutex and wakes the loop, which applies it. */
#include "natsev-private.h"

#include <errno.h>
#include <string.h>

static bool on_loop(const struct stk_natsev *ev)
{
    return pthread_equal(pthread_self(), ev->loop_thread) != 0;
}

/* Loop thread: make the watchers match what is wanted. */
static void apply(struct stk_natsev *ev)
{
    pthread_mutex_lock(&ev->mu);
    int fd = ev->fd;
    bool r = ev->want_read, w = ev->want_write;
    pthread_mutex_unlock(&ev->mu);
    if (fd != ev->cur_fd) {
        ev_io_stop(ev->loop, &ev->rio);
        ev_io_stop(ev->loop, &ev->wio);
        ev->cur_fd = fd;
        if (fd >= 0) {
            ev_io_set(&ev->rio, fd, EV_READ);
            ev_io_set(&ev->wio, fd, EV_WRITE);
        }
    }
    if (fd < 0)
        return;
    if (r && !ev_is_active(&ev->rio))
        ev_io_start(ev->loop, &ev->rio);
    else if (!r && ev_is_active(&ev->rio))
        ev_io_stop(ev->loop, &ev->rio);
    if (w && !ev_is_active(&ev->wio))
        ev_io_start(ev->loop, &ev->wio);
    else if (!w && ev_is_active(&ev->wio))
        ev_io_stop(ev->loop, &ev->wio);
}

static void changed(struct stk_natsev *ev)
{
    if (on_loop(ev))
        apply(ev);
    else
        ev_async_send(ev->loop, &ev->async);
}

static natsConnection *conn(struct stk_natsev *ev)
{
    pthread_mutex_lock(&ev->mu);
    natsConnection *nc = ev->nc;
    pthread_mutex_unlock(&ev->mu);
    return nc;
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_natsev *ev = w->data;
    natsConnection *nc = conn(ev);
    if (nc)
        natsConnection_ProcessReadEvent(nc);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_natsev *ev = w->data;
    natsConnection *nc = conn(ev);
    if (nc)
        natsConnection_ProcessWriteEvent(nc);
    if (ev->on_write)
        ev->on_write(ev->arg);
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct stk_natsev *ev = w->data;
    apply(ev);
    if (ev->on_wake)
        ev->on_wake(ev->arg);
}

static natsStatus attach_cb(void **user, void *loop, natsConnection *nc, natsSock sock)
{
    struct stk_natsev *ev = loop;
    pthread_mutex_lock(&ev->mu);
    ev->nc = nc;
    ev->fd = (int)sock;
    ev->want_read = true;
    ev->want_write = false;
    pthread_mutex_unlock(&ev->mu);
    *user = ev;
    changed(ev);
    return NATS_OK;
}

static natsStatus read_add_cb(void *user, bool add)
{
    struct stk_natsev *ev = user;
    pthread_mutex_lock(&ev->mu);
    ev->want_read = add;
    pthread_mutex_unlock(&ev->mu);
    changed(ev);
    return NATS_OK;
}

static natsStatus write_add_cb(void *user, bool add)
{
    struct stk_natsev *ev = user;
    pthread_mutex_lock(&ev->mu);
    ev->want_write = add;
    pthread_mutex_unlock(&ev->mu);
    changed(ev);
    return NATS_OK;
}

static natsStatus detach_cb(void *user)
{
    struct stk_natsev *ev = user;
    pthread_mutex_lock(&ev->mu);
    ev->nc = NULL;
    ev->fd = -1;
    ev->want_read = ev->want_write = false;
    pthread_mutex_unlock(&ev->mu);
    changed(ev);
    return NATS_OK;
}

int stk_natsev_init(struct stk_natsev *ev, struct ev_loop *loop)
{
    int r = pthread_mutex_init(&ev->mu, NULL);
    if (r != 0)
        return -r;
    ev->loop = loop;
    ev->loop_thread = pthread_self();
    ev->fd = ev->cur_fd = -1;
    ev_io_init(&ev->rio, read_cb, -1, EV_READ);
    ev_io_init(&ev->wio, write_cb, -1, EV_WRITE);
    ev->rio.data = ev->wio.data = ev;
    ev_async_init(&ev->async, async_cb);
    ev->async.data = ev;
    ev_async_start(loop, &ev->async);
    return 0;
}

void stk_natsev_fini(struct stk_natsev *ev)
{
    ev_io_stop(ev->loop, &ev->rio);
    ev_io_stop(ev->loop, &ev->wio);
    ev_async_stop(ev->loop, &ev->async);
    pthread_mutex_destroy(&ev->mu);
}

void stk_natsev_wake(struct stk_natsev *ev)
{
    ev_async_send(ev->loop, &ev->async);
}

natsStatus stk_natsev_options(struct stk_natsev *ev, natsOptions *opts)
{
    return natsOptions_SetEventLoop(opts, ev, attach_cb, read_add_cb, write_add_cb, detach_cb);
}
