/* SPDX-License-Identifier: MIT */
/* bench_latency.c — seqtick-bench latency (placeholder until its issue lands). */
#include <stdio.h>

#include "bench.h"

int stk_bench_latency(int argc, char **argv)
{
    fprintf(stderr, "seqtick-bench: latency: not built yet\n");
    return 1;
}
