/* SPDX-License-Identifier: MIT */
/* main.c — seqtick-bridge: the segment's ticks onto NATS. Arguments, config,
 * logging, then bridge.c's loop; exit 0 ok, 100 usage/config, 111 system. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "config-private.h"
#include "log-private.h"
#include "util-private.h"

#define PROG "seqtick-bridge"

int main(int argc, char **argv)
{
    const char *path = NULL;
    int r = stk_args_parse(argc, argv, PROG,
                           "[-c FILE] [--help] [--version]\n"
                           "Publishes every tick of the segment to NATS (bridge.nats), "
                           "one ingest JSON line\nper tick on SUBJECT.SYMBOL, and a heartbeat "
                           "on SUBJECT._hb.",
                           &path);
    if (r == 1)
        return STK_EXIT_OK;
    if (r < 0)
        return STK_EXIT_USAGE;

    struct stk_config cfg;
    char err[STK_CONF_ERR_MAX] = "";
    r = path ? stk_config_load(path, &cfg, err) : stk_config_defaults(&cfg);
    if (r < 0) {
        fprintf(stderr, PROG ": fatal: %s\n", r == -ENOMEM ? "out of memory" : err);
        return r == -ENOMEM ? STK_EXIT_SYSTEM : STK_EXIT_USAGE;
    }
    stk_log_init(PROG, cfg.log.level, cfg.log.format);

    struct stk_bridge *b;
    r = stk_bridge_new(&cfg, &b);
    if (r < 0) {
        stk_config_free(&cfg);
        return r == -EINVAL ? STK_EXIT_USAGE : STK_EXIT_SYSTEM;
    }
    r = stk_bridge_run(b);
    stk_bridge_free(b);
    stk_config_free(&cfg);
    return r == -EINVAL ? STK_EXIT_USAGE : r < 0 ? STK_EXIT_SYSTEM : STK_EXIT_OK;
}
