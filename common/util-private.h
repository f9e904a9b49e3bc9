/* SPDX-License-Identifier: MIT */
/* util-private.h — small helpers every program needs: EINTR-safe I/O, the
 * readiness fd, argument handling shared by the programs' main.c files. */
#ifndef SEQTICK_UTIL_PRIVATE_H
#define SEQTICK_UTIL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes, s6 style: 0 ok, 100 usage or bad config, 111 system error. */
#define STK_EXIT_OK 0
#define STK_EXIT_USAGE 100
#define STK_EXIT_SYSTEM 111

/* Environment variable naming the readiness fd a supervised child writes to. */
#define STK_READY_FD_ENV "SEQTICK_READY_FD"

/* write(2) all of buf, retrying on EINTR and short writes. Returns 0 or
 * -errno (-EAGAIN on a non-blocking fd that filled up). */
int stk_write_all(int fd, const void *buf, size_t len);

/* read(2) retrying on EINTR. Returns bytes read (0 at EOF) or -errno. */
ssize_t stk_read_retry(int fd, void *buf, size_t len);

/* If $SEQTICK_READY_FD names an open fd: write "\n" to it, close it, unset
 * the variable. Returns 1 if notified, 0 if there was no such fd, -errno. */
int stk_ready_notify(void);

/* Start time of process pid in clock ticks after boot (/proc/PID/stat field
 * 22): with the pid, it names one process for good (a reused pid has a later
 * start). Returns 0 and *ret_ticks, -ESRCH if there is no such process or it
 * is a zombie, or -errno of reading /proc. */
int stk_proc_start(pid_t pid, uint64_t *ret_ticks);

/* True if pid is a live process (not a zombie) whose start time is
 * start_ticks (0: any start; for records that lack it). */
bool stk_proc_alive(pid_t pid, uint64_t start_ticks);

/* Find the program `name` as the stack does: beside our own executable
 * (/proc/self/exe), then in the build tree's sibling folder
 * (<our dir>/../<folder>/<name>), then in each PATH entry. Returns 0 with the
 * path in out, or -ENOENT with out holding the path beside us (so an exec of
 * it fails with a message naming where we looked first). */
int stk_find_program(const char *name, const char *folder, char *out, size_t outsz);

/* Common command line of every program: -c FILE, --help, --version.
 * Returns 0 and *ret_conf (NULL if -c was not given), or 1 if --help or
 * --version was handled (the caller exits 0), or -EINVAL with the message
 * already printed to stderr (the caller exits STK_EXIT_USAGE). `usage` is
 * printed for --help after "usage: PROG ". */
int stk_args_parse(int argc, char **argv, const char *prog, const char *usage,
                   const char **ret_conf);

struct stk_config;
/* Every program's start: the common command line (stk_args_parse), the
 * config (-c FILE, else the defaults), then logging as the config says.
 * Returns 0 with *cfg loaded (the caller frees it), or 1 when main() is to
 * return *ret_exit at once: STK_EXIT_OK after --help or --version,
 * STK_EXIT_USAGE for bad arguments or a config that cannot be loaded (the
 * reason on stderr, "PROG: fatal: ..."), STK_EXIT_SYSTEM out of memory. */
int stk_program_start(int argc, char **argv, const char *prog, const char *usage,
                      struct stk_config *cfg, int *ret_exit);

#endif
