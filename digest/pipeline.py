"""The pipeline: every stage called in order, with the world passed in.

    poll_feed(feed)            fetch ─► parse + clean ─► store once, classified (one transaction)
    due_editions(now)          each list's latest cron slot that has no edition yet
    build_edition(list, slot)  window = (previous edition's sequence, committed sequence]
                               ─► candidates ─► compose ─► render once ─► store ─► queue deliveries
    deliver_batch(edition, ids)
                               due pending ledger rows ─► personalize (the edition's message
                               compiled once per process) ─► transport ─► mark the copies sent,
                               one UPDATE per RECORD_SENT_EVERY, outlasting a database restart;
                               failed attempts retried later, failed or parked
                               (digest.retries decides)
    due_feeds(now)             feeds whose next poll time (digest.polling) has come
    poll_feeds(feeds)          poll_feed on a thread pool, a few at a time per host; the fetches
                               overlap, the work between them takes turns (concurrency.cpu_turn)
    run_cycle(dispatcher)      carry renamed lists' history over and name the removed ones
                               (digest.lists), poll the due feeds, queue any edition stored but
                               never queued, build every due edition, deliver in batches
                               read from the ledger as they go, on smtp.connections processes
                               (digest.sending), and resume deliveries a crash left pending

The three stage functions are what the Celery tasks in ``worker/`` call; ``run_cycle`` hands them
to a ``Dispatcher``, which runs them in-process (embedded mode) or on workers (distributed mode).
Building has no side effect but storing; sending comes last, so a retried task never sends twice.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy.exc import DataError, SQLAlchemyError

from digest import compose, lint, polling, retries, screening
from digest.concurrency import cpu_turn, run_per_host
from digest.config import IngestSettings, ListSettings
from digest.errors import (
    ConfigError,
    DeliveryError,
    FetchError,
    HeaderCheckError,
    ParseError,
    RenderError,
    without_password,
)
from digest.ingest import fetch_feed, parse_feed
from digest.ingest.isolation import parse_apart
from digest.ingest.parse import OutOfTime
from digest.lists import carry_over, slugs_and_previous
from digest.mail.personalize import fill_for_preview, personalize
from digest.mail.subscribers import read_subscriber_file, subscriber_file_warnings
from digest.records import (
    CycleSummary,
    Edition,
    FetchResult,
    OutgoingMessage,
    ParsedFeed,
    RenderedEdition,
    Subscriber,
)
from digest.schedule import latest_slot
from digest.sending import deliver_in_processes, personalizer_for, start_sending_processes
from digest.services import Services
from digest.store import FailedAttempt, FeedState, Store, SubscriberInput, UnchangedFetch
from digest.store.db import outlasting_outages
from digest.store.editions import EMPTY, READY
from digest.suppression import read_suppressions
from digest.unsubscribes import reconcile_suppressions

DELIVERY_BATCH_SIZE = 200
# Copies sent are recorded on the ledger this many at a time within a batch: a process killed
# mid-batch sends again at most these (and the one or two on the wire), at one short UPDATE each.
RECORD_SENT_EVERY = 20
_log = logging.getLogger(__name__)
_jitter = random.Random()  # spreads next poll and retry times; see digest.polling, .retries


def reseed_jitter() -> None:
    """A new seed for the jitter, in a process forked from another that drew from it."""
    _jitter.seed()


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed_id: int
    url: str
    new_articles: int = 0
    updated_articles: int = 0
    not_modified: bool = False  # a 304, or the very document stored last time
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    list_slug: str
    slot: str  # ISO 8601, UTC
    edition_id: int
    built: bool  # False when the edition of this slot existed already
    empty: bool
    article_count: int
    pending_deliveries: int = 0  # ledger rows of the edition still to send
    warnings: tuple[str, ...] = ()  # articles left out, subscriber rows refused: named


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    edition_id: int
    sent: int = 0
    failed: int = 0  # for good: refused (5xx), or out of retries
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    retrying: int = 0  # a temporary failure or no reply: tried again in a later cycle
    parked: int = 0  # no reply, smtp.max_attempts times: not sent again (digest status)


def outcome_to_dict(outcome: PollOutcome | BuildOutcome | DeliveryOutcome) -> dict[str, Any]:
    """A JSON-ready form, for task results that cross a broker."""
    return asdict(outcome)


# Polling ---------------------------------------------------------------------------------------


def poll_feed(
    services: Services,
    feed_id: int,
    feed: FeedState | None = None,
    unchanged: UnchangedFetches | None = None,
) -> PollOutcome:
    """Fetch one feed, store its new articles once each and file them under topics; record the
    poll on the feed with its next poll time (``digest.polling`` decides it).

    A feed's failure is recorded on the feed and returned, never raised: one bad feed must not stop
    the others. Only a failing store (the database itself) raises; a value from the feed that the
    database refuses (``DataError``) fails this feed only. The poll holds ``cpu_turn`` but while
    it waits (the fetcher's network waits, the parse of a large document in a parser process),
    so polls running at once overlap their waits only. ``feed`` is the feed's stored state when
    the caller has just read it, else it is read here; a poll that finds the feed unchanged is
    recorded with the others of ``unchanged`` when given, else at once.
    """
    with cpu_turn:
        return _poll_feed(services, feed_id, feed, unchanged)


def _poll_feed(
    services: Services,
    feed_id: int,
    feed: FeedState | None,
    unchanged: UnchangedFetches | None,
) -> PollOutcome:
    settings, now = services.settings, services.clock.now()
    unchanged = unchanged or UnchangedFetches(services.store, batch=1)
    if feed is None:
        feed = services.store.feed(feed_id)
    bounds = polling.bounds_for(settings.ingest, services.feed_settings(feed.url))
    try:
        try:
            result = fetch_feed(
                services.http,
                feed.fetch_url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                settings=settings.ingest,
            )
        except FetchError as error:
            return _record_poll_failure(services, feed, error, bounds, now)
        content_hash = _content_hash(result)
        if content_hash is not None and content_hash == feed.content_hash:
            # The very bytes stored last time, from a server that sends no validators (or
            # ignores them): nothing to read, as after a 304.
            return _take_in(services, feed, result, bounds, now, unchanged, same_document=True)
        # A large document is parsed in a parser process, bounded in time and memory, while
        # the other polls take their turns; a small one on this poll's turn.
        with cpu_turn.waiting():
            parsed = _parse_large_apart(settings.ingest, result, now)
        return _take_in(services, feed, result, bounds, now, unchanged, parsed, content_hash)
    except SQLAlchemyError as error:
        if not isinstance(error, DataError):
            raise  # the database failing is no feed's fault: the cycle stops and says so
        # A value the database refused (cleaning bounds every one it knows of): the feed's
        # content, not the database, so it fails this feed only; its transaction rolled back.
        _log.exception("the database refused a value from %s", without_password(feed.url))
        refused = ParseError(
            feed.url,
            f"the database refused a value from the feed ({error.orig}); nothing of this poll "
            "was stored, and the other feeds were polled",
        )
        return _record_poll_failure(services, feed, refused, bounds, now)
    except Exception as error:  # a bug met on one feed's content must not stop the others
        _log.exception("unexpected error while polling %s", without_password(feed.url))
        return _record_poll_failure(services, feed, error, bounds, now)


def _content_hash(result: FetchResult) -> str | None:
    """SHA-256 of the document fetched (None after a 304): the same bytes as a feed's last
    document need no parse, whatever validators the server sent."""
    return None if result.content is None else hashlib.sha256(result.content).hexdigest()


def _parse_large_apart(
    ingest: IngestSettings, result: FetchResult, now: datetime
) -> ParsedFeed | ParseError | None:
    """The parse of a document over ``ingest.parse_apart_above_bytes``, or its error; None for a
    smaller document (or none), which ``_take_in`` parses."""
    content = result.content
    if result.not_modified or content is None or len(content) <= ingest.parse_apart_above_bytes:
        return None
    try:
        return parse_apart(
            content,
            url=result.url,
            content_type=result.content_type,
            now=now,
            timeout=ingest.parse_timeout_seconds,
            memory_bytes=ingest.parse_memory_mb << 20,
        )
    except ParseError as error:
        return error


def _parse_in_poller(ingest: IngestSettings, result: FetchResult, now: datetime) -> ParsedFeed:
    """A document up to ``ingest.parse_apart_above_bytes``, parsed on this poll's turn; one not
    read within ``ingest.parse_in_poller_seconds`` is handed to a parser process, bounded by
    ``ingest.parse_timeout_seconds``, while the other polls take their turns (ParseError when
    that fails too).

    The poller cannot stop a parse midway, only check between its steps; a parser process can
    be stopped at any moment. Handing the document over, rather than keeping the entries read
    so far, stores all of them whenever the process reads it in time.
    """
    assert result.content is not None
    try:
        return parse_feed(
            result.content,
            url=result.url,
            content_type=result.content_type,
            now=now,
            deadline=time.monotonic() + ingest.parse_in_poller_seconds,
        )
    except OutOfTime as late:
        _log.info("%s; handing it to a parser process", late)
    with cpu_turn.waiting():
        return parse_apart(
            result.content,
            url=result.url,
            content_type=result.content_type,
            now=now,
            timeout=ingest.parse_timeout_seconds,
            memory_bytes=ingest.parse_memory_mb << 20,
        )


def _take_in(
    services: Services,
    feed: FeedState,
    result: FetchResult,
    bounds: polling.PollBounds,
    now: datetime,
    unchanged: UnchangedFetches,
    parsed_apart: ParsedFeed | ParseError | None = None,
    content_hash: str | None = None,
    *,
    same_document: bool = False,
) -> PollOutcome:
    """What ``poll_feed`` does with a fetched document: parse (unless ``parsed_apart`` holds the
    parse or its error), store and classify (one transaction), record the poll with the
    document's ``content_hash``. A 304, or the ``same_document`` as the last one stored, is only
    recorded, with the others of ``unchanged``."""
    store = services.store
    if result.not_modified or result.content is None or same_document:
        next_at = polling.next_poll_after_success(
            now, feed.entries_per_day, bounds, _jitter.random()
        )
        unchanged.add(UnchangedFetch(feed.id, result, now, next_at, feed.entries_per_day))
        return PollOutcome(feed.id, feed.url, not_modified=True)
    try:
        if isinstance(parsed_apart, ParseError):
            raise parsed_apart
        parsed = parsed_apart or _parse_in_poller(services.settings.ingest, result, now)
    except ParseError as error:
        return _record_poll_failure(services, feed, error, bounds, now)
    stored = store.store_entries(
        feed.id, parsed.entries, now, classify=services.classifier.classify
    )
    rate = polling.estimate_entries_per_day(
        (entry.published_at or entry.updated_at for entry in parsed.entries),
        now,
        previous=feed.entries_per_day,
        new_entries=len(stored.new),
        elapsed=now - feed.last_fetched_at if feed.last_fetched_at else None,
    )
    store.record_fetch(
        feed.id,
        result,
        parsed,
        now,
        next_poll_at=polling.next_poll_after_success(now, rate, bounds, _jitter.random()),
        entries_per_day=rate,
        new_entries=len(stored.new),
        content_hash=content_hash,
    )
    return PollOutcome(
        feed.id, feed.url, new_articles=len(stored.new), updated_articles=len(stored.updated)
    )


def _record_poll_failure(
    services: Services,
    feed: FeedState,
    error: Exception,
    bounds: polling.PollBounds,
    now: datetime,
) -> PollOutcome:
    status = error.status if isinstance(error, FetchError) else None
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    if isinstance(error, FetchError | ParseError):
        text = str(error)
    else:
        text = (
            f"{without_password(feed.url)}: unexpected error while polling "
            f"({type(error).__name__}: {error}); "
            "the other feeds were polled; the service log has the details"
        )
    disabled_reason = polling.disabled_reason_for(status, without_password(feed.url))
    next_at = None
    if disabled_reason is None:
        next_at = polling.next_poll_after_failure(
            now,
            feed.consecutive_errors + 1,
            bounds,
            _jitter.random(),
            retry_after=retry_after,
        )
    services.store.record_failure(
        feed.id, text, now, status, next_poll_at=next_at, disabled_reason=disabled_reason
    )
    if disabled_reason is not None:
        text = f"{text}; {disabled_reason}"
    return PollOutcome(feed.id, feed.url, error=text)


def due_feeds(services: Services, now: datetime, *, force: bool = False) -> list[FeedState]:
    """The configured feeds to poll now: enabled, not disabled by a 410, and due (every such feed
    when ``force``). A feed never polled is due, so a fresh install polls everything."""
    feeds = services.store.sync_feeds(services.settings.feeds, now)
    return [
        feed
        for feed in feeds
        if feed.pollable and (force or polling.is_due(feed.next_poll_at, now))
    ]


def poll_feeds(
    services: Services,
    feeds: Sequence[FeedState],
    poll: Callable[[int], PollOutcome] | None = None,
) -> Iterator[PollOutcome]:
    """Poll ``feeds`` (as ``due_feeds`` just read them) concurrently: ``ingest.max_concurrency``
    at once, at most ``ingest.per_host_concurrency`` per host; outcomes stream back as each
    poll ends.

    ``poll`` replaces ``poll_feed`` for each feed id (the Celery dispatcher runs it as a task).
    """
    ingest = services.settings.ingest
    unchanged = UnchangedFetches(services.store)
    work: Callable[[FeedState], PollOutcome] = (
        (lambda feed: poll_feed(services, feed.id, feed, unchanged))
        if poll is None
        else (lambda feed: poll(feed.id))
    )
    try:
        yield from run_per_host(
            ((urlsplit(feed.fetch_url).hostname or "", feed) for feed in feeds),
            work,
            max_workers=ingest.max_concurrency,
            per_host=ingest.per_host_concurrency,
        )
    finally:
        unchanged.flush()


class UnchangedFetches:
    """Polls that found their feed unchanged, recorded ``batch`` at a time in one transaction:
    a poll of a thousand unchanged feeds is then ten commits rather than a thousand (a commit
    was a sixth of such a poll's cost). Until its batch is written, ``digest feeds`` shows a
    feed's poll before; should the process stop first, the feed is only due again."""

    def __init__(self, store: Store, *, batch: int = 100) -> None:
        self._store = store
        self._batch = batch
        self._pending: list[UnchangedFetch] = []
        self._lock = threading.Lock()

    def add(self, fetch: UnchangedFetch) -> None:
        with self._lock:
            self._pending.append(fetch)
            if len(self._pending) < self._batch:
                return
            pending, self._pending = self._pending, []
        self._store.record_unchanged(pending)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self._store.record_unchanged(pending)


# Editions --------------------------------------------------------------------------------------


def due_editions(services: Services, now: datetime) -> list[tuple[str, datetime]]:
    """(list, slot) for every list whose latest scheduled slot has no edition yet.

    A list that never sent counts its latest slot as due, so a first run mails at once; missed
    slots are not replayed one by one: the next edition's window covers them.
    """
    due = []
    for digest_list in services.settings.lists:
        slot = latest_slot(digest_list.schedule, digest_list.timezone, now)
        if services.store.edition_for_slot(digest_list.slug, slot) is None:
            due.append((digest_list.slug, slot))
    return due


def forced_slot(services: Services, list_slug: str, now: datetime) -> datetime:
    """The slot for an edition asked for by hand: the latest scheduled one if it has not been
    built, else the current minute (an extra edition whose window continues from the last)."""
    digest_list = services.settings.list(list_slug)
    slot = latest_slot(digest_list.schedule, digest_list.timezone, now)
    if services.store.edition_for_slot(list_slug, slot) is None:
        return slot
    return now.replace(second=0, microsecond=0)


def sync_list_subscribers(services: Services, digest_list: ListSettings) -> list[str]:
    """Bring a list's members in step with its subscriber file and the suppression file before
    an edition is queued; returns warnings, never raises for a file's content.

    A bad row costs that row (its reader is left out, the rest imported); a file that cannot be
    read at all leaves the members as they were imported last (invariant 6).
    """
    settings = services.settings
    path = settings.config_path(digest_list.subscribers)
    keep = f"list {digest_list.slug!r} keeps its members as last imported"
    try:
        read = read_subscriber_file(path)
        suppressions = read_suppressions(settings.service.suppression_path)
    except ConfigError as error:
        return [f"{error} ({keep})"]
    synced = services.store.sync_subscribers(
        digest_list.slug,
        (SubscriberInput(row.email, row.name, row.timezone) for row in read.rows),
        services.clock.now(),
        suppressed=suppressions.for_list(slugs_and_previous(digest_list)),
    )
    warnings = subscriber_file_warnings(path, read.refused, digest_list.slug)
    if not read.rows and synced.removed:
        # Most likely a bad export: said loudly, since the next editions go to nobody.
        warnings.append(
            f"{path}: no subscribers in the file: {synced.removed} readers of list "
            f"{digest_list.slug!r} are left out of its next editions (copies already queued "
            "still go); restore the file to bring them back"
        )
    return warnings + [
        f"{settings.service.suppression_path}: {line}: {why} (the line is left out)"
        for line, why in suppressions.refused
    ]


def compose_next_edition(
    services: Services,
    digest_list: ListSettings,
    slot: datetime,
    now: datetime,
    window_seq: int,
    excluded: frozenset[int] = frozenset(),
) -> Edition:
    """The list's next edition: its window starts where the last edition's ended and ends at
    ``window_seq``, the article sequence read when the build began (digest.store.sequence),
    shown to readers as ending ``now``; the articles ``excluded`` (ids) are left out, as if the
    feeds had never sent them."""
    store = services.store
    previous = store.latest_edition(digest_list.slug)
    window_start = previous.window_end if previous is not None else None
    window_end = max(now, window_start) if window_start is not None else now
    after_seq = previous.window_seq if previous is not None else 0
    # Never behind the previous window, should a second build of another slot have raced ahead.
    window_seq = max(window_seq, after_seq)
    edition = compose.build_edition(
        digest_list,
        services.settings.topics,
        slot=slot,
        window_start=window_start,
        window_end=window_end,
        candidates=[
            candidate
            for candidate in store.candidates(digest_list.topics, after_seq, window_seq)
            if candidate.article.id not in excluded
        ],
    )
    return replace(edition, window_seq=window_seq)


def build_edition(services: Services, list_slug: str, slot: datetime) -> BuildOutcome:
    """Compose, render and store the edition of (list, slot), and queue one delivery per member.

    Building a slot that was built before returns the stored edition (invariant 2).
    """
    store, settings, now = services.store, services.settings, services.clock.now()
    digest_list = settings.list(list_slug)
    existing = store.edition_for_slot(list_slug, slot)
    warnings: tuple[str, ...] = ()
    if existing is None:
        # Read once: a recomposition without a refused article keeps the same window.
        window_seq = store.article_sequence()
        edition = compose_next_edition(services, digest_list, slot, now, window_seq)
        send = not edition.is_empty or digest_list.send_when_empty
        rendered = None
        if send:
            # Before anything is stored or queued: a refused edition is built again next tick;
            # an article whose text broke the headers is left out and the rest goes out.
            screened = screening.screen_edition(
                edition,
                render=lambda draft: services.renderer.render(draft, digest_list),
                check=lambda rendering: check_edition(services, rendering, digest_list),
                compose_without=lambda ids: compose_next_edition(
                    services, digest_list, slot, now, window_seq, ids
                ),
            )
            edition, rendered, warnings = screened.edition, screened.rendered, screened.warnings
            for warning in warnings:
                _log.warning("%s", warning)
            if edition.is_empty and not digest_list.send_when_empty:
                rendered = None  # every article was left out: an empty edition, not sent
        state, built = store.save_edition(edition, rendered, now)
    else:
        state, built = existing, False
    outcome = BuildOutcome(
        list_slug=list_slug,
        slot=slot.isoformat(),
        edition_id=state.id,
        built=built,
        empty=state.status == EMPTY,
        article_count=state.article_count,
        warnings=warnings,
    )
    if state.status != READY:
        return outcome
    # Also when the edition existed: a crash between storing it and queueing must not leave its
    # members without their copy (run_cycle builds again each edition never queued). Queueing
    # adds only the rows that are missing, and marks the edition queued.
    file_warnings = sync_list_subscribers(services, digest_list)
    store.queue_deliveries(state.id, list_slug, services.clock.now())
    return replace(
        outcome,
        pending_deliveries=store.delivery_counts(state.id).pending,
        warnings=(*outcome.warnings, *file_warnings),
    )


def render_preview(services: Services, list_slug: str) -> RenderedEdition:
    """The edition ``list_slug`` would send now, placeholders unfilled; nothing is stored."""
    digest_list = services.settings.list(list_slug)
    now = services.clock.now()
    edition = compose_next_edition(
        services, digest_list, now, now, services.store.article_sequence()
    )
    return services.renderer.render(edition, digest_list)


def preview_edition(services: Services, list_slug: str) -> RenderedEdition:
    """The edition ``list_slug`` would send now, for a reader with no name; nothing is stored."""
    settings = services.settings
    rendered = render_preview(services, list_slug)
    return fill_for_preview(
        rendered, service=settings.service, digest_list=settings.list(list_slug)
    )


SAMPLE_READER = "you@example.org"


def sample_message(
    services: Services, rendered: RenderedEdition, digest_list: ListSettings
) -> OutgoingMessage:
    """One personal copy of ``rendered`` for a made-up reader, to check and to preview."""
    reader = Subscriber(id=0, email=SAMPLE_READER, name=None, timezone=digest_list.timezone)
    return personalize(
        rendered,
        reader,
        edition_id=0,
        service=services.settings.service,
        digest_list=digest_list,
        signer=services.signer,
        now=services.clock.now(),
    )


def check_edition(
    services: Services, rendered: RenderedEdition, digest_list: ListSettings
) -> tuple[lint.Finding, ...]:
    """What ``digest.lint`` finds wrong with ``rendered``, seen through a sample personal copy.

    Headers that fail the mailer's own last check (``digest.mail.personalize``) are a finding
    too, so that the edition is refused, or the article at fault left out, like any other.
    """
    try:
        sample = sample_message(services, rendered, digest_list)
    except HeaderCheckError as error:
        return (lint.Finding("headers", f"the mailer's last check refused them: {error.problem}"),)
    return lint.lint_edition(
        rendered, sample, postal_address=services.settings.service.postal_address
    )


# Delivery --------------------------------------------------------------------------------------


def deliver_batch(
    services: Services, edition_id: int, delivery_ids: Sequence[int]
) -> DeliveryOutcome:
    """Send the due pending deliveries among ``delivery_ids``, marking each once the server
    took it.

    A failed attempt is recorded as ``digest.retries`` decides: a permanent failure fails the
    row; a temporary one leaves it pending until a backoff has passed, a bounded number of
    times (``smtp.max_retries``), then fails it; a copy whose reply never came (the server may
    have it) likewise, until ``smtp.max_attempts`` copies may have arrived: then the row is
    parked, and never sent again unless an operator releases it. A row is tried at most once
    per call, so a cycle sends at most one copy per reader. Rows another batch is sending at
    this moment (``Store.claimed``) are left to it and counted as skipped.
    """
    with services.store.claimed(delivery_ids) as mine:
        outcome = _deliver_claimed(services, edition_id, mine)
    return replace(outcome, skipped=outcome.skipped + len(set(delivery_ids)) - len(mine))


def _deliver_claimed(
    services: Services, edition_id: int, delivery_ids: Sequence[int]
) -> DeliveryOutcome:
    """``deliver_batch`` of rows no other batch is sending."""
    store = services.store
    personalizer = personalizer_for(services, edition_id)  # compiled once per services
    ready = store.deliveries_to_send(edition_id, delivery_ids, services.clock.now())
    sent: list[tuple[int, str]] = []
    recorded = 0  # of sent, those on the ledger already
    failures: list[FailedAttempt] = []
    delivery_of: dict[str, int] = {}  # Message-ID -> ledger row, for the copies in flight

    def fail(delivery_id: int, error: DeliveryError) -> None:
        failures.append(FailedAttempt(delivery_id, retries.kind_of(error), str(error)))

    def record_sent() -> None:
        nonlocal recorded
        if recorded < len(sent):
            fresh, now = sent[recorded:], services.clock.now()
            # Taken by the server: a database gone for a moment must not make them go again.
            outlasting_outages(
                lambda: store.mark_delivered_many(fresh, now),
                f"recording {len(fresh)} copies of edition {edition_id} as sent",
            )
            recorded = len(sent)

    def copies() -> Iterator[OutgoingMessage]:
        # Made one at a time as the transport takes them: one that pipelines makes the next
        # copy while the server reads the last.
        for delivery_id, subscriber in ready:
            try:
                message = personalizer.message_for(subscriber, services.clock.now())
            except DeliveryError as error:
                fail(delivery_id, error)
                continue
            delivery_of[message.message_id] = delivery_id
            yield message

    try:
        for message, error in services.transport.send_many(copies()):
            delivery_id = delivery_of.pop(message.message_id)
            if error is None:
                sent.append((delivery_id, message.message_id))
                if len(sent) - recorded >= RECORD_SENT_EVERY:
                    record_sent()
            else:
                fail(delivery_id, error)
    finally:
        # The rest of the batch, also when a crash unwinds it. A process killed outright never
        # gets here: the copies the server took since the last record go again on resume, with
        # the same Message-ID (invariant 3); recording every few copies keeps them few.
        record_sent()
        now = services.clock.now()
        # Tried again too: should a commit's reply be what was lost, the retry counts one
        # attempt more, a lesser harm than a retry time never recorded.
        steps = outlasting_outages(
            lambda: store.record_failed_attempts(failures, _retry_decider(services, now)),
            f"recording {len(failures)} failed attempts of edition {edition_id}",
        )
    store.settle_edition(edition_id)
    skipped = len(set(delivery_ids)) - len(ready)
    verdicts = [step.verdict for step in steps]
    return DeliveryOutcome(
        edition_id,
        sent=len(sent),
        failed=verdicts.count("failed"),
        skipped=skipped,
        errors=[step.reason for step in steps],
        retrying=verdicts.count("retry"),
        parked=verdicts.count("parked"),
    )


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
            jitter=_jitter.random(),
        )

    return decide


def _copies_ahead(services: Services, list_slugs: Sequence[str]) -> int:
    """About how many copies the editions of ``list_slugs`` will send: their lists' members,
    or, before a list's first edition, the lines of its subscriber file (counted, not read)."""
    members = services.store.members_of(list_slugs)
    if members > DELIVERY_BATCH_SIZE:
        return members
    lines = 0
    for slug in list_slugs:
        try:
            path = services.settings.config_path(services.settings.list(slug).subscribers)
            with path.open("rb") as file:
                lines += sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 16), b""))
        except (LookupError, OSError):
            continue  # the build says what is wrong with the list or its file
    return max(members, lines)


def batches(ids: Sequence[int], size: int = DELIVERY_BATCH_SIZE) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def connections(services: Services) -> int:
    """How many messages go out at once: ``smtp.connections``; one for the outbox folder."""
    smtp = services.settings.smtp
    return smtp.connections if smtp is not None else 1


# One cycle -------------------------------------------------------------------------------------


class Dispatcher(Protocol):
    """Runs the stage functions somewhere: in this process, or as tasks on workers."""

    def poll_feeds(self, feeds: Sequence[FeedState]) -> Iterable[PollOutcome]: ...

    def build_edition(self, list_slug: str, slot: datetime) -> BuildOutcome: ...

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

    def build_edition(self, list_slug: str, slot: datetime) -> BuildOutcome:
        return build_edition(self.services, list_slug, slot)

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
    polled = failed_feeds = new_articles = 0
    problems: list[str] = []
    for poll in dispatcher.poll_feeds(feeds):
        polled += 1
        new_articles += poll.new_articles
        if poll.error:
            failed_feeds += 1
            problems.append(poll.error)
        observer.advance("Polling feeds", poll.url)
    return CycleSummary(
        feeds_polled=polled,
        feeds_failed=failed_feeds,
        new_articles=new_articles,
        problems=tuple(problems),
    )


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
    store, settings = services.store, services.settings
    # Before anything is sent: an undeclared rename is refused (ConfigError), declared ones
    # carry their history over, and lists that left the config are named, held, every cycle.
    held = carry_over(settings, store, services.clock.now())
    held += reconcile_suppressions(settings, store, services.clock.now())
    polls = poll_cycle(services, dispatcher, force=force_poll, observer=observer)
    polled, failed_feeds, new_articles = polls.feeds_polled, polls.feeds_failed, polls.new_articles
    problems: list[str] = [*held, *polls.problems]

    now = services.clock.now()
    configured = {digest_list.slug for digest_list in settings.lists}
    # Editions stored but never queued (a build that stopped in between) go first, in order:
    # building a stored slot again only queues it.
    due = [
        (edition.list_slug, edition.slot)
        for edition in store.unqueued_editions()
        if edition.list_slug in configured
    ]
    if only_list is not None:
        due.append((only_list, forced_slot(services, only_list, now)))
    else:
        due += due_editions(services, now)  # slots with no edition: never one of the above
    if due and _copies_ahead(services, [slug for slug, _ in due]) > DELIVERY_BATCH_SIZE:
        # More than one batch to send: the sending processes start while editions are built.
        dispatcher.prepare_delivery()
    observer.stage("Building editions", len(due))
    built = skipped = 0
    for list_slug, slot in due:
        try:
            outcome = dispatcher.build_edition(list_slug, slot)
        except RenderError as error:  # that list's edition waits for a fix; the others go on
            problems.append(str(error))
            observer.advance("Building editions", list_slug)
            continue
        problems.extend(outcome.warnings)  # articles left out of it, named
        if outcome.empty:
            skipped += 1
        elif outcome.built:
            built += 1
        observer.advance("Building editions", list_slug)

    # The editions just built, and any a crash left pending, of the lists in the config (the
    # others' are held: carry_over named them). The ledger is read a batch at a time, so a list
    # of any size costs one batch of memory here.
    pending = {
        edition_id: store.delivery_counts(edition_id).pending
        for edition_id in store.editions_with_pending_deliveries(configured)
    }
    observer.stage("Delivering", sum(pending.values()))
    delivered = failed_messages = retrying = parked = 0
    due_at = services.clock.now()  # a delivery waiting to retry goes in a later cycle
    for edition_id in pending:
        ledger = store.pending_delivery_batches(edition_id, DELIVERY_BATCH_SIZE, due_at)
        for delivery in dispatcher.deliver(edition_id, ledger):
            delivered += delivery.sent
            failed_messages += delivery.failed
            retrying += delivery.retrying
            parked += delivery.parked
            problems.extend(delivery.errors)
            done = delivery.sent + delivery.failed + delivery.retrying + delivery.parked
            for _ in range(done + delivery.skipped):
                observer.advance("Delivering")

    return CycleSummary(
        feeds_polled=polled,
        feeds_failed=failed_feeds,
        new_articles=new_articles,
        editions_built=built,
        editions_skipped=skipped,
        messages_delivered=delivered,
        messages_failed=failed_messages,
        messages_retrying=retrying,
        messages_parked=parked,
        problems=tuple(problems),
    )
