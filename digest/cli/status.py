"""`digest status`: where the service's work stands; `digest deliveries retry`: release parked ones.

The report is a list of sections, each a record read from the store and a table drawn from it,
so that a later section (workers, queue depth) is one more pair of functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import JustifyMethod
from rich.table import Table

from digest.cli.app import app, configured_store, console, errors, load_config
from digest.cli.boundary import DigestTyper, json_text, shown
from digest.cli.service import QUEUE
from digest.clock import SystemClock
from digest.lists import list_for_slug
from digest.plurals import english_count
from digest.store import EditionDeliveries, ParkedDelivery, Store

if TYPE_CHECKING:
    from worker.inspect import ServiceState

deliveries_app = DigestTyper(help="Deliveries the ledger holds back.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")

PARKED_SHOWN = 50
# The largest edition number the store can hold (an INTEGER column on PostgreSQL): a larger one
# given on the command line reached the database and ended in its "integer out of range".
LARGEST_EDITION = 2**31 - 1


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What `digest status` shows; each field one section."""

    now: datetime
    editions: list[EditionDeliveries]
    parked: list[ParkedDelivery]
    parked_total: int
    service: ServiceState | None = None  # the distributed mode's workers and queue; None embedded
    settled_total: int = 0  # editions every delivery of which is settled, listed or not
    # The lists of editions in flight that are not in the config (nor a previous slug of a
    # list): no run sends them, so their editions are held, not in flight.
    held_lists: frozenset[str] = frozenset()


def edition_state(edition: EditionDeliveries, report: StatusReport) -> str:
    """What the report calls the edition: in flight (deliveries pending), held (pending, its
    list outside the config), or, every delivery settled, what became of its copies: sent
    (none failed or parked), partly sent, or not sent (none went, some failed or parked); none
    to send when it had no copy to send at all (no reader, or every one skipped). "sent" for
    every settled edition told the operator that readers had an edition none of whose copies
    went. Past retention when its settled copies were deleted (digest.retention): its counts
    no longer say what went."""
    if edition.status == "ready":
        return "held" if edition.list_slug in report.held_lists else "in flight"
    if edition.pruned_at is not None:
        return "past retention"
    counts = edition.counts
    if not counts.sent and not counts.failed and not counts.parked:
        return "none to send"
    if not counts.failed and not counts.parked:
        return "sent"
    return "partly sent" if counts.sent else "not sent"


def read_status(
    store: Store, now: datetime, *, recent: int, parked: int | None = PARKED_SHOWN
) -> StatusReport:
    """The report; at most ``parked`` parked deliveries listed (None: all)."""
    listed, total = store.parked_deliveries(limit=parked)
    return StatusReport(
        now,
        store.edition_deliveries(recent=recent),
        listed,
        total,
        settled_total=store.settled_editions(),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def status_record(report: StatusReport) -> dict[str, Any]:
    """The report as `digest status --json` prints it."""
    return {
        "editions": [
            {
                "edition": edition.edition_id,
                "list": edition.list_slug,
                "slot": edition.slot.isoformat(),
                "built_at": edition.built_at.isoformat(),
                "status": edition_state(edition, report),
                "sent": edition.counts.sent,
                "pending": edition.counts.pending,
                "failed": edition.counts.failed,
                "parked": edition.counts.parked,
                "skipped": edition.counts.skipped,
                "next_retry_at": _iso(edition.next_retry_at),
            }
            for edition in report.editions
        ],
        "parked": [
            {
                "delivery": parked.delivery_id,
                "edition": parked.edition_id,
                "list": parked.list_slug,
                "email": parked.email,
                "attempts": parked.attempts,
                "unanswered_attempts": parked.unknown_attempts,
                "reason": parked.reason,
            }
            for parked in report.parked
        ],
        "parked_total": report.parked_total,
        "service": _service_record(report.service),
    }


def _service_record(state: ServiceState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    return {
        "workers": list(state.workers),
        "queue_waiting": state.queue.waiting if state.queue else None,
        "queue_in_hand": state.queue.in_hand if state.queue else None,
        "problem": state.problem,
        "eviction_policy": state.eviction_policy,
        "dropped_messages": dict(state.dropped),
    }


def _service_table(report: StatusReport) -> Table:
    state = report.service
    assert state is not None
    table = Table(title="Workers and queue", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("state", overflow="fold")
    if state.problem is not None:
        table.add_row("broker", f"[red]{shown(state.problem)}[/]")
        return table
    alive = f"{len(state.workers)} answering" if state.workers else "[red]none answering[/]"
    table.add_row("workers", alive + "".join(f"\n{shown(name)}" for name in state.workers))
    if state.queue is not None:
        table.add_row("queue", f"{state.queue.waiting} waiting, {state.queue.in_hand} in hand")
    if state.dropped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in state.dropped)
        dropped = sum(count for _, count in state.dropped)
        table.add_row(
            "dropped",
            f"[red]{english_count(dropped, 'task message', 'task messages')}[/] ({reasons})",
        )
    return table


_STATE_STYLE = {
    "in flight": "[yellow]{}[/]",
    "held": "[red]{}[/]",
    "partly sent": "[yellow]{}[/]",
    "not sent": "[red]{}[/]",
    "none to send": "[dim]{}[/]",
    "past retention": "[dim]{}[/]",
}


def _editions_table(report: StatusReport) -> Table:
    table = Table(title="Editions", show_header=True, header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("edition", "right"),
        ("list", "left"),
        ("slot (UTC)", "left"),
        ("status", "left"),
        ("sent", "right"),
        ("pending", "right"),
        ("failed", "right"),
        ("parked", "right"),
        ("skipped", "right"),
        ("next retry", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for edition in report.editions:
        counts = edition.counts
        retry = edition.next_retry_at
        state = edition_state(edition, report)
        table.add_row(
            str(edition.edition_id),
            edition.list_slug,
            edition.slot.strftime("%Y-%m-%d %H:%M"),
            _STATE_STYLE.get(state, "{}").format(state),
            str(counts.sent),
            str(counts.pending),
            f"[red]{counts.failed}[/]" if counts.failed else "0",
            f"[red]{counts.parked}[/]" if counts.parked else "0",
            str(counts.skipped),
            retry.strftime("%Y-%m-%d %H:%M") if retry and retry > report.now else "—",
        )
    return table


def _parked_table(report: StatusReport) -> Table:
    table = Table(
        title=f"Parked deliveries ({report.parked_total})", show_header=True, header_style="bold"
    )
    for column in ("edition", "list", "reader", "attempts", "why"):
        table.add_column(column, overflow="fold")
    for parked in report.parked:
        table.add_row(
            str(parked.edition_id),
            parked.list_slug,
            shown(parked.email),
            f"{parked.attempts} ({parked.unknown_attempts} unanswered)",
            # It quotes what a mail server said, as it came: an escape sequence in it would
            # be obeyed by the operator's terminal.
            shown(parked.reason),
        )
    return table


# The sections, in the order shown: (is there anything to show, its table).
SECTIONS: list[tuple[Callable[[StatusReport], bool], Callable[[StatusReport], Table]]] = [
    (lambda report: report.service is not None, _service_table),
    (lambda report: bool(report.editions), _editions_table),
    (lambda report: bool(report.parked_total), _parked_table),
]


def _no_edition_listed(report: StatusReport) -> str:
    """What stands for the editions table when it would be empty: no edition at all, or
    settled ones that ``--recent 0`` leaves out (which "No editions yet." denied). Settled,
    not "sent": some may have had every copy refused or parked."""
    if not report.settled_total:
        return "No editions yet."
    return (
        f"No edition in flight; {report.settled_total} settled "
        "([bold]digest status --recent N[/] lists the last N)."
    )


def _warn_of_eviction(broker: str, state: ServiceState | None) -> None:
    """A warning line for a broker that drops keys once full (on stderr, so that --json stays
    whole): the queue it holds could lose work without a trace."""
    if state is None or state.eviction_policy is None:
        return
    from worker.inspect import eviction_warning

    warning = eviction_warning(broker, state.eviction_policy)
    errors.print(f"[yellow]warning:[/] {shown(warning)}", highlight=False)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    recent: Annotated[
        int,
        typer.Option(
            help="How many settled editions to show besides those in flight.",
            min=0,
            max=LARGEST_EDITION,
        ),
    ] = 10,
) -> None:
    """Where the work stands: workers and queue (distributed mode), each edition in flight or
    recent, and the parked deliveries."""
    settings = load_config()
    with configured_store(settings) as store:
        listed = None if as_json else PARKED_SHOWN
        report = read_status(store, SystemClock().now(), recent=recent, parked=listed)
    held = {
        edition.list_slug
        for edition in report.editions
        if edition.status == "ready" and list_for_slug(settings, edition.list_slug) is None
    }
    report = replace(report, held_lists=frozenset(held))
    broker = settings.service.broker_url
    if broker is not None:
        from worker import runtime
        from worker.inspect import service_state

        runtime.configure(settings)
        report = replace(report, service=service_state(broker, QUEUE))
        _warn_of_eviction(broker, report.service)
    if as_json:
        print(json_text(status_record(report)))
        return
    for has_content, table in SECTIONS:
        if has_content(report):
            console.print(table(report))
    if not report.editions:
        console.print(_no_edition_listed(report))
    for list_slug in sorted(report.held_lists):
        errors.print(
            f"[yellow]warning:[/] the editions of {shown(repr(list_slug))} are held, not sent: "
            f"the list is not in {shown(str(settings.source))} (put it back, or name it in a "
            "list's previous_slugs).",
            highlight=False,
        )
    if report.parked_total:
        more = report.parked_total - len(report.parked)
        if more > 0:
            console.print(f"… and {more} more parked (digest status --json lists them all).")
        console.print(
            "A parked delivery's reader may have the message already: the server took it and "
            "the reply never came. Check the mail server's log, then send them again with "
            "[bold]digest deliveries retry EDITION[/]."
        )


@deliveries_app.command("retry")
def deliveries_retry(
    edition: Annotated[
        int,
        typer.Argument(
            metavar="EDITION", help="The edition's number (digest status).", max=LARGEST_EDITION
        ),
    ],
) -> None:
    """Send an edition's parked deliveries again at the next run (each may then arrive twice)."""
    settings = load_config()
    with configured_store(settings) as store:
        released = store.release_parked(edition)
        list_slug = store.edition_list(edition)
    if list_slug is None:  # a mistyped number was told it "has no parked deliveries"
        errors.print(f"No edition {edition} (digest status lists them).")
        raise typer.Exit(1)
    if not released:
        errors.print(f"Edition {edition} has no parked deliveries (see digest status).")
        raise typer.Exit(1)
    if list_slug is not None and list_for_slug(settings, list_slug) is None:
        # A run sends no edition of a list outside the config: "the next digest run sends
        # them" was never kept, and the edition stayed in flight in every status since.
        errors.print(
            "[yellow]warning:[/] released "
            f"{english_count(released, 'parked delivery', 'parked deliveries')} "
            f"of edition {edition}, "
            f"but its list {shown(repr(list_slug))} is not in {shown(str(settings.source))}: "
            "they are held, not sent, until the list is back (or a list names it in its "
            "previous_slugs).",
            highlight=False,
        )
        return
    console.print(
        f"Released {english_count(released, 'parked delivery', 'parked deliveries')} "
        f"of edition {edition}: the next "
        "[bold]digest run[/] sends them, again up to smtp.max_attempts times each."
    )
