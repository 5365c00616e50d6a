"""Taking inbound events in: each once, soft bounces counted, one transition each.

    event ─► already taken in (its id)? ─► dropped as a duplicate (a soft bounce: see below)
          ─► the reader's address (a token names a subscriber id; a provider, an address)
             none, or forgotten at its owner's request ─► ignored, nothing recorded
          ─► hard bounce ─► suppress the address              (digest.inbound.apply)
             complaint   ─► suppress it (every list, now and to come)
             soft bounce ─► recorded, then counted: soft_limit within soft_window_days
                            ─► suppressed as a hard bounce
             mailto      ─► unsubscribe from the token's list
          ─► recorded with what was done

An event is recorded after it was applied, so a crash between the two applies it again at the
next delivery of the same report, never not at all; applying twice changes nothing more. A soft
bounce is recorded first, since recording is what counts it: one taken in before is counted
again, so that the suppression it reached is made even when the store failed before making it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from digest.addresses import without_addresses
from digest.inbound import apply
from digest.inbound.events import COMPLAINT, HARD_BOUNCE, SOFT_BOUNCE, UNSUBSCRIBE, InboundEvent
from digest.plurals import english_count
from digest.services import Services

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Taken:
    """What became of one event."""

    event: InboundEvent
    outcome: str  # suppressed, unsubscribed, counted, duplicate, unknown reader, ...
    applied: bool


def take_events(services: Services, events: Iterable[InboundEvent]) -> list[Taken]:
    """Apply each event not taken in before; the outcomes, in order."""
    return [_take(services, event) for event in events]


def _take(services: Services, event: InboundEvent) -> Taken:
    store = services.store
    if event.kind != SOFT_BOUNCE and store.inbound_event_seen(event.event_id):
        return _duplicate(event)
    email = event.email
    if email is None and event.subscriber_id is not None:
        email = apply.address_of(services, event.subscriber_id)
    if email is None:
        _log.info("inbound: %s %s names no reader we have", event.kind, event.event_id)
        return Taken(event, "unknown reader", False)
    if apply.is_forgotten(services, email):
        # Not recorded, nor logged by its id: a provider's names the address.
        _log.info("inbound: %s (%s) about an address forgotten: ignored", event.kind, event.source)
        return Taken(event, "forgotten", False)
    if event.kind == SOFT_BOUNCE:
        return _soft_bounce(services, event, email)
    if event.kind in (HARD_BOUNCE, COMPLAINT):
        ended = apply.suppress(services, email, event.kind)
        outcome = _suppressed(event.kind, ended)
    elif event.kind == UNSUBSCRIBE and event.subscriber_id is not None and event.list_slug:
        done = apply.unsubscribe(services, event.subscriber_id, event.list_slug, "mailto")
        outcome = f"unsubscribed from {event.list_slug}" if done else "unknown reader"
    else:
        outcome = "nothing to do"
    recorded = _record(services, event, email, outcome)
    _log.info(
        "inbound: %s for %s (%s): %s", event.kind, _reader(services, event), event.source, outcome
    )
    return Taken(event, outcome if recorded else "duplicate", recorded)


def _soft_bounce(services: Services, event: InboundEvent, email: str) -> Taken:
    bounces, store, now = services.settings.bounces, services.store, services.clock.now()
    recorded = _record(services, event, email, "counted")  # False: taken in before
    since = now - timedelta(days=bounces.soft_window_days)
    count = store.soft_bounces_since(email, since)
    if count < bounces.soft_limit:
        if not recorded:
            return _duplicate(event)
        outcome = f"counted ({count} of {bounces.soft_limit})"
        _log.info(
            "inbound: soft-bounce for %s (%s): %s", _reader(services, event), event.source, outcome
        )
        return Taken(event, outcome, True)
    # Over the limit, and not suppressed though this bounce was taken in before: the store
    # failed between recording it and suppressing, and this is the sending server's retry.
    if not recorded and store.suppression(services.address_key(email)) is not None:
        return _duplicate(event)
    apply.suppress(services, email, HARD_BOUNCE)
    outcome = f"suppressed after {count} soft bounces in {bounces.soft_window_days:g} days"
    store.set_inbound_outcome(event.event_id, outcome)
    _log.info(
        "inbound: soft-bounce for %s (%s): %s", _reader(services, event), event.source, outcome
    )
    return Taken(event, outcome, True)


def _duplicate(event: InboundEvent) -> Taken:
    # A provider's event id holds the recipient's address (digest.inbound.mailgun, sns).
    told = without_addresses(event.event_id, (event.email or "",), "…")
    _log.info("inbound: %s %s taken in before: skipped", event.kind, told)
    return Taken(event, "duplicate", False)


def _reader(services: Services, event: InboundEvent) -> str:
    """The event's reader as the log names them: by id, never by address (one line per
    bounce, complaint and unsubscribe would make the log a list of those readers)."""
    subscriber_id = event.subscriber_id
    if subscriber_id is None and event.email is not None:
        held = services.store.subscriber_by_email(event.email)
        subscriber_id = held.id if held is not None else None
    return f"subscriber {subscriber_id}" if subscriber_id is not None else "an address of no reader"


def _suppressed(kind: str, ended: int) -> str:
    # A bounce suppresses the address and leaves its memberships as they are (the reader did
    # not ask to leave); only a complaint ends them. "0 memberships ended" after a bounce read
    # as if nothing had been done.
    if kind == COMPLAINT:
        return f"suppressed ({english_count(ended, 'membership', 'memberships')} ended)"
    return "suppressed for every list"


def _record(services: Services, event: InboundEvent, email: str, outcome: str) -> bool:
    return services.store.record_inbound_event(
        event_id=event.event_id,
        kind=event.kind,
        source=event.source,
        email=email,
        subscriber_id=event.subscriber_id,
        list_slug=event.list_slug,
        detail=event.detail,
        outcome=outcome,
        now=services.clock.now(),
    )
