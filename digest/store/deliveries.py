"""The delivery ledger: one row per (edition, reader), queued (digest.store.queueing), claimed,
marked and settled (invariant 3)."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    true,
    update,
)

from digest.records import Subscriber
from digest.store.base import StoreBase
from digest.store.db import advisory_locks, sqlite_file
from digest.store.editions import READY, SENT, EditionState, edition_state
from digest.store.schema import (
    DeliveryRow,
    EditionRow,
    SubscriberRow,
    SubscriptionRow,
    SuppressionRow,
    UTCDateTime,
)
from digest.store.subscribers import CONFIRMED

# A ledger row's status.
PENDING = "pending"
DELIVERED = "sent"
FAILED = "failed"
SKIPPED = "skipped"  # the subscriber unsubscribed before the send
PARKED = "parked"  # copies may have arrived with no reply, max_attempts times: not sent again


def address_suppressed() -> ColumnElement[bool]:
    """The subscriber's address is suppressed for every list (compared lowercased)."""
    return exists().where(SuppressionRow.email == func.lower(SubscriberRow.email))


def is_due(now: datetime | None, longest_wait: timedelta | None) -> ColumnElement[bool]:
    """A pending row that may be tried at ``now`` (a retry waits for its next_attempt_at);
    every pending row when ``now`` is None.

    A retry due more than ``longest_wait`` (the policy's longest, ``retries.longest_wait``)
    after ``now`` was set while the clock ran fast: it is due now, or it would wait out the
    whole error of the clock (a day, for a machine resumed with yesterday's time fixed by NTP).
    """
    if now is None:
        return true()
    due = or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now)
    if longest_wait is None:
        return due
    return or_(due, DeliveryRow.next_attempt_at > now + longest_wait)


def pending_batch_query(
    edition_id: int,
    after: int,
    size: int,
    now: datetime | None,
    longest_wait: timedelta | None = None,
) -> Select[int]:
    """The ids of the edition's next ``size`` pending (and, with ``now``, due) deliveries after
    id ``after``: one page of ``DeliveryStore.pending_delivery_batches``."""
    return (
        select(DeliveryRow.id)
        .where(
            DeliveryRow.edition_id == edition_id,
            DeliveryRow.status == PENDING,
            DeliveryRow.id > after,
            is_due(now, longest_wait),
        )
        .order_by(DeliveryRow.id)
        .limit(size)
    )


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    pending: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    parked: int = 0


class DeliveriesToSend(list[tuple[int, Subscriber]]):
    """The rows of a batch to send now, in id order, with their subscribers; ``skipped``: how
    many rows of the batch this read marked skipped (their reader left or was suppressed)."""

    skipped: int = 0


class DeliveryStore(StoreBase):
    def pending_deliveries(self, edition_id: int) -> list[int]:
        with self.transaction() as session:
            return list(
                session.scalars(
                    select(DeliveryRow.id)
                    .where(DeliveryRow.edition_id == edition_id, DeliveryRow.status == PENDING)
                    .order_by(DeliveryRow.id)
                )
            )

    def pending_delivery_batches(
        self,
        edition_id: int,
        size: int,
        now: datetime | None = None,
        longest_wait: timedelta | None = None,
    ) -> Iterator[list[int]]:
        """The ids of the edition's pending deliveries, ``size`` at a time, in id order; with
        ``now``, only those due (a retry waits for its ``next_attempt_at``, ``is_due``).

        Read a batch at a time (keyset pagination), so a list of any size costs one batch of
        memory. A row that leaves "pending" meanwhile is not read again, nor is a row read
        twice in one pass: a retry is for a later pass.
        """
        after = 0
        while True:
            with self.transaction() as session:
                ids = list(
                    session.scalars(pending_batch_query(edition_id, after, size, now, longest_wait))
                )
            if not ids:
                return
            yield ids
            after = ids[-1]

    def deliveries_to_send(
        self,
        edition_id: int,
        delivery_ids: Sequence[int],
        now: datetime | None = None,
        longest_wait: timedelta | None = None,
    ) -> DeliveriesToSend:
        """The still-pending deliveries among ``delivery_ids``, with their subscribers; with
        ``now``, only those due (a batch read before a retry was set waits for its time).

        A subscriber who is no longer a confirmed member of the edition's list (unsubscribed
        since the row was queued, or no membership of it), or whose address was suppressed
        meanwhile, gets nothing: the row is skipped (invariant 3), and counted in the answer's
        ``skipped`` by the one read that marked it.
        """
        with self.transaction() as session:
            # Plain rows, not ORM objects: this runs once per batch of a list of any size.
            list_slug = session.execute(
                select(EditionRow.list_slug).where(EditionRow.id == edition_id)
            ).scalar_one()
            query = (
                select(
                    DeliveryRow.id,
                    SubscriberRow.id,
                    SubscriberRow.email,
                    SubscriberRow.name,
                    SubscriberRow.timezone,
                    SubscriptionRow.status,
                    address_suppressed(),
                )
                .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
                .outerjoin(
                    SubscriptionRow,
                    (SubscriptionRow.subscriber_id == SubscriberRow.id)
                    & (SubscriptionRow.list_slug == list_slug),
                )
                .where(
                    DeliveryRow.id.in_(delivery_ids),
                    DeliveryRow.edition_id == edition_id,
                    DeliveryRow.status == PENDING,
                    is_due(now, longest_wait),
                )
                .order_by(DeliveryRow.id)
            )
            rows = session.connection().execute(query).all()
            ready = []
            skipped = []
            for delivery_id, subscriber_id, email, name, timezone, membership, suppressed in rows:
                if membership != CONFIRMED or suppressed:
                    skipped.append(delivery_id)
                    continue
                ready.append(
                    (delivery_id, Subscriber(subscriber_id, email, name, timezone=timezone))
                )
            answer = DeliveriesToSend(ready)
            if skipped:
                # Counted from the UPDATE, not the rows read: two batches holding the same rows
                # (one handed out again) both read them pending; one of them marks each.
                marked = session.connection().execute(
                    update(DeliveryRow)
                    .where(DeliveryRow.id.in_(skipped), DeliveryRow.status == PENDING)
                    .values(status=SKIPPED)
                )
                answer.skipped = max(marked.rowcount, 0)
            return answer

    @contextmanager
    def claimed(self, delivery_ids: Sequence[int]) -> Iterator[list[int]]:
        """The deliveries among ``delivery_ids`` that no other batch is sending at this moment,
        held for this one until the block ends.

        Two batches may hold the same rows: one handed out again after a broker restart (the
        queue and the leases lost) while the first still runs, or one redelivered by the
        broker. Each would read the rows as pending and send them. On PostgreSQL each row is
        held with an advisory lock of a transaction open on a connection of the block's own
        (``advisory_locks``, which says why not the session's): the other batch
        skips the rows, and a process killed outright lets go of them with its connection, so
        the batch sent again at once (reject_on_worker_lost) finds them free.

        SQLite is the embedded mode, one machine, where two senders are two ``digest run`` (or
        ``digest send``) at once: a cron job started again before the last run ended, or a
        command run by hand beside the service. Each row is held there with a POSIX record lock
        on one byte of a file beside the database (``_claimed_in_file``), which a process killed
        outright lets go of too. An in-memory database has no second sender: every id is
        yielded.
        """
        if not delivery_ids:
            yield []
            return
        if self.engine.dialect.name == "sqlite":
            database = sqlite_file(self.engine.url)
            if database is None or database.startswith("file:"):
                yield list(delivery_ids)
                return
            with _claimed_in_file(Path(f"{database}-sending"), delivery_ids) as held:
                yield held
            return
        if self.engine.dialect.name != "postgresql":
            yield list(delivery_ids)
            return
        with advisory_locks(self.engine, _CLAIM, {"ids": sorted(set(delivery_ids))}) as held:
            yield held

    def mark_delivered_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        """Mark the (delivery id, Message-ID) pairs sent, in one transaction."""
        if sent:
            with self.engine.begin() as connection:
                self.mark_delivered_on(connection, sent, now)

    def mark_delivered_on(
        self, connection: Connection, sent: Sequence[tuple[int, str]], now: datetime
    ) -> None:
        """``mark_delivered_many``'s one UPDATE, in ``connection``'s transaction: the caller
        commits (digest.store.sent_marks holds a connection for a batch's many records)."""
        if not sent:
            return
        if self.engine.dialect.name == "postgresql":
            # One statement over two arrays: PostgreSQL runs a statement per row of an
            # executemany, and on a worker's path that was most of its work per copy.
            ids, message_ids = zip(*sent, strict=True)
            connection.execute(
                _MARK_SENT_ARRAYS,
                {"ids": list(ids), "message_ids": list(message_ids), "now": now},
            )
            return
        # An executemany, which SQLite runs without a round trip per row.
        connection.execute(
            _MARK_SENT.values(sent_at=now),
            [{"delivery": delivery_id, "sent_id": message_id} for delivery_id, message_id in sent],
        )

    def delivery_counts(self, edition_id: int) -> DeliveryCounts:
        with self.transaction() as session:
            counts = dict(
                session.execute(
                    select(DeliveryRow.status, func.count())
                    .where(DeliveryRow.edition_id == edition_id)
                    .group_by(DeliveryRow.status)
                ).all()
            )
        return counts_by_status(counts)

    def settle_edition(self, edition_id: int) -> None:
        """Mark an edition sent once no delivery of it is pending."""
        with self.transaction() as session:
            # An index lookup, not a count: this runs after every batch of a large list. From
            # the highest id down: batches go out in id order, and the versions of the rows sent
            # so far stay in the index as pending until vacuum, all below the live ones.
            pending = session.scalar(
                select(DeliveryRow.id)
                .where(DeliveryRow.edition_id == edition_id, DeliveryRow.status == PENDING)
                .order_by(DeliveryRow.id.desc())
                .limit(1)
            )
            if pending is not None:
                return
            row = session.get_one(EditionRow, edition_id)
            if row.status == READY:
                row.status = SENT

    def unqueued_editions(self) -> list[EditionState]:
        """Ready editions whose deliveries were never queued (a build that stopped after storing
        the edition), oldest first."""
        with self.transaction() as session:
            rows = session.scalars(
                select(EditionRow)
                .where(EditionRow.status == READY, EditionRow.queued_at.is_(None))
                .order_by(EditionRow.slot, EditionRow.id)
            )
            return [edition_state(row) for row in rows]

    def editions_with_pending_deliveries(
        self, list_slugs: Collection[str] | None = None
    ) -> list[int]:
        """Editions with a delivery pending; only those of ``list_slugs`` when given."""
        query = select(DeliveryRow.edition_id).where(DeliveryRow.status == PENDING)
        if list_slugs is not None:
            query = query.join(EditionRow, EditionRow.id == DeliveryRow.edition_id).where(
                EditionRow.list_slug.in_(list(list_slugs))
            )
        with self.transaction() as session:
            return list(session.scalars(query.distinct().order_by(DeliveryRow.edition_id)))


@contextmanager
def _claimed_in_file(path: Path, delivery_ids: Sequence[int]) -> Iterator[list[int]]:
    """The ids among ``delivery_ids`` no other process holds, each held by this one until the
    block ends with an exclusive record lock on byte ``id`` of ``path`` (made if missing).

    Record locks belong to the process and go when it ends, however it ends, or when it
    closes any descriptor of the file: one process must not hold two claims at once, which
    the embedded mode never does (a process sends one batch at a time).
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        held = []
        for delivery_id in sorted(set(delivery_ids)):
            try:
                fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, delivery_id)
            except OSError as error:
                if error.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                continue  # another process is sending it
            held.append(delivery_id)
        yield held
    finally:
        os.close(descriptor)  # every lock of the block goes with it


# The delivery ids among :ids whose advisory lock this transaction could take, another one's
# not waited for. A lock's key is (1818584167, the row's id): the first number, "ledg" in
# ASCII, keeps delivery rows apart from any other use of advisory locks.
_CLAIM = text(
    "SELECT id FROM unnest(CAST(:ids AS integer[])) AS id "
    "WHERE pg_try_advisory_xact_lock(1818584167, id) ORDER BY id"
)

# Built once: a Core UPDATE by primary key, its Message-ID bound per row.
_MARK_SENT = (
    update(DeliveryRow)
    .where(DeliveryRow.id == bindparam("delivery"))
    .values(
        status=DELIVERED,
        message_id=bindparam("sent_id"),
        attempts=DeliveryRow.attempts + 1,
        last_error=None,
    )
)


# _MARK_SENT for PostgreSQL, the rows and their Message-IDs bound as two arrays.
_MARK_SENT_ARRAYS = text(
    "UPDATE deliveries SET status = :sent, message_id = sent.message_id, "
    "attempts = deliveries.attempts + 1, last_error = NULL, sent_at = :now "
    "FROM unnest(CAST(:ids AS integer[]), CAST(:message_ids AS varchar[])) "
    "AS sent(id, message_id) WHERE deliveries.id = sent.id"
).bindparams(bindparam("now", type_=UTCDateTime), bindparam("sent", value=DELIVERED))


def counts_by_status(by_status: Mapping[str, int]) -> DeliveryCounts:
    """An edition's ledger rows counted by status (``status -> rows``) as DeliveryCounts."""
    return DeliveryCounts(
        pending=by_status.get(PENDING, 0),
        sent=by_status.get(DELIVERED, 0),
        failed=by_status.get(FAILED, 0),
        skipped=by_status.get(SKIPPED, 0),
        parked=by_status.get(PARKED, 0),
    )
