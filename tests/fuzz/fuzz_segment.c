/* SPDX-License-Identifier: MIT */
/* fuzz_segment.c — a hostile segment file: the input becomes the file
 * /dev/shm/stk-fuzz-seg-PID, and every reader entry point runs over it:
 * open (plain and with an owner), usable, header, name, symbols, lookup,
 * latest records, quotes, ring heads, ticks, history, changed, epoch, wait
 * with a zero timeout, replaced, heartbeat age. Nothing may crash, hang or
 * read outside the mapping, and a name a reader hands out is a
 * NUL-terminated valid symbol. The input's length mod 4 picks how: 1, the
 * file is the input exactly; otherwise it is padded with zeros up to the
 * size its header claims (at most 4 MiB), so small inputs reach past the
 * size check; and 3, the file is also truncated after the open to 0..3
 * pages (the last byte says), as a live reader may see it shrink: with the
 * SIGBUS guard on, the readers must survive that. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "segment-private.h"
#include "seqtick.h"

#define PAD_MAX (4u << 20)
#define SYMS_MAX 64u   /* entries walked per input */
#define PATIENT_MAX 2u /* patient reads (up to 20 ms each on a stuck record) */
#define HISTORY_MAX 16u

static char name[64], path[96];

static void cleanup(void)
{
    unlink(path);
}

static bool write_file(const uint8_t *data, size_t size)
{
    if (!name[0]) {
        snprintf(name, sizeof(name), "/stk-fuzz-seg-%d", (int)getpid());
        snprintf(path, sizeof(path), "/dev/shm%s", name);
        atexit(cleanup);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    bool ok = write(fd, data, size) == (ssize_t)size;
    uint64_t total = 0;
    if (ok && size % 4 != 1 && size >= 40) {
        memcpy(&total, data + 32, sizeof(total)); /* header.total_bytes */
        if (total > size && total <= PAD_MAX)
            ok = ftruncate(fd, (off_t)total) == 0;
    }
    close(fd);
    return ok;
}

static void check_name(const struct stk_seg *seg, uint32_t i, const char *s)
{
    FUZZ_CHECK(memchr(s, '\0', STK_NAME_MAX + 1) != NULL, "stk_seg_symbol(%u): no NUL in %u bytes",
               i, STK_NAME_MAX + 1);
    FUZZ_CHECK(stk_sym_check(s, strlen(s)) == 0, "stk_seg_symbol(%u): invalid name handed out", i);
}

static void readers(struct stk_seg *seg)
{
    const struct stk_header *h = stk_seg_header(seg);
    uint32_t cap = h->capacity, hist = h->history;
    (void)stk_seg_name(seg);
    uint32_t ns = stk_seg_nsymbols(seg);
    uint32_t walk = ns < SYMS_MAX ? ns : SYMS_MAX;
    for (uint32_t i = 0; i < walk; i++) {
        const char *s = stk_seg_symbol(seg, i);
        if (!s)
            continue;
        check_name(seg, i, s);
        int k = stk_seg_lookup(seg, s);
        FUZZ_CHECK(k == -ENOENT || (k >= 0 && (uint32_t)k < ns), "lookup(%s) = %d of %u", s, k, ns);
    }
    FUZZ_CHECK(stk_seg_symbol(seg, ns) == NULL, "a name past nsymbols");
    (void)stk_seg_lookup(seg, "AAPL");
    (void)stk_seg_lookup(seg, "");

    struct stk_quote q, hq[HISTORY_MAX];
    uint32_t rec = cap < SYMS_MAX ? cap : SYMS_MAX;
    bool stuck[PATIENT_MAX + 1] = {false};
    for (uint32_t i = 0; i < rec; i++) {
        const struct stk_record *r = stk_seg_record(seg, i);
        if (r && stk_record_load(r, &q) == -EBUSY && i <= PATIENT_MAX)
            stuck[i] = true;
    }
    /* the patient readers wait 20 ms on a stuck record: only where the
     * plain load above did not already find it stuck (speed, not cover) */
    for (uint32_t i = 0; i <= walk && i < PATIENT_MAX + 1; i++) {
        if (stuck[i])
            continue;
        int r = stk_quote_read(seg, i, &q);
        FUZZ_CHECK(r == 0 || r == -ENODATA || r == -EBUSY || r == -ERANGE || r == -ESTALE ||
                       r == -EAGAIN || r == -EFAULT,
                   "stk_quote_read(%u) = %d", i, r);
        uint64_t head = stk_ring_head(seg, i);
        if (i < PATIENT_MAX) {
            /* -EAGAIN at once; the newest tick (patient on a stuck slot,
             * so once per input); one lapped */
            (void)stk_tick_read(seg, i, head, &q);
            (void)stk_tick_read(seg, i, i == 0 ? head - 1 : head + 1, &q);
            if (head > hist)
                (void)stk_tick_read(seg, i, head - hist - 1, &q);
            int n = stk_history_read(seg, i, hq, HISTORY_MAX);
            FUZZ_CHECK(n < 0 || (size_t)n <= HISTORY_MAX, "history_read(%u) = %d", i, n);
            /* oldest first, within one ring's span (a stuck slot is skipped) */
            for (int j = 1; j < n; j++)
                FUZZ_CHECK(hq[j].seq > hq[j - 1].seq && hq[j].seq - hq[0].seq < hist,
                           "history(%u): tick %llu after %llu (first %llu, history %u)", i,
                           (unsigned long long)hq[j].seq, (unsigned long long)hq[j - 1].seq,
                           (unsigned long long)hq[0].seq, hist);
        }
    }
    uint64_t seen[SYMS_MAX] = {0};
    uint32_t changed[SYMS_MAX];
    uint32_t nc = stk_seg_changed(seg, seen, SYMS_MAX, changed);
    FUZZ_CHECK(nc <= walk, "changed: %u of %u", nc, walk);
    uint64_t e = stk_seg_epoch(seg);
    (void)stk_seg_wait(seg, e, 0);
    (void)stk_seg_wait(seg, e + 1, 0);
    (void)stk_seg_replaced(seg);
    (void)stk_seg_heartbeat_age_ns(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!write_file(data, size))
        return 0;
    static bool guarded;
    if (!guarded) /* as every reading program does first */
        FUZZ_CHECK(stk_sigbus_guard() == 0, "stk_sigbus_guard");
    guarded = true;
    struct stk_seg *seg = NULL;
    struct stk_seg_open_opts opts = {.flags = STK_OPEN_OWNER, .owner_uid = (uint32_t)geteuid()};
    int r = size % 4 == 2 ? stk_seg_open_opts(name, &opts, &seg) : stk_seg_open(name, &seg);
    if (r == 0) {
        if (size % 4 == 3)
            (void)truncate(path, (off_t)(data[size - 1] & 3) * 4096);
        int u = stk_seg_usable(seg);
        FUZZ_CHECK(u == 0 || u == -ESTALE || u == -EUCLEAN || u == -EFAULT, "usable: %d", u);
        readers(seg);
        u = stk_seg_usable(seg);
        FUZZ_CHECK(u == 0 || u == -ESTALE || u == -EUCLEAN || u == -EFAULT, "usable: %d", u);
        stk_seg_close(seg);
    } else {
        FUZZ_CHECK(seg == NULL, "open failed (%d) yet set a handle", r);
        FUZZ_CHECK(stk_strerror(r) != NULL, "no text for %d", r);
    }
    return 0;
}
