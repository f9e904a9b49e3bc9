/* SPDX-License-Identifier: MIT */
/* bench_producer.c — seqtick-bench producer (placeholder until its issue lands). */
#include <stdio.h>

#include "bench.h"

int stk_bench_producer(int argc, char **argv)
{
    fprintf(stderr, "seqtick-bench: producer: not built yet\n");
    return 1;
}
