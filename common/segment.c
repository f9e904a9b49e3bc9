/* SPDX-License-Identifier: MIT */
/* segment.c — the shared-memory segment of layout v1: create / re-open /
 * replace, validation before mapping, symbol table with a reader-side hash,
 * seqlocked latest records, history rings, epoch and futex wake-ups. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "segment-private.h"
#include "sigbus-private.h"

#define SHM_DIR "/dev/shm"
#define SHM_NAME_MAX 200

/* The layout's size and offset checks are in seqtick.h, for every includer. */

struct stk_seg {
    char *name;
    int fd;
    bool writable;
    void *base;
    size_t map_bytes;
    dev_t dev;
    ino_t ino;
    struct stk_header *hdr;
    struct stk_symbol *symbols;
    struct stk_record *records;
    struct stk_ring_head *heads;
    struct stk_record *slots;
    uint32_t capacity;
    uint32_t history;
    /* name → index + 1, open addressing; `hashed` entries inserted so far */
    uint32_t *hash;
    uint32_t hash_mask;
    uint32_t hashed;
    /* validated copies of the names (capacity × 32; "" = invalid entry),
     * the first `named` taken; the hash and stk_seg_symbol() use these */
    char (*names)[32];
    uint32_t named;
    uint64_t generation; /* at open: it never changes under a mapping */
    _Atomic int lost;    /* SIGBUS guard: the file shrank, mapping zeroed */
    bool guarded;        /* registered with the SIGBUS guard */
};

uint64_t stk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t stk_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool is_pow2(uint32_t x)
{
    return x && !(x & (x - 1));
}

uint64_t stk_seg_size(uint32_t capacity, uint32_t history)
{
    if (capacity == 0 || capacity > STK_CAPACITY_MAX || !is_pow2(history) ||
        history > STK_HISTORY_MAX)
        return 0;
    uint64_t bytes = STK_REGIONS_BYTES(capacity, history);
    return (bytes + 4095u) & ~(uint64_t)4095u;
}

int stk_shm_name_check(const char *name)
{
    if (!name || name[0] != '/')
        return -EINVAL;
    size_t n = strlen(name + 1);
    if (n == 0 || n > SHM_NAME_MAX || !strcmp(name, "/.") || !strcmp(name, "/.."))
        return -EINVAL;
    for (const char *p = name + 1; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return -EINVAL;
    }
    return 0;
}

static void shm_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, SHM_DIR "%s", name);
}

/* Validate a header read from a file of `file_size` bytes (see stk_seg_open). */
static int header_check(const struct stk_header *h, uint64_t file_size)
{
    if (file_size < 64)
        return -EIO;
    if (memcmp(h->magic, STK_MAGIC, 8) != 0)
        return -EBADMSG;
    if (h->abi_version != STK_ABI_VERSION)
        return -EPROTONOSUPPORT;
    if (h->header_bytes != STK_HEADER_BYTES || h->record_bytes != STK_RECORD_BYTES ||
        h->price_decimals != STK_PRICE_DECIMALS)
        return -EPROTO;
    uint64_t need = stk_seg_size(h->capacity, h->history);
    if (need == 0 || h->total_bytes < STK_REGIONS_BYTES(h->capacity, h->history) ||
        h->total_bytes > need + (1u << 30))
        return -EUCLEAN;
    if (file_size < h->total_bytes)
        return -EIO;
    return 0;
}

/* Read and check the header of an open file; fills *h. */
static int header_read(int fd, struct stk_header *h, struct stat *st)
{
    memset(h, 0, sizeof(*h));
    memset(st, 0, sizeof(*st));
    if (fstat(fd, st) < 0)
        return -errno;
    if (!S_ISREG(st->st_mode))
        return -EBADMSG;
    ssize_t n;
    do
        n = pread(fd, h, 64, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n < 64)
        return -EIO;
    return header_check(h, (uint64_t)st->st_size);
}

static int seg_map(struct stk_seg *seg, int fd, const struct stat *st, uint64_t total,
                   bool writable)
{
    void *base = mmap(NULL, total, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return -errno;
    seg->fd = fd;
    seg->writable = writable;
    seg->base = base;
    seg->map_bytes = total;
    seg->dev = st->st_dev;
    seg->ino = st->st_ino;
    seg->hdr = base;
    seg->capacity = seg->hdr->capacity;
    seg->history = seg->hdr->history;
    seg->symbols = (struct stk_symbol *)((char *)base + STK_OFF_SYMBOLS);
    seg->records = (struct stk_record *)((char *)base + STK_OFF_RECORDS(seg->capacity));
    seg->heads = (struct stk_ring_head *)((char *)base + STK_OFF_HEADS(seg->capacity));
    seg->slots = (struct stk_record *)((char *)base + STK_OFF_SLOTS(seg->capacity));
    uint32_t hsize = 16;
    while (hsize < 2 * seg->capacity)
        hsize <<= 1;
    seg->hash = calloc(hsize, sizeof(*seg->hash));
    seg->names = calloc(seg->capacity, sizeof(*seg->names));
    if (!seg->hash || !seg->names) {
        free(seg->hash);
        free(seg->names);
        seg->hash = NULL;
        seg->names = NULL;
        munmap(base, total);
        return -ENOMEM;
    }
    seg->generation = atomic_load_explicit(&seg->hdr->generation, memory_order_relaxed);
    seg->hash_mask = hsize - 1;
    seg->hashed = 0;
    return 0;
}

static struct stk_seg *seg_new(const char *name)
{
    struct stk_seg *seg = calloc(1, sizeof(*seg));
    if (!seg)
        return NULL;
    seg->fd = -1;
    seg->name = strdup(name);
    if (!seg->name) {
        free(seg);
        return NULL;
    }
    return seg;
}

void stk_seg_close(struct stk_seg *seg)
{
    if (!seg)
        return;
    if (seg->guarded)
        stk_guard_unregister(seg->base);
    if (seg->base)
        munmap(seg->base, seg->map_bytes);
    if (seg->fd >= 0)
        close(seg->fd);
    free(seg->hash);
    free(seg->names);
    free(seg->name);
    free(seg);
}

int stk_seg_open(const char *name, struct stk_seg **ret_seg)
{
    return stk_seg_open_opts(name, NULL, ret_seg);
}

int stk_seg_open_opts(const char *name, const struct stk_seg_open_opts *opts,
                      struct stk_seg **ret_seg)
{
    char path[sizeof(SHM_DIR) + SHM_NAME_MAX + 2];
    struct stk_header h;
    struct stat st;
    int r = stk_shm_name_check(name);
    if (r < 0)
        return r;
    shm_path(path, sizeof(path), name);
    /* O_NONBLOCK: opening a FIFO planted at the name must not wait for a
     * writer; what it is, and whose, is checked on the fd before any read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    uid_t owner = opts && (opts->flags & STK_OPEN_OWNER) ? (uid_t)opts->owner_uid : geteuid();
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -ENODEV;
        goto fail;
    }
    if (st.st_uid != owner) {
        r = -EPERM;
        goto fail;
    }
    r = header_read(fd, &h, &st);
    if (r < 0)
        goto fail;
    struct stk_seg *seg = seg_new(name);
    if (!seg) {
        r = -ENOMEM;
        goto fail;
    }
    r = seg_map(seg, fd, &st, h.total_bytes, false);
    if (r < 0) {
        stk_seg_close(seg);
        goto fail;
    }
    /* The mapping's own header must agree with what was validated (a
     * replace between pread and mmap would be a different inode anyway). */
    if (seg->capacity != h.capacity || seg->history != h.history) {
        stk_seg_close(seg);
        return -EUCLEAN;
    }
    /* A reader needs no fd: the mapping holds the file. */
    close(fd);
    seg->fd = -1;
    seg->guarded = stk_guard_register(seg->base, seg->map_bytes, &seg->lost) == 0;
    *ret_seg = seg;
    return 0;
fail:
    close(fd);
    return r;
}

/* Build a fresh segment under a temporary name next to the final one; on
 * success *ret_fd is open read-write and *ret_tmp holds its path. */
static int seg_build(const struct stk_seg_params *p, uint64_t generation, char *tmp, size_t tmpsz,
                     int *ret_fd)
{
    static _Atomic unsigned counter;
    uint64_t total = stk_seg_size(p->capacity, p->history);
    snprintf(tmp, tmpsz, SHM_DIR "%s.tmp.%ld.%u", p->name, (long)getpid(),
             atomic_fetch_add(&counter, 1));
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int r;
    if (fchmod(fd, p->mode) < 0) {
        r = -errno;
        goto fail;
    }
    /* Reserve every page now: a full /dev/shm is an error here, not a SIGBUS
     * in the producer later. */
    r = posix_fallocate(fd, 0, (off_t)total);
    if (r != 0) {
        r = r == EFBIG ? -ENOSPC : -r;
        goto fail;
    }
    struct stk_header *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        r = -errno;
        goto fail;
    }
    memcpy(h->magic, STK_MAGIC, 8);
    h->abi_version = STK_ABI_VERSION;
    h->header_bytes = STK_HEADER_BYTES;
    h->record_bytes = STK_RECORD_BYTES;
    h->capacity = p->capacity;
    h->history = p->history;
    h->price_decimals = STK_PRICE_DECIMALS;
    h->total_bytes = total;
    h->created_ns = stk_now_ns();
    atomic_store_explicit(&h->generation, generation, memory_order_relaxed);
    atomic_store_explicit(&h->state, STK_STATE_INIT, memory_order_release);
    munmap(h, sizeof(*h));
    *ret_fd = fd;
    return 0;
fail:
    close(fd);
    unlink(tmp);
    return r;
}

static void futex_wake_all(struct stk_header *h)
{
    atomic_fetch_add_explicit(&h->futex, 1, memory_order_release);
    (void)syscall(SYS_futex, &h->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Retire an old, incompatible segment file: mark it closed so its readers
 * re-open by name. Only a header we recognise is touched. */
static void retire(int fd, const struct stat *st)
{
    if ((uint64_t)st->st_size < sizeof(struct stk_header))
        return;
    struct stk_header *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED)
        return;
    if (memcmp(h->magic, STK_MAGIC, 8) == 0) {
        atomic_store_explicit(&h->state, STK_STATE_CLOSED, memory_order_release);
        futex_wake_all(h);
    }
    munmap(h, sizeof(*h));
}

/* The supervisor's ownership lock: an OFD write lock on byte 0 of the
 * segment file. It lives on the open file description (not the process, so
 * no close() elsewhere drops it, and it is not the producer's whole-file
 * flock, which it never conflicts with); the kernel drops it when the last
 * fd goes. Returns 0, -EBUSY (held by someone else) or -errno. */
static int own_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return 0;
    return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}

/* What create_or_open found at the name: fills *h and *st. Returns -EBADMSG
 * when the file is not a seqtick segment (not a regular file, shorter than
 * the 8-byte magic, or another magic: never ours to touch, whatever its
 * size; a 0-byte file too, since we only ever publish finished files by
 * link/rename), -errno when it cannot be read, else 0 with *ours set: the
 * magic is ours, and header_check()'s verdict in *verdict (0: usable). */
static int seg_classify(int fd, struct stk_header *h, struct stat *st, int *verdict)
{
    memset(h, 0, sizeof(*h));
    if (fstat(fd, st) < 0)
        return -errno;
    if (!S_ISREG(st->st_mode))
        return -EBADMSG;
    ssize_t n;
    do
        n = pread(fd, h, 64, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n < 8 || memcmp(h->magic, STK_MAGIC, 8) != 0)
        return -EBADMSG;
    if (n < 64) {
        /* ours, cut short: replaced, from generation 0 */
        atomic_store_explicit(&h->generation, 0, memory_order_relaxed);
        *verdict = -EIO;
        return 0;
    }
    *verdict = header_check(h, (uint64_t)st->st_size);
    return 0;
}

/* The path still names the file open on fd (a lock on a file unlinked or
 * replaced since we opened it guards nothing). */
static bool still_named(const char *path, const struct stat *st)
{
    struct stat now;
    return stat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

int stk_seg_create_or_open(const struct stk_seg_params *p, struct stk_seg **ret_seg,
                           enum stk_seg_how *ret_how)
{
    char path[sizeof(SHM_DIR) + SHM_NAME_MAX + 2];
    char tmp[sizeof(path) + 64];
    int r = stk_shm_name_check(p->name);
    if (r < 0)
        return r;
    if (stk_seg_size(p->capacity, p->history) == 0)
        return -EINVAL;
    if (p->mode & 0002)
        return -EPERM;
    shm_path(path, sizeof(path), p->name);

    /* A racing creator can make link() fail with EEXIST: then open theirs. */
    for (int attempt = 0; attempt < 8; attempt++) {
        struct stk_header h;
        struct stat st;
        enum stk_seg_how how;
        /* O_NONBLOCK: a FIFO planted at the name must not block the open. */
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
            int verdict = 0;
            r = seg_classify(fd, &h, &st, &verdict);
            if (r < 0) {
                /* Not ours (or unreadable): never replaced, never unlinked. */
                close(fd);
                return r;
            }
            if (p->own && (r = own_lock(fd)) < 0) {
                close(fd);
                return r;
            }
            if (p->own && !still_named(path, &st)) {
                close(fd); /* its owner removed it as we opened it: look again */
                continue;
            }
            r = verdict;
            if (r == 0 && h.capacity == p->capacity && h.history == p->history) {
                how = STK_SEG_REOPENED;
                if ((st.st_mode & 07777) != p->mode)
                    (void)fchmod(fd, p->mode);
                /* A segment left closed by a clean shutdown (unlink_on_exit
                 * false) comes back: not live until a producer attaches. */
                uint32_t closed = STK_STATE_CLOSED;
                struct stk_header *mh =
                    mmap(NULL, sizeof(*mh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (mh != MAP_FAILED) {
                    atomic_compare_exchange_strong(&mh->state, &closed, STK_STATE_INIT);
                    munmap(mh, sizeof(*mh));
                }
            } else {
                uint64_t gen = r == 0 || r == -EIO ? atomic_load(&h.generation) : 0;
                int nfd = -1;
                r = seg_build(p, gen + 1, tmp, sizeof(tmp), &nfd);
                if (r < 0) {
                    close(fd);
                    return r;
                }
                if ((p->own && (r = own_lock(nfd)) < 0) || rename(tmp, path) < 0) {
                    r = r < 0 ? r : -errno;
                    unlink(tmp);
                    close(nfd);
                    close(fd);
                    return r;
                }
                retire(fd, &st);
                close(fd);
                fd = nfd;
                how = STK_SEG_REPLACED;
                r = header_read(fd, &h, &st);
                if (r < 0) {
                    close(fd);
                    return r;
                }
            }
        } else if (errno == ENOENT) {
            r = seg_build(p, 1, tmp, sizeof(tmp), &fd);
            if (r < 0)
                return r;
            /* link() publishes the finished (and, for an owner, locked)
             * file and fails if one appeared. */
            if ((p->own && (r = own_lock(fd)) < 0) || link(tmp, path) < 0) {
                r = r < 0 ? r : -errno;
                unlink(tmp);
                close(fd);
                if (r == -EEXIST)
                    continue;
                return r;
            }
            unlink(tmp);
            how = STK_SEG_CREATED;
            r = header_read(fd, &h, &st);
            if (r < 0) {
                close(fd);
                return r;
            }
        } else {
            return -errno;
        }

        struct stk_seg *seg = seg_new(p->name);
        if (!seg) {
            close(fd);
            return -ENOMEM;
        }
        r = seg_map(seg, fd, &st, h.total_bytes, true);
        if (r < 0) {
            close(fd);
            seg->fd = -1;
            stk_seg_close(seg);
            return r;
        }
        *ret_seg = seg;
        if (ret_how)
            *ret_how = how;
        return 0;
    }
    return -EEXIST;
}

int stk_seg_attach_writer(const struct stk_seg_params *p, struct stk_seg **ret_seg,
                          enum stk_seg_how *ret_how)
{
    struct stk_seg *seg = NULL;
    enum stk_seg_how how = STK_SEG_CREATED;
    int r = stk_seg_create_or_open(p, &seg, &how);
    if (r < 0)
        return r;
    assert(seg);
    if (flock(seg->fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EALREADY : -errno;
        stk_seg_close(seg);
        return r;
    }
    struct stk_header *h = seg->hdr;
    int repaired = stk_seg_repair(seg);
    if (repaired > 0)
        atomic_fetch_add_explicit(&h->repaired, (uint64_t)repaired, memory_order_relaxed);
    uint64_t now = stk_now_ns();
    if (atomic_load_explicit(&h->producer_start_ns, memory_order_relaxed) != 0)
        atomic_fetch_add_explicit(&h->producer_restarts, 1, memory_order_relaxed);
    atomic_store_explicit(&h->producer_pid, (uint32_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&h->producer_start_ns, now, memory_order_relaxed);
    stk_seg_heartbeat(seg, now);
    stk_seg_set_state(seg, STK_STATE_LIVE);
    *ret_seg = seg;
    if (ret_how)
        *ret_how = how;
    return 0;
}

static struct stk_record *slot_of(const struct stk_seg *seg, uint32_t index, uint64_t k)
{
    return &seg->slots[(uint64_t)index * seg->history + (k & (seg->history - 1))];
}

int stk_seg_repair(struct stk_seg *seg)
{
    if (!seg->writable)
        return -EROFS;
    int repaired = 0;
    for (uint32_t i = 0; i < seg->capacity; i++) {
        struct stk_record *r = &seg->records[i];
        uint64_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);
        if (!(s & 1))
            continue;
        /* Rebuild from the last complete ring slot, or clear to "never
         * written"; only then make seq even. Readers keep seeing odd (busy)
         * until the final release store. */
        struct stk_quote q = {0};
        uint64_t head = atomic_load_explicit(&seg->heads[i].head, memory_order_relaxed);
        if (head > 0) {
            struct stk_record *sl = slot_of(seg, i, head - 1);
            if (atomic_load_explicit(&sl->seq, memory_order_relaxed) == 2 * (head - 1) + 2)
                stk_record_fields(sl, &q);
        }
        stk_record_set_fields(r, &q);
        atomic_store_explicit(&r->seq, s + 1, memory_order_release);
        repaired++;
    }
    uint64_t e = atomic_load_explicit(&seg->hdr->epoch, memory_order_relaxed);
    if (e & 1)
        atomic_store_explicit(&seg->hdr->epoch, e + 1, memory_order_release);
    return repaired;
}

const struct stk_header *stk_seg_header(const struct stk_seg *seg)
{
    return seg->hdr;
}

struct stk_header *stk_seg_header_rw(struct stk_seg *seg)
{
    return seg->writable ? seg->hdr : NULL;
}

const char *stk_seg_name(const struct stk_seg *seg)
{
    return seg->name;
}

uint32_t stk_seg_nsymbols(const struct stk_seg *seg)
{
    uint32_t n = atomic_load_explicit(&seg->hdr->nsymbols, memory_order_acquire);
    return n < seg->capacity ? n : seg->capacity;
}

int stk_symbol_check(const char *name, size_t len)
{
    if (len == 0 || len > STK_NAME_MAX)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
            return -EINVAL;
    return 0;
}

int stk_sym_check(const char *name, size_t len)
{
    return stk_symbol_check(name, len);
}

/* Copy and validate the published entries not copied yet: each name is
 * read once from the mapping (byte by byte, never past its 32 bytes) into
 * the handle; an entry that is not 1..31 bytes of the grammar then a NUL
 * stays "" (invalid), whatever the writer does to it later. */
static void names_refresh(struct stk_seg *seg, uint32_t n)
{
    for (; seg->named < n; seg->named++) {
        const volatile char *src = seg->symbols[seg->named].name;
        char *dst = seg->names[seg->named];
        for (size_t i = 0; i < 32; i++)
            dst[i] = src[i];
        size_t len = strnlen(dst, 32);
        if (len == 32 || stk_symbol_check(dst, len) < 0)
            memset(dst, 0, 32);
        else
            memset(dst + len, 0, 32 - len);
    }
}

const char *stk_seg_symbol(const struct stk_seg *seg, uint32_t index)
{
    uint32_t n = stk_seg_nsymbols(seg);
    if (index >= n)
        return NULL;
    /* the copy lives in the handle, not the shared mapping (see seqtick.h) */
    struct stk_seg *mut = (struct stk_seg *)(uintptr_t)seg;
    if (index >= mut->named)
        names_refresh(mut, index + 1);
    return seg->names[index][0] ? seg->names[index] : NULL;
}

/* FNV-1a over at most 32 bytes up to the NUL. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < 32 && s[i]; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void hash_refresh(struct stk_seg *seg)
{
    uint32_t n = stk_seg_nsymbols(seg);
    names_refresh(seg, n);
    for (; seg->hashed < n; seg->hashed++) {
        if (!seg->names[seg->hashed][0])
            continue; /* an invalid entry is never found */
        uint32_t i = name_hash(seg->names[seg->hashed]) & seg->hash_mask;
        while (seg->hash[i])
            i = (i + 1) & seg->hash_mask;
        seg->hash[i] = seg->hashed + 1;
    }
}

static int hash_find(const struct stk_seg *seg, const char *name)
{
    uint32_t i = name_hash(name) & seg->hash_mask;
    for (uint32_t e; (e = seg->hash[i]) != 0; i = (i + 1) & seg->hash_mask)
        if (strncmp(seg->names[e - 1], name, 32) == 0)
            return (int)(e - 1);
    return -ENOENT;
}

int stk_seg_lookup(struct stk_seg *seg, const char *name)
{
    if (!name || strnlen(name, 33) > STK_NAME_MAX)
        return -ENOENT;
    int r = hash_find(seg, name);
    if (r >= 0 || seg->hashed == stk_seg_nsymbols(seg))
        return r;
    hash_refresh(seg);
    return hash_find(seg, name);
}

int stk_sym_add(struct stk_seg *seg, const char *name)
{
    if (!seg->writable)
        return -EROFS;
    size_t len = strnlen(name, STK_NAME_MAX + 1);
    if (stk_sym_check(name, len) < 0)
        return -EINVAL;
    int r = stk_seg_lookup(seg, name);
    if (r >= 0)
        return r;
    uint32_t n = atomic_load_explicit(&seg->hdr->nsymbols, memory_order_relaxed);
    if (n >= seg->capacity)
        return -ENOSPC;
    struct stk_symbol *e = &seg->symbols[n];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, name, len);
    e->index = n;
    /* Pairs with the acquire load in stk_seg_nsymbols(): the entry is
     * complete before any reader can count it. */
    atomic_store_explicit(&seg->hdr->nsymbols, n + 1, memory_order_release);
    hash_refresh(seg);
    return (int)n;
}

uint32_t stk_seg_changed(const struct stk_seg *seg, uint64_t *seen, uint32_t n, uint32_t *changed)
{
    uint32_t count = 0, limit = stk_seg_nsymbols(seg);
    if (n > limit)
        n = limit;
    for (uint32_t i = 0; i < n; i++) {
        /* Pairs with the writer's release store of the even seq. */
        uint64_t s = atomic_load_explicit(&seg->records[i].seq, memory_order_acquire);
        if (!(s & 1) && s != seen[i]) {
            seen[i] = s;
            changed[count++] = i;
        }
    }
    return count;
}

const struct stk_record *stk_seg_record(const struct stk_seg *seg, uint32_t index)
{
    return index < seg->capacity ? &seg->records[index] : NULL;
}

struct stk_record *stk_seg_record_rw(struct stk_seg *seg, uint32_t index)
{
    return &seg->records[index];
}

/* After the spin budget of stk_record_load(), a writer that is merely
 * preempted mid-write (a loaded box, more runnable threads than cores) must
 * get the CPU back: yield for the first STK_BUSY_YIELD_NS, then sleep in short
 * steps, STK_BUSY_WAIT_NS in all. A writer that died mid-write stays odd and
 * the caller gets -EBUSY after that (the next producer repairs the record).
 * This is the one patience policy: clients do not add their own. */
#define STK_BUSY_WAIT_NS 20000000u
#define STK_BUSY_YIELD_NS 1000000u

/* One pause of the patient path since `start`; false once the budget is spent. */
static bool busy_pause(uint64_t start)
{
    uint64_t waited = stk_mono_ns() - start;
    if (waited >= STK_BUSY_WAIT_NS)
        return false;
    if (waited < STK_BUSY_YIELD_NS) {
        sched_yield();
    } else {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* Out of line and cold: the fast path of the callers stays a leaf. */
__attribute__((noinline, cold)) static int record_load_patient(const struct stk_record *r,
                                                               struct stk_quote *q)
{
    uint64_t start = stk_mono_ns();
    int rc = -EBUSY;
    while (rc == -EBUSY && busy_pause(start))
        rc = stk_record_load(r, q);
    return rc;
}

/* -ERANGE for an index past nsymbols, or -EFAULT if that count was read
 * from a mapping lost to a truncation (it reads 0 then). */
static int index_error(const struct stk_seg *seg)
{
    return atomic_load_explicit(&seg->lost, memory_order_acquire) ? -EFAULT : -ERANGE;
}

int stk_quote_read(const struct stk_seg *seg, uint32_t index, struct stk_quote *q)
{
    if (index >= stk_seg_nsymbols(seg))
        return index_error(seg);
    const struct stk_record *r = &seg->records[index];
    int rc = stk_record_load(r, q);
    if (__builtin_expect(rc == -EBUSY, 0))
        rc = record_load_patient(r, q);
    if (__builtin_expect(atomic_load_explicit(&seg->lost, memory_order_acquire), 0))
        return -EFAULT;
    return rc;
}

int stk_quote_try(const struct stk_seg *seg, uint32_t index, struct stk_quote *q)
{
    if (index >= stk_seg_nsymbols(seg))
        return index_error(seg);
    int rc = stk_record_load(&seg->records[index], q);
    /* zeros read after a truncation look like "never written": say lost */
    if (__builtin_expect(atomic_load_explicit(&seg->lost, memory_order_acquire), 0))
        return -EFAULT;
    return rc;
}

void stk_quote_write(struct stk_seg *seg, uint32_t index, const struct stk_quote *q)
{
    stk_record_store(&seg->records[index], q);
}

uint32_t stk_seg_history(const struct stk_seg *seg)
{
    return seg->history;
}

uint64_t stk_ring_head(const struct stk_seg *seg, uint32_t index)
{
    if (index >= seg->capacity)
        return 0;
    return atomic_load_explicit(&seg->heads[index].head, memory_order_acquire);
}

void stk_ring_append(struct stk_seg *seg, uint32_t index, const struct stk_quote *q)
{
    struct stk_ring_head *rh = &seg->heads[index];
    uint64_t k = atomic_load_explicit(&rh->head, memory_order_relaxed);
    struct stk_record *s = slot_of(seg, index, k);
    /* Same protocol as stk_record_store(), but the slot's seq names the tick:
     * 2k+1 while written, 2k+2 when done, so a reader can tell a lapped slot
     * (larger) from one not yet written (smaller). */
    atomic_store_explicit(&s->seq, 2 * k + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    stk_record_set_fields(s, q);
    atomic_store_explicit(&s->seq, 2 * k + 2, memory_order_release);
    /* Pairs with the acquire load in stk_ring_head(). */
    atomic_store_explicit(&rh->head, k + 1, memory_order_release);
}

void stk_tick_publish(struct stk_seg *seg, uint32_t index, const struct stk_quote *q)
{
    stk_record_store(&seg->records[index], q);
    stk_ring_append(seg, index, q);
    atomic_store_explicit(&seg->hdr->ticks_total,
                          atomic_load_explicit(&seg->hdr->ticks_total, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static int tick_load(const struct stk_seg *seg, uint32_t index, uint64_t k, struct stk_quote *q);

int stk_tick_read(const struct stk_seg *seg, uint32_t index, uint64_t k, struct stk_quote *q)
{
    int rc = tick_load(seg, index, k, q);
    if (__builtin_expect(rc != -EBUSY, 1) &&
        !atomic_load_explicit(&seg->lost, memory_order_acquire))
        return rc;
    uint64_t start = stk_mono_ns();
    while (rc == -EBUSY && busy_pause(start))
        rc = tick_load(seg, index, k, q);
    if (atomic_load_explicit(&seg->lost, memory_order_acquire))
        return -EFAULT;
    return rc;
}

int stk_tick_try(const struct stk_seg *seg, uint32_t index, uint64_t k, struct stk_quote *q)
{
    int rc = tick_load(seg, index, k, q);
    /* zeros read after a truncation look like "not written yet": say lost */
    if (__builtin_expect(atomic_load_explicit(&seg->lost, memory_order_acquire), 0))
        return -EFAULT;
    return rc;
}

static int tick_load(const struct stk_seg *seg, uint32_t index, uint64_t k, struct stk_quote *q)
{
    if (index >= stk_seg_nsymbols(seg))
        return -ERANGE;
    uint64_t head = atomic_load_explicit(&seg->heads[index].head, memory_order_acquire);
    if (k >= head)
        return -EAGAIN;
    if (head - k > seg->history)
        return -ESTALE;
    const struct stk_record *s = slot_of(seg, index, k);
    const uint64_t want = 2 * k + 2;
    for (int tries = 0; tries < STK_READ_TRIES; tries++) {
        uint64_t s0 = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (s0 > want)
            return -ESTALE;
        if (s0 != want) {
            stk_cpu_relax();
            continue;
        }
        stk_record_fields(s, q);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (s1 == want) {
            q->seq = k;
            return 0;
        }
        return -ESTALE; /* only a newer tick changes a completed slot */
    }
    return -EBUSY;
}

/* A slot being written is done in nanoseconds; one left odd longer is
 * skipped by stk_history_read() rather than waited for. */
#define HISTORY_SPINS 64

/* Read slot of tick k once (no waiting): 0 whole, -EBUSY mid-write
 * (2k+1), -ESTALE lapped (larger), -EAGAIN anything else (not written, or
 * garbage). */
static int slot_load(const struct stk_seg *seg, uint32_t index, uint64_t k, struct stk_quote *q)
{
    const struct stk_record *sl = slot_of(seg, index, k);
    const uint64_t want = 2 * k + 2;
    for (int tries = 0; tries < HISTORY_SPINS; tries++) {
        uint64_t s0 = atomic_load_explicit(&sl->seq, memory_order_acquire);
        if (s0 > want)
            return -ESTALE;
        if (s0 == want - 1) {
            stk_cpu_relax();
            continue;
        }
        if (s0 != want)
            return -EAGAIN;
        stk_record_fields(sl, q);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != want)
            return -ESTALE; /* only a newer tick changes a completed slot */
        q->seq = k;
        return 0;
    }
    return -EBUSY;
}

/* The ring's tick count as the slots show it: one past the newest tick
 * whose slot holds seq 2k+2 (or 2k+1) in the right place, 0 if none. For a
 * head that cannot be true. */
static uint64_t head_from_slots(const struct stk_seg *seg, uint32_t index)
{
    uint64_t best = 0, mask = seg->history - 1;
    for (uint64_t j = 0; j < seg->history; j++) {
        uint64_t sq = atomic_load_explicit(&seg->slots[(uint64_t)index * seg->history + j].seq,
                                           memory_order_acquire);
        if (sq < 1 || sq > UINT64_MAX - 1)
            continue;
        uint64_t k = (sq - 1) / 2; /* 2k+1 and 2k+2 both name tick k */
        if ((k & mask) == j && k + 1 > best)
            best = k + 1;
    }
    return best;
}

int stk_history_read(const struct stk_seg *seg, uint32_t index, struct stk_quote *out, size_t n)
{
    if (index >= stk_seg_nsymbols(seg))
        return atomic_load_explicit(&seg->lost, memory_order_acquire) ? 0 : -ERANGE;
    uint64_t head = atomic_load_explicit(&seg->heads[index].head, memory_order_acquire);
    /* A head is believable if it is small enough for 2k+2 and its newest
     * slot names that tick (done, or being written); else ask the slots. */
    if (head > (UINT64_MAX - 2) / 2) {
        head = head_from_slots(seg, index);
    } else if (head > 0) {
        uint64_t k = head - 1, mask = seg->history - 1;
        uint64_t sq = atomic_load_explicit(&slot_of(seg, index, k)->seq, memory_order_acquire);
        if (sq > 2 * k + 2 && sq < UINT64_MAX && (((sq - 1) / 2) & mask) == (k & mask))
            head = (sq - 1) / 2 + 1; /* the writer moved on since the head load */
        else if (sq != 2 * k + 2 && sq != 2 * k + 1)
            head = head_from_slots(seg, index);
    }
    if (n > seg->history)
        n = seg->history;
    /* Newest first, at most `history` slots looked at: a slot left odd is
     * skipped; a lap (a newer tick in the slot) or a slot that never held
     * its tick ends the run, so what is kept is whole and in order. */
    size_t got = 0;
    uint64_t looked = 0;
    for (uint64_t k = head; k > 0 && got < n && looked < seg->history; looked++) {
        k--;
        int r = slot_load(seg, index, k, &out[n - 1 - got]);
        if (r == -EBUSY)
            continue;
        if (r < 0)
            break;
        got++;
    }
    if (got < n)
        memmove(out, out + (n - got), got * sizeof(*out));
    if (atomic_load_explicit(&seg->lost, memory_order_acquire))
        return 0;
    return (int)got;
}

void stk_batch_begin(struct stk_seg *seg)
{
    uint64_t e = atomic_load_explicit(&seg->hdr->epoch, memory_order_relaxed);
    atomic_store_explicit(&seg->hdr->epoch, e | 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

void stk_batch_end(struct stk_seg *seg, uint64_t now_ns)
{
    struct stk_header *h = seg->hdr;
    uint64_t e = atomic_load_explicit(&h->epoch, memory_order_relaxed);
    atomic_store_explicit(&h->last_update_ns, now_ns, memory_order_relaxed);
    /* Pairs with the acquire load in stk_seg_epoch(): whoever sees the new
     * even epoch sees every record of the batch. */
    atomic_store_explicit(&h->epoch, (e | 1) + 1, memory_order_release);
    atomic_store_explicit(&h->batches_total,
                          atomic_load_explicit(&h->batches_total, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* The futex word is bumped after the epoch: a waiter loads it before the
     * epoch, so it either sees the new epoch or waits on the old word value
     * and FUTEX_WAIT returns at once (EAGAIN). */
    futex_wake_all(h);
}

void stk_seg_heartbeat(struct stk_seg *seg, uint64_t now_ns)
{
    atomic_store_explicit(&seg->hdr->producer_heartbeat_ns, now_ns, memory_order_release);
}

void stk_seg_set_state(struct stk_seg *seg, uint32_t state)
{
    atomic_store_explicit(&seg->hdr->state, state, memory_order_release);
    if (state == STK_STATE_CLOSED)
        futex_wake_all(seg->hdr);
}

uint64_t stk_seg_epoch(const struct stk_seg *seg)
{
    return atomic_load_explicit(&seg->hdr->epoch, memory_order_acquire);
}

uint64_t stk_seg_heartbeat_age_ns(const struct stk_seg *seg)
{
    uint64_t hb = atomic_load_explicit(&seg->hdr->producer_heartbeat_ns, memory_order_acquire);
    if (hb == 0)
        return UINT64_MAX;
    uint64_t now = stk_now_ns();
    return now > hb ? now - hb : 0;
}

int stk_seg_wait(const struct stk_seg *seg, uint64_t seen, int timeout_ms)
{
    struct stk_header *h = seg->hdr;
    uint64_t deadline =
        timeout_ms < 0 ? UINT64_MAX : stk_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint32_t w = atomic_load_explicit(&h->futex, memory_order_acquire);
        uint64_t e = atomic_load_explicit(&h->epoch, memory_order_acquire);
        if (e != seen && !(e & 1))
            return 0;
        if (stk_seg_usable(seg) != 0) /* closed, garbage, or lost */
            return -ESTALE;
        struct timespec ts, *tsp = NULL;
        if (deadline != UINT64_MAX) {
            uint64_t now = stk_mono_ns();
            if (now >= deadline)
                return -ETIMEDOUT;
            uint64_t left = deadline - now;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
            tsp = &ts;
        }
        /* Shared (not PRIVATE) futex: the word lives in a file mapping that
         * other processes map too; FUTEX_WAIT only reads it, so a read-only
         * mapping is enough. */
        if (syscall(SYS_futex, &h->futex, FUTEX_WAIT, w, tsp, NULL, 0) < 0) {
            if (errno == EINTR)
                return -EINTR;
            if (errno != EAGAIN && errno != ETIMEDOUT)
                return -errno;
        }
    }
}

int stk_seg_usable(const struct stk_seg *seg)
{
    if (atomic_load_explicit(&seg->lost, memory_order_acquire))
        return -EFAULT;
    uint32_t state = atomic_load_explicit(&seg->hdr->state, memory_order_acquire);
    if (state == STK_STATE_CLOSED)
        return -ESTALE;
    if (state != STK_STATE_INIT && state != STK_STATE_LIVE)
        return -EUCLEAN;
    if (atomic_load_explicit(&seg->hdr->generation, memory_order_relaxed) != seg->generation)
        return -EUCLEAN;
    /* a truncation seen between the loads above: they may have read zeros */
    if (atomic_load_explicit(&seg->lost, memory_order_acquire))
        return -EFAULT;
    return 0;
}

int stk_seg_alive(const struct stk_seg *seg, uint64_t now_ns, uint64_t heartbeat_ms,
                  uint64_t *ret_age_ns)
{
    uint64_t hb = atomic_load_explicit(&seg->hdr->producer_heartbeat_ns, memory_order_acquire);
    if (now_ns == 0)
        now_ns = stk_now_ns();
    uint64_t age = hb == 0 ? UINT64_MAX : now_ns > hb ? now_ns - hb : 0;
    uint32_t state = atomic_load_explicit(&seg->hdr->state, memory_order_acquire);
    if (stk_seg_usable(seg) != 0) {
        age = UINT64_MAX;
        state = STK_STATE_CLOSED;
    }
    if (ret_age_ns)
        *ret_age_ns = age;
    if (heartbeat_ms == 0)
        heartbeat_ms = STK_HEARTBEAT_MS_DEFAULT;
    const uint64_t beats_ns = (uint64_t)STK_ALIVE_BEATS * 1000000u;
    uint64_t limit = heartbeat_ms > UINT64_MAX / beats_ns ? UINT64_MAX : heartbeat_ms * beats_ns;
    return state == STK_STATE_LIVE && age <= limit;
}

int stk_quote_stale(const struct stk_seg *seg, const struct stk_quote *q, uint64_t now_ns,
                    uint64_t freshness_ms, uint64_t heartbeat_ms)
{
    if (now_ns == 0)
        now_ns = stk_now_ns();
    if (!stk_seg_alive(seg, now_ns, heartbeat_ms, NULL))
        return 1;
    uint64_t age = now_ns > q->pub_ts_ns ? now_ns - q->pub_ts_ns : 0;
    uint64_t limit = freshness_ms > UINT64_MAX / 1000000u ? UINT64_MAX : freshness_ms * 1000000u;
    return q->pub_ts_ns == 0 || age > limit;
}

int stk_seg_replaced(const struct stk_seg *seg)
{
    char path[sizeof(SHM_DIR) + SHM_NAME_MAX + 2];
    struct stat st;
    if (stk_seg_usable(seg) != 0)
        return 1;
    shm_path(path, sizeof(path), seg->name);
    if (stat(path, &st) < 0)
        return 1;
    return st.st_dev != seg->dev || st.st_ino != seg->ino;
}

/* One fd of process `pid`: does its fdinfo show an OFD lock on dev:ino? */
static bool fd_holds_ofd(const char *pid, const char *fd, const char *devino)
{
    char p[300], buf[4096];
    snprintf(p, sizeof(p), "/proc/%s/fdinfo/%s", pid, fd);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return false;
    ssize_t n = read(f, buf, sizeof(buf) - 1);
    close(f);
    if (n <= 0)
        return false;
    buf[n] = 0;
    for (char *l = strstr(buf, "lock:"); l; l = strstr(l + 1, "lock:")) {
        char *eol = strchr(l, '\n');
        if (eol)
            *eol = 0;
        bool hit = strstr(l, "OFDLCK") && strstr(l, devino);
        if (eol)
            *eol = '\n';
        if (hit)
            return true;
    }
    return false;
}

int stk_seg_owner(const char *name)
{
    char path[sizeof(SHM_DIR) + SHM_NAME_MAX + 2], devino[64];
    struct stat st;
    int r = stk_shm_name_check(name);
    if (r < 0)
        return r;
    shm_path(path, sizeof(path), name);
    if (stat(path, &st) < 0)
        return -errno;
    snprintf(devino, sizeof(devino), " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev),
             (unsigned long)st.st_ino);
    DIR *proc = opendir("/proc");
    if (!proc)
        return -errno;
    int found = -ESRCH;
    struct dirent *pe;
    while (found < 0 && (pe = readdir(proc))) {
        if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
            continue;
        char fdpath[300];
        snprintf(fdpath, sizeof(fdpath), "/proc/%s/fd", pe->d_name);
        DIR *fds = opendir(fdpath);
        if (!fds)
            continue; /* gone, or not ours to look into */
        struct dirent *fe;
        while (found < 0 && (fe = readdir(fds))) {
            /* by inode, not by name: a file built under a temporary name
             * and linked into place keeps that name in /proc */
            char link[600];
            struct stat fst;
            snprintf(link, sizeof(link), "%s/%s", fdpath, fe->d_name);
            if (fe->d_name[0] == '.' || stat(link, &fst) < 0 || fst.st_dev != st.st_dev ||
                fst.st_ino != st.st_ino)
                continue;
            if (fd_holds_ofd(pe->d_name, fe->d_name, devino))
                found = atoi(pe->d_name);
        }
        closedir(fds);
    }
    closedir(proc);
    return found;
}

int stk_seg_unlink(const char *name)
{
    char path[sizeof(SHM_DIR) + SHM_NAME_MAX + 2];
    int r = stk_shm_name_check(name);
    if (r < 0)
        return r;
    shm_path(path, sizeof(path), name);
    return unlink(path) < 0 ? -errno : 0;
}

const char *stk_version(void)
{
    return STK_VERSION;
}
