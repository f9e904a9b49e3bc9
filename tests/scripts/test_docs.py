#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The docs a newcomer reads stand alone and stay true: nothing in the tree
cites a design file that is not in it, README's first screen has its two
commands, every docs/ page it names exists, and what it says about Ctrl-C
is what the supervisor gets."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stktest  # noqa: E402

SRC = os.path.abspath(stktest.SOURCE)


def tree_files():
    """Tracked files (git), or every file outside build trees (a tarball)."""
    try:
        out = subprocess.run(["git", "-C", SRC, "ls-files", "-z"], capture_output=True,
                             check=True, timeout=30).stdout.decode()
        return [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for root, dirs, files in os.walk(SRC):
            dirs[:] = [d for d in dirs if not d.startswith(("build", "."))]
            found += [os.path.relpath(os.path.join(root, f), SRC) for f in files]
        return found


def readme():
    with open(os.path.join(SRC, "README.md")) as f:
        return f.read()


class Docs(unittest.TestCase):
    def test_no_citation_of_an_outside_design_file(self):
        outside = re.compile("DESIGN" + r"(\.md|:| \")|\.\./" + "shared")
        bad = []
        for rel in tree_files():
            try:
                with open(os.path.join(SRC, rel), encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        if outside.search(line):
                            bad.append(f"{rel}:{n}: {line.strip()}")
            except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
                continue
        self.assertEqual(bad, [])

    def test_no_words_only_the_builders_understand(self):
        # where a sentence came from ("issue 11", "the target",
        # "seed 004's consumer") means nothing to a reader of the tree
        insider = re.compile(r"\b[Ii]ssue \d+\b|\b[Tt]he issue'?s?\b|\bseed \d{3}\b")
        bad = []
        for rel in tree_files():
            if rel.startswith("tests/fuzz/") or rel == "tests/scripts/test_docs.py":
                continue  # fuzz corpora are bytes, not prose; this file names the words
            try:
                with open(os.path.join(SRC, rel), encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        if insider.search(line):
                            bad.append(f"{rel}:{n}: {line.strip()}")
            except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
                continue
        self.assertEqual(bad, [])

    def test_readme_first_screen(self):
        first = "\n".join(readme().splitlines()[:24])
        self.assertRegex(first, r"(?m)^scripts/run\b")
        self.assertRegex(first, r"(?m)^scripts/test\b")

    def test_readme_ctrl_c(self):
        text = readme()
        self.assertNotIn("Ctrl-C (SIGTERM)", text)
        self.assertIn("Ctrl-C (SIGINT", text)

    def test_named_docs_exist(self):
        text = readme()
        for d in (os.path.join(SRC, "docs"),):
            for name in os.listdir(d):
                with open(os.path.join(d, name)) as f:
                    text += f.read()
        named = set(re.findall(r"\b([a-z][a-z-]*\.md)\b", text)) - {"README.md"}
        self.assertIn("design.md", named)
        for name in sorted(named):
            self.assertTrue(os.path.exists(os.path.join(SRC, "docs", name)), name)


if __name__ == "__main__":
    stktest.main_unittest()
