/* SPDX-License-Identifier: MIT */
/* child.h — the `exec:` feed's ingestor process: spawned by /bin/sh -c in its
 * own process group with its stdout and stderr on pipes, reaped without ever
 * signalling a reaped pid, stopped with SIGTERM, grace, SIGKILL. */
#ifndef SEQTICK_PRODUCER_CHILD_H
#define SEQTICK_PRODUCER_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct stk_child {
    pid_t pid;  /* 0 when none runs */
    int out_fd; /* its stdout (non-blocking), -1 when closed */
    int err_fd; /* its stderr (non-blocking), -1 when closed */
    uint64_t started_mono;
};

/* Fork and exec `/bin/sh -c command` with stdin /dev/null, stdout and stderr
 * on fresh pipes, its own process group, default signal dispositions, an empty
 * mask, PR_SET_PDEATHSIG(SIGKILL) and no other fds. Returns 0 with c filled,
 * or -errno (pipe/fork failures; an exec failure shows as exit status 127). */
int stk_child_spawn(const char *command, struct stk_child *c);

/* If the child has exited: SIGKILL what is left of its process group (while
 * the zombie still holds the pid, so the group id cannot be reused), reap it,
 * set *status (waitpid form) and c->pid = 0, and return 1. Returns 0 if it
 * still runs, -errno on error. The pipes are left for the caller to drain. */
int stk_child_reap(struct stk_child *c, int *status);

/* Signal the child's whole process group (plus SIGCONT after SIGTERM so a
 * stopped group can act on it). No-op without a child. */
void stk_child_signal(struct stk_child *c, int sig);

/* Close the pipes that are still open. */
void stk_child_close_fds(struct stk_child *c);

#endif
