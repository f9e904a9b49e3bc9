/* SPDX-License-Identifier: MIT */
/* cli_private.h — the `seqtick` CLI: options shared by the subcommands (one
 * file each: cli_quotes.c, cli_status.c, cli_top.c) and output helpers. */
#ifndef SEQTICK_CLI_PRIVATE_H
#define SEQTICK_CLI_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "seqtick.h"

/* Exit code for "the segment answered, but not with what was asked" (unknown
 * ticker, never written); 100 usage and 111 system come from util-private.h. */
#define STK_EXIT_NOTFOUND 1

struct stk_cli {
    const char *shm;            /* segment name */
    const char *status_file;    /* supervisor status file */
    const char *control_socket; /* supervisor control socket */
    bool status_file_only;      /* status: --status-file without --socket: that file */
    const char *command;        /* the subcommand's name */
    const char *config_path;    /* -c FILE, or NULL */
    uint64_t freshness_ms;      /* server.freshness_ms: older quotes are "stale" */
    uint64_t heartbeat_ms;      /* producer.heartbeat_ms: the producer's liveness */
    const char *owner;          /* shm.owner (user or uid), NULL: our own uid */
    bool json;                  /* --json */
    bool once;                  /* top --once */
    long iterations;            /* top --iterations N (0 = until q / Ctrl-C) */
    long interval_ms;           /* top --interval MS */
    const char *bars_interval;  /* bars --interval 1m */
    long bars_n;                /* bars -n N */
    const char *store;          /* bars: --store SPEC, else recorder.store */
    int argc;                   /* the subcommand's operands (after the name) */
    char **argv;
};

/* Open cli->shm read-only (owner checked against shm.owner, SIGBUS guard
 * installed) and refuse it unless stk_seg_usable() (closed: -ESTALE). On
 * failure print "seqtick: fatal: unable to open segment 'NAME': why" (with a
 * hint for a missing one) and return -errno. */
int stk_cli_open(const struct stk_cli *cli, struct stk_seg **ret_seg);

/* Open cli->shm (owner and SIGBUS guard as stk_cli_open()) whatever its
 * state, for `status`, which shows a closed one too. Returns 0 or -errno. */
int stk_cli_open_any(const struct stk_cli *cli, struct stk_seg **ret_seg);

/* stk_cli_open() without a word on stderr (top's re-open). */
int stk_cli_open_quiet(const struct stk_cli *cli, struct stk_seg **ret_seg);

/* Send one request line to the supervisor's control socket at path and
 * read its whole reply (one JSON line, heap, NUL-terminated) into
 * *ret_reply. Returns 0 or -errno (-ENOENT/-ECONNREFUSED: no supervisor
 * there; -ETIMEDOUT; -EPROTO for a reply that is not one line). */
int stk_cli_ctl_request(const char *path, const char *req, char **ret_reply);

/* Subcommands; each returns a process exit code. */
int stk_cli_status(struct stk_cli *cli);
int stk_cli_control(struct stk_cli *cli); /* restart|stop|start NAME, reload */
int stk_cli_quotes(struct stk_cli *cli);
int stk_cli_get(struct stk_cli *cli);
int stk_cli_history(struct stk_cli *cli);
int stk_cli_top(struct stk_cli *cli);
int stk_cli_bars(struct stk_cli *cli); /* cli_bars.c */

/* Write s as a JSON string (quotes included) to f. */
void stk_cli_json_str(FILE *f, const char *s);

/* Exact decimal text of a fixed-point price into buf (STK_DECIMAL_MAX). */
const char *stk_cli_dec(int64_t v, char buf[STK_DECIMAL_MAX]);

/* "1.2s", "340ms", "12us" style age of a ns span into buf; "-" for UINT64_MAX. */
const char *stk_cli_age(uint64_t ns, char *buf, size_t size);

/* The JSON members of one quote of seg (no braces), the server's get_quote
 * fields: "ticker":…,"price":…,…,"stale":… (stk_quote_stale()); prices as
 * exact JSON numbers. */
void stk_cli_json_quote(FILE *f, const struct stk_cli *cli, const struct stk_seg *seg,
                        const char *ticker, const struct stk_quote *q, uint64_t now_ns);

/* The state name of header.state ("init", "live", "closed", "?"). */
const char *stk_cli_state_name(uint32_t state);

/* CLOCK_REALTIME in ns. */
uint64_t stk_cli_now_ns(void);

#endif
