"""The database schema: feeds, articles, topics, subscribers, editions and the delivery ledger.

Alembic migrations in ``digest/store/migrations`` create it; this module is their source of truth
(``alembic revision --autogenerate`` compares against ``Base.metadata``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    enabled: Mapped[bool] = mapped_column(default=True)
    title: Mapped[str | None] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(2048))
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    parse_warning: Mapped[str | None] = mapped_column(Text)
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Polling state (issue #3): where to fetch now (after a permanent redirect), when next.
    current_url: Mapped[str | None] = mapped_column(String(2048))
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    entries_per_day: Mapped[float | None] = mapped_column(Float)
    last_new_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SHA-256 of the last document stored in full: the same bytes again need no parse (issue #3).
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # The origin (scheme://host:port) whose server answered the last poll with a 429 or 503 and
    # a Retry-After: its feeds wait until ``wait_asked_until``. It is where the answer came
    # from, a redirect's target included; cleared by the next poll that gets no such answer.
    wait_asked_by: Mapped[str | None] = mapped_column(String(2048))
    # When that wait ends: the Retry-After's time, not the feed's own next poll, which its
    # backoff after earlier errors may put much later; the server's other feeds wait this long.
    wait_asked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ArticleSequenceRow(Base):
    """One row: the number of the last transaction that stored new articles (commit order)."""

    __tablename__ = "article_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid", name="uq_articles_feed_guid"),
        UniqueConstraint("link", name="uq_articles_link"),
        Index("ix_articles_first_seen_at", "first_seen_at"),
        Index("ix_articles_seq", "seq"),
        # An entry whose guid and link are both new is looked up by its title within its feed
        # (digest.store.entry_matching): an index lookup, however many articles the feed has stored.
        Index("ix_articles_feed_title", "feed_id", "title"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(2048))
    link: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    summary_html: Mapped[str] = mapped_column(Text)
    summary_text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The article sequence value of the transaction that stored it (digest.store.sequence):
    # editions take articles by it, in commit order, not by first_seen_at.
    seq: Mapped[int] = mapped_column(Integer, nullable=True)  # nullable: see migration 0006
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    image_url: Mapped[str | None] = mapped_column(String(2048))
    # The publisher's description of the picture (digest.ingest.captions.DESCRIPTION_LIMIT).
    image_description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    # Near-duplicate stories from different outlets share a cluster (issue #3).
    cluster_id: Mapped[int | None] = mapped_column(Integer, index=True)
    fingerprint: Mapped[list[int] | None] = mapped_column(JSON)


class ArticleTopicRow(Base):
    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    score: Mapped[float] = mapped_column(Float)


class PrunedArticleRow(Base):
    """A key of an article deleted as older than ``retention.articles_days``: its guid within
    its feed, or its link, hashed. An entry a feed still serves (or serves again) under either
    is known and not stored again; the key goes once no feed has served it for a window
    (digest.retention)."""

    __tablename__ = "pruned_articles"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SubscriberRow(Base):
    __tablename__ = "subscribers"
    __table_args__ = (Index("ix_subscribers_email_lower", func.lower(Column("email"))),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who set the name and timezone last: "import" (a file may change them again), "reader"
    # (preferences: an import never overwrites them), "operator", or "forgotten" (erased).
    set_by: Mapped[str] = mapped_column(String(16), default="import", server_default="import")


class SubscriptionRow(Base):
    """A subscriber's membership of one list: pending, confirmed or unsubscribed, with the
    channel and time of its last change (digest.store.subscribers)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "list_slug", name="uq_subscriptions_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    list_slug: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | confirmed | unsubscribed
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A pending sign-up asked for again from the form: when the latest confirmation mail went,
    # whose link works web.confirm_days from then (``changed_at`` stays the first ask's).
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(32), default="import", server_default="import")
    # The list's topics the reader chose (preferences), sorted; None: every topic of the list.
    topics: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))


class SubscriptionChangeRow(Base):
    """Every change of a membership, appended and never changed: what ``audit`` and
    ``export-person`` read."""

    __tablename__ = "subscription_history"
    __table_args__ = (Index("ix_subscription_history_to_status_at", "to_status", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    list_slug: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))  # None: a new membership
    to_status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class SuppressionRow(Base):
    """An address that gets no mail from any list. ``address_key`` is the address's SHA-256
    HMAC under the service's secret key, ``mailbox_key`` its mailbox's (digest.addresses.
    mailbox_of: "ann@" for "a.nn+news@"), which a sign-up form is checked against; ``email`` is
    None once the address was forgotten."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address_key: Mapped[str] = mapped_column(String(64), unique=True)
    mailbox_key: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)  # lowercased
    reason: Mapped[str] = mapped_column(
        String(16)
    )  # hard-bounce | complaint | operator | forgotten
    channel: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class FileMarkRow(Base):
    """What the service last read of an operator's file: its SHA-256 and size, so an unchanged
    file is not read again (and of one only appended to, only the new lines), and for the
    suppression file how far the database's changes were copied out to it (the last history
    and suppression ids)."""

    __tablename__ = "file_marks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # "list:SLUG", "suppressions"
    digest: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    # What its last import said (refused rows, one a line): said again while it is unchanged.
    notes: Mapped[str | None] = mapped_column(Text)
    history_upto: Mapped[int] = mapped_column(Integer, default=0)
    suppressions_upto: Mapped[int] = mapped_column(Integer, default=0)
    # Rows after those ids already copied (ids are not committed in order): "h12,s3".
    copied: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ListStartRow(Base):
    """When the service first brought a list's members in step (its subscriber file imported,
    or none to import): when the list began to run, which its first edition may be long after
    (a list read in each reader's timezone builds none until it has a reader). A reader who
    joins a list already running, after their hour has passed, waits for their next hour
    (digest.local_time)."""

    __tablename__ = "list_starts"

    list_slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EditionRow(Base):
    """One issue of a list, keyed by (list, slot, variant), with its layout and its rendering
    frozen. A list read in each reader's timezone may send several editions at one slot, one per
    window its readers are at (see digest.local_time); every other edition is variant ""."""

    __tablename__ = "editions"
    __table_args__ = (
        UniqueConstraint("list_slug", "slot", "variant", name="uq_editions_list_slot_variant"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_slug: Mapped[str] = mapped_column(String(64))
    slot: Mapped[datetime] = mapped_column(UTCDateTime)
    variant: Mapped[str] = mapped_column(String(64), default="", server_default="")
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    # The article sequence value the window ends at: the next edition takes the articles after it.
    window_seq: Mapped[int] = mapped_column(Integer, nullable=True)  # see migration 0006
    status: Mapped[str] = mapped_column(String(16))  # empty | ready | sent
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    layout: Mapped[dict[str, Any]] = mapped_column(JSON)
    article_count: Mapped[int] = mapped_column(default=0)
    subject: Mapped[str | None] = mapped_column(Text)
    preheader: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    # The whole edition for its web copy, when ``html`` left stories out to stay under Gmail's
    # clip; NULL when the mail shows them all (see migration 0015).
    web_html: Mapped[str | None] = mapped_column(Text)
    # When its deliveries were queued; a ready edition without it is queued at the next cycle,
    # so a failure between storing and queueing strands nothing (issue #9).
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its settled copies began to be deleted (digest.retention): it is never queued again,
    # so a reader whose copy is gone is not taken for one it never went to (migration 0018).
    ledger_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EditionArticleRow(Base):
    __tablename__ = "edition_articles"
    # An article deleted past retention.articles_days takes its places in editions with it:
    # found by the article, not by walking every edition's (migration 0018).
    __table_args__ = (Index("ix_edition_articles_article_id", "article_id"),)

    edition_id: Mapped[int] = mapped_column(
        ForeignKey("editions.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int]


class DeliveryRow(Base):
    """The delivery ledger: one row per (edition, subscriber); only a pending row is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
        Index("ix_deliveries_edition_status_id", "edition_id", "status", "id"),
        # A reader's copies, found without walking the ledger (migration 0017).
        Index("ix_deliveries_subscriber_id", "subscriber_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed | skipped | parked
    attempts: Mapped[int] = mapped_column(default=0)
    # Attempts whose reply never came after the message's end went out (the server may have
    # taken them), and when a pending row may be tried again (digest.retries); issue #9.
    unknown_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundEventRow(Base):
    """A bounce, complaint or mailto unsubscribe taken in (digest.inbound), once per event id:
    the same DSN or webhook call arriving twice is applied once, and soft bounces are counted."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_inbound_events_event_id"),
        Index("ix_inbound_events_email_kind", "email", "kind", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))  # hard-bounce | soft-bounce | complaint | ...
    source: Mapped[str] = mapped_column(String(16))  # smtp | ses | mailgun
    email: Mapped[str | None] = mapped_column(String(320))  # lowercased
    subscriber_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: kept as said
    list_slug: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text, default="")  # what was done about it
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookTokenRow(Base):
    """A provider's signed webhook token seen once (Mailgun): a replayed call is refused."""

    __tablename__ = "webhook_tokens"
    __table_args__ = (UniqueConstraint("provider", "token", name="uq_webhook_tokens_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PictureRow(Base):
    """A picture an edition shows, fetched once and kept as the service serves it
    (digest.images): every ``digest serve`` process answers ``/images/ID`` from here. A picture
    that failed its check is kept too, with no bytes and the reason, so it is not fetched again
    at each build."""

    __tablename__ = "pictures"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC of role and address
    source_url: Mapped[str] = mapped_column(String(2048))
    role: Mapped[str] = mapped_column(String(8))  # lead | thumb
    content_type: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
