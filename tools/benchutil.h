/* SPDX-License-Identifier: MIT */
/* benchutil.h — helpers the seqtick-bench subcommands share: naps, loopback
 * ports and connections, child processes tied to the bench, CPU time. */
#ifndef SEQTICK_BENCHUTIL_H
#define SEQTICK_BENCHUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* Sleep ms milliseconds (one nanosleep; an interruption cuts it short). */
void stk_bench_nap_ms(int ms);

/* A loopback port free now, picked below the kernel's ephemeral range
 * (ip_local_port_range) so that no outgoing connection can take it before
 * the child binds it; -1 when none was found. */
int stk_bench_free_port(void);

/* A blocking TCP connection to 127.0.0.1:port (TCP_NODELAY when nodelay),
 * close-on-exec; the fd, or -errno. */
int stk_bench_dial(int port, bool nodelay);

/* fork + exec argv (PATH search) with stdout and stderr to `log`, appended
 * to when append, else truncated; the child gets SIGKILL when the bench
 * dies, even mid-run. The child's pid, or -1 if fork failed. */
pid_t stk_bench_spawn(const char *const argv[], const char *log, bool append);

/* utime + stime of pid in seconds (from /proc/pid/stat), or -1. */
double stk_bench_cpu_s(pid_t pid);

/* A "Vm…:" line of /proc/pid/status in kB (field "VmRSS:", "VmHWM:"…),
 * or -1 when the process or the line is missing. */
long stk_bench_vm_kb(pid_t pid, const char *field);

/* Wait up to ms for 127.0.0.1:port to accept a connection: 0, -ECHILD if
 * pid exited first (it is then reaped), or -ETIMEDOUT. */
int stk_bench_wait_listening(int port, pid_t pid, int ms);

/* Stop pid: SIGTERM, up to 5 s for it to exit, then SIGKILL; reaped.
 * Nothing for pid <= 0. */
void stk_bench_reap(pid_t pid);

#endif
