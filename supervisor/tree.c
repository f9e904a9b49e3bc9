/* SPDX-License-Identifier: MIT */
/* tree.c — every process a child starts, however it starts it (a shell that
 * does not exec, a setsid daemon, a grandchild re-parented late), belongs to
 * that child: it is signalled with it, gets its grace and dies with it.
 *
 * Two ways to know the tree, the same from outside:
 * - cgroup v2 (where we may create cgroups): each child runs in its own
 *   cgroup <our cgroup>/seqtick.<shm>/<child>; membership is the kernel's
 *   (cgroup.procs), SIGKILL is cgroup.kill, "populated 0" in cgroup.events
 *   says the tree is gone.
 * - process groups (always there): the leader's group, plus every process
 *   whose parent is in the tree (a /proc scan), plus orphans re-parented to
 *   us (we are a child subreaper) that the tree had before or that carry
 *   the child's SEQTICK_TREE mark in their environment. Each process is
 *   known by pid and start time, so a reused pid is never signalled.
 *
 * A SIGKILLed supervisor cannot clean up: <pidfile>.procs (pgroup mode: the
 * trees as last scanned; both modes: the cgroup folder) and the environment
 * mark tell the next supervisor on the same pidfile what to kill first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "supervisor.h"
#include "util-private.h"

#define TREE_ENV "SEQTICK_TREE"
#define TRACKING_ENV "SEQTICK_TRACKING"
#define SCAN_EVERY_S 1.0            /* pgroup mode: the procs file's freshness */
#define COUNT_MAX_AGE_NS 5000000ull /* a /proc scan this young answers "how many" */
#define SIGNAL_PASSES 8             /* SIGKILL: re-reads while new ones appear */
#define FIRST_PASS_MAX_AGE_NS 3000000ull
#define SURVIVOR_WAIT_NS 2000000000ull /* SIGKILLed survivors must be gone by then */

/* ---- /proc -------------------------------------------------------------- */

int stk_pstat_parse(const char *buf, size_t len, struct stk_pstat *out)
{
    /* "PID (COMM) S PPID PGRP SID TTY TPGID FLAGS MINFLT CMINFLT MAJFLT
     *  CMAJFLT UTIME STIME CUTIME CSTIME PRIO NICE THREADS ITREAL START ..."
     * COMM may hold spaces and parentheses: it ends at the last ')'. */
    char tmp[1024];
    if (len == 0 || len >= sizeof(tmp))
        return -EINVAL;
    memcpy(tmp, buf, len);
    tmp[len] = 0;
    char *end;
    long pid = strtol(tmp, &end, 10);
    if (end == tmp || pid <= 0 || *end != ' ' || end[1] != '(')
        return -EINVAL;
    char *rp = strrchr(tmp, ')');
    if (!rp || rp[1] != ' ' || !rp[2])
        return -EINVAL;
    char *p = rp + 2;
    out->pid = (pid_t)pid;
    out->state = *p++;
    /* fields 4.. : ppid pgrp sid, then 15 more up to starttime (field 22) */
    unsigned long long v[19];
    for (int i = 0; i < 19; i++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -EINVAL;
        errno = 0;
        char *e;
        long long x = strtoll(p, &e, 10);
        if (e == p || errno)
            return -EINVAL;
        v[i] = (unsigned long long)x;
        p = e;
    }
    out->ppid = (pid_t)v[0];
    out->pgrp = (pid_t)v[1];
    out->sid = (pid_t)v[2];
    out->threads = (long)v[16];
    out->start = v[18];
    return 0;
}

static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = stk_read_retry(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return (int)n;
    buf[n] = 0;
    return (int)n;
}

static int pstat_of(pid_t pid, struct stk_pstat *st)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    int n = read_small(path, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 ? n : -ESRCH;
    return stk_pstat_parse(buf, (size_t)n, st);
}

static int cmp_pstat(const void *a, const void *b)
{
    pid_t x = ((const struct stk_pstat *)a)->pid, y = ((const struct stk_pstat *)b)->pid;
    return x < y ? -1 : x > y;
}

/* Every process now, sorted by pid, into sup->scan. */
static int read_proc(struct stk_sup *sup)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    sup->nscan = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        struct stk_pstat st;
        if (pstat_of((pid_t)atol(de->d_name), &st) < 0)
            continue;
        if (sup->nscan == sup->capscan) {
            size_t cap = sup->capscan ? sup->capscan * 2 : 512;
            struct stk_pstat *v = realloc(sup->scan, cap * sizeof(*v));
            if (!v) {
                closedir(d);
                return -ENOMEM;
            }
            sup->scan = v;
            sup->capscan = cap;
        }
        sup->scan[sup->nscan++] = st;
    }
    closedir(d);
    if (sup->nscan > 1)
        qsort(sup->scan, sup->nscan, sizeof(*sup->scan), cmp_pstat);
    return 0;
}

/* Append st to sup->scan unless its pid is there. Returns 1 added, 0 not. */
static int scan_add(struct stk_sup *sup, const struct stk_pstat *st)
{
    for (size_t i = 0; i < sup->nscan; i++)
        if (sup->scan[i].pid == st->pid)
            return 0;
    if (sup->nscan == sup->capscan) {
        size_t cap = sup->capscan ? sup->capscan * 2 : 64;
        struct stk_pstat *v = realloc(sup->scan, cap * sizeof(*v));
        if (!v)
            return 0;
        sup->scan = v;
        sup->capscan = cap;
    }
    sup->scan[sup->nscan++] = *st;
    return 1;
}

/* Add the children of pid (every thread's: a child belongs to the thread
 * that forked it) to sup->scan. */
static void add_children(struct stk_sup *sup, pid_t pid, long threads)
{
    static char buf[65536];
    char path[96];
    DIR *d = NULL;
    struct dirent *de = NULL;
    if (threads != 1) {
        snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
        if (!(d = opendir(path)))
            return;
    }
    for (;;) {
        if (d) {
            if (!(de = readdir(d)))
                break;
            if (de->d_name[0] < '1' || de->d_name[0] > '9')
                continue;
            snprintf(path, sizeof(path), "/proc/%ld/task/%s/children", (long)pid, de->d_name);
        } else {
            snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
        }
        int n = read_small(path, buf, sizeof(buf));
        for (char *p = buf; n > 0 && *p;) {
            char *end;
            long c = strtol(p, &end, 10);
            if (end == p)
                break;
            p = end;
            struct stk_pstat st;
            if (c > 0 && pstat_of((pid_t)c, &st) == 0)
                (void)scan_add(sup, &st);
        }
        if (!d)
            break;
    }
    if (d)
        closedir(d);
}

/* Our trees only, into sup->scan sorted by pid: every child's leader, what
 * its tree had, our own children (orphans re-parented to us, the subreaper)
 * and everything below those, by the kernel's children lists. Whatever a
 * tree holds is below its leader or, once re-parented, below us. */
static int read_trees(struct stk_sup *sup)
{
    sup->nscan = 0;
    struct stk_pstat st;
    for (size_t ci = 0; ci < sup->nchildren; ci++) {
        const struct stk_child *c = sup->children[ci];
        if (c->pid > 0 && pstat_of(c->pid, &st) == 0)
            (void)scan_add(sup, &st);
        for (size_t i = 0; i < c->nmembers; i++)
            if (pstat_of(c->members[i].pid, &st) == 0 && st.start == c->members[i].start)
                (void)scan_add(sup, &st);
    }
    struct stk_pstat self;
    if (pstat_of(getpid(), &self) == 0)
        add_children(sup, self.pid, self.threads);
    for (size_t i = 0; i < sup->nscan; i++)
        add_children(sup, sup->scan[i].pid, sup->scan[i].threads);
    if (sup->nscan > 1)
        qsort(sup->scan, sup->nscan, sizeof(*sup->scan), cmp_pstat);
    return 0;
}

static long find_pid(const struct stk_sup *sup, pid_t pid)
{
    size_t lo = 0, hi = sup->nscan;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sup->scan[mid].pid == pid)
            return (long)mid;
        if (sup->scan[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The SEQTICK_TREE value in pid's environment ("" if none) into out. */
static void tree_mark(pid_t pid, char *out, size_t outsz)
{
    char path[64];
    static char env[65536];
    out[0] = 0;
    snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
    int n = read_small(path, env, sizeof(env));
    if (n <= 0)
        return;
    static const char key[] = TREE_ENV "=";
    for (char *p = env; p < env + n; p += strlen(p) + 1)
        if (!strncmp(p, key, sizeof(key) - 1)) {
            snprintf(out, outsz, "%s", p + sizeof(key) - 1);
            return;
        }
}

static void cmdline_of(pid_t pid, char *out, size_t outsz)
{
    char path[64];
    memset(out, 0, outsz);
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    int n = read_small(path, out, outsz);
    if (n <= 0) {
        snprintf(out, outsz, "?");
        return;
    }
    for (int i = 0; i < n - 1; i++)
        if (!out[i])
            out[i] = ' ';
}

/* Signal the process that is pid with start time `start` (0: any), never
 * another that reuses the number: the pidfd pins the process, then its start
 * time is checked. Returns true if sent. */
static bool signal_exact(pid_t pid, uint64_t start, int sig1, int sig2)
{
    int fd = pidfd_open(pid, 0);
    if (fd < 0)
        return false;
    bool ok = true;
    if (start) {
        struct stk_pstat st;
        ok = pstat_of(pid, &st) == 0 && st.start == start && st.state != 'Z';
    }
    if (ok && sig1)
        (void)pidfd_send_signal(fd, sig1, NULL, 0);
    if (ok)
        ok = pidfd_send_signal(fd, sig2, NULL, 0) == 0;
    close(fd);
    return ok;
}

/* ---- pgroup mode: who belongs to which tree ------------------------------ */

static bool member_of(const struct stk_child *c, pid_t pid, uint64_t start)
{
    for (size_t i = 0; i < c->nmembers; i++)
        if (c->members[i].pid == pid && c->members[i].start == start)
            return true;
    return false;
}

static bool is_leader(const struct stk_sup *sup, pid_t pid)
{
    for (size_t i = 0; i < sup->nchildren; i++)
        if (sup->children[i]->pid == pid)
            return true;
    return false;
}

static int add_member(struct stk_child *c, pid_t pid, uint64_t start)
{
    if (c->nmembers == c->capmembers) {
        size_t cap = c->capmembers ? c->capmembers * 2 : 8;
        struct stk_tproc *v = realloc(c->members, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        c->members = v;
        c->capmembers = cap;
    }
    c->members[c->nmembers++] = (struct stk_tproc){pid, start};
    return 0;
}

static void write_procs(struct stk_sup *sup);

/* Read /proc (unless a scan younger than max_age_ns is at hand) and work out
 * every child's tree: the leader, its process group (while that group id is
 * still the leader's), what the tree had before, orphans of ours marked with
 * the child's name, and every descendant of any of those. */
static void refresh(struct stk_sup *sup, uint64_t max_age_ns)
{
    uint64_t now = stk_mono_ns();
    if (sup->scan_mono && now - sup->scan_mono <= max_age_ns)
        return;
    if (read_trees(sup) < 0)
        return; /* keep what we knew */
    sup->scan_mono = now;
    size_t n = sup->nscan;
    int *owner = malloc((n ? n : 1) * sizeof(int));
    if (!owner)
        return;
    for (size_t i = 0; i < n; i++)
        owner[i] = -1;
    pid_t self = getpid();
    for (size_t ci = 0; ci < sup->nchildren; ci++) {
        const struct stk_child *c = sup->children[ci];
        if (c->pgid <= 0)
            continue;
        /* A group id stays the leader's while any process is in the group;
         * once it is empty, a new process may get that number: then its
         * start time differs from the leader's. */
        bool group_ours = true;
        long li = find_pid(sup, c->pgid);
        if (li >= 0 && sup->scan[li].start != c->leader_start)
            group_ours = false;
        for (size_t i = 0; i < n; i++) {
            const struct stk_pstat *s = &sup->scan[i];
            if (owner[i] >= 0 || s->state == 'Z' || s->pid == self)
                continue;
            if ((s->pid == c->pid && s->start == c->leader_start) ||
                (group_ours && s->pgrp == c->pgid && s->start >= c->leader_start) ||
                member_of(c, s->pid, s->start))
                owner[i] = (int)ci;
        }
    }
    /* Orphans of ours nobody claimed: the mark says whose they are. */
    for (size_t i = 0; i < n; i++) {
        const struct stk_pstat *s = &sup->scan[i];
        if (owner[i] >= 0 || s->ppid != self || s->state == 'Z' || is_leader(sup, s->pid))
            continue;
        char mark[512];
        tree_mark(s->pid, mark, sizeof(mark));
        char *at = strchr(mark, '@');
        if (!at || !sup->tree_suffix || strcmp(at, sup->tree_suffix))
            continue;
        *at = 0;
        for (size_t ci = 0; ci < sup->nchildren; ci++)
            if (!strcmp(sup->children[ci]->name, mark))
                owner[i] = (int)ci;
    }
    /* Descendants of members are members. */
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            const struct stk_pstat *s = &sup->scan[i];
            if (owner[i] >= 0 || s->state == 'Z' || s->pid == self)
                continue;
            long p = find_pid(sup, s->ppid);
            if (p >= 0 && owner[p] >= 0 && s->start >= sup->scan[p].start) {
                owner[i] = owner[p];
                grew = true;
            }
        }
    }
    for (size_t ci = 0; ci < sup->nchildren; ci++)
        sup->children[ci]->nmembers = 0;
    for (size_t i = 0; i < n; i++)
        if (owner[i] >= 0)
            (void)add_member(sup->children[owner[i]], sup->scan[i].pid, sup->scan[i].start);
    free(owner);
}

/* Every second: the trees afresh, and the procs file when they changed
 * (kept off the restart path: a start is marked in its environment). */
static void scan_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    refresh(w->data, 0);
    write_procs(w->data);
}

/* ---- the procs file ------------------------------------------------------ */

static uint64_t self_start(void)
{
    struct stk_pstat st;
    return pstat_of(getpid(), &st) == 0 ? st.start : 0;
}

/* Rewrite <pidfile>.procs (temp + rename) when what it says changed. */
static void write_procs(struct stk_sup *sup)
{
    if (!sup->procs_path)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    fprintf(f, "seqtick-procs 1\nsupervisor %ld %llu\n", (long)getpid(),
            (unsigned long long)self_start());
    if (sup->track == STK_TRACK_CGROUP)
        fprintf(f, "cgroup %s\n", sup->cg_base);
    for (size_t ci = 0; ci < sup->nchildren; ci++) {
        const struct stk_child *c = sup->children[ci];
        for (size_t i = 0; i < c->nmembers; i++)
            fprintf(f, "proc %ld %llu %s\n", (long)c->members[i].pid,
                    (unsigned long long)c->members[i].start, c->name);
    }
    if (fclose(f) != 0 || !text)
        return;
    if (sup->procs_text && !strcmp(sup->procs_text, text)) {
        free(text);
        return;
    }
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", sup->procs_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    int r = fd < 0 ? -errno : stk_write_all(fd, text, len);
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, sup->procs_path) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        stk_warn("unable to write '%s': %s", sup->procs_path, strerror(-r));
        free(text);
        return;
    }
    free(sup->procs_text);
    sup->procs_text = text;
}

/* ---- cgroup mode ---------------------------------------------------------- */

static int cg_file(const char *dir, const char *name, char *buf, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return read_small(path, buf, size);
}

static int cg_write(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = stk_write_all(fd, text, strlen(text));
    close(fd);
    return r;
}

static bool cg_populated(const char *dir)
{
    char buf[256];
    if (cg_file(dir, "cgroup.events", buf, sizeof(buf)) <= 0)
        return false; /* gone */
    const char *p = strstr(buf, "populated ");
    return p && p[10] == '1';
}

/* Pids in dir/cgroup.procs into *v (grown), returns how many or -errno. */
static long cg_pids(const char *dir, pid_t **v, size_t *cap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    long n = 0, pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        if ((size_t)n == *cap) {
            size_t nc = *cap ? *cap * 2 : 32;
            pid_t *g = realloc(*v, nc * sizeof(pid_t));
            if (!g)
                break;
            *v = g;
            *cap = nc;
        }
        (*v)[n++] = (pid_t)pid;
    }
    fclose(f);
    return n;
}

/* pid is still in the cgroup at rel (relative to the mount). */
static bool in_cgroup(pid_t pid, const char *rel)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return false;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        if (!strncmp(line, "0::", 3)) {
            size_t n = strlen(rel);
            return !strncmp(line + 3, rel, n) && (line[3 + n] == 0 || line[3 + n] == '/');
        }
    return false;
}

static char *child_rel(const struct stk_child *c)
{
    char *rel = NULL;
    if (asprintf(&rel, "%s/%s", c->sup->cg_rel, c->name) < 0)
        return NULL;
    return rel;
}

/* ---- signalling ----------------------------------------------------------- */

struct sent {
    struct stk_tproc *v;
    size_t n, cap;
};

static bool sent_has(const struct sent *s, pid_t pid, uint64_t start)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].pid == pid && (!start || !s->v[i].start || s->v[i].start == start))
            return true;
    return false;
}

static void sent_add(struct sent *s, pid_t pid, uint64_t start)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct stk_tproc *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct stk_tproc){pid, start};
}

size_t stk_tree_signal(struct stk_child *c, int sig, bool cont)
{
    struct stk_sup *sup = c->sup;
    struct sent s = {0};
    size_t count = 0;
    /* SIGKILL: again while new processes appear (a fork racing the kill).
     * Anything else: the tree as it is now, once — a graceful handler that
     * starts a process (a shell trap's `sleep`) must not see it signalled. */
    int passes = sig == SIGKILL ? SIGNAL_PASSES : 1;
    if (sup->track == STK_TRACK_CGROUP && c->cg) {
        if (sig == SIGKILL) {
            /* Exact and atomic: nothing forks its way out of it. */
            count = stk_tree_count(c);
            if (count && cg_write(c->cg, "cgroup.kill", "1") < 0 && c->pid > 0)
                (void)kill(c->pid, SIGKILL);
            return count;
        }
        char *rel = child_rel(c);
        pid_t *pids = NULL;
        size_t cap = 0;
        for (int pass = 0; rel && pass < passes; pass++) {
            long n = cg_pids(c->cg, &pids, &cap);
            size_t fresh = 0;
            for (long i = 0; i < n; i++) {
                if (sent_has(&s, pids[i], 0))
                    continue;
                sent_add(&s, pids[i], 0);
                int fd = pidfd_open(pids[i], 0);
                if (fd < 0)
                    continue;
                /* Pinned by the pidfd: still the member we read? */
                if (in_cgroup(pids[i], rel)) {
                    if (cont)
                        (void)pidfd_send_signal(fd, SIGCONT, NULL, 0);
                    if (pidfd_send_signal(fd, sig, NULL, 0) == 0)
                        count++;
                }
                close(fd);
                fresh++;
            }
            if (!fresh)
                break;
        }
        /* A leader forked a moment ago may not have joined its cgroup yet
         * (it does so between fork and exec): it is ours and not reaped, so
         * it cannot be another process. Without this, a stop right after a
         * start found nobody to TERM and the grace ended in SIGKILL. */
        if (c->pid > 0 && !sent_has(&s, c->pid, 0)) {
            if (cont)
                (void)kill(c->pid, SIGCONT);
            if (kill(c->pid, sig) == 0)
                count++;
        }
        free(pids);
        free(rel);
        free(s.v);
        return count;
    }
    /* pgroup mode. The first pass may use a scan a few ms old (the one the
     * previous child's last pass just made, when the supervisor stops them
     * all); every later pass reads /proc afresh, and the last one found
     * nothing new. */
    for (int pass = 0; pass < passes; pass++) {
        refresh(sup, pass ? 0 : FIRST_PASS_MAX_AGE_NS);
        size_t fresh = 0;
        for (size_t i = 0; i < c->nmembers; i++) {
            struct stk_tproc m = c->members[i];
            if (sent_has(&s, m.pid, m.start))
                continue;
            sent_add(&s, m.pid, m.start);
            fresh++;
            if (signal_exact(m.pid, m.start, cont ? SIGCONT : 0, sig))
                count++;
        }
        if (!fresh)
            break;
    }
    /* A leader not reaped yet cannot be another process: make sure. */
    if (c->pid > 0 && !sent_has(&s, c->pid, 0)) {
        if (cont)
            (void)kill(c->pid, SIGCONT);
        if (kill(c->pid, sig) == 0)
            count++;
    }
    free(s.v);
    return count;
}

size_t stk_tree_count(struct stk_child *c)
{
    struct stk_sup *sup = c->sup;
    if (sup->track == STK_TRACK_CGROUP && c->cg) {
        if (!cg_populated(c->cg))
            return 0;
        pid_t *pids = NULL;
        size_t cap = 0;
        long n = cg_pids(c->cg, &pids, &cap);
        free(pids);
        return n > 0 ? (size_t)n : 1; /* populated: at least one */
    }
    refresh(sup, COUNT_MAX_AGE_NS);
    return c->nmembers;
}

bool stk_tree_owns(struct stk_sup *sup, pid_t pid)
{
    if (sup->track == STK_TRACK_CGROUP)
        return sup->cg_rel && in_cgroup(pid, sup->cg_rel);
    for (size_t ci = 0; ci < sup->nchildren; ci++) {
        const struct stk_child *c = sup->children[ci];
        for (size_t i = 0; i < c->nmembers; i++)
            if (c->members[i].pid == pid)
                return true;
    }
    return false;
}

const char *stk_tree_mode_name(const struct stk_sup *sup)
{
    return sup->track == STK_TRACK_CGROUP ? "cgroup" : "pgroup";
}

/* ---- per child ------------------------------------------------------------ */

static int build_envp(struct stk_child *c)
{
    struct stk_sup *sup = c->sup;
    size_t n = 0;
    char *const *base = sup->envp;
    while (base && base[n])
        n++;
    char **v = calloc(n + 2, sizeof(char *));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    static const char key[] = TREE_ENV "=";
    for (size_t i = 0; i < n; i++)
        if (strncmp(base[i], key, sizeof(key) - 1))
            v[k++] = base[i];
    char *mark = NULL;
    if (asprintf(&mark, "%s%s%s", key, c->name, sup->tree_suffix ? sup->tree_suffix : "@") < 0) {
        free(v);
        return -ENOMEM;
    }
    v[k] = mark; /* the last entry is ours to free */
    c->envp = v;
    return 0;
}

int stk_tree_prepare(struct stk_child *c, int *join_fd, char ***envp)
{
    struct stk_sup *sup = c->sup;
    *join_fd = -1;
    if (!c->envp && build_envp(c) < 0)
        return -ENOMEM;
    *envp = c->envp;
    if (sup->track != STK_TRACK_CGROUP)
        return 0;
    if (!c->cg && asprintf(&c->cg, "%s/%s", sup->cg_base, c->name) < 0) {
        c->cg = NULL;
        return -ENOMEM;
    }
    if (mkdir(c->cg, 0755) < 0 && errno != EEXIST)
        return -errno;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.procs", c->cg);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    *join_fd = fd;
    return 0;
}

void stk_tree_started(struct stk_child *c)
{
    struct stk_pstat st;
    c->pgid = c->pid;
    c->leader_start = pstat_of(c->pid, &st) == 0 ? st.start : 0;
    if (c->sup->track == STK_TRACK_CGROUP)
        return;
    c->nmembers = 0;
    (void)add_member(c, c->pid, c->leader_start);
}

void stk_tree_child_free(struct stk_child *c)
{
    if (c->cg) {
        if (rmdir(c->cg) < 0 && errno != ENOENT)
            stk_warn("%s: unable to remove cgroup '%s': %s", c->name, c->cg, strerror(errno));
        free(c->cg);
        c->cg = NULL;
    }
    if (c->envp) {
        size_t n = 0;
        while (c->envp[n])
            n++;
        if (n)
            free(c->envp[n - 1]); /* the mark; the rest is sup->envp's */
        free(c->envp);
        c->envp = NULL;
    }
    free(c->members);
    c->members = NULL;
    c->nmembers = c->capmembers = 0;
}

/* ---- start-up: the mode, and survivors ------------------------------------ */

/* The cgroup v2 mount point, from /proc/self/mountinfo. */
static int cgroup2_mount(char *out, size_t outsz)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    char line[4096];
    int r = -ENOENT;
    while (fgets(line, sizeof(line), f)) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SRC SUPER */
        char *sep = strstr(line, " - ");
        if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
            continue;
        char root[4096], mnt[4096];
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
            continue;
        if (strcmp(root, "/"))
            continue; /* a bind mount of a subtree: paths would not match */
        snprintf(out, outsz, "%s", mnt);
        r = 0;
        break;
    }
    fclose(f);
    return r;
}

/* Our own cgroup ("0::PATH" in /proc/self/cgroup). */
static int own_cgroup(char *out, size_t outsz)
{
    char buf[4096];
    if (read_small("/proc/self/cgroup", buf, sizeof(buf)) <= 0)
        return -EIO;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        if (!strncmp(line, "0::", 3)) {
            snprintf(out, outsz, "%s", strcmp(line + 3, "/") ? line + 3 : "");
            return 0;
        }
    return -ENOENT;
}

/* Set up cgroup mode, or say (in why) why not. */
static int cgroup_setup(struct stk_sup *sup, char *why, size_t whysz)
{
    char mnt[2048], own[2048];
    if (cgroup2_mount(mnt, sizeof(mnt)) < 0) {
        snprintf(why, whysz, "no cgroup v2 hierarchy mounted");
        return -1;
    }
    if (own_cgroup(own, sizeof(own)) < 0) {
        snprintf(why, whysz, "no cgroup v2 line in /proc/self/cgroup");
        return -1;
    }
    const char *shm = sup->cfg.shm.name;
    while (*shm == '/')
        shm++;
    if (asprintf(&sup->cg_rel, "%s/seqtick.%s", own, shm) < 0 ||
        asprintf(&sup->cg_base, "%s%s", mnt, sup->cg_rel) < 0) {
        snprintf(why, whysz, "out of memory");
        return -1;
    }
    if (mkdir(sup->cg_base, 0755) < 0 && errno != EEXIST) {
        snprintf(why, whysz, "unable to create cgroup '%s': %s", sup->cg_base, strerror(errno));
        return -1;
    }
    char kill_path[PATH_MAX];
    snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", sup->cg_base);
    if (access(kill_path, W_OK) < 0) {
        snprintf(why, whysz, "no cgroup.kill (kernel before 5.14?) in '%s'", sup->cg_base);
        (void)rmdir(sup->cg_base);
        return -1;
    }
    return 0;
}

struct survivor {
    pid_t pid;
    uint64_t start;
};

static void survivor_add(struct survivor **v, size_t *n, size_t *cap, pid_t pid, uint64_t start)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i].pid == pid)
            return;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct survivor *g = realloc(*v, nc * sizeof(*g));
        if (!g)
            return;
        *v = g;
        *cap = nc;
    }
    (*v)[(*n)++] = (struct survivor){pid, start};
}

/* Kill one stale cgroup folder (a child's) and log its members. */
static void kill_stale_cgroup(const char *dir)
{
    if (cg_populated(dir) && cg_write(dir, "cgroup.kill", "1") < 0)
        stk_error("unable to kill cgroup '%s': %s", dir, strerror(errno));
}

/* The members of every stale child cgroup under base, into the list. */
static void stale_cgroup_members(const char *base, struct survivor **v, size_t *n, size_t *cap)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
        pid_t *pids = NULL;
        size_t pcap = 0;
        long k = cg_pids(dir, &pids, &pcap);
        for (long i = 0; pids && i < k; i++) {
            struct stk_pstat st;
            if (pstat_of(pids[i], &st) == 0 && st.state != 'Z')
                survivor_add(v, n, cap, pids[i], st.start);
        }
        free(pids);
    }
    closedir(d);
}

static void for_each_stale_cgroup(const char *base, bool kill_them, bool *busy)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
        if (kill_them) {
            kill_stale_cgroup(dir);
        } else if (cg_populated(dir)) {
            *busy = true;
        } else if (rmdir(dir) < 0 && errno != ENOENT) {
            stk_warn("unable to remove stale cgroup '%s': %s", dir, strerror(errno));
        }
    }
    closedir(d);
}

/* Everything a dead supervisor on our pidfile left: the processes its procs
 * file names (same start time), processes carrying its mark, their
 * descendants, and what is in a stale cgroup of ours. Logged, SIGKILLed,
 * waited for. */
static void kill_survivors(struct stk_sup *sup, const char *stale_cg)
{
    struct survivor *v = NULL;
    size_t n = 0, cap = 0;
    char buf[65536], cg_named[PATH_MAX];
    int len = read_small(sup->procs_path, buf, sizeof(buf));
    if (len > 0)
        stk_warn("'%s' is there: the previous supervisor did not exit cleanly; looking for "
                 "what it left running",
                 sup->procs_path);
    pid_t self = getpid();
    if (read_proc(sup) == 0) {
        for (char *line = len > 0 ? strtok(buf, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            long pid;
            unsigned long long start;
            /* a cgroup-mode predecessor's folder, when we are not in that mode */
            if (!stale_cg && !strncmp(line, "cgroup /", 8)) {
                snprintf(cg_named, sizeof(cg_named), "%s", line + 7);
                stale_cg = cg_named;
            }
            if (sscanf(line, "proc %ld %llu", &pid, &start) != 2)
                continue;
            long i = find_pid(sup, (pid_t)pid);
            if (i >= 0 && sup->scan[i].start == start && sup->scan[i].state != 'Z')
                survivor_add(&v, &n, &cap, (pid_t)pid, start);
        }
        for (size_t i = 0; i < sup->nscan; i++) {
            const struct stk_pstat *s = &sup->scan[i];
            if (s->pid == self || s->state == 'Z')
                continue;
            char mark[512];
            tree_mark(s->pid, mark, sizeof(mark));
            const char *at = strchr(mark, '@');
            if (at && !strcmp(at, sup->tree_suffix))
                survivor_add(&v, &n, &cap, s->pid, s->start);
        }
        for (bool grew = true; grew;) {
            grew = false;
            for (size_t i = 0; i < sup->nscan; i++) {
                const struct stk_pstat *s = &sup->scan[i];
                if (s->state == 'Z' || s->pid == self)
                    continue;
                bool known = false, parent = false;
                for (size_t k = 0; k < n; k++) {
                    known = known || v[k].pid == s->pid;
                    parent = parent || v[k].pid == s->ppid;
                }
                if (parent && !known) {
                    survivor_add(&v, &n, &cap, s->pid, s->start);
                    grew = true;
                }
            }
        }
    }
    if (stale_cg)
        stale_cgroup_members(stale_cg, &v, &n, &cap);
    for (size_t i = 0; i < n; i++) {
        char cmd[512], mark[512];
        cmdline_of(v[i].pid, cmd, sizeof(cmd));
        tree_mark(v[i].pid, mark, sizeof(mark));
        char *at = strchr(mark, '@');
        if (at)
            *at = 0;
        stk_warn("survivor of a previous supervisor: pid %ld (%s): %s: SIGKILL", (long)v[i].pid,
                 mark[0] ? mark : "its tree", cmd);
        (void)signal_exact(v[i].pid, v[i].start, 0, SIGKILL);
    }
    if (stale_cg)
        for_each_stale_cgroup(stale_cg, true, NULL);

    /* Wait until they are gone (zombies count as gone: they are dead). */
    uint64_t end = stk_mono_ns() + SURVIVOR_WAIT_NS;
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++) {
            struct stk_pstat st;
            if (pstat_of(v[i].pid, &st) == 0 && st.start == v[i].start && st.state != 'Z')
                left++;
        }
        bool busy = false;
        if (stale_cg)
            for_each_stale_cgroup(stale_cg, false, &busy);
        if (!left && !busy)
            break;
        if (stk_mono_ns() > end) {
            stk_error("%zu survivor(s) of a previous supervisor still there %llu ms after "
                      "SIGKILL; starting anyway",
                      left + busy, (unsigned long long)(SURVIVOR_WAIT_NS / 1000000u));
            break;
        }
        usleep(5000);
    }
    if (stale_cg && stale_cg != sup->cg_base)
        (void)rmdir(stale_cg); /* a cgroup-mode predecessor's, not ours to keep */
    if (n)
        stk_warn("killed %zu survivor(s) of a previous supervisor before starting anything", n);
    free(v);
    sup->nscan = 0;
}

int stk_tree_init(struct stk_sup *sup)
{
    const char *pidfile = sup->cfg.supervisor.pidfile;
    if (asprintf(&sup->procs_path, "%s.procs", pidfile) < 0 ||
        asprintf(&sup->tree_suffix, "@%s", pidfile) < 0) {
        stk_error("fatal: out of memory");
        return STK_EXIT_SYSTEM;
    }
    const char *want = getenv(TRACKING_ENV);
    if (!want || !*want)
        want = "auto";
    char why[PATH_MAX + 128] = "";
    sup->track = STK_TRACK_PGROUP;
    if (!strcmp(want, "pgroup")) {
        snprintf(why, sizeof(why), "%s=pgroup", TRACKING_ENV);
    } else if (strcmp(want, "auto") && strcmp(want, "cgroup")) {
        stk_error("fatal: %s='%s': expected auto, cgroup or pgroup", TRACKING_ENV, want);
        return STK_EXIT_USAGE;
    } else if (cgroup_setup(sup, why, sizeof(why)) == 0) {
        sup->track = STK_TRACK_CGROUP;
    } else if (!strcmp(want, "cgroup")) {
        stk_error("fatal: %s=cgroup: %s", TRACKING_ENV, why);
        return STK_EXIT_SYSTEM;
    }
    if (sup->track == STK_TRACK_CGROUP)
        stk_info("process tracking: cgroup v2, one cgroup per child under %s", sup->cg_base);
    else
        stk_info("process tracking: process group + subreaper + /proc scan (%s)", why);

    /* In pgroup mode a stale cgroup of a cgroup-mode predecessor is still
     * looked at when it can be found. */
    char *stale = sup->cg_base;
    kill_survivors(sup, stale);

    if (sup->track == STK_TRACK_PGROUP) {
        ev_timer_init(&sup->w_scan, scan_cb, SCAN_EVERY_S, SCAN_EVERY_S);
        sup->w_scan.data = sup;
        ev_timer_start(sup->loop, &sup->w_scan);
    }
    free(sup->procs_text);
    sup->procs_text = NULL;
    write_procs(sup);
    return 0;
}

void stk_tree_fini(struct stk_sup *sup)
{
    if (sup->loop && ev_is_active(&sup->w_scan))
        ev_timer_stop(sup->loop, &sup->w_scan);
    if (sup->cg_base) {
        for_each_stale_cgroup(sup->cg_base, false, &(bool){false});
        if (rmdir(sup->cg_base) < 0 && errno != ENOENT && errno != EBUSY)
            stk_warn("unable to remove cgroup '%s': %s", sup->cg_base, strerror(errno));
    }
    if (sup->procs_path)
        (void)unlink(sup->procs_path);
    free(sup->procs_path);
    free(sup->tree_suffix);
    free(sup->procs_text);
    free(sup->cg_base);
    free(sup->cg_rel);
    free(sup->scan);
    sup->procs_path = sup->tree_suffix = sup->procs_text = sup->cg_base = sup->cg_rel = NULL;
    sup->scan = NULL;
    sup->nscan = sup->capscan = 0;
}
