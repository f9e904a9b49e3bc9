/* SPDX-License-Identifier: MIT */
/* store_csv.c — the csv:DIR store: DIR/SYMBOL/YYYY-MM-DD.csv, one file per
 * symbol per UTC day (of the tick's source time), a header line, the ticks
 * table's columns with prices as integers × 10^8; lost ticks in DIR/gaps.csv.
 * A batch is appended at commit; a commit that fails part way truncates
 * every file it touched back to its size before the batch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "storeutil.h"

#define TICKS_HEADER                                                                               \
    "symbol,generation,tick,src_ts_ns,pub_ts_ns,price,bid,ask,volume,bid_size,ask_size\n"
#define GAPS_HEADER "symbol,generation,from_tick,to_tick,detected_ns\n"
#define MAX_SYMS 65536

/* One file's pending text. */
struct pend {
    char path[PATH_MAX];
    char *buf;
    size_t len, cap;
};

struct stk_store {
    char dir[PATH_MAX];
    char **names; /* symbol id - 1 → name */
    size_t nnames;
    struct pend *pend;
    size_t npend, cappend;
};

/* The folder name of a symbol: '%', '/' and a leading '.' as %25, %2F,
 * %2E (a symbol may hold any printable ASCII but a space). */
#define STK_FSNAME_MAX 100
static const char *fsname(const char *name, char out[STK_FSNAME_MAX])
{
    size_t o = 0;
    for (size_t i = 0; name[i] && o + 4 < STK_FSNAME_MAX; i++) {
        char c = name[i];
        if (c == '%' || c == '/' || (i == 0 && c == '.'))
            o += (size_t)snprintf(out + o, 4, "%%%02X", (unsigned char)c);
        else
            out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static void csv_close(struct stk_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nnames; i++)
        free(st->names[i]);
    free(st->names);
    for (size_t i = 0; i < st->cappend; i++)
        free(st->pend[i].buf);
    free(st->pend);
    free(st);
}

static int csv_open(const char *arg, struct stk_store **ret, char *err, size_t errlen)
{
    if (!arg || !*arg) {
        snprintf(err, errlen, "csv: empty folder");
        return -EINVAL;
    }
    struct stk_store *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    if (snprintf(st->dir, sizeof(st->dir), "%s", arg) >= (int)sizeof(st->dir)) {
        csv_close(st);
        snprintf(err, errlen, "csv: folder name too long");
        return -ENAMETOOLONG;
    }
    int r = stk_rec_mkdir_p(arg);
    if (r == 0 && access(arg, W_OK) < 0)
        r = -errno;
    if (r < 0) {
        snprintf(err, errlen, "csv: %s: %s", arg, strerror(-r));
        csv_close(st);
        return r;
    }
    *ret = st;
    return 0;
}

static int csv_symbol_id(struct stk_store *st, const char *name, int64_t *id_ret, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < st->nnames; i++)
        if (!strcmp(st->names[i], name)) {
            *id_ret = (int64_t)i + 1;
            return 0;
        }
    if (st->nnames >= MAX_SYMS) {
        snprintf(err, errlen, "csv: more than %d symbols", MAX_SYMS);
        return -ENOSPC;
    }
    char **nn = realloc(st->names, (st->nnames + 1) * sizeof(*nn));
    if (!nn)
        return -ENOMEM;
    st->names = nn;
    if (!(nn[st->nnames] = strdup(name)))
        return -ENOMEM;
    *id_ret = (int64_t)++st->nnames;
    char d[PATH_MAX], fs[STK_FSNAME_MAX];
    snprintf(d, sizeof(d), "%s/%s", st->dir, fsname(name, fs));
    int r = stk_rec_mkdir_p(d);
    if (r < 0) {
        snprintf(err, errlen, "csv: %s: %s", d, strerror(-r));
        return r;
    }
    return 0;
}

static const char *sym_name(struct stk_store *st, int64_t id)
{
    return id >= 1 && (size_t)id <= st->nnames ? st->names[id - 1] : NULL;
}

/* The last complete line of `path` into line[] (a torn last line, from a
 * crash mid-write, is cut off the file). Returns 0, -ENOENT (no file or
 * only a header), -errno. */
static int last_line(const char *path, char *line, size_t linesz)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    char buf[4096];
    off_t end = sb.st_size;
    off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
    ssize_t n = pread(fd, buf, (size_t)(end - from), from);
    if (n < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    ssize_t nl = n - 1;
    while (nl >= 0 && buf[nl] != '\n')
        nl--;
    if (nl < n - 1) { /* a torn tail: cut it */
        if (ftruncate(fd, from + nl + 1) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
    }
    close(fd);
    if (nl < 0)
        return -ENOENT;
    ssize_t st = nl - 1;
    while (st >= 0 && buf[st] != '\n')
        st--;
    size_t len = (size_t)(nl - st - 1);
    if (len + 1 > linesz)
        return -EUCLEAN;
    memcpy(line, buf + st + 1, len);
    line[len] = '\0';
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int csv_last_tick(struct stk_store *st, int64_t sid, uint64_t gen, uint64_t *tick_ret,
                         char *err, size_t errlen)
{
    const char *name = sym_name(st, sid);
    if (!name)
        return -ENOENT;
    char d[PATH_MAX], fs[STK_FSNAME_MAX];
    snprintf(d, sizeof(d), "%s/%s", st->dir, fsname(name, fs));
    DIR *dp = opendir(d);
    if (!dp)
        return errno == ENOENT ? -ENOENT : -errno;
    char **files = NULL;
    size_t nf = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l != 14 || strcmp(de->d_name + 10, ".csv"))
            continue;
        char **nfp = realloc(files, (nf + 1) * sizeof(*nfp));
        if (!nfp)
            break;
        files = nfp;
        if (!(files[nf] = strdup(de->d_name)))
            break;
        nf++;
    }
    closedir(dp);
    if (nf)
        qsort(files, nf, sizeof(*files), cmp_str);
    int r = -ENOENT;
    /* newest day first; the newest line of this generation decides */
    for (size_t k = nf; k-- > 0 && r == -ENOENT;) {
        char path[PATH_MAX + 32], line[512];
        snprintf(path, sizeof(path), "%s/%s", d, files[k]);
        int q = last_line(path, line, sizeof(line));
        if (q == -ENOENT)
            continue;
        if (q < 0) {
            snprintf(err, errlen, "csv: %s: %s", path, strerror(-q));
            r = q;
            break;
        }
        if (!strncmp(line, "symbol,", 7))
            continue; /* only a header */
        unsigned long long g, t;
        const char *c = strchr(line, ',');
        if (!c || sscanf(c + 1, "%llu,%llu", &g, &t) != 2) {
            snprintf(err, errlen, "csv: %s: unreadable last line", path);
            r = -EUCLEAN;
            break;
        }
        if (g == gen) {
            *tick_ret = t;
            r = 0;
        } else if (g < gen) {
            break; /* older generation: none of this one */
        }
    }
    for (size_t k = 0; k < nf; k++)
        free(files[k]);
    free(files);
    return r;
}

static int csv_begin(struct stk_store *st, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    for (size_t i = 0; i < st->npend; i++)
        st->pend[i].len = 0;
    st->npend = 0;
    return 0;
}

/* The pending buffer of `path`, created empty. */
static struct pend *pend_get(struct stk_store *st, const char *path)
{
    for (size_t i = st->npend; i-- > 0;)
        if (!strcmp(st->pend[i].path, path))
            return &st->pend[i];
    if (st->npend == st->cappend) {
        size_t cap = st->cappend ? st->cappend * 2 : 16;
        struct pend *np = realloc(st->pend, cap * sizeof(*np));
        if (!np)
            return NULL;
        memset(np + st->cappend, 0, (cap - st->cappend) * sizeof(*np));
        st->pend = np;
        st->cappend = cap;
    }
    struct pend *p = &st->pend[st->npend++];
    snprintf(p->path, sizeof(p->path), "%s", path);
    p->len = 0;
    return p;
}

static int pend_add(struct pend *p, const char *s, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n)
            cap *= 2;
        char *nb = realloc(p->buf, cap);
        if (!nb)
            return -ENOMEM;
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    return 0;
}

static int csv_put_ticks(struct stk_store *st, const struct stk_rec_tick *t, size_t n, char *err,
                         size_t errlen)
{
    char path[PATH_MAX], line[320];
    struct pend *p = NULL;
    int64_t psid = -1;
    uint64_t pday = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t day = t[i].src_ts_ns / 86400000000000ull;
        const char *name = sym_name(st, t[i].symbol_id);
        if (!name) {
            snprintf(err, errlen, "csv: unknown symbol id %lld", (long long)t[i].symbol_id);
            return -EINVAL;
        }
        if (!p || psid != t[i].symbol_id || pday != day) {
            time_t secs = (time_t)(day * 86400);
            struct tm tm;
            gmtime_r(&secs, &tm);
            char fs[STK_FSNAME_MAX];
            snprintf(path, sizeof(path), "%s/%s/%04d-%02d-%02d.csv", st->dir, fsname(name, fs),
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
            if (!(p = pend_get(st, path)))
                return -ENOMEM;
            psid = t[i].symbol_id;
            pday = day;
        }
        int len =
            snprintf(line, sizeof(line),
                     "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRId64 ",%" PRId64
                     ",%" PRId64 ",%" PRIu64 ",%" PRIu32 ",%" PRIu32 "\n",
                     name, t[i].generation, t[i].tick, t[i].src_ts_ns, t[i].pub_ts_ns, t[i].price,
                     t[i].bid, t[i].ask, t[i].volume, t[i].bid_size, t[i].ask_size);
        if (pend_add(p, line, (size_t)len) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int csv_put_gap(struct stk_store *st, int64_t sid, uint64_t gen, uint64_t from, uint64_t to,
                       uint64_t detected_ns, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    char path[PATH_MAX], line[256];
    snprintf(path, sizeof(path), "%s/gaps.csv", st->dir);
    struct pend *p = pend_get(st, path);
    if (!p)
        return -ENOMEM;
    const char *name = sym_name(st, sid);
    int len = snprintf(line, sizeof(line), "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
                       name ? name : "?", gen, from, to, detected_ns);
    return pend_add(p, line, (size_t)len);
}

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int csv_commit(struct stk_store *st, char *err, size_t errlen)
{
    off_t *sizes = calloc(st->npend ? st->npend : 1, sizeof(*sizes));
    if (!sizes)
        return -ENOMEM;
    for (size_t i = 0; i < st->npend; i++)
        sizes[i] = -1; /* -1: not touched, nothing to undo */
    int r = 0;
    size_t done = 0;
    for (; done < st->npend && r == 0; done++) {
        struct pend *p = &st->pend[done];
        sizes[done] = -1;
        int fd = open(p->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            r = -errno;
            snprintf(err, errlen, "csv: %s: %s", p->path, strerror(-r));
            break;
        }
        struct stat sb;
        if (fstat(fd, &sb) < 0) {
            r = -errno;
            close(fd);
            break;
        }
        sizes[done] = sb.st_size;
        const char *hdr = strstr(p->path, "/gaps.csv") ? GAPS_HEADER : TICKS_HEADER;
        if (sb.st_size == 0)
            r = write_all(fd, hdr, strlen(hdr));
        if (r == 0)
            r = write_all(fd, p->buf, p->len);
        if (r < 0)
            snprintf(err, errlen, "csv: %s: %s", p->path, strerror(-r));
        close(fd);
    }
    if (r < 0) { /* nothing of the batch stays */
        for (size_t i = 0; i < done + 1 && i < st->npend; i++) {
            if (sizes[i] < 0)
                continue;
            if (truncate(st->pend[i].path, sizes[i]) < 0) {
                /* cannot undo: the next resume reads the file's last tick */
            }
        }
    }
    free(sizes);
    for (size_t i = 0; i < st->npend; i++)
        st->pend[i].len = 0;
    st->npend = 0;
    return r;
}

static void csv_close_pending(struct stk_store *st)
{
    csv_close(st);
}

const struct stk_store_ops stk_store_csv = {
    .scheme = "csv",
    .open = csv_open,
    .symbol_id = csv_symbol_id,
    .last_tick = csv_last_tick,
    .begin = csv_begin,
    .put_ticks = csv_put_ticks,
    .put_gap = csv_put_gap,
    .commit = csv_commit,
    .close = csv_close_pending,
};
