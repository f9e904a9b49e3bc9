/* SPDX-License-Identifier: MIT */
/* bench_restart.c — seqtick-bench restart: kill -9 a supervised child N times
 * and time kill -> replacement pid and kill -> replacement ready (from the
 * status file, woken by inotify) in each process-tracking mode (cgroup v2
 * where the machine allows, process group + /proc scan always), next to a
 * bare fork+exec+waitpid baseline measured in the same run; then the stop of
 * a 50-process tree (10 programs x 5 processes, each flushing 0.3 s on
 * SIGTERM) in each mode; plus the supervisor's RSS. */
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
#define STOP_PROGRAMS 10
#define STOP_PER_PROGRAM 5
#define STOP_FLUSH_MS 300
#define STOP_SLACK_MS 100

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
            "  kill -9 a supervised stand-in child KILLS times (default %d) in each\n"
            "  tracking mode (cgroup where permitted, pgroup always); report kill -> new\n"
            "  pid and kill -> ready p50/p90/max next to a bare fork+exec baseline, the\n"
            "  stop of a %d-process tree (%d programs x %d, %d ms flush each) and the\n"
            "  supervisor's RSS\n",
            KILLS_DEFAULT, STOP_PROGRAMS * STOP_PER_PROGRAM, STOP_PROGRAMS, STOP_PER_PROGRAM,
            STOP_FLUSH_MS);
}

/* --flush-child MS: a stand-in strategy for the stop bench. Waits for
 * SIGTERM, then "flushes" for MS ms and exits 0. */
static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static int flush_child(int ms)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    while (!got_term)
        pause();
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}

struct run {
    const char *mode; /* SEQTICK_TRACKING */
    char dir[64];
    char conf[PATH_MAX], pidfile[PATH_MAX], status[PATH_MAX], logpath[PATH_MAX];
    pid_t sup;
    int ino;
};

static pid_t start_supervisor(struct run *r, const char *sup_path)
{
    r->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (r->ino < 0 || inotify_add_watch(r->ino, r->dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: inotify on '%s': %s\n", r->dir,
                strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(r->logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("SEQTICK_TRACKING", r->mode, 1);
        execl(sup_path, "seqtick-supervisor", "-c", r->conf, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        fprintf(stderr, "seqtick-bench: restart: fatal: fork: %s\n", strerror(errno));
    r->sup = pid;
    return pid;
}

/* SIGTERM the supervisor and wait; returns ms and its exit status in *st. */
static double stop_supervisor(struct run *r, int *st)
{
    double t0 = now_ms();
    *st = -1;
    if (r->sup <= 0)
        return 0;
    kill(r->sup, SIGTERM);
    while (waitpid(r->sup, st, 0) < 0 && errno == EINTR)
        ;
    r->sup = -1;
    return now_ms() - t0;
}

static void run_cleanup(struct run *r, bool keep_log)
{
    int st;
    (void)stop_supervisor(r, &st);
    if (r->ino >= 0)
        close(r->ino);
    r->ino = -1;
    unlink(r->conf);
    if (!keep_log)
        unlink(r->logpath);
    unlink(r->status);
    unlink(r->pidfile);
    rmdir(r->dir);
}

static int run_setup(struct run *r, const char *mode, const char *tag, const char *bindir,
                     const char *programs)
{
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    r->ino = -1;
    r->sup = -1;
    snprintf(r->dir, sizeof(r->dir), "/tmp/stk-bench-%s-XXXXXX", tag);
    if (!mkdtemp(r->dir))
        return -errno;
    snprintf(r->conf, sizeof(r->conf), "%s/seqtick.conf", r->dir);
    snprintf(r->pidfile, sizeof(r->pidfile), "%s/sup.pid", r->dir);
    snprintf(r->status, sizeof(r->status), "%s/sup.pid.status", r->dir);
    snprintf(r->logpath, sizeof(r->logpath), "%s/supervisor.log", r->dir);
    size_t n = (size_t)4 * PATH_MAX + strlen(programs);
    char *text = malloc(n);
    if (!text)
        return -ENOMEM;
    /* backoff_min_ms = 0: every kill restarts at once (a death within 1 s
     * of the start would otherwise wait the backoff: not what is timed). */
    snprintf(text, n,
             "[shm]\nname = /stk-bench-%s-%s-%ld\ncapacity = 16\nhistory = 16\n"
             "[supervisor]\npidfile = %s\nbindir = %s\ngrace_ms = 1000\nbackoff_min_ms = 0\n"
             "[log]\nlevel = warn\n%s",
             tag, mode, (long)getpid(), r->pidfile, bindir, programs);
    int rc = write_file(r->conf, text, 0644);
    free(text);
    return rc;
}

struct restart_figures {
    double pid50, pid90, pidmax, rdy50, rdy90, rdymax;
    bool ok;
};

static int restart_run(const char *mode, const char *sup_path, const char *bindir, int kills,
                       struct restart_figures *f, long *rss, long *hwm, long *anon)
{
    struct run r;
    double *t_pid = calloc((size_t)kills, sizeof(double));
    double *t_ready = calloc((size_t)kills, sizeof(double));
    int rc = -1;
    if (!t_pid || !t_ready || run_setup(&r, mode, "restart", bindir, "") < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: unable to set up a run: %s\n",
                strerror(errno));
        goto out_free;
    }
    if (start_supervisor(&r, sup_path) < 0)
        goto out;
    long pid = 0;
    if (wait_status(r.ino, r.status, 0, true, &pid, now_ms() + 10000) < 0) {
        fprintf(stderr,
                "seqtick-bench: restart: fatal: supervisor (%s, %s) never got ready; see %s\n",
                sup_path, mode, r.logpath);
        goto out;
    }
    for (int i = 0; i < kills; i++) {
        long npid = 0;
        double t0 = now_ms();
        if (!child_of(pid, r.sup)) {
            fprintf(stderr,
                    "seqtick-bench: restart: fatal: pid %ld is not the supervisor's child\n", pid);
            goto out;
        }
        kill((pid_t)pid, SIGKILL);
        if (wait_status(r.ino, r.status, pid, false, &npid, t0 + WAIT_MS) < 0) {
            fprintf(stderr, "seqtick-bench: restart: fatal: no replacement after kill %d (%s)\n", i,
                    mode);
            goto out;
        }
        t_pid[i] = now_ms() - t0;
        if (wait_status(r.ino, r.status, pid, true, &npid, t0 + WAIT_MS) < 0) {
            fprintf(stderr,
                    "seqtick-bench: restart: fatal: replacement never ready (kill %d, %s)\n", i,
                    mode);
            goto out;
        }
        t_ready[i] = now_ms() - t0;
        pid = npid;
    }
    *rss = vm_kb(r.sup, "VmRSS:");
    *hwm = vm_kb(r.sup, "VmHWM:");
    *anon = vm_kb(r.sup, "RssAnon:");
    f->pid50 = pct(t_pid, kills, 50);
    f->pid90 = pct(t_pid, kills, 90);
    f->pidmax = pct(t_pid, kills, 100);
    f->rdy50 = pct(t_ready, kills, 50);
    f->rdy90 = pct(t_ready, kills, 90);
    f->rdymax = pct(t_ready, kills, 100);
    f->ok = true;
    rc = 0;
out:
    run_cleanup(&r, rc != 0);
out_free:
    free(t_pid);
    free(t_ready);
    return rc;
}

/* Stop of STOP_PROGRAMS programs of STOP_PER_PROGRAM processes each (a
 * shell's background children and the exec'd last one), every process
 * flushing STOP_FLUSH_MS on SIGTERM. Returns ms SIGTERM -> supervisor exit. */
static double stop_run(const char *mode, const char *sup_path, const char *bindir, const char *self,
                       int *status)
{
    struct run r;
    char one[PATH_MAX + 64], cmd[8 * (PATH_MAX + 64)] = "";
    snprintf(one, sizeof(one), "%s restart --flush-child %d", self, STOP_FLUSH_MS);
    size_t used = 0;
    for (int k = 0; k < STOP_PER_PROGRAM - 1; k++)
        used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s & ", one);
    snprintf(cmd + used, sizeof(cmd) - used, "exec %s", one);
    size_t n = STOP_PROGRAMS * (sizeof(cmd) + 64);
    char *programs = calloc(1, n);
    double ms = -1;
    if (!programs)
        return -1;
    for (int p = 0; p < STOP_PROGRAMS; p++) {
        size_t len = strlen(programs);
        snprintf(programs + len, n - len, "[program.flush%d]\ncommand = %s\ngrace_ms = 5000\n", p,
                 cmd);
    }
    if (run_setup(&r, mode, "stop", bindir, programs) < 0 || start_supervisor(&r, sup_path) < 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: unable to set up the stop run\n");
        free(programs);
        run_cleanup(&r, true);
        return -1;
    }
    free(programs);
    /* Every program counts as ready after 1 s alive. */
    double deadline = now_ms() + 15000;
    bool ready = false;
    while (!ready && now_ms() < deadline) {
        char buf[65536];
        int fd = open(r.status, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t k = stk_read_retry(fd, buf, sizeof(buf) - 1);
            close(fd);
            buf[k > 0 ? k : 0] = 0;
            ready = strstr(buf, "\"all_ready\":true") != NULL;
        }
        if (!ready)
            usleep(20000);
    }
    if (!ready) {
        fprintf(stderr, "seqtick-bench: restart: fatal: the stop run never got ready; see %s\n",
                r.logpath);
        run_cleanup(&r, true);
        return -1;
    }
    ms = stop_supervisor(&r, status);
    run_cleanup(&r, !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0));
    return ms;
}

int stk_bench_restart(int argc, char **argv)
{
    int kills = KILLS_DEFAULT;
    char sup_path[PATH_MAX] = "";
    if (argc == 3 && !strcmp(argv[1], "--flush-child"))
        return flush_child(atoi(argv[2]));
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
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0) {
        fprintf(stderr, "seqtick-bench: restart: fatal: /proc/self/exe: %s\n", strerror(errno));
        return STK_EXIT_SYSTEM;
    }
    self[sl] = 0;

    char dir[] = "/tmp/stk-bench-restart-XXXXXX";
    if (!mkdtemp(dir)) {
        fprintf(stderr, "seqtick-bench: restart: fatal: unable to create '%s': %s\n", dir,
                strerror(errno));
        return STK_EXIT_SYSTEM;
    }
    char bindir[PATH_MAX], script[PATH_MAX], server[PATH_MAX];
    snprintf(bindir, sizeof(bindir), "%s/bin", dir);
    snprintf(script, sizeof(script), "%s/seqtick-producer", bindir);
    snprintf(server, sizeof(server), "%s/seqtick-server", bindir);
    int rc = STK_EXIT_SYSTEM;
    double *t_base = calloc((size_t)kills, sizeof(double));
    if (!t_base || mkdir(bindir, 0755) < 0 || write_file(script, standin, 0755) < 0 ||
        write_file(server, standin, 0755) < 0) {
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
    double b50 = pct(t_base, kills, 50);

    static const char *const modes[] = {"cgroup", "pgroup"};
    struct restart_figures fig[2] = {{0}};
    long rss = -1, hwm = -1, anon = -1;
    for (int m = 0; m < 2; m++)
        if (restart_run(modes[m], sup_path, bindir, kills, &fig[m], &rss, &hwm, &anon) < 0 &&
            m == 1)
            goto out; /* the fallback must always work; cgroup may be refused */

    printf("seqtick-bench restart: %d x kill -9 of a supervised stand-in producer per mode\n",
           kills);
    printf("  (sh script: \"\\n\" to fd 3, then exec sleep; status file watched with inotify;\n"
           "  backoff_min_ms = 0, so a restart within 1 s of the last start is not delayed)\n");
    printf("%-50s %8s %8s %8s\n", "ms", "p50", "p90", "max");
    for (int m = 0; m < 2; m++) {
        char label[64];
        if (!fig[m].ok) {
            printf("%-50s %s\n", modes[m], "(not available here: see the log above)");
            continue;
        }
        snprintf(label, sizeof(label), "[%s] kill -> replacement pid in status", modes[m]);
        printf("%-50s %8.3f %8.3f %8.3f\n", label, fig[m].pid50, fig[m].pid90, fig[m].pidmax);
        snprintf(label, sizeof(label), "[%s] kill -> replacement ready (running)", modes[m]);
        printf("%-50s %8.3f %8.3f %8.3f\n", label, fig[m].rdy50, fig[m].rdy90, fig[m].rdymax);
    }
    printf("%-50s %8.3f %8.3f %8.3f\n", "baseline: bare fork+exec -> ready", b50,
           pct(t_base, kills, 90), pct(t_base, kills, 100));
    for (int m = 0; m < 2; m++)
        if (fig[m].ok)
            printf("[%s] ready p50 vs baseline p50: %.2fx (%.3f ms of supervision overhead)\n",
                   modes[m], b50 > 0 ? fig[m].rdy50 / b50 : 0.0, fig[m].rdy50 - b50);
    printf("supervisor RSS (pgroup run): VmRSS %ld kB (private RssAnon %ld kB, the rest shared "
           "library pages), VmHWM %ld kB\n",
           rss, anon, hwm);

    printf("stop of %d processes (%d programs x %d, each flushing %d ms on SIGTERM), "
           "SIGTERM -> supervisor exit:\n",
           STOP_PROGRAMS * STOP_PER_PROGRAM, STOP_PROGRAMS, STOP_PER_PROGRAM, STOP_FLUSH_MS);
    rc = 0;
    for (int m = 0; m < 2; m++) {
        int st = -1;
        double ms = stop_run(modes[m], sup_path, bindir, self, &st);
        if (ms < 0) {
            printf("  [%s] not available here\n", modes[m]);
            if (m == 1)
                rc = STK_EXIT_SYSTEM;
            continue;
        }
        bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        printf("  [%s] %.1f ms (target <= %d ms), exit %d%s\n", modes[m], ms,
               STOP_FLUSH_MS + STOP_SLACK_MS, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
               clean ? "" : " (not clean: a flush was cut)");
    }
out:
    unlink(script);
    unlink(server);
    rmdir(bindir);
    rmdir(dir);
    free(t_base);
    return rc;
}
