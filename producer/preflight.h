/* SPDX-License-Identifier: MIT */
/* preflight.h — what seqtick-producer refuses at start, as calls that the
 * supervisor makes too before it starts anything (its pre-flight), so both
 * refuse the same files with the same FILE:LINE: key: why. */
#ifndef SEQTICK_PRODUCER_PREFLIGHT_H
#define SEQTICK_PRODUCER_PREFLIGHT_H

#include "config-private.h"

struct stk_sim;

/* Build the sim feed's model from c (producer.symbols, drift, volatility,
 * correlation, rate, seed). Returns 0 and *ret; -EINVAL with "FILE:LINE:
 * key: why" in err when c cannot be run (more symbols than shm.capacity,
 * pair exceptions over too many symbols, a correlation matrix that is not
 * positive definite, bad numbers); -ENOMEM with err set too. */
int stk_producer_sim_new(const struct stk_config *c, struct stk_sim **ret,
                         char err[STK_CONF_ERR_MAX]);

/* Everything the producer checks at start that needs no segment: the sim
 * model is built (and freed), a csv:PATH replay is opened (and closed).
 * Returns 0; -EINVAL with "FILE:LINE: key: why" in err for a configuration
 * the producer refuses (it exits 100 on it); another -errno with err set for
 * a failure that may pass (a file it may not read now). */
int stk_producer_check(const struct stk_config *c, char err[STK_CONF_ERR_MAX]);

#endif
