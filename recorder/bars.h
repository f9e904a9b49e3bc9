/* SPDX-License-Identifier: MIT */
/* bars.h — the recorder's pure parts: recorder.bars and recorder.retention
 * parsing, and the OHLC bar accumulator (no I/O, unit-tested). */
#ifndef SEQTICK_RECORDER_BARS_H
#define SEQTICK_RECORDER_BARS_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STK_REC_MAX_INTERVALS 16

/* A duration: "0" (0), or a positive integer followed by s, m, h or d
 * ("90s", "1m", "12h", "7d"). Sets *ret_s to seconds. Returns 0 or -EINVAL
 * (empty, junk, a unit missing, zero with a unit, over 100 years). */
int stk_rec_duration_parse(const char *s, uint64_t *ret_s);

/* recorder.bars: intervals separated by spaces or commas, each a duration
 * other than 0, at most STK_REC_MAX_INTERVALS, no repeats. Empty = none.
 * Fills secs[] and *n. Returns 0 or -EINVAL. */
int stk_rec_bars_parse(const char *s, uint32_t secs[STK_REC_MAX_INTERVALS], unsigned *n);

/* recorder.retention: "ticks=DUR bars=DUR" (either may be left out: keep),
 * separated by spaces or commas. Sets both (seconds, 0 = keep). Returns 0
 * or -EINVAL (an unknown name, a repeat, a bad duration). */
int stk_rec_retention_parse(const char *s, uint64_t *ticks_s, uint64_t *bars_s);

/* One open bar of one interval of one symbol. Zero-initialised: no bar. */
struct stk_bar_acc {
    struct stk_rec_bar b;
    bool open;  /* b holds a bar */
    bool dirty; /* changed since it was last written */
};

/* Add a tick (source time, trade price, volume change since the previous
 * tick) to the accumulator of `interval_s` for `symbol_id`. A tick in a
 * later bar closes the open one: it is copied to *closed and 1 returned
 * (the caller writes it); else 0. A tick dated before the open bar (a
 * clock that went back) is merged into the open bar. */
int stk_bar_add(struct stk_bar_acc *acc, int64_t symbol_id, uint32_t interval_s, uint64_t ts_ns,
                int64_t price, uint64_t dvol, struct stk_rec_bar *closed);

/* The volume a tick adds to its bar: cur - prev; 0 for the first tick of a
 * sequence (have_prev false); cur itself when the cumulative volume went
 * down (the source reset it). */
uint64_t stk_bar_dvol(bool have_prev, uint64_t prev, uint64_t cur);

#endif
