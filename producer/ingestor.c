/* SPDX-License-Identifier: MIT */
/* ingestor.c — spawn, reap and signal the `exec:` ingestor (see ingestor.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingestor.h"
#include "segment-private.h"
#include "spawn-private.h"

int stk_ingestor_spawn(const char *command, struct stk_ingestor *c)
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(err, O_CLOEXEC) < 0) {
        int r = -errno;
        close(out[0]);
        close(out[1]);
        return r;
    }
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)command, NULL};
    struct stk_spawn_opts o = {
        .path = "/bin/sh",
        .argv = argv,
        .fd = {-1, out[1], err[1]}, /* stdin /dev/null */
        .join_fd = -1,
    };
    pid_t pid;
    int report;
    int r = stk_spawn_start(&o, &pid, &report);
    close(out[1]);
    close(err[1]);
    if (r < 0) {
        close(out[0]);
        close(err[0]);
        return r;
    }
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(err[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->out_fd = out[0];
    c->err_fd = err[0];
    c->report_fd = report;
    c->start_error = 0;
    c->started_mono = stk_mono_ns();
    return 0;
}

int stk_ingestor_reap(struct stk_ingestor *c, int *status)
{
    if (c->pid <= 0)
        return 0;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    /* WNOWAIT: look without reaping, so the pid (and its group id) stays
     * ours while we kill the rest of the group. */
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return -errno;
    if (si.si_pid != c->pid)
        return 0;
    (void)kill(-c->pid, SIGKILL);
    int st = 0;
    pid_t r;
    do
        r = waitpid(c->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    *status = st;
    c->pid = 0;
    c->start_error = stk_spawn_report(c->report_fd);
    c->report_fd = -1;
    return 1;
}

void stk_ingestor_signal(struct stk_ingestor *c, int sig)
{
    if (c->pid <= 0)
        return;
    /* SIGCONT before SIGTERM, never after: a CONT landing while the child
     * exits can discard the SIGSTOP of a PTRACE_ATTACH in flight (crash
     * reporters, LeakSanitizer) and leave the child hung. */
    if (sig == SIGTERM)
        (void)kill(-c->pid, SIGCONT);
    (void)kill(-c->pid, sig);
}

void stk_ingestor_close_fds(struct stk_ingestor *c)
{
    if (c->out_fd >= 0)
        close(c->out_fd);
    if (c->err_fd >= 0)
        close(c->err_fd);
    if (c->report_fd >= 0)
        close(c->report_fd);
    c->out_fd = c->err_fd = c->report_fd = -1;
}
