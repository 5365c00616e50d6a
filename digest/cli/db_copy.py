"""``digest db copy --to URL``: the config's database, whole, into a new, empty one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, TaskID
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from digest.cli.app import console, db_app, errors, load_config, progress_bars
from digest.cli.boundary import shown
from digest.errors import DatabaseCopyError
from digest.shown import database_shown, without_password
from digest.store.copying import (
    CopyObserver,
    CopySummary,
    copy_database,
    refuse_a_missing_source,
)
from digest.store.db import create_database_engine, database_errors
from digest.ticking import work_in_hand


class _TablesAsBars(CopyObserver):
    """One progress bar a table, filled as its batches are written."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bars: dict[str, TaskID] = {}

    def table(self, name: str, rows: int) -> None:
        self.bars[name] = self.progress.add_task(name, total=rows)

    def copied(self, name: str, rows: int) -> None:
        self.progress.update(self.bars[name], advance=rows)


@db_app.command("copy")
def db_copy(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="The new, empty database to copy into, such as "
            "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE or sqlite:///PATH.",
            show_default=False,
        ),
    ],
) -> None:
    """Copy the config's database, every table with its ids, into a new, empty one: to move
    from SQLite to PostgreSQL, or back. Stop the service (digest run, or beat and every
    worker, and digest serve and digest inbound) first."""
    settings = load_config()
    try:
        make_url(to)
    except ArgumentError:
        errors.print(
            f"[bold red]--to {shown(to)} is no database URL[/]: give one such as "
            "postgresql+psycopg://USER:PASSWORD@HOST/DATABASE or sqlite:///PATH",
            highlight=False,
        )
        raise typer.Exit(2) from None
    seconds = settings.service.database_timeout_seconds
    source_url = settings.service.database_url
    refuse_a_missing_source(source_url)
    if settings.service.broker_url is not None:
        _refuse_while_workers_hold_work(settings.service.broker_url, source_url)
    source = _reachable(source_url, seconds)
    try:
        target = _reachable(to, seconds)
        try:
            with database_errors(to), progress_bars() as progress:
                summary = copy_database(
                    source, target, observer=_TablesAsBars(progress), say=console.print
                )
        finally:
            target.dispose()
    finally:
        source.dispose()
    _print_summary(summary, source_url, to)


def _refuse_while_workers_hold_work(broker_url: str, source_url: str) -> None:
    """The distributed mode: refuse while a lease on the broker says a worker has work in hand
    (``ticking.work_in_hand``), naming it. A worker between two statements of a batch, or
    whose batches wait in the queue, may have no session open on the source that the copy
    could see, and what it writes after the copy is lost with the move."""
    from redis.exceptions import RedisError

    from worker.inspect import broker_error
    from worker.leases import RedisLeases

    try:
        held = RedisLeases(broker_url).held()
    except RedisError as error:
        raise broker_error(broker_url, error) from error
    in_hand = sorted(filter(None, (work_in_hand(key, seconds) for key, seconds in held)))
    if in_hand:
        raise DatabaseCopyError(
            f"the workers of the broker {without_password(broker_url)} have work in hand on the "
            f"source database {database_shown(source_url)}: {'; '.join(in_hand[:5])}"
            f"{f' and {len(in_hand) - 5} more' if len(in_hand) > 5 else ''}: let it end "
            "(digest status), stop digest beat and every digest worker, and copy then (stopped "
            "already, wait for the lease to lapse): what they write after the copy would be "
            "lost with the move"
        )


def _reachable(url: str, statement_seconds: float) -> Engine:
    """An engine of its own for ``url`` (not the process's shared one: the copy holds its
    connection for its whole time), its first connection made, a failure said naming it."""
    with database_errors(url):
        engine = create_database_engine(url, statement_seconds=statement_seconds)
        try:
            engine.connect().close()
        finally:
            # Closed: the copy asks whether another process has an SQLite source open, which
            # it can tell only while it has it open nowhere itself.
            engine.dispose()
    return engine


def _print_summary(summary: CopySummary, source_url: str, target_url: str) -> None:
    table = Table(title="Rows copied", show_header=True, header_style="bold")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for copied in summary.tables:
        table.add_row(copied.name, f"{copied.rows:,}")
    console.print(table)
    rate = summary.rows / summary.seconds if summary.seconds > 0 else float(summary.rows)
    console.print(
        f"Copied {summary.rows:,} rows of {len(summary.tables)} tables from "
        f"{shown(database_shown(source_url))} into {shown(database_shown(target_url))} in "
        f"{summary.seconds:.1f} s ({rate:,.0f} rows/s); each table's rows counted on both sides.",
        highlight=False,
    )
    console.print(
        "Next: point service.database_url (or DIGEST_DATABASE_URL) at the new database, give "
        "every machine the same secret key (DIGEST_SECRET_KEY, or the data folder's "
        "secret_key file), and start the service there.",
        highlight=False,
    )
