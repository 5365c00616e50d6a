"""``digest send LIST [--wait]``: build a list's edition now and deliver it; with ``--wait``,
follow the delivery on the ledger until every copy is settled, then say how it went."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from digest.building import BuildOutcome
from digest.cli.app import app, console, errors, known_list, load_config, running
from digest.cli.boundary import sigterm_as_ctrl_c
from digest.config import Settings, entry_key
from digest.errors import BrokerUnavailableError, OutboxUnavailableError
from digest.plurals import english_count
from digest.send_now import send_now, settled, slot_counts, slot_to_send, total
from digest.services import Services
from digest.store.db import database_gave_way
from digest.store.deliveries import DeliveryCounts
from digest.ticking import Fanout, Leases

POLL_SECONDS = 0.5  # how often --wait reads the ledger


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _detail(counts: DeliveryCounts) -> str:
    return f"sent {counts.sent}, failed {counts.failed}, pending {counts.pending}"


def _follow(
    services: Services, list_slug: str, slot: datetime, broker_answers: Callable[[], None]
) -> DeliveryCounts:
    """Read the ledger of the slot's editions every POLL_SECONDS, drawing a bar, until nothing
    is pending; ``broker_answers`` raises when the broker has been gone too long to wait on."""
    counts = slot_counts(services, list_slug, slot)
    with _progress() as progress:
        bar = progress.add_task("Delivering", total=total(counts), detail=_detail(counts))
        while counts.pending:
            time.sleep(POLL_SECONDS)
            broker_answers()
            counts = slot_counts(services, list_slug, slot)
            progress.update(
                bar, completed=settled(counts), total=total(counts), detail=_detail(counts)
            )
    return counts


def _print_counts(counts: DeliveryCounts) -> None:
    """The outcome: sent, failed for good, skipped (the reader unsubscribed or was
    suppressed before their copy went), and parked when any are. Each named as `digest
    status`, its --json and the ledger name it: "suppressed" here counted the readers who
    unsubscribed too, and read as a second word for the status's "skipped"."""
    console.print(
        f"sent {counts.sent} / failed {counts.failed} / skipped {counts.skipped}"
        + (f" / parked {counts.parked} (see digest status)" if counts.parked else ""),
        highlight=False,
    )


def _nothing_due(services: Services, list_slug: str, slot: str) -> str:
    """Why an edition asked for at ``slot`` built nothing: the clock is behind the list's
    latest edition (whose window covers the slot), or every reader has had one since."""
    latest = services.store.latest_edition(list_slug)
    if latest is not None and latest.slot > datetime.fromisoformat(slot):
        return (
            f"Nothing to send: the latest edition of {escape(list_slug)} is for "
            f"{latest.slot.isoformat()}, later than this machine's clock ({slot}); "
            "is the clock behind?"
        )
    return (
        f"Nothing to send: every reader of {escape(list_slug)} has had an edition for {slot} "
        "or later."
    )


def _send_now(
    services: Services,
    list_slug: str,
    workers: tuple[Fanout, Leases] | None,
    progress: Callable[[DeliveryCounts], None],
) -> BuildOutcome:
    """``send_now``, with a broker lost on the way said in one line: what was stored waits on
    the ledger, and the first tick once the broker is back hands it out; and with Ctrl-C (or
    SIGTERM) once the edition is stored, where it stopped (``_stopped``): while this process
    sends it, how far it went; while the batches are handed out, that the delivery goes on."""
    slot = slot_to_send(services, list_slug)
    if workers is None:
        broker_errors: tuple[type[BaseException], ...] = ()
        stopped = ("sending", _the_next_run_sends_the_rest)
    else:
        from worker.inspect import BROKER_ERRORS

        broker_errors = BROKER_ERRORS
        stopped = ("handing out", _the_next_tick_hands_out_the_rest)
    try:
        return send_now(services, list_slug, workers=workers, progress=progress, slot=slot)
    except KeyboardInterrupt:
        _stopped(services, list_slug, slot, *stopped)
        raise  # the last words of every command stopped so: "Interrupted." or "Terminated."
    except (OutboxUnavailableError, OperationalError) as error:
        # The outbox's disk or the database's filled mid-edition, or the database was lost: its
        # error alone said to run this again, and `digest send` again builds a new edition and
        # leaves this one's pending readers to the next digest run, which nothing said. Not
        # for a statement the database refused (its schema not the code's): the next digest
        # run meets it too, and the error goes on alone, as in any command.
        if not isinstance(error, OperationalError) or database_gave_way(error):
            _stopped(services, list_slug, slot, *stopped)
        raise
    except broker_errors as error:
        broker = services.settings.service.broker_url or ""
        raise BrokerUnavailableError(
            broker,
            str(error),
            meanwhile="what was built waits on the ledger: the first tick once it is back "
            "hands it out (digest status shows it)",
        ) from error


def _the_next_run_sends_the_rest(counts: DeliveryCounts, several: bool) -> str:
    # The edition is stored and its rows pending: "Interrupted." alone left the operator to
    # guess whether anything went, and whether the rest would.
    return (
        f"sent {counts.sent}, pending {counts.pending}; the next digest run sends the pending ones"
    )


def _the_next_tick_hands_out_the_rest(counts: DeliveryCounts, several: bool) -> str:
    # The batches handed out are sent, and the hand-out let go of its share of the edition's
    # lease, so the first tick after them hands out the rest (or queues an edition stopped
    # before its rows were).
    return f"{'their' if several else 'its'} delivery goes on, the next tick hands out the rest"


def _the_workers_go_on(counts: DeliveryCounts, several: bool) -> str:
    # Every batch is with the workers: only the following stopped.
    return (
        f"sent {counts.sent}, pending {counts.pending}; "
        f"{'their' if several else 'its'} delivery goes on"
    )


def _stopped(
    services: Services,
    list_slug: str,
    slot: datetime,
    doing: str,
    what_follows: Callable[[DeliveryCounts, bool], str],
) -> None:
    """Ctrl-C (or SIGTERM), or a full disk, while ``doing`` the slot's editions: name them,
    and say how far their delivery went and what becomes of the rest (``what_follows``, told
    the slot's counts and whether there are several editions). The caller then lets the
    interrupt (or the disk's error) go on, to end as every command stopped so does
    ("Interrupted.", exit 130; "Terminated.", 143): what a service manager's log and a script
    look for. Before anything was stored there is nothing to say, and "Interrupted." alone is
    the truth."""
    try:
        editions = [edition.id for edition in services.store.editions_of_slot(list_slug, slot)]
        counts = slot_counts(services, list_slug, slot)
    except SQLAlchemyError:
        # The database gone away (what the operator may have stopped the send for), or a
        # session the interrupt broke off mid-call: nothing more to say. A bug goes through.
        return
    if not editions:
        return
    console.print(
        f"Stopped {doing} {_named(editions)} of {escape(list_slug)}: "
        f"{what_follows(counts, len(editions) > 1)} (digest status).",
        highlight=False,
    )


def _named(editions: list[int]) -> str:
    """The editions of a slot as a message names them: "edition 7", "editions 7, 8"."""
    numbers = ", ".join(str(edition) for edition in editions)
    return f"edition{'s' if len(editions) > 1 else ''} {numbers}"


@app.command()
def send(
    list_slug: Annotated[str, typer.Argument(metavar="LIST", help="The list's slug.")],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Follow the delivery until every copy is settled, then print counts."
        ),
    ] = False,
    give_up_after: Annotated[
        float | None,
        typer.Option(
            "--give-up-after",
            metavar="SECONDS",
            min=1,
            help="With --wait, in the distributed mode: how long to bear with a broker, or "
            "workers, that do not answer before saying so and exiting (the delivery waits on "
            "the ledger). Default: 10 s for a worker at start, 15 s once following.",
        ),
    ] = None,
) -> None:
    """Build LIST's edition now and deliver it: on the workers in the distributed mode
    (DIGEST_BROKER_URL), in this process otherwise."""
    settings = load_config()
    known_list(settings, list_slug)
    broker = settings.service.broker_url
    if broker is not None:
        from worker import runtime

        runtime.configure(settings)  # the Celery app that asks the workers, from these settings
        _require_the_workers(broker, wait, give_up_after)
    # SIGTERM ends it as Ctrl-C does: the copies sent here are recorded before it exits.
    with sigterm_as_ctrl_c(), running(settings) as services:
        built = _build_and_deliver(services, list_slug, distributed=broker is not None)
        for warning in built.warnings:
            errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        if built.edition_id is None:  # nothing was due at the slot: not for being empty
            console.print(_nothing_due(services, list_slug, built.slot), highlight=False)
            return
        if built.empty:
            console.print(_empty(settings, list_slug, built.slot), highlight=False)
            return
        slot = datetime.fromisoformat(built.slot)
        # Every edition of the slot, as the counts are: readers who chose some of the list's
        # topics, or read it in another timezone, have editions of their own. Named by the
        # one edition, "Edition 1: 6 deliveries" counted those of edition 2 too.
        editions = _named(
            [state.id for state in services.store.editions_of_slot(list_slug, slot)]
            or [built.edition_id]
        )
        named = editions.capitalize()  # at the head of a sentence: "Edition 7", "Editions 7, 8"
        counts = slot_counts(services, list_slug, slot)
        if not total(counts):
            console.print(_no_reader(named, list_slug), highlight=False)
        elif broker is None:  # sent already, here; a retry waits for digest run to send it
            _print_sent_here(named, list_slug, built, counts)
        elif not wait:
            console.print(_handed_out(named, list_slug, built), highlight=False)
        else:
            _follow_the_workers(services, broker, list_slug, slot, editions, give_up_after)


def _require_the_workers(broker: str, wait: bool, give_up_after: float | None) -> None:
    """Nothing is built for workers no one can reach; nor, to be followed, for none at all
    (without --wait, the batches wait in the queue for the workers to come)."""
    from worker.inspect import WORKER_PATIENCE_SECONDS, require_broker, require_workers

    if wait:
        require_workers(broker, patience=give_up_after or WORKER_PATIENCE_SECONDS)
    else:
        require_broker(broker)


def _build_and_deliver(services: Services, list_slug: str, distributed: bool) -> BuildOutcome:
    """``_send_now`` under a progress bar: the copies sent here, or the batches handed to the
    workers in the distributed mode."""
    workers = None
    if distributed:
        from worker import runtime
        from worker.fanout import CeleryFanout

        workers = (CeleryFanout(), runtime.leases())
    with _progress() as progress:
        bar = progress.add_task("Delivering", total=None, detail="")

        def advance(counts: DeliveryCounts) -> None:
            progress.update(
                bar, completed=settled(counts), total=total(counts), detail=_detail(counts)
            )

        return _send_now(services, list_slug, workers, advance)


def _empty(settings: Settings, list_slug: str, slot: str) -> str:
    # The key as the config reference and every other message spell it: lists[SLUG].
    lists = settings.lists
    slugs = [digest_list.slug for digest_list in lists]
    key = entry_key("lists", lists, slugs.index(list_slug))
    return (
        f"Nothing to send: the edition of {escape(list_slug)} for {slot} is empty "
        f"({escape(key)}.send_when_empty is false)."
    )


def _no_reader(named: str, list_slug: str) -> str:
    # No ledger row at all: "sent 0 / failed 0 / skipped 0" told of deliveries tried, and the
    # operator was left to guess why nothing went.
    return (
        f"{named} of {escape(list_slug)} went to no reader: the list has no "
        "confirmed member whose address is not suppressed "
        f"(digest subscribers list --list {escape(list_slug)})."
    )


def _print_sent_here(
    named: str, list_slug: str, built: BuildOutcome, counts: DeliveryCounts
) -> None:
    """The counts of a delivery this process made, and what waits for a retry."""
    if not built.built:
        # The minute's edition was found: its counts, printed bare, read as copies
        # sent again by this send, which sent only what was pending of it, if any.
        tried = built.pending_deliveries
        console.print(
            f"{named} of {escape(list_slug)} was built already (digest send "
            "builds one edition a minute): "
            + (
                f"the {english_count(tried, 'delivery', 'deliveries')} "
                "still pending were tried now, "
                if tried
                else "no delivery was pending, so "
            )
            + "none went again. In all:",
            highlight=False,
        )
    _print_counts(counts)
    if counts.pending:
        console.print(
            f"{english_count(counts.pending, 'delivery waits', 'deliveries wait')} "
            "to be tried again: digest run sends them "
            "at their time (digest status shows when).",
            highlight=False,
        )


def _handed_out(named: str, list_slug: str, built: BuildOutcome) -> str:
    """What became of a delivery handed to the workers, when not followed (--wait)."""
    if not built.built:
        # Sent twice in a minute: the minute's edition was found, its delivery in hand
        # already (the lease kept this run from handing out a batch again).
        return (
            f"{named} of {escape(list_slug)} was built already (digest send builds "
            f"one edition a minute): {built.pending_deliveries} of its deliveries are still "
            "pending, in the workers' hands; follow them with digest status "
            f"(or digest send {escape(list_slug)} --wait)."
        )
    return (
        f"{named} of {escape(list_slug)}: "
        f"{english_count(built.pending_deliveries, 'delivery', 'deliveries')} "
        "handed to the workers; follow them with digest status "
        f"(or digest send {escape(list_slug)} --wait next time)."
    )


def _follow_the_workers(
    services: Services,
    broker: str,
    list_slug: str,
    slot: datetime,
    editions: str,
    give_up_after: float | None,
) -> None:
    """--wait in the distributed mode: follow the ledger until every copy is settled, then
    print the counts."""
    from worker.inspect import BROKER_PATIENCE_SECONDS, BrokerWatch

    watch = BrokerWatch(
        broker,
        patience=give_up_after or BROKER_PATIENCE_SECONDS,
        meanwhile=f"the delivery of {editions} waits on the ledger: the first tick "
        "once the broker is back hands it out (digest status shows it)",
    )
    try:
        counts = _follow(services, list_slug, slot, watch.check)
    except KeyboardInterrupt:
        _stopped(services, list_slug, slot, "following", _the_workers_go_on)
        raise  # "Interrupted." (130), or "Terminated." (143) under SIGTERM
    _print_counts(counts)
