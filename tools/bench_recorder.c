/* SPDX-License-Identifier: MIT */
/* bench_recorder.c — seqtick-bench recorder: the recorder's sustained SQLite
 * throughput (sim at rate 0) next to a bare insert loop of the same rows,
 * schema and batch size in this process; gaps and CPU at fixed tick rates;
 * PostgreSQL COPY throughput next to `psql \copy` of the same rows. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "bench.h"
#include "benchutil.h"
#include "util-private.h"

#define NSYMS 8
static const char *const syms = "AAA,BBB,CCC,DDD,EEE,FFF,GGG,HHH";

struct ropts {
    double seconds;
    int batch_ms;
    char rates[256];
    const char *pg; /* conninfo, or NULL */
    char dir[64];
    char prod[4096], rec[4096];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void reap(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        nap_s(0.01);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int write_conf(const struct ropts *o, const char *path, const char *shm, long rate,
                      const char *store)
{
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fprintf(f,
            "[shm]\nname = %s\ncapacity = 16\nhistory = 65536\n\n"
            "[producer]\nfeed = sim\nsymbols = %s\nrate = %ld\nstats_interval_s = 0\n\n"
            "[recorder]\nstore = %s\nbatch_ms = %d\n\n[log]\nlevel = warn\n",
            shm, syms, rate, store, o->batch_ms);
    return fclose(f) ? -errno : 0;
}

/* Rows in ticks (and gaps into *gaps when not NULL), through a store's SQL. */
static long long sqlite_count(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    long long n = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

static long long pg_count(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    long long n = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return n;
}

struct run {
    double rows_per_s, cpu_pct, seconds;
    long long rows, gaps;
};

/* Producer (sim at rate) + recorder (store) for o->seconds after a warm-up;
 * rows stored per second and the recorder's CPU over the measured window. */
static int run_stack(const struct ropts *o, long rate, const char *store, const char *count_db,
                     bool pg, struct run *out, pid_t *keep_prod)
{
    char conf[128], shm[64], log[128];
    snprintf(shm, sizeof(shm), "/stk-benchrec-%ld-%ld", (long)getpid(), rate);
    snprintf(conf, sizeof(conf), "%s/run-%ld.conf", o->dir, rate);
    snprintf(log, sizeof(log), "%s/run.log", o->dir);
    if (write_conf(o, conf, shm, rate, store) < 0)
        return -1;
    const char *pargv[] = {o->prod, "-c", conf, NULL};
    const char *rargv[] = {o->rec, "-c", conf, NULL};
    pid_t prod = stk_bench_spawn(pargv, log, true);
    char shmpath[96];
    snprintf(shmpath, sizeof(shmpath), "/dev/shm%s", shm);
    for (int i = 0; i < 1000 && access(shmpath, F_OK) < 0; i++)
        nap_s(0.01);
    pid_t rec = stk_bench_spawn(rargv, log, true);
    const char *cnt = "SELECT count(*) FROM ticks";
    long long n0 = -1;
    for (int i = 0; i < 300 && n0 <= 0; i++) { /* until the first rows are in */
        nap_s(0.1);
        n0 = pg ? pg_count(count_db, cnt) : sqlite_count(count_db, cnt);
    }
    nap_s(0.5);
    n0 = pg ? pg_count(count_db, cnt) : sqlite_count(count_db, cnt);
    double c0 = stk_bench_cpu_s(rec), t0 = mono_s();
    nap_s(o->seconds);
    long long n1 = pg ? pg_count(count_db, cnt) : sqlite_count(count_db, cnt);
    double c1 = stk_bench_cpu_s(rec), t1 = mono_s();
    if (keep_prod) {
        /* The producer keeps running: the baseline is measured under the
         * same load (at rate 0 the sim takes a whole core). */
        reap(rec);
        *keep_prod = prod;
    } else {
        reap(prod);
        nap_s((double)o->batch_ms / 1000.0 * 3 + 0.3); /* the last batches */
        reap(rec);
    }
    unlink(shmpath);
    if (n0 < 0 || n1 < 0 || c0 < 0 || c1 < 0) {
        if (keep_prod) {
            reap(*keep_prod);
            *keep_prod = -1;
        }
        fprintf(stderr, "seqtick-bench: recorder: the run failed (see %s)\n", log);
        return -1;
    }
    out->seconds = t1 - t0;
    out->rows = n1 - n0;
    out->rows_per_s = (double)(n1 - n0) / (t1 - t0);
    out->cpu_pct = 100.0 * (c1 - c0) / (t1 - t0);
    const char *g = "SELECT count(*) FROM gaps";
    out->gaps = pg ? pg_count(count_db, g) : sqlite_count(count_db, g);
    return 0;
}

/* The bare loop: the recorder's own schema (copied from its database), its
 * rows, inserted with one prepared statement in transactions of `batch`
 * rows. Rows per second, or -1. */
static double bare_sqlite(const char *recdb, const char *basedb, long long nrows, long batch)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_stmt *sel = NULL, *ins = NULL, *schema = NULL;
    double rate = -1;
    if (sqlite3_open_v2(recdb, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_open(basedb, &dst) != SQLITE_OK)
        goto out;
    sqlite3_exec(dst, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(src, "SELECT sql FROM sqlite_master WHERE sql NOT NULL", -1, &schema,
                           NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(schema) == SQLITE_ROW)
        sqlite3_exec(dst, (const char *)sqlite3_column_text(schema, 0), NULL, NULL, NULL);
    if (sqlite3_prepare_v2(src,
                           "SELECT symbol_id, generation, tick, src_ts_ns, pub_ts_ns, price, bid,"
                           " ask, volume, bid_size, ask_size FROM ticks LIMIT ?",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(dst,
                           "INSERT INTO ticks (symbol_id, generation, tick, src_ts_ns, pub_ts_ns,"
                           " price, bid, ask, volume, bid_size, ask_size)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(sel, 1, nrows);
    /* The rows in memory first: the loop times inserts only. */
    sqlite3_int64 *rows = malloc((size_t)nrows * 11 * sizeof(*rows));
    long long n = 0;
    while (rows && n < nrows && sqlite3_step(sel) == SQLITE_ROW) {
        for (int c = 0; c < 11; c++)
            rows[n * 11 + c] = sqlite3_column_int64(sel, c);
        n++;
    }
    if (!rows || n == 0) {
        free(rows);
        goto out;
    }
    double t0 = mono_s();
    for (long long i = 0; i < n; i += batch) {
        sqlite3_exec(dst, "BEGIN", NULL, NULL, NULL);
        for (long long j = i; j < n && j < i + batch; j++) {
            for (int c = 0; c < 11; c++)
                sqlite3_bind_int64(ins, c + 1, rows[j * 11 + c]);
            if (sqlite3_step(ins) != SQLITE_DONE)
                fprintf(stderr, "seqtick-bench: recorder: bare insert: %s\n", sqlite3_errmsg(dst));
            sqlite3_reset(ins);
        }
        sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL);
    }
    rate = (double)n / (mono_s() - t0);
    free(rows);
out:
    sqlite3_finalize(schema);
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sqlite3_close(src);
    sqlite3_close(dst);
    return rate;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int pg_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    int r = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, quiet, NULL);
        PGresult *res = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(res);
        r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
        if (r < 0)
            fprintf(stderr, "seqtick-bench: recorder: %s: %s", sql, PQerrorMessage(c));
        PQclear(res);
    }
    PQfinish(c);
    return r;
}

/* psql \copy of n stored rows into a twin table; rows per second, or -1. */
static double psql_copy(const struct ropts *o, long long n)
{
    char file[128], sql[512];
    snprintf(file, sizeof(file), "%s/rows.copy", o->dir);
    snprintf(
        sql, sizeof(sql),
        "DROP TABLE IF EXISTS bench_ticks; CREATE TABLE bench_ticks (LIKE ticks INCLUDING ALL)");
    if (pg_exec(o->pg, sql) < 0)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "\\copy (SELECT * FROM ticks LIMIT %lld) TO '%s'", n, file);
    const char *out_argv[] = {"psql", "-X", "-q", "-d", o->pg, "-c", cmd, NULL};
    char log[128];
    snprintf(log, sizeof(log), "%s/psql.log", o->dir);
    pid_t p = stk_bench_spawn(out_argv, log, true);
    int st = -1;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return -1;
    snprintf(cmd, sizeof(cmd), "\\copy bench_ticks FROM '%s'", file);
    const char *in_argv[] = {"psql", "-X", "-q", "-d", o->pg, "-c", cmd, NULL};
    double t0 = mono_s();
    p = stk_bench_spawn(in_argv, log, true);
    waitpid(p, &st, 0);
    double dt = mono_s() - t0;
    unlink(file);
    (void)pg_exec(o->pg, "DROP TABLE IF EXISTS bench_ticks");
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return -1;
    return (double)n / dt;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: seqtick-bench recorder [--seconds S] [--batch-ms MS] [--rates R1,R2]\n"
               "       [--pg CONNINFO | --no-pg]\n"
               "PostgreSQL: CONNINFO, else $PGTEST_CONNINFO, else a private server started\n"
               "through tests/lib/pgtest.py when the source tree is found.\n");
}

/* Re-run this bench under tests/lib/pgtest.py (a private server), if found. */
static void exec_under_pgtest(int argc, char **argv)
{
    char exe[4096], py[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = 0;
    const char *src = getenv("SEQTICK_SOURCE_DIR");
#ifdef STK_SOURCE_DIR
    if (!src)
        src = STK_SOURCE_DIR;
#endif
    if (!src)
        return;
    snprintf(py, sizeof(py), "%s/tests/lib/pgtest.py", src);
    if (access(py, R_OK) < 0 || access("/usr/lib/postgresql", F_OK) < 0)
        return;
    char *args[64];
    int k = 0;
    args[k++] = (char *)"python3";
    args[k++] = py;
    args[k++] = (char *)"run";
    args[k++] = (char *)"--";
    args[k++] = exe;
    for (int i = 0; i < argc && k < 62; i++)
        args[k++] = argv[i];
    args[k] = NULL;
    setenv("SEQTICK_BENCH_PG_TRIED", "1", 1);
    fflush(NULL);
    execvp("python3", args);
}

int stk_bench_recorder(int argc, char **argv)
{
    struct ropts o = {.seconds = 5, .batch_ms = 100};
    snprintf(o.rates, sizeof(o.rates), "100000,200000");
    bool no_pg = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!a)
            break;
        if (!strcmp(a, "--seconds") && v) {
            o.seconds = atof(v);
            i++;
        } else if (!strcmp(a, "--batch-ms") && v) {
            o.batch_ms = atoi(v);
            i++;
        } else if (!strcmp(a, "--rates") && v) {
            snprintf(o.rates, sizeof(o.rates), "%s", v);
            i++;
        } else if (!strcmp(a, "--pg") && v) {
            o.pg = v;
            i++;
        } else if (!strcmp(a, "--no-pg")) {
            no_pg = true;
        } else if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (o.seconds <= 0 || o.batch_ms <= 0) {
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    if (!no_pg && !o.pg)
        o.pg = getenv("PGTEST_CONNINFO");
    if (!no_pg && !o.pg && !getenv("SEQTICK_BENCH_PG_TRIED"))
        exec_under_pgtest(argc, argv);
    if (stk_find_program("seqtick-producer", "producer", o.prod, sizeof(o.prod)) < 0 ||
        stk_find_program("seqtick-recorder", "recorder", o.rec, sizeof(o.rec)) < 0) {
        fprintf(stderr, "seqtick-bench: recorder: fatal: seqtick-producer or seqtick-recorder"
                        " not found\n");
        return STK_EXIT_SYSTEM;
    }
    snprintf(o.dir, sizeof(o.dir), "/tmp/stk-benchrec-XXXXXX");
    if (!mkdtemp(o.dir)) {
        perror("seqtick-bench: recorder: mkdtemp");
        return STK_EXIT_SYSTEM;
    }
    int rc = 0;
    char store[256], db[128], base[128];

    /* 1. sustained SQLite: sim at rate 0, history 65536. */
    snprintf(db, sizeof(db), "%s/rate0.db", o.dir);
    snprintf(store, sizeof(store), "sqlite:%s", db);
    struct run r0;
    pid_t load = -1;
    if (run_stack(&o, 0, store, db, false, &r0, &load) < 0)
        rc = 1;
    else {
        long batch = (long)(r0.rows_per_s * o.batch_ms / 1000.0);
        if (batch < 1)
            batch = 1;
        if (batch > 65536) /* the recorder commits early at 65536 ticks (BATCH_MAX) */
            batch = 65536;
        snprintf(base, sizeof(base), "%s/bare.db", o.dir);
        /* At most 1M rows in memory for the loop. */
        double bare = bare_sqlite(db, base, r0.rows < 1000000 ? r0.rows : 1000000, batch);
        reap(load);
        printf("sqlite  recorder, sim at rate 0: %.0f rows/s (recorder CPU %.0f%%)\n",
               r0.rows_per_s, r0.cpu_pct);
        printf("sqlite  baseline: bare insert loop, same schema, %ld rows a transaction:"
               " %.0f rows/s\n",
               batch, bare);
        printf("sqlite  recorder vs baseline: %.2fx (target >= 0.8x)\n",
               bare > 0 ? r0.rows_per_s / bare : 0.0);
    }

    /* 2. fixed rates: zero gaps? */
    for (char *save = NULL, *t = strtok_r(o.rates, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long rate = atol(t);
        snprintf(db, sizeof(db), "%s/rate%ld.db", o.dir, rate);
        snprintf(store, sizeof(store), "sqlite:%s", db);
        struct run r;
        if (run_stack(&o, rate, store, db, false, &r, NULL) < 0) {
            rc = 1;
            continue;
        }
        printf("sqlite  sim at %ld ticks/s: stored %.0f rows/s, gaps %lld, recorder CPU %.0f%%\n",
               rate, r.rows_per_s, r.gaps, r.cpu_pct);
    }

    /* 3. PostgreSQL COPY vs psql \copy of the same rows. */
    if (!o.pg) {
        printf("postgresql  skipped (no server: --pg CONNINFO, or postgresql installed with the"
               " source tree at hand)\n");
    } else {
        (void)pg_exec(o.pg, "DROP TABLE IF EXISTS ticks, bars, gaps, symbols, meta");
        snprintf(store, sizeof(store), "postgresql:%s", o.pg);
        struct run rp;
        pid_t pload = -1;
        if (run_stack(&o, 0, store, o.pg, true, &rp, &pload) < 0)
            rc = 1;
        else {
            double base_rate = psql_copy(&o, rp.rows);
            reap(pload);
            printf("postgresql  recorder COPY, sim at rate 0: %.0f rows/s (recorder CPU %.0f%%)\n",
                   rp.rows_per_s, rp.cpu_pct);
            printf("postgresql  baseline: psql \\copy of the same %lld rows: %.0f rows/s\n",
                   rp.rows, base_rate);
            printf("postgresql  recorder vs baseline: %.2fx (target >= 0.8x)\n",
                   base_rate > 0 ? rp.rows_per_s / base_rate : 0.0);
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", o.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "seqtick-bench: recorder: unable to remove %s\n", o.dir);
    return rc;
}
