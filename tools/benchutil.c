/* SPDX-License-Identifier: MIT */
/* benchutil.c — helpers the seqtick-bench subcommands share (benchutil.h). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "segment-private.h"
#include "util-private.h"

void stk_bench_nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Below the ephemeral range, unlike a port from bind(0): no outgoing
 * connection — of ours or of anything else on the box — can take it between
 * now and the child's bind. */
int stk_bench_free_port(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    int top = lo - 1, bottom = lo - 12000 > 1024 ? lo - 12000 : 1024;
    static uint64_t x;
    if (!x)
        x = stk_mono_ns() ^ ((uint64_t)getpid() << 32);
    for (int i = 0; top > bottom && i < 200; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int port = bottom + (int)((x >> 33) % (uint64_t)(top - bottom + 1));
        if (port_bindable(port))
            return port;
    }
    return -1;
}

int stk_bench_dial(int port, bool nodelay)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    if (nodelay) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

pid_t stk_bench_spawn(const char *const argv[], const char *log, bool append)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* The child (a listener, a supervisor…) is the bench's own process:
         * it dies with the bench, even a bench killed mid-run. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(127);
        int out = open(log, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC) | O_CLOEXEC, 0600);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

double stk_bench_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = stk_read_retry(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long stk_bench_vm_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, flen))
            kb = strtol(line + flen, NULL, 10);
    fclose(f);
    return kb;
}

int stk_bench_wait_listening(int port, pid_t pid, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        int fd = stk_bench_dial(port, true);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -ECHILD;
        stk_bench_nap_ms(20);
    }
    return -ETIMEDOUT;
}

void stk_bench_reap(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        stk_bench_nap_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
