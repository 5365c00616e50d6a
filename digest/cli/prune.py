"""``digest db prune``: delete what is past the windows of ``[retention]``, or say what would go."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from digest import retention
from digest.cli.app import configured_store, console, db_app, load_config
from digest.clock import SystemClock


@db_app.command("prune")
def db_prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted, and delete nothing.")
    ] = False,
) -> None:
    """Delete the settled ledger rows and the articles older than [retention]'s windows, all
    of them (a cycle deletes a bounded share), and say what went and what was kept."""
    settings = load_config()
    kept, now = settings.retention, SystemClock().now()
    windows = retention.Windows.of(kept, settings.lists, now)
    with configured_store(settings) as store:
        found = retention.prunable(store, windows)
        if dry_run:
            verb, gone = "Would delete", (found.deliveries, found.articles, found.article_keys)
        else:
            done = retention.prune(store, kept, now, lists=settings.lists)
            verb, gone = "Deleted", (done.deliveries, done.articles, done.article_keys)
    console.print(
        f"{verb} {gone[0]:,} ledger rows of editions older than {_days(windows.deliveries)} "
        f"(retention.deliveries_days), {gone[1]:,} articles first seen over "
        f"{_days(windows.articles)} ago (retention.articles_days, or a list's longest gap "
        f"between editions and a day) and {gone[2]:,} keys of deleted articles no feed served "
        "since.",
        highlight=False,
    )
    console.print(
        f"Kept: {found.deliveries_in_flight:,} older ledger rows still pending or parked (sent "
        "once due, or released by `digest deliveries retry`), every edition for the archive, "
        "and every membership, suppression and unsubscribe.",
        highlight=False,
    )


def _days(window: timedelta) -> str:
    return f"{window.total_seconds() / 86400:g} days"
