/* SPDX-License-Identifier: MIT */
/* bench_bars.c — seqtick-bench bars: get_bars latency over NDJSON (500
 * one-minute bars from a SQLite store, the recorder's schema) next to a
 * get_quote baseline on the same server, connection and run. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "benchutil.h"
#include "segment-private.h"
#include "util-private.h"

#define NBARS_STORED 5000

static uint64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* The store: the recorder's bars table with n one-minute bars of AAPL. */
static int make_store(const char *path, int n)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db,
                          "PRAGMA journal_mode=WAL;"
                          "CREATE TABLE symbols(id INTEGER PRIMARY KEY, name TEXT NOT NULL "
                          "UNIQUE);"
                          "CREATE TABLE bars(symbol_id INTEGER NOT NULL, interval_s INTEGER NOT "
                          "NULL, start_ns INTEGER NOT NULL, open INTEGER NOT NULL, high INTEGER "
                          "NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL, volume "
                          "INTEGER NOT NULL, ticks INTEGER NOT NULL, PRIMARY KEY(symbol_id, "
                          "interval_s, start_ns));"
                          "INSERT INTO symbols VALUES(1, 'AAPL');BEGIN;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO bars VALUES(1, 60, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                -1, &st, NULL);
    int64_t t0 = 1700000040000000000ll;
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        int64_t p = 18925000000ll + (int64_t)(i % 97) * 1234567 + 1;
        sqlite3_bind_int64(st, 1, t0 + (int64_t)i * 60000000000ll);
        sqlite3_bind_int64(st, 2, p);
        sqlite3_bind_int64(st, 3, p + 7770000);
        sqlite3_bind_int64(st, 4, p - 3330000);
        sqlite3_bind_int64(st, 5, p + 250000);
        sqlite3_bind_int64(st, 6, 100000 + i);
        sqlite3_bind_int64(st, 7, 60 + i % 40);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf(stderr, "seqtick-bench: bars: store '%s': %s\n", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -EIO;
}

/* One request line, then its whole reply line; the reply's length, or -1. */
static ssize_t roundtrip(int fd, const char *req, size_t reqlen, char *buf, size_t size)
{
    if (write(fd, req, reqlen) != (ssize_t)reqlen)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, size - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        if (buf[len - 1] == '\n')
            return (ssize_t)len;
        if (len == size)
            return -1;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick-bench bars [--requests N] [--limit N] [--server PATH]\n"
               "  get_bars (N requests of --limit 1-minute bars, default 2000 x 500) and\n"
               "  get_quote (the baseline) over one NDJSON connection to seqtick-server\n"
               "  reading a SQLite store; p50/p99 of each\n");
}

int stk_bench_bars(int argc, char **argv)
{
    int nreq = 2000, limit = 500;
    const char *sbin = NULL;
    char srvbuf[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return STK_EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--requests"))
            nreq = atoi(v);
        else if (!strcmp(a, "--limit"))
            limit = atoi(v);
        else if (!strcmp(a, "--server"))
            sbin = v;
        else {
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (nreq < 10 || limit < 1 || limit > NBARS_STORED) {
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!sbin) {
        (void)stk_find_program("seqtick-server", "server", srvbuf, sizeof(srvbuf));
        sbin = srvbuf;
    }

    /* a segment of our own with one quote (the get_quote baseline) */
    char shm[64], dir[] = "/tmp/stk-bench-bars-XXXXXX", conf[PATH_MAX], db[PATH_MAX], log[PATH_MAX];
    snprintf(shm, sizeof(shm), "/stk-bench-bars-%d", (int)getpid());
    struct stk_seg_params sp = {.name = shm, .capacity = 8, .history = 8, .mode = 0600};
    struct stk_seg *seg = NULL;
    enum stk_seg_how how;
    int r = stk_seg_attach_writer(&sp, &seg, &how);
    if (r < 0 || !mkdtemp(dir)) {
        fprintf(stderr, "seqtick-bench: bars: fatal: segment %s: %s\n", shm, stk_strerror(r));
        return STK_EXIT_SYSTEM;
    }
    stk_sym_add(seg, "AAPL");
    struct stk_quote q = {.price = 18925000000,
                          .bid = 18924000000,
                          .ask = 18926000000,
                          .bid_size = 300,
                          .ask_size = 500,
                          .volume = 123456789};
    q.src_ts_ns = q.pub_ts_ns = stk_now_ns();
    stk_batch_begin(seg);
    stk_tick_publish(seg, 0, &q);
    stk_batch_end(seg, stk_now_ns());
    stk_seg_heartbeat(seg, stk_now_ns());

    int rc = STK_EXIT_SYSTEM, fd = -1, port = -1;
    pid_t pid = -1;
    uint64_t *lat_q = calloc((size_t)nreq, sizeof(uint64_t));
    uint64_t *lat_b = calloc((size_t)nreq, sizeof(uint64_t));
    size_t bufsz = (size_t)limit * 200 + 4096;
    char *buf = malloc(bufsz);
    snprintf(db, sizeof(db), "%s/bars.db", dir);
    snprintf(conf, sizeof(conf), "%s/server.conf", dir);
    snprintf(log, sizeof(log), "%s/server.log", dir);
    if (!lat_q || !lat_b || !buf || make_store(db, NBARS_STORED) < 0)
        goto out;
    for (int attempt = 0; attempt < 5 && fd < 0; attempt++) {
        port = free_port();
        FILE *f = fopen(conf, "w");
        if (!f || port < 0) {
            if (f)
                fclose(f);
            goto out;
        }
        fprintf(f,
                "[shm]\nname = %s\n[producer]\nheartbeat_ms = 3600000\n[server]\nlisten = "
                "127.0.0.1:%d\nhttp_listen = off\nfreshness_ms = 3600000\nstats_interval_s = 0\n"
                "[recorder]\nstore = sqlite:%s\nbars = 1m\n[log]\nlevel = error\n",
                shm, port, db);
        fclose(f);
        pid_t parent = getpid();
        pid = fork();
        if (pid == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
            int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            }
            execl(sbin, sbin, "-c", conf, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 500 && pid > 0; i++) { /* 10 s */
            if ((fd = stk_bench_dial(port, true)) >= 0)
                break;
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = -1;
                break;
            }
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
    }
    if (fd < 0) {
        fprintf(stderr, "seqtick-bench: bars: fatal: %s did not listen (log: %s)\n", sbin, log);
        goto out;
    }
    char reqb[160], reqq[96];
    int lb = snprintf(reqb, sizeof(reqb),
                      "{\"v\":1,\"id\":1,\"type\":\"get_bars\",\"ticker\":\"AAPL\","
                      "\"interval\":\"1m\",\"limit\":%d}\n",
                      limit);
    int lq = snprintf(reqq, sizeof(reqq),
                      "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}\n");
    /* check once: the answer holds `limit` bars */
    ssize_t n = roundtrip(fd, reqb, (size_t)lb, buf, bufsz);
    int seen = 0;
    for (char *p = buf; n > 0 && (p = memmem(p, (size_t)(buf + n - p), "\"t_ms\"", 6)); p++)
        seen++;
    if (n <= 0 || seen != limit) {
        fprintf(stderr, "seqtick-bench: bars: fatal: get_bars answered %d bars, not %d: %.*s\n",
                seen, limit, n > 0 ? (int)(n < 200 ? n : 200) : 9, n > 0 ? buf : "(nothing)");
        goto out;
    }
    size_t reply_bytes = (size_t)n;
    /* interleaved, so both see the same machine */
    for (int i = 0; i < nreq; i++) {
        uint64_t t0 = mono();
        if (roundtrip(fd, reqq, (size_t)lq, buf, bufsz) <= 0)
            goto lost;
        uint64_t t1 = mono();
        if (roundtrip(fd, reqb, (size_t)lb, buf, bufsz) <= 0)
            goto lost;
        lat_q[i] = t1 - t0;
        lat_b[i] = mono() - t1;
    }
    qsort(lat_q, (size_t)nreq, sizeof(uint64_t), cmp_u64);
    qsort(lat_b, (size_t)nreq, sizeof(uint64_t), cmp_u64);
    size_t i50 = (size_t)nreq / 2, i99 = (size_t)nreq * 99 / 100;
    double q50 = (double)lat_q[i50] / 1e3, q99 = (double)lat_q[i99] / 1e3;
    double b50 = (double)lat_b[i50] / 1e3, b99 = (double)lat_b[i99] / 1e3;
    printf("get_bars vs get_quote over NDJSON, one connection, %d requests each, interleaved\n",
           nreq);
    printf("  %-28s p50 %8.1f us  p99 %8.1f us\n", "get_quote (baseline)", q50, q99);
    char what[64];
    snprintf(what, sizeof(what), "get_bars %d x 1m (%zu B)", limit, reply_bytes);
    printf("  %-28s p50 %8.1f us  p99 %8.1f us\n", what, b50, b99);
    printf("get_bars p50 %.3f ms (target <= 1 ms): %s\n", b50 / 1e3, b50 <= 1000.0 ? "ok" : "OVER");
    fflush(stdout);
    rc = 0;
    goto out;
lost:
    fprintf(stderr, "seqtick-bench: bars: fatal: the server closed the connection\n");
out:
    if (fd >= 0)
        close(fd);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    free(lat_q);
    free(lat_b);
    free(buf);
    unlink(db);
    char side[PATH_MAX + 8];
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
    unlink(conf);
    if (rc == 0) { /* a failed run keeps the server's log to read */
        unlink(log);
        rmdir(dir);
    }
    stk_seg_close(seg);
    stk_seg_unlink(shm);
    return rc;
}
