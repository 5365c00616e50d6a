"""The pipeline: every stage called in order, with the world passed in.

    poll_feed(feed)            fetch ─► parse + clean ─► store once ─► classify ─► store topics
    due_editions(now)          each list's latest cron slot that has no edition yet
    build_edition(list, slot)  window = (previous edition's end, now]
                               ─► candidates ─► compose ─► render once ─► store ─► queue deliveries
    deliver_batch(edition, ids)
                               pending ledger rows ─► personalize ─► transport ─► mark sent
    run_cycle(dispatcher)      poll every feed, build every due edition, deliver in batches
                               (and resume deliveries a crash left pending)

The three stage functions are what the Celery tasks in ``worker/`` call; ``run_cycle`` hands them
to a ``Dispatcher``, which runs them in-process (embedded mode) or on workers (distributed mode).
Building has no side effect but storing; sending comes last, so a retried task never sends twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from digest import compose, placeholders
from digest.config import ListSettings
from digest.errors import DeliveryPermanentError, DeliveryTemporaryError, FetchError, ParseError
from digest.ingest import fetch_feed, parse_feed
from digest.mail.personalize import personalize
from digest.mail.subscribers import read_subscriber_csv
from digest.records import CycleSummary, RenderedEdition
from digest.schedule import latest_slot
from digest.services import Services
from digest.store import SubscriberInput
from digest.store.editions import EMPTY

DELIVERY_BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed_id: int
    url: str
    new_articles: int = 0
    updated_articles: int = 0
    not_modified: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    list_slug: str
    slot: str  # ISO 8601, UTC
    edition_id: int
    built: bool  # False when the edition of this slot existed already
    empty: bool
    article_count: int
    pending_deliveries: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    edition_id: int
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


def outcome_to_dict(outcome: PollOutcome | BuildOutcome | DeliveryOutcome) -> dict[str, Any]:
    """A JSON-ready form, for task results that cross a broker."""
    return asdict(outcome)


# Polling ---------------------------------------------------------------------------------------


def poll_feed(services: Services, feed_id: int) -> PollOutcome:
    """Fetch one feed, store its new articles once each and file them under topics.

    A feed's failure is recorded on the feed and returned, never raised: one bad feed must not stop
    the others.
    """
    store, now = services.store, services.clock.now()
    feed = store.feed(feed_id)
    try:
        result = fetch_feed(
            services.http,
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            settings=services.settings.ingest,
        )
        if result.not_modified or result.content is None:
            store.record_fetch(feed_id, result, None, now)
            return PollOutcome(feed_id, feed.url, not_modified=True)
        parsed = parse_feed(
            result.content, url=result.url, content_type=result.content_type, now=now
        )
    except (FetchError, ParseError) as error:
        status = error.status if isinstance(error, FetchError) else None
        store.record_failure(feed_id, str(error), now, status=status)
        return PollOutcome(feed_id, feed.url, error=str(error))
    stored = store.store_entries(feed_id, parsed.entries, now)
    store.record_fetch(feed_id, result, parsed, now)
    classify_articles(services, [*stored.new, *stored.updated])
    return PollOutcome(
        feed_id, feed.url, new_articles=len(stored.new), updated_articles=len(stored.updated)
    )


def classify_articles(services: Services, article_ids: Sequence[int]) -> None:
    articles = services.store.articles(article_ids)
    services.store.set_topics(
        {article.id: services.classifier.classify(article) for article in articles}
    )


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


def sync_list_subscribers(services: Services, digest_list: ListSettings) -> None:
    """Bring a list's members in step with its subscriber file before an edition is queued."""
    path = services.settings.config_path(digest_list.subscribers)
    rows = read_subscriber_csv(path)
    services.store.sync_subscribers(
        digest_list.slug,
        (SubscriberInput(row.email, row.name, row.timezone) for row in rows),
        services.clock.now(),
    )


def build_edition(services: Services, list_slug: str, slot: datetime) -> BuildOutcome:
    """Compose, render and store the edition of (list, slot), and queue one delivery per member.

    Building a slot that was built before returns the stored edition (invariant 2).
    """
    store, settings, now = services.store, services.settings, services.clock.now()
    digest_list = settings.list(list_slug)
    existing = store.edition_for_slot(list_slug, slot)
    if existing is None:
        previous = store.latest_edition(list_slug)
        window_start = previous.window_end if previous is not None else None
        window_end = max(now, window_start) if window_start is not None else now
        edition = compose.build_edition(
            digest_list,
            settings.topics,
            slot=slot,
            window_start=window_start,
            window_end=window_end,
            candidates=store.candidates(digest_list.topics, window_start, window_end),
        )
        send = not edition.is_empty or digest_list.send_when_empty
        rendered = services.renderer.render(edition, digest_list) if send else None
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
    )
    if state.status == EMPTY:
        return outcome
    if built:
        sync_list_subscribers(services, digest_list)
        store.queue_deliveries(state.id, store.active_subscribers(list_slug))
    outcome.pending_deliveries.extend(store.pending_deliveries(state.id))
    return outcome


def preview_edition(services: Services, list_slug: str) -> RenderedEdition:
    """The edition ``list_slug`` would send now, for a reader with no name; nothing is stored."""
    store, settings, now = services.store, services.settings, services.clock.now()
    digest_list = settings.list(list_slug)
    previous = store.latest_edition(list_slug)
    window_start = previous.window_end if previous is not None else None
    edition = compose.build_edition(
        digest_list,
        settings.topics,
        slot=now,
        window_start=window_start,
        window_end=now,
        candidates=store.candidates(digest_list.topics, window_start, now),
    )
    rendered = services.renderer.render(edition, digest_list)
    filled = {
        placeholders.GREETING: "Hello,",
        placeholders.UNSUBSCRIBE_URL: f"{settings.service.base_url}/unsubscribe/preview",
        placeholders.SUBSCRIBER_EMAIL: "you@example.org",
    }
    html, text = rendered.html, rendered.text
    for marker, value in filled.items():
        html, text = html.replace(marker, value), text.replace(marker, value)
    return replace(rendered, html=html, text=text)


# Delivery --------------------------------------------------------------------------------------


def deliver_batch(
    services: Services, edition_id: int, delivery_ids: Sequence[int]
) -> DeliveryOutcome:
    """Send the pending deliveries among ``delivery_ids``, marking each once the server took it.

    A temporary failure leaves the row pending for the next attempt; a permanent one fails it.
    """
    store, settings = services.store, services.settings
    rendered = store.rendered_edition(edition_id)
    digest_list = settings.list(rendered.list_slug)
    ready = store.deliveries_to_send(edition_id, delivery_ids)
    sent = failed = 0
    errors: list[str] = []
    for delivery_id, subscriber in ready:
        try:
            message = personalize(
                rendered,
                subscriber,
                edition_id=edition_id,
                service=settings.service,
                digest_list=digest_list,
                signer=services.signer,
                now=services.clock.now(),
            )
            services.transport.send(message)
        except (DeliveryTemporaryError, DeliveryPermanentError) as error:
            permanent = isinstance(error, DeliveryPermanentError)
            store.mark_failed(delivery_id, str(error), permanent=permanent)
            failed += 1
            errors.append(str(error))
            continue
        store.mark_delivered(delivery_id, message.message_id, services.clock.now())
        sent += 1
    store.settle_edition(edition_id)
    skipped = len(set(delivery_ids)) - len(ready)
    return DeliveryOutcome(edition_id, sent=sent, failed=failed, skipped=skipped, errors=errors)


def batches(ids: Sequence[int], size: int = DELIVERY_BATCH_SIZE) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# One cycle -------------------------------------------------------------------------------------


class Dispatcher(Protocol):
    """Runs the stage functions somewhere: in this process, or as tasks on workers."""

    def poll_feeds(self, feed_ids: Sequence[int]) -> Iterable[PollOutcome]: ...

    def build_edition(self, list_slug: str, slot: datetime) -> BuildOutcome: ...

    def deliver(
        self, edition_id: int, batches: Sequence[list[int]]
    ) -> Iterable[DeliveryOutcome]: ...


class InlineDispatcher:
    """Calls the stage functions directly, one after the other."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def poll_feeds(self, feed_ids: Sequence[int]) -> Iterator[PollOutcome]:
        for feed_id in feed_ids:
            yield poll_feed(self.services, feed_id)

    def build_edition(self, list_slug: str, slot: datetime) -> BuildOutcome:
        return build_edition(self.services, list_slug, slot)

    def deliver(self, edition_id: int, batches: Sequence[list[int]]) -> Iterator[DeliveryOutcome]:
        for batch in batches:
            yield deliver_batch(self.services, edition_id, batch)


class CycleObserver(Protocol):
    """Told about progress, so a command line can draw it; every method may do nothing."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, name: str, detail: str = "") -> None: ...


class _Silent:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str, detail: str = "") -> None:
        pass


def run_cycle(
    services: Services,
    dispatcher: Dispatcher,
    *,
    only_list: str | None = None,
    observer: CycleObserver | None = None,
) -> CycleSummary:
    """Poll every enabled feed, build every edition that is due, deliver it, and say what happened.

    With ``only_list``, that list's edition is built now whether or not it is due.
    """
    observer = observer or _Silent()
    store, settings, now = services.store, services.settings, services.clock.now()
    problems: list[str] = []

    feeds = [feed for feed in store.sync_feeds(settings.feeds, now) if feed.enabled]
    observer.stage("Polling feeds", len(feeds))
    polled = failed_feeds = new_articles = 0
    for poll in dispatcher.poll_feeds([feed.id for feed in feeds]):
        polled += 1
        new_articles += poll.new_articles
        if poll.error:
            failed_feeds += 1
            problems.append(poll.error)
        observer.advance("Polling feeds", poll.url)

    now = services.clock.now()
    if only_list is not None:
        due = [(only_list, forced_slot(services, only_list, now))]
    else:
        due = due_editions(services, now)
    observer.stage("Building editions", len(due))
    built = skipped = 0
    to_deliver: dict[int, list[int]] = {}
    for list_slug, slot in due:
        outcome = dispatcher.build_edition(list_slug, slot)
        if outcome.empty:
            skipped += 1
        elif outcome.built:
            built += 1
        if outcome.pending_deliveries:
            to_deliver[outcome.edition_id] = outcome.pending_deliveries
        observer.advance("Building editions", list_slug)

    for edition_id in store.editions_with_pending_deliveries():  # resume what a crash left
        if edition_id not in to_deliver:
            to_deliver[edition_id] = store.pending_deliveries(edition_id)

    observer.stage("Delivering", sum(len(ids) for ids in to_deliver.values()))
    delivered = failed_messages = 0
    for edition_id, delivery_ids in to_deliver.items():
        for delivery in dispatcher.deliver(edition_id, list(batches(delivery_ids))):
            delivered += delivery.sent
            failed_messages += delivery.failed
            problems.extend(delivery.errors)
            for _ in range(delivery.sent + delivery.failed + delivery.skipped):
                observer.advance("Delivering")

    return CycleSummary(
        feeds_polled=polled,
        feeds_failed=failed_feeds,
        new_articles=new_articles,
        editions_built=built,
        editions_skipped=skipped,
        messages_delivered=delivered,
        messages_failed=failed_messages,
        problems=tuple(problems),
    )
