/* SPDX-License-Identifier: MIT */
/* bench_shm.c — seqtick-bench shm: ns per latest-quote read and write through
 * libseqtick, next to a bare seqlock loop measured in the same run, alone and
 * with the other side running on another core. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "segment-private.h"

/* The baseline: the same C11 seqlock on one bare cache line of the same
 * shape, written out by hand: no library, no index, no segment. */
struct bare {
    _Alignas(64) _Atomic uint64_t seq;
    _Atomic int64_t a, b, c;
    _Atomic uint64_t d, e, f;
    _Atomic uint32_t g, h;
};

struct bare_copy {
    int64_t a, b, c;
    uint64_t d, e, f;
    uint32_t g, h;
};

/* Copies a quote in from memory, as a writer must. */
static inline void bare_write(struct bare *x, const struct bare_copy *v)
{
    uint64_t s = atomic_load_explicit(&x->seq, memory_order_relaxed);
    atomic_store_explicit(&x->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&x->a, v->a, memory_order_relaxed);
    atomic_store_explicit(&x->b, v->b, memory_order_relaxed);
    atomic_store_explicit(&x->c, v->c, memory_order_relaxed);
    atomic_store_explicit(&x->d, v->d, memory_order_relaxed);
    atomic_store_explicit(&x->e, v->e, memory_order_relaxed);
    atomic_store_explicit(&x->f, v->f, memory_order_relaxed);
    atomic_store_explicit(&x->g, v->g, memory_order_relaxed);
    atomic_store_explicit(&x->h, v->h, memory_order_relaxed);
    atomic_store_explicit(&x->seq, s + 2, memory_order_release);
}

/* Copies the whole line out, as a reader must, and returns one field. */
static inline int64_t bare_read(const struct bare *x)
{
    struct bare_copy c;
    for (;;) {
        uint64_t s0 = atomic_load_explicit(&x->seq, memory_order_acquire);
        if (s0 & 1) {
            stk_cpu_relax();
            continue;
        }
        c.a = atomic_load_explicit(&x->a, memory_order_relaxed);
        c.b = atomic_load_explicit(&x->b, memory_order_relaxed);
        c.c = atomic_load_explicit(&x->c, memory_order_relaxed);
        c.d = atomic_load_explicit(&x->d, memory_order_relaxed);
        c.e = atomic_load_explicit(&x->e, memory_order_relaxed);
        c.f = atomic_load_explicit(&x->f, memory_order_relaxed);
        c.g = atomic_load_explicit(&x->g, memory_order_relaxed);
        c.h = atomic_load_explicit(&x->h, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&x->seq, memory_order_relaxed) == s0)
            return c.a;
    }
}

static volatile int64_t sink;

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

enum op {
    BARE_READ,
    BARE_WRITE,
    LIB_READ_INLINE,
    LIB_READ,
    LIB_WRITE_INLINE,
    LIB_WRITE,
    LIB_TICK,
    LIB_BATCH
};

struct ctx {
    struct bare *bare;
    struct stk_seg *w; /* writer handle (flock) */
    struct stk_seg *r; /* read-only handle */
};

/* ns per operation: best of `reps` runs of n operations (the minimum filters
 * out the other tenants of a shared machine). */
static double run(struct ctx *c, enum op op, long n, int reps)
{
    double best = 1e30;
    struct stk_quote q = {.price = 1, .bid = 1, .ask = 2, .pub_ts_ns = 1};
    const struct stk_record *rec = stk_seg_record(c->r, 0);
    for (int rep = 0; rep < reps; rep++) {
        int64_t acc = 0;
        uint64_t t0 = stk_mono_ns();
        switch (op) {
        case BARE_READ:
            for (long i = 0; i < n; i++)
                acc += bare_read(c->bare);
            break;
        case BARE_WRITE: {
            struct bare_copy v = {.a = 1, .b = 1, .c = 2, .f = 1};
            for (long i = 0; i < n; i++) {
                v.a = i;
                bare_write(c->bare, &v);
            }
            break;
        }
        case LIB_READ_INLINE:
            for (long i = 0; i < n; i++) {
                struct stk_quote out;
                if (stk_record_load(rec, &out) == 0)
                    acc += out.price;
            }
            break;
        case LIB_READ:
            for (long i = 0; i < n; i++) {
                struct stk_quote out;
                if (stk_quote_read(c->r, 0, &out) == 0)
                    acc += out.price;
            }
            break;
        case LIB_WRITE_INLINE: {
            /* a block-local quote, as the bare loop has: no store-to-load
             * round trip through a struct whose address escapes */
            struct stk_quote lq = q;
            struct stk_record *wrec = stk_seg_record_rw(c->w, 0);
            for (long i = 0; i < n; i++) {
                lq.price = i;
                stk_record_store(wrec, &lq);
            }
            break;
        }
        case LIB_WRITE:
            for (long i = 0; i < n; i++) {
                q.price = i;
                stk_quote_write(c->w, 0, &q);
            }
            break;
        case LIB_TICK:
            for (long i = 0; i < n; i++) {
                q.price = i;
                stk_tick_publish(c->w, 0, &q);
            }
            break;
        case LIB_BATCH:
            for (long i = 0; i < n; i++) {
                stk_batch_begin(c->w);
                stk_batch_end(c->w, (uint64_t)i);
            }
            break;
        }
        double ns = (double)(stk_mono_ns() - t0) / (double)n;
        sink = acc;
        if (ns < best)
            best = ns;
    }
    return best;
}

/* Run `op` on this core while a child on the other core hammers the same line
 * (writes when we read, reads when we write). */
static double contended(struct ctx *c, enum op op, enum op other, long n, int reps)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        pin(1);
        for (;;)
            run(c, other, 1000, 1);
    }
    usleep(20000);
    double ns = run(c, op, n, reps);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return ns;
}

int stk_bench_shm(int argc, char **argv)
{
    long n = 2000000;
    int reps = 7;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: seqtick-bench shm [--iterations N] [--reps R]\n");
            return 0;
        } else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
            n = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "seqtick-bench shm: fatal: unknown argument '%s'\n", argv[i]);
            return 100;
        }
    }
    if (n < 1000 || reps < 1) {
        fprintf(stderr, "seqtick-bench shm: fatal: --iterations >= 1000, --reps >= 1\n");
        return 100;
    }

    char name[64];
    snprintf(name, sizeof(name), "/stk-bench-shm-%ld", (long)getpid());
    struct stk_seg_params p = {.name = name, .capacity = 64, .history = 256, .mode = 0600};
    struct ctx c = {0};
    int r = stk_seg_attach_writer(&p, &c.w, NULL);
    if (r < 0 || (r = stk_seg_open(name, &c.r)) < 0) {
        fprintf(stderr, "seqtick-bench shm: fatal: segment %s: %s\n", name, stk_strerror(r));
        return 111;
    }
    stk_sym_add(c.w, "BENCH");
    struct stk_quote q0 = {.price = 1, .pub_ts_ns = 1};
    stk_quote_write(c.w, 0, &q0);
    c.bare =
        mmap(NULL, sizeof(struct bare), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c.bare == MAP_FAILED) {
        fprintf(stderr, "seqtick-bench shm: fatal: mmap: %s\n", strerror(errno));
        return 111;
    }
    pin(0);

    /* warm up caches and frequency */
    run(&c, BARE_READ, n, 1);
    run(&c, LIB_READ, n, 1);

    double br = run(&c, BARE_READ, n, reps);
    double lri = run(&c, LIB_READ_INLINE, n, reps);
    double lr = run(&c, LIB_READ, n, reps);
    double bw = run(&c, BARE_WRITE, n, reps);
    double lwi = run(&c, LIB_WRITE_INLINE, n, reps);
    double lw = run(&c, LIB_WRITE, n, reps);
    double lt = run(&c, LIB_TICK, n, reps);
    double lb = run(&c, LIB_BATCH, n / 10, reps);
    long cn = n / 4;
    double cbr = contended(&c, BARE_READ, BARE_WRITE, cn, reps);
    double clr = contended(&c, LIB_READ, LIB_WRITE, cn, reps);
    double cbw = contended(&c, BARE_WRITE, BARE_READ, cn, reps);
    double clw = contended(&c, LIB_WRITE, LIB_READ, cn, reps);

    printf("seqtick-bench shm: %ld ops x best of %d, %ld cores online\n", n, reps,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-44s %9s %9s %7s\n", "operation", "ns/op", "bare ns", "ratio");
    printf("%-44s %9.2f %9.2f %7.2f\n", "read  stk_record_load (inline, header)", lri, br,
           lri / br);
    printf("%-44s %9.2f %9.2f %7.2f\n", "read  stk_quote_read (call, bounds check)", lr, br,
           lr / br);
    printf("%-44s %9.2f %9.2f %7.2f\n", "write stk_record_store (inline, private)", lwi, bw,
           lwi / bw);
    printf("%-44s %9.2f %9.2f %7.2f\n", "write stk_quote_write (call)", lw, bw, lw / bw);
    printf("%-44s %9.2f %9.2f %7.2f\n", "write stk_tick_publish (record + ring)", lt, bw, lt / bw);
    printf("%-44s %9.2f %9s %7s\n", "batch begin+end (epoch, futex wake)", lb, "-", "-");
    printf("%-44s %9.2f %9.2f %7.2f\n", "read  contended (writer on other core)", clr, cbr,
           clr / cbr);
    printf("%-44s %9.2f %9.2f %7.2f\n", "write contended (reader on other core)", clw, cbw,
           clw / cbw);

    munmap(c.bare, sizeof(struct bare));
    stk_seg_close(c.r);
    stk_seg_close(c.w);
    stk_seg_unlink(name);
    return 0;
}
