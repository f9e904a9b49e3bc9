/* SPDX-License-Identifier: MIT */
/* cli_status.c — `seqtick status`: the supervisor's live status (from its
 * control socket; else its status file, which says whether it is stale), as
 * JSON parsed with jsmn, and the segment header's figures. A missing status
 * is not an error (the stack may run without a supervisor); a missing
 * segment is. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JSMN_STATIC
#include <jsmn.h>

#include "cli_private.h"
#include "util-private.h"

#define STATUS_MAX (1u << 20)

struct status {
    char *text;
    jsmntok_t *tok;
    int ntok;
    bool live;  /* from the running supervisor's control socket */
    bool alive; /* the supervisor it names runs (pid and start time) */
};

static int status_parse(struct status *st, size_t len);

/* The live status from the control socket (unless a status file was named
 * on the command line), else the status file. Returns 0,
 * -ENOENT (neither), -EBADMSG (not a JSON object), or -errno. */
static int status_load(const struct stk_cli *cli, struct status *st)
{
    char *reply = NULL;
    memset(st, 0, sizeof(*st));
    if (!cli->status_file_only && stk_cli_ctl_request(cli->control_socket, "status", &reply) == 0) {
        st->text = reply;
        st->live = true;
        return status_parse(st, strlen(reply));
    }
    const char *path = cli->status_file;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return e > 0 ? -e : -EIO;
    }
    st->text = malloc(STATUS_MAX + 1);
    if (!st->text) {
        close(fd);
        return -ENOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = stk_read_retry(fd, st->text + len, STATUS_MAX - len);
        if (n < 0) {
            close(fd);
            return (int)n;
        }
        if (n == 0 || (len += (size_t)n) == STATUS_MAX)
            break;
    }
    close(fd);
    st->text[len] = 0;
    return status_parse(st, len);
}

static int status_parse(struct status *st, size_t len)
{
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, st->text, len, NULL, 0);
    if (n < 1)
        return -EBADMSG;
    st->tok = calloc((size_t)n, sizeof(*st->tok));
    if (!st->tok)
        return -ENOMEM;
    jsmn_init(&p);
    st->ntok = jsmn_parse(&p, st->text, len, st->tok, (unsigned)n);
    if (st->ntok < 1 || st->ntok > n || st->tok[0].type != JSMN_OBJECT)
        return -EBADMSG;
    return 0;
}

static void status_free(struct status *st)
{
    free(st->text);
    free(st->tok);
}

/* Index just past the subtree rooted at token i (jsmn: an object's size is
 * its number of keys, an array's its number of elements). */
static int skip(const struct status *st, int i)
{
    int pending = 1;
    while (pending > 0 && i < st->ntok) {
        const jsmntok_t *t = &st->tok[i++];
        pending--;
        if (t->type == JSMN_OBJECT)
            pending += 2 * t->size;
        else if (t->type == JSMN_ARRAY)
            pending += t->size;
    }
    return i;
}

static bool tok_eq(const struct status *st, int i, const char *s)
{
    const jsmntok_t *t = &st->tok[i];
    size_t n = (size_t)(t->end - t->start);
    return t->type == JSMN_STRING && strlen(s) == n && !memcmp(st->text + t->start, s, n);
}

/* Token index of member `key` of the object at token obj, or -1. */
static int member(const struct status *st, int obj, const char *key)
{
    if (obj < 0 || obj >= st->ntok || st->tok[obj].type != JSMN_OBJECT)
        return -1;
    int i = obj + 1;
    for (int k = 0; k < st->tok[obj].size && i < st->ntok; k++) {
        if (tok_eq(st, i, key))
            return i + 1;
        i = skip(st, i + 1);
    }
    return -1;
}

/* Copy the text of token i (unquoted for strings) into buf; "-" if absent. */
static const char *text(const struct status *st, int i, char *buf, size_t size)
{
    if (i < 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    const jsmntok_t *t = &st->tok[i];
    snprintf(buf, size, "%.*s", t->end - t->start, st->text + t->start);
    return buf;
}

static uint64_t num(const struct status *st, int i)
{
    char b[32];
    if (i < 0 || st->tok[i].type != JSMN_PRIMITIVE)
        return 0;
    return strtoull(text(st, i, b, sizeof(b)), NULL, 10);
}

static bool boolean(const struct status *st, int i)
{
    return i >= 0 && st->tok[i].type == JSMN_PRIMITIVE && st->text[st->tok[i].start] == 't';
}

static const char *ago(uint64_t ns, uint64_t now, char *buf, size_t size)
{
    if (ns == 0)
        return snprintf(buf, size, "-"), buf;
    return stk_cli_age(now > ns ? now - ns : 0, buf, size);
}

/* The producer the header names runs: the pid is a live process that
 * started no later than the header's producer_start_ns (a reused pid is a
 * younger process). Process start times count from boot, in clock ticks. */
static bool producer_alive(uint32_t pid, uint64_t start_ns)
{
    uint64_t ticks;
    if (pid == 0 || stk_proc_start((pid_t)pid, &ticks) < 0)
        return false;
    struct timespec rt, bt;
    long hz = sysconf(_SC_CLK_TCK);
    if (start_ns == 0 || hz <= 0 || clock_gettime(CLOCK_REALTIME, &rt) < 0 ||
        clock_gettime(CLOCK_BOOTTIME, &bt) < 0)
        return true;
    double boot_s = (double)rt.tv_sec + rt.tv_nsec / 1e9 - (double)bt.tv_sec - bt.tv_nsec / 1e9;
    double started_s = boot_s + (double)ticks / (double)hz;
    return started_s <= (double)start_ns / 1e9 + 2.0; /* tick and clock-step slack */
}

static void print_status_text(const struct status *st, const struct stk_cli *cli, uint64_t now)
{
    char b1[256], b2[32], b3[32];
    uint64_t spid = num(st, member(st, 0, "supervisor_pid"));
    if (st->alive)
        printf("supervisor pid %llu (running), up %s, all ready: %s\n", (unsigned long long)spid,
               ago(num(st, member(st, 0, "started_ns")), now, b2, sizeof(b2)),
               boolean(st, member(st, 0, "all_ready")) ? "yes" : "no");
    else
        printf("supervisor pid %llu not running: STALE status file, children unknown\n",
               (unsigned long long)spid);
    printf("  config %s, shm %s\n", text(st, member(st, 0, "config"), b1, sizeof(b1)),
           text(st, member(st, 0, "shm"), b3, sizeof(b3)));
    if (st->live)
        printf("  live from %s\n", cli->control_socket);
    else
        printf("  status file %s, updated %s ago\n", cli->status_file,
               ago(num(st, member(st, 0, "updated_ns")), now, b2, sizeof(b2)));
    int ch = member(st, 0, "children");
    if (ch < 0 || st->tok[ch].type != JSMN_ARRAY)
        return;
    printf("%-16s %-9s %8s %9s %9s %9s %6s  %s\n", "PROGRAM", "STATE", "PID", "RESTARTS", "UPTIME",
           "SINCE", "READY", "LAST EXIT");
    int c = ch + 1;
    for (int k = 0; k < st->tok[ch].size && c < st->ntok; k++, c = skip(st, c)) {
        char name[64], state[16], last[64], since[16], up[16];
        uint64_t pid = num(st, member(st, c, "pid"));
        int le = member(st, c, "last_exit");
        if (le >= 0 && st->tok[le].type == JSMN_OBJECT) {
            int code = member(st, le, "code"), sig = member(st, le, "signal");
            if (code >= 0)
                snprintf(last, sizeof(last), "exit %llu", (unsigned long long)num(st, code));
            else if (sig >= 0)
                snprintf(last, sizeof(last), "signal %llu", (unsigned long long)num(st, sig));
            else
                snprintf(last, sizeof(last), "?");
        } else {
            snprintf(last, sizeof(last), "-");
        }
        if (!st->alive) {
            /* What a dead supervisor last wrote: nobody knows now. */
            printf("%-16s %-9s %8s %9s %9s %9s %6s  %s\n",
                   text(st, member(st, c, "name"), name, 64), "unknown", "-", "-", "-", "-", "-",
                   "-");
            continue;
        }
        printf("%-16s %-9s %8llu %9llu %9s %9s %6s  %s\n",
               text(st, member(st, c, "name"), name, 64),
               text(st, member(st, c, "state"), state, sizeof(state)), (unsigned long long)pid,
               (unsigned long long)num(st, member(st, c, "restarts")),
               pid ? ago(num(st, member(st, c, "started_ns")), now, up, sizeof(up)) : "-",
               ago(num(st, member(st, c, "since_ns")), now, since, sizeof(since)),
               boolean(st, member(st, c, "ready")) ? "yes" : "no", last);
    }
}

static void print_segment_text(struct stk_seg *seg, const char *name)
{
    const struct stk_header *h = stk_seg_header(seg);
    char a1[16], a2[16];
    uint64_t now = stk_cli_now_ns();
    uint64_t last = atomic_load(&h->last_update_ns);
    printf("segment %s\n", name);
    printf("  generation %llu, state %s%s, symbols %u / %u, history %u\n",
           (unsigned long long)atomic_load(&h->generation),
           stk_cli_state_name(atomic_load(&h->state)),
           stk_seg_replaced(seg) ? " (replaced: re-open it)" : "", stk_seg_nsymbols(seg),
           h->capacity, h->history);
    printf("  epoch %llu, last update %s ago\n", (unsigned long long)stk_seg_epoch(seg),
           last ? stk_cli_age(now > last ? now - last : 0, a1, sizeof(a1)) : "never");
    uint32_t pid = atomic_load(&h->producer_pid);
    printf("  producer pid %u (%s), heartbeat %s ago, restarts %u\n", pid,
           producer_alive(pid, atomic_load(&h->producer_start_ns)) ? "running" : "not running",
           stk_cli_age(stk_seg_heartbeat_age_ns(seg), a2, sizeof(a2)),
           atomic_load(&h->producer_restarts));
    printf(
        "  ticks_total %llu, batches %llu, bad_input %llu, symbols_dropped %llu, repaired %llu\n",
        (unsigned long long)atomic_load(&h->ticks_total),
        (unsigned long long)atomic_load(&h->batches_total),
        (unsigned long long)atomic_load(&h->bad_input),
        (unsigned long long)atomic_load(&h->symbols_dropped),
        (unsigned long long)atomic_load(&h->repaired));
}

static void print_segment_json(struct stk_seg *seg, const char *name)
{
    const struct stk_header *h = stk_seg_header(seg);
    uint64_t age = stk_seg_heartbeat_age_ns(seg);
    uint32_t pid = atomic_load(&h->producer_pid);
    printf("{\"name\":");
    stk_cli_json_str(stdout, name);
    printf(",\"generation\":%llu,\"state\":\"%s\",\"replaced\":%s,\"nsymbols\":%u,"
           "\"capacity\":%u,\"history\":%u,\"epoch\":%llu,\"last_update_ns\":%llu,"
           "\"producer_pid\":%u,\"producer_alive\":%s,\"heartbeat_age_ms\":",
           (unsigned long long)atomic_load(&h->generation),
           stk_cli_state_name(atomic_load(&h->state)), stk_seg_replaced(seg) ? "true" : "false",
           stk_seg_nsymbols(seg), h->capacity, h->history, (unsigned long long)stk_seg_epoch(seg),
           (unsigned long long)atomic_load(&h->last_update_ns), pid,
           producer_alive(pid, atomic_load(&h->producer_start_ns)) ? "true" : "false");
    if (age == UINT64_MAX)
        printf("null");
    else
        printf("%llu", (unsigned long long)(age / 1000000u));
    printf(",\"producer_restarts\":%u,\"producer_start_ns\":%llu,\"ticks_total\":%llu,"
           "\"batches_total\":%llu,\"bad_input\":%llu,\"symbols_dropped\":%llu,\"repaired\":%llu,"
           "\"created_ns\":%llu,\"total_bytes\":%llu}",
           atomic_load(&h->producer_restarts),
           (unsigned long long)atomic_load(&h->producer_start_ns),
           (unsigned long long)atomic_load(&h->ticks_total),
           (unsigned long long)atomic_load(&h->batches_total),
           (unsigned long long)atomic_load(&h->bad_input),
           (unsigned long long)atomic_load(&h->symbols_dropped),
           (unsigned long long)atomic_load(&h->repaired), (unsigned long long)h->created_ns,
           (unsigned long long)h->total_bytes);
}

int stk_cli_status(struct stk_cli *cli)
{
    struct status st = {0};
    int sr = status_load(cli, &st);
    if (sr == 0 && !st.tok) /* cannot happen; tells the analyzer so */
        sr = -EBADMSG;
    if (sr == 0)
        st.alive = st.live || stk_proc_alive((pid_t)num(&st, member(&st, 0, "supervisor_pid")),
                                             num(&st, member(&st, 0, "supervisor_start_ticks")));
    struct stk_seg *seg = NULL;
    int r = stk_cli_open_any(cli, &seg);
    uint64_t now = stk_cli_now_ns();
    if (cli->json) {
        printf("{\"status_file\":");
        stk_cli_json_str(stdout, cli->status_file);
        printf(",\"supervisor\":");
        if (sr == 0) {
            printf("%.*s", st.tok[0].end - st.tok[0].start, st.text + st.tok[0].start);
            printf(",\"supervisor_alive\":%s,\"source\":\"%s\",\"stale\":%s",
                   st.alive ? "true" : "false", st.live ? "socket" : "file",
                   st.alive ? "false" : "true");
        } else {
            printf("null,\"supervisor_alive\":null,\"status_error\":");
            stk_cli_json_str(stdout, sr == -EBADMSG ? "not a JSON object" : strerror(-sr));
        }
        printf(",\"shm\":");
        stk_cli_json_str(stdout, cli->shm);
        printf(",\"segment\":");
        if (r == 0) {
            print_segment_json(seg, cli->shm);
        } else {
            printf("null,\"segment_error\":");
            stk_cli_json_str(stdout, stk_strerror(r));
        }
        printf("}\n");
    } else {
        if (sr == 0)
            print_status_text(&st, cli, now);
        else if (sr == -ENOENT)
            printf("no supervisor status (%s does not exist)\n", cli->status_file);
        else
            printf("supervisor status unreadable: %s: %s\n", cli->status_file,
                   sr == -EBADMSG ? "not a JSON object" : strerror(-sr));
        if (r == 0)
            print_segment_text(seg, cli->shm);
        else
            printf("segment %s: none (%s)\n", cli->shm, stk_strerror(r));
    }
    if (sr == -EBADMSG)
        fprintf(stderr, "seqtick: warning: %s: not a JSON object\n", cli->status_file);
    status_free(&st);
    fflush(stdout);
    if (r < 0) {
        fprintf(stderr, "seqtick: fatal: unable to open segment '%s': %s\n", cli->shm,
                stk_strerror(r));
        return STK_EXIT_SYSTEM;
    }
    stk_seg_close(seg);
    return 0;
}
