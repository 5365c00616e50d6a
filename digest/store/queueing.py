"""Queueing an edition: one pending row of the delivery ledger per reader it goes to, and where
each reader of a list stands (the last edition queued for them), which says what their next
edition's window holds."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from digest.store.base import StoreBase, chunks
from digest.store.deliveries import PENDING, address_suppressed
from digest.store.schema import DeliveryRow, EditionRow, SubscriberRow, SubscriptionRow
from digest.store.subscribers import CONFIRMED

# Rows queued at once from which PostgreSQL's statistics are brought up to date at once.
_ANALYZE_AFTER = 1000
# How far back from a list's newest edition its readers' last editions are looked for first:
# a week and a day covers a weekly list's readers, and a reader-local list's every timezone.
RECENT_EDITIONS = timedelta(days=8)


def _last_editions(
    session: Session, list_slug: str, which: ColumnElement[bool]
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """For each reader of the list's deliveries that ``which`` selects: the latest slot, the
    highest window end and the latest queueing among the editions of the list queued for them."""
    rows = session.execute(
        select(
            DeliveryRow.subscriber_id,
            func.max(EditionRow.slot),
            func.max(EditionRow.window_seq),
            func.max(EditionRow.queued_at),
        )
        .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
        .where(EditionRow.list_slug == list_slug, which)
        .group_by(DeliveryRow.subscriber_id)
    )
    for subscriber_id, *position in rows:
        yield subscriber_id, tuple(position)


def _readers_last_editions(
    session: Session, list_slug: str, reader_ids: Sequence[int]
) -> dict[int, tuple[Any, ...]]:
    """reader -> (slot, window end, queueing) of the last edition of the list queued for them,
    for those of ``reader_ids`` any edition went to: from the recent editions, then, for the
    readers none of those went to, from the whole ledger by their subscriber id."""
    newest = session.scalar(
        select(func.max(EditionRow.slot)).where(EditionRow.list_slug == list_slug)
    )
    if newest is None:
        return {}
    # By their ids: given the editions' condition, a planner may walk the whole ledger in the
    # readers' order instead, to group it without sorting.
    recent = session.scalars(
        select(EditionRow.id).where(
            EditionRow.list_slug == list_slug, EditionRow.slot >= newest - RECENT_EDITIONS
        )
    ).all()
    last = dict(_last_editions(session, list_slug, DeliveryRow.edition_id.in_(recent)))
    rest = [reader for reader in reader_ids if reader not in last]
    for chunk in chunks(rest):
        only = DeliveryRow.subscriber_id.in_(chunk)
        last.update(_last_editions(session, list_slug, only))
    return last


@dataclass(frozen=True, slots=True)
class ReaderPosition:
    """Where a member of a list stands: their timezone, the slot and window end of the last
    edition of the list queued for them (None: none yet), since when they are a member (their
    membership's last change: when they joined or came back; None: not known), and when
    their last edition was queued."""

    subscriber_id: int
    timezone: str | None
    last_slot: datetime | None
    last_seq: int | None
    member_since: datetime | None = None
    last_queued: datetime | None = None


class QueueStore(StoreBase):
    def reader_positions(self, list_slug: str) -> list[ReaderPosition]:
        """Every confirmed, unsuppressed member of the list with the last edition of it queued
        for them and since when they are a member. Each
        reader's windows follow one another, so their latest slot and their highest window
        end belong to the same edition.

        Read from the list's recent editions first: the whole ledger of the list, grouped by
        reader, took 13 s after a year of a daily edition to 20,000 readers, at each tick of a
        list read in each reader's timezone. Only the members none of those editions went to
        (new, or gone quiet) are looked up in all of it, by their subscriber id."""
        members = (
            select(SubscriberRow.id, SubscriberRow.timezone, SubscriptionRow.changed_at)
            .join(SubscriptionRow, SubscriptionRow.subscriber_id == SubscriberRow.id)
            .where(SubscriptionRow.list_slug == list_slug, SubscriptionRow.status == CONFIRMED)
            .where(~address_suppressed())
            .order_by(SubscriberRow.id)
        )
        with self.transaction() as session:
            readers = session.execute(members).all()
            last = _readers_last_editions(session, list_slug, [reader.id for reader in readers])
        positions = []
        for reader in readers:
            last_slot, last_seq, last_queued = last.get(reader.id, (None, None, None))
            positions.append(
                ReaderPosition(
                    reader.id, reader.timezone, last_slot, last_seq, reader.changed_at, last_queued
                )
            )
        return positions

    def queue_deliveries(
        self,
        edition_id: int,
        list_slug: str,
        now: datetime | None = None,
        readers: Collection[int] | None = None,
        *,
        default_topics: bool = False,
    ) -> int:
        """One pending row per (edition, confirmed member of the list whose address is not
        suppressed), or of those of them in ``readers`` (ids; the readers of one variant), or
        with ``default_topics`` of those who chose no topics (the plain variant's readers);
        existing rows stay as they are.

        One INSERT ... SELECT, so queueing 100,000 members loads none of them into memory. The
        edition is marked queued (at ``now``, else when it was built) in the same transaction:
        an edition stored but never queued is found by ``unqueued_editions``.
        """
        selections = _members_to_queue(edition_id, list_slug, readers, default_topics)
        rows = select(func.count()).where(DeliveryRow.edition_id == edition_id)
        with self.transaction() as session:
            before = session.scalar(rows) or 0
            for selection in selections:
                session.execute(
                    insert(DeliveryRow).from_select(
                        ["edition_id", "subscriber_id", "status", "attempts"], selection
                    )
                )
            session.execute(
                update(EditionRow)
                .where(EditionRow.id == edition_id, EditionRow.queued_at.is_(None))
                .values(queued_at=now if now is not None else EditionRow.built_at)
                .execution_options(synchronize_session=False)
            )
            # Counted, not read from rowcount, which psycopg leaves at -1 for INSERT ... SELECT.
            queued = (session.scalar(rows) or 0) - before
        if queued >= _ANALYZE_AFTER and self.engine.dialect.name == "postgresql":
            self._analyze_the_ledger()
        return queued

    def _analyze_the_ledger(self) -> None:
        # The ledger is read in batches next (pending_delivery_batches). Until autovacuum
        # gets to the table, PostgreSQL takes the edition to have a handful of rows and reads
        # each batch through the (edition, status) index, sorting every pending row of the
        # edition each time: quadratic, 17 s for 100,000 readers. With fresh statistics it
        # walks the primary key from the last id read: 0.5 s. Each batch is read joined
        # with its subscribers and their memberships (deliveries_to_send): a list imported a
        # moment ago looks just as small, and each batch then scans all of them.
        with self.engine.begin() as connection:
            connection.execute(text("ANALYZE deliveries, subscribers, subscriptions"))


def _members_to_queue(
    edition_id: int, list_slug: str, readers: Collection[int] | None, default_topics: bool
) -> list[Select[int, int, str, int]]:
    """The INSERT ... SELECTs' selections of ``queue_deliveries``: the readers the edition goes
    to who have no row of it yet, as (edition, reader, status, attempts)."""
    members = (
        select(
            literal(edition_id),
            SubscriptionRow.subscriber_id,
            literal(PENDING),
            literal(0),
        )
        .join(SubscriberRow, SubscriberRow.id == SubscriptionRow.subscriber_id)
        .where(SubscriptionRow.list_slug == list_slug, SubscriptionRow.status == CONFIRMED)
        .where(~address_suppressed())
        .where(
            ~exists().where(
                DeliveryRow.edition_id == edition_id,
                DeliveryRow.subscriber_id == SubscriptionRow.subscriber_id,
            )
        )
    )
    if default_topics:
        members = members.where(SubscriptionRow.topics.is_(None))
    if default_topics or readers is not None:
        # One variant of several: a reader queued for another variant of the same slot (they
        # changed their topics, or their timezone, between two passes) gets no second copy.
        slot_of_edition = select(EditionRow.slot).where(EditionRow.id == edition_id)
        same_slot = select(EditionRow.id).where(
            EditionRow.list_slug == list_slug,
            EditionRow.slot == slot_of_edition.scalar_subquery(),
        )
        members = members.where(
            ~exists().where(
                DeliveryRow.edition_id.in_(same_slot),
                DeliveryRow.subscriber_id == SubscriptionRow.subscriber_id,
            )
        )
    # An edition whose settled copies were deleted (digest.retention) is queued for no one
    # again: a reader whose copy is gone would be taken for one it never went to.
    pruned = select(EditionRow.ledger_pruned_at).where(EditionRow.id == edition_id)
    members = members.where(pruned.scalar_subquery().is_(None))
    if readers is None:
        return [members]
    # A bounded IN list at a time: SQLite caps bound parameters.
    return [
        members.where(SubscriptionRow.subscriber_id.in_(chunk)) for chunk in chunks(sorted(readers))
    ]
