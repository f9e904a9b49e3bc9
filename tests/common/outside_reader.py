#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An outside reader written only from docs/layout.md: mmap the file, check
the header, walk the symbol table, read records and rings with the seqlock
rule, and compare with what the writer says it wrote."""
import json
import mmap
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

REC = struct.Struct("<QqqqQQQII")  # seq price bid ask volume src_ts pub_ts bid_size ask_size


def read_record(m, off, want_seq=None):
    """Seqlock read: seq even (or == want_seq), copy, seq unchanged."""
    for _ in range(1000):
        s0 = struct.unpack_from("<Q", m, off)[0]
        if s0 & 1 or (want_seq is not None and s0 != want_seq):
            continue
        fields = REC.unpack_from(m, off)
        s1 = struct.unpack_from("<Q", m, off)[0]
        if s0 == s1:
            return fields
    return None


def main():
    name = stktest.unique_shm("outside")
    fill = os.path.join(stktest.BUILD, "tests", "common", "stk-test-fill")
    try:
        wrote = json.loads(subprocess.run([fill, name], capture_output=True, text=True,
                                          check=True).stdout)
        failures = 0

        def check(cond, what):
            nonlocal failures
            if not cond:
                failures += 1
                print("FAIL:", what)

        with open(stktest.shm_path(name), "rb") as f:
            st = os.fstat(f.fileno())
            m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        magic = m[0:8]
        abi, header_bytes, record_bytes, cap, hist, decimals = struct.unpack_from("<6I", m, 8)
        total, created, generation = struct.unpack_from("<QQQ", m, 32)
        state, nsymbols = struct.unpack_from("<II", m, 56)
        epoch, last_update = struct.unpack_from("<QQ", m, 64)
        check(magic == b"SEQTICK1", f"magic {magic!r}")
        check((abi, header_bytes, record_bytes, decimals) == (1, 4096, 64, 8), "fixed fields")
        check((cap, hist) == (wrote["capacity"], wrote["history"]), "capacity/history")
        check(st.st_size >= total >= 4096 + 3 * cap * 64 + cap * hist * 64, "total_bytes")
        check(generation >= 1 and state in (0, 1, 2), "generation/state")
        check(nsymbols == len(wrote["symbols"]), f"nsymbols {nsymbols}")
        check(epoch % 2 == 0 and epoch > 0 and last_update == 1700000000000002000, "epoch")
        sym_off = 4096
        rec_off = 4096 + cap * 64
        head_off = 4096 + 2 * cap * 64
        slot_off = 4096 + 3 * cap * 64
        for i in range(nsymbols):
            name_i = m[sym_off + 64 * i: sym_off + 64 * i + 32].split(b"\0")[0].decode()
            index = struct.unpack_from("<I", m, sym_off + 64 * i + 32)[0]
            check(name_i == wrote["symbols"][i] and index == i, f"symbol {i}: {name_i}")
            ticks = wrote["ticks"][name_i]
            latest = read_record(m, rec_off + 64 * i)
            check(latest is not None and list(latest[1:]) == ticks[-1],
                  f"{name_i} latest {latest}")
            head = struct.unpack_from("<Q", m, head_off + 64 * i)[0]
            check(head == len(ticks), f"{name_i} head {head}")
            for k in range(max(0, head - hist), head):
                off = slot_off + (i * hist + (k & (hist - 1))) * 64
                got = read_record(m, off, want_seq=2 * k + 2)
                check(got is not None and list(got[1:]) == ticks[k], f"{name_i} tick {k}")
        m.close()
        if failures:
            print(f"0 passed, {failures} failed")
            return 1
        print("1 passed, 0 failed")
        return 0
    finally:
        stktest.shm_remove(name)


if __name__ == "__main__":
    sys.exit(main())
