"""Subscribers and their list memberships in the store."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from digest.records import Subscriber
from digest.store.base import StoreBase
from digest.store.schema import SubscriberRow, SubscriptionRow

ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
REMOVED = "removed"  # no longer in the list's source file; copies already queued still go


@dataclass(frozen=True, slots=True)
class SubscriberSync:
    added: int
    removed: int
    kept_unsubscribed: int


@dataclass(frozen=True, slots=True)
class SubscriberInput:
    email: str
    name: str | None = None
    timezone: str | None = None


class SubscriberStore(StoreBase):
    def sync_subscribers(
        self,
        list_slug: str,
        members: Iterable[SubscriberInput],
        now: datetime,
        suppressed: Collection[str] = (),
    ) -> SubscriberSync:
        """Make a list's memberships match its source: add the new, remove the absent.

        Someone who unsubscribed stays unsubscribed even while their address is still in the
        source file: only they can undo it. An address in ``suppressed`` (lowercased; from the
        suppression file, see digest.suppression) is made unsubscribed, in the file or not, so
        an unsubscribe kept outside the database holds in a new one. Removal from the file only
        keeps a member out of the editions queued from now on: the copies already queued for
        them still go (only an unsubscribe revokes one).
        """
        added = removed = kept_unsubscribed = 0
        wanted = {member.email.lower(): member for member in members}
        suppressed = {email.lower() for email in suppressed}
        with self.transaction() as session:
            # One pass over the subscribers, rather than IN lists of addresses: those are slow
            # on PostgreSQL at this size, and capped by SQLite.
            existing = {}
            suppressed_ids = set()
            for row in session.scalars(select(SubscriberRow)):
                email = row.email.lower()
                if email in wanted:
                    existing[email] = row
                if email in suppressed:
                    suppressed_ids.add(row.id)
            memberships = {
                row.subscriber_id: row
                for row in session.scalars(
                    select(SubscriptionRow).where(SubscriptionRow.list_slug == list_slug)
                )
            }
            new_rows = []
            for email, member in wanted.items():
                subscriber = existing.get(email)
                if subscriber is None:
                    subscriber = SubscriberRow(
                        email=member.email, name=member.name, timezone=member.timezone
                    )
                    subscriber.created_at = now
                    new_rows.append(subscriber)
                    existing[email] = subscriber
                elif (subscriber.name, subscriber.timezone) != (member.name, member.timezone):
                    subscriber.name, subscriber.timezone = member.name, member.timezone
            session.add_all(new_rows)
            session.flush()
            present: set[int] = set()
            for email in wanted:
                subscriber_id = existing[email].id
                present.add(subscriber_id)
                membership = memberships.get(subscriber_id)
                if email in suppressed:
                    if membership is None:
                        membership = SubscriptionRow(
                            subscriber_id=subscriber_id,
                            list_slug=list_slug,
                            status=UNSUBSCRIBED,
                            changed_at=now,
                        )
                        session.add(membership)
                        memberships[subscriber_id] = membership
                    elif membership.status != UNSUBSCRIBED:
                        membership.status, membership.changed_at = UNSUBSCRIBED, now
                    kept_unsubscribed += 1
                elif membership is None:
                    session.add(
                        SubscriptionRow(
                            subscriber_id=subscriber_id,
                            list_slug=list_slug,
                            status=ACTIVE,
                            changed_at=now,
                        )
                    )
                    added += 1
                elif membership.status == REMOVED:
                    membership.status, membership.changed_at = ACTIVE, now
                    added += 1
                elif membership.status == UNSUBSCRIBED:
                    kept_unsubscribed += 1
            for subscriber_id, membership in memberships.items():
                if subscriber_id in present:
                    continue
                if subscriber_id in suppressed_ids and membership.status != UNSUBSCRIBED:
                    membership.status, membership.changed_at = UNSUBSCRIBED, now
                elif membership.status == ACTIVE:
                    membership.status, membership.changed_at = REMOVED, now
                    removed += 1
        return SubscriberSync(added, removed, kept_unsubscribed)

    def active_subscribers(self, list_slug: str) -> list[Subscriber]:
        with self.transaction() as session:
            rows = session.scalars(
                select(SubscriberRow)
                .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
                .where(SubscriptionRow.list_slug == list_slug, SubscriptionRow.status == ACTIVE)
                .order_by(SubscriberRow.id)
            )
            return [_subscriber(row) for row in rows]

    def unsubscribe(self, subscriber_id: int, list_slug: str, now: datetime) -> bool:
        """Mark a membership unsubscribed; False when there was no such membership."""
        with self.transaction() as session:
            membership = session.scalars(
                select(SubscriptionRow).where(
                    SubscriptionRow.subscriber_id == subscriber_id,
                    SubscriptionRow.list_slug == list_slug,
                )
            ).one_or_none()
            if membership is None:
                return False
            if membership.status != UNSUBSCRIBED:
                membership.status, membership.changed_at = UNSUBSCRIBED, now
            return True

    def unsubscribe_addresses(self, list_slug: str, emails: Collection[str], now: datetime) -> int:
        """Mark unsubscribed the list's memberships of ``emails`` (any case); returns how many
        changed. The copies still pending for them are then skipped at the send."""
        lowered = sorted({email.lower() for email in emails})
        changed = 0
        with self.transaction() as session:
            for start in range(0, len(lowered), 500):  # SQLite caps bound parameters
                rows = session.scalars(
                    select(SubscriptionRow)
                    .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
                    .where(
                        SubscriptionRow.list_slug == list_slug,
                        SubscriptionRow.status != UNSUBSCRIBED,
                        func.lower(SubscriberRow.email).in_(lowered[start : start + 500]),
                    )
                )
                for row in rows:
                    row.status, row.changed_at = UNSUBSCRIBED, now
                    changed += 1
        return changed

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        with self.transaction() as session:
            row = session.get(SubscriberRow, subscriber_id)
            return _subscriber(row) if row is not None else None

    def unsubscribed_members(self) -> list[tuple[str, str, datetime]]:
        """(email, list slug, when) of every unsubscribed membership, oldest first."""
        with self.transaction() as session:
            return [
                (email, slug, changed_at)
                for email, slug, changed_at in session.execute(
                    select(
                        SubscriberRow.email, SubscriptionRow.list_slug, SubscriptionRow.changed_at
                    )
                    .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
                    .where(SubscriptionRow.status == UNSUBSCRIBED)
                    .order_by(SubscriptionRow.changed_at, SubscriptionRow.id)
                )
            ]


def _subscriber(row: SubscriberRow) -> Subscriber:
    return Subscriber(id=row.id, email=row.email, name=row.name, timezone=row.timezone)
