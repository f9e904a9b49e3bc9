/* SPDX-License-Identifier: MIT */
/* supervisor.c — the whole of seqtick-supervisor: pidfile lock, segment,
 * children, signals (TERM/INT stop, HUP reload), readiness and sd_notify,
 * leftovers of dead process groups, and the orderly exit. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "supervisor.h"
#include "util-private.h"

extern char **environ;

#define STOP_POLL_S 0.05

/* ---- small helpers ------------------------------------------------------- */

double stk_sup_random(struct stk_sup *sup)
{
    /* xorshift64*: jitter only needs to differ between supervisors. */
    uint64_t x = sup->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    sup->rng = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

static struct stk_policy base_policy(const struct stk_config *cfg)
{
    struct stk_policy p = {
        .grace_ms = cfg->supervisor.grace_ms,
        .backoff_min_ms = cfg->supervisor.backoff_min_ms,
        .backoff_max_ms = cfg->supervisor.backoff_max_ms,
        .max_restarts = cfg->supervisor.max_restarts,
        .restart_window_s = cfg->supervisor.restart_window_s,
        .restart = STK_RESTART_ALWAYS, /* built-ins; [program.*] see below */
        .ready_timeout_ms = cfg->supervisor.ready_timeout_ms,
    };
    return p;
}

static struct stk_policy program_policy(const struct stk_config *cfg,
                                        const struct stk_program_conf *pc)
{
    struct stk_policy p = base_policy(cfg);
    if (pc->grace_ms >= 0)
        p.grace_ms = pc->grace_ms;
    if (pc->backoff_min_ms >= 0)
        p.backoff_min_ms = pc->backoff_min_ms;
    if (pc->backoff_max_ms >= 0)
        p.backoff_max_ms = pc->backoff_max_ms;
    if (pc->max_restarts >= 0)
        p.max_restarts = pc->max_restarts;
    if (pc->restart_window_s >= 0)
        p.restart_window_s = pc->restart_window_s;
    p.restart = pc->restart >= 0 ? pc->restart : cfg->supervisor.restart;
    if (pc->ready_timeout_ms >= 0)
        p.ready_timeout_ms = pc->ready_timeout_ms;
    return p;
}

/* ---- the built-in children: one row each --------------------------------- */

static const char *const producer_sections[] = {"producer", "shm", "log", NULL};
static const char *const server_sections[] = {"server", "shm", "log", NULL};
static const char *const bridge_sections[] = {"bridge", "producer", "shm", "log", NULL};

/* The bridge runs when bridge.nats names servers. */
static bool bridge_enabled(const struct stk_config *cfg)
{
    return cfg->bridge.nats && strcmp(cfg->bridge.nats, "off") != 0;
}

static const char *const recorder_sections[] = {"recorder", "shm", "log", NULL};

/* The recorder runs when recorder.store names a store. */
static bool recorder_enabled(const struct stk_config *cfg)
{
    return cfg->recorder.store && strcmp(cfg->recorder.store, "off") != 0;
}

const struct stk_builtin stk_builtins[] = {
    {"producer", "seqtick-producer", "producer", producer_sections, NULL},
    {"server", "seqtick-server", "server", server_sections, NULL},
    {"bridge", "seqtick-bridge", "bridge", bridge_sections, bridge_enabled},
    {"recorder", "seqtick-recorder", "recorder", recorder_sections, recorder_enabled},
};
const size_t stk_nbuiltins = sizeof(stk_builtins) / sizeof(stk_builtins[0]);

const struct stk_builtin *stk_builtin_find(const char *name)
{
    for (size_t i = 0; i < stk_nbuiltins; i++)
        if (!strcmp(stk_builtins[i].name, name))
            return &stk_builtins[i];
    return NULL;
}

bool stk_builtin_enabled(const struct stk_builtin *b, const struct stk_config *cfg)
{
    return !b->enabled || b->enabled(cfg);
}

/* A built-in's program: supervisor.bindir; else beside our own executable;
 * else the build tree's sibling folder (../producer/); else PATH. Nothing
 * found: beside us, so exec fails, is logged and retried. */
static void resolve(struct stk_sup *sup, const char *name, const char *folder, char *out,
                    size_t outsz)
{
    if (sup->cfg.supervisor.bindir)
        snprintf(out, outsz, "%s/%s", sup->cfg.supervisor.bindir, name);
    else
        (void)stk_find_program(name, folder, out, outsz);
}

void stk_sup_command(struct stk_sup *sup, struct stk_child *c, char *argv[5])
{
    static char a_sh[] = "sh", a_c[] = "-c";
    if (!c->builtin) {
        snprintf(c->exe, sizeof(c->exe), "/bin/sh");
        snprintf(c->cmdline, sizeof(c->cmdline), "%s", c->command);
        argv[0] = a_sh;
        argv[1] = a_c;
        argv[2] = c->command;
        argv[3] = NULL;
        return;
    }
    resolve(sup, c->builtin->program, c->builtin->folder, c->exe, sizeof(c->exe));
    /* the accepted copy (see stk_sup_snapshot), once there is one */
    char *conf = sup->snapshot_path ? sup->snapshot_path : sup->config_path;
    snprintf(c->cmdline, sizeof(c->cmdline), "%s -c %s", c->exe, conf);
    argv[0] = c->exe;
    argv[1] = a_c;
    argv[2] = conf;
    argv[3] = NULL;
}

/* ---- leftovers: our direct children that are no child's leader ----------- */

/* Our children that are not the leader of a supervised child: descendants
 * re-parented to us (PR_SET_CHILD_SUBREAPER). They are unreaped children of
 * ours, so their pids cannot have been reused: signalling them is safe. */
static size_t leftovers(struct stk_sup *sup, pid_t pgid, int sig)
{
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = stk_read_retry(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    size_t count = 0;
    char *p = buf;
    for (;;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        p = end;
        bool leader = false;
        for (size_t i = 0; i < sup->nchildren; i++)
            if (sup->children[i]->pid == pid)
                leader = true;
        if (leader || pid <= 0 || stk_tree_owns(sup, (pid_t)pid))
            continue; /* a tree's processes are its child's business */
        if (pgid > 0) {
            char stat_path[64], st[512];
            snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", pid);
            int sfd = open(stat_path, O_RDONLY | O_CLOEXEC);
            if (sfd < 0)
                continue;
            ssize_t k = stk_read_retry(sfd, st, sizeof(st) - 1);
            close(sfd);
            if (k <= 0)
                continue;
            st[k] = 0;
            char *rp = strrchr(st, ')');
            char state;
            long ppid, pgrp;
            if (!rp || sscanf(rp + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3 || pgrp != pgid)
                continue;
        }
        count++;
        if (sig)
            (void)kill((pid_t)pid, sig);
    }
    return count;
}

void stk_sup_kill_leftovers(struct stk_sup *sup, pid_t pgid)
{
    size_t n = leftovers(sup, pgid, SIGKILL);
    if (n)
        stk_warn("sent SIGKILL to %zu leftover process(es) of group %ld", n, (long)pgid);
}

/* ---- readiness, systemd, status ------------------------------------------ */

static void notify(struct stk_sup *sup, const char *msg)
{
    const char *ns = sup->notify_socket;
    struct sockaddr_un sa;
    if (!ns)
        return;
    size_t len = strlen(ns);
    if ((ns[0] != '/' && ns[0] != '@') || len >= sizeof(sa.sun_path)) {
        stk_warn("NOTIFY_SOCKET '%s' is not a socket path; not notifying", ns);
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, ns, len);
    if (ns[0] == '@')
        sa.sun_path[0] = 0; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        stk_warn("unable to notify '%s' of %s: %s", ns, msg, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void check_done(struct stk_sup *sup)
{
    if (!sup->stopping)
        return;
    for (size_t i = 0; i < sup->nchildren; i++)
        if (sup->children[i]->pid != 0 || sup->children[i]->state == STK_CS_STOPPING)
            return;
    if (leftovers(sup, 0, 0) > 0)
        return;
    ev_break(sup->loop, EVBREAK_ALL);
}

/* "producer and server": the built-in children's names, for the log. */
static void stack_names(const struct stk_sup *sup, char *buf, size_t size)
{
    size_t n = 0, k = 0, len = 0;
    for (size_t i = 0; i < sup->nchildren; i++)
        n += sup->children[i]->builtin != NULL;
    buf[0] = 0;
    for (size_t i = 0; i < sup->nchildren && len < size; i++) {
        const struct stk_child *c = sup->children[i];
        if (!c->builtin)
            continue;
        const char *sep = k == 0 ? "" : k + 1 == n ? " and " : ", ";
        int w = snprintf(buf + len, size - len, "%s%s", sep, c->name);
        len += w > 0 ? (size_t)w : 0;
        k++;
    }
}

void stk_sup_changed(struct stk_sup *sup)
{
    static int last_err;
    bool all = sup->nchildren > 0, stack = true;
    for (size_t i = 0; i < sup->nchildren; i++) {
        const struct stk_child *c = sup->children[i];
        if (!c->ready && c->state != STK_CS_DONE)
            all = false;
        if (!c->ready && c->builtin)
            stack = false;
    }
    bool became = all && !sup->all_ready && !sup->stopping;
    sup->all_ready = all;
    /* What led here is in the log before the file says so (best effort: a
     * stalled reader keeps it buffered). */
    (void)stk_log_flush();
    /* The file first: whoever hears "ready" finds it saying so. */
    int r = stk_status_write(sup);
    if (r < 0 && r != last_err)
        stk_warn("unable to write status file '%s': %s", sup->status_path, strerror(-r));
    last_err = r;
    if (became) {
        stk_info("all %zu children ready, %.3f s after start", sup->nchildren,
                 (double)(stk_now_ns() - sup->started_ns) / 1e9);
    }
    /* The stack is ready when the built-ins (producer, server) are: a
     * [program.*] that is failed, done or slow never holds it back. */
    if (stack && !sup->notified_ready && !sup->stopping) {
        char names[256];
        stack_names(sup, names, sizeof(names));
        sup->notified_ready = true;
        stk_info("%s ready, %.3f s after start: READY=1", names,
                 (double)(stk_now_ns() - sup->started_ns) / 1e9);
        (void)stk_log_flush();
        notify(sup, "READY=1");
    }
    check_done(sup);
}

/* ---- children ------------------------------------------------------------ */

static struct stk_child *find_child(struct stk_sup *sup, const char *name)
{
    for (size_t i = 0; i < sup->nchildren; i++)
        if (!strcmp(sup->children[i]->name, name))
            return sup->children[i];
    return NULL;
}

static struct stk_child *add_child(struct stk_sup *sup, const char *name,
                                   const struct stk_builtin *builtin, const char *command,
                                   const char *digest, const struct stk_policy *pol)
{
    struct stk_child **v =
        realloc(sup->children, (sup->nchildren + 1) * sizeof(struct stk_child *));
    if (!v)
        return NULL;
    sup->children = v;
    struct stk_child *c = stk_child_new(sup, name, builtin, command, digest, pol);
    if (!c)
        return NULL;
    char *argv[5];
    stk_sup_command(sup, c, argv); /* so the status file shows it before it starts */
    sup->children[sup->nchildren++] = c;
    return c;
}

struct stk_policy stk_sup_policy(const struct stk_config *cfg, const struct stk_program_conf *pc)
{
    return pc ? program_policy(cfg, pc) : base_policy(cfg);
}

struct stk_child *stk_sup_find_child(struct stk_sup *sup, const char *name)
{
    return find_child(sup, name);
}

struct stk_child *stk_sup_add_child(struct stk_sup *sup, const char *name,
                                    const struct stk_builtin *builtin, const char *command,
                                    const char *digest, const struct stk_policy *pol)
{
    return add_child(sup, name, builtin, command, digest, pol);
}

void stk_sup_remove(struct stk_sup *sup, struct stk_child *c)
{
    for (size_t i = 0; i < sup->nchildren; i++)
        if (sup->children[i] == c) {
            memmove(&sup->children[i], &sup->children[i + 1],
                    (sup->nchildren - i - 1) * sizeof(struct stk_child *));
            sup->nchildren--;
            break;
        }
    stk_info("%s: removed", c->name);
    stk_child_free(c);
    stk_sup_changed(sup);
}

/* ---- SIGHUP: reload.c's stk_reload_apply() ------------------------------ */

/* ---- stopping ------------------------------------------------------------ */

static void stop_all(struct stk_sup *sup)
{
    sup->stopping = true;
    notify(sup, "STOPPING=1");
    stk_info("stopping %zu children: SIGTERM, then SIGKILL after their grace", sup->nchildren);
    for (size_t i = sup->nchildren; i-- > 0;)
        stk_child_event(sup->children[i], STK_CE_STOP);
    size_t n = leftovers(sup, 0, SIGCONT); /* CONT before TERM: see begin_stop() */
    if (n) {
        (void)leftovers(sup, 0, SIGTERM);
        stk_info("sent SIGTERM to %zu leftover process(es)", n);
    }
    ev_timer_set(&sup->w_stop_grace, (double)sup->cfg.supervisor.grace_ms / 1000.0, 0.);
    ev_timer_start(sup->loop, &sup->w_stop_grace);
    ev_timer_start(sup->loop, &sup->w_stop_poll);
    /* Each tree is bounded by its grace + 1 s: past the longest (and a
     * margin), nothing more is waited for. */
    int64_t longest = sup->cfg.supervisor.grace_ms;
    for (size_t i = 0; i < sup->nchildren; i++)
        if (sup->children[i]->pol.grace_ms > longest)
            longest = sup->children[i]->pol.grace_ms;
    sup->stop_deadline = stk_mono_ns() + (uint64_t)longest * 1000000u + 1500000000ull;
    check_done(sup);
}

static void kill_all(struct stk_sup *sup)
{
    for (size_t i = 0; i < sup->nchildren; i++) {
        struct stk_child *c = sup->children[i];
        if (c->state == STK_CS_STOPPING && !c->grace_done)
            stk_child_event(c, STK_CE_TIMER); /* grace over now */
    }
    size_t n = leftovers(sup, 0, SIGKILL);
    if (n > 0) {
        sup->exit_code = 1;
        stk_warn("sent SIGKILL to %zu leftover process(es)", n);
    }
}

static void stop_grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    /* Only the leftovers: each child keeps its own grace_ms. */
    struct stk_sup *sup = w->data;
    size_t n = leftovers(sup, 0, SIGKILL);
    if (n > 0) {
        sup->exit_code = 1;
        stk_warn("sent SIGKILL to %zu leftover process(es) still there after %lld ms", n,
                 (long long)sup->cfg.supervisor.grace_ms);
    }
}

static void stop_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_sup *sup = w->data;
    if (sup->stop_deadline && stk_mono_ns() > sup->stop_deadline) {
        stk_error("stop: still not everything gone past every grace + 1 s; exiting anyway");
        sup->exit_code = 1;
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    check_done(sup);
}

/* A repeat of the signal that began the stop sooner than this is the same
 * request delivered twice (timeout(1) signals the command and then its
 * whole process group; so does `kill -TERM -PGID`), not someone insisting. */
#define REPEAT_NS 500000000ull

static void term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct stk_sup *sup = w->data;
    if (sup->stopping) {
        uint64_t since = stk_mono_ns() - sup->stop_mono;
        if (w->signum == sup->stop_signal && since < REPEAT_NS) {
            stk_info("%s again %" PRIu64 " ms after the first: the same request twice, ignored "
                     "(send it again later to SIGKILL everything)",
                     strsignal(w->signum), since / 1000000u);
            return;
        }
        stk_warn("%s again while stopping: SIGKILL to everything now", strsignal(w->signum));
        kill_all(sup);
        return;
    }
    sup->stop_signal = w->signum;
    sup->stop_mono = stk_mono_ns();
    stk_info("%s: stopping", strsignal(w->signum));
    stop_all(sup);
}

int stk_sup_reload(struct stk_sup *sup)
{
    unsigned long before = sup->reloads;
    if (sup->stopping)
        return -ECANCELED;
    stk_reload_apply(sup);
    return sup->reloads != before ? 0 : -EINVAL;
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct stk_sup *sup = w->data;
    if (sup->stopping)
        return;
    stk_reload_apply(sup);
}

static void any_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    struct stk_sup *sup = w->data;
    bool leader = false;
    for (size_t i = 0; i < sup->nchildren; i++)
        if (sup->children[i]->pid == w->rpid)
            leader = true;
    if (!leader)
        stk_debug("reaped leftover pid %ld (status 0x%x)", (long)w->rpid, w->rstatus);
    check_done(sup);
}

/* ---- our own log: buffered, never blocking ------------------------------- */

#define LOG_BUFFER (1u << 20)           /* what a stalled stderr reader may cost */
#define LOG_HIGH_WATER (LOG_BUFFER / 4) /* children's pipes wait above this */
#define LOG_LOW_WATER (LOG_BUFFER / 16) /* ... until it is back under this */
#define LOG_STALL_S 1.0                 /* no progress this long: the reader is stalled */
#define LOG_CHECK_S 0.25
#define LOG_EXIT_WAIT_MS 200 /* at exit, per step of a reader's progress */

/* Write what is held; pace the children by what is left. A reader that took
 * nothing for LOG_STALL_S is stalled: then the children are read again and
 * what does not fit is dropped (and counted), so no child blocks on a log
 * nobody reads. */
static void log_drain(struct stk_sup *sup)
{
    size_t before = stk_log_pending();
    long left = stk_log_flush();
    size_t pending = left > 0 ? (size_t)left : 0;
    ev_tstamp now = ev_now(sup->loop);
    if (pending == 0 || pending < before)
        sup->log_progress = now;
    bool stalled = now - sup->log_progress > LOG_STALL_S;
    bool pause =
        !stalled && (pending > LOG_HIGH_WATER || (sup->log_paused && pending > LOG_LOW_WATER));
    if (pause != sup->log_paused) {
        sup->log_paused = pause;
        stk_out_pace(pause);
    }
    if (sup->log_fd >= 0) {
        if (pending && !ev_is_active(&sup->w_log))
            ev_io_start(sup->loop, &sup->w_log);
        else if (!pending && ev_is_active(&sup->w_log))
            ev_io_stop(sup->loop, &sup->w_log);
    }
    if (pending && !ev_is_active(&sup->w_log_check))
        ev_timer_start(sup->loop, &sup->w_log_check);
    else if (!pending && ev_is_active(&sup->w_log_check))
        ev_timer_stop(sup->loop, &sup->w_log_check);
}

static void log_prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    log_drain(w->data);
}

static void log_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    log_drain(w->data);
}

static void log_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    log_drain(w->data);
}

static void log_async_start(struct stk_sup *sup)
{
    int r = stk_log_async_begin(LOG_BUFFER, &sup->log_fd);
    if (r < 0) {
        sup->log_fd = -1;
        stk_warn("unable to make the log non-blocking: %s; a stalled stderr reader would stall "
                 "the supervisor",
                 strerror(-r));
        return;
    }
    sup->log_progress = ev_now(sup->loop);
    ev_prepare_init(&sup->w_log_prep, log_prep_cb);
    ev_io_init(&sup->w_log, log_io_cb, sup->log_fd >= 0 ? sup->log_fd : 0, EV_WRITE);
    ev_timer_init(&sup->w_log_check, log_check_cb, LOG_CHECK_S, LOG_CHECK_S);
    sup->w_log_prep.data = sup->w_log.data = sup->w_log_check.data = sup;
    ev_prepare_start(sup->loop, &sup->w_log_prep);
}

static void log_async_stop(struct stk_sup *sup)
{
    if (sup->loop) {
        ev_prepare_stop(sup->loop, &sup->w_log_prep);
        ev_io_stop(sup->loop, &sup->w_log);
        ev_timer_stop(sup->loop, &sup->w_log_check);
    }
    stk_log_async_end(LOG_EXIT_WAIT_MS);
}

/* ---- start-up ------------------------------------------------------------ */

static int pidfile_lock(struct stk_sup *sup)
{
    const char *path = sup->cfg.supervisor.pidfile;
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) {
            stk_error("fatal: unable to open pidfile '%s': %s", path, strerror(errno));
            return STK_EXIT_SYSTEM;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            char buf[32] = "";
            ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
            buf[n > 0 ? n : 0] = 0;
            buf[strcspn(buf, "\n")] = 0;
            close(fd);
            if (e == EWOULDBLOCK)
                stk_error("fatal: another supervisor (pid %s) holds the lock on '%s'; refusing "
                          "to start",
                          buf[0] ? buf : "?", path);
            else
                stk_error("fatal: unable to lock '%s': %s", path, strerror(e));
            return STK_EXIT_SYSTEM;
        }
        /* The holder before us may have unlinked the file after we opened
         * it: a lock on an unlinked file guards nothing. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char buf[32];
            int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
                stk_warn("unable to write pid to '%s': %s", path, strerror(errno));
            sup->pid_fd = fd;
            return 0;
        }
        close(fd);
    }
    stk_error("fatal: unable to lock '%s': it keeps being replaced", path);
    return STK_EXIT_SYSTEM;
}

static int segment_open(struct stk_sup *sup)
{
    struct stk_seg_params p = {
        .name = sup->cfg.shm.name,
        .capacity = sup->cfg.shm.capacity,
        .history = sup->cfg.shm.history,
        .mode = sup->cfg.shm.mode,
        .own = true,
    };
    enum stk_seg_how how;
    int r = stk_seg_create_or_open(&p, &sup->seg, &how);
    if (r == -EBUSY) {
        int pid = stk_seg_owner(p.name);
        char who[64] = "another supervisor";
        if (pid > 0)
            snprintf(who, sizeof(who), "another supervisor (pid %d)", pid);
        stk_error("fatal: segment %s is owned by %s; refusing to start (and leaving it alone)",
                  p.name, who);
        return STK_EXIT_SYSTEM;
    }
    if (r == -EBADMSG) {
        stk_error("fatal: /dev/shm%s is not a seqtick segment (no SEQTICK1 magic): refusing to "
                  "replace or remove it; move it away or choose another shm.name",
                  p.name);
        return STK_EXIT_SYSTEM;
    }
    if (r < 0) {
        stk_error("fatal: unable to create or open segment '%s' (/dev/shm%s): %s", p.name, p.name,
                  strerror(-r));
        return STK_EXIT_SYSTEM;
    }
    const struct stk_header *h = stk_seg_header(sup->seg);
    unsigned long long gen = (unsigned long long)atomic_load(&h->generation);
    unsigned nsym = (unsigned)atomic_load(&h->nsymbols);
    if (how == STK_SEG_CREATED)
        stk_info("segment %s created: generation %llu, %llu bytes", p.name, gen,
                 (unsigned long long)h->total_bytes);
    else if (how == STK_SEG_REOPENED)
        stk_info("segment %s re-opened (warm restart): generation %llu, %u symbols kept, stale "
                 "until refreshed",
                 p.name, gen, nsym);
    else
        stk_warn("segment %s was incompatible: replaced under generation %llu", p.name, gen);
    return 0;
}

static int build_env(struct stk_sup *sup)
{
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    sup->envp = calloc(n + 2, sizeof(char *));
    if (!sup->envp)
        return -ENOMEM;
    size_t k = 0;
    for (char **e = environ; *e; e++) {
        if (!strncmp(*e, "NOTIFY_SOCKET=", 14) ||
            !strncmp(*e, STK_READY_FD_ENV "=", sizeof(STK_READY_FD_ENV)))
            continue;
        if (!(sup->envp[k++] = strdup(*e)))
            return -ENOMEM;
    }
    if (asprintf(&sup->envp[k], "%s=%d", STK_READY_FD_ENV, STK_CHILD_READY_FD) < 0) {
        sup->envp[k] = NULL;
        return -ENOMEM;
    }
    return 0;
}

static void free_env(char **envp)
{
    if (!envp)
        return;
    for (char **e = envp; *e; e++)
        free(*e);
    free(envp);
}

int stk_sup_init(struct stk_sup *sup, const char *config_path)
{
    char err[STK_CONF_ERR_MAX];
    memset(sup, 0, sizeof(*sup));
    sup->pid_fd = -1;
    sup->log_fd = -1;
    sup->ctl_fd = -1;
    sup->started_ns = stk_now_ns();

    /* The whole check, before anything is touched: the parser, then what
     * the children would refuse at start (reload.c). */
    int r = stk_sup_accept(config_path, &sup->accepted, &sup->cfg, err);
    if (r < 0) { /* a config that cannot be read is the user's input: 100 */
        fprintf(stderr, STK_SUP_PROG ": fatal: %s\n", r == -ENOMEM ? "out of memory" : err);
        return r == -ENOMEM ? STK_EXIT_SYSTEM : STK_EXIT_USAGE;
    }
    stk_log_init(STK_SUP_PROG, sup->cfg.log.level, sup->cfg.log.format);
    char *abs = realpath(config_path, NULL);
    sup->config_path = abs ? abs : strdup(config_path);
    sup->status_path = strdup(sup->cfg.supervisor.status_file);
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && *ns)
        sup->notify_socket = strdup(ns);
    (void)unsetenv("NOTIFY_SOCKET"); /* for the children: they are not the service */
    if (!sup->config_path || !sup->status_path || build_env(sup) < 0) {
        stk_error("fatal: out of memory");
        return STK_EXIT_SYSTEM;
    }
    if (getrandom(&sup->rng, sizeof(sup->rng), GRND_NONBLOCK) != sizeof(sup->rng))
        sup->rng = stk_mono_ns() ^ ((uint64_t)getpid() << 32);
    sup->rng |= 1;

    if ((r = pidfile_lock(sup)) != 0)
        return r;
    /* Grandchildren whose parent dies come to us, so we can reap and stop them. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        stk_warn("unable to become a subreaper: %s", strerror(errno));
    if ((r = segment_open(sup)) != 0)
        return r;

    /* A log reader that went away must not kill us; children get the
     * default back before exec. */
    signal(SIGPIPE, SIG_IGN);
    sup->loop = ev_default_loop(0);
    if (!sup->loop) {
        stk_error("fatal: unable to initialise libev's default loop");
        return STK_EXIT_SYSTEM;
    }
    ev_signal_init(&sup->w_term, term_cb, SIGTERM);
    ev_signal_init(&sup->w_int, term_cb, SIGINT);
    ev_signal_init(&sup->w_hup, hup_cb, SIGHUP);
    ev_child_init(&sup->w_any, any_child_cb, 0, 0);
    ev_timer_init(&sup->w_stop_grace, stop_grace_cb, 0., 0.);
    ev_timer_init(&sup->w_stop_poll, stop_poll_cb, STOP_POLL_S, STOP_POLL_S);
    sup->w_term.data = sup->w_int.data = sup->w_hup.data = sup->w_any.data = sup;
    sup->w_stop_grace.data = sup->w_stop_poll.data = sup;
    ev_signal_start(sup->loop, &sup->w_term);
    ev_signal_start(sup->loop, &sup->w_int);
    ev_signal_start(sup->loop, &sup->w_hup);
    ev_child_start(sup->loop, &sup->w_any);
    /* A launcher may hand us a mask with these blocked (and main() blocks
     * them until now so a stop during set-up is not fatal half-way): from
     * here on the loop owns them, and one already pending is the loop's
     * first event. */
    sigset_t ours;
    sigemptyset(&ours);
    sigaddset(&ours, SIGTERM);
    sigaddset(&ours, SIGINT);
    sigaddset(&ours, SIGHUP);
    sigaddset(&ours, SIGCHLD);
    (void)sigprocmask(SIG_UNBLOCK, &ours, NULL);
    log_async_start(sup);
    if ((r = stk_ctl_open(sup)) != 0)
        return r;

    /* Children run the accepted copy, never the file as edited since. */
    if ((r = stk_sup_snapshot(sup, sup->accepted)) < 0) {
        stk_error("fatal: unable to write the accepted copy %s.conf: %s",
                  sup->cfg.supervisor.pidfile, strerror(-r));
        return STK_EXIT_SYSTEM;
    }
    struct stk_policy base = base_policy(&sup->cfg);
    bool ok = true;
    for (size_t i = 0; ok && i < stk_nbuiltins; i++) {
        const struct stk_builtin *b = &stk_builtins[i];
        if (!stk_builtin_enabled(b, &sup->cfg))
            continue;
        char *d = stk_reload_digest(sup->accepted, b->sections);
        ok = add_child(sup, b->name, b, NULL, d, &base) != NULL;
        free(d);
    }
    for (size_t i = 0; ok && i < sup->cfg.nprograms; i++) {
        const struct stk_program_conf *pc = &sup->cfg.programs[i];
        struct stk_policy pol = program_policy(&sup->cfg, pc);
        char *d = stk_reload_program_digest(sup->accepted, pc->name);
        ok = d && add_child(sup, pc->name, NULL, pc->command, d, &pol);
        free(d);
    }
    free(sup->accepted);
    sup->accepted = NULL;
    if (!ok) {
        stk_error("fatal: out of memory");
        return STK_EXIT_SYSTEM;
    }
    /* How trees are known; what a SIGKILLed predecessor left dies first. */
    if ((r = stk_tree_init(sup)) != 0)
        return r;
    stk_watchdog_setup(sup);
    stk_info("supervising %zu children (config %s, pidfile %s, status %s, control %s)",
             sup->nchildren, sup->config_path, sup->cfg.supervisor.pidfile, sup->status_path,
             sup->ctl_path ? sup->ctl_path : "none");
    for (size_t i = 0; i < sup->nchildren; i++)
        stk_child_event(sup->children[i], STK_CE_START);
    return 0;
}

static void cleanup(struct stk_sup *sup)
{
    for (size_t i = 0; i < sup->nchildren; i++)
        stk_child_free(sup->children[i]);
    free(sup->children);
    sup->children = NULL;
    sup->nchildren = 0;
    stk_out_close_all();
    stk_tree_fini(sup);
    stk_ctl_close(sup);
    log_async_stop(sup);
    if (sup->loop) {
        ev_signal_stop(sup->loop, &sup->w_term);
        ev_signal_stop(sup->loop, &sup->w_int);
        ev_signal_stop(sup->loop, &sup->w_hup);
        ev_child_stop(sup->loop, &sup->w_any);
        ev_timer_stop(sup->loop, &sup->w_stop_grace);
        ev_timer_stop(sup->loop, &sup->w_stop_poll);
        ev_timer_stop(sup->loop, &sup->w_watchdog);
        ev_loop_destroy(sup->loop);
        sup->loop = NULL;
    }
    stk_seg_close(sup->seg);
    sup->seg = NULL;
    /* The accepted copy is ours while the pidfile lock is. */
    if (sup->snapshot_path)
        (void)unlink(sup->snapshot_path);
    free(sup->snapshot_path);
    free(sup->accepted);
    sup->snapshot_path = sup->accepted = NULL;
    if (sup->pid_fd >= 0)
        close(sup->pid_fd);
    free_env(sup->envp);
    free(sup->config_path);
    free(sup->status_path);
    free(sup->notify_socket);
    stk_config_free(&sup->cfg);
}

int stk_sup_run(struct stk_sup *sup)
{
    ev_run(sup->loop, 0);

    /* Every child is reaped. Close the segment for its readers, then take
     * its name away if asked to — unless someone already replaced it. */
    if (sup->seg) {
        bool ours = !stk_seg_replaced(sup->seg);
        stk_seg_set_state(sup->seg, STK_STATE_CLOSED);
        if (sup->cfg.shm.unlink_on_exit && ours) {
            int r = stk_seg_unlink(sup->cfg.shm.name);
            if (r < 0 && r != -ENOENT)
                stk_warn("unable to unlink segment '%s': %s", sup->cfg.shm.name, strerror(-r));
            else
                stk_info("segment %s closed and unlinked", sup->cfg.shm.name);
        } else {
            stk_info("segment %s closed and kept", sup->cfg.shm.name);
        }
    }
    stk_ctl_close(sup);
    (void)unlink(sup->status_path);
    /* Still holding the lock, so nobody else's pidfile is removed. */
    (void)unlink(sup->cfg.supervisor.pidfile);
    int code = sup->exit_code;
    stk_info("exit %d%s", code, code ? " (a child did not stop cleanly)" : "");
    cleanup(sup);
    return code;
}

void stk_sup_abort(struct stk_sup *sup)
{
    /* Refused after taking the pidfile (a segment owned by another stack, a
     * foreign file): leave no pidfile behind; the lock says it is ours. */
    if (sup->pid_fd >= 0)
        (void)unlink(sup->cfg.supervisor.pidfile);
    cleanup(sup);
}
