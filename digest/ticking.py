"""One tick of the distributed mode: read the config afresh, find what is due, hand it out as tasks.

    beat ─► tick ─┬─► poll, one per due feed
                  ├─► publish, one per due (list, slot) ─► deliver, one per batch of its ledger rows
                  └─► deliver, per batch of the pending rows of an edition nobody is delivering
                      (a crash, a lost broker message): read from the ledger, not from task results

Nothing here waits on a task: a ``Fanout`` only sends. Work already handed out is not handed out
again while its ``Leases`` key lives (a poll, a build, an edition's delivery), so a tick every
minute does not pile copies of a slow task into the queue; a lease that lapses (its worker died)
lets the next tick hand the work out again. An edition's delivery lease also counts the batches
handed out under it and is let go when the last of them ends, so the deliveries that batch set
to retry later go at the first tick after their time, not when the lease would have lapsed.
Every task is idempotent besides: a feed polled twice stores each article once, a (list, slot)
built twice is one edition (invariant 2), and a ledger row goes out only while pending
(invariant 3).

Schedules are the project's own ``digest.schedule`` (DST-safe, keyed by (list, slot)), not Celery's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from digest import building, imports, pipeline
from digest.clock import Clock
from digest.config import Settings, load_settings
from digest.delivering import due_batches
from digest.errors import ConfigError, DigestError, OutboxUnavailableError
from digest.lists import carry_over
from digest.services import Services
from digest.topic_renames import carry_over_topics

_log = logging.getLogger(__name__)

# How long work handed out is taken as in hand. Each is above its task's time limit (see
# worker/tasks.py), so a live task is never doubled; every batch of an edition renews its lease.
POLL_LEASE_SECONDS = 300
BUILD_LEASE_SECONDS = 600
DELIVERY_LEASE_SECONDS = 1800
# A list's file imported by a task of its own: its limits are a delivery batch's (worker.app).
IMPORT_LEASE_SECONDS = DELIVERY_LEASE_SECONDS
# A feed being fetched right now: above the poll task's hard time limit (150 s), so the key of a
# poll that is still running never lapses, and one that was killed lapses soon after.
POLLING_SECONDS = 180
_BUILD_ATTEMPTS = 3


class Fanout(Protocol):
    """Sends tasks; never waits for one."""

    def poll(self, feed_id: int) -> None: ...

    def publish(self, list_slug: str, slot: datetime) -> None: ...

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None: ...

    def import_members(self, list_slug: str) -> None: ...


class Leases(Protocol):
    """Keys that say some work is in hand, each for a while (shared by all workers: Redis)."""

    def claim(self, key: str, seconds: int) -> bool:
        """True if ``key`` was free and is now held for ``seconds``; False if it is held."""
        ...

    def renew(self, key: str, seconds: int) -> None:
        """Hold ``key`` for ``seconds`` from now, held before or not."""
        ...

    def hold(self, key: str, seconds: int) -> None:
        """One more piece of work is in hand under ``key`` (held for ``seconds`` more)."""
        ...

    def release(self, key: str) -> None:
        """One piece of work under ``key`` is done; once none is left, ``key`` is free."""
        ...


class LocalLeases:
    """Leases held in this process, timed by ``clock``: for one process (and for tests)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._held: dict[str, tuple[datetime, datetime]] = {}  # key: (since, until)
        self._pieces: dict[str, int] = {}

    def claim(self, key: str, seconds: int) -> bool:
        now = self._clock.now()
        since, until = self._held.get(key, (now, now))
        # A lease taken after now was taken before the clock stepped back: how long ago is not
        # known, and counted on this clock it would hold its work back for the whole step.
        if since <= now < until:
            return False
        self.renew(key, seconds)
        return True

    def renew(self, key: str, seconds: int) -> None:
        now = self._clock.now()
        self._held[key] = (now, now + timedelta(seconds=seconds))

    def hold(self, key: str, seconds: int) -> None:
        self._pieces[key] = self._pieces.get(key, 0) + 1
        self.renew(key, seconds)

    def release(self, key: str) -> None:
        left = self._pieces.get(key, 0) - 1
        if left > 0:
            self._pieces[key] = left
        else:
            self._pieces.pop(key, None)
            self._held.pop(key, None)


@dataclass(frozen=True)
class TickOutcome:
    polls: int = 0
    publishes: tuple[tuple[str, str], ...] = ()  # (list, slot as ISO text)
    batches: int = 0  # delivery batches handed out again from the ledger
    problems: tuple[str, ...] = ()


def reload_settings(
    current: Settings, environ: Mapping[str, str], *, quiet: bool = False
) -> Settings:
    """The config as its file says now; ``current`` when the file is invalid (invariant 5).

    The refusal is logged with the file, the key and the reason (unless ``quiet``: someone
    else says it), and the previous settings stay in force until the file is fixed.
    """
    try:
        return load_settings(current.source, environ)
    except ConfigError as error:
        if not quiet:
            refuse_edit(error)
        return current


def refuse_edit(error: DigestError, log: logging.Logger = _log) -> None:
    """Log a config edit refused: the file, the key and the reason (or what the edit names
    that cannot be used, such as a database that cannot be opened)."""
    log.error("config edit refused, the previous settings stay in force:\n%s", error)


def delivery_key(edition_id: int) -> str:
    return f"deliver:{edition_id}"


def work_in_hand(key: str, seconds_left: int) -> str | None:
    """What the lease ``key`` says is being done now, for an operator (``digest db copy``
    refuses while any is): a delivery's batches queued or running, a feed being fetched, a
    list's file being imported; each lease is let go when its work ends. None for the leases
    of a poll or a build handed out (``poll:``, ``build:``), which are kept until they lapse,
    after the work too: they tell nothing of work still running."""
    kind, _, what = key.partition(":")
    lapses = (
        f"its lease lapses in {seconds_left // 60 + 1} min"
        if seconds_left >= 0
        else "its lease has no time limit"
    )
    if kind == "deliver":
        return f"the delivery of edition {what} (batches queued or running; {lapses})"
    if kind == "polling":
        return f"a poll of feed {what} ({lapses})"
    if kind == "import":
        return f"the import of list {what}'s subscriber file ({lapses})"
    return None


def tick(services: Services, fanout: Fanout, leases: Leases) -> TickOutcome:
    """Hand out the polls, builds and deliveries due now (``services.clock``), and nothing twice
    while it is in hand."""
    settings, store, now = services.settings, services.store, services.clock.now()
    try:
        # As run_cycle does before anything is sent: renames carried over, changed subscriber
        # files imported (a large one by a task of its own, see hand_out_imports), the
        # suppression file and the database in step.
        problems = carry_over(settings, store, now)
        warnings, too_large = pipeline.members_in_step(
            services, now, inline_bytes=imports.INLINE_IMPORT_BYTES
        )
        problems += warnings
        importing = hand_out_imports(fanout, leases, too_large)
        carry_over_topics(settings, store)
    except ConfigError as error:  # an undeclared rename: nothing goes out until it is declared
        _log.error("%s", error)
        return TickOutcome(problems=(str(error),))
    for problem in problems:
        _log.warning("%s", problem)

    polls = 0
    for feed in pipeline.due_feeds(services, now):
        key = f"poll:{feed.id}"
        if leases.claim(key, POLL_LEASE_SECONDS):
            _handed_out(leases, key, partial(fanout.poll, feed.id))
            polls += 1

    configured = {digest_list.slug for digest_list in settings.lists}
    # Editions stored but never queued first (a build that stopped in between), then due slots.
    due = [
        (edition.list_slug, edition.slot)
        for edition in store.unqueued_editions()
        if edition.list_slug in configured
    ] + pipeline.due_editions(services, now)
    publishes = []
    for list_slug, slot in due:
        if list_slug in importing:  # built once its members are in: at the tick after
            continue
        key = f"build:{list_slug}:{slot.isoformat()}"
        if leases.claim(key, BUILD_LEASE_SECONDS):
            _handed_out(leases, key, partial(fanout.publish, list_slug, slot))
            publishes.append((list_slug, slot.isoformat()))

    batches = 0
    for edition_id in store.editions_with_pending_deliveries(configured):
        batches += hand_out_deliveries(services, fanout, leases, edition_id)
    return TickOutcome(polls, tuple(publishes), batches, tuple(problems))


def import_key(list_slug: str) -> str:
    """The lease of a list's file being imported by a task of its own."""
    return f"import:{list_slug}"


def hand_out_imports(fanout: Fanout, leases: Leases, list_slugs: Iterable[str]) -> frozenset[str]:
    """Hand out an import task for each of ``list_slugs``, whose file changed since its last
    import and is too large to import within a tick (``imports.INLINE_IMPORT_BYTES``), one at a
    time per list; returns the lists whose import is in hand. Their editions wait for it: built
    from the members of half a file, they would miss the other half's readers."""
    importing = frozenset(list_slugs)
    for list_slug in sorted(importing):
        key = import_key(list_slug)
        if leases.claim(key, IMPORT_LEASE_SECONDS):
            _handed_out(leases, key, partial(fanout.import_members, list_slug))
    return importing


def import_members(services: Services, leases: Leases, list_slug: str) -> list[str]:
    """The import task: the list's file imported (``imports.import_list_file``), then its lease
    let go, so that the next tick builds the list's editions. Returns the warnings, also logged;
    a list that has left the config is nothing to import."""
    try:
        digest_list = next(
            (item for item in services.settings.lists if item.slug == list_slug), None
        )
        if digest_list is None:
            return []
        _, warnings = imports.import_list_file(
            services.settings,
            services.store,
            services.address_key,
            digest_list,
            services.clock.now(),
        )
        for warning in warnings:
            _log.warning("%s", warning)
        return warnings
    finally:
        leases.release(import_key(list_slug))


def _handed_out(
    leases: Leases, key: str, send: Callable[[], None], *, hold_for: int | None = None
) -> None:
    """``send`` the task of the work just claimed under ``key`` (with ``hold_for``: held under
    it once more for that many seconds first); when it is not taken (the broker away, Ctrl-C),
    the claim or hold is let go, so that the next tick hands the work out rather than the tick
    after its lease lapses (up to half an hour).

    The hold is taken inside: one broken off before its reply came (Ctrl-C, the broker gone)
    may have been counted, and one never let go kept the lease for its half hour. Let go when
    it was not counted, the lease may end early: a batch then handed out twice still sends
    each row once (``Store.claimed``), the lesser harm."""
    try:
        if hold_for is not None:
            leases.hold(key, hold_for)
        send()
    except BaseException:  # Ctrl-C too: a hold never let go keeps the lease half an hour
        leases.release(key)
        raise


def poll_alone(services: Services, leases: Leases, feed_id: int) -> pipeline.PollOutcome:
    """Poll the feed, unless another worker is polling it at this moment: then no request is
    made, and the outcome says ``elsewhere``. The tick's lease keeps a feed from being handed
    out twice, but not a poll task that waited in the queue past it from running beside the
    next one handed out: this does. The key is freed when the poll ends; a poll killed at its
    time limit never frees it, and it lapses after POLLING_SECONDS."""
    key = f"polling:{feed_id}"
    if not leases.claim(key, POLLING_SECONDS):
        _log.info("feed %d is being polled by another worker; this poll is dropped", feed_id)
        return pipeline.PollOutcome(feed_id, services.store.feed(feed_id).url, elsewhere=True)
    try:
        return pipeline.poll_feed(services, feed_id)
    finally:
        leases.release(key)


def publish(
    services: Services,
    fanout: Fanout,
    leases: Leases,
    list_slug: str,
    slot: datetime,
    *,
    by_hand: bool = False,
) -> pipeline.BuildOutcome:
    """Build the edition of (list, slot) and queue its ledger rows, then hand its deliveries out;
    ``by_hand``: an edition asked for now (``digest send``), not the schedule's.

    Run twice (at-least-once delivery of the task), the second run finds the stored edition and
    the delivery lease held: it hands out nothing.
    """
    stored = _again_if_raced(
        lambda: building.store_edition(services, list_slug, slot, by_hand=by_hand),
        list_slug,
        slot,
    )
    # Queued apart, so that the outcome still says this worker built the edition when the
    # queueing met the other worker's rows and had to run again.
    outcome = _again_if_raced(lambda: building.queue_edition(services, stored), list_slug, slot)
    for warning in outcome.warnings:
        _log.warning("%s", warning)
    # Every edition of the slot: a list read in each reader's timezone may have several.
    for edition in services.store.editions_of_slot(list_slug, slot):
        if services.store.delivery_counts(edition.id).pending:
            hand_out_deliveries(services, fanout, leases, edition.id)
    return outcome


def _again_if_raced(
    step: Callable[[], pipeline.BuildOutcome], list_slug: str, slot: datetime
) -> pipeline.BuildOutcome:
    """Run ``step`` again when another worker building the same slot at this moment stored a
    row it was storing too (the edition, an imported reader, a ledger row): run again, it
    finds them."""
    for attempt in range(_BUILD_ATTEMPTS):
        try:
            return step()
        except IntegrityError:
            if attempt == _BUILD_ATTEMPTS - 1:
                raise
            _log.info("list %r, slot %s: built at the same time elsewhere; again", list_slug, slot)
    raise AssertionError("unreachable")


def hand_out_deliveries(services: Services, fanout: Fanout, leases: Leases, edition_id: int) -> int:
    """Send one deliver task per batch of the edition's due pending rows, unless its delivery is
    in hand already; returns the number of batches sent.

    Each batch sent holds the edition's lease once more and lets it go when it ends (``deliver``),
    and so does the hand-out itself while it sends them: a batch that ends before the next is
    sent cannot let the lease go early.
    """
    key = delivery_key(edition_id)
    if not leases.claim(key, DELIVERY_LEASE_SECONDS):
        return 0
    sent = 0
    try:
        # Held within the try: a hold broken off after it was counted is let go below.
        leases.hold(key, DELIVERY_LEASE_SECONDS)
        ledger = due_batches(services, edition_id, services.clock.now())
        for batch in ledger:
            # A batch not taken (the broker away, Ctrl-C) would never let its hold go.
            _handed_out(
                leases,
                key,
                partial(fanout.deliver, edition_id, batch),
                hold_for=DELIVERY_LEASE_SECONDS,
            )
            sent += 1
    finally:
        leases.release(key)
    return sent


def deliver(
    services: Services, leases: Leases, edition_id: int, delivery_ids: list[int]
) -> pipeline.DeliveryOutcome:
    """Deliver one batch handed out by ``hand_out_deliveries``, its edition's lease held while
    it runs and let go (for this batch) when it ends, however it ends."""
    key = delivery_key(edition_id)
    # The edition's delivery is in hand while its batches run: the tick leaves it alone.
    leases.renew(key, DELIVERY_LEASE_SECONDS)
    try:
        return pipeline.deliver_batch(services, edition_id, delivery_ids)
    except OutboxUnavailableError as error:
        # The batch's rows stay pending, no attempt counted: a later tick hands them out again.
        _log.error("edition %d: %s", edition_id, error)
        return pipeline.DeliveryOutcome(
            edition_id, sent=error.written, errors=[str(error)], outbox_unavailable=str(error)
        )
    finally:
        leases.release(key)
