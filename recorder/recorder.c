/* SPDX-License-Identifier: MIT */
/* recorder.c — seqtick-recorder's loop. It reads every ring like any reader
 * (read-only mapping, the slot seqlock), so it never slows the writer; it
 * sleeps on the segment's futex between batches. Ticks read are held in one
 * batch and committed every recorder.batch_ms; a batch that fails is dropped
 * whole and each ring is re-read from the last committed tick once the store
 * is back (backoff), so the ring is the buffer, and what it no longer holds
 * is a gap: a gaps row, a warn line, a counter. */
#include "recorder.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff-private.h"
#include "bars.h"
#include "log-private.h"
#include "seqtick.h"
#include "util-private.h"

#define BATCH_MAX 65536   /* ticks in one batch: committed early when full */
#define BATCH_RETRY 2048  /* ticks in one batch while the store is failing */
#define GAPS_MAX 1024     /* gap rows in one batch: committed early when full */
#define RETAIN_ROWS 10000 /* rows per retention statement */
#define RETAIN_EVERY_S 60 /* retention pass period */
#define STATS_EVERY_S 60  /* the periodic stats line */
#define IDLE_WAIT_MS 1000 /* futex wait slice with nothing pending */
#define LOG_QUIET_S 10    /* one line per kind of store failure per this long */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct sym {
    bool init;     /* sid, next, bars loaded from the store */
    int64_t sid;   /* the store's symbol id */
    uint64_t next; /* next tick to read */
    uint64_t prev_vol;
    bool have_prev;
    struct stk_bar_acc bars[STK_REC_MAX_INTERVALS];
    /* the same as of the last commit, restored when a batch fails */
    uint64_t c_next, c_prev_vol;
    bool c_have_prev;
    struct stk_bar_acc c_bars[STK_REC_MAX_INTERVALS];
    bool touched; /* read from in this batch */
};

struct gap {
    int64_t sid;
    uint64_t from, to;
};

struct stk_recorder {
    const struct stk_config *cfg;
    const struct stk_store_ops *ops;
    const char *arg;
    struct stk_store *st;
    uint32_t iv[STK_REC_MAX_INTERVALS];
    unsigned niv;
    uint64_t ret_ticks_s, ret_bars_s;

    struct stk_seg *seg;
    uint64_t gen;
    uint32_t history;
    struct sym *syms;
    uint32_t nsyms; /* allocated (segment capacity) */

    struct stk_rec_tick *batch;
    size_t nbatch;
    struct gap gaps[GAPS_MAX];
    size_t ngaps;
    struct stk_rec_bar *closed;
    size_t nclosed, capclosed;
    uint64_t batch_due_ns; /* commit when the clock passes it (0: empty) */

    unsigned failures;     /* consecutive store failures */
    uint64_t retry_ns;     /* no store write before this */
    int last_err;          /* the last failure */
    int logged_err;        /* the failure last logged; 0 once a recovery was logged */
    uint64_t log_quiet_ns; /* the same failure is not logged again before this */
    bool retain_due;       /* a retention pass is running */
    int retain_kind;
    uint64_t retain_next_ns, stats_next_ns;

    /* counters (the stats line) */
    uint64_t n_ticks, n_batches, n_gaps, n_lost, n_errors;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a signal ends it early: g_stop is then looked at */
}

int stk_recorder_store_find(const char *spec, const struct stk_store_ops **ops, const char **arg)
{
    if (!spec || !strcmp(spec, "off"))
        return -ENOENT;
    const char *colon = strchr(spec, ':');
    if (!colon || !colon[1])
        return -EINVAL;
    size_t n = (size_t)(colon - spec);
    *arg = colon + 1;
    if (n == 6 && !memcmp(spec, "sqlite", 6)) {
        *ops = &stk_store_sqlite;
        return 0;
    }
    if (n == 3 && !memcmp(spec, "csv", 3)) {
        *ops = &stk_store_csv;
        return 0;
    }
    if ((n == 10 && !memcmp(spec, "postgresql", 10)) || (n == 8 && !memcmp(spec, "postgres", 8))) {
#ifdef STK_HAVE_PG
        *ops = &stk_store_pg;
        return 0;
#else
        return -ENOTSUP;
#endif
    }
    return -EINVAL;
}

int stk_recorder_new(const struct stk_config *cfg, struct stk_recorder **ret)
{
    struct stk_recorder *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return -ENOMEM;
    rec->cfg = cfg;
    int r = stk_recorder_store_find(cfg->recorder.store, &rec->ops, &rec->arg);
    if (r == -ENOENT) {
        stk_error("recorder.store is off: nothing to record");
        free(rec);
        return -EINVAL;
    }
    if (r == -ENOTSUP) {
        stk_error("recorder.store '%s': this build has no PostgreSQL support", cfg->recorder.store);
        free(rec);
        return -EINVAL;
    }
    if (r < 0) {
        stk_error("recorder.store '%s': expected sqlite:PATH, postgresql:CONNINFO, csv:DIR or off",
                  cfg->recorder.store);
        free(rec);
        return -EINVAL;
    }
    if (stk_rec_bars_parse(cfg->recorder.bars, rec->iv, &rec->niv) < 0) {
        stk_error("recorder.bars '%s': expected intervals like 1s 1m 1h 1d (at most %d, no "
                  "repeats)",
                  cfg->recorder.bars, STK_REC_MAX_INTERVALS);
        free(rec);
        return -EINVAL;
    }
    if (!rec->ops->put_bar)
        rec->niv = 0; /* a store without bars (csv) */
    if (stk_rec_retention_parse(cfg->recorder.retention, &rec->ret_ticks_s, &rec->ret_bars_s) < 0) {
        stk_error("recorder.retention '%s': expected ticks=DUR bars=DUR (7d, 12h, 30m, 90s, 0)",
                  cfg->recorder.retention);
        free(rec);
        return -EINVAL;
    }
    rec->batch = malloc(BATCH_MAX * sizeof(*rec->batch));
    if (!rec->batch) {
        free(rec);
        return -ENOMEM;
    }
    *ret = rec;
    return 0;
}

void stk_recorder_free(struct stk_recorder *rec)
{
    if (!rec)
        return;
    if (rec->st)
        rec->ops->close(rec->st);
    stk_seg_close(rec->seg);
    free(rec->syms);
    free(rec->batch);
    free(rec->closed);
    free(rec);
}

/* ---- store failures: log once per kind, back off, drop the batch --------- */

static void store_failed(struct stk_recorder *rec, int r, const char *err)
{
    rec->n_errors++;
    rec->failures++;
    int64_t ms = stk_backoff_ms(BACKOFF_MIN_MS, BACKOFF_MAX_MS, rec->failures,
                                (double)(now_ns() % 1000) / 1000.0);
    rec->retry_ns = now_ns() + (uint64_t)ms * 1000000ull;
    uint64_t now = now_ns();
    if (r != rec->logged_err || now >= rec->log_quiet_ns) {
        rec->logged_err = r;
        rec->log_quiet_ns = now + LOG_QUIET_S * 1000000000ull;
        stk_error("store %s: %s (%s); retrying in %lld ms (failure %u in a row)", rec->ops->scheme,
                  err[0] ? err : strerror(-r), strerror(-r), (long long)ms, rec->failures);
    }
    rec->last_err = r;
}

/* Forget the uncommitted batch: every symbol back to its last commit. */
static void batch_drop(struct stk_recorder *rec)
{
    for (uint32_t i = 0; i < rec->nsyms; i++) {
        struct sym *s = &rec->syms[i];
        if (!s->touched)
            continue;
        s->next = s->c_next;
        s->prev_vol = s->c_prev_vol;
        s->have_prev = s->c_have_prev;
        memcpy(s->bars, s->c_bars, sizeof(s->bars));
        s->touched = false;
    }
    rec->nbatch = 0;
    rec->ngaps = 0;
    rec->nclosed = 0;
    rec->batch_due_ns = 0;
}

static void batch_done(struct stk_recorder *rec)
{
    for (uint32_t i = 0; i < rec->nsyms; i++) {
        struct sym *s = &rec->syms[i];
        if (!s->touched)
            continue;
        for (unsigned k = 0; k < rec->niv; k++)
            s->bars[k].dirty = false;
        s->c_next = s->next;
        s->c_prev_vol = s->prev_vol;
        s->c_have_prev = s->have_prev;
        memcpy(s->c_bars, s->bars, sizeof(s->bars));
        s->touched = false;
    }
    rec->n_ticks += rec->nbatch;
    rec->n_batches++;
    rec->nbatch = 0;
    rec->ngaps = 0;
    rec->nclosed = 0;
    rec->batch_due_ns = 0;
    if (rec->failures && rec->logged_err) {
        stk_info("store %s: writing again after %u failure(s)", rec->ops->scheme, rec->failures);
        rec->logged_err = 0; /* the next failure is news again */
    }
    rec->failures = 0;
    rec->last_err = 0;
}

/* Commit the batch: ticks, gaps, closed bars, then each open bar that
 * changed. Returns 0 or -errno (the batch is then dropped). */
static int batch_commit(struct stk_recorder *rec)
{
    if (!rec->nbatch && !rec->ngaps && !rec->nclosed) {
        rec->batch_due_ns = 0;
        return 0;
    }
    char err[256] = "";
    const struct stk_store_ops *o = rec->ops;
    int r = o->begin(rec->st, err, sizeof(err));
    if (r == 0 && rec->nbatch)
        r = o->put_ticks(rec->st, rec->batch, rec->nbatch, err, sizeof(err));
    for (size_t i = 0; r == 0 && i < rec->ngaps && o->put_gap; i++)
        r = o->put_gap(rec->st, rec->gaps[i].sid, rec->gen, rec->gaps[i].from, rec->gaps[i].to,
                       now_ns(), err, sizeof(err));
    for (size_t i = 0; r == 0 && i < rec->nclosed; i++)
        r = o->put_bar(rec->st, &rec->closed[i], err, sizeof(err));
    for (uint32_t i = 0; r == 0 && i < rec->nsyms; i++) {
        struct sym *s = &rec->syms[i];
        if (!s->touched)
            continue;
        for (unsigned k = 0; r == 0 && k < rec->niv; k++)
            if (s->bars[k].open && s->bars[k].dirty)
                r = o->put_bar(rec->st, &s->bars[k].b, err, sizeof(err));
    }
    if (r == 0)
        r = o->commit(rec->st, err, sizeof(err));
    if (r < 0) {
        store_failed(rec, r, err);
        batch_drop(rec);
        return r;
    }
    batch_done(rec);
    return 0;
}

/* ---- following the rings -------------------------------------------------- */

static void seg_drop(struct stk_recorder *rec)
{
    stk_seg_close(rec->seg);
    rec->seg = NULL;
    for (uint32_t i = 0; i < rec->nsyms; i++)
        rec->syms[i].init = false;
}

/* Open the segment by name if it is not open. Returns 0 or -errno. */
static int seg_open(struct stk_recorder *rec)
{
    if (rec->seg)
        return 0;
    struct stk_seg_open_opts opts;
    int r = stk_config_owner(rec->cfg->shm.owner, &opts);
    if (r < 0)
        return r;
    struct stk_seg *seg;
    r = stk_seg_open_opts(rec->cfg->shm.name, &opts, &seg);
    if (r < 0)
        return r;
    if ((r = stk_seg_usable(seg)) < 0) {
        stk_seg_close(seg);
        return r;
    }
    const struct stk_header *h = stk_seg_header(seg);
    uint32_t cap = h->capacity;
    if (cap > rec->nsyms) {
        struct sym *ns = realloc(rec->syms, cap * sizeof(*ns));
        if (!ns) {
            stk_seg_close(seg);
            return -ENOMEM;
        }
        memset(ns + rec->nsyms, 0, (cap - rec->nsyms) * sizeof(*ns));
        rec->syms = ns;
        rec->nsyms = cap;
    }
    for (uint32_t i = 0; i < rec->nsyms; i++)
        rec->syms[i].init = false;
    rec->seg = seg;
    rec->gen = STK_LOAD(&h->generation, acquire);
    rec->history = h->history;
    stk_info("segment %s open: generation %llu, %u symbols, history %u", rec->cfg->shm.name,
             (unsigned long long)rec->gen, stk_seg_nsymbols(seg), rec->history);
    return 0;
}

/* Load symbol i's resume point from the store. Returns 0 or -errno. */
static int sym_init(struct stk_recorder *rec, uint32_t i, const char *name)
{
    struct sym *s = &rec->syms[i];
    char err[256] = "";
    const struct stk_store_ops *o = rec->ops;
    memset(s, 0, sizeof(*s));
    int r = o->symbol_id(rec->st, name, &s->sid, err, sizeof(err));
    uint64_t last = 0;
    if (r == 0)
        r = o->last_tick(rec->st, s->sid, rec->gen, &last, err, sizeof(err));
    if (r == -ENOENT) {
        s->next = 0;
        r = 0;
    } else if (r == 0) {
        s->next = last + 1;
        struct stk_rec_tick t;
        int r2 = o->get_tick ? o->get_tick(rec->st, s->sid, rec->gen, last, &t, err, sizeof(err))
                             : -ENOENT;
        if (r2 == 0) {
            s->prev_vol = t.volume;
            s->have_prev = true;
            for (unsigned k = 0; k < rec->niv && o->get_bar; k++) {
                uint64_t span = (uint64_t)rec->iv[k] * 1000000000ull;
                struct stk_rec_bar b;
                if (o->get_bar(rec->st, s->sid, rec->iv[k], t.src_ts_ns - t.src_ts_ns % span, &b,
                               err, sizeof(err)) == 0) {
                    s->bars[k].b = b;
                    s->bars[k].open = true;
                }
            }
        } else if (r2 != -ENOENT) {
            r = r2;
        }
    }
    if (r < 0) {
        store_failed(rec, r, err);
        return r;
    }
    s->c_next = s->next;
    s->c_prev_vol = s->prev_vol;
    s->c_have_prev = s->have_prev;
    memcpy(s->c_bars, s->bars, sizeof(s->bars));
    s->init = true;
    stk_debug("%s: resuming at tick %llu of generation %llu", name, (unsigned long long)s->next,
              (unsigned long long)rec->gen);
    return 0;
}

static void add_closed(struct stk_recorder *rec, const struct stk_rec_bar *b)
{
    if (rec->nclosed == rec->capclosed) {
        size_t cap = rec->capclosed ? rec->capclosed * 2 : 256;
        struct stk_rec_bar *nb = realloc(rec->closed, cap * sizeof(*nb));
        if (!nb)
            return; /* out of memory: the bar stays as last upserted */
        rec->closed = nb;
        rec->capclosed = cap;
    }
    rec->closed[rec->nclosed++] = *b;
}

/* Read what symbol i has between its next tick and its head into the batch.
 * Returns 1 if the batch filled up (commit, then call again), else 0. */
static int sym_drain(struct stk_recorder *rec, uint32_t i, const char *name)
{
    struct sym *s = &rec->syms[i];
    uint64_t head = stk_ring_head(rec->seg, i);
    while (s->next < head) {
        /* after a failure, smaller batches: a backlog too big for what a
         * full disk freed still goes in, piece by piece */
        size_t limit = rec->failures ? BATCH_RETRY : BATCH_MAX;
        if (rec->nbatch >= limit || rec->ngaps >= GAPS_MAX)
            return 1;
        struct stk_quote q;
        int r = stk_tick_read(rec->seg, i, s->next, &q);
        if (r == -ESTALE) {
            uint64_t h2 = stk_ring_head(rec->seg, i);
            uint64_t hist = rec->history;
            uint64_t resume = h2 > hist ? h2 - hist + hist / 8 : 0;
            if (resume <= s->next)
                resume = s->next + 1;
            s->touched = true;
            rec->gaps[rec->ngaps++] = (struct gap){s->sid, s->next, resume};
            rec->n_gaps++;
            rec->n_lost += resume - s->next;
            stk_warn("%s: the ring lapped the recorder: ticks %llu..%llu of generation %llu lost "
                     "(gaps %llu, ticks lost %llu so far)",
                     name, (unsigned long long)s->next, (unsigned long long)resume - 1,
                     (unsigned long long)rec->gen, (unsigned long long)rec->n_gaps,
                     (unsigned long long)rec->n_lost);
            s->next = resume;
            if (resume > head)
                head = resume;
            continue;
        }
        if (r < 0)
            break; /* not written yet, or a writer stuck mid-write: next wake */
        s->touched = true;
        struct stk_rec_tick *t = &rec->batch[rec->nbatch++];
        *t = (struct stk_rec_tick){.symbol_id = s->sid,
                                   .generation = rec->gen,
                                   .tick = s->next,
                                   .src_ts_ns = q.src_ts_ns,
                                   .pub_ts_ns = q.pub_ts_ns,
                                   .price = q.price,
                                   .bid = q.bid,
                                   .ask = q.ask,
                                   .volume = q.volume,
                                   .bid_size = q.bid_size,
                                   .ask_size = q.ask_size};
        uint64_t dvol = stk_bar_dvol(s->have_prev, s->prev_vol, q.volume);
        s->prev_vol = q.volume;
        s->have_prev = true;
        for (unsigned k = 0; k < rec->niv; k++) {
            struct stk_rec_bar closed;
            if (stk_bar_add(&s->bars[k], s->sid, rec->iv[k], q.src_ts_ns, q.price, dvol, &closed))
                add_closed(rec, &closed);
        }
        s->next++;
        if (rec->batch_due_ns == 0)
            rec->batch_due_ns = now_ns() + (uint64_t)rec->cfg->recorder.batch_ms * 1000000ull;
    }
    return 0;
}

/* One pass over every ring. Returns 0 or -errno (store failure). */
static int drain(struct stk_recorder *rec)
{
    uint32_t n = stk_seg_nsymbols(rec->seg);
    if (n > rec->nsyms)
        n = rec->nsyms;
    for (uint32_t i = 0; i < n && !g_stop && now_ns() >= rec->retry_ns; i++) {
        const char *name = stk_seg_symbol(rec->seg, i);
        if (!name)
            continue;
        if (!rec->syms[i].init && sym_init(rec, i, name) < 0) {
            batch_drop(rec);
            return -EIO;
        }
        while (sym_drain(rec, i, name) == 1)
            if (batch_commit(rec) < 0)
                return -EIO;
    }
    return 0;
}

/* ---- retention and the stats line --------------------------------------- */

static void retention_step(struct stk_recorder *rec, uint64_t now)
{
    if (!rec->ops->retain || (!rec->ret_ticks_s && !rec->ret_bars_s))
        return;
    if (!rec->retain_due) {
        if (now < rec->retain_next_ns)
            return;
        rec->retain_due = true;
        rec->retain_kind = STK_STORE_TICKS;
        rec->retain_next_ns = now + RETAIN_EVERY_S * 1000000000ull;
    }
    uint64_t keep_s = rec->retain_kind == STK_STORE_TICKS ? rec->ret_ticks_s : rec->ret_bars_s;
    int n = 0;
    if (keep_s) {
        char err[256] = "";
        uint64_t cut = now > keep_s * 1000000000ull ? now - keep_s * 1000000000ull : 0;
        n = rec->ops->retain(rec->st, cut, (enum stk_store_kind)rec->retain_kind, RETAIN_ROWS, err,
                             sizeof(err));
        if (n < 0) {
            stk_warn("retention: %s", err[0] ? err : strerror(-n));
            rec->retain_due = false;
            return;
        }
        if (n > 0)
            stk_debug("retention: %d old %s deleted", n,
                      rec->retain_kind == STK_STORE_TICKS ? "ticks" : "bars");
    }
    if (n < RETAIN_ROWS) {
        if (rec->retain_kind == STK_STORE_TICKS)
            rec->retain_kind = STK_STORE_BARS;
        else
            rec->retain_due = false;
    }
}

static void stats_step(struct stk_recorder *rec, uint64_t now)
{
    if (now < rec->stats_next_ns)
        return;
    if (rec->stats_next_ns)
        stk_info("stats: ticks_stored=%llu batches=%llu gaps=%llu ticks_lost=%llu "
                 "store_errors=%llu",
                 (unsigned long long)rec->n_ticks, (unsigned long long)rec->n_batches,
                 (unsigned long long)rec->n_gaps, (unsigned long long)rec->n_lost,
                 (unsigned long long)rec->n_errors);
    rec->stats_next_ns = now + STATS_EVERY_S * 1000000000ull;
}

/* ---- the loop ---------------------------------------------------------------- */

static int store_open(struct stk_recorder *rec)
{
    unsigned tries = 0;
    while (!g_stop) {
        char err[512] = "";
        int r = rec->ops->open(rec->arg, &rec->st, err, sizeof(err));
        if (r == 0) {
            stk_info("store %s:%s open", rec->ops->scheme,
                     strcmp(rec->ops->scheme, "postgresql") ? rec->arg : "(conninfo)");
            return 0;
        }
        if (r == -ENOMEM)
            return r;
        int64_t ms = stk_backoff_ms(BACKOFF_MIN_MS, BACKOFF_MAX_MS, ++tries, 0.5);
        if (tries == 1 || tries % 20 == 0)
            stk_error("store %s: cannot open: %s; retrying every %lld ms", rec->ops->scheme,
                      err[0] ? err : strerror(-r), (long long)ms);
        nap_ms((int)ms);
    }
    return -EINTR;
}

static int ms_until(uint64_t now, uint64_t when)
{
    if (when <= now)
        return 0;
    uint64_t ms = (when - now + 999999) / 1000000;
    return ms > IDLE_WAIT_MS ? IDLE_WAIT_MS : (int)ms;
}

int stk_recorder_run(struct stk_recorder *rec)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: the futex wait returns -EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    (void)stk_sigbus_guard();

    int r = store_open(rec);
    if (r < 0)
        return r == -EINTR ? 0 : r;
    (void)stk_ready_notify();

    unsigned seg_tries = 0;
    uint64_t check_ns = 0;
    while (!g_stop) {
        uint64_t now = now_ns();
        if (!rec->seg) {
            r = seg_open(rec);
            if (r < 0) {
                if (seg_tries++ == 0)
                    stk_info("segment %s not there yet (%s): waiting for it", rec->cfg->shm.name,
                             strerror(-r));
                batch_commit(rec);
                nap_ms(100);
                continue;
            }
            seg_tries = 0;
        }
        uint64_t seen = stk_seg_epoch(rec->seg);
        if (now >= rec->retry_ns)
            (void)drain(rec);
        now = now_ns();
        if (rec->batch_due_ns && now >= rec->batch_due_ns && now >= rec->retry_ns)
            (void)batch_commit(rec);
        if (!rec->batch_due_ns && now >= rec->retry_ns) {
            retention_step(rec, now);
            stats_step(rec, now);
        }
        int wait_ms = IDLE_WAIT_MS;
        if (now < rec->retry_ns)
            wait_ms = ms_until(now, rec->retry_ns);
        else if (rec->batch_due_ns)
            wait_ms = ms_until(now, rec->batch_due_ns);
        else if (rec->retain_due)
            wait_ms = 0;
        if (g_stop)
            break;
        r = wait_ms ? stk_seg_wait(rec->seg, seen, wait_ms) : 0;
        bool look = false;
        if (r != -ESTALE && (now = now_ns()) >= check_ns) {
            look = true; /* one stat(2) a second: was the name given to another segment? */
            check_ns = now + 1000000000ull;
        }
        if (r == -ESTALE || (look && stk_seg_replaced(rec->seg))) {
            stk_info("segment %s retired: storing what was read, then re-opening",
                     rec->cfg->shm.name);
            (void)drain(rec);
            (void)batch_commit(rec);
            seg_drop(rec);
        }
    }
    if (rec->seg && rec->failures == 0)
        (void)drain(rec);
    if (batch_commit(rec) < 0)
        stk_warn("stopping with an uncommitted batch: the next start re-reads it from the ring");
    stk_info("stopping: ticks_stored=%llu gaps=%llu ticks_lost=%llu store_errors=%llu",
             (unsigned long long)rec->n_ticks, (unsigned long long)rec->n_gaps,
             (unsigned long long)rec->n_lost, (unsigned long long)rec->n_errors);
    return 0;
}
