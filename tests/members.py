"""Readers put in the store as an import puts them, for tests of the stages after it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from digest.addresses import key_function
from digest.store import ImportReport, Store, SubscriberInput

SECRET = "test-secret-key"
KEY = key_function(SECRET)


def numbered_readers(count: int) -> str:
    """A subscriber file of ``count`` readers: reader0@example.org, "Reader 0", and on."""
    return "email,name\n" + "".join(f"reader{n}@example.org,Reader {n}\n" for n in range(count))


def add_members(
    store: Store,
    list_slug: str,
    readers: Sequence[SubscriberInput],
    now: datetime,
    *,
    confirmed: bool = True,
) -> ImportReport:
    """Import ``readers`` into the list, confirmed unless told otherwise."""
    return store.import_members(list_slug, readers, now, confirmed=confirmed, address_key=KEY)
