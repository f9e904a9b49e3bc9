/* SPDX-License-Identifier: MIT */
/* fuzz_config.c — config text through the in-memory loader: any input is
 * loaded or refused with a one-line reason, and what loads frees cleanly. */
#include <string.h>

#include "config-private.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside ends the text early, as a C string does */
    struct stk_config c;
    char err[STK_CONF_ERR_MAX];
    memset(err, 'x', sizeof(err));
    int r = stk_config_load_string(text, "fuzz.conf", &c, err);
    if (r == 0) {
        /* what the programs look up first */
        FUZZ_CHECK(c.shm.name && c.server.listen, "loaded without shm.name/server.listen");
        for (size_t i = 0; i < c.producer.nsymbols; i++)
            FUZZ_CHECK(stk_config_symbol_index(&c, c.producer.symbols[i]) == (int)i,
                       "symbol %zu not found by name", i);
        char host[256];
        uint16_t port;
        (void)stk_listen_parse(c.server.listen, host, sizeof(host), &port);
        stk_config_free(&c);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "error text not terminated (%d)", r);
        FUZZ_CHECK(!strchr(err, '\n'), "error text spans lines: %s", err);
    }
    free(text);
    return 0;
}
