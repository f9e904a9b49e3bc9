/* SPDX-License-Identifier: MIT */
/* ingestor.c — spawn, reap and signal the `exec:` ingestor (see ingestor.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingestor.h"
#include "segment-private.h"

/* In the child between fork and exec: only async-signal-safe calls. */
static void child_exec(const char *command, pid_t parent, int out_w, int err_w)
{
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)signal(s, SIG_DFL);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    (void)setpgid(0, 0);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(111); /* the producer died before prctl took effect */
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        _exit(111);
    /* only 0-2 cross exec */
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
        for (int fd = 3; fd < 1024; fd++)
            (void)close(fd);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
}

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
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        return r;
    }
    if (pid == 0)
        child_exec(command, parent, out[1], err[1]);
    /* Both sides set the group so a signal sent right after fork reaches it. */
    (void)setpgid(pid, pid);
    close(out[1]);
    close(err[1]);
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(err[0], F_SETFL, O_NONBLOCK);
    c->pid = pid;
    c->out_fd = out[0];
    c->err_fd = err[0];
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
    c->out_fd = c->err_fd = -1;
}
