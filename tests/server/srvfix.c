/* SPDX-License-Identifier: MIT */
/* srvfix.c — the server test fixture (srvfix.h): the one place a test
 * touches the server's struct. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "segment-private.h"
#include "srvfix.h"

#define PEERS_MAX 64

struct stk_fix {
    struct stk_server srv;
    bool inited;
    int peers[PEERS_MAX]; /* our ends of the socketpairs */
    unsigned npeers;
};

struct stk_fix *stk_fix_new(struct ev_loop *loop, struct stk_config *cfg, const char *shm)
{
    struct stk_fix *fx = calloc(1, sizeof(*fx));
    char *name = strdup(shm);
    if (!fx || !name) {
        free(fx);
        free(name);
        return NULL;
    }
    free(cfg->shm.name);
    cfg->shm.name = name;
    int r = stk_server_init(&fx->srv, loop, cfg);
    fx->inited = true;
    if (r < 0) {
        stk_fix_free(fx);
        return NULL;
    }
    return fx;
}

struct stk_server *stk_fix_server(struct stk_fix *fx)
{
    return &fx->srv;
}

int stk_fix_listen(struct stk_fix *fx, const char *addr, const struct stk_proto *proto, char *bound,
                   size_t size)
{
    int err = 0;
    struct stk_listener *l = stk_listen_add(&fx->srv, "test", addr, proto, &err);
    if (!l)
        return err;
    if (bound && size) {
        strncpy(bound, l->addr, size - 1);
        bound[size - 1] = 0;
    }
    return 0;
}

struct stk_conn *stk_fix_conn(struct stk_fix *fx, const struct stk_proto *proto)
{
    int sv[2];
    if (fx->npeers == PEERS_MAX ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return NULL;
    struct sockaddr sa = {.sa_family = AF_UNIX};
    struct stk_conn *c = stk_conn_open(&fx->srv, sv[0], &sa, proto);
    if (!c) {
        close(sv[1]);
        return NULL;
    }
    fx->peers[fx->npeers++] = sv[1];
    return c;
}

int stk_fix_last_peer(const struct stk_fix *fx)
{
    return fx->npeers ? fx->peers[fx->npeers - 1] : -1;
}

size_t stk_fix_out_cap(const struct stk_conn *c)
{
    return c->out.cap;
}

int stk_fix_conn_fd(const struct stk_conn *c)
{
    return c->fd;
}

size_t stk_fix_feed(struct stk_conn *c, const char *data, size_t len)
{
    return c->proto->on_data(c, data, len, false);
}

const char *stk_fix_output(struct stk_conn *c, size_t *len)
{
    *len = stk_conn_pending(c);
    if (stk_buf_putc(&c->out, 0) < 0) {
        c->out.err = 0;
        *len = 0;
        return "";
    }
    c->out.len--; /* the NUL stays past the end */
    return c->out.data + c->out_sent;
}

void stk_fix_output_clear(struct stk_conn *c)
{
    c->out.len = c->out_sent = 0;
}

bool stk_fix_conn_cut(const struct stk_conn *c)
{
    return stk_conn_state_cut(c->state);
}

size_t stk_fix_events(struct stk_conn *c)
{
    return c->proto->on_events(c, (size_t)1 << 20);
}

void stk_fix_heartbeat(struct stk_conn *c)
{
    c->proto->on_heartbeat(c);
}

const struct stk_stats *stk_fix_stats(const struct stk_fix *fx)
{
    return &fx->srv.st;
}

size_t stk_fix_subscribers(const struct stk_fix *fx)
{
    return fx->srv.nsubscribed;
}

struct stk_seg *stk_fix_segment(const struct stk_fix *fx)
{
    return fx->srv.seg;
}

struct stk_seg *stk_fix_swap_segment(struct stk_fix *fx, struct stk_seg *seg)
{
    struct stk_seg *old = fx->srv.seg;
    fx->srv.seg = seg;
    return old;
}

void stk_fix_free(struct stk_fix *fx)
{
    if (!fx)
        return;
    if (fx->inited)
        stk_server_fini(&fx->srv); /* closes every connection and listener */
    for (unsigned i = 0; i < fx->npeers; i++)
        close(fx->peers[i]);
    free(fx);
}
