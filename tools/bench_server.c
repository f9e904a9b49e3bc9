/* SPDX-License-Identifier: MIT */
/* bench_server.c — seqtick-bench server (placeholder until its issue lands). */
#include <stdio.h>

#include "bench.h"

int stk_bench_server(int argc, char **argv)
{
    fprintf(stderr, "seqtick-bench: server: not built yet\n");
    return 1;
}
