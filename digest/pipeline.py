"""One cycle of the service: the three stages called in order, with the world passed in.

    digest.ingesting   poll_feed(feed)            fetch ─► parse + clean ─► store once, classified
    digest.building    build_edition(list, slot)  window ─► compose ─► render once ─► store ─► queue
    digest.delivering  deliver_batch(edition, ids) personalize ─► transport ─► mark sent (or retry)

    run_cycle(dispatcher)  carry renamed lists' history over and name the removed ones
                           (digest.lists), import the lists' files that changed and bring the
                           suppression file in step (members_in_step), poll the due feeds, queue
                           any edition stored but never queued, build every due edition, deliver
                           in batches read from the ledger as they go, on smtp.connections
                           processes (digest.sending), and resume deliveries a crash left pending
    poll_cycle(dispatcher) the polls alone (``digest poll``)

The three stage functions are what the Celery tasks in ``worker/`` call; ``run_cycle`` hands them
to a ``Dispatcher``, which runs them in-process (embedded mode) or on workers (distributed mode).
In the distributed mode no cycle runs: beat's tick (digest.ticking) hands the same stages out as
tasks. Building has no side effect but storing; sending comes last, so a retried task never sends
twice. The stages' names are exported from here too, for the callers that drive a whole cycle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from digest.building import BuildOutcome, build_edition
from digest.delivering import (
    DELIVERY_BATCH_SIZE,
    DeliveryOutcome,
    added_counts,
    batches,
    connections,
    deliver_batch,
    due_batches,
    following_the_ledger,
    personalizer_for,
    settled,
)
from digest.due import due_editions, forced_slot
from digest.errors import OutboxUnavailableError, RenderError, SendingProcessLost
from digest.imports import import_list_files
from digest.ingesting import PollOutcome, UnchangedFetches, due_feeds, poll_feed, poll_feeds
from digest.lists import carry_over
from digest.previews import check_edition, preview_edition, render_preview, sample_message
from digest.records import (
    CycleSummary,
)
from digest.retention import prune_cycle
from digest.sending import deliver_in_processes, start_sending_processes
from digest.services import Services
from digest.shown import without_password
from digest.signup import lapse_unconfirmed
from digest.store import FeedState
from digest.store.deliveries import DeliveryCounts
from digest.topic_renames import carry_over_topics
from digest.unsubscribes import reconcile_suppressions
from digest.windows import compose_next_edition

__all__ = [
    "DELIVERY_BATCH_SIZE",
    "BuildOutcome",
    "DeliveryOutcome",
    "PollOutcome",
    "UnchangedFetches",
    "batches",
    "build_edition",
    "check_edition",
    "compose_next_edition",
    "connections",
    "deliver_batch",
    "due_editions",
    "due_feeds",
    "forced_slot",
    "personalizer_for",
    "poll_feed",
    "poll_feeds",
    "preview_edition",
    "render_preview",
    "sample_message",
]

_log = logging.getLogger(__name__)


def members_in_step(
    services: Services, now: datetime, *, inline_bytes: int | None = None
) -> tuple[list[str], frozenset[str]]:
    """At the start of a cycle, after renames are carried over: each list's file from the
    config imported if it changed since its last import (digest.imports), and the suppression
    file and the database brought in step (digest.unsubscribes). Returns warnings naming the
    file, the line and the list, and the lists whose changed file is larger than
    ``inline_bytes``: those are left for a task of their own (digest.ticking.hand_out_imports).
    Never raises for a file's content."""
    imported, warnings = import_list_files(
        services.settings, services.store, services.address_key, now, inline_bytes=inline_bytes
    )
    warnings += reconcile_suppressions(services.settings, services.store, services.address_key, now)
    # Suppressions kept before their mailbox's key was (or by a path without the secret key):
    # one indexed lookup that finds none once they have it.
    services.store.key_suppressions(services.address_key)
    lapse_unconfirmed(services, now)
    return warnings, frozenset(item.list_slug for item in imported if item.left_for_task)


def outcome_to_dict(outcome: PollOutcome | BuildOutcome | DeliveryOutcome) -> dict[str, Any]:
    """A JSON-ready form, for task results that cross a broker. A poll's feed is named with its
    password masked: the result is kept by the result backend, and the worker logs it (Celery
    writes each task's result into its log at INFO)."""
    record = asdict(outcome)
    if isinstance(outcome, PollOutcome):
        record["url"] = without_password(outcome.url)
    return record


def _copies_ahead(services: Services, list_slugs: Sequence[str]) -> int:
    """About how many copies the editions of ``list_slugs`` will send: their lists' confirmed
    members (the cycle imported their files before)."""
    return services.store.members_of(list_slugs)


class Dispatcher(Protocol):
    """Runs the stage functions somewhere: in this process, or as tasks on workers."""

    def poll_feeds(self, feeds: Sequence[FeedState]) -> Iterable[PollOutcome]: ...

    def build_edition(
        self, list_slug: str, slot: datetime, *, by_hand: bool = False
    ) -> BuildOutcome: ...

    def deliver(
        self, edition_id: int, batches: Iterable[list[int]]
    ) -> Iterable[DeliveryOutcome]: ...

    def prepare_delivery(self) -> None:
        """Deliveries are coming: start what sends them (it may do nothing)."""


class InlineDispatcher:
    """Calls the stage functions in this process: feeds polled concurrently, the rest in turn."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def poll_feeds(self, feeds: Sequence[FeedState]) -> Iterator[PollOutcome]:
        return poll_feeds(self.services, feeds)

    def build_edition(
        self, list_slug: str, slot: datetime, *, by_hand: bool = False
    ) -> BuildOutcome:
        return build_edition(self.services, list_slug, slot, by_hand=by_hand)

    def prepare_delivery(self) -> None:
        """The sending processes start while the editions are built."""
        start_sending_processes(self.services, connections(self.services))

    def deliver(self, edition_id: int, batches: Iterable[list[int]]) -> Iterator[DeliveryOutcome]:
        """Batches on ``smtp.connections`` worker processes, each with its own connection."""
        return deliver_in_processes(
            self.services,
            edition_id,
            batches,
            connections(self.services),
            lambda batch: deliver_batch(self.services, edition_id, batch),
        )


class CycleObserver(Protocol):
    """Told about progress, so a command line can draw it; every method may do nothing."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, name: str, detail: str = "") -> None: ...


class _Silent:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str, detail: str = "") -> None:
        pass


class _Bar:
    """One stage of an observer, advanced up to a count that may be told by two threads (the
    batches' outcomes here, the ledger's counts on the follower's): never back, never past
    ``total``."""

    def __init__(self, observer: CycleObserver, name: str, total: int) -> None:
        self._observer, self._name, self._total = observer, name, total
        self._shown = 0
        self._lock = threading.Lock()
        self.shown = not isinstance(observer, _Silent)  # a silent one needs no ledger read

    def reach(self, count: int) -> None:
        with self._lock:
            while self._shown < min(count, self._total):
                self._observer.advance(self._name)
                self._shown += 1


def poll_cycle(
    services: Services,
    dispatcher: Dispatcher,
    *,
    force: bool = False,
    observer: CycleObserver | None = None,
) -> CycleSummary:
    """Poll the feeds that are due (every enabled one when ``force``; still conditional GETs)."""
    observer = observer or _Silent()
    feeds = due_feeds(services, services.clock.now(), force=force)
    observer.stage("Polling feeds", len(feeds))
    polled = failed_feeds = new_articles = paused = 0
    problems: list[str] = []
    for poll in dispatcher.poll_feeds(feeds):
        if poll.paused:  # its host asked to wait: no request went out
            paused += 1
            observer.advance("Polling feeds", poll.url)
            continue
        polled += 1
        new_articles += poll.new_articles
        if poll.error:
            failed_feeds += 1
            problems.append(poll.error)
        observer.advance("Polling feeds", poll.url)
    return CycleSummary(
        feeds_polled=polled,
        feeds_paused=paused,
        feeds_failed=failed_feeds,
        new_articles=new_articles,
        problems=tuple(problems),
    )


# Problems reported per edition and cycle: a mail server down, or refusing every copy, fails
# each reader of the list alike, and thousands of lines of one reason would bury the rest.
SHOWN_DELIVERY_PROBLEMS = 10


def run_cycle(
    services: Services,
    dispatcher: Dispatcher,
    *,
    only_list: str | None = None,
    observer: CycleObserver | None = None,
    force_poll: bool = False,
) -> CycleSummary:
    """Poll the feeds that are due, build every edition that is due, deliver it, and say what
    happened.

    With ``only_list``, that list's edition is built now whether or not it is due; with
    ``force_poll``, every enabled feed is polled, due or not.
    """
    observer = observer or _Silent()
    # Before anything is sent: an undeclared rename is refused (ConfigError), declared ones
    # carry their history over, and lists that left the config are named, held, every cycle.
    held = carry_over(services.settings, services.store, services.clock.now())
    carry_over_topics(services.settings, services.store)
    held += members_in_step(services, services.clock.now())[0]
    polls = poll_cycle(services, dispatcher, force=force_poll, observer=observer)
    problems: list[str] = [*held, *polls.problems]
    built, skipped = _build_due(services, dispatcher, observer, problems, only_list=only_list)
    sent = _deliver_pending(services, dispatcher, observer, problems)
    # What is past the windows of [retention] goes, a bounded share at each cycle, once the
    # cycle's mail is out (digest.retention).
    prune_cycle(services.store, services.settings, services.clock.now())
    return CycleSummary(
        feeds_polled=polls.feeds_polled,
        feeds_paused=polls.feeds_paused,
        feeds_failed=polls.feeds_failed,
        new_articles=polls.new_articles,
        editions_built=built,
        editions_skipped=skipped,
        messages_delivered=sent.delivered,
        messages_failed=sent.failed,
        messages_retrying=sent.retrying,
        messages_parked=sent.parked,
        problems=tuple(problems),
    )


def _build_due(
    services: Services,
    dispatcher: Dispatcher,
    observer: CycleObserver,
    problems: list[str],
    *,
    only_list: str | None,
) -> tuple[int, int]:
    """Build every edition due (``only_list``'s now, due or not), adding each problem met to
    ``problems``: how many were built, and how many skipped as empty."""
    store, settings = services.store, services.settings
    now = services.clock.now()
    configured = {digest_list.slug for digest_list in settings.lists}
    # Editions stored but never queued (a build that stopped in between) go first, in order:
    # building a stored slot again only queues it.
    due = [
        (edition.list_slug, edition.slot)
        for edition in store.unqueued_editions()
        if edition.list_slug in configured
    ]
    asked: tuple[str, datetime] | None = None  # the edition asked for by hand
    if only_list is not None:
        asked = (only_list, forced_slot(services, only_list, now))
        due.append(asked)
    else:
        due += due_editions(services, now)  # slots with no edition: never one of the above
    # Several variants of one slot stored and not queued are one (list, slot) to build.
    due = list(dict.fromkeys(due))
    if due and _copies_ahead(services, [slug for slug, _ in due]) > settings.worker.batch_size:
        # More than one batch to send: the sending processes start while editions are built.
        dispatcher.prepare_delivery()
    observer.stage("Building editions", len(due))
    built = skipped = 0
    for list_slug, slot in due:
        try:
            outcome = dispatcher.build_edition(list_slug, slot, by_hand=(list_slug, slot) == asked)
        except RenderError as error:  # that list's edition waits for a fix; the others go on
            problems.append(str(error))
            observer.advance("Building editions", list_slug)
            continue
        # Articles left out of it, named; a file's problem the cycle's start said already is not
        # said twice.
        problems.extend(warning for warning in outcome.warnings if warning not in problems)
        if outcome.empty:
            skipped += 1
        elif outcome.built:
            built += 1
        observer.advance("Building editions", list_slug)
    return built, skipped


@dataclass(slots=True)
class _Sent:
    """The copies of a cycle's deliveries, by what became of them."""

    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    parked: int = 0


def _deliver_pending(
    services: Services, dispatcher: Dispatcher, observer: CycleObserver, problems: list[str]
) -> _Sent:
    """Deliver the editions just built, and any a crash left pending, of the lists in the
    config (the others' are held: carry_over named them), adding the problems met to
    ``problems``, at most ``SHOWN_DELIVERY_PROBLEMS`` an edition."""
    store = services.store
    configured = {digest_list.slug for digest_list in services.settings.lists}
    # The ledger is read a batch at a time, so a list of any size costs one batch of memory here.
    pending = {
        edition_id: store.delivery_counts(edition_id).pending
        for edition_id in store.editions_with_pending_deliveries(configured)
    }
    observer.stage("Delivering", sum(pending.values()))
    sent = _Sent()
    tried = 0
    outbox_problem: str | None = None
    due_at = services.clock.now()  # a delivery waiting to retry goes in a later cycle
    bar = _Bar(observer, "Delivering", sum(pending.values()))

    def ledger_counts() -> DeliveryCounts:
        return added_counts(store.delivery_counts(edition_id) for edition_id in pending)

    # The bar follows the copies as they reach the ledger, not a batch of 500 at a time.
    settled_before = settled(ledger_counts()) if bar.shown else 0
    following = (lambda counts: bar.reach(settled(counts) - settled_before)) if bar.shown else None
    with following_the_ledger(ledger_counts, following):
        for edition_id in pending:
            if outbox_problem is not None:
                break  # every edition would meet it: said once, all left pending
            ledger = due_batches(services, edition_id, due_at)
            told = untold = 0  # the edition's problems reported, and those past the bound
            try:
                for delivery in dispatcher.deliver(edition_id, ledger):
                    sent.delivered += delivery.sent
                    sent.failed += delivery.failed
                    sent.retrying += delivery.retrying
                    sent.parked += delivery.parked
                    shown = delivery.errors[: SHOWN_DELIVERY_PROBLEMS - told]
                    problems.extend(shown)
                    told += len(shown)
                    untold += len(delivery.errors) - len(shown)
                    # A copy to retry stays pending on the ledger: the bar counts it here.
                    tried += delivery.sent + delivery.failed + delivery.retrying
                    tried += delivery.parked + delivery.skipped + delivery.passed_over
                    bar.reach(tried)
                    if delivery.outbox_unavailable is not None:
                        # Met by a batch run as the task (digest run's lone sending process):
                        # every later batch met it again, each said so, and the cycle's
                        # problems repeated it once per batch.
                        outbox_problem = delivery.outbox_unavailable
                        break
            except SendingProcessLost as error:  # the edition's rest waits on the ledger; the
                problems.append(str(error))  # other editions go on, on new processes
            except OutboxUnavailableError as error:
                sent.delivered += error.written
                outbox_problem = str(error)
                problems.append(outbox_problem)
            if untold:
                problems.append(
                    f"edition {edition_id}: {untold} more copies failed or wait for a retry, "
                    "for reasons like those above; each one's is on its ledger row (digest "
                    "status)"
                )
    return sent
