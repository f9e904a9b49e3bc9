/* SPDX-License-Identifier: MIT */
/* supervisor.h — seqtick-supervisor's internals: the per-child state machine
 * (child.c), fork/exec set-up (spawn.c), child output (output.c), the status
 * file (status.c), reload digests (reload.c), process-tree tracking
 * (tree.c) and the whole (supervisor.c). */
#ifndef SEQTICK_SUPERVISOR_H
#define SEQTICK_SUPERVISOR_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "backoff-private.h" /* stk_backoff_ms: the restart delay */
#include "config-private.h"

#define STK_SUP_PROG "seqtick-supervisor"

/* A child that ran at least this long (or reported ready) is restarted at once. */
#define STK_HEALTHY_NS 1000000000ull

/* Fixed fd numbers in every child. */
#define STK_CHILD_READY_FD 3 /* write "\n" here when ready */

/* A built-in child: a seqtick program run as `PROGRAM -c FILE`, one row of
 * stk_builtins[] (supervisor.c) each. A new one (a recorder, a bridge) is a
 * row; its name is a config section flagged as a child's (config.c), so no
 * [program.NAME] can take it. Every [program.NAME] is a child without a row
 * (/bin/sh -c COMMAND). */
struct stk_builtin {
    const char *name;            /* the child's name, e.g. "producer" */
    const char *program;         /* its executable, e.g. "seqtick-producer" */
    const char *folder;          /* its folder in the build tree, e.g. "producer" */
    const char *const *sections; /* a reload that changes one restarts it; NULL-terminated */
    bool (*enabled)(const struct stk_config *cfg); /* run it under cfg? NULL: always */
};

/* The built-in children in start order, and how many. */
extern const struct stk_builtin stk_builtins[];
extern const size_t stk_nbuiltins;

/* The row named `name`, or NULL. */
const struct stk_builtin *stk_builtin_find(const char *name);

/* Is b to run under cfg (its enabled-when)? */
bool stk_builtin_enabled(const struct stk_builtin *b, const struct stk_config *cfg);

enum stk_child_state {
    STK_CS_STOPPED,  /* no process and none wanted (yet) */
    STK_CS_STARTING, /* forked; not ready yet */
    STK_CS_RUNNING,  /* ready: reported "\n", or a [program.NAME] alive for 1 s */
    STK_CS_BACKOFF,  /* died quickly; waiting out the restart delay */
    STK_CS_STOPPING, /* CONT+TERM sent to its group; SIGKILL at grace_ms */
    STK_CS_FAILED,   /* gave up: max_restarts within restart_window_s, or exit 100 */
    STK_CS_DONE,     /* exited and its restart policy says not to run it again */
    STK_CS_NSTATES
};

enum stk_child_event {
    STK_CE_START,   /* run it (first start, or after a give-up/stop) */
    STK_CE_READY,   /* "\n" on the readiness fd */
    STK_CE_EXIT,    /* the process was reaped (libev already waited for it) */
    STK_CE_TIMER,   /* backoff over (BACKOFF); grace, then its 1 s bound, over (STOPPING) */
    STK_CE_STOP,    /* stop it for good (supervisor stopping, program removed) */
    STK_CE_RESTART, /* settings changed: stop it, then start it again */
    STK_CE_NEVENTS
};

/* Effective supervision settings of one child ([program.NAME] values over
 * [supervisor] ones). */
struct stk_policy {
    int64_t grace_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int64_t max_restarts; /* 0 = never give up */
    int64_t restart_window_s;
    int restart;              /* STK_RESTART_* */
    int64_t ready_timeout_ms; /* 0 = never judged */
};

/* A child that exits with this code has a configuration error: FAILED at once. */
#define STK_EXIT_CONFIG_ERROR 100

/* How the supervisor knows every process of a child's tree (tree.c). */
enum stk_track {
    STK_TRACK_PGROUP, /* process group + subreaper + /proc scan (always there) */
    STK_TRACK_CGROUP, /* one cgroup v2 per child */
};

/* A process known by pid and start time (clock ticks after boot, field 22
 * of /proc/PID/stat): a pid reused by another process never matches. */
struct stk_tproc {
    pid_t pid;
    uint64_t start;
};

/* What tree.c reads of /proc/PID/stat. */
struct stk_pstat {
    pid_t pid, ppid, pgrp, sid;
    char state; /* 'R', 'S', 'Z', ... */
    uint64_t start;
    long threads;
};

/* What to do once a stopping child has been reaped. */
enum stk_after_stop { STK_AFTER_NONE, STK_AFTER_RESTART, STK_AFTER_REMOVE };

struct stk_sup;
struct stk_outpipe;

/* What the watchdog knows of the producer it watches. Zeroed: not armed. */
struct stk_watchdog {
    pid_t pid;        /* armed for this producer pid (0: not armed) */
    uint64_t hb;      /* its last heartbeat value seen */
    uint64_t hb_mono; /* CLOCK_MONOTONIC when that value was first seen */
};

struct stk_child {
    struct stk_sup *sup;
    char *name;
    const struct stk_builtin *builtin; /* its row; NULL for a [program.NAME] */
    char *command;                     /* [program.NAME] command; NULL for built-ins */
    char *digest;                      /* the settings that, when changed by a reload, restart it */
    struct stk_policy pol;

    enum stk_child_state state;
    enum stk_after_stop after;
    pid_t pid;             /* 0 once reaped: never signalled after that */
    uint64_t started_ns;   /* CLOCK_REALTIME of the current/last start */
    uint64_t started_mono; /* CLOCK_MONOTONIC of the same */
    uint64_t since_ns;     /* CLOCK_REALTIME of the last state change */
    uint64_t restarts;     /* starts after the first */
    unsigned quick;        /* consecutive quick deaths (backoff exponent) */
    uint64_t window_start; /* CLOCK_MONOTONIC start of the give-up window */
    uint64_t window_count; /* restarts counted in it */
    bool ready;
    bool killed;          /* needed SIGKILL while stopping */
    bool grace_done;      /* STOPPING: SIGKILL sent, the last 1 s is running */
    bool not_ready;       /* ready_timeout_ms passed without readiness */
    unsigned ready_bytes; /* read from the readiness fd so far */
    bool ever_ran;        /* a start happened (restarts counts the later ones) */
    int last_exit;        /* 0 none, 1 code, 2 signal */
    int last_value;       /* exit code or signal number */
    int exec_errno;       /* exec failure of the last start, 0 = none */
    char exe[4096];       /* what the last start exec'd */
    char cmdline[8192];   /* the same with its arguments, for people */

    ev_child w_child;
    ev_timer w_timer;   /* backoff or grace */
    ev_timer w_healthy; /* 1 s after start */
    ev_io w_ready;
    int ready_fd; /* read end of the readiness pipe, -1 */
    int err_fd;   /* read end of the exec-error pipe, -1 */
    struct stk_outpipe *out;

    /* tree.c: the process tree of the current/last start */
    pid_t pgid;                /* its process group (the leader's pid) */
    uint64_t leader_start;     /* the leader's start time */
    struct stk_tproc *members; /* pgroup mode: the tree as last scanned */
    size_t nmembers, capmembers;
    char *cg;            /* cgroup mode: its cgroup folder */
    char **envp;         /* sup->envp plus SEQTICK_TREE=NAME@PIDFILE */
    uint64_t died_mono;  /* CLOCK_MONOTONIC of the leader's last death */
    ev_timer w_tree;     /* STOPPING with the leader reaped: polls the tree */
    ev_timer w_ready_to; /* ready_timeout_ms */
};

struct stk_sup {
    struct ev_loop *loop;
    struct stk_config cfg;
    char *config_path;   /* absolute when realpath() could make it so */
    char *snapshot_path; /* the accepted copy children run (PIDFILE.conf), or NULL */
    char *accepted;      /* during stk_sup_init(): the text accepted */
    struct stk_seg *seg;
    int pid_fd;
    char *status_path;
    char **envp; /* children's environment */
    char *notify_socket;

    struct stk_child **children;
    size_t nchildren;

    uint64_t started_ns;
    bool stopping;
    int stop_signal;    /* the signal that began the stop */
    uint64_t stop_mono; /* CLOCK_MONOTONIC when it came */
    bool all_ready;
    bool notified_ready;
    bool orphans_killed;
    int exit_code;
    uint64_t rng;

    ev_signal w_term, w_int, w_hup;
    ev_child w_any;        /* reaps grandchildren re-parented to us */
    ev_timer w_stop_grace; /* SIGKILL to leftovers at supervisor.grace_ms */
    ev_timer w_stop_poll;  /* re-checks leftovers while stopping */
    ev_timer w_watchdog;   /* supervisor.watchdog_ms: the producer's heartbeat */
    struct stk_watchdog watchdog;
    bool stack_ready;       /* producer and server ready once: READY=1 sent */
    uint64_t stop_deadline; /* CLOCK_MONOTONIC past which the stop gives up waiting */

    /* tree.c */
    enum stk_track track;
    char *cg_base;          /* cgroup mode: <mount><our cgroup>/seqtick.<shm> */
    char *cg_rel;           /* the same relative to the mount */
    char *procs_path;       /* <pidfile>.procs: what a SIGKILLed supervisor left */
    char *tree_suffix;      /* "@<pidfile>" ending every SEQTICK_TREE value */
    char *procs_text;       /* what procs_path holds now */
    struct stk_pstat *scan; /* pgroup mode: /proc as last read */
    size_t nscan, capscan;
    uint64_t scan_mono; /* when (0: never) */
    ev_timer w_scan;    /* pgroup mode: re-reads the trees every second */

    /* Our own log, buffered and never blocking (output.c paces children). */
    int log_fd;             /* stderr as a pipe/tty/socket to wait on, -1 */
    bool log_paused;        /* children's pipes held: the log is over high water */
    ev_tstamp log_progress; /* ev_now() when the log last drained something */
    ev_prepare w_log_prep;  /* before each poll: write what this iteration logged */
    ev_io w_log;            /* stderr writable again */
    ev_timer w_log_check;   /* while bytes are held: notices a stalled reader */

    /* control.c: the control socket */
    unsigned long reloads; /* reloads applied (a refused one does not count) */
    int ctl_fd;            /* listening socket, -1 */
    char *ctl_path;        /* its path, removed at exit */
    ev_io w_ctl;
};

/* ---- child.c: policy (pure) and the per-child state machine ------------- */

/* Count a restart in the give-up window: a window older than window_s
 * seconds starts over at now. Returns true if the child must be given up
 * (max_restarts > 0 and this is restart max_restarts + 1 in the window). */
bool stk_restart_window_hit(uint64_t *window_start, uint64_t *window_count, uint64_t now_mono,
                            int64_t max_restarts, int64_t window_s);

/* Name of a state as the status file spells it. */
const char *stk_child_state_name(enum stk_child_state s);

/* A new child in state STOPPED (not started). Returns NULL on ENOMEM. */
struct stk_child *stk_child_new(struct stk_sup *sup, const char *name,
                                const struct stk_builtin *builtin, const char *command,
                                const char *digest, const struct stk_policy *pol);

/* Feed one event to the child's state machine. */
void stk_child_event(struct stk_child *c, enum stk_child_event ev);

/* Release a child that has no process (pid 0) and no timers running. */
void stk_child_free(struct stk_child *c);

/* ---- tree.c: every process of every child ------------------------------ */

/* Parse the text of /proc/PID/stat (len bytes, need not be NUL-terminated).
 * Returns 0, or -EINVAL when it is not that format. Pure, for the tests. */
int stk_pstat_parse(const char *buf, size_t len, struct stk_pstat *out);

/* Choose the tracking mode (cgroup v2 where we may create cgroups, else
 * process groups; env SEQTICK_TRACKING=pgroup|cgroup|auto forces it), log
 * it, then find, log and SIGKILL what a previous supervisor on the same
 * pidfile (or shm name, in cgroup mode) left running, waiting until it is
 * gone. Call once the loop exists and before any child starts. Returns 0 or
 * STK_EXIT_SYSTEM (logged). */
int stk_tree_init(struct stk_sup *sup);

/* At exit: remove the (empty) cgroups and the procs file. Idempotent. */
void stk_tree_fini(struct stk_sup *sup);

/* Before a fork: the child's cgroup and the fd of its cgroup.procs that the
 * forked child writes itself into (*join_fd, -1 in pgroup mode; the caller
 * closes it), and its environment (*envp). Returns 0 or -errno. */
int stk_tree_prepare(struct stk_child *c, int *join_fd, char ***envp);

/* After the fork: c->pid is the new leader; its tree starts with it. */
void stk_tree_started(struct stk_child *c);

/* Send sig (with SIGCONT just before it when cont) once to every process of
 * c's tree as it is now (SIGKILL: also to those that appear meanwhile);
 * never to a pid that no longer names the process seen. Returns how many. */
size_t stk_tree_signal(struct stk_child *c, int sig, bool cont);

/* How many live processes c's tree has (0: gone). Reads /proc at most every
 * few ms in pgroup mode. */
size_t stk_tree_count(struct stk_child *c);

/* True if pid belongs to a child's tree. */
bool stk_tree_owns(struct stk_sup *sup, pid_t pid);

/* Name of the mode for logs and the status file: "cgroup" or "pgroup". */
const char *stk_tree_mode_name(const struct stk_sup *sup);

/* Release what tree.c holds for c (its empty cgroup folder is removed). */
void stk_tree_child_free(struct stk_child *c);

/* ---- watchdog.c: a producer whose heartbeat stopped ---------------------- */

/* One look at the segment header: child_pid is the supervised producer's pid
 * (0: none running), seg_pid and hb the header's producer_pid and
 * producer_heartbeat_ns. It arms once the header names child_pid (so a
 * stand-in that never attaches is never judged), follows the heartbeat by
 * our own monotonic clock (a wall-clock step is no heartbeat), and returns
 * how long in ms the heartbeat has not moved when that is over limit_ms
 * (then disarms: one verdict per process), else 0. Pure, for the tests. */
int64_t stk_watchdog_check(struct stk_watchdog *w, pid_t child_pid, uint32_t seg_pid, uint64_t hb,
                           uint64_t now_mono, int64_t limit_ms);

/* Start, restart (after a reload) or stop the timer that looks every
 * limit/4 (at most 1 s): a producer found stuck gets SIGKILL to its group,
 * and the restart policy brings a new one. */
void stk_watchdog_setup(struct stk_sup *sup);

/* ---- spawn.c ------------------------------------------------------------- */

struct stk_spawned {
    pid_t pid;
    int out_fd;   /* read end: the child's stdout+stderr, non-blocking */
    int ready_fd; /* read end: the child's fd 3, non-blocking */
    int err_fd;   /* read end: the spawner's report (EOF = exec succeeded) */
};

/* fork + exec path with argv/envp through stk_spawn_start (common/
 * spawn-private.h: the child's set-up, exit 111 for a failed set-up, 127
 * for a failed exec), with "0" written to join_fd first when it is >= 0
 * (its cgroup.procs: the child joins its cgroup), stdin /dev/null,
 * stdout/stderr to one pipe, the readiness pipe on fd 3, nothing else open.
 * Read err_fd with stk_spawn_report once the child is reaped. Returns 0 and
 * *ret, or -errno of pipe2/fork (nothing is left open then). */
int stk_spawn(const char *path, char *const argv[], char *const envp[], int join_fd,
              struct stk_spawned *ret);

/* ---- output.c ------------------------------------------------------------ */

/* Start forwarding fd (non-blocking read end) line by line to stderr, each
 * line prefixed "NAME: " (json log format: one log record per line). The
 * pipe owns itself: it is closed and freed at EOF, and then sets *owner (the
 * pointer the caller keeps it in) to NULL. Returns NULL on ENOMEM (fd is
 * closed then). */
struct stk_outpipe *stk_out_open(struct ev_loop *loop, int fd, const char *name, bool json,
                                 struct stk_outpipe **owner);

/* The child behind it was reaped: read what is already in the pipe without
 * blocking, and forget the child (grandchildren may hold the pipe open; it
 * then goes on until their EOF). The pointer must not be used afterwards. */
void stk_out_detach(struct stk_outpipe *o);

/* At exit: read what is left in every pipe without blocking, close and free
 * them all. */
void stk_out_close_all(void);

/* The supervisor's log is (true) or is no longer (false) over its high
 * water: stop or resume reading every child's pipe, so a flood waits in the
 * flooding child's pipe instead of in our memory. */
void stk_out_pace(bool log_over_high_water);

/* ---- status.c ------------------------------------------------------------ */

/* Append s to f as a JSON string (with quotes). */
void stk_json_string(FILE *f, const char *s);

/* Render the status document (docs/supervisor.md, "Status file") to f. */
void stk_status_render(FILE *f, const struct stk_sup *sup, uint64_t now_ns);

/* Rewrite sup->status_path atomically (PATH.tmp + rename). Returns 0 or
 * -errno (the caller logs). */
int stk_status_write(const struct stk_sup *sup);

/* ---- reload.c ------------------------------------------------------------ */

/* The settings of `sections` (NULL-terminated, e.g. {"producer","shm","log"})
 * in the INI text as sorted "section.key=value" lines, so equal settings
 * compare equal however the file is ordered. Returns a heap string or NULL
 * (ENOMEM or unparsable text: then nothing compares equal). */
char *stk_reload_digest(const char *text, const char *const sections[]);

/* The same for the one section [program.NAME]. */
char *stk_reload_program_digest(const char *text, const char *name);

/* Read the file at path once and check it in full: the parser, then every
 * check a child makes at start (stk_producer_check()). Returns 0 with the
 * text read in *ret_text (heap) and the parsed config in *ret; -EINVAL
 * with "FILE:LINE: key: why" in err; -ENOMEM. */
int stk_sup_accept(const char *path, char **ret_text, struct stk_config *ret,
                   char err[STK_CONF_ERR_MAX]);

/* Write text as the accepted copy the producer and the server are started
 * with: sup->snapshot_path (PIDFILE.conf, or PIDFILE.accepted.conf when
 * that is the user's file itself; mode 0600, PATH.tmp + rename),
 * its first line naming sup->config_path so their messages name the user's
 * file and lines (STK_CONF_COPY_MARK). Sets sup->snapshot_path. Returns 0 or
 * -errno. */
int stk_sup_snapshot(struct stk_sup *sup, const char *text);

/* SIGHUP: stk_sup_accept() the file, refuse a change of shm.* geometry or
 * pidfile, write the accepted copy, then restart the children whose
 * sections changed (and start again failed or done ones whose section
 * changed). A refused file is logged and the running configuration kept. */
void stk_reload_apply(struct stk_sup *sup);

/* ---- control.c ----------------------------------------------------------- */

/* Create the control socket at supervisor.control_socket (mode 0600; a
 * socket already there is a dead supervisor's, as we hold the pidfile lock,
 * and is replaced; anything else there is refused) and serve it on the
 * loop. Logs its own errors. Returns 0 or the exit code to leave with. */
int stk_ctl_open(struct stk_sup *sup);

/* Close the socket and every connection, and remove the socket file if it
 * is still the one we created. */
void stk_ctl_close(struct stk_sup *sup);

/* ---- supervisor.c -------------------------------------------------------- */

/* Re-read and apply the configuration, as SIGHUP does. Returns 0 if it was
 * applied, -EINVAL if it was refused (logged; the running one is kept),
 * -ECANCELED while stopping. */
int stk_sup_reload(struct stk_sup *sup);

/* Load the config, lock the pidfile, create/re-open the segment, set up the
 * loop and start every child. Logs its own errors. Returns 0 or the exit
 * code to leave with (STK_EXIT_USAGE, STK_EXIT_SYSTEM). */
int stk_sup_init(struct stk_sup *sup, const char *config_path);

/* Run until stopped; then mark the segment closed (unlinking it if
 * shm.unlink_on_exit), remove pidfile and status file, free everything.
 * Returns the exit code: 0 if every child stopped cleanly, else 1. */
int stk_sup_run(struct stk_sup *sup);

/* Release what a failed stk_sup_init() left (no child is running then). */
void stk_sup_abort(struct stk_sup *sup);

/* Something a status reader sees changed: rewrite the status file and
 * re-check readiness (logs "all ready" and notifies systemd once). */
void stk_sup_changed(struct stk_sup *sup);

/* A child left STOPPING for STOPPED with STK_AFTER_REMOVE: drop it. */
void stk_sup_remove(struct stk_sup *sup, struct stk_child *c);

/* For reload.c: the policy of a built-in child (pc NULL) or a program; a
 * child by name; a new child (STOPPED), NULL on ENOMEM. */
struct stk_policy stk_sup_policy(const struct stk_config *cfg, const struct stk_program_conf *pc);
struct stk_child *stk_sup_find_child(struct stk_sup *sup, const char *name);
struct stk_child *stk_sup_add_child(struct stk_sup *sup, const char *name,
                                    const struct stk_builtin *builtin, const char *command,
                                    const char *digest, const struct stk_policy *pol);

/* Build argv for c into argv[] (pointers into c and sup, at most 4 + NULL)
 * and its executable into c->exe. */
void stk_sup_command(struct stk_sup *sup, struct stk_child *c, char *argv[5]);

/* A child's leader pid was reaped: SIGKILL what is left of its process group
 * among our direct children (re-parented to us as subreaper). */
void stk_sup_kill_leftovers(struct stk_sup *sup, pid_t pgid);

/* Next pseudo-random number in [0,1) for jitter. */
double stk_sup_random(struct stk_sup *sup);

#endif
