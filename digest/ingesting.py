"""Polling: a feed fetched politely, parsed and cleaned, its new articles stored once.

    due_feeds(now)     feeds whose next poll time (digest.polling) has come
    poll_feed(feed)    fetch ─► parse + clean ─► store once, classified (one transaction)
    poll_feeds(feeds)  poll_feed on a thread pool, a few at a time per host; the fetches
                       overlap, the work between them takes turns (concurrency.cpu_turn)

A failed poll is recorded by ``digest.poll_failures``: when the feed is asked again, or whether
it is disabled. A host that answers one feed with a 429 or 503 and a Retry-After pauses every
feed it serves (``digest.host_pauses``).

``poll_feed`` is what the poll task of ``worker/`` calls.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.exc import DataError, SQLAlchemyError

from digest import jitter, polling
from digest.concurrency import cpu_turn, run_per_host
from digest.config import IngestSettings
from digest.errors import FetchError, ParseError
from digest.host_pauses import HostPauses, host_paused, put_off_host
from digest.ingest import fetch_feed, parse_feed, quirks
from digest.ingest.isolation import parse_apart
from digest.ingest.parse import OutOfTime
from digest.poll_failures import record_poll_failure
from digest.records import (
    Entry,
    FetchResult,
    ParsedFeed,
)
from digest.services import Services
from digest.shown import shown_address, without_password
from digest.store import FeedState, Store, UnchangedFetch
from digest.store.schema_lacks import driver_reason

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed_id: int
    url: str
    new_articles: int = 0
    updated_articles: int = 0
    not_modified: bool = False  # a 304, or the very document stored last time
    error: str | None = None
    elsewhere: bool = False  # not polled: another worker was polling the feed at that moment
    paused: bool = False  # not polled: its host asked to wait (a Retry-After on another feed)


def poll_feed(
    services: Services,
    feed_id: int,
    feed: FeedState | None = None,
    unchanged: UnchangedFetches | None = None,
    pauses: HostPauses | None = None,
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

    No request goes to a host that asked to wait (a 429 or 503 with Retry-After on any of its
    feeds): in this cycle's ``pauses``, or in the store; the outcome then says ``paused``.
    """
    with cpu_turn:
        return _poll_feed(services, feed_id, feed, unchanged, pauses)


def _poll_feed(
    services: Services,
    feed_id: int,
    feed: FeedState | None,
    unchanged: UnchangedFetches | None,
    pauses: HostPauses | None = None,
) -> PollOutcome:
    settings, now = services.settings, services.clock.now()
    unchanged = unchanged or UnchangedFetches(services.store, batch=1)
    if feed is None:
        feed = services.store.feed(feed_id)
    if host_paused(services, feed, feed.fetch_url, now, pauses):
        return PollOutcome(feed.id, feed.url, paused=True)
    bounds = polling.bounds_for(settings.ingest, services.feed_settings(feed.url))

    def before_redirect(target: str) -> None:
        # A feed whose address sends it on to a host that asked to wait (a CDN, its https
        # address on a 302) stops there: that host gets no request from this feed either.
        if host_paused(services, feed, target, now, pauses):
            raise _HeldBack

    try:
        try:
            result = fetch_feed(
                services.http,
                feed.fetch_url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                settings=settings.ingest,
                before_redirect=before_redirect,
                now=now,
            )
        except _HeldBack:
            return PollOutcome(feed.id, feed.url, paused=True)
        except FetchError as error:
            return _failed(feed, record_poll_failure(services, feed, error, bounds, now, pauses))
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
            f"the database refused a value from the feed ({driver_reason(error)}); nothing of "
            "this poll was stored, and the other feeds were polled",
        )
        return _failed(feed, record_poll_failure(services, feed, refused, bounds, now))
    except Exception as error:  # a bug met on one feed's content must not stop the others
        _log.exception("unexpected error while polling %s", without_password(feed.url))
        return _failed(feed, record_poll_failure(services, feed, error, bounds, now))


class _HeldBack(Exception):
    """A redirect led a poll to a host that asked to wait: the poll ends before asking it."""


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


def _without_outlet_in_titles(
    entries: Sequence[Entry], outlets: tuple[str | None, ...]
) -> Sequence[Entry]:
    """``entries`` without the outlet's name after their titles ("Truce holds | Gulf Wire"):
    read here, where the feed's name in the config is known (``quirks.title_without_outlet``)."""
    cut = [quirks.title_without_outlet(entry.title, outlets) for entry in entries]
    if all(title == entry.title for title, entry in zip(cut, entries, strict=True)):
        return entries
    return [
        entry if title == entry.title else replace(entry, title=title)
        for title, entry in zip(cut, entries, strict=True)
    ]


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
        next_at = polling.next_poll_after_success(now, feed.entries_per_day, bounds, jitter.draw())
        unchanged.add(UnchangedFetch(feed.id, result, now, next_at, feed.entries_per_day))
        return PollOutcome(feed.id, feed.url, not_modified=True)
    try:
        if isinstance(parsed_apart, ParseError):
            raise parsed_apart
        parsed = parsed_apart or _parse_in_poller(services.settings.ingest, result, now)
    except ParseError as error:
        # The server answered (200, or a whole 206): the feed's HTTP status says so.
        failure = _named_by_feed(error, feed)
        told = record_poll_failure(services, feed, failure, bounds, now, status=result.status)
        return _failed(feed, told)
    stored = store.store_entries(
        feed.id,
        _without_outlet_in_titles(parsed.entries, (feed.name, parsed.title)),
        now,
        classify=services.classifier.classify,
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
        next_poll_at=polling.next_poll_after_success(now, rate, bounds, jitter.draw()),
        entries_per_day=rate,
        new_entries=len(stored.new),
        content_hash=content_hash,
    )
    return PollOutcome(
        feed.id, feed.url, new_articles=len(stored.new), updated_articles=len(stored.updated)
    )


def _failed(feed: FeedState, told: str) -> PollOutcome:
    """The outcome of a poll that failed, as ``record_poll_failure`` told it."""
    return PollOutcome(feed.id, feed.url, error=told)


def _named_by_feed(error: ParseError, feed: FeedState) -> ParseError:
    """``error``, about the document a temporary redirect led to, named by the feed's own
    address, as a fetch's error is, and saying where the redirect led: `digest poll` prints
    the errors alone, and an address the operator never configured does not say which feed."""
    if error.url == feed.fetch_url:
        return error
    return ParseError(feed.fetch_url, f"redirected to {shown_address(error.url)}: {error.reason}")


def due_feeds(services: Services, now: datetime, *, force: bool = False) -> list[FeedState]:
    """The configured feeds to poll now: enabled, not disabled by a 410, and due (every such feed
    when ``force``). A feed never polled is due, so a fresh install polls everything; so is one
    put off to the end of its host's wait counted on a clock that has been set back since."""
    feeds = services.store.sync_feeds(services.settings.feeds, now)
    asked_ahead = polling.pauses_asked_ahead(feeds, now)
    return [
        feed
        for feed in feeds
        if feed.pollable
        and (
            force
            or polling.is_due(feed.next_poll_at, now, feed.last_fetched_at)
            or polling.put_off_by_a_clock_ahead(feed, asked_ahead)
        )
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
    pauses = HostPauses.from_store(services.store, services.clock.now())
    work: Callable[[FeedState], PollOutcome] = (
        (lambda feed: poll_feed(services, feed.id, feed, unchanged, pauses))
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
        # A poll of the host that was under way when it asked to wait recorded its own next
        # poll after the pause put it off: put off again, now that every poll has been recorded.
        for host, until in pauses.hosts():
            put_off_host(services, host, until)


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
