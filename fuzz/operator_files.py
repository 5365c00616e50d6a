"""Fuzz the reading of the operator's files with atheris (libFuzzer): subscriber CSVs, OPML
imports and the TOML config.

    .venv/bin/python fuzz/operator_files.py [libFuzzer flags] WORK_CORPUS fuzz/corpus-operator_files
    .venv/bin/python fuzz/operator_files.py CRASH_FILE          replay one input (a reproducer)

The target and its invariants are ``fuzz.operator_target.check_operator_file``;
docs/development.md, "Fuzzing", has the flags for a long run. The digest package is
instrumented for coverage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["digest", "fuzz"]):
    from fuzz.operator_target import check_operator_file, config_folder

from fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(__file__, check_operator_file, config_folder)
