/* SPDX-License-Identifier: MIT */
/* backoff.c — the restart delay after consecutive quick deaths (see
 * backoff-private.h). */
#include "backoff-private.h"

int64_t stk_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned quick, double u)
{
    if (min_ms <= 0)
        return 0;
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t base = min_ms;
    for (unsigned i = 1; i < quick && base < max_ms; i++)
        base = base > max_ms / 2 ? max_ms : base * 2;
    if (base > max_ms)
        base = max_ms;
    if (!(u >= 0)) /* negative or NaN */
        u = 0;
    if (u >= 1)
        u = 0.999999;
    /* compared in double first: the cast of a value past INT64_MAX is undefined */
    double d = (double)base * (0.8 + 0.4 * u) + 0.5;
    return d >= (double)max_ms ? max_ms : (int64_t)d;
}
