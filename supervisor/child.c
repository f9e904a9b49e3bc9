/* SPDX-License-Identifier: MIT */
/* child.c — one supervised child as a small state machine, s6-supervise
 * style: actions[state][event], each action a function that moves it on.
 * Also the pure restart policy (backoff with jitter, give-up window). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "supervisor.h"

int64_t stk_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned quick, double u)
{
    if (min_ms <= 0)
        return 0;
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t base = min_ms;
    for (unsigned i = 1; i < quick && base < max_ms; i++)
        base = base > max_ms / 2 ? max_ms : base * 2;
    if (base > max_ms)
        base = max_ms;
    if (u < 0)
        u = 0;
    if (u >= 1)
        u = 0.999999;
    int64_t d = (int64_t)((double)base * (0.8 + 0.4 * u) + 0.5);
    return d > max_ms ? max_ms : d;
}

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
};

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

static void stop_ready(struct stk_child *c)
{
    if (c->ready_fd >= 0) {
        ev_io_stop(c->sup->loop, &c->w_ready);
        close_fd(&c->ready_fd);
    }
}

/* Signal the child's process group; its leader is not reaped (pid != 0), so
 * the group id cannot have been reused. A child that left its group (setsid)
 * is signalled by pid. */
static void signal_group(struct stk_child *c, int sig)
{
    if (c->pid <= 0)
        return;
    if (killpg(c->pid, sig) < 0 && errno == ESRCH)
        (void)kill(c->pid, sig);
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
    struct stk_spawned sp;

    stk_sup_command(sup, c, argv);
    if (c->ever_ran)
        c->restarts++;
    c->ever_ran = true;
    c->ready = false;
    c->killed = false;
    c->exec_errno = 0;
    c->after = STK_AFTER_NONE;
    c->started_ns = stk_now_ns();
    c->started_mono = stk_mono_ns();

    int r = stk_spawn(c->exe, argv, sup->envp, &sp);
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

    c->err_fd = sp.err_fd;
    c->ready_fd = sp.ready_fd;
    ev_io_set(&c->w_ready, sp.ready_fd, EV_READ);
    ev_io_start(sup->loop, &c->w_ready);
    c->out =
        stk_out_open(sup->loop, sp.out_fd, c->name, sup->cfg.log.format == STK_LOG_JSON, &c->out);

    ev_timer_stop(sup->loop, &c->w_healthy);
    ev_timer_set(&c->w_healthy, STK_HEALTHY_NS / 1e9, 0.);
    ev_timer_start(sup->loop, &c->w_healthy);

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

static void begin_stop(struct stk_child *c)
{
    set_state(c, STK_CS_STOPPING);
    /* TERM acts on a stopped process only once it is continued: send both,
     * CONT first. A CONT that lands after TERM can hit a process already on
     * its way out and discard the SIGSTOP of a PTRACE_ATTACH in flight (a
     * crash reporter, LeakSanitizer's exit-time check): the tracer then waits
     * forever and the child never exits. CONT before TERM cannot race so. */
    if (c->pol.grace_ms > 0) {
        signal_group(c, SIGCONT);
        signal_group(c, SIGTERM);
        arm_timer(c, c->pol.grace_ms);
    } else {
        c->killed = true;
        signal_group(c, SIGKILL);
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
    ev_timer_stop(sup->loop, &c->w_timer);
    ev_timer_stop(sup->loop, &c->w_healthy);
    c->exec_errno = stk_spawn_exec_errno(c->err_fd);
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
    if (c->exec_errno)
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
    /* What is left of its group (re-parented to us) goes with it. */
    stk_sup_kill_leftovers(sup, pid);
    c->ready = false;
    return up;
}

static void died(struct stk_child *c)
{
    bool was_ready = c->ready;
    double up = reaped(c, false);
    struct stk_sup *sup = c->sup;

    if (!c->exec_errno && (was_ready || up * 1e9 >= (double)STK_HEALTHY_NS))
        c->quick = 0;
    else
        c->quick++;
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

static void stopped(struct stk_child *c)
{
    bool clean = !c->killed;
    (void)reaped(c, true);
    if (c->last_exit == 2)
        clean = clean && c->last_value == SIGTERM;
    else
        clean = clean && (c->last_value == 0 || c->last_value == 128 + SIGTERM);
    if (!clean)
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

static void grace_over(struct stk_child *c)
{
    stk_warn("%s: pid %ld still running %lld ms after SIGTERM: SIGKILL", c->name, (long)c->pid,
             (long long)c->pol.grace_ms);
    c->killed = true;
    signal_group(c, SIGKILL);
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
    [STK_CS_STOPPING] = {restart_stopping, nop, stopped, grace_over, nop, restart_stopping},
    [STK_CS_FAILED] = {start_fresh, bad_event, bad_event, bad_event, stop_idle, start_fresh},
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
    if (c->kind == STK_CHILD_PROGRAM)
        stk_child_event(c, STK_CE_READY);
}

static void ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct stk_child *c = w->data;
    char buf[64];
    ssize_t n = read(c->ready_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* Closed without a newline (or after it): nothing more to hear. */
        stop_ready(c);
        return;
    }
    /* Keep reading after the newline (and ignore it): a child that writes
     * again must not get SIGPIPE. */
    if (memchr(buf, '\n', (size_t)n))
        stk_child_event(c, STK_CE_READY);
}

struct stk_child *stk_child_new(struct stk_sup *sup, const char *name, enum stk_child_kind kind,
                                const char *command, const char *digest,
                                const struct stk_policy *pol)
{
    struct stk_child *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sup = sup;
    c->kind = kind;
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
    c->w_child.data = c->w_timer.data = c->w_healthy.data = c->w_ready.data = c;
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
    stop_ready(c);
    close_fd(&c->err_fd);
    stk_out_detach(c->out);
    free(c->name);
    free(c->command);
    free(c->digest);
    free(c);
}
