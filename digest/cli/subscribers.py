"""``digest subscribers``: import, export, list, remove, suppress, audit, and privacy requests."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from itertools import islice
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from digest import privacy
from digest.addresses import key_function
from digest.audit import find_bursts
from digest.cli.app import app, configured_store, console, errors, known_list, load_config
from digest.cli.boundary import DigestTyper, json_text, shown
from digest.clock import SystemClock
from digest.config import Settings
from digest.errors import ConfigError
from digest.imports import import_file
from digest.lists import slugs_and_previous
from digest.mail.reader_addresses import as_written, check_address, spreadsheet_safe
from digest.plurals import english_count
from digest.services import signing_secret
from digest.store import Membership, Store
from digest.store.subscribers import CHANNELS, STATUSES, UNRECORDED
from digest.store.suppressions import REASONS

subscribers_app = DigestTyper(
    help="Readers and their lists: import, export, list, remove, suppress, audit, privacy.",
    no_args_is_help=True,
)
app.add_typer(subscribers_app, name="subscribers")

EXPORT_COLUMNS = ("email", "name", "timezone", "list", "status", "channel", "changed_at", "topics")
SUPPRESS_REASONS = tuple(reason for reason in REASONS if reason != "forgotten")
# The furthest back an audit looks: a hundred years is all of any service's history, and a
# date much further back than that is before the first year a date can hold.
AUDIT_DAYS = 36_500
ListOption = Annotated[str | None, typer.Option("--list", help="Only this list (its slug).")]


@contextmanager
def _store(settings: Settings) -> Iterator[tuple[Store, Callable[[str], str]]]:
    """The store (schema brought up to date) and the address key, for one command."""
    with configured_store(settings) as store:
        yield store, key_function(signing_secret(settings))


def _address(text: str) -> str:
    try:
        return check_address(text)
    except ValueError as error:
        errors.print(f"[red]Not an address[/]: {shown(str(error))}", highlight=False)
        raise typer.Exit(2) from None


@subscribers_app.command("import")
def import_subscribers(
    path: Annotated[Path, typer.Argument(metavar="CSV", help="Columns email, name, timezone.")],
    list_slug: Annotated[str, typer.Option("--list", help="The list to import into (its slug).")],
    confirmed: Annotated[
        bool,
        typer.Option(
            "--confirmed",
            help="You vouch for these readers: they get editions at once. Without it, new "
            "readers are pending until they confirm.",
        ),
    ] = False,
) -> None:
    """Add the readers of CSV to a list; never removes anyone and never resubscribes a reader
    who unsubscribed. Reports rows added, updated and refused (each with its line and why)."""
    settings = load_config()
    known_list(settings, list_slug)
    [digest_list] = [entry for entry in settings.lists if entry.slug == list_slug]
    with _store(settings) as (store, key):
        try:
            report = import_file(
                store, key, path, settings, digest_list, SystemClock().now(), confirmed=confirmed
            )
        except ConfigError as error:
            errors.print(f"[red]Not imported[/]: {escape(str(error))}", highlight=False)
            raise typer.Exit(1) from None
    refused = sorted((*report.refused, *report.kept_out))
    console.print(
        f"{escape(str(path))} into list {escape(list_slug)}: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {len(refused)} refused",
        highlight=False,
    )
    for line, why in refused:
        errors.print(f"  line {line}: {shown(why)}", highlight=False)
    if report.kept_choices:
        console.print(
            f"{english_count(report.kept_choices, 'reader keeps', 'readers keep')} the name or "
            "timezone they chose themselves.",
            highlight=False,
        )
    if report.pending and confirmed:
        console.print(
            f"{report.pending} new readers are pending: the file's status column says they "
            "never confirmed their sign-up, so --confirmed does not confirm them.",
            highlight=False,
        )
    elif report.pending:
        console.print(
            f"{report.pending} new readers are pending: they get no edition until they confirm. "
            "This version sends no confirmation mail yet; import with --confirmed if you vouch "
            "for them.",
            highlight=False,
        )


@subscribers_app.command("export")
def export_subscribers(
    list_slug: ListOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of to the terminal.")
    ] = None,
    excel: Annotated[
        bool,
        typer.Option(
            "--excel",
            help="For Excel on Windows: UTF-8 behind a byte order mark, lines ending CRLF, so "
            "names in any script open as written.",
        ),
    ] = False,
) -> None:
    """Write every membership (of one list with --list) as CSV in UTF-8, which import reads
    back: the rows of readers who unsubscribed are imported as unsubscribed."""
    settings = load_config()
    if list_slug is not None:
        known_list(settings, list_slug)
    with _store(settings) as (store, _), _open(output, excel=excel) as out:
        writer = csv.writer(out, lineterminator="\r\n" if excel else "\n")
        writer.writerow(EXPORT_COLUMNS)
        for member in store.memberships(list_slug):
            writer.writerow(
                [
                    # An address may start as a formula does ("=cmd|'/C calc'!A0@x.org" is a
                    # valid one, and anyone can sign it up): kept from running, as names are.
                    spreadsheet_safe(member.email),
                    spreadsheet_safe(member.name or ""),
                    member.timezone or "",
                    member.list_slug,
                    member.status,
                    member.channel,
                    member.changed_at.isoformat(),
                    " ".join(member.topics or ()),  # blank: every topic of the list
                ]
            )


@contextmanager
def _open(path: Path | None, *, excel: bool) -> Iterator[TextIO]:
    """The export's file, or standard output, in UTF-8 whatever the terminal's encoding (a
    program reads the CSV, and import reads UTF-8); with ``excel``, behind the byte order mark
    without which Excel reads a CSV file in the machine's code page, and every name in another
    script (Arabic, Hebrew, Greek...) shows as mojibake."""
    encoding = "utf-8-sig" if excel else "utf-8"  # utf-8-sig writes the mark first
    if path is not None:
        with path.open("w", encoding=encoding, newline="") as file:
            yield file
        return
    sys.stdout.flush()
    out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="")
    try:
        yield out
    finally:
        out.flush()
        out.detach()  # standard output stays open, for what is printed after


@subscribers_app.command("list")
def list_subscribers(
    list_slug: ListOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array: email, list, status… per membership.")
    ] = False,
) -> None:
    """Show every membership (of one list with --list): address, list, status, how and when it
    last changed, and whether the address is suppressed."""
    settings = load_config()
    if list_slug is not None:
        known_list(settings, list_slug)
    with _store(settings) as (store, _):
        if as_json:
            # Streamed: a list of any size is never held whole.
            sys.stdout.write("[")
            for number, member in enumerate(store.memberships(list_slug)):
                sys.stdout.write(
                    ("," if number else "") + "\n  " + json_text(member.as_dict(), indent=None)
                )
            sys.stdout.write("\n]\n")
            return
        slugs = [entry.slug for entry in settings.lists]
        for table in _membership_tables(store.memberships(list_slug), slugs):
            console.print(table)
        suppressions = store.suppressions()
        if suppressions:
            console.print(
                f"{english_count(len(suppressions), 'address', 'addresses')} suppressed for "
                "every list "
                f"({sum(s.email is None for s in suppressions)} of them forgotten).",
                highlight=False,
            )


MEMBERSHIP_COLUMNS = ("email", "name", "list", "status", "channel", "changed", "suppressed")
# Memberships laid out and printed at a time: rich measures every row of a table before it
# prints its first line, so one table of 200,000 readers held a gigabyte and printed nothing
# for two minutes.
LIST_PAGE = 500
_FREE_TEXT_WIDTH = 20  # the least room for an address or a name on a page of a long list


def _membership_tables(members: Iterator[Membership], list_slugs: list[str]) -> Iterator[Table]:
    """The memberships as tables of ``LIST_PAGE`` rows that read as one: a list of one page as
    rich lays it out; a longer one without the outer frame, the header on the first page only,
    every page with the same widths (a value longer than its column folds within it)."""
    pages = iter(lambda: [_cells(member) for member in islice(members, LIST_PAGE)], [])
    first = next(pages, [])
    second = next(pages, []) if first else []
    if not second:
        yield _membership_table(first)
        return
    widths = _page_widths(first, list_slugs)
    yield _membership_table(first, widths=widths, header=True)
    yield _membership_table(second, widths=widths)
    for page in pages:
        yield _membership_table(page, widths=widths)


def _page_widths(first: list[list[str]], list_slugs: list[str]) -> list[int]:
    """The widths of the columns of every page: the words of the service's own vocabulary at
    their longest, the addresses and names of the first page with a quarter more room (and
    room for a name at least, should the first page have none)."""

    def longest(column: int) -> int:
        return max(cell_len(Text.from_markup(row[column]).plain) for row in first)

    free_text = [longest(column) + longest(column) // 4 for column in (0, 1)]
    return [
        *(max(width, _FREE_TEXT_WIDTH) for width in free_text),
        max(len(slug) for slug in ["list", *list_slugs, *(row[2] for row in first)]),
        max(len(word) for word in ("status", *STATUSES)),
        max(len(word) for word in ("channel", *CHANNELS, UNRECORDED)),
        len("YYYY-MM-DD HH:MM"),
        max(len(word) for word in ("suppressed", *REASONS)),
    ]


def _cells(member: Membership) -> list[str]:
    return [
        shown(as_written(member.email)),
        shown(member.name or ""),
        shown(member.list_slug),
        member.status,
        member.channel,
        f"{member.changed_at:%Y-%m-%d %H:%M}",
        member.suppressed or "",
    ]


def _membership_table(
    rows: list[list[str]], *, widths: list[int] | None = None, header: bool = False
) -> Table:
    """One page: framed and laid out by rich when ``widths`` is None (the whole list)."""
    if widths is None:
        table = Table(show_header=True, header_style="bold")
        # An address or a name longer than its column (a sign-up form takes any) is folded
        # onto the next lines, never cut: an address cut short names no one, and the operator
        # copies it into the next command. On a narrow terminal the other values wrap too.
        email, name, *others = MEMBERSHIP_COLUMNS
        table.add_column(email, overflow="fold", ratio=3)
        table.add_column(name, overflow="fold", ratio=2)
        for column in others:
            table.add_column(column, overflow="fold")
    else:
        table = Table(show_header=header, header_style="bold", show_edge=False)
        for column, width in zip(MEMBERSHIP_COLUMNS, widths, strict=True):
            table.add_column(column, width=width, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


@subscribers_app.command("remove")
def remove_subscriber(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The address (any case).")],
    list_slug: Annotated[str, typer.Option("--list", help="The list (its slug).")],
) -> None:
    """Unsubscribe EMAIL from a list (channel "operator"): no import brings them back; the copy
    of an edition being delivered is skipped."""
    settings = load_config()
    known_list(settings, list_slug)
    [digest_list] = [entry for entry in settings.lists if entry.slug == list_slug]
    address = _address(email)
    now = SystemClock().now()
    with _store(settings) as (store, _):
        subscriber = store.subscriber_by_email(address)
        # A list renamed since the last cycle holds its members under its former slug until
        # the next cycle carries them over (keeping an unsubscribe over anything else).
        if subscriber is None or not any(
            store.unsubscribe(subscriber.id, slug, now, "operator")
            for slug in slugs_and_previous(digest_list)
        ):
            errors.print(
                f"[red]{escape(address)} is not a member of list {escape(list_slug)}[/]: "
                "see digest subscribers list --list " + escape(list_slug),
                highlight=False,
            )
            raise typer.Exit(1)
    console.print(f"{escape(address)} unsubscribed from list {escape(list_slug)}.", highlight=False)


@subscribers_app.command("suppress")
def suppress_address(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The address (any case).")],
    reason: Annotated[
        str, typer.Option("--reason", help=f"Why: {', '.join(SUPPRESS_REASONS)}.")
    ] = "operator",
) -> None:
    """Stop all mail to EMAIL, from every list, now and at any later import."""
    if reason not in SUPPRESS_REASONS:
        errors.print(
            f"[red]Unknown reason {escape(repr(reason))}[/]: use one of "
            f"{', '.join(SUPPRESS_REASONS)} (to erase a person, digest subscribers forget)",
            highlight=False,
        )
        raise typer.Exit(2)
    settings = load_config()
    address = _address(email)
    with _store(settings) as (store, key):
        now = SystemClock().now()
        new = store.suppress(address, key, reason, "operator", now)
    said = "suppressed for every list" if new else "was suppressed already"
    console.print(f"{escape(address)} {said}.", highlight=False)


@subscribers_app.command("audit")
def audit(
    minutes: Annotated[
        int,
        typer.Option(
            help="How close together the unsubscribes of a burst are.",
            min=1,
            max=AUDIT_DAYS * 24 * 60,
        ),
    ] = 10,
    threshold: Annotated[
        int, typer.Option(help="How many unsubscribes from one domain make a burst.", min=2)
    ] = 5,
    days: Annotated[int, typer.Option(help="How far back to look.", min=1, max=AUDIT_DAYS)] = 30,
) -> None:
    """Flag bursts of unsubscribes from one domain within minutes: what a link scanner that
    follows every link of a mail looks like. Exits 1 when it finds one, for monitoring."""
    settings = load_config()
    since = SystemClock().now() - timedelta(days=days)
    with _store(settings) as (store, _):
        history = store.unsubscribe_history(since)
    bursts = find_bursts(history, minutes=minutes, threshold=threshold)
    console.print(
        f"{english_count(len(history), 'unsubscribe', 'unsubscribes')} in the last "
        f"{english_count(days, 'day', 'days')}; {english_count(len(bursts), 'burst', 'bursts')} "
        f"of {threshold} or more from one domain within "
        f"{english_count(minutes, 'minute', 'minutes')}.",
        highlight=False,
    )
    if not bursts:
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("domain", "from", "to", "unsubscribes", "lists", "channels"):
        table.add_column(column)
    for burst in bursts:
        table.add_row(
            escape(burst.domain),
            f"{burst.start.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            f"{burst.end.astimezone(UTC):%H:%M:%S}",
            str(burst.count),
            ", ".join(burst.lists),
            ", ".join(f"{channel} {count}" for channel, count in burst.channels),
        )
    console.print(table)
    raise typer.Exit(1)


@subscribers_app.command("export-person")
def export_person(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The address (any case).")],
) -> None:
    """Everything held on one person, as JSON: subscriber, memberships, history, suppression,
    deliveries, bounces and complaints (for a subject access request)."""
    settings = load_config()
    with _store(settings) as (store, key):
        held = privacy.export_person(store, key, email)
    sys.stdout.write(json_text(held) + "\n")


@subscribers_app.command("forget")
def forget_person(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The address (any case).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase one person (a right-to-erasure request): their address, name and timezone, the
    error texts of their deliveries, their lines in the suppression file. A keyed hash of the
    address is kept so they are never imported or mailed again."""
    settings = load_config()
    if not yes and not typer.confirm(f"Erase everything held on {email}?"):
        raise typer.Exit(1)
    with _store(settings) as (store, key):
        done = privacy.forget(settings, store, key, email, SystemClock().now())
    found = "erased" if done.found else "not found; its key is kept all the same"
    console.print(
        f"{escape(email)}: {found}; "
        f"{english_count(done.memberships, 'membership', 'memberships')} ended, "
        f"{english_count(done.deliveries, 'delivery', 'deliveries')} anonymised, "
        f"{english_count(done.file_lines, 'line', 'lines')} taken out of "
        f"{escape(str(settings.service.suppression_path))}.",
        highlight=False,
    )
