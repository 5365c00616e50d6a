"""Commands for feeds: their health, OPML import and export, re-enabling, and polling."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import JustifyMethod
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from digest import pipeline, polling
from digest.cli.app import (
    ProgressObserver,
    app,
    configured_store,
    console,
    errors,
    load_config,
    require_workers,
    running,
)
from digest.cli.boundary import DigestTyper, json_text, report, shown
from digest.clock import SystemClock
from digest.config import Settings, entry_key, read_config_text, settings_from_mapping
from digest.errors import ConfigError, DigestError
from digest.opml import plan_import, read_opml, toml_blocks, write_opml
from digest.plurals import english_count
from digest.shown import without_password
from digest.store import FeedState, Store

feeds_app = DigestTyper(
    help="Show every feed's health (run alone); import or export OPML; enable a feed after a 410.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(feeds_app, name="feeds")


def _configured_states(settings: Settings, store: Store) -> list[FeedState]:
    """The state of every configured feed, in config order (never-polled ones included)."""
    store.sync_feeds(settings.feeds, SystemClock().now())
    by_url = {feed.url: feed for feed in store.feeds()}
    return [by_url[feed.url] for feed in settings.feeds]


def _index(settings: Settings, url: str) -> int:
    """The position of the feed ``url`` among the config's ``[[feeds]]`` (-1: not there)."""
    urls = [feed.url for feed in settings.feeds]
    return urls.index(url) if url in urls else -1


PAUSED = "paused"


def _host_pauses(feeds: list[FeedState], now: datetime) -> dict[int, FeedState]:
    """The feeds whose host asked to wait on another of its feeds (a 429 or 503 with
    Retry-After), each with that other feed: `digest feeds` shows them paused."""
    pauses = {}
    for feed in feeds:
        held_by = polling.paused_by(feed, feeds, now)
        if held_by is not None and held_by.id != feed.id:
            pauses[feed.id] = held_by
    return pauses


def _status(feed: FeedState, held_by: FeedState | None) -> str:
    return PAUSED if held_by is not None else feed.status


def _pause(feed: FeedState, held_by: FeedState) -> str:
    """Why a feed is not polled before its host's wait is over: the answer to another feed.
    The time is the end of that wait: a feed the poll has not put off yet (one just added to
    the config, never polled) has no next poll of its own."""
    until = held_by.wait_asked_until
    assert until is not None  # paused_by holds only to a wait not over
    asked_at = without_password(held_by.fetch_url)
    if held_by.wait_asked_by not in (None, polling.host_of(held_by.fetch_url)):
        # That feed's address redirected to this host, which answered: say so, or the table
        # names another host than the one that asked.
        asked_at += f" (redirected to {held_by.wait_asked_by})"
    return (
        f"paused by its host: HTTP {held_by.last_status} with Retry-After at {asked_at}; "
        f"no request to the host before {until.isoformat(timespec='seconds')}"
    )


def _problem(feed: FeedState, held_by: FeedState | None = None) -> str | None:
    if held_by is not None:
        return _pause(feed, held_by)
    if not feed.enabled:
        return "disabled in the config (enabled = false)"
    if feed.disabled_reason:
        return feed.disabled_reason
    if feed.last_error:
        return feed.last_error
    if feed.parse_warning:
        return f"warning: {feed.parse_warning}"
    return None


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def feed_record(feed: FeedState, held_by: FeedState | None = None) -> dict[str, Any]:
    """One feed as `digest feeds --json` prints it; ``held_by``, the feed of its host whose
    Retry-After pauses it (see ``_host_pauses``)."""
    return {
        "name": feed.name,
        # Masked like the table and the log: this output is fed to dashboards and tickets;
        # scripts match a feed by its name, which is unique in the config.
        "url": without_password(feed.url),
        "current_url": (
            without_password(feed.current_url) if feed.current_url is not None else None
        ),
        "status": _status(feed, held_by),
        "paused_by": without_password(held_by.url) if held_by is not None else None,
        "enabled": feed.enabled,
        "disabled_reason": feed.disabled_reason,
        "http_status": feed.last_status,
        "last_fetch": _iso(feed.last_fetched_at),
        "next_poll": _iso(feed.next_poll_at) if feed.pollable else None,
        "entries_per_day": (
            round(feed.entries_per_day, 3) if feed.entries_per_day is not None else None
        ),
        "articles": feed.articles,
        "consecutive_errors": feed.consecutive_errors,
        "last_error": feed.last_error,
        "last_error_at": _iso(feed.last_error_at),
        "parse_warning": feed.parse_warning,
        "title": feed.title,
    }


_STATUS_STYLE = {
    "ok": "green",
    "error": "red",
    "disabled": "yellow",
    "never polled": "dim",
    PAUSED: "yellow",
}


def _next_poll(feed: FeedState, now: datetime, asked_ahead: dict[str, datetime]) -> str:
    """When the poller next polls ``feed``; ``asked_ahead``: ``polling.pauses_asked_ahead``."""
    if not feed.pollable:
        return "—"
    ahead = feed.next_poll_at is not None and feed.next_poll_at > now
    if ahead and polling.is_due(feed.next_poll_at, now, feed.last_fetched_at):
        # As the poller reads it: "in 23.5 h" after a clock set back a day said it would wait.
        return "now: this clock is behind its last poll"
    if ahead and polling.put_off_by_a_clock_ahead(feed, asked_ahead):
        return "now: this clock is behind its host's wait"
    return _when(feed.next_poll_at, now)


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        amount = f"{span:.0f} s"
    elif span < 3600:
        amount = f"{span / 60:.0f} min"
    elif span < 2 * 86400:
        amount = f"{span / 3600:.1f} h"
    else:
        amount = f"{span / 86400:.1f} d"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def _feeds_table(feeds: list[FeedState], now: datetime) -> Table:
    table = Table(show_header=True, header_style="bold", title="Feeds")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("feed", "left"),
        ("status", "left"),
        ("last fetch", "right"),
        ("HTTP", "right"),
        ("entries/day", "right"),
        ("next poll", "right"),
        ("errors", "right"),
        ("last error", "left"),
    )
    for column, justify in columns:
        # Long URLs and errors wrap rather than vanish behind an ellipsis.
        table.add_column(column, justify=justify, overflow="fold")
    pauses = _host_pauses(feeds, now)
    asked_ahead = polling.pauses_asked_ahead(feeds, now)
    for feed in feeds:
        held_by = pauses.get(feed.id)
        status = _status(feed, held_by)
        # Masked as in errors and the log: the table is read over shoulders and pasted into
        # tickets.
        url = shown(without_password(feed.url))
        if feed.current_url is not None:
            url += f"\n→ {shown(without_password(feed.current_url))}"
        rate = f"{feed.entries_per_day:.1f}" if feed.entries_per_day is not None else "—"
        table.add_row(
            f"[bold]{shown(feed.name)}[/]\n{url}",
            f"[{_STATUS_STYLE[status]}]{status}[/]",
            _when(feed.last_fetched_at, now),
            str(feed.last_status) if feed.last_status is not None else "—",
            rate,
            _next_poll(feed, now, asked_ahead),
            str(feed.consecutive_errors),
            shown(_problem(feed, held_by) or ""),
        )
    return table


@feeds_app.callback()
def feeds_status(
    context: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per feed, for scripts.")
    ] = False,
) -> None:
    """Show every configured feed: status, last fetch, HTTP status, rate, next poll, errors."""
    if context.invoked_subcommand is not None:
        return
    settings = load_config()
    try:
        with configured_store(settings) as store:
            feeds = _configured_states(settings, store)
    except DigestError as error:
        report(error)
        raise typer.Exit(1) from None
    now = SystemClock().now()
    if as_json:
        pauses = _host_pauses(feeds, now)
        records = [feed_record(feed, pauses.get(feed.id)) for feed in feeds]
        typer.echo(json_text(records))
        return
    console.print(_feeds_table(feeds, now))


@feeds_app.command("import")
def feeds_import(
    path: Annotated[Path, typer.Argument(metavar="FILE.opml", help="An OPML subscription list.")],
    write: Annotated[
        bool, typer.Option("--write", help="Append the new \\[\\[feeds]] to the config file.")
    ] = False,
) -> None:
    """Print the \\[\\[feeds]] blocks an OPML file adds to the config (or append them with
    --write)."""
    settings = load_config()
    try:
        data = path.read_bytes()
    except OSError as error:
        report(f"{path}: cannot read: {error.strerror}")
        raise typer.Exit(2) from None
    try:
        plan = plan_import(read_opml(data, str(path)), settings.feeds)
    except ConfigError as error:
        errors.print(f"[bold red]Invalid OPML[/]\n{escape(str(error))}", highlight=False)
        raise typer.Exit(2) from None
    for url, why in plan.left_out:
        errors.print(f"[yellow]left out:[/] {shown(url)}: {shown(why)}", highlight=False)
    if not plan.new:
        errors.print("Nothing to add: every feed in the file is left out (see above).")
        raise typer.Exit(1)
    blocks = toml_blocks(plan.new)
    if not write:
        typer.echo(
            f"# {english_count(len(plan.new), 'feed', 'feeds')} from {path.name}; "
            f"add these to {settings.source}\n"
        )
        typer.echo(blocks, nl=False)
        return
    try:
        _append_to_config(settings.source, f"\n# Imported from {path.name}\n\n{blocks}")
    except ConfigError as error:
        errors.print(
            f"[bold red]Not written[/]: the result would be invalid\n{escape(str(error))}",
            highlight=False,
        )
        raise typer.Exit(2) from None
    console.print(
        f"Added {english_count(len(plan.new), 'feed', 'feeds')} to {shown(str(settings.source))}",
        highlight=False,
    )


def _append_to_config(config: Path, addition: str) -> None:
    """Append ``addition`` to the config file, only if the result is a valid config."""
    text = read_config_text(config)  # written back without a byte order mark it may have
    if not text.endswith("\n"):
        text += "\n"
    updated = text + addition
    try:
        raw = tomllib.loads(updated)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(config), [("", f"not valid TOML: {error}")]) from None
    settings_from_mapping(raw, source=config)
    # The file a symlink points at (config kept elsewhere, linked into place): renaming over
    # the link would replace it with a copy and leave the real config as it was.
    target = config.resolve()
    # Write beside it and rename, so a crash never leaves half a config behind.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(updated)
        # mkstemp makes the file 0600 for whoever runs the command: the config keeps its own
        # mode and owner, so a service running as another user can still read it.
        _copy_mode_and_owner(target, Path(temporary))
        Path(temporary).replace(target)
    except BaseException:  # Ctrl-C too: no half-written copy left beside the config
        Path(temporary).unlink(missing_ok=True)
        raise


def _copy_mode_and_owner(source: Path, target: Path) -> None:
    status = source.stat()
    target.chmod(stat.S_IMODE(status.st_mode))
    if (status.st_uid, status.st_gid) != (os.getuid(), os.getgid()):
        # Only root may give a file away; anyone else writes a file of their own, as an editor
        # saving the config would.
        with contextlib.suppress(PermissionError):
            os.chown(target, status.st_uid, status.st_gid)


@feeds_app.command("export")
def feeds_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Print the configured feeds as OPML 2.0."""
    settings = load_config()
    document = write_opml(
        settings.feeds, title=f"{settings.service.sender_name}: feeds", now=SystemClock().now()
    )
    if output is None:
        typer.echo(document, nl=False)
    else:
        output.write_text(document, encoding="utf-8")
        errors.print(
            f"{english_count(len(settings.feeds), 'feed', 'feeds')} "
            f"written to {shown(str(output))}",
            highlight=False,
            soft_wrap=True,
        )


@feeds_app.command("enable")
def feeds_enable(
    url: Annotated[str, typer.Argument(metavar="URL", help="The feed's URL, as in the config.")],
) -> None:
    """Poll again a feed that answered 410 Gone (its config entry must still be enabled)."""
    settings = load_config()
    with configured_store(settings) as store:
        store.sync_feeds(settings.feeds, SystemClock().now())
        feed = store.enable_feed(url)
    if feed is None:
        errors.print(
            f"[red]No feed with the URL {escape(url)}[/] in {escape(str(settings.source))} or "
            "the store: give a URL as the config writes it (`digest feeds` lists them)",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(
        f"{shown(feed.name)} ({shown(without_password(feed.url))}) will be polled at the next "
        "cycle",
        highlight=False,
    )
    if not feed.enabled:
        errors.print(
            f"[yellow]note:[/] it is disabled in {escape(str(settings.source))}: set "
            f"{escape(entry_key('feeds', settings.feeds, _index(settings, feed.url)))}.enabled "
            "= true",
            highlight=False,
        )


@app.command()
def poll(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Poll every enabled feed now, due or not (a host that asked to wait excepted).",
        ),
    ] = False,
) -> None:
    """Poll the feeds that are due (conditional GETs: unchanged feeds cost a 304)."""
    from worker.app import app as celery_app
    from worker.dispatch import CeleryDispatcher

    settings = load_config()
    try:
        require_workers(settings)
        with (
            running(settings) as services,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            ) as progress,
        ):
            summary = pipeline.poll_cycle(
                services,
                CeleryDispatcher(celery_app),
                force=force,
                observer=ProgressObserver(progress),
            )
    except ConfigError:
        raise  # the boundary: "Invalid configuration", exit 2, as every command
    except DigestError as error:
        report(error)
        raise typer.Exit(1) from None
    paused = (
        f", {summary.feeds_paused} paused (their host asked to wait: see digest feeds)"
        if summary.feeds_paused
        else ""
    )
    console.print(
        f"{english_count(summary.feeds_polled, 'feed', 'feeds')} polled, "
        f"{summary.feeds_failed} failed, "
        f"{english_count(summary.new_articles, 'new article', 'new articles')}{paused}"
    )
    for problem in summary.problems:
        errors.print(f"[yellow]problem:[/] {shown(problem)}", highlight=False)
