/* SPDX-License-Identifier: MIT */
/* cli_top.c — `seqtick top`: a refreshing view of every symbol (price, change
 * since top started, bid/ask, age, ticks/s from the ring heads). On a
 * terminal it uses the alternate screen and quits on q or Ctrl-C; --once,
 * --iterations N and --json print plain frames (JSON: one object a line). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli_private.h"
#include "util-private.h"

#define FIRST_SAMPLE_MS 200 /* window of the first frame's ticks/s */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct top {
    struct stk_cli *cli;
    struct stk_seg *seg;
    uint32_t cap;
    int64_t *first;      /* first price seen per symbol (0: none yet) */
    uint64_t *prev_head; /* ring head at the previous sample */
    double *rate;        /* ticks/s over the last interval */
    uint64_t prev_ticks, prev_mono;
    double total_rate;
    bool interactive, keys, retired;
    struct termios saved;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int top_attach(struct top *t, struct stk_seg *seg)
{
    uint32_t cap = stk_seg_header(seg)->capacity;
    int64_t *first = calloc(cap, sizeof(*first));
    uint64_t *head = calloc(cap, sizeof(*head));
    double *rate = calloc(cap, sizeof(*rate));
    if (!first || !head || !rate) {
        free(first);
        free(head);
        free(rate);
        return -ENOMEM;
    }
    stk_seg_close(t->seg);
    free(t->first);
    free(t->prev_head);
    free(t->rate);
    t->seg = seg;
    t->cap = cap;
    t->first = first;
    t->prev_head = head;
    t->rate = rate;
    t->prev_mono = 0;
    t->retired = false;
    return 0;
}

/* Take a sample: per-symbol ticks/s from the ring heads since the last one. */
static void sample(struct top *t)
{
    uint64_t now = mono_ns();
    uint32_t n = stk_seg_nsymbols(t->seg);
    double dt = t->prev_mono ? (double)(now - t->prev_mono) / 1e9 : 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h = stk_ring_head(t->seg, i);
        t->rate[i] = dt > 0 ? (double)(h - t->prev_head[i]) / dt : 0;
        t->prev_head[i] = h;
    }
    uint64_t ticks = atomic_load(&stk_seg_header(t->seg)->ticks_total);
    t->total_rate = dt > 0 ? (double)(ticks - t->prev_ticks) / dt : 0;
    t->prev_ticks = ticks;
    t->prev_mono = now;
}

/* Follow a replaced segment: re-open by name; keep the old one if none. */
static void follow(struct top *t)
{
    if (!stk_seg_replaced(t->seg))
        return;
    struct stk_seg *seg;
    if (stk_cli_open_quiet(t->cli, &seg) < 0) {
        t->retired = true;
        return;
    }
    if (top_attach(t, seg) < 0) {
        stk_seg_close(seg);
        t->retired = true;
        return;
    }
    sample(t);
}

static int term_rows(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 4)
        return ws.ws_row;
    return 24;
}

static void frame_text(struct top *t)
{
    struct stk_seg *seg = t->seg;
    const struct stk_header *h = stk_seg_header(seg);
    uint32_t n = stk_seg_nsymbols(seg);
    uint64_t now = stk_cli_now_ns();
    char a[16];
    if (t->interactive)
        fputs("\x1b[H", stdout);
    printf(
        "seqtick top  %s  gen %llu  %s%s  %u symbols  epoch %llu  heartbeat %s  %.0f ticks/s%s\n",
        t->cli->shm, (unsigned long long)atomic_load(&h->generation),
        stk_cli_state_name(atomic_load(&h->state)), t->retired ? " (retired, no successor)" : "", n,
        (unsigned long long)stk_seg_epoch(seg),
        stk_cli_age(stk_seg_heartbeat_age_ns(seg), a, sizeof(a)), t->total_rate,
        t->interactive ? "   (q quits)\x1b[K" : ""); /* clear what a longer header left */
    printf("%-12s %14s %13s %8s %14s %14s %8s %9s\n", "SYMBOL", "PRICE", "CHANGE", "CHG%", "BID",
           "ASK", "AGE", "TICKS/S");
    uint32_t rows = n;
    if (t->interactive && rows > (uint32_t)term_rows() - 3)
        rows = (uint32_t)term_rows() - 3;
    for (uint32_t i = 0; i < rows; i++) {
        const char *name = stk_seg_symbol(seg, i); /* validated, or NULL: not shown */
        struct stk_quote q;
        if (!name)
            continue;
        int r = stk_quote_read(seg, i, &q);
        if (r < 0) {
            printf("%-12s %14s   (%s)%s\n", name, "-", stk_strerror(r),
                   t->interactive ? "\x1b[K" : "");
            continue;
        }
        if (!t->first[i])
            t->first[i] = q.price;
        char p[STK_DECIMAL_MAX], c[STK_DECIMAL_MAX + 1], b[STK_DECIMAL_MAX], k[STK_DECIMAL_MAX];
        int64_t d = q.price - t->first[i];
        c[0] = d > 0 ? '+' : 0;
        stk_cli_dec(d, c + (d > 0));
        double pct = t->first[i] ? 100.0 * (double)d / (double)t->first[i] : 0;
        uint64_t age = q.pub_ts_ns && now > q.pub_ts_ns ? now - q.pub_ts_ns : 0;
        printf("%-12s %14s %13s %+7.2f%% %14s %14s %8s %9.1f%s\n", name, stk_cli_dec(q.price, p), c,
               pct, stk_cli_dec(q.bid, b), stk_cli_dec(q.ask, k), stk_cli_age(age, a, sizeof(a)),
               t->rate[i], t->interactive ? "\x1b[K" : "");
    }
    if (rows < n)
        printf("... %u more (enlarge the terminal)%s\n", n - rows, t->interactive ? "\x1b[K" : "");
    if (t->interactive)
        fputs("\x1b[J", stdout);
    else
        putchar('\n');
    fflush(stdout);
}

static void frame_json(struct top *t)
{
    struct stk_seg *seg = t->seg;
    const struct stk_header *h = stk_seg_header(seg);
    uint32_t n = stk_seg_nsymbols(seg);
    uint64_t now = stk_cli_now_ns();
    uint64_t hb = stk_seg_heartbeat_age_ns(seg);
    printf("{\"shm\":");
    stk_cli_json_str(stdout, t->cli->shm);
    printf(",\"generation\":%llu,\"state\":\"%s\",\"retired\":%s,\"epoch\":%llu,"
           "\"heartbeat_age_ms\":",
           (unsigned long long)atomic_load(&h->generation),
           stk_cli_state_name(atomic_load(&h->state)), t->retired ? "true" : "false",
           (unsigned long long)stk_seg_epoch(seg));
    if (hb == UINT64_MAX)
        printf("null");
    else
        printf("%llu", (unsigned long long)(hb / 1000000u));
    printf(",\"ticks_per_s\":%.1f,\"quotes\":[", t->total_rate);
    uint32_t shown = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = stk_seg_symbol(seg, i); /* validated, or NULL: not shown */
        struct stk_quote q;
        if (!name)
            continue;
        int r = stk_quote_read(seg, i, &q);
        printf("%s{", shown++ ? "," : "");
        if (r < 0) {
            printf("\"ticker\":");
            stk_cli_json_str(stdout, name);
            printf(",\"error\":\"%s\"}", r == -ENODATA ? "NO_DATA"
                                         : r == -EBUSY ? "BUSY"
                                                       : "UNAVAILABLE");
            continue;
        }
        if (!t->first[i])
            t->first[i] = q.price;
        char c[STK_DECIMAL_MAX];
        int64_t d = q.price - t->first[i];
        stk_cli_json_quote(stdout, t->cli, seg, name, &q, now);
        printf(",\"change\":%s,\"change_pct\":%.4f,\"ticks_per_s\":%.1f}", stk_cli_dec(d, c),
               t->first[i] ? 100.0 * (double)d / (double)t->first[i] : 0.0, t->rate[i]);
    }
    printf("]}\n");
    fflush(stdout);
}

/* Sleep up to ms; returns true if the user asked to quit (q, Ctrl-C). */
static bool pause_ms(struct top *t, long ms)
{
    uint64_t end = mono_ns() + (uint64_t)ms * 1000000u;
    while (!stop_flag) {
        uint64_t now = mono_ns();
        if (now >= end)
            return false;
        int left = (int)((end - now + 999999u) / 1000000u);
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&pfd, t->keys ? 1 : 0, left);
        if (r > 0) {
            char ch;
            ssize_t got = read(STDIN_FILENO, &ch, 1);
            if (got == 1 && (ch == 'q' || ch == 'Q'))
                return true;
            if (got == 0) /* stdin closed: keys no longer */
                t->keys = false;
        }
    }
    return true;
}

static void term_enter(struct top *t)
{
    if (t->keys && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
        struct termios raw = t->saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        t->keys = false;
    }
    if (t->interactive)
        fputs("\x1b[?1049h\x1b[?25l\x1b[2J", stdout);
}

static void term_leave(struct top *t)
{
    if (t->interactive) {
        fputs("\x1b[?25h\x1b[?1049l", stdout);
        fflush(stdout);
    }
    if (t->keys)
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

int stk_cli_top(struct stk_cli *cli)
{
    struct top t = {.cli = cli};
    struct stk_seg *seg;
    if (stk_cli_open(cli, &seg) < 0)
        return STK_EXIT_SYSTEM;
    if (top_attach(&t, seg) < 0) {
        stk_seg_close(seg);
        fprintf(stderr, "seqtick: fatal: out of memory\n");
        return STK_EXIT_SYSTEM;
    }
    long frames = cli->once ? 1 : cli->iterations; /* 0: until q / Ctrl-C */
    t.interactive = !cli->json && !cli->once && isatty(STDOUT_FILENO);
    t.keys = t.interactive && isatty(STDIN_FILENO);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    /* SA_RESTART: a Ctrl-C in the middle of drawing a frame must not fail the
     * write (stdio would drop the rest and report an error, exit 111); poll()
     * in pause_ms() still returns EINTR, and stop_flag ends the loop. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    term_enter(&t);
    sample(&t);
    bool quit =
        pause_ms(&t, cli->interval_ms < FIRST_SAMPLE_MS ? cli->interval_ms : FIRST_SAMPLE_MS);
    for (long f = 0; !quit && (frames == 0 || f < frames); f++) {
        if (f > 0 && pause_ms(&t, cli->interval_ms))
            break;
        follow(&t);
        sample(&t);
        if (cli->json)
            frame_json(&t);
        else
            frame_text(&t);
        if (ferror(stdout))
            break;
    }
    term_leave(&t);
    int rc = ferror(stdout) ? STK_EXIT_SYSTEM : 0;
    stk_seg_close(t.seg);
    free(t.first);
    free(t.prev_head);
    free(t.rate);
    return rc;
}
