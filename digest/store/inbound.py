"""Inbound events taken in (bounces, complaints, mailto unsubscribes) and webhook tokens seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from digest.store.base import StoreBase
from digest.store.schema import InboundEventRow, WebhookTokenRow


class InboundStore(StoreBase):
    def inbound_event_seen(self, event_id: str) -> bool:
        """Whether an event with this id was taken in already."""
        with self.transaction() as session:
            found = session.scalar(
                select(InboundEventRow.id).where(InboundEventRow.event_id == event_id)
            )
        return found is not None

    def record_inbound_event(
        self,
        *,
        event_id: str,
        kind: str,
        source: str,
        email: str | None,
        subscriber_id: int | None,
        list_slug: str | None,
        detail: str,
        outcome: str,
        now: datetime,
    ) -> bool:
        """Record an event; False when one with this id was recorded before (by this process or
        another at the same moment: the unique id decides)."""
        row = InboundEventRow(
            event_id=event_id,
            kind=kind,
            source=source,
            email=email.lower() if email else None,
            subscriber_id=subscriber_id,
            list_slug=list_slug,
            detail=detail,
            outcome=outcome,
            received_at=now,
        )
        try:
            with self.transaction() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def set_inbound_outcome(self, event_id: str, outcome: str) -> None:
        with self.transaction() as session:
            session.execute(
                update(InboundEventRow)
                .where(InboundEventRow.event_id == event_id)
                .values(outcome=outcome)
            )

    def soft_bounces_since(self, email: str, since: datetime) -> int:
        """How many soft bounces of ``email`` (each a different message) were taken in since."""
        return self.events_since(email, "soft-bounce", since)

    def events_since(self, email: str, kind: str, since: datetime) -> int:
        """How many events of ``kind`` about ``email`` (each of a different message) since."""
        with self.transaction() as session:
            count = session.scalar(
                select(func.count())
                .select_from(InboundEventRow)
                .where(
                    InboundEventRow.email == email.lower(),
                    InboundEventRow.kind == kind,
                    InboundEventRow.received_at >= since,
                )
            )
        return count or 0

    def inbound_events(self) -> list[tuple[str, str, str | None, str]]:
        """(event id, kind, email, outcome) of every event taken in, oldest first."""
        with self.transaction() as session:
            return [
                (event_id, kind, email, outcome)
                for event_id, kind, email, outcome in session.execute(
                    select(
                        InboundEventRow.event_id,
                        InboundEventRow.kind,
                        InboundEventRow.email,
                        InboundEventRow.outcome,
                    ).order_by(InboundEventRow.id)
                )
            ]

    def first_use_of_webhook_token(
        self, provider: str, token: str, now: datetime, forget_before: datetime
    ) -> bool:
        """Record a webhook token; False when it was seen before. Tokens older than
        ``forget_before`` are dropped first: a call that old is refused for its age anyway."""
        with self.transaction() as session:
            session.execute(delete(WebhookTokenRow).where(WebhookTokenRow.seen_at < forget_before))
        try:
            with self.transaction() as session:
                session.add(WebhookTokenRow(provider=provider, token=token, seen_at=now))
        except IntegrityError:
            return False
        return True

    def forget_webhook_token(self, provider: str, token: str) -> None:
        """Forget a token recorded by ``first_use_of_webhook_token``: its call was not taken."""
        with self.transaction() as session:
            session.execute(
                delete(WebhookTokenRow).where(
                    WebhookTokenRow.provider == provider, WebhookTokenRow.token == token
                )
            )
