/* SPDX-License-Identifier: MIT */
/* bench_supervisor.c — seqtick-bench supervisor: the supervisor's CPU while
 * one supervised child floods its output with `yes` at full speed (text and
 * json log formats), its stderr on a pipe this bench drains, next to the
 * CPU of `yes > /dev/null` alone in the same run; plus the supervisor's RSS. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "benchutil.h"
#include "util-private.h"

#define SECONDS_DEFAULT 10

static const char standin[] = "#!/bin/sh\n"
                              "printf '\\n' >&3\n"
                              "exec sleep 1000000\n";

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long vm_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
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

static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    int r = stk_write_all(fd, text, strlen(text));
    close(fd);
    return r;
}

/* "pid":N of the child `name` in the status file, 0 if not there (yet). */
static long status_pid(const char *status, const char *name, bool *all_ready)
{
    char buf[16384], key[96];
    int fd = open(status, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = stk_read_retry(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    *all_ready = strstr(buf, "\"all_ready\":true") != NULL;
    snprintf(key, sizeof(key), "{\"name\":\"%s\",\"pid\":", name);
    char *p = strstr(buf, key);
    return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

static void reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* CPU share of one core used by `yes > /dev/null` over seconds. */
static double baseline(double seconds)
{
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 1);
        execlp("yes", "yes", "flooding the supervisor log", (char *)NULL);
        _exit(127);
    }
    if (p < 0)
        return -1;
    usleep(200000);
    double c0 = stk_bench_cpu_s(p), t0 = mono_s();
    usleep((useconds_t)(seconds * 1e6));
    double c1 = stk_bench_cpu_s(p), t1 = mono_s();
    kill(p, SIGKILL);
    reap(p);
    return c0 < 0 || c1 < 0 ? -1 : (c1 - c0) / (t1 - t0);
}

struct run {
    double sup_cpu, yes_cpu; /* share of one core */
    double mib_s, lines_s;   /* what reached the supervisor's stderr */
    long rss, anon, hwm;     /* kB */
};

/* One supervisor with a flooding [program.flood], stderr on a pipe we read. */
static int one_run(const char *sup_path, const char *dir, const char *format, double seconds,
                   struct run *out)
{
    char conf[PATH_MAX], pidfile[PATH_MAX], status[PATH_MAX], bindir[PATH_MAX];
    char text[4 * PATH_MAX + 512];
    snprintf(bindir, sizeof(bindir), "%s/bin", dir);
    snprintf(conf, sizeof(conf), "%s/%s.conf", dir, format);
    snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", dir, format);
    snprintf(status, sizeof(status), "%s.status", pidfile);
    snprintf(text, sizeof(text),
             "[shm]\nname = /stk-bench-sup-%ld-%s\ncapacity = 16\nhistory = 16\n"
             "[supervisor]\npidfile = %s\nbindir = %s\ngrace_ms = 1000\n"
             "[log]\nformat = %s\n"
             "[program.flood]\ncommand = exec yes 'flooding the supervisor log'\n",
             (long)getpid(), format, pidfile, bindir, format);
    if (write_file(conf, text, 0644) < 0)
        return -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t sup = fork();
    if (sup == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execl(sup_path, "seqtick-supervisor", "-c", conf, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    if (sup < 0) {
        close(p[0]);
        return -1;
    }
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    static char buf[1 << 16];
    unsigned long long bytes = 0, lines = 0;
    bool ready = false, counting = false;
    long ypid = 0;
    double t_end = mono_s() + 10, t0 = 0, c0 = 0, y0 = 0;
    int rc = -1;
    for (;;) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        (void)poll(&pfd, 1, 50);
        ssize_t n;
        while ((n = read(p[0], buf, sizeof(buf))) > 0)
            if (counting) {
                bytes += (unsigned long long)n;
                for (ssize_t i = 0; i < n; i++)
                    lines += buf[i] == '\n';
            }
        if (n == 0)
            break; /* the supervisor is gone */
        double now = mono_s();
        if (!counting) {
            ypid = status_pid(status, "flood", &ready);
            if (ready && ypid > 0) {
                counting = true;
                t0 = now;
                c0 = stk_bench_cpu_s(sup);
                y0 = stk_bench_cpu_s((pid_t)ypid);
                t_end = now + seconds;
            } else if (now > t_end) {
                fprintf(stderr, "seqtick-bench: supervisor: fatal: never ready (%s)\n", format);
                break;
            }
        } else if (now >= t_end) {
            double c1 = stk_bench_cpu_s(sup), y1 = stk_bench_cpu_s((pid_t)ypid);
            out->sup_cpu = (c1 - c0) / (now - t0);
            out->yes_cpu = (y1 - y0) / (now - t0);
            out->mib_s = (double)bytes / (now - t0) / (1024.0 * 1024.0);
            out->lines_s = (double)lines / (now - t0);
            out->rss = vm_kb(sup, "VmRSS:");
            out->anon = vm_kb(sup, "RssAnon:");
            out->hwm = vm_kb(sup, "VmHWM:");
            rc = 0;
            break;
        }
    }
    kill(sup, SIGTERM);
    /* Drain while it stops, so its exit never waits on us. */
    for (double stop = mono_s() + 5; mono_s() < stop;) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        (void)poll(&pfd, 1, 50);
        if (read(p[0], buf, sizeof(buf)) == 0)
            break;
    }
    close(p[0]);
    reap(sup);
    unlink(conf);
    return rc;
}

/* Remove dir and the files the supervisors left in it (accepted copies). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[PATH_MAX];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                (void)unlink(path);
            }
        closedir(d);
    }
    (void)rmdir(dir);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick-bench supervisor [-s SECONDS] [--supervisor PATH]\n"
               "  supervisor CPU and RSS while a child floods `yes` (text and json logs),\n"
               "  against `yes > /dev/null` alone\n");
}

int stk_bench_supervisor(int argc, char **argv)
{
    double seconds = SECONDS_DEFAULT;
    char sup_path[PATH_MAX] = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--supervisor") && i + 1 < argc) {
            snprintf(sup_path, sizeof(sup_path), "%s", argv[++i]);
        } else {
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (!(seconds >= 1 && seconds <= 3600)) {
        fprintf(stderr, "seqtick-bench: supervisor: fatal: -s must be 1..3600\n");
        return STK_EXIT_USAGE;
    }
    if (!sup_path[0] &&
        stk_find_program("seqtick-supervisor", "supervisor", sup_path, sizeof(sup_path)) < 0) {
        fprintf(stderr, "seqtick-bench: supervisor: fatal: seqtick-supervisor not found "
                        "(beside us, ../supervisor/, PATH); use --supervisor PATH\n");
        return STK_EXIT_SYSTEM;
    }
    char dir[] = "/tmp/stk-bench-sup-XXXXXX";
    char bindir[PATH_MAX], prod[PATH_MAX], serv[PATH_MAX];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "seqtick-bench: supervisor: fatal: mkdtemp: %s\n", strerror(errno));
        return STK_EXIT_SYSTEM;
    }
    snprintf(bindir, sizeof(bindir), "%s/bin", dir);
    snprintf(prod, sizeof(prod), "%s/seqtick-producer", bindir);
    snprintf(serv, sizeof(serv), "%s/seqtick-server", bindir);
    int rc = STK_EXIT_SYSTEM;
    struct run text = {0}, json = {0};
    if (mkdir(bindir, 0755) < 0 || write_file(prod, standin, 0755) < 0 ||
        write_file(serv, standin, 0755) < 0) {
        fprintf(stderr, "seqtick-bench: supervisor: fatal: unable to set up '%s'\n", dir);
        goto out;
    }
    double base = baseline(seconds);
    if (base < 0 || one_run(sup_path, dir, "text", seconds, &text) < 0 ||
        one_run(sup_path, dir, "json", seconds, &json) < 0) {
        fprintf(stderr, "seqtick-bench: supervisor: fatal: a run failed\n");
        goto out;
    }
    printf("seqtick-bench supervisor: one child floods `yes` for %.0f s; the supervisor's stderr "
           "is a pipe this bench drains\n",
           seconds);
    printf("%-36s %10s %10s %10s %12s\n", "", "sup CPU %", "yes CPU %", "log MiB/s", "log lines/s");
    printf("%-36s %10s %10.1f %10s %12s\n", "baseline: yes > /dev/null", "-", base * 100, "-", "-");
    printf("%-36s %10.2f %10.1f %10.2f %12.0f\n", "supervised, log.format = text",
           text.sup_cpu * 100, text.yes_cpu * 100, text.mib_s, text.lines_s);
    printf("%-36s %10.2f %10.1f %10.2f %12.0f\n", "supervised, log.format = json",
           json.sup_cpu * 100, json.yes_cpu * 100, json.mib_s, json.lines_s);
    printf("supervisor RSS after the flood: text VmRSS %ld kB (RssAnon %ld kB, VmHWM %ld kB); "
           "json VmRSS %ld kB (RssAnon %ld kB, VmHWM %ld kB)\n",
           text.rss, text.anon, text.hwm, json.rss, json.anon, json.hwm);
    rc = 0;
out:
    unlink(prod);
    unlink(serv);
    rmdir(bindir);
    remove_dir(dir);
    return rc;
}
