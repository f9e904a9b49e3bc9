/* SPDX-License-Identifier: MIT */
/* natsopt.c — seqtick's NATS settings into libnats options: servers,
 * never-ending reconnect, auth (user/password, token, creds) and TLS. */
#include "natsopt-private.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool set(const char *s)
{
    return s && *s;
}

int stk_nats_split(const char *list, char *buf, size_t bufsize, const char **urls, int max)
{
    size_t len = list ? strlen(list) : 0;
    if (len + 1 > bufsize)
        return -ENAMETOOLONG;
    memcpy(buf, list ? list : "", len + 1);
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        char *end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (!*p)
            return -EINVAL;
        if (n == max)
            return -E2BIG;
        urls[n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

/* A libnats failure: its status text into err. */
static int nats_fail(natsStatus s, const char *what, char *err, size_t errsize)
{
    snprintf(err, errsize, "%s: %s", what, natsStatus_GetText(s));
    return s == NATS_NO_MEMORY ? -ENOMEM : -EIO;
}

int stk_nats_options(const struct stk_nats_conf *conf, natsOptions **ret, char *err, size_t errsize)
{
    *ret = NULL;
    char buf[4096];
    const char *urls[STK_NATS_URLS_MAX];
    int n = stk_nats_split(conf->servers, buf, sizeof buf, urls, STK_NATS_URLS_MAX);
    if (n < 0) {
        snprintf(err, errsize, "nats: %s",
                 n == -E2BIG          ? "more than 32 URLs"
                 : n == -ENAMETOOLONG ? "server list too long"
                                      : "empty server URL");
        return -EINVAL;
    }
    for (int i = 0; i < n; i++) {
        if (strncmp(urls[i], "nats://", 7) != 0 && strncmp(urls[i], "tls://", 6) != 0) {
            snprintf(err, errsize, "nats: %s: not a nats:// or tls:// URL", urls[i]);
            return -EINVAL;
        }
    }
    int kinds = (set(conf->user) || set(conf->password)) + set(conf->token) + set(conf->creds);
    if (kinds > 1) {
        snprintf(err, errsize, "auth: give one of user+password, token, creds");
        return -EINVAL;
    }
    if (set(conf->user) != set(conf->password)) {
        snprintf(err, errsize, "auth: user and password go together");
        return -EINVAL;
    }
    if (set(conf->tls_cert) != set(conf->tls_key)) {
        snprintf(err, errsize, "tls: tls_cert and tls_key go together");
        return -EINVAL;
    }

    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s != NATS_OK)
        return nats_fail(s, "options", err, errsize);
    int64_t wait = conf->reconnect_wait_ms > 0 ? conf->reconnect_wait_ms : 100;
    int64_t jitter = conf->reconnect_jitter_ms > 0 ? conf->reconnect_jitter_ms : 100;
    int64_t timeout = conf->connect_timeout_ms > 0 ? conf->connect_timeout_ms : 2000;
    const char *what = "servers";
    s = natsOptions_SetServers(o, urls, n);
    if (s == NATS_OK && set(conf->name))
        what = "name", s = natsOptions_SetName(o, conf->name);
    if (s == NATS_OK)
        what = "reconnect", s = natsOptions_SetAllowReconnect(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, wait);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(o, jitter, jitter > 1000 ? jitter : 1000);
    if (s == NATS_OK && conf->reconnect_buf_bytes > 0)
        s = natsOptions_SetReconnectBufSize(o, conf->reconnect_buf_bytes);
    if (s == NATS_OK)
        what = "timeout", s = natsOptions_SetTimeout(o, timeout);
    /* a hung server (stopped, partitioned) answers no PING: after 3 missed
     * ones, 2 s apart, the connection counts as lost and moves on */
    if (s == NATS_OK)
        what = "ping", s = natsOptions_SetPingInterval(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(o, 3);
    if (s == NATS_OK && set(conf->user))
        what = "user", s = natsOptions_SetUserInfo(o, conf->user, conf->password);
    if (s == NATS_OK && set(conf->token))
        what = "token", s = natsOptions_SetToken(o, conf->token);
    if (s == NATS_OK && set(conf->creds))
        what = "creds", s = natsOptions_SetUserCredentialsFromFiles(o, conf->creds, NULL);
    if (s == NATS_OK && (set(conf->tls_ca) || set(conf->tls_cert)))
        what = "tls", s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK && set(conf->tls_ca))
        what = "tls_ca", s = natsOptions_LoadCATrustedCertificates(o, conf->tls_ca);
    if (s == NATS_OK && set(conf->tls_cert))
        what = "tls_cert", s = natsOptions_LoadCertificatesChain(o, conf->tls_cert, conf->tls_key);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        return nats_fail(s, what, err, errsize);
    }
    *ret = o;
    return 0;
}
