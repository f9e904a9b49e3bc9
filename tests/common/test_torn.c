/* SPDX-License-Identifier: MIT */
/* test_torn.c — the arbiter of the seqlock: a writer *process* updates
 * records and rings at full speed, every field derived from one counter;
 * reader processes check every copy they accept. 0 torn reads or fail. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

#define NSYM 4
#define HIST 8 /* small: readers get lapped all the time */
#define READERS 3

/* All fields are functions of v, so any mix of two writes is detectable. */
static struct stk_quote quote_of(uint64_t v)
{
    struct stk_quote q = {
        .price = (int64_t)v,
        .bid = (int64_t)(v * 3),
        .ask = (int64_t)(v * 5 + 1),
        .volume = v * 7,
        .src_ts_ns = v * 11,
        .pub_ts_ns = v * 13 + 1,
        .bid_size = (uint32_t)(v * 17),
        .ask_size = (uint32_t)(v * 19),
    };
    return q;
}

static int whole(const struct stk_quote *q)
{
    struct stk_quote e = quote_of((uint64_t)q->price);
    return q->bid == e.bid && q->ask == e.ask && q->volume == e.volume &&
           q->src_ts_ns == e.src_ts_ns && q->pub_ts_ns == e.pub_ts_ns &&
           q->bid_size == e.bid_size && q->ask_size == e.ask_size;
}

struct counts {
    uint64_t rec_ok, rec_torn, rec_busy, tick_ok, tick_torn, tick_lapped, hist_ok, hist_torn;
    uint64_t rec_backwards;
};

static double seconds(void)
{
    const char *s = getenv("STK_TORN_SECONDS");
    double d = s ? atof(s) : 3.0;
    return d > 0 ? d : 3.0;
}

static void writer(const struct stk_seg_params *p, uint64_t ns)
{
    struct stk_seg *w;
    if (stk_seg_attach_writer(p, &w, NULL) < 0)
        _exit(2);
    uint64_t end = stk_mono_ns() + ns;
    uint64_t n = NSYM; /* the first NSYM ticks were written by the parent */
    while (stk_mono_ns() < end) {
        stk_batch_begin(w);
        for (int i = 0; i < 64; i++, n++) {
            struct stk_quote q = quote_of(n);
            stk_tick_publish(w, (uint32_t)(n % NSYM), &q);
        }
        stk_batch_end(w, stk_now_ns());
    }
    _exit(0);
}

static void reader(const char *name, uint64_t ns, int fd)
{
    struct stk_seg *r;
    struct counts c = {0};
    struct stk_quote q, hist[HIST];
    uint64_t last[NSYM] = {0};
    if (stk_seg_open(name, &r) < 0)
        _exit(2);
    uint64_t end = stk_mono_ns() + ns, x = (uint64_t)getpid();
    while (stk_mono_ns() < end) {
        for (int rep = 0; rep < 256; rep++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t i = (uint32_t)(x % NSYM);
            /* latest record: whole, of its own symbol, never going back */
            int rc = stk_quote_read(r, i, &q);
            if (rc == 0) {
                uint64_t v = (uint64_t)q.price;
                if (!whole(&q) || v % NSYM != i)
                    c.rec_torn++;
                else
                    c.rec_ok++;
                if (v < last[i])
                    c.rec_backwards++;
                last[i] = v;
            } else if (rc == -EBUSY) {
                c.rec_busy++;
            }
            /* one ring tick: tick k of symbol i carries v = k*NSYM + i */
            uint64_t head = stk_ring_head(r, i);
            if (head > 0) {
                uint64_t k = head - 1 - (x >> 32) % HIST;
                if (k < head) {
                    rc = stk_tick_read(r, i, k, &q);
                    if (rc == 0)
                        (whole(&q) && (uint64_t)q.price == k * NSYM + i && q.seq == k)
                            ? c.tick_ok++
                            : c.tick_torn++;
                    else if (rc == -ESTALE)
                        c.tick_lapped++;
                }
            }
            /* now and then the last N ticks: consecutive and whole */
            if ((rep & 15) == 0) {
                int n = stk_history_read(r, i, hist, HIST);
                for (int j = 0; j < n; j++) {
                    int good = whole(&hist[j]) &&
                               (uint64_t)hist[j].price == hist[j].seq * NSYM + i &&
                               (j == 0 || hist[j].seq == hist[j - 1].seq + 1);
                    good ? c.hist_ok++ : c.hist_torn++;
                }
            }
        }
    }
    (void)!write(fd, &c, sizeof(c));
    _exit(0);
}

START_TEST(test_torn_reads_cross_process)
{
    const char *name = test_shm_name("torn");
    struct stk_seg_params p = {.name = name, .capacity = NSYM, .history = HIST, .mode = 0640};
    struct stk_seg *w;
    ck_assert_int_eq(stk_seg_attach_writer(&p, &w, NULL), 0);
    for (uint32_t i = 0; i < NSYM; i++) {
        char sym[8];
        snprintf(sym, sizeof(sym), "S%u", i);
        ck_assert_int_eq(stk_sym_add(w, sym), (int)i);
        struct stk_quote q = quote_of(i);
        stk_tick_publish(w, i, &q);
    }
    stk_seg_close(w); /* hand the flock to the writer process */

    uint64_t ns = (uint64_t)(seconds() * 1e9);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t wp = fork();
    ck_assert_int_ge(wp, 0);
    if (wp == 0)
        writer(&p, ns);
    pid_t rp[READERS];
    for (int k = 0; k < READERS; k++) {
        rp[k] = fork();
        ck_assert_int_ge(rp[k], 0);
        if (rp[k] == 0)
            reader(name, ns, fds[1]);
    }
    close(fds[1]);
    struct counts sum = {0}, c;
    for (int k = 0; k < READERS; k++) {
        ck_assert_int_eq(read(fds[0], &c, sizeof(c)), (ssize_t)sizeof(c));
        sum.rec_ok += c.rec_ok, sum.rec_torn += c.rec_torn, sum.rec_busy += c.rec_busy;
        sum.tick_ok += c.tick_ok, sum.tick_torn += c.tick_torn;
        sum.tick_lapped += c.tick_lapped, sum.hist_ok += c.hist_ok;
        sum.hist_torn += c.hist_torn, sum.rec_backwards += c.rec_backwards;
    }
    int status;
    for (int k = 0; k < READERS; k++) {
        waitpid(rp[k], &status, 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    waitpid(wp, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    struct stk_seg *r;
    ck_assert_int_eq(stk_seg_open(name, &r), 0);
    uint64_t ticks = atomic_load(&stk_seg_header(r)->ticks_total);
    stk_seg_close(r);
    printf("torn-read stress: %.1f s, %llu ticks written; records ok %llu torn %llu busy %llu "
           "backwards %llu; ring ticks ok %llu torn %llu lapped %llu; history ok %llu torn %llu\n",
           seconds(), (unsigned long long)ticks, (unsigned long long)sum.rec_ok,
           (unsigned long long)sum.rec_torn, (unsigned long long)sum.rec_busy,
           (unsigned long long)sum.rec_backwards, (unsigned long long)sum.tick_ok,
           (unsigned long long)sum.tick_torn, (unsigned long long)sum.tick_lapped,
           (unsigned long long)sum.hist_ok, (unsigned long long)sum.hist_torn);
    ck_assert_uint_eq(sum.rec_torn, 0);
    ck_assert_uint_eq(sum.tick_torn, 0);
    ck_assert_uint_eq(sum.hist_torn, 0);
    ck_assert_uint_eq(sum.rec_backwards, 0);
    /* the test only means something if both sides really ran */
    ck_assert_uint_gt(ticks, 100000);
    ck_assert_uint_gt(sum.rec_ok, 10000);
    ck_assert_uint_gt(sum.tick_ok, 1000);
    ck_assert_uint_gt(sum.hist_ok, 1000);
    stk_seg_unlink(name);
}
END_TEST

int main(void)
{
    const struct test_case tests[] = {
        {"concurrency", test_torn_reads_cross_process},
    };
    return TEST_TABLE_RUN("torn", tests);
}
