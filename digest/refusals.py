"""Addresses a mail server refuses for good at the send (a 5xx to RCPT or DATA): counted on the
reader, who is suppressed after ``smtp.suppress_after_refusals`` of them.

    deliver_batch ─► the permanent failures of the batch ─► one event per (edition, reader)
    (digest.store.inbound, kind "smtp-refusal") ─► over the bound within the window ─► suppressed
    as a hard bounce (digest.inbound.apply), on every list

One refusal may be about the message rather than the address (a content filter), so a single
one only fails that delivery; several, for several editions, say the address is gone. A reply
whose status faults the message or the sender (a blocklist, the edition's size: the rules a
bounce is read by, digest.inbound.bounces) is not counted at all: it refuses every reader at
that server alike, edition after edition. The count
lives beside the bounces that come back by mail, so both are read and kept the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from digest.addresses import without_addresses
from digest.inbound import apply
from digest.inbound.bounces import refusal_faults_the_address
from digest.records import Subscriber
from digest.services import Services

KIND = "smtp-refusal"
_log = logging.getLogger(__name__)


def count_refusals(
    services: Services, edition_id: int, refused: Iterable[tuple[Subscriber, str]]
) -> list[str]:
    """Count each (reader, the server's reply) refused for good while sending ``edition_id``;
    returns the addresses suppressed now."""
    settings, store, now = services.settings, services.store, services.clock.now()
    if settings.smtp is None:
        return []
    limit = settings.smtp.suppress_after_refusals
    since = now - timedelta(days=settings.bounces.soft_window_days)
    suppressed = []
    for subscriber, reply in refused:
        if not refusal_faults_the_address(reply):
            # A blocklist, our reputation, the edition's size or content: every reader at
            # that server is refused alike, for as long as it lasts. That delivery fails only.
            # Logged by the reader's id: such a refusal comes for every reader at that
            # server, and a line naming each would write them all into the worker's log.
            _log.info(
                "subscriber %d refused for the message or the sender, not the address: "
                "not counted (%s)",
                subscriber.id,
                without_addresses(reply, (subscriber.email,), f"subscriber {subscriber.id}")[:200],
            )
            continue
        counted = store.record_inbound_event(
            event_id=f"{KIND}:{edition_id}:{subscriber.id}",
            kind=KIND,
            source="smtp",
            email=subscriber.email,
            subscriber_id=subscriber.id,
            list_slug=None,
            detail=reply[:500],
            outcome="counted",
            now=now,
        )
        if not counted:
            continue  # this edition's refusal of the reader was counted before
        refusals = store.events_since(subscriber.email, KIND, since)
        if refusals >= limit:
            apply.suppress(services, subscriber.email, "hard-bounce")
            suppressed.append(subscriber.email)
            _log.warning(
                "subscriber %d suppressed: refused for good %d times "
                "(smtp.suppress_after_refusals = %d)",
                subscriber.id,
                refusals,
                limit,
            )
    return suppressed
