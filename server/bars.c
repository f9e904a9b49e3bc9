/* SPDX-License-Identifier: MIT */
/* bars.c — the get_bars operation: OHLC bars read from the recorder's store
 * without blocking the loop. SQLite is opened read-only (a file: URI with
 * mode=ro) next to a recorder writing in WAL mode; a query is one short walk
 * of the bars table's primary key, bounded by STK_BARS_MAX rows, and a
 * database some other process holds locked answers UNAVAILABLE at once (no
 * busy timeout: the loop never waits). */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-private.h"
#include "server.h"

#define REOPEN_NS 1000000000ull   /* a store that failed to open is retried after 1 s */
#define GAPS_TTL_NS 1000000000ull /* stk_bars_gaps() answers from its cache this long */

struct stk_bars {
    enum { BARS_OFF, BARS_SQLITE, BARS_CSV, BARS_PG } kind;
    char *path; /* sqlite: the file */
    sqlite3 *db;
    sqlite3_stmt *q_sym, *q_bars, *q_gaps;
    uint64_t retry_ns; /* monotonic: do not reopen before */
    int last_rc;       /* last open/prepare result logged (log changes only) */
    struct {
        bool valid;
        int rc;         /* the cached answer: 0, -EAGAIN or -ENODATA */
        uint64_t at_ns; /* monotonic: when it was read from the store */
        uint64_t rows, ticks;
    } gaps;
    unsigned nint;
    struct {
        char name[12];
        uint32_t secs;
    } iv[STK_BARS_INTERVALS_MAX];
};

int stk_bars_interval_parse(const char *s, size_t n, uint32_t *ret_secs)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && v < 100000000u)
        v = v * 10 + (uint64_t)(s[i++] - '0');
    if (i == 0 || v == 0 || i + 1 != n || s[0] == '0')
        return -EINVAL;
    switch (s[i]) {
    case 's':
        break;
    case 'm':
        v *= 60;
        break;
    case 'h':
        v *= 3600;
        break;
    case 'd':
        v *= 86400;
        break;
    default:
        return -EINVAL;
    }
    if (v > UINT32_MAX)
        return -EINVAL;
    *ret_secs = (uint32_t)v;
    return 0;
}

/* "1s 1m 1h 1d" (spaces or commas) into b->iv. */
static int parse_intervals(struct stk_bars *b, const char *list)
{
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t n = strcspn(p, " ,\t");
        if (!n)
            break;
        uint32_t secs;
        if (n >= sizeof(b->iv[0].name) || b->nint == STK_BARS_INTERVALS_MAX ||
            stk_bars_interval_parse(p, n, &secs) < 0)
            return -EINVAL;
        memcpy(b->iv[b->nint].name, p, n);
        b->iv[b->nint].name[n] = 0;
        b->iv[b->nint++].secs = secs;
        p += n;
    }
    return 0;
}

int stk_bars_init(struct stk_server *s, const char *store, const char *intervals)
{
    struct stk_bars *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->last_rc = SQLITE_OK;
    if (!store || !*store || !strcmp(store, "off")) {
        b->kind = BARS_OFF;
    } else if (!strncmp(store, "sqlite:", 7)) {
        b->kind = BARS_SQLITE;
        /* a file: URI: '%', '?' and '#' are escaped */
        size_t n = strlen(store + 7);
        b->path = malloc(n * 3 + 16);
        if (!b->path) {
            free(b);
            return -ENOMEM;
        }
        char *o = b->path;
        o += sprintf(o, "file:");
        for (const char *c = store + 7; *c; c++)
            o += *c == '%' || *c == '?' || *c == '#' ? sprintf(o, "%%%02x", (unsigned char)*c)
                                                     : sprintf(o, "%c", *c);
        sprintf(o, "?mode=ro");
    } else if (!strncmp(store, "csv:", 4)) {
        b->kind = BARS_CSV;
    } else if (!strncmp(store, "postgresql:", 11)) {
        b->kind = BARS_PG;
    } else {
        free(b);
        return -EINVAL;
    }
    if (parse_intervals(b, intervals) < 0) {
        free(b->path);
        free(b);
        return -EINVAL;
    }
    s->bars = b;
    return 0;
}

static void close_db(struct stk_bars *b)
{
    sqlite3_finalize(b->q_sym);
    sqlite3_finalize(b->q_bars);
    sqlite3_finalize(b->q_gaps);
    sqlite3_close(b->db);
    b->q_sym = b->q_bars = b->q_gaps = NULL;
    b->db = NULL;
}

void stk_bars_fini(struct stk_server *s)
{
    struct stk_bars *b = s->bars;
    if (!b)
        return;
    close_db(b);
    free(b->path);
    free(b);
    s->bars = NULL;
}

/* Open the store (once; again after a failure, at most once a second).
 * Returns 0 or an SQLite result code. */
static int open_db(struct stk_server *s, struct stk_bars *b)
{
    if (b->db)
        return SQLITE_OK;
    uint64_t now = stk_server_mono(s);
    if (now < b->retry_ns)
        return b->last_rc ? b->last_rc : SQLITE_CANTOPEN;
    int rc = sqlite3_open_v2(b->path, &b->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(b->db, 0); /* never wait in the loop */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(b->db, "SELECT id FROM symbols WHERE name = ?1", -1,
                                SQLITE_PREPARE_PERSISTENT, &b->q_sym, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(b->db,
                                "SELECT start_ns, open, high, low, close, volume, ticks FROM bars"
                                " WHERE symbol_id = ?1 AND interval_s = ?2 AND start_ns >= ?3"
                                " AND start_ns <= ?4 ORDER BY start_ns DESC LIMIT ?5",
                                -1, SQLITE_PREPARE_PERSISTENT, &b->q_bars, NULL);
    if (rc != SQLITE_OK) {
        if (rc != b->last_rc)
            stk_warn("bars: store %s: %s", b->path + 5,
                     b->db ? sqlite3_errmsg(b->db) : sqlite3_errstr(rc));
        close_db(b);
        b->retry_ns = now + REOPEN_NS;
        b->last_rc = rc;
        return rc;
    }
    if (b->last_rc != SQLITE_OK)
        stk_info("bars: store %s readable again", b->path + 5);
    b->last_rc = SQLITE_OK;
    return SQLITE_OK;
}

/* A step's failure: busy/locked keeps the connection, anything else drops it
 * (reopened on the next request). Returns -1 after the error reply. */
static int store_fail(struct stk_req *r, struct stk_bars *b, int rc)
{
    sqlite3_reset(b->q_sym);
    sqlite3_reset(b->q_bars);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return r->face->fail(r, STK_E_UNAVAILABLE,
                             "bar store busy: another process holds it locked");
    char msg[160];
    snprintf(msg, sizeof(msg), "bar store unreadable: %s", sqlite3_errstr(rc));
    close_db(b);
    return r->face->fail(r, STK_E_UNAVAILABLE, msg);
}

struct bar {
    int64_t start_ns, open, high, low, close, volume, ticks;
};

/* An optional integer argument: absent → dflt; outside [lo, hi] → -1. */
static int arg(struct stk_req *r, enum stk_arg a, int64_t dflt, int64_t lo, int64_t hi, int64_t *v)
{
    *v = dflt;
    int got = r->face->int_arg(r, a, v);
    if (got < 0 || (got > 0 && (*v < lo || *v > hi)))
        return -1;
    return 0;
}

int stk_op_get_bars(struct stk_req *r)
{
    struct stk_bars *b = r->s->bars;
    char name[STK_NAME_MAX + 1];
    char ivname[16];
    int k = r->face->ticker(r, name);
    if (k == -1)
        return -1;
    int n = r->face->str_arg ? r->face->str_arg(r, STK_SARG_INTERVAL, ivname, sizeof(ivname)) : 0;
    if (n == -1)
        return -1;
    if (n == 0)
        return r->face->fail(r, STK_E_BAD_REQUEST, "Missing required field: interval");
    int64_t limit, from_ms, to_ms;
    if (arg(r, STK_ARG_LIMIT, STK_BARS_DEFAULT, 0, STK_BARS_MAX, &limit) < 0) {
        char msg[80];
        snprintf(msg, sizeof(msg), "limit must be an integer from 0 to %d", STK_BARS_MAX);
        return r->face->fail(r, STK_E_BAD_REQUEST, msg);
    }
    if (arg(r, STK_ARG_FROM_MS, 0, 0, INT64_MAX / 1000000, &from_ms) < 0 ||
        arg(r, STK_ARG_TO_MS, INT64_MAX / 1000000, 0, INT64_MAX / 1000000, &to_ms) < 0)
        return r->face->fail(r, STK_E_BAD_REQUEST,
                             "from_ms and to_ms must be integers (ms since the Unix epoch)");
    if (!b || b->kind == BARS_OFF)
        return r->face->fail(r, STK_E_UNAVAILABLE, "no bar store: recorder.store is off");
    uint32_t secs = 0;
    for (unsigned i = 0; i < b->nint; i++)
        if (!strcmp(b->iv[i].name, ivname))
            secs = b->iv[i].secs;
    if (!secs) {
        char msg[96 + 12 * STK_BARS_INTERVALS_MAX];
        size_t o = (size_t)snprintf(msg, sizeof(msg), "interval must be one of recorder.bars:");
        for (unsigned i = 0; i < b->nint; i++)
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, " %s", b->iv[i].name);
        return r->face->fail(r, STK_E_BAD_REQUEST, msg);
    }
    if (b->kind == BARS_CSV)
        return r->face->fail(r, STK_E_UNAVAILABLE,
                             "no bar store: a csv: store keeps ticks only, no bars");
    if (b->kind == BARS_PG)
        return r->face->fail(r, STK_E_UNAVAILABLE,
                             "bars from a postgresql: store are not served by this server yet");
    if (k < 0)
        return r->face->fail(r, STK_E_NOT_FOUND, "unknown ticker");
    int rc = open_db(r->s, b);
    if (rc != SQLITE_OK)
        return r->face->fail(r, STK_E_UNAVAILABLE,
                             rc == SQLITE_BUSY ? "bar store busy: another process holds it locked"
                                               : "bar store cannot be opened (see the log)");
    sqlite3_bind_text(b->q_sym, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(b->q_sym);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(b->q_sym);
        return r->face->fail(r, STK_E_NOT_FOUND, "unknown ticker: never recorded");
    }
    if (rc != SQLITE_ROW)
        return store_fail(r, b, rc);
    int64_t sym_id = sqlite3_column_int64(b->q_sym, 0);
    sqlite3_reset(b->q_sym);

    struct bar *rows = limit ? malloc(sizeof(*rows) * (size_t)limit) : NULL;
    if (limit && !rows)
        return r->face->fail(r, STK_E_INTERNAL, "out of memory");
    sqlite3_bind_int64(b->q_bars, 1, sym_id);
    sqlite3_bind_int64(b->q_bars, 2, secs);
    sqlite3_bind_int64(b->q_bars, 3, from_ms * 1000000);
    sqlite3_bind_int64(b->q_bars, 4, to_ms >= INT64_MAX / 1000000 ? INT64_MAX : to_ms * 1000000);
    sqlite3_bind_int64(b->q_bars, 5, limit);
    int64_t got = 0;
    while (got < limit && (rc = sqlite3_step(b->q_bars)) == SQLITE_ROW) {
        struct bar *x = &rows[got++];
        x->start_ns = sqlite3_column_int64(b->q_bars, 0);
        x->open = sqlite3_column_int64(b->q_bars, 1);
        x->high = sqlite3_column_int64(b->q_bars, 2);
        x->low = sqlite3_column_int64(b->q_bars, 3);
        x->close = sqlite3_column_int64(b->q_bars, 4);
        x->volume = sqlite3_column_int64(b->q_bars, 5);
        x->ticks = sqlite3_column_int64(b->q_bars, 6);
    }
    if (got < limit && rc != SQLITE_DONE) {
        free(rows);
        return store_fail(r, b, rc);
    }
    sqlite3_reset(b->q_bars);

    r->face->begin(r);
    STK_BUF_LIT(r->b, ",\"ticker\":");
    stk_buf_json_str(r->b, name, strlen(name));
    STK_BUF_LIT(r->b, ",\"interval\":");
    stk_buf_json_str(r->b, ivname, strlen(ivname));
    STK_BUF_LIT(r->b, ",\"bars\":[");
    for (int64_t i = got - 1; i >= 0; i--) { /* newest last */
        const struct bar *x = &rows[i];
        STK_BUF_LIT(r->b, "{\"t_ms\":");
        stk_buf_printf(r->b, "%lld", (long long)(x->start_ns / 1000000));
        STK_BUF_LIT(r->b, ",\"open\":");
        stk_buf_decimal(r->b, x->open);
        STK_BUF_LIT(r->b, ",\"high\":");
        stk_buf_decimal(r->b, x->high);
        STK_BUF_LIT(r->b, ",\"low\":");
        stk_buf_decimal(r->b, x->low);
        STK_BUF_LIT(r->b, ",\"close\":");
        stk_buf_decimal(r->b, x->close);
        stk_buf_printf(r->b, ",\"volume\":%lld,\"ticks\":%lld}", (long long)x->volume,
                       (long long)x->ticks);
        if (i)
            stk_buf_putc(r->b, ',');
    }
    stk_buf_putc(r->b, ']');
    r->face->end(r);
    free(rows);
    return 0;
}

/* One read of the gaps table: 0 (rows and ticks set), -EAGAIN or -ENODATA. */
static int read_gaps(struct stk_server *s, struct stk_bars *b, uint64_t *ret_rows,
                     uint64_t *ret_ticks)
{
    if (open_db(s, b) != SQLITE_OK)
        return -EAGAIN;
    /* Prepared on first use: a store without a gaps table still serves bars. */
    if (!b->q_gaps &&
        sqlite3_prepare_v3(b->db,
                           "SELECT count(*), coalesce(sum(to_tick - from_tick), 0)"
                           " FROM gaps",
                           -1, SQLITE_PREPARE_PERSISTENT, &b->q_gaps, NULL) != SQLITE_OK)
        return -ENODATA;
    int rc = sqlite3_step(b->q_gaps);
    int r = -EAGAIN;
    if (rc == SQLITE_ROW) {
        sqlite3_int64 rows = sqlite3_column_int64(b->q_gaps, 0);
        sqlite3_int64 ticks = sqlite3_column_int64(b->q_gaps, 1);
        *ret_rows = rows > 0 ? (uint64_t)rows : 0;
        *ret_ticks = ticks > 0 ? (uint64_t)ticks : 0;
        r = 0;
    }
    sqlite3_reset(b->q_gaps);
    if (rc != SQLITE_ROW && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
        close_db(b); /* reopened on the next use */
    return r;
}

int stk_bars_gaps(struct stk_server *s, uint64_t *ret_rows, uint64_t *ret_ticks)
{
    struct stk_bars *b = s->bars;
    if (!b || b->kind != BARS_SQLITE)
        return -ENODATA;
    /* Every /health and /metrics asks, and a load balancer may poll them many
     * times a second: the store is read at most once per GAPS_TTL_NS and every
     * answer (a busy store's too) is repeated until then. */
    uint64_t now = stk_server_mono(s);
    if (!b->gaps.valid || now - b->gaps.at_ns >= GAPS_TTL_NS) {
        uint64_t rows = 0, ticks = 0;
        b->gaps.rc = read_gaps(s, b, &rows, &ticks);
        b->gaps.rows = rows;
        b->gaps.ticks = ticks;
        b->gaps.at_ns = now;
        b->gaps.valid = true;
    }
    if (b->gaps.rc == 0) {
        *ret_rows = b->gaps.rows;
        *ret_ticks = b->gaps.ticks;
    }
    return b->gaps.rc;
}
