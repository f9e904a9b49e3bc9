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
    struct stk_config cfg;
    int status;
    if (stk_program_start(argc, argv, PROG,
                          "[-c FILE] [--help] [--version]\n"
                          "Publishes every tick of the segment to NATS (bridge.nats), "
                          "one ingest JSON line\nper tick on SUBJECT.SYMBOL, and a heartbeat "
                          "on SUBJECT._hb.",
                          &cfg, &status))
        return status;

    struct stk_bridge *b;
    int r = stk_bridge_new(&cfg, &b);
    if (r < 0) {
        stk_config_free(&cfg);
        return r == -EINVAL ? STK_EXIT_USAGE : STK_EXIT_SYSTEM;
    }
    r = stk_bridge_run(b);
    stk_bridge_free(b);
    stk_config_free(&cfg);
    return r == -EINVAL ? STK_EXIT_USAGE : r < 0 ? STK_EXIT_SYSTEM : STK_EXIT_OK;
}
