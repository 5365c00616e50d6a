"""Commands that run the pipeline: run, config check and example, db upgrade."""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from digest import pipeline
from digest.cli.app import (
    ProgressObserver,
    app,
    config_app,
    configured_store,
    console,
    db_app,
    errors,
    known_list,
    load_config,
    progress_bars,
    require_workers,
    running,
)
from digest.cli.boundary import report, shown, sigterm_as_ctrl_c
from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError
from digest.inbound.server import InboundServer
from digest.plurals import english_count
from digest.preflight import Preflight, existing_store, preflight
from digest.records import CycleSummary
from digest.schedule import next_slot
from digest.services import Services
from digest.shown import brief, database_shown
from digest.store.db import close_engine, schema_drift_of
from digest.store.schema_lacks import driver_reason


def _summary_table(summary: CycleSummary) -> Table:
    table = Table(title="Cycle summary", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_row("feeds polled", str(summary.feeds_polled))
    if summary.feeds_paused:
        table.add_row("feeds paused (their host asked to wait)", str(summary.feeds_paused))
    table.add_row("feeds failed", str(summary.feeds_failed))
    table.add_row("new articles", str(summary.new_articles))
    table.add_row("editions built", str(summary.editions_built))
    table.add_row("editions with nothing to send", str(summary.editions_skipped))
    table.add_row("messages delivered", str(summary.messages_delivered))
    table.add_row("messages failed", str(summary.messages_failed))
    if summary.messages_retrying:
        table.add_row("messages to retry later", str(summary.messages_retrying))
    if summary.messages_parked:
        table.add_row("messages parked (see digest status)", str(summary.messages_parked))
    return table


def _one_cycle(services: Services, only_list: str | None) -> CycleSummary:
    from worker.app import app as celery_app
    from worker.dispatch import CeleryDispatcher

    with progress_bars() as progress:
        return pipeline.run_cycle(
            services,
            CeleryDispatcher(celery_app),
            only_list=only_list,
            observer=ProgressObserver(progress),
        )


def _report(summary: CycleSummary, services: Services, said: frozenset[str] = frozenset()) -> None:
    """The cycle's table and problems, but those ``said`` already (the checks at start)."""
    console.print(_summary_table(summary))
    for problem in summary.problems:
        if problem in said:
            continue
        errors.print(f"[yellow]problem:[/] {shown(problem)}", highlight=False)
    parked = services.store.parked_deliveries(limit=0)[1]
    if parked:
        errors.print(
            f"[yellow]{english_count(parked, 'delivery is', 'deliveries are')} parked[/]: "
            "the server's reply never came (smtp.max_attempts tries), though it may have "
            "taken the copy, and a parked copy is not sent again; see digest status",
            highlight=False,
        )
    if services.settings.smtp is None and summary.messages_delivered:
        outbox = shown(str(services.settings.service.outbox))
        console.print(f"Messages written to [bold]{outbox}/[/]", highlight=False, soft_wrap=True)


def _print_preflight(checked: Preflight) -> None:
    """The verdict of ``digest.preflight``, as `config check` and `run` both print it."""
    # Escaped: the messages quote config syntax ("[[lists]]") that rich would take for markup.
    for warning in checked.warnings:
        errors.print(f"[yellow]warning:[/] {shown(warning)}", highlight=False)
    if checked.errors:
        errors.print(
            "[bold red]Invalid configuration[/]\n" + shown("\n".join(checked.errors), lines=True),
            highlight=False,
        )


def _serve_web_pages(stack: ExitStack, services: Services) -> None:
    """The readers' pages from a thread of this process, for as long as ``stack`` is open."""
    from digest.cli.web import announce, readers_app
    from digest.web.server import serving

    web = services.settings.web
    pages = readers_app(services)
    # Once the server has stopped (the stack unwinds in reverse), the sign-ups it took go out
    # on these services, before they close: at a config edit and at the end.
    stack.callback(pages.state.web.signups.close)
    url = stack.enter_context(serving(pages, web.host, web.port))
    announce(url, services.settings.service.base_url)


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    list_slug: Annotated[
        str | None,
        typer.Option("--list", help="Build and send this list's edition now, due or not."),
    ] = None,
    interval: Annotated[
        # As low as beat's tick: a cycle polls only the feeds that are due, so a short one
        # spares the feeds, and a config edit is taken up within it.
        int, typer.Option(help="Seconds between cycles when running continuously.", min=1)
    ] = 60,
) -> None:
    """Poll every feed, build every edition that is due and deliver it; repeat unless --once.

    Ctrl-C, SIGTERM and SIGHUP (a closed terminal) stop it once the copies the mail server took
    are recorded; config edits apply at the next cycle unasked.
    """
    settings: Settings | None = load_config()
    assert settings is not None
    if list_slug is not None:
        known_list(settings, list_slug)
    try:
        require_workers(settings)
        checked: Preflight | None = None  # the first settings are checked once the store is open
        # A service manager stops `digest run` with SIGTERM: it ends as on Ctrl-C.
        with sigterm_as_ctrl_c():
            while settings is not None:
                settings, checked = _cycles(settings, checked, once, list_slug, interval)
    except ConfigError:
        raise  # the boundary: "Invalid configuration", exit 2, as config check
    except DigestError as error:
        report(error)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if once:
            raise  # a cycle cut short: the boundary says so, with the exit code of an interrupt
        console.print("Stopped.")


def _cycles(
    settings: Settings, checked: Preflight | None, once: bool, list_slug: str | None, interval: int
) -> tuple[Settings | None, Preflight | None]:
    """Cycles on ``settings`` until the config file changes (invariant 5): then its settings
    and their checks, for the next cycle to run on; (None, None) after a cycle of --once."""
    with running(settings) as services, ExitStack() as stack:
        if checked is None:
            # What `config check` refuses, this refuses before anything is polled or sent.
            checked = preflight(settings, services.store)
            _print_preflight(checked)
            if checked.errors:
                raise typer.Exit(2)
        if settings.inbound.enabled:
            # Bounces and mailto unsubscribes are taken in while the loop runs.
            receiver = InboundServer.from_settings(services)
            receiver.start()
            stack.callback(receiver.stop)
            console.print(receiver.describe(), highlight=False)
        if settings.web.enabled and not once:
            _serve_web_pages(stack, services)
        said = frozenset(checked.warnings)
        refused: str | None = None
        while True:
            if once:
                _report(_one_cycle(services, list_slug), services, said)
                return None, None
            if _cycle_outlasting_outages(services, list_slug, said, interval):
                said = frozenset()  # later cycles name what still holds
            time.sleep(interval)
            edited, refused = _edited_config(settings, list_slug, refused)
            if edited is not None:
                return edited


def _cycle_outlasting_outages(
    services: Services, list_slug: str | None, said: frozenset[str], interval: int
) -> bool:
    """One cycle of a run that keeps going, and its report; whether it ran to its end. A
    database that fails meanwhile (PostgreSQL restarted, an SQLite file another process held
    past its busy timeout, a full disk) stops the cycle, not the run: said in one line, the next
    cycle tries again. It ended the run, and the readers' pages and the bounces it serves, until
    someone started it again; what the cycle had not recorded stays pending on the ledger."""
    url = services.settings.service.database_url
    try:
        _report(_one_cycle(services, list_slug), services, said)
    except (OperationalError, InterfaceError, ProgrammingError) as error:
        # Read as the database boundary and the command net read it (schema_drift_of): a
        # table or column the schema lacks is no database away, and the next cycles meet it too.
        drift = schema_drift_of(url, error)
        if drift is not None:
            failed = str(drift)
        elif isinstance(error, ProgrammingError):
            raise  # a bug: its traceback
        else:
            failed = f"the database {database_shown(url)} failed: {brief(driver_reason(error))}"
        report(
            f"the cycle stopped: {failed}; what it had not done stays pending, and the next "
            f"cycle, in {interval} s, tries again"
        )
        return False
    return True


def _edited_config(
    current: Settings, list_slug: str | None, refused: str | None
) -> tuple[tuple[Settings, Preflight] | None, str | None]:
    """The config file as it is now, with its checks, when it differs from ``current`` and
    passes the checks `run` makes at start; else None, and ``current`` stays in force. A
    refusal is printed once (its text is handed back, to be passed in again) with the file, the
    key and the reason, as `config check` prints it."""
    try:
        fresh = load_settings(current.source, os.environ)
        if fresh == current:
            return None, None
        if list_slug is not None and list_slug not in {entry.slug for entry in fresh.lists}:
            raise ConfigError(
                str(fresh.source), [("lists", f"no list {list_slug!r}, which this run builds")]
            )
        checked, _ = _preflight_on_disk(fresh)
        if not checked.errors:
            # The checks read the database only when they can, and the next cycle opens it:
            # one that cannot be opened now (away for a moment, or a database_url edited
            # wrong) ended the run there. The edit waits, and is tried again after each cycle.
            with configured_store(fresh):
                pass
    except DigestError as error:  # the file, or a database it names that cannot be opened
        problem = str(error)
    else:
        if not checked.errors:
            _print_preflight(checked)
            console.print(
                f"{shown(str(current.source))} changed: the next cycles run on it.",
                highlight=False,
                soft_wrap=True,  # one line for grep, however long the path
            )
            return (fresh, checked), None
        problem = "\n".join(checked.errors)
    if problem != refused:
        errors.print(
            f"[bold red]Config edit refused[/], the previous settings stay in force\n"
            f"{shown(problem, lines=True)}",
            highlight=False,
        )
    return None, problem


def _preflight_on_disk(settings: Settings) -> tuple[Preflight, str]:
    """``preflight`` with the database the settings name when it exists (never made here), and
    what of the lists' history could not be checked."""
    store, unchecked = existing_store(settings)
    try:
        return preflight(settings, store), unchecked
    finally:
        if store is not None:
            close_engine(store.engine)


@config_app.command("check")
def config_check() -> None:
    """Validate the config file and the files it names; show what it will do."""
    settings = load_config()
    checked, unchecked = _preflight_on_disk(settings)
    _print_preflight(checked)
    if checked.errors:
        raise typer.Exit(2)
    subscribers = checked.subscribers
    console.print(f"[green]OK[/] {shown(str(settings.source))}", highlight=False)
    if unchecked:
        console.print(f"Lists' history not checked: {shown(unchecked)}", highlight=False)
    console.print(
        f"{english_count(len(settings.feeds), 'feed', 'feeds')}, "
        f"{english_count(len(settings.topics), 'topic', 'topics')}, "
        f"{english_count(len(settings.lists), 'list', 'lists')}"
    )
    table = Table(show_header=True, header_style="bold")
    for column in ("list", "topics", "schedule", "next edition", "subscribers"):
        table.add_column(column)
    now = datetime.now(UTC)
    for digest_list in settings.lists:
        upcoming = next_slot(digest_list.schedule, digest_list.timezone, now)
        local = upcoming.astimezone(ZoneInfo(digest_list.timezone))
        table.add_row(
            digest_list.slug,
            ", ".join(digest_list.topics),
            f"{digest_list.schedule} ({digest_list.timezone})",
            local.strftime("%a %d %b %Y %H:%M %Z"),
            str(subscribers[digest_list.slug]),
        )
    console.print(table)


@config_app.command("example")
def config_example(
    folder: Annotated[
        Path, typer.Argument(help="Folder to write into (made if missing).", show_default=False)
    ],
) -> None:
    """Write the example's config file, sample feeds and subscribers into FOLDER: a first
    edition, offline, where digest was installed without its source."""
    from digest.example import write_example

    written = write_example(folder)
    console.print(f"Wrote {shown(str(written))} and its samples/ and subscribers/", highlight=False)
    console.print(f"Next: digest --config {shown(str(written))} run --once", highlight=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the latest version."""
    from digest.store.db import database_errors, open_engine
    from digest.store.upgrades import current_revision, upgrade

    settings = load_config()
    with database_errors(settings.service.database_url):
        engine = open_engine(
            settings.service.database_url,
            statement_seconds=settings.service.database_timeout_seconds,
        )
        try:
            upgrade(engine, say=console.print)
            console.print(f"Database at revision {current_revision(engine)}")
        finally:
            close_engine(engine)


@db_app.command("adopt-secret-key")
def db_adopt_secret_key() -> None:
    """Make this machine's secret key the database's, after changing it on purpose: links
    already mailed stop working, and forgotten addresses are no longer recognised."""
    from digest.addresses import key_function
    from digest.clock import SystemClock
    from digest.mail.tokens import secret_check
    from digest.services import shares_database, signing_secret
    from digest.store import open_store
    from digest.store.db import database_errors

    settings = load_config()
    shared = shares_database(settings)
    with database_errors(settings.service.database_url):
        store = open_store(
            settings.service.database_url,
            migrate=not shared,
            shared=shared,
            statement_seconds=settings.service.database_timeout_seconds,
        )
        try:
            forgotten = store.forgotten_count()
            secret = signing_secret(settings)
            now = SystemClock().now()
            store.adopt_secret_key(secret_check(secret), now, key_function(secret))
        finally:
            close_engine(store.engine)
    console.print(
        "The database now takes this secret key. Links mailed before stop working"
        + (
            f", and {forgotten} forgotten addresses are no longer recognised at an import."
            if forgotten
            else "."
        ),
        highlight=False,
    )
