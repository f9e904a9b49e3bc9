/* SPDX-License-Identifier: MIT */
/* watchdog.c — a producer that is alive but no longer beats its heartbeat
 * (stopped with SIGSTOP, deadlocked, stuck in a read that never returns) is
 * as dead as a killed one to every reader, yet holds the segment's writer
 * lock, so nothing else can take over. The supervisor watches the heartbeat
 * in the header it mapped and SIGKILLs such a producer; the ordinary restart
 * policy then starts a new one, which repairs and carries on. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "log-private.h"
#include "segment-private.h"
#include "supervisor.h"
#include "util-private.h"

int64_t stk_watchdog_check(struct stk_watchdog *w, pid_t child_pid, uint32_t seg_pid, uint64_t hb,
                           uint64_t now_mono, int64_t limit_ms)
{
    if (limit_ms <= 0 || child_pid <= 0 || seg_pid != (uint32_t)child_pid) {
        /* off, nothing running, or not (or no longer) attached: no verdict */
        if (child_pid <= 0 || (w->pid && w->pid != child_pid))
            memset(w, 0, sizeof(*w));
        return 0;
    }
    if (w->pid != child_pid || hb != w->hb) {
        w->pid = child_pid;
        w->hb = hb;
        w->hb_mono = now_mono;
        return 0;
    }
    uint64_t stuck_ms = (now_mono - w->hb_mono) / 1000000u;
    if (stuck_ms <= (uint64_t)limit_ms)
        return 0;
    memset(w, 0, sizeof(*w));
    return (int64_t)stuck_ms;
}

/* The built-in producer (no [program.NAME] may take its name). */
static struct stk_child *producer_child(struct stk_sup *sup)
{
    struct stk_child *c = stk_sup_find_child(sup, "producer");
    return c && c->builtin ? c : NULL;
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct stk_sup *sup = t->data;
    struct stk_child *c = producer_child(sup);
    if (!sup->seg || sup->stopping || !c)
        return;
    /* Only a process in its running life is judged: one being stopped has
     * its own grace, and pid is 0 once reaped, so no reaped pid is hit. */
    bool live = c->pid > 0 && (c->state == STK_CS_STARTING || c->state == STK_CS_RUNNING);
    const struct stk_header *h = stk_seg_header(sup->seg);
    int64_t limit = sup->cfg.supervisor.watchdog_ms;
    int64_t stuck =
        stk_watchdog_check(&sup->watchdog, live ? c->pid : 0, STK_LOAD(&h->producer_pid, relaxed),
                           STK_LOAD(&h->producer_heartbeat_ns, relaxed), stk_mono_ns(), limit);
    if (stuck) {
        stk_warn("producer: pid %ld has not beaten its heartbeat for %" PRId64
                 " ms (supervisor.watchdog_ms = %" PRId64 "): SIGKILL, then the restart policy",
                 (long)c->pid, stuck, limit);
        (void)kill(-c->pid, SIGKILL);
    }
}

void stk_watchdog_setup(struct stk_sup *sup)
{
    int64_t limit = sup->cfg.supervisor.watchdog_ms;
    if (ev_is_active(&sup->w_watchdog))
        ev_timer_stop(sup->loop, &sup->w_watchdog);
    memset(&sup->watchdog, 0, sizeof(sup->watchdog));
    if (limit <= 0)
        return;
    double every = (double)limit / 4000.0;
    if (every > 1.0)
        every = 1.0;
    ev_timer_init(&sup->w_watchdog, watchdog_cb, every, every);
    sup->w_watchdog.data = sup;
    ev_timer_start(sup->loop, &sup->w_watchdog);
}
