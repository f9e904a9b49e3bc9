/* SPDX-License-Identifier: MIT */
/* config-private.h — etc/seqtick.conf (INI, libinih): every key of docs/configuration.md
 * with its default; unknown keys and bad values are errors naming file:line. */
#ifndef SEQTICK_CONFIG_PRIVATE_H
#define SEQTICK_CONFIG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define STK_CONF_ERR_MAX 512

/* Room for the line of every top-level key (see stk_config_where). */
#define STK_CONF_KEYS_MAX 96

/* First line of the supervisor's copy of an accepted file: "# seqtick:
 * accepted copy of PATH". A file that starts with it is reported as PATH,
 * its lines numbered from the line after the mark (the original's lines). */
#define STK_CONF_COPY_MARK "# seqtick: accepted copy of "

/* An inheritable per-program value is -1 until set. */
struct stk_program_conf {
    char *name;    /* NAME of [program.NAME] */
    char *command; /* run by /bin/sh -c; required */
    int64_t grace_ms, backoff_min_ms, backoff_max_ms, max_restarts, restart_window_s;
    int line;                 /* line of its first key */
    int restart;              /* STK_RESTART_*, -1 until set */
    int64_t ready_timeout_ms; /* -1 until set */
};

/* restart = always | on-failure | never */
enum { STK_RESTART_ALWAYS, STK_RESTART_ON_FAILURE, STK_RESTART_NEVER };

/* A sim parameter: one value for every symbol, with exceptions per symbol
 * (volatility, drift: "0.25 TSLA=0.6") or per pair of symbols (correlation:
 * "0.3 AAPL:MSFT=0.8"). */
struct stk_sym_value {
    char a[32], b[32]; /* symbol names; b is "" unless a pair */
    double v;
};

struct stk_sim_param {
    double all;               /* every symbol (pair) without an exception */
    size_t n;                 /* exceptions */
    struct stk_sym_value *by; /* in the order written */
};

struct stk_config {
    char *path;                  /* the file read, or NULL for defaults only */
    int line[STK_CONF_KEYS_MAX]; /* where each key was set (0: default); stk_config_where() */

    struct {
        char *name;
        uint32_t capacity;
        uint32_t history;
        mode_t mode;
        bool unlink_on_exit;
        char *owner; /* expected owner of the segment (user or uid); NULL = the reader's */
    } shm;

    struct {
        char *feed;     /* "sim", "csv:PATH", "exec:COMMAND", "stdin", "nats:URL,…" */
        char **symbols; /* NULL-terminated */
        size_t nsymbols;
        uint64_t rate; /* sim ticks/s, all symbols; 0 = as fast as possible */
        uint64_t seed;
        uint32_t heartbeat_ms;
        double speed;                     /* csv replay: 1 real time, 0 as fast as possible */
        bool loop;                        /* csv replay: start over at the end */
        char *csv_time_unit;              /* "auto", "s", "ms", "us", "ns" */
        struct stk_sim_param correlation; /* sim: pairwise correlation of returns */
        struct stk_sim_param volatility;  /* sim: annualised σ */
        struct stk_sim_param drift;       /* sim: annualised μ */
        uint32_t stats_interval_s;        /* 0 = no periodic stats line */
        int64_t ingest_grace_ms;          /* exec: SIGTERM→SIGKILL grace for the ingestor */
        char *nats_subject;               /* nats: feed: subject subscribed for ticks */
        char *nats_user, *nats_password, *nats_token, *nats_creds; /* nats: auth; "" = unset */
        char *nats_tls_ca, *nats_tls_cert, *nats_tls_key;          /* nats: TLS; "" = unset */
    } producer;

    struct {
        char *listen; /* "127.0.0.1:7878", "[::1]:7878" */
        uint64_t max_line_bytes;
        uint64_t max_connections;
        uint64_t freshness_ms;
        uint64_t idle_timeout_s;
        uint64_t out_buffer_bytes;
        uint32_t stats_interval_s;
        uint32_t flush_us;      /* events: one send per connection per window at most */
        uint64_t sndbuf_bytes;  /* SO_SNDBUF of subscribed connections; 0: autotuned */
        char *http_listen;      /* the HTTP face; "" or "off" = none */
        char *http_cors_origin; /* "" = no CORS header */
    } server;

    struct {
        int64_t grace_ms;
        int64_t backoff_min_ms;
        int64_t backoff_max_ms;
        int64_t max_restarts;
        int64_t restart_window_s;
        int64_t watchdog_ms;      /* producer heartbeat stuck this long: SIGKILL; 0 = off */
        int restart;              /* STK_RESTART_*: [program.*] default (built-ins: always) */
        int64_t ready_timeout_ms; /* not ready this long after start: logged; 0 = off */
        char *pidfile;
        char *status_file;    /* default pidfile + ".status" */
        char *control_socket; /* default pidfile + ".sock" */
        char *bindir;         /* NULL: beside our executable, build tree, PATH */
    } supervisor;

    struct {
        int level;  /* STK_LOG_* */
        int format; /* STK_LOG_TEXT / STK_LOG_JSON */
    } log;

    struct {
        char *nats;           /* "off", or nats://host:port[,nats://…] */
        char *subject;        /* ticks go to SUBJECT.SYMBOL, heartbeats to SUBJECT._hb */
        uint64_t max_pending; /* ticks held while NATS lags; past it: conflated */
        char *user, *password, *token, *creds; /* NATS auth; "" = unset */
        char *tls_ca, *tls_cert, *tls_key;     /* NATS TLS; "" = unset */
    } bridge;

    struct {
        char *store;       /* "off", sqlite:PATH, postgresql:CONNINFO, csv:DIR */
        char *bars;        /* bar intervals, "1s 1m 1h 1d" */
        uint32_t batch_ms; /* one store transaction per this long */
        char *retention;   /* "ticks=DUR bars=DUR", 0 = keep */
    } recorder;

    struct stk_program_conf *programs;
    size_t nprograms;
};

/* ---- the schema: one row per key, one list of sections (config.c) ------ */

/* How a value is read and stored. */
enum stk_conf_type {
    STK_CT_STR,     /* any non-empty string (char *) */
    STK_CT_STR0,    /* any string, empty allowed (char *) */
    STK_CT_U32,     /* unsigned in [min, max] (uint32_t) */
    STK_CT_U64,     /* unsigned in [min, max] (uint64_t) */
    STK_CT_I64,     /* signed in [min, max] (int64_t) */
    STK_CT_POW2,    /* power of two in [min, max] (uint32_t) */
    STK_CT_BOOL,    /* true/false/yes/no/on/off/1/0 (bool) */
    STK_CT_DOUBLE,  /* finite, in [min, max] (double) */
    STK_CT_MODE,    /* octal permissions, never o+w (mode_t) */
    STK_CT_SHM,     /* POSIX shm name (char *) */
    STK_CT_FEED,    /* sim | csv:PATH | exec:COMMAND | stdin (char *) */
    STK_CT_LISTEN,  /* host:port | [v6]:port (char *) */
    STK_CT_LISTEN0, /* the same, empty = off (char *) */
    STK_CT_SYMBOLS, /* comma- or space-separated symbols (char **, producer.nsymbols) */
    STK_CT_LEVEL,   /* log level (int) */
    STK_CT_FORMAT,  /* log format (int) */
    STK_CT_RESTART, /* always | on-failure | never (int) */
    STK_CT_UNIT,    /* auto | s | ms | us | ns (char *) */
    STK_CT_SIMSYM,  /* a number and/or SYMBOL=number items, each in [min, max] */
    STK_CT_SIMPAIR, /* a number and/or SYM1:SYM2=number items, each in [min, max] */
};

/* One key: everything about it in one place. Its default is written as in
 * the file and read by the same code as a value, so it is always valid. */
struct stk_conf_row {
    const char *name; /* key within its section */
    enum stk_conf_type type;
    size_t off;        /* its field in struct stk_config ([program.*]: stk_program_conf) */
    double min, max;   /* range of a number, or of each item of a list */
    const char *def;   /* the default as a value; NULL: none (NULL, or -1 = inherited) */
    const char *shown; /* the default as docs/configuration.md shows it; NULL: `def` */
    const char *doc;   /* what it means, one line */
};

/* One section's rows. A program contributes its own section: a struct in
 * struct stk_config, a row array, one entry in stk_config_sections[]. */
struct stk_conf_section {
    const char *name; /* "shm"; "program" stands for every [program.NAME] */
    const struct stk_conf_row *rows;
    size_t nrows;
    bool child; /* a built-in child's own section: no [program.NAME] may take its name */
};

/* Every section in file order, [program.NAME] last. */
extern const struct stk_conf_section stk_config_sections[];
extern const size_t stk_config_nsections;

/* The section named `name` ("program" for [program.*]), or NULL. */
const struct stk_conf_section *stk_config_section(const char *name);

/* A row's default as docs/configuration.md shows it (its `shown`, else its
 * `def` in backquotes), into buf. */
void stk_config_row_default(const struct stk_conf_row *row, char *buf, size_t size);

/* Print the schema to f as a Markdown table: key, default, range, meaning. */
void stk_config_schema_print(FILE *f);

/* Fill *c with every default (heap strings), read from the rows. Returns 0,
 * -ENOMEM, or -EINVAL if a row's default is not a valid value (a bug). */
int stk_config_defaults(struct stk_config *c);

/* Defaults, then `path` over them. Returns 0; -errno if the file cannot be
 * read; -EINVAL for a bad file, with "FILE:LINE: key: why" in err. *c is
 * untouched (not even allocated) on error. */
int stk_config_load(const char *path, struct stk_config *c, char err[STK_CONF_ERR_MAX]);

/* Read a whole config file into a heap string (NUL-terminated; a file that
 * holds a NUL byte is refused with -EINVAL, one over 16 MiB with -EFBIG).
 * Returns 0, or -errno with "…" in err. The supervisor reads once, then
 * validates, digests and copies that very text. */
int stk_config_read(const char *path, char **ret_text, char err[STK_CONF_ERR_MAX]);

/* "FILE:LINE" where `key` ("section.name") was set, or "FILE" when it kept
 * its default, into buf: the prefix of a message about that key. */
void stk_config_where(const struct stk_config *c, const char *key, char *buf, size_t size);

/* The same for a string, `origin` standing in for the file name. */
int stk_config_load_string(const char *text, const char *origin, struct stk_config *c,
                           char err[STK_CONF_ERR_MAX]);

/* Readers' open options for shm.owner (`owner`: a user name or a uid;
 * NULL or "" = the reader's own uid). Returns 0, -ENOENT no such user, or
 * -errno of the user database. */
struct stk_seg_open_opts;
int stk_config_owner(const char *owner, struct stk_seg_open_opts *ret);

/* Free what a loaded config holds; the struct may be reused. */
void stk_config_free(struct stk_config *c);

/* The [program.NAME] entry named `name`, or NULL. */
const struct stk_program_conf *stk_config_program(const struct stk_config *c, const char *name);

/* Index of `name` in producer.symbols, or -1. */
int stk_config_symbol_index(const struct stk_config *c, const char *name);

/* A sim parameter's value for symbol `a` (b NULL), or for the pair a, b in
 * either order: its exception if there is one, else p->all. */
double stk_sim_param_value(const struct stk_sim_param *p, const char *a, const char *b);

/* Split "host:port" / "[v6]:port" into host (no brackets) and port. Returns 0
 * or -EINVAL. */
int stk_listen_parse(const char *listen, char *host, size_t hostsz, uint16_t *port);

#endif
