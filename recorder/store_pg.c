/* SPDX-License-Identifier: MIT */
/* store_pg.c — the recorder's postgresql: store: libpq, one transaction per
 * batch (binary COPY of the ticks, then the bars and gaps), reconnecting with
 * backoff; while the server is away, committed batches wait in memory
 * within a budget, then the caller is told the store is gone. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "backoff-private.h"
#include "store.h"

/* A connection attempt never holds the recorder longer than this. */
#define PG_CONNECT_TIMEOUT_MS 3000
/* Reconnect delays: 200 ms doubling to 5 s, with jitter. */
#define PG_BACKOFF_MIN_MS 200
#define PG_BACKOFF_MAX_MS 5000
/* Committed batches waiting for the server: at most this many bytes of
 * them (64 MiB, about 400,000 ticks); SEQTICK_RECORDER_PG_BUFFER (bytes)
 * overrides it. */
#define PG_BUDGET_DEFAULT ((size_t)64 << 20)

/* PostgreSQL spelling of the shared schema: every integer a BIGINT. A u64
 * goes in as the BIGINT with the same 64 bits (two's complement): values
 * below 2^63 read back unchanged, larger ones as negative numbers. */
static const char pg_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS symbols (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS ticks (symbol_id BIGINT NOT NULL, generation BIGINT NOT NULL,"
    " tick BIGINT NOT NULL, src_ts_ns BIGINT NOT NULL, pub_ts_ns BIGINT NOT NULL,"
    " price BIGINT NOT NULL, bid BIGINT NOT NULL, ask BIGINT NOT NULL, volume BIGINT NOT NULL,"
    " bid_size BIGINT NOT NULL, ask_size BIGINT NOT NULL,"
    " PRIMARY KEY (symbol_id, generation, tick));"
    "CREATE TABLE IF NOT EXISTS bars (symbol_id BIGINT NOT NULL, interval_s BIGINT NOT NULL,"
    " start_ns BIGINT NOT NULL, open BIGINT NOT NULL, high BIGINT NOT NULL, low BIGINT NOT NULL,"
    " close BIGINT NOT NULL, volume BIGINT NOT NULL, ticks BIGINT NOT NULL,"
    " PRIMARY KEY (symbol_id, interval_s, start_ns));"
    "CREATE TABLE IF NOT EXISTS gaps (symbol_id BIGINT NOT NULL, generation BIGINT NOT NULL,"
    " from_tick BIGINT NOT NULL, to_tick BIGINT NOT NULL, detected_ns BIGINT NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;";

#define TICK_COLUMNS                                                                               \
    "(symbol_id, generation, tick, src_ts_ns, pub_ts_ns, price, bid, ask, volume, bid_size,"       \
    " ask_size)"

struct pgbuf {
    char *p;
    size_t len, cap;
};

/* One batch as it will be sent in one transaction: the binary COPY rows of its
 * ticks, then the SQL of its bars and gaps. */
struct pg_batch {
    struct pgbuf copy, sql;
    size_t nticks;
    struct pg_batch *next;
};

struct stk_store {
    char *conninfo;
    PGconn *conn;
    unsigned fails;      /* consecutive failed connects / lost connections */
    int64_t next_try_ns; /* no connect attempt before this (backoff) */
    uint64_t rng;
    bool unique_violation;        /* the last COPY met a stored row (SQLSTATE 23505) */
    struct pg_batch *open;        /* between begin() and commit() */
    struct pg_batch *head, *tail; /* committed, waiting for the server, oldest first */
    size_t queued, queued_bytes, budget;
    char msg[512]; /* the reason of the last failure */
    char why[400]; /* why the last connection attempt failed */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A u64 as the BIGINT with the same bits. */
static long long pg_i64(uint64_t v)
{
    return (long long)(int64_t)v;
}

__attribute__((format(printf, 2, 3))) static void set_msg(struct stk_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    va_end(ap);
    /* libpq messages end in a newline: one line. */
    for (char *c = s->msg; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    size_t n = strlen(s->msg);
    while (n && s->msg[n - 1] == ' ')
        s->msg[--n] = '\0';
}

static int fail(struct stk_store *s, int r, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", s->msg);
    return r;
}

static int buf_reserve(struct pgbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

__attribute__((format(printf, 2, 3))) static int buf_printf(struct pgbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -EINVAL;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        if (buf_reserve(b, (size_t)n) < 0)
            return -ENOMEM;
    }
}

static void batch_free(struct pg_batch *b)
{
    if (b) {
        free(b->copy.p);
        free(b->sql.p);
        free(b);
    }
}

static size_t batch_bytes(const struct pg_batch *b)
{
    return sizeof(*b) + b->copy.cap + b->sql.cap;
}

/* Forget the connection; the next attempt waits for the backoff delay. */
static void pg_drop(struct stk_store *s)
{
    if (s->conn) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    s->fails++;
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(s->rng >> 11) / 9007199254740992.0;
    s->next_try_ns =
        mono_ns() + stk_backoff_ms(PG_BACKOFF_MIN_MS, PG_BACKOFF_MAX_MS, s->fails, u) * 1000000;
}

static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* PQconnectStart + PQconnectPoll, waiting at most PG_CONNECT_TIMEOUT_MS:
 * a server that does not answer never blocks the recorder for long. */
static PGconn *pg_dial(struct stk_store *s)
{
    PGconn *c = PQconnectStart(s->conninfo);
    if (!c) {
        set_msg(s, "postgresql: out of memory");
        return NULL;
    }
    int64_t deadline = mono_ns() + (int64_t)PG_CONNECT_TIMEOUT_MS * 1000000;
    PostgresPollingStatusType st =
        PQstatus(c) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            set_msg(s, "postgresql: unable to connect: %s", PQerrorMessage(c));
            PQfinish(c);
            return NULL;
        }
        int64_t left = deadline - mono_ns();
        if (left <= 0) {
            set_msg(s, "postgresql: unable to connect: no answer in %d ms", PG_CONNECT_TIMEOUT_MS);
            PQfinish(c);
            return NULL;
        }
        struct pollfd p = {.fd = PQsocket(c),
                           .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int r = poll(&p, 1, (int)(left / 1000000) + 1);
        if (r < 0 && errno != EINTR) {
            set_msg(s, "postgresql: poll: %s", strerror(errno));
            PQfinish(c);
            return NULL;
        }
        if (r > 0)
            st = PQconnectPoll(c);
    }
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    return c;
}

/* -ENOTCONN if the connection is gone (then dropped), else -EIO. */
static int pg_err(struct stk_store *s, const char *what, const PGresult *res)
{
    bool gone = PQstatus(s->conn) == CONNECTION_BAD;
    set_msg(s, "postgresql: %s: %s", what,
            res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
                                                : PQerrorMessage(s->conn));
    if (gone) {
        snprintf(s->why, sizeof(s->why), "%s", s->msg);
        pg_drop(s);
        return -ENOTCONN;
    }
    return -EIO;
}

/* Run SQL without result rows. 0, -EIO (refused; the connection is fine)
 * or -ENOTCONN (connection dropped). */
static int pg_cmd(struct stk_store *s, const char *sql, const char *what)
{
    PGresult *res = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_err(s, what, res);
    PQclear(res);
    return r;
}

/* Be connected with the schema in place, or -ENOTCONN (without a new
 * attempt before the backoff delay is over) / -EIO (schema refused). */
static int pg_ensure(struct stk_store *s)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    if (s->conn)
        pg_drop(s);
    int64_t now = mono_ns();
    if (now < s->next_try_ns) {
        set_msg(s, "%s; next attempt in %lld ms", s->why,
                (long long)((s->next_try_ns - now) / 1000000));
        return -ENOTCONN;
    }
    s->conn = pg_dial(s);
    if (!s->conn) {
        snprintf(s->why, sizeof(s->why), "%s", s->msg);
        pg_drop(s);
        return -ENOTCONN;
    }
    int r = pg_cmd(s, pg_schema, "schema");
    if (r < 0) {
        if (s->conn)
            pg_drop(s);
        return r;
    }
    s->fails = 0;
    return 0;
}

/* COPY the binary rows in b (header included) into table. 0, -EIO, -ENOTCONN; unique_violation set
 * when rows were already there. */
static int pg_copy(struct stk_store *s, const struct pgbuf *b, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "COPY %s " TICK_COLUMNS " FROM STDIN (FORMAT binary)", table);
    s->unique_violation = false;
    PGresult *res = PQexec(s->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        int r = pg_err(s, "COPY", res);
        PQclear(res);
        return r;
    }
    PQclear(res);
    static const char trailer[2] = {(char)0xff, (char)0xff};
    int ok = PQputCopyData(s->conn, b->p, (int)b->len);
    if (ok == 1)
        ok = PQputCopyData(s->conn, trailer, sizeof(trailer));
    int end = PQputCopyEnd(s->conn, ok == 1 ? NULL : "send failed");
    int r = 0;
    while ((res = PQgetResult(s->conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && r == 0) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            s->unique_violation = state && !strcmp(state, "23505");
            r = pg_err(s, "COPY ticks", res);
        }
        PQclear(res);
        if (!s->conn)
            break;
    }
    if (r == 0 && (ok != 1 || end != 1 || (s->conn && PQstatus(s->conn) == CONNECTION_BAD)))
        r = s->conn ? pg_err(s, "COPY ticks", NULL) : -ENOTCONN;
    return r;
}

/* Send one batch in one transaction. 0, -EIO (the server refused it),
 * -ENOTCONN. A batch whose ticks are partly stored already (its COMMIT went
 * through but the answer was lost with the connection, so it is sent
 * again) goes through a temporary table, the stored rows skipped. */
static int pg_send(struct stk_store *s, const struct pg_batch *b)
{
    int r = pg_cmd(s, "BEGIN", "BEGIN");
    if (r == 0 && b->copy.len)
        r = pg_copy(s, &b->copy, "ticks");
    if (r == -EIO && s->unique_violation) {
        if ((r = pg_cmd(s, "ROLLBACK", "ROLLBACK")) == 0 &&
            (r = pg_cmd(s, "BEGIN", "BEGIN")) == 0 &&
            (r = pg_cmd(s,
                        "CREATE TEMP TABLE IF NOT EXISTS stage_ticks (LIKE ticks)"
                        " ON COMMIT DELETE ROWS",
                        "stage table")) == 0 &&
            (r = pg_copy(s, &b->copy, "stage_ticks")) == 0)
            r = pg_cmd(s, "INSERT INTO ticks SELECT * FROM stage_ticks ON CONFLICT DO NOTHING",
                       "staged ticks");
    }
    if (r == 0 && b->sql.len)
        r = pg_cmd(s, b->sql.p, "bars and gaps");
    if (r == 0)
        r = pg_cmd(s, "COMMIT", "COMMIT");
    else if (r == -EIO && s->conn) {
        char keep[sizeof(s->msg)];
        memcpy(keep, s->msg, sizeof(keep));
        (void)pg_cmd(s, "ROLLBACK", "ROLLBACK");
        memcpy(s->msg, keep, sizeof(keep));
    }
    return r;
}

static void queue_pop(struct stk_store *s)
{
    struct pg_batch *b = s->head;
    s->head = b->next;
    if (!s->head)
        s->tail = NULL;
    s->queued--;
    s->queued_bytes -= batch_bytes(b);
    batch_free(b);
}

/* Send the waiting batches, oldest first. 0 when none waits; -ENOTCONN
 * (they keep waiting); -EIO: the server refused the oldest one, which is
 * dropped (sent again it would be refused again) and named in s->msg. */
static int pg_flush(struct stk_store *s)
{
    while (s->head) {
        int r = pg_ensure(s);
        if (r < 0)
            return r;
        r = pg_send(s, s->head);
        if (r == -ENOTCONN)
            return r;
        if (r < 0) {
            size_t n = strlen(s->msg);
            snprintf(s->msg + n, sizeof(s->msg) - n, " (a batch of %zu ticks dropped)",
                     s->head->nticks);
        }
        queue_pop(s);
        if (r < 0)
            return r;
    }
    return 0;
}

static int pg_open(const char *arg, struct stk_store **ret, char *err, size_t errlen)
{
    struct stk_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->conninfo = strdup(arg))) {
        free(s);
        if (err && errlen)
            snprintf(err, errlen, "postgresql: out of memory");
        return -ENOMEM;
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(arg, &perr);
    if (!opts) {
        snprintf(s->msg, sizeof(s->msg), "postgresql: bad conninfo: %s",
                 perr ? perr : "out of memory");
        PQfreemem(perr);
        int r = fail(s, -EINVAL, err, errlen);
        free(s->conninfo);
        free(s);
        return r;
    }
    PQconninfoFree(opts);
    s->budget = PG_BUDGET_DEFAULT;
    const char *env = getenv("SEQTICK_RECORDER_PG_BUFFER");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (!*end && v > 0)
            s->budget = (size_t)v;
    }
    s->rng = (uint64_t)mono_ns() ^ ((uint64_t)getpid() << 32);
    /* The first attempt now; an unreachable server is not an error here:
     * the first op that needs it says so, and retries follow the backoff. */
    (void)pg_ensure(s);
    *ret = s;
    return 0;
}

static int pg_symbol_id(struct stk_store *s, const char *name, int64_t *id_ret, char *err,
                        size_t errlen)
{
    int r = pg_ensure(s);
    if (r < 0)
        return fail(s, r, err, errlen);
    const char *params[1] = {name};
    PGresult *res = PQexecParams(s->conn,
                                 "WITH ins AS (INSERT INTO symbols (id, name) SELECT"
                                 " COALESCE(max(id), 0) + 1, $1 FROM symbols"
                                 " ON CONFLICT (name) DO NOTHING RETURNING id)"
                                 " SELECT id FROM ins UNION ALL"
                                 " SELECT id FROM symbols WHERE name = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
        r = pg_err(s, "symbol id", res);
    else
        *id_ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return r < 0 ? fail(s, r, err, errlen) : 0;
}

static int pg_last_tick(struct stk_store *s, int64_t symbol_id, uint64_t generation,
                        uint64_t *tick_ret, char *err, size_t errlen)
{
    /* What waits is sent first: the answer must count it. */
    int r = pg_flush(s);
    if (r < 0)
        return fail(s, r, err, errlen);
    char a[24], g[24];
    snprintf(a, sizeof(a), "%lld", (long long)symbol_id);
    snprintf(g, sizeof(g), "%lld", pg_i64(generation));
    const char *params[2] = {a, g};
    PGresult *res = PQexecParams(
        s->conn, "SELECT max(tick) FROM ticks WHERE symbol_id = $1 AND generation = $2", 2, NULL,
        params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        r = pg_err(s, "last tick", res);
    else if (PQgetisnull(res, 0, 0))
        r = -ENOENT;
    else
        *tick_ret = (uint64_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (r == -ENOENT)
        set_msg(s, "postgresql: no tick stored");
    return r < 0 ? fail(s, r, err, errlen) : 0;
}

/* One row of a SELECT with params into out[] as integers (u64 columns
 * given back their bits). 0, -ENOENT (no row), -EIO, -ENOTCONN. */
static int pg_row(struct stk_store *s, const char *sql, int nparams, const char *const *params,
                  long long *out, int ncols, const char *what)
{
    int r = pg_flush(s); /* what waits is sent first: the answer must count it */
    if (r < 0)
        return r;
    PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != ncols)
        r = pg_err(s, what, res);
    else if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        set_msg(s, "postgresql: %s: none stored", what);
        r = -ENOENT;
    } else
        for (int c = 0; c < ncols; c++)
            out[c] = strtoll(PQgetvalue(res, 0, c), NULL, 10);
    PQclear(res);
    return r;
}

static int pg_get_tick(struct stk_store *s, int64_t symbol_id, uint64_t generation, uint64_t tick,
                       struct stk_rec_tick *ret, char *err, size_t errlen)
{
    char a[24], g[24], k[24];
    snprintf(a, sizeof(a), "%lld", (long long)symbol_id);
    snprintf(g, sizeof(g), "%lld", pg_i64(generation));
    snprintf(k, sizeof(k), "%lld", pg_i64(tick));
    const char *params[3] = {a, g, k};
    long long v[8];
    int r = pg_row(s,
                   "SELECT src_ts_ns, pub_ts_ns, price, bid, ask, volume, bid_size, ask_size"
                   " FROM ticks WHERE symbol_id = $1 AND generation = $2 AND tick = $3",
                   3, params, v, 8, "get tick");
    if (r < 0)
        return fail(s, r, err, errlen);
    *ret = (struct stk_rec_tick){.symbol_id = symbol_id,
                                 .generation = generation,
                                 .tick = tick,
                                 .src_ts_ns = (uint64_t)v[0],
                                 .pub_ts_ns = (uint64_t)v[1],
                                 .price = v[2],
                                 .bid = v[3],
                                 .ask = v[4],
                                 .volume = (uint64_t)v[5],
                                 .bid_size = (uint32_t)v[6],
                                 .ask_size = (uint32_t)v[7]};
    return 0;
}

static int pg_get_bar(struct stk_store *s, int64_t symbol_id, uint32_t interval_s,
                      uint64_t start_ns, struct stk_rec_bar *ret, char *err, size_t errlen)
{
    char a[24], iv[24], t[24];
    snprintf(a, sizeof(a), "%lld", (long long)symbol_id);
    snprintf(iv, sizeof(iv), "%u", interval_s);
    snprintf(t, sizeof(t), "%lld", pg_i64(start_ns));
    const char *params[3] = {a, iv, t};
    long long v[6];
    int r = pg_row(s,
                   "SELECT open, high, low, close, volume, ticks FROM bars"
                   " WHERE symbol_id = $1 AND interval_s = $2 AND start_ns = $3",
                   3, params, v, 6, "get bar");
    if (r < 0)
        return fail(s, r, err, errlen);
    *ret = (struct stk_rec_bar){.symbol_id = symbol_id,
                                .interval_s = interval_s,
                                .start_ns = start_ns,
                                .open = v[0],
                                .high = v[1],
                                .low = v[2],
                                .close = v[3],
                                .volume = (uint64_t)v[4],
                                .ticks = (uint64_t)v[5]};
    return 0;
}

static int pg_begin(struct stk_store *s, char *err, size_t errlen)
{
    batch_free(s->open);
    s->open = calloc(1, sizeof(*s->open));
    if (!s->open) {
        set_msg(s, "postgresql: out of memory");
        return fail(s, -ENOMEM, err, errlen);
    }
    return 0;
}

static int no_batch(struct stk_store *s, char *err, size_t errlen)
{
    set_msg(s, "postgresql: no batch open (begin() first)");
    return fail(s, -EINVAL, err, errlen);
}

/* COPY binary format: a signature, flags and extension length, then per
 * row a field count and each field as a length and big-endian bytes, then
 * -1. Binary spares the server parsing the integers out of text. */
static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0";

static char *put_be64(char *p, uint64_t v)
{
    p[0] = 0, p[1] = 0, p[2] = 0, p[3] = 8; /* field length */
    for (int i = 0; i < 8; i++)
        p[4 + i] = (char)(v >> (56 - 8 * i));
    return p + 12;
}

static int pg_put_ticks(struct stk_store *s, const struct stk_rec_tick *t, size_t n, char *err,
                        size_t errlen)
{
    if (!s->open)
        return no_batch(s, err, errlen);
    struct pgbuf *b = &s->open->copy;
    enum { ROW = 2 + 11 * 12 };
    if (buf_reserve(b, sizeof(copy_header) + n * ROW) < 0) {
        set_msg(s, "postgresql: out of memory");
        return fail(s, -ENOMEM, err, errlen);
    }
    if (b->len == 0) {
        memcpy(b->p, copy_header, sizeof(copy_header));
        b->len = sizeof(copy_header);
    }
    char *p = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        *p++ = 0;
        *p++ = 11;
        p = put_be64(p, (uint64_t)t[i].symbol_id);
        p = put_be64(p, t[i].generation);
        p = put_be64(p, t[i].tick);
        p = put_be64(p, t[i].src_ts_ns);
        p = put_be64(p, t[i].pub_ts_ns);
        p = put_be64(p, (uint64_t)t[i].price);
        p = put_be64(p, (uint64_t)t[i].bid);
        p = put_be64(p, (uint64_t)t[i].ask);
        p = put_be64(p, t[i].volume);
        p = put_be64(p, t[i].bid_size);
        p = put_be64(p, t[i].ask_size);
    }
    b->len = (size_t)(p - b->p);
    s->open->nticks += n;
    return 0;
}

static int pg_put_bar(struct stk_store *s, const struct stk_rec_bar *b, char *err, size_t errlen)
{
    if (!s->open)
        return no_batch(s, err, errlen);
    if (buf_printf(&s->open->sql,
                   "INSERT INTO bars (symbol_id, interval_s, start_ns, open, high, low, close,"
                   " volume, ticks) VALUES (%lld, %u, %lld, %lld, %lld, %lld, %lld, %lld, %lld)"
                   " ON CONFLICT (symbol_id, interval_s, start_ns) DO UPDATE SET"
                   " open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,"
                   " close = EXCLUDED.close, volume = EXCLUDED.volume, ticks = EXCLUDED.ticks;",
                   (long long)b->symbol_id, b->interval_s, pg_i64(b->start_ns), (long long)b->open,
                   (long long)b->high, (long long)b->low, (long long)b->close, pg_i64(b->volume),
                   pg_i64(b->ticks)) < 0) {
        set_msg(s, "postgresql: out of memory");
        return fail(s, -ENOMEM, err, errlen);
    }
    return 0;
}

/* A gap row once: the same batch sent again after a lost COMMIT answer
 * adds no second row. */
static int pg_put_gap(struct stk_store *s, int64_t symbol_id, uint64_t generation,
                      uint64_t from_tick, uint64_t to_tick, uint64_t detected_ns, char *err,
                      size_t errlen)
{
    if (!s->open)
        return no_batch(s, err, errlen);
    long long id = (long long)symbol_id;
    if (buf_printf(&s->open->sql,
                   "INSERT INTO gaps (symbol_id, generation, from_tick, to_tick, detected_ns)"
                   " SELECT %lld, %lld, %lld, %lld, %lld WHERE NOT EXISTS (SELECT 1 FROM gaps"
                   " WHERE symbol_id = %lld AND generation = %lld AND from_tick = %lld"
                   " AND to_tick = %lld);",
                   id, pg_i64(generation), pg_i64(from_tick), pg_i64(to_tick), pg_i64(detected_ns),
                   id, pg_i64(generation), pg_i64(from_tick), pg_i64(to_tick)) < 0) {
        set_msg(s, "postgresql: out of memory");
        return fail(s, -ENOMEM, err, errlen);
    }
    return 0;
}

/* The batch is stored now, or waits for the server within the budget
 * (then 0 as well: the caller moves on, the batch is sent once the server
 * is back). -ENOTCONN: the server is away and the budget is full; the
 * batch is not taken (the caller keeps its ticks, and records what the
 * rings lose meanwhile as gaps). -EIO: the server refused a batch. */
static int pg_commit(struct stk_store *s, char *err, size_t errlen)
{
    if (!s->open)
        return no_batch(s, err, errlen);
    struct pg_batch *b = s->open;
    if (s->head && s->queued_bytes + batch_bytes(b) > s->budget) {
        int r = pg_flush(s);
        if (r < 0 && s->head && s->queued_bytes + batch_bytes(b) > s->budget) {
            size_t n = strlen(s->msg);
            snprintf(s->msg + n, sizeof(s->msg) - n, " (%zu batches, %zu bytes waiting: full)",
                     s->queued, s->queued_bytes);
            batch_free(b);
            s->open = NULL;
            return fail(s, -ENOTCONN, err, errlen);
        }
    }
    s->open = NULL;
    b->next = NULL;
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
    s->queued++;
    s->queued_bytes += batch_bytes(b);
    int r = pg_flush(s);
    if (r == -ENOTCONN)
        return 0;
    return r < 0 ? fail(s, r, err, errlen) : 0;
}

static int pg_retain(struct stk_store *s, uint64_t older_than_ns, enum stk_store_kind kind,
                     int max_rows, char *err, size_t errlen)
{
    int r = pg_ensure(s);
    if (r < 0)
        return fail(s, r, err, errlen);
    char sql[320];
    const char *table = kind == STK_STORE_BARS ? "bars" : "ticks";
    snprintf(sql, sizeof(sql),
             "DELETE FROM %s WHERE ctid IN (SELECT ctid FROM %s WHERE %s < %lld LIMIT %d)", table,
             table, kind == STK_STORE_BARS ? "start_ns" : "src_ts_ns", pg_i64(older_than_ns),
             max_rows > 0 ? max_rows : 1);
    PGresult *res = PQexec(s->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        r = pg_err(s, "retention", res);
    else
        r = atoi(PQcmdTuples(res));
    PQclear(res);
    return r < 0 ? fail(s, r, err, errlen) : r;
}

/* One last try to send what waits (a server that is up takes it); what
 * still waits is lost here and found again in the rings by the next start
 * (resume after max(tick)) while they hold it. */
static void pg_close(struct stk_store *s)
{
    if (!s)
        return;
    batch_free(s->open);
    if (s->head && s->conn)
        (void)pg_flush(s);
    while (s->head)
        queue_pop(s);
    if (s->conn)
        PQfinish(s->conn);
    free(s->conninfo);
    free(s);
}

const struct stk_store_ops stk_store_pg = {
    .scheme = "postgresql",
    .open = pg_open,
    .symbol_id = pg_symbol_id,
    .last_tick = pg_last_tick,
    .get_tick = pg_get_tick,
    .get_bar = pg_get_bar,
    .begin = pg_begin,
    .put_ticks = pg_put_ticks,
    .put_bar = pg_put_bar,
    .put_gap = pg_put_gap,
    .commit = pg_commit,
    .retain = pg_retain,
    .close = pg_close,
};
