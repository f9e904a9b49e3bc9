/* SPDX-License-Identifier: MIT */
/* test_tree.c — /proc/PID/stat parsing, and the restart policy's states
 * through the per-child state machine with real tiny processes (pgroup
 * tracking): on-failure and never leave `done`, exit 100 is `failed` at
 * once, STK_CE_START brings both back, a stop waits for the whole tree. */
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

/* ---- /proc/PID/stat ------------------------------------------------------ */

static const char STAT_PLAIN[] = "1234 (sleep) S 1 1234 1234 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 "
                                 "1 0 987654 8540160 220 18446744073709551615 1 1 0 0 0 0 0 0 0 "
                                 "0 0 0 17 1 0 0 0 0 0\n";

START_TEST(pstat_plain)
{
    struct stk_pstat st;
    ck_assert_int_eq(stk_pstat_parse(STAT_PLAIN, strlen(STAT_PLAIN), &st), 0);
    ck_assert_int_eq(st.pid, 1234);
    ck_assert_int_eq(st.state, 'S');
    ck_assert_int_eq(st.ppid, 1);
    ck_assert_int_eq(st.pgrp, 1234);
    ck_assert_int_eq(st.sid, 1234);
    ck_assert_uint_eq(st.start, 987654);
}
END_TEST

START_TEST(pstat_comm_with_spaces_and_parens)
{
    /* a command name may hold ") S 9 9 9 " itself: the last ')' ends it */
    static const char s[] = "77 (a) S 9 9 9 (x) Z 5 6 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4242 0 0\n";
    struct stk_pstat st;
    ck_assert_int_eq(stk_pstat_parse(s, strlen(s), &st), 0);
    ck_assert_int_eq(st.pid, 77);
    ck_assert_int_eq(st.state, 'Z');
    ck_assert_int_eq(st.ppid, 5);
    ck_assert_int_eq(st.pgrp, 6);
    ck_assert_int_eq(st.sid, 7);
    ck_assert_uint_eq(st.start, 4242);
}
END_TEST

START_TEST(pstat_bad)
{
    struct stk_pstat st;
    static const char *const bad[] = {
        "",
        "x (a) S 1 1 1",
        "12 a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
        "12 (a S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
        "12 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", /* no start time */
        "12 (a) S 1 1 x 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
        "-3 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(stk_pstat_parse(bad[i], strlen(bad[i]), &st) < 0, "accepted: %s", bad[i]);
    /* not NUL-terminated: only len bytes count */
    ck_assert_int_lt(stk_pstat_parse(STAT_PLAIN, 40, &st), 0);
}
END_TEST

START_TEST(pstat_self)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    struct stk_pstat st;
    ck_assert_int_eq(stk_pstat_parse(buf, n, &st), 0);
    ck_assert_int_eq(st.pid, getpid());
    ck_assert_int_eq(st.ppid, getppid());
    ck_assert_int_eq(st.pgrp, getpgrp());
    ck_assert_uint_gt(st.start, 0);
}
END_TEST

/* ---- restart policy through the state machine ------------------------------ */

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
    snprintf(status_path, sizeof(status_path), "/tmp/stk-test-tree-%ld.status", (long)getpid());
    sup.status_path = status_path;
    sup.config_path = (char *)"/dev/null";
    sup.envp = environ;
    sup.rng = 12345;
    sup.track = STK_TRACK_PGROUP;
    stk_log_init("test_tree", STK_LOG_WARN, STK_LOG_TEXT);
    ev_timer_init(&tick, tick_cb, 0.005, 0.005);
    ev_timer_start(sup.loop, &tick);
}

static void teardown(void)
{
    for (size_t i = 0; i < sup.nchildren; i++) {
        struct stk_child *c = sup.children[i];
        if (c->nmembers)
            (void)stk_tree_signal(c, SIGKILL, false);
        if (c->pid > 0)
            kill(c->pid, SIGKILL);
        stk_child_free(c);
    }
    free(sup.children);
    sup.children = NULL;
    sup.nchildren = 0;
    stk_out_close_all();
    ev_timer_stop(sup.loop, &tick);
    stk_tree_fini(&sup);
    stk_config_free(&sup.cfg);
    unlink(status_path);
}

static struct stk_child *program(const char *cmd, int restart, int64_t grace_ms)
{
    struct stk_policy pol = {.grace_ms = grace_ms,
                             .backoff_min_ms = 10,
                             .backoff_max_ms = 20,
                             .max_restarts = 0,
                             .restart_window_s = 60,
                             .restart = restart};
    struct stk_child *c = stk_child_new(&sup, "p", NULL, cmd, cmd, &pol);
    ck_assert_ptr_nonnull(c);
    sup.children = realloc(sup.children, (sup.nchildren + 1) * sizeof(*sup.children));
    sup.children[sup.nchildren++] = c;
    return c;
}

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

START_TEST(on_failure_success_is_done_then_start)
{
    struct stk_child *c = program("exit 0", STK_RESTART_ON_FAILURE, 500);
    stk_child_event(c, STK_CE_START);
    ck_assert(run_until(c, STK_CS_DONE, 5000));
    run_for(100);
    ck_assert_int_eq(c->state, STK_CS_DONE);
    ck_assert_uint_eq(c->restarts, 0);
    stk_child_event(c, STK_CE_START); /* `seqtick start NAME` */
    ck_assert(c->state == STK_CS_STARTING || c->state == STK_CS_DONE);
    ck_assert_uint_eq(c->restarts, 1);
    ck_assert(run_until(c, STK_CS_DONE, 5000));
}
END_TEST

START_TEST(on_failure_failure_restarts)
{
    struct stk_child *c = program("exit 3", STK_RESTART_ON_FAILURE, 500);
    stk_child_event(c, STK_CE_START);
    uint64_t end = stk_mono_ns() + 5000000000ull;
    while (c->restarts < 3 && stk_mono_ns() < end)
        ev_run(sup.loop, EVRUN_ONCE);
    ck_assert_uint_ge(c->restarts, 3);
    stk_child_event(c, STK_CE_STOP);
    ck_assert(run_until(c, STK_CS_STOPPED, 5000));
}
END_TEST

START_TEST(never_failure_is_stopped)
{
    struct stk_child *c = program("exit 3", STK_RESTART_NEVER, 500);
    stk_child_event(c, STK_CE_START);
    ck_assert(run_until(c, STK_CS_STOPPED, 5000));
    ck_assert_int_eq(c->last_value, 3);
    run_for(100);
    ck_assert_uint_eq(c->restarts, 0);
}
END_TEST

START_TEST(exit_100_failed_at_once_then_start)
{
    struct stk_child *c = program("exit 100", STK_RESTART_ALWAYS, 500);
    stk_child_event(c, STK_CE_START);
    ck_assert(run_until(c, STK_CS_FAILED, 5000));
    run_for(100);
    ck_assert_int_eq(c->state, STK_CS_FAILED);
    ck_assert_uint_eq(c->restarts, 0);
    stk_child_event(c, STK_CE_START);
    ck_assert_uint_eq(c->restarts, 1);
    ck_assert(run_until(c, STK_CS_FAILED, 5000));
}
END_TEST

START_TEST(stop_waits_for_the_whole_tree)
{
    /* The leader dies at once on TERM; its child takes 300 ms to go. */
    struct stk_child *c =
        program("sh -c 'trap \"sleep 0.3; exit 0\" TERM; while :; do sleep 0.02; done'; true",
                STK_RESTART_ALWAYS, 5000);
    stk_child_event(c, STK_CE_START);
    run_for(300);
    ck_assert_uint_ge(stk_tree_count(c), 2);
    uint64_t t0 = stk_mono_ns();
    stk_child_event(c, STK_CE_STOP);
    ck_assert(run_until(c, STK_CS_STOPPED, 5000));
    uint64_t ms = (stk_mono_ns() - t0) / 1000000u;
    ck_assert_uint_ge(ms, 250);
    ck_assert(!c->killed);
    ck_assert_uint_eq(stk_tree_count(c), 0);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"parse", pstat_plain},
        {"parse", pstat_comm_with_spaces_and_parens},
        {"parse", pstat_bad},
        {"parse", pstat_self},
        {"policy", on_failure_success_is_done_then_start},
        {"policy", on_failure_failure_restarts},
        {"policy", never_failure_is_stopped},
        {"policy", exit_100_failed_at_once_then_start},
        {"policy", stop_waits_for_the_whole_tree},
    };
    return TEST_TABLE_RUN_WITH("supervisor-tree", tests, setup, teardown);
}
