"""Everything held on one person, and erasing it (privacy requests).

    person(email)  the subscriber row, their memberships, the history of them, the suppression
                   of their address, their deliveries from the ledger, and the bounces and
                   complaints taken in about them: plain data for JSON
    drop_unconfirmed(before)  the people who only ever asked with the sign-up form and never
                   confirmed, their last ask older than ``before``, deleted with their
                   memberships and history: nobody vouched for the address or the name typed
    forget(email)  in one transaction: memberships unsubscribed (channel "operator"), the
                   subscriber row anonymised (address, name, timezone gone), the ledger rows'
                   error texts (which may quote the address) erased, the bounces and complaints
                   taken in kept without it, the address taken out of what the imports of
                   the operator's files said, and the address kept only as its key in a
                   "forgotten" suppression, so it is never imported or mailed again

The subscriber row is anonymised rather than deleted: the ledger and the history keep their
counts (an edition went to N readers) without saying to whom.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from digest.store.base import StoreBase, chunks
from digest.store.schema import (
    DeliveryRow,
    EditionRow,
    FileMarkRow,
    InboundEventRow,
    SubscriberRow,
    SubscriptionChangeRow,
    SubscriptionRow,
    SuppressionRow,
)
from digest.store.subscribers import FORGOTTEN, PENDING, SIGN_UP, UNSUBSCRIBED, last_asked

# What stands for a forgotten address in a text kept about it.
FORGOTTEN_ADDRESS = "(an address forgotten at its owner's request)"


@dataclass(frozen=True, slots=True)
class Forgotten:
    found: bool  # a subscriber row had the address
    memberships: int
    deliveries: int


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class PeopleStore(StoreBase):
    def person(self, email: str, key: str) -> dict[str, Any]:
        """Everything held on the person with ``email`` (any case), as JSON-ready data."""
        lowered = email.strip().lower()
        with self.transaction() as session:
            subscriber = session.execute(
                select(SubscriberRow).where(func.lower(SubscriberRow.email) == lowered).limit(1)
            ).scalar_one_or_none()
            held: dict[str, Any] = {
                "email": lowered,
                "subscriber": None,
                "memberships": [],
                "history": [],
                "deliveries": [],
                "bounces_and_complaints": _inbound_events(session, lowered, None),
                "suppression": _suppression(session, key),
            }
            if subscriber is None:
                return held
            held["subscriber"] = {
                "id": subscriber.id,
                "email": subscriber.email,
                "name": subscriber.name,
                "timezone": subscriber.timezone,
                "created_at": _when(subscriber.created_at),
                "name_and_timezone_set_by": subscriber.set_by,
            }
            held["bounces_and_complaints"] = _inbound_events(session, lowered, subscriber.id)
            held["memberships"] = _memberships(session, subscriber.id)
            held["history"] = _history(session, subscriber.id)
            held["deliveries"] = _deliveries(session, subscriber.id)
        return held

    def drop_unconfirmed(self, before: datetime) -> int:
        """Delete each person whose every membership is a sign-up from the form still pending
        since before ``before`` (when the confirmation links of that time stopped working),
        and who was never a member: anyone may type an address and a name into the form, and
        what its owner never confirmed is not kept. A person with any other membership, or
        who was ever confirmed (a reader who left and asked to come back), is kept whole.
        Returns how many were deleted."""
        stale = and_(
            SubscriptionRow.status == PENDING,
            SubscriptionRow.channel == SIGN_UP,
            last_asked(SubscriptionRow) < before,
        )
        other = aliased(SubscriptionRow)
        with self.transaction() as session:
            # The few stale sign-ups first, then, for each, its person's other rows by index.
            ids = list(
                session.scalars(
                    select(SubscriptionRow.subscriber_id)
                    .where(stale)
                    .where(
                        ~exists().where(
                            other.subscriber_id == SubscriptionRow.subscriber_id,
                            ~and_(
                                other.status == PENDING,
                                other.channel == SIGN_UP,
                                last_asked(other) < before,
                            ),
                        ),
                        ~exists().where(
                            SubscriptionChangeRow.subscriber_id == SubscriptionRow.subscriber_id,
                            SubscriptionChangeRow.to_status != PENDING,
                        ),
                    )
                    .distinct()
                )
            )
            for chunk in chunks(ids):
                for table in (SubscriptionChangeRow, SubscriptionRow):
                    session.execute(delete(table).where(table.subscriber_id.in_(chunk)))
                session.execute(delete(SubscriberRow).where(SubscriberRow.id.in_(chunk)))
        return len(ids)

    def forget(
        self, email: str, key: str, now: datetime, *, mailbox_key: str | None = None
    ) -> Forgotten:
        """Erase what is held on the person with ``email`` and keep their address's key (and
        their mailbox's, which a sign-up form is checked against) as a forgotten suppression;
        in one transaction. Forgetting again finds nothing more."""
        lowered = email.strip().lower()
        with self.transaction() as session:
            connection = session.connection()
            ids = list(
                session.scalars(
                    select(SubscriberRow.id).where(func.lower(SubscriberRow.email) == lowered)
                )
            )
            memberships = deliveries = 0
            for subscriber_id in ids:
                memberships += _unsubscribe_from_every_list(connection, subscriber_id, now)
                deliveries += _erase_subscriber(connection, subscriber_id)
            _forget_inbound_events(connection, lowered, ids)
            _forget_file_notes(connection, lowered)
            _keep_forgotten_key(connection, key, mailbox_key, now)
        return Forgotten(bool(ids), memberships, deliveries)


def _unsubscribe_from_every_list(connection: Connection, subscriber_id: int, now: datetime) -> int:
    """Unsubscribe the subscriber, by the operator, from each list they have not left, each
    change recorded in the history; how many memberships that was."""
    open_ones = connection.execute(
        select(SubscriptionRow.id, SubscriptionRow.list_slug, SubscriptionRow.status).where(
            SubscriptionRow.subscriber_id == subscriber_id,
            SubscriptionRow.status != UNSUBSCRIBED,
        )
    ).all()
    for membership_id, slug, status in open_ones:
        connection.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.id == membership_id)
            .values(status=UNSUBSCRIBED, channel="operator", changed_at=now)
        )
        connection.execute(
            insert(SubscriptionChangeRow.__table__),  # type: ignore[arg-type]
            [
                {
                    "subscriber_id": subscriber_id,
                    "list_slug": slug,
                    "from_status": status,
                    "to_status": UNSUBSCRIBED,
                    "channel": "operator",
                    "at": now,
                }
            ],
        )
    return len(open_ones)


def _erase_subscriber(connection: Connection, subscriber_id: int) -> int:
    """Clear the errors of the subscriber's deliveries (a server's words may quote the address)
    and their address, name and timezone; how many deliveries were cleared."""
    cleared = (
        connection.execute(
            update(DeliveryRow)
            .where(DeliveryRow.subscriber_id == subscriber_id)
            .values(last_error=None)
        ).rowcount
        or 0
    )
    connection.execute(
        update(SubscriberRow)
        .where(SubscriberRow.id == subscriber_id)
        .values(
            email=f"forgotten-{subscriber_id}@forgotten.invalid",
            name=None,
            timezone=None,
            set_by=FORGOTTEN,
        )
    )
    return cleared


def _keep_forgotten_key(
    connection: Connection, key: str, mailbox_key: str | None, now: datetime
) -> None:
    """Keep the address's key as a suppression without its address: an import or a sign-up of
    the same address is refused, and a sign-up of its mailbox (``mailbox_key``) too."""
    forgotten = {"email": None, "reason": FORGOTTEN, "channel": "operator", "at": now}
    if mailbox_key is not None:
        forgotten["mailbox_key"] = mailbox_key
    done = connection.execute(
        update(SuppressionRow).where(SuppressionRow.address_key == key).values(forgotten)
    )
    if not done.rowcount:
        connection.execute(
            insert(SuppressionRow.__table__),  # type: ignore[arg-type]
            [{"address_key": key, "mailbox_key": mailbox_key, **forgotten}],
        )


def _suppression(session: Session, key: str) -> dict[str, Any] | None:
    """The suppression of the address of ``key``, if any."""
    found = session.execute(
        select(SuppressionRow.reason, SuppressionRow.channel, SuppressionRow.at).where(
            SuppressionRow.address_key == key
        )
    ).first()
    if found is None:
        return None
    return {"reason": found[0], "channel": found[1], "at": _when(found[2])}


def _memberships(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """The subscriber's memberships as they stand, by list."""
    return [
        {"list": slug, "status": status, "channel": channel, "changed_at": _when(at)}
        for slug, status, channel, at in session.execute(
            select(
                SubscriptionRow.list_slug,
                SubscriptionRow.status,
                SubscriptionRow.channel,
                SubscriptionRow.changed_at,
            )
            .where(SubscriptionRow.subscriber_id == subscriber_id)
            .order_by(SubscriptionRow.list_slug)
        )
    ]


def _history(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """Every change of the subscriber's memberships, in the order made."""
    return [
        {"list": slug, "from": before, "to": after, "channel": channel, "at": _when(at)}
        for slug, before, after, channel, at in session.execute(
            select(
                SubscriptionChangeRow.list_slug,
                SubscriptionChangeRow.from_status,
                SubscriptionChangeRow.to_status,
                SubscriptionChangeRow.channel,
                SubscriptionChangeRow.at,
            )
            .where(SubscriptionChangeRow.subscriber_id == subscriber_id)
            .order_by(SubscriptionChangeRow.id)
        )
    ]


def _deliveries(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """The subscriber's rows of the delivery ledger, with their edition's list and slot."""
    return [
        {
            "edition": edition_id,
            "list": slug,
            "slot": _when(slot),
            "status": status,
            "attempts": attempts,
            "message_id": message_id,
            "sent_at": _when(sent_at),
            "last_error": last_error,
        }
        for edition_id, slug, slot, status, attempts, message_id, sent_at, last_error in (
            session.execute(
                select(
                    DeliveryRow.edition_id,
                    EditionRow.list_slug,
                    EditionRow.slot,
                    DeliveryRow.status,
                    DeliveryRow.attempts,
                    DeliveryRow.message_id,
                    DeliveryRow.sent_at,
                    DeliveryRow.last_error,
                )
                .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
                .where(DeliveryRow.subscriber_id == subscriber_id)
                .order_by(DeliveryRow.id)
            )
        )
    ]


def _inbound_events(session: Session, lowered: str, subscriber_id: int | None) -> list[Any]:
    """The bounces, complaints and mailto unsubscribes taken in about the person (by their
    address, or as the reader a token of ours named), oldest first."""
    about = InboundEventRow.email == lowered
    if subscriber_id is not None:
        about = or_(about, InboundEventRow.subscriber_id == subscriber_id)
    return [
        {"kind": kind, "source": source, "detail": detail, "outcome": outcome, "at": _when(at)}
        for kind, source, detail, outcome, at in session.execute(
            select(
                InboundEventRow.kind,
                InboundEventRow.source,
                InboundEventRow.detail,
                InboundEventRow.outcome,
                InboundEventRow.received_at,
            )
            .where(about)
            .order_by(InboundEventRow.id)
        )
    ]


def _forget_file_notes(connection: Connection, lowered: str) -> None:
    """What the import of an operator's file said, kept with its mark and said again at each
    cycle while the file is unchanged, may quote the address ("duplicate email 'SAM@…'"):
    the address goes from it, the warning stays."""
    quoted = re.compile(re.escape(lowered), re.IGNORECASE)
    for name, notes in connection.execute(
        select(FileMarkRow.name, FileMarkRow.notes).where(FileMarkRow.notes.is_not(None))
    ).all():
        if notes and lowered in notes.lower():
            connection.execute(
                update(FileMarkRow)
                .where(FileMarkRow.name == name)
                .values(notes=quoted.sub(FORGOTTEN_ADDRESS, notes))
            )


def _forget_inbound_events(connection: Connection, lowered: str, ids: list[int]) -> None:
    """The bounces and complaints taken in about the person keep their count, not the address:
    it goes from the row, from the detail (a Diagnostic-Code quotes it) and from the event id
    (a provider's event is named by its recipient), which keeps only its hash."""
    about = or_(InboundEventRow.email == lowered, InboundEventRow.subscriber_id.in_(ids))
    for row_id, event_id in connection.execute(
        select(InboundEventRow.id, InboundEventRow.event_id).where(about)
    ).all():
        values: dict[str, Any] = {"email": None, "detail": ""}
        if lowered in event_id.lower():
            values["event_id"] = f"forgotten:sha256:{hashlib.sha256(event_id.encode()).hexdigest()}"
        connection.execute(
            update(InboundEventRow).where(InboundEventRow.id == row_id).values(**values)
        )
