/* SPDX-License-Identifier: MIT */
/* cxx_writer.c — the C writer API (segment-private.h) behind the few calls
 * test_cxx.cpp makes, so a C++ reader is tested against the real writer. */
#include "cxx_writer.h"

#include "testutil.h"

struct stk_seg *cxxw_create(const char *tag, uint32_t capacity, uint32_t history,
                            const char **ret_name, int *ret_err)
{
    const char *name = test_shm_name(tag);
    struct stk_seg_params p = {
        .name = name, .capacity = capacity, .history = history, .mode = 0640};
    struct stk_seg *w;
    int r = stk_seg_attach_writer(&p, &w, NULL);
    if (r < 0) {
        *ret_err = r;
        return NULL;
    }
    *ret_name = name;
    return w;
}

int cxxw_add(struct stk_seg *w, const char *symbol)
{
    return stk_sym_add(w, symbol);
}

void cxxw_publish(struct stk_seg *w, uint32_t index, const struct stk_quote *q)
{
    stk_batch_begin(w);
    stk_tick_publish(w, index, q);
    stk_batch_end(w, q->pub_ts_ns);
}

void cxxw_set_seq(struct stk_seg *w, uint32_t index, uint64_t seq)
{
    atomic_store_explicit(&stk_seg_record_rw(w, index)->seq, seq, memory_order_release);
}

void cxxw_destroy(struct stk_seg *w, const char *name)
{
    stk_seg_close(w);
    (void)stk_seg_unlink(name);
}
