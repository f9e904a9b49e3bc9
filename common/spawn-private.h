/* SPDX-License-Identifier: MIT */
/* spawn-private.h — the one fork/exec spawner. The child is set up the same
 * way for every program that starts processes (the supervisor, the
 * producer's ingestor); the caller says only which fds it gets. */
#ifndef SEQTICK_SPAWN_PRIVATE_H
#define SEQTICK_SPAWN_PRIVATE_H

#include <sys/types.h>

/* The exit status of a child whose set-up failed before exec (joining its
 * cgroup, placing its fds, PR_SET_PDEATHSIG, or its parent already gone):
 * 111, the system-error code of every seqtick program. The reason is on
 * the report pipe as -errno (unless the parent is gone). */
#define STK_SPAWN_EXIT_SETUP 111
/* The exit status of a child whose exec failed; errno on the report pipe. */
#define STK_SPAWN_EXIT_EXEC 127

/* Most extra fds a child can be given (at 3, 4, ...). */
#define STK_SPAWN_EXTRA_MAX 4

struct stk_spawn_opts {
    const char *path;  /* what to execve */
    char *const *argv; /* its argv, NULL-terminated */
    char *const *envp; /* its environment; NULL: the caller's (environ) */
    int fd[3];         /* the child's 0, 1, 2; -1: /dev/null */
    const int *extra;  /* the child's 3, 4, ... (nextra of them) */
    unsigned nextra;   /* at most STK_SPAWN_EXTRA_MAX */
    int join_fd;       /* >= 0: "0" is written to it before anything else
                        * (a cgroup.procs: the child joins that cgroup, so
                        * everything it starts is inside); -1: none */
};

/* fork + exec o->path. The child, before exec, with async-signal-safe calls
 * only: writes "0" to join_fd (if any); sets every signal back to its
 * default action (signals are all blocked in the parent around fork, so no
 * handler of the caller ever runs in the child, and no SIG_IGN survives
 * exec); makes its own process group (the parent does too: whichever runs
 * first); sets PR_SET_PDEATHSIG(SIGKILL) and checks that its parent did not
 * die before that; places fd[0..2] and extra[] on 0, 1, 2, 3, ... (every
 * source is first moved above all targets, so a source sitting on a low fd
 * is never clobbered); closes every other fd; empties its signal mask;
 * execs. A failure before exec exits STK_SPAWN_EXIT_SETUP with -errno on
 * the report pipe; a failed exec exits STK_SPAWN_EXIT_EXEC with errno on
 * it. The caller's fds are left open (close the child's ends after).
 * Returns 0 with *ret_pid and *ret_report (the report pipe's read end,
 * non-blocking, close-on-exec: EOF once the child exec'd; read it with
 * stk_spawn_report), or -EINVAL (nextra too big, no path or argv), or
 * -errno of pipe2/fork (nothing left open then). */
int stk_spawn_start(const struct stk_spawn_opts *o, pid_t *ret_pid, int *ret_report);

/* Read the report pipe of a child that exec'd or exited (or was reaped),
 * and close it. Returns 0 if the exec succeeded (or nothing can be told,
 * or fd < 0), errno (> 0) if the exec failed, -errno if the set-up before
 * exec failed. Do not call it on a child that may still be between fork and
 * exec: the answer may not be there yet. */
int stk_spawn_report(int fd);

#endif
