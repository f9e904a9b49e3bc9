/* SPDX-License-Identifier: MIT */
/* sigbus-private.h — the registry of read-only segment mappings that the
 * SIGBUS guard (stk_sigbus_guard() in seqtick.h) may replace with zeros. */
#ifndef SEQTICK_SIGBUS_PRIVATE_H
#define SEQTICK_SIGBUS_PRIVATE_H

#include <stdatomic.h>
#include <stddef.h>

/* Register [base, base+len) (a read-only MAP_SHARED segment mapping): a
 * SIGBUS inside it, once the guard is installed, replaces the whole range
 * with anonymous zero pages and sets *lost to 1. Returns 0, or -ENOSPC when
 * the registry is full (the mapping then stays unguarded). */
int stk_guard_register(void *base, size_t len, _Atomic int *lost);

/* Forget base (before it is unmapped). A no-op for an unknown base. */
void stk_guard_unregister(void *base);

#endif
