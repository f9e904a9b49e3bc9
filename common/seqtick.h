/* SPDX-License-Identifier: MIT */
/* seqtick.h — the public reader API of libseqtick and the shared-memory
 * segment layout v1 (docs/layout.md describes the same bytes in prose). */
#ifndef SEQTICK_H
#define SEQTICK_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* One header for C11 and C++17. The shared fields are C11 `_Atomic` objects
 * in C and `std::atomic` in C++: on GCC and Clang both are the plain integer
 * in the same bytes (size, alignment and lock-freedom asserted below), read
 * with the same instructions, and the seqlock below keeps its memory orders
 * in both languages. STK_LOAD(ptr, order) / STK_FENCE(order) take an order by
 * its last word (relaxed, acquire, seq_cst) and expand to atomic_load_explicit
 * / atomic_thread_fence in C (token for token what this header always said)
 * and to their std:: twins in C++; callers may use them on header fields. */
#ifdef __cplusplus
#if __cplusplus < 201703L
#error "seqtick.h needs C++17 or later (std::atomic<T>::is_always_lock_free)"
#endif
#include <atomic>
#define STK_ATOMIC(T) std::atomic<T>
#define STK_LOAD(ptr, order) std::atomic_load_explicit(ptr, std::memory_order_##order)
#define STK_FENCE(order) std::atomic_thread_fence(std::memory_order_##order)
#define STK_STATIC_ASSERT(expr, msg) static_assert(expr, msg)
#define STK_ALIGNOF(T) alignof(T)
#else
#include <stdalign.h>
#include <stdatomic.h>
#define STK_ATOMIC(T) _Atomic(T)
#define STK_LOAD(ptr, order) atomic_load_explicit(ptr, memory_order_##order)
#define STK_FENCE(order) atomic_thread_fence(memory_order_##order)
#define STK_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)
#define STK_ALIGNOF(T) _Alignof(T)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define STK_API __attribute__((visibility("default")))
#else
#define STK_API
#endif

#include "seqtick-version.h" /* STK_VERSION "x.y.z", generated from meson's project() */

/* ---- layout constants (ABI 1) ------------------------------------------ */

#define STK_MAGIC "SEQTICK1" /* 8 bytes, no NUL stored */
#define STK_ABI_VERSION 1u
#define STK_HEADER_BYTES 4096u
#define STK_RECORD_BYTES 64u
#define STK_PRICE_DECIMALS 8u
#define STK_PRICE_SCALE 100000000LL /* 10^STK_PRICE_DECIMALS */
#define STK_NAME_MAX 31u            /* longest symbol name, bytes */
#define STK_CAPACITY_MAX (1u << 20) /* largest capacity a segment may have */
#define STK_HISTORY_MAX (1u << 20)  /* largest history a segment may have */

/* header.state */
#define STK_STATE_INIT 0u   /* created, no producer attached yet */
#define STK_STATE_LIVE 1u   /* a producer is attached */
#define STK_STATE_CLOSED 2u /* retired: replaced or shut down; re-open by name */

/* Header: 4096 bytes. The first cache line is navigation, written once before
 * the segment is published under its name; the others hold what changes, each
 * on its own line so the producer's stores do not invalidate readers' copies
 * of the navigation line. */
struct stk_header {
    /* line 0 (0..63): navigation */
    char magic[8];                   /* 0   "SEQTICK1" */
    uint32_t abi_version;            /* 8   = 1 */
    uint32_t header_bytes;           /* 12  = 4096 */
    uint32_t record_bytes;           /* 16  = 64 */
    uint32_t capacity;               /* 20  max symbols */
    uint32_t history;                /* 24  ticks per ring, power of two */
    uint32_t price_decimals;         /* 28  = 8 */
    uint64_t total_bytes;            /* 32  file size the regions need (page rounded) */
    uint64_t created_ns;             /* 40  CLOCK_REALTIME at creation */
    STK_ATOMIC(uint64_t) generation; /* 48 bumped when a segment replaces another */
    STK_ATOMIC(uint32_t) state;      /* 56 STK_STATE_* */
    STK_ATOMIC(uint32_t) nsymbols;   /* 60 symbol-table entries published (release) */

    /* line 1 (64..127): the batch counter readers poll */
    alignas(64) STK_ATOMIC(uint64_t) epoch; /* 64 odd while a batch is written */
    STK_ATOMIC(uint64_t) last_update_ns;    /* 72 CLOCK_REALTIME of the last batch */
    STK_ATOMIC(uint32_t) futex;             /* 80 +1 after every batch; FUTEX_WAIT here */
    uint32_t reserved1;                     /* 84 */

    /* line 2 (128..191): producer liveness */
    alignas(64) STK_ATOMIC(uint64_t) producer_heartbeat_ns; /* 128 CLOCK_REALTIME */
    STK_ATOMIC(uint32_t) producer_pid;                      /* 136 0 = none */
    STK_ATOMIC(uint32_t) producer_restarts;                 /* 140 attaches after the first */
    STK_ATOMIC(uint64_t) producer_start_ns;                 /* 144 CLOCK_REALTIME */

    /* line 3 (192..255): counters, monotonic, written by the producer */
    alignas(64) STK_ATOMIC(uint64_t) ticks_total; /* 192 ticks written */
    STK_ATOMIC(uint64_t) bad_input;               /* 200 rejected feed lines / rows */
    STK_ATOMIC(uint64_t) symbols_dropped;         /* 208 ticks for symbols beyond capacity */
    STK_ATOMIC(uint64_t) batches_total;           /* 216 epochs completed */
    STK_ATOMIC(uint64_t) repaired;                /* 224 records repaired at attach */

    char reserved[4096 - 232]; /* 232 zero; future fields go here */
};

/* Symbol-table entry, 64 bytes. Written once, then published by the release
 * store of header.nsymbols. */
struct stk_symbol {
    char name[32];  /* 0  NUL-padded, 1..31 printable ASCII, no spaces */
    uint32_t index; /* 32 its own position in the table */
    uint32_t flags; /* 36 reserved, 0 */
    char reserved[24];
};

/* A latest-quote record and a history-ring slot: one cache line. Every field
 * is an atomic of at most 8 bytes so the seqlock is data-race free in C11
 * and C++ (Boehm 2012, "Can seqlocks get along with programming language memory
 * models?", Fig. 6); on x86-64 the relaxed accesses compile to plain moves. */
struct stk_record {
    alignas(64) STK_ATOMIC(uint64_t) seq; /* 0  odd while written; only grows */
    STK_ATOMIC(int64_t) price;            /* 8  last trade × 10^8 */
    STK_ATOMIC(int64_t) bid;              /* 16 */
    STK_ATOMIC(int64_t) ask;              /* 24 */
    STK_ATOMIC(uint64_t) volume;          /* 32 cumulative, as the source reports it */
    STK_ATOMIC(uint64_t) src_ts_ns;       /* 40 source time, ns since the Unix epoch */
    STK_ATOMIC(uint64_t) pub_ts_ns;       /* 48 producer write time; 0 = never written */
    STK_ATOMIC(uint32_t) bid_size;        /* 56 */
    STK_ATOMIC(uint32_t) ask_size;        /* 60 */
};

/* Ring head: one cache line per symbol; `head` = ticks ever appended. */
struct stk_ring_head {
    alignas(64) STK_ATOMIC(uint64_t) head;
    char reserved[56];
};

/* Layout v1 checked by every compiler that includes this header, C or C++:
 * the atomics are the plain integers and lock-free (a lock-based one keeps
 * its lock in the process, so it is not atomic between processes), and every
 * offset is the one in docs/layout.md. */
#define STK_ASSERT_PLAIN_ATOMIC(T)                                                                 \
    STK_STATIC_ASSERT(sizeof(STK_ATOMIC(T)) == sizeof(T) &&                                        \
                          STK_ALIGNOF(STK_ATOMIC(T)) == sizeof(T),                                 \
                      "STK_ATOMIC(" #T ") is not a plain " #T)
STK_ASSERT_PLAIN_ATOMIC(uint64_t);
STK_ASSERT_PLAIN_ATOMIC(int64_t);
STK_ASSERT_PLAIN_ATOMIC(uint32_t);
#undef STK_ASSERT_PLAIN_ATOMIC
#ifdef __cplusplus
STK_STATIC_ASSERT(std::atomic<uint64_t>::is_always_lock_free, "u64 atomics must be lock-free");
STK_STATIC_ASSERT(std::atomic<int64_t>::is_always_lock_free, "i64 atomics must be lock-free");
STK_STATIC_ASSERT(std::atomic<uint32_t>::is_always_lock_free, "u32 atomics must be lock-free");
#else
STK_STATIC_ASSERT(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2 &&
                      ATOMIC_INT_LOCK_FREE == 2,
                  "64- and 32-bit atomics must be lock-free");
#endif
STK_STATIC_ASSERT(sizeof(struct stk_header) == STK_HEADER_BYTES, "header is 4096 bytes");
STK_STATIC_ASSERT(offsetof(struct stk_header, magic) == 0, "magic at 0");
STK_STATIC_ASSERT(offsetof(struct stk_header, abi_version) == 8, "abi_version at 8");
STK_STATIC_ASSERT(offsetof(struct stk_header, header_bytes) == 12, "header_bytes at 12");
STK_STATIC_ASSERT(offsetof(struct stk_header, record_bytes) == 16, "record_bytes at 16");
STK_STATIC_ASSERT(offsetof(struct stk_header, capacity) == 20, "capacity at 20");
STK_STATIC_ASSERT(offsetof(struct stk_header, history) == 24, "history at 24");
STK_STATIC_ASSERT(offsetof(struct stk_header, price_decimals) == 28, "price_decimals at 28");
STK_STATIC_ASSERT(offsetof(struct stk_header, total_bytes) == 32, "total_bytes at 32");
STK_STATIC_ASSERT(offsetof(struct stk_header, created_ns) == 40, "created_ns at 40");
STK_STATIC_ASSERT(offsetof(struct stk_header, generation) == 48, "generation at 48");
STK_STATIC_ASSERT(offsetof(struct stk_header, state) == 56, "state at 56");
STK_STATIC_ASSERT(offsetof(struct stk_header, nsymbols) == 60, "nsymbols at 60");
STK_STATIC_ASSERT(offsetof(struct stk_header, epoch) == 64, "epoch at 64");
STK_STATIC_ASSERT(offsetof(struct stk_header, last_update_ns) == 72, "last_update_ns at 72");
STK_STATIC_ASSERT(offsetof(struct stk_header, futex) == 80, "futex at 80");
STK_STATIC_ASSERT(offsetof(struct stk_header, producer_heartbeat_ns) == 128, "heartbeat at 128");
STK_STATIC_ASSERT(offsetof(struct stk_header, producer_pid) == 136, "producer_pid at 136");
STK_STATIC_ASSERT(offsetof(struct stk_header, producer_restarts) == 140, "restarts at 140");
STK_STATIC_ASSERT(offsetof(struct stk_header, producer_start_ns) == 144, "start at 144");
STK_STATIC_ASSERT(offsetof(struct stk_header, ticks_total) == 192, "ticks_total at 192");
STK_STATIC_ASSERT(offsetof(struct stk_header, bad_input) == 200, "bad_input at 200");
STK_STATIC_ASSERT(offsetof(struct stk_header, symbols_dropped) == 208, "dropped at 208");
STK_STATIC_ASSERT(offsetof(struct stk_header, batches_total) == 216, "batches at 216");
STK_STATIC_ASSERT(offsetof(struct stk_header, repaired) == 224, "repaired at 224");
STK_STATIC_ASSERT(sizeof(struct stk_symbol) == 64, "symbol entry is 64 bytes");
STK_STATIC_ASSERT(offsetof(struct stk_symbol, index) == 32, "symbol index at 32");
STK_STATIC_ASSERT(offsetof(struct stk_symbol, flags) == 36, "symbol flags at 36");
STK_STATIC_ASSERT(sizeof(struct stk_record) == STK_RECORD_BYTES, "record is one cache line");
STK_STATIC_ASSERT(STK_ALIGNOF(struct stk_record) == 64, "record is cache-line aligned");
STK_STATIC_ASSERT(offsetof(struct stk_record, seq) == 0, "seq at 0");
STK_STATIC_ASSERT(offsetof(struct stk_record, price) == 8, "price at 8");
STK_STATIC_ASSERT(offsetof(struct stk_record, bid) == 16, "bid at 16");
STK_STATIC_ASSERT(offsetof(struct stk_record, ask) == 24, "ask at 24");
STK_STATIC_ASSERT(offsetof(struct stk_record, volume) == 32, "volume at 32");
STK_STATIC_ASSERT(offsetof(struct stk_record, src_ts_ns) == 40, "src_ts_ns at 40");
STK_STATIC_ASSERT(offsetof(struct stk_record, pub_ts_ns) == 48, "pub_ts_ns at 48");
STK_STATIC_ASSERT(offsetof(struct stk_record, bid_size) == 56, "bid_size at 56");
STK_STATIC_ASSERT(offsetof(struct stk_record, ask_size) == 60, "ask_size at 60");
STK_STATIC_ASSERT(sizeof(struct stk_ring_head) == 64, "ring head is one cache line");
STK_STATIC_ASSERT(offsetof(struct stk_ring_head, head) == 0, "ring head at 0");

/* A plain copy of a record, as readers get it. */
struct stk_quote {
    uint64_t seq; /* record: the seqlock value read; ring: the tick number k */
    int64_t price, bid, ask;
    uint64_t volume;
    uint64_t src_ts_ns;
    uint64_t pub_ts_ns;
    uint32_t bid_size, ask_size;
};

/* Region offsets of layout v1, for a segment of `capacity` and `history`. */
#define STK_OFF_SYMBOLS ((uint64_t)STK_HEADER_BYTES)
#define STK_OFF_RECORDS(cap) (STK_OFF_SYMBOLS + (uint64_t)(cap)*64u)
#define STK_OFF_HEADS(cap) (STK_OFF_SYMBOLS + 2u * (uint64_t)(cap)*64u)
#define STK_OFF_SLOTS(cap) (STK_OFF_SYMBOLS + 3u * (uint64_t)(cap)*64u)
#define STK_REGIONS_BYTES(cap, hist) (STK_OFF_SLOTS(cap) + (uint64_t)(cap) * (uint64_t)(hist)*64u)

/* How many times a reader retries a record the writer keeps odd before it
 * gives up with -EBUSY (a writer that died mid-write never finishes). */
#define STK_READ_TRIES 4096

/* ---- the seqlock read, inline for the hot path -------------------------- */

static inline void stk_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The eight data fields of a record, each one relaxed load: the body of a
 * seqlock read, between the two loads of seq (no ordering of its own). */
static inline void stk_record_fields(const struct stk_record *r, struct stk_quote *q)
{
    q->price = STK_LOAD(&r->price, relaxed);
    q->bid = STK_LOAD(&r->bid, relaxed);
    q->ask = STK_LOAD(&r->ask, relaxed);
    q->volume = STK_LOAD(&r->volume, relaxed);
    q->src_ts_ns = STK_LOAD(&r->src_ts_ns, relaxed);
    q->pub_ts_ns = STK_LOAD(&r->pub_ts_ns, relaxed);
    q->bid_size = STK_LOAD(&r->bid_size, relaxed);
    q->ask_size = STK_LOAD(&r->ask_size, relaxed);
}

/* Copy one record under its seqlock. Returns 0 with *q filled, -ENODATA
 * if the record was never written (q is filled; pub_ts_ns == 0), or -EBUSY
 * if the writer kept it odd for STK_READ_TRIES attempts. The acquire load
 * of seq pairs with the writer's release store of the even seq; the acquire
 * fence pairs with the writer's release fence after the odd store, so a copy
 * that saw any field of a newer write also sees the newer seq and is retried. */
static inline int stk_record_load(const struct stk_record *r, struct stk_quote *q)
{
    for (int tries = 0; tries < STK_READ_TRIES; tries++) {
        uint64_t s0 = STK_LOAD(&r->seq, acquire);
        if (s0 & 1) {
            stk_cpu_relax();
            continue;
        }
        stk_record_fields(r, q);
        STK_FENCE(acquire);
        uint64_t s1 = STK_LOAD(&r->seq, relaxed);
        if (s0 == s1) {
            q->seq = s0;
            return q->pub_ts_ns ? 0 : -ENODATA;
        }
    }
    return -EBUSY;
}

/* ---- segment handle (read-only) ----------------------------------------- */

struct stk_seg; /* opaque; one per thread for stk_seg_lookup() */

/* Open the segment `name` ("/seqtick") read-only: O_RDONLY, PROT_READ. The
 * header is validated from the file before anything is mapped. Returns 0 and
 * *ret_seg, or: -ENOENT no such segment; -EACCES; -EBADMSG bad magic;
 * -EPROTONOSUPPORT other ABI; -EPROTO header/record size or decimals differ;
 * -EUCLEAN impossible geometry (history not a power of two, sizes too large);
 * -EIO file shorter than its header says; -EINVAL bad name; -ENOMEM;
 * -ENODEV the name is not a regular file (a FIFO, a device); -EPERM the file
 * is not owned by our effective uid (stk_seg_open_opts() names another). */
STK_API int stk_seg_open(const char *name, struct stk_seg **ret_seg);

/* What stk_seg_open_opts() checks besides the layout. Zero-initialise it:
 * all zero means the defaults of stk_seg_open(). */
struct stk_seg_open_opts {
    uint32_t flags;     /* STK_OPEN_* */
    uint32_t owner_uid; /* with STK_OPEN_OWNER: the uid that must own the file */
};
#define STK_OPEN_OWNER 0x1u /* owner_uid is the expected owner (default: our euid) */

/* stk_seg_open() with options (opts may be NULL). The name is opened with
 * O_NONBLOCK|O_NOFOLLOW, so a FIFO or device there never blocks, and
 * refused unless it is a regular file owned by the expected uid (another
 * local user cannot squat the name with a fake segment). Returns what
 * stk_seg_open() returns, plus -ENODEV not a regular file, -EPERM owned by
 * another uid. */
STK_API int stk_seg_open_opts(const char *name, const struct stk_seg_open_opts *opts,
                              struct stk_seg **ret_seg);

/* Unmap and free; NULL is a no-op. */
STK_API void stk_seg_close(struct stk_seg *seg);

/* The one rule for whether a mapped segment may be served, used by every
 * reader (server, CLI, Python): returns 0 if its state is init or live;
 * -ESTALE closed (retired: re-open by name); -EUCLEAN garbage (a state other
 * than 0, 1, 2, or a generation that changed under the mapping: it is
 * written once, before the segment is published); -EFAULT the file shrank
 * under the mapping (see stk_sigbus_guard()). On any non-zero result a
 * reader answers "unavailable" and re-opens by name. One load per field; no
 * system call. */
STK_API int stk_seg_usable(const struct stk_seg *seg);

/* Make reads of a segment survive the file being truncated under them
 * (another process shrank it: any access past the new end raises SIGBUS).
 * Installs a process-wide SIGBUS handler once (later calls are no-ops):
 * a fault inside a segment this library mapped read-only replaces that
 * mapping with zero pages, marks the handle lost (stk_seg_usable() says
 * -EFAULT, stk_seg_replaced() says 1), and the read resumes and sees zeros;
 * any other SIGBUS goes to the handler that was installed before (or kills
 * the process, as without this call). Covers every read of the mapping,
 * also the inline stk_record_load() and a Python memoryview. Call it before
 * reading, from the main thread; closing a handle while another thread
 * reads it stays undefined. Returns 0 or -errno. */
STK_API int stk_sigbus_guard(void);

/* The mapped header (read-only), for the figures in it. */
STK_API const struct stk_header *stk_seg_header(const struct stk_seg *seg);

/* The name the segment was opened by. */
STK_API const char *stk_seg_name(const struct stk_seg *seg);

/* Number of published symbols (acquire load of header.nsymbols). */
STK_API uint32_t stk_seg_nsymbols(const struct stk_seg *seg);

/* Name of symbol `index`: NUL-terminated, 1..31 bytes of printable ASCII
 * without spaces (the symbol grammar), or NULL if index >= nsymbols or the
 * entry is not a valid name (a scribbled table, an entry counted but never
 * written): skip it. Points into a copy the handle keeps, taken once and
 * validated, so the writer cannot change it afterwards: valid while the
 * segment is open. Like stk_seg_lookup(), not safe on one handle from two
 * threads. */
STK_API const char *stk_seg_symbol(const struct stk_seg *seg, uint32_t index);

/* 0 if name[0..len) is a valid symbol (1..31 bytes of 0x21..0x7e), else
 * -EINVAL: the grammar every writer and reader applies. */
STK_API int stk_symbol_check(const char *name, size_t len);

/* Index of symbol `name`, or -ENOENT. O(1): a handle-local hash refreshed when
 * nsymbols grows (so not safe to call on one handle from two threads). */
STK_API int stk_seg_lookup(struct stk_seg *seg, const char *name);

/* Which latest records changed since the caller last looked, for a reader
 * that follows many symbols: for each index i < min(n, nsymbols) whose seq
 * (acquire load) is even and differs from seen[i], sets seen[i] to it and
 * appends i to changed[]. Returns how many it appended. One load per record
 * and no copy; read the changed ones with stk_quote_read(). A record being
 * written (odd seq) shows up on a later call. Start with seen[] zeroed. */
STK_API uint32_t stk_seg_changed(const struct stk_seg *seg, uint64_t *seen, uint32_t n,
                                 uint32_t *changed);

/* Pointer to the latest record of `index` (< capacity) for stk_record_load(). */
STK_API const struct stk_record *stk_seg_record(const struct stk_seg *seg, uint32_t index);

/* Latest quote of `index`. Returns 0, -ENODATA never written, -EBUSY writer
 * stuck mid-write, -ERANGE index >= nsymbols. Where stk_record_load() gives
 * up after its spins, this one also yields, then sleeps, for up to 20 ms in
 * all, so a writer that was only preempted mid-write finishes; -EBUSY then
 * means it died (the next producer repairs the record). */
STK_API int stk_quote_read(const struct stk_seg *seg, uint32_t index, struct stk_quote *q);

/* stk_quote_read() without the patient wait: one bounded seqlock read (the
 * spins of stk_record_load()), for an event loop that must never wait.
 * -EBUSY at once for a record left mid-write; -EFAULT the segment is lost. */
STK_API int stk_quote_try(const struct stk_seg *seg, uint32_t index, struct stk_quote *q);

/* Ticks ever appended to `index`'s ring (acquire load of its head). In C++
 * this function hides the type's plain name, as stat() hides struct stat:
 * C++ code writes `struct stk_ring_head` for the type (g++ -Wshadow says so
 * once per file unless told, hence the pragma). */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#endif
STK_API uint64_t stk_ring_head(const struct stk_seg *seg, uint32_t index);
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* Tick number k of `index` (q->seq = k). Returns 0; -EAGAIN not written yet
 * (k >= head); -ESTALE lapped: the slot already holds a newer tick, resume at
 * stk_ring_head() - history; -EBUSY writer stuck (after the same 20 ms of
 * patience as stk_quote_read()); -ERANGE bad index. */
STK_API int stk_tick_read(const struct stk_seg *seg, uint32_t index, uint64_t k,
                          struct stk_quote *q);

/* stk_tick_read() without the patient wait, for an event loop that must
 * never wait: one bounded read of the slot (the spins of stk_record_load()).
 * Same results, but -EBUSY at once for a slot mid-write (being written now,
 * or left so by a dead writer), and -EFAULT when the segment is lost. */
STK_API int stk_tick_try(const struct stk_seg *seg, uint32_t index, uint64_t k,
                         struct stk_quote *q);

/* The last up-to-n ticks of `index`, oldest first, newest last, into out[].
 * Every tick returned was verified whole (slot seq == 2k+2 before and after
 * the copy) and they are in tick order; a slot left mid-write (odd seq) is
 * skipped, not waited for, and the older ticks behind it are returned. A
 * ring head that cannot be true (beyond what the slots hold, 2^62, 2^64-1)
 * is not trusted: the newest tick is then found from the slots themselves.
 * Never waits; looks at no more than `history` slots (plus one scan of the
 * ring for a garbage head). Returns the count (0..min(n, history)) or
 * -ERANGE. */
STK_API int stk_history_read(const struct stk_seg *seg, uint32_t index, struct stk_quote *out,
                             size_t n);

/* Current epoch (acquire): even when no batch is in progress. */
STK_API uint64_t stk_seg_epoch(const struct stk_seg *seg);

/* Sleep until the epoch differs from `seen` or timeout_ms passes (< 0:
 * forever), on a futex in the shared header: no busy wait. Returns 0 when it
 * changed (and is even), -ETIMEDOUT, -ESTALE if the segment was closed (re-open
 * it by name), or -EINTR if a signal interrupted the wait. Only completed
 * batches (stk_batch_end on the writer side) wake waiters. */
STK_API int stk_seg_wait(const struct stk_seg *seg, uint64_t seen, int timeout_ms);

/* 1 if this mapping is retired: stk_seg_usable() is not 0 (closed, garbage
 * state, lost to a truncation), or the name now names another file or none
 * (the caller should stk_seg_open() again); else 0. One stat(2). */
STK_API int stk_seg_replaced(const struct stk_seg *seg);

/* Nanoseconds since the producer's last heartbeat (CLOCK_REALTIME), or
 * UINT64_MAX if it never beat. */
STK_API uint64_t stk_seg_heartbeat_age_ns(const struct stk_seg *seg);

/* ---- freshness: one rule for every reader ------------------------------- */

#define STK_FRESHNESS_MS_DEFAULT 5000u /* server.freshness_ms */
#define STK_HEARTBEAT_MS_DEFAULT 100u  /* producer.heartbeat_ms */
#define STK_ALIVE_BEATS 3u             /* heartbeats missed before "not alive" */

/* 1 if the producer is alive: the segment is usable (stk_seg_usable()), its
 * state is live, and its last heartbeat is at most STK_ALIVE_BEATS ×
 * heartbeat_ms old at now_ns (CLOCK_REALTIME; 0 = read the clock); else 0.
 * *ret_age_ns (may be NULL) gets the heartbeat age, UINT64_MAX if none. */
STK_API int stk_seg_alive(const struct stk_seg *seg, uint64_t now_ns, uint64_t heartbeat_ms,
                          uint64_t *ret_age_ns);

/* 1 if quote q of this segment is stale: older than freshness_ms (now_ns -
 * q->pub_ts_ns; now_ns 0 = read the clock), or its producer not alive
 * (stk_seg_alive() with heartbeat_ms); else 0. The server's "stale", the
 * CLI's and the Python client's are this call. */
STK_API int stk_quote_stale(const struct stk_seg *seg, const struct stk_quote *q, uint64_t now_ns,
                            uint64_t freshness_ms, uint64_t heartbeat_ms);

/* ---- exact fixed-point decimals (value × 10^8) -------------------------- */

/* Parse s[0..len) as a JSON-number-shaped decimal ("-189.25", "1e2",
 * "0.00000001") into *ret exactly. Returns 0; -EINVAL not a number (junk,
 * empty, "+1", ".5", "01"); -ERANGE more than 8 significant decimals or out
 * of int64 range. *ret untouched on error. */
STK_API int stk_decimal_parse(const char *s, size_t len, int64_t *ret);

/* Write v as the shortest exact decimal ("189.25", "-0.5", "3") into buf,
 * NUL-terminated. Returns its length, or -ENOBUFS if size is too small
 * (STK_DECIMAL_MAX bytes always suffice). */
#define STK_DECIMAL_MAX 32
STK_API int stk_decimal_format(int64_t v, char *buf, size_t size);

/* Human text for an error this library returns (negative errno), with the
 * seqtick meaning where one applies ("bad magic: not a seqtick segment"). */
STK_API const char *stk_strerror(int err);

/* Library version string, STK_VERSION of the build. */
STK_API const char *stk_version(void);

#ifdef __cplusplus
}
#endif
#endif /* SEQTICK_H */
