/* SPDX-License-Identifier: MIT */
/* bench_http.c — seqtick-bench http: the HTTP face against nginx in the same
 * run (GET /v1/quotes/AAPL, keep-alive, wrk), and the dashboard in headless
 * Chromium at 1,000 ticks/s over 8 tickers (main-thread busy %, memory). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "benchutil.h"
#include "util-private.h"
#include "segment-private.h"

#ifndef STK_SOURCE_DIR
#define STK_SOURCE_DIR "."
#endif

#define NTICKERS 8
static const char *const tickers[NTICKERS] = {"AAPL", "MSFT", "GOOG", "AMZN",
                                              "NVDA", "META", "TSLA", "IBM"};

/* fork + exec argv, output to `log` (NULL: inherit stdout, stderr to
 * /dev/null is not wanted: inherit both); dies with the bench. */
static pid_t spawn(const char *const argv[], const char *log, int out_fd)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                dup2(fd, 2);
                if (out_fd < 0)
                    dup2(fd, 1);
            }
        }
        if (out_fd >= 0)
            dup2(out_fd, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void reap(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        stk_bench_nap_ms(20);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Run argv to completion, its stdout into buf; returns its exit status or -1. */
static int run_capture(const char *const argv[], char *buf, size_t bufsz)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = spawn(argv, NULL, p[1]);
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < bufsz && (r = read(p[0], buf + n, bufsz - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(p[0]);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One HTTP/1.1 GET; the body into out, returns the status or -errno. */
static int http_get(int port, const char *path, char *out, size_t outsz)
{
    int fd = stk_bench_dial(port, false);
    if (fd < 0)
        return fd;
    char req[512], buf[65536];
    int len = snprintf(req, sizeof(req),
                       "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)len) != len) {
        close(fd);
        return -EIO;
    }
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -EPROTO;
    const char *body = strstr(buf, "\r\n\r\n");
    snprintf(out, outsz, "%s", body ? body + 4 : "");
    return status;
}

struct wrk_result {
    double rps, p50_us, p99_us;
};

static double wrk_time_us(const char *s)
{
    double v = 0;
    char unit[8] = "";
    if (sscanf(s, "%lf%7s", &v, unit) < 1)
        return -1;
    if (!strcmp(unit, "ms"))
        return v * 1e3;
    if (!strcmp(unit, "s"))
        return v * 1e6;
    return v; /* us */
}

/* wrk --latency, keep-alive, `conns` connections, 2 threads. */
static int run_wrk(int port, const char *path, int conns, int seconds, struct wrk_result *res)
{
    char url[256], c_s[16], d_s[16], out[16384];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    snprintf(c_s, sizeof(c_s), "%d", conns);
    snprintf(d_s, sizeof(d_s), "%ds", seconds);
    const char *argv[] = {"wrk", "-t", "2", "-c", c_s, "-d", d_s, "--latency", url, NULL};
    if (run_capture(argv, out, sizeof(out)) != 0)
        return -1;
    const char *p = strstr(out, "Requests/sec:");
    const char *l50 = strstr(out, " 50%");
    const char *l99 = strstr(out, " 99%");
    const char *non2xx = strstr(out, "Non-2xx");
    if (!p || !l50 || !l99 || non2xx) {
        fprintf(stderr, "seqtick-bench: http: wrk output not understood or non-2xx:\n%s", out);
        return -1;
    }
    res->rps = atof(p + strlen("Requests/sec:"));
    res->p50_us = wrk_time_us(l50 + 4);
    res->p99_us = wrk_time_us(l99 + 4);
    return 0;
}

static int cmp_rps(const void *a, const void *b)
{
    double x = ((const struct wrk_result *)a)->rps, y = ((const struct wrk_result *)b)->rps;
    return (x > y) - (x < y);
}

/* the ticking thread: `rate` ticks/s spread round-robin over the tickers */
struct ticker_ctx {
    struct stk_seg *seg;
    uint32_t idx[NTICKERS];
    int rate;
    atomic_bool stop;
    uint64_t published;
};

static void *tick_loop(void *p)
{
    struct ticker_ctx *t = p;
    int64_t px[NTICKERS];
    for (int i = 0; i < NTICKERS; i++)
        px[i] = (100 + 37 * i) * 100000000LL;
    uint64_t x = 88172645463325252ull, period = 1000000000ull / (uint64_t)t->rate;
    uint64_t next = stk_mono_ns(), hb = 0;
    while (!atomic_load(&t->stop)) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(t->published % NTICKERS);
        px[i] += ((int64_t)(x % 21) - 10) * 1000000LL;
        if (px[i] < 100000000LL)
            px[i] = 100000000LL;
        struct stk_quote q = {.price = px[i],
                              .bid = px[i] - 1000000,
                              .ask = px[i] + 1000000,
                              .bid_size = 100,
                              .ask_size = 100,
                              .volume = t->published};
        uint64_t now = stk_now_ns();
        q.src_ts_ns = q.pub_ts_ns = now;
        stk_batch_begin(t->seg);
        stk_tick_publish(t->seg, t->idx[i], &q);
        stk_batch_end(t->seg, now);
        t->published++;
        if (now - hb > 100000000ull) {
            stk_seg_heartbeat(t->seg, now);
            hb = now;
        }
        next += period;
        uint64_t m = stk_mono_ns();
        if (next > m) {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(next - m)};
            nanosleep(&ts, NULL);
        } else if (m - next > 100000000ull) {
            next = m; /* fell far behind: do not burst */
        }
    }
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seqtick-bench http [--seconds S] [--rounds R] [--conns N]\n"
            "       [--dash-seconds S] [--dash-rate TICKS_PER_S] [--server PATH] [--nginx PATH]\n"
            "defaults: --seconds 3 --rounds 3 --conns 50 --dash-seconds 60 --dash-rate 1000\n"
            "GET /v1/quotes/AAPL (wrk, keep-alive) against seqtick-server's HTTP face and\n"
            "nginx (1 worker, a static file of the same size), alternating, median round;\n"
            "then the dashboard in headless Chromium (--dash-seconds 0 skips it).\n");
}

struct opts {
    int seconds, rounds, conns, dash_seconds, dash_rate, lat_ticks, idle;
    const char *server_bin, *nginx_bin;
};

static pid_t start_server(const char *bin, const char *dir, const char *shm, int *http_port,
                          int *ndjson_port)
{
    char conf[PATH_MAX], log[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/server.conf", dir);
    snprintf(log, sizeof(log), "%s/server.log", dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        int nport = stk_bench_free_port(), hport = stk_bench_free_port();
        if (nport < 0 || hport < 0 || nport == hport)
            continue;
        FILE *f = fopen(conf, "w");
        if (!f)
            return -1;
        fprintf(f,
                "[shm]\nname = %s\n[producer]\nheartbeat_ms = 1000\n[server]\nlisten = "
                "127.0.0.1:%d\nhttp_listen = 127.0.0.1:%d\nmax_connections = 12000\n"
                "stats_interval_s = 0\n[log]\nlevel = error\n",
                shm, nport, hport);
        fclose(f);
        const char *argv[] = {bin, "-c", conf, NULL};
        pid_t pid = spawn(argv, log, -1);
        int r = pid > 0 ? stk_bench_wait_listening(hport, pid, 10000) : -1;
        if (r == 0 && stk_bench_wait_listening(nport, pid, 10000) == 0) {
            *http_port = hport;
            *ndjson_port = nport;
            return pid;
        }
        if (r != -ECHILD) {
            reap(pid);
            break;
        }
    }
    fprintf(stderr, "seqtick-bench: http: %s did not listen on its HTTP port (see %s)\n", bin, log);
    return -1;
}

static pid_t start_nginx(const char *bin, const char *dir, const char *body, int *port)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/www/v1/quotes", dir);
    char www[PATH_MAX];
    snprintf(www, sizeof(www), "%s/www", dir);
    /* nginx's worker runs as nobody when the bench is root: readable by all */
    chmod(dir, 0755);
    mkdir(www, 0755);
    snprintf(www, sizeof(www), "%s/www/v1", dir);
    mkdir(www, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/www/v1/quotes/AAPL", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(body, f);
    fclose(f);
    chmod(path, 0644);
    char conf[PATH_MAX], log[PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
    snprintf(log, sizeof(log), "%s/nginx.log", dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        *port = stk_bench_free_port();
        f = fopen(conf, "w");
        if (!f || *port < 0)
            return -1;
        fprintf(f,
                "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log "
                "error;\nevents { worker_connections 1024; }\nhttp {\n access_log off;\n"
                " keepalive_requests 100000000;\n keepalive_timeout 60s;\n"
                " client_body_temp_path %s/tmp;\n proxy_temp_path %s/tmp;\n"
                " fastcgi_temp_path %s/tmp;\n uwsgi_temp_path %s/tmp;\n scgi_temp_path %s/tmp;\n"
                " default_type application/json;\n server {\n  listen 127.0.0.1:%d;\n"
                "  root %s/www;\n }\n}\n",
                dir, dir, dir, dir, dir, dir, dir, *port, dir);
        fclose(f);
        const char *argv[] = {bin, "-p", dir, "-c", conf, "-e", log, NULL};
        pid_t pid = spawn(argv, log, -1);
        int r = pid > 0 ? stk_bench_wait_listening(*port, pid, 10000) : -1;
        if (r == 0)
            return pid;
        if (r != -ECHILD) {
            reap(pid);
            break;
        }
    }
    fprintf(stderr, "seqtick-bench: http: nginx did not start (see %s)\n", log);
    return -1;
}

/* ---- tick -> client latency: NDJSON subscriber, SSE, WebSocket ---- */

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w, n -= (size_t)w;
    }
    return true;
}

/* Read until `marker` shows up (or ms pass); true when seen. */
static bool read_until(int fd, const char *marker, int ms)
{
    char buf[8192];
    size_t n = 0, ml = strlen(marker);
    uint64_t end = stk_mono_ns() + (uint64_t)ms * 1000000u;
    while (stk_mono_ns() < end) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = 0;
        if (memmem(buf, n, marker, ml))
            return true;
        if (n > sizeof(buf) / 2) { /* keep the tail a marker may straddle */
            memmove(buf, buf + n - ml, ml);
            n = ml;
        }
    }
    return false;
}

/* A masked client text frame (payload < 126 bytes). */
static bool ws_send_text(int fd, const char *text)
{
    unsigned char f[160];
    size_t n = strlen(text);
    if (n >= 126)
        return false;
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f[0] = 0x81;
    f[1] = (unsigned char)(0x80 | n);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = (unsigned char)text[i] ^ mask[i & 3];
    return send_all(fd, (const char *)f, n + 6);
}

static int ws_open(int port)
{
    int fd = stk_bench_dial(port, false);
    if (fd < 0)
        return fd;
    const char *req = "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    if (!send_all(fd, req, strlen(req)) || !read_until(fd, "\r\n\r\n", 5000)) {
        close(fd);
        return -EPROTO;
    }
    return fd;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Wait on the three clients at once; each one's latency is stamped when
 * its own bytes carrying `marker` arrive. */
static bool await_all(const int fd[3], const char *marker, uint64_t t0, uint64_t *lat[3], int i)
{
    static char buf[3][8192];
    size_t n[3] = {0, 0, 0}, ml = strlen(marker);
    bool done[3] = {false, false, false};
    uint64_t end = t0 + 5000000000ull;
    while (!(done[0] && done[1] && done[2])) {
        if (stk_mono_ns() > end) {
            fprintf(stderr, "seqtick-bench: http: tick %d (%s) missed by a client\n", i, marker);
            return false;
        }
        struct pollfd pf[3];
        for (int c = 0; c < 3; c++)
            pf[c] = (struct pollfd){.fd = done[c] ? -1 : fd[c], .events = POLLIN};
        if (poll(pf, 3, 100) <= 0)
            continue;
        for (int c = 0; c < 3; c++) {
            if (done[c] || !(pf[c].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(fd[c], buf[c] + n[c], sizeof(buf[c]) - 1 - n[c]);
            uint64_t now = stk_mono_ns();
            if (r <= 0)
                return false;
            n[c] += (size_t)r;
            if (memmem(buf[c], n[c], marker, ml)) {
                done[c] = true;
                lat[c][i] = now - t0;
            } else if (n[c] > sizeof(buf[c]) / 2) {
                memmove(buf[c], buf[c] + n[c] - ml, ml);
                n[c] = ml;
            }
        }
    }
    return true;
}

static void bench_latency(struct stk_seg *seg, uint32_t idx, int nport, int hport, int n)
{
    const char *names[3] = {"NDJSON subscriber", "SSE client", "WebSocket client"};
    int fd[3];
    fd[0] = stk_bench_dial(nport, false);
    fd[1] = stk_bench_dial(hport, false);
    fd[2] = ws_open(hport);
    const char *sub = "{\"v\":1,\"id\":1,\"type\":\"subscribe\",\"tickers\":[\"TICK\"]}";
    const char *sse = "GET /v1/stream?tickers=TICK HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    bool ok = fd[0] >= 0 && fd[1] >= 0 && fd[2] >= 0;
    ok = ok && send_all(fd[0], sub, strlen(sub)) && send_all(fd[0], "\n", 1) &&
         read_until(fd[0], "\"op\":\"subscribe\"", 5000);
    ok = ok && send_all(fd[1], sse, strlen(sse)) && read_until(fd[1], "\r\n\r\n", 5000);
    if (!ok)
        fprintf(stderr, "seqtick-bench: http: NDJSON or SSE subscription failed\n");
    ok = ok && ws_send_text(fd[2], sub) && read_until(fd[2], "\"op\":\"subscribe\"", 5000);
    uint64_t *lat[3];
    for (int c = 0; c < 3; c++)
        lat[c] = calloc((size_t)n, sizeof(uint64_t));
    int got = 0;
    for (int i = 0; ok && i < n; i++) {
        /* the last of 8 decimals is 1: rendered in full, unique per tick */
        struct stk_quote q = {.price = 5000000001LL + (int64_t)(i + 1) * 10,
                              .bid = 4999000000LL,
                              .ask = 5100000000LL,
                              .bid_size = 1,
                              .ask_size = 1,
                              .volume = (uint64_t)i};
        char marker[64];
        snprintf(marker, sizeof(marker), "\"price\":%lld.%08lld,", (long long)(q.price / 100000000),
                 (long long)(q.price % 100000000));
        uint64_t t0 = stk_mono_ns();
        q.src_ts_ns = q.pub_ts_ns = stk_now_ns();
        stk_batch_begin(seg);
        stk_tick_publish(seg, idx, &q);
        stk_batch_end(seg, stk_now_ns());
        ok = await_all(fd, marker, t0, lat, i);
        if (ok)
            got++;
        stk_bench_nap_ms(1);
    }
    if (!got) {
        printf("tick -> WebSocket / SSE latency: not measured (a client did not subscribe)\n");
    } else {
        printf("tick -> client latency, %d ticks one at a time, the three clients "
               "subscribed to it together:\n  %-18s %9s %9s\n",
               got, "client", "p50 us", "p99 us");
        double p50[3];
        for (int c = 0; c < 3; c++) {
            qsort(lat[c], (size_t)got, sizeof(uint64_t), cmp_u64);
            size_t mid = (size_t)got / 2, p99 = (size_t)got * 99 / 100;
            p50[c] = (double)lat[c][mid] / 1e3;
            printf("  %-18s %9.1f %9.1f\n", names[c], p50[c], (double)lat[c][p99] / 1e3);
        }
        printf("  p50 ratio: SSE/NDJSON %.2fx, WebSocket/NDJSON %.2fx\n", p50[1] / p50[0],
               p50[2] / p50[0]);
    }
    for (int c = 0; c < 3; c++) {
        free(lat[c]);
        if (fd[c] >= 0)
            close(fd[c]);
    }
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

static void bench_idle_ws(pid_t spid, int hport, int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && want > (int)rl.rlim_cur - 200)
        want = (int)rl.rlim_cur - 200;
    if (want <= 0)
        return;
    int *fds = calloc((size_t)want, sizeof(int));
    if (!fds)
        return;
    long before = rss_kb(spid);
    int n = 0;
    for (; n < want; n++) {
        fds[n] = ws_open(hport);
        if (fds[n] < 0)
            break;
    }
    stk_bench_nap_ms(500);
    long after = rss_kb(spid);
    if (n > 0)
        printf("%d idle WebSocket connections: server VmRSS %ld -> %ld kB, %.0f bytes each\n", n,
               before, after, (double)(after - before) * 1024.0 / n);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
}

static void bench_rest(const struct opts *o, int hport, const char *dir)
{
    char body[8192];
    int st = http_get(hport, "/v1/quotes/AAPL", body, sizeof(body));
    if (st != 200) {
        printf("GET /v1/quotes/AAPL: the HTTP face answered %d: not measured\n", st);
        return;
    }
    int nport = -1;
    pid_t npid = start_nginx(o->nginx_bin, dir, body, &nport);
    char nbody[8192];
    if (npid > 0 && http_get(nport, "/v1/quotes/AAPL", nbody, sizeof(nbody)) != 200) {
        fprintf(stderr, "seqtick-bench: http: nginx does not serve the file: no baseline\n");
        reap(npid);
        npid = -1;
    }
    struct wrk_result s[16] = {0}, n[16] = {0};
    int ns = 0, nn = 0;
    for (int r = 0; r < o->rounds && r < 16; r++) {
        if (run_wrk(hport, "/v1/quotes/AAPL", o->conns, o->seconds, &s[ns]) == 0)
            ns++;
        if (npid > 0 && run_wrk(nport, "/v1/quotes/AAPL", o->conns, o->seconds, &n[nn]) == 0)
            nn++;
    }
    qsort(s, (size_t)ns, sizeof(s[0]), cmp_rps);
    qsort(n, (size_t)nn, sizeof(n[0]), cmp_rps);
    printf("GET /v1/quotes/AAPL, keep-alive, %d connections, wrk -t2, %d s x %d rounds "
           "(median), body %zu bytes\n",
           o->conns, o->seconds, o->rounds, strlen(body));
    printf("  %-14s %12s %10s %10s\n", "target", "requests/s", "p50 us", "p99 us");
    if (ns)
        printf("  %-14s %12.0f %10.1f %10.1f\n", "seqtick http", s[ns / 2].rps, s[ns / 2].p50_us,
               s[ns / 2].p99_us);
    if (nn)
        printf("  %-14s %12.0f %10.1f %10.1f\n", "nginx static", n[nn / 2].rps, n[nn / 2].p50_us,
               n[nn / 2].p99_us);
    if (ns && nn)
        printf("  ratio seqtick/nginx: %.2fx\n", s[ns / 2].rps / n[nn / 2].rps);
    reap(npid);
}

static void bench_dashboard(const struct opts *o, int hport, const char *dir)
{
    char script[PATH_MAX], mods[PATH_MAX], url[128], secs[16], prof[PATH_MAX], out[65536];
    snprintf(script, sizeof(script), "%s/tests/browser/bench_dashboard.js", STK_SOURCE_DIR);
    snprintf(mods, sizeof(mods), "%s/tests/browser/node_modules/puppeteer-core", STK_SOURCE_DIR);
    if (access(mods, R_OK) != 0 || access("/usr/bin/chromium", X_OK) != 0) {
        printf("dashboard: not measured: needs /usr/bin/chromium and `npm ci` in "
               "tests/browser (meson test server-browser runs it)\n");
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", hport);
    snprintf(secs, sizeof(secs), "%d", o->dash_seconds);
    snprintf(prof, sizeof(prof), "%s/chromium", dir);
    mkdir(prof, 0700);
    char log[PATH_MAX];
    snprintf(log, sizeof(log), "%s/dashboard.log", dir);
    const char *argv[] = {"node", script, url, secs, prof, NULL};
    int rc = run_capture(argv, out, sizeof(out));
    char rm[PATH_MAX + 16];
    snprintf(rm, sizeof(rm), "%s", prof);
    const char *rmargv[] = {"rm", "-rf", rm, NULL};
    char junk[16];
    (void)run_capture(rmargv, junk, sizeof(junk));
    if (rc != 0) {
        printf("dashboard: the browser run failed (exit %d)\n", rc);
        return;
    }
    printf("dashboard at %d ticks/s over %d tickers, %d s in headless Chromium (CDP "
           "Performance.getMetrics; the bar: busy < 20 %%, flat memory):\n  %s",
           o->dash_rate, NTICKERS, o->dash_seconds, out);
}

int stk_bench_http(int argc, char **argv)
{
    struct opts o = {.seconds = 3,
                     .rounds = 3,
                     .conns = 50,
                     .dash_seconds = 60,
                     .dash_rate = 1000,
                     .lat_ticks = 2000,
                     .idle = 10000,
                     .nginx_bin = "/usr/sbin/nginx"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 100;
        }
        i++;
        if (!strcmp(a, "--seconds"))
            o.seconds = atoi(v);
        else if (!strcmp(a, "--rounds"))
            o.rounds = atoi(v);
        else if (!strcmp(a, "--conns"))
            o.conns = atoi(v);
        else if (!strcmp(a, "--dash-seconds"))
            o.dash_seconds = atoi(v);
        else if (!strcmp(a, "--dash-rate"))
            o.dash_rate = atoi(v);
        else if (!strcmp(a, "--ticks"))
            o.lat_ticks = atoi(v);
        else if (!strcmp(a, "--idle"))
            o.idle = atoi(v);
        else if (!strcmp(a, "--server"))
            o.server_bin = v;
        else if (!strcmp(a, "--nginx"))
            o.nginx_bin = v;
        else {
            usage(stderr);
            return 100;
        }
    }
    if (o.seconds < 1)
        o.seconds = 1;
    if (o.rounds < 1)
        o.rounds = 1;
    if (o.dash_rate < 1)
        o.dash_rate = 1;
    signal(SIGPIPE, SIG_IGN);

    char shm[64], dir[] = "/tmp/stk-bench-http-XXXXXX", srvbuf[PATH_MAX];
    snprintf(shm, sizeof(shm), "/stk-bench-http-%d", (int)getpid());
    struct stk_seg_params sp = {.name = shm, .capacity = 64, .history = 256, .mode = 0600};
    struct stk_seg *seg = NULL;
    enum stk_seg_how how;
    int r = stk_seg_attach_writer(&sp, &seg, &how);
    if (r < 0 || !mkdtemp(dir)) {
        fprintf(stderr, "seqtick-bench: http: fatal: segment %s: %s\n", shm, stk_strerror(r));
        return 111;
    }
    struct ticker_ctx tc = {.seg = seg, .rate = o.dash_rate};
    for (int i = 0; i < NTICKERS; i++) {
        int ix = stk_sym_add(seg, tickers[i]);
        if (ix < 0) {
            fprintf(stderr, "seqtick-bench: http: fatal: symbol %s: %s\n", tickers[i],
                    stk_strerror(ix));
            stk_seg_close(seg);
            stk_seg_unlink(shm);
            rmdir(dir);
            return 111;
        }
        tc.idx[i] = (uint32_t)ix;
    }
    int tix = stk_sym_add(seg, "TICK"); /* the latency probe's own symbol */
    uint32_t tick_idx = tix < 0 ? 0 : (uint32_t)tix;
    /* one quote each, then a quiet segment for the REST part */
    tc.rate = NTICKERS;
    for (int i = 0; i < NTICKERS; i++) {
        struct stk_quote q = {.price = 18925000000,
                              .bid = 18924000000,
                              .ask = 18926000000,
                              .bid_size = 300,
                              .ask_size = 500,
                              .volume = 123456789};
        q.src_ts_ns = q.pub_ts_ns = stk_now_ns();
        stk_batch_begin(seg);
        stk_tick_publish(seg, tc.idx[i], &q);
        stk_batch_end(seg, stk_now_ns());
    }
    stk_seg_heartbeat(seg, stk_now_ns());

    const char *sbin = o.server_bin;
    if (!sbin) {
        (void)stk_find_program("seqtick-server", "server", srvbuf, sizeof(srvbuf));
        sbin = srvbuf;
    }
    int hport = -1, nport = -1, rc = 0;
    pid_t spid = start_server(sbin, dir, shm, &hport, &nport);
    if (spid < 0) {
        printf("seqtick-server has no HTTP face here (server.http_listen): nothing measured\n");
        rc = 111;
        goto done;
    }
    bench_rest(&o, hport, dir);
    if (o.lat_ticks > 0)
        bench_latency(seg, tick_idx, nport, hport, o.lat_ticks);
    if (o.idle > 0)
        bench_idle_ws(spid, hport, o.idle);
    if (o.dash_seconds > 0) {
        pthread_t th;
        tc.rate = o.dash_rate;
        if (pthread_create(&th, NULL, tick_loop, &tc) == 0) {
            bench_dashboard(&o, hport, dir);
            atomic_store(&tc.stop, true);
            pthread_join(th, NULL);
        }
    }
done:
    reap(spid);
    stk_seg_close(seg);
    stk_seg_unlink(shm);
    const char *rmargv[] = {"rm", "-rf", dir, NULL};
    char junk[16];
    (void)run_capture(rmargv, junk, sizeof(junk));
    return rc;
}
