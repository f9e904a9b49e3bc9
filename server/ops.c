/* SPDX-License-Identifier: MIT */
/* ops.c — the operations (get_quote, get_quotes, history, subscribe,
 * health...) and their table, shared by every face: an operation reads its
 * arguments and writes its reply through the face (struct stk_face), and
 * renders values with render.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment-private.h"
#include "server.h"

#define MAX_THROTTLE_MS 60000

static const char *const err_names[] = {
    [STK_E_BAD_REQUEST] = "BAD_REQUEST", [STK_E_NOT_FOUND] = "NOT_FOUND",
    [STK_E_UNAVAILABLE] = "UNAVAILABLE", [STK_E_SLOW_CONSUMER] = "SLOW_CONSUMER",
    [STK_E_INTERNAL] = "INTERNAL",
};

const char *stk_err_name(enum stk_err e)
{
    return err_names[e];
}

static int fail(struct stk_req *r, enum stk_err code, const char *msg)
{
    return r->face->fail(r, code, msg);
}

static void head(struct stk_req *r)
{
    r->face->begin(r);
}

static void tail(struct stk_req *r)
{
    r->face->end(r);
}

/* Index of a ticker in the segment, or -ENOENT. */
static int lookup(struct stk_server *s, const char *name)
{
    return stk_seg_lookup(s->seg, name);
}

static int need_seg(struct stk_req *r)
{
    /* closed, garbage or truncated: the library's rule says drop it now */
    if (r->s->seg && stk_seg_usable(r->s->seg) != 0)
        stk_segwatch_check(r->s, false);
    if (r->s->seg)
        return 0;
    return fail(r, STK_E_UNAVAILABLE, "no segment: the producer is not running");
}

static int op_ping(struct stk_req *r)
{
    head(r);
    STK_BUF_LIT(r->b, ",\"ts_ms\":");
    stk_buf_u64(r->b, stk_server_now(r->s) / 1000000u);
    tail(r);
    return 0;
}

static int op_health(struct stk_req *r)
{
    head(r);
    stk_render_health(r->b, r->s);
    tail(r);
    return 0;
}

static int op_list_tickers(struct stk_req *r)
{
    if (need_seg(r) < 0)
        return -1;
    uint32_t n = stk_seg_nsymbols(r->s->seg);
    bool first = true;
    stk_segwatch_names(r->s);
    head(r);
    STK_BUF_LIT(r->b, ",\"tickers\":[");
    for (uint32_t i = 0; i < n; i++) {
        /* a valid name (printable ASCII: valid UTF-8, no control bytes) or
         * NULL: an invalid entry is skipped (and logged once) */
        const char *name = stk_seg_symbol(r->s->seg, i);
        if (!name)
            continue;
        if (!first)
            stk_buf_putc(r->b, ',');
        first = false;
        stk_buf_json_str(r->b, name, strlen(name));
    }
    stk_buf_putc(r->b, ']');
    tail(r);
    return 0;
}

int stk_op_get_quote_named(struct stk_req *r, const char name[STK_NAME_MAX + 1], int k)
{
    if (need_seg(r) < 0)
        return -1;
    int idx = k < 0 ? -ENOENT : lookup(r->s, name);
    if (idx < 0)
        return fail(r, STK_E_NOT_FOUND, "unknown ticker");
    struct stk_quote q;
    int rr = stk_server_read(r->s, (uint32_t)idx, &q);
    if (rr == -EFAULT) {
        stk_segwatch_check(r->s, false);
        return fail(r, STK_E_UNAVAILABLE, "segment lost: the file shrank under the server");
    }
    if (rr == -ENODATA)
        return fail(r, STK_E_NOT_FOUND, "no quote yet for this ticker");
    if (rr < 0)
        return fail(r, STK_E_UNAVAILABLE, "record busy: the writer did not finish it");
    head(r);
    stk_buf_putc(r->b, ',');
    stk_render_quote(r->b, r->s, (uint32_t)idx, name, &q, stk_server_now(r->s));
    tail(r);
    return 0;
}

static int op_get_quote(struct stk_req *r)
{
    char name[STK_NAME_MAX + 1];
    int k = r->face->ticker(r, name);
    if (k == -1)
        return -1;
    return stk_op_get_quote_named(r, name, k);
}

static int op_get_quotes(struct stk_req *r)
{
    int count = r->face->tickers(r, false);
    if (count < 0)
        return -1;
    if (need_seg(r) < 0)
        return -1;
    uint64_t now = stk_server_now(r->s);
    head(r);
    STK_BUF_LIT(r->b, ",\"quotes\":[");
    for (int i = 0; i < count; i++) {
        char name[STK_NAME_MAX + 1];
        struct stk_quote q;
        if (i)
            stk_buf_putc(r->b, ',');
        int idx = r->face->ticker_at(r, i, name) < 0 ? -ENOENT : lookup(r->s, name);
        int rr = idx < 0 ? -ENOENT : stk_server_read(r->s, (uint32_t)idx, &q);
        if (rr == 0) {
            stk_buf_putc(r->b, '{');
            stk_render_quote(r->b, r->s, (uint32_t)idx, name, &q, now);
            stk_buf_putc(r->b, '}');
            continue;
        }
        STK_BUF_LIT(r->b, "{\"ticker\":");
        r->face->put_tickers(r, i);
        stk_buf_puts(r->b, rr == -EBUSY || rr == -EFAULT ? ",\"error\":\"UNAVAILABLE\"}"
                                                         : ",\"error\":\"NOT_FOUND\"}");
    }
    stk_buf_putc(r->b, ']');
    tail(r);
    return 0;
}

static int op_get_snapshot_epoch(struct stk_req *r)
{
    if (need_seg(r) < 0)
        return -1;
    const struct stk_header *h = stk_seg_header(r->s->seg);
    head(r);
    STK_BUF_LIT(r->b, ",\"epoch\":");
    stk_buf_u64(r->b, stk_seg_epoch(r->s->seg));
    STK_BUF_LIT(r->b, ",\"last_update_ms\":");
    stk_buf_u64(r->b, atomic_load_explicit(&h->last_update_ns, memory_order_relaxed) / 1000000u);
    tail(r);
    return 0;
}

static int op_get_history(struct stk_req *r)
{
    char name[STK_NAME_MAX + 1];
    int k = r->face->ticker(r, name);
    if (k == -1 || need_seg(r) < 0)
        return -1;
    uint32_t hist = stk_seg_history(r->s->seg);
    int64_t limit = hist;
    int got = r->face->int_arg(r, STK_ARG_LIMIT, &limit);
    if (got < 0 || (got > 0 && (limit < 0 || limit > (int64_t)hist))) {
        char msg[96];
        snprintf(msg, sizeof(msg), "limit must be an integer from 0 to %u (shm.history)", hist);
        return fail(r, STK_E_BAD_REQUEST, msg);
    }
    int idx = k < 0 ? -ENOENT : lookup(r->s, name);
    if (idx < 0)
        return fail(r, STK_E_NOT_FOUND, "unknown ticker");
    struct stk_quote *ticks = limit ? malloc(sizeof(*ticks) * (size_t)limit) : NULL;
    if (limit && !ticks)
        return fail(r, STK_E_INTERNAL, "out of memory");
    int n = stk_history_read(r->s->seg, (uint32_t)idx, ticks, (size_t)limit);
    if (stk_seg_usable(r->s->seg) != 0) {
        free(ticks);
        stk_segwatch_check(r->s, false);
        return fail(r, STK_E_UNAVAILABLE, "segment lost or retired during the read");
    }
    head(r);
    STK_BUF_LIT(r->b, ",\"ticker\":");
    stk_buf_json_str(r->b, name, strlen(name));
    STK_BUF_LIT(r->b, ",\"ticks\":[");
    for (int i = 0; ticks && i < n; i++) {
        if (i)
            stk_buf_putc(r->b, ',');
        stk_render_tick(r->b, &ticks[i]);
    }
    stk_buf_putc(r->b, ']');
    tail(r);
    free(ticks);
    return 0;
}

static int op_subscribe(struct stk_req *r)
{
    struct stk_server *s = r->s;
    int count = r->face->tickers(r, true);
    if (count < 0 && count != STK_TICKERS_ALL)
        return -1;
    bool all = count == STK_TICKERS_ALL;
    int64_t throttle = -1;
    int got = r->face->int_arg(r, STK_ARG_THROTTLE_MS, &throttle);
    if (got < 0 || (got > 0 && (throttle < 0 || throttle > MAX_THROTTLE_MS)))
        return fail(r, STK_E_BAD_REQUEST, "throttle_ms must be an integer from 0 to 60000");
    if (got == 0)
        throttle = -1;
    char mode[8] = "latest";
    int ml = r->face->str_arg ? r->face->str_arg(r, STK_SARG_MODE, mode, sizeof(mode)) : 0;
    if (ml < 0)
        return -1;
    bool ticks = ml > 0 && strcmp(mode, "ticks") == 0;
    if (ml > 0 && !ticks && strcmp(mode, "latest") != 0)
        return fail(r, STK_E_BAD_REQUEST, "mode must be \"latest\" or \"ticks\"");
    int64_t from_tick = -1;
    got = r->face->int_arg(r, STK_ARG_FROM_TICK, &from_tick);
    if (got < 0 || (got > 0 && (from_tick < 0 || !ticks)))
        return fail(r, STK_E_BAD_REQUEST,
                    "from_tick must be an integer >= 0, with \"mode\":\"ticks\"");
    if (got == 0)
        from_tick = -1;
    if (need_seg(r) < 0)
        return -1;
    if (all)
        count = 0;
    int *idx = count ? malloc(sizeof(int) * (size_t)count) : NULL;
    if (count && !idx)
        return fail(r, STK_E_INTERNAL, "out of memory");
    /* all or nothing: every ticker must exist */
    for (int i = 0; i < count; i++) {
        char name[STK_NAME_MAX + 1];
        idx[i] = r->face->ticker_at(r, i, name) < 0 ? -ENOENT : lookup(s, name);
        if (idx[i] < 0) {
            free(idx);
            return fail(r, STK_E_NOT_FOUND, "unknown ticker: nothing subscribed");
        }
    }
    uint32_t n = all ? stk_seg_nsymbols(s->seg) : (uint32_t)count;
    uint64_t now = stk_server_now(s);
    head(r);
    STK_BUF_LIT(r->b, ",\"tickers\":");
    if (all) {
        STK_BUF_LIT(r->b, "\"*\"");
        if (stk_subs_add_all(r->c) < 0)
            goto oom;
        r->c->sub->ticks_all = ticks;
    } else {
        r->face->put_tickers(r, -1);
    }
    STK_BUF_LIT(r->b, ",\"quotes\":[");
    bool first = true;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t sym = all ? i : (uint32_t)idx[i];
        const char *name = stk_seg_symbol(s->seg, sym);
        struct stk_quote q = {0};
        if (!name)
            continue; /* "*" over an entry that is no valid name: skipped */
        int rr = stk_server_read(s, sym, &q);
        int added = stk_subs_add(r->c, name, sym, rr == 0 || rr == -ENODATA ? q.seq : 0);
        if (added < 0)
            goto oom;
        /* from the given tick, else from now (the snapshot is the present);
         * a ticker already streaming ticks on this connection keeps its
         * place (a "*" after per-ticker from_tick requests replays nothing
         * twice and skips nothing) */
        uint64_t from = from_tick >= 0 ? (uint64_t)from_tick
                        : added        ? stk_ring_head(s->seg, sym)
                                       : STK_TICKS_KEEP;
        (void)stk_subs_set_ticks(r->c, name, ticks, from);
        if (rr < 0)
            continue;
        stk_buf_puts(r->b, first ? "{" : ",{");
        first = false;
        stk_render_quote(r->b, s, sym, name, &q, now);
        stk_buf_putc(r->b, '}');
    }
    free(idx);
    if (throttle >= 0 && r->c->sub) /* no sub: an empty list subscribed nothing */
        r->c->sub->throttle_ns = (uint64_t)throttle * 1000000u;
    stk_buf_printf(r->b, "],\"subscriptions\":%u", stk_subs_count(r->c));
    tail(r);
    return 0;
oom:
    free(idx);
    r->b->err = -ENOMEM;
    return -1;
}

static int op_unsubscribe(struct stk_req *r)
{
    int count = r->face->tickers(r, true);
    if (count < 0 && count != STK_TICKERS_ALL)
        return -1;
    uint32_t removed = 0;
    if (count == STK_TICKERS_ALL) {
        removed = stk_subs_count(r->c);
        stk_subs_remove_all(r->c);
    } else {
        if (r->c->sub)
            r->c->sub->wildcard = false; /* naming tickers ends a "*" */
        for (int i = 0; i < count; i++) {
            char name[STK_NAME_MAX + 1];
            if (r->face->ticker_at(r, i, name) == 0)
                removed += (uint32_t)stk_subs_remove(r->c, name);
        }
        if (r->c->sub && r->c->sub->count == 0)
            stk_subs_remove_all(r->c);
    }
    head(r);
    stk_buf_printf(r->b, ",\"removed\":%u,\"subscriptions\":%u", removed, stk_subs_count(r->c));
    tail(r);
    return 0;
}

#define OP(name, fn)                                                                               \
    {                                                                                              \
        name, sizeof(name) - 1, fn                                                                 \
    }
static const struct stk_op ops[] = {
    OP("get_quote", op_get_quote),
    OP("get_quotes", op_get_quotes),
    OP("ping", op_ping),
    OP("list_tickers", op_list_tickers),
    OP("get_snapshot_epoch", op_get_snapshot_epoch),
    OP("get_history", op_get_history),
    OP("subscribe", op_subscribe),
    OP("unsubscribe", op_unsubscribe),
    OP("health", op_health),
    OP("get_bars", stk_op_get_bars), /* bars.c */
};

_Static_assert(sizeof(ops) / sizeof(ops[0]) <= STK_OPS_MAX, "raise STK_OPS_MAX");

size_t stk_op_count(void)
{
    return sizeof(ops) / sizeof(ops[0]);
}

const struct stk_op *stk_op_at(size_t i)
{
    return i < stk_op_count() ? &ops[i] : NULL;
}

int stk_op_run(struct stk_req *r, const struct stk_op *op)
{
    r->s->st.by_op[op - ops]++;
    return op->fn(r);
}

const struct stk_op *stk_op_find(const char *name, size_t len)
{
    for (size_t i = 0; len > 0 && i < sizeof(ops) / sizeof(ops[0]); i++)
        if (len == ops[i].len && !memcmp(name, ops[i].name, len))
            return &ops[i];
    return NULL;
}
