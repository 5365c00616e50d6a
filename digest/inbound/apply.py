"""Where an inbound event changes a reader's subscriptions: the one module that writes them.

    unsubscribe(list)  ─► digest.unsubscribes.unsubscribe, channel "mailto"
    suppress(address)  ─► the address suppressed for every list in the database (a bounce, a
                          complaint); a complaint also ends its memberships of every list. The
                          suppression file gets the lines at the next cycle (digest.unsubscribes)

Everything else in digest.inbound decides; this module only carries the decision out.
"""

from __future__ import annotations

import logging

from digest.lists import slugs_and_previous
from digest.services import Services
from digest.store.subscribers import FORGOTTEN
from digest.unsubscribes import unsubscribe as unsubscribe_from_list

_log = logging.getLogger(__name__)

# The channels of the subscriber lifecycle these changes come by (digest.store.subscribers), and
# the suppression reason of a complaint.
BOUNCE = "bounce"
COMPLAINT = "complaint"


def address_of(services: Services, subscriber_id: int) -> str | None:
    """The reader's address, or None when there is no such reader (any more): a forgotten
    one's row holds a placeholder address, which is nobody's to suppress."""
    subscriber = services.store.held_subscriber(subscriber_id)
    return subscriber.email if subscriber is not None else None


def is_forgotten(services: Services, email: str) -> bool:
    """Whether ``email`` was forgotten at its owner's request (digest.privacy): nothing about
    it may be recorded again, and it is suppressed for good already."""
    found = services.store.suppression(services.address_key(email))
    return found is not None and found.reason == FORGOTTEN


def unsubscribe(services: Services, subscriber_id: int, list_slug: str, channel: str) -> bool:
    """Unsubscribe the reader from the list; False when there is no such reader."""
    return unsubscribe_from_list(services, subscriber_id, list_slug, channel)


def suppress(services: Services, email: str, reason: str) -> int:
    """Stop all mail to ``email``, for every list, now and in lists yet to come; ``reason`` is
    hard-bounce or complaint. A complaint also unsubscribes the address from every list (the
    reader said no to all of it). Returns how many memberships it ended."""
    settings, store, now = services.settings, services.store, services.clock.now()
    channel = COMPLAINT if reason == COMPLAINT else BOUNCE
    store.suppress(email, services.address_key, reason, channel, now)
    if reason != COMPLAINT:
        return 0
    slugs = {slug for entry in settings.lists for slug in slugs_and_previous(entry)}
    slugs |= store.list_slugs_with_history()
    return sum(
        store.unsubscribe_addresses(slug, [email], now, channel=COMPLAINT) for slug in sorted(slugs)
    )
