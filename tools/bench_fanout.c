/* SPDX-License-Identifier: MIT */
/* bench_fanout.c — seqtick-bench fanout: fan-out of seqtick-server (ticks and
 * latest modes) against Redis pub/sub and NATS, one system at a time on
 * loopback, with the same paced publisher and the same epoll subscriber. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "benchutil.h"
#include "segment-private.h"
#include "util-private.h"

enum sys { SYS_TICKS, SYS_LATEST, SYS_REDIS, SYS_NATS, NSYS };
static const char *const sys_name[NSYS] = {"seqtick-ticks", "seqtick-latest", "redis", "nats"};

#define MAXLIST 8
#define MAXRUNS 15
#define MAXSYM 999
#define LAT_CAP (1u << 20)         /* latency samples kept per run; a reservoir beyond */
#define AGE_CAP (1u << 18)         /* held-value age samples kept per run */
#define AGE_PAIRS_PER_MS 2048u     /* (connection, symbol) pairs aged per 1 ms sample */
#define PUB_PENDING_MAX (8u << 20) /* publisher bytes Redis/NATS have not taken yet */
#define MSG_MAX 512                /* one published command, payload included */
#define RBUF (512u << 10)          /* the subscriber's read buffer */
#define WARM_NS 300000000ull       /* publishing before the measured window */

struct opts {
    double seconds;
    int runs, history;
    int n[MAXLIST], nn, rate[MAXLIST], nr, sym[MAXLIST], ns;
    bool on[NSYS];
    const char *server_bin, *redis_bin, *nats_bin;
    const char *set[8]; /* --set KEY=VALUE: [server] lines of seqtick-server's config */
    int nset;
};

/* One run's figures, or the median of a cell's runs. */
struct figures {
    bool ok;
    double pub_s, ev_s;     /* ticks published, events delivered (all subscribers) per s */
    double p50, p99, p999;  /* publish -> subscriber latency, µs */
    double age_ms;          /* held-value age p50 */
    double cpu_pct, rss_mb; /* server: CPU over the window, peak RSS (VmHWM) */
    double confl_pct, cut;  /* 1 - delivered / (published x N); connections closed by it */
    double gap_pct;         /* ticks mode: ticks lost in gap events / (published x N) */
};

/* The page the bench and its subscriber child share (MAP_SHARED, mapped
 * before the fork). The bench writes the window; the child the results. */
struct shared {
    _Atomic int state;               /* child: 1 all subscribed, 2 results written, -1 failed */
    _Atomic uint64_t t_start, t_end; /* measured window, CLOCK_REALTIME ns; 0 = not yet */
    uint64_t events, lost, cut, nlat;
    double p50, p99, p999, age_ms;
    char err[240];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void nap_us(long us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000L};
    nanosleep(&ts, NULL);
}

/* Algorithm R: every value has the same chance to be among the cap kept. */
static void keep(uint64_t *arr, size_t cap, size_t *n, uint64_t *seen, uint64_t v, uint64_t *rng)
{
    (*seen)++;
    if (*n < cap) {
        arr[(*n)++] = v;
        return;
    }
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t j = (*rng >> 11) % *seen;
    if (j < cap)
        arr[j] = v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* q-quantile of sorted v[0..n) */
static uint64_t quantile(const uint64_t *v, size_t n, double q)
{
    size_t i = (size_t)((double)n * q);
    return n ? v[i < n ? i : n - 1] : 0;
}

/* ---- the subscriber (a child process, N connections, one epoll loop) ---- */

struct sconn {
    int fd;
    bool open;
    int acks; /* subscribe acknowledgements seen */
    char *carry;
    size_t clen, ccap;
};

struct sub {
    enum sys sys;
    int nconn, nsym, port, need_acks;
    struct sconn *c;
    uint64_t *held; /* [conn * nsym + sym]: ts_ns of the value held, 0 = none yet */
    uint64_t *lat, lat_seen, *age, age_seen, rng;
    size_t nlat, nage, age_cursor;
    uint64_t events, lost, cut;
    bool counting, setup;
    struct shared *sh;
};

/* The number after the last "ts_ns": in p (the last field but two at most
 * of every event here: scanning back from the end is the cheap way). */
static uint64_t last_ts_ns(const char *p, size_t len)
{
    static const char key[] = "\"ts_ns\":";
    size_t kl = sizeof(key) - 1;
    for (size_t i = len; i-- > kl;)
        if (p[i] == ':' && !memcmp(p + i + 1 - kl, key, kl))
            return strtoull(p + i + 1, NULL, 10);
    return 0;
}

static uint64_t num_after(const char *p, size_t len, const char *key)
{
    const char *k = memmem(p, len, key, strlen(key));
    return k ? strtoull(k + strlen(key), NULL, 10) : 0;
}

/* One JSON event: a seqtick line, or a Redis/NATS payload of the same shape. */
static void on_json(struct sub *s, int ci, const char *p, size_t len, uint64_t now)
{
    static const char head[] = "{\"v\":1,\"type\":\"", reply[] = "{\"v\":1,\"id\":";
    size_t hl = sizeof(head) - 1;
    if (len > sizeof(reply) && !memcmp(p, reply, sizeof(reply) - 1)) {
        if (memmem(p, len, "\"type\":\"response\"", 17)) /* the subscribe ack */
            s->c[ci].acks++;
        else
            snprintf(s->sh->err, sizeof(s->sh->err), "%.*s", (int)(len < 200 ? len : 200), p);
        return;
    }
    if (len < hl + 2 || memcmp(p, head, hl))
        return;
    char t = p[hl], t2 = p[hl + 1];
    if (t == 'e') {
        snprintf(s->sh->err, sizeof(s->sh->err), "%.*s", (int)(len < 200 ? len : 200), p);
        return;
    }
    if (t == 'g') { /* gap: ticks lost to this subscriber */
        if (s->counting)
            s->lost += num_after(p, len, "\"to_tick\":") - num_after(p, len, "\"from_tick\":");
        return;
    }
    if (!(t == 'q' || (t == 't' && t2 == 'i')))
        return; /* heartbeat */
    const char *tk = memmem(p, len, "\"ticker\":\"S", 11);
    uint64_t ts = last_ts_ns(p, len);
    if (!tk || !ts)
        return;
    int sym = atoi(tk + 11);
    if (sym >= 0 && sym < s->nsym) {
        uint64_t *h = &s->held[(size_t)ci * (size_t)s->nsym + (size_t)sym];
        if (ts > *h)
            *h = ts;
    }
    if (!s->counting)
        return;
    s->events++;
    keep(s->lat, LAT_CAP, &s->nlat, &s->lat_seen, now > ts ? now - ts : 0, &s->rng);
}

static size_t feed_ndjson(struct sub *s, int ci, const char *b, size_t len, uint64_t now)
{
    size_t off = 0;
    for (;;) {
        const char *nl = memchr(b + off, '\n', len - off);
        if (!nl)
            return off;
        on_json(s, ci, b + off, (size_t)(nl - (b + off)), now);
        off = (size_t)(nl - b) + 1;
    }
}

/* One RESP element at b: its length, 0 if incomplete; a bulk string's text
 * in *str (NULL for other kinds). */
static size_t resp_elem(const char *b, size_t len, const char **str, size_t *slen)
{
    const char *nl = memchr(b, '\n', len);
    *str = NULL;
    if (!nl)
        return 0;
    size_t hdr = (size_t)(nl - b) + 1;
    if (b[0] != '$')
        return hdr;
    long n = strtol(b + 1, NULL, 10);
    if (n < 0)
        return hdr;
    if (len < hdr + (size_t)n + 2)
        return 0;
    *str = b + hdr;
    *slen = (size_t)n;
    return hdr + (size_t)n + 2;
}

static size_t feed_resp(struct sub *s, int ci, const char *b, size_t len, uint64_t now)
{
    size_t off = 0;
    while (off < len) {
        const char *p = b + off, *str;
        size_t left = len - off, sl = 0;
        if (p[0] != '*') { /* +OK, -ERR, :n */
            size_t e = resp_elem(p, left, &str, &sl);
            if (!e)
                break;
            if (p[0] == '-')
                snprintf(s->sh->err, sizeof(s->sh->err), "redis: %.*s", (int)(e < 200 ? e : 200),
                         p);
            off += e;
            continue;
        }
        const char *nl = memchr(p, '\n', left);
        if (!nl)
            break;
        long cnt = strtol(p + 1, NULL, 10);
        size_t pos = (size_t)(nl - p) + 1, elen[3] = {0};
        const char *el[3] = {NULL};
        bool whole = true;
        for (long i = 0; i < cnt; i++) {
            size_t e = resp_elem(p + pos, left - pos, &str, &sl);
            if (!e) {
                whole = false;
                break;
            }
            if (i < 3)
                el[i] = str, elen[i] = sl;
            pos += e;
        }
        if (!whole)
            break;
        off += pos;
        if (el[0] && elen[0] == 7 && !memcmp(el[0], "message", 7) && el[2])
            on_json(s, ci, el[2], elen[2], now);
        else if (el[0] && elen[0] == 9 && !memcmp(el[0], "subscribe", 9))
            s->c[ci].acks++;
    }
    return off;
}

static size_t feed_nats(struct sub *s, int ci, const char *b, size_t len, uint64_t now)
{
    size_t off = 0;
    while (off < len) {
        const char *p = b + off;
        size_t left = len - off;
        const char *nl = memchr(p, '\n', left);
        if (!nl)
            break;
        size_t hdr = (size_t)(nl - p) + 1;
        if (hdr > 4 && !memcmp(p, "MSG ", 4)) { /* MSG subject sid [reply] bytes */
            const char *e = nl;
            while (e > p && e[-1] == '\r')
                e--;
            const char *t = e;
            while (t > p && t[-1] != ' ')
                t--;
            size_t n = strtoul(t, NULL, 10);
            if (left < hdr + n + 2)
                break;
            on_json(s, ci, p + hdr, n, now);
            off += hdr + n + 2;
            continue;
        }
        if (hdr >= 4 && !memcmp(p, "PING", 4)) {
            (void)!write(s->c[ci].fd, "PONG\r\n", 6);
        } else if (hdr >= 4 && !memcmp(p, "PONG", 4)) {
            s->c[ci].acks++;
        } else if (p[0] == '-') {
            snprintf(s->sh->err, sizeof(s->sh->err), "nats: %.*s", (int)(hdr < 200 ? hdr : 200), p);
        }
        off += hdr;
    }
    return off;
}

/* Read what connection ci has; false when the server closed it. The
 * clock is read after each read(2): a long turn of the loop does not make
 * the messages read late look early. */
static bool conn_read(struct sub *s, int ci, char *buf)
{
    struct sconn *c = &s->c[ci];
    if (c->clen)
        memcpy(buf, c->carry, c->clen);
    ssize_t r = read(c->fd, buf + c->clen, RBUF - c->clen);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (r <= 0)
        return false;
    uint64_t now = now_real();
    size_t len = c->clen + (size_t)r, used;
    if (s->sys == SYS_REDIS)
        used = feed_resp(s, ci, buf, len, now);
    else if (s->sys == SYS_NATS)
        used = feed_nats(s, ci, buf, len, now);
    else
        used = feed_ndjson(s, ci, buf, len, now);
    size_t rest = len - used;
    if (rest > RBUF / 2)
        return false; /* no message here is this long: the stream is broken */
    if (rest > c->ccap) {
        char *n = realloc(c->carry, rest);
        if (!n)
            return false;
        c->carry = n, c->ccap = rest;
    }
    if (rest)
        memcpy(c->carry, buf + used, rest);
    c->clen = rest;
    return true;
}

/* The request that subscribes one connection to S000..S(nsym-1). */
static char *subscribe_request(enum sys sys, int nsym, size_t *len)
{
    size_t cap = 256 + (size_t)nsym * 24, n = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    if (sys == SYS_REDIS) {
        n += (size_t)sprintf(b + n, "*%d\r\n$9\r\nSUBSCRIBE\r\n", nsym + 1);
        for (int i = 0; i < nsym; i++)
            n += (size_t)sprintf(b + n, "$4\r\nS%03d\r\n", i);
    } else if (sys == SYS_NATS) {
        n += (size_t)sprintf(b + n, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
        for (int i = 0; i < nsym; i++)
            n += (size_t)sprintf(b + n, "SUB S%03d %d\r\n", i, i + 1);
        n += (size_t)sprintf(b + n, "PING\r\n");
    } else {
        n += (size_t)sprintf(b + n, "{\"v\":1,\"id\":1,\"type\":\"subscribe\",\"tickers\":[");
        for (int i = 0; i < nsym; i++)
            n += (size_t)sprintf(b + n, "%s\"S%03d\"", i ? "," : "", i);
        n += (size_t)sprintf(b + n, "]%s}\n", sys == SYS_TICKS ? ",\"mode\":\"ticks\"" : "");
    }
    *len = n;
    return b;
}

static void sample_ages(struct sub *s, uint64_t now)
{
    size_t total = (size_t)s->nconn * (size_t)s->nsym;
    size_t k = total < AGE_PAIRS_PER_MS ? total : AGE_PAIRS_PER_MS;
    for (size_t i = 0; i < k; i++) {
        size_t at = s->age_cursor++ % total;
        uint64_t h = s->held[at];
        if (h && s->c[at / (size_t)s->nsym].open)
            keep(s->age, AGE_CAP, &s->nage, &s->age_seen, now > h ? now - h : 0, &s->rng);
    }
}

static int sub_fail(struct sub *s, const char *what, int err)
{
    if (!s->sh->err[0])
        snprintf(s->sh->err, sizeof(s->sh->err), "%s: %s", what, strerror(err));
    atomic_store(&s->sh->state, -1);
    return -1;
}

/* The child's whole life: connect, subscribe, count until the window ends,
 * write the results to the shared page. */
static int sub_loop(struct sub *s, const char *req, size_t rlen, char *buf, int ep)
{
    for (int i = 0; i < s->nconn; i++) {
        struct sconn *c = &s->c[i];
        c->fd = stk_bench_dial(s->port, true);
        if (c->fd < 0)
            return sub_fail(s, "connect", -c->fd);
        c->open = true;
        if (write(c->fd, req, rlen) != (ssize_t)rlen)
            return sub_fail(s, "subscribe", errno);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            return sub_fail(s, "epoll_ctl", errno);
    }
    struct epoll_event evs[512];
    uint64_t deadline = now_real() + 60000000000ull, next_age = 0;
    bool subscribed = false;
    for (;;) {
        int n = epoll_wait(ep, evs, 512, 1);
        uint64_t now = now_real(), t_start = atomic_load(&s->sh->t_start),
                 t_end = atomic_load(&s->sh->t_end);
        if (t_end && now >= t_end)
            break;
        s->counting = t_start && now >= t_start;
        for (int e = 0; e < n; e++) {
            int ci = (int)evs[e].data.u32;
            if (!s->c[ci].open || conn_read(s, ci, buf))
                continue;
            if (!subscribed)
                return sub_fail(s, "connection closed while subscribing", ECONNRESET);
            epoll_ctl(ep, EPOLL_CTL_DEL, s->c[ci].fd, NULL);
            close(s->c[ci].fd);
            s->c[ci].open = false;
            s->cut++;
        }
        if (!subscribed) {
            int done = 0;
            for (int i = 0; i < s->nconn; i++)
                done += s->c[i].acks >= s->need_acks;
            if (done == s->nconn) {
                subscribed = true;
                atomic_store(&s->sh->state, 1);
            } else if (now > deadline || stop || getppid() == 1) {
                return sub_fail(s, "subscribe acks", ETIMEDOUT);
            }
        }
        if (s->counting && now >= next_age) {
            sample_ages(s, now);
            next_age = now + 1000000u;
        }
    }
    qsort(s->lat, s->nlat, sizeof(uint64_t), cmp_u64);
    qsort(s->age, s->nage, sizeof(uint64_t), cmp_u64);
    struct shared *sh = s->sh;
    sh->events = s->events, sh->lost = s->lost, sh->cut = s->cut, sh->nlat = s->nlat;
    sh->p50 = (double)quantile(s->lat, s->nlat, 0.5) / 1e3;
    sh->p99 = (double)quantile(s->lat, s->nlat, 0.99) / 1e3;
    sh->p999 = (double)quantile(s->lat, s->nlat, 0.999) / 1e3;
    sh->age_ms = (double)quantile(s->age, s->nage, 0.5) / 1e6;
    atomic_store(&sh->state, 2);
    return 0;
}

static int sub_run(struct sub *s)
{
    size_t rlen = 0;
    char *req = subscribe_request(s->sys, s->nsym, &rlen), *buf = malloc(RBUF);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int r = req && buf && ep >= 0 ? sub_loop(s, req, rlen, buf, ep) : sub_fail(s, "setup", ENOMEM);
    if (ep >= 0)
        close(ep);
    free(req);
    free(buf);
    return r;
}

static pid_t sub_fork(enum sys sys, int nconn, int nsym, int port, struct shared *sh)
{
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid != 0)
        return pid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127);
    struct sub s = {.sys = sys, .nconn = nconn, .nsym = nsym, .port = port, .sh = sh};
    s.need_acks = sys == SYS_REDIS ? nsym : 1;
    s.rng = now_real() ^ (uint64_t)getpid();
    s.c = calloc((size_t)nconn, sizeof(*s.c));
    s.held = calloc((size_t)nconn * (size_t)nsym, sizeof(uint64_t));
    s.lat = malloc(LAT_CAP * sizeof(uint64_t));
    s.age = malloc(AGE_CAP * sizeof(uint64_t));
    int rc = s.c && s.held && s.lat && s.age ? sub_run(&s) : sub_fail(&s, "memory", ENOMEM);
    for (int i = 0; s.c && i < nconn; i++) {
        if (s.c[i].open)
            close(s.c[i].fd);
        free(s.c[i].carry);
    }
    free(s.c);
    free(s.held);
    free(s.lat);
    free(s.age);
    _exit(rc < 0 ? 1 : 0);
}

/* ---- the systems under test ---- */

struct bench {
    const struct opts *o;
    struct stk_seg *seg;
    uint32_t *symidx;
    char shm[64], dir[200], conf[240], log[240];
    const char *sbin;
};

/* Start sys's server on a free port (another one if it exits before it
 * listens): its pid and *port, or -1 after printing the end of its log. */
static pid_t start_server(struct bench *b, enum sys sys, int nconn, int *port)
{
    const struct opts *o = b->o;
    for (int attempt = 0; attempt < 5; attempt++) {
        char port_s[16], maxc_s[16];
        *port = stk_bench_free_port();
        if (*port < 0)
            break;
        snprintf(port_s, sizeof(port_s), "%d", *port);
        snprintf(maxc_s, sizeof(maxc_s), "%d", nconn + 100);
        FILE *f = sys != SYS_REDIS ? fopen(b->conf, "we") : NULL;
        if (sys != SYS_REDIS && !f) {
            fprintf(stderr, "seqtick-bench: fanout: unable to write '%s': %s\n", b->conf,
                    strerror(errno));
            return -1;
        }
        if (sys == SYS_NATS) /* slow subscribers are queued, not cut */
            fprintf(f,
                    "listen: 127.0.0.1:%d\nmax_pending: 4294967296\nwrite_deadline: \"120s\"\n"
                    "max_connections: %d\n",
                    *port, nconn + 100);
        else if (f) {
            fprintf(f,
                    "[shm]\nname = %s\n[producer]\nheartbeat_ms = 3600000\n[server]\n"
                    "listen = 127.0.0.1:%d\nmax_connections = %d\nfreshness_ms = 3600000\n"
                    "stats_interval_s = 0\n",
                    b->shm, *port, nconn + 100);
            for (int i = 0; i < o->nset; i++)
                fprintf(f, "%s\n", o->set[i]);
            fprintf(f, "[log]\nlevel = error\n");
        }
        if (f)
            fclose(f);
        const char *sargv[] = {b->sbin, "-c", b->conf, NULL};
        const char *nargv[] = {o->nats_bin, "-c", b->conf, NULL};
        const char *rargv[] = {o->redis_bin,
                               "--port",
                               port_s,
                               "--bind",
                               "127.0.0.1",
                               "--save",
                               "",
                               "--appendonly",
                               "no",
                               "--protected-mode",
                               "no",
                               "--maxclients",
                               maxc_s,
                               "--client-output-buffer-limit",
                               "pubsub 0 0 0",
                               NULL};
        const char *const *argv = sys == SYS_REDIS ? rargv : sys == SYS_NATS ? nargv : sargv;
        pid_t pid = stk_bench_spawn(argv, b->log, false);
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
    }
    char buf[1024];
    int fd = open(b->log, O_RDONLY | O_CLOEXEC);
    off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    ssize_t n = end >= 0 ? pread(fd, buf, sizeof(buf),
                                 end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0)
                         : -1;
    if (fd >= 0)
        close(fd);
    fprintf(stderr,
            "seqtick-bench: fanout: %s did not listen (port %d); the end of its log:\n%.*s\n",
            sys == SYS_REDIS  ? o->redis_bin
            : sys == SYS_NATS ? o->nats_bin
                              : b->sbin,
            *port, n > 0 ? (int)n : 0, buf);
    return -1;
}

/* ---- the paced publisher (this process) ---- */

/* The fields of seqtick's tick event for tick k of symbol sym, into q. */
static void make_quote(struct stk_quote *q, uint64_t k, uint64_t ts)
{
    int64_t cents = 10000 + (int64_t)(k % 100);
    memset(q, 0, sizeof(*q));
    q->price = cents * 1000000;
    q->bid = q->price - 1000000;
    q->ask = q->price + 1000000;
    q->bid_size = 300;
    q->ask_size = 500;
    q->volume = 1000 + k * 100;
    q->src_ts_ns = q->pub_ts_ns = ts;
}

/* The Redis PUBLISH / NATS PUB of that tick, its payload the JSON text of
 * seqtick's tick event (same fields, same size). Its length. */
static size_t make_command(char *out, enum sys sys, int sym, uint64_t k, const struct stk_quote *q)
{
    char pl[384];
    long long c = (long long)(q->price / 1000000);
    int n = snprintf(
        pl, sizeof(pl),
        "{\"v\":1,\"type\":\"tick\",\"ticker\":\"S%03d\",\"tick\":%llu,\"price\":%lld.%"
        "02lld,\"bid\":%lld.%02lld,\"ask\":%lld.%02lld,\"bid_size\":%u,\"ask_size\":%u,"
        "\"volume\":%llu,\"ts_ms\":%llu,\"ts_ns\":%llu}",
        sym, (unsigned long long)k, c / 100, c % 100, (c - 1) / 100, (c - 1) % 100, (c + 1) / 100,
        (c + 1) % 100, q->bid_size, q->ask_size, (unsigned long long)q->volume,
        (unsigned long long)(q->src_ts_ns / 1000000u), (unsigned long long)q->src_ts_ns);
    if (sys == SYS_REDIS)
        return (size_t)sprintf(out, "*3\r\n$7\r\nPUBLISH\r\n$4\r\nS%03d\r\n$%d\r\n%s\r\n", sym, n,
                               pl);
    return (size_t)sprintf(out, "PUB S%03d %d\r\n%s\r\n", sym, n, pl);
}

struct pubstate {
    int fd; /* Redis/NATS: the publisher's connection; -1 for seqtick */
    char *pend;
    size_t plen, poff;
};

/* Hand Redis/NATS what they take now; answer NATS's PINGs, drop the rest. */
static bool pub_pump(struct pubstate *p, enum sys sys)
{
    while (p->poff < p->plen) {
        ssize_t w = write(p->fd, p->pend + p->poff, p->plen - p->poff);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (w <= 0)
            return false;
        p->poff += (size_t)w;
    }
    if (p->poff == p->plen)
        p->poff = p->plen = 0;
    else if (p->poff > PUB_PENDING_MAX / 2) {
        memmove(p->pend, p->pend + p->poff, p->plen - p->poff);
        p->plen -= p->poff;
        p->poff = 0;
    }
    char buf[4096];
    ssize_t r = read(p->fd, buf, sizeof(buf));
    if (r == 0)
        return false;
    if (r > 0 && sys == SYS_NATS && memmem(buf, (size_t)r, "PING", 4))
        (void)!write(p->fd, "PONG\r\n", 6);
    return true;
}

/* Publish rate ticks/s round-robin over nsym symbols from go to t_end, all
 * the ticks that are due every ~100 µs. Returns the ticks published inside
 * [t_start, t_end); the server's CPU seconds and the wall time over it. */
static uint64_t publish(struct bench *b, enum sys sys, struct pubstate *p, int rate, int nsym,
                        uint64_t go, uint64_t t_start, uint64_t t_end, pid_t spid, double *cpu_s,
                        double *wall_s)
{
    uint64_t done = 0, in_window = 0, next_hb = 0, w0 = 0, now = go;
    double cpu0 = -1;
    struct stk_quote q;
    while (!stop) {
        now = now_real();
        if (!w0 && now >= t_start) {
            w0 = now;
            cpu0 = stk_bench_cpu_s(spid);
        }
        if (now >= t_end)
            break;
        uint64_t due = (uint64_t)((double)(now - go) * (double)rate / 1e9);
        if (due > done) {
            uint64_t made = 0;
            if (sys == SYS_TICKS || sys == SYS_LATEST) {
                stk_batch_begin(b->seg);
                for (; done < due; done++, made++) {
                    make_quote(&q, done / (uint64_t)nsym, now);
                    stk_tick_publish(b->seg, b->symidx[done % (uint64_t)nsym], &q);
                }
                stk_batch_end(b->seg, now);
            } else {
                for (; done < due && p->plen + MSG_MAX < PUB_PENDING_MAX; done++, made++) {
                    make_quote(&q, done / (uint64_t)nsym, now);
                    p->plen += make_command(p->pend + p->plen, sys, (int)(done % (uint64_t)nsym),
                                            done / (uint64_t)nsym, &q);
                }
                done = due; /* what did not fit is not published: the server is behind */
            }
            if (now >= t_start)
                in_window += made;
        }
        if (p->fd >= 0 && !pub_pump(p, sys)) {
            fprintf(stderr, "seqtick-bench: fanout: %s closed the publisher\n", sys_name[sys]);
            break;
        }
        if (p->fd < 0 && now >= next_hb) {
            stk_seg_heartbeat(b->seg, now);
            next_hb = now + 100000000u;
        }
        nap_us(100);
    }
    double cpu1 = stk_bench_cpu_s(spid);
    *cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    *wall_s = w0 ? (double)(now - w0) / 1e9 : 0;
    return in_window;
}

/* ---- one run, a cell, the grid ---- */

static void kill_wait(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

/* One run of sys on one cell: its figures (ok false if it could not run). */
static struct figures run_once(struct bench *b, enum sys sys, int nconn, int rate, int nsym,
                               struct shared *sh)
{
    struct figures f = {0};
    struct pubstate p = {.fd = -1};
    pid_t cpid = -1;
    int port;
    pid_t spid = start_server(b, sys, nconn, &port);
    if (spid < 0)
        return f;
    memset(sh, 0, sizeof(*sh));
    if (sys == SYS_REDIS || sys == SYS_NATS) {
        static const char redis_hello[] = "*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n";
        static const char nats_hello[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
        const char *hello = sys == SYS_REDIS ? redis_hello : nats_hello;
        p.fd = stk_bench_dial(port, true);
        p.pend = malloc(PUB_PENDING_MAX);
        if (p.fd < 0 || !p.pend || write(p.fd, hello, strlen(hello)) != (ssize_t)strlen(hello)) {
            fprintf(stderr, "seqtick-bench: fanout: %s: publisher connection failed\n",
                    sys_name[sys]);
            goto out;
        }
        fcntl(p.fd, F_SETFL, fcntl(p.fd, F_GETFL) | O_NONBLOCK);
    }
    cpid = sub_fork(sys, nconn, nsym, port, sh);
    if (cpid < 0)
        goto out;
    /* wait until every connection is subscribed (ASan and 1,000 connections
     * on two loaded cores: generous) */
    for (int i = 0; i < 90000 && atomic_load(&sh->state) == 0 && !stop; i++) {
        if (waitpid(cpid, NULL, WNOHANG) == cpid) {
            cpid = -1;
            break;
        }
        stk_bench_nap_ms(1);
    }
    if (atomic_load(&sh->state) != 1) {
        fprintf(stderr, "seqtick-bench: fanout: %s N=%d: subscriber not ready: %s\n", sys_name[sys],
                nconn,
                sh->err[0] ? sh->err
                : cpid < 0 ? "it exited"
                           : "timeout");
        goto out;
    }
    uint64_t go = now_real(), t_start = go + WARM_NS,
             t_end = t_start + (uint64_t)(b->o->seconds * 1e9);
    atomic_store(&sh->t_start, t_start);
    atomic_store(&sh->t_end, t_end);
    double cpu_s, wall_s;
    uint64_t published = publish(b, sys, &p, rate, nsym, go, t_start, t_end, spid, &cpu_s, &wall_s);
    long hwm = stk_bench_vm_kb(spid, "VmHWM:");
    for (int i = 0; i < 60000 && atomic_load(&sh->state) == 1 && !stop; i++)
        stk_bench_nap_ms(1);
    if (atomic_load(&sh->state) != 2 || wall_s <= 0) {
        if (!stop)
            fprintf(stderr, "seqtick-bench: fanout: %s N=%d: no results from the subscriber\n",
                    sys_name[sys], nconn);
        goto out;
    }
    f.ok = true;
    f.pub_s = (double)published / wall_s;
    f.ev_s = (double)sh->events / wall_s;
    f.p50 = sh->p50, f.p99 = sh->p99, f.p999 = sh->p999, f.age_ms = sh->age_ms;
    f.cpu_pct = cpu_s >= 0 ? 100.0 * cpu_s / wall_s : -1;
    f.rss_mb = hwm >= 0 ? (double)hwm / 1024.0 : -1;
    f.confl_pct = published ? 100.0 * (1.0 - (double)sh->events / ((double)published * nconn)) : 0;
    f.cut = (double)sh->cut;
    f.gap_pct = published ? 100.0 * (double)sh->lost / ((double)published * nconn) : 0;
    if (sh->err[0])
        fprintf(stderr, "seqtick-bench: fanout: %s N=%d: %s\n", sys_name[sys], nconn, sh->err);
out:
    kill_wait(cpid);
    kill_wait(spid);
    if (p.fd >= 0)
        close(p.fd);
    free(p.pend);
    return f;
}

/* Each figure the median of the runs that worked; cut the most of any. */
static struct figures median(const struct figures *r, int n)
{
    struct figures m = {0};
    double v[MAXRUNS];
    int c = 0;
    for (int i = 0; i < n; i++)
        if (r[i].ok)
            c++;
    if (!c)
        return m;
#define MEDIAN_OF(field)                                                                           \
    do {                                                                                           \
        int k = 0;                                                                                 \
        for (int i = 0; i < n; i++)                                                                \
            if (r[i].ok)                                                                           \
                v[k++] = r[i].field;                                                               \
        qsort(v, (size_t)k, sizeof(double), cmp_dbl);                                              \
        m.field = v[k / 2];                                                                        \
    } while (0)
    MEDIAN_OF(pub_s);
    MEDIAN_OF(ev_s);
    MEDIAN_OF(p50);
    MEDIAN_OF(p99);
    MEDIAN_OF(p999);
    MEDIAN_OF(age_ms);
    MEDIAN_OF(cpu_pct);
    MEDIAN_OF(rss_mb);
    MEDIAN_OF(confl_pct);
    MEDIAN_OF(gap_pct);
#undef MEDIAN_OF
    for (int i = 0; i < n; i++)
        if (r[i].ok && r[i].cut > m.cut)
            m.cut = r[i].cut;
    m.ok = true;
    return m;
}

static void row(int nsym, int rate, int n, enum sys sys, const struct figures *f)
{
    if (!f->ok) {
        printf("%4d %7d %5d  %-15s  failed (see above)\n", nsym, rate, n, sys_name[sys]);
        return;
    }
    printf("%4d %7d %5d  %-15s %9.0f %10.0f %9.1f %9.1f %9.1f %8.2f %5.0f %7.1f %6.1f %5.1f "
           "%4.0f\n",
           nsym, rate, n, sys_name[sys], f->pub_s, f->ev_s, f->p50, f->p99, f->p999, f->age_ms,
           f->cpu_pct, f->rss_mb, f->confl_pct, f->gap_pct, f->cut);
}

static int parse_list(const char *v, int *out, int max)
{
    int n = 0;
    char *end;
    for (const char *p = v; *p && n < max; p = *end ? end + 1 : end) {
        long x = strtol(p, &end, 10);
        if (end == p || x <= 0 || x > 10000000 || (*end && *end != ','))
            return -1;
        out[n++] = (int)x;
    }
    return n;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick-bench fanout [--seconds S] [--runs K] [--n LIST] [--rate LIST]\n"
               "       [--symbols LIST] [--systems LIST] [--history H] [--quick]\n"
               "       [--server PATH] [--redis PATH] [--nats PATH] [--set KEY=VALUE]...\n"
               "defaults: --seconds 2 --runs 3 --n 1,100,1000 --rate 1000,100000 --symbols 8,100\n"
               "          --systems seqtick-ticks,seqtick-latest,redis,nats --history 256\n"
               "--history: ring ticks per symbol (shm.history; 256 is the stack's default).\n"
               "--set: a line of seqtick-server's [server] section (up to 8), e.g. flush_us=0.\n"
               "--quick: one small cell (N=2, 1000/s, 8 symbols, 0.5 s, one run).\n"
               "Fan-out of seqtick-server against Redis pub/sub and NATS: one system at a time on\n"
               "loopback, a paced publisher (this process) and one epoll subscriber process with\n"
               "N connections for every system; runs alternate the order of the systems.\n");
}

/* The figures of cell (S, R, N) for sys, or NULL when the grid lacks it. */
static const struct figures *cell(const struct opts *o, const struct figures *res, int nsym,
                                  int rate, int n, enum sys sys)
{
    for (int si = 0; si < o->ns; si++)
        for (int ri = 0; ri < o->nr; ri++)
            for (int ni = 0; ni < o->nn; ni++)
                if (o->sym[si] == nsym && o->rate[ri] == rate && o->n[ni] == n) {
                    const struct figures *f = &res[((si * o->nr + ri) * o->nn + ni) * NSYS + sys];
                    return f->ok ? f : NULL;
                }
    return NULL;
}

static void ratio(const char *what, double a, double b, const char *want)
{
    if (b > 0)
        printf(" %s %.2fx (want %s);", what, a / b, want);
    else
        printf(" %s n/a;", what);
}

/* Headline comparison `no`: at R=1000 and n subscribers, each symbol
 * count's p99 (or p50) of both seqtick modes over Redis's. */
static void vs_redis(const struct opts *o, const struct figures *res, int no, int n, bool p99,
                     const char *want)
{
    int shown = 0;
    for (int si = 0; si < o->ns; si++) {
        int s = o->sym[si];
        const struct figures *tt = cell(o, res, s, 1000, n, SYS_TICKS),
                             *ll = cell(o, res, s, 1000, n, SYS_LATEST),
                             *rr = cell(o, res, s, 1000, n, SYS_REDIS);
        if (!rr || (!tt && !ll))
            continue;
        printf("  (%d) S=%d R=1000 N=%d:", no, s, n);
        if (tt)
            ratio(p99 ? "p99 ticks / redis" : "p50 ticks / redis", p99 ? tt->p99 : tt->p50,
                  p99 ? rr->p99 : rr->p50, want);
        if (ll)
            ratio(p99 ? "p99 latest / redis" : "p50 latest / redis", p99 ? ll->p99 : ll->p50,
                  p99 ? rr->p99 : rr->p50, want);
        printf("\n");
        shown++;
    }
    if (!shown)
        printf("  (%d) N=%d R=1000: not in this grid\n", no, n);
}

/* The four headline comparisons (fan-out targets), as ratios from this run. */
static void targets(const struct opts *o, const struct figures *res)
{
    printf("targets (ratios from this run):\n");
    const struct figures *t = cell(o, res, 8, 100000, 100, SYS_TICKS),
                         *l = cell(o, res, 8, 100000, 100, SYS_LATEST),
                         *r = cell(o, res, 8, 100000, 100, SYS_REDIS),
                         *n = cell(o, res, 8, 100000, 100, SYS_NATS);
    printf("  (1) S=8 R=100000 N=100 ticks:");
    if (t && r && n) {
        ratio("events/s / redis", t->ev_s, r->ev_s, ">= 1.0");
        ratio("/ nats", t->ev_s, n->ev_s, ">= 1.0");
        ratio("p99 / redis", t->p99, r->p99, "<= 0.1");
        ratio("/ nats", t->p99, n->p99, "<= 0.1");
        printf("\n");
    } else {
        printf(" not in this grid\n");
    }
    if (l)
        printf("  (2) S=8 R=100000 N=100 latest: held-value age p50 %.2f ms (want <= 2)\n",
               l->age_ms);
    else
        printf("  (2) S=8 R=100000 N=100 latest: not in this grid\n");
    vs_redis(o, res, 3, 1000, true, "<= 0.1");
    vs_redis(o, res, 4, 1, false, "<= 0.7");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--quick")) {
            o->seconds = 0.5, o->runs = 1;
            o->n[0] = 2, o->nn = 1;
            o->rate[0] = 1000, o->nr = 1;
            o->sym[0] = 8, o->ns = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--runs"))
            o->runs = atoi(v);
        else if (!strcmp(a, "--history"))
            o->history = atoi(v);
        else if (!strcmp(a, "--set") && o->nset < (int)(sizeof(o->set) / sizeof(o->set[0])) &&
                 strchr(v, '=') && !strchr(v, '\n'))
            o->set[o->nset++] = v;
        else if (!strcmp(a, "--n"))
            o->nn = parse_list(v, o->n, MAXLIST);
        else if (!strcmp(a, "--rate"))
            o->nr = parse_list(v, o->rate, MAXLIST);
        else if (!strcmp(a, "--symbols"))
            o->ns = parse_list(v, o->sym, MAXLIST);
        else if (!strcmp(a, "--server"))
            o->server_bin = v;
        else if (!strcmp(a, "--redis"))
            o->redis_bin = v;
        else if (!strcmp(a, "--nats"))
            o->nats_bin = v;
        else if (!strcmp(a, "--systems")) {
            memset(o->on, 0, sizeof(o->on));
            char list[256];
            snprintf(list, sizeof(list), "%s", v);
            for (char *sv, *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
                int k = 0;
                while (k < NSYS && strcmp(t, sys_name[k]))
                    k++;
                if (k == NSYS)
                    return -1;
                o->on[k] = true;
            }
        } else
            return -1;
    }
    bool any = false;
    for (int k = 0; k < NSYS; k++)
        any |= o->on[k];
    if (o->nn <= 0 || o->nr <= 0 || o->ns <= 0 || !any || o->seconds < 0.1 || o->runs < 1 ||
        o->runs > MAXRUNS || o->history < 1 || (o->history & (o->history - 1)))
        return -1;
    for (int i = 0; i < o->ns; i++)
        if (o->sym[i] > MAXSYM)
            return -1;
    return 0;
}

int stk_bench_fanout(int argc, char **argv)
{
    struct opts o = {.seconds = 2,
                     .runs = 3,
                     .history = 256, /* the stack's shm.history default */
                     .n = {1, 100, 1000},
                     .nn = 3,
                     .rate = {1000, 100000},
                     .nr = 2,
                     .sym = {8, 100},
                     .ns = 2,
                     .on = {true, true, true, true},
                     .redis_bin = "redis-server",
                     .nats_bin = access("/usr/sbin/nats-server", X_OK) == 0
                                     ? "/usr/sbin/nats-server"
                                     : "nats-server"};
    int r = parse_args(argc, argv, &o);
    if (r) {
        if (r < 0)
            usage(stderr);
        return r < 0 ? STK_EXIT_USAGE : 0;
    }
    /* 1,000 subscribers: their connections and the servers' (inherited) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    int maxsym = 0;
    for (int i = 0; i < o.ns; i++)
        maxsym = o.sym[i] > maxsym ? o.sym[i] : maxsym;
    for (int i = 0; i < o.nn; i++)
        if ((rlim_t)o.n[i] + 300 > rl.rlim_cur) {
            fprintf(stderr, "seqtick-bench: fanout: fatal: N=%d needs more fds than %llu\n", o.n[i],
                    (unsigned long long)rl.rlim_cur);
            return STK_EXIT_SYSTEM;
        }
    signal(SIGPIPE, SIG_IGN);

    /* a segment of our own, written here: we are the producer */
    struct bench b = {.o = &o};
    char srvbuf[PATH_MAX];
    snprintf(b.shm, sizeof(b.shm), "/stk-bench-fanout-%d", (int)getpid());
    const char *tmp = getenv("TMPDIR");
    snprintf(b.dir, sizeof(b.dir), "%s/stk-bench-fanout-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    struct stk_seg_params sp = {.name = b.shm,
                                .capacity = (uint32_t)(maxsym < 64 ? 64 : maxsym),
                                .history = (uint32_t)o.history,
                                .mode = 0600};
    enum stk_seg_how how;
    struct figures *res = NULL;
    struct shared *sh = MAP_FAILED;
    int rc = STK_EXIT_SYSTEM;
    r = stk_seg_attach_writer(&sp, &b.seg, &how);
    if (r < 0) {
        fprintf(stderr, "seqtick-bench: fanout: fatal: segment %s: %s\n", b.shm, stk_strerror(r));
        return STK_EXIT_SYSTEM;
    }
    if (!mkdtemp(b.dir)) {
        fprintf(stderr, "seqtick-bench: fanout: fatal: mkdtemp: %s\n", strerror(errno));
        b.dir[0] = 0;
        goto done;
    }
    snprintf(b.conf, sizeof(b.conf), "%s/system.conf", b.dir);
    snprintf(b.log, sizeof(b.log), "%s/system.log", b.dir);
    b.symidx = calloc((size_t)maxsym + 1, sizeof(uint32_t));
    res = calloc((size_t)o.ns * (size_t)o.nr * (size_t)o.nn * NSYS, sizeof(*res));
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!b.symidx || !res || sh == MAP_FAILED) {
        fprintf(stderr, "seqtick-bench: fanout: fatal: out of memory\n");
        goto done;
    }
    stk_batch_begin(b.seg);
    for (int i = 0; i < maxsym; i++) {
        char name[8];
        struct stk_quote q;
        snprintf(name, sizeof(name), "S%03d", i);
        int idx = stk_sym_add(b.seg, name);
        if (idx < 0) {
            fprintf(stderr, "seqtick-bench: fanout: fatal: symbol %s: %s\n", name,
                    stk_strerror(idx));
            stk_batch_end(b.seg, stk_now_ns());
            goto done;
        }
        b.symidx[i] = (uint32_t)idx;
        make_quote(&q, 0, stk_now_ns());
        stk_tick_publish(b.seg, (uint32_t)idx, &q);
    }
    stk_batch_end(b.seg, stk_now_ns());
    stk_seg_heartbeat(b.seg, stk_now_ns());
    b.sbin = o.server_bin;
    if (!b.sbin) {
        (void)stk_find_program("seqtick-server", "server", srvbuf, sizeof(srvbuf));
        b.sbin = srvbuf;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("seqtick-bench fanout: one system at a time on loopback, %d run(s) of %.1f s (after "
           "%.1f s warm-up) per cell and system, order alternating; each figure the median of "
           "the runs (cut: the most in any run). Latency: subscriber receive - publish ts_ns "
           "(CLOCK_REALTIME). Ring %d ticks/symbol.\n",
           o.runs, o.seconds, (double)WARM_NS / 1e9, o.history);
    printf("%4s %7s %5s  %-15s %9s %10s %9s %9s %9s %8s %5s %7s %6s %5s %4s\n", "S", "R/s", "N",
           "system", "pub/s", "events/s", "p50 us", "p99 us", "p99.9 us", "age50 ms", "cpu%",
           "rss MB", "confl%", "gap%", "cut");
    fflush(stdout);
    for (int si = 0; si < o.ns && !stop; si++)
        for (int ri = 0; ri < o.nr && !stop; ri++)
            for (int ni = 0; ni < o.nn && !stop; ni++) {
                struct figures runs[NSYS][MAXRUNS];
                memset(runs, 0, sizeof(runs));
                for (int k = 0; k < o.runs && !stop; k++)
                    for (int j = 0; j < NSYS && !stop; j++) {
                        enum sys sys = (enum sys)(k % 2 ? NSYS - 1 - j : j);
                        if (o.on[sys])
                            runs[sys][k] = run_once(&b, sys, o.n[ni], o.rate[ri], o.sym[si], sh);
                    }
                for (int j = 0; j < NSYS && !stop; j++) {
                    if (!o.on[j])
                        continue;
                    struct figures *f = &res[((si * o.nr + ri) * o.nn + ni) * NSYS + j];
                    *f = median(runs[j], o.runs);
                    row(o.sym[si], o.rate[ri], o.n[ni], (enum sys)j, f);
                }
                fflush(stdout);
            }
    if (!stop) {
        double cut = 0;
        for (int i = 0; i < o.ns * o.nr * o.nn * NSYS; i++)
            cut += res[i].ok ? res[i].cut : 0;
        printf("subscribers cut by a server: %s\n", cut > 0 ? "yes (see the cut column)" : "none");
        targets(&o, res);
        rc = 0;
    }
done:
    if (sh != MAP_FAILED)
        munmap(sh, sizeof(*sh));
    free(res);
    free(b.symidx);
    stk_seg_close(b.seg);
    stk_seg_unlink(b.shm);
    if (b.dir[0]) {
        unlink(b.conf);
        unlink(b.log);
        rmdir(b.dir);
    }
    return stop ? 130 : rc;
}
