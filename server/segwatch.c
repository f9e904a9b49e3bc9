/* SPDX-License-Identifier: MIT */
/* segwatch.c — the segment's life seen from the server: open it when it
 * appears, re-open it when replaced, and a helper thread that sleeps in
 * stk_seg_wait() (a futex in the shared header) and wakes the loop with
 * ev_async when the producer finishes a batch: no polling. */
#include <errno.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
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
    /* the library's rule, with the iteration's clock */
    return stk_seg_alive(s->seg, stk_server_now(s), s->cfg->producer.heartbeat_ms, ret_age_ns);
}

bool stk_quote_is_stale(struct stk_server *s, const struct stk_quote *q, uint64_t now_ns)
{
    if (!s->seg)
        return true;
    return stk_quote_stale(s->seg, q, now_ns, s->cfg->server.freshness_ms,
                           s->cfg->producer.heartbeat_ms);
}

int stk_server_read(struct stk_server *s, uint32_t sym, struct stk_quote *q)
{
    if (!s->seg)
        return -ENODEV;
    const struct stk_record *r = stk_seg_record(s->seg, sym);
    bool track = r && sym < s->sym_cap && s->sym_stuck;
    if (track && s->sym_stuck[sym]) {
        /* one load: still the write we saw stuck, answer at once */
        if (atomic_load_explicit(&r->seq, memory_order_acquire) == s->sym_stuck[sym])
            return -EBUSY;
        s->sym_stuck[sym] = 0;
    }
    int rc = stk_quote_try(s->seg, sym, q);
    if (rc == -EBUSY && track) {
        uint64_t seq = atomic_load_explicit(&r->seq, memory_order_acquire);
        if (seq & 1) {
            s->sym_stuck[sym] = seq;
            const char *name = stk_seg_symbol(s->seg, sym);
            stk_server_warn(s,
                            "segment %s: record %u (%s) stuck mid-write at seq %llu: "
                            "answering UNAVAILABLE until it moves",
                            s->cfg->shm.name, sym, name ? name : "?", (unsigned long long)seq);
        }
    }
    return rc;
}

void stk_segwatch_names(struct stk_server *s)
{
    if (!s->seg)
        return;
    uint32_t n = stk_seg_nsymbols(s->seg);
    for (; s->sym_logged < n; s->sym_logged++)
        if (!stk_seg_symbol(s->seg, s->sym_logged))
            stk_warn("segment %s: symbol entry %u is not a valid name (1..31 printable "
                     "bytes, no spaces, then NUL): skipped",
                     s->cfg->shm.name, s->sym_logged);
}

/* ---- io_uring futex follower ----
 *
 * The helper thread costs a wake-up on the tick-to-subscriber path: the
 * producer's FUTEX_WAKE wakes the helper, whose ev_async wakes the loop.
 * With IORING_OP_FUTEX_WAIT the loop waits on the segment's futex word
 * itself: the completion makes the ring's fd readable and epoll wakes the
 * loop at once. One wait is armed at a time and re-armed by the loop after
 * it was woken, so the loop wakes at most once per batch, never spins, and
 * sleeps when the producer is quiet. Where the kernel lacks the opcode
 * (before 6.7) or io_uring is disabled, the helper follows batches as
 * before; the helper keeps watching for a replaced segment either way. */

#define RING_ENTRIES 8
#define RING_OP_FUTEX_WAIT 51      /* IORING_OP_FUTEX_WAIT (6.7); older headers lack it */
#define RING_FUTEX2_SIZE_U32 0x02u /* FUTEX2_SIZE_U32; shared, like the producer's wake */
#define RING_CANCEL_DATA 0         /* user_data of cancel requests: ignored */

static void helper_want(struct stk_server *s, bool on);

struct stk_fring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map, *sqe_map;
    size_t sq_len, cq_len, sqe_len;
};

static void fring_free(struct stk_fring *r)
{
    if (r->sqe_map && r->sqe_map != MAP_FAILED)
        munmap(r->sqe_map, r->sqe_len);
    if (r->cq_map && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map)
        munmap(r->cq_map, r->cq_len);
    if (r->sq_map && r->sq_map != MAP_FAILED)
        munmap(r->sq_map, r->sq_len);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

/* Queue one request and submit it. Returns 0 or -errno. */
static int fring_submit(struct stk_fring *r, uint8_t op, uint64_t addr, uint64_t val,
                        uint64_t user_data)
{
    unsigned tail = *r->sq_tail; /* only this thread writes the tail */
    unsigned idx = tail & *r->sq_mask;
    struct io_uring_sqe *e = &r->sqes[idx];
    memset(e, 0, sizeof(*e));
    e->opcode = op;
    e->addr = addr;
    e->user_data = user_data;
    if (op == RING_OP_FUTEX_WAIT) {
        e->addr2 = val;
        e->addr3 = FUTEX_BITSET_MATCH_ANY;
        e->fd = (int)RING_FUTEX2_SIZE_U32;
    }
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    for (;;) {
        long n = syscall(__NR_io_uring_enter, r->fd, 1u, 0u, 0u, NULL, (size_t)0);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        int err = n < 0 ? -errno : -EIO;
        /* not consumed: take it back so the ring stays in step */
        if (__atomic_load_n(r->sq_tail, __ATOMIC_RELAXED) == tail + 1)
            __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
        return err;
    }
}

/* Take every completion; returns true if the armed wait (gen) completed. */
static bool fring_reap(struct stk_fring *r, uint64_t gen, int *ret_res)
{
    bool done = false;
    unsigned head = *r->cq_head;
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        if (c->user_data == gen) {
            done = true;
            if (ret_res)
                *ret_res = c->res;
        }
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return done;
}

static struct stk_fring *fring_open(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    int fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
    if (fd < 0)
        return NULL;
    struct stk_fring *r = calloc(1, sizeof(*r));
    if (!r) {
        close(fd);
        return NULL;
    }
    r->fd = fd;
    r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single)
        r->sq_len = r->cq_len = r->sq_len > r->cq_len ? r->sq_len : r->cq_len;
    r->sq_map = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                     IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED)
        goto fail;
    r->cq_map = single ? r->sq_map
                       : mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                              fd, IORING_OFF_CQ_RING);
    if (r->cq_map == MAP_FAILED)
        goto fail;
    r->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqe_map = mmap(NULL, r->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                      IORING_OFF_SQES);
    if (r->sqe_map == MAP_FAILED)
        goto fail;
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_tail = (unsigned *)(void *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(void *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(void *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(void *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(void *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(void *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(void *)(cq + p.cq_off.cqes);
    r->sqes = r->sqe_map;
    /* probe: a wait on a word that does not hold the value must fail at
     * once with EAGAIN; a kernel without the opcode says EINVAL */
    uint32_t word = 0;
    int res = 0;
    if (fring_submit(r, RING_OP_FUTEX_WAIT, (uintptr_t)&word, 1, 1) < 0)
        goto fail;
    for (;;) {
        long n = syscall(__NR_io_uring_enter, fd, 0u, 1u, IORING_ENTER_GETEVENTS, NULL, (size_t)0);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (!fring_reap(r, 1, &res) || res != -EAGAIN)
        goto fail;
    return r;
fail:
    fring_free(r);
    return NULL;
}

/* Arm a wait on the current segment's futex word (loop thread). A batch
 * finished after the word was read completes it, so whatever the caller
 * scans next plus that wake-up miss nothing. */
static void fring_arm(struct stk_server *s)
{
    if (!s->fring || s->fring_armed || !s->fring_want || !s->seg)
        return;
    const struct stk_header *h = stk_seg_header(s->seg);
    uint32_t w = atomic_load_explicit(&h->futex, memory_order_acquire);
    s->fring_gen++;
    if (fring_submit(s->fring, RING_OP_FUTEX_WAIT, (uintptr_t)&h->futex, w, s->fring_gen) == 0) {
        s->fring_armed = true;
        return;
    }
    /* cannot wait through the ring (out of memory in the kernel): let the
     * helper follow batches from now on */
    stk_warn("io_uring futex wait failed: the helper thread follows the producer");
    ev_io_stop(s->loop, &s->fring_io);
    fring_free(s->fring);
    s->fring = NULL;
    helper_want(s, s->fring_want);
}

/* The segment is about to change: drop the wait on the old one's word. */
static void fring_disarm(struct stk_server *s)
{
    if (!s->fring || !s->fring_armed)
        return;
    s->fring_armed = false;
    (void)fring_submit(s->fring, IORING_OP_ASYNC_CANCEL, s->fring_gen, 0, RING_CANCEL_DATA);
}

static void fring_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_server *s = w->data;
    if (fring_reap(s->fring, s->fring_gen, NULL))
        s->fring_armed = false;
    if (s->fring_armed)
        return; /* only cancellations or stale waits completed */
    stk_segwatch_check(s, false);
    fring_arm(s); /* before the scan: a batch after this read wakes us again */
    stk_subs_scan(s);
}

static void install(struct stk_server *s, struct stk_seg *seg)
{
    struct stk_seg *old = s->seg;
    fring_disarm(s);
    s->seg = seg;
    s->sym_logged = 0;
    stk_render_forget(); /* its rings are not the old one's */
    stk_subs_rebind(s);
    stk_seg_close(old);
    fring_arm(s);
    stk_segwatch_names(s);
    if (seg) {
        const struct stk_header *h = stk_seg_header(seg);
        stk_info("segment %s open: generation %llu, capacity %u, history %u, %u symbols",
                 s->cfg->shm.name, (unsigned long long)atomic_load(&h->generation), h->capacity,
                 h->history, stk_seg_nsymbols(seg));
    }
}

/* Open the segment by name with shm.owner's check; one the library's rule
 * calls unusable (closed, garbage state) counts as absent. */
static int open_by_name(const struct stk_config *cfg, struct stk_seg **ret)
{
    struct stk_seg_open_opts opts;
    int r = stk_config_owner(cfg->shm.owner, &opts);
    if (r < 0)
        return r == -ENOENT ? -ESRCH : r;
    (void)stk_sigbus_guard(); /* a truncated segment must not kill us */
    return stk_seg_open_opts(cfg->shm.name, &opts, ret);
}

static int open_live(const struct stk_config *cfg, struct stk_seg **ret)
{
    struct stk_seg *seg = NULL;
    int r = open_by_name(cfg, &seg);
    if (r < 0)
        return r;
    r = stk_seg_usable(seg);
    if (r < 0) {
        stk_seg_close(seg);
        return r;
    }
    *ret = seg;
    return 0;
}

void stk_segwatch_check(struct stk_server *s, bool full)
{
    struct stk_seg *seg = NULL;
    int r;
    if (s->seg) {
        int u = stk_seg_usable(s->seg);
        if (u == 0 && !(full && stk_seg_replaced(s->seg)))
            return;
        if (u == -EFAULT)
            stk_warn("segment %s: the file shrank under the mapping: dropped it", s->cfg->shm.name);
        r = open_live(s->cfg, &seg);
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
    r = open_live(s->cfg, &seg);
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

static void helper_want(struct stk_server *s, bool on)
{
    atomic_store(&s->watch_wanted, on ? 1u : 0u);
    if (on)
        (void)syscall(SYS_futex, &s->watch_wanted, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void stk_segwatch_want(struct stk_server *s, bool on)
{
    if (s->fring) {
        bool was = s->fring_want;
        s->fring_want = on;
        if (on && !was) {
            fring_arm(s);
            /* catch up with batches since the last scan: one scan now */
            ev_feed_event(s->loop, &s->async, EV_ASYNC);
        }
        return;
    }
    helper_want(s, on);
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
            if (open_by_name(s->cfg, &seg) < 0) {
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
    /* SEQTICK_SERVER_NO_IO_URING=1: the helper follows batches (tests of
     * that path, or a kernel whose io_uring misbehaves) */
    const char *no = getenv("SEQTICK_SERVER_NO_IO_URING");
    if (!(no && *no && strcmp(no, "0") != 0))
        s->fring = fring_open();
    if (s->fring) {
        ev_io_init(&s->fring_io, fring_cb, s->fring->fd, EV_READ);
        s->fring_io.data = s;
        ev_io_start(s->loop, &s->fring_io);
    }
    stk_debug("batches followed by %s", s->fring ? "io_uring futex waits" : "the helper thread");
    sigset_t all, old;
    sigfillset(&all);
    /* signals belong to the loop thread (ev_signal) */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&s->watch_thread, NULL, watch_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        if (s->fring) {
            ev_io_stop(s->loop, &s->fring_io);
            fring_free(s->fring);
            s->fring = NULL;
        }
        return -r;
    }
    s->watch_started = true;
    return 0;
}

void stk_segwatch_stop(struct stk_server *s)
{
    if (!s->watch_started)
        return;
    if (s->fring) {
        ev_io_stop(s->loop, &s->fring_io);
        fring_free(s->fring);
        s->fring = NULL;
        s->fring_armed = false;
    }
    atomic_store(&s->watch_stop, true);
    stk_segwatch_scanned(s); /* in case it waits for a scan that will not come */
    helper_want(s, true);
    pthread_join(s->watch_thread, NULL);
    s->watch_started = false;
}
