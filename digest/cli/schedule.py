"""`digest schedule`: when each list's next editions are due, in its own timezone and in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import JustifyMethod
from rich.table import Table

from digest import TZ_DATABASE
from digest.cli.app import app, configured_store, console, known_list, load_config
from digest.clock import SystemClock
from digest.config import ListSettings
from digest.local_time import readers_by_slot
from digest.schedule import upcoming_slots
from digest.store import Store


@app.command()
def schedule(
    list_slug: Annotated[
        str | None, typer.Option("--list", help="Only this list (its slug).", show_default=False)
    ] = None,
    count: Annotated[
        int, typer.Option(help="How many of each list's next editions to show.", min=1, max=100)
    ] = 5,
) -> None:
    """Each list's next editions: the slot in the list's timezone and in UTC."""
    settings = load_config()
    if list_slug is not None:
        known_list(settings, list_slug)
    now = SystemClock().now()
    table = Table(show_header=True, header_style="bold")
    for column in ("list", "schedule", "local time", "UTC"):
        table.add_column(column, no_wrap=True)
    for digest_list in settings.lists:
        if list_slug is not None and digest_list.slug != list_slug:
            continue
        zone = ZoneInfo(digest_list.timezone)
        rule = f"{digest_list.schedule} ({digest_list.timezone})"
        for index, slot in enumerate(
            upcoming_slots(digest_list.schedule, digest_list.timezone, now, count)
        ):
            table.add_row(
                digest_list.slug if index == 0 else "",
                rule if index == 0 else "",
                slot.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z"),
                slot.strftime("%a %d %b %Y %H:%M"),
            )
    console.print(table)
    # Which rules the times above follow: a machine's older database may put a zone an hour off.
    console.print(f"Timezone rules: tz database {TZ_DATABASE}.")
    local = [
        digest_list
        for digest_list in settings.lists
        if digest_list.reader_local and list_slug in (None, digest_list.slug)
    ]
    if local:
        with configured_store(settings) as store:
            for digest_list in local:
                console.print(_readers_table(store, digest_list, now))


def _readers_table(store: Store, digest_list: ListSettings, now: datetime) -> Table:
    """When the readers of a list read in their own timezones get its next edition."""
    positions = store.reader_positions(digest_list.slug)
    by_slot = readers_by_slot(
        digest_list.schedule,
        digest_list.timezone,
        (position.timezone for position in positions),
        now,
    )
    table = Table(
        title=f"{digest_list.slug}: each reader at {digest_list.schedule} in their own timezone",
        show_header=True,
        header_style="bold",
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("UTC", "left"),
        ("readers", "right"),
        ("their timezones", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for slot, zones in by_slot.items():
        table.add_row(
            slot.strftime("%a %d %b %Y %H:%M"),
            str(sum(zones.values())),
            ", ".join(f"{zone} ({count})" for zone, count in zones.items()),
        )
    if not by_slot:
        table.add_row("—", "0", "no readers yet")
    return table
