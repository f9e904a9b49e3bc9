/* SPDX-License-Identifier: MIT */
/* bench_producer.c — seqtick-bench producer: ticks/s into a real segment for
 * the sim feed at rate 0 and for JSON lines (in memory and through a pipe as
 * on stdin, with the ingest fast path and without it), the per-tick cost
 * split into parse and write, each next to a baseline measured in the same
 * run. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "log-private.h"
#include "producer.h"
#include "segment-private.h"
#include "util-private.h"

#define BATCH 4096    /* ticks per batch, as the producer's sim loop */
#define CHUNK 65536   /* bytes per read / batch, as the producer's ingest loop */
#define NLINES 65536u /* distinct JSON lines generated */
#define NPRE 8192u    /* distinct pre-made records for the baselines */

struct opts {
    double seconds;
    unsigned nsymbols;
};

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

/* One result line; with baseline_rate > 0 the rate as a multiple of the
 * baseline's, with strict_rate > 0 also as a multiple of the strict path's
 * (the ingest fast path off) in the same run. */
static void report2(const char *feed, const char *what, uint64_t ticks, uint64_t ns,
                    double baseline_rate, double strict_rate)
{
    double rate = (double)ticks * 1e9 / (double)ns;
    printf("%-5s %-59s %8.2f M ticks/s %8.1f ns/tick", feed, what, rate / 1e6,
           (double)ns / (double)ticks);
    if (baseline_rate > 0)
        printf("   %.2fx of baseline", rate / baseline_rate);
    if (strict_rate > 0)
        printf("%s%.2fx of strict", baseline_rate > 0 ? ", " : "   ", rate / strict_rate);
    printf("\n");
}

static void report(const char *feed, const char *what, uint64_t ticks, uint64_t ns,
                   double baseline_rate)
{
    report2(feed, what, ticks, ns, baseline_rate, 0);
}

static double rate_of(uint64_t ticks, uint64_t ns)
{
    return (double)ticks * 1e9 / (double)ns;
}

/* ---- sim ---- */

static const char *const default_syms[] = {"AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META",
                                           "TSLA", "JPM",  "V",    "XOM",  "SPY",   "QQQ"};

static const char *sym_name(unsigned i, char *buf, size_t n)
{
    if (i < sizeof(default_syms) / sizeof(default_syms[0]))
        return default_syms[i];
    snprintf(buf, n, "SYM%u", i);
    return buf;
}

/* Baseline: the same publish path with records made in advance (no model). */
static uint64_t bench_bare_publish(struct stk_seg *seg, const uint32_t *idx, unsigned n,
                                   const struct stk_quote *pre, double seconds, uint64_t *ret_ns)
{
    uint64_t t0 = stk_mono_ns(), end = t0 + (uint64_t)(seconds * 1e9), ticks = 0;
    unsigned s = 0;
    uint64_t now = stk_now_ns();
    do {
        stk_batch_begin(seg);
        for (unsigned k = 0; k < BATCH; k++) {
            struct stk_quote q = pre[(ticks + k) & (NPRE - 1)];
            q.pub_ts_ns = q.src_ts_ns = now;
            stk_tick_publish(seg, idx[s], &q);
            s = s + 1 == n ? 0 : s + 1;
        }
        stk_batch_end(seg, now);
        ticks += BATCH;
        now = stk_now_ns();
    } while (stk_mono_ns() < end);
    *ret_ns = stk_mono_ns() - t0;
    return ticks;
}

static volatile int64_t sink;

/* Ticks of the model alone in `seconds`. */
static uint64_t time_model(struct stk_sim *sim, double seconds, uint64_t *ret_ns)
{
    uint64_t t0 = stk_mono_ns(), end = t0 + (uint64_t)(seconds * 1e9), ticks = 0;
    int64_t acc = 0;
    do {
        struct stk_quote q;
        for (unsigned k = 0; k < BATCH; k++) {
            (void)stk_sim_step(sim, &q);
            acc += q.price;
        }
        ticks += BATCH;
    } while (stk_mono_ns() < end);
    *ret_ns = stk_mono_ns() - t0;
    sink = acc;
    return ticks;
}

static int bench_sim(struct stk_seg *seg, const struct opts *o, double *ret_rate)
{
    unsigned n = o->nsymbols;
    const char **names = calloc(n, sizeof(*names));
    char(*bufs)[16] = calloc(n, 16);
    uint32_t *idx = calloc(n, sizeof(*idx));
    struct stk_quote *pre = calloc(NPRE, sizeof(*pre));
    struct stk_sim *sim = NULL;
    int r = -ENOMEM;
    if (!names || !bufs || !idx || !pre)
        goto out;
    for (unsigned i = 0; i < n; i++) {
        names[i] = sym_name(i, bufs[i], 16);
        r = stk_sym_add(seg, names[i]);
        if (r < 0)
            goto out;
        idx[i] = (uint32_t)r;
    }
    struct stk_sim_params sp = {
        .nsymbols = n,
        .symbols = names,
        .drift = 0.05,
        .volatility = 0.25,
        .rho = 0.3,
        .dt_years = (double)n / 1000.0 / STK_SIM_YEAR_S,
        .seed = 1,
    };
    r = stk_sim_new(&sp, &sim);
    if (r < 0)
        goto out;
    for (unsigned k = 0; k < NPRE; k++)
        (void)stk_sim_step(sim, &pre[k]);

    uint64_t ns, ticks;
    ticks = bench_bare_publish(seg, idx, n, pre, o->seconds, &ns);
    double base = rate_of(ticks, ns);
    report("sim", "baseline: publish pre-made records (no model)", ticks, ns, 0);

    /* the model alone: equicorrelation (O(1) a tick), then the same matrix
     * given whole, as pair exceptions in producer.correlation make it */
    ticks = time_model(sim, o->seconds, &ns);
    report("sim", "model only: stk_sim_step, no write", ticks, ns, 0);
    double model = rate_of(ticks, ns);
    if (n <= STK_SIM_MATRIX_MAX) {
        double *m = calloc((size_t)n * n, sizeof(double));
        struct stk_sim *full = NULL;
        if (!m)
            goto out;
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++)
                m[(size_t)i * n + j] = i == j ? 1.0 : sp.rho;
        sp.corr = m;
        r = stk_sim_new(&sp, &full);
        free(m);
        if (r < 0)
            goto out;
        ticks = time_model(full, o->seconds, &ns);
        stk_sim_free(full);
        report("sim", "model only, whole rho matrix (ratio: vs model only)", ticks, ns, model);
    }
    uint64_t t0, end;

    /* the feed as the producer runs it at rate 0 (sim_pump in producer.c) */
    t0 = stk_mono_ns();
    end = t0 + (uint64_t)(o->seconds * 1e9);
    ticks = 0;
    do {
        uint64_t now = stk_now_ns();
        stk_batch_begin(seg);
        struct stk_quote q;
        for (unsigned k = 0; k < BATCH; k++) {
            uint32_t i = stk_sim_step(sim, &q);
            q.src_ts_ns = q.pub_ts_ns = now;
            stk_tick_publish(seg, idx[i], &q);
        }
        stk_batch_end(seg, now);
        ticks += BATCH;
    } while (stk_mono_ns() < end);
    ns = stk_mono_ns() - t0;
    report("sim", "feed at rate 0: model + publish, batches of 4096", ticks, ns, base);
    *ret_rate = rate_of(ticks, ns);
    r = 0;
out:
    stk_sim_free(sim);
    free(names);
    free(bufs);
    free(idx);
    free(pre);
    return r;
}

/* ---- JSON lines ---- */

static char *make_lines(unsigned nsym, size_t *ret_len)
{
    size_t cap = (size_t)NLINES * 256, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    uint64_t x = 88172645463325252ull;
    for (unsigned k = 0; k < NLINES; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char nb[16];
        unsigned cents = 10000 + (unsigned)(x % 90000);
        len += (size_t)snprintf(
            buf + len, cap - len,
            "{\"symbol\":\"%s\",\"price\":\"%u.%02u\",\"bid\":\"%u.%02u\",\"ask\":\"%u.%02u\","
            "\"bid_size\":%u,\"ask_size\":%u,\"volume\":%u,\"ts_ns\":%" PRIu64 "}\n",
            sym_name(k % nsym, nb, sizeof(nb)), cents / 100, cents % 100, (cents - 1) / 100,
            (cents - 1) % 100, (cents + 1) / 100, (cents + 1) % 100,
            100 * (unsigned)(1 + (x >> 20) % 50), 100 * (unsigned)(1 + (x >> 30) % 50), k * 37,
            (uint64_t)(1700000000000000000ull + k * 1000ull));
    }
    *ret_len = len;
    return buf;
}

struct counter {
    uint64_t lines, bytes;
    struct stk_ingest_tick t;
};

static void count_line(void *ctx, const char *line, size_t len)
{
    struct counter *c = ctx;
    c->lines++;
    c->bytes += len;
}

static void parse_line(void *ctx, const char *line, size_t len)
{
    struct counter *c = ctx;
    const char *why;
    if (line && stk_ingest_parse_line(line, len, &c->t, &why) == 0)
        c->lines++;
}

static void ingest_line(void *ctx, const char *line, size_t len)
{
    (void)stk_ingest_line(ctx, line, len);
}

/* Split (and maybe handle) the buffer over and over for `seconds`, one batch
 * per CHUNK bytes when a sink is given. Returns lines handled. */
static uint64_t run_lines(const char *buf, size_t len, double seconds, stk_line_fn fn, void *ctx,
                          struct stk_ingest_sink *sink_, uint64_t *ret_ns)
{
    struct stk_linebuf lb;
    if (stk_linebuf_init(&lb) < 0)
        return 0;
    uint64_t t0 = stk_mono_ns(), end = t0 + (uint64_t)(seconds * 1e9), passes = 0;
    do {
        for (size_t off = 0; off < len; off += CHUNK) {
            size_t n = len - off < CHUNK ? len - off : CHUNK;
            if (sink_) {
                sink_->now_ns = stk_now_ns();
                stk_batch_begin(sink_->seg);
            }
            stk_linebuf_feed(&lb, buf + off, n, fn, ctx);
            if (sink_)
                stk_batch_end(sink_->seg, sink_->now_ns);
        }
        passes++;
    } while (stk_mono_ns() < end);
    *ret_ns = stk_mono_ns() - t0;
    stk_linebuf_free(&lb);
    return passes * NLINES;
}

/* The stdin path: a writer process (other core) fills a pipe with the lines;
 * we read it as the producer does, one batch per read. */
static int run_pipe(const char *buf, size_t len, double seconds, struct stk_ingest_sink *s,
                    uint64_t *ret_ticks, uint64_t *ret_ns)
{
    struct stk_linebuf lb;
    if (stk_linebuf_init(&lb) < 0)
        return -ENOMEM;
    int fds[2];
    if (pipe(fds) < 0) {
        stk_linebuf_free(&lb);
        return -errno;
    }
    (void)fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(fds[0]);
        close(fds[1]);
        stk_linebuf_free(&lb);
        return r;
    }
    if (pid == 0) {
        close(fds[0]);
        pin(1);
        uint64_t end = stk_mono_ns() + (uint64_t)(seconds * 1e9);
        while (stk_mono_ns() < end)
            if (stk_write_all(fds[1], buf, len) < 0)
                break;
        _exit(0);
    }
    close(fds[1]);
    uint64_t good0 = s->good, t0 = stk_mono_ns();
    for (;;) {
        s->now_ns = stk_now_ns();
        stk_batch_begin(s->seg);
        ssize_t n = stk_linebuf_read(&lb, fds[0], ingest_line, s);
        stk_batch_end(s->seg, s->now_ns);
        if (n <= 0)
            break;
    }
    *ret_ns = stk_mono_ns() - t0;
    *ret_ticks = s->good - good0;
    close(fds[0]);
    stk_linebuf_free(&lb);
    int st;
    (void)waitpid(pid, &st, 0);
    return 0;
}

static int bench_json(struct stk_seg *seg, const struct opts *o, double *ret_rate,
                      double *ret_strict_rate)
{
    size_t len;
    char *buf = make_lines(o->nsymbols, &len);
    if (!buf)
        return -ENOMEM;
    unsigned in_shape = 0;
    for (const char *p = buf, *nl; (nl = memchr(p, '\n', len - (size_t)(p - buf))); p = nl + 1) {
        struct stk_ingest_tick t;
        in_shape += stk_ingest_parse_fast(p, (size_t)(nl - p), &t);
    }
    printf("json  %u lines of %.0f bytes on average, %u symbols, %u in the fast path's shape\n",
           NLINES, (double)len / NLINES, o->nsymbols, in_shape);

    /* baseline: the same records, already parsed, published */
    struct stk_ingest_tick *pre = calloc(NPRE, sizeof(*pre));
    uint32_t *idx = calloc(o->nsymbols, sizeof(*idx));
    struct stk_quote *preq = calloc(NPRE, sizeof(*preq));
    int r = -ENOMEM;
    if (!pre || !idx || !preq)
        goto out;
    r = -EINVAL;
    const char *p = buf;
    for (unsigned k = 0; k < NPRE; k++) {
        const char *nl = memchr(p, '\n', len - (size_t)(p - buf));
        const char *why;
        if (!nl || stk_ingest_parse_line(p, (size_t)(nl - p), &pre[k], &why) < 0)
            goto out;
        p = nl + 1;
    }
    for (unsigned i = 0; i < o->nsymbols; i++) {
        r = stk_sym_add(seg, pre[i].symbol);
        if (r < 0)
            goto out;
        idx[i] = (uint32_t)r;
    }
    for (unsigned k = 0; k < NPRE; k++)
        preq[k] = pre[k].q;
    uint64_t ns, ticks = bench_bare_publish(seg, idx, o->nsymbols, preq, o->seconds, &ns);
    double base = rate_of(ticks, ns);
    double write_ns = (double)ns / (double)ticks;
    report("json", "baseline: publish pre-parsed records", ticks, ns, 0);

    struct counter c = {0};
    ticks = run_lines(buf, len, o->seconds, count_line, &c, NULL, &ns);
    double split_ns = (double)ns / (double)ticks;
    report("json", "split lines only (memchr, bounded buffer)", ticks, ns, 0);

    /* each stage with the fast path off (the strict path: jsmn + checks),
     * then on, back to back: the fast run also as a multiple of the strict */
    static const char *const path_name[2] = {"strict path", "fast path"};
    double parse_ns[2], full_ns[2], pipe_rate[2], strict_rate = 0;
    char what[96];
    for (int fast = 0; fast < 2; fast++) {
        stk_ingest_fast_path = fast;
        memset(&c, 0, sizeof(c));
        ticks = run_lines(buf, len, o->seconds, parse_line, &c, NULL, &ns);
        if (c.lines != ticks) {
            fprintf(stderr, "seqtick-bench: producer: %" PRIu64 " of %" PRIu64 " lines parsed\n",
                    c.lines, ticks);
            r = -EINVAL;
            goto out;
        }
        parse_ns[fast] = (double)ns / (double)ticks - split_ns;
        snprintf(what, sizeof(what), "split + parse: %s", path_name[fast]);
        report2("json", what, ticks, ns, 0, fast ? strict_rate : 0);
        strict_rate = rate_of(ticks, ns);
    }
    for (int fast = 0; fast < 2; fast++) {
        stk_ingest_fast_path = fast;
        struct stk_ingest_sink s = {.seg = seg, .origin = "bench"};
        ticks = run_lines(buf, len, o->seconds, ingest_line, &s, &s, &ns);
        full_ns[fast] = (double)ns / (double)ticks;
        snprintf(what, sizeof(what), "in memory: %s, + lookup + publish", path_name[fast]);
        report2("json", what, ticks, ns, base, fast ? strict_rate : 0);
        strict_rate = rate_of(ticks, ns);
        if (s.good != ticks || s.bad) {
            fprintf(stderr, "seqtick-bench: producer: %" PRIu64 " good, %" PRIu64 " bad\n", s.good,
                    s.bad);
            r = -EINVAL;
            goto out;
        }
    }
    for (int fast = 0; fast < 2; fast++) {
        stk_ingest_fast_path = fast;
        struct stk_ingest_sink s = {.seg = seg, .origin = "bench"};
        uint64_t pticks = 0, pns = 1;
        r = run_pipe(buf, len, o->seconds, &s, &pticks, &pns);
        if (r < 0)
            goto out;
        snprintf(what, sizeof(what), "stdin path: %s, pipe (writer on core 1) + the above",
                 path_name[fast]);
        report2("json", what, pticks, pns, base, fast ? pipe_rate[0] : 0);
        pipe_rate[fast] = rate_of(pticks, pns);
    }
    stk_ingest_fast_path = true;
    *ret_rate = pipe_rate[1];
    *ret_strict_rate = pipe_rate[0];
    /* The rest is a difference of separately timed runs: within their noise
     * it can come out below zero, which says "too small to see", not more. */
    for (int fast = 0; fast < 2; fast++) {
        double rest = full_ns[fast] - split_ns - parse_ns[fast] - write_ns;
        printf("json  per tick, %-11s: split %.1f ns + parse %.1f ns + write %.1f ns + "
               "lookup/other %s%.1f ns = %.1f ns\n",
               path_name[fast], split_ns, parse_ns[fast], write_ns, rest < 0 ? "~" : "",
               rest < 0 ? 0.0 : rest, full_ns[fast]);
    }
    r = 0;
out:
    free(buf);
    free(pre);
    free(preq);
    free(idx);
    return r;
}

int stk_bench_producer(int argc, char **argv)
{
    struct opts o = {.seconds = 1.0, .nsymbols = 8};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            o.seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--symbols") && i + 1 < argc) {
            o.nsymbols = (unsigned)atoi(argv[++i]);
        } else {
            printf("usage: seqtick-bench producer [--seconds S (1)] [--symbols N (8)]\n"
                   "ticks/s into a real segment for the sim feed at rate 0 and for JSON\n"
                   "lines, with parse and write cost per tick, next to a bare publish loop\n"
                   "of the same records measured in the same run; JSON lines with the\n"
                   "ingest fast path off (strict) and on, the fast run also as a multiple\n"
                   "of the strict one.\n");
            return strcmp(argv[i], "--help") ? 100 : 0;
        }
    }
    if (!(o.seconds > 0) || o.nsymbols < 1 || o.nsymbols > 1024) {
        fprintf(stderr, "seqtick-bench: producer: --seconds > 0, --symbols 1..1024\n");
        return 100;
    }
    stk_log_init("seqtick-bench", STK_LOG_ERROR, STK_LOG_TEXT);
    pin(0);
    char name[64];
    snprintf(name, sizeof(name), "/stk-bench-producer-%ld", (long)getpid());
    struct stk_seg_params sp = {.name = name, .capacity = 1024, .history = 256, .mode = 0600};
    struct stk_seg *seg;
    int r = stk_seg_attach_writer(&sp, &seg, NULL);
    if (r < 0) {
        fprintf(stderr, "seqtick-bench: fatal: unable to create segment %s: %s\n", name,
                stk_strerror(r));
        return 111;
    }
    printf("seqtick-bench producer: segment %s (capacity %u, history %u), %u symbols, %.1f s "
           "per run, pinned to core 0\n",
           name, sp.capacity, sp.history, o.nsymbols, o.seconds);
    double sim_rate = 0, json_rate = 0, json_strict_rate = 0;
    r = bench_sim(seg, &o, &sim_rate);
    if (r == 0)
        r = bench_json(seg, &o, &json_rate, &json_strict_rate);
    stk_seg_close(seg);
    (void)stk_seg_unlink(name);
    if (r < 0) {
        fprintf(stderr, "seqtick-bench: producer: %s\n", strerror(-r));
        return 111;
    }
    printf("targets: sim %.2f M/s (>= 5 M/s: %s), JSON lines on stdin %.2f M/s (>= 1 M/s: %s; "
           "strict path alone %.2f M/s)\n",
           sim_rate / 1e6, sim_rate >= 5e6 ? "met" : "NOT met", json_rate / 1e6,
           json_rate >= 1e6 ? "met" : "NOT met", json_strict_rate / 1e6);
    return 0;
}
