/* SPDX-License-Identifier: MIT */
/* bench_latency.c — seqtick-bench latency: how long after the producer writes
 * a quote a reader in another process sees it, spinning on the record and
 * sleeping on the header futex, each next to a baseline measured in the same
 * run (a bare cache-line ping and a bare shared futex between the same two
 * processes on the same two CPUs). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "segment-private.h"
#include "util-private.h"

#define SPIN_TARGET_NS 150
#define FUTEX_TARGET_NS 20000

enum phase { SPIN_BASE, SPIN_STK, FUTEX_BASE, FUTEX_STK, NPHASES };

static const char *const phase_name[NPHASES] = {"baseline", "seqtick", "baseline", "seqtick"};

/* Shared between writer (parent) and reader (child): an anonymous MAP_SHARED
 * mapping made before fork. Each word the two sides hand over has its own
 * cache line so the baselines move exactly one line per sample. */
struct shared {
    alignas(64) _Atomic uint64_t ping;  /* baseline: the writer's t0 */
    alignas(64) _Atomic uint32_t fword; /* baseline futex word */
    alignas(64) _Atomic uint64_t ack;   /* reader -> writer: last sample id done */
    _Atomic int ready;                  /* reader attached (1) or failed (-1) */
    _Atomic int abort;
    uint64_t lat[]; /* per phase: warmup + samples latencies, ns */
};

struct plan {
    long n[NPHASES];       /* measured samples per phase */
    long warm[NPHASES];    /* discarded first samples */
    long off[NPHASES + 1]; /* offset of each phase in lat[] / in sample ids */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
}

/* The reader process: observe each sample, record the latency, ack it. */
static int reader(struct shared *sh, const struct plan *pl, const char *shm, int cpu)
{
    if (cpu >= 0)
        pin(cpu);
    struct stk_seg *seg;
    if (stk_seg_open(shm, &seg) < 0) {
        atomic_store(&sh->ready, -1);
        return 1;
    }
    const struct stk_record *rec = stk_seg_record(seg, 0);
    struct stk_quote q;
    uint64_t last_ping = atomic_load(&sh->ping), last_seq = atomic_load(&rec->seq);
    uint32_t last_word = atomic_load(&sh->fword);
    uint64_t seen = stk_seg_epoch(seg);
    atomic_store_explicit(&sh->ready, 1, memory_order_release);
    uint64_t id = 0;
    for (int p = 0; p < NPHASES; p++) {
        for (long i = 0; i < pl->warm[p] + pl->n[p]; i++) {
            uint64_t t0 = 0, t1 = 0;
            switch (p) {
            case SPIN_BASE:
                while ((t0 = atomic_load_explicit(&sh->ping, memory_order_acquire)) == last_ping)
                    stk_cpu_relax();
                t1 = now_ns();
                last_ping = t0;
                break;
            case SPIN_STK:
                /* Poll seq alone (one load) and copy the record only once it
                 * moved: the recommended spin (docs/clients.md), which keeps
                 * the reader off the line while the writer fills it. */
                for (;;) {
                    uint64_t s = atomic_load_explicit(&rec->seq, memory_order_relaxed);
                    if (s != last_seq && !(s & 1) && stk_record_load(rec, &q) == 0 &&
                        q.seq != last_seq)
                        break;
                    stk_cpu_relax();
                }
                t1 = now_ns();
                last_seq = q.seq;
                t0 = q.src_ts_ns;
                break;
            case FUTEX_BASE: {
                struct timespec ts = {2, 0};
                uint32_t w;
                while ((w = atomic_load_explicit(&sh->fword, memory_order_acquire)) == last_word) {
                    if (futex(&sh->fword, FUTEX_WAIT, w, &ts) < 0 && errno == ETIMEDOUT)
                        goto dead;
                }
                t1 = now_ns();
                last_word = w;
                t0 = atomic_load_explicit(&sh->ping, memory_order_acquire);
                break;
            }
            case FUTEX_STK: {
                int r;
                while ((r = stk_seg_wait(seg, seen, 2000)) == -EINTR)
                    ;
                if (r < 0)
                    goto dead;
                if (stk_record_load(rec, &q) < 0)
                    goto dead;
                t1 = now_ns();
                t0 = q.src_ts_ns;
                break;
            }
            }
            sh->lat[pl->off[p] + i] = t1 > t0 ? t1 - t0 : 0;
            /* Epochs of the spin phase's batches must not count as news in
             * the futex phase: note the epoch before the writer may go on. */
            seen = stk_seg_epoch(seg);
            atomic_store_explicit(&sh->ack, ++id, memory_order_release);
        }
    }
    stk_seg_close(seg);
    return 0;
dead:
    atomic_store(&sh->abort, 1);
    stk_seg_close(seg);
    return 1;
}

/* Writer side: wait for the reader to ack sample id-1. False if it died. */
static bool wait_ack(struct shared *sh, uint64_t id)
{
    uint64_t start = 0;
    for (unsigned spins = 0; atomic_load_explicit(&sh->ack, memory_order_acquire) != id; spins++) {
        stk_cpu_relax();
        if ((spins & 0xffff) == 0) {
            if (atomic_load(&sh->abort))
                return false;
            uint64_t t = now_ns();
            if (!start)
                start = t;
            else if (t - start > 3000000000ull)
                return false;
            if ((spins & 0xfffff) == 0)
                sched_yield(); /* on one CPU the reader needs it */
        }
    }
    return true;
}

static void spin_for(uint64_t ns)
{
    uint64_t end = now_ns() + ns;
    while (now_ns() < end)
        stk_cpu_relax();
}

static int writer(struct shared *sh, const struct plan *pl, struct stk_seg *seg, bool one_cpu,
                  long gap_us)
{
    struct stk_quote q = {
        .price = 100 * STK_PRICE_SCALE, .bid = 1, .ask = 2, .bid_size = 1, .ask_size = 1};
    uint64_t id = 0, rnd = 88172645463325252ull;
    for (int p = 0; p < NPHASES; p++) {
        for (long i = 0; i < pl->warm[p] + pl->n[p]; i++) {
            if (!wait_ack(sh, id))
                return -1;
            rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
            if (p == SPIN_BASE || p == SPIN_STK) {
                /* let the reader get back into its loop; a random gap so the
                 * write does not phase-lock with the reader's polling */
                if (one_cpu)
                    sched_yield();
                else
                    spin_for(300 + rnd % 700);
            } else {
                /* long enough for the reader to be asleep in FUTEX_WAIT */
                struct timespec ts = {0, gap_us * 1000 + (long)(rnd % 20000)};
                nanosleep(&ts, NULL);
            }
            uint64_t t0 = now_ns();
            switch (p) {
            case SPIN_BASE:
                atomic_store_explicit(&sh->ping, t0, memory_order_release);
                break;
            case FUTEX_BASE:
                atomic_store_explicit(&sh->ping, t0, memory_order_relaxed);
                atomic_fetch_add_explicit(&sh->fword, 1, memory_order_release);
                futex(&sh->fword, FUTEX_WAKE, INT_MAX, NULL);
                break;
            default: /* the producer's path: one batch with one tick */
                q.src_ts_ns = t0;
                q.pub_ts_ns = stk_now_ns();
                q.volume++;
                stk_batch_begin(seg);
                stk_tick_publish(seg, 0, &q);
                stk_batch_end(seg, q.pub_ts_ns);
                break;
            }
            id++;
        }
    }
    return wait_ack(sh, id) ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    uint64_t p50, p90, p99, p999, max, min;
    double mean;
};

static struct stats stats_of(uint64_t *v, long n)
{
    struct stats s = {0};
    if (n <= 0)
        return s;
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += (double)v[i];
    s.mean = sum / (double)n;
    s.min = v[0];
    s.p50 = v[n / 2];
    s.p90 = v[(long)((double)n * 0.90)];
    s.p99 = v[(long)((double)n * 0.99)];
    s.p999 = v[(long)((double)n * 0.999)];
    s.max = v[n - 1];
    return s;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: seqtick-bench latency [--samples N] [--futex-samples N] [--no-pin]\n"
            "                             [--json] [--check]\n"
            "  writer -> reader latency between two processes over a real segment:\n"
            "  spinning reader (target p50 <= %d ns) and futex wait (target p50 <= %d ns),\n"
            "  each next to a baseline (bare cache-line ping / bare futex) from the same run.\n"
            "  --check: exit 1 when a target is missed.\n",
            SPIN_TARGET_NS, FUTEX_TARGET_NS);
}

int stk_bench_latency(int argc, char **argv)
{
    static const struct option opts[] = {
        {"samples", required_argument, NULL, 'n'}, {"futex-samples", required_argument, NULL, 'f'},
        {"no-pin", no_argument, NULL, 'P'},        {"json", no_argument, NULL, 'j'},
        {"check", no_argument, NULL, 'k'},         {"futex-gap-us", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    long spin_n = 200000, futex_n = 5000, gap_us = 100;
    bool do_pin = true, json = false, check = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            spin_n = atol(optarg);
            break;
        case 'f':
            futex_n = atol(optarg);
            break;
        case 'P':
            do_pin = false;
            break;
        case 'j':
            json = true;
            break;
        case 'g':
            gap_us = atol(optarg);
            break;
        case 'k':
            check = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return STK_EXIT_USAGE;
        }
    }
    if (spin_n < 10 || futex_n < 10 || gap_us < 1 || gap_us > 999000 || optind < argc) {
        usage(stderr);
        return STK_EXIT_USAGE;
    }
    struct plan pl;
    pl.n[SPIN_BASE] = pl.n[SPIN_STK] = spin_n;
    pl.n[FUTEX_BASE] = pl.n[FUTEX_STK] = futex_n;
    pl.off[0] = 0;
    for (int p = 0; p < NPHASES; p++) {
        pl.warm[p] = pl.n[p] / 10 + 10;
        pl.off[p + 1] = pl.off[p] + pl.warm[p] + pl.n[p];
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    bool one_cpu = ncpu < 2 || !do_pin;
    int wcpu = -1, rcpu = -1;
    if (do_pin && ncpu >= 2) {
        wcpu = 0;
        rcpu = 1;
    }

    char shm[64];
    snprintf(shm, sizeof(shm), "/stk-bench-lat-%ld", (long)getpid());
    struct stk_seg_params sp = {.name = shm, .capacity = 1, .history = 64, .mode = 0600};
    struct stk_seg *seg;
    int r = stk_seg_attach_writer(&sp, &seg, NULL);
    if (r < 0) {
        fprintf(stderr, "seqtick-bench: latency: fatal: unable to create segment '%s': %s\n", shm,
                stk_strerror(r));
        return STK_EXIT_SYSTEM;
    }
    r = stk_sym_add(seg, "BENCH");
    size_t shsize = sizeof(struct shared) + (size_t)pl.off[NPHASES] * sizeof(uint64_t);
    struct shared *sh =
        mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r < 0 || sh == MAP_FAILED) {
        fprintf(stderr, "seqtick-bench: latency: fatal: setup: %s\n",
                r < 0 ? stk_strerror(r) : strerror(errno));
        stk_seg_close(seg);
        (void)stk_seg_unlink(shm);
        return STK_EXIT_SYSTEM;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "seqtick-bench: latency: fatal: fork: %s\n", strerror(errno));
        stk_seg_close(seg);
        (void)stk_seg_unlink(shm);
        return STK_EXIT_SYSTEM;
    }
    if (pid == 0)
        _exit(reader(sh, &pl, shm, rcpu));
    if (wcpu >= 0)
        pin(wcpu);
    while (atomic_load_explicit(&sh->ready, memory_order_acquire) == 0)
        sched_yield();
    int wr = atomic_load(&sh->ready) == 1 ? writer(sh, &pl, seg, one_cpu, gap_us) : -1;
    if (wr < 0)
        kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    stk_seg_close(seg);
    (void)stk_seg_unlink(shm);
    if (wr < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "seqtick-bench: latency: fatal: the reader process failed\n");
        munmap(sh, shsize);
        return STK_EXIT_SYSTEM;
    }

    struct stats s[NPHASES];
    for (int p = 0; p < NPHASES; p++)
        s[p] = stats_of(sh->lat + pl.off[p] + pl.warm[p], pl.n[p]);
    munmap(sh, shsize);
    bool spin_ok = s[SPIN_STK].p50 <= SPIN_TARGET_NS;
    bool futex_ok = s[FUTEX_STK].p50 <= FUTEX_TARGET_NS;
    if (json) {
        printf("{\"writer_cpu\":%d,\"reader_cpu\":%d", wcpu, rcpu);
        for (int p = 0; p < NPHASES; p++) {
            const struct stats *x = &s[p];
            printf(",\"%s_%s\":{\"samples\":%ld,\"min\":%llu,\"p50\":%llu,\"p90\":%llu,"
                   "\"p99\":%llu,\"p999\":%llu,\"max\":%llu,\"mean\":%.1f}",
                   p < FUTEX_BASE ? "spin" : "futex", phase_name[p], pl.n[p],
                   (unsigned long long)x->min, (unsigned long long)x->p50,
                   (unsigned long long)x->p90, (unsigned long long)x->p99,
                   (unsigned long long)x->p999, (unsigned long long)x->max, x->mean);
        }
        printf(",\"spin_target_ns\":%d,\"spin_ok\":%s,\"futex_target_ns\":%d,\"futex_ok\":%s}\n",
               SPIN_TARGET_NS, spin_ok ? "true" : "false", FUTEX_TARGET_NS,
               futex_ok ? "true" : "false");
    } else {
        printf("seqtick-bench latency: write -> observed in another process, ns "
               "(writer cpu %d, reader cpu %d; -1 = not pinned)\n",
               wcpu, rcpu);
        printf("%-6s %-9s %8s %7s %7s %7s %7s %8s %9s\n", "reader", "what", "samples", "min", "p50",
               "p90", "p99", "p99.9", "max");
        for (int p = 0; p < NPHASES; p++) {
            const struct stats *x = &s[p];
            printf("%-6s %-9s %8ld %7llu %7llu %7llu %7llu %8llu %9llu",
                   p < FUTEX_BASE ? "spin" : "futex", phase_name[p], pl.n[p],
                   (unsigned long long)x->min, (unsigned long long)x->p50,
                   (unsigned long long)x->p90, (unsigned long long)x->p99,
                   (unsigned long long)x->p999, (unsigned long long)x->max);
            if (p == SPIN_STK || p == FUTEX_STK) {
                const struct stats *b = &s[p - 1];
                int target = p == SPIN_STK ? SPIN_TARGET_NS : FUTEX_TARGET_NS;
                printf("   p50 x%.2f of baseline; target <= %d: %s",
                       b->p50 ? (double)x->p50 / (double)b->p50 : 0.0, target,
                       (p == SPIN_STK ? spin_ok : futex_ok) ? "ok" : "MISSED");
            }
            putchar('\n');
        }
        printf("baseline spin: one cache line handed over (store -> spinning load); "
               "baseline futex: bare FUTEX_WAKE -> FUTEX_WAIT return.\n"
               "Both sides read CLOCK_MONOTONIC (vDSO), included in every figure.\n");
    }
    return check && !(spin_ok && futex_ok) ? 1 : 0;
}
