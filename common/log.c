/* SPDX-License-Identifier: MIT */
/* log.c — one record per line on stderr, "text" for people and "json" for
 * collectors; each record goes out in one write(2). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Append s to a JSON string body at out[*n], escaping; never past cap. */
static void json_escape(char *out, size_t *n, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && *n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)c;
        } else if (c == '\n') {
            out[(*n)++] = '\\';
            out[(*n)++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + *n, "\\u00", 4);
            out[*n + 4] = hex[c >> 4];
            out[*n + 5] = hex[c & 15];
            *n += 6;
        } else {
            out[(*n)++] = (char)c;
        }
    }
}

void stk_log_vwrite(int level, const char *fmt, va_list ap)
{
    char msg[4096], line[4096 + 256];
    struct timespec ts;
    struct tm tm;
    char when[40];
    int saved = errno;
    if (level < STK_LOG_DEBUG || level > STK_LOG_ERROR)
        level = STK_LOG_ERROR;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%03ldZ", ts.tv_nsec / 1000000);
    size_t n;
    if (log_format == STK_LOG_JSON) {
        n = (size_t)snprintf(
            line, sizeof(line),
            "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"pid\":%ld,\"msg\":\"", when,
            level_names[level], log_prog, (long)getpid());
        json_escape(line, &n, sizeof(line) - 3, msg);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        int k = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s", when, level_names[level],
                         log_prog, (long)getpid(), msg);
        n = k < 0 ? 0 : (size_t)k;
        if (n > sizeof(line) - 2)
            n = sizeof(line) - 2;
        /* one record, one line: fold embedded newlines */
        for (size_t i = 0; i < n; i++)
            if (line[i] == '\n')
                line[i] = ' ';
    }
    line[n++] = '\n';
    ssize_t r;
    do
        r = write(STDERR_FILENO, line, n);
    while (r < 0 && errno == EINTR);
    errno = saved;
}

void stk_log_write(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    stk_log_vwrite(level, fmt, ap);
    va_end(ap);
}
