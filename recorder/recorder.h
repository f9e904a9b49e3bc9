/* SPDX-License-Identifier: MIT */
/* recorder.h — seqtick-recorder's logic: follow every ring of the segment,
 * store each tick once, build OHLC bars, record gaps, apply retention. */
#ifndef SEQTICK_RECORDER_H
#define SEQTICK_RECORDER_H

#include "config-private.h"
#include "store.h"

struct stk_recorder;

/* Find the backend for a recorder.store value ("sqlite:PATH", ...): sets
 * *ops and *arg (the text after the colon). Returns 0, -ENOENT for "off",
 * -EINVAL for an unknown scheme or an empty argument, -ENOTSUP for a
 * backend this build left out. */
int stk_recorder_store_find(const char *spec, const struct stk_store_ops **ops, const char **arg);

/* Check cfg's [recorder] values and make a recorder. Returns 0, -EINVAL
 * (a bad value, logged), -ENOMEM. */
int stk_recorder_new(const struct stk_config *cfg, struct stk_recorder **ret);

/* Run until SIGTERM or SIGINT: open the store (retrying with backoff),
 * signal readiness, then follow the segment. Returns 0 after a clean stop
 * (the last batch committed when the store allows), or -errno. */
int stk_recorder_run(struct stk_recorder *rec);

/* Free; NULL is a no-op. */
void stk_recorder_free(struct stk_recorder *rec);

#endif
