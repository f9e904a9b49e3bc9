/* SPDX-License-Identifier: MIT */
/* sigbus.c — readers that survive a segment truncated under them: a SIGBUS
 * inside a registered read-only mapping swaps the mapping for zero pages and
 * marks the handle lost, so the faulting read resumes instead of killing the
 * process; any other SIGBUS goes to the handler installed before ours. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "seqtick.h"
#include "sigbus-private.h"

/* Why not sigsetjmp around each copy: the readers touch the mapping in many
 * places (inline seqlock reads in seqtick.h, header loads, Python's
 * memoryview of the seq words), so a jump buffer around "the copy" would
 * miss most of them and cost a setjmp on every quote. Swapping the mapping
 * covers every access at no cost until the fault: the faulting load is
 * restarted by the kernel and reads 0, and stk_seg_usable() says -EFAULT
 * from then on, so the caller treats the segment as gone and re-opens it. */

#define SLOTS 256

struct slot {
    _Atomic int used;        /* claimed by a registration */
    _Atomic(uintptr_t) base; /* published last (release): 0 = empty */
    _Atomic size_t len;
    _Atomic(_Atomic int *) lost;
};

static struct slot slots[SLOTS];
static struct sigaction previous;
static _Atomic int installed;

int stk_guard_register(void *base, size_t len, _Atomic int *lost)
{
    for (int i = 0; i < SLOTS; i++) {
        int free_ = 0;
        if (!atomic_compare_exchange_strong(&slots[i].used, &free_, 1))
            continue;
        atomic_store_explicit(&slots[i].len, len, memory_order_relaxed);
        atomic_store_explicit(&slots[i].lost, lost, memory_order_relaxed);
        /* pairs with the handler's acquire load of base */
        atomic_store_explicit(&slots[i].base, (uintptr_t)base, memory_order_release);
        return 0;
    }
    return -ENOSPC;
}

void stk_guard_unregister(void *base)
{
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].base, memory_order_relaxed) != (uintptr_t)base)
            continue;
        atomic_store_explicit(&slots[i].base, 0, memory_order_release);
        atomic_store_explicit(&slots[i].used, 0, memory_order_release);
        return;
    }
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, si, uc);
        return;
    }
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL &&
        previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* default action: die of SIGBUS as without us (a fault re-raises it on
     * return; a sent SIGBUS is raised again, pending until we return) */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)sigaction(SIGBUS, &dfl, NULL);
    if (si->si_code <= 0)
        (void)raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; si->si_code > 0 && i < SLOTS; i++) {
        uintptr_t b = atomic_load_explicit(&slots[i].base, memory_order_acquire);
        size_t len = atomic_load_explicit(&slots[i].len, memory_order_relaxed);
        if (!b || a < b || a - b >= len)
            continue;
        /* mmap(2) is a plain system call here: safe in a handler on Linux */
        void *p = mmap((void *)b, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED)
            break;
        _Atomic int *lost = atomic_load_explicit(&slots[i].lost, memory_order_relaxed);
        if (lost)
            atomic_store_explicit(lost, 1, memory_order_release);
        errno = saved;
        return;
    }
    errno = saved;
    chain(sig, si, uc);
}

int stk_sigbus_guard(void)
{
    int no = 0;
    if (!atomic_compare_exchange_strong(&installed, &no, 1))
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) < 0) {
        int r = -errno;
        atomic_store(&installed, 0);
        return r;
    }
    return 0;
}
