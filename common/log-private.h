/* SPDX-License-Identifier: MIT */
/* log-private.h — one-line log records to stderr, text or JSON. The level is
 * tested before anything is formatted. Library code never logs: programs do. */
#ifndef SEQTICK_LOG_PRIVATE_H
#define SEQTICK_LOG_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum { STK_LOG_DEBUG = 0, STK_LOG_INFO = 1, STK_LOG_WARN = 2, STK_LOG_ERROR = 3 };
enum { STK_LOG_TEXT = 0, STK_LOG_JSON = 1 };

extern int stk_log_level;

/* Set the program name, level and format used by every later record. */
void stk_log_init(const char *prog, int level, int format);

/* "debug".."error" → level, or -EINVAL; "text"/"json" → format, or -EINVAL. */
int stk_log_level_parse(const char *s);
int stk_log_format_parse(const char *s);

/* Format and write one record with a single write(2), so lines from several
 * processes sharing a pipe never interleave. A message longer than
 * STK_LOG_PIECE bytes goes out as several records, each after the first
 * marked as a continuation (json: "cont":true; text: "prog[pid]+: "). */
void stk_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void stk_log_vwrite(int level, const char *fmt, va_list ap);

/* Longest piece of a message or of a child's line in one record, and the
 * largest record (a piece escaped, 6 bytes a byte at worst, plus the head). */
#define STK_LOG_PIECE 4000
#define STK_LOG_RECORD_MAX (6 * (size_t)STK_LOG_PIECE + 2048)

/* One line a supervised child wrote, len <= STK_LOG_PIECE bytes of anything
 * (NUL, invalid UTF-8) without its newline; cont: it continues the previous
 * piece of an over-long line. Never filtered by level. Text: "NAME: line" as
 * written ("NAME+: " for a continuation). JSON: a line that is one whole JSON
 * object is merged, its fields kept and "child":"NAME" added; any other line
 * is an info record with "child" and "msg":"NAME: line", NUL and control
 * bytes escaped as \u00XX and each invalid UTF-8 byte as U+FFFD, plus
 * "cont":true on a continuation. */
void stk_log_child(const char *child, const char *line, size_t len, bool cont);

/* Where to cut s[0..n) so no UTF-8 sequence is split: n, or the start of an
 * incomplete last sequence (at most 3 bytes back). */
size_t stk_utf8_cut(const char *s, size_t n);

/* Buffered mode, for a single-threaded program with an event loop: records
 * are kept in a buffer of cap bytes and written many per write(2) by
 * stk_log_flush(), never blocking: a pipe or terminal on stderr is written
 * through a non-blocking description of its own (a socket with
 * MSG_DONTWAIT). A record that does not fit is dropped and counted; once the
 * buffer drains, one warn record says how much was lost. Returns 0 and
 * *ret_fd, the fd to wait on for POLLOUT while bytes are pending (-1 for a
 * regular file or /dev/null, which never make a writer wait), or -EALREADY,
 * -ENOMEM, -errno of fstat/fcntl (the logger stays as it was). */
int stk_log_async_begin(size_t cap, int *ret_fd);

/* Write what the buffer holds without blocking. Returns the bytes still held
 * (0: empty; 0 also outside buffered mode), or -errno of a failed write (the
 * held bytes are then dropped and counted). */
long stk_log_flush(void);

/* Bytes the buffer holds (0 outside buffered mode). */
size_t stk_log_pending(void);

/* Leave buffered mode: drain, waiting at most wait_ms for each step of a
 * reader's progress, then drop the rest (saying so if the fd takes one more
 * line) and write directly again. */
void stk_log_async_end(int wait_ms);

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
