/* SPDX-License-Identifier: MIT */
/* bench.h — seqtick-bench subcommands; each lives in its own bench_*.c. */
#ifndef SEQTICK_BENCH_H
#define SEQTICK_BENCH_H

/* Each returns a process exit code; argv[0] is the subcommand name. */
int stk_bench_shm(int argc, char **argv);
int stk_bench_producer(int argc, char **argv);
int stk_bench_server(int argc, char **argv);
int stk_bench_restart(int argc, char **argv);
int stk_bench_latency(int argc, char **argv);
int stk_bench_supervisor(int argc, char **argv);
int stk_bench_http(int argc, char **argv);
int stk_bench_bars(int argc, char **argv);     /* get_bars vs get_quote over NDJSON */
int stk_bench_fanout(int argc, char **argv);   /* fan-out vs Redis pub/sub and NATS */
int stk_bench_recorder(int argc, char **argv); /* built with libpq (STK_BENCH_RECORDER) */
int stk_bench_bridge(int argc, char **argv);   /* built with libnats (STK_BENCH_BRIDGE) */

#endif
