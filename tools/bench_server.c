/* SPDX-License-Identifier: MIT */
/* bench_server.c — seqtick-bench server: one closed-loop load generator that
 * speaks NDJSON and RESP, run against seqtick-server (get_quote) and
 * redis-server (GET of a value of the same size) in the same run; then
 * tick-to-subscriber latency vs Redis pub/sub, and memory per idle
 * connection at 10,000 connections. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
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

enum proto { P_NDJSON, P_RESP };

struct opts {
    int seconds;
    int rounds;
    int idle_conns;
    int ticks;
    const char *server_bin;
    const char *redis_bin;
    int nscen;
    int conns[8], pipe[8];
};

struct bconn {
    int fd;
    int outstanding;
    uint64_t *sent; /* ring of send times, pipeline deep */
    int head, tail;
    char rbuf[65536];
    size_t rlen;
};

static uint64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start a listener whose argv names its port through make_argv (the port
 * is put in a file or an argument by the callback), on a free port; if it
 * exits before it listens (the port was taken after all), try another.
 * Returns its pid and *port, or -1 after printing the end of its log. */
static pid_t start_listener(const char *what, const char *log, int *port,
                            const char *const *(*make_argv)(int port, void *ctx), void *ctx)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        *port = stk_bench_free_port();
        const char *const *argv = *port > 0 ? make_argv(*port, ctx) : NULL;
        if (!argv)
            break;
        pid_t pid = stk_bench_spawn(argv, log, false);
        if (pid < 0)
            break;
        int r = stk_bench_wait_listening(*port, pid, 10000);
        if (r == 0)
            return pid;
        if (r != -ECHILD) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        fprintf(stderr, "seqtick-bench: server: %s exited before listening on %d; another port\n",
                what, *port);
    }
    fprintf(stderr, "seqtick-bench: server: %s did not listen (port %d); the end of its log:\n",
            what, *port);
    char buf[1024];
    int fd = open(log, O_RDONLY | O_CLOEXEC);
    off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    ssize_t n = end >= 0 ? pread(fd, buf, sizeof(buf),
                                 end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0)
                         : -1;
    if (fd >= 0)
        close(fd);
    fprintf(stderr, "%.*s%s", n > 0 ? (int)n : 0, buf, n > 0 ? "" : "(empty)\n");
    return -1;
}

/* The two listeners' command lines, for start_listener(). */
struct listener_ctx {
    const char *shm, *conf, *bin;
    int maxc;
    char port_s[16], maxc_s[16];
    const char *argv[16];
};

static const char *const *server_argv(int port, void *p)
{
    struct listener_ctx *x = p;
    FILE *f = fopen(x->conf, "w");
    if (!f) {
        fprintf(stderr, "seqtick-bench: server: unable to write '%s'\n", x->conf);
        return NULL;
    }
    fprintf(f,
            "[shm]\nname = %s\n[producer]\nheartbeat_ms = 3600000\n[server]\nlisten = "
            "127.0.0.1:%d\nmax_connections = %d\nfreshness_ms = 3600000\nstats_interval_s = 0\n"
            "[log]\nlevel = error\n",
            x->shm, port, x->maxc);
    fclose(f);
    const char *argv[] = {x->bin, "-c", x->conf, NULL};
    memcpy(x->argv, argv, sizeof(argv));
    return x->argv;
}

static const char *const *redis_argv(int port, void *p)
{
    struct listener_ctx *x = p;
    snprintf(x->port_s, sizeof(x->port_s), "%d", port);
    snprintf(x->maxc_s, sizeof(x->maxc_s), "%d", x->maxc);
    const char *argv[] = {
        x->bin,         "--port", x->port_s,      "--bind",  "127.0.0.1",        "--save", "",
        "--appendonly", "no",     "--maxclients", x->maxc_s, "--protected-mode", "no",     NULL};
    memcpy(x->argv, argv, sizeof(argv));
    return x->argv;
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
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* Read one reply line / RESP bulk reply synchronously (setup only). */
static int read_reply(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = 0;
        if (memchr(buf, '\n', n) && (buf[0] != '$' || strstr(strchr(buf, '\n') + 1, "\r\n")))
            return (int)n;
    }
    return -1;
}

/* Count complete replies at the front of c->rbuf; consume them. */
static int take_replies(struct bconn *c, enum proto p)
{
    int n = 0;
    size_t off = 0;
    for (;;) {
        char *s = c->rbuf + off;
        size_t left = c->rlen - off;
        if (p == P_NDJSON) {
            char *nl = memchr(s, '\n', left);
            if (!nl)
                break;
            off += (size_t)(nl - s) + 1;
        } else {
            char *nl = memchr(s, '\n', left);
            if (!nl)
                break;
            size_t hdr = (size_t)(nl - s) + 1;
            if (s[0] == '$') {
                long len = strtol(s + 1, NULL, 10);
                size_t need = hdr + (len >= 0 ? (size_t)len + 2 : 0);
                if (left < need)
                    break;
                off += need;
            } else {
                off += hdr;
            }
        }
        n++;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct result {
    double rps;
    double p50, p99, p999; /* µs */
    uint64_t n;
};

static void percentiles(uint64_t *lat, size_t n, struct result *r)
{
    if (!n)
        return;
    qsort(lat, n, sizeof(*lat), cmp_u64);
    r->p50 = (double)lat[n >> 1] / 1e3;
    r->p99 = (double)lat[(size_t)((double)n * 0.99)] / 1e3;
    r->p999 = (double)lat[(size_t)((double)n * 0.999)] / 1e3;
}

/* Closed loop: nconn connections, `depth` requests outstanding on each. */
static int load(int port, enum proto p, const char *req, int nconn, int depth, int seconds,
                struct result *res)
{
    size_t reqlen = strlen(req);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct bconn *cs = calloc((size_t)nconn, sizeof(*cs));
    size_t lat_cap = 1u << 24, nlat = 0;
    uint64_t *lat = malloc(lat_cap * sizeof(*lat));
    char *wbuf = malloc(reqlen * (size_t)depth);
    int rc = 0;
    if (ep < 0 || !cs || !lat || !wbuf) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < nconn; i++)
        cs[i].fd = -1;
    for (int i = 0; i < depth; i++)
        memcpy(wbuf + (size_t)i * reqlen, req, reqlen);
    for (int i = 0; i < nconn; i++) {
        cs[i].fd = stk_bench_dial(port, true);
        if (cs[i].fd < 0) {
            rc = cs[i].fd;
            goto out;
        }
        cs[i].sent = calloc((size_t)depth + 1, sizeof(uint64_t));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    uint64_t t0 = mono(), warm = t0 + 500000000ull, end = warm + (uint64_t)seconds * 1000000000u;
    uint64_t done = 0;
    for (int i = 0; i < nconn; i++) {
        uint64_t now = mono();
        for (int k = 0; k < depth; k++) {
            cs[i].sent[cs[i].tail] = now;
            cs[i].tail = (cs[i].tail + 1) % (depth + 1);
        }
        if (write(cs[i].fd, wbuf, reqlen * (size_t)depth) < 0) {
            rc = -errno;
            goto out;
        }
    }
    struct epoll_event evs[256];
    uint64_t now = t0;
    while (now < end) {
        int n = epoll_wait(ep, evs, 256, 1000);
        now = mono();
        for (int e = 0; e < n; e++) {
            struct bconn *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
            if (r <= 0) {
                fprintf(stderr, "seqtick-bench: server: connection lost\n");
                rc = -EPIPE;
                goto out;
            }
            c->rlen += (size_t)r;
            int got = take_replies(c, p);
            for (int k = 0; k < got; k++) {
                uint64_t st = c->sent[c->head];
                c->head = (c->head + 1) % (depth + 1);
                if (now >= warm && st >= warm) {
                    if (nlat < lat_cap)
                        lat[nlat++] = now - st;
                    done++;
                }
                c->sent[c->tail] = now;
                c->tail = (c->tail + 1) % (depth + 1);
            }
            if (got && write(c->fd, wbuf, reqlen * (size_t)got) < 0) {
                rc = -errno;
                goto out;
            }
        }
    }
    res->n = done;
    res->rps = (double)done / ((double)(now - warm) / 1e9);
    percentiles(lat, nlat, res);
out:
    for (int i = 0; cs && i < nconn; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].sent);
    }
    if (ep >= 0)
        close(ep);
    free(cs);
    free(lat);
    free(wbuf);
    return rc;
}

/* ---- tick to subscriber ---- */

static int recv_line_until(int fd, char *buf, size_t size, const char *needle, int ms)
{
    size_t n = 0;
    uint64_t end = mono() + (uint64_t)ms * 1000000u;
    buf[0] = 0;
    while (mono() < end) {
        struct timeval tv = {0, 100000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            return -1;
        }
        n += (size_t)r;
        buf[n] = 0;
        char *hit = strstr(buf, needle);
        if (hit && strchr(hit, '\n'))
            return (int)n;
        if (n > size / 2) {
            char *nl = strrchr(buf, '\n');
            if (nl) {
                n = strlen(nl + 1);
                memmove(buf, nl + 1, n + 1);
            }
        }
    }
    return -1;
}

static void ticks_seqtick(struct stk_seg *seg, int port, int count, struct result *res)
{
    char buf[65536];
    uint64_t *lat = calloc((size_t)count, sizeof(*lat));
    int fd = stk_bench_dial(port, true), n = 0;
    const char *sub = "{\"v\":1,\"id\":1,\"type\":\"subscribe\",\"tickers\":[\"TICK\"]}\n";
    if (fd < 0 || !lat || write(fd, sub, strlen(sub)) < 0 ||
        recv_line_until(fd, buf, sizeof(buf), "\"op\":\"subscribe\"", 5000) < 0) {
        fprintf(stderr, "seqtick-bench: server: subscribe failed\n");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        char needle[48];
        struct stk_quote q = {.price = (int64_t)(i + 1) * 1000000, .bid_size = 1, .ask_size = 1};
        q.src_ts_ns = q.pub_ts_ns = stk_now_ns();
        uint64_t t0 = mono();
        stk_batch_begin(seg);
        stk_tick_publish(seg, 1, &q);
        stk_batch_end(seg, stk_now_ns());
        snprintf(needle, sizeof(needle), "\"volume\":%d,", 0);
        char want[64];
        snprintf(want, sizeof(want), "\"ts_ns\":%llu", (unsigned long long)q.src_ts_ns);
        if (recv_line_until(fd, buf, sizeof(buf), want, 2000) < 0)
            continue;
        lat[n++] = mono() - t0;
        stk_bench_nap_ms(1);
    }
    res->n = (uint64_t)n;
    percentiles(lat, (size_t)n, res);
out:
    if (fd >= 0)
        close(fd);
    free(lat);
}

static void ticks_redis(int port, int count, struct result *res)
{
    char buf[65536], cmd[256];
    uint64_t *lat = calloc((size_t)count, sizeof(*lat));
    int sub = stk_bench_dial(port, true), pub = stk_bench_dial(port, true), n = 0;
    const char *s = "*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\ntick\r\n";
    if (sub < 0 || pub < 0 || !lat || write(sub, s, strlen(s)) < 0 ||
        recv_line_until(sub, buf, sizeof(buf), ":1\r", 5000) < 0) {
        fprintf(stderr, "seqtick-bench: server: redis subscribe failed\n");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        char payload[64];
        int pl = snprintf(payload, sizeof(payload), "%llu",
                          (unsigned long long)stk_now_ns()); /* unique per message */
        int cl = snprintf(cmd, sizeof(cmd), "*3\r\n$7\r\nPUBLISH\r\n$4\r\ntick\r\n$%d\r\n%s\r\n",
                          pl, payload);
        uint64_t t0 = mono();
        if (write(pub, cmd, (size_t)cl) < 0)
            break;
        if (recv_line_until(sub, buf, sizeof(buf), payload, 2000) < 0)
            continue;
        lat[n++] = mono() - t0;
        recv_line_until(pub, buf, sizeof(buf), ":", 2000); /* PUBLISH's reply */
        stk_bench_nap_ms(1);
    }
    res->n = (uint64_t)n;
    percentiles(lat, (size_t)n, res);
out:
    if (sub >= 0)
        close(sub);
    if (pub >= 0)
        close(pub);
    free(lat);
}

/* ---- idle connections ---- */

static long idle_kb_per_10k(pid_t pid, int port, int count, const char *req, double *per_conn)
{
    int *fds = calloc((size_t)count, sizeof(int));
    char buf[4096];
    long before = rss_kb(pid), after = -1;
    int opened = 0;
    if (!fds)
        return -1;
    for (; opened < count; opened++) {
        fds[opened] = stk_bench_dial(port, true);
        if (fds[opened] < 0)
            break;
    }
    /* one request each, so every connection is accepted and served once */
    for (int i = 0; i < opened; i++)
        if (write(fds[i], req, strlen(req)) < 0 || read_reply(fds[i], buf, sizeof(buf)) < 0)
            break;
    stk_bench_nap_ms(300);
    after = rss_kb(pid);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    free(fds);
    *per_conn = opened ? (double)(after - before) * 1024.0 / opened : 0;
    return opened;
}

static int cmp_rps(const void *x, const void *y)
{
    double a = ((const struct result *)x)->rps, b = ((const struct result *)y)->rps;
    return a < b ? -1 : a > b;
}

/* The round with the median requests/s. */
static struct result median(struct result *r, int n)
{
    qsort(r, (size_t)n, sizeof(*r), cmp_rps);
    return r[n / 2];
}

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick-bench server [--seconds S] [--rounds R] "
               "[--scenario CONNSxPIPELINE]...\n"
               "       [--ticks N] [--idle N] [--server PATH] [--redis PATH]\n"
               "defaults: --seconds 2 --rounds 3 --scenario 50x1 --scenario 50x16 --ticks 2000 "
               "--idle 10000\n"
               "Each scenario runs R rounds per target, alternating seqtick-server and\n"
               "redis-server; the median round of each is shown.\n");
}

static void row(const char *who, int nc, int depth, const struct result *r)
{
    printf("  %-8s %5d %4d %12.0f %9.1f %9.1f %9.1f\n", who, nc, depth, r->rps, r->p50, r->p99,
           r->p999);
}

int stk_bench_server(int argc, char **argv)
{
    struct opts o = {
        .seconds = 2, .rounds = 3, .idle_conns = 10000, .ticks = 2000, .redis_bin = "redis-server"};
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
        else if (!strcmp(a, "--idle"))
            o.idle_conns = atoi(v);
        else if (!strcmp(a, "--ticks"))
            o.ticks = atoi(v);
        else if (!strcmp(a, "--server"))
            o.server_bin = v;
        else if (!strcmp(a, "--redis"))
            o.redis_bin = v;
        else if (!strcmp(a, "--scenario") && o.nscen < 8 &&
                 sscanf(v, "%dx%d", &o.conns[o.nscen], &o.pipe[o.nscen]) == 2)
            o.nscen++;
        else {
            usage(stderr);
            return 100;
        }
    }
    if (!o.nscen) {
        o.conns[0] = 50, o.pipe[0] = 1;
        o.conns[1] = 50, o.pipe[1] = 16;
        o.nscen = 2;
    }
    if (o.seconds < 1)
        o.seconds = 1;
    if (o.rounds < 1)
        o.rounds = 1;
    signal(SIGPIPE, SIG_IGN);

    /* fds: 10,000 idle connections need the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if (o.idle_conns > (int)rl.rlim_cur - 200)
        o.idle_conns = (int)rl.rlim_cur - 200;

    /* a segment of our own, written here (we are the producer) */
    char shm[64], dir[] = "/tmp/stk-bench-server-XXXXXX", conf[128], srvbuf[PATH_MAX];
    snprintf(shm, sizeof(shm), "/stk-bench-srv-%d", (int)getpid());
    struct stk_seg_params sp = {.name = shm, .capacity = 64, .history = 64, .mode = 0600};
    struct stk_seg *seg = NULL;
    enum stk_seg_how how;
    int r = stk_seg_attach_writer(&sp, &seg, &how);
    if (r < 0 || !mkdtemp(dir)) {
        fprintf(stderr, "seqtick-bench: server: fatal: segment %s: %s\n", shm, stk_strerror(r));
        return 111;
    }
    stk_sym_add(seg, "AAPL");
    stk_sym_add(seg, "TICK");
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

    const char *sbin = o.server_bin;
    if (!sbin) {
        (void)stk_find_program("seqtick-server", "server", srvbuf, sizeof(srvbuf));
        sbin = srvbuf;
    }
    snprintf(conf, sizeof(conf), "%s/server.conf", dir);
    struct listener_ctx sctx = {.shm = shm, .conf = conf, .bin = sbin, .maxc = o.idle_conns + 100};
    struct listener_ctx rctx = {.bin = o.redis_bin, .maxc = o.idle_conns + 100};
    char slog[160], rlog[160];
    snprintf(slog, sizeof(slog), "%s/server.log", dir);
    snprintf(rlog, sizeof(rlog), "%s/redis.log", dir);
    int sport, rport, rc = 0;
    pid_t rpid = -1, spid = start_listener("seqtick-server", slog, &sport, server_argv, &sctx);
    if (spid < 0) {
        fprintf(stderr, "seqtick-bench: server: fatal: %s did not start\n", sbin);
        rc = 111;
        goto done;
    }
    rpid = start_listener("redis-server", rlog, &rport, redis_argv, &rctx);
    bool have_redis = rpid > 0;
    if (!have_redis)
        fprintf(stderr, "seqtick-bench: server: redis-server did not start: no baseline\n");

    /* the request, and a Redis value of the same size as our reply */
    const char *nreq = "{\"v\":1,\"id\":1,\"type\":\"get_quote\",\"ticker\":\"AAPL\"}\n";
    char reply[4096];
    int fd = stk_bench_dial(sport, true);
    int rl_n =
        fd >= 0 && write(fd, nreq, strlen(nreq)) > 0 ? read_reply(fd, reply, sizeof(reply)) : -1;
    if (fd >= 0)
        close(fd);
    if (rl_n <= 0 || !strstr(reply, "\"price\":189.25")) {
        fprintf(stderr, "seqtick-bench: server: fatal: bad get_quote reply\n");
        rc = 111;
        goto done;
    }
    int vlen = rl_n - 1; /* without the newline, like the RESP payload */
    if (have_redis) {
        char *set = malloc((size_t)vlen + 64);
        int n = sprintf(set, "*3\r\n$3\r\nSET\r\n$5\r\nquote\r\n$%d\r\n", vlen);
        memset(set + n, 'x', (size_t)vlen);
        memcpy(set + n + vlen, "\r\n", 2);
        fd = stk_bench_dial(rport, true);
        if (fd < 0 || write(fd, set, (size_t)n + (size_t)vlen + 2) < 0 ||
            read_reply(fd, reply, sizeof(reply)) < 0)
            have_redis = false;
        if (fd >= 0)
            close(fd);
        free(set);
    }
    const char *rreq = "*2\r\n$3\r\nGET\r\n$5\r\nquote\r\n";

    printf("seqtick-bench server: closed loop, %d rounds x %d s per target after 0.5 s warm-up "
           "(median shown); reply %d bytes (Redis GET of a %d-byte value)\n",
           o.rounds, o.seconds, vlen + 1, vlen);
    printf("  %-8s %5s %4s %12s %9s %9s %9s\n", "target", "conns", "pipe", "req/s", "p50 us",
           "p99 us", "p99.9 us");
    for (int i = 0; i < o.nscen; i++) {
        /* rounds alternate the two targets; the median round of each is
         * reported, so a noisy neighbour hits both alike */
        struct result ra[16] = {{0}}, rb[16] = {{0}}, a, b = {0};
        int nr = o.rounds > 16 ? 16 : o.rounds;
        for (int k = 0; k < nr; k++) {
            if (load(sport, P_NDJSON, nreq, o.conns[i], o.pipe[i], o.seconds, &ra[k]) < 0) {
                rc = 111;
                goto done;
            }
            if (have_redis &&
                load(rport, P_RESP, rreq, o.conns[i], o.pipe[i], o.seconds, &rb[k]) < 0)
                have_redis = false;
        }
        a = median(ra, nr);
        row("seqtick", o.conns[i], o.pipe[i], &a);
        if (have_redis) {
            b = median(rb, nr);
            row("redis", o.conns[i], o.pipe[i], &b);
            printf("  ratio    %5d %4d %11.2fx %8.2fx %8.2fx %8.2fx   (seqtick/redis; "
                   "latency <1 is better)\n",
                   o.conns[i], o.pipe[i], a.rps / b.rps, a.p50 / b.p50, a.p99 / b.p99,
                   a.p999 / b.p999);
        }
    }

    if (o.ticks > 0) {
        struct result a = {0}, b = {0};
        ticks_seqtick(seg, sport, o.ticks, &a);
        printf("tick -> subscriber (%d ticks, one at a time): seqtick p50 %.1f us p99 %.1f us "
               "(%llu received)\n",
               o.ticks, a.p50, a.p99, (unsigned long long)a.n);
        if (have_redis) {
            ticks_redis(rport, o.ticks, &b);
            printf("publish -> subscriber, Redis pub/sub:              p50 %.1f us p99 %.1f us "
                   "(%llu received); ratio p50 %.2fx p99 %.2fx\n",
                   b.p50, b.p99, (unsigned long long)b.n, a.p50 / b.p50, a.p99 / b.p99);
        }
    }

    if (o.idle_conns > 0) {
        double per_s = 0, per_r = 0;
        const char *ping = "{\"v\":1,\"id\":1,\"type\":\"ping\"}\n";
        long n = idle_kb_per_10k(spid, sport, o.idle_conns, ping, &per_s);
        printf("idle connections: %ld to seqtick-server: %.0f bytes RSS each", n, per_s);
        if (have_redis) {
            stk_bench_nap_ms(500);
            long m = idle_kb_per_10k(rpid, rport, o.idle_conns, "*1\r\n$4\r\nPING\r\n", &per_r);
            printf("; %ld to redis-server: %.0f bytes each; ratio %.2fx", m, per_r,
                   per_r > 0 ? per_s / per_r : 0);
        }
        printf("\n");
    }
done:
    stk_bench_reap(spid);
    stk_bench_reap(rpid);
    stk_seg_close(seg);
    stk_seg_unlink(shm);
    unlink(conf);
    unlink(slog);
    unlink(rlog);
    rmdir(dir);
    return rc;
}
