/* SPDX-License-Identifier: MIT */
/* util.c — EINTR-safe I/O, the readiness fd, the programs' common flags. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-private.h"
#include "log-private.h"
#include "seqtick.h"
#include "util-private.h"

int stk_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t stk_read_retry(int fd, void *buf, size_t len)
{
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int stk_ready_notify(void)
{
    const char *v = getenv(STK_READY_FD_ENV);
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    unsetenv(STK_READY_FD_ENV);
    if (errno || *end || fd < 3 || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0)
        return 0;
    int r = stk_write_all((int)fd, "\n", 1);
    close((int)fd);
    return r < 0 ? r : 1;
}

int stk_proc_start(pid_t pid, uint64_t *ret_ticks)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n = stk_read_retry(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return n < 0 ? (int)n : -ESRCH;
    buf[n] = 0;
    /* The name (field 2) may hold anything, ')' included: after the last. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -EBADMSG;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return -ESRCH;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EBADMSG;
        p++;
    }
    char *end;
    errno = 0;
    unsigned long long t = strtoull(p, &end, 10);
    if (errno || end == p)
        return -EBADMSG;
    *ret_ticks = t;
    return 0;
}

bool stk_proc_alive(pid_t pid, uint64_t start_ticks)
{
    uint64_t t = 0;
    return stk_proc_start(pid, &t) == 0 && (start_ticks == 0 || t == start_ticks);
}

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int stk_find_program(const char *name, const char *folder, char *out, size_t outsz)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        n = snprintf(self, sizeof(self), "./%s", name);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    const char *dir = ".";
    if (slash) {
        *slash = '\0';
        dir = slash == self ? "/" : self;
    }
    snprintf(out, outsz, "%s/%s", dir, name);
    if (executable(out))
        return 0;
    snprintf(out, outsz, "%s/../%s/%s", dir, folder, name);
    if (executable(out))
        return 0;
    for (const char *path = getenv("PATH"); path && *path;) {
        const char *end = strchrnul(path, ':');
        int len = (int)(end - path);
        snprintf(out, outsz, "%.*s/%s", len ? len : 1, len ? path : ".", name);
        if (executable(out))
            return 0;
        path = *end ? end + 1 : end;
    }
    snprintf(out, outsz, "%s/%s", dir, name);
    return -ENOENT;
}

int stk_args_parse(int argc, char **argv, const char *prog, const char *usage,
                   const char **ret_conf)
{
    const char *conf = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s %s\n", prog, usage);
            return 1;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("%s %s (layout ABI %u)\n", prog, STK_VERSION, STK_ABI_VERSION);
            return 1;
        }
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: fatal: %s needs a FILE\n", prog, a);
                return -EINVAL;
            }
            conf = argv[++i];
            continue;
        }
        if (!strncmp(a, "--config=", 9)) {
            conf = a + 9;
            continue;
        }
        fprintf(stderr, "%s: fatal: unknown argument '%s' (try --help)\n", prog, a);
        return -EINVAL;
    }
    *ret_conf = conf;
    return 0;
}

int stk_program_start(int argc, char **argv, const char *prog, const char *usage,
                      struct stk_config *cfg, int *ret_exit)
{
    const char *path = NULL;
    int r = stk_args_parse(argc, argv, prog, usage, &path);
    if (r != 0) {
        *ret_exit = r == 1 ? STK_EXIT_OK : STK_EXIT_USAGE;
        return 1;
    }
    char err[STK_CONF_ERR_MAX] = "";
    r = path ? stk_config_load(path, cfg, err) : stk_config_defaults(cfg);
    if (r < 0) { /* a config that cannot be read is the user's input: 100 */
        fprintf(stderr, "%s: fatal: %s\n", prog, r == -ENOMEM ? "out of memory" : err);
        *ret_exit = r == -ENOMEM ? STK_EXIT_SYSTEM : STK_EXIT_USAGE;
        return 1;
    }
    stk_log_init(prog, cfg->log.level, cfg->log.format);
    return 0;
}
