"""Lists as the database remembers them: which slugs have history, what they hold, renames."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from digest.store.base import StoreBase
from digest.store.deliveries import PENDING as DELIVERY_PENDING
from digest.store.editions import READY
from digest.store.schema import (
    DeliveryRow,
    EditionRow,
    FileMarkRow,
    ListStartRow,
    SubscriptionRow,
)
from digest.store.subscribers import CONFIRMED, PENDING, SIGN_UP, UNSUBSCRIBED


@dataclass(frozen=True, slots=True)
class ListRename:
    editions: int  # editions now under the new slug
    memberships: int  # memberships now under the new slug (merged ones included)
    editions_left: int  # editions of a slot the new slug already had, left under the old one


# (old status, new status) pairs where the merged membership takes the old one's.
_OLD_WINS = frozenset([(UNSUBSCRIBED, PENDING), (UNSUBSCRIBED, CONFIRMED), (CONFIRMED, PENDING)])


def _signed_up_since(kept: SubscriptionRow, left: SubscriptionRow) -> bool:
    """Whether the reader signed up under the new slug after they left under the old one: the
    web pages may run on the renamed list before a cycle carries its members over, and the
    reader's newer word holds (only a sign-up: an import never resubscribes)."""
    return (
        left.status == UNSUBSCRIBED
        and kept.channel == SIGN_UP
        and kept.changed_at > left.changed_at
    )


class ListStore(StoreBase):
    def record_list_start(self, list_slug: str, now: datetime) -> None:
        """Note that the list runs from ``now``, unless it was noted before (two ticks at once
        agree on the first)."""
        with suppress(IntegrityError), self.transaction() as session:
            if session.get(ListStartRow, list_slug) is None:
                session.add(ListStartRow(list_slug=list_slug, started_at=now))

    def list_started(self, list_slug: str) -> datetime | None:
        """When the list began to run (None: not yet): when the service first brought its
        members in step, or built its first edition if that was earlier (a database older
        than that record)."""
        with self.transaction() as session:
            noted = session.scalar(
                select(ListStartRow.started_at).where(ListStartRow.list_slug == list_slug)
            )
            built = session.scalar(
                select(func.min(EditionRow.built_at)).where(EditionRow.list_slug == list_slug)
            )
        return min((moment for moment in (noted, built) if moment is not None), default=None)

    def list_slugs_with_history(self) -> set[str]:
        """Every list slug that has an edition or a membership in the database."""
        with self.transaction() as session:
            editions = session.scalars(select(EditionRow.list_slug).distinct())
            members = session.scalars(select(SubscriptionRow.list_slug).distinct())
            return {*editions, *members}

    def held_deliveries(self, besides: Collection[str] = ()) -> dict[str, int]:
        """Pending deliveries by the list slug of their edition, for the lists not ``besides``.

        The editions are picked first, then their deliveries counted by the (edition, status)
        index: a cycle asks this with ``besides`` the configured lists, and must not read a
        ledger of millions of rows to find none.
        """
        query = (
            select(EditionRow.list_slug, func.count())
            .join(DeliveryRow, DeliveryRow.edition_id == EditionRow.id)
            .where(DeliveryRow.status == DELIVERY_PENDING)
            .group_by(EditionRow.list_slug)
        )
        if besides:
            query = query.where(EditionRow.list_slug.not_in(list(besides)))
        with self.transaction() as session:
            return {row[0]: row[1] for row in session.execute(query).all()}

    def held_after_rename(self, old: str, new: str) -> tuple[int, int]:
        """What ``rename_list(old, new)`` leaves held under ``old``: the pending deliveries and
        the never-queued editions of its editions whose slot ``new`` already has (the others
        move to ``new`` and are sent)."""
        clashing = (
            EditionRow.list_slug == old,
            EditionRow.slot.in_(select(EditionRow.slot).where(EditionRow.list_slug == new)),
        )
        with self.transaction() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
                .where(DeliveryRow.status == DELIVERY_PENDING, *clashing)
            )
            unqueued = session.scalar(
                select(func.count())
                .select_from(EditionRow)
                .where(EditionRow.status == READY, EditionRow.queued_at.is_(None), *clashing)
            )
        return int(pending or 0), int(unqueued or 0)

    def rename_list(self, old: str, new: str, now: datetime) -> ListRename:
        """Carry list ``old``'s editions and memberships over to ``new``, in one transaction.

        A reader with a membership under both keeps one, under ``new``: unsubscribed if either
        was (a reader's word is final), unless they signed up again under ``new`` since, else
        confirmed if either was, else pending; with the channel and time of the membership it
        takes its status from. The history stays under
        the slug each change was made under. An edition whose slot ``new``
        already has stays under ``old`` (editions are keyed by list and slot); it is history,
        and its pending deliveries, if any, are reported as held. Running it again moves nothing.
        """
        with self.transaction() as session:
            taken = select(EditionRow.slot).where(EditionRow.list_slug == new)
            before = session.scalar(
                select(func.count()).select_from(EditionRow).where(EditionRow.list_slug == old)
            )
            session.execute(
                update(EditionRow)
                .where(EditionRow.list_slug == old, EditionRow.slot.not_in(taken))
                .values(list_slug=new)
                .execution_options(synchronize_session=False)
            )
            left = session.scalar(
                select(func.count()).select_from(EditionRow).where(EditionRow.list_slug == old)
            )
            current = {
                row.subscriber_id: row
                for row in session.scalars(
                    select(SubscriptionRow).where(SubscriptionRow.list_slug == new)
                )
            }
            merged: list[int] = []
            memberships = 0
            for row in session.scalars(
                select(SubscriptionRow).where(SubscriptionRow.list_slug == old)
            ):
                memberships += 1
                kept = current.get(row.subscriber_id)
                if kept is None:
                    row.list_slug = new
                    continue
                if (row.status, kept.status) in _OLD_WINS and not _signed_up_since(kept, row):
                    kept.status, kept.channel, kept.changed_at = (
                        row.status,
                        row.channel,
                        row.changed_at,
                    )
                merged.append(row.id)
            session.flush()
            if merged:
                session.execute(delete(SubscriptionRow).where(SubscriptionRow.id.in_(merged)))
            # The list runs on under its new name: its readers who join wait for their hour.
            if session.get(ListStartRow, new) is None:
                session.execute(
                    update(ListStartRow).where(ListStartRow.list_slug == old).values(list_slug=new)
                )
            # The mark of the list's file follows it: the same file is not imported again.
            if session.get(FileMarkRow, f"list:{new}") is None:
                session.execute(
                    update(FileMarkRow)
                    .where(FileMarkRow.name == f"list:{old}")
                    .values(name=f"list:{new}")
                )
        moved = (before or 0) - (left or 0)
        return ListRename(editions=moved, memberships=memberships, editions_left=left or 0)
