/* SPDX-License-Identifier: MIT */
/* feed_csv.c — the `csv:PATH` feed: csv.c's rows replayed in timestamp order
 * at producer.speed (0: as fast as possible), once or in a loop. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "log-private.h"
#include "producer.h"
#include "segment-private.h"

#define BATCH_MAX 4096    /* rows per batch at speed 0 */
#define CATCHUP_MAX 65536 /* rows per batch when a paced replay is behind */

struct csv_feed {
    struct stk_feed base;
    struct stk_csv *csv;
    struct stk_csv_row row; /* next row, when have_row */
    bool have_row, done, pass_had_rows;
    uint64_t t0, ts0; /* mono time and row time the pacing starts from */
    uint64_t rows;
    uint64_t bad;     /* bad rows skipped: every one logged up to 100 */
    bool full_logged; /* "symbol table full" logged once */
};

static void csv_bad(void *ctx, const char *file, unsigned long line, const char *why)
{
    struct csv_feed *c = ctx;
    struct stk_header *h = stk_seg_header_rw(c->base.host->seg);
    atomic_fetch_add_explicit(&h->bad_input, 1, memory_order_relaxed);
    c->bad++;
    /* every bad row is named while there are few; then one in a thousand */
    if (c->bad <= 100 || c->bad % 1000 == 0)
        stk_warn("%s:%lu: bad row skipped: %s%s", file, line, why,
                 c->bad == 100 ? " (further bad rows are logged 1 in 1000)" : "");
}

static void csv_close(struct stk_feed *f)
{
    struct csv_feed *c = (struct csv_feed *)f;
    stk_csv_close(c->csv);
    free(c);
}

static int csv_open(struct stk_feed_host *h, const char *path, struct stk_feed **ret)
{
    const struct stk_config *cfg = h->cfg;
    int unit = stk_time_unit_parse(cfg->producer.csv_time_unit);
    if (unit < 0) {
        stk_error("producer.csv_time_unit = '%s': expected auto, s, ms, us or ns",
                  cfg->producer.csv_time_unit);
        return -EINVAL;
    }
    struct csv_feed *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->base = (struct stk_feed){&stk_feed_csv, h};
    int r = stk_csv_open(path, (enum stk_time_unit)unit, csv_bad, c, &c->csv);
    if (r < 0) {
        char at[STK_CONF_ERR_MAX];
        stk_config_where(cfg, "producer.feed", at, sizeof(at));
        stk_error("%s: producer.feed: csv:%s: unable to open: %s", at, path,
                  r == -ENODATA ? "no files in the folder" : strerror(-r));
        free(c);
        return r == -ENODATA || r == -ENOENT ? -EINVAL : r;
    }
    stk_info("feed csv: %s (%zu file%s), speed %g%s, loop %s, time unit %s", path,
             stk_csv_nfiles(c->csv), stk_csv_nfiles(c->csv) == 1 ? "" : "s", cfg->producer.speed,
             cfg->producer.speed == 0 ? " (as fast as possible)" : "",
             cfg->producer.loop ? "on" : "off", cfg->producer.csv_time_unit);
    *ret = &c->base;
    return 0;
}

/* Next row into c->row; handles the end of a pass (loop or done). */
static int csv_fetch(struct csv_feed *c, uint64_t mono)
{
    for (int pass = 0; pass < 2; pass++) {
        int r = stk_csv_next(c->csv, &c->row);
        if (r < 0) {
            stk_error("csv: read error: %s", strerror(-r));
            return r;
        }
        if (r == 1) {
            if (!c->pass_had_rows) {
                c->pass_had_rows = true;
                c->t0 = mono;
                c->ts0 = c->row.q.src_ts_ns;
            }
            c->have_row = true;
            return 1;
        }
        if (!c->base.host->cfg->producer.loop || !c->pass_had_rows) {
            stk_info("csv: replay finished after %" PRIu64 " rows%s", c->rows,
                     c->pass_had_rows ? "" : " (no good rows)");
            c->done = true;
            return 0;
        }
        r = stk_csv_rewind(c->csv);
        if (r < 0) {
            stk_error("csv: unable to start over: %s", strerror(-r));
            return r;
        }
        stk_debug("csv: end of data after %" PRIu64 " rows, starting over", c->rows);
        c->pass_had_rows = false;
    }
    c->done = true;
    return 0;
}

static void csv_publish(struct csv_feed *c)
{
    struct stk_feed_host *h = c->base.host;
    int idx = stk_seg_lookup(h->seg, c->row.symbol);
    if (idx < 0)
        idx = stk_sym_add(h->seg, c->row.symbol);
    if (idx < 0) {
        struct stk_header *hd = stk_seg_header_rw(h->seg);
        atomic_fetch_add_explicit(&hd->symbols_dropped, 1, memory_order_relaxed);
        if (!c->full_logged) {
            c->full_logged = true;
            stk_warn("csv: symbol table full (capacity %u): rows for new symbols such as %s "
                     "are dropped and counted (raise shm.capacity)",
                     stk_seg_header(h->seg)->capacity, c->row.symbol);
        }
        return;
    }
    c->row.q.pub_ts_ns = h->now_ns;
    stk_tick_publish(h->seg, (uint32_t)idx, &c->row.q);
    c->rows++;
}

static int csv_pump(struct stk_feed *f, uint64_t mono, uint64_t *next)
{
    struct csv_feed *c = (struct csv_feed *)f;
    struct stk_feed_host *h = f->host;
    double speed = h->cfg->producer.speed;
    unsigned n = 0, max = speed > 0 ? CATCHUP_MAX : BATCH_MAX;
    *next = 0;
    while (n < max && !c->done) {
        if (!c->have_row) {
            int r = csv_fetch(c, mono);
            if (r < 0) {
                stk_feed_batch_close(h);
                return r;
            }
            if (r == 0)
                break;
        }
        if (speed > 0) {
            uint64_t dts = c->row.q.src_ts_ns > c->ts0 ? c->row.q.src_ts_ns - c->ts0 : 0;
            uint64_t due = c->t0 + (uint64_t)((double)dts / speed);
            if (due > mono) {
                *next = due;
                break;
            }
        }
        stk_feed_batch_open(h);
        csv_publish(c);
        c->have_row = false;
        n++;
    }
    stk_feed_batch_close(h);
    if (c->done)
        *next = UINT64_MAX;
    return 0;
}

const struct stk_feed_ops stk_feed_csv = {
    .prefix = "csv:",
    .usage = "csv:PATH",
    .open = csv_open,
    .pump = csv_pump,
    .close = csv_close,
};
