/* SPDX-License-Identifier: MIT */
/* bench_shm.c — seqtick-bench shm (placeholder until its issue lands). */
#include <stdio.h>

#include "bench.h"

int stk_bench_shm(int argc, char **argv)
{
    fprintf(stderr, "seqtick-bench: shm: not built yet\n");
    return 1;
}
