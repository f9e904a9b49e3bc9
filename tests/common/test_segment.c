/* SPDX-License-Identifier: MIT */
/* test_segment.c — layout v1 on a real /dev/shm segment: sizes and offsets,
 * validation of foreign and damaged files, symbols, seqlocked records, rings,
 * a writer killed mid-write, futex wake-ups, replacement. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static struct stk_seg_params params(const char *name, uint32_t cap, uint32_t hist)
{
    struct stk_seg_params p = {.name = name, .capacity = cap, .history = hist, .mode = 0640};
    return p;
}

static void shm_file(const char *name, char *path, size_t n)
{
    snprintf(path, n, "/dev/shm%s", name);
}

static struct stk_quote quote_of(uint64_t v)
{
    struct stk_quote q = {
        .price = (int64_t)v * 100,
        .bid = (int64_t)v * 100 - 1,
        .ask = (int64_t)v * 100 + 1,
        .volume = v * 10,
        .src_ts_ns = v * 1000,
        .pub_ts_ns = v * 1000 + 1,
        .bid_size = (uint32_t)v + 1,
        .ask_size = (uint32_t)v + 2,
    };
    return q;
}

static void assert_quote_is(const struct stk_quote *q, uint64_t v)
{
    struct stk_quote e = quote_of(v);
    ck_assert_int_eq(q->price, e.price);
    ck_assert_int_eq(q->bid, e.bid);
    ck_assert_int_eq(q->ask, e.ask);
    ck_assert_uint_eq(q->volume, e.volume);
    ck_assert_uint_eq(q->src_ts_ns, e.src_ts_ns);
    ck_assert_uint_eq(q->pub_ts_ns, e.pub_ts_ns);
    ck_assert_uint_eq(q->bid_size, e.bid_size);
    ck_assert_uint_eq(q->ask_size, e.ask_size);
}

static uint64_t u64_at(const unsigned char *b, size_t off)
{
    uint64_t v;
    memcpy(&v, b + off, 8);
    return v;
}

static uint32_t u32_at(const unsigned char *b, size_t off)
{
    uint32_t v;
    memcpy(&v, b + off, 4);
    return v;
}

START_TEST(test_layout_sizes)
{
    /* docs/layout.md: header 4096; symbols, records, heads capacity × 64 each;
     * slots capacity × history × 64. */
    ck_assert_uint_eq(stk_seg_size(1024, 256), 4096 + 3 * 1024 * 64 + 1024 * 256 * 64);
    ck_assert_uint_eq(stk_seg_size(3, 4), (4096 + 3 * 3 * 64 + 3 * 4 * 64 + 4095) / 4096 * 4096);
    ck_assert_uint_eq(stk_seg_size(0, 4), 0);
    ck_assert_uint_eq(stk_seg_size(4, 3), 0);
    ck_assert_uint_eq(stk_seg_size(4, 0), 0);
    ck_assert_uint_eq(STK_OFF_RECORDS(10), 4096 + 640);
    ck_assert_uint_eq(STK_OFF_HEADS(10), 4096 + 2 * 640);
    ck_assert_uint_eq(STK_OFF_SLOTS(10), 4096 + 3 * 640);
}
END_TEST

/* Read the bytes of a freshly written segment as an outsider would. */
START_TEST(test_layout_bytes)
{
    const char *name = test_shm_name("bytes");
    struct stk_seg_params p = params(name, 5, 8);
    struct stk_seg *w;
    enum stk_seg_how how;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, &how), 0);
    ck_assert_int_eq(how, STK_SEG_CREATED);
    ck_assert_int_eq(stk_sym_add(w, "AAPL"), 0);
    ck_assert_int_eq(stk_sym_add(w, "MSFT"), 1);
    struct stk_quote q = quote_of(7);
    stk_batch_begin(w);
    stk_tick_publish(w, 1, &q);
    stk_batch_end(w, 12345);

    char path[128];
    shm_file(name, path, sizeof(path));
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    ck_assert_uint_eq((uint64_t)st.st_size, stk_seg_size(5, 8));
    unsigned char *b = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(b, MAP_FAILED);
    ck_assert_int_eq(memcmp(b, "SEQTICK1", 8), 0);
    ck_assert_uint_eq(u32_at(b, 8), 1);
    ck_assert_uint_eq(u32_at(b, 12), 4096);
    ck_assert_uint_eq(u32_at(b, 16), 64);
    ck_assert_uint_eq(u32_at(b, 20), 5);
    ck_assert_uint_eq(u32_at(b, 24), 8);
    ck_assert_uint_eq(u32_at(b, 28), 8);
    ck_assert_uint_ge(u64_at(b, 32), 4096 + 3 * 5 * 64 + 5 * 8 * 64);
    ck_assert_uint_eq(u64_at(b, 48), 1);     /* generation */
    ck_assert_uint_eq(u32_at(b, 56), 1);     /* state live */
    ck_assert_uint_eq(u32_at(b, 60), 2);     /* nsymbols */
    ck_assert_uint_eq(u64_at(b, 64), 2);     /* epoch: one batch */
    ck_assert_uint_eq(u64_at(b, 72), 12345); /* last_update_ns */
    ck_assert_uint_eq(u32_at(b, 136), (uint32_t)getpid());
    ck_assert_str_eq((const char *)b + 4096, "AAPL");
    ck_assert_str_eq((const char *)b + 4096 + 64, "MSFT");
    ck_assert_uint_eq(u32_at(b, 4096 + 64 + 32), 1); /* index */
    size_t rec = 4096 + 5 * 64 + 1 * 64;             /* record of symbol 1 */
    ck_assert_uint_eq(u64_at(b, rec), 2);            /* seq: one write */
    ck_assert_uint_eq(u64_at(b, rec + 8), (uint64_t)q.price);
    ck_assert_uint_eq(u64_at(b, rec + 16), (uint64_t)q.bid);
    ck_assert_uint_eq(u64_at(b, rec + 24), (uint64_t)q.ask);
    ck_assert_uint_eq(u64_at(b, rec + 32), q.volume);
    ck_assert_uint_eq(u64_at(b, rec + 40), q.src_ts_ns);
    ck_assert_uint_eq(u64_at(b, rec + 48), q.pub_ts_ns);
    ck_assert_uint_eq(u32_at(b, rec + 56), q.bid_size);
    ck_assert_uint_eq(u32_at(b, rec + 60), q.ask_size);
    ck_assert_uint_eq(u64_at(b, 4096 + 2 * 5 * 64 + 64), 1); /* ring head of 1 */
    size_t slot = 4096 + 3 * 5 * 64 + 1 * 8 * 64;            /* ring of 1, slot 0 */
    ck_assert_uint_eq(u64_at(b, slot), 2);                   /* 2k+2, k = 0 */
    ck_assert_uint_eq(u64_at(b, slot + 8), (uint64_t)q.price);
    munmap(b, (size_t)st.st_size);
    close(fd);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_open_reader_roundtrip)
{
    const char *name = test_shm_name("rt");
    struct stk_seg_params p = params(name, 16, 4);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_int_eq(stk_seg_nsymbols(r), 0);
    ck_assert_int_eq(stk_seg_lookup(r, "AAPL"), -ENOENT);
    ck_assert_int_eq(stk_sym_add(w, "AAPL"), 0);
    ck_assert_int_eq(stk_sym_add(w, "BRK.B"), 1);
    ck_assert_int_eq(stk_sym_add(w, "AAPL"), 0); /* idempotent */
    /* the reader's hash refreshes when nsymbols grows */
    ck_assert_int_eq(stk_seg_lookup(r, "BRK.B"), 1);
    ck_assert_int_eq(stk_seg_lookup(r, "AAPL"), 0);
    ck_assert_int_eq(stk_seg_lookup(r, "AAP"), -ENOENT);
    ck_assert_str_eq(stk_seg_symbol(r, 1), "BRK.B");
    ck_assert_ptr_null(stk_seg_symbol(r, 2));

    struct stk_quote q;
    ck_assert_int_eq(stk_quote_read(r, 0, &q), -ENODATA);
    ck_assert_int_eq(stk_quote_read(r, 2, &q), -ERANGE);
    struct stk_quote in = quote_of(42);
    stk_quote_write(w, 0, &in);
    ck_assert_int_eq(stk_quote_read(r, 0, &q), 0);
    assert_quote_is(&q, 42);
    ck_assert_uint_eq(q.seq, 2);

    /* the reader's mapping really is read-only */
    ck_assert_ptr_null(stk_seg_header_rw(r));
    ck_assert_int_eq(stk_sym_add(r, "X"), -EROFS);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

/* stk_seg_changed reports each written record once, skips odd ones until
 * they finish, and never looks past nsymbols. */
START_TEST(test_changed_scan)
{
    const char *name = test_shm_name("chg");
    struct stk_seg_params p = params(name, 8, 2);
    struct stk_seg *w, *r;
    uint64_t seen[8] = {0};
    uint32_t changed[8];
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 8, changed), 0);
    for (int i = 0; i < 4; i++) {
        char sym[4] = {'S', (char)('0' + i), 0};
        ck_assert_int_eq(stk_sym_add(w, sym), i);
    }
    ck_assert_uint_eq(stk_seg_changed(r, seen, 8, changed), 0); /* never written */
    struct stk_quote q = quote_of(1);
    stk_quote_write(w, 1, &q);
    stk_quote_write(w, 3, &q);
    stk_quote_write(w, 3, &q);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 8, changed), 2);
    ck_assert_uint_eq(changed[0], 1);
    ck_assert_uint_eq(changed[1], 3);
    ck_assert_uint_eq(seen[3], 4);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 8, changed), 0); /* nothing new */
    /* a record mid-write is not reported until it is done */
    struct stk_record *rec = stk_seg_record_rw(w, 2);
    atomic_store(&rec->seq, 1);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 8, changed), 0);
    atomic_store(&rec->seq, 2);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 8, changed), 1);
    ck_assert_uint_eq(changed[0], 2);
    /* n below nsymbols limits the scan */
    stk_quote_write(w, 3, &q);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 3, changed), 0);
    ck_assert_uint_eq(stk_seg_changed(r, seen, 4, changed), 1);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_symbols_limits)
{
    const char *name = test_shm_name("sym");
    struct stk_seg_params p = params(name, 3, 2);
    struct stk_seg *w;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_sym_add(w, ""), -EINVAL);
    ck_assert_int_eq(stk_sym_add(w, "HAS SPACE"), -EINVAL);
    ck_assert_int_eq(stk_sym_add(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF"), -EINVAL); /* 32 */
    ck_assert_int_eq(stk_sym_add(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE"), 0);        /* 31 */
    ck_assert_int_eq(stk_sym_add(w, "caf\xc3\xa9"), -EINVAL);
    ck_assert_int_eq(stk_sym_add(w, "B"), 1);
    ck_assert_int_eq(stk_sym_add(w, "C"), 2);
    ck_assert_int_eq(stk_sym_add(w, "D"), -ENOSPC);
    ck_assert_int_eq(stk_seg_lookup(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE"), 0);
    ck_assert_int_eq(stk_seg_lookup(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH"), -ENOENT);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_lookup_many)
{
    const char *name = test_shm_name("many");
    struct stk_seg_params p = params(name, 4096, 1);
    struct stk_seg *w, *r;
    char sym[16];
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    for (int i = 0; i < 4096; i++) {
        snprintf(sym, sizeof(sym), "S%d", i);
        ck_assert_int_eq(stk_sym_add(w, sym), i);
    }
    for (int i = 4095; i >= 0; i--) {
        snprintf(sym, sizeof(sym), "S%d", i);
        ck_assert_int_eq(stk_seg_lookup(r, sym), i);
    }
    ck_assert_int_eq(stk_seg_lookup(r, "S4096"), -ENOENT);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_ring_history)
{
    const char *name = test_shm_name("ring");
    struct stk_seg_params p = params(name, 2, 8);
    struct stk_seg *w, *r;
    struct stk_quote out[16], q;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_int_eq(stk_sym_add(w, "A"), 0);
    ck_assert_int_eq(stk_history_read(r, 0, out, 16), 0);
    ck_assert_int_eq(stk_tick_read(r, 0, 0, &q), -EAGAIN);
    for (uint64_t v = 0; v < 5; v++) {
        struct stk_quote in = quote_of(v);
        stk_tick_publish(w, 0, &in);
    }
    ck_assert_int_eq(stk_history_read(r, 0, out, 16), 5);
    for (int i = 0; i < 5; i++) {
        assert_quote_is(&out[i], (uint64_t)i);
        ck_assert_uint_eq(out[i].seq, (uint64_t)i);
    }
    ck_assert_int_eq(stk_history_read(r, 0, out, 2), 2);
    assert_quote_is(&out[0], 3);
    assert_quote_is(&out[1], 4);
    /* lap the ring: 20 ticks into 8 slots */
    for (uint64_t v = 5; v < 20; v++) {
        struct stk_quote in = quote_of(v);
        stk_tick_publish(w, 0, &in);
    }
    ck_assert_uint_eq(stk_ring_head(r, 0), 20);
    ck_assert_int_eq(stk_history_read(r, 0, out, 16), 8); /* at most history */
    for (int i = 0; i < 8; i++)
        assert_quote_is(&out[i], 12 + (uint64_t)i);
    /* an old tick is reported lapped, never returned from another tick */
    ck_assert_int_eq(stk_tick_read(r, 0, 3, &q), -ESTALE);
    ck_assert_int_eq(stk_tick_read(r, 0, 11, &q), -ESTALE);
    ck_assert_int_eq(stk_tick_try(r, 0, 11, &q), -ESTALE);
    ck_assert_int_eq(stk_tick_try(r, 0, 19, &q), 0);
    assert_quote_is(&q, 19);
    ck_assert_int_eq(stk_tick_read(r, 0, 12, &q), 0);
    assert_quote_is(&q, 12);
    ck_assert_int_eq(stk_tick_read(r, 0, 20, &q), -EAGAIN);
    ck_assert_int_eq(stk_tick_read(r, 1, 0, &q), -ERANGE);
    /* the latest record follows the ticks */
    ck_assert_int_eq(stk_quote_read(r, 0, &q), 0);
    assert_quote_is(&q, 19);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

/* A reader lapped in the middle of following a ring resynchronises at
 * head - history and then reads consecutive ticks again. */
START_TEST(test_ring_lapped_follower)
{
    const char *name = test_shm_name("lap");
    struct stk_seg_params p = params(name, 1, 4);
    struct stk_seg *w, *r;
    struct stk_quote q;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_int_eq(stk_sym_add(w, "A"), 0);
    uint64_t next = 0; /* the follower's next tick */
    uint64_t v = 0;
    for (int round = 0; round < 50; round++) {
        int burst = round % 7; /* sometimes more than the ring holds */
        for (int i = 0; i < burst; i++) {
            struct stk_quote in = quote_of(v++);
            stk_tick_publish(w, 0, &in);
        }
        for (;;) {
            int rc = stk_tick_read(r, 0, next, &q);
            if (rc == -EAGAIN)
                break;
            if (rc == -ESTALE) {
                uint64_t h = stk_ring_head(r, 0);
                ck_assert_uint_gt(h, next + 4 - 1);
                next = h - 4;
                continue;
            }
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(q.seq, next);
            assert_quote_is(&q, next); /* tick k carries value k */
            next++;
        }
        ck_assert_uint_eq(next, v);
    }
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

/* Write a header-only file with one field changed and expect `want`. */
static void expect_open_error(const char *tag, size_t off, const void *val, size_t len, off_t size,
                              int want)
{
    const char *name = test_shm_name(tag);
    struct stk_seg_params p = params(name, 4, 4);
    struct stk_seg *w, *r = NULL;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    stk_seg_close(w);
    char path[128];
    shm_file(name, path, sizeof(path));
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    if (val)
        ck_assert_int_eq(pwrite(fd, val, len, (off_t)off), (ssize_t)len);
    if (size >= 0)
        ck_assert_int_eq(ftruncate(fd, size), 0);
    close(fd);
    ck_assert_int_eq(stk_seg_open(name, &r), want);
    ck_assert_ptr_null(r);
    stk_seg_unlink(name);
}

START_TEST(test_validation_errors)
{
    uint32_t v;
    uint64_t big;
    expect_open_error("magic", 0, "SEQTICK0", 8, -1, -EBADMSG);
    v = 2;
    expect_open_error("abi", 8, &v, 4, -1, -EPROTONOSUPPORT);
    v = 0;
    expect_open_error("abi0", 8, &v, 4, -1, -EPROTONOSUPPORT);
    v = 128;
    expect_open_error("rec", 16, &v, 4, -1, -EPROTO);
    v = 8192;
    expect_open_error("hdr", 12, &v, 4, -1, -EPROTO);
    v = 6;
    expect_open_error("dec", 28, &v, 4, -1, -EPROTO);
    v = 3;
    expect_open_error("hist", 24, &v, 4, -1, -EUCLEAN);
    v = 0;
    expect_open_error("cap0", 20, &v, 4, -1, -EUCLEAN);
    v = 0xffffffffu;
    expect_open_error("capbig", 20, &v, 4, -1, -EUCLEAN);
    big = 100;
    expect_open_error("total", 32, &big, 8, -1, -EUCLEAN);
    expect_open_error("short", 0, NULL, 0, 4096 + 64, -EIO);
    expect_open_error("tiny", 0, NULL, 0, 10, -EIO);
    expect_open_error("empty", 0, NULL, 0, 0, -EIO);
    /* no such segment, bad names */
    struct stk_seg *r = NULL;
    ck_assert_int_eq(stk_seg_open("/stk-u-does-not-exist", &r), -ENOENT);
    ck_assert_int_eq(stk_seg_open("nolead", &r), -EINVAL);
    ck_assert_int_eq(stk_seg_open("/a/b", &r), -EINVAL);
    ck_assert_int_eq(stk_seg_open("/..", &r), -EINVAL);
    ck_assert_int_eq(stk_seg_open("/", &r), -EINVAL);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_create_rules)
{
    const char *name = test_shm_name("mode");
    struct stk_seg_params p = params(name, 4, 4);
    struct stk_seg *w, *w2;
    enum stk_seg_how how;
    p.mode = 0666;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), -EPERM);
    p.mode = 0640;
    p.history = 6;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), -EINVAL);
    p.history = 4;
    mode_t old = umask(0077); /* umask does not decide the mode */
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, &how), 0);
    umask(old);
    ck_assert_int_eq(how, STK_SEG_CREATED);
    char path[128];
    struct stat st;
    shm_file(name, path, sizeof(path));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    /* a second writer is refused while the first holds the flock */
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w2, &how), -EALREADY);
    /* but a plain re-open (the supervisor's) is a warm restart */
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w2, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REOPENED);
    stk_seg_close(w2);
    stk_seg_close(w);
    /* the kernel dropped the lock with the fd: a new writer attaches */
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REOPENED);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(w)->producer_restarts), 1);
    stk_seg_close(w);
    /* a segment /dev/shm cannot hold is an error now, not a SIGBUS later */
    const char *huge_name = test_shm_name("huge");
    struct stk_seg_params huge = params(huge_name, STK_CAPACITY_MAX, STK_HISTORY_MAX);
    ck_assert_int_eq(stk_seg_create_or_open(&huge, &w2, &how), -ENOSPC);
    char huge_path[128];
    shm_file(huge_name, huge_path, sizeof(huge_path));
    ck_assert_int_ne(access(huge_path, F_OK), 0);
    /* no temporary files left behind */
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "/dev/shm%s.tmp.%ld.0", name, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    stk_seg_unlink(name);
}
END_TEST

/* A foreign file under our name is never destroyed. */
START_TEST(test_foreign_file_kept)
{
    const char *name = test_shm_name("foreign");
    char path[128];
    shm_file(name, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    char junk[256];
    memset(junk, 'x', sizeof(junk));
    ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    struct stk_seg_params p = params(name, 4, 4);
    struct stk_seg *w;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), -EBADMSG);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 256);
    unlink(path);
}
END_TEST

/* Any file that does not start with our magic is left as it is, whatever its
 * size (0 bytes included: we only ever publish finished files); one that
 * does but is cut short is ours, and replaced. */
START_TEST(test_foreign_sizes)
{
    static const struct {
        size_t size;
        const char *text; /* NULL: 'x' bytes */
    } cases[] = {
        {0, NULL},  {6, "hello\n"},  {7, "SEQTICK"}, {37, "not a segment, just some text here.\n"},
        {64, NULL}, {1 << 20, NULL},
    };
    struct stk_seg_params p = params(NULL, 4, 4);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name = test_shm_name("alien");
        char path[128];
        shm_file(name, path, sizeof(path));
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
        ck_assert_int_ge(fd, 0);
        char *data = malloc(cases[i].size + 1);
        ck_assert_ptr_nonnull(data);
        if (cases[i].text)
            memcpy(data, cases[i].text, cases[i].size);
        else
            memset(data, 'x', cases[i].size);
        ck_assert_int_eq(write(fd, data, cases[i].size), (ssize_t)cases[i].size);
        close(fd);
        struct stat before, after;
        ck_assert_int_eq(stat(path, &before), 0);
        struct stk_seg *w = NULL;
        enum stk_seg_how how;
        p.name = name;
        p.own = false;
        ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), -EBADMSG);
        ck_assert_int_eq(stk_seg_attach_writer(&p, &w, &how), -EBADMSG);
        p.own = true;
        ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), -EBADMSG);
        ck_assert_int_eq(stat(path, &after), 0);
        ck_assert_uint_eq(after.st_ino, before.st_ino);
        ck_assert_int_eq(after.st_size, (off_t)cases[i].size);
        char *back = malloc(cases[i].size + 1);
        fd = open(path, O_RDONLY);
        ck_assert_int_eq(read(fd, back, cases[i].size + 1), (ssize_t)cases[i].size);
        close(fd);
        ck_assert_int_eq(memcmp(back, data, cases[i].size), 0);
        free(back);
        free(data);
        unlink(path);
    }
    /* our magic, cut short (a 20-byte stub): ours, replaced from generation 1 */
    const char *name = test_shm_name("stub");
    char path[128];
    shm_file(name, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_int_eq(write(fd, STK_MAGIC "0123456789ab", 20), 20);
    close(fd);
    struct stk_seg *w;
    enum stk_seg_how how;
    p.name = name;
    p.own = true;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REPLACED);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(w)->generation), 1);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

/* The ownership lock: a second owner is refused before it changes anything
 * (-EBUSY) and can name the holder; it never stops the producer's writer
 * attach, and it goes with the owner's handle. */
START_TEST(test_owner_lock)
{
    const char *name = test_shm_name("own");
    struct stk_seg_params p = params(name, 4, 4);
    struct stk_seg *sup, *sup2, *prod;
    enum stk_seg_how how;
    p.own = true;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &sup, &how), 0);
    ck_assert_int_eq(how, STK_SEG_CREATED);
    char path[128];
    struct stat st, st2;
    shm_file(name, path, sizeof(path));
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(stk_seg_owner(name), getpid());
    /* the producer attaches as writer under the owner */
    struct stk_seg_params wp = p;
    wp.own = false;
    ck_assert_int_eq(stk_seg_attach_writer(&wp, &prod, &how), 0);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(prod)->state), STK_STATE_LIVE);
    /* a second owner, same geometry or not, is refused and changes nothing */
    ck_assert_int_eq(stk_seg_create_or_open(&p, &sup2, &how), -EBUSY);
    p.capacity = 8; /* would be a replace */
    ck_assert_int_eq(stk_seg_create_or_open(&p, &sup2, &how), -EBUSY);
    p.capacity = 4;
    ck_assert_int_eq(stat(path, &st2), 0);
    ck_assert_uint_eq(st2.st_ino, st.st_ino);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(prod)->state), STK_STATE_LIVE);
    /* the owner goes: the next one takes it over (a warm restart) */
    stk_seg_close(sup);
    ck_assert_int_eq(stk_seg_owner(name), -ESRCH);
    ck_assert_int_eq(stk_seg_create_or_open(&p, &sup2, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REOPENED);
    /* an incompatible one is replaced by its owner, locked before it is published */
    struct stk_seg *sup3;
    stk_seg_close(sup2);
    p.capacity = 8;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &sup2, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REPLACED);
    ck_assert_int_eq(stk_seg_create_or_open(&p, &sup3, &how), -EBUSY);
    ck_assert_int_eq(stk_seg_owner(name), getpid());
    stk_seg_close(sup2);
    stk_seg_close(prod);
    ck_assert_int_eq(stk_seg_owner("/stk-no-such-segment-at-all"), -ENOENT);
    stk_seg_unlink(name);
}
END_TEST

/* An incompatible segment is replaced under a new generation; a reader of the
 * old one sees it closed and replaced, and a re-open finds the new one. */
START_TEST(test_replace_incompatible)
{
    const char *name = test_shm_name("repl");
    struct stk_seg_params p = params(name, 4, 4);
    struct stk_seg *w, *r, *r2;
    enum stk_seg_how how;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, &how), 0);
    ck_assert_int_eq(stk_sym_add(w, "OLD"), 0);
    stk_seg_close(w);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_int_eq(stk_seg_replaced(r), 0);
    p.capacity = 8;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REPLACED);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(w)->generation), 2);
    ck_assert_int_eq(stk_seg_nsymbols(w), 0);
    ck_assert_int_eq(stk_seg_replaced(r), 1);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(r)->state), STK_STATE_CLOSED);
    ck_assert_int_eq(stk_seg_wait(r, stk_seg_epoch(r), 1000), -ESTALE);
    ck_assert_int_eq(stk_seg_open(name, &r2), 0);
    ck_assert_uint_eq(stk_seg_header(r2)->capacity, 8);
    ck_assert_int_eq(stk_seg_replaced(r2), 0);
    /* unlinking retires the name too */
    stk_seg_unlink(name);
    ck_assert_int_eq(stk_seg_replaced(r2), 1);
    stk_seg_close(r);
    stk_seg_close(r2);
    stk_seg_close(w);
}
END_TEST

/* A writer killed with SIGKILL while a record is odd: readers get -EBUSY
 * (bounded, no garbage, no hang); the next writer repairs from the ring. */
START_TEST(test_killed_writer_repair)
{
    const char *name = test_shm_name("kill");
    struct stk_seg_params p = params(name, 4, 4);
    struct stk_seg *w, *r;
    struct stk_quote q;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_sym_add(w, "A"), 0);
    ck_assert_int_eq(stk_sym_add(w, "B"), 1);
    struct stk_quote in = quote_of(5);
    stk_tick_publish(w, 0, &in);
    stk_seg_close(w);

    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct stk_seg *cw;
        if (stk_seg_attach_writer(&p, &cw, NULL) < 0)
            _exit(1);
        /* die mid-write, deterministically: seq odd, fields half new */
        struct stk_record *rec = stk_seg_record_rw(cw, 0);
        atomic_store(&rec->seq, atomic_load(&rec->seq) + 1);
        atomic_store(&rec->price, 999999);
        struct stk_record *rb = stk_seg_record_rw(cw, 1); /* never written */
        atomic_store(&rb->seq, 1);
        atomic_store(&rb->price, 777);
        stk_batch_begin(cw);
        (void)!write(ready[1], "x", 1);
        for (;;)
            pause();
    }
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status));

    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    uint64_t t0 = stk_mono_ns();
    ck_assert_int_eq(stk_quote_read(r, 0, &q), -EBUSY);
    ck_assert_int_eq(stk_quote_read(r, 1, &q), -EBUSY);
    ck_assert_uint_lt(stk_mono_ns() - t0, 1000000000u); /* bounded: no hang */
    ck_assert_uint_eq(stk_seg_epoch(r) & 1, 1);

    enum stk_seg_how how;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REOPENED);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(w)->repaired), 2);
    /* A was rebuilt from its last complete ring slot, not blessed */
    ck_assert_int_eq(stk_quote_read(r, 0, &q), 0);
    assert_quote_is(&q, 5);
    ck_assert_uint_eq(q.seq % 2, 0);
    ck_assert_uint_eq(q.seq, 4); /* 2 (first write) + 1 (odd) + 1 (repair) */
    /* B had no ring tick: cleared to "never written" */
    ck_assert_int_eq(stk_quote_read(r, 1, &q), -ENODATA);
    ck_assert_int_eq(q.price, 0);
    ck_assert_uint_eq(stk_seg_epoch(r) & 1, 0);
    /* and writing goes on from there */
    in = quote_of(6);
    stk_tick_publish(w, 0, &in);
    ck_assert_int_eq(stk_quote_read(r, 0, &q), 0);
    assert_quote_is(&q, 6);
    ck_assert_uint_eq(q.seq, 6);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

/* stk_seg_wait sleeps on the futex of a read-only mapping and wakes when
 * another process ends a batch; it times out when nothing happens. */
START_TEST(test_wait_futex)
{
    const char *name = test_shm_name("wait");
    struct stk_seg_params p = params(name, 2, 2);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_sym_add(w, "A"), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    uint64_t e0 = stk_seg_epoch(r);
    uint64_t t0 = stk_mono_ns();
    ck_assert_int_eq(stk_seg_wait(r, e0, 100), -ETIMEDOUT);
    uint64_t dt = stk_mono_ns() - t0;
    ck_assert_uint_ge(dt, 90000000u);
    ck_assert_uint_lt(dt, 5000000000u);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct stk_seg *cw;
        usleep(200000);
        /* the flock is held by the parent's writer: use its mapping rules
         * through a plain re-open, as a second process would */
        if (stk_seg_create_or_open(&p, &cw, NULL) < 0)
            _exit(1);
        struct stk_quote q = quote_of(1);
        stk_batch_begin(cw);
        stk_tick_publish(cw, 0, &q);
        stk_batch_end(cw, stk_now_ns());
        _exit(0);
    }
    t0 = stk_mono_ns();
    ck_assert_int_eq(stk_seg_wait(r, e0, 10000), 0);
    dt = stk_mono_ns() - t0;
    ck_assert_uint_ge(dt, 100000000u); /* it slept: no early return */
    ck_assert_uint_lt(dt, 5000000000u);
    ck_assert_uint_eq(stk_seg_epoch(r), e0 + 2);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_heartbeat_and_state)
{
    const char *name = test_shm_name("hb");
    struct stk_seg_params p = params(name, 2, 2);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_uint_eq(stk_seg_heartbeat_age_ns(r), UINT64_MAX);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(r)->state), STK_STATE_INIT);
    stk_seg_close(w);
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(r)->state), STK_STATE_LIVE);
    ck_assert_uint_lt(stk_seg_heartbeat_age_ns(r), 5000000000u);
    stk_seg_heartbeat(w, stk_now_ns() - 3000000000u);
    ck_assert_uint_ge(stk_seg_heartbeat_age_ns(r), 3000000000u);
    stk_seg_set_state(w, STK_STATE_CLOSED);
    ck_assert_int_eq(stk_seg_replaced(r), 1);
    stk_seg_close(w);
    /* a closed segment re-opened by the supervisor comes back (not closed) */
    enum stk_seg_how how;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, &how), 0);
    ck_assert_int_eq(how, STK_SEG_REOPENED);
    ck_assert_uint_eq(atomic_load(&stk_seg_header(w)->state), STK_STATE_INIT);
    stk_seg_close(w);
    stk_seg_close(r);
    stk_seg_unlink(name);
}
END_TEST

/* ---- readers against hostile files (issue: hostile segments) ---- */

/* The segment file mapped read-write by the test, to scribble on it. */
static unsigned char *scribble_map(const char *name, size_t *ret_len)
{
    char path[256];
    shm_file(name, path, sizeof(path));
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(m, MAP_FAILED);
    close(fd);
    *ret_len = (size_t)st.st_size;
    return m;
}

START_TEST(test_open_fifo_and_owner)
{
    const char *name = test_shm_name("fifo");
    char path[256];
    struct stk_seg *r = NULL;
    shm_file(name, path, sizeof(path));
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    uint64_t t0 = stk_mono_ns();
    ck_assert_int_eq(stk_seg_open(name, &r), -ENODEV); /* never blocks on the FIFO */
    ck_assert_uint_lt(stk_mono_ns() - t0, 1000000000u);
    unlink(path);
    struct stk_seg_params p = params(name, 2, 2);
    struct stk_seg *w;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    struct stk_seg_open_opts other = {.flags = STK_OPEN_OWNER, .owner_uid = geteuid() + 1};
    ck_assert_int_eq(stk_seg_open_opts(name, &other, &r), -EPERM);
    struct stk_seg_open_opts mine = {.flags = STK_OPEN_OWNER, .owner_uid = geteuid()};
    ck_assert_int_eq(stk_seg_open_opts(name, &mine, &r), 0);
    stk_seg_close(r);
    ck_assert_int_eq(stk_seg_open_opts(name, NULL, &r), 0);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_usable_rule)
{
    const char *name = test_shm_name("usable");
    struct stk_seg_params p = params(name, 2, 2);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    struct stk_header *h = stk_seg_header_rw(w);
    ck_assert_int_eq(stk_seg_usable(r), 0); /* init */
    stk_seg_set_state(w, STK_STATE_LIVE);
    ck_assert_int_eq(stk_seg_usable(r), 0);
    stk_seg_set_state(w, STK_STATE_CLOSED);
    ck_assert_int_eq(stk_seg_usable(r), -ESTALE);
    ck_assert_int_eq(stk_seg_alive(r, 0, 100, NULL), 0);
    stk_seg_set_state(w, 7);
    ck_assert_int_eq(stk_seg_usable(r), -EUCLEAN);
    ck_assert_int_eq(stk_seg_replaced(r), 1);
    stk_seg_set_state(w, STK_STATE_LIVE);
    atomic_store(&h->generation, atomic_load(&h->generation) + 5);
    ck_assert_int_eq(stk_seg_usable(r), -EUCLEAN);
    ck_assert_int_eq(stk_seg_wait(r, stk_seg_epoch(r), 0), -ESTALE);
    stk_seg_close(r);
    ck_assert_int_eq(stk_seg_open(name, &r), 0); /* a fresh open takes it as its own */
    ck_assert_int_eq(stk_seg_usable(r), 0);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_symbol_names_validated)
{
    const char *name = test_shm_name("names");
    struct stk_seg_params p = params(name, 8, 2);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_sym_add(w, "AAPL"), 0);
    ck_assert_int_eq(stk_sym_add(w, "B1"), 1);
    ck_assert_int_eq(stk_sym_add(w, "C2"), 2);
    ck_assert_int_eq(stk_sym_add(w, "MSFT"), 3);
    size_t len;
    unsigned char *m = scribble_map(name, &len);
    struct stk_symbol *tab = (struct stk_symbol *)(void *)(m + STK_OFF_SYMBOLS);
    memset(tab[1].name, 'A', 32);        /* no NUL: runs into index, flags, entry 2 */
    memcpy(tab[2].name, "\xff\xfeX", 4); /* high bytes */
    struct stk_header *h = stk_seg_header_rw(w);
    atomic_store(&h->nsymbols, 6); /* entries 4, 5 never written: "" */
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_str_eq(stk_seg_symbol(r, 0), "AAPL");
    ck_assert_ptr_null(stk_seg_symbol(r, 1));
    ck_assert_ptr_null(stk_seg_symbol(r, 2));
    ck_assert_str_eq(stk_seg_symbol(r, 3), "MSFT");
    ck_assert_ptr_null(stk_seg_symbol(r, 4));
    ck_assert_ptr_null(stk_seg_symbol(r, 5));
    ck_assert_ptr_null(stk_seg_symbol(r, 6));
    ck_assert_int_eq(stk_seg_lookup(r, "MSFT"), 3);
    ck_assert_int_eq(stk_seg_lookup(r, "C2"), -ENOENT);
    ck_assert_int_eq(stk_seg_lookup(r, ""), -ENOENT);
    /* a name scribbled after it was read does not change the handle's copy */
    memcpy(tab[0].name, "A\x1b[2J", 6);
    ck_assert_str_eq(stk_seg_symbol(r, 0), "AAPL");
    ck_assert_int_eq(stk_symbol_check("AA\x1b", 3), -EINVAL);
    ck_assert_int_eq(stk_symbol_check("A B", 3), -EINVAL);
    ck_assert_int_eq(stk_symbol_check("BRK.B", 5), 0);
    munmap(m, len);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_sigbus_guard_truncation)
{
    const char *name = test_shm_name("trunc");
    struct stk_seg_params p = params(name, 2, 4);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_sigbus_guard(), 0);
    ck_assert_int_eq(stk_sigbus_guard(), 0); /* once */
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_sym_add(w, "AAPL"), 0);
    struct stk_quote q = quote_of(7), out[4];
    stk_tick_publish(w, 0, &q);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    ck_assert_int_eq(stk_quote_read(r, 0, &out[0]), 0);
    char path[256];
    shm_file(name, path, sizeof(path));
    ck_assert_int_eq(truncate(path, 0), 0);
    /* the read faults; the guard swaps the mapping and the read goes on */
    ck_assert_int_eq(stk_quote_read(r, 0, &out[0]), -EFAULT);
    ck_assert_int_eq(stk_seg_usable(r), -EFAULT);
    ck_assert_int_eq(stk_seg_replaced(r), 1);
    ck_assert_int_eq(stk_quote_try(r, 0, &out[0]), -EFAULT);
    ck_assert_int_lt(stk_history_read(r, 0, out, 4), 1);
    ck_assert_int_eq(stk_seg_alive(r, 0, 100, NULL), 0);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_quote_try_and_history_stuck)
{
    const char *name = test_shm_name("stuck");
    struct stk_seg_params p = params(name, 4, 16);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_create_or_open(&p, &w, NULL), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(stk_sym_add(w, i == 0 ? "A" : i == 1 ? "B" : "C"), i);
    for (uint64_t k = 0; k < 10; k++)
        for (uint32_t i = 0; i < 3; i++) {
            struct stk_quote q = quote_of(k);
            stk_tick_publish(w, i, &q);
        }
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    struct stk_record *rec = stk_seg_record_rw(w, 0);
    atomic_store(&rec->seq, atomic_load(&rec->seq) + 1); /* left odd */
    struct stk_quote q, out[16];
    uint64_t t0 = stk_mono_ns();
    ck_assert_int_eq(stk_quote_try(r, 0, &q), -EBUSY);
    ck_assert_uint_lt(stk_mono_ns() - t0, 5000000u); /* no 20 ms of patience */
    ck_assert_int_eq(stk_quote_read(r, 0, &q), -EBUSY);
    ck_assert_int_eq(stk_quote_try(r, 1, &q), 0);
    size_t len;
    unsigned char *m = scribble_map(name, &len);
    struct stk_record *slots = (struct stk_record *)(void *)(m + STK_OFF_SLOTS(4));
    struct stk_ring_head *heads = (struct stk_ring_head *)(void *)(m + STK_OFF_HEADS(4));
    atomic_store(&slots[0 * 16 + 9].seq, 2 * 9 + 1); /* A's newest slot mid-write */
    t0 = stk_mono_ns();
    ck_assert_int_eq(stk_tick_try(r, 0, 9, &q), -EBUSY); /* at once, not after 20 ms */
    ck_assert_uint_lt(stk_mono_ns() - t0, 5000000u);
    ck_assert_int_eq(stk_tick_read(r, 0, 9, &q), -EBUSY);
    ck_assert_int_eq(stk_tick_try(r, 0, 8, &q), 0);
    assert_quote_is(&q, 8);
    ck_assert_uint_eq(q.seq, 8);
    ck_assert_int_eq(stk_tick_try(r, 0, 10, &q), -EAGAIN);
    ck_assert_int_eq(stk_tick_try(r, 3, 0, &q), -ERANGE);
    ck_assert_int_eq(stk_history_read(r, 0, out, 16), 9);
    for (int k = 0; k < 9; k++)
        ck_assert_uint_eq(out[k].seq, (uint64_t)k);
    atomic_store(&heads[1].head, (uint64_t)1 << 62); /* garbage heads */
    atomic_store(&heads[2].head, UINT64_MAX);
    for (uint32_t i = 1; i < 3; i++) {
        t0 = stk_mono_ns();
        ck_assert_int_eq(stk_history_read(r, i, out, 16), 10);
        ck_assert_uint_lt(stk_mono_ns() - t0, 5000000u);
        ck_assert_uint_eq(out[0].seq, 0);
        ck_assert_uint_eq(out[9].seq, 9);
        assert_quote_is(&out[9], 9);
    }
    ck_assert_int_eq(stk_history_read(r, 1, out, 3), 3);
    ck_assert_uint_eq(out[0].seq, 7);
    munmap(m, len);
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

START_TEST(test_alive_and_stale)
{
    const char *name = test_shm_name("stale");
    struct stk_seg_params p = params(name, 2, 2);
    struct stk_seg *w, *r;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    uint64_t now = stk_now_ns(), age;
    struct stk_quote q = {.pub_ts_ns = now - 1000000000u}; /* 1 s old */
    ck_assert_int_eq(stk_seg_alive(r, now, 100, &age), 1);
    ck_assert_int_eq(stk_quote_stale(r, &q, now, 5000, 100), 0);
    ck_assert_int_eq(stk_quote_stale(r, &q, now, 500, 100), 1); /* over freshness */
    stk_seg_heartbeat(w, now - 400000000u);                     /* 4 beats missed */
    ck_assert_int_eq(stk_seg_alive(r, now, 100, &age), 0);
    ck_assert_uint_ge(age, 400000000u);
    ck_assert_int_eq(stk_quote_stale(r, &q, now, 5000, 100), 1); /* frozen producer */
    ck_assert_int_eq(stk_seg_alive(r, now, 1000, NULL), 1);      /* a slower heartbeat */
    stk_seg_close(r);
    stk_seg_close(w);
    stk_seg_unlink(name);
}
END_TEST

int main(void)
{
    /* clang-format off */
    const struct test_case tests[] = {
        {"layout", test_layout_sizes},
        {"layout", test_layout_bytes},
        {"core", test_open_reader_roundtrip},
        {"core", test_ring_history},
        {"core", test_changed_scan},
        {"core", test_ring_lapped_follower},
        {"core", test_wait_futex},
        {"core", test_heartbeat_and_state},
        {"limits", test_symbols_limits},
        {"limits", test_lookup_many},
        {"errors", test_validation_errors},
        {"errors", test_create_rules},
        {"errors", test_foreign_file_kept},
        {"errors", test_foreign_sizes},
        {"errors", test_owner_lock},
        {"errors", test_replace_incompatible},
        {"errors", test_killed_writer_repair},
        {"hostile", test_open_fifo_and_owner},
        {"hostile", test_usable_rule},
        {"hostile", test_symbol_names_validated},
        {"hostile", test_sigbus_guard_truncation},
        {"hostile", test_quote_try_and_history_stuck},
        {"hostile", test_alive_and_stale},
    };
    /* clang-format on */
    return TEST_TABLE_RUN("segment", tests);
}
