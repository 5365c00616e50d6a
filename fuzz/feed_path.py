"""Fuzz the feed path with atheris (libFuzzer): parse, clean, classify, compose, render, mail.

    .venv/bin/python fuzz/feed_path.py [libFuzzer flags] WORK_CORPUS fuzz/corpus fuzz/crashes
    .venv/bin/python fuzz/feed_path.py CRASH_FILE          replay one input (a reproducer)

The target and its invariants are ``fuzz.target.check_feed_path``; docs/development.md,
"Fuzzing", has the flags for a bounded run (as ``scripts/test`` does), a run of hours, and how
to minimise and replay a crash. The digest package and feedparser are instrumented for
coverage, so the fuzzer steers by the branches of our own code and of the parser beneath it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

# Run as a script, the folder on the path is fuzz/; the target is imported as fuzz.target.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["digest", "feedparser", "fuzz"]):
    from fuzz.target import check_feed_path, world

from fuzz.runner import fuzz


def main() -> None:
    # The example's settings and templates are loaded once, before the first input.
    fuzz(__file__, check_feed_path, world)


if __name__ == "__main__":
    main()
