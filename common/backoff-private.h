/* SPDX-License-Identifier: MIT */
/* backoff-private.h — the one restart backoff: exponential over consecutive
 * quick deaths, capped, with jitter. Pure; every program that restarts a
 * process (the supervisor, the producer's ingestor) asks it. */
#ifndef SEQTICK_BACKOFF_PRIVATE_H
#define SEQTICK_BACKOFF_PRIVATE_H

#include <stdint.h>

/* Restart delay in ms after `quick` consecutive quick deaths (quick >= 1;
 * 0 is taken as 1): min_ms * 2^(quick-1), capped at max_ms (a max_ms below
 * min_ms counts as min_ms), times a jitter factor 0.8 + 0.4*u (u in [0,1),
 * clamped into it; u = 0.5 is exactly the base delay, no jitter), and never
 * above max_ms. Returns 0 when min_ms <= 0. No overflow for any input. */
int64_t stk_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned quick, double u);

#endif
