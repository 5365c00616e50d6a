"""Deleting what is past its window, a bounded batch per call (digest.retention draws the
flow), and the keys of the articles deleted, which ingest asks before it stores an entry.

    deliveries  settled copies (sent, failed, skipped) of queued editions built earlier
                than the window; pending and parked copies stay whatever their age, and the
                edition is marked (``ledger_pruned_at``) so it is never queued again
    articles    first seen before the window; a key of its guid within its feed and of its
                link is kept first, so a feed serving the item again stores nothing new
    keys        those no feed has served for a window
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from digest.store.base import StoreBase
from digest.store.schema import ArticleRow, DeliveryRow, EditionRow, PrunedArticleRow

# The copies whose fate is settled: none is sent again. A parked copy is not among them: an
# operator may release it (`digest deliveries retry`).
SETTLED = ("sent", "failed", "skipped")
_KEYS = cast(Table, PrunedArticleRow.__table__)
_INSERT_KEYS = {
    name: dialect_insert(_KEYS).on_conflict_do_nothing()
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


def guid_key(feed_id: int, guid: str) -> str:
    """The key of a guid within its feed: 128 bits of its SHA-256, in hex."""
    return hashlib.sha256(f"guid {feed_id} {guid}".encode()).hexdigest()[:32]


def link_key(link: str) -> str:
    """The key of an article's link, across feeds."""
    return hashlib.sha256(f"link {link}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Prunable:
    """What the windows would delete now, and what is older but kept."""

    deliveries: int
    deliveries_in_flight: int  # older than the window, but pending or parked: kept
    articles: int
    article_keys: int


class RetentionStore(StoreBase):
    def prunable(
        self, deliveries_before: datetime, articles_before: datetime, keys_before: datetime
    ) -> Prunable:
        """How many rows each window would delete (``digest db prune --dry-run``)."""
        old = (
            select(func.count())
            .select_from(DeliveryRow)
            .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
            .where(EditionRow.built_at < deliveries_before)
        )
        queued = EditionRow.queued_at.is_not(None)
        with self.transaction() as session:
            settled = session.scalar(old.where(queued, DeliveryRow.status.in_(SETTLED)))
            in_flight = session.scalar(old.where(~(queued & DeliveryRow.status.in_(SETTLED))))
            articles = session.scalar(
                select(func.count()).where(ArticleRow.first_seen_at < articles_before)
            )
            keys = session.scalar(
                select(func.count()).where(PrunedArticleRow.seen_at < keys_before)
            )
        return Prunable(settled or 0, in_flight or 0, articles or 0, keys or 0)

    def prune_deliveries(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` settled copies of queued editions built before
        ``before``, one edition's at a time; how many were deleted."""
        with self.transaction() as session:
            # Marked before any copy goes: an edition whose copies are gone is never queued
            # again, or its readers would be taken for readers it never went to.
            session.execute(
                update(EditionRow)
                .where(
                    EditionRow.built_at < before,
                    EditionRow.queued_at.is_not(None),
                    EditionRow.ledger_pruned_at.is_(None),
                )
                .values(ledger_pruned_at=now)
            )
            settled = DeliveryRow.status.in_(SETTLED)
            edition_id = session.scalar(
                select(EditionRow.id)
                .where(EditionRow.built_at < before, EditionRow.ledger_pruned_at.is_not(None))
                .where(exists().where(DeliveryRow.edition_id == EditionRow.id, settled))
                .order_by(EditionRow.built_at, EditionRow.id)
                .limit(1)
            )
            if edition_id is None:
                return 0
            ids = (
                select(DeliveryRow.id)
                .where(DeliveryRow.edition_id == edition_id, settled)
                .order_by(DeliveryRow.id)
                .limit(limit)
                .scalar_subquery()
            )
            deleted = (
                session.connection()
                .execute(delete(DeliveryRow).where(DeliveryRow.id.in_(ids), settled))
                .rowcount
            )
        return int(deleted or 0)

    def prune_articles(self, before: datetime, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the articles first seen before ``before``, their keys kept
        first; how many were deleted (their topics and places in editions go with them)."""
        with self.transaction() as session:
            rows = session.execute(
                select(ArticleRow.id, ArticleRow.feed_id, ArticleRow.guid, ArticleRow.link)
                .where(ArticleRow.first_seen_at < before)
                .order_by(ArticleRow.first_seen_at, ArticleRow.id)
                .limit(limit)
            ).all()
            if not rows:
                return 0
            keys = {guid_key(feed_id, guid) for _, feed_id, guid, _ in rows}
            keys |= {link_key(link) for *_, link in rows}
            _insert_keys(session, keys, now)
            deleted = (
                session.connection()
                .execute(delete(ArticleRow).where(ArticleRow.id.in_([row[0] for row in rows])))
                .rowcount
            )
        return int(deleted or 0)

    def prune_article_keys(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` keys of deleted articles no feed served since ``before``."""
        with self.transaction() as session:
            ids = (
                select(PrunedArticleRow.key)
                .where(PrunedArticleRow.seen_at < before)
                .limit(limit)
                .scalar_subquery()
            )
            deleted = (
                session.connection()
                .execute(delete(PrunedArticleRow).where(PrunedArticleRow.key.in_(ids)))
                .rowcount
            )
        return int(deleted or 0)


def _insert_keys(session: Session, keys: Iterable[str], now: datetime) -> None:
    rows = [{"key": key, "seen_at": now} for key in sorted(keys)]
    if rows:
        session.execute(_INSERT_KEYS[session.get_bind().dialect.name], rows)


def pruned_keys(session: Session, keys: Sequence[str], now: datetime) -> set[str]:
    """Which of ``keys`` are of deleted articles; those are marked seen ``now``, so they stay
    while a feed serves them."""
    if not keys:
        return set()
    found = set(session.scalars(select(PrunedArticleRow.key).where(PrunedArticleRow.key.in_(keys))))
    if found:
        session.execute(
            update(PrunedArticleRow)
            .where(PrunedArticleRow.key.in_(sorted(found)))
            .values(seen_at=now)
        )
    return found
