# SPDX-License-Identifier: MIT
"""hostile_seg — craft segment files byte by byte in /dev/shm (layout v1 of
docs/layout.md), including the broken ones no producer writes: names without
a NUL, high or control bytes, records stuck mid-write, garbage ring heads,
closed or unknown states, a frozen heartbeat, truncation. Tests hand them
to the real readers (server, CLI, Python client)."""
import mmap
import os
import struct
import time

HEADER = 4096
REC = struct.Struct("<QqqqQQQII")  # seq price bid ask volume src_ts pub_ts bid_size ask_size
E8 = 100000000


def now_ns():
    return time.time_ns()


class Seg:
    """A segment file at /dev/shm<name>, mapped read-write by the test.

    Records are written fields first, seq last (a test writes from one
    thread and readers only need the final bytes)."""

    def __init__(self, name, capacity=8, history=16, state=1, generation=1, path=None):
        self.name, self.capacity, self.history = name, capacity, history
        self.off_symbols = HEADER
        self.off_records = HEADER + capacity * 64
        self.off_heads = HEADER + 2 * capacity * 64
        self.off_slots = HEADER + 3 * capacity * 64
        regions = self.off_slots + capacity * history * 64
        self.total = (regions + 4095) & ~4095
        self.path = path or "/dev/shm" + name
        tmp = self.path + ".craft"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, self.total)
            self.m = mmap.mmap(fd, self.total)
        finally:
            os.close(fd)
        self.m[0:8] = b"SEQTICK1"
        struct.pack_into("<IIIIII", self.m, 8, 1, HEADER, 64, capacity, history, 8)
        struct.pack_into("<QQQ", self.m, 32, self.total, now_ns(), generation)
        struct.pack_into("<II", self.m, 56, state, 0)
        self.heartbeat()
        struct.pack_into("<I", self.m, 136, os.getpid())
        os.rename(tmp, self.path)  # published whole, as a producer does

    # ---- header ----
    def set_state(self, state):
        struct.pack_into("<I", self.m, 56, state)

    def set_generation(self, gen):
        struct.pack_into("<Q", self.m, 48, gen)

    def set_nsymbols(self, n):
        struct.pack_into("<I", self.m, 60, n)

    def heartbeat(self, ns=None):
        struct.pack_into("<Q", self.m, 128, now_ns() if ns is None else ns)

    def bump_epoch(self):
        e = struct.unpack_from("<Q", self.m, 64)[0]
        struct.pack_into("<QQ", self.m, 64, (e | 1) + 1, now_ns())
        f = struct.unpack_from("<I", self.m, 80)[0]
        struct.pack_into("<I", self.m, 80, (f + 1) & 0xFFFFFFFF)

    # ---- symbol table ----
    def set_symbol_raw(self, i, raw):
        """Entry i's 32-byte name field exactly as given (padded with NULs,
        never terminated if raw is 32 bytes), index = i."""
        assert len(raw) <= 32
        off = self.off_symbols + i * 64
        self.m[off:off + 32] = raw + b"\0" * (32 - len(raw))
        struct.pack_into("<II", self.m, off + 32, i, 0)

    def add_symbols(self, names):
        for i, n in enumerate(names):
            self.set_symbol_raw(i, n if isinstance(n, bytes) else n.encode())
        self.set_nsymbols(len(names))

    # ---- records and rings ----
    def quote_fields(self, price, volume=100, pub_ns=None):
        p = int(price * E8)
        pub = now_ns() if pub_ns is None else pub_ns
        return (p, p - E8 // 100, p + E8 // 100, volume, pub, pub, 10, 20)

    def set_record(self, i, seq, price=100.25, volume=100, pub_ns=None):
        off = self.off_records + i * 64
        f = self.quote_fields(price, volume, pub_ns)
        REC.pack_into(self.m, off, 0, *f)
        struct.pack_into("<Q", self.m, off, seq)

    def set_slot(self, i, k, seq=None, price=None):
        """Ring slot of tick k of symbol i; seq defaults to 2k+2 (whole)."""
        off = self.off_slots + (i * self.history + (k % self.history)) * 64
        f = self.quote_fields(100 + k if price is None else price, volume=100 * (k + 1))
        REC.pack_into(self.m, off, 0, *f)
        struct.pack_into("<Q", self.m, off, 2 * k + 2 if seq is None else seq)

    def set_head(self, i, head):
        struct.pack_into("<Q", self.m, self.off_heads + i * 64, head)

    def fill_ticks(self, i, count, price=100.0):
        for k in range(count):
            self.set_slot(i, k)
        self.set_head(i, count)
        self.set_record(i, 2 * count, price=price, volume=100 * count)

    # ---- the file ----
    def truncate(self, size=0):
        with open(self.path, "r+b") as f:
            f.truncate(size)

    def close(self):
        try:
            self.m.close()
        except (BufferError, ValueError):
            pass

    def unlink(self):
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
