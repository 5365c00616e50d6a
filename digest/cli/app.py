"""The ``digest`` Typer app and what its commands share: options, settings, consoles, services."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from digest import __version__
from digest.cli.boundary import (
    DigestTyper,
    PrintableLogLines,
    note_database,
    printable_last_resort,
)
from digest.cli.boundary import errors as errors  # the commands' stderr console
from digest.config import Settings, config_path_from_env, load_settings
from digest.errors import ConfigError
from digest.gc_tuning import tune_garbage_collection
from digest.sample_server import serve_folder
from digest.services import Services, build_services, shares_database
from digest.store import Store, open_store
from digest.store.db import close_engine, database_errors

app = DigestTyper(help="Topic newsletter digests from RSS and Atom feeds.", no_args_is_help=True)
config_app = DigestTyper(
    help="Check the configuration; write the example one.", no_args_is_help=True
)
db_app = DigestTyper(
    help="Create or upgrade the database schema; copy it into another; adopt a new secret key.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

# Standard output. On a terminal, tables fit its width. Piped or redirected (a log, grep, a cron
# mail) rich would take it to be 80 columns wide and cut values short ("midd…", "2026…"), which
# nobody reading the log can widen: there a table gets the width its longest row needs, up to
# PIPED_WIDTH. COLUMNS, when set, is honoured either way.
PIPED_WIDTH = 200
console = Console()
if not console.is_terminal and "COLUMNS" not in os.environ:
    console.width = PIPED_WIDTH


# Warnings of the loggers no command configures (most of them configure none), as text.
logging.lastResort = printable_last_resort()


class _State:
    config_path: Path = Path("config/example.toml")


state = _State()


def _version(value: bool) -> None:
    if value:
        console.print(f"digest {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $DIGEST_CONFIG, else config/example.toml).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    state.config_path = config_path_from_env(config, os.environ)


def load_config() -> Settings:
    try:
        settings = load_settings(state.config_path, os.environ)
    except ConfigError as error:
        errors.print(f"[bold red]Invalid configuration[/]\n{escape(str(error))}", highlight=False)
        if not state.config_path.exists() or state.config_path.is_dir():
            errors.print(
                "Give the config file with --config FILE or the DIGEST_CONFIG variable; to begin "
                "with the example, digest config example FOLDER writes it.",
                highlight=False,
            )
        raise typer.Exit(2) from None
    note_database(settings.service.database_url)
    return settings


def log_lines_on_stderr(logger_name: str) -> None:
    """One dated line on stderr per record of ``logger_name`` from INFO up: what a long-running
    command (``digest inbound``, ``digest serve``) tells its operator as it goes."""
    handler = logging.StreamHandler(sys.stderr)
    # Its lines quote what others wrote (an address a client of `digest inbound` named), shown
    # as text: a control sequence in it is no order to the operator's terminal.
    handler.setFormatter(PrintableLogLines("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def known_list(settings: Settings, slug: str) -> str:
    """``slug`` if the config has that list; else says which lists it has and exits (code 2)."""
    slugs = [digest_list.slug for digest_list in settings.lists]
    if slug not in slugs:
        renamed = next((d for d in settings.lists if slug in (d.previous_slugs or ())), None)
        have = f"its lists are {', '.join(slugs)}" if slugs else "it has no [[lists]]"
        if renamed is not None:
            # The slug an operator's scripts have used for years: say what it is now.
            have = (
                f"{slug!r} was renamed {renamed.slug!r} (its previous_slugs); give {renamed.slug}"
            )
        errors.print(
            f"[red]No list {escape(repr(slug))} in {escape(str(settings.source))}[/]: "
            f"{escape(have)}",
            highlight=False,
        )
        raise typer.Exit(2)
    return slug


@contextmanager
def configured_store(settings: Settings) -> Iterator[Store]:
    """The store of the config, for a command that reads or edits it without running anything;
    a database that cannot be opened is a one-line error (digest.cli.boundary)."""
    with database_errors(settings.service.database_url):
        store = open_store(
            settings.service.database_url,
            shared=shares_database(settings),
            statement_seconds=settings.service.database_timeout_seconds,
        )
        try:
            yield store
        finally:
            close_engine(store.engine)


def require_workers(settings: Settings) -> None:
    """For a command that hands its stages to the workers in the distributed mode and waits for
    each: a one-line refusal (exit 1) when the broker or every worker is away, where it would
    end in a traceback or wait for ever. Nothing to check in the embedded mode."""
    broker = settings.service.broker_url
    if broker is None:
        return
    from worker import runtime
    from worker.inspect import require_workers as answering

    runtime.configure(settings)  # the Celery app is configured from these settings
    answering(broker)


def services_of(settings: Settings) -> Services:
    """The services of ``settings`` (an edit of the config, for a long-running command), a
    database that cannot be opened said as what it is: the edit is refused, not applied."""
    with database_errors(settings.service.database_url):
        return build_services(settings)


@contextmanager
def running(settings: Settings) -> Iterator[Services]:
    """Services for one command, with the sample feeds served while it runs when configured."""
    tune_garbage_collection()
    with database_errors(settings.service.database_url), ExitStack() as stack:
        services = build_services(settings)
        stack.callback(services.close)
        if settings.sample_server is not None:
            sample = settings.sample_server
            stack.enter_context(
                serve_folder(
                    settings.config_path(sample.directory),
                    host=sample.host,
                    port=sample.port,
                    replay_until=services.clock.now() if sample.replay_dates else None,
                )
            )
        from worker import runtime

        runtime.configure(settings, services)
        yield services


def progress_bars() -> Progress:
    """The bars of long work (a cycle's stages, a copy's tables), gone from the terminal once
    it ends."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    )


class ProgressObserver:
    """A cycle's stages as rich progress bars, one a stage (a pipeline.CycleObserver)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def stage(self, name: str, total: int) -> None:
        self.tasks[name] = self.progress.add_task(name, total=total)

    def advance(self, name: str, detail: str = "") -> None:
        self.progress.update(self.tasks[name], advance=1)
