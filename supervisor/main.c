/* SPDX-License-Identifier: MIT */
/* main.c — seqtick-supervisor -c FILE: starts, restarts and stops the
 * producer, the server and every [program.NAME] (see docs/supervisor.md). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "supervisor.h"
#include "util-private.h"

int main(int argc, char **argv)
{
    const char *conf = NULL;
    if (argc == 2 && !strcmp(argv[1], "--help-config")) {
        stk_config_schema_print(stdout); /* every key, from the schema's rows */
        return STK_EXIT_OK;
    }
    int r = stk_args_parse(argc, argv, STK_SUP_PROG, "-c FILE | --help-config", &conf);
    if (r > 0)
        return STK_EXIT_OK;
    if (r < 0)
        return STK_EXIT_USAGE;
    if (!conf) {
        fprintf(stderr, STK_SUP_PROG ": fatal: -c FILE is required (try --help)\n");
        return STK_EXIT_USAGE;
    }
    /* A stop request during set-up waits for the loop (stk_sup_init
     * unblocks these once its watchers are in place) rather than killing us
     * with a half-made segment or pidfile. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    (void)sigprocmask(SIG_BLOCK, &stop, NULL);
    struct stk_sup sup;
    r = stk_sup_init(&sup, conf);
    if (r != 0) {
        stk_sup_abort(&sup);
        return r;
    }
    return stk_sup_run(&sup);
}
