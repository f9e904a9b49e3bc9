/* SPDX-License-Identifier: MIT */
/* bench.c — seqtick-bench: micro-benchmarks and load generators, each
 * reported next to a baseline measured in the same run. */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "seqtick.h"
#include "util-private.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} cmds[] = {
    {"shm", stk_bench_shm, "latest-quote read/write ns vs a bare seqlock loop"},
    {"producer", stk_bench_producer, "ticks/s into the segment: sim and JSON lines"},
    {"server", stk_bench_server, "NDJSON vs Redis RESP: requests/s, p50/p99/p99.9"},
    {"restart", stk_bench_restart, "supervisor restart latency after kill -9"},
    {"latency", stk_bench_latency, "producer write -> reader observes (spin and futex)"},
    {"supervisor", stk_bench_supervisor, "supervisor CPU and RSS while a child floods `yes`"},
    {"http", stk_bench_http, "HTTP face vs nginx (wrk): requests/s, p50/p99; dashboard CPU"},
    {"bars", stk_bench_bars, "get_bars (500 1m bars, SQLite) vs get_quote over NDJSON: p50/p99"},
    {"fanout", stk_bench_fanout, "subscribers: seqtick ticks/latest vs Redis pub/sub and NATS"},
#ifdef STK_BENCH_RECORDER
    {"recorder", stk_bench_recorder, "recorder: SQLite vs bare inserts, gaps, COPY vs psql"},
#endif
#ifdef STK_BENCH_BRIDGE
    {"bridge", stk_bench_bridge, "segment -> bridge -> NATS vs bare libnats: ticks/s, p50/p99"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick-bench COMMAND [options]   (COMMAND --help for its options)\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].what);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("seqtick-bench %s\n", STK_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "seqtick-bench: fatal: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return STK_EXIT_USAGE;
}
