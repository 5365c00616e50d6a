"""Fuzz the inbound receiver's reading of a message with atheris (libFuzzer): DSNs, ARF
complaints, mailto unsubscribes, plain bounces, and whatever else anyone sends.

    .venv/bin/python fuzz/inbound_mail.py [libFuzzer flags] WORK_CORPUS fuzz/corpus-inbound_mail
    .venv/bin/python fuzz/inbound_mail.py CRASH_FILE          replay one input (a reproducer)

The target and its invariants are ``fuzz.inbound_target.check_inbound_mail``; docs/development.md,
"Fuzzing", has the flags for a long run. The digest package is instrumented for coverage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["digest", "fuzz"]):
    from fuzz.inbound_target import check_inbound_mail, errors

from fuzz.runner import fuzz

if __name__ == "__main__":
    fuzz(__file__, check_inbound_mail, errors)
