/* SPDX-License-Identifier: MIT */
/* feed.h — the producer's feeds behind one small interface. Each feed is one
 * file (feed_sim.c, feed_csv.c, feed_exec.c) and one row of feed.c's table,
 * picked by the prefix of producer.feed; producer.c's loop knows no feed. */
#ifndef SEQTICK_PRODUCER_FEED_H
#define SEQTICK_PRODUCER_FEED_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config-private.h"

struct stk_seg;

/* What the producer lends every feed: the settings, the segment, and the
 * batch that is open. */
struct stk_feed_host {
    const struct stk_config *cfg;
    struct stk_seg *seg;
    uint64_t now_ns; /* CLOCK_REALTIME, read once when the open batch began */
    bool in_batch;   /* a batch is open */
    bool ready;      /* the first batch was closed and readiness told */
    bool stopping;   /* SIGTERM/SIGINT seen: start nothing new */
};

/* Open a batch unless one is open (and read now_ns). Ticks are written with
 * stk_tick_publish inside it. */
void stk_feed_batch_open(struct stk_feed_host *h);

/* Close the open batch, if any: it becomes visible to readers at once. The
 * first close also tells the supervisor the producer is ready. */
void stk_feed_batch_close(struct stk_feed_host *h);

/* Most fds one feed asks the loop to poll. */
#define STK_FEED_POLL_MAX 4

struct stk_feed;

/* One feed. open and close and pump are required; a NULL hook means the
 * feed has nothing to do on that event. */
struct stk_feed_ops {
    const char *prefix; /* producer.feed is this ("sim"), or starts with it when
                         * it ends in ':' ("csv:"); the rest is the argument */
    const char *usage;  /* "csv:PATH": for the message naming the feeds */

    /* Set up per h->cfg and the argument (after the prefix; "" for an exact
     * prefix), log what it runs. Returns 0 and *ret; -EINVAL a setting the
     * user must fix (the producer exits 100); another -errno. Logs why. */
    int (*open)(struct stk_feed_host *h, const char *arg, struct stk_feed **ret);

    /* Write what is due at mono (CLOCK_MONOTONIC ns) in whole batches. Sets
     * *next to the mono time it has more to do (0: at once; UINT64_MAX: only
     * when a polled fd or a signal wakes it). Returns 0, or -errno to stop
     * the producer (logged). */
    int (*pump)(struct stk_feed *f, uint64_t mono, uint64_t *next);

    /* The fds to wait on (POLLIN) next: fills at most max, returns how many. */
    unsigned (*poll_fds)(struct stk_feed *f, struct pollfd *fds, unsigned max);

    /* An fd poll_fds gave is readable or hung up. It may have been closed
     * since (a child reaped between poll and now): ignore an fd not its own. */
    void (*readable)(struct stk_feed *f, int fd);

    /* SIGCHLD arrived. */
    void (*child_exited)(struct stk_feed *f);

    /* The producer stops: end what the feed runs (its output still lands
     * in the segment). Called at the end of stk_producer_run, before close;
     * close must also stop what still runs (a producer that never ran). */
    void (*stop)(struct stk_feed *f);

    /* Stop if not stopped, free everything. */
    void (*close)(struct stk_feed *f);
};

/* Every feed's state starts with this. */
struct stk_feed {
    const struct stk_feed_ops *ops;
    struct stk_feed_host *host;
};

/* The feeds, one file each. */
extern const struct stk_feed_ops stk_feed_sim;   /* feed_sim.c */
extern const struct stk_feed_ops stk_feed_csv;   /* feed_csv.c */
extern const struct stk_feed_ops stk_feed_stdin; /* feed_exec.c */
extern const struct stk_feed_ops stk_feed_exec;  /* feed_exec.c */
extern const struct stk_feed_ops stk_feed_nats;  /* feed_nats.c */

/* The feed producer.feed names, and its argument in *arg (the text after a
 * ':' prefix, "" otherwise). Returns NULL for a value no feed takes. */
const struct stk_feed_ops *stk_feed_find(const char *spec, const char **arg);

/* "sim, csv:PATH, exec:COMMAND or stdin": every feed's usage, in table order,
 * NUL-terminated and cut to fit size. Returns the length it needed. */
size_t stk_feed_usage(char *buf, size_t size);

#endif
