/* SPDX-License-Identifier: MIT */
/* main.c — seqtick-server: arguments, config, logging, then the loop
 * (server.c). Exit 0 after a clean stop, 100 usage/config, 111 system. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config-private.h"
#include "log-private.h"
#include "server.h"
#include "util-private.h"

#define PROG "seqtick-server"

int main(int argc, char **argv)
{
    struct stk_config cfg;
    struct stk_server srv;
    int r;
    if (stk_program_start(argc, argv, PROG, "[-c FILE]", &cfg, &r))
        return r;
    signal(SIGPIPE, SIG_IGN);

    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        stk_error("fatal: unable to start the event loop (ev_default_loop)");
        stk_config_free(&cfg);
        return STK_EXIT_SYSTEM;
    }
    r = stk_server_init(&srv, loop, &cfg);
    if (r < 0) {
        stk_error("fatal: unable to start the segment watcher thread: %s", strerror(-r));
        stk_server_fini(&srv);
        stk_config_free(&cfg);
        return STK_EXIT_SYSTEM;
    }
    r = stk_bars_init(&srv, cfg.recorder.store, cfg.recorder.bars);
    if (r < 0) {
        stk_error("fatal: recorder.store / recorder.bars: %s", strerror(-r));
        stk_server_fini(&srv);
        stk_config_free(&cfg);
        return STK_EXIT_USAGE;
    }
    const char *addr = cfg.server.listen;
    r = stk_server_listen_all(&srv, &addr);
    if (r < 0) {
        stk_error("fatal: unable to listen on '%s': %s", addr, strerror(-r));
        stk_server_fini(&srv);
        stk_bars_fini(&srv);
        stk_config_free(&cfg);
        return STK_EXIT_SYSTEM;
    }
    for (unsigned i = 0; i < srv.nlis; i++) {
        stk_debug("%s: %s", srv.lis[i].key, srv.lis[i].proto->name);
        stk_info("listening on %s (max_connections %llu, max_line_bytes %llu, "
                 "out_buffer_bytes %llu)",
                 srv.lis[i].addr, (unsigned long long)cfg.server.max_connections,
                 (unsigned long long)cfg.server.max_line_bytes,
                 (unsigned long long)cfg.server.out_buffer_bytes);
    }
    r = stk_ready_notify();
    if (r < 0)
        stk_warn("readiness fd: %s", strerror(-r));
    stk_server_run(&srv);
    stk_server_fini(&srv);
    stk_bars_fini(&srv);
    stk_info("stopped");
    stk_config_free(&cfg);
    return STK_EXIT_OK;
}
