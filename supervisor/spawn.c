/* SPDX-License-Identifier: MIT */
/* spawn.c — a supervised child's fds around the common spawner: stdin
 * /dev/null, stdout and stderr on one pipe to the supervisor, the readiness
 * pipe on fd 3, and its cgroup joined first in cgroup mode. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "spawn-private.h"
#include "supervisor.h"

_Static_assert(STK_CHILD_READY_FD == 3, "the readiness pipe is the spawner's first extra fd");

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    p[0] = p[1] = -1;
}

int stk_spawn(const char *path, char *const argv[], char *const envp[], int join_fd,
              struct stk_spawned *ret)
{
    int out[2] = {-1, -1}, rdy[2] = {-1, -1};
    int r;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(rdy, O_CLOEXEC) < 0) {
        r = -errno;
        goto fail;
    }
    struct stk_spawn_opts o = {
        .path = path,
        .argv = argv,
        .envp = envp,
        .fd = {-1, out[1], out[1]},
        .extra = &rdy[1],
        .nextra = 1,
        .join_fd = join_fd,
    };
    pid_t pid;
    int report;
    r = stk_spawn_start(&o, &pid, &report);
    if (r < 0)
        goto fail;
    close(out[1]);
    close(rdy[1]);
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(rdy[0], F_SETFL, O_NONBLOCK);
    ret->pid = pid;
    ret->out_fd = out[0];
    ret->ready_fd = rdy[0];
    ret->err_fd = report;
    return 0;
fail:
    close_pair(out);
    close_pair(rdy);
    return r;
}
