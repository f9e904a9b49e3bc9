/* SPDX-License-Identifier: MIT */
/* bridge.h — seqtick-bridge: every tick of the segment's rings, in order,
 * published to NATS (SUBJECT.SYMBOL), with a heartbeat on SUBJECT._hb. */
#ifndef SEQTICK_BRIDGE_H
#define SEQTICK_BRIDGE_H

#include "config-private.h"

struct stk_bridge;

/* A bridge for cfg (kept, not copied: it must outlive the bridge). Returns
 * 0; -EINVAL bad [bridge] settings (logged); -ENOMEM; -errno. */
int stk_bridge_new(const struct stk_config *cfg, struct stk_bridge **ret);

/* Run until SIGTERM or SIGINT. Returns 0, or -errno on a system failure. */
int stk_bridge_run(struct stk_bridge *b);

/* Free it (NULL: nothing). */
void stk_bridge_free(struct stk_bridge *b);

#endif /* SEQTICK_BRIDGE_H */
