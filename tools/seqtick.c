/* SPDX-License-Identifier: MIT */
/* seqtick.c — the `seqtick` CLI: options, configuration, and dispatch to the
 * subcommands (status, quotes, get, history, top), which read the segment
 * directly through libseqtick. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_private.h"
#include "config-private.h"
#include "util-private.h"

#define DEFAULT_SHM "/seqtick"
#define DEFAULT_STATUS "/tmp/seqtick.pid.status"
#define DEFAULT_SOCKET "/tmp/seqtick.pid.sock"

static const struct {
    const char *name;
    int (*fn)(struct stk_cli *);
    int min_args, max_args;
    const char *what;
} cmds[] = {
    {"status", stk_cli_status, 0, 0, "supervisor status (live, else its file) and segment figures"},
    {"restart", stk_cli_control, 1, 1, "restart NAME: stop a supervised program, start it again"},
    {"stop", stk_cli_control, 1, 1, "stop NAME: stop a program and leave it stopped"},
    {"start", stk_cli_control, 1, 1, "start NAME: start a stopped, failed or done program"},
    {"reload", stk_cli_control, 0, 0, "re-read the configuration (as SIGHUP does)"},
    {"quotes", stk_cli_quotes, 0, 0, "table of every latest quote"},
    {"get", stk_cli_get, 1, 1, "get SYMBOL: one latest quote"},
    {"history", stk_cli_history, 1, 2, "history SYMBOL [N]: the last N ticks (default 20)"},
    {"top", stk_cli_top, 0, 0, "refreshing view: price, change, bid/ask, age, ticks/s"},
    {"bars", stk_cli_bars, 1, 1, "bars SYMBOL: the last stored OHLC bars (-i 1m, -n 20)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick [-c FILE] [--shm NAME] [--json] COMMAND [ARGS]\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "options:\n"
               "  -c, --config FILE   read shm.name, supervisor.status_file, server.freshness_ms\n"
               "  -s, --shm NAME      segment name (default: config, else " DEFAULT_SHM ")\n"
               "      --status-file F supervisor status file (default: config, else\n"
               "                      " DEFAULT_STATUS ")\n"
               "      --socket PATH   supervisor control socket (default: config, else\n"
               "                      " DEFAULT_SOCKET ")\n"
               "  -j, --json          JSON output (top: one object per refresh)\n"
               "      --once          top: print one frame and exit\n"
               "  -n, --iterations N  top: N frames, then exit\n"
               "  -i, --interval MS   top: refresh period (default 1000)\n"
               "  -i, --interval IV   bars: bar interval, one of recorder.bars (default 1m)\n"
               "  -n N                bars: how many (default 20)\n"
               "      --store SPEC    bars: sqlite:PATH or postgresql:CONNINFO (default:\n"
               "                      the config's recorder.store)\n"
               "  -h, --help, -V, --version\n"
               "exit: 0 ok, 1 unknown ticker or no quote, 100 usage (or a request the\n"
               "      supervisor refused: unknown name), 111 no segment, supervisor not\n"
               "      reachable, or system error\n");
}

uint64_t stk_cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int stk_cli_open_any(const struct stk_cli *cli, struct stk_seg **ret_seg)
{
    struct stk_seg_open_opts opts;
    int r = stk_config_owner(cli->owner, &opts);
    if (r < 0)
        return r == -ENOENT ? -ESRCH : r;
    (void)stk_sigbus_guard(); /* a segment truncated under us must not kill us */
    return stk_seg_open_opts(cli->shm, &opts, ret_seg);
}

int stk_cli_open_quiet(const struct stk_cli *cli, struct stk_seg **ret_seg)
{
    struct stk_seg *seg;
    int r = stk_cli_open_any(cli, &seg);
    if (r < 0)
        return r;
    r = stk_seg_usable(seg); /* the library's rule: closed or garbage is no segment */
    if (r < 0) {
        stk_seg_close(seg);
        return r;
    }
    *ret_seg = seg;
    return 0;
}

int stk_cli_open(const struct stk_cli *cli, struct stk_seg **ret_seg)
{
    int r = stk_cli_open_quiet(cli, ret_seg);
    if (r == 0)
        return 0;
    if (r == -ESRCH)
        fprintf(stderr, "seqtick: fatal: shm.owner '%s': no such user\n", cli->owner);
    else if (r == -ESTALE)
        fprintf(stderr,
                "seqtick: fatal: segment '%s' is closed (retired, no producer): "
                "unavailable\n",
                cli->shm);
    else
        fprintf(stderr, "seqtick: fatal: unable to open segment '%s': %s\n", cli->shm,
                stk_strerror(r));
    if (r == -ENOENT)
        fprintf(stderr,
                "seqtick: hint: no /dev/shm%s: is seqtick-supervisor (or "
                "seqtick-producer) running with shm.name = %s?\n",
                cli->shm, cli->shm);
    return r;
}

static long parse_long(const char *s, const char *what, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "seqtick: fatal: bad %s '%s'\n", what, s);
        return -1;
    }
    return v;
}

int main(int argc, char **argv)
{
    enum { OPT_ONCE = 256, OPT_STATUS, OPT_SOCKET, OPT_STORE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"shm", required_argument, NULL, 's'},
        {"status-file", required_argument, NULL, OPT_STATUS},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"json", no_argument, NULL, 'j'},
        {"once", no_argument, NULL, OPT_ONCE},
        {"iterations", required_argument, NULL, 'n'},
        {"interval", required_argument, NULL, 'i'},
        {"store", required_argument, NULL, OPT_STORE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct stk_cli cli = {.interval_ms = 1000,
                          .freshness_ms = STK_FRESHNESS_MS_DEFAULT,
                          .heartbeat_ms = STK_HEARTBEAT_MS_DEFAULT};
    const char *shm_opt = NULL, *status_opt = NULL, *socket_opt = NULL;
    const char *n_opt = NULL, *i_opt = NULL, *store_opt = NULL; /* parsed per command */
    int c;
    while ((c = getopt_long(argc, argv, "c:s:jn:i:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli.config_path = optarg;
            break;
        case 's':
            shm_opt = optarg;
            break;
        case OPT_STATUS:
            status_opt = optarg;
            break;
        case OPT_SOCKET:
            socket_opt = optarg;
            break;
        case 'j':
            cli.json = true;
            break;
        case OPT_ONCE:
            cli.once = true;
            break;
        case 'n':
            n_opt = optarg;
            break;
        case 'i':
            i_opt = optarg;
            break;
        case OPT_STORE:
            store_opt = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("seqtick %s (libseqtick %s)\n", STK_VERSION, stk_version());
            return 0;
        default:
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "seqtick: fatal: no command given\n");
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    const char *name = argv[optind];
    size_t i;
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(name, cmds[i].name))
            break;
    if (i == sizeof(cmds) / sizeof(cmds[0])) {
        fprintf(stderr, "seqtick: fatal: unknown command '%s'\n", name);
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    cli.command = name;
    if (cmds[i].fn == stk_cli_bars) { /* -n N bars, -i 1m */
        cli.bars_interval = i_opt;
        cli.bars_n = 20;
        if (n_opt && (cli.bars_n = parse_long(n_opt, "-n", 0)) < 0)
            return STK_EXIT_USAGE;
        if (cli.bars_n > 1000000) {
            fprintf(stderr, "seqtick: fatal: bad -n '%s' (at most 1000000)\n", n_opt);
            return STK_EXIT_USAGE;
        }
    } else {
        if (n_opt && (cli.iterations = parse_long(n_opt, "--iterations", 1)) < 0)
            return STK_EXIT_USAGE;
        if (i_opt && (cli.interval_ms = parse_long(i_opt, "--interval", 10)) < 0)
            return STK_EXIT_USAGE;
    }
    cli.argc = argc - optind - 1;
    cli.argv = argv + optind + 1;
    if (cli.argc < cmds[i].min_args || cli.argc > cmds[i].max_args) {
        fprintf(stderr, "seqtick: fatal: %s: wrong number of arguments\n", name);
        usage(stderr);
        return STK_EXIT_USAGE;
    }

    struct stk_config conf;
    bool have_conf = false;
    if (cli.config_path) {
        char err[STK_CONF_ERR_MAX];
        int r = stk_config_load(cli.config_path, &conf, err);
        if (r < 0) { /* a config that cannot be read is the user's input: 100 */
            fprintf(stderr, "seqtick: fatal: %s\n", r == -ENOMEM ? "out of memory" : err);
            return r == -ENOMEM ? STK_EXIT_SYSTEM : STK_EXIT_USAGE;
        }
        have_conf = true;
        cli.freshness_ms = conf.server.freshness_ms;
        cli.heartbeat_ms = conf.producer.heartbeat_ms;
        cli.owner = conf.shm.owner;
        cli.store = conf.recorder.store;
    }
    if (store_opt)
        cli.store = store_opt;
    cli.shm = shm_opt ? shm_opt : have_conf ? conf.shm.name : DEFAULT_SHM;
    cli.status_file = status_opt  ? status_opt
                      : have_conf ? conf.supervisor.status_file
                                  : DEFAULT_STATUS;
    cli.status_file_only = status_opt && !socket_opt;
    cli.control_socket = socket_opt  ? socket_opt
                         : have_conf ? conf.supervisor.control_socket
                                     : DEFAULT_SOCKET;
    int rc = cmds[i].fn(&cli);
    if (have_conf)
        stk_config_free(&conf);
    return rc;
}
