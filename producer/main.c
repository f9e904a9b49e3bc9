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
    const char *path = NULL;
    int r = stk_args_parse(argc, argv, PROG,
                           "[-c FILE] [--help] [--version]\n"
                           "Writes the feed named by producer.feed (sim, "
                           "csv:PATH, exec:COMMAND, stdin) into the segment.",
                           &path);
    if (r == 1)
        return STK_EXIT_OK;
    if (r < 0)
        return STK_EXIT_USAGE;

    struct stk_config cfg;
    char err[STK_CONF_ERR_MAX] = "";
    r = path ? stk_config_load(path, &cfg, err) : stk_config_defaults(&cfg);
    if (r < 0) { /* a config that cannot be read is the user's input: 100 */
        fprintf(stderr, PROG ": fatal: %s\n", r == -ENOMEM ? "out of memory" : err);
        return r == -ENOMEM ? STK_EXIT_SYSTEM : STK_EXIT_USAGE;
    }
    stk_log_init(PROG, cfg.log.level, cfg.log.format);

    struct stk_producer *p;
    r = stk_producer_new(&cfg, &p);
    if (r < 0) {
        stk_config_free(&cfg);
        return r == -EINVAL ? STK_EXIT_USAGE : STK_EXIT_SYSTEM;
    }
    r = stk_producer_run(p);
    stk_producer_free(p);
    stk_config_free(&cfg);
    return r < 0 ? STK_EXIT_SYSTEM : STK_EXIT_OK;
}
