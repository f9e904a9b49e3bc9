/* SPDX-License-Identifier: MIT */
/* test_child.c — the per-child state machine driven through libev's default
 * loop with real (tiny) processes: backoff, stop while backing off, give-up
 * and restart, restart after a stop, never a pid kept after its reap. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log-private.h"
#include "segment-private.h"
#include "supervisor.h"

#include "testutil.h"

extern char **environ;

static struct stk_sup sup;
static char status_path[64];
static ev_timer tick;

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void setup(void)
{
    memset(&sup, 0, sizeof(sup));
    ck_assert_int_eq(stk_config_defaults(&sup.cfg), 0);
    sup.loop = ev_default_loop(0);
    snprintf(status_path, sizeof(status_path), "/tmp/stk-test-child-%ld.status", (long)getpid());
    sup.status_path = status_path;
    sup.config_path = (char *)"/dev/null";
    sup.envp = environ;
    sup.rng = 12345;
    stk_log_init("test_child", STK_LOG_WARN, STK_LOG_TEXT);
    ev_timer_init(&tick, tick_cb, 0.005, 0.005);
    ev_timer_start(sup.loop, &tick);
}

static void teardown(void)
{
    for (size_t i = 0; i < sup.nchildren; i++) {
        if (sup.children[i]->pid > 0)
            kill(sup.children[i]->pid, SIGKILL);
        stk_child_free(sup.children[i]);
    }
    free(sup.children);
    stk_out_close_all();
    ev_timer_stop(sup.loop, &tick);
    stk_config_free(&sup.cfg);
    unlink(status_path);
}

static struct stk_child *program(const char *cmd, int64_t bmin, int64_t bmax, int64_t maxr)
{
    struct stk_policy pol = {.grace_ms = 500,
                             .backoff_min_ms = bmin,
                             .backoff_max_ms = bmax,
                             .max_restarts = maxr,
                             .restart_window_s = 60};
    struct stk_child *c = stk_child_new(&sup, "p", NULL, cmd, cmd, &pol);
    ck_assert_ptr_nonnull(c);
    sup.children = realloc(sup.children, (sup.nchildren + 1) * sizeof(*sup.children));
    sup.children[sup.nchildren++] = c;
    return c;
}

/* Run the loop until c is in state s (true) or timeout_ms passes (false). */
static bool run_until(struct stk_child *c, enum stk_child_state s, int timeout_ms)
{
    uint64_t end = stk_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    while (c->state != s && stk_mono_ns() < end)
        ev_run(sup.loop, EVRUN_ONCE);
    return c->state == s;
}

static void run_for(int ms)
{
    uint64_t end = stk_mono_ns() + (uint64_t)ms * 1000000u;
    while (stk_mono_ns() < end)
        ev_run(sup.loop, EVRUN_ONCE);
}

START_TEST(quick_death_backs_off_then_stop_cancels)
{
    struct stk_child *c = program("exit 4", 300, 300, 0);
    stk_child_event(c, STK_CE_START);
    ck_assert_int_eq(c->state, STK_CS_STARTING);
    ck_assert_int_gt(c->pid, 0);
    ck_assert(run_until(c, STK_CS_BACKOFF, 5000));
    ck_assert_int_eq(c->pid, 0); /* reaped: forgotten */
    ck_assert_int_eq(c->last_exit, 1);
    ck_assert_int_eq(c->last_value, 4);
    ck_assert_uint_eq(c->quick, 1);
    stk_child_event(c, STK_CE_STOP);
    ck_assert_int_eq(c->state, STK_CS_STOPPED);
    run_for(500); /* the backoff timer must not start it again */
    ck_assert_int_eq(c->state, STK_CS_STOPPED);
    ck_assert_uint_eq(c->restarts, 0);
}
END_TEST

START_TEST(gives_up_then_restart_starts_over)
{
    struct stk_child *c = program("exit 1", 1, 2, 2);
    stk_child_event(c, STK_CE_START);
    ck_assert(run_until(c, STK_CS_FAILED, 5000));
    ck_assert_uint_eq(c->restarts, 2);
    ck_assert_int_eq(c->pid, 0);
    run_for(100);
    ck_assert_int_eq(c->state, STK_CS_FAILED); /* stays given up */
    stk_child_event(c, STK_CE_RESTART);        /* e.g. its command changed */
    ck_assert_int_eq(c->state, STK_CS_STARTING);
    ck_assert_uint_eq(c->restarts, 3);
    ck_assert(run_until(c, STK_CS_FAILED, 5000));
}
END_TEST

START_TEST(restart_stops_then_starts)
{
    struct stk_child *c = program("exec sleep 100", 100, 100, 0);
    stk_child_event(c, STK_CE_START);
    pid_t first = c->pid;
    stk_child_event(c, STK_CE_RESTART);
    ck_assert_int_eq(c->state, STK_CS_STOPPING);
    ck_assert_int_eq(c->pid, first); /* not reaped yet: still known */
    ck_assert(run_until(c, STK_CS_STARTING, 5000));
    ck_assert_int_gt(c->pid, 0);
    ck_assert_int_ne(c->pid, first);
    ck_assert_int_eq(c->last_exit, 2);
    ck_assert_int_eq(c->last_value, SIGTERM);
    ck_assert_uint_eq(c->restarts, 1);
    /* a program alive for a second counts as ready */
    ck_assert(run_until(c, STK_CS_RUNNING, 3000));
    ck_assert(c->ready);
}
END_TEST

START_TEST(stop_kills_at_grace)
{
    struct stk_child *c = program("trap '' TERM; exec sleep 100", 100, 100, 0);
    c->pol.grace_ms = 200;
    stk_child_event(c, STK_CE_START);
    run_for(100);
    uint64_t t0 = stk_mono_ns();
    stk_child_event(c, STK_CE_STOP);
    ck_assert(run_until(c, STK_CS_STOPPED, 5000));
    double ms = (double)(stk_mono_ns() - t0) / 1e6;
    ck_assert(c->killed);
    ck_assert_int_eq(c->last_value, SIGKILL);
    ck_assert_double_ge(ms, 150);
    ck_assert_double_le(ms, 2000);
    ck_assert_int_eq(sup.exit_code, 1);
}
END_TEST

START_TEST(exec_failure_is_a_quick_death)
{
    struct stk_policy pol = {.grace_ms = 100,
                             .backoff_min_ms = 5000,
                             .backoff_max_ms = 5000,
                             .max_restarts = 0,
                             .restart_window_s = 60};
    /* a bindir without the program: exec fails with ENOENT */
    free(sup.cfg.supervisor.bindir);
    sup.cfg.supervisor.bindir = strdup("/nonexistent");
    struct stk_child *c =
        stk_child_new(&sup, "producer", stk_builtin_find("producer"), NULL, NULL, &pol);
    sup.children = realloc(sup.children, (sup.nchildren + 1) * sizeof(*sup.children));
    sup.children[sup.nchildren++] = c;
    stk_child_event(c, STK_CE_START);
    ck_assert(run_until(c, STK_CS_BACKOFF, 5000));
    ck_assert_int_eq(c->exec_errno, ENOENT);
    ck_assert_int_eq(c->last_value, 127);
    ck_assert_str_eq(c->exe, "/nonexistent/seqtick-producer");
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"core", quick_death_backs_off_then_stop_cancels},
        {"core", gives_up_then_restart_starts_over},
        {"core", restart_stops_then_starts},
        {"core", stop_kills_at_grace},
        {"core", exec_failure_is_a_quick_death},
    };
    return TEST_TABLE_RUN_WITH("supervisor-child", tests, setup, teardown);
}
