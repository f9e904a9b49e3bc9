/* SPDX-License-Identifier: MIT */
/* fuzz_csv.c — CSV rows: every line of the input through the row parser in
 * each time unit, and the whole input as a file through the replay reader
 * (a memfd under /proc/self/fd). A row that parses has a valid symbol; one
 * that does not says why. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "producer.h"
#include "segment-private.h"

static void check_row(const struct stk_csv_row *r)
{
    size_t n = strnlen(r->symbol, sizeof(r->symbol));
    FUZZ_CHECK(n < sizeof(r->symbol), "symbol not terminated");
    FUZZ_CHECK(stk_sym_check(r->symbol, n) == 0, "bad symbol '%s' accepted", r->symbol);
}

/* The timestamp's integer part as the row has it (spaces and one opening
 * quote skipped), or false if it does not fit a u64. */
static bool integer_part(const char *line, size_t len, uint64_t *ret)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i < len && line[i] == '"')
        i++;
    for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
        if (v > (UINT64_MAX - (uint64_t)(line[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(line[i] - '0');
    }
    *ret = v;
    return true;
}

static void one_line(const char *line, size_t len, bool first)
{
    static const uint64_t ns_per[] = {[STK_UNIT_S] = 1000000000ull,
                                      [STK_UNIT_MS] = 1000000ull,
                                      [STK_UNIT_US] = 1000ull,
                                      [STK_UNIT_NS] = 1ull};
    for (int u = STK_UNIT_AUTO; u <= STK_UNIT_NS; u++) {
        struct stk_csv_row r;
        const char *why = NULL;
        int rc = stk_csv_parse_row(line, len, (enum stk_time_unit)u, first, &r, &why);
        FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMSG, "parse_row returned %d", rc);
        uint64_t ip;
        if (rc == 0) {
            check_row(&r);
            /* never wrapped: the whole units are the integer part */
            if (u != STK_UNIT_AUTO && integer_part(line, len, &ip))
                FUZZ_CHECK(r.q.src_ts_ns / ns_per[u] == ip, "timestamp %llu ns from %llu (unit %d)",
                           (unsigned long long)r.q.src_ts_ns, (unsigned long long)ip, u);
        } else if (rc == -EINVAL)
            FUZZ_CHECK(why && *why, "refused without a reason");
        else
            FUZZ_CHECK(first, "a header after the first line");
    }
}

static unsigned long bad_rows;

static void on_bad(void *ctx, const char *file, unsigned long line, const char *why)
{
    FUZZ_CHECK(line > 0 && why && *why, "bad row %lu without a reason", line);
    bad_rows++;
}

static void as_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-csv", MFD_CLOEXEC);
        if (fd < 0)
            return;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return;
    struct stk_csv *csv;
    if (stk_csv_open(path, STK_UNIT_AUTO, on_bad, NULL, &csv) < 0)
        return;
    struct stk_csv_row r;
    int rc;
    size_t rows = 0;
    while ((rc = stk_csv_next(csv, &r)) == 1) {
        check_row(&r);
        rows++;
    }
    FUZZ_CHECK(rc == 0, "stk_csv_next returned %d", rc);
    FUZZ_CHECK(rows <= size / 7 + 1, "%zu rows from %zu bytes", rows, size);
    stk_csv_close(csv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    bool first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        one_line(p, (size_t)(stop - p), first);
        first = false;
        p = nl ? nl + 1 : end;
    }
    as_file(data, size);
    return 0;
}
