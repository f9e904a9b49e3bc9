/* SPDX-License-Identifier: MIT */
/* log.c — one record per line on stderr, "text" for people and "json" for
 * collectors; each record goes out in one write(2), or, in the buffered mode
 * a program with an event loop opts into, many records per write from a
 * bounded buffer that never blocks (a slow reader costs counted drops). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json-private.h"
#include "log-private.h"

int stk_log_level = STK_LOG_INFO;
static int log_format = STK_LOG_TEXT;
static char log_prog[32] = "seqtick";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void stk_log_init(const char *prog, int level, int format)
{
    if (prog)
        snprintf(log_prog, sizeof(log_prog), "%s", prog);
    if (level >= STK_LOG_DEBUG && level <= STK_LOG_ERROR)
        stk_log_level = level;
    log_format = format == STK_LOG_JSON ? STK_LOG_JSON : STK_LOG_TEXT;
}

int stk_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, level_names[i]))
            return i;
    if (!strcmp(s, "warning"))
        return STK_LOG_WARN;
    return -EINVAL;
}

int stk_log_format_parse(const char *s)
{
    if (!strcmp(s, "text"))
        return STK_LOG_TEXT;
    if (!strcmp(s, "json"))
        return STK_LOG_JSON;
    return -EINVAL;
}

/* ---- UTF-8 and JSON ------------------------------------------------------ */

size_t stk_utf8_cut(const char *s, size_t n)
{
    /* Back over at most three continuation bytes to the start of the last
     * sequence; cut before it unless it is complete. */
    size_t i = n;
    while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0xc0) {
        size_t want = stk_utf8_seq(s + i - 1, n - i + 1);
        if (want == 0 || want > n - i + 1)
            return i - 1 > 0 ? i - 1 : n;
    }
    return n;
}

/* The one JSON string escaper of the logger: append the body (no quotes) of
 * s[0..len) to out at *n (stk_json_escape(): control bytes, NUL included,
 * escaped; each byte that is not part of valid UTF-8 as U+FFFD). The caller
 * makes room for STK_JSON_ESC_MAX * len bytes. */
static void json_escape(char *out, size_t *n, const char *s, size_t len)
{
    *n += stk_json_escape(out + *n, len * STK_JSON_ESC_MAX, s, len, NULL);
}

/* If s[0..len) is one JSON object (strict RFC 8259, blanks around it
 * allowed), return the offset of its '{' and set *olen to its length; else
 * return -1. */
static long json_object_span(const char *s, size_t len, size_t *olen)
{
    struct stk_json j;
    const char *why;
    long at = -1;
    if (stk_json_parse(&j, s, len, &why) == 0 && j.ntok > 0 && j.tok[0].type == JSMN_OBJECT) {
        at = j.tok[0].start;
        *olen = (size_t)(j.tok[0].end - j.tok[0].start);
    }
    stk_json_free(&j);
    return at;
}

/* ---- where records go ---------------------------------------------------- */

/* The buffered mode (stk_log_async_begin). */
#define TRIM_BYTES (128u << 10) /* a buffer that held more returns its pages */
static struct {
    bool on;
    bool use_send;  /* a socket: send(MSG_DONTWAIT), its flags untouched */
    bool opened;    /* fd is our own description of stderr: close it at the end */
    int restore_fl; /* fcntl flags of fd 2 to put back, or -1 */
    int fd;
    char *buf;
    size_t cap, off, len;
    size_t peak; /* bytes of buf touched since it was last empty */
    unsigned long long dropped_bytes, dropped_records;
} q = {.fd = -1, .restore_fl = -1};

static void put(const char *rec, size_t n);

/* Write what the buffer holds until it is empty or the fd would block.
 * Returns the bytes still held, or -errno of a failed write (what was held
 * is then dropped and counted). */
static long drain(void)
{
    while (q.len > 0) {
        ssize_t w;
        if (q.use_send)
            w = send(q.fd, q.buf + q.off, q.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            w = write(q.fd, q.buf + q.off, q.len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return (long)q.len;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            q.dropped_bytes += q.len;
            q.dropped_records++;
            q.off = q.len = 0;
            return -e;
        }
        q.off += (size_t)w;
        q.len -= (size_t)w;
        if (q.len == 0) {
            q.off = 0;
            /* A reader that fell far behind made us touch many pages:
             * give them back now that they are empty. */
            if (q.peak > TRIM_BYTES)
                (void)madvise(q.buf, q.cap, MADV_DONTNEED);
            q.peak = 0;
        }
        if (q.len == 0 && q.dropped_bytes) {
            /* Drained: say once what the stall cost. */
            unsigned long long b = q.dropped_bytes, r = q.dropped_records;
            q.dropped_bytes = q.dropped_records = 0;
            stk_log_write(STK_LOG_WARN,
                          "log: %llu bytes in %llu records dropped: stderr was not read fast "
                          "enough",
                          b, r);
        }
    }
    return 0;
}

/* One finished record (newline included) to stderr or the buffer. */
static void put(const char *rec, size_t n)
{
    if (!q.on) {
        ssize_t r;
        do
            r = write(STDERR_FILENO, rec, n);
        while (r < 0 && errno == EINTR);
        return;
    }
    if (q.off + q.len + n > q.cap) {
        if (q.len + n <= q.cap) {
            memmove(q.buf, q.buf + q.off, q.len);
            q.off = 0;
        } else {
            (void)drain(); /* make room if the reader takes it now */
            if (q.len + n > q.cap) {
                q.dropped_bytes += n;
                q.dropped_records++;
                return;
            }
            memmove(q.buf, q.buf + q.off, q.len);
            q.off = 0;
        }
    }
    memcpy(q.buf + q.off + q.len, rec, n);
    q.len += n;
    if (q.off + q.len > q.peak)
        q.peak = q.off + q.len;
}

int stk_log_async_begin(size_t cap, int *ret_fd)
{
    struct stat st;
    if (q.on)
        return -EALREADY;
    if (cap < 4 * STK_LOG_RECORD_MAX)
        cap = 4 * STK_LOG_RECORD_MAX;
    if (fstat(STDERR_FILENO, &st) < 0)
        return -errno;
    /* Its own mapping, so pages a stall filled can be given back. */
    char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return -ENOMEM;
    int fd = STDERR_FILENO, watch = -1;
    bool use_send = false, opened = false;
    int restore = -1;
    if (S_ISSOCK(st.st_mode)) {
        use_send = true;
        watch = fd;
    } else if (S_ISFIFO(st.st_mode) || isatty(STDERR_FILENO)) {
        /* A description of our own, so O_NONBLOCK does not leak to whoever
         * shares ours (the shell, a terminal); else set it and put it back. */
        int own = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (own >= 0) {
            fd = own;
            opened = true;
        } else {
            int fl = fcntl(STDERR_FILENO, F_GETFL);
            if (fl < 0 || fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK) < 0) {
                int e = errno;
                munmap(buf, cap);
                return -e;
            }
            restore = fl;
        }
        watch = fd;
    }
    /* Regular files and /dev/null never make a writer wait: batched only. */
    q.buf = buf;
    q.cap = cap;
    q.off = q.len = 0;
    q.fd = fd;
    q.use_send = use_send;
    q.opened = opened;
    q.restore_fl = restore;
    q.dropped_bytes = q.dropped_records = 0;
    q.peak = 0;
    q.on = true;
    *ret_fd = watch;
    return 0;
}

long stk_log_flush(void)
{
    return q.on ? drain() : 0;
}

size_t stk_log_pending(void)
{
    return q.on ? q.len : 0;
}

void stk_log_async_end(int wait_ms)
{
    if (!q.on)
        return;
    /* Give a live reader a little time; a stalled one costs the rest. */
    while (drain() > 0) {
        struct pollfd p = {.fd = q.fd, .events = POLLOUT};
        if (wait_ms <= 0 || poll(&p, 1, wait_ms) <= 0)
            break;
    }
    unsigned long long lost = q.dropped_bytes + q.len;
    if (lost) {
        /* One last try, without blocking: what the exit cost. */
        char rec[160];
        int k = snprintf(rec, sizeof(rec), "%s: warn: log: %llu bytes dropped at exit\n", log_prog,
                         lost);
        if (k > 0 && q.use_send)
            (void)send(q.fd, rec, (size_t)k, MSG_DONTWAIT | MSG_NOSIGNAL);
        else if (k > 0)
            (void)!write(q.fd, rec, (size_t)k);
    }
    q.on = false;
    if (q.opened)
        close(q.fd);
    if (q.restore_fl >= 0)
        (void)fcntl(STDERR_FILENO, F_SETFL, q.restore_fl);
    munmap(q.buf, q.cap);
    q.buf = NULL;
    q.fd = -1;
    q.opened = false;
    q.restore_fl = -1;
    q.off = q.len = 0;
    q.dropped_bytes = q.dropped_records = 0;
}

/* ---- records ------------------------------------------------------------- */

/* "2026-01-02T03:04:05.678Z" into when (48 bytes); the date part is
 * formatted once a second (per thread). */
static void timestamp(char *when)
{
    static _Thread_local time_t last_sec = -1;
    static _Thread_local char date[24];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            date[0] = 0;
        last_sec = ts.tv_sec;
    }
    snprintf(when, 48, "%s.%03dZ", date, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* JSON record head up to (and including) the '"' that opens "msg". */
static size_t json_head(char *out, int level, const char *child)
{
    char when[48];
    timestamp(when);
    size_t n = (size_t)sprintf(out, "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"pid\":%ld,",
                               when, level_names[level], log_prog, (long)getpid());
    if (child) {
        memcpy(out + n, "\"child\":\"", 9);
        n += 9;
        json_escape(out, &n, child, strlen(child));
        memcpy(out + n, "\",", 2);
        n += 2;
    }
    memcpy(out + n, "\"msg\":\"", 7);
    return n + 7;
}

/* One piece (at most STK_LOG_PIECE bytes) of one of our own messages. */
static void own_record(int level, const char *msg, size_t len, bool cont)
{
    char line[STK_LOG_RECORD_MAX];
    size_t n;
    if (log_format == STK_LOG_JSON) {
        n = json_head(line, level, NULL);
        json_escape(line, &n, msg, len);
        memcpy(line + n, cont ? "\",\"cont\":true}" : "\"}", cont ? 14 : 2);
        n += cont ? 14 : 2;
    } else {
        char when[48];
        timestamp(when);
        n = (size_t)sprintf(line, "%s %s %s[%ld]%s: ", when, level_names[level], log_prog,
                            (long)getpid(), cont ? "+" : "");
        size_t start = n;
        memcpy(line + n, msg, len);
        n += len;
        /* one record, one line: fold embedded newlines */
        for (size_t i = start; i < n; i++)
            if (line[i] == '\n')
                line[i] = ' ';
    }
    line[n++] = '\n';
    put(line, n);
}

void stk_log_vwrite(int level, const char *fmt, va_list ap)
{
    char small[4096];
    char *msg = small;
    int saved = errno;
    if (level < STK_LOG_DEBUG || level > STK_LOG_ERROR)
        level = STK_LOG_ERROR;
    va_list again;
    va_copy(again, ap);
    int k = vsnprintf(small, sizeof(small), fmt, ap);
    if (k >= (int)sizeof(small) && vasprintf(&msg, fmt, again) < 0)
        msg = small; /* out of memory: the first 4 KiB, then */
    va_end(again);
    size_t len = strlen(msg);
    /* A long message: several records, each after the first marked. */
    size_t at = 0;
    do {
        size_t piece = len - at;
        if (piece > STK_LOG_PIECE)
            piece = stk_utf8_cut(msg + at, STK_LOG_PIECE);
        own_record(level, msg + at, piece, at > 0);
        at += piece;
    } while (at < len);
    if (msg != small)
        free(msg);
    errno = saved;
}

void stk_log_write(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    stk_log_vwrite(level, fmt, ap);
    va_end(ap);
}

void stk_log_child(const char *child, const char *line, size_t len, bool cont)
{
    char rec[STK_LOG_RECORD_MAX];
    size_t n = 0, nlen = strnlen(child, 64);
    int saved = errno;
    if (len > STK_LOG_PIECE)
        len = STK_LOG_PIECE; /* the caller cuts pieces; never overrun */
    if (log_format == STK_LOG_JSON) {
        size_t olen;
        long at = cont ? -1 : json_object_span(line, len, &olen);
        if (at >= 0) {
            /* The child's own record, its fields kept, "child" added. */
            memcpy(rec, "{\"child\":\"", 10);
            n = 10;
            json_escape(rec, &n, child, nlen);
            rec[n++] = '"';
            if (olen > 2)
                rec[n++] = ',';
            memcpy(rec + n, line + at + 1, olen - 1);
            n += olen - 1;
        } else {
            n = json_head(rec, STK_LOG_INFO, child);
            json_escape(rec, &n, child, nlen);
            memcpy(rec + n, ": ", 2);
            n += 2;
            json_escape(rec, &n, line, len);
            memcpy(rec + n, cont ? "\",\"cont\":true}" : "\"}", cont ? 14 : 2);
            n += cont ? 14 : 2;
        }
    } else {
        /* The child's line as it wrote it (it carries its own timestamp),
         * behind "NAME: " ("NAME+: " for the rest of a long line). */
        memcpy(rec, child, nlen);
        n = nlen;
        if (cont)
            rec[n++] = '+';
        rec[n++] = ':';
        rec[n++] = ' ';
        memcpy(rec + n, line, len);
        n += len;
    }
    rec[n++] = '\n';
    put(rec, n);
    errno = saved;
}
