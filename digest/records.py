"""Typed, frozen records passed between the stages of the pipeline.

    fetch ─► FetchResult ─► parse/clean ─► ParsedFeed(entries: Entry…) ─► store ─► Article
    classify(Article) ─► TopicMatch…
    compose(Candidate…) ─► Edition ─► render ─► RenderedEdition
    personalize(RenderedEdition, Subscriber) ─► OutgoingMessage ─► transport

Stages exchange only these records: no ORM objects, no feedparser dicts, no HTTP responses.
All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from digest.reasons import EditionWhy

# The longest URL kept anywhere (a feed's address or site, an article's link, a lead image): the
# store's columns hold this many characters, which is what browsers and crawlers reliably accept.
URL_LIMIT = 2048


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP fetch of a feed gave back."""

    requested_url: str
    url: str  # where the content came from, after redirects
    status: int  # the final HTTP status (200, 304, ...)
    content: bytes | None  # None when the server answered 304 Not Modified
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    permanent_redirect: str | None = None  # new address to store after a 301/308

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Entry:
    """One cleaned feed entry, ready to be stored as an article.

    Every string is Unicode; ``summary_html`` went through the allowlist sanitizer; ``link`` and
    ``image_url`` are absolute http(s) URLs; ``link`` is canonical (no tracking parameters).
    """

    guid: str
    link: str
    title: str
    summary_html: str
    summary_text: str
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    # The publisher's description of the picture, plain text (digest.ingest.captions).
    image_description: str | None = None
    language: str | None = None
    # published_at is the entry's updated date: it gave no publication date of its own (many
    # Atom entries), so the date moves on at every edit and tells no story from another.
    dated_by_update: bool = False


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document read into entries."""

    title: str | None
    link: str | None
    language: str | None
    entries: tuple[Entry, ...]
    warning: str | None = None  # a recoverable parse problem (feedparser's bozo), kept on the feed


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article: an entry plus where and when we first saw it."""

    id: int
    feed_id: int
    feed_name: str
    guid: str
    link: str
    title: str
    summary_html: str
    summary_text: str
    author: str | None
    published_at: datetime | None
    first_seen_at: datetime
    categories: tuple[str, ...] = ()
    image_url: str | None = None
    image_description: str | None = None
    language: str | None = None
    cluster_id: int | None = None  # articles of one cluster are reports of the same story

    @property
    def sort_time(self) -> datetime:
        """When the article appeared: its publication date, or when we first saw it."""
        return self.published_at or self.first_seen_at

    @classmethod
    def from_entry(
        cls,
        entry: Entry,
        *,
        id: int,
        feed_id: int,
        feed_name: str,
        first_seen_at: datetime,
        cluster_id: int | None = None,
    ) -> Article:
        """The article an entry becomes once stored (or would become: id 0 for a dry run)."""
        return cls(
            id=id,
            feed_id=feed_id,
            feed_name=feed_name,
            guid=entry.guid,
            link=entry.link,
            title=entry.title,
            summary_html=entry.summary_html,
            summary_text=entry.summary_text,
            author=entry.author,
            published_at=entry.published_at,
            first_seen_at=first_seen_at,
            categories=tuple(entry.categories),
            image_url=entry.image_url,
            image_description=entry.image_description,
            language=entry.language,
            cluster_id=cluster_id,
        )


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """An article filed under a topic, with how strongly the rules matched it."""

    topic: str  # topic slug
    score: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article that may go into an edition, with the topics it was filed under."""

    article: Article
    topics: dict[str, float]  # topic slug -> score


@dataclass(frozen=True, slots=True)
class EditionItem:
    """One story in an edition; ``more_from`` holds the author's other pieces shown under it,
    ``also_covered_by`` other outlets' reports of the same story (shown as a line of links)."""

    article: Article
    topic: str  # slug of the topic it is shown under
    more_from: tuple[Article, ...] = ()
    also_covered_by: tuple[Article, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    topic: str  # slug
    title: str  # the topic's display name
    items: tuple[EditionItem, ...]


@dataclass(frozen=True, slots=True)
class Edition:
    """The content of one issue of one list, keyed by (list, slot)."""

    list_slug: str
    slot: datetime  # when the edition was due
    window_start: datetime | None  # exclusive; None for a list's first edition
    window_end: datetime  # inclusive
    lead: EditionItem | None
    sections: tuple[Section, ...] = ()
    recommended: tuple[EditionItem, ...] = ()
    # The article sequence the window ends at (inclusive): it starts after the previous
    # edition's, so no article is in two editions or in none (digest.store.sequence).
    window_seq: int = 0
    # Why each place is what it is (digest.reasons): set by compose, not stored with the
    # edition, and no part of its identity.
    why: EditionWhy | None = field(default=None, compare=False)

    def items(self) -> Iterator[EditionItem]:
        if self.lead is not None:
            yield self.lead
        for section in self.sections:
            yield from section.items
        yield from self.recommended

    def articles(self) -> Iterator[Article]:
        """Every article the edition shows, each exactly once."""
        for item in self.items():
            yield item.article
            yield from item.more_from

    @property
    def is_empty(self) -> bool:
        return self.lead is None and not self.sections and not self.recommended


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    name: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedEdition:
    """An edition rendered once for all subscribers: HTML with CSS inlined, and plain text.

    Per-subscriber fields are left as the placeholders in ``digest.render.PLACEHOLDERS`` and are
    filled in by ``digest.mail.personalize`` with plain string substitution.
    """

    list_slug: str
    slot: datetime
    subject: str
    preheader: str
    html: str
    text: str
    article_count: int
    # The whole edition's HTML for its web copy, when the mail's ``html`` left stories out to
    # stay under Gmail's clip (digest.render.HTML_BUDGET); None when the mail shows them all.
    web_html: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One personal copy of an edition, ready for a mail transport."""

    sender: str  # envelope sender
    recipient: str  # envelope recipient
    message_id: str
    data: bytes  # the whole RFC 5322 message, CRLF line endings
    # True when ``data`` is 7-bit with no line starting with a dot, so SMTP can carry it as is.
    smtp_ready: bool = False


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """What one run of the pipeline did, for the operator's summary table."""

    feeds_polled: int = 0
    feeds_paused: int = 0  # not polled: their host asked to wait (a 429 or 503 Retry-After)
    feeds_failed: int = 0
    new_articles: int = 0
    editions_built: int = 0
    editions_skipped: int = 0
    messages_delivered: int = 0
    messages_failed: int = 0
    messages_retrying: int = 0  # to be tried again in a later cycle (digest.retries)
    messages_parked: int = 0  # parked in this cycle: not sent again (see digest status)
    problems: tuple[str, ...] = field(default=())
