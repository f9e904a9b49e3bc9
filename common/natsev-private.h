/* SPDX-License-Identifier: MIT */
/* natsev-private.h — libnats on a libev loop: the event-loop adapter
 * (attach/read/write/detach) libnats calls, from any of its threads. */
#ifndef SEQTICK_NATSEV_PRIVATE_H
#define SEQTICK_NATSEV_PRIVATE_H

#include <ev.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>

/* One connection's watchers. libnats calls the adapter from its own threads
 * too (reconnect, flusher): those calls only record what is wanted and wake
 * the loop (ev_async), which applies it; calls from the loop's own thread
 * apply at once. Zero-initialise, then stk_natsev_init() on the loop thread. */
struct stk_natsev {
    struct ev_loop *loop;
    pthread_t loop_thread;
    ev_io rio, wio;
    ev_async async;
    pthread_mutex_t mu;
    /* wanted (under mu) */
    natsConnection *nc;
    int fd; /* -1: none */
    bool want_read, want_write;
    /* applied (loop thread only) */
    int cur_fd;
    /* called on the loop thread after libnats wrote (may be NULL): room in
     * its buffer again */
    void (*on_write)(void *arg);
    /* called on the loop thread after each wake from another thread */
    void (*on_wake)(void *arg);
    void *arg;
};

/* Set up on `loop`, from the thread that runs it. Returns 0 or -errno. */
int stk_natsev_init(struct stk_natsev *ev, struct ev_loop *loop);

/* Stop the watchers (after natsConnection_Destroy). */
void stk_natsev_fini(struct stk_natsev *ev);

/* Wake the loop from any thread (on_wake runs there). */
void stk_natsev_wake(struct stk_natsev *ev);

/* natsOptions_SetEventLoop(opts, ev, …) with this adapter's callbacks. */
natsStatus stk_natsev_options(struct stk_natsev *ev, natsOptions *opts);

#endif /* SEQTICK_NATSEV_PRIVATE_H */
