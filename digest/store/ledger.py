"""The delivery ledger's retries, and what an operator sees of it (issue #9).

Failed attempts are recorded as ``digest.retries`` decides (retry later, failed, parked); the
status queries read each edition's counts and the parked deliveries; an operator releases the
parked deliveries of an edition to send them again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, exists, func, select, update

from digest.retries import AttemptKind, NextStep
from digest.store.base import StoreBase
from digest.store.deliveries import FAILED, PARKED, PENDING, DeliveryCounts, counts_by_status
from digest.store.editions import READY, SENT
from digest.store.schema import DeliveryRow, EditionRow, SubscriberRow, SubscriptionRow
from digest.store.subscribers import CONFIRMED

_STATUS_OF = {"retry": PENDING, "failed": FAILED, "parked": PARKED}


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    delivery_id: int
    kind: AttemptKind
    error: str


@dataclass(frozen=True, slots=True)
class EditionDeliveries:
    """An edition and where its deliveries stand."""

    edition_id: int
    list_slug: str
    slot: datetime
    built_at: datetime
    status: str  # the edition's: ready (deliveries in flight) or sent (all settled)
    counts: DeliveryCounts
    next_retry_at: datetime | None  # the soonest a pending delivery waiting to retry may go
    # When its settled copies began to be deleted as past retention.deliveries_days: the counts
    # are of the copies left (pending or parked ones), not of what went.
    pruned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParkedDelivery:
    delivery_id: int
    edition_id: int
    list_slug: str
    email: str
    attempts: int
    unknown_attempts: int
    reason: str


# Built once: every column a failed attempt changes, bound per row (one executemany a batch).
_RECORD_FAILURE = (
    update(DeliveryRow)
    .where(DeliveryRow.id == bindparam("delivery"), DeliveryRow.status == PENDING)
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("new_attempts"),
        unknown_attempts=bindparam("new_unknown"),
        last_error=bindparam("reason"),
        next_attempt_at=bindparam("retry_at"),
    )
)


def _settled() -> ColumnElement[bool]:
    """An edition none of whose deliveries is left to send: one marked sent, and one queued
    with no pending row, which no batch will ever mark (a list with no confirmed member, a
    variant whose readers another edition served): shown "in flight", every such edition
    stayed in `digest status` for good, whatever ``--recent`` said. An edition stored and not
    yet queued is in flight: the next run or tick queues it."""
    pending = exists().where(DeliveryRow.edition_id == EditionRow.id, DeliveryRow.status == PENDING)
    queued_and_done = (EditionRow.status == READY) & EditionRow.queued_at.is_not(None) & ~pending
    return (EditionRow.status == SENT) | queued_and_done


class LedgerStore(StoreBase):
    def record_failed_attempts(
        self,
        failures: Sequence[FailedAttempt],
        decide: Callable[[FailedAttempt, int, int], NextStep],
    ) -> list[tuple[int, NextStep]]:
        """Record ``failures`` (attempts on pending rows), each row's next step as ``decide``
        says from (the attempt, failed attempts so far with this one, those whose reply never
        came with this one); in one transaction. Returns each row's id and step, in order; a
        row no longer pending (settled meanwhile) is left alone and left out."""
        if not failures:
            return []
        ids = [failure.delivery_id for failure in failures]
        with self.transaction() as session:
            counts = {
                delivery_id: (attempts, unknown)
                for delivery_id, attempts, unknown in session.execute(
                    select(
                        DeliveryRow.id, DeliveryRow.attempts, DeliveryRow.unknown_attempts
                    ).where(DeliveryRow.id.in_(ids), DeliveryRow.status == PENDING)
                )
            }
            steps, rows = [], []
            for failure in failures:
                if failure.delivery_id not in counts:
                    continue
                attempts, unknown = counts[failure.delivery_id]
                attempts, unknown = attempts + 1, unknown + (failure.kind == "unknown")
                counts[failure.delivery_id] = (attempts, unknown)
                step = decide(failure, attempts, unknown)
                steps.append((failure.delivery_id, step))
                rows.append(
                    {
                        "delivery": failure.delivery_id,
                        "new_status": _STATUS_OF[step.verdict],
                        "new_attempts": attempts,
                        "new_unknown": unknown,
                        "reason": step.reason,
                        "retry_at": step.next_attempt_at,
                    }
                )
            if rows:
                session.connection().execute(_RECORD_FAILURE, rows)
            return steps

    def members_of(self, list_slugs: Sequence[str]) -> int:
        """How many confirmed members the lists have: about the deliveries their editions will
        queue, enough to tell whether sending them will take more than one batch."""
        with self.transaction() as session:
            members = session.scalar(
                select(func.count())
                .select_from(SubscriptionRow)
                .where(
                    SubscriptionRow.list_slug.in_(list_slugs), SubscriptionRow.status == CONFIRMED
                )
            )
        return members or 0

    def edition_deliveries(self, *, recent: int = 10) -> list[EditionDeliveries]:
        """Every edition with deliveries in flight, and the ``recent`` last built that had any,
        newest first, with their counts."""
        with self.transaction() as session:
            sent = session.scalars(
                select(EditionRow.id)
                .where(_settled())
                .order_by(EditionRow.built_at.desc(), EditionRow.id.desc())
                .limit(recent)
            )
            in_flight = set(
                session.scalars(
                    select(EditionRow.id).where(EditionRow.status == READY, ~_settled())
                )
            )
            ids = set(sent) | in_flight
            if not ids:
                return []
            editions = session.execute(
                select(
                    EditionRow.id,
                    EditionRow.list_slug,
                    EditionRow.slot,
                    EditionRow.built_at,
                    EditionRow.ledger_pruned_at,
                )
                .where(EditionRow.id.in_(ids))
                .order_by(EditionRow.built_at.desc(), EditionRow.id.desc())
            ).all()
            counts: dict[int, dict[str, int]] = {}
            for edition_id, status, count in session.execute(
                select(DeliveryRow.edition_id, DeliveryRow.status, func.count())
                .where(DeliveryRow.edition_id.in_(ids))
                .group_by(DeliveryRow.edition_id, DeliveryRow.status)
            ):
                counts.setdefault(edition_id, {})[status] = count
            retries = dict(
                session.execute(
                    select(DeliveryRow.edition_id, func.min(DeliveryRow.next_attempt_at))
                    .where(DeliveryRow.edition_id.in_(ids), DeliveryRow.status == PENDING)
                    .group_by(DeliveryRow.edition_id)
                ).all()
            )
        return [
            EditionDeliveries(
                edition_id=edition_id,
                list_slug=list_slug,
                slot=slot,
                built_at=built_at,
                status=READY if edition_id in in_flight else SENT,
                counts=counts_by_status(counts.get(edition_id, {})),
                next_retry_at=retries.get(edition_id),
                pruned_at=pruned_at,
            )
            for edition_id, list_slug, slot, built_at, pruned_at in editions
        ]

    def settled_editions(self) -> int:
        """How many editions have every delivery settled: those ``edition_deliveries`` lists
        ``recent`` of."""
        with self.transaction() as session:
            settled = session.scalar(select(func.count()).select_from(EditionRow).where(_settled()))
        return settled or 0

    def parked_deliveries(self, *, limit: int | None = None) -> tuple[list[ParkedDelivery], int]:
        """The parked deliveries (the first ``limit`` when given, by edition and reader) and how
        many there are in all."""
        with self.transaction() as session:
            total = session.scalar(
                select(func.count()).select_from(DeliveryRow).where(DeliveryRow.status == PARKED)
            )
            rows = session.execute(
                select(
                    DeliveryRow.id,
                    DeliveryRow.edition_id,
                    EditionRow.list_slug,
                    SubscriberRow.email,
                    DeliveryRow.attempts,
                    DeliveryRow.unknown_attempts,
                    DeliveryRow.last_error,
                )
                .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .where(DeliveryRow.status == PARKED)
                .order_by(DeliveryRow.edition_id, DeliveryRow.id)
                .limit(limit)
            ).all()
        parked = [
            ParkedDelivery(
                delivery_id=row[0],
                edition_id=row[1],
                list_slug=row[2],
                email=row[3],
                attempts=row[4],
                unknown_attempts=row[5],
                reason=row[6] or "",
            )
            for row in rows
        ]
        return parked, total or 0

    def edition_list(self, edition_id: int) -> str | None:
        """The slug of the list the edition was built for (None: no such edition)."""
        with self.transaction() as session:
            return session.scalar(select(EditionRow.list_slug).where(EditionRow.id == edition_id))

    def release_parked(self, edition_id: int) -> int:
        """Make the edition's parked deliveries pending again, due now, their count of copies
        with no reply started afresh; the edition is in flight again. How many were released."""
        with self.transaction() as session:
            released = (
                session.connection()
                .execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.edition_id == edition_id, DeliveryRow.status == PARKED)
                    .values(
                        status=PENDING,
                        # The copies with no reply are counted afresh; the temporary failures
                        # (attempts less those copies) still count against smtp.max_retries.
                        attempts=DeliveryRow.attempts - DeliveryRow.unknown_attempts,
                        unknown_attempts=0,
                        next_attempt_at=None,
                    )
                )
                .rowcount
            )
            if released:
                session.execute(
                    update(EditionRow)
                    .where(EditionRow.id == edition_id, EditionRow.status == SENT)
                    .values(status=READY)
                )
            return int(released or 0)
