/* SPDX-License-Identifier: MIT */
/* cli_quotes.c — `seqtick quotes`, `get SYMBOL`, `history SYMBOL [N]`, and the
 * output helpers the other subcommands share (JSON strings, exact prices). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_private.h"
#include "json-private.h"
#include "util-private.h"

#define HISTORY_DEFAULT 20

void stk_cli_json_str(FILE *f, const char *s)
{
    stk_json_fput_str(f, s); /* the one escaper (common/json.c) */
}

const char *stk_cli_dec(int64_t v, char buf[STK_DECIMAL_MAX])
{
    if (stk_decimal_format(v, buf, STK_DECIMAL_MAX) < 0)
        snprintf(buf, STK_DECIMAL_MAX, "?");
    return buf;
}

const char *stk_cli_age(uint64_t ns, char *buf, size_t size)
{
    if (ns == UINT64_MAX)
        snprintf(buf, size, "-");
    else if (ns < 10000u)
        snprintf(buf, size, "%lluns", (unsigned long long)ns);
    else if (ns < 10000000u)
        snprintf(buf, size, "%lluus", (unsigned long long)(ns / 1000u));
    else if (ns < 10000000000ull)
        snprintf(buf, size, "%llums", (unsigned long long)(ns / 1000000u));
    else if (ns < 100000000000ull)
        snprintf(buf, size, "%llus", (unsigned long long)(ns / 1000000000u));
    else if (ns < 3600000000000ull)
        snprintf(buf, size, "%llum%02llus", (unsigned long long)(ns / 60000000000ull),
                 (unsigned long long)(ns / 1000000000u % 60));
    else if (ns < 100ull * 3600000000000ull)
        snprintf(buf, size, "%lluh%02llum", (unsigned long long)(ns / 3600000000000ull),
                 (unsigned long long)(ns / 60000000000ull % 60));
    else
        snprintf(buf, size, "%llud", (unsigned long long)(ns / 86400000000000ull));
    return buf;
}

const char *stk_cli_state_name(uint32_t state)
{
    switch (state) {
    case STK_STATE_INIT:
        return "init";
    case STK_STATE_LIVE:
        return "live";
    case STK_STATE_CLOSED:
        return "closed";
    default:
        return "?";
    }
}

static uint64_t age_of(const struct stk_quote *q, uint64_t now_ns)
{
    if (q->pub_ts_ns == 0)
        return UINT64_MAX;
    return now_ns > q->pub_ts_ns ? now_ns - q->pub_ts_ns : 0;
}

void stk_cli_json_quote(FILE *f, const struct stk_cli *cli, const struct stk_seg *seg,
                        const char *ticker, const struct stk_quote *q, uint64_t now_ns)
{
    bool stale = stk_quote_stale(seg, q, now_ns, cli->freshness_ms, cli->heartbeat_ms);
    char p[STK_DECIMAL_MAX], b[STK_DECIMAL_MAX], a[STK_DECIMAL_MAX];
    uint64_t age_ms = age_of(q, now_ns) / 1000000u;
    fputs("\"ticker\":", f);
    stk_cli_json_str(f, ticker);
    fprintf(f,
            ",\"price\":%s,\"bid\":%s,\"ask\":%s,\"bid_size\":%u,\"ask_size\":%u,"
            "\"volume\":%llu,\"ts_ms\":%llu,\"ts_ns\":%llu,\"age_ms\":%llu,\"stale\":%s,"
            "\"seq\":%llu",
            stk_cli_dec(q->price, p), stk_cli_dec(q->bid, b), stk_cli_dec(q->ask, a), q->bid_size,
            q->ask_size, (unsigned long long)q->volume,
            (unsigned long long)(q->src_ts_ns / 1000000u), (unsigned long long)q->src_ts_ns,
            (unsigned long long)age_ms, stale ? "true" : "false", (unsigned long long)q->seq);
}

/* "2026-11-21T05:51:46.123456Z" (UTC, microseconds) into buf. */
static const char *utc_time(uint64_t ns, char *buf, size_t size)
{
    time_t s = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, size, "-");
        return buf;
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%06uZ", (unsigned)(ns % 1000000000u / 1000u));
    return buf;
}

static const char *read_error_code(int r)
{
    switch (r) {
    case -ENODATA:
        return "NO_DATA";
    case -EBUSY:
        return "BUSY";
    case -EFAULT:
        return "UNAVAILABLE";
    default:
        return "INTERNAL";
    }
}

int stk_cli_quotes(struct stk_cli *cli)
{
    struct stk_seg *seg;
    if (stk_cli_open(cli, &seg) < 0)
        return STK_EXIT_SYSTEM;
    uint32_t n = stk_seg_nsymbols(seg);
    uint64_t now = stk_cli_now_ns();
    const struct stk_header *h = stk_seg_header(seg);
    if (cli->json) {
        printf("{\"shm\":");
        stk_cli_json_str(stdout, cli->shm);
        printf(",\"generation\":%llu,\"epoch\":%llu,\"quotes\":[",
               (unsigned long long)atomic_load(&h->generation),
               (unsigned long long)stk_seg_epoch(seg));
    } else {
        printf("%-12s %14s %14s %14s %9s %9s %14s %8s\n", "SYMBOL", "PRICE", "BID", "ASK",
               "BID_SIZE", "ASK_SIZE", "VOLUME", "AGE");
    }
    uint32_t shown = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct stk_quote q;
        /* validated: printable ASCII, no spaces; NULL for an entry that is
         * no valid name, which is not shown (no escapes reach a terminal) */
        const char *name = stk_seg_symbol(seg, i);
        if (!name)
            continue;
        int r = stk_quote_read(seg, i, &q);
        if (cli->json) {
            printf("%s{", shown++ ? "," : "");
            if (r == 0) {
                stk_cli_json_quote(stdout, cli, seg, name, &q, now);
            } else {
                printf("\"ticker\":");
                stk_cli_json_str(stdout, name);
                printf(",\"error\":\"%s\"", read_error_code(r));
            }
            printf("}");
            continue;
        }
        shown++;
        if (r < 0) {
            printf("%-12s %14s   (%s)\n", name, "-", stk_strerror(r));
            continue;
        }
        char p[STK_DECIMAL_MAX], b[STK_DECIMAL_MAX], a[STK_DECIMAL_MAX], age[16];
        printf("%-12s %14s %14s %14s %9u %9u %14llu %8s\n", name, stk_cli_dec(q.price, p),
               stk_cli_dec(q.bid, b), stk_cli_dec(q.ask, a), q.bid_size, q.ask_size,
               (unsigned long long)q.volume, stk_cli_age(age_of(&q, now), age, sizeof(age)));
    }
    if (cli->json)
        printf("]}\n");
    else if (shown == 0)
        printf("(no symbols yet)\n");
    int lost = stk_seg_usable(seg);
    stk_seg_close(seg);
    if (lost < 0) {
        fprintf(stderr, "seqtick: fatal: segment '%s': %s\n", cli->shm, stk_strerror(lost));
        return STK_EXIT_SYSTEM;
    }
    return fflush(stdout) == 0 ? 0 : STK_EXIT_SYSTEM;
}

/* Resolve argv[0] as a ticker; prints the error itself. */
static int lookup(struct stk_cli *cli, struct stk_seg *seg, const char *ticker)
{
    int idx = stk_seg_lookup(seg, ticker);
    if (idx >= 0)
        return idx;
    fprintf(stderr, "seqtick: fatal: unknown ticker '%s' in segment '%s'\n", ticker, cli->shm);
    if (cli->json) {
        printf("{\"ticker\":");
        stk_cli_json_str(stdout, ticker);
        printf(",\"error\":\"NOT_FOUND\"}\n");
    }
    return -ENOENT;
}

int stk_cli_get(struct stk_cli *cli)
{
    struct stk_seg *seg;
    const char *ticker = cli->argv[0];
    if (stk_cli_open(cli, &seg) < 0)
        return STK_EXIT_SYSTEM;
    int rc = STK_EXIT_NOTFOUND;
    int idx = lookup(cli, seg, ticker);
    if (idx < 0)
        goto out;
    struct stk_quote q;
    int r = stk_quote_read(seg, (uint32_t)idx, &q);
    uint64_t now = stk_cli_now_ns();
    if (r < 0) {
        fprintf(stderr, "seqtick: fatal: '%s': %s\n", ticker, stk_strerror(r));
        if (cli->json) {
            printf("{\"ticker\":");
            stk_cli_json_str(stdout, ticker);
            printf(",\"error\":\"%s\"}\n", read_error_code(r));
        }
        rc = r == -ENODATA ? STK_EXIT_NOTFOUND : STK_EXIT_SYSTEM;
        goto out;
    }
    if (cli->json) {
        printf("{");
        stk_cli_json_quote(stdout, cli, seg, ticker, &q, now);
        printf("}\n");
    } else {
        char p[STK_DECIMAL_MAX], b[STK_DECIMAL_MAX], a[STK_DECIMAL_MAX], s[STK_DECIMAL_MAX];
        char t[64], age[16];
        printf("%s\n", ticker);
        printf("  price    %s\n", stk_cli_dec(q.price, p));
        printf("  bid      %s x %u\n", stk_cli_dec(q.bid, b), q.bid_size);
        printf("  ask      %s x %u\n", stk_cli_dec(q.ask, a), q.ask_size);
        printf("  spread   %s\n", stk_cli_dec(q.ask - q.bid, s));
        printf("  volume   %llu\n", (unsigned long long)q.volume);
        printf("  time     %s (source)\n", utc_time(q.src_ts_ns, t, sizeof(t)));
        printf("  age      %s%s\n", stk_cli_age(age_of(&q, now), age, sizeof(age)),
               stk_quote_stale(seg, &q, now, cli->freshness_ms, cli->heartbeat_ms) ? " (stale)"
                                                                                   : "");
        printf("  seq      %llu\n", (unsigned long long)q.seq);
    }
    rc = fflush(stdout) == 0 ? 0 : STK_EXIT_SYSTEM;
out:
    stk_seg_close(seg);
    return rc;
}

int stk_cli_history(struct stk_cli *cli)
{
    const char *ticker = cli->argv[0];
    long n = HISTORY_DEFAULT;
    if (cli->argc > 1) {
        char *end;
        errno = 0;
        n = strtol(cli->argv[1], &end, 10);
        if (errno || end == cli->argv[1] || *end || n < 1) {
            fprintf(stderr, "seqtick: fatal: history: bad count '%s'\n", cli->argv[1]);
            return STK_EXIT_USAGE;
        }
    }
    struct stk_seg *seg;
    if (stk_cli_open(cli, &seg) < 0)
        return STK_EXIT_SYSTEM;
    int rc = STK_EXIT_NOTFOUND;
    struct stk_quote *ticks = NULL;
    int idx = lookup(cli, seg, ticker);
    if (idx < 0)
        goto out;
    uint32_t hist = stk_seg_header(seg)->history;
    if ((unsigned long)n > hist)
        n = (long)hist;
    ticks = calloc((size_t)n, sizeof(*ticks));
    if (!ticks) {
        fprintf(stderr, "seqtick: fatal: out of memory\n");
        rc = STK_EXIT_SYSTEM;
        goto out;
    }
    int got = stk_history_read(seg, (uint32_t)idx, ticks, (size_t)n);
    if (got < 0) {
        fprintf(stderr, "seqtick: fatal: history '%s': %s\n", ticker, stk_strerror(got));
        rc = STK_EXIT_SYSTEM;
        goto out;
    }
    uint64_t now = stk_cli_now_ns();
    char p[STK_DECIMAL_MAX], b[STK_DECIMAL_MAX], a[STK_DECIMAL_MAX], t[64];
    if (cli->json) {
        printf("{\"ticker\":");
        stk_cli_json_str(stdout, ticker);
        printf(",\"head\":%llu,\"ticks\":[", (unsigned long long)stk_ring_head(seg, (uint32_t)idx));
        for (int i = 0; i < got; i++) {
            printf("%s{\"tick\":%llu,", i ? "," : "", (unsigned long long)ticks[i].seq);
            stk_cli_json_quote(stdout, cli, seg, ticker, &ticks[i], now);
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("%-10s %-27s %14s %14s %14s %14s\n", "TICK", "TIME (UTC, source)", "PRICE", "BID",
               "ASK", "VOLUME");
        for (int i = 0; i < got; i++)
            printf("%-10llu %-27s %14s %14s %14s %14llu\n", (unsigned long long)ticks[i].seq,
                   utc_time(ticks[i].src_ts_ns, t, sizeof(t)), stk_cli_dec(ticks[i].price, p),
                   stk_cli_dec(ticks[i].bid, b), stk_cli_dec(ticks[i].ask, a),
                   (unsigned long long)ticks[i].volume);
        if (got == 0)
            printf("(no ticks yet for %s)\n", ticker);
    }
    rc = fflush(stdout) == 0 ? 0 : STK_EXIT_SYSTEM;
out:
    free(ticks);
    stk_seg_close(seg);
    return rc;
}
