/* SPDX-License-Identifier: MIT */
/* spawn.c — fork + exec with the child set up the way docs/supervisor.md
 * says: its own cgroup (cgroup tracking), default signals and an empty mask,
 * own process group, PDEATHSIG, only fds 0-3, and a set-up or exec failure
 * reported through a close-on-exec pipe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "supervisor.h"
#include "util-private.h"

#define HIGH_FD 10     /* set-up fds are moved here first, above the targets */
#define ERR_FD 4       /* exec-error pipe in the child (close-on-exec) */
#define EXIT_SETUP 126 /* set-up failed before exec */
#define EXIT_EXEC 127  /* exec failed (errno on the pipe) */

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    p[0] = p[1] = -1;
}

static void report(int fd, int err)
{
    ssize_t n;
    do
        n = write(fd, &err, sizeof(err));
    while (n < 0 && errno == EINTR);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child(pid_t parent, const char *path, char *const argv[], char *const envp[], int join_fd,
      int out_w, int ready_w, int err_w)
{
    /* Into its own cgroup first, so nothing it starts is ever outside it.
     * A failure is reported as -errno: not an exec error. */
    if (join_fd >= 0) {
        ssize_t w;
        do
            w = write(join_fd, "0", 1);
        while (w < 0 && errno == EINTR);
        if (w != 1) {
            report(err_w, w < 0 ? -errno : -EIO);
            _exit(EXIT_SETUP);
        }
    }

    /* Every handler back to default while everything is still blocked (the
     * parent blocked all signals around fork): libev's handlers must never
     * run here, and a SIG_IGN would survive exec (the child would ignore
     * SIGTERM). Signals that cannot be changed just fail. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < _NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &dfl, NULL);

    /* Own group, so TERM/KILL reach its descendants and not us. The parent
     * calls setpgid() too: whichever runs first wins the race. */
    (void)setpgid(0, 0);

    /* Die with the supervisor. The parent may already be gone before the
     * prctl took effect: then getppid() no longer names it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
        _exit(EXIT_SETUP);

    /* Move the pipe ends above the targets first, so no dup2() below can
     * clobber a source that happens to sit on 0..4. */
    int e = fcntl(err_w, F_DUPFD_CLOEXEC, HIGH_FD);
    int o = fcntl(out_w, F_DUPFD_CLOEXEC, HIGH_FD);
    int r = fcntl(ready_w, F_DUPFD_CLOEXEC, HIGH_FD);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int n = null >= 0 ? fcntl(null, F_DUPFD_CLOEXEC, HIGH_FD) : -1;
    if (e < 0)
        _exit(EXIT_SETUP);
    if (o < 0 || r < 0 || n < 0 || dup3(e, ERR_FD, O_CLOEXEC) < 0) {
        report(e, errno ? errno : EBADF);
        _exit(EXIT_SETUP);
    }
    /* dup2() clears close-on-exec on the target: exactly 0..3 survive exec. */
    if (dup2(n, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 || dup2(r, STK_CHILD_READY_FD) < 0) {
        report(ERR_FD, errno);
        _exit(EXIT_SETUP);
    }
    if (close_range(ERR_FD + 1, ~0u, 0) < 0) {
        /* Kernels before 5.9: close them one by one. */
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = ERR_FD + 1; fd < (max > 0 ? max : 65536); fd++)
            (void)close((int)fd);
    }

    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    execve(path, argv, envp);
    report(ERR_FD, errno);
    _exit(EXIT_EXEC);
}

int stk_spawn(const char *path, char *const argv[], char *const envp[], int join_fd,
              struct stk_spawned *ret)
{
    int out[2] = {-1, -1}, rdy[2] = {-1, -1}, err[2] = {-1, -1};
    int r;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(rdy, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        r = -errno;
        goto fail;
    }

    sigset_t all, old;
    sigfillset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child(parent, path, argv, envp, join_fd, out[1], rdy[1], err[1]);
    int fork_errno = errno;
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        r = -fork_errno;
        goto fail;
    }
    (void)setpgid(pid, pid); /* EACCES once it exec'd: it did it itself then */

    close(out[1]);
    close(rdy[1]);
    close(err[1]);
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(rdy[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(err[0], F_SETFL, O_NONBLOCK);
    ret->pid = pid;
    ret->out_fd = out[0];
    ret->ready_fd = rdy[0];
    ret->err_fd = err[0];
    return 0;
fail:
    close_pair(out);
    close_pair(rdy);
    close_pair(err);
    return r;
}

int stk_spawn_exec_errno(int fd)
{
    int e = 0;
    if (fd < 0)
        return 0;
    ssize_t n = stk_read_retry(fd, &e, sizeof(e));
    close(fd);
    return n == (ssize_t)sizeof(e) ? e : 0;
}
