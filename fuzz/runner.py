"""What every fuzz target's atheris runner does: build its world once, then hand libFuzzer the
check (``fuzz/feed_path.py``, ``fuzz/inbound_mail.py``, ``fuzz/pictures.py``,
``fuzz/operator_files.py``)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import atheris


def fuzz(script: str, check: Callable[[bytes], None], prepare: Callable[[], object]) -> None:
    """Run libFuzzer on ``check`` with this process's arguments; ``prepare`` builds what every
    input shares before the first one."""
    prepare()
    # libFuzzer starts itself again for -jobs, -fork and -minimize_crash, through the shell, with
    # argv[0] as the command: it must be this interpreter (the project's venv) and the script.
    command = shlex.join([sys.executable, str(Path(script).resolve())])
    atheris.Setup([command, *sys.argv[1:]], check)
    atheris.Fuzz()
