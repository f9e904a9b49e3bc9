/* SPDX-License-Identifier: MIT */
/* segment-private.h — the writer side of the segment (create, attach, repair,
 * seqlocked stores, rings, epoch), for seqtick-producer and the supervisor.
 * Not exported from libseqtick.so; programs link the static library. */
#ifndef SEQTICK_SEGMENT_PRIVATE_H
#define SEQTICK_SEGMENT_PRIVATE_H

#include <stdbool.h>
#include <sys/types.h>

#include "seqtick.h"

struct stk_seg_params {
    const char *name;  /* "/seqtick" */
    uint32_t capacity; /* 1..STK_CAPACITY_MAX */
    uint32_t history;  /* power of two, 1..STK_HISTORY_MAX */
    mode_t mode;       /* never o+w: refused with -EPERM */
    bool own;          /* the supervisor: take the ownership lock (see
                        * stk_seg_create_or_open) before changing anything */
};

/* what stk_seg_create_or_open() did */
enum stk_seg_how {
    STK_SEG_CREATED = 1,  /* no segment was there: made a new one */
    STK_SEG_REOPENED = 2, /* a compatible one was there: warm restart */
    STK_SEG_REPLACED = 3, /* an incompatible one was retired (state closed) and a
                           * new one renamed over it with generation + 1 */
};

/* Ticks each ring holds, as checked when seg was opened (the header's copy
 * is the writer's to change; readers size and judge by this one). */
uint32_t stk_seg_history(const struct stk_seg *seg);

/* Bytes a segment of this geometry occupies (page rounded), or 0 if the
 * geometry is invalid. */
uint64_t stk_seg_size(uint32_t capacity, uint32_t history);

/* 0 if `name` is a valid POSIX shm name for us: "/" then 1..200 bytes of
 * [A-Za-z0-9._-], not "." or ".."; else -EINVAL. */
int stk_shm_name_check(const char *name);

/* Make sure a segment of this geometry exists under p->name, mapped
 * read-write. A new one is built under a temporary name (O_CREAT|O_EXCL,
 * fchmod p->mode, posix_fallocate, header, state INIT) and published with
 * link() (fresh) or rename() (replacing), so no reader ever sees a half-built
 * header. Only a file with our magic at offset 0 is ever re-opened or
 * replaced (an incompatible one: temp + rename, the old header closed); any
 * other file at the name — not regular, under 8 bytes (0 included: we never
 * publish an unfinished file), another magic — is left untouched: -EBADMSG.
 * With p->own the caller also takes the supervisor's ownership lock, an OFD
 * write lock on byte 0 of the file (held until stk_seg_close(); never in
 * conflict with the producer's flock), before it changes anything: a fresh
 * or replacing file is locked before it is published, and an existing one
 * whose lock another holds is left alone with -EBUSY. Returns 0 with
 * *ret_seg and *ret_how, or -errno: -EBADMSG not a seqtick segment, -EBUSY
 * owned by another supervisor, -ENOSPC when /dev/shm cannot hold it, -EPERM
 * for a world-writable mode, -EINVAL bad params, or the open errors of
 * open(2) (-ELOOP a symlink, -EISDIR a folder, -EACCES). */
int stk_seg_create_or_open(const struct stk_seg_params *p, struct stk_seg **ret_seg,
                           enum stk_seg_how *ret_how);

/* The producer's attach: stk_seg_create_or_open(), then an exclusive
 * non-blocking flock held until stk_seg_close() (-EALREADY: another writer
 * is attached), then stk_seg_repair(), then producer_pid / start / restarts
 * set and state LIVE. Returns 0 or -errno. */
int stk_seg_attach_writer(const struct stk_seg_params *p, struct stk_seg **ret_seg,
                          enum stk_seg_how *ret_how);

/* Repair what a killed writer left: every latest record with an odd seq is
 * rewritten from its symbol's last complete ring slot (or cleared to "never
 * written"), and only then made even (seq = odd + 1), so no half-written
 * record is ever blessed. An odd epoch is closed the same way. Needs the
 * flock. Returns the number of records repaired. */
int stk_seg_repair(struct stk_seg *seg);

/* Mutable header for the writer (NULL for a read-only handle). */
struct stk_header *stk_seg_header_rw(struct stk_seg *seg);

/* The writer's record / ring for index (< capacity), unchecked. */
struct stk_record *stk_seg_record_rw(struct stk_seg *seg, uint32_t index);

/* Index of `name`, appending it if new. Returns index, -ENOSPC table full,
 * -EINVAL name not 1..31 printable non-space ASCII. The entry is written and
 * then published by a release store of nsymbols. */
int stk_sym_add(struct stk_seg *seg, const char *name);

/* 0 if name is a valid symbol (1..31 bytes of 0x21..0x7e), else -EINVAL. */
int stk_sym_check(const char *name, size_t len);

/* The eight data fields, each one relaxed store: the body of a seqlock
 * write, between the odd and the even store of seq. */
static inline void stk_record_set_fields(struct stk_record *r, const struct stk_quote *q)
{
    atomic_store_explicit(&r->price, q->price, memory_order_relaxed);
    atomic_store_explicit(&r->bid, q->bid, memory_order_relaxed);
    atomic_store_explicit(&r->ask, q->ask, memory_order_relaxed);
    atomic_store_explicit(&r->volume, q->volume, memory_order_relaxed);
    atomic_store_explicit(&r->src_ts_ns, q->src_ts_ns, memory_order_relaxed);
    atomic_store_explicit(&r->pub_ts_ns, q->pub_ts_ns, memory_order_relaxed);
    atomic_store_explicit(&r->bid_size, q->bid_size, memory_order_relaxed);
    atomic_store_explicit(&r->ask_size, q->ask_size, memory_order_relaxed);
}

/* Seqlock write of a latest record: seq+1 (relaxed), release fence, fields
 * (relaxed), seq+2 (release). The release fence pairs with the reader's
 * acquire fence; the final release store pairs with its acquire load of seq. */
static inline void stk_record_store(struct stk_record *r, const struct stk_quote *q)
{
    uint64_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);
    atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    stk_record_set_fields(r, q);
    atomic_store_explicit(&r->seq, s + 2, memory_order_release);
}

/* Write q as the latest record of `index` (seqlock). */
void stk_quote_write(struct stk_seg *seg, uint32_t index, const struct stk_quote *q);

/* Append q as the next tick of `index`'s ring: slot seq 2k+1, release fence,
 * fields, slot seq 2k+2 (release), then head = k+1 (release). */
void stk_ring_append(struct stk_seg *seg, uint32_t index, const struct stk_quote *q);

/* One tick: stk_quote_write() + stk_ring_append() + ticks_total++. */
void stk_tick_publish(struct stk_seg *seg, uint32_t index, const struct stk_quote *q);

/* Batch brackets: epoch becomes odd, then even again (release) with
 * last_update_ns = now_ns; the end bumps the futex word and wakes waiters. */
void stk_batch_begin(struct stk_seg *seg);
void stk_batch_end(struct stk_seg *seg, uint64_t now_ns);

/* Producer heartbeat (release store of now_ns). */
void stk_seg_heartbeat(struct stk_seg *seg, uint64_t now_ns);

/* Set header.state (release); STK_STATE_CLOSED also wakes waiters. */
void stk_seg_set_state(struct stk_seg *seg, uint32_t state);

/* The pid of the process holding the ownership lock of segment `name`
 * (found through /proc/PID/fdinfo, so only processes we may inspect), or
 * -ESRCH none found, -ENOENT no such segment, -errno. */
int stk_seg_owner(const char *name);

/* Remove the segment's name (shm_unlink). Returns 0, -ENOENT, -errno. */
int stk_seg_unlink(const char *name);

/* CLOCK_REALTIME and CLOCK_MONOTONIC in ns. */
uint64_t stk_now_ns(void);
uint64_t stk_mono_ns(void);

#endif
