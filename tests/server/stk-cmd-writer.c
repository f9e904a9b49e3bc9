/* SPDX-License-Identifier: MIT */
/* stk-cmd-writer.c — a tiny deterministic segment writer for the server's
 * tests (stands in for seqtick-producer): fixed prices, a given tick rate,
 * heartbeats, and a stdin command mode for exact scenarios. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "segment-private.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: stk-cmd-writer --shm NAME --symbols A,B [--capacity N] [--history N]\n"
                    "       [--rate TICKS_PER_S] [--heartbeat-ms MS] [--stdin] [--unlink]\n"
                    "stdin commands: tick SYM PRICE | burst N | hb_off | hb_on | close | quit\n");
}

static struct stk_seg *seg;
static uint64_t volume;

static void publish(uint32_t idx, int64_t price)
{
    struct stk_quote q = {0};
    q.price = price;
    q.bid = price >= INT64_MIN + 1000000 ? price - 1000000 : price;
    q.ask = price <= INT64_MAX - 1000000 ? price + 1000000 : price;
    q.bid_size = 100 + idx;
    q.ask_size = 200 + idx;
    q.volume = ++volume * 10;
    q.src_ts_ns = stk_now_ns();
    q.pub_ts_ns = q.src_ts_ns;
    stk_tick_publish(seg, idx, &q);
}

int main(int argc, char **argv)
{
    const char *name = NULL, *symbols = NULL;
    uint32_t capacity = 64, history = 64;
    double rate = 0;
    int hb_ms = 100, use_stdin = 0, unlink_at_exit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--stdin")) {
            use_stdin = 1;
        } else if (!strcmp(a, "--unlink")) {
            unlink_at_exit = 1;
        } else if (!v) {
            usage();
            return 100;
        } else if (!strcmp(a, "--shm")) {
            name = v, i++;
        } else if (!strcmp(a, "--symbols")) {
            symbols = v, i++;
        } else if (!strcmp(a, "--capacity")) {
            capacity = (uint32_t)atoi(v), i++;
        } else if (!strcmp(a, "--history")) {
            history = (uint32_t)atoi(v), i++;
        } else if (!strcmp(a, "--rate")) {
            rate = atof(v), i++;
        } else if (!strcmp(a, "--heartbeat-ms")) {
            hb_ms = atoi(v), i++;
        } else {
            usage();
            return 100;
        }
    }
    if (!name || !symbols) {
        usage();
        return 100;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    struct stk_seg_params p = {
        .name = name, .capacity = capacity, .history = history, .mode = 0600};
    enum stk_seg_how how;
    int r = stk_seg_attach_writer(&p, &seg, &how);
    if (r < 0) {
        fprintf(stderr, "stk-cmd-writer: fatal: attach %s: %s\n", name, stk_strerror(r));
        return 111;
    }
    char *list = strdup(symbols);
    uint32_t nsym = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (stk_sym_add(seg, t) < 0) {
            fprintf(stderr, "stk-cmd-writer: fatal: bad symbol '%s'\n", t);
            return 100;
        }
        nsym++;
    }
    free(list);
    /* first batch: symbol i at (100 + i).25 */
    stk_batch_begin(seg);
    for (uint32_t i = 0; i < nsym; i++)
        publish(i, (int64_t)(100 + i) * STK_PRICE_SCALE + 25000000);
    stk_batch_end(seg, stk_now_ns());
    stk_seg_heartbeat(seg, stk_now_ns());
    printf("ready %s %d\n", name, (int)how);
    fflush(stdout);

    uint64_t next_hb = stk_mono_ns(), next_tick = stk_mono_ns(), k = 0;
    uint64_t tick_ns = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
    char line[256];
    size_t ll = 0;
    while (!stop) {
        uint64_t now = stk_mono_ns();
        if (hb_ms > 0 && now >= next_hb) {
            stk_seg_heartbeat(seg, stk_now_ns());
            next_hb = now + (uint64_t)hb_ms * 1000000u;
        }
        if (tick_ns && now >= next_tick && nsym) {
            uint32_t i = (uint32_t)(k % nsym);
            stk_batch_begin(seg);
            publish(i, (int64_t)(100 + i) * STK_PRICE_SCALE + 25000000 +
                           (int64_t)((k / nsym) % 100) * 1000000);
            stk_batch_end(seg, stk_now_ns());
            k++;
            next_tick += tick_ns;
            if (next_tick + 100 * tick_ns < now)
                next_tick = now; /* fell behind: do not burst */
            continue;
        }
        int wait_ms = 5;
        if (!tick_ns)
            wait_ms = hb_ms > 0 ? hb_ms / 2 + 1 : 50;
        if (!use_stdin) {
            struct timespec ts = {0, (long)wait_ms * 1000000L};
            if (tick_ns) {
                uint64_t left = next_tick > now ? next_tick - now : 0;
                ts.tv_nsec = (long)(left < 5000000 ? left : 5000000);
            }
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, tick_ns ? 1 : wait_ms) <= 0)
            continue;
        ssize_t n = read(0, line + ll, sizeof(line) - 1 - ll);
        if (n <= 0)
            break;
        ll += (size_t)n;
        line[ll] = 0;
        char *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            char sym[64], price[64];
            long cnt;
            if (sscanf(line, "tick %63s %63s", sym, price) == 2) {
                int64_t v;
                int idx = stk_seg_lookup(seg, sym);
                if (idx < 0)
                    idx = stk_sym_add(seg, sym);
                if (idx >= 0 && stk_decimal_parse(price, strlen(price), &v) == 0) {
                    stk_batch_begin(seg);
                    publish((uint32_t)idx, v);
                    stk_batch_end(seg, stk_now_ns());
                }
            } else if (sscanf(line, "burst %ld", &cnt) == 1) {
                /* cnt batches of one tick each for every symbol */
                for (long b = 0; b < cnt; b++) {
                    stk_batch_begin(seg);
                    for (uint32_t i = 0; i < stk_seg_nsymbols(seg); i++)
                        publish(i, (int64_t)(100 + i) * STK_PRICE_SCALE + (b % 1000) * 1000000);
                    stk_batch_end(seg, stk_now_ns());
                }
            } else if (!strcmp(line, "hb_off")) {
                hb_ms = -hb_ms;
            } else if (!strcmp(line, "hb_on")) {
                hb_ms = hb_ms < 0 ? -hb_ms : hb_ms;
            } else if (!strcmp(line, "close")) {
                stk_seg_set_state(seg, STK_STATE_CLOSED);
            } else if (!strcmp(line, "quit")) {
                stop = 1;
            }
            printf("ok %s\n", line);
            fflush(stdout);
            size_t used = (size_t)(nl - line) + 1;
            memmove(line, nl + 1, ll - used + 1);
            ll -= used;
        }
        if (ll >= sizeof(line) - 1)
            ll = 0;
    }
    if (unlink_at_exit)
        stk_seg_unlink(name);
    stk_seg_close(seg);
    return 0;
}
