/* SPDX-License-Identifier: MIT */
/* ptest.h — the producer unit tests' shared bits: tests/lib/testutil.h with
 * their own shm prefix, and the producer's API. */
#ifndef SEQTICK_PTEST_H
#define SEQTICK_PTEST_H

#define TEST_SHM_PREFIX "/stk-p-"
#include "testutil.h"

#include "producer.h"

#endif
