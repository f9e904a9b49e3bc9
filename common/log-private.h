/* SPDX-License-Identifier: MIT */
/* log-private.h — one-line log records to stderr, text or JSON. The level is
 * tested before anything is formatted. Library code never logs: programs do. */
#ifndef SEQTICK_LOG_PRIVATE_H
#define SEQTICK_LOG_PRIVATE_H

#include <stdarg.h>

enum { STK_LOG_DEBUG = 0, STK_LOG_INFO = 1, STK_LOG_WARN = 2, STK_LOG_ERROR = 3 };
enum { STK_LOG_TEXT = 0, STK_LOG_JSON = 1 };

extern int stk_log_level;

/* Set the program name, level and format used by every later record. */
void stk_log_init(const char *prog, int level, int format);

/* "debug".."error" → level, or -EINVAL; "text"/"json" → format, or -EINVAL. */
int stk_log_level_parse(const char *s);
int stk_log_format_parse(const char *s);

/* Format and write one record with a single write(2), so lines from several
 * processes sharing a pipe never interleave (records are cut at 4 KiB). */
void stk_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void stk_log_vwrite(int level, const char *fmt, va_list ap);

#define stk_log(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) >= stk_log_level)                                                              \
            stk_log_write((level), __VA_ARGS__);                                                   \
    } while (0)

#define stk_debug(...) stk_log(STK_LOG_DEBUG, __VA_ARGS__)
#define stk_info(...) stk_log(STK_LOG_INFO, __VA_ARGS__)
#define stk_warn(...) stk_log(STK_LOG_WARN, __VA_ARGS__)
#define stk_error(...) stk_log(STK_LOG_ERROR, __VA_ARGS__)

#endif
