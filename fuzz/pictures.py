"""Fuzz the checking of pictures fetched from publishers with atheris (libFuzzer): Pillow's
decoders under the project's bounds, then the copy the mail shows.

    .venv/bin/python fuzz/pictures.py [libFuzzer flags] WORK_CORPUS fuzz/corpus-pictures
    .venv/bin/python fuzz/pictures.py CRASH_FILE          replay one input (a reproducer)

The target and its invariants are ``fuzz.picture_target.check_picture``; docs/development.md,
"Fuzzing", has the flags for a long run. The digest package and Pillow's Python plugins are
instrumented for coverage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["digest", "fuzz", "PIL"]):
    from fuzz.picture_target import check_picture

from fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(__file__, check_picture, lambda: None)
