/* SPDX-License-Identifier: MIT */
/* spawn.c — fork + exec with the child set up once for every program (see
 * spawn-private.h): its cgroup, default signals, own process group,
 * PDEATHSIG, exactly the fds it is given, failures on a close-on-exec pipe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "spawn-private.h"
#include "util-private.h"

static void report(int fd, int err)
{
    ssize_t n;
    do
        n = write(fd, &err, sizeof(err));
    while (n < 0 && errno == EINTR);
}

static void __attribute__((noreturn)) setup_failed(int report_fd, int err)
{
    report(report_fd, -(err ? err : EIO));
    _exit(STK_SPAWN_EXIT_SETUP);
}

/* Close every fd from `from` up except `keep`. */
static void close_from(int from, int keep)
{
    if (keep > from && close_range((unsigned)from, (unsigned)keep - 1, 0) == 0 &&
        close_range((unsigned)keep + 1, ~0u, 0) == 0)
        return;
    /* Kernels before 5.9: one by one. */
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = from; fd < (max > 0 ? max : 65536); fd++)
        if (fd != keep)
            (void)close((int)fd);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child(const struct stk_spawn_opts *o, pid_t parent, int report_w)
{
    /* Into its cgroup first, so nothing it starts is ever outside it. */
    if (o->join_fd >= 0) {
        ssize_t w;
        do
            w = write(o->join_fd, "0", 1);
        while (w < 0 && errno == EINTR);
        if (w != 1)
            setup_failed(report_w, w < 0 ? errno : EIO);
    }

    /* Every handler back to default while everything is still blocked (the
     * parent blocked all signals around fork): the caller's handlers (libev's)
     * must never run here, and a SIG_IGN would survive exec (the child would
     * ignore SIGTERM). SIGKILL and SIGSTOP cannot be changed. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &dfl, NULL);

    /* Own group, so TERM/KILL reach its descendants and not its parent. */
    (void)setpgid(0, 0);

    /* Die with the parent. It may be gone before the prctl took effect:
     * then getppid() no longer names it (and nobody reads the report). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        setup_failed(report_w, errno);
    if (getppid() != parent)
        _exit(STK_SPAWN_EXIT_SETUP);

    /* Move every source above every target first (0 .. 2+nextra), so no
     * dup2() below can clobber a source that sits on a low fd. The copies
     * are close-on-exec; dup2() clears that flag on its target. */
    int high = 3 + (int)o->nextra;
    int rep = fcntl(report_w, F_DUPFD_CLOEXEC, high);
    if (rep < 0)
        setup_failed(report_w, errno);
    int src[3 + STK_SPAWN_EXTRA_MAX];
    for (unsigned i = 0; i < 3 + o->nextra; i++) {
        int from = i < 3 ? o->fd[i] : o->extra[i - 3];
        int fd;
        if (from >= 0) {
            fd = fcntl(from, F_DUPFD_CLOEXEC, high);
        } else {
            int null = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
            fd = null < 0 ? -1 : fcntl(null, F_DUPFD_CLOEXEC, high);
        }
        if (fd < 0)
            setup_failed(rep, errno);
        src[i] = fd;
    }
    for (unsigned i = 0; i < 3 + o->nextra; i++)
        if (dup2(src[i], (int)i) < 0)
            setup_failed(rep, errno);
    /* Exactly 0 .. 2+nextra cross exec; the report pipe closes at exec. */
    close_from(high, rep);

    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    execve(o->path, o->argv, o->envp ? o->envp : environ);
    report(rep, errno);
    _exit(STK_SPAWN_EXIT_EXEC);
}

int stk_spawn_start(const struct stk_spawn_opts *o, pid_t *ret_pid, int *ret_report)
{
    if (!o->path || !o->argv || o->nextra > STK_SPAWN_EXTRA_MAX || (o->nextra && !o->extra))
        return -EINVAL;
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) < 0)
        return -errno;

    sigset_t all, old;
    sigfillset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child(o, parent, rep[1]);
    int fork_errno = errno;
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    close(rep[1]);
    if (pid < 0) {
        close(rep[0]);
        return -fork_errno;
    }
    (void)setpgid(pid, pid); /* EACCES once it exec'd: it did it itself then */
    (void)fcntl(rep[0], F_SETFL, O_NONBLOCK);
    *ret_pid = pid;
    *ret_report = rep[0];
    return 0;
}

int stk_spawn_report(int fd)
{
    int e = 0;
    if (fd < 0)
        return 0;
    ssize_t n = stk_read_retry(fd, &e, sizeof(e));
    close(fd);
    return n == (ssize_t)sizeof(e) ? e : 0;
}
