/* SPDX-License-Identifier: MIT */
/* feed_sim.c — the `sim` feed: sim.c's correlated GBM paced at
 * producer.rate (0: as fast as possible), resuming from the segment's quotes
 * on a warm restart. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "feed.h"
#include "log-private.h"
#include "preflight.h"
#include "producer.h"
#include "segment-private.h"

#define BATCH_MAX 4096    /* ticks per batch at rate 0 */
#define CATCHUP_MAX 65536 /* ticks per batch when a paced feed is behind */

struct sim_feed {
    struct stk_feed base;
    struct stk_sim *sim;
    uint32_t *index; /* sim symbol → segment index */
    uint64_t emitted, t0;
};

static void sim_close(struct stk_feed *f)
{
    struct sim_feed *s = (struct sim_feed *)f;
    stk_sim_free(s->sim);
    free(s->index);
    free(s);
}

static int sim_open(struct stk_feed_host *h, const char *arg, struct stk_feed **ret)
{
    (void)arg;
    const struct stk_config *c = h->cfg;
    size_t n = c->producer.nsymbols;
    const struct stk_sim_param *corr = &c->producer.correlation;
    struct sim_feed *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->base = (struct stk_feed){&stk_feed_sim, h};
    char err[STK_CONF_ERR_MAX];
    /* the supervisor's pre-flight makes this very call */
    int r = stk_producer_sim_new(c, &s->sim, err);
    if (r < 0) {
        stk_error("%s", err);
        goto fail;
    }
    s->index = calloc(n, sizeof(*s->index));
    if (!s->index) {
        r = -ENOMEM;
        goto fail;
    }
    unsigned resumed = 0;
    for (size_t i = 0; i < n; i++) {
        r = stk_sym_add(h->seg, c->producer.symbols[i]);
        if (r < 0) {
            stk_error("producer.symbols: unable to add '%s': %s", c->producer.symbols[i],
                      r == -ENOSPC ? "symbol table full (shm.capacity)" : stk_strerror(r));
            r = r == -ENOSPC ? -EINVAL : r;
            goto fail;
        }
        s->index[i] = (uint32_t)r;
        /* warm restart: carry on from the last quote instead of jumping back */
        struct stk_quote q;
        if (stk_record_load(stk_seg_record(h->seg, (uint32_t)r), &q) == 0 && q.price > 0) {
            stk_sim_resume(s->sim, (uint32_t)i, q.price, q.volume);
            resumed++;
        }
    }
    stk_info("feed sim: %zu symbols, rate %" PRIu64 "/s%s, seed %" PRIu64
             ", drift %g%s, volatility %g%s, correlation %g%s%s",
             n, c->producer.rate, c->producer.rate ? "" : " (as fast as possible)",
             c->producer.seed, c->producer.drift.all, c->producer.drift.n ? " (+ exceptions)" : "",
             c->producer.volatility.all, c->producer.volatility.n ? " (+ exceptions)" : "",
             corr->all, corr->n ? " (+ pair exceptions)" : "",
             resumed ? ", resuming from the segment's quotes" : "");
    s->t0 = stk_mono_ns();
    *ret = &s->base;
    return 0;
fail:
    sim_close(&s->base);
    return r;
}

/* Emit what is due; *next is the mono time of the next due tick (0: now). */
static int sim_pump(struct stk_feed *f, uint64_t mono, uint64_t *next)
{
    struct sim_feed *s = (struct sim_feed *)f;
    struct stk_feed_host *h = f->host;
    uint64_t rate = h->cfg->producer.rate;
    uint64_t n = BATCH_MAX;
    if (rate) {
        uint64_t elapsed = mono - s->t0;
        uint64_t target = (uint64_t)((double)elapsed * (double)rate / 1e9);
        if (target > s->emitted + rate) {
            /* more than a second behind (stopped, swapped out): skip it */
            s->emitted = target - rate / 10;
        }
        n = target > s->emitted ? target - s->emitted : 0;
        if (n > CATCHUP_MAX)
            n = CATCHUP_MAX;
    }
    if (n) {
        stk_feed_batch_open(h);
        struct stk_quote q;
        for (uint64_t k = 0; k < n; k++) {
            uint32_t i = stk_sim_step(s->sim, &q);
            q.src_ts_ns = q.pub_ts_ns = h->now_ns;
            stk_tick_publish(h->seg, s->index[i], &q);
        }
        s->emitted += n;
        stk_feed_batch_close(h);
    }
    *next = rate ? s->t0 + (uint64_t)((double)(s->emitted + 1) * 1e9 / (double)rate) + 1 : 0;
    return 0;
}

const struct stk_feed_ops stk_feed_sim = {
    .prefix = "sim",
    .usage = "sim",
    .open = sim_open,
    .pump = sim_pump,
    .close = sim_close,
};
