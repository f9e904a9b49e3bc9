/* SPDX-License-Identifier: MIT */
/* vwap_net.c — the C twin of vwap_net.py: a VWAP per ticker over the network
 * from every tick. Connects to seqtick-server's NDJSON port, subscribes with
 * "mode":"ticks" and weighs each tick's price by the volume traded since the
 * previous tick (the quotes' volume is cumulative). A `gap` event is counted
 * and the next volume step, which spans the lost ticks, is not weighed. On a
 * lost connection it reconnects and resumes each ticker with `from_tick` at
 * the tick after the last one it saw.
 *
 *   cc -O2 -std=c11 examples/vwap_net.c -o vwap_net     (needs jsmn.h: libjsmn-dev)
 *   ./vwap_net --port 7878 --tickers AAPL,MSFT --every 1000 --seconds 60
 *
 * Prints `VWAP TICKER PRICE ticks=N volume=V gaps=G` every --every ticks of a
 * ticker and for every ticker at the end (--seconds, SIGTERM or Ctrl-C), and
 * `GAP TICKER FROM..TO` for each gap. An error reply from the server: its
 * code and message on stderr, exit 1. Plain POSIX sockets and poll(2), JSON
 * by jsmn (header only); nothing of seqtick's own code. */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define JSMN_STATIC
#define JSMN_STRICT /* without it jsmn takes `not json` for three primitives */
#include <jsmn.h>

#define LINE_MAX_BYTES (4 << 20) /* longest line kept: the ack of "*" holds every quote */
#define NAME_BYTES 32            /* a ticker is 1..31 bytes of 0x21..0x7e */
#define SILENCE_S 15.0   /* subscribed, the server sends a heartbeat after 1 s without events */
#define CONNECT_S 10.0   /* the Python twin's connect timeout */
#define RETRY_S 0.5      /* pause before reconnecting */
#define EXCERPT_BYTES 60 /* of a bad line, in its report */

struct vwap {
    char name[NAME_BYTES];
    double pv;        /* sum of price x volume step */
    int64_t vol;      /* sum of volume steps */
    int64_t last_vol; /* cumulative volume of the previous tick */
    bool have_last;   /* false: the next step is not weighed */
    int64_t ticks, gaps;
    int64_t next_tick; /* ring tick to resume from after a reconnect */
    bool resume;       /* next_tick is set */
};

/* Books in arrival order (stable indices) and an open-addressing index. */
struct books {
    struct vwap *v;
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 = empty; cap * 2 slots */
};

struct opts {
    const char *host, *port;
    char **tickers; /* NULL-terminated; {"*"} for all */
    long every;
    double seconds;
};

/* What one connection ended with. */
enum { STREAM_STOP, STREAM_RETRY, STREAM_FATAL };

static volatile sig_atomic_t stop_flag;
static double deadline;

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

static bool stopping(void)
{
    return stop_flag || now_s() >= deadline;
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static struct vwap *book_find(const struct books *b, const char *name)
{
    if (!b->cap)
        return NULL;
    size_t mask = b->cap * 2 - 1;
    for (size_t i = hash(name) & mask; b->slot[i]; i = (i + 1) & mask)
        if (!strcmp(b->v[b->slot[i] - 1].name, name))
            return &b->v[b->slot[i] - 1];
    return NULL;
}

static void book_index(struct books *b, size_t k)
{
    size_t mask = b->cap * 2 - 1, i = hash(b->v[k].name) & mask;
    while (b->slot[i])
        i = (i + 1) & mask;
    b->slot[i] = (uint32_t)k + 1;
}

/* The book of name, created empty if new; NULL when out of memory. */
static struct vwap *book_get(struct books *b, const char *name)
{
    struct vwap *v = book_find(b, name);
    if (v)
        return v;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct vwap *nv = realloc(b->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        b->v = nv;
        uint32_t *ns = calloc(cap * 2, sizeof *ns);
        if (!ns)
            return NULL;
        free(b->slot);
        b->slot = ns;
        b->cap = cap;
        for (size_t k = 0; k < b->n; k++)
            book_index(b, k);
    }
    v = &b->v[b->n];
    memset(v, 0, sizeof *v);
    memcpy(v->name, name, strlen(name) + 1);
    book_index(b, b->n++);
    return v;
}

static void print_line(const struct vwap *v)
{
    char price[32] = "-";
    if (v->vol)
        snprintf(price, sizeof price, "%.4f", v->pv / (double)v->vol);
    printf("VWAP %s %s ticks=%lld volume=%lld gaps=%lld\n", v->name, price, (long long)v->ticks,
           (long long)v->vol, (long long)v->gaps);
    fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct vwap *)a)->name, ((const struct vwap *)b)->name);
}

/* ---- one line of NDJSON ---- */

struct parser {
    jsmntok_t *tok;
    unsigned ntok;
};

/* Index of the token after the value at tokens[i] (children lie inside
 * their parent's byte range). */
static int skip(const jsmntok_t *t, int n, int i)
{
    int j = i + 1;
    while (j < n && t[j].start < t[i].end)
        j++;
    return j;
}

/* The value token of key in the object at tokens[obj], or -1. */
static int member(const char *s, const jsmntok_t *t, int n, int obj, const char *key)
{
    size_t klen = strlen(key);
    int i = obj + 1;
    for (int k = 0; k < t[obj].size && i + 1 < n; k++) {
        if (t[i].type == JSMN_STRING && (size_t)(t[i].end - t[i].start) == klen &&
            !memcmp(s + t[i].start, key, klen))
            return i + 1;
        i = skip(t, n, i + 1);
    }
    return -1;
}

/* A JSON number token: only these characters, so strtod never reads
 * hex, inf or nan, which jsmn would pass as primitives. */
static bool numeric(const char *s, const jsmntok_t *t)
{
    if (t->type != JSMN_PRIMITIVE ||
        !(s[t->start] == '-' || (s[t->start] >= '0' && s[t->start] <= '9')))
        return false;
    for (int i = t->start; i < t->end; i++)
        if (!strchr("0123456789+-.eE", s[i]))
            return false;
    return true;
}

static bool get_int(const char *s, const jsmntok_t *t, int i, int64_t *ret)
{
    if (i < 0 || !numeric(s, &t[i]))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s + t[i].start, &end, 10);
    if (errno || end != s + t[i].end)
        return false;
    *ret = v;
    return true;
}

static bool get_num(const char *s, const jsmntok_t *t, int i, double *ret)
{
    if (i < 0 || !numeric(s, &t[i]))
        return false;
    char *end;
    double v = strtod(s + t[i].start, &end);
    if (end != s + t[i].end || !isfinite(v))
        return false;
    *ret = v;
    return true;
}

/* Decodes the JSON string tokens[i] into dst (cap bytes, NUL-terminated).
 * \uXXXX is decoded below 0x80 and kept as written above (jsmn checked the
 * escapes). False if it is not a string or does not fit. */
static bool get_str(const char *s, const jsmntok_t *t, int i, char *dst, size_t cap)
{
    if (i < 0 || t[i].type != JSMN_STRING)
        return false;
    size_t o = 0;
    for (int k = t[i].start; k < t[i].end; k++) {
        char c = s[k];
        if ((unsigned char)c < 0x20)
            return false; /* raw control characters are not JSON */
        if (c == '\\') {
            c = s[++k];
            unsigned u;
            if (c == 'u' && sscanf(s + k + 1, "%4x", &u) == 1 && u < 0x80) {
                c = (char)u;
                k += 4;
                if (!c)
                    return false;
            } else if (c == 'u') {
                c = '\\';
                k--;
            } else {
                const char *esc = strchr("b\bf\fn\nr\rt\t", c);
                c = esc ? esc[1] : c; /* \" \\ \/ stand for themselves */
            }
        }
        if (o + 1 >= cap)
            return false;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return true;
}

static bool ticker_ok(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n >= NAME_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (name[i] < 0x21 || name[i] > 0x7e)
            return false;
    return true;
}

/* Reports a line it cannot use on stderr: why, and its first bytes. */
static void report(const char *why, const char *line, size_t len)
{
    char ex[EXCERPT_BYTES + 1];
    size_t n = len < EXCERPT_BYTES ? len : EXCERPT_BYTES;
    for (size_t i = 0; i < n; i++)
        ex[i] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
    ex[n] = '\0';
    fprintf(stderr, "vwap_net: skipped a line from the server (%s): %s%s\n", why, ex,
            len > n ? "..." : "");
}

/* Tokenizes line (NUL-terminated); the token count, or -1 after reporting. */
static int tokenize(struct parser *p, const char *line, size_t len)
{
    if (strlen(line) != len) { /* jsmn would stop at the NUL */
        report("not JSON", line, len);
        return -1;
    }
    jsmn_parser jp;
    jsmn_init(&jp);
    int n = jsmn_parse(&jp, line, len, p->tok, p->ntok);
    if (n == JSMN_ERROR_NOMEM) {
        jsmn_init(&jp);
        n = jsmn_parse(&jp, line, len, NULL, 0);
        if (n > 0) {
            jsmntok_t *t = realloc(p->tok, (size_t)n * sizeof *t);
            if (!t) {
                report("out of memory", line, len);
                return -1;
            }
            p->tok = t;
            p->ntok = (unsigned)n;
            jsmn_init(&jp);
            n = jsmn_parse(&jp, line, len, p->tok, p->ntok);
        }
    }
    if (n < 0) {
        report("not JSON", line, len);
        return -1;
    }
    if (n == 0 || p->tok[0].type != JSMN_OBJECT) {
        report("not a JSON object", line, len);
        return -1;
    }
    if (strspn(line + p->tok[0].end, " \t\r") != len - (size_t)p->tok[0].end) {
        report("data after the JSON object", line, len);
        return -1;
    }
    return n;
}

/* Handles one event; STREAM_FATAL on an error reply, else STREAM_RETRY. */
static int on_line(struct parser *p, struct books *bk, const struct opts *o, const char *line,
                   size_t len)
{
    int n = tokenize(p, line, len);
    if (n < 0)
        return STREAM_RETRY;
    const jsmntok_t *t = p->tok;
    char type[16], name[NAME_BYTES];
    if (!get_str(line, t, member(line, t, n, 0, "type"), type, sizeof type)) {
        report("no \"type\"", line, len);
        return STREAM_RETRY;
    }
    if (!strcmp(type, "error")) {
        char code[64] = "?", msg[512] = "?";
        int e = member(line, t, n, 0, "error");
        if (e >= 0 && t[e].type == JSMN_OBJECT) {
            (void)get_str(line, t, member(line, t, n, e, "code"), code, sizeof code);
            (void)get_str(line, t, member(line, t, n, e, "message"), msg, sizeof msg);
        }
        fprintf(stderr, "vwap_net: %s: %s\n", code, msg);
        return STREAM_FATAL;
    }
    bool is_tick = !strcmp(type, "tick");
    if (!is_tick && strcmp(type, "gap"))
        return STREAM_RETRY; /* the acks, heartbeats */
    if (!get_str(line, t, member(line, t, n, 0, "ticker"), name, sizeof name) || !ticker_ok(name)) {
        report("no valid \"ticker\"", line, len);
        return STREAM_RETRY;
    }
    int64_t tick = 0, vol = 0, from = 0, to = 0;
    double price = 0;
    if (is_tick ? !get_int(line, t, member(line, t, n, 0, "tick"), &tick) ||
                      !get_num(line, t, member(line, t, n, 0, "price"), &price) ||
                      !get_int(line, t, member(line, t, n, 0, "volume"), &vol)
                : !get_int(line, t, member(line, t, n, 0, "from_tick"), &from) ||
                      !get_int(line, t, member(line, t, n, 0, "to_tick"), &to)) {
        report(is_tick ? "a tick without integer tick and volume and a numeric price"
                       : "a gap without integer from_tick and to_tick",
               line, len);
        return STREAM_RETRY;
    }
    struct vwap *b = book_get(bk, name);
    if (!b) {
        report("out of memory", line, len);
        return STREAM_RETRY;
    }
    if (!is_tick) {
        b->gaps++;
        b->have_last = false; /* the step over the lost ticks is not weighed */
        b->next_tick = to;
        b->resume = true;
        printf("GAP %s %lld..%lld\n", name, (long long)from, (long long)to);
        fflush(stdout);
        return STREAM_RETRY;
    }
    if (b->resume && tick < b->next_tick)
        return STREAM_RETRY; /* never count one twice */
    if (b->have_last && vol > b->last_vol) {
        int64_t step = vol - b->last_vol;
        b->pv += price * (double)step;
        b->vol += step;
    }
    b->last_vol = vol;
    b->have_last = true;
    b->ticks++;
    b->next_tick = tick + 1;
    b->resume = true;
    if (o->every && b->ticks % o->every == 0)
        print_line(b);
    return STREAM_RETRY;
}

/* ---- the connection ---- */

/* Writes "name" as a JSON string to dst (room for 2 * NAME_BYTES + 2). */
static void json_name(char *dst, const char *name)
{
    *dst++ = '"';
    for (; *name; name++) {
        if (*name == '"' || *name == '\\')
            *dst++ = '\\';
        *dst++ = *name;
    }
    *dst++ = '"';
    *dst = '\0';
}

#define REQ_HEAD "{\"v\":1,\"id\":%lld,\"type\":\"subscribe\",\"mode\":\"ticks\",\"tickers\":"
#define REQ_BYTES 160 /* REQ_HEAD, an escaped name, from_tick */

/* The subscribe requests of one connection, as vwap_net.py sends them: new
 * tickers from the ring's head, each ticker seen before from the tick after
 * its last, and "*" last (a ticker already streaming ticks keeps its place:
 * nothing resumed just before is replayed or skipped). Returns a malloc'd buffer and its length in
 * *ret_len, or NULL when out of memory. */
static char *requests(const struct opts *o, const struct books *bk, size_t *ret_len)
{
    size_t ntick = 0;
    while (o->tickers[ntick])
        ntick++;
    size_t cap = (bk->n + 1) * REQ_BYTES + ntick * (2 * NAME_BYTES + 3);
    char *buf = malloc(cap), *w = buf, q[2 * NAME_BYTES + 2];
    if (!buf)
        return NULL;
    long long id = 1;
    bool star = ntick == 1 && !strcmp(o->tickers[0], "*");
    if (!star) {
        char *list = w + sprintf(w, REQ_HEAD "[", id), *l = list;
        for (size_t i = 0; i < ntick; i++) {
            const struct vwap *v = book_find(bk, o->tickers[i]);
            if (v && v->resume)
                continue;
            json_name(q, o->tickers[i]);
            l += sprintf(l, "%s%s", l == list ? "" : ",", q);
        }
        if (l > list) { /* some are new */
            w = l + sprintf(l, "]}\n");
            id++;
        }
    }
    for (size_t k = 0; k < bk->n; k++) {
        const struct vwap *v = &bk->v[k];
        if (!v->resume)
            continue;
        json_name(q, v->name);
        w += sprintf(w, REQ_HEAD "[%s],\"from_tick\":%lld}\n", id++, q, (long long)v->next_tick);
    }
    if (star)
        w += sprintf(w, REQ_HEAD "\"*\"}\n", id++);
    *ret_len = (size_t)(w - buf);
    return buf;
}

/* A connected non-blocking socket to host:port, or -1 after saying why. */
static int dial(const struct opts *o)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
    int r = getaddrinfo(o->host, o->port, &hints, &ai);
    if (r) {
        fprintf(stderr, "vwap_net: unable to resolve '%s': %s; reconnecting\n", o->host,
                gai_strerror(r));
        return -1;
    }
    int fd = -1, err = 0;
    for (a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
            err = errno;
            if (fd >= 0)
                close(fd);
            fd = -1;
            continue;
        }
        err = connect(fd, a->ai_addr, a->ai_addrlen) < 0 ? errno : 0;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            double end = now_s() + CONNECT_S;
            while ((r = poll(&p, 1, 200)) == 0 || (r < 0 && errno == EINTR))
                if (stopping() || now_s() >= end)
                    break;
            socklen_t sl = sizeof err;
            if (r <= 0)
                err = r == 0 ? ETIMEDOUT : errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
                err = errno;
        }
        if (err) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0 && !stopping())
        fprintf(stderr, "vwap_net: unable to connect to %s:%s: %s; reconnecting\n", o->host,
                o->port, strerror(err));
    return fd;
}

/* One connection until stopping() (STREAM_STOP), the server closes it or
 * goes silent (STREAM_RETRY), or an error reply (STREAM_FATAL). The input
 * buffer holds at most LINE_MAX_BYTES: a longer line is reported and
 * dropped up to its newline. */
static int stream(const struct opts *o, struct books *bk, struct parser *p, char *in)
{
    int fd = dial(o);
    if (fd < 0)
        return stopping() ? STREAM_STOP : STREAM_RETRY;
    size_t out_len = 0, out_off = 0, in_len = 0;
    char *out = requests(o, bk, &out_len);
    if (!out) {
        fprintf(stderr, "vwap_net: out of memory; reconnecting\n");
        close(fd);
        return STREAM_RETRY;
    }
    bool dropping = false; /* inside a line too long to keep */
    double last_rx = now_s();
    int ret = STREAM_RETRY;
    while (!stopping()) {
        struct pollfd pf = {.fd = fd, .events = POLLIN | (out_off < out_len ? POLLOUT : 0)};
        int r = poll(&pf, 1, 200);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "vwap_net: poll: %s; reconnecting\n", strerror(errno));
            break;
        }
        if (r <= 0) {
            if (now_s() - last_rx > SILENCE_S) {
                fprintf(stderr, "vwap_net: nothing from the server for %.0f s; reconnecting\n",
                        SILENCE_S);
                break;
            }
            continue;
        }
        if (pf.revents & POLLOUT) {
            ssize_t w = send(fd, out + out_off, out_len - out_off, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "vwap_net: send: %s; reconnecting\n", strerror(errno));
                break;
            }
            out_off += w > 0 ? (size_t)w : 0;
        }
        if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t got = recv(fd, in + in_len, LINE_MAX_BYTES - in_len, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0) {
            if (got == 0)
                fprintf(stderr, "vwap_net: server closed the connection; reconnecting\n");
            else
                fprintf(stderr, "vwap_net: recv: %s; reconnecting\n", strerror(errno));
            break;
        }
        last_rx = now_s();
        size_t start = 0, end = in_len + (size_t)got;
        for (size_t i = in_len; i < end && ret == STREAM_RETRY; i++) {
            if (in[i] != '\n')
                continue;
            size_t len = i - start;
            in[start + len] = '\0';
            if (!dropping && strspn(in + start, " \t\r") < len)
                ret = on_line(p, bk, o, in + start, len);
            dropping = false;
            start = i + 1;
        }
        if (ret == STREAM_FATAL)
            break;
        in_len = end - start;
        memmove(in, in + start, in_len);
        if (in_len == LINE_MAX_BYTES) {
            if (!dropping)
                report("longer than 4 MiB, dropped", in, in_len); /* LINE_MAX_BYTES */
            dropping = true;
            in_len = 0;
        }
    }
    if (stopping() && ret == STREAM_RETRY)
        ret = STREAM_STOP;
    free(out);
    close(fd);
    return ret;
}

/* ---- main ---- */

static int usage(int code)
{
    fprintf(code ? stderr : stdout,
            "usage: vwap_net [--host H] [--port P] [--tickers A,B|*] [--every N] [--seconds S]\n"
            "  a VWAP per ticker from every tick of seqtick-server (subscribe mode ticks)\n"
            "  --host H      server host (default 127.0.0.1)\n"
            "  --port P      server NDJSON port (default 7878)\n"
            "  --tickers L   comma-separated, or * (default)\n"
            "  --every N     print each ticker every N ticks (default 0: only at the end)\n"
            "  --seconds S   stop after this long (default 0: never)\n");
    return code;
}

/* Splits list at commas into a NULL-terminated array (list is modified);
 * NULL on a bad name or out of memory. */
static char **split(char *list)
{
    size_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    size_t k = 0;
    for (char *tok = list, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        if (!ticker_ok(tok) || (!strcmp(tok, "*") && n > 1)) {
            fprintf(stderr, "vwap_net: fatal: bad ticker '%s' in --tickers\n", tok);
            free(v);
            return NULL;
        }
        v[k++] = tok;
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {{"host", required_argument, NULL, 'H'},
                                          {"port", required_argument, NULL, 'p'},
                                          {"tickers", required_argument, NULL, 't'},
                                          {"every", required_argument, NULL, 'e'},
                                          {"seconds", required_argument, NULL, 's'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    struct opts o = {.host = "127.0.0.1", .port = "7878"};
    const char *tickers = "*";
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = optarg;
            break;
        case 't':
            tickers = optarg;
            break;
        case 'e':
            o.every = strtol(optarg, &end, 10);
            if (*end || end == optarg || o.every < 0)
                return usage(100);
            break;
        case 's':
            o.seconds = strtod(optarg, &end);
            if (*end || end == optarg || !(o.seconds >= 0))
                return usage(100);
            break;
        case 'h':
            return usage(0);
        default:
            return usage(100);
        }
    }
    if (optind < argc)
        return usage(100);
    char *list = strdup(tickers);
    o.tickers = list ? split(list) : NULL;
    if (!o.tickers) {
        free(list);
        return 100;
    }

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    deadline = now_s() + (o.seconds > 0 ? o.seconds : 1e12);

    struct books bk = {0};
    struct parser p = {.ntok = 64};
    p.tok = malloc(p.ntok * sizeof *p.tok);
    char *in = malloc(LINE_MAX_BYTES + 1); /* + the NUL after a line */
    int status = 0;
    if (!p.tok || !in) {
        fprintf(stderr, "vwap_net: fatal: out of memory\n");
        status = 111;
    }
    while (!status && !stopping()) {
        int r = stream(&o, &bk, &p, in);
        if (r == STREAM_FATAL)
            status = 1;
        if (r != STREAM_RETRY)
            break;
        for (double until = now_s() + RETRY_S; !stopping() && now_s() < until;)
            (void)poll(NULL, 0, 50);
    }
    if (status != 1 && bk.n) {
        qsort(bk.v, bk.n, sizeof *bk.v, by_name); /* the index is not used again */
        for (size_t k = 0; k < bk.n; k++)
            print_line(&bk.v[k]);
    }
    free(bk.v);
    free(bk.slot);
    free(p.tok);
    free(in);
    free(o.tickers);
    free(list);
    return status;
}
