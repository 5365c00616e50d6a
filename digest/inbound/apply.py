"""Where an inbound event changes a reader's subscriptions: the one module that writes them.

    unsubscribe(list)  ─► digest.unsubscribes.unsubscribe, channel "mailto"
    suppress(address)  ─► a line for every list in the suppression file (digest.suppression),
                          then the address's memberships of every list marked unsubscribed

Everything else in digest.inbound decides; this module only carries the decision out, against
the subscriber store of today, so that it can move to another with nothing else changing.
"""

from __future__ import annotations

import logging

from digest.lists import slugs_and_previous
from digest.services import Services
from digest.suppression import EVERY_LIST, append_suppressions
from digest.unsubscribes import unsubscribe as unsubscribe_from_list

_log = logging.getLogger(__name__)


def address_of(services: Services, subscriber_id: int) -> str | None:
    """The reader's address, or None when there is no such reader (any more)."""
    subscriber = services.store.subscriber(subscriber_id)
    return subscriber.email if subscriber is not None else None


def unsubscribe(services: Services, subscriber_id: int, list_slug: str, channel: str) -> bool:
    """Unsubscribe the reader from the list; False when there is no such reader."""
    return unsubscribe_from_list(services, subscriber_id, list_slug, channel)


def suppress(services: Services, email: str, reason: str) -> int:
    """Stop all mail to ``email``, for every list, now and in lists yet to come; ``reason`` is
    hard-bounce or complaint. Returns how many memberships it ended."""
    settings, store, now = services.settings, services.store, services.clock.now()
    path = settings.service.suppression_path
    try:
        append_suppressions(path, [(email, EVERY_LIST, reason, now)])
    except OSError as error:
        # The memberships below still end; the next cycle copies them to the file per list.
        _log.error("could not write %s (%s); %s is suppressed in the database", path, error, email)
    slugs = {slug for entry in settings.lists for slug in slugs_and_previous(entry)}
    slugs |= store.list_slugs_with_history()
    return sum(store.unsubscribe_addresses(slug, [email], now) for slug in sorted(slugs))
