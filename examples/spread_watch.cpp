/* SPDX-License-Identifier: MIT */
/* spread_watch.cpp — an example strategy in C++ on the libseqtick reader API:
 * follows each ticker's bid/ask spread in basis points of the mid, sleeps on
 * the segment's futex between producer batches, and prints WIDE when a spread
 * widens beyond --bps and NARROW when it comes back. Waits for a segment that
 * does not exist yet and follows a replaced one.
 *
 *   c++ -O2 -std=c++17 spread_watch.cpp $(pkg-config --cflags --libs seqtick) -o spread_watch
 *   ./spread_watch --shm /seqtick --bps 2 --seconds 30 AAPL MSFT
 *
 * It uses only seqtick.h and libseqtick.so, like any outside program; the
 * quotes are copied with the header's inline seqlock reader (stk_record_load),
 * which C++ compiles with std::atomic and the same memory orders as C. */
#include <getopt.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "seqtick.h"

namespace
{

using Clock = std::chrono::steady_clock;

/* A segment handle that closes itself. */
struct SegClose {
    void operator()(stk_seg *seg) const
    {
        stk_seg_close(seg);
    }
};
using Segment = std::unique_ptr<stk_seg, SegClose>;

struct Ticker {
    std::string name;
    int index = -1;        /* in the current segment, -1 if not there (yet) */
    uint64_t last_seq = 0; /* record seq of the last quote used */
    int wide = -1;         /* 1 above the threshold, 0 at or below, -1 unknown */
    long quotes = 0, widenings = 0;
    double min_bps = 0, max_bps = 0;
};

volatile std::sig_atomic_t stop_flag;

void on_signal(int)
{
    stop_flag = 1;
}

/* One line to stdout, flushed: a pipe under the supervisor is block-buffered. */
void say(const std::string &line)
{
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
}

std::string decimal(int64_t v)
{
    char buf[STK_DECIMAL_MAX];
    stk_decimal_format(v, buf, sizeof(buf));
    return buf;
}

void sleep_ms(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

/* Open `name` if it names a segment that is not retired (header state
 * closed: a producer may attach to it again). Returns the handle, or an
 * empty one with *err = 0 (no segment, or a retired one) or the open error. */
Segment open_live(const std::string &name, int *err)
{
    stk_seg *raw = nullptr;
    int r = stk_seg_open(name.c_str(), &raw);
    Segment seg(raw);
    *err = r == -ENOENT ? 0 : r;
    if (r == 0 && STK_LOAD(&stk_seg_header(raw)->state, acquire) == STK_STATE_CLOSED)
        seg.reset();
    return seg;
}

/* Spread of q in basis points of the mid; false for a one-sided or crossed
 * book (no bid, no ask, ask < bid), which has no spread to watch. */
bool spread_bps(const stk_quote &q, double *bps)
{
    if (q.bid <= 0 || q.ask <= 0 || q.ask < q.bid)
        return false;
    *bps = 2e4 * static_cast<double>(q.ask - q.bid) /
           (static_cast<double>(q.bid) + static_cast<double>(q.ask));
    return true;
}

/* One new quote of t: print WIDE when the spread goes above the threshold,
 * NARROW when it comes back to it or below. Returns 1 for a widening. */
int feed(Ticker &t, const stk_quote &q, double threshold)
{
    double bps;
    if (!spread_bps(q, &bps))
        return 0;
    if (t.quotes++ == 0 || bps < t.min_bps)
        t.min_bps = bps;
    if (bps > t.max_bps)
        t.max_bps = bps;
    int wide = bps > threshold;
    int widened = wide && t.wide != 1;
    if (wide != t.wide && (wide || t.wide == 1)) {
        std::printf("%s %s %.2f bps %s %g (bid %s ask %s)\n", wide ? "WIDE" : "NARROW",
                    t.name.c_str(), bps, wide ? ">" : "<=", threshold, decimal(q.bid).c_str(),
                    decimal(q.ask).c_str());
        std::fflush(stdout);
    }
    t.wide = wide;
    t.widenings += widened;
    return widened;
}

/* Read every ticker whose record changed since the last look. The seq word
 * is checked first (one acquire load, STK_LOAD from the header), then the
 * record copied under its seqlock by the inline reader; a writer preempted
 * mid-write outlasts its spins, so -EBUSY falls back to the library's more
 * patient stk_quote_read(). The spread state survives a segment switch. */
long read_changed(stk_seg *seg, std::vector<Ticker> &tickers, double threshold)
{
    long widened = 0;
    for (Ticker &t : tickers) {
        if (t.index < 0 && (t.index = stk_seg_lookup(seg, t.name.c_str())) < 0)
            continue;
        auto i = static_cast<uint32_t>(t.index);
        const stk_record *rec = stk_seg_record(seg, i);
        if (STK_LOAD(&rec->seq, acquire) == t.last_seq)
            continue;
        stk_quote q;
        int r = stk_record_load(rec, &q);
        if (r == -EBUSY)
            r = stk_quote_read(seg, i, &q);
        if (r < 0 || q.seq == t.last_seq)
            continue;
        t.last_seq = q.seq;
        widened += feed(t, q, threshold);
    }
    return widened;
}

void attach(stk_seg *seg, std::vector<Ticker> &tickers)
{
    for (Ticker &t : tickers) {
        t.index = stk_seg_lookup(seg, t.name.c_str());
        t.last_seq = 0;
    }
}

bool parse_double(const char *s, double *ret)
{
    char *end;
    errno = 0;
    double v = std::strtod(s, &end);
    if (end == s || *end || errno)
        return false;
    *ret = v;
    return true;
}

void usage(std::FILE *f)
{
    std::fprintf(f, "usage: spread_watch [--shm NAME] [--seconds S] [--bps X] [TICKER...]\n"
                    "  --shm NAME    segment (default $SEQTICK_SHM or /seqtick)\n"
                    "  --seconds S   stop after S seconds (default: until SIGTERM/SIGINT)\n"
                    "  --bps X       spread threshold in basis points of the mid (default 2)\n"
                    "  TICKER...     tickers to watch (default: every ticker in the segment)\n");
}

} /* namespace */

int main(int argc, char **argv)
{
    static const option opts[] = {
        {"shm", required_argument, nullptr, 's'},
        {"seconds", required_argument, nullptr, 't'},
        {"bps", required_argument, nullptr, 'b'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    const char *env_shm = std::getenv("SEQTICK_SHM");
    std::string shm = env_shm && *env_shm ? env_shm : "/seqtick";
    double seconds = 0, threshold = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, nullptr)) != -1) {
        switch (c) {
        case 's':
            shm = optarg;
            break;
        case 't':
            if (!parse_double(optarg, &seconds) || seconds < 0) {
                std::fprintf(stderr, "spread_watch: fatal: bad --seconds '%s'\n", optarg);
                return 100;
            }
            break;
        case 'b':
            if (!parse_double(optarg, &threshold) || !(threshold > 0)) {
                std::fprintf(stderr, "spread_watch: fatal: --bps needs a number > 0, not '%s'\n",
                             optarg);
                return 100;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 100;
        }
    }
    struct sigaction sa = {};
    sa.sa_handler = on_signal; /* no SA_RESTART: the futex wait returns -EINTR */
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    Clock::time_point end;
    if (seconds > 0)
        end = Clock::now() +
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    /* Wait for the segment: the producer may start after us. */
    int err;
    Segment seg = open_live(shm, &err);
    if (!seg && !err)
        say("spread_watch: waiting for the segment " + shm + "\n");
    while (!seg && !err && !stop_flag && (seconds == 0 || Clock::now() < end)) {
        sleep_ms(100);
        seg = open_live(shm, &err);
    }
    if (err) {
        std::fprintf(stderr, "spread_watch: fatal: unable to open segment '%s': %s\n", shm.c_str(),
                     stk_strerror(err));
        return 111;
    }
    if (!seg && !stop_flag) {
        std::fprintf(stderr, "spread_watch: fatal: no segment '%s' within %g s\n", shm.c_str(),
                     seconds);
        return 111;
    }
    /* Tickers: the arguments, or every symbol in the segment (copied: the
     * names in the table live in the mapping). */
    std::vector<Ticker> tickers;
    for (int i = optind; i < argc; i++)
        tickers.push_back(Ticker{argv[i]});
    for (uint32_t i = 0; seg && optind == argc && i < stk_seg_nsymbols(seg.get()); i++)
        if (const char *name = stk_seg_symbol(seg.get(), i)) // NULL: no valid name
            tickers.push_back(Ticker{name});
    long widenings = 0;
    uint64_t seen = 0;
    if (seg) {
        attach(seg.get(), tickers);
        std::printf("spread_watch: watching %zu tickers on %s (spread > %g bps)\n", tickers.size(),
                    shm.c_str(), threshold);
        std::fflush(stdout);
        seen = stk_seg_epoch(seg.get());
        widenings += read_changed(seg.get(), tickers, threshold);
    }

    bool retired = false;
    while (seg && !stop_flag && (seconds == 0 || Clock::now() < end)) {
        int ms = 500;
        if (seconds > 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
            if (left.count() < ms) /* never 0 or less: < 0 would wait forever */
                ms = left.count() > 0 ? static_cast<int>(left.count()) + 1 : 1;
        }
        int r = stk_seg_wait(seg.get(), seen, ms);
        if (r == -ESTALE || (r == -ETIMEDOUT && stk_seg_replaced(seg.get()))) {
            /* Retired (replaced or shut down): re-open by name once a live
             * segment is there; indices are per segment, look names up again. */
            Segment next = open_live(shm, &err);
            if (!next) {
                if (!retired)
                    say("spread_watch: segment " + shm + " retired, waiting for a live one\n");
                retired = true;
                sleep_ms(100);
                continue;
            }
            seg = std::move(next);
            retired = false;
            attach(seg.get(), tickers);
            seen = stk_seg_epoch(seg.get());
            say("spread_watch: segment replaced, re-opened " + shm + "\n");
            widenings += read_changed(seg.get(), tickers, threshold);
            continue;
        }
        if (r < 0)
            continue; /* -ETIMEDOUT, -EINTR */
        seen = stk_seg_epoch(seg.get());
        widenings += read_changed(seg.get(), tickers, threshold);
    }

    for (const Ticker &t : tickers)
        std::printf("spread_watch: %s: %ld quotes, spread %.2f..%.2f bps, %ld widenings\n",
                    t.name.c_str(), t.quotes, t.min_bps, t.max_bps, t.widenings);
    std::printf("spread_watch: done: %ld widenings over %zu tickers\n", widenings, tickers.size());
    return 0;
}
