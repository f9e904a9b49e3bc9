/* SPDX-License-Identifier: MIT */
/* cxx_writer.h — the writer side for test_cxx.cpp. segment-private.h is C
 * only (it stores into the records with C11 atomics), so the C++ test drives
 * a real writer through these few C functions (cxx_writer.c). */
#ifndef SEQTICK_TEST_CXX_WRITER_H
#define SEQTICK_TEST_CXX_WRITER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct stk_seg;
struct stk_quote;

/* Create a segment under a fresh test name ("/stk-u-<tag>-<pid>-<n>") and
 * attach to it as its writer. Returns the writer, *ret_name set (static
 * storage), or NULL with *ret_err = the negative errno. */
struct stk_seg *cxxw_create(const char *tag, uint32_t capacity, uint32_t history,
                            const char **ret_name, int *ret_err);

/* stk_sym_add(): the symbol's index or a negative errno. */
int cxxw_add(struct stk_seg *w, const char *symbol);

/* One batch with one tick of `index`: latest record, ring slot, epoch,
 * futex wake-up. */
void cxxw_publish(struct stk_seg *w, uint32_t index, const struct stk_quote *q);

/* Store `seq` into the latest record of `index` (release), as a writer that
 * stopped mid-write leaves it when seq is odd. */
void cxxw_set_seq(struct stk_seg *w, uint32_t index, uint64_t seq);

/* Close the writer and remove the segment's name. */
void cxxw_destroy(struct stk_seg *w, const char *name);

#ifdef __cplusplus
}
#endif
#endif
