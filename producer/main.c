/* SPDX-License-Identifier: MIT */
/* main.c — seqtick-producer: the segment's single writer. Arguments, config,
 * logging, then producer.c's loop; exit 0 ok, 100 usage/config, 111 system. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config-private.h"
#include "log-private.h"
#include "producer.h"
#include "util-private.h"

#define PROG "seqtick-producer"

int main(int argc, char **argv)
{
    struct stk_config cfg;
    int status;
    if (stk_program_start(argc, argv, PROG,
                          "[-c FILE] [--help] [--version]\n"
                          "Writes the feed named by producer.feed (sim, "
                          "csv:PATH, exec:COMMAND, stdin) into the segment.",
                          &cfg, &status))
        return status;

    struct stk_producer *p;
    int r = stk_producer_new(&cfg, &p);
    if (r < 0) {
        stk_config_free(&cfg);
        return r == -EINVAL ? STK_EXIT_USAGE : STK_EXIT_SYSTEM;
    }
    r = stk_producer_run(p);
    stk_producer_free(p);
    stk_config_free(&cfg);
    return r < 0 ? STK_EXIT_SYSTEM : STK_EXIT_OK;
}
