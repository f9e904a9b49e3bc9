/* SPDX-License-Identifier: MIT */
/* cli_bars.c — `seqtick bars SYM [--interval 1m] [-n N] [--json]`: the last
 * OHLC bars the recorder stored, read from recorder.store (SQLite opened
 * read-only; PostgreSQL through libpq), oldest first. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_private.h"
#include "util-private.h"

#define BUSY_MS 2000 /* the CLI may wait this long for a writer's lock */

struct bar {
    int64_t start_ns, open, high, low, close, volume, ticks;
};

/* "1s", "15m", "1h", "1d" → seconds; 0 when malformed. */
static uint32_t interval_secs(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || s[0] < '1' || s[0] > '9' || v > 100000000ul || !end[0] || end[1])
        return 0;
    switch (end[0]) {
    case 's':
        return (uint32_t)v;
    case 'm':
        return (uint32_t)(v * 60);
    case 'h':
        return (uint32_t)(v * 3600);
    case 'd':
        return v * 86400ul > UINT32_MAX ? 0 : (uint32_t)(v * 86400);
    default:
        return 0;
    }
}

/* Read at most n bars, newest first, into rows; *got their count.
 * Returns 0, STK_EXIT_NOTFOUND (unknown ticker) or STK_EXIT_SYSTEM. */
static int read_sqlite(const char *path, const char *ticker, uint32_t secs, long n,
                       struct bar *rows, long *got)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, BUSY_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT id FROM symbols WHERE name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, ticker, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        fprintf(stderr, "seqtick: bars: unknown ticker '%s' (never recorded)\n", ticker);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return STK_EXIT_NOTFOUND;
    }
    if (rc != SQLITE_ROW)
        goto fail;
    int64_t id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_prepare_v2(db,
                            "SELECT start_ns, open, high, low, close, volume, ticks FROM bars "
                            "WHERE symbol_id = ?1 AND interval_s = ?2 ORDER BY start_ns DESC "
                            "LIMIT ?3",
                            -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, secs);
    sqlite3_bind_int64(st, 3, n);
    *got = 0;
    while (*got < n && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct bar *b = &rows[(*got)++];
        b->start_ns = sqlite3_column_int64(st, 0);
        b->open = sqlite3_column_int64(st, 1);
        b->high = sqlite3_column_int64(st, 2);
        b->low = sqlite3_column_int64(st, 3);
        b->close = sqlite3_column_int64(st, 4);
        b->volume = sqlite3_column_int64(st, 5);
        b->ticks = sqlite3_column_int64(st, 6);
    }
    if (*got < n && rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return 0;
fail:
    fprintf(stderr, "seqtick: fatal: bars: store 'sqlite:%s': %s\n", path,
            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return STK_EXIT_SYSTEM;
}

/* The same from PostgreSQL (blocking libpq: a CLI may wait). */
static int read_pg(const char *conninfo, const char *ticker, uint32_t secs, long n,
                   struct bar *rows, long *got)
{
    PGconn *pg = PQconnectdb(conninfo);
    PGresult *res = NULL;
    int rc = STK_EXIT_SYSTEM;
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "seqtick: fatal: bars: store 'postgresql:%s': %s", conninfo,
                PQerrorMessage(pg));
        goto out;
    }
    char s_secs[16], s_n[24];
    snprintf(s_secs, sizeof(s_secs), "%" PRIu32, secs);
    snprintf(s_n, sizeof(s_n), "%ld", n);
    const char *params[] = {ticker, s_secs, s_n};
    res = PQexecParams(pg,
                       "SELECT b.start_ns, b.open, b.high, b.low, b.close, b.volume, b.ticks, "
                       "s.id FROM symbols s LEFT JOIN LATERAL (SELECT * FROM bars WHERE "
                       "symbol_id = s.id AND interval_s = $2::bigint ORDER BY start_ns DESC "
                       "LIMIT $3::bigint) b ON true WHERE s.name = $1",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "seqtick: fatal: bars: store 'postgresql:%s': %s", conninfo,
                PQresultErrorMessage(res));
        goto out;
    }
    int nr = PQntuples(res);
    if (nr == 0) {
        fprintf(stderr, "seqtick: bars: unknown ticker '%s' (never recorded)\n", ticker);
        rc = STK_EXIT_NOTFOUND;
        goto out;
    }
    *got = 0;
    for (int i = 0; i < nr && *got < n; i++) {
        if (PQgetisnull(res, i, 0))
            continue; /* the symbol, no bar */
        struct bar *b = &rows[(*got)++];
        int64_t *f[] = {&b->start_ns, &b->open,   &b->high, &b->low,
                        &b->close,    &b->volume, &b->ticks};
        for (int k = 0; k < 7; k++)
            *f[k] = strtoll(PQgetvalue(res, i, k), NULL, 10);
    }
    rc = 0;
out:
    PQclear(res);
    PQfinish(pg);
    return rc;
}

int stk_cli_bars(struct stk_cli *cli)
{
    const char *ticker = cli->argv[0];
    const char *ivname = cli->bars_interval ? cli->bars_interval : "1m";
    uint32_t secs = interval_secs(ivname);
    if (!secs) {
        fprintf(stderr, "seqtick: fatal: bars: bad interval '%s' (like 1s, 1m, 1h, 1d)\n", ivname);
        return STK_EXIT_USAGE;
    }
    long n = cli->bars_n;
    const char *store = cli->store;
    if (!store || !*store || !strcmp(store, "off")) {
        fprintf(stderr, "seqtick: fatal: bars: no store: recorder.store is off (give -c FILE "
                        "with recorder.store, or --store sqlite:PATH)\n");
        return STK_EXIT_SYSTEM;
    }
    struct bar *rows = calloc((size_t)(n ? n : 1), sizeof(*rows));
    if (!rows) {
        fprintf(stderr, "seqtick: fatal: out of memory\n");
        return STK_EXIT_SYSTEM;
    }
    long got = 0;
    int rc;
    if (!strncmp(store, "sqlite:", 7)) {
        rc = read_sqlite(store + 7, ticker, secs, n, rows, &got);
    } else if (!strncmp(store, "postgresql:", 11)) {
        rc = read_pg(store + 11, ticker, secs, n, rows, &got);
    } else if (!strncmp(store, "csv:", 4)) {
        fprintf(stderr, "seqtick: fatal: bars: a csv: store keeps ticks only, no bars\n");
        rc = STK_EXIT_SYSTEM;
    } else {
        fprintf(stderr, "seqtick: fatal: bars: unknown store '%s'\n", store);
        rc = STK_EXIT_USAGE;
    }
    if (rc) {
        free(rows);
        return rc;
    }
    char o[STK_DECIMAL_MAX], h[STK_DECIMAL_MAX], l[STK_DECIMAL_MAX], c[STK_DECIMAL_MAX];
    if (cli->json) {
        printf("{\"ticker\":");
        stk_cli_json_str(stdout, ticker);
        printf(",\"interval\":");
        stk_cli_json_str(stdout, ivname);
        printf(",\"bars\":[");
        for (long i = got - 1; i >= 0; i--) {
            const struct bar *b = &rows[i];
            printf("{\"t_ms\":%" PRId64 ",\"open\":%s,\"high\":%s,\"low\":%s,\"close\":%s,"
                   "\"volume\":%" PRId64 ",\"ticks\":%" PRId64 "}%s",
                   b->start_ns / 1000000, stk_cli_dec(b->open, o), stk_cli_dec(b->high, h),
                   stk_cli_dec(b->low, l), stk_cli_dec(b->close, c), b->volume, b->ticks,
                   i ? "," : "");
        }
        printf("]}\n");
    } else {
        printf("%-20s %14s %14s %14s %14s %12s %8s\n", "START (UTC)", "OPEN", "HIGH", "LOW",
               "CLOSE", "VOLUME", "TICKS");
        for (long i = got - 1; i >= 0; i--) {
            const struct bar *b = &rows[i];
            char t[32];
            time_t s = (time_t)(b->start_ns / 1000000000);
            struct tm tm;
            if (!gmtime_r(&s, &tm) || !strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(t, sizeof(t), "-");
            printf("%-20s %14s %14s %14s %14s %12" PRId64 " %8" PRId64 "\n", t,
                   stk_cli_dec(b->open, o), stk_cli_dec(b->high, h), stk_cli_dec(b->low, l),
                   stk_cli_dec(b->close, c), b->volume, b->ticks);
        }
        if (got == 0)
            printf("(no %s bars stored for %s)\n", ivname, ticker);
    }
    free(rows);
    return fflush(stdout) == 0 ? 0 : STK_EXIT_SYSTEM;
}
