/* SPDX-License-Identifier: MIT */
/* bench_producer_off.c — seqtick-bench producer in a build without the
 * producer (-Dproducer=false): says so instead of failing to link. */
#include <stdio.h>

#include "bench.h"

int stk_bench_producer(int argc, char **argv)
{
    fprintf(stderr, "seqtick-bench: producer: this build has no producer (-Dproducer=false)\n");
    return 100;
}
