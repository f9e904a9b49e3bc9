/* SPDX-License-Identifier: MIT */
/* segwatch.c — the segment's life seen from the server: open it when it
 * appears, re-open it when replaced, and a helper thread that sleeps in
 * stk_seg_wait() (a futex in the shared header) and wakes the loop with
 * ev_async when the producer finishes a batch: no polling. */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "log-private.h"
#include "segment-private.h"
#include "server.h"

#define WAIT_SLICE_MS 200 /* the helper re-checks stop / replacement this often */

bool stk_producer_alive(struct stk_server *s, uint64_t *ret_age_ns)
{
    if (!s->seg) {
        if (ret_age_ns)
            *ret_age_ns = UINT64_MAX;
        return false;
    }
    const struct stk_header *h = stk_seg_header(s->seg);
    /* stk_seg_heartbeat_age_ns() with the iteration's clock */
    uint64_t hb = atomic_load_explicit(&h->producer_heartbeat_ns, memory_order_acquire);
    uint64_t now = stk_server_now(s);
    uint64_t age = hb == 0 ? UINT64_MAX : now > hb ? now - hb : 0;
    if (ret_age_ns)
        *ret_age_ns = age;
    return atomic_load_explicit(&h->state, memory_order_acquire) == STK_STATE_LIVE &&
           age <= s->dead_after_ns;
}

static void install(struct stk_server *s, struct stk_seg *seg)
{
    struct stk_seg *old = s->seg;
    s->seg = seg;
    stk_subs_rebind(s);
    stk_seg_close(old);
    if (seg) {
        const struct stk_header *h = stk_seg_header(seg);
        stk_info("segment %s open: generation %llu, capacity %u, history %u, %u symbols",
                 s->cfg->shm.name, (unsigned long long)atomic_load(&h->generation), h->capacity,
                 h->history, stk_seg_nsymbols(seg));
    }
}

/* Open a segment by name; a retired (closed) one counts as absent. */
static int open_live(const char *name, struct stk_seg **ret)
{
    struct stk_seg *seg = NULL;
    int r = stk_seg_open(name, &seg);
    if (r < 0)
        return r;
    if (atomic_load(&stk_seg_header(seg)->state) == STK_STATE_CLOSED) {
        stk_seg_close(seg);
        return -ESTALE;
    }
    *ret = seg;
    return 0;
}

void stk_segwatch_check(struct stk_server *s, bool full)
{
    struct stk_seg *seg = NULL;
    int r;
    if (s->seg) {
        const struct stk_header *h = stk_seg_header(s->seg);
        bool closed = atomic_load_explicit(&h->state, memory_order_acquire) == STK_STATE_CLOSED;
        if (!closed && !(full && stk_seg_replaced(s->seg)))
            return;
        r = open_live(s->cfg->shm.name, &seg);
        if (r == 0) {
            stk_info("segment %s replaced: re-opened", s->cfg->shm.name);
            install(s, seg);
            return;
        }
        stk_warn("segment %s retired and no successor (%s): serving UNAVAILABLE until one appears",
                 s->cfg->shm.name, stk_strerror(r));
        install(s, NULL);
        s->seg_last_err = r;
        return;
    }
    r = open_live(s->cfg->shm.name, &seg);
    if (r < 0) {
        if (r != s->seg_last_err)
            stk_warn("segment %s: %s: serving UNAVAILABLE, retrying", s->cfg->shm.name,
                     stk_strerror(r));
        s->seg_last_err = r;
        return;
    }
    s->seg_last_err = 0;
    install(s, seg);
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Tell the loop, then wait until it has scanned: one wake-up of the loop per
 * scan however fast the producer goes, so this thread never spins. */
static void signal_loop(struct stk_server *s)
{
    atomic_store(&s->watch_pending, 1);
    ev_async_send(s->loop, &s->async);
    while (atomic_load(&s->watch_pending) && !atomic_load(&s->watch_stop)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_SLICE_MS * 1000000L};
        (void)syscall(SYS_futex, &s->watch_pending, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
    }
}

void stk_segwatch_scanned(struct stk_server *s)
{
    if (atomic_exchange(&s->watch_pending, 0))
        (void)syscall(SYS_futex, &s->watch_pending, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void stk_segwatch_want(struct stk_server *s, bool on)
{
    atomic_store(&s->watch_wanted, on ? 1u : 0u);
    if (on)
        (void)syscall(SYS_futex, &s->watch_wanted, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The helper owns its own read-only handle, so the loop can swap and unmap
 * its handle without racing this thread. */
static void *watch_main(void *arg)
{
    struct stk_server *s = arg;
    struct stk_seg *seg = NULL;
    uint64_t seen = 0;
    while (!atomic_load(&s->watch_stop)) {
        if (!seg) {
            if (stk_seg_open(s->cfg->shm.name, &seg) < 0) {
                seg = NULL;
                nap_ms(100);
                continue;
            }
            seen = stk_seg_epoch(seg);
            atomic_store(&s->watch_reopened, true);
            ev_async_send(s->loop, &s->async);
        }
        if (!atomic_load(&s->watch_wanted)) {
            /* nobody subscribed: do not wake on every batch, only look for
             * a replaced segment now and then */
            struct timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_SLICE_MS * 1000000L};
            (void)syscall(SYS_futex, &s->watch_wanted, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
            if (stk_seg_replaced(seg)) {
                stk_seg_close(seg);
                seg = NULL;
                atomic_store(&s->watch_reopened, true);
                ev_async_send(s->loop, &s->async);
            } else if (atomic_load(&s->watch_wanted)) {
                /* from here on every batch counts: one scan catches up */
                seen = stk_seg_epoch(seg);
                signal_loop(s);
            }
            continue;
        }
        int r = stk_seg_wait(seg, seen, WAIT_SLICE_MS);
        if (r == 0) {
            seen = stk_seg_epoch(seg);
            signal_loop(s);
        } else if (r == -ESTALE || (r == -ETIMEDOUT && stk_seg_replaced(seg))) {
            stk_seg_close(seg);
            seg = NULL;
            atomic_store(&s->watch_reopened, true);
            ev_async_send(s->loop, &s->async);
            nap_ms(50); /* a closed segment stays closed: do not spin on it */
        }
    }
    stk_seg_close(seg);
    return NULL;
}

int stk_segwatch_start(struct stk_server *s)
{
    sigset_t all, old;
    sigfillset(&all);
    /* signals belong to the loop thread (ev_signal) */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&s->watch_thread, NULL, watch_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return -r;
    s->watch_started = true;
    return 0;
}

void stk_segwatch_stop(struct stk_server *s)
{
    if (!s->watch_started)
        return;
    atomic_store(&s->watch_stop, true);
    stk_segwatch_scanned(s); /* in case it waits for a scan that will not come */
    stk_segwatch_want(s, true);
    pthread_join(s->watch_thread, NULL);
    s->watch_started = false;
}
