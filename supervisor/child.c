/* SPDX-License-Identifier: MIT */
/* child.c — one supervised child as a small state machine, s6-supervise
 * style: actions[state][event], each action a function that moves it on.
 * A child is its whole process tree (tree.c): it is STOPPING until the last
 * process of the tree is gone, and a crashed leader's tree dies before the
 * next start. Also the pure give-up window (the backoff is common/backoff.c). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "spawn-private.h"
#include "supervisor.h"

bool stk_restart_window_hit(uint64_t *window_start, uint64_t *window_count, uint64_t now_mono,
                            int64_t max_restarts, int64_t window_s)
{
    uint64_t window_ns = (uint64_t)(window_s > 0 ? window_s : 1) * 1000000000ull;
    if (*window_count == 0 || now_mono - *window_start >= window_ns) {
        *window_start = now_mono;
        *window_count = 0;
    }
    (*window_count)++;
    return max_restarts > 0 && *window_count > (uint64_t)max_restarts;
}

static const char *const state_names[STK_CS_NSTATES] = {
    [STK_CS_STOPPED] = "stopped", [STK_CS_STARTING] = "starting", [STK_CS_RUNNING] = "running",
    [STK_CS_BACKOFF] = "backoff", [STK_CS_STOPPING] = "stopping", [STK_CS_FAILED] = "failed",
    [STK_CS_DONE] = "done",
};

static const char *restart_name(int r)
{
    return r == STK_RESTART_NEVER ? "never" : r == STK_RESTART_ON_FAILURE ? "on-failure" : "always";
}

const char *stk_child_state_name(enum stk_child_state s)
{
    return s < STK_CS_NSTATES ? state_names[s] : "unknown";
}

static void set_state(struct stk_child *c, enum stk_child_state s)
{
    if (c->state != s) {
        c->state = s;
        c->since_ns = stk_now_ns();
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* ---- process plumbing ---------------------------------------------------- */

static void child_cb(struct ev_loop *loop, ev_child *w, int revents);
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void healthy_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void ready_cb(struct ev_loop *loop, ev_io *w, int revents);
static void tree_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void ready_to_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* How often a child whose leader is gone looks whether its tree is. */
#define TREE_POLL_S 0.01
/* After SIGKILL, how long the tree may take to go before we stop waiting. */
#define KILL_BOUND_MS 1000
/* A crashed leader's tree must be gone before the next start; meanwhile
 * the start is retried this often, for at most KILL_BOUND_MS. */
#define TREE_RETRY_MS 5

static void stop_ready(struct stk_child *c)
{
    if (c->ready_fd >= 0) {
        ev_io_stop(c->sup->loop, &c->w_ready);
        close_fd(&c->ready_fd);
    }
}

static void arm_timer(struct stk_child *c, int64_t ms)
{
    ev_timer_stop(c->sup->loop, &c->w_timer);
    ev_timer_set(&c->w_timer, (double)ms / 1000.0, 0.);
    ev_timer_start(c->sup->loop, &c->w_timer);
}

static void enter_backoff(struct stk_child *c, int64_t delay_ms);

/* fork/exec it now; a failure to fork counts as a quick death. */
static void spawn(struct stk_child *c)
{
    struct stk_sup *sup = c->sup;
    char *argv[5];
    struct stk_spawned sp = {.pid = 0, .out_fd = -1, .ready_fd = -1, .err_fd = -1};

    /* Never two runs at once: what is left of the last one goes first. */
    size_t left = c->died_mono ? stk_tree_count(c) : 0;
    if (left) {
        if (stk_mono_ns() - c->died_mono < (uint64_t)KILL_BOUND_MS * 1000000u) {
            (void)stk_tree_signal(c, SIGKILL, false);
            enter_backoff(c, TREE_RETRY_MS);
            return;
        }
        stk_error("%s: %zu process(es) of its last run survive SIGKILL after %d ms; starting "
                  "anyway",
                  c->name, left, KILL_BOUND_MS);
    }
    stk_sup_command(sup, c, argv);
    if (c->ever_ran)
        c->restarts++;
    c->ever_ran = true;
    c->ready = false;
    c->killed = false;
    c->grace_done = false;
    c->not_ready = false;
    c->ready_bytes = 0;
    c->exec_errno = 0;
    c->after = STK_AFTER_NONE;
    c->started_ns = stk_now_ns();
    c->started_mono = stk_mono_ns();

    int join_fd = -1;
    char **envp = NULL;
    int r = stk_tree_prepare(c, &join_fd, &envp);
    if (r == 0)
        r = stk_spawn(c->exe, argv, envp, join_fd, &sp);
    if (join_fd >= 0)
        close(join_fd);
    if (r < 0) {
        stk_error("%s: unable to start '%s': %s", c->name, c->exe, strerror(-r));
        c->quick++;
        enter_backoff(c, stk_backoff_ms(c->pol.backoff_min_ms, c->pol.backoff_max_ms, c->quick,
                                        stk_sup_random(sup)));
        return;
    }
    /* Same loop iteration as the fork: libev has not reaped anything since. */
    c->pid = sp.pid;
    ev_child_set(&c->w_child, sp.pid, 0);
    ev_child_start(sup->loop, &c->w_child);
    stk_tree_started(c);

    c->err_fd = sp.err_fd;
    c->ready_fd = sp.ready_fd;
    ev_io_set(&c->w_ready, sp.ready_fd, EV_READ);
    ev_io_start(sup->loop, &c->w_ready);
    c->out =
        stk_out_open(sup->loop, sp.out_fd, c->name, sup->cfg.log.format == STK_LOG_JSON, &c->out);

    ev_timer_stop(sup->loop, &c->w_healthy);
    ev_timer_set(&c->w_healthy, STK_HEALTHY_NS / 1e9, 0.);
    ev_timer_start(sup->loop, &c->w_healthy);
    ev_timer_stop(sup->loop, &c->w_ready_to);
    if (c->pol.ready_timeout_ms > 0) {
        ev_timer_set(&c->w_ready_to, (double)c->pol.ready_timeout_ms / 1000.0, 0.);
        ev_timer_start(sup->loop, &c->w_ready_to);
    }

    set_state(c, STK_CS_STARTING);
    stk_info("%s: started pid %ld, restarts %llu: %s", c->name, (long)c->pid,
             (unsigned long long)c->restarts, c->cmdline);
    stk_sup_changed(sup);
}

static void enter_backoff(struct stk_child *c, int64_t delay_ms)
{
    set_state(c, STK_CS_BACKOFF);
    arm_timer(c, delay_ms);
    stk_sup_changed(c->sup);
}

static void grace_over(struct stk_child *c);

static void begin_stop(struct stk_child *c)
{
    set_state(c, STK_CS_STOPPING);
    c->grace_done = false;
    /* TERM acts on a stopped process only once it is continued: send both,
     * CONT first, to every process of the tree (once each: a shell that
     * dies of it does not bring its children a second TERM). A CONT that
     * lands after TERM can hit a process already on its way out and discard
     * the SIGSTOP of a PTRACE_ATTACH in flight (a crash reporter,
     * LeakSanitizer's exit-time check): the tracer then waits forever and
     * the child never exits. CONT before TERM cannot race so. */
    if (c->pol.grace_ms > 0) {
        size_t n = stk_tree_signal(c, SIGTERM, true);
        stk_debug("%s: SIGTERM to %zu process(es) of its tree; SIGKILL in %lld ms", c->name, n,
                  (long long)c->pol.grace_ms);
        arm_timer(c, c->pol.grace_ms);
    } else {
        grace_over(c);
    }
    stk_sup_changed(c->sup);
}

/* ---- actions ------------------------------------------------------------- */

typedef void action_fn(struct stk_child *c);

static void nop(struct stk_child *c)
{
}

static void start_fresh(struct stk_child *c)
{
    c->quick = 0;
    c->window_count = 0;
    ev_timer_stop(c->sup->loop, &c->w_timer);
    spawn(c);
}

static void backoff_over(struct stk_child *c)
{
    spawn(c);
}

static void got_ready(struct stk_child *c)
{
    if (c->ready)
        return;
    c->ready = true;
    c->not_ready = false;
    ev_timer_stop(c->sup->loop, &c->w_ready_to);
    if (c->state == STK_CS_STARTING)
        set_state(c, STK_CS_RUNNING);
    stk_info("%s: pid %ld ready after %.3f s", c->name, (long)c->pid,
             (double)(stk_mono_ns() - c->started_mono) / 1e9);
    stk_sup_changed(c->sup);
}

/* The common part of every reap: record how it ended, drain its output. */
static double reaped(struct stk_child *c, bool expected)
{
    struct stk_sup *sup = c->sup;
    int status = c->w_child.rstatus;
    pid_t pid = c->pid;
    c->pid = 0; /* reaped: never signal this number again */
    ev_child_stop(sup->loop, &c->w_child);
    /* While stopping, the timer is the tree's grace (or its last second
     * after SIGKILL): it goes on when the leader is gone before the rest. */
    if (c->state != STK_CS_STOPPING)
        ev_timer_stop(sup->loop, &c->w_timer);
    ev_timer_stop(sup->loop, &c->w_healthy);
    ev_timer_stop(sup->loop, &c->w_ready_to);
    c->died_mono = stk_mono_ns();
    c->exec_errno = stk_spawn_report(c->err_fd);
    c->err_fd = -1;
    stop_ready(c);
    stk_out_detach(c->out);
    c->out = NULL;
    double up = (double)(stk_mono_ns() - c->started_mono) / 1e9;

    if (WIFSIGNALED(status)) {
        c->last_exit = 2;
        c->last_value = WTERMSIG(status);
    } else {
        c->last_exit = 1;
        c->last_value = WEXITSTATUS(status);
    }
    if (c->exec_errno < 0 && c->cg) /* its set-up's one step that fails for real */
        stk_error("%s: unable to join its cgroup '%s': %s", c->name, c->cg,
                  strerror(-c->exec_errno));
    else if (c->exec_errno < 0)
        stk_error("%s: set-up before exec failed: %s", c->name, strerror(-c->exec_errno));
    else if (c->exec_errno)
        stk_error("%s: unable to exec '%s': %s", c->name, c->exe, strerror(c->exec_errno));
    if (c->last_exit == 2)
        stk_log(expected ? STK_LOG_INFO : STK_LOG_WARN,
                "%s: pid %ld killed by signal %d (%s) after %.3f s, restarts %llu", c->name,
                (long)pid, c->last_value, strsignal(c->last_value), up,
                (unsigned long long)c->restarts);
    else
        stk_log(expected || c->last_value == 0 ? STK_LOG_INFO : STK_LOG_WARN,
                "%s: pid %ld exited with code %d after %.3f s, restarts %llu", c->name, (long)pid,
                c->last_value, up, (unsigned long long)c->restarts);
    c->ready = false;
    return up;
}

static void died(struct stk_child *c)
{
    double up = reaped(c, false);
    struct stk_sup *sup = c->sup;

    /* What is left of its tree goes with it (the next start waits for it). */
    size_t n = stk_tree_signal(c, SIGKILL, false);
    if (n)
        stk_warn("%s: sent SIGKILL to %zu leftover process(es) of group %ld (the rest of its "
                 "tree)",
                 c->name, n, (long)c->pgid);

    /* A death within 1 s of the start is quick even after readiness: a
     * child that reports ready and crashes must not restart in a hot loop. */
    if (!c->exec_errno && up * 1e9 >= (double)STK_HEALTHY_NS)
        c->quick = 0;
    else
        c->quick++;
    bool success = c->last_exit == 1 && c->last_value == 0 && !c->exec_errno;
    if (c->last_exit == 1 && c->last_value == STK_EXIT_CONFIG_ERROR && !c->exec_errno) {
        set_state(c, STK_CS_FAILED);
        stk_error("%s: exit code %d is a configuration error, which a restart cannot fix: "
                  "failed (a reload that changes it, or `seqtick start %s`, runs it again)",
                  c->name, STK_EXIT_CONFIG_ERROR, c->name);
        stk_sup_changed(sup);
        return;
    }
    if (c->pol.restart == STK_RESTART_NEVER ||
        (c->pol.restart == STK_RESTART_ON_FAILURE && success)) {
        set_state(c, success ? STK_CS_DONE : STK_CS_STOPPED);
        stk_info("%s: %s, not restarted (restart = %s)", c->name, success ? "done" : "stopped",
                 restart_name(c->pol.restart));
        stk_sup_changed(sup);
        return;
    }
    if (stk_restart_window_hit(&c->window_start, &c->window_count, stk_mono_ns(),
                               c->pol.max_restarts, c->pol.restart_window_s)) {
        set_state(c, STK_CS_FAILED);
        stk_error("%s: gave up after %lld restarts within %lld s; the others keep running", c->name,
                  (long long)c->pol.max_restarts, (long long)c->pol.restart_window_s);
        stk_sup_changed(sup);
        return;
    }
    if (c->quick == 0) {
        spawn(c); /* healthy run: at once */
        return;
    }
    int64_t d =
        stk_backoff_ms(c->pol.backoff_min_ms, c->pol.backoff_max_ms, c->quick, stk_sup_random(sup));
    stk_info("%s: quick death #%u, restarting in %lld ms", c->name, c->quick, (long long)d);
    enter_backoff(c, d);
}

/* The whole tree is gone (or given up on): STOPPED, then what comes after. */
static void stop_done(struct stk_child *c)
{
    ev_timer_stop(c->sup->loop, &c->w_tree);
    ev_timer_stop(c->sup->loop, &c->w_timer);
    if (c->killed)
        c->sup->exit_code = 1;
    set_state(c, STK_CS_STOPPED);
    enum stk_after_stop after = c->after;
    c->after = STK_AFTER_NONE;
    if (after == STK_AFTER_RESTART && !c->sup->stopping) {
        start_fresh(c);
        return;
    }
    stk_sup_changed(c->sup);
    if (after == STK_AFTER_REMOVE)
        stk_sup_remove(c->sup, c); /* frees c */
}

/* The leader was reaped while stopping: the rest of the tree keeps its
 * grace (a strategy behind a shell that died of SIGTERM is still flushing). */
static void stop_exit(struct stk_child *c)
{
    (void)reaped(c, true);
    bool clean = !c->killed;
    if (c->last_exit == 2)
        clean = clean && c->last_value == SIGTERM;
    else
        clean = clean && (c->last_value == 0 || c->last_value == 128 + SIGTERM);
    if (!clean)
        c->sup->exit_code = 1;
    size_t n = stk_tree_count(c);
    if (!n) {
        stop_done(c);
        return;
    }
    stk_debug("%s: leader gone; waiting for %zu more process(es) of its tree", c->name, n);
    ev_timer_start(c->sup->loop, &c->w_tree);
}

static void grace_over(struct stk_child *c)
{
    c->grace_done = true;
    size_t n = stk_tree_signal(c, SIGKILL, false);
    if (n) {
        c->killed = true;
        if (c->pid > 0)
            stk_warn("%s: pid %ld still running %lld ms after SIGTERM: SIGKILL (%zu process(es) "
                     "of its tree)",
                     c->name, (long)c->pid, (long long)c->pol.grace_ms, n);
        else
            stk_warn("%s: %zu process(es) of its tree still running %lld ms after SIGTERM: "
                     "SIGKILL",
                     c->name, n, (long long)c->pol.grace_ms);
    }
    arm_timer(c, KILL_BOUND_MS);
    if (c->pid == 0 && !ev_is_active(&c->w_tree))
        ev_timer_start(c->sup->loop, &c->w_tree);
}

/* SIGKILL was sent KILL_BOUND_MS ago and something is still there (a
 * process stuck in the kernel): stop waiting, say so. */
static void kill_bound_over(struct stk_child *c)
{
    struct stk_sup *sup = c->sup;
    stk_error("%s: %zu process(es) of its tree still there %d ms after SIGKILL; no longer "
              "waiting for them",
              c->name, stk_tree_count(c), KILL_BOUND_MS);
    c->killed = true;
    if (c->pid > 0) {
        /* Never reaped by us now: forget the number, never signal it again. */
        ev_child_stop(sup->loop, &c->w_child);
        c->pid = 0;
        stop_ready(c);
        c->exec_errno = stk_spawn_report(c->err_fd);
        c->err_fd = -1;
        stk_out_detach(c->out);
        c->out = NULL;
        c->ready = false;
    }
    stop_done(c);
}

static void stop_timer(struct stk_child *c)
{
    if (!c->grace_done)
        grace_over(c);
    else
        kill_bound_over(c);
}

static void stop_live(struct stk_child *c)
{
    begin_stop(c);
}

static void stop_idle(struct stk_child *c)
{
    ev_timer_stop(c->sup->loop, &c->w_timer);
    set_state(c, STK_CS_STOPPED);
    stk_sup_changed(c->sup);
    if (c->after == STK_AFTER_REMOVE) {
        c->after = STK_AFTER_NONE;
        stk_sup_remove(c->sup, c);
    }
}

static void restart_live(struct stk_child *c)
{
    begin_stop(c);
    c->after = STK_AFTER_RESTART;
}

static void restart_stopping(struct stk_child *c)
{
    if (c->after != STK_AFTER_REMOVE)
        c->after = STK_AFTER_RESTART;
}

static void bad_event(struct stk_child *c)
{
    stk_debug("%s: event ignored in state %s", c->name, stk_child_state_name(c->state));
}

/* actions[state][event]; every cell is filled so nothing falls through. */
static action_fn *const actions[STK_CS_NSTATES][STK_CE_NEVENTS] = {
    /*                   START        READY      EXIT       TIMER         STOP       RESTART */
    [STK_CS_STOPPED] = {start_fresh, bad_event, bad_event, bad_event, stop_idle, start_fresh},
    [STK_CS_STARTING] = {nop, got_ready, died, bad_event, stop_live, restart_live},
    [STK_CS_RUNNING] = {nop, got_ready, died, bad_event, stop_live, restart_live},
    [STK_CS_BACKOFF] = {start_fresh, bad_event, bad_event, backoff_over, stop_idle, start_fresh},
    [STK_CS_STOPPING] = {restart_stopping, nop, stop_exit, stop_timer, nop, restart_stopping},
    [STK_CS_FAILED] = {start_fresh, bad_event, bad_event, bad_event, stop_idle, start_fresh},
    [STK_CS_DONE] = {start_fresh, bad_event, bad_event, bad_event, stop_idle, start_fresh},
};

void stk_child_event(struct stk_child *c, enum stk_child_event ev)
{
    actions[c->state][ev](c);
}

/* ---- watchers ------------------------------------------------------------ */

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    stk_child_event(w->data, STK_CE_EXIT);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    stk_child_event(w->data, STK_CE_TIMER);
}

static void healthy_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_child *c = w->data;
    /* A [program.NAME] need not know the readiness protocol: one second
     * alive counts as ready. The built-ins must say so themselves. */
    if (!c->builtin)
        stk_child_event(c, STK_CE_READY);
}

/* The readiness fd says one thing, once: its first line (or 256 bytes of
 * anything) and it is closed, so garbage on it costs nothing. */
#define READY_MAX_BYTES 256

static void ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_child *c = w->data;
    char buf[READY_MAX_BYTES];
    ssize_t n = read(c->ready_fd, buf, sizeof(buf) - c->ready_bytes);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* Closed without a newline: nothing more to hear. */
        stop_ready(c);
        return;
    }
    c->ready_bytes += (unsigned)n;
    bool line = memchr(buf, '\n', (size_t)n) != NULL;
    if (line || c->ready_bytes >= READY_MAX_BYTES) {
        if (!line)
            stk_warn("%s: %u bytes without a newline on the readiness fd: no longer read", c->name,
                     c->ready_bytes);
        stop_ready(c);
    }
    if (line)
        stk_child_event(c, STK_CE_READY);
}

static void tree_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_child *c = w->data;
    if (c->state != STK_CS_STOPPING) {
        ev_timer_stop(loop, w);
        return;
    }
    if (c->pid == 0 && stk_tree_count(c) == 0)
        stop_done(c);
}

static void ready_to_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct stk_child *c = w->data;
    if (c->ready || c->pid <= 0 || c->state != STK_CS_STARTING)
        return;
    c->not_ready = true;
    stk_warn("%s: pid %ld not ready %lld ms after its start (ready_timeout_ms); still waiting",
             c->name, (long)c->pid, (long long)c->pol.ready_timeout_ms);
    stk_sup_changed(c->sup);
}

struct stk_child *stk_child_new(struct stk_sup *sup, const char *name,
                                const struct stk_builtin *builtin, const char *command,
                                const char *digest, const struct stk_policy *pol)
{
    struct stk_child *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sup = sup;
    c->builtin = builtin;
    c->pol = *pol;
    c->name = strdup(name);
    c->command = command ? strdup(command) : NULL;
    c->digest = digest ? strdup(digest) : NULL;
    if (!c->name || (command && !c->command) || (digest && !c->digest)) {
        free(c->name);
        free(c->command);
        free(c->digest);
        free(c);
        return NULL;
    }
    c->state = STK_CS_STOPPED;
    c->since_ns = stk_now_ns();
    c->ready_fd = c->err_fd = -1;
    ev_child_init(&c->w_child, child_cb, 0, 0);
    ev_timer_init(&c->w_timer, timer_cb, 0., 0.);
    ev_timer_init(&c->w_healthy, healthy_cb, 0., 0.);
    ev_io_init(&c->w_ready, ready_cb, -1, EV_READ);
    ev_timer_init(&c->w_tree, tree_cb, TREE_POLL_S, TREE_POLL_S);
    ev_timer_init(&c->w_ready_to, ready_to_cb, 0., 0.);
    c->w_child.data = c->w_timer.data = c->w_healthy.data = c->w_ready.data = c;
    c->w_tree.data = c->w_ready_to.data = c;
    return c;
}

void stk_child_free(struct stk_child *c)
{
    if (!c)
        return;
    struct ev_loop *loop = c->sup->loop;
    ev_child_stop(loop, &c->w_child);
    ev_timer_stop(loop, &c->w_timer);
    ev_timer_stop(loop, &c->w_healthy);
    ev_timer_stop(loop, &c->w_tree);
    ev_timer_stop(loop, &c->w_ready_to);
    stop_ready(c);
    close_fd(&c->err_fd);
    stk_out_detach(c->out);
    stk_tree_child_free(c);
    free(c->name);
    free(c->command);
    free(c->digest);
    free(c);
}
