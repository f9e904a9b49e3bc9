/* SPDX-License-Identifier: MIT */
/* producer.h — seqtick-producer's logic as a library: the GBM simulator, the
 * CSV replay reader, the JSON-line ingest parser and the producer loop that
 * writes them into the segment. main.c, the tests and seqtick-bench use it. */
#ifndef SEQTICK_PRODUCER_H
#define SEQTICK_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config-private.h"
#include "seqtick.h"

/* ---- sim: correlated geometric Brownian motion -------------------------- */

/* Seconds in the year that annualised drift and volatility refer to. */
#define STK_SIM_YEAR_S 31557600.0

struct stk_sim_params {
    size_t nsymbols;
    const char *const *symbols; /* names: pick plausible starting prices */
    const double *mu;           /* per-symbol annual drift, or NULL: `drift` */
    const double *sigma;        /* per-symbol annual volatility, or NULL: `volatility` */
    double drift, volatility;   /* used where the arrays are NULL */
    double rho;                 /* pairwise correlation of the symbols' returns */
    const double *corr;         /* or a whole n × n correlation matrix (row-major),
                                 * n <= STK_SIM_MATRIX_MAX; NULL: rho everywhere */
    double dt_years;            /* model time of one round (one tick per symbol) */
    uint64_t seed;
};

struct stk_sim;

/* Most symbols a whole correlation matrix may cover: its factor takes
 * n²/2 doubles and a tick of symbol i costs i multiply-adds. */
#define STK_SIM_MATRIX_MAX 1024

/* Build a simulator. The correlation matrix is factored by Cholesky. For
 * the equicorrelation matrix (1 on the diagonal, rho off it) the factor has
 * one value per column below the diagonal, so a tick costs O(1) whatever the
 * number of symbols; a whole matrix (p->corr) is factored in full and a tick
 * of symbol i costs O(i). Returns 0 and *ret; -EINVAL no symbols or bad
 * numbers; -EDOM the matrix is not positive definite (for rho alone: rho <=
 * -1/(n-1)); -E2BIG a whole matrix over STK_SIM_MATRIX_MAX symbols;
 * -ENOMEM. */
int stk_sim_new(const struct stk_sim_params *p, struct stk_sim **ret);

/* Free; NULL is a no-op. */
void stk_sim_free(struct stk_sim *sim);

/* The next tick: symbols take turns (0, 1, ... n-1, 0, ...); all the ticks
 * of one round share one correlated draw. Fills q (price, bid < ask, sizes
 * > 0, cumulative volume; seq, timestamps left 0) and returns the symbol's
 * index. Same seed, same sequence, on any libc. */
uint32_t stk_sim_step(struct stk_sim *sim, struct stk_quote *q);

/* Continue symbol i from a price and cumulative volume already in the
 * segment (warm restart), instead of its starting price. */
void stk_sim_resume(struct stk_sim *sim, uint32_t i, int64_t price, uint64_t volume);

/* The Cholesky factor of the equicorrelation matrix for n symbols and rho,
 * as the two vectors stk_sim uses: L[i][j] = col[j] for i > j, L[i][i] =
 * diag[i]. Returns 0, or -EDOM if the matrix is not positive definite. */
int stk_sim_cholesky(size_t n, double rho, double *col, double *diag);

/* The Cholesky factor L of a whole symmetric n × n matrix r (row-major),
 * packed by rows: L[i][j] (j <= i) at l[i(i+1)/2 + j]. Returns 0, or -EDOM
 * if r is not positive definite. */
int stk_sim_cholesky_full(size_t n, const double *r, double *l);

/* Deterministic starting price (× 10^8) for a symbol name: a table of well
 * known tickers, else a value in 20..520 derived from the name. */
int64_t stk_sim_start_price(const char *symbol);

/* ---- csv: replay files in timestamp order ------------------------------- */

enum stk_time_unit { STK_UNIT_AUTO = 0, STK_UNIT_S, STK_UNIT_MS, STK_UNIT_US, STK_UNIT_NS };

/* "auto", "s", "ms", "us", "ns" → unit, or -EINVAL. */
int stk_time_unit_parse(const char *s);

/* One parsed CSV row: timestamp,symbol,price,volume[,bid,ask,bid_size,ask_size]. */
struct stk_csv_row {
    char symbol[STK_NAME_MAX + 1];
    struct stk_quote q; /* src_ts_ns set; bid/ask = price when absent */
};

/* Parse one CSV line (no newline). `unit` may be STK_UNIT_AUTO, decided
 * from the integer part's magnitude (< 1e11 s, < 1e14 ms, < 1e17 us, else
 * ns). Returns 0; -ENOMSG for a header line (first field not a number,
 * allowed only when `first` is true); -EINVAL with *why set to a static
 * reason otherwise. */
int stk_csv_parse_row(const char *line, size_t len, enum stk_time_unit unit, bool first,
                      struct stk_csv_row *row, const char **why);

struct stk_csv;

/* Bad-row callback: file path, 1-based line number, reason. */
typedef void (*stk_csv_bad_fn)(void *ctx, const char *file, unsigned long line, const char *why);

/* Open `path`: a file, or a folder whose regular files (not starting with
 * '.') are all replayed, merged by timestamp (ties: file name order, then
 * line order). Returns 0 and *ret; -ENOENT; -ENODATA a folder without files;
 * -errno from open/opendir; -ENOMEM. */
int stk_csv_open(const char *path, enum stk_time_unit unit, stk_csv_bad_fn bad, void *ctx,
                 struct stk_csv **ret);

/* The next row in timestamp order into *row. Returns 1, 0 at the end of
 * every file, or -errno on a read error. Bad rows go to the callback and are
 * skipped. */
int stk_csv_next(struct stk_csv *csv, struct stk_csv_row *row);

/* Start every file over (producer.loop). Returns 0 or -errno. */
int stk_csv_rewind(struct stk_csv *csv);

/* Number of files replayed. */
size_t stk_csv_nfiles(const struct stk_csv *csv);

void stk_csv_close(struct stk_csv *csv);

/* ---- ingest: JSON lines from an external program or stdin -------------- */

/* Longest accepted line, newline excluded; a longer one is one bad line. */
#define STK_INGEST_LINE_MAX 65536

/* stk_ingest_tick.has: which optional fields the line carried */
#define STK_ING_BID 0x01u
#define STK_ING_ASK 0x02u
#define STK_ING_BID_SIZE 0x04u
#define STK_ING_ASK_SIZE 0x08u
#define STK_ING_VOLUME 0x10u
#define STK_ING_TS 0x20u
#define STK_ING_SEQ 0x40u /* the sender's per-symbol tick number (nats: feed) */
#define STK_ING_GEN 0x80u /* the sender's segment generation (nats: feed) */

struct stk_ingest_tick {
    char symbol[STK_NAME_MAX + 1]; /* NUL-terminated */
    struct stk_quote q;            /* fields present per `has`, others 0 */
    unsigned has;                  /* STK_ING_* */
    uint64_t seq, gen;             /* per STK_ING_SEQ / STK_ING_GEN, else 0 */
};

/* Parse one line (without its newline; a trailing '\r' is allowed) of the
 * ingest protocol: a JSON object with symbol (string, 1..31 printable ASCII),
 * price (required), bid, ask (decimal as a JSON string or number, exact, at
 * most 8 decimals), bid_size, ask_size (u32), volume, ts_ns (u64), and
 * seq, gen (u64: kept when they are one such integer, otherwise ignored like
 * an unknown key, so no line is refused for them). Unknown keys are ignored;
 * duplicate known keys, other types, trailing data and invalid UTF-8 are
 * errors. Pure: no segment needed. Returns 0 and fills *t, or -EINVAL /
 * -ERANGE (-ENOMEM: no memory for the tokens of a line of more than 128)
 * with *why set to a static reason. */
int stk_ingest_parse_line(const char *line, size_t len, struct stk_ingest_tick *t,
                          const char **why);

/* The one-pass recogniser stk_ingest_parse_line tries first: the common
 * shape of a line only (a flat object of at most 16 keys whose values are
 * printable ASCII strings without escapes, numbers, true/false/null, with
 * only spaces between tokens; the exact grammar is in ingest.c).
 * Returns true and fills *t exactly as stk_ingest_parse_line would; false
 * (t untouched) for anything else, good or bad, which then takes the strict
 * path. A trailing '\r' is not in its shape. Exposed for tests and
 * seqtick-bench. */
bool stk_ingest_parse_fast(const char *line, size_t len, struct stk_ingest_tick *t);

/* Whether stk_ingest_parse_line tries stk_ingest_parse_fast first (default
 * true; tests and seqtick-bench turn it off to compare with the strict path). */
extern bool stk_ingest_fast_path;

/* Splits a byte stream into lines of at most STK_INGEST_LINE_MAX bytes. */
struct stk_linebuf {
    char *buf;
    size_t len;      /* bytes held */
    size_t cap;      /* STK_INGEST_LINE_MAX + 1 */
    bool discarding; /* inside an over-long line: drop up to the next newline */
};

/* Line callback: a complete line (no newline), or NULL/0 for a line that was
 * too long (already dropped). */
typedef void (*stk_line_fn)(void *ctx, const char *line, size_t len);

int stk_linebuf_init(struct stk_linebuf *lb);
void stk_linebuf_free(struct stk_linebuf *lb);

/* One read(2) from fd into lb, calling fn for every line it completes.
 * Returns bytes read (> 0), 0 at EOF (a partial last line is passed on as a
 * line), or -errno (-EAGAIN: nothing to read now). */
ssize_t stk_linebuf_read(struct stk_linebuf *lb, int fd, stk_line_fn fn, void *ctx);

/* Feed bytes already in memory (the same splitting as stk_linebuf_read). */
void stk_linebuf_feed(struct stk_linebuf *lb, const char *data, size_t n, stk_line_fn fn,
                      void *ctx);

/* ---- the producer ------------------------------------------------------- */

struct stk_producer;

/* Attach as the segment's writer per cfg (shm.*) and prepare the feed named
 * by producer.feed. Logs what it does and why it fails. Returns 0 and *ret;
 * -EALREADY another producer is attached; -EINVAL bad feed settings; other
 * -errno from the segment or the feed. */
int stk_producer_new(const struct stk_config *cfg, struct stk_producer **ret);

/* Run until SIGTERM/SIGINT (the caller has them blocked: they are read from
 * a signalfd between batches, so a batch always completes). Returns 0 on a
 * clean stop, -errno on a fatal error. The segment is left not-live
 * (state INIT, producer_pid 0) either way. */
int stk_producer_run(struct stk_producer *p);

/* Stop the ingestor if any, detach, free; NULL is a no-op. */
void stk_producer_free(struct stk_producer *p);

/* The ingest path of one line as the producer runs it: parse, find or add
 * the symbol, write the tick (inside a batch the caller opened with
 * stk_batch_begin). Bad lines and dropped symbols are counted in the header.
 * Returns 1 written, 0 rejected. Exposed for seqtick-bench. */
struct stk_seg;
struct stk_ingest_sink {
    struct stk_seg *seg;
    uint64_t now_ns; /* pub_ts_ns, and src_ts_ns when the line has no ts_ns */
    uint64_t good, bad, dropped;
    bool full_logged;                                   /* "symbol table full" logged once */
    uint64_t bad_logged, bad_suppressed, bad_window_ns; /* log rate limit */
    const char *origin; /* "stdin" or "ingestor": named in log lines */
};
int stk_ingest_line(struct stk_ingest_sink *s, const char *line, size_t len);

/* The second half of stk_ingest_line: a tick already parsed from `line`
 * into the segment (line is for the log only). Returns 1 written, 0 dropped
 * (symbol table full, symbol refused: counted). */
int stk_ingest_tick_in(struct stk_ingest_sink *s, const struct stk_ingest_tick *t, const char *line,
                       size_t len);

/* Count line (NULL: an over-long one) as a bad line for `why`, in the
 * segment's bad_input too, and log it within the rate limit. */
void stk_ingest_bad(struct stk_ingest_sink *s, const char *line, size_t len, const char *why);

#endif
