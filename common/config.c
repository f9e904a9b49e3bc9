/* SPDX-License-Identifier: MIT */
/* config.c — etc/seqtick.conf over libinih. The schema is one row per key
 * (type, field, range, default, doc line), one row array per section, the
 * sections in one list; the defaults, the parse, the messages and
 * --help-config all read it. Unknown sections or keys, duplicates and bad
 * values are errors that name FILE:LINE and the key. */
#include <errno.h>
#include <pwd.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config-private.h"
#include "log-private.h"
#include "segment-private.h"

#define F(field) offsetof(struct stk_config, field)
#define P(field) offsetof(struct stk_program_conf, field)
#define BIG 9.0e18
#define ROWS(a) (a), sizeof(a) / sizeof((a)[0])

/* ---- the schema ---------------------------------------------------------- */

static const struct stk_conf_row rows_shm[] = {
    {"name", STK_CT_SHM, F(shm.name), 0, 0, "/seqtick", NULL,
     "POSIX shm name (/dev/shm/NAME): '/' then letters, digits, '.', '_', '-'"},
    {"capacity", STK_CT_U32, F(shm.capacity), 1, STK_CAPACITY_MAX, "1024", NULL, "max symbols"},
    {"history", STK_CT_POW2, F(shm.history), 1, STK_HISTORY_MAX, "256", NULL,
     "ticks kept per symbol, a power of two"},
    {"mode", STK_CT_MODE, F(shm.mode), 0, 0, "0640", NULL,
     "segment permissions, octal; world-writable modes are refused"},
    {"unlink_on_exit", STK_CT_BOOL, F(shm.unlink_on_exit), 0, 0, "true", NULL,
     "remove the segment on a clean supervisor exit"},
    {"owner", STK_CT_STR0, F(shm.owner), 0, 0, NULL, "(empty)",
     "user (name or uid) that must own the segment; empty: the reader's own uid"},
};

static const struct stk_conf_row rows_producer[] = {
    {"feed", STK_CT_FEED, F(producer.feed), 0, 0, "sim", NULL,
     "sim, csv:PATH, exec:COMMAND, stdin, nats:URL[,URL...]"},
    {"symbols", STK_CT_SYMBOLS, F(producer.symbols), 0, 0,
     "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM", NULL,
     "symbols for sim, separated by commas or spaces"},
    {"rate", STK_CT_U64, F(producer.rate), 0, 1e9, "1000", NULL,
     "sim ticks per second, all symbols together; 0 = as fast as possible"},
    {"seed", STK_CT_U64, F(producer.seed), 0, BIG, "1", NULL, "sim RNG seed"},
    {"heartbeat_ms", STK_CT_U32, F(producer.heartbeat_ms), 1, 3600000, "100", NULL,
     "header heartbeat interval"},
    {"speed", STK_CT_DOUBLE, F(producer.speed), 0, 1e6, "1", NULL,
     "CSV replay speed: 1 = real time, 0 = as fast as possible"},
    {"loop", STK_CT_BOOL, F(producer.loop), 0, 0, "false", NULL,
     "CSV replay starts over at the end"},
    {"csv_time_unit", STK_CT_UNIT, F(producer.csv_time_unit), 0, 0, "auto", NULL,
     "CSV timestamps in s, ms, us, ns, or auto (by magnitude)"},
    {"correlation", STK_CT_SIMPAIR, F(producer.correlation), -0.99, 0.99, "0.3", NULL,
     "sim: correlation of returns of every pair, then SYM1:SYM2=VALUE exceptions"},
    {"volatility", STK_CT_SIMSYM, F(producer.volatility), 0, 10, "0.25", NULL,
     "sim: annualised volatility of every symbol, then SYMBOL=VALUE exceptions"},
    {"drift", STK_CT_SIMSYM, F(producer.drift), -10, 10, "0.05", NULL,
     "sim: annualised drift of every symbol, then SYMBOL=VALUE exceptions"},
    {"stats_interval_s", STK_CT_U32, F(producer.stats_interval_s), 0, 86400, "10", NULL,
     "periodic stats log line; 0 = off"},
    {"ingest_grace_ms", STK_CT_I64, F(producer.ingest_grace_ms), 0, 3600000, "2000", NULL,
     "exec: ingestor's SIGTERM to SIGKILL grace"},
    {"nats_subject", STK_CT_STR, F(producer.nats_subject), 0, 0, "seqtick.tick.>", NULL,
     "nats: feed: subject subscribed (ticks); its prefix + ._hb is the remote heartbeat"},
    {"nats_user", STK_CT_STR0, F(producer.nats_user), 0, 0, NULL, "(empty)",
     "nats: feed: NATS user (with nats_password)"},
    {"nats_password", STK_CT_STR0, F(producer.nats_password), 0, 0, NULL, "(empty)",
     "nats: feed: NATS password"},
    {"nats_token", STK_CT_STR0, F(producer.nats_token), 0, 0, NULL, "(empty)",
     "nats: feed: NATS token"},
    {"nats_creds", STK_CT_STR0, F(producer.nats_creds), 0, 0, NULL, "(empty)",
     "nats: feed: NATS .creds file (JWT + NKey seed)"},
    {"nats_tls_ca", STK_CT_STR0, F(producer.nats_tls_ca), 0, 0, NULL, "(empty)",
     "nats: feed: CA bundle; set: TLS on"},
    {"nats_tls_cert", STK_CT_STR0, F(producer.nats_tls_cert), 0, 0, NULL, "(empty)",
     "nats: feed: client certificate (with nats_tls_key)"},
    {"nats_tls_key", STK_CT_STR0, F(producer.nats_tls_key), 0, 0, NULL, "(empty)",
     "nats: feed: client key file"},
};

static const struct stk_conf_row rows_server[] = {
    {"listen", STK_CT_LISTEN, F(server.listen), 0, 0, "127.0.0.1:7878", NULL,
     "TCP address, host:port or [v6]:port; port 0 = any free port"},
    {"max_line_bytes", STK_CT_U64, F(server.max_line_bytes), 64, 1 << 30, "65536", NULL,
     "longer request line: BAD_REQUEST, connection closed"},
    {"max_connections", STK_CT_U64, F(server.max_connections), 1, 1e7, "10000", NULL,
     "beyond: accepted, sent an error line, closed"},
    {"freshness_ms", STK_CT_U64, F(server.freshness_ms), 1, BIG, "5000", NULL,
     "a quote older than this is stale"},
    {"idle_timeout_s", STK_CT_U64, F(server.idle_timeout_s), 0, 1e9, "300", NULL,
     "close connections idle this long; 0 = never"},
    {"out_buffer_bytes", STK_CT_U64, F(server.out_buffer_bytes), 4096, 1ull << 34, "4194304", NULL,
     "per-connection output cap: over it, SLOW_CONSUMER and closed"},
    {"flush_us", STK_CT_U32, F(server.flush_us), 0, 500, "50", NULL,
     "per-connection coalescing window for events: a subscriber gets at most one send of "
     "events per window, the first after a quiet spell at once; 0 = none"},
    {"sndbuf_bytes", STK_CT_U64, F(server.sndbuf_bytes), 0, 1ull << 26, "65536", NULL,
     "kernel send buffer of a subscribed connection (SO_SNDBUF; Linux doubles it): how "
     "much may queue in the kernel; 0 = the kernel's autotuning"},
    {"stats_interval_s", STK_CT_U32, F(server.stats_interval_s), 0, 86400, "10", NULL,
     "periodic stats log line; 0 = off"},
    {"http_listen", STK_CT_LISTEN0, F(server.http_listen), 0, 0, "127.0.0.1:7880", NULL,
     "HTTP/1.1 face (REST, SSE, WebSocket, metrics, dashboard); off or empty = none"},
    {"http_cors_origin", STK_CT_STR0, F(server.http_cors_origin), 0, 0, NULL, "(empty)",
     "HTTP: Access-Control-Allow-Origin sent with every answer; empty = none"},
};

static const struct stk_conf_row rows_supervisor[] = {
    {"grace_ms", STK_CT_I64, F(supervisor.grace_ms), 0, 3600000, "5000", NULL,
     "SIGTERM to a child's tree, then SIGKILL after this long"},
    {"backoff_min_ms", STK_CT_I64, F(supervisor.backoff_min_ms), 0, 3600000, "100", NULL,
     "first delay after a quick death"},
    {"backoff_max_ms", STK_CT_I64, F(supervisor.backoff_max_ms), 0, 86400000, "30000", NULL,
     "the delay doubles up to this"},
    {"max_restarts", STK_CT_I64, F(supervisor.max_restarts), 0, 1e9, "0", NULL,
     "give up after this many restarts within the window; 0 = never"},
    {"restart_window_s", STK_CT_I64, F(supervisor.restart_window_s), 1, 1e7, "60", NULL,
     "the window for max_restarts"},
    {"watchdog_ms", STK_CT_I64, F(supervisor.watchdog_ms), 0, 3600000, "5000", NULL,
     "SIGKILL a producer whose heartbeat stopped this long; 0 = off"},
    {"restart", STK_CT_RESTART, F(supervisor.restart), 0, 0, "always", NULL,
     "[program.*] restart policy: always, on-failure, never"},
    {"ready_timeout_ms", STK_CT_I64, F(supervisor.ready_timeout_ms), 0, 86400000, "10000", NULL,
     "a child not ready this long after its start is reported; 0 = never"},
    {"pidfile", STK_CT_STR, F(supervisor.pidfile), 0, 0, "/tmp/seqtick.pid", NULL,
     "flock'd: a second supervisor on it refuses to start"},
    {"status_file", STK_CT_STR, F(supervisor.status_file), 0, 0, NULL, "pidfile + `.status`",
     "JSON status, rewritten atomically on every change"},
    {"control_socket", STK_CT_STR, F(supervisor.control_socket), 0, 0, NULL, "pidfile + `.sock`",
     "unix socket for seqtick restart/stop/start/reload/status"},
    {"bindir", STK_CT_STR, F(supervisor.bindir), 0, 0, NULL, "—",
     "where seqtick-producer / seqtick-server are; unset: beside the supervisor, the "
     "build tree, PATH"},
};

static const struct stk_conf_row rows_log[] = {
    {"level", STK_CT_LEVEL, F(log.level), 0, 0, "info", NULL, "debug, info, warn, error"},
    {"format", STK_CT_FORMAT, F(log.format), 0, 0, "text", NULL,
     "text, or json for one JSON object a line"},
};

/* [program.NAME]: offsets into struct stk_program_conf; a number without a
 * default is -1 until set ([supervisor]'s value applies). */
static const struct stk_conf_row rows_bridge[] = {
    {"nats", STK_CT_STR, F(bridge.nats), 0, 0, "off", NULL,
     "NATS server URLs, comma-separated (nats://h:4222,nats://h2:4222); off: no bridge"},
    {"subject", STK_CT_STR, F(bridge.subject), 0, 0, "seqtick.tick", NULL,
     "ticks go to SUBJECT.SYMBOL, the heartbeat to SUBJECT._hb"},
    {"max_pending", STK_CT_U64, F(bridge.max_pending), 1, 1e8, "65536", NULL,
     "ticks held while NATS lags or is away; past it, the latest per symbol only (counted)"},
    {"user", STK_CT_STR0, F(bridge.user), 0, 0, NULL, "(empty)", "NATS user (with password)"},
    {"password", STK_CT_STR0, F(bridge.password), 0, 0, NULL, "(empty)", "NATS password"},
    {"token", STK_CT_STR0, F(bridge.token), 0, 0, NULL, "(empty)", "NATS token"},
    {"creds", STK_CT_STR0, F(bridge.creds), 0, 0, NULL, "(empty)",
     "NATS credentials file (JWT and NKey seed)"},
    {"tls_ca", STK_CT_STR0, F(bridge.tls_ca), 0, 0, NULL, "(empty)",
     "CA bundle file: turns TLS on and verifies the server"},
    {"tls_cert", STK_CT_STR0, F(bridge.tls_cert), 0, 0, NULL, "(empty)",
     "client certificate file (with tls_key), turns TLS on"},
    {"tls_key", STK_CT_STR0, F(bridge.tls_key), 0, 0, NULL, "(empty)", "client key file"},
};

static const struct stk_conf_row rows_recorder[] = {
    {"store", STK_CT_STR, F(recorder.store), 0, 0, "off", NULL,
     "sqlite:PATH, postgresql:CONNINFO, csv:DIR, or off (no recorder); relative paths: "
     "against the supervisor's working directory"},
    {"bars", STK_CT_STR0, F(recorder.bars), 0, 0, "1s 1m 1h 1d", NULL,
     "OHLC bar intervals (s, m, h, d), space-separated; empty = no bars"},
    {"batch_ms", STK_CT_U32, F(recorder.batch_ms), 1, 60000, "100", NULL,
     "one store transaction per this long"},
    {"retention", STK_CT_STR0, F(recorder.retention), 0, 0, "ticks=0 bars=0", NULL,
     "delete ticks/bars older than a duration (7d, 12h, 30m, 90s); 0 = keep"},
};

#define INHERITED "the `[supervisor]` value"
static const struct stk_conf_row rows_program[] = {
    {"command", STK_CT_STR, P(command), 0, 0, NULL, "required", "run by /bin/sh -c"},
    {"grace_ms", STK_CT_I64, P(grace_ms), 0, 3600000, NULL, INHERITED, "its grace_ms"},
    {"backoff_min_ms", STK_CT_I64, P(backoff_min_ms), 0, 3600000, NULL, INHERITED,
     "its backoff_min_ms"},
    {"backoff_max_ms", STK_CT_I64, P(backoff_max_ms), 0, 86400000, NULL, INHERITED,
     "its backoff_max_ms"},
    {"max_restarts", STK_CT_I64, P(max_restarts), 0, 1e9, NULL, INHERITED, "its max_restarts"},
    {"restart_window_s", STK_CT_I64, P(restart_window_s), 1, 1e7, NULL, INHERITED,
     "its restart_window_s"},
    {"restart", STK_CT_RESTART, P(restart), 0, 0, NULL, INHERITED,
     "always, on-failure (an exit 0 is done), never"},
    {"ready_timeout_ms", STK_CT_I64, P(ready_timeout_ms), 0, 86400000, NULL, INHERITED,
     "its ready_timeout_ms"},
};

#define PROGRAM "program"

const struct stk_conf_section stk_config_sections[] = {
    {"shm", ROWS(rows_shm), false},          {"producer", ROWS(rows_producer), true},
    {"server", ROWS(rows_server), true},     {"supervisor", ROWS(rows_supervisor), false},
    {"log", ROWS(rows_log), false},          {"bridge", ROWS(rows_bridge), true},
    {"recorder", ROWS(rows_recorder), true}, {PROGRAM, ROWS(rows_program), false},
};
const size_t stk_config_nsections = sizeof(stk_config_sections) / sizeof(stk_config_sections[0]);

#define PROGRAMS_MAX 64
_Static_assert(sizeof(rows_program) / sizeof(rows_program[0]) <= 32, "ctx.pseen[] is too short");

struct ctx {
    struct stk_config *c;
    int line;                     /* the line inih is on (counted by src_read) */
    char msg[STK_CONF_ERR_MAX];   /* first error, without FILE:LINE */
    bool seen[STK_CONF_KEYS_MAX]; /* per top-level key (key_index()) */
    uint32_t pseen[PROGRAMS_MAX]; /* bit per program key */
};

static void free_symbols(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int stk_config_owner(const char *owner, struct stk_seg_open_opts *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!owner || !*owner)
        return 0;
    char *end;
    errno = 0;
    unsigned long uid = strtoul(owner, &end, 10);
    if (*owner >= '0' && *owner <= '9' && !*end && !errno && uid < UINT32_MAX) {
        ret->flags = STK_OPEN_OWNER;
        ret->owner_uid = (uint32_t)uid;
        return 0;
    }
    struct passwd pw, *found = NULL;
    char buf[4096];
    int r = getpwnam_r(owner, &pw, buf, sizeof(buf), &found);
    if (r != 0)
        return -r;
    if (!found)
        return -ENOENT;
    ret->flags = STK_OPEN_OWNER;
    ret->owner_uid = (uint32_t)found->pw_uid;
    return 0;
}

static bool is_program(const struct stk_conf_section *sec)
{
    return !strcmp(sec->name, PROGRAM);
}

const struct stk_conf_section *stk_config_section(const char *name)
{
    for (size_t s = 0; s < stk_config_nsections; s++)
        if (!strcmp(stk_config_sections[s].name, name))
            return &stk_config_sections[s];
    return NULL;
}

static const struct stk_conf_row *row_find(const struct stk_conf_section *sec, const char *name)
{
    for (size_t r = 0; r < sec->nrows; r++)
        if (!strcmp(sec->rows[r].name, name))
            return &sec->rows[r];
    return NULL;
}

/* Append ", " (unless first), a and b to the list in buf (*len long). */
static void list_add(char *buf, size_t size, size_t *len, const char *a, const char *b)
{
    int w = snprintf(buf + *len, size - *len, "%s%s%s", *len ? ", " : "", a, b);
    if (w > 0 && (size_t)w < size - *len)
        *len += (size_t)w;
}

/* Index of a top-level key (section `section`, first `slen` bytes, key
 * `name`) among every top-level row, for line[] and seen[]; -1 if none. */
static int key_index(const char *section, size_t slen, const char *name)
{
    int base = 0;
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        if (is_program(sec))
            continue;
        const struct stk_conf_row *k;
        if (strlen(sec->name) == slen && !strncmp(sec->name, section, slen) &&
            (k = row_find(sec, name)))
            return base + (int)(k - sec->rows);
        base += (int)sec->nrows;
    }
    return -1;
}

/* Free what the fields of `rows` at base hold, and clear them. */
static void rows_free(const struct stk_conf_row *rows, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        void *field = (char *)base + rows[i].off;
        switch (rows[i].type) {
        case STK_CT_STR:
        case STK_CT_STR0:
        case STK_CT_SHM:
        case STK_CT_FEED:
        case STK_CT_LISTEN:
        case STK_CT_LISTEN0:
        case STK_CT_UNIT:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case STK_CT_SYMBOLS:
            free_symbols(*(char ***)field);
            *(char ***)field = NULL;
            break;
        case STK_CT_SIMSYM:
        case STK_CT_SIMPAIR: {
            struct stk_sim_param *sp = field;
            free(sp->by);
            sp->by = NULL;
            sp->n = 0;
            break;
        }
        default:
            break;
        }
    }
}

static void program_free(struct stk_program_conf *p)
{
    const struct stk_conf_section *sec = stk_config_section(PROGRAM);
    rows_free(sec->rows, sec->nrows, p);
    free(p->name);
}

void stk_config_free(struct stk_config *c)
{
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        if (!is_program(sec))
            rows_free(sec->rows, sec->nrows, c);
    }
    for (size_t i = 0; i < c->nprograms; i++)
        program_free(&c->programs[i]);
    free(c->programs);
    free(c->path);
    memset(c, 0, sizeof(*c));
}

static int set_value(struct ctx *x, const struct stk_conf_row *k, void *base, const char *what,
                     const char *v);

/* The rows' defaults into the fields at base (zeroed by the caller): `def`
 * read as a value; a number or policy without one is -1 (inherited). */
static int rows_default(struct ctx *x, const char *section, const struct stk_conf_row *rows,
                        size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        const struct stk_conf_row *k = &rows[i];
        void *field = (char *)base + k->off;
        char what[96];
        snprintf(what, sizeof(what), "%s.%s", section, k->name);
        if (k->def && !set_value(x, k, base, what, k->def))
            return strstr(x->msg, "out of memory") ? -ENOMEM : -EINVAL;
        if (!k->def && k->type == STK_CT_I64)
            *(int64_t *)field = -1;
        else if (!k->def && k->type == STK_CT_RESTART)
            *(int *)field = -1;
    }
    return 0;
}

int stk_config_defaults(struct stk_config *c)
{
    struct ctx x;
    memset(c, 0, sizeof(*c));
    memset(&x, 0, sizeof(x));
    x.c = c;
    size_t keys = 0;
    for (size_t s = 0; s < stk_config_nsections; s++)
        keys += is_program(&stk_config_sections[s]) ? 0 : stk_config_sections[s].nrows;
    if (keys > STK_CONF_KEYS_MAX) /* line[] and seen[] are too short: a bug */
        return -EINVAL;
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        int r = is_program(sec) ? 0 : rows_default(&x, sec->name, sec->rows, sec->nrows, c);
        if (r < 0) {
            stk_config_free(c);
            return r;
        }
    }
    return 0;
}

static int fail(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *x, const char *fmt, ...)
{
    if (!x->msg[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
        va_end(ap);
    }
    return 0; /* inih: handler error */
}

static bool parse_u64(const char *v, uint64_t *ret)
{
    if (!*v || *v == '-' || *v == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end)
        return false;
    *ret = x;
    return true;
}

static bool parse_i64(const char *v, int64_t *ret)
{
    if (!*v || *v == '+')
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return false;
    *ret = x;
    return true;
}

/* The next item of a list separated by commas, spaces or tabs: its start,
 * its length in *len, and *p moved past it; NULL at the end. */
static const char *list_item(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s == ',' || *s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ' && *e != '\t')
        e++;
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

static int bad_symbol(struct ctx *x, const char *what, const char *s, size_t len)
{
    return fail(x, "%s: bad symbol '%.*s' (1..31 printable characters, no spaces)", what,
                (int)(len > 40 ? 40 : len), s);
}

static int parse_symbols(struct ctx *x, const char *what, const char *v, char ***ret, size_t *ret_n)
{
    size_t cap = 8, n = 0;
    char **out = calloc(cap + 1, sizeof(char *));
    if (!out)
        return fail(x, "%s: out of memory", what);
    const char *p = v, *s;
    size_t len;
    while ((s = list_item(&p, &len))) {
        if (stk_sym_check(s, len) < 0) {
            free_symbols(out);
            return bad_symbol(x, what, s, len);
        }
        for (size_t i = 0; i < n; i++)
            if (strlen(out[i]) == len && !memcmp(out[i], s, len)) {
                free_symbols(out);
                return fail(x, "%s: symbol '%.*s' listed twice", what, (int)len, s);
            }
        if (n == cap) {
            char **grown = realloc(out, (cap * 2 + 1) * sizeof(char *));
            if (!grown) {
                free_symbols(out);
                return fail(x, "%s: out of memory", what);
            }
            out = grown;
            cap *= 2;
        }
        out[n] = strndup(s, len);
        out[++n] = NULL;
    }
    if (n == 0) {
        free_symbols(out);
        return fail(x, "%s: at least one symbol is required", what);
    }
    *ret = out;
    *ret_n = n;
    return 1;
}

/* One name of an exception: a symbol as producer.symbols spells it. */
static int sim_name(struct ctx *x, const char *what, const char *s, size_t len, char out[32])
{
    if (stk_sym_check(s, len) < 0)
        return bad_symbol(x, what, s, len);
    memcpy(out, s, len);
    out[len] = 0;
    return 1;
}

/* "0.25", "TSLA=0.6 NVDA=0.5", "0.3, AAPL:MSFT=0.8": at most one bare
 * number (every symbol), then exceptions, each once, each in range. */
static int parse_sim_param(struct ctx *x, const struct stk_conf_row *k, const char *what,
                           const char *v, struct stk_sim_param *ret)
{
    bool pairs = k->type == STK_CT_SIMPAIR;
    struct stk_sim_param out = {.all = ret->all};
    bool have_all = false;
    size_t cap = 0;
    const char *p = v, *s;
    size_t len;
    while ((s = list_item(&p, &len))) {
        char item[96];
        if (len >= sizeof(item)) {
            fail(x, "%s: item '%.40s...' is too long", what, s);
            goto bad;
        }
        memcpy(item, s, len);
        item[len] = 0;
        char *eq = strrchr(item, '=');
        const char *num = eq ? eq + 1 : item;
        char *end;
        errno = 0;
        double d = strtod(num, &end);
        if (!*num || *end || errno || !isfinite(d)) {
            fail(x, "%s: '%s' in '%s' is not a number", what, num, item);
            goto bad;
        }
        if (d < k->min || d > k->max) {
            fail(x, "%s: %s in '%s' is out of range (%g..%g)", what, num, item, k->min, k->max);
            goto bad;
        }
        if (!eq) {
            if (have_all) {
                fail(x,
                     "%s: two values for every symbol ('%g' and '%s'); exceptions are "
                     "written %s=VALUE",
                     what, out.all, item, pairs ? "SYM1:SYM2" : "SYMBOL");
                goto bad;
            }
            have_all = true;
            out.all = d;
            continue;
        }
        struct stk_sym_value sv = {.v = d};
        *eq = 0;
        if (pairs) {
            char *colon = strchr(item, ':');
            if (!colon || strchr(colon + 1, ':')) {
                fail(x, "%s: '%s' is not a pair like AAPL:MSFT=0.8", what, item);
                goto bad;
            }
            if (!sim_name(x, what, item, (size_t)(colon - item), sv.a) ||
                !sim_name(x, what, colon + 1, strlen(colon + 1), sv.b))
                goto bad;
            if (!strcmp(sv.a, sv.b)) {
                fail(x, "%s: '%s:%s' pairs a symbol with itself (its correlation is 1)", what, sv.a,
                     sv.b);
                goto bad;
            }
        } else if (!sim_name(x, what, item, strlen(item), sv.a)) {
            goto bad;
        }
        for (size_t i = 0; i < out.n; i++) {
            const struct stk_sym_value *o = &out.by[i];
            if ((!strcmp(o->a, sv.a) && !strcmp(o->b, sv.b)) ||
                (pairs && !strcmp(o->a, sv.b) && !strcmp(o->b, sv.a))) {
                fail(x, "%s: '%s%s%s' given twice", what, sv.a, pairs ? ":" : "", sv.b);
                goto bad;
            }
        }
        if (out.n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct stk_sym_value *grown = realloc(out.by, ncap * sizeof(*grown));
            if (!grown) {
                fail(x, "%s: out of memory", what);
                goto bad;
            }
            out.by = grown;
            cap = ncap;
        }
        out.by[out.n++] = sv;
    }
    if (!have_all && out.n == 0) {
        fail(x, "%s: is empty (a number, and/or %s=VALUE exceptions)", what,
             pairs ? "SYM1:SYM2" : "SYMBOL");
        goto bad;
    }
    free(ret->by);
    *ret = out;
    return 1;
bad:
    free(out.by);
    return 0;
}

static int set_str(struct ctx *x, const char *what, char **field, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return fail(x, "%s: out of memory", what);
    free(*field);
    *field = s;
    return 1;
}

/* Parse `v` per key k into base + k->off. Returns 1, or 0 after fail(). */
static int set_value(struct ctx *x, const struct stk_conf_row *k, void *base, const char *what,
                     const char *v)
{
    void *field = (char *)base + k->off;
    uint64_t u;
    int64_t i;
    char host[256];
    uint16_t port;
    switch (k->type) {
    case STK_CT_STR:
        if (!*v)
            return fail(x, "%s: must not be empty", what);
        return set_str(x, what, field, v);
    case STK_CT_STR0:
        return set_str(x, what, field, v);
    case STK_CT_U32:
    case STK_CT_U64:
    case STK_CT_POW2:
        if (!parse_u64(v, &u))
            return fail(x, "%s: '%s' is not a whole number", what, v);
        if ((double)u < k->min || (double)u > k->max)
            return fail(x, "%s: %s is out of range (%.0f..%.0f)", what, v, k->min, k->max);
        if (k->type == STK_CT_POW2 && (u & (u - 1)))
            return fail(x, "%s: %s is not a power of two", what, v);
        if (k->type == STK_CT_U64)
            *(uint64_t *)field = u;
        else
            *(uint32_t *)field = (uint32_t)u;
        return 1;
    case STK_CT_I64:
        if (!parse_i64(v, &i))
            return fail(x, "%s: '%s' is not a whole number", what, v);
        if ((double)i < k->min || (double)i > k->max)
            return fail(x, "%s: %s is out of range (%.0f..%.0f)", what, v, k->min, k->max);
        *(int64_t *)field = i;
        return 1;
    case STK_CT_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
            *(bool *)field = true;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
            *(bool *)field = false;
        else
            return fail(x, "%s: '%s' is not a boolean (true or false)", what, v);
        return 1;
    case STK_CT_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(d))
            return fail(x, "%s: '%s' is not a number", what, v);
        if (d < k->min || d > k->max)
            return fail(x, "%s: %s is out of range (%g..%g)", what, v, k->min, k->max);
        *(double *)field = d;
        return 1;
    }
    case STK_CT_MODE: {
        char *end;
        errno = 0;
        unsigned long m = strtoul(v, &end, 8);
        if (!*v || *end || errno || m > 0777)
            return fail(x, "%s: '%s' is not an octal mode like 0640", what, v);
        if (m & 0002)
            return fail(x, "%s: %s is world-writable; refused", what, v);
        if (!(m & 0600))
            return fail(x, "%s: %s leaves the owner without read-write access", what, v);
        *(mode_t *)field = (mode_t)m;
        return 1;
    }
    case STK_CT_SHM:
        if (stk_shm_name_check(v) < 0)
            return fail(x,
                        "%s: '%s' is not a shm name like /seqtick ('/' then letters, "
                        "digits, '.', '_', '-')",
                        what, v);
        return set_str(x, what, field, v);
    case STK_CT_FEED:
        if (strcmp(v, "sim") && strcmp(v, "stdin") && !(strncmp(v, "csv:", 4) == 0 && v[4]) &&
            !(strncmp(v, "exec:", 5) == 0 && v[5]) && !(strncmp(v, "nats:", 5) == 0 && v[5]))
            return fail(x, "%s: '%s' is not a feed (sim, csv:PATH, exec:COMMAND, stdin, nats:URL)",
                        what, v);
        return set_str(x, what, field, v);
    case STK_CT_LISTEN0:
        if (!*v || !strcmp(v, "off"))
            return set_str(x, what, field, v);
        /* fall through */
    case STK_CT_LISTEN:
        if (stk_listen_parse(v, host, sizeof(host), &port) < 0)
            return fail(x, "%s: '%s' is not an address like 127.0.0.1:7878 or [::1]:7878", what, v);
        return set_str(x, what, field, v);
    case STK_CT_SYMBOLS: {
        char **syms = NULL;
        size_t n = 0;
        if (!parse_symbols(x, what, v, &syms, &n))
            return 0;
        free_symbols(*(char ***)field);
        *(char ***)field = syms;
        x->c->producer.nsymbols = n;
        return 1;
    }
    case STK_CT_LEVEL: {
        int l = stk_log_level_parse(v);
        if (l < 0)
            return fail(x, "%s: '%s' is not a level (debug, info, warn, error)", what, v);
        *(int *)field = l;
        return 1;
    }
    case STK_CT_FORMAT: {
        int f = stk_log_format_parse(v);
        if (f < 0)
            return fail(x, "%s: '%s' is not a format (text, json)", what, v);
        *(int *)field = f;
        return 1;
    }
    case STK_CT_RESTART:
        if (!strcmp(v, "always"))
            *(int *)field = STK_RESTART_ALWAYS;
        else if (!strcmp(v, "on-failure"))
            *(int *)field = STK_RESTART_ON_FAILURE;
        else if (!strcmp(v, "never"))
            *(int *)field = STK_RESTART_NEVER;
        else
            return fail(x, "%s: '%s' is not a restart policy (always, on-failure, never)", what, v);
        return 1;
    case STK_CT_SIMSYM:
    case STK_CT_SIMPAIR:
        return parse_sim_param(x, k, what, v, field);
    case STK_CT_UNIT:
        if (strcmp(v, "auto") && strcmp(v, "s") && strcmp(v, "ms") && strcmp(v, "us") &&
            strcmp(v, "ns"))
            return fail(x, "%s: '%s' is not a time unit (auto, s, ms, us, ns)", what, v);
        return set_str(x, what, field, v);
    }
    return fail(x, "%s: internal: unknown key type", what);
}

static bool program_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int program_section(struct ctx *x, const char *section, const char *name, const char *value)
{
    struct stk_config *c = x->c;
    const char *pname = section + strlen("program.");
    char what[160];
    snprintf(what, sizeof(what), "[%s] %s", section, name);
    if (!program_name_ok(pname))
        return fail(x, "[%s]: program name must be 1..64 of [A-Za-z0-9_.-]", section);
    const struct stk_conf_section *own = stk_config_section(pname);
    if (own && own->child)
        return fail(x, "[%s]: '%s' is a built-in child's name", section, pname);
    const struct stk_conf_section *sec = stk_config_section(PROGRAM);
    size_t pi;
    for (pi = 0; pi < c->nprograms; pi++)
        if (!strcmp(c->programs[pi].name, pname))
            break;
    if (pi == c->nprograms) {
        if (pi == PROGRAMS_MAX)
            return fail(x, "[%s]: more than %d programs", section, PROGRAMS_MAX);
        struct stk_program_conf *grown =
            realloc(c->programs, (c->nprograms + 1) * sizeof(*c->programs));
        if (!grown)
            return fail(x, "%s: out of memory", what);
        c->programs = grown;
        struct stk_program_conf *p = &c->programs[c->nprograms];
        memset(p, 0, sizeof(*p));
        if (rows_default(x, PROGRAM, sec->rows, sec->nrows, p) < 0)
            return 0;
        p->line = x->line;
        if (!(p->name = strdup(pname)))
            return fail(x, "%s: out of memory", what);
        c->nprograms++;
        x->pseen[pi] = 0;
    }
    const struct stk_conf_row *k = row_find(sec, name);
    if (k) {
        uint32_t bit = 1u << (k - sec->rows);
        if (x->pseen[pi] & bit)
            return fail(x, "%s: set twice", what);
        x->pseen[pi] |= bit;
        return set_value(x, k, &c->programs[pi], what, value);
    }
    char known[STK_CONF_ERR_MAX / 2] = "";
    size_t len = 0;
    for (size_t r = 0; r < sec->nrows; r++)
        list_add(known, sizeof(known), &len, sec->rows[r].name, "");
    return fail(x, "%s: unknown key (%s)", what, known);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct ctx *x = user;
    char what[160];
    if (x->msg[0])
        return 0;
    if (!strncmp(section, "program.", 8))
        return program_section(x, section, name, value);
    snprintf(what, sizeof(what), "%s.%s", section, name);
    const struct stk_conf_section *sec = stk_config_section(section);
    if (!sec || is_program(sec)) {
        char known[STK_CONF_ERR_MAX / 2] = "";
        size_t len = 0;
        for (size_t s = 0; s < stk_config_nsections; s++)
            list_add(known, sizeof(known), &len, stk_config_sections[s].name,
                     is_program(&stk_config_sections[s]) ? ".NAME" : "");
        return fail(x, "%s: unknown section [%s] (%s)", what, section, known);
    }
    const struct stk_conf_row *k = row_find(sec, name);
    if (!k)
        return fail(x, "%s: unknown key", what);
    int i = key_index(section, strlen(section), name);
    if (x->seen[i])
        return fail(x, "%s: set twice", what);
    x->seen[i] = true;
    x->c->line[i] = x->line;
    return set_value(x, k, x->c, what, value);
}

static bool key_seen(const struct ctx *x, const char *section, const char *name)
{
    int i = key_index(section, strlen(section), name);
    return i >= 0 && x->seen[i];
}

/* Cross-key checks once everything is read. */
static int finish(struct ctx *x, const char *origin, char *err)
{
    struct stk_config *c = x->c;
    char at[STK_CONF_ERR_MAX];
    c->path = (char *)origin; /* for stk_config_where(); set for good by load() */
    if (c->supervisor.backoff_min_ms > c->supervisor.backoff_max_ms) {
        stk_config_where(c,
                         key_seen(x, "supervisor", "backoff_min_ms") ? "supervisor.backoff_min_ms"
                                                                     : "supervisor.backoff_max_ms",
                         at, sizeof(at));
        snprintf(err, STK_CONF_ERR_MAX,
                 "%s: supervisor.backoff_min_ms (%lld) is above backoff_max_ms (%lld)", at,
                 (long long)c->supervisor.backoff_min_ms, (long long)c->supervisor.backoff_max_ms);
        return -EINVAL;
    }
    /* Every SYMBOL=VALUE exception names one of producer.symbols. */
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        for (size_t r = 0; r < sec->nrows && !is_program(sec); r++) {
            const struct stk_conf_row *k = &sec->rows[r];
            if (k->type != STK_CT_SIMSYM && k->type != STK_CT_SIMPAIR)
                continue;
            const struct stk_sim_param *sp = (const void *)((const char *)c + k->off);
            for (size_t j = 0; j < sp->n; j++) {
                const char *name = sp->by[j].a;
                if (stk_config_symbol_index(c, name) >= 0 &&
                    (!sp->by[j].b[0] || stk_config_symbol_index(c, name = sp->by[j].b) >= 0))
                    continue;
                char what[96];
                snprintf(what, sizeof(what), "%s.%s", sec->name, k->name);
                stk_config_where(c, what, at, sizeof(at));
                snprintf(err, STK_CONF_ERR_MAX, "%s: %s: '%s' is not one of producer.symbols", at,
                         what, name);
                return -EINVAL;
            }
        }
    }
    /* The watchdog's default follows a slower heartbeat; a value set by hand
     * that would kill a healthy producer is an error. */
    int64_t hb3 = 3 * (int64_t)c->producer.heartbeat_ms;
    if (!key_seen(x, "supervisor", "watchdog_ms") && c->supervisor.watchdog_ms < 10 * hb3 / 3)
        c->supervisor.watchdog_ms = 10 * hb3 / 3;
    if (c->supervisor.watchdog_ms > 0 && c->supervisor.watchdog_ms < hb3) {
        stk_config_where(c, "supervisor.watchdog_ms", at, sizeof(at));
        snprintf(err, STK_CONF_ERR_MAX,
                 "%s: supervisor.watchdog_ms (%lld) is under 3 x producer.heartbeat_ms (%u): a "
                 "healthy producer would be killed",
                 at, (long long)c->supervisor.watchdog_ms, c->producer.heartbeat_ms);
        return -EINVAL;
    }
    /* recorder.store: off or a known scheme with something after the colon
     * (the recorder checks bars and retention itself at start) */
    const char *rs = c->recorder.store;
    if (strcmp(rs, "off") != 0 &&
        !((!strncmp(rs, "sqlite:", 7) && rs[7]) || (!strncmp(rs, "csv:", 4) && rs[4]) ||
          (!strncmp(rs, "postgresql:", 11) && rs[11]))) {
        stk_config_where(c, "recorder.store", at, sizeof(at));
        snprintf(err, STK_CONF_ERR_MAX,
                 "%s: recorder.store '%s': expected sqlite:PATH, postgresql:CONNINFO, csv:DIR or "
                 "off",
                 at, rs);
        return -EINVAL;
    }
    for (size_t i = 0; i < c->nprograms; i++)
        if (!c->programs[i].command) {
            snprintf(err, STK_CONF_ERR_MAX, "%s:%d: [program.%s]: command is required", origin,
                     c->programs[i].line, c->programs[i].name);
            return -EINVAL;
        }
    if (!c->supervisor.status_file) {
        size_t n = strlen(c->supervisor.pidfile) + sizeof(".status");
        if (!(c->supervisor.status_file = malloc(n)))
            return -ENOMEM;
        snprintf(c->supervisor.status_file, n, "%s.status", c->supervisor.pidfile);
    }
    if (!c->supervisor.control_socket) {
        size_t n = strlen(c->supervisor.pidfile) + sizeof(".sock");
        if (!(c->supervisor.control_socket = malloc(n)))
            return -ENOMEM;
        snprintf(c->supervisor.control_socket, n, "%s.sock", c->supervisor.pidfile);
    }
    return 0;
}

/* inih's reader over a string, one line (or the piece of one that fits)
 * per call, counting lines for the handler: a key's line is known when it
 * is set, so checks made after the whole file can still name it. */
struct src {
    const char *p;
    struct ctx *x;
    bool bol; /* the next piece starts a line */
};

static char *src_read(char *str, int num, void *stream)
{
    struct src *s = stream;
    if (!*s->p || num < 2)
        return NULL;
    size_t n = 0;
    while (n < (size_t)num - 1 && s->p[n] && (n == 0 || s->p[n - 1] != '\n'))
        n++;
    memcpy(str, s->p, n);
    str[n] = 0;
    if (s->bol)
        s->x->line++;
    s->bol = str[n - 1] == '\n';
    s->p += n;
    return str;
}

static int load(const char *text, const char *origin, struct stk_config *ret, char *err)
{
    struct stk_config c;
    struct ctx x;
    char copy_of[STK_CONF_ERR_MAX];
    /* The supervisor's copy of an accepted file names the original on its
     * first line: messages name that file, and its lines, not the copy. */
    size_t mark = strlen(STK_CONF_COPY_MARK);
    if (!strncmp(text, STK_CONF_COPY_MARK, mark)) {
        const char *eol = strchr(text, '\n');
        size_t n = eol ? (size_t)(eol - text) - mark : strlen(text + mark);
        snprintf(copy_of, sizeof(copy_of), "%.*s", (int)n, text + mark);
        origin = copy_of;
        text = eol ? eol + 1 : "";
    }
    int r = stk_config_defaults(&c);
    if (r < 0) {
        snprintf(err, STK_CONF_ERR_MAX, "%s: %s", origin,
                 r == -ENOMEM ? "out of memory" : "internal: the schema's defaults are invalid");
        return r;
    }
    memset(&x, 0, sizeof(x));
    x.c = &c;
    /* Debian's inih takes these at run time: heap line buffer that grows
     * (no silent cut at 200 bytes), stop at the first error, no multi-line
     * continuation (an indented line is an error, not a surprise). */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = 1 << 20;
    ini_stop_on_first_error = true;
    ini_allow_multiline = false;
    struct src in = {.p = text, .x = &x, .bol = true};
    int line = ini_parse_stream(src_read, &in, handler, &x);
    if (line != 0) {
        if (line < 0)
            snprintf(err, STK_CONF_ERR_MAX, "%s: cannot parse (out of memory)", origin);
        else if (x.msg[0])
            snprintf(err, STK_CONF_ERR_MAX, "%s:%d: %s", origin, line, x.msg);
        else
            snprintf(err, STK_CONF_ERR_MAX,
                     "%s:%d: syntax error (expected 'key = value' or '[section]')", origin, line);
        stk_config_free(&c);
        return -EINVAL;
    }
    r = finish(&x, origin, err);
    c.path = NULL;
    if (r == 0 && !(c.path = strdup(origin)))
        r = -ENOMEM;
    if (r < 0) {
        stk_config_free(&c);
        return r;
    }
    *ret = c;
    return 0;
}

#define CONF_BYTES_MAX (16u << 20)

int stk_config_read(const char *path, char **ret_text, char err[STK_CONF_ERR_MAX])
{
    FILE *f = fopen(path, "re");
    struct stat st;
    /* A directory opens for reading but reads as empty: refuse it, never run
     * on the defaults because of a wrong -c. */
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        f = NULL;
        errno = EISDIR;
    }
    if (!f) {
        int r = -errno;
        snprintf(err, STK_CONF_ERR_MAX, "unable to open config '%s': %s", path, strerror(errno));
        return r;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int r = buf ? 0 : -ENOMEM;
    while (r == 0) {
        if (len + 1 >= cap) {
            char *grown = cap < CONF_BYTES_MAX ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                r = cap < CONF_BYTES_MAX ? -ENOMEM : -EFBIG;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - 1 - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                r = -EIO;
            break;
        }
    }
    fclose(f);
    if (r == 0 && memchr(buf, 0, len))
        r = -EINVAL;
    if (r < 0) {
        snprintf(err, STK_CONF_ERR_MAX, "%s: %s", path,
                 r == -EINVAL  ? "holds a NUL byte (not a text file)"
                 : r == -EFBIG ? "larger than 16 MiB"
                               : strerror(-r));
        free(buf);
        return r;
    }
    buf[len] = 0;
    *ret_text = buf;
    return 0;
}

int stk_config_load(const char *path, struct stk_config *c, char err[STK_CONF_ERR_MAX])
{
    char *text = NULL;
    int r = stk_config_read(path, &text, err);
    if (r < 0 || !text)
        return r < 0 ? r : -ENOMEM;
    r = load(text, path, c, err);
    free(text);
    return r;
}

int stk_config_load_string(const char *text, const char *origin, struct stk_config *c,
                           char err[STK_CONF_ERR_MAX])
{
    return load(text, origin, c, err);
}

void stk_config_where(const struct stk_config *c, const char *key, char *buf, size_t size)
{
    const char *origin = c->path ? c->path : "(defaults)";
    const char *dot = strchr(key, '.');
    int i = dot ? key_index(key, (size_t)(dot - key), dot + 1) : -1;
    if (i >= 0 && c->line[i] > 0)
        snprintf(buf, size, "%s:%d", origin, c->line[i]);
    else
        snprintf(buf, size, "%s", origin);
}

void stk_config_row_default(const struct stk_conf_row *row, char *buf, size_t size)
{
    if (row->shown)
        snprintf(buf, size, "%s", row->shown);
    else
        snprintf(buf, size, "`%s`", row->def ? row->def : "");
}

void stk_config_schema_print(FILE *f)
{
    fputs("| key | default | range | meaning |\n|---|---|---|---|\n", f);
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        for (size_t r = 0; r < sec->nrows; r++) {
            const struct stk_conf_row *k = &sec->rows[r];
            char def[128], range[64] = "";
            stk_config_row_default(k, def, sizeof(def));
            if (k->type == STK_CT_DOUBLE || k->type == STK_CT_SIMSYM || k->type == STK_CT_SIMPAIR)
                snprintf(range, sizeof(range), "%g..%g", k->min, k->max);
            else if (k->type == STK_CT_U32 || k->type == STK_CT_U64 || k->type == STK_CT_I64 ||
                     k->type == STK_CT_POW2)
                snprintf(range, sizeof(range), "%.0f..%.0f", k->min, k->max);
            fprintf(f, "| `%s%s.%s` | %s | %s | %s |\n", sec->name, is_program(sec) ? ".NAME" : "",
                    k->name, def, range, k->doc);
        }
    }
}

const struct stk_program_conf *stk_config_program(const struct stk_config *c, const char *name)
{
    for (size_t i = 0; i < c->nprograms; i++)
        if (!strcmp(c->programs[i].name, name))
            return &c->programs[i];
    return NULL;
}

int stk_config_symbol_index(const struct stk_config *c, const char *name)
{
    for (size_t i = 0; i < c->producer.nsymbols; i++)
        if (!strcmp(c->producer.symbols[i], name))
            return (int)i;
    return -1;
}

double stk_sim_param_value(const struct stk_sim_param *p, const char *a, const char *b)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct stk_sym_value *v = &p->by[i];
        if (!b ? !strcmp(v->a, a) && !v->b[0]
               : (!strcmp(v->a, a) && !strcmp(v->b, b)) || (!strcmp(v->a, b) && !strcmp(v->b, a)))
            return v->v;
    }
    return p->all;
}

int stk_listen_parse(const char *listen, char *host, size_t hostsz, uint16_t *port)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon)
            return -EINVAL;
        hlen = (size_t)(colon - listen);
    }
    if (hlen == 0 || hlen >= hostsz)
        return -EINVAL;
    uint64_t p;
    if (!parse_u64(colon + 1, &p) || p > 65535)
        return -EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}
