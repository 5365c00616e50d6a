"""Delivering: a batch of an edition's ledger rows personalised and handed to the transport.

    deliver_batch(edition, ids)  due pending ledger rows no other batch holds ─► personalize
                                 (the edition's message compiled once per process,
                                 ``personalizer_for``) ─► transport ─► mark the copies sent, one
                                 UPDATE per RECORD_SENT_EVERY on a thread of its own (the
                                 connection never waits for the database), outlasting a database
                                 restart; failed attempts retried later, failed or parked
                                 (retries decides)

``deliver_batch`` is what the delivery task calls, and what each of the embedded mode's sending
processes runs (digest.sending).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from digest import jitter, retries
from digest.addresses import without_addresses
from digest.errors import DeliveryError, DeliveryTemporaryError, OutboxUnavailableError
from digest.mail.personalize import Personalizer
from digest.records import OutgoingMessage, Subscriber
from digest.refusals import count_refusals
from digest.services import Services
from digest.store import FailedAttempt
from digest.store.db import outlasting_outages
from digest.store.deliveries import DeliveryCounts
from digest.store.sent_marks import SentMarks

_log = logging.getLogger(__name__)


# The default of worker.batch_size: readers per delivery task.
DELIVERY_BATCH_SIZE = 500
# Copies sent are recorded on the ledger this many at a time within a batch, one short UPDATE
# each, while the next ones are sent.
RECORD_SENT_EVERY = 10
# Copies the server took that may not be on the ledger yet, at any moment of a batch: those of
# the UPDATE in flight and those gathering for the next. A process killed mid-batch sends these
# again (and the one or two on its wire).
UNRECORDED_AT_MOST = 2 * RECORD_SENT_EVERY
_CACHED = 2  # editions whose compiled message a process keeps


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    edition_id: int
    sent: int = 0
    failed: int = 0  # for good: refused (5xx), or out of retries
    skipped: int = 0  # marked skipped by this batch: the reader left, or was suppressed
    # Each failed copy's reason, by delivery and subscriber id with the reader's address left
    # out: the outcome is a task's result, which the worker logs and the result backend keeps.
    errors: list[str] = field(default_factory=list)
    retrying: int = 0  # a temporary failure or no reply: tried again in a later cycle
    parked: int = 0  # no reply, smtp.max_attempts times: not sent again (digest status)
    # The outbox folder's error that stopped the batch (full, read-only): every later batch
    # would meet it, so whoever runs the batches stops there (said once, the rest pending).
    outbox_unavailable: str | None = None
    # Rows of the batch that were not this one's to send: settled already (the batch handed
    # out again), another batch's at this moment, or waiting for their retry time. Not
    # skipped deliveries: counted so, each was counted again by every batch that saw it.
    passed_over: int = 0


def personalizer_for(services: Services, edition_id: int) -> Personalizer:
    """The edition's Personalizer, compiled once per ``services`` and kept for the next batch.

    A config reload builds new services, and the next batch then compiles afresh with the new
    settings (invariant 5). A stored edition never changes.
    """
    cached = services.personalizers
    personalizer = cached.get(edition_id)
    if personalizer is None:
        settings = services.settings
        rendered = services.store.rendered_edition(edition_id)
        personalizer = Personalizer(
            rendered,
            edition_id=edition_id,
            service=settings.service,
            digest_list=settings.list(rendered.list_slug),
            signer=services.signer,
            dkim=services.dkim,
            bounces=settings.bounces,
        )
        while len(cached) >= _CACHED:
            del cached[next(iter(cached))]
        cached[edition_id] = personalizer
    return personalizer


def deliver_batch(
    services: Services,
    edition_id: int,
    delivery_ids: Sequence[int],
    *,
    keep_going: Callable[[], bool] = lambda: True,
) -> DeliveryOutcome:
    """Send the due pending deliveries among ``delivery_ids``, marking each once the server
    took it.

    A failed attempt is recorded as ``digest.retries`` decides: a permanent failure fails the
    row; a temporary one leaves it pending until a backoff has passed, a bounded number of
    times (``smtp.max_retries``), then fails it; a copy whose reply never came (the server may
    have it) likewise, until ``smtp.max_attempts`` copies may have arrived: then the row is
    parked, and never sent again unless an operator releases it. A row is tried at most once
    per call, so a cycle sends at most one copy per reader. Rows another batch is sending at
    this moment (``Store.claimed``) are left to it and counted as passed over.

    ``keep_going`` is asked before each copy is made: once it says no, the batch makes no more,
    waits for the replies to those on the wire, records them, and leaves the rest pending.
    """
    with services.store.claimed(delivery_ids) as mine:
        outcome = _deliver_claimed(services, edition_id, mine, keep_going)
    return replace(outcome, passed_over=outcome.passed_over + len(set(delivery_ids)) - len(mine))


def due_batches(services: Services, edition_id: int, now: datetime | None) -> Iterator[list[int]]:
    """The ids of the edition's pending deliveries due at ``now`` (every one when None), a
    batch of ``worker.batch_size`` at a time; a retry set by a clock that ran fast is due."""
    return services.store.pending_delivery_batches(
        edition_id,
        services.settings.worker.batch_size,
        now,
        retries.longest_wait(services.settings.smtp),
    )


def _deliver_claimed(
    services: Services,
    edition_id: int,
    delivery_ids: Sequence[int],
    keep_going: Callable[[], bool],
) -> DeliveryOutcome:
    """``deliver_batch`` of rows no other batch is sending."""
    store = services.store
    personalizer = personalizer_for(services, edition_id)  # compiled once per services
    ready = store.deliveries_to_send(
        edition_id, delivery_ids, services.clock.now(), retries.longest_wait(services.settings.smtp)
    )
    failures = _Failures()
    sent, steps = _send(services, edition_id, personalizer, ready, failures, keep_going)
    readers = dict(ready)
    refused = [
        (readers[attempt.delivery_id], attempt.error)
        for attempt in failures.attempts
        if attempt.kind == "permanent" and attempt.delivery_id in readers
    ]
    if refused:  # counted on each reader, who is suppressed after smtp.suppress_after_refusals
        count_refusals(services, edition_id, refused)
    store.settle_edition(edition_id)
    verdicts = [step.verdict for _, step in steps]
    return DeliveryOutcome(
        edition_id,
        sent=sent,
        failed=verdicts.count("failed"),
        skipped=ready.skipped,
        errors=[
            _told_without_address(
                delivery_id, readers[delivery_id], failures.recipients[delivery_id], step.reason
            )
            for delivery_id, step in steps
        ],
        retrying=verdicts.count("retry"),
        parked=verdicts.count("parked"),
        passed_over=len(set(delivery_ids)) - len(ready) - ready.skipped,
    )


@dataclass(slots=True)
class _Failures:
    """The failed attempts of a batch, and per failed row the address as sent (it may differ
    from the one held, as an IDN domain)."""

    attempts: list[FailedAttempt] = field(default_factory=list)
    recipients: dict[int, str] = field(default_factory=dict)

    def add(self, delivery_id: int, error: DeliveryError) -> None:
        self.attempts.append(FailedAttempt(delivery_id, retries.kind_of(error), str(error)))
        self.recipients[delivery_id] = error.recipient


def _send(
    services: Services,
    edition_id: int,
    personalizer: Personalizer,
    ready: Sequence[tuple[int, Subscriber]],
    failures: _Failures,
    keep_going: Callable[[], bool],
) -> tuple[int, list[tuple[int, retries.NextStep]]]:
    """Hand a copy for each of the ``ready`` rows to the transport while ``keep_going``, and
    record what came of each: the copies recorded sent, and the retry step of each failure."""
    delivery_of: dict[str, int] = {}  # Message-ID -> ledger row, for the copies in flight
    rows = iter(ready)
    stopped = False  # by keep_going: the rows left stay pending, untried

    def copies() -> Iterator[OutgoingMessage]:
        nonlocal stopped
        # Made one at a time as the transport takes them: one that pipelines makes the next
        # copy while the server reads the last.
        for delivery_id, subscriber in rows:
            if not keep_going():
                stopped = True
                return
            try:
                message = personalizer.message_for(subscriber, services.clock.now())
            except DeliveryError as error:
                failures.add(delivery_id, error)
                continue
            delivery_of[message.message_id] = delivery_id
            services.send_rate.wait()  # smtp.send_rate, shared by every worker
            yield message

    recorder = SentRecorder(services, edition_id)
    unavailable: OutboxUnavailableError | None = None
    try:
        last_error: DeliveryError | None = None
        for message, error in services.transport.send_many(copies()):
            delivery_id = delivery_of.pop(message.message_id)
            if error is None:
                recorder.add(delivery_id, message.message_id)
            else:
                failures.add(delivery_id, error)
                last_error = error
        if last_error is not None and not stopped:
            # The transport stopped drawing at a failure every copy would meet (the server
            # unreachable, the login refused): the rows it left are retried on the same terms.
            for delivery_id, subscriber in rows:
                failures.add(
                    delivery_id, DeliveryTemporaryError(subscriber.email, last_error.reason)
                )
    except OutboxUnavailableError as error:
        unavailable = error  # raised on, with the copies written before it once recorded
        raise
    finally:
        # The rest of the batch, also when a crash unwinds it. A process killed outright never
        # gets here: the copies the server took and the ledger does not have yet (at most
        # UNRECORDED_AT_MOST) go again on resume, with the same Message-ID (invariant 3).
        recorder.finish()
        if unavailable is not None:
            unavailable.written = recorder.recorded
        now = services.clock.now()
        # Tried again too: should a commit's reply be what was lost, the retry counts one
        # attempt more, a lesser harm than a retry time never recorded.
        steps = outlasting_outages(
            lambda: services.store.record_failed_attempts(
                failures.attempts, _retry_decider(services, now)
            ),
            f"recording {len(failures.attempts)} failed attempts of edition {edition_id}",
        )
    return recorder.recorded, steps


def _told_without_address(
    delivery_id: int, subscriber: Subscriber, recipient: str, reason: str
) -> str:
    """A failed copy's ``reason`` (the ledger's: "ADDRESS: what went wrong", quoting the
    server, who may quote the address again) told by ids: "delivery 7 to subscriber 3: ..."."""
    told = reason.removeprefix(f"{recipient}: ")
    told = without_addresses(told, (subscriber.email, recipient), f"subscriber {subscriber.id}")
    return f"delivery {delivery_id} to subscriber {subscriber.id}: {told}"


class SentRecorder:
    """Records the copies a mail server took as sent, RECORD_SENT_EVERY to an UPDATE, on a
    thread of its own and one connection held for the batch (``SentMarks``): the next copies
    go out while the database commits the last ones. One UPDATE at most is in flight, so no
    more than UNRECORDED_AT_MOST taken copies are ever missing from the ledger.

    ``finish`` records the rest and waits. An UPDATE that failed (after outlasting an outage)
    raises there, or at the ``add`` after it, and ``finish`` tries its copies once more.
    """

    def __init__(self, services: Services, edition_id: int) -> None:
        self._services, self._edition_id = services, edition_id
        self._marks = SentMarks(services.store)
        self._gathering: list[tuple[int, str]] = []
        # The UPDATE on its way, and the copies it records.
        self._in_flight: tuple[Future[None], list[tuple[int, str]]] | None = None
        self._thread: ThreadPoolExecutor | None = None  # started at the first UPDATE
        self.recorded = 0

    def add(self, delivery_id: int, message_id: str) -> None:
        self._gathering.append((delivery_id, message_id))
        if len(self._gathering) >= RECORD_SENT_EVERY:
            self._hand_over()

    def finish(self) -> None:
        try:
            try:
                self._wait()
            finally:
                # What gathered, with the copies of a record that failed: the server took
                # them all the same, and each one recorded is one not sent twice.
                self._hand_over()
                self._wait()
        finally:
            thread, self._thread = self._thread, None
            if thread is not None:
                # The connection is closed on the thread that used it.
                thread.submit(self._marks.close).result()
                thread.shutdown(wait=True)

    def _hand_over(self) -> None:
        self._wait()  # one UPDATE in flight at most: the bound on what a kill sends again
        fresh, self._gathering = self._gathering, []
        if not fresh:
            return
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-ledger")
        self._in_flight = (self._thread.submit(self._record, fresh), fresh)

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is None:
            return
        done, copies = in_flight
        try:
            done.result()
        except BaseException:
            self._gathering[:0] = copies  # not on the ledger: ``finish`` tries them again
            raise

    def _record(self, fresh: list[tuple[int, str]]) -> None:
        now = self._services.clock.now()
        # Taken by the server: a database gone for a moment must not make them go again.
        outlasting_outages(
            lambda: self._marks(fresh, now),
            f"recording {len(fresh)} copies of edition {self._edition_id} as sent",
        )
        self.recorded += len(fresh)


def _retry_decider(
    services: Services, now: datetime
) -> Callable[[FailedAttempt, int, int], retries.NextStep]:
    policy = retries.RetryPolicy.from_settings(services.settings.smtp)

    def decide(attempt: FailedAttempt, failures: int, unknown: int) -> retries.NextStep:
        return retries.next_step(
            policy,
            attempt.kind,
            attempt.error,
            failures=failures,
            unknown=unknown,
            now=now,
            jitter=jitter.draw(),
        )

    return decide


def batches(ids: Sequence[int], size: int = DELIVERY_BATCH_SIZE) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def connections(services: Services) -> int:
    """How many messages go out at once: ``smtp.connections``; one for the outbox folder."""
    smtp = services.settings.smtp
    return smtp.connections if smtp is not None else 1


# ---------------------------------------------------------------------------------------------
# Progress, read from the ledger

FOLLOW_SECONDS = 0.5  # how often the ledger is read while copies go


@contextmanager
def following_the_ledger(
    counts: Callable[[], DeliveryCounts],
    progress: Callable[[DeliveryCounts], None] | None,
    every: float = FOLLOW_SECONDS,
) -> Iterator[None]:
    """Tell ``progress`` the ``counts`` (of the ledger) at the start, every ``every`` seconds
    while the block sends, from a thread of its own, and at its end. The ledger is read rather
    than the batches' outcomes: a batch of 500 copies (and the batches of the sending
    processes) would move a progress bar in one jump."""
    if progress is None:
        yield
        return

    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(every):
            try:
                progress(counts())
            except SQLAlchemyError:
                continue  # the database busy for a moment: the next reading tells

    progress(counts())
    follower = threading.Thread(target=follow, name="digest-delivery-progress", daemon=True)
    follower.start()
    try:
        yield
    finally:
        stop.set()
        follower.join()
    progress(counts())


def added_counts(counts: Iterable[DeliveryCounts]) -> DeliveryCounts:
    """The deliveries of several editions, counted as one."""
    listed = list(counts)
    return DeliveryCounts(
        **{
            name: sum(getattr(each, name) for each in listed)
            for name in (field.name for field in dataclasses.fields(DeliveryCounts))
        }
    )


def settled(counts: DeliveryCounts) -> int:
    """The deliveries whose fate is known: all but the pending ones."""
    return counts.sent + counts.failed + counts.skipped + counts.parked
