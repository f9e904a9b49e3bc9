/* SPDX-License-Identifier: MIT */
/* test_config.c — defaults of every key, overrides, and errors that name
 * FILE:LINE and the key. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-private.h"
#include "log-private.h"
#include "testutil.h"

static char err[STK_CONF_ERR_MAX];

static void load_ok(const char *text, struct stk_config *c)
{
    err[0] = '\0';
    int r = stk_config_load_string(text, "t.conf", c, err);
    ck_assert_msg(r == 0, "load failed: %s", err);
}

/* Expect an error whose message contains `want`. */
static void load_bad(const char *text, const char *want)
{
    struct stk_config c;
    memset(&c, 0x5a, sizeof(c));
    err[0] = '\0';
    int r = stk_config_load_string(text, "t.conf", &c, err);
    ck_assert_msg(r == -EINVAL, "'%s' loaded (r=%d)", text, r);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

START_TEST(test_defaults)
{
    struct stk_config c;
    load_ok("", &c);
    ck_assert_str_eq(c.shm.name, "/seqtick");
    ck_assert_uint_eq(c.shm.capacity, 1024);
    ck_assert_uint_eq(c.shm.history, 256);
    ck_assert_uint_eq(c.shm.mode, 0640);
    ck_assert(c.shm.unlink_on_exit);
    ck_assert_str_eq(c.producer.feed, "sim");
    ck_assert_uint_eq(c.producer.nsymbols, 8);
    ck_assert_str_eq(c.producer.symbols[0], "AAPL");
    ck_assert_ptr_null(c.producer.symbols[8]);
    ck_assert_uint_eq(c.producer.rate, 1000);
    ck_assert_uint_eq(c.producer.seed, 1);
    ck_assert_uint_eq(c.producer.heartbeat_ms, 100);
    ck_assert_str_eq(c.server.listen, "127.0.0.1:7878");
    ck_assert_uint_eq(c.server.max_line_bytes, 65536);
    ck_assert_uint_eq(c.server.max_connections, 10000);
    ck_assert_uint_eq(c.server.freshness_ms, 5000);
    ck_assert_uint_eq(c.server.idle_timeout_s, 300);
    ck_assert_uint_eq(c.server.out_buffer_bytes, 4194304);
    ck_assert_int_eq(c.supervisor.grace_ms, 5000);
    ck_assert_int_eq(c.supervisor.backoff_min_ms, 100);
    ck_assert_int_eq(c.supervisor.backoff_max_ms, 30000);
    ck_assert_int_eq(c.supervisor.max_restarts, 0);
    ck_assert_int_eq(c.supervisor.restart_window_s, 60);
    ck_assert_int_eq(c.supervisor.watchdog_ms, 5000);
    ck_assert_str_eq(c.supervisor.pidfile, "/tmp/seqtick.pid");
    ck_assert_str_eq(c.supervisor.status_file, "/tmp/seqtick.pid.status");
    ck_assert_ptr_null(c.supervisor.bindir);
    ck_assert_int_eq(c.log.level, STK_LOG_INFO);
    ck_assert_int_eq(c.log.format, STK_LOG_TEXT);
    ck_assert_uint_eq(c.nprograms, 0);
    stk_config_free(&c);
}
END_TEST

START_TEST(test_overrides)
{
    struct stk_config c;
    load_ok("; comment\n# another\n"
            "[shm]\nname = /other\ncapacity = 16\nhistory = 64\nmode = 0600\n"
            "unlink_on_exit = false\n"
            "[producer]\nfeed = exec:python3 ingest.py --x 1\nsymbols = A, B,C  D\n"
            "rate = 0\nseed = 42\n"
            "[server]\nlisten = [::1]:0\n"
            "[supervisor]\npidfile = /run/x.pid\nbindir = /opt/bin\n"
            "[log]\nlevel = debug\nformat = json\n"
            "[program.sma]\ncommand = python3 sma.py ; inline comment\ngrace_ms = 100\n"
            "[program.rsi]\ncommand = ./rsi\n",
            &c);
    ck_assert_str_eq(c.shm.name, "/other");
    ck_assert_uint_eq(c.shm.capacity, 16);
    ck_assert_uint_eq(c.shm.history, 64);
    ck_assert_uint_eq(c.shm.mode, 0600);
    ck_assert(!c.shm.unlink_on_exit);
    ck_assert_str_eq(c.producer.feed, "exec:python3 ingest.py --x 1");
    ck_assert_uint_eq(c.producer.nsymbols, 4);
    ck_assert_str_eq(c.producer.symbols[3], "D");
    ck_assert_uint_eq(c.producer.rate, 0);
    ck_assert_str_eq(c.server.listen, "[::1]:0");
    ck_assert_str_eq(c.supervisor.status_file, "/run/x.pid.status");
    ck_assert_str_eq(c.supervisor.bindir, "/opt/bin");
    ck_assert_int_eq(c.log.level, STK_LOG_DEBUG);
    ck_assert_int_eq(c.log.format, STK_LOG_JSON);
    ck_assert_uint_eq(c.nprograms, 2);
    const struct stk_program_conf *p = stk_config_program(&c, "sma");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->command, "python3 sma.py");
    ck_assert_int_eq(p->grace_ms, 100);
    ck_assert_int_eq(p->max_restarts, -1); /* inherits */
    ck_assert_ptr_null(stk_config_program(&c, "nope"));
    stk_config_free(&c);
}
END_TEST

START_TEST(test_errors_name_place)
{
    load_bad("[shm]\nname = /x\n\ncolour = red\n", "t.conf:4: shm.colour: unknown key");
    load_bad("[shmm]\nname = /x\n", "t.conf:2: shmm.name: unknown section");
    load_bad("[shm]\nhistory = 100\n", "t.conf:2: shm.history: 100 is not a power of two");
    load_bad("[shm]\ncapacity = 0\n", "shm.capacity: 0 is out of range");
    load_bad("[shm]\ncapacity = -5\n", "shm.capacity: '-5' is not a whole number");
    load_bad("[shm]\ncapacity = 12abc\n", "'12abc' is not a whole number");
    load_bad("[shm]\ncapacity = 99999999999999999999999\n", "not a whole number");
    load_bad("[shm]\nmode = 0666\n", "shm.mode: 0666 is world-writable");
    load_bad("[shm]\nmode = 0648\n", "not an octal mode");
    load_bad("[shm]\nname = seqtick\n", "shm.name: 'seqtick' is not a shm name");
    load_bad("[shm]\nname = /a/b\n", "is not a shm name");
    load_bad("[shm]\nunlink_on_exit = maybe\n", "'maybe' is not a boolean");
    load_bad("[shm]\ncapacity = 8\ncapacity = 9\n", "t.conf:3: shm.capacity: set twice");
    load_bad("[producer]\nfeed = kafka\n", "producer.feed: 'kafka' is not a feed");
    load_bad("[producer]\nfeed = csv:\n", "is not a feed");
    load_bad("[producer]\nsymbols = AAPL, AAPL\n", "'AAPL' listed twice");
    load_bad("[producer]\nsymbols = ,,\n", "at least one symbol");
    load_bad("[producer]\nsymbols = ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG\n", "bad symbol");
    load_bad("[producer]\nspeed = fast\n", "'fast' is not a number");
    load_bad("[producer]\nspeed = nan\n", "is not a number");
    load_bad("[server]\nlisten = 127.0.0.1\n", "server.listen: '127.0.0.1' is not an address");
    load_bad("[server]\nlisten = 127.0.0.1:70000\n", "is not an address");
    load_bad("[server]\nlisten = ::1:80\n", "is not an address");
    load_bad("[log]\nlevel = loud\n", "log.level: 'loud' is not a level");
    load_bad("[log]\nformat = xml\n", "log.format: 'xml' is not a format");
    load_bad("[supervisor]\nbackoff_min_ms = 500\nbackoff_max_ms = 100\n", "backoff_min_ms");
    load_bad("[supervisor]\npidfile =\n", "supervisor.pidfile: must not be empty");
    load_bad("[supervisor]\nwatchdog_ms = 250\n",
             "supervisor.watchdog_ms (250) is under 3 x producer.heartbeat_ms (100)");
    load_bad("[supervisor]\nwatchdog_ms = -1\n", "supervisor.watchdog_ms: -1 is out of range");
    load_bad("[program.x]\ngrace_ms = 5\n", "t.conf:2: [program.x]: command is required");
    /* checks across keys name where the key was set */
    load_bad("[supervisor]\n\nwatchdog_ms = 250\n", "t.conf:3: supervisor.watchdog_ms (250)");
    load_bad("[supervisor]\nbackoff_max_ms = 100\nbackoff_min_ms = 500\n",
             "t.conf:3: supervisor.backoff_min_ms (500) is above");
    load_bad("[producer]\nsymbols = A B\n\ndrift = A=0.1 C=0.2\n",
             "t.conf:4: producer.drift: 'C' is not one of producer.symbols");
    /* the supervisor's accepted copy reports the original file and its lines */
    load_bad(STK_CONF_COPY_MARK "/etc/x.conf\n[producer]\nrate = fast\n",
             "/etc/x.conf:2: producer.rate: 'fast' is not a whole number");
    load_bad(STK_CONF_COPY_MARK "/etc/x.conf\n[producer]\n\nvolatility = IBM=1\n",
             "/etc/x.conf:3: producer.volatility: 'IBM'");
    /* where a key was set, for messages made after the parse */
    struct stk_config c;
    char at[STK_CONF_ERR_MAX];
    load_ok("[shm]\nname = /x\n\n[producer]\nrate = 5\n", &c);
    stk_config_where(&c, "producer.rate", at, sizeof(at));
    ck_assert_str_eq(at, "t.conf:5");
    stk_config_where(&c, "shm.name", at, sizeof(at));
    ck_assert_str_eq(at, "t.conf:2");
    stk_config_where(&c, "producer.seed", at, sizeof(at)); /* a default */
    ck_assert_str_eq(at, "t.conf");
    stk_config_free(&c);
    load_bad("[program.x]\ncommand = a\nfoo = 1\n", "t.conf:3: [program.x] foo: unknown key");
    load_bad("[program.x y]\ncommand = a\n", "program name must be");
    load_bad("[program.producer]\ncommand = a\n", "built-in child");
    load_bad("[program.server]\ncommand = a\n",
             "t.conf:2: [program.server]: 'server' is a built-in");
    load_bad("[program.x]\ncommand = a\nfoo = 1\n",
             "foo: unknown key (command, grace_ms, backoff_min_ms, backoff_max_ms, max_restarts, "
             "restart_window_s, restart, ready_timeout_ms)");
    load_bad("[program.x]\ncommand = a\nrestart = sometimes\n",
             "t.conf:3: [program.x] restart: 'sometimes' is not a restart policy");
    load_bad("[program.x]\ncommand = a\n\ncommand = b\n",
             "t.conf:4: [program.x] command: set twice");
    load_bad("[nope]\nx = 1\n",
             "t.conf:2: nope.x: unknown section [nope] (shm, producer, server, supervisor, log, "
             "bridge, recorder, program.NAME)");
    load_bad("[recorder]\nstore = sqlit:x.db\n",
             "t.conf:2: recorder.store 'sqlit:x.db': expected sqlite:PATH, "
             "postgresql:CONNINFO, csv:DIR or off");
    /* a check across keys names the line of the key set by hand */
    load_bad("[supervisor]\n\nbackoff_max_ms = 50\n",
             "t.conf:3: supervisor.backoff_min_ms (100) is above backoff_max_ms (50)");
    load_bad("[producer]\n\n\ncorrelation = AAPL:IBM=0.5\n",
             "t.conf:4: producer.correlation: 'IBM' is not one of producer.symbols");
    load_bad("[shm]\njust words\n", "t.conf:2: syntax error");
    load_bad("[shm\nname = /x\n", "t.conf:1: syntax error");
    load_bad("[shm]\nrate = 5 # no inline hash comments\n", "shm.rate: unknown key");
    load_bad("[producer]\nrate = 5 # no inline hash comments\n", "'5 # no inline hash comments'");
}
END_TEST

/* producer.volatility / drift / correlation: one value for all, exceptions
 * per symbol or per pair, looked up in either order. */
START_TEST(test_sim_params)
{
    struct stk_config c;
    load_ok("", &c);
    ck_assert(c.producer.correlation.all == 0.3 && c.producer.correlation.n == 0);
    ck_assert(c.producer.volatility.all == 0.25 && c.producer.volatility.n == 0);
    ck_assert(c.producer.drift.all == 0.05 && c.producer.drift.n == 0);
    ck_assert(stk_sim_param_value(&c.producer.volatility, "TSLA", NULL) == 0.25);
    stk_config_free(&c);

    load_ok("[producer]\nvolatility = TSLA=0.6, 0.2 NVDA=0.5\ndrift = AAPL=-0.1\n"
            "correlation = AAPL:MSFT=0.8,JPM:TSLA=-0.2 0.1\n",
            &c);
    const struct stk_sim_param *v = &c.producer.volatility;
    ck_assert(v->all == 0.2);
    ck_assert_uint_eq(v->n, 2);
    ck_assert_str_eq(v->by[0].a, "TSLA");
    ck_assert_str_eq(v->by[0].b, "");
    ck_assert(stk_sim_param_value(v, "TSLA", NULL) == 0.6);
    ck_assert(stk_sim_param_value(v, "NVDA", NULL) == 0.5);
    ck_assert(stk_sim_param_value(v, "AAPL", NULL) == 0.2);
    ck_assert(stk_sim_param_value(&c.producer.drift, "AAPL", NULL) == -0.1);
    ck_assert(stk_sim_param_value(&c.producer.drift, "MSFT", NULL) == 0.05); /* default kept */
    const struct stk_sim_param *r = &c.producer.correlation;
    ck_assert(r->all == 0.1);
    ck_assert(stk_sim_param_value(r, "AAPL", "MSFT") == 0.8);
    ck_assert(stk_sim_param_value(r, "MSFT", "AAPL") == 0.8);
    ck_assert(stk_sim_param_value(r, "TSLA", "JPM") == -0.2);
    ck_assert(stk_sim_param_value(r, "AAPL", "JPM") == 0.1);
    ck_assert_int_eq(stk_config_symbol_index(&c, "JPM"), 7);
    ck_assert_int_eq(stk_config_symbol_index(&c, "IBM"), -1);
    stk_config_free(&c);

    load_ok("[supervisor]\nwatchdog_ms = 0\n[producer]\nheartbeat_ms = 5000\n", &c);
    ck_assert_int_eq(c.supervisor.watchdog_ms, 0); /* off: no floor */
    stk_config_free(&c);
    load_ok("[supervisor]\nwatchdog_ms = 300\n", &c);
    ck_assert_int_eq(c.supervisor.watchdog_ms, 300);
    stk_config_free(&c);
    /* the default follows a slow heartbeat: 10 beats */
    load_ok("[producer]\nheartbeat_ms = 3600000\n", &c);
    ck_assert_int_eq(c.supervisor.watchdog_ms, 36000000);
    stk_config_free(&c);
    load_ok("[producer]\nheartbeat_ms = 400\n", &c);
    ck_assert_int_eq(c.supervisor.watchdog_ms, 5000);
    stk_config_free(&c);

    /* exceptions are checked against producer.symbols wherever that is set */
    load_ok("[producer]\nvolatility = X=1\nsymbols = X Y\n", &c);
    ck_assert(stk_sim_param_value(&c.producer.volatility, "X", NULL) == 1.0);
    stk_config_free(&c);

    load_bad("[producer]\nvolatility = 0.2 0.3\n", "t.conf:2: producer.volatility: two values");
    load_bad("[producer]\nvolatility = TSLA=\n", "'' in 'TSLA=' is not a number");
    load_bad("[producer]\nvolatility = =0.3\n", "bad symbol ''");
    load_bad("[producer]\nvolatility = TSLA=abc\n", "'abc' in 'TSLA=abc' is not a number");
    load_bad("[producer]\nvolatility = TSLA=11\n", "11 in 'TSLA=11' is out of range (0..10)");
    load_bad("[producer]\nvolatility = -0.1\n", "-0.1 in '-0.1' is out of range");
    load_bad("[producer]\nvolatility = TSLA=nan\n", "is not a number");
    load_bad("[producer]\nvolatility = TSLA=0.1 TSLA=0.2\n", "'TSLA' given twice");
    load_bad("[producer]\ndrift = ,\n", "producer.drift: is empty");
    load_bad("[producer]\nvolatility = IBM=0.3\n",
             "t.conf:2: producer.volatility: 'IBM' is not one of producer.symbols");
    load_bad("[producer]\nvolatility = ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG=1\n", "bad symbol");
    load_bad("[producer]\nvolatility = AAPL:MSFT=0.1\n",
             "'AAPL:MSFT' is not one of producer.symbols");
    load_bad("[producer]\ncorrelation = AAPL=0.5\n", "'AAPL' is not a pair like AAPL:MSFT=0.8");
    load_bad("[producer]\ncorrelation = A:B:C=0.5\n", "is not a pair");
    load_bad("[producer]\ncorrelation = AAPL:AAPL=0.5\n", "pairs a symbol with itself");
    load_bad("[producer]\ncorrelation = AAPL:MSFT=0.5 MSFT:AAPL=0.4\n", "'MSFT:AAPL' given twice");
    load_bad("[producer]\ncorrelation = AAPL:MSFT=1\n", "out of range (-0.99..0.99)");
    load_bad("[producer]\ncorrelation = AAPL:IBM=0.5\n", "'IBM' is not one of producer.symbols");
    load_bad("[producer]\ncorrelation = :MSFT=0.5\n", "bad symbol ''");
    char longv[200];
    memset(longv, 'A', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = 0;
    char text[300];
    snprintf(text, sizeof(text), "[producer]\nvolatility = %s\n", longv);
    load_bad(text, "is too long");
}
END_TEST

START_TEST(test_file_errors)
{
    struct stk_config c;
    ck_assert_int_eq(stk_config_load("/nonexistent/seqtick.conf", &c, err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "unable to open config '/nonexistent/seqtick.conf'"));
    /* a directory reads as empty: refused, never taken for the defaults */
    ck_assert_int_eq(stk_config_load("/tmp", &c, err), -EISDIR);
    ck_assert_str_eq(err, "unable to open config '/tmp': Is a directory");
    char path[] = "/tmp/stk-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    /* a long line (symbols) is read whole, not cut at 200 bytes */
    char line[4096];
    size_t n = (size_t)snprintf(line, sizeof(line), "[producer]\nsymbols = ");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "S%d,", i);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "\n[shm]\nbogus = 1\n");
    ck_assert_int_eq(write(fd, line, n), (ssize_t)n);
    close(fd);
    ck_assert_int_eq(stk_config_load(path, &c, err), -EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "%s:4: shm.bogus: unknown key", path);
    ck_assert_msg(strstr(err, want), "error '%s'", err);
    fd = open(path, O_WRONLY | O_TRUNC);
    n -= strlen("[shm]\nbogus = 1\n");
    ck_assert_int_eq(write(fd, line, n), (ssize_t)n);
    close(fd);
    ck_assert_int_eq(stk_config_load(path, &c, err), 0);
    ck_assert_uint_eq(c.producer.nsymbols, 300);
    ck_assert_str_eq(c.producer.symbols[299], "S299");
    stk_config_free(&c);
    unlink(path);
}
END_TEST

/* stk_config_read(): the whole file once; a NUL byte is refused, not cut. */
START_TEST(test_read_whole_file)
{
    char path[] = "/tmp/stk-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    static const char text[] = "[producer]\nrate = 7\n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    char *got = NULL;
    ck_assert_int_eq(stk_config_read(path, &got, err), 0);
    ck_assert_str_eq(got, text);
    free(got);
    ck_assert_int_eq(write(fd, "\0rate = 8\n", 10), 10);
    close(fd);
    got = NULL;
    ck_assert_int_eq(stk_config_read(path, &got, err), -EINVAL);
    ck_assert_ptr_null(got);
    ck_assert_ptr_nonnull(strstr(err, "NUL byte"));
    struct stk_config c;
    ck_assert_int_eq(stk_config_load(path, &c, err), -EINVAL);
    unlink(path);
    ck_assert_int_eq(stk_config_read(path, &got, err), -ENOENT);
}
END_TEST

START_TEST(test_listen_parse)
{
    char host[64];
    uint16_t port;
    ck_assert_int_eq(stk_listen_parse("127.0.0.1:7878", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 7878);
    ck_assert_int_eq(stk_listen_parse("[::1]:0", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_uint_eq(port, 0);
    ck_assert_int_eq(stk_listen_parse(":80", host, sizeof(host), &port), -EINVAL);
    ck_assert_int_eq(stk_listen_parse("[::1]80", host, sizeof(host), &port), -EINVAL);
    ck_assert_int_eq(stk_listen_parse("h:-1", host, sizeof(host), &port), -EINVAL);
    ck_assert_int_eq(stk_listen_parse("h:", host, sizeof(host), &port), -EINVAL);
}
END_TEST

START_TEST(test_shm_owner)
{
    struct stk_config c;
    struct stk_seg_open_opts o;
    load_ok("[shm]\nowner = nobody\n", &c);
    ck_assert_str_eq(c.shm.owner, "nobody");
    stk_config_free(&c);
    load_ok("[shm]\nname = /x\n", &c);
    ck_assert_int_eq(stk_config_owner(c.shm.owner, &o), 0); /* unset: the reader's uid */
    ck_assert_uint_eq(o.flags, 0);
    stk_config_free(&c);
    ck_assert_int_eq(stk_config_owner("", &o), 0);
    ck_assert_uint_eq(o.flags, 0);
    ck_assert_int_eq(stk_config_owner("1234", &o), 0);
    ck_assert_uint_eq(o.flags, STK_OPEN_OWNER);
    ck_assert_uint_eq(o.owner_uid, 1234);
    ck_assert_int_eq(stk_config_owner("root", &o), 0);
    ck_assert_uint_eq(o.owner_uid, 0);
    ck_assert_int_eq(stk_config_owner("no-such-user-stk", &o), -ENOENT);
}
END_TEST

/* The schema's rows and docs/configuration.md agree: every key is in the
 * page's tables with the row's default, and the page lists no other key. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&buf, &cap, 0, f);
    fclose(f);
    ck_assert_int_gt(n, 0);
    return buf;
}

/* The row for "section.key" ("program" for the [program.NAME] table). */
static const struct stk_conf_row *schema_row(const char *section, const char *key)
{
    const struct stk_conf_section *sec = stk_config_section(section);
    for (size_t r = 0; sec && r < sec->nrows; r++)
        if (!strcmp(sec->rows[r].name, key))
            return &sec->rows[r];
    return NULL;
}

START_TEST(test_schema_docs)
{
    const char *src = getenv("SEQTICK_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/docs/configuration.md", src ? src : ".");
    char *text = read_text(path);
    unsigned found[STK_CONF_KEYS_MAX * 2] = {0}; /* per row, in section order */
    bool programs = false;                       /* past "## Programs" */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "## ", 3))
            programs = !strcmp(line, "## Programs");
        /* | [+ ]`KEY` | DEFAULT | meaning | */
        if (strncmp(line, "| ", 2) != 0)
            continue;
        char *key = line + 2;
        if (!strncmp(key, "+ ", 2))
            key += 2;
        if (*key != '`')
            continue; /* a header */
        char *kend = strstr(key, "` | ");
        ck_assert_msg(kend != NULL, "%s: bad row '%s'", path, line);
        *kend = 0;
        key++;
        char *def = kend + 4, *dend = strstr(def, " | ");
        ck_assert_msg(dend != NULL, "%s: no default in the row of %s", path, key);
        *dend = 0;
        char section[64] = "program";
        const char *name = key;
        if (!programs) {
            const char *dot = strchr(key, '.');
            ck_assert_msg(dot && (size_t)(dot - key) < sizeof(section), "%s: key '%s'", path, key);
            snprintf(section, sizeof(section), "%.*s", (int)(dot - key), key);
            name = dot + 1;
        }
        const struct stk_conf_row *row = schema_row(section, name);
        ck_assert_msg(row != NULL, "%s lists %s.%s, which the schema lacks", path, section, name);
        char want[256];
        stk_config_row_default(row, want, sizeof(want));
        ck_assert_msg(!strcmp(def, want), "%s: %s.%s: default '%s', the schema's is '%s'", path,
                      section, name, def, want);
        size_t flat = 0;
        for (size_t s = 0; s < stk_config_nsections; s++) {
            const struct stk_conf_section *sec = &stk_config_sections[s];
            if (sec->rows <= row && row < sec->rows + sec->nrows) {
                flat += (size_t)(row - sec->rows);
                break;
            }
            flat += sec->nrows;
        }
        ck_assert_uint_lt(flat, sizeof(found) / sizeof(found[0]));
        found[flat]++;
    }
    free(text);
    size_t flat = 0;
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        for (size_t r = 0; r < sec->nrows; r++, flat++)
            ck_assert_msg(found[flat] == 1, "%s lists %s.%s %u times (once wanted)", path,
                          sec->name, sec->rows[r].name, found[flat]);
    }
}
END_TEST

/* Every row is whole, and --help-config's table shows each one. */
START_TEST(test_schema_rows)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    stk_config_schema_print(f);
    fclose(f);
    for (size_t s = 0; s < stk_config_nsections; s++) {
        const struct stk_conf_section *sec = &stk_config_sections[s];
        ck_assert_ptr_eq(stk_config_section(sec->name), sec); /* names are unique */
        for (size_t r = 0; r < sec->nrows; r++) {
            const struct stk_conf_row *k = &sec->rows[r];
            ck_assert_msg(k->doc && *k->doc, "%s.%s: no doc line", sec->name, k->name);
            ck_assert_msg(k->def || k->shown, "%s.%s: no default shown", sec->name, k->name);
            ck_assert_ptr_eq(schema_row(sec->name, k->name), k); /* unique in its section */
            char want[160];
            snprintf(want, sizeof(want), ".%s` |", k->name);
            ck_assert_msg(strstr(out, want), "--help-config lacks %s.%s", sec->name, k->name);
        }
    }
    ck_assert_ptr_nonnull(strstr(out, "| `shm.history` | `256` | 1..")); /* a range */
    free(out);
}
END_TEST

int main(void)
{
    /* clang-format off */
    const struct test_case tests[] = {
        {"core", test_defaults},
        {"core", test_overrides},
        {"core", test_listen_parse},
        {"core", test_read_whole_file},
        {"core", test_shm_owner},
        {"schema", test_schema_docs},
        {"schema", test_schema_rows},
        {"errors", test_errors_name_place},
        {"errors", test_file_errors},
        {"sim", test_sim_params},
    };
    /* clang-format on */
    return TEST_TABLE_RUN("config", tests);
}
