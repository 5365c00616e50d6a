"""A reader's unsubscribe, recorded where it outlives the database: the suppression file first.

    unsubscribe(subscriber, list) ─► the list's slug now (an old link may carry a former one)
                                  ─► a line in the suppression file, synced to disk
                                  ─► the membership marked unsubscribed in the database

The file is written first: should the database write fail, the next subscriber sync applies the
file's line, so the reader's word is never lost between the two (invariant 8). The web page, the
one-click POST and the mailto handler all come through here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from digest.config import Settings
from digest.errors import ConfigError
from digest.lists import list_for_slug, slugs_and_previous
from digest.services import Services
from digest.store import Store
from digest.suppression import append_suppressions, read_suppressions

_log = logging.getLogger(__name__)


def unsubscribe(services: Services, subscriber_id: int, list_slug: str, reason: str) -> bool:
    """Unsubscribe a reader from a list (by its slug now or before); False when there is no
    such reader. ``reason`` says which channel brought it (link, one-click, mailto, operator)."""
    settings, store, now = services.settings, services.store, services.clock.now()
    subscriber = store.subscriber(subscriber_id)
    if subscriber is None:
        return False
    digest_list = list_for_slug(settings, list_slug)
    slug = digest_list.slug if digest_list is not None else list_slug
    path = settings.service.suppression_path
    try:
        append_suppressions(path, [(subscriber.email, slug, reason, now)])
    except OSError as error:
        # The database still records it, and the next cycle copies it to the file: a reader's
        # word is never refused because of a disk.
        _log.error("could not write %s (%s); the unsubscribe is kept in the database", path, error)
    # The membership may still be under the slug of the link until the rename is carried over.
    return store.unsubscribe(subscriber_id, slug, now) or store.unsubscribe(
        subscriber_id, list_slug, now
    )


def reconcile_suppressions(settings: Settings, store: Store, now: datetime) -> list[str]:
    """Bring the suppression file and the database in step, both ways, at each cycle: the
    database's unsubscribes the file lacks are appended to it (recorded before the file existed,
    or while it could not be written), and the file's lines (an operator's, or one written just
    before a crash) unsubscribe their readers at once, so copies already queued for them are
    skipped. Returns warnings when the file cannot be read or written."""
    path = settings.service.suppression_path
    try:
        kept = read_suppressions(path)
    except ConfigError as error:
        return [f"{error} (unsubscribes are kept in the database only until it is fixed)"]
    for digest_list in settings.lists:
        store.unsubscribe_addresses(
            digest_list.slug, kept.for_list(slugs_and_previous(digest_list)), now
        )
    missing = [
        (email, slug, "unsubscribed (copied from the database)", when)
        for email, slug, when in store.unsubscribed_members()
        if not kept.holds(email, slug)
    ]
    try:
        append_suppressions(path, missing)
    except OSError as error:
        return [
            f"{path}: cannot write ({error.strerror}): {len(missing)} unsubscribes are kept in "
            "the database only until it can be written; check service.suppression_file"
        ]
    return []
