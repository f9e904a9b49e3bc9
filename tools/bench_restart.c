/* SPDX-License-Identifier: MIT */
/* bench_restart.c — seqtick-bench restart: kill -9 a supervised child N times
 * and time kill -> replacement pid and kill -> replacement ready (from the
 * status file, woken by inotify), next to a bare fork+exec+waitpid baseline;
 * plus the supervisor's RSS. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "util-private.h"

#define KILLS_DEFAULT 20
#define WAIT_MS 5000

static const char standin[] = "#!/bin/sh\n"
                              "printf '\\n' >&3\n"
                              "exec sleep 1000000\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p in [0,100] of v[0..n), sorting v. */
static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    int i = (int)(p / 100.0 * (n - 1) + 0.5);
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    int r = stk_write_all(fd, text, strlen(text));
    close(fd);
    return r;
}

/* The producer's pid and readiness from the status file: 0 if unreadable. */
static int read_status(const char *path, long *pid, bool *ready)
{
    char buf[16384];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = stk_read_retry(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    static const char key[] = "{\"name\":\"producer\",\"pid\":";
    const char *p = strstr(buf, key);
    if (!p)
        return -EPROTO;
    *pid = strtol(p + sizeof(key) - 1, NULL, 10);
    const char *r = strstr(p, "\"ready\":");
    if (!r)
        return -EPROTO;
    *ready = !strncmp(r + 8, "true", 4);
    return 0;
}

/* Wait until the producer's pid differs from `old` (and is not 0) and,
 * if want_ready, it is ready. Wakes on the status file's rename. */
static int wait_status(int ino, const char *status, long old, bool want_ready, long *ret_pid,
                       double deadline)
{
    for (;;) {
        long pid = 0;
        bool ready = false;
        if (read_status(status, &pid, &ready) == 0 && pid != 0 && pid != old &&
            (!want_ready || ready)) {
            *ret_pid = pid;
            return 0;
        }
        double left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = ino, .events = POLLIN};
        if (poll(&pfd, 1, (int)left + 1) > 0) {
            char ev[4096];
            (void)!read(ino, ev, sizeof(ev));
        }
    }
}

static long vm_kb(long pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)))
            v = strtol(line + strlen(key) + 1, NULL, 10);
    fclose(f);
    return v;
}

/* 1 if pid's parent is ppid (never kill a pid we misread). */
static bool child_of(long pid, pid_t ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = stk_read_retry(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    const char *r = strrchr(buf, ')');
    char state;
    long pp;
    return r && sscanf(r + 1, " %c %ld", &state, &pp) == 2 && pp == (long)ppid;
}

/* Bare baseline: fork, exec the same stand-in with a pipe on fd 3, wait for
 * its "\n", SIGKILL + waitpid. Returns ms fork -> ready, or < 0. */
static double baseline_once(const char *script)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 3);
        char *argv[] = {(char *)script, NULL};
        execv(script, argv);
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    char c;
    ssize_t n = stk_read_retry(p[0], &c, 1);
    double t1 = now_ms();
    close(p[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return n == 1 ? t1 - t0 : -1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seqtick-bench restart [-n KILLS] [--supervisor PATH]\n"
            "  kill -9 a supervised stand-in child KILLS times (default %d); report\n"
            "  kill -> new pid and kill -> ready p50/p90/max, a bare fork+exec baseline,\n"
            "  and the supervisor's RSS\n",
            KILLS_DEFAULT);
}

int stk_bench_restart(int argc, char **argv)
{
    int kills = KILLS_DEFAULT;
    char sup_path[PATH_MAX] = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            kills = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--supervisor") && i + 1 < argc) {
            snprintf(sup_path, sizeof(sup_path), "%s", argv[++i]);
        } else {
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (kills < 1 || kills > 100000) {
        fprintf(stderr, "seqtick-bench: restart: fatal: -n must be 1..100000\n");
        return STK_EXIT_USAGE;
    }
    if (!sup_path[0] &&
        stk_find_program("seqtick-supervisor", "supervisor", sup_path, sizeof(sup_path)) < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: seqtick-supervisor not found "
                        "(beside us, ../supervisor/, PATH); use --supervisor PATH\n");
        return STK_EXIT_SYSTEM;
    }

    char dir[] = "/tmp/stk-bench-restart-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "seqtick-bench: restart: fatal: unable to create '%s': %s\n", dir,
                strerror(errno));
        return STK_EXIT_SYSTEM;
    }
    char bindir[PATH_MAX], script[PATH_MAX], server[PATH_MAX], conf[PATH_MAX], pidfile[PATH_MAX],
        status[PATH_MAX], logpath[PATH_MAX], text[4 * PATH_MAX];
    snprintf(bindir, sizeof(bindir), "%s/bin", dir);
    snprintf(script, sizeof(script), "%s/seqtick-producer", bindir);
    snprintf(server, sizeof(server), "%s/seqtick-server", bindir);
    snprintf(conf, sizeof(conf), "%s/seqtick.conf", dir);
    snprintf(pidfile, sizeof(pidfile), "%s/sup.pid", dir);
    snprintf(status, sizeof(status), "%s/sup.pid.status", dir);
    snprintf(logpath, sizeof(logpath), "%s/supervisor.log", dir);
    snprintf(text, sizeof(text),
             "[shm]\nname = /stk-bench-restart-%ld\ncapacity = 16\nhistory = 16\n"
             "[supervisor]\npidfile = %s\nbindir = %s\ngrace_ms = 1000\n"
             "[log]\nlevel = warn\n",
             (long)getpid(), pidfile, bindir);
    int rc = STK_EXIT_SYSTEM;
    pid_t sup = -1;
    int ino = -1;
    double *t_pid = calloc((size_t)kills, sizeof(double));
    double *t_ready = calloc((size_t)kills, sizeof(double));
    double *t_base = calloc((size_t)kills, sizeof(double));
    if (!t_pid || !t_ready || !t_base || mkdir(bindir, 0755) < 0 ||
        write_file(script, standin, 0755) < 0 || write_file(server, standin, 0755) < 0 ||
        write_file(conf, text, 0644) < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: unable to set up '%s': %s\n", dir,
                strerror(errno));
        goto out;
    }

    /* Baseline first, on a quiet machine. */
    for (int i = 0; i < kills; i++)
        if ((t_base[i] = baseline_once(script)) < 0) {
            fprintf(stderr, "seqtick-bench: restart: fatal: baseline exec of '%s' failed\n",
                    script);
            goto out;
        }

    ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino < 0 || inotify_add_watch(ino, dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: inotify on '%s': %s\n", dir,
                strerror(errno));
        goto out;
    }
    sup = fork();
    if (sup == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(sup_path, "seqtick-supervisor", "-c", conf, (char *)NULL);
        _exit(127);
    }
    if (sup < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: fork: %s\n", strerror(errno));
        goto out;
    }
    long pid = 0;
    if (wait_status(ino, status, 0, true, &pid, now_ms() + 10000) < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: supervisor (%s) never got ready; see %s\n",
                sup_path, logpath);
        goto out;
    }
    for (int i = 0; i < kills; i++) {
        long npid = 0;
        double t0 = now_ms();
        if (!child_of(pid, sup)) {
            fprintf(stderr,
                    "seqtick-bench: restart: fatal: pid %ld is not the supervisor's child\n", pid);
            goto out;
        }
        kill((pid_t)pid, SIGKILL);
        if (wait_status(ino, status, pid, false, &npid, t0 + WAIT_MS) < 0) {
            fprintf(stderr, "seqtick-bench: restart: fatal: no replacement after kill %d\n", i);
            goto out;
        }
        t_pid[i] = now_ms() - t0;
        if (wait_status(ino, status, pid, true, &npid, t0 + WAIT_MS) < 0) {
            fprintf(stderr, "seqtick-bench: restart: fatal: replacement never ready (kill %d)\n",
                    i);
            goto out;
        }
        t_ready[i] = now_ms() - t0;
        pid = npid;
    }
    long rss = vm_kb(sup, "VmRSS:"), hwm = vm_kb(sup, "VmHWM:"), anon = vm_kb(sup, "RssAnon:");

    printf("seqtick-bench restart: %d x kill -9 of a supervised stand-in producer\n", kills);
    printf("  (sh script: \"\\n\" to fd 3, then exec sleep; status file watched with inotify)\n");
    printf("%-44s %8s %8s %8s\n", "ms", "p50", "p90", "max");
    double b50 = pct(t_base, kills, 50);
    printf("%-44s %8.3f %8.3f %8.3f\n", "kill -> replacement pid in status", pct(t_pid, kills, 50),
           pct(t_pid, kills, 90), pct(t_pid, kills, 100));
    double r50 = pct(t_ready, kills, 50);
    printf("%-44s %8.3f %8.3f %8.3f\n", "kill -> replacement ready (running)", r50,
           pct(t_ready, kills, 90), pct(t_ready, kills, 100));
    printf("%-44s %8.3f %8.3f %8.3f\n", "baseline: bare fork+exec -> ready", b50,
           pct(t_base, kills, 90), pct(t_base, kills, 100));
    printf("ready p50 vs baseline p50: %.2fx (%.3f ms of supervision overhead)\n",
           b50 > 0 ? r50 / b50 : 0.0, r50 - b50);
    printf("supervisor RSS: VmRSS %ld kB (private RssAnon %ld kB, the rest shared library "
           "pages), VmHWM %ld kB\n",
           rss, anon, hwm);
    rc = 0;
out:
    if (sup > 0) {
        kill(sup, SIGTERM);
        int st;
        while (waitpid(sup, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (ino >= 0)
        close(ino);
    unlink(script);
    unlink(server);
    unlink(conf);
    if (rc == 0)
        unlink(logpath);
    unlink(status);
    unlink(pidfile);
    rmdir(bindir);
    rmdir(dir);
    free(t_pid);
    free(t_ready);
    free(t_base);
    return rc;
}
