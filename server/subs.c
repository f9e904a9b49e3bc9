/* SPDX-License-Identifier: MIT */
/* subs.c — the subscription registry, protocol-neutral: per symbol a list of
 * subscriptions, per connection a hash by ticker name and a FIFO of dirty
 * ones. An epoch change compares each record's seq with the last one seen
 * and marks the subscribers of changed records dirty; events are rendered
 * later, when the socket can take them, so a subscriber costs memory per
 * ticker and never per update. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "segment-private.h"
#include "server.h"

#define UNBOUND UINT32_MAX

struct stk_sub {
    struct stk_conn *c;
    uint32_t sym; /* index in the current segment, UNBOUND if absent */
    bool dirty;
    uint64_t sent_seq;             /* record seq of the last value sent */
    bool ticks;                    /* "mode":"ticks": every ring tick, from cursor */
    uint64_t cursor;               /* ticks mode: the next ring tick to send */
    struct stk_sub *sprev, *snext; /* the symbol's subscribers */
    struct stk_sub *dprev, *dnext; /* the connection's dirty FIFO */
    char name[STK_NAME_MAX + 1];
};

uint32_t stk_sub_sym(const struct stk_sub *sub)
{
    return sub->sym;
}

const char *stk_sub_name(const struct stk_sub *sub)
{
    return sub->name;
}

uint64_t stk_sub_sent_seq(const struct stk_sub *sub)
{
    return sub->sent_seq;
}

void stk_sub_set_sent_seq(struct stk_sub *sub, uint64_t seq)
{
    sub->sent_seq = seq;
}

bool stk_sub_ticks(const struct stk_sub *sub)
{
    return sub->ticks;
}

uint64_t stk_sub_cursor(const struct stk_sub *sub)
{
    return sub->cursor;
}

void stk_sub_set_cursor(struct stk_sub *sub, uint64_t k)
{
    sub->cursor = k;
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static uint32_t slot_of(const struct stk_subscriber *sb, const char *name)
{
    uint32_t i = hash(name) & sb->tab_mask;
    while (sb->tab[i] && strcmp(sb->tab[i]->name, name) != 0)
        i = (i + 1) & sb->tab_mask;
    return i;
}

static int tab_grow(struct stk_subscriber *sb)
{
    uint32_t size = sb->tab ? (sb->tab_mask + 1) * 2 : 8;
    struct stk_sub **old = sb->tab;
    uint32_t old_size = old ? sb->tab_mask + 1 : 0;
    struct stk_sub **tab = calloc(size, sizeof(void *));
    if (!tab)
        return -ENOMEM;
    sb->tab = tab;
    sb->tab_mask = size - 1;
    for (uint32_t i = 0; i < old_size; i++)
        if (old[i])
            tab[slot_of(sb, old[i]->name)] = old[i];
    free(old);
    return 0;
}

static void sym_link(struct stk_server *s, struct stk_sub *sub)
{
    sub->sprev = NULL;
    sub->snext = s->sym_head[sub->sym];
    if (sub->snext)
        sub->snext->sprev = sub;
    s->sym_head[sub->sym] = sub;
}

static void sym_unlink(struct stk_server *s, struct stk_sub *sub)
{
    if (sub->sym == UNBOUND || sub->sym >= s->sym_cap)
        return;
    if (sub->sprev)
        sub->sprev->snext = sub->snext;
    else
        s->sym_head[sub->sym] = sub->snext;
    if (sub->snext)
        sub->snext->sprev = sub->sprev;
    sub->sprev = sub->snext = NULL;
}

static void dirty_unlink(struct stk_subscriber *sb, struct stk_sub *sub)
{
    if (!sub->dirty)
        return;
    if (sub->dprev)
        sub->dprev->dnext = sub->dnext;
    else
        sb->dirty_head = sub->dnext;
    if (sub->dnext)
        sub->dnext->dprev = sub->dprev;
    else
        sb->dirty_tail = sub->dprev;
    sub->dprev = sub->dnext = NULL;
    sub->dirty = false;
}

static void mark(struct stk_sub *sub)
{
    struct stk_subscriber *sb = sub->c->sub;
    if (sub->dirty)
        return;
    sub->dirty = true;
    sub->dnext = NULL;
    sub->dprev = sb->dirty_tail;
    if (sb->dirty_tail)
        sb->dirty_tail->dnext = sub;
    else
        sb->dirty_head = sub;
    sb->dirty_tail = sub;
    stk_conn_schedule(sub->c);
}

static void throttle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_conn *c = w->data;
    c->srv->now_valid = false; /* the window is judged by the time of the flush */
    stk_conn_schedule(c);
}

static struct stk_subscriber *subscriber(struct stk_conn *c)
{
    if (c->sub)
        return c->sub;
    struct stk_subscriber *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    c->sub = sb;
    struct stk_server *s = c->srv;
    sb->next = s->subscribed;
    if (sb->next)
        sb->next->sub->prev = c;
    s->subscribed = c;
    if (s->nsubscribed++ == 0)
        stk_segwatch_want(s, true);
    /* a bounded kernel queue: a reader that falls behind does so in the ring
     * (ticks) or gets fresh conflated values (latest), not stale queued data */
    uint64_t sndbuf = s->cfg->server.sndbuf_bytes;
    if (sndbuf) {
        int v = (int)sndbuf;
        (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
    sb->last_event_ns = stk_mono_ns();
    ev_timer_init(&sb->throttle, throttle_cb, 0., 0.);
    sb->throttle.data = c;
    stk_conn_set_idle_exempt(c, true);
    return sb;
}

/* ---- the wait list: subscribers whose server.flush_us window is open ---- */

/* Set the timerfd to the first due time (or disarm it). */
static void wait_arm(struct stk_server *s)
{
    uint64_t due = s->wait_head ? s->wait_head->sub->due_ns : 0;
    if (due == s->wait_armed_ns)
        return;
    struct itimerspec it = {{0, 0}, {0, 0}};
    it.it_value.tv_sec = (time_t)(due / 1000000000u);
    it.it_value.tv_nsec = (long)(due % 1000000000u);
    (void)timerfd_settime(s->wait_fd, TFD_TIMER_ABSTIME, &it, NULL);
    s->wait_armed_ns = due;
}

static void wait_unlink(struct stk_server *s, struct stk_conn *c)
{
    struct stk_subscriber *sb = c->sub;
    if (!sb->waiting)
        return;
    if (sb->wprev)
        sb->wprev->sub->wnext = sb->wnext;
    else
        s->wait_head = sb->wnext;
    if (sb->wnext)
        sb->wnext->sub->wprev = sb->wprev;
    else
        s->wait_tail = sb->wprev;
    sb->wprev = sb->wnext = NULL;
    sb->waiting = false;
}

uint64_t stk_subs_window(const struct stk_conn *c)
{
    uint64_t f = c->srv->flush_ns;
    return c->sub->throttle_ns > f ? c->sub->throttle_ns : f;
}

void stk_subs_defer(struct stk_conn *c, uint64_t due)
{
    struct stk_server *s = c->srv;
    struct stk_subscriber *sb = c->sub;
    if (sb->throttle_ns > s->flush_ns || s->wait_fd < 0) {
        /* a throttle_ms window: the subscriber's own timer (to the ms) */
        if (!ev_is_active(&sb->throttle)) {
            ev_now_update(s->loop); /* from now, not the iteration's start: never early */
            uint64_t now = stk_mono_ns();
            ev_timer_set(&sb->throttle, due > now ? (double)(due - now) / 1e9 : 0., 0.);
            ev_timer_start(s->loop, &sb->throttle);
        }
        return;
    }
    if (sb->waiting)
        return;
    /* every window has the same length, so the list is nearly in due
     * order already: insert from the tail */
    sb->due_ns = due;
    struct stk_conn *p = s->wait_tail;
    while (p && p->sub->due_ns > due)
        p = p->sub->wprev;
    sb->wprev = p;
    sb->wnext = p ? p->sub->wnext : s->wait_head;
    if (sb->wnext)
        sb->wnext->sub->wprev = c;
    else
        s->wait_tail = c;
    if (p)
        p->sub->wnext = c;
    else
        s->wait_head = c;
    sb->waiting = true;
    wait_arm(s);
}

static void wait_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_server *s = w->data;
    uint64_t expirations;
    (void)!read(s->wait_fd, &expirations, sizeof(expirations));
    s->wait_armed_ns = 0; /* one-shot: it fired (or was moved: re-armed below) */
    s->now_valid = false;
    uint64_t now = stk_mono_ns();
    struct stk_conn *c;
    while ((c = s->wait_head) != NULL && c->sub->due_ns <= now) {
        wait_unlink(s, c);
        stk_conn_schedule(c);
    }
    wait_arm(s);
}

void stk_subs_wait_init(struct stk_server *s)
{
    s->flush_ns = (uint64_t)s->cfg->server.flush_us * 1000u;
    s->wait_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->wait_fd < 0)
        return; /* the subscribers' own ev_timers serve (to the ms) */
    ev_io_init(&s->wait_io, wait_cb, s->wait_fd, EV_READ);
    s->wait_io.data = s;
    ev_io_start(s->loop, &s->wait_io);
}

void stk_subs_wait_fini(struct stk_server *s)
{
    if (s->wait_fd < 0)
        return;
    ev_io_stop(s->loop, &s->wait_io);
    close(s->wait_fd);
    s->wait_fd = -1;
}

int stk_subs_add(struct stk_conn *c, const char *name, uint32_t sym, uint64_t snap_seq)
{
    struct stk_server *s = c->srv;
    struct stk_subscriber *sb = subscriber(c);
    if (!sb)
        return -ENOMEM;
    if (!sb->tab || (sb->count + 1) * 2 > sb->tab_mask + 1)
        if (tab_grow(sb) < 0)
            return -ENOMEM;
    uint32_t i = slot_of(sb, name);
    if (sb->tab[i])
        return 0;
    struct stk_sub *sub = calloc(1, sizeof(*sub));
    if (!sub)
        return -ENOMEM;
    sub->c = c;
    snprintf(sub->name, sizeof(sub->name), "%s", name);
    sub->sym = sym < s->sym_cap ? sym : UNBOUND;
    sub->sent_seq = snap_seq;
    sub->ticks = sb->ticks_all; /* a ticker new to a ticks-mode "*": from its first tick */
    sb->tab[i] = sub;
    sb->count++;
    if (sub->sym != UNBOUND) {
        sym_link(s, sub);
        /* written since the snapshot was taken (or a new ticker with data) */
        const struct stk_record *r = s->seg ? stk_seg_record(s->seg, sym) : NULL;
        if (r && atomic_load_explicit(&r->seq, memory_order_acquire) != snap_seq)
            mark(sub);
    }
    return 1;
}

int stk_subs_add_all(struct stk_conn *c)
{
    struct stk_subscriber *sb = subscriber(c);
    if (!sb)
        return -ENOMEM;
    sb->wildcard = true;
    return 0;
}

static void sub_free(struct stk_server *s, struct stk_subscriber *sb, struct stk_sub *sub)
{
    sym_unlink(s, sub);
    dirty_unlink(sb, sub);
    free(sub);
}

int stk_subs_remove(struct stk_conn *c, const char *name)
{
    struct stk_subscriber *sb = c->sub;
    if (!sb || !sb->tab)
        return 0;
    uint32_t i = slot_of(sb, name);
    struct stk_sub *sub = sb->tab[i];
    if (!sub)
        return 0;
    sb->tab[i] = NULL;
    sb->count--;
    sub_free(c->srv, sb, sub);
    /* close the gap: re-insert the rest of the probe cluster */
    for (uint32_t j = (i + 1) & sb->tab_mask; sb->tab[j]; j = (j + 1) & sb->tab_mask) {
        struct stk_sub *e = sb->tab[j];
        sb->tab[j] = NULL;
        sb->tab[slot_of(sb, e->name)] = e;
    }
    if (sb->count == 0 && !sb->wildcard)
        stk_subs_remove_all(c);
    return 1;
}

void stk_subs_remove_all(struct stk_conn *c)
{
    struct stk_subscriber *sb = c->sub;
    if (!sb)
        return;
    struct stk_server *s = c->srv;
    if (sb->tab) {
        for (uint32_t i = 0; i <= sb->tab_mask; i++)
            if (sb->tab[i])
                sub_free(s, sb, sb->tab[i]);
        free(sb->tab);
    }
    if (sb->prev)
        sb->prev->sub->next = sb->next;
    else
        s->subscribed = sb->next;
    if (sb->next)
        sb->next->sub->prev = sb->prev;
    if (--s->nsubscribed == 0)
        stk_segwatch_want(s, false);
    wait_unlink(s, c);
    ev_timer_stop(s->loop, &sb->throttle);
    free(sb);
    c->sub = NULL;
    stk_conn_set_idle_exempt(c, false);
}

uint32_t stk_subs_count(const struct stk_conn *c)
{
    return c->sub ? c->sub->count : 0;
}

void stk_subs_scan(struct stk_server *s)
{
    if (!s->seg)
        return;
    uint32_t n = stk_seg_nsymbols(s->seg);
    if (n > s->sym_cap)
        n = s->sym_cap;
    if (n > s->sym_known && s->have_unbound) {
        /* subscriptions carried over from a previous segment whose ticker
         * had not been published yet when it was re-bound */
        bool left = false;
        for (struct stk_conn *c = s->subscribed; c; c = c->sub->next) {
            struct stk_subscriber *sb = c->sub;
            for (uint32_t i = 0; sb->tab && i <= sb->tab_mask; i++) {
                struct stk_sub *sub = sb->tab[i];
                if (!sub || sub->sym != UNBOUND)
                    continue;
                int r = stk_seg_lookup(s->seg, sub->name);
                if (r >= 0 && (uint32_t)r < n) {
                    sub->sym = (uint32_t)r;
                    sym_link(s, sub);
                    mark(sub);
                } else {
                    left = true;
                }
            }
        }
        s->have_unbound = left;
    }
    if (n > s->sym_known) {
        stk_segwatch_names(s); /* say once which new entries are no valid name */
        /* new tickers: wildcard subscribers get them too (valid names only) */
        for (struct stk_conn *c = s->subscribed, *next; c; c = next) {
            next = c->sub->next;
            if (!c->sub->wildcard || stk_conn_state_cut(c->state))
                continue;
            for (uint32_t i = s->sym_known; i < n; i++) {
                const char *name = stk_seg_symbol(s->seg, i);
                if (name && stk_subs_add(c, name, i, 0) < 0) {
                    stk_conn_fatal(c, STK_E_INTERNAL, "out of memory");
                    break;
                }
            }
        }
        s->sym_known = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct stk_record *r = stk_seg_record(s->seg, i);
        uint64_t seq = atomic_load_explicit(&r->seq, memory_order_acquire);
        if (seq == s->sym_seq[i] || (seq & 1))
            continue; /* unchanged, or mid-write: the next epoch brings it */
        s->sym_seq[i] = seq;
        for (struct stk_sub *sub = s->sym_head[i]; sub; sub = sub->snext)
            mark(sub);
    }
}

void stk_subs_rebind(struct stk_server *s)
{
    uint32_t cap = s->seg ? stk_seg_header(s->seg)->capacity : 0;
    if (cap != s->sym_cap) {
        free(s->sym_head);
        free(s->sym_seq);
        free(s->sym_stuck);
        s->sym_head = cap ? calloc(cap, sizeof(void *)) : NULL;
        s->sym_seq = cap ? calloc(cap, sizeof(*s->sym_seq)) : NULL;
        s->sym_stuck = cap ? calloc(cap, sizeof(*s->sym_stuck)) : NULL;
        if (cap && (!s->sym_head || !s->sym_seq || !s->sym_stuck)) {
            free(s->sym_head);
            free(s->sym_seq);
            free(s->sym_stuck);
            s->sym_head = NULL;
            s->sym_seq = NULL;
            s->sym_stuck = NULL;
            cap = 0;
        }
        s->sym_cap = cap;
    } else if (cap) {
        memset(s->sym_head, 0, cap * sizeof(void *));
        memset(s->sym_seq, 0, cap * sizeof(*s->sym_seq));
        memset(s->sym_stuck, 0, cap * sizeof(*s->sym_stuck));
    }
    s->sym_known = 0;
    s->have_unbound = false;
    for (struct stk_conn *c = s->subscribed; c; c = c->sub->next) {
        struct stk_subscriber *sb = c->sub;
        if (!sb->tab)
            continue;
        for (uint32_t i = 0; i <= sb->tab_mask; i++) {
            struct stk_sub *sub = sb->tab[i];
            if (!sub)
                continue;
            dirty_unlink(sb, sub); /* re-marked below if its ticker is there */
            sub->sprev = sub->snext = NULL;
            sub->sym = UNBOUND;
            sub->sent_seq = STK_SEQ_RESYNC;
            sub->cursor = 0; /* a new segment: its rings start again */
            if (!s->seg || !cap)
                continue;
            int r = stk_seg_lookup(s->seg, sub->name);
            if (r >= 0 && (uint32_t)r < cap) {
                sub->sym = (uint32_t)r;
                sym_link(s, sub);
            } else {
                s->have_unbound = true;
            }
        }
    }
    stk_subs_scan(s);
}

int stk_subs_set_ticks(struct stk_conn *c, const char *name, bool on, uint64_t from)
{
    struct stk_subscriber *sb = c->sub;
    if (!sb || !sb->tab)
        return -ENOENT;
    struct stk_sub *sub = sb->tab[slot_of(sb, name)];
    if (!sub)
        return -ENOENT;
    if (on && from == STK_TICKS_KEEP) {
        if (sub->ticks)
            return 0; /* already streaming ticks: neither replay nor skip */
        from = sub->sym != UNBOUND && c->srv->seg ? stk_ring_head(c->srv->seg, sub->sym) : 0;
    }
    sub->ticks = on;
    if (!on)
        return 0;
    sub->cursor = from;
    if (sub->sym != UNBOUND && c->srv->seg && stk_ring_head(c->srv->seg, sub->sym) != from)
        mark(sub);
    return 0;
}

struct stk_sub *stk_subs_pop_dirty(struct stk_conn *c)
{
    struct stk_subscriber *sb = c->sub;
    if (!sb || !sb->dirty_head)
        return NULL;
    struct stk_sub *sub = sb->dirty_head;
    dirty_unlink(sb, sub);
    return sub;
}

void stk_subs_unpop(struct stk_conn *c, struct stk_sub *sub)
{
    struct stk_subscriber *sb = c->sub;
    if (sub->dirty)
        return;
    sub->dirty = true;
    sub->dprev = NULL;
    sub->dnext = sb->dirty_head;
    if (sb->dirty_head)
        sb->dirty_head->dprev = sub;
    else
        sb->dirty_tail = sub;
    sb->dirty_head = sub;
}

void stk_subs_requeue(struct stk_conn *c, struct stk_sub *sub)
{
    if (c->sub)
        mark(sub);
}

void stk_subs_tick(struct stk_server *s, uint64_t now)
{
    for (struct stk_conn *c = s->subscribed; c; c = c->sub->next) {
        struct stk_subscriber *sb = c->sub;
        if (!stk_conn_state_serving(c->state))
            continue;
        if (sb->dirty_head) {
            if (now >= sb->next_event_ns)
                stk_conn_schedule(c); /* a throttled batch is due */
        } else if (c->proto->heartbeat_ns && now - sb->last_event_ns >= c->proto->heartbeat_ns &&
                   stk_conn_pending(c) == 0) {
            c->proto->on_heartbeat(c);
            sb->last_event_ns = now;
            s->st.heartbeats++;
            stk_conn_schedule(c);
        }
    }
}

void stk_subs_fini(struct stk_server *s)
{
    free(s->sym_head);
    free(s->sym_seq);
    free(s->sym_stuck);
    s->sym_head = NULL;
    s->sym_seq = NULL;
    s->sym_stuck = NULL;
    s->sym_cap = 0;
}
