/* SPDX-License-Identifier: MIT */
/* bench_bridge.c — seqtick-bench bridge: ticks written into a segment, read
 * by a real seqtick-bridge and published through a private nats-server to
 * a libnats subscriber here, against a bare libnats publish -> subscribe of
 * the same payload through the same server in the same run: throughput
 * with 100 symbols, and one-tick latency p50/p99. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "benchutil.h"
#include "segment-private.h"
#include "util-private.h"

#define NSYM_MAX 1000
#define WINDOW 40000 /* ticks in flight at most (under libnats' 64k pending) */
#define TIMEOUT_NS (60ull * 1000000000ull)

struct rx {
    atomic_ullong count;
    atomic_int measure; /* 1: record latency of each message */
    uint64_t *lat;      /* latency samples */
    atomic_ullong nlat, cap;
};

static uint64_t rt_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap_us(long us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000L};
    nanosleep(&ts, NULL);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
    struct rx *rx = arg;
    const char *subj = natsMsg_GetSubject(m);
    size_t sl = strlen(subj);
    if (sl >= 4 && !strcmp(subj + sl - 4, "._hb")) {
        natsMsg_Destroy(m);
        return;
    }
    if (atomic_load(&rx->measure)) {
        uint64_t now = rt_ns();
        const char *p = strstr(natsMsg_GetData(m), "\"ts_ns\":");
        if (p) {
            uint64_t ts = strtoull(p + 8, NULL, 10);
            unsigned long long k = atomic_load(&rx->nlat);
            if (k < atomic_load(&rx->cap)) {
                rx->lat[k] = now - ts;
                atomic_store(&rx->nlat, k + 1);
            }
        }
    }
    atomic_fetch_add(&rx->count, 1);
    natsMsg_Destroy(m);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static pid_t spawn(char *const argv[], bool quiet)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = quiet ? open("/dev/null", O_WRONLY) : -1;
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void pct(struct rx *rx, double *p50, double *p99)
{
    size_t n = atomic_load(&rx->nlat);
    qsort(rx->lat, n, sizeof(uint64_t), cmp_u64);
    size_t mid = n / 2;
    *p50 = n ? rx->lat[mid] / 1000.0 : 0;
    *p99 = n ? rx->lat[(size_t)(n * 0.99)] / 1000.0 : 0;
}

static void fill(struct stk_quote *q, uint64_t i)
{
    memset(q, 0, sizeof(*q));
    q->price = 18925000000 + (int64_t)(i % 1000) * 1000000;
    q->bid = q->price - 1000000;
    q->ask = q->price + 1000000;
    q->bid_size = 100;
    q->ask_size = 200;
    q->volume = 1000 + i;
    q->src_ts_ns = q->pub_ts_ns = rt_ns();
}

/* Wait until rx has seen `target` messages (or the timeout). */
static bool wait_rx(struct rx *rx, uint64_t target, uint64_t t0)
{
    while (atomic_load(&rx->count) < target) {
        if (rt_ns() - t0 > TIMEOUT_NS)
            return false;
        nap_us(50);
    }
    return true;
}

static uint64_t b_ticks(const struct stk_seg *b)
{
    return STK_LOAD(&stk_seg_header(b)->ticks_total, acquire);
}

/* Wait until box B's segment holds `target` ticks in all (or the timeout). */
static bool wait_b(const struct stk_seg *b, uint64_t target, uint64_t t0)
{
    uint64_t seen = stk_seg_epoch(b);
    while (b_ticks(b) < target) {
        if (rt_ns() - t0 > TIMEOUT_NS)
            return false;
        (void)stk_seg_wait(b, seen, 100);
        seen = stk_seg_epoch(b);
    }
    return true;
}

/* The full path: A's segment -> bridge -> nats-server -> a second
 * seqtick-producer with feed = nats: -> B's segment. Prints its figures;
 * skipped (returns 0) if that producer brings no segment up. */
static int full_path(struct stk_seg *seg, long nsym, long n, long nlat, const char *url,
                     struct rx *rx)
{
    char shm_b[64], conf_b[128], prod_exe[4096];
    snprintf(shm_b, sizeof(shm_b), "/stk-bench-bridge-b-%d", (int)getpid());
    snprintf(conf_b, sizeof(conf_b), "/tmp/stk-bench-bridge-b-%d.conf", (int)getpid());
    if (stk_find_program("seqtick-producer", "producer", prod_exe, sizeof(prod_exe)) < 0) {
        printf("full path: skipped (seqtick-producer not found)\n");
        return 0;
    }
    FILE *f = fopen(conf_b, "w");
    if (!f)
        return -errno;
    fprintf(f,
            "[shm]\nname = %s\ncapacity = 128\nhistory = 4096\n[producer]\nfeed = nats:%s\n"
            "[log]\nlevel = warn\n",
            shm_b, url);
    fclose(f);
    char a_c[] = "-c";
    char *argv[] = {prod_exe, a_c, conf_b, NULL};
    pid_t pid = spawn(argv, false);
    struct stk_seg *b = NULL;
    for (int i = 0; i < 200 && !b; i++) {
        if (stk_seg_open(shm_b, &b) < 0) {
            b = NULL;
            nap_us(25000);
        }
    }
    int rc = 0;
    if (!b) {
        printf("full path: skipped (no nats: feed came up on %s)\n", shm_b);
        goto done;
    }
    /* warm-up: every symbol known on B */
    struct stk_quote q;
    uint64_t t0 = rt_ns();
    while (stk_seg_nsymbols(b) < (uint32_t)nsym && rt_ns() - t0 < 20000000000ull) {
        stk_batch_begin(seg);
        for (long i = 0; i < nsym; i++) {
            fill(&q, 0);
            stk_tick_publish(seg, (uint32_t)i, &q);
        }
        stk_batch_end(seg, rt_ns());
        nap_us(50000);
    }
    nap_us(300000);
    uint64_t base = b_ticks(b);
    t0 = rt_ns();
    for (long k = 0; k < n;) {
        while ((uint64_t)k - (b_ticks(b) - base) > WINDOW)
            nap_us(20);
        stk_batch_begin(seg);
        for (int j = 0; j < 100 && k < n; j++, k++) {
            fill(&q, (uint64_t)k);
            stk_tick_publish(seg, (uint32_t)(k % nsym), &q);
        }
        stk_batch_end(seg, q.pub_ts_ns);
    }
    bool ok = wait_b(b, base + (uint64_t)n, t0);
    double rate = (double)(b_ticks(b) - base) / ((rt_ns() - t0) / 1e9);
    atomic_store(&rx->nlat, 0);
    for (long k = 0; k < nlat; k++) {
        base = b_ticks(b);
        fill(&q, (uint64_t)k);
        stk_batch_begin(seg);
        stk_tick_publish(seg, (uint32_t)(k % nsym), &q);
        stk_batch_end(seg, q.pub_ts_ns);
        if (!wait_b(b, base + 1, rt_ns()))
            break;
        uint64_t now = rt_ns();
        unsigned long long i = atomic_load(&rx->nlat);
        if (i < atomic_load(&rx->cap)) {
            rx->lat[i] = now - q.src_ts_ns;
            atomic_store(&rx->nlat, i + 1);
        }
    }
    double p50, p99;
    pct(rx, &p50, &p99);
    printf("full path: segment A -> seqtick-bridge -> nats-server -> seqtick-producer "
           "(feed = nats:) -> segment B\n");
    printf("  throughput       %12.0f ticks/s%s\n", rate, ok ? "" : " (timed out: ticks lost)");
    printf("  latency p50/p99  %8.1f / %8.1f us (A written -> B's futex wakes this reader)\n", p50,
           p99);
    rc = ok ? 0 : -ETIMEDOUT;
done:
    stk_bench_reap(pid);
    stk_seg_close(b);
    unlink(conf_b);
    (void)stk_seg_unlink(shm_b);
    return rc;
}

int stk_bench_bridge(int argc, char **argv)
{
    long n = 1000000, nlat = 5000, nsym = 100;
    int opt;
    while ((opt = getopt(argc, argv, "n:l:s:h")) != -1) {
        if (opt == 'n')
            n = atol(optarg);
        else if (opt == 'l')
            nlat = atol(optarg);
        else if (opt == 's')
            nsym = atol(optarg);
        else {
            fprintf(stderr, "usage: seqtick-bench bridge [-n TICKS] [-l LATENCY_SAMPLES] "
                            "[-s SYMBOLS]\n");
            return opt == 'h' ? 0 : STK_EXIT_USAGE;
        }
    }
    if (n < 1000 || nlat < 100 || nsym < 1 || nsym > NSYM_MAX) {
        fprintf(stderr, "bench bridge: bad -n/-l/-s\n");
        return STK_EXIT_USAGE;
    }
    char bridge_exe[4096];
    if (stk_find_program("seqtick-bridge", "bridge", bridge_exe, sizeof(bridge_exe)) < 0) {
        fprintf(stderr, "bench bridge: seqtick-bridge not found (%s)\n", bridge_exe);
        return STK_EXIT_SYSTEM;
    }
    int rc = STK_EXIT_SYSTEM;
    pid_t nats_pid = -1, bridge_pid = -1;
    struct stk_seg *seg = NULL;
    natsConnection *sc = NULL, *pc = NULL, *pc_asap = NULL;
    natsSubscription *sub = NULL, *bsub = NULL;
    natsOptions *o = NULL;
    char shm[64], conf[128], url[64], port_s[16];
    snprintf(shm, sizeof(shm), "/stk-bench-bridge-%d", (int)getpid());
    snprintf(conf, sizeof(conf), "/tmp/stk-bench-bridge-%d.conf", (int)getpid());
    struct rx rx = {0};
    rx.lat = calloc((size_t)nlat, sizeof(uint64_t));
    atomic_store(&rx.cap, (unsigned long long)nlat);

    int port = free_port();
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
    char a_exe[] = "nats-server", a_a[] = "-a", a_host[] = "127.0.0.1", a_p[] = "-p", a_c[] = "-c";
    char *nargv[] = {a_exe, a_a, a_host, a_p, port_s, NULL};
    nats_pid = spawn(nargv, true);
    natsStatus s = NATS_ERR;
    for (int i = 0; i < 200 && s != NATS_OK; i++) {
        s = natsConnection_ConnectTo(&sc, url);
        if (s != NATS_OK)
            nap_us(25000);
    }
    if (s != NATS_OK) {
        fprintf(stderr, "bench bridge: nats-server did not come up on %s (installed?)\n", url);
        goto out;
    }
    s = natsConnection_Subscribe(&sub, sc, "seqtick.tick.>", on_msg, &rx);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&bsub, sc, "bench.base.>", on_msg, &rx);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(bsub, -1, -1);
    if (s == NATS_OK)
        s = natsConnection_Flush(sc);
    if (s == NATS_OK)
        s = natsConnection_ConnectTo(&pc, url);
    if (s == NATS_OK)
        s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, url);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true);
    if (s == NATS_OK)
        s = natsConnection_Connect(&pc_asap, o);
    if (s != NATS_OK) {
        fprintf(stderr, "bench bridge: libnats: %s\n", natsStatus_GetText(s));
        goto out;
    }

    struct stk_seg_params sp = {.name = shm, .capacity = 128, .history = 4096, .mode = 0600};
    enum stk_seg_how how;
    int r = stk_seg_attach_writer(&sp, &seg, &how);
    if (r < 0) {
        fprintf(stderr, "bench bridge: segment: %s\n", stk_strerror(r));
        goto out;
    }
    char subj[NSYM_MAX][32], pay[NSYM_MAX][256];
    int paylen[NSYM_MAX];
    for (long i = 0; i < nsym; i++) {
        char name[16];
        snprintf(name, sizeof(name), "S%03ld", i);
        if (stk_sym_add(seg, name) < 0)
            goto out;
        snprintf(subj[i], sizeof(subj[i]), "bench.base.%s", name);
        paylen[i] = snprintf(pay[i], sizeof(pay[i]),
                             "{\"symbol\":\"%s\",\"price\":\"189.25\",\"bid\":\"189.24\","
                             "\"ask\":\"189.26\",\"bid_size\":100,\"ask_size\":200,"
                             "\"volume\":123456,\"ts_ns\":1795932757143337258,\"seq\":"
                             "123456,\"gen\":1}",
                             name);
    }
    stk_seg_heartbeat(seg, rt_ns());
    FILE *f = fopen(conf, "w");
    if (!f)
        goto out;
    fprintf(f,
            "[shm]\nname = %s\ncapacity = 128\nhistory = 4096\n[bridge]\nnats = %s\n"
            "[log]\nlevel = warn\n",
            shm, url);
    fclose(f);
    char *bargv[] = {bridge_exe, a_c, conf, NULL};
    bridge_pid = spawn(bargv, false);

    /* warm-up: one tick per symbol, until they all come through */
    struct stk_quote q;
    uint64_t t0 = rt_ns();
    uint64_t target = (uint64_t)nsym;
    for (;;) {
        stk_batch_begin(seg);
        for (long i = 0; i < nsym; i++) {
            fill(&q, 0);
            stk_tick_publish(seg, (uint32_t)i, &q);
        }
        stk_batch_end(seg, rt_ns());
        if (wait_rx(&rx, target, rt_ns() - TIMEOUT_NS + 200000000ull))
            break;
        target = atomic_load(&rx.count) + (uint64_t)nsym;
        if (rt_ns() - t0 > 20000000000ull) {
            fprintf(stderr, "bench bridge: nothing came through the bridge\n");
            goto out;
        }
    }
    nap_us(200000);

    /* throughput: the bridge */
    uint64_t base = atomic_load(&rx.count);
    t0 = rt_ns();
    for (long k = 0; k < n;) {
        while ((uint64_t)k - (atomic_load(&rx.count) - base) > WINDOW)
            nap_us(20);
        stk_batch_begin(seg);
        for (int j = 0; j < 100 && k < n; j++, k++) {
            fill(&q, (uint64_t)k);
            stk_tick_publish(seg, (uint32_t)(k % nsym), &q);
        }
        stk_batch_end(seg, q.pub_ts_ns);
    }
    bool ok1 = wait_rx(&rx, base + (uint64_t)n, t0);
    double bridge_rate = (double)(atomic_load(&rx.count) - base) / ((rt_ns() - t0) / 1e9);

    /* throughput: bare libnats, the same payloads */
    base = atomic_load(&rx.count);
    t0 = rt_ns();
    for (long k = 0; k < n; k++) {
        while ((uint64_t)k - (atomic_load(&rx.count) - base) > WINDOW)
            nap_us(20);
        natsConnection_Publish(pc, subj[k % nsym], pay[k % nsym], paylen[k % nsym]);
    }
    natsConnection_Flush(pc);
    bool ok2 = wait_rx(&rx, base + (uint64_t)n, t0);
    double bare_rate = (double)(atomic_load(&rx.count) - base) / ((rt_ns() - t0) / 1e9);

    /* latency: one tick at a time, the bridge */
    double b50, b99, n50, n99;
    atomic_store(&rx.nlat, 0);
    atomic_store(&rx.measure, 1);
    for (long k = 0; k < nlat; k++) {
        base = atomic_load(&rx.count);
        fill(&q, (uint64_t)k);
        stk_batch_begin(seg);
        stk_tick_publish(seg, (uint32_t)(k % nsym), &q);
        stk_batch_end(seg, q.pub_ts_ns);
        if (!wait_rx(&rx, base + 1, rt_ns()))
            break;
    }
    atomic_store(&rx.measure, 0);
    pct(&rx, &b50, &b99);
    /* latency: bare libnats (send-asap connection), the same payload */
    atomic_store(&rx.nlat, 0);
    atomic_store(&rx.measure, 1);
    for (long k = 0; k < nlat; k++) {
        base = atomic_load(&rx.count);
        char buf[256];
        int len = snprintf(buf, sizeof(buf),
                           "{\"symbol\":\"S%03ld\",\"price\":\"189.25\",\"bid\":\"189.24\","
                           "\"ask\":\"189.26\",\"bid_size\":100,\"ask_size\":200,"
                           "\"volume\":123456,\"ts_ns\":%llu,\"seq\":123456,\"gen\":1}",
                           k % nsym, (unsigned long long)rt_ns());
        natsConnection_Publish(pc_asap, subj[k % nsym], buf, len);
        if (!wait_rx(&rx, base + 1, rt_ns()))
            break;
    }
    atomic_store(&rx.measure, 0);
    pct(&rx, &n50, &n99);

    printf("bridge throughput, %ld symbols, %ld ticks: segment -> seqtick-bridge -> nats-server "
           "-> libnats subscriber\n",
           nsym, n);
    printf("  seqtick-bridge   %12.0f ticks/s%s\n", bridge_rate, ok1 ? "" : " (timed out)");
    printf("  bare libnats     %12.0f msgs/s%s (publish -> subscribe, same payload)\n", bare_rate,
           ok2 ? "" : " (timed out)");
    printf("  ratio            %12.2f x (target >= 0.7)\n", bridge_rate / bare_rate);
    printf("tick latency, %ld samples one at a time (us): p50 / p99\n", nlat);
    printf("  seqtick-bridge   %8.1f / %8.1f\n", b50, b99);
    printf("  bare libnats     %8.1f / %8.1f (send-asap publisher)\n", n50, n99);
    printf("  ratio            %8.2f / %8.2f x (targets <= 1.5 / <= 2)\n", b50 / n50, b99 / n99);
    fflush(stdout);
    natsSubscription_Unsubscribe(sub);
    int fr = full_path(seg, nsym, n, nlat, url, &rx);
    rc = ok1 && ok2 && fr == 0 ? 0 : STK_EXIT_SYSTEM;
out:
    stk_bench_reap(bridge_pid);
    natsSubscription_Destroy(sub);
    natsSubscription_Destroy(bsub);
    natsConnection_Destroy(sc);
    natsConnection_Destroy(pc);
    natsConnection_Destroy(pc_asap);
    natsOptions_Destroy(o);
    stk_bench_reap(nats_pid);
    if (seg) {
        stk_seg_close(seg);
        (void)stk_seg_unlink(shm);
    }
    unlink(conf);
    free(rx.lat);
    nats_CloseAndWait(2000);
    return rc;
}
