/* SPDX-License-Identifier: MIT */
/* bench_restart.c — seqtick-bench restart (placeholder until its issue lands). */
#include <stdio.h>

#include "bench.h"

int stk_bench_restart(int argc, char **argv)
{
    fprintf(stderr, "seqtick-bench: restart: not built yet\n");
    return 1;
}
