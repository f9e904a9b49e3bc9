/* SPDX-License-Identifier: MIT */
/* feed.c — the table of feeds: producer.feed's prefix picks the row. A new
 * feed is a new file and one row here. */
#include <stdio.h>
#include <string.h>

#include "feed.h"

static const struct stk_feed_ops *const feeds[] = {
    &stk_feed_sim, &stk_feed_csv, &stk_feed_exec, &stk_feed_stdin, &stk_feed_nats,
};

#define NFEEDS (sizeof(feeds) / sizeof(feeds[0]))

const struct stk_feed_ops *stk_feed_find(const char *spec, const char **arg)
{
    for (size_t i = 0; i < NFEEDS; i++) {
        const char *pre = feeds[i]->prefix;
        size_t n = strlen(pre);
        bool takes_arg = n > 0 && pre[n - 1] == ':';
        if (takes_arg ? !strncmp(spec, pre, n) : !strcmp(spec, pre)) {
            *arg = spec + n;
            return feeds[i];
        }
    }
    return NULL;
}

size_t stk_feed_usage(char *buf, size_t size)
{
    size_t len = 0;
    for (size_t i = 0; i < NFEEDS; i++) {
        const char *sep = i == 0 ? "" : i + 1 == NFEEDS ? " or " : ", ";
        int n = snprintf(buf + (len < size ? len : size), len < size ? size - len : 0, "%s%s", sep,
                         feeds[i]->usage);
        if (n > 0)
            len += (size_t)n;
    }
    return len;
}
