"""The server the sending processes are forked from, started as early as a command can tell
it will need one.

The server imports the library once (``PRELOAD``) and forks each sending process from itself,
so a process starts in milliseconds (``digest.sending``). Its own start costs what the imports
cost, a second or so, and it used to begin only once a cycle knew it had copies to send: by then
the command had spent that second on the same imports, and then waited for the server's. Started
from ``digest``'s entry point instead, before the command's imports, the server imports on the
other core while the command imports on its own, and a run's sending processes are ready when
its edition is: `bench/run_cost.py` measures what that saves.

Only ``digest run`` and ``digest send`` send, and only in the embedded mode with more than one
``smtp.connections``: the other commands must not pay for a process they never use. This module
imports nothing of the library until it knows the command is one of those two.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import signal
from collections.abc import Mapping, Sequence
from multiprocessing import resource_tracker
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.config import Settings

# Imported once by the server the sending processes are forked from.
PRELOAD = ["digest.delivering", "digest.services", "digest.sending"]

# The commands that may deliver in processes of their own (``digest.pipeline``, ``send_now``).
SENDING_COMMANDS = frozenset({"run", "send"})


def fork_context() -> ForkServerContext:
    """The start method of the sending processes: forked from the one server of the preloaded
    library, which starts with the first process unless ``start_early`` started it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # effective when the server starts
    _start_resource_tracker()
    return context


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker, which the server starts first otherwise, with
    SIGHUP blocked, as it keeps it: it ignores SIGINT and SIGTERM alone, so a closed terminal's
    SIGHUP to the run's processes ended it, and the run, stopping, found it gone ("process died
    unexpectedly") and printed the traceback of the one it started in its place."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def command_and_config(arguments: Sequence[str]) -> tuple[str, Path | None] | None:
    """The command a ``digest`` command line runs and its ``--config`` option (None when not
    given); None for a command line that shows help or the version, or names no command.

    Only the options before the command are read: those are the app's own (``--config``/``-c``,
    ``--version``, ``--help``, the completion ones), and Typer reads the line again in full.
    """
    config: Path | None = None
    words = iter(arguments)
    for word in words:
        if word in ("--config", "-c"):
            value = next(words, None)
            if value is None:
                return None
            config = Path(value)
        elif word.startswith("--config="):
            config = Path(word.removeprefix("--config="))
        elif word.startswith("-c") and not word.startswith("--"):
            config = Path(word.removeprefix("-c"))
        elif word.startswith("-"):
            return None  # --help, --version, completion: nothing is sent
        else:
            rest = list(words)
            return None if "--help" in rest else (word, config)
    return None


def sends_in_processes(settings: Settings) -> bool:
    """Whether these settings deliver on processes of this machine: the embedded mode, to a
    mail server, on more than one connection (``digest.delivering.connections``)."""
    smtp = settings.smtp
    return settings.service.broker_url is None and smtp is not None and smtp.connections > 1


def start_early(arguments: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Start the fork server now if the command line ``arguments`` will send in processes;
    whether it did. A config that cannot be read starts nothing: the command says what is wrong
    with it, as it would have."""
    parsed = command_and_config(arguments)
    if parsed is None or parsed[0] not in SENDING_COMMANDS:
        return False
    from digest.config import config_path_from_env, load_settings

    try:
        settings = load_settings(config_path_from_env(parsed[1], environ), environ)
    except Exception:  # any fault is the command's to report, not this shortcut's
        return False
    if not sends_in_processes(settings):
        return False
    fork_context()
    multiprocessing.forkserver.ensure_running()
    return True
