/* SPDX-License-Identifier: MIT */
/* test_writer.c — stk-test-writer: a tiny deterministic writer for the tools,
 * client and example tests. Every field of a tick is derived from one
 * per-symbol counter c (model() in toolstest.py), so a reader can prove a copy
 * is not torn; SIGUSR1 (or --replace-after-ms) replaces the segment. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "segment-private.h"
#include "util-private.h"

#define MAX_SYMS 256
#define TS_BASE 1700000000000000000ull

static volatile sig_atomic_t stop_flag, replace_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_replace(int sig)
{
    (void)sig;
    replace_flag = 1;
}

/* The model: symbol i, counter c >= 1, generation g of the segment (1 for the
 * first one this writer made, 2 after a replacement, ...). */
static void model(uint32_t i, uint64_t c, uint64_t g, struct stk_quote *q)
{
    uint64_t phase = c % 200;
    uint64_t tri = phase < 100 ? phase : 200 - phase;
    q->price = (int64_t)((100 + i) * 100000000ull + (g - 1) * 100000000000ull + tri * 1234567ull);
    q->bid = q->price - 1000000;
    q->ask = q->price + 1000000;
    q->volume = c * 100;
    q->src_ts_ns = TS_BASE + c * 1000;
    q->bid_size = (uint32_t)(c % 1000 + 1);
    q->ask_size = (uint32_t)(c % 1000 + 2);
}

static int split_symbols(char *list, char **out, int max)
{
    int n = 0;
    for (char *s = strtok(list, ","); s && n < max; s = strtok(NULL, ","))
        if (*s)
            out[n++] = s;
    return n;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_flag && !replace_flag)
        ;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: stk-test-writer --shm NAME [--symbols A,B,...] [--unwritten X,Y]\n"
               "       [--rate TICKS_PER_S (0 = full speed)] [--seconds S] [--count N]\n"
               "       [--capacity N] [--history N] [--replace-after-ms MS]\n"
               "       [--close (state closed at exit)] [--unlink (closed and removed)]\n"
               "       [--linger (after --count/--seconds, keep beating until SIGTERM)]\n"
               "Prints 'ready gen=G' after the first batch, 'replaced gen=G' after a\n"
               "replacement (SIGUSR1 or --replace-after-ms), 'done written=N' when it\n"
               "lingers.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shm", required_argument, NULL, 's'},
        {"symbols", required_argument, NULL, 'y'},
        {"unwritten", required_argument, NULL, 'u'},
        {"rate", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},
        {"capacity", required_argument, NULL, 'C'},
        {"history", required_argument, NULL, 'H'},
        {"replace-after-ms", required_argument, NULL, 'R'},
        {"unlink", no_argument, NULL, 'U'},
        {"close", no_argument, NULL, 'X'},
        {"linger", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *shm = NULL;
    char symbuf[4096] = "AAPL,MSFT,NVDA", unbuf[1024] = "";
    double rate = 1000, seconds = 0;
    uint64_t count = 0;
    long replace_ms = -1;
    uint32_t capacity = 64, history = 256;
    int unlink_at_exit = 0, close_at_exit = 0, linger = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            shm = optarg;
            break;
        case 'y':
            snprintf(symbuf, sizeof(symbuf), "%s", optarg);
            break;
        case 'u':
            snprintf(unbuf, sizeof(unbuf), "%s", optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 't':
            seconds = atof(optarg);
            break;
        case 'n':
            count = strtoull(optarg, NULL, 10);
            break;
        case 'C':
            capacity = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'H':
            history = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'R':
            replace_ms = atol(optarg);
            break;
        case 'U':
            unlink_at_exit = 1;
            break;
        case 'X':
            close_at_exit = 1;
            break;
        case 'L':
            linger = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (!shm) {
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    char *syms[MAX_SYMS], *unsyms[MAX_SYMS];
    int nsyms = split_symbols(symbuf, syms, MAX_SYMS);
    int nun = split_symbols(unbuf, unsyms, MAX_SYMS);

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_replace;
    sigaction(SIGUSR1, &sa, NULL);

    struct stk_seg_params p = {.name = shm, .capacity = capacity, .history = history, .mode = 0640};
    struct stk_seg *seg = NULL;
    uint64_t gen = 1;
    int idx[MAX_SYMS] = {0};
    uint64_t ctr[MAX_SYMS] = {0};
    uint64_t written = 0, start = stk_mono_ns(), last_beat = 0;
    int r;
    for (;;) {
        if (!seg || replace_flag) {
            /* A different history forces stk_seg_create_or_open() to build a
             * new file, rename it over the name and mark the old one closed. */
            if (seg)
                p.history *= 2;
            struct stk_seg *nseg;
            r = stk_seg_attach_writer(&p, &nseg, NULL);
            if (r < 0) {
                fprintf(stderr, "stk-test-writer: fatal: unable to attach '%s': %s\n", shm,
                        stk_strerror(r));
                return STK_EXIT_SYSTEM;
            }
            if (seg)
                gen++;
            stk_seg_close(seg);
            seg = nseg;
            for (int i = 0; i < nsyms + nun; i++) {
                r = stk_sym_add(seg, i < nsyms ? syms[i] : unsyms[i - nsyms]);
                if (r < 0) {
                    fprintf(stderr, "stk-test-writer: fatal: unable to add symbol: %s\n",
                            stk_strerror(r));
                    return STK_EXIT_SYSTEM;
                }
                if (i < nsyms)
                    idx[i] = r;
            }
            if (replace_flag) {
                replace_flag = 0;
                printf("replaced gen=%llu\n", (unsigned long long)gen);
                fflush(stdout);
            }
        }
        stk_batch_begin(seg);
        uint64_t now = stk_now_ns();
        for (int i = 0; i < nsyms; i++) {
            struct stk_quote q;
            model((uint32_t)idx[i], ++ctr[i], gen, &q);
            q.pub_ts_ns = now;
            stk_tick_publish(seg, (uint32_t)idx[i], &q);
            written++;
        }
        stk_batch_end(seg, now);
        uint64_t mono = stk_mono_ns();
        if (mono - last_beat > 100000000u) {
            stk_seg_heartbeat(seg, now);
            last_beat = mono;
        }
        if (written == (uint64_t)nsyms) {
            printf("ready gen=%llu\n", (unsigned long long)gen);
            fflush(stdout);
        }
        double el = (double)(mono - start) / 1e9;
        if (stop_flag || (seconds > 0 && el >= seconds) || (count && written >= count))
            break;
        if (replace_ms >= 0 && el * 1000 >= (double)replace_ms) {
            replace_ms = -1;
            replace_flag = 1;
        }
        if (rate > 0) {
            double due = (double)written / rate;
            if (due > el)
                sleep_ns((uint64_t)((due - el) * 1e9));
        }
    }
    if (linger && !stop_flag) {
        /* quiet but alive: the quotes stay fresh while their age grows */
        printf("done written=%llu\n", (unsigned long long)written);
        fflush(stdout);
        while (!stop_flag) {
            stk_seg_heartbeat(seg, stk_now_ns());
            sleep_ns(50000000u);
        }
    }
    if (unlink_at_exit || close_at_exit)
        stk_seg_set_state(seg, STK_STATE_CLOSED);
    if (unlink_at_exit)
        (void)stk_seg_unlink(shm);
    stk_seg_close(seg);
    return 0;
}
