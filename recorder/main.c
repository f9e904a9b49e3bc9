/* SPDX-License-Identifier: MIT */
/* main.c — seqtick-recorder: every tick of the segment into a store.
 * Arguments, config, logging, then recorder.c's loop; exit 0 ok, 100
 * usage/config, 111 system. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config-private.h"
#include "log-private.h"
#include "recorder.h"
#include "util-private.h"

#define PROG "seqtick-recorder"

int main(int argc, char **argv)
{
    struct stk_config cfg;
    int status;
    if (stk_program_start(argc, argv, PROG,
                          "[-c FILE] [--help] [--version]\n"
                          "Stores every tick of the segment (recorder.store: sqlite:PATH, "
                          "postgresql:CONNINFO,\ncsv:DIR) with OHLC bars (recorder.bars).",
                          &cfg, &status))
        return status;

    struct stk_recorder *rec;
    int r = stk_recorder_new(&cfg, &rec);
    if (r < 0) {
        stk_config_free(&cfg);
        return r == -ENOMEM ? STK_EXIT_SYSTEM : STK_EXIT_USAGE;
    }
    r = stk_recorder_run(rec);
    stk_recorder_free(rec);
    stk_config_free(&cfg);
    return r == -EINVAL ? STK_EXIT_USAGE : r < 0 ? STK_EXIT_SYSTEM : STK_EXIT_OK;
}
