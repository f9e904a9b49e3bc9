#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The symbols libseqtick.so exports are exactly the documented API: every
function declared STK_API in seqtick.h, and nothing else."""
import re
import subprocess
import sys


def main():
    header, lib = sys.argv[1], sys.argv[2]
    text = open(header).read()
    documented = set(re.findall(r"^STK_API\s[^;(]*?\b(stk_\w+)\s*\(", text, re.M))
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    exported = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWi":
            exported.add(parts[2].split("@")[0])
    # the toolchain's own markers are not ours
    exported = {s for s in exported if not s.startswith("_")}
    missing = documented - exported
    extra = exported - documented
    print(f"documented {len(documented)}, exported {len(exported)}")
    if len(documented) < 15:
        print("FAIL: found too few STK_API declarations; the parser is broken")
        return 1
    if missing or extra:
        print("FAIL: missing from the library:", sorted(missing))
        print("FAIL: exported but not documented:", sorted(extra))
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
