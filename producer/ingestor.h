/* SPDX-License-Identifier: MIT */
/* ingestor.h — the `exec:` feed's ingestor process: started by /bin/sh -c
 * through the common spawner with its stdout and stderr on pipes, reaped
 * without ever signalling a reaped pid, stopped with SIGTERM, grace, SIGKILL. */
#ifndef SEQTICK_PRODUCER_INGESTOR_H
#define SEQTICK_PRODUCER_INGESTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct stk_ingestor {
    pid_t pid;       /* 0 when none runs */
    int out_fd;      /* its stdout (non-blocking), -1 when closed */
    int err_fd;      /* its stderr (non-blocking), -1 when closed */
    int report_fd;   /* the spawner's report pipe until the reap, -1 */
    int start_error; /* after the reap: errno its exec failed with, -errno of a
                      * failed set-up before exec, 0 (see spawn-private.h) */
    uint64_t started_mono;
};

/* Start `/bin/sh -c command` with stdin /dev/null, stdout and stderr on
 * fresh pipes, set up by stk_spawn_start (own process group, default
 * signals, empty mask, PR_SET_PDEATHSIG(SIGKILL), no other fds). Returns 0
 * with c filled, or -errno (pipe/fork failures; an exec failure shows at the
 * reap, in c->start_error and exit status 127). */
int stk_ingestor_spawn(const char *command, struct stk_ingestor *c);

/* If the ingestor has exited: SIGKILL what is left of its process group
 * (while the zombie still holds the pid, so the group id cannot be reused),
 * reap it, set *status (waitpid form), c->start_error and c->pid = 0, and
 * return 1. Returns 0 if it still runs, -errno on error. The pipes are left
 * for the caller to drain. */
int stk_ingestor_reap(struct stk_ingestor *c, int *status);

/* Signal the ingestor's whole process group (SIGTERM is preceded by SIGCONT,
 * so a stopped group can act on it). No-op without an ingestor. */
void stk_ingestor_signal(struct stk_ingestor *c, int sig);

/* Close the pipes that are still open. */
void stk_ingestor_close_fds(struct stk_ingestor *c);

#endif
