/* SPDX-License-Identifier: MIT */
/* ema_crossover.c — an example strategy in C on the libseqtick reader API:
 * seeds a fast and a slow EMA per ticker from the history ring, then sleeps
 * on the segment's futex, reads each ticker's latest quote when a batch lands
 * and prints BUY / SELL when the EMAs cross. Follows a replaced segment.
 *
 *   cc -O2 ema_crossover.c -I common -L build/common -lseqtick -o ema
 *   ./ema --shm /seqtick --seconds 30 AAPL MSFT
 *
 * It uses only seqtick.h and libseqtick.so, like any outside program. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seqtick.h"

#define MAX_TICKERS 64
#define HIST_SEED 64

struct book {
    const char *name;
    uint64_t last_seq; /* record seq of the last quote used */
    double fast, slow; /* EMAs */
    long n;            /* prices seen */
    int index;         /* in the current segment, -1 if not there (yet) */
    int side;          /* +1 fast above slow, -1 below, 0 unknown */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feed one price; print a signal if the EMAs crossed. */
static int feed(struct book *b, const struct stk_quote *q, double af, double as, bool quiet)
{
    double px = (double)q->price / (double)STK_PRICE_SCALE;
    if (b->n++ == 0) {
        b->fast = b->slow = px;
        return 0;
    }
    b->fast += af * (px - b->fast);
    b->slow += as * (px - b->slow);
    int side = (b->fast > b->slow) - (b->fast < b->slow);
    int crossed = side && b->side && side != b->side ? side : 0;
    if (side)
        b->side = side;
    if (crossed && !quiet) {
        char p[STK_DECIMAL_MAX];
        stk_decimal_format(q->price, p, sizeof(p));
        printf("%s %s at %s (fast EMA %.4f %c slow EMA %.4f)\n", crossed > 0 ? "BUY" : "SELL",
               b->name, p, b->fast, crossed > 0 ? '>' : '<', b->slow);
        fflush(stdout);
    }
    return crossed;
}

/* (Re)resolve every ticker in seg and seed its EMAs from the history ring. */
static void attach(struct stk_seg *seg, struct book *books, int n, double af, double as)
{
    struct stk_quote hist[HIST_SEED];
    for (int i = 0; i < n; i++) {
        struct book *b = &books[i];
        b->index = stk_seg_lookup(seg, b->name);
        b->last_seq = 0;
        b->n = 0;
        b->side = 0;
        if (b->index < 0)
            continue;
        int got = stk_history_read(seg, (uint32_t)b->index, hist, HIST_SEED);
        for (int k = 0; k < got; k++)
            feed(b, &hist[k], af, as, true);
    }
}

static int open_seg(const char *name, struct stk_seg **seg)
{
    int r = stk_seg_open(name, seg);
    if (r < 0)
        fprintf(stderr, "ema_crossover: fatal: unable to open segment '%s': %s\n", name,
                stk_strerror(r));
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shm", required_argument, NULL, 's'},  {"seconds", required_argument, NULL, 't'},
        {"fast", required_argument, NULL, 'f'}, {"slow", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *shm = "/seqtick";
    double seconds = 0, fast_n = 5, slow_n = 20;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            shm = optarg;
            break;
        case 't':
            seconds = atof(optarg);
            break;
        case 'f':
            fast_n = atof(optarg);
            break;
        case 'w':
            slow_n = atof(optarg);
            break;
        case 'h':
            printf("usage: ema_crossover [--shm NAME] [--seconds S] [--fast N] [--slow N] "
                   "[TICKER...]\n");
            return 0;
        default:
            return 100;
        }
    }
    if (!(fast_n >= 1 && slow_n > fast_n)) {
        fprintf(stderr, "ema_crossover: fatal: need 1 <= --fast < --slow\n");
        return 100;
    }
    double af = 2 / (fast_n + 1), as = 2 / (slow_n + 1);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct stk_seg *seg;
    if (open_seg(shm, &seg) < 0)
        return 111;
    /* Tickers: the arguments, or every symbol in the segment. */
    struct book books[MAX_TICKERS];
    int n = 0;
    for (int i = optind; i < argc && n < MAX_TICKERS; i++)
        books[n++] = (struct book){.name = argv[i]};
    for (uint32_t i = 0; optind == argc && i < stk_seg_nsymbols(seg) && n < MAX_TICKERS; i++)
        if (stk_seg_symbol(seg, i)) /* NULL: an entry that is no valid name */
            books[n++] = (struct book){.name = stk_seg_symbol(seg, i)};
    if (optind == argc) /* names point into the mapping: keep copies */
        for (int i = 0; i < n; i++)
            books[i].name = strdup(books[i].name);
    attach(seg, books, n, af, as);
    printf("ema_crossover: watching %d tickers on %s\n", n, shm);
    fflush(stdout);

    long signals = 0;
    double end = seconds > 0 ? now_s() + seconds : 0;
    uint64_t seen = stk_seg_epoch(seg);
    while (!stop_flag && (end == 0 || now_s() < end)) {
        int ms = 500;
        if (end > 0 && (end - now_s()) * 1000 < ms)
            ms = (int)((end - now_s()) * 1000) + 1;
        int r = stk_seg_wait(seg, seen, ms);
        if (r == -ESTALE || (r == -ETIMEDOUT && stk_seg_replaced(seg))) {
            /* Replaced (or shut down): re-open by name and start over. */
            struct stk_seg *nseg;
            if (stk_seg_open(shm, &nseg) == 0) {
                stk_seg_close(seg);
                seg = nseg;
                attach(seg, books, n, af, as);
                seen = stk_seg_epoch(seg);
                printf("ema_crossover: segment replaced, re-opened %s\n", shm);
                fflush(stdout);
            } else {
                struct timespec ts = {0, 100000000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (r < 0)
            continue; /* -ETIMEDOUT, -EINTR */
        seen = stk_seg_epoch(seg);
        for (int i = 0; i < n; i++) {
            struct book *b = &books[i];
            struct stk_quote q;
            if (b->index < 0 && (b->index = stk_seg_lookup(seg, b->name)) < 0)
                continue;
            if (stk_quote_read(seg, (uint32_t)b->index, &q) < 0 || q.seq == b->last_seq)
                continue;
            b->last_seq = q.seq;
            if (feed(b, &q, af, as, false))
                signals++;
        }
    }
    printf("ema_crossover: done: %ld signals\n", signals);
    stk_seg_close(seg);
    if (optind == argc)
        for (int i = 0; i < n; i++)
            free((char *)books[i].name);
    return 0;
}
