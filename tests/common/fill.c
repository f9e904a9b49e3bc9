/* SPDX-License-Identifier: MIT */
/* fill.c — stk-test-fill NAME: writes a small known segment (symbols,
 * quotes, ring ticks) and prints what it wrote as JSON, for the outside
 * reader test that reads the bytes using docs/layout.md alone. */
#include <stdio.h>
#include <string.h>

#include "segment-private.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: stk-test-fill NAME\n");
        return 100;
    }
    struct stk_seg_params p = {.name = argv[1], .capacity = 5, .history = 4, .mode = 0640};
    struct stk_seg *w;
    int r = stk_seg_attach_writer(&p, &w, NULL);
    if (r < 0) {
        fprintf(stderr, "stk-test-fill: fatal: %s: %s\n", argv[1], stk_strerror(r));
        return 111;
    }
    static const char *const syms[] = {"AAPL", "MSFT", "BRK.B"};
    printf("{\"capacity\":5,\"history\":4,\"symbols\":[");
    for (int i = 0; i < 3; i++)
        printf("%s\"%s\"", i ? "," : "", syms[i]);
    printf("],\"ticks\":{");
    stk_batch_begin(w);
    for (int i = 0; i < 3; i++) {
        int idx = stk_sym_add(w, syms[i]);
        printf("%s\"%s\":[", i ? "," : "", syms[i]);
        int nticks = 2 + 2 * i; /* 2, 4, 6: the last one laps its ring */
        for (int k = 0; k < nticks; k++) {
            struct stk_quote q = {
                .price = 18925000000LL + i * 100000000LL + k,
                .bid = 18924000000LL + k,
                .ask = 18926000000LL + k,
                .volume = 1000u * (unsigned)(k + 1),
                .src_ts_ns = 1700000000000000000ull + (unsigned)k,
                .pub_ts_ns = 1700000000000001000ull + (unsigned)k,
                .bid_size = 100u + (unsigned)k,
                .ask_size = 200u + (unsigned)k,
            };
            stk_tick_publish(w, (uint32_t)idx, &q);
            printf("%s[%lld,%lld,%lld,%llu,%llu,%llu,%u,%u]", k ? "," : "", (long long)q.price,
                   (long long)q.bid, (long long)q.ask, (unsigned long long)q.volume,
                   (unsigned long long)q.src_ts_ns, (unsigned long long)q.pub_ts_ns, q.bid_size,
                   q.ask_size);
        }
        printf("]");
    }
    stk_batch_end(w, 1700000000000002000ull);
    printf("}}\n");
    stk_seg_close(w);
    return 0;
}
