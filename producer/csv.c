/* SPDX-License-Identifier: MIT */
/* csv.c — the `csv:PATH` feed's reader: rows of one file or of every file in
 * a folder, merged by timestamp; bad rows go to a callback with file:line. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "producer.h"
#include "scan-private.h"
#include "segment-private.h"

#define CSV_FIELDS_MAX 8

struct csv_file {
    char *path;
    FILE *f;
    unsigned long line; /* lines read so far */
    bool have;          /* row holds this file's next row */
    bool eof;
    struct stk_csv_row row;
};

struct stk_csv {
    struct csv_file *files;
    size_t nfiles;
    enum stk_time_unit unit;
    stk_csv_bad_fn bad;
    void *ctx;
    char *buf;
    size_t cap;
};

int stk_time_unit_parse(const char *s)
{
    static const char *const names[] = {"auto", "s", "ms", "us", "ns"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -EINVAL;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* "1700000000", "1700000000.25": integer part and fraction → ns. */
static int parse_ts(const char *s, size_t n, enum stk_time_unit unit, uint64_t *ret)
{
    size_t i = 0;
    while (i < n && stk_scan_digit(s[i]))
        i++;
    uint64_t ip;
    int r = stk_scan_u64(s, i, UINT64_MAX, &ip);
    if (r < 0)
        return r;
    const char *frac = NULL;
    size_t nfrac = 0;
    if (i < n) {
        if (s[i] != '.' || i + 1 == n)
            return -EINVAL;
        frac = s + i + 1;
        nfrac = n - i - 1;
        for (size_t k = 0; k < nfrac; k++)
            if (!stk_scan_digit(frac[k]))
                return -EINVAL;
    }
    if (unit == STK_UNIT_AUTO)
        unit = ip < 100000000000ull         ? STK_UNIT_S
               : ip < 100000000000000ull    ? STK_UNIT_MS
               : ip < 100000000000000000ull ? STK_UNIT_US
                                            : STK_UNIT_NS;
    uint64_t mult = unit == STK_UNIT_S    ? 1000000000ull
                    : unit == STK_UNIT_MS ? 1000000ull
                    : unit == STK_UNIT_US ? 1000ull
                                          : 1ull;
    if (ip > UINT64_MAX / mult)
        return -ERANGE;
    uint64_t ns = ip * mult;
    /* the fraction, down to the nanosecond; finer digits are dropped */
    uint64_t scale = mult;
    for (size_t k = 0; k < nfrac && scale > 1; k++) {
        scale /= 10;
        uint64_t add = (uint64_t)(frac[k] - '0') * scale;
        if (add > UINT64_MAX - ns)
            return -ERANGE; /* past 2554-07-21, the last instant a u64 of ns holds */
        ns += add;
    }
    *ret = ns;
    return 0;
}

/* One field of a row, spaces and tabs around it dropped; a quoted field's
 * text is what lies between its quotes, a doubled quote ("") still doubled. */
struct field {
    const char *s;
    size_t n;
};

/* Split p[0..end) at commas into at most CSV_FIELDS_MAX fields, RFC 4180
 * style: a field wholly in double quotes may hold commas, and "" stands for
 * one quote in it; an unquoted field may hold no quote. Returns the count,
 * or -EINVAL with *why set. */
static int split_fields(const char *p, const char *end, struct field *f, const char **why)
{
    size_t nf = 0;
    for (;;) {
        if (nf == CSV_FIELDS_MAX) {
            *why = "too many fields (at most 8)";
            return -EINVAL;
        }
        struct field *x = &f[nf++];
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '"') {
            x->s = ++p;
            while (p < end && (*p != '"' || (p + 1 < end && p[1] == '"')))
                p += *p == '"' ? 2 : 1;
            if (p >= end) {
                *why = "unterminated quoted field";
                return -EINVAL;
            }
            x->n = (size_t)(p - x->s);
            p++; /* the closing quote */
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p != ',') {
                *why = "text after a quoted field's closing quote";
                return -EINVAL;
            }
        } else {
            const char *c = memchr(p, ',', (size_t)(end - p));
            const char *stop = c ? c : end;
            x->s = p;
            x->n = (size_t)(stop - p);
            trim(&x->s, &x->n);
            if (memchr(x->s, '"', x->n)) {
                *why = "a double quote in an unquoted field (quote the whole field, \"\" inside)";
                return -EINVAL;
            }
            p = stop;
        }
        if (p == end)
            return (int)nf;
        p++; /* the comma */
    }
}

/* The symbol field into out (zeroed by the caller): "" becomes one quote,
 * then the symbol grammar. Returns 0 or -EINVAL. */
static int symbol_field(const struct field *x, char out[STK_NAME_MAX + 1])
{
    size_t n = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (n == STK_NAME_MAX)
            return -EINVAL;
        out[n++] = x->s[i];
        if (x->s[i] == '"')
            i++; /* only a doubled quote gets here (split_fields) */
    }
    return stk_sym_check(out, n);
}

int stk_csv_parse_row(const char *line, size_t len, enum stk_time_unit unit, bool first,
                      struct stk_csv_row *row, const char **why)
{
    struct field fld[CSV_FIELDS_MAX] = {{0}};
    const char *end = line + len;
    if (len && end[-1] == '\r')
        end--;
    int r = split_fields(line, end, fld, why);
    if (r < 0)
        return r;
    size_t nf = (size_t)r;
    struct stk_csv_row out;
    memset(&out, 0, sizeof(out));
    if (fld[0].n == 0 || !stk_scan_digit(fld[0].s[0])) {
        if (first) /* a header: "timestamp,symbol,price,volume" */
            return -ENOMSG;
        *why = "timestamp is not a number";
        return -EINVAL;
    }
    if (nf < 4) {
        *why = "too few fields (timestamp,symbol,price,volume[,bid,ask,bid_size,ask_size])";
        return -EINVAL;
    }
    r = parse_ts(fld[0].s, fld[0].n, unit, &out.q.src_ts_ns);
    if (r < 0) {
        *why = r == -ERANGE ? "timestamp out of range (after 2554-07-21)" : "bad timestamp";
        return -EINVAL;
    }
    if (symbol_field(&fld[1], out.symbol) < 0) {
        *why = "bad symbol (1..31 printable ASCII, no spaces)";
        return -EINVAL;
    }
    if (stk_decimal_parse(fld[2].s, fld[2].n, &out.q.price) < 0) {
        *why = "bad price (a decimal with at most 8 decimals)";
        return -EINVAL;
    }
    if (stk_scan_u64(fld[3].s, fld[3].n, UINT64_MAX, &out.q.volume) < 0) {
        *why = "bad volume (an unsigned integer)";
        return -EINVAL;
    }
    out.q.bid = out.q.price;
    out.q.ask = out.q.price;
    if (nf > 4 && fld[4].n && stk_decimal_parse(fld[4].s, fld[4].n, &out.q.bid) < 0) {
        *why = "bad bid";
        return -EINVAL;
    }
    if (nf > 5 && fld[5].n && stk_decimal_parse(fld[5].s, fld[5].n, &out.q.ask) < 0) {
        *why = "bad ask";
        return -EINVAL;
    }
    uint64_t v;
    if (nf > 6 && fld[6].n) {
        if (stk_scan_u64(fld[6].s, fld[6].n, UINT32_MAX, &v) < 0) {
            *why = "bad bid_size (an integer up to 4294967295)";
            return -EINVAL;
        }
        out.q.bid_size = (uint32_t)v;
    }
    if (nf > 7 && fld[7].n) {
        if (stk_scan_u64(fld[7].s, fld[7].n, UINT32_MAX, &v) < 0) {
            *why = "bad ask_size (an integer up to 4294967295)";
            return -EINVAL;
        }
        out.q.ask_size = (uint32_t)v;
    }
    *row = out;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void stk_csv_close(struct stk_csv *csv)
{
    if (!csv)
        return;
    for (size_t i = 0; i < csv->nfiles; i++) {
        if (csv->files[i].f)
            fclose(csv->files[i].f);
        free(csv->files[i].path);
    }
    free(csv->files);
    free(csv->buf);
    free(csv);
}

/* List the files to replay: path itself, or the visible regular files of the
 * folder, sorted by name. */
static int list_files(const char *path, char ***ret, size_t *ret_n)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    char **v = NULL;
    size_t n = 0, cap = 0;
    if (!S_ISDIR(st.st_mode)) {
        v = calloc(1, sizeof(*v));
        if (!v || !(v[0] = strdup(path))) {
            free(v);
            return -ENOMEM;
        }
        *ret = v;
        *ret_n = 1;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *full;
        if (asprintf(&full, "%s/%s", path, de->d_name) < 0) {
            r = -ENOMEM;
            break;
        }
        if (stat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                free(full);
                r = -ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n++] = full;
    }
    closedir(d);
    if (r == 0 && n == 0)
        r = -ENODATA;
    if (r < 0) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return r;
    }
    qsort(v, n, sizeof(*v), cmp_str);
    *ret = v;
    *ret_n = n;
    return 0;
}

int stk_csv_open(const char *path, enum stk_time_unit unit, stk_csv_bad_fn bad, void *ctx,
                 struct stk_csv **ret)
{
    char **names = NULL;
    size_t n = 0;
    int r = list_files(path, &names, &n);
    if (r < 0)
        return r;
    if (n == 0) {
        free(names);
        return -ENODATA;
    }
    struct stk_csv *csv = calloc(1, sizeof(*csv));
    if (!csv || !(csv->files = calloc(n, sizeof(*csv->files)))) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        free(csv);
        return -ENOMEM;
    }
    csv->nfiles = n;
    csv->unit = unit;
    csv->bad = bad;
    csv->ctx = ctx;
    for (size_t i = 0; i < n; i++)
        csv->files[i].path = names[i];
    free(names);
    r = stk_csv_rewind(csv);
    if (r < 0) {
        stk_csv_close(csv);
        return r;
    }
    *ret = csv;
    return 0;
}

int stk_csv_rewind(struct stk_csv *csv)
{
    for (size_t i = 0; i < csv->nfiles; i++) {
        struct csv_file *cf = &csv->files[i];
        if (cf->f)
            fclose(cf->f);
        cf->f = fopen(cf->path, "re");
        if (!cf->f)
            return -errno;
        cf->line = 0;
        cf->have = false;
        cf->eof = false;
    }
    return 0;
}

size_t stk_csv_nfiles(const struct stk_csv *csv)
{
    return csv->nfiles;
}

/* Read file cf's next good row into cf->row. Returns 1, 0 at EOF, -errno. */
static int file_advance(struct stk_csv *csv, struct csv_file *cf)
{
    while (!cf->eof) {
        errno = 0;
        ssize_t n = getline(&csv->buf, &csv->cap, cf->f);
        if (n < 0) {
            if (ferror(cf->f))
                return errno ? -errno : -EIO;
            cf->eof = true;
            break;
        }
        cf->line++;
        size_t len = (size_t)n;
        if (cf->line == 1 && len >= 3 && !memcmp(csv->buf, "\xef\xbb\xbf", 3)) {
            memmove(csv->buf, csv->buf + 3, len - 3); /* a UTF-8 byte-order mark */
            len -= 3;
        }
        if (len && csv->buf[len - 1] == '\n')
            len--;
        if (len && csv->buf[len - 1] == '\r')
            len--;
        /* blank lines and '#' comments are skipped silently */
        size_t k = 0;
        while (k < len && (csv->buf[k] == ' ' || csv->buf[k] == '\t'))
            k++;
        if (k == len || csv->buf[k] == '#')
            continue;
        const char *why = NULL;
        int r = stk_csv_parse_row(csv->buf, len, csv->unit, cf->line == 1, &cf->row, &why);
        if (r == -ENOMSG)
            continue;
        if (r < 0) {
            if (memchr(csv->buf, '\0', len))
                why = "NUL byte in row";
            if (csv->bad)
                csv->bad(csv->ctx, cf->path, cf->line, why);
            continue;
        }
        cf->have = true;
        return 1;
    }
    return 0;
}

int stk_csv_next(struct stk_csv *csv, struct stk_csv_row *row)
{
    struct csv_file *best = NULL;
    for (size_t i = 0; i < csv->nfiles; i++) {
        struct csv_file *cf = &csv->files[i];
        if (!cf->have) {
            int r = file_advance(csv, cf);
            if (r < 0)
                return r;
            if (r == 0)
                continue;
        }
        /* strict <: on equal timestamps the earlier file in name order wins */
        if (!best || cf->row.q.src_ts_ns < best->row.q.src_ts_ns)
            best = cf;
    }
    if (!best)
        return 0;
    *row = best->row;
    best->have = false;
    return 1;
}
