"""Subscribers and their list memberships: each (subscriber, list) and its every change.

    (none) ──import / sign-up──► pending ──sign-up (its mail's button) / import --confirmed──►
                                   ▲  │                                                confirmed
                 sign-up again ────┘  └──────── any channel ──► unsubscribed ◄──────────────┘
                 (from unsubscribed)

A membership records the channel and time of its last change; each change is also appended to
``subscription_history``. An import adds and confirms, never unsubscribes and never undoes an
unsubscribe; only the reader (signing up again) leaves ``unsubscribed``. A sign-up from the form
whose link expired goes back to what was before it (digest.signup.lapse_unconfirmed). Only
confirmed members whose address is not suppressed (digest.store.suppressions) are queued and
sent (invariant 8).

Imports work in batches of plain rows (Core executemany), never one ORM object per reader, and
look addresses up ``base.CHUNK`` at a time: SQLite caps the bound parameters of one statement.

This module holds the vocabulary (statuses, channels), the row lookups the other two share and
the reading of subscribers; the lifecycle's moves are in digest.store.memberships, imports in
digest.store.subscriber_imports.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from digest.records import Subscriber
from digest.store.base import StoreBase, chunks
from digest.store.schema import (
    SubscriberRow,
    SubscriptionChangeRow,
    SubscriptionRow,
    SuppressionRow,
)

PENDING = "pending"
CONFIRMED = "confirmed"
UNSUBSCRIBED = "unsubscribed"
STATUSES = (PENDING, CONFIRMED, UNSUBSCRIBED)

# How a change came: the reader's own channels, the mail system's, the operator's, a file.
CHANNELS = (
    "sign-up",  # the sign-up form (to pending) and its confirmation mail's button (to confirmed)
    "form",
    "confirm-page",
    "one-click",
    "unsubscribe-page",
    "preferences",  # the reader left a list on their preferences page
    "mailto",
    "bounce",
    "complaint",
    "operator",
    "import",
)
IMPORT = "import"
SIGN_UP = "sign-up"
UNRECORDED = "unrecorded"  # an unsubscribe from before migration 0007, which kept no channel

# Who set a subscriber's name and timezone last (SubscriberRow.set_by).
SET_BY_IMPORT = "import"  # a later import may change them
SET_BY_READER = "reader"  # the reader's own choice: no import overwrites it
SET_BY_OPERATOR = "operator"
FORGOTTEN = "forgotten"  # personal data erased (digest.privacy)


@dataclass(frozen=True, slots=True)
class SubscriberInput:
    """One row to import: a checked, normalized address, and what the file says of them."""

    email: str
    name: str | None = None
    timezone: str | None = None
    line: int = 0  # in the file, for the report
    status: str | None = None  # a status column (an export read back): "unsubscribed" is kept
    # A topics column (an export read back): the reader's choice, for the membership the import
    # makes; None for every topic.
    topics: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """A membership as the operator's commands show it."""

    email: str
    name: str | None
    timezone: str | None
    list_slug: str
    status: str
    channel: str
    changed_at: datetime
    suppressed: str | None = None  # the suppression's reason, when the address has one
    topics: tuple[str, ...] | None = None  # the list's topics the reader chose; None: every one

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "timezone": self.timezone,
            "list": self.list_slug,
            "status": self.status,
            "channel": self.channel,
            "changed_at": self.changed_at.isoformat(),
            "suppressed": self.suppressed,
            "topics": list(self.topics) if self.topics is not None else None,
        }


_EMAIL = select(SubscriberRow.email).where(SubscriberRow.id == bindparam("member"))


def _suppressed_of(address: Any) -> Any:
    """The reason of the suppression of ``address`` (a lowercased address column), or NULL."""
    return (
        select(SuppressionRow.reason)
        .where(SuppressionRow.email == address)
        .limit(1)
        .scalar_subquery()
    )


def last_asked(subscription: type[SubscriptionRow]) -> ColumnElement[datetime]:
    """When a pending sign-up was last asked for from the form, its latest confirmation mail's
    time: the link of that mail works ``web.confirm_days`` from then."""
    return func.coalesce(subscription.asked_at, subscription.changed_at)


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    return channel


def history_row(
    subscriber_id: int, list_slug: str, before: str | None, after: str, now: datetime
) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "list_slug": list_slug,
        "from_status": before,
        "to_status": after,
        "channel": IMPORT,
        "at": now,
    }


def suppressions_by_key(
    connection: Connection, emails_by_key: dict[str, str]
) -> dict[str, tuple[str, datetime]]:
    """The suppressed among the addresses (by their keys): address -> (reason, when)."""
    found: dict[str, tuple[str, datetime]] = {}
    for keys in chunks(list(emails_by_key)):
        for key, reason, at in connection.execute(
            select(SuppressionRow.address_key, SuppressionRow.reason, SuppressionRow.at).where(
                SuppressionRow.address_key.in_(keys)
            )
        ):
            found[emails_by_key[key]] = (reason, at)
    return found


def subscribers_by_email(
    connection: Connection, emails: Sequence[str]
) -> dict[str, tuple[int, str | None, str | None, str]]:
    """The subscribers of these lowercased addresses: address -> (id, name, tz, set_by)."""
    found: dict[str, tuple[int, str | None, str | None, str]] = {}
    for chunk in chunks(emails):
        for subscriber_id, email, name, timezone, set_by in connection.execute(
            select(
                SubscriberRow.id,
                SubscriberRow.email,
                SubscriberRow.name,
                SubscriberRow.timezone,
                SubscriberRow.set_by,
            ).where(func.lower(SubscriberRow.email).in_(chunk))
        ):
            found.setdefault(email.lower(), (subscriber_id, name, timezone, set_by))
    return found


def insert_subscribers(
    connection: Connection, rows: Sequence[SubscriberInput], now: datetime
) -> dict[str, tuple[int, str | None, str | None, str]]:
    """Insert new subscribers in one executemany, then read their ids back ``CHUNK`` at a
    time (an executemany with RETURNING runs a statement per row on SQLite)."""
    if not rows:
        return {}
    connection.execute(
        insert(SubscriberRow.__table__),  # type: ignore[arg-type]
        [
            {
                "email": row.email,
                "name": row.name,
                "timezone": row.timezone,
                "created_at": now,
                "set_by": SET_BY_IMPORT,
            }
            for row in rows
        ],
    )
    return subscribers_by_email(connection, [row.email.lower() for row in rows])


def memberships_in_list(
    connection: Connection, list_slug: str, subscriber_ids: Sequence[int]
) -> dict[int, tuple[int, str, str, datetime]]:
    """subscriber id -> (membership id, status, channel, changed_at) in the list."""
    found: dict[int, tuple[int, str, str, datetime]] = {}
    for chunk in chunks(subscriber_ids):
        for subscriber_id, membership_id, status, channel, changed_at in connection.execute(
            select(
                SubscriptionRow.subscriber_id,
                SubscriptionRow.id,
                SubscriptionRow.status,
                SubscriptionRow.channel,
                SubscriptionRow.changed_at,
            ).where(
                SubscriptionRow.list_slug == list_slug,
                SubscriptionRow.subscriber_id.in_(chunk),
            )
        ):
            found[subscriber_id] = (membership_id, status, channel, changed_at)
    return found


class SubscriberStore(StoreBase):
    """Reading subscribers and memberships: who an edition goes to, what the operator lists."""

    def memberships_of(self, subscriber_id: int) -> dict[str, tuple[str, tuple[str, ...] | None]]:
        """Each list the subscriber is or was on: (status, chosen topics or None for all)."""
        with self.transaction() as session:
            rows = session.execute(
                select(
                    SubscriptionRow.list_slug, SubscriptionRow.status, SubscriptionRow.topics
                ).where(SubscriptionRow.subscriber_id == subscriber_id)
            )
            return {
                slug: (status, tuple(topics) if topics is not None else None)
                for slug, status, topics in rows
            }

    def confirmed_count(self, list_slug: str) -> int:
        """How many confirmed members the list has (suppressed addresses included)."""
        with self.transaction() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        SubscriptionRow.list_slug == list_slug, SubscriptionRow.status == CONFIRMED
                    )
                )
                or 0
            )

    def topic_choices(self, list_slug: str) -> dict[int, tuple[str, ...]]:
        """The confirmed members of a list who chose some of its topics, with their choice;
        every other member takes every topic (they are not read: a list nobody customised
        costs one indexed query that finds nothing)."""
        with self.transaction() as session:
            rows = session.execute(
                select(SubscriptionRow.subscriber_id, SubscriptionRow.topics).where(
                    SubscriptionRow.list_slug == list_slug,
                    SubscriptionRow.status == CONFIRMED,
                    SubscriptionRow.topics.is_not(None),
                )
            )
            return {
                subscriber_id: tuple(topics or ())
                for subscriber_id, topics in rows
                if topics is not None
            }

    def confirmed_subscribers(self, list_slug: str) -> list[Subscriber]:
        """The list's confirmed members whose address is not suppressed: who its next edition
        goes to."""
        with self.transaction() as session:
            rows = session.execute(
                select(
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                )
                .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
                .where(
                    SubscriptionRow.list_slug == list_slug,
                    SubscriptionRow.status == CONFIRMED,
                    _suppressed_of(func.lower(SubscriberRow.email)).is_(None),
                )
                .order_by(SubscriberRow.id)
            )
            return [Subscriber(*row) for row in rows]

    # The name the store had before memberships could be pending: the members who get mail.
    active_subscribers = confirmed_subscribers

    def ever_unsubscribed(self, subscriber_id: int, list_slugs: Collection[str]) -> bool:
        """Whether the history holds an unsubscribe of this member from this list, under any of
        ``list_slugs`` (its slug now and before: the history keeps the slug of each change)."""
        with self.transaction() as session:
            found = session.execute(
                select(SubscriptionChangeRow.id)
                .where(
                    SubscriptionChangeRow.subscriber_id == subscriber_id,
                    SubscriptionChangeRow.list_slug.in_(list_slugs),
                    SubscriptionChangeRow.to_status == UNSUBSCRIBED,
                )
                .limit(1)
            ).first()
            return found is not None

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        with self.transaction() as session:
            row = session.get(SubscriberRow, subscriber_id)
            if row is None:
                return None
            return Subscriber(row.id, row.email, row.name, timezone=row.timezone)

    def held_subscriber(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber, None when there is none or they were forgotten (digest.privacy)."""
        with self.transaction() as session:
            row = session.get(SubscriberRow, subscriber_id)
            if row is None or row.set_by == FORGOTTEN:
                return None
            return Subscriber(row.id, row.email, row.name, timezone=row.timezone)

    def email_of(self, subscriber_id: int) -> str | None:
        """The address of a subscriber, None when there is no such subscriber."""
        with self.transaction() as session:
            email: str | None = (
                session.connection().execute(_EMAIL, {"member": subscriber_id}).scalar()
            )
            return email

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        with self.transaction() as session:
            row = session.execute(
                select(
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                )
                .where(func.lower(SubscriberRow.email) == email.lower())
                .order_by(SubscriberRow.id)
                .limit(1)
            ).first()
            return Subscriber(*row) if row is not None else None

    def memberships(
        self, list_slug: str | None = None, *, batch: int = 1000
    ) -> Iterator[Membership]:
        """Every membership (of ``list_slug`` when given), by list and address, read ``batch``
        at a time (keyset pagination): a list of any size costs one batch of memory."""
        after: tuple[str, int] = ("", 0)
        while True:
            query = (
                select(
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                    SubscriptionRow.list_slug,
                    SubscriptionRow.status,
                    SubscriptionRow.channel,
                    SubscriptionRow.changed_at,
                    _suppressed_of(func.lower(SubscriberRow.email)),
                    SubscriptionRow.topics,
                    SubscriptionRow.id,
                )
                .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
                .where(SubscriberRow.set_by != FORGOTTEN)
                .where(
                    (SubscriptionRow.list_slug > after[0])
                    | ((SubscriptionRow.list_slug == after[0]) & (SubscriptionRow.id > after[1]))
                )
                .order_by(SubscriptionRow.list_slug, SubscriptionRow.id)
                .limit(batch)
            )
            if list_slug is not None:
                query = query.where(SubscriptionRow.list_slug == list_slug)
            with self.transaction() as session:
                rows = session.execute(query).all()
            if not rows:
                return
            for email, name, zone, slug, status, channel, at, suppressed, topics, _ in rows:
                chosen = tuple(topics) if topics is not None else None
                yield Membership(email, name, zone, slug, status, channel, at, suppressed, chosen)
            after = (rows[-1][3], rows[-1][9])

    def unsubscribe_history(
        self, since: datetime | None = None
    ) -> list[tuple[datetime, str, str, str]]:
        """(when, address, list slug, channel) of every unsubscribe recorded (since ``since``),
        oldest first: what ``digest subscribers audit`` looks at. The unsubscribes of people
        forgotten (digest.privacy) are left out: their addresses are all at one placeholder
        domain now, where a few erasures in a row looked like a link scanner's burst. So are
        those a file brought (channel "import"): copies of unsubscribes recorded elsewhere,
        all at the moment the file was read (a new database reads the whole suppression
        file at once), which made a burst of every domain with a few readers who left."""
        query = (
            select(
                SubscriptionChangeRow.at,
                SubscriberRow.email,
                SubscriptionChangeRow.list_slug,
                SubscriptionChangeRow.channel,
            )
            .join(SubscriberRow, SubscriberRow.id == SubscriptionChangeRow.subscriber_id)
            .where(SubscriptionChangeRow.to_status == UNSUBSCRIBED)
            .where(SubscriberRow.set_by != FORGOTTEN, SubscriptionChangeRow.channel != IMPORT)
            .order_by(SubscriptionChangeRow.at, SubscriptionChangeRow.id)
        )
        if since is not None:
            query = query.where(SubscriptionChangeRow.at >= since)
        with self.transaction() as session:
            return [
                (at, email, slug, channel) for at, email, slug, channel in session.execute(query)
            ]
