/* SPDX-License-Identifier: MIT */
/* natsopt-private.h — the one place that turns seqtick's NATS settings
 * (server list, auth, TLS, reconnect) into libnats options, for the bridge
 * and the producer's nats: feed alike. */
#ifndef SEQTICK_NATSOPT_PRIVATE_H
#define SEQTICK_NATSOPT_PRIVATE_H

#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

/* Longest server list, and most URLs, stk_nats_options() accepts. */
#define STK_NATS_URLS_MAX 32

/* What a seqtick NATS client is told. A NULL or "" string is unset. */
struct stk_nats_conf {
    const char *servers; /* "nats://a:4222,nats://b:4222" (comma-separated, spaces ignored) */
    const char *name;    /* connection name shown by the server (NULL: none) */
    const char *user;    /* user/password auth (both or neither) */
    const char *password;
    const char *token;    /* token auth */
    const char *creds;    /* a .creds file (JWT + NKey seed, chained) */
    const char *tls_ca;   /* CA bundle: also turns TLS on */
    const char *tls_cert; /* client certificate (with tls_key) */
    const char *tls_key;
    int64_t reconnect_wait_ms;   /* between attempts on one URL; 0 = 100 */
    int64_t reconnect_jitter_ms; /* random extra wait; 0 = 100 (TLS: 1000) */
    int reconnect_buf_bytes;     /* libnats' buffer while reconnecting; 0 = libnats' 8 MiB */
    int64_t connect_timeout_ms;  /* per attempt; 0 = 2000 */
};

/* Build *ret (to be freed with natsOptions_Destroy) from *conf: the servers
 * (at least one nats:// or tls:// URL, no empty item), never giving up on
 * reconnecting (max reconnect -1, reconnect wait + jitter; a server that
 * leaves 3 PINGs 2 s apart unanswered counts as lost), the auth
 * (user+password, token or creds; more than one kind is refused) and TLS
 * (tls_ca turns it on; tls_cert and tls_key go together). Event loop and
 * callbacks are the caller's. Returns 0; -EINVAL for a bad setting with
 * "key: why" in err; -ENOMEM; -EIO when libnats refuses (its text in err).
 * *ret is NULL on error. */
int stk_nats_options(const struct stk_nats_conf *conf, natsOptions **ret, char *err,
                     size_t errsize);

/* Split a comma-separated server list into up to max URLs (pointers into
 * buf, a copy of list of bufsize bytes). Returns the count (>= 1), -EINVAL
 * empty item or no URL, -E2BIG more than max URLs, -ENAMETOOLONG list
 * longer than buf. */
int stk_nats_split(const char *list, char *buf, size_t bufsize, const char **urls, int max);

#endif /* SEQTICK_NATSOPT_PRIVATE_H */
