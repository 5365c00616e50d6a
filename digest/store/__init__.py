"""The store: one SQLAlchemy database behind a small typed API, one domain per module."""

from __future__ import annotations

from digest.store.archive import ArchivedEdition, ArchiveStore
from digest.store.db import create_database_engine, upgrade
from digest.store.editions import DeliveryCounts, EditionState, EditionStore, ReaderPosition
from digest.store.feeds import FeedState, FeedStore, UnchangedFetch
from digest.store.inbound import InboundStore
from digest.store.ledger import EditionDeliveries, FailedAttempt, LedgerStore, ParkedDelivery
from digest.store.lists import ListRename, ListStore
from digest.store.subscribers import SubscriberInput, SubscriberStore, SubscriberSync


class Store(
    FeedStore, SubscriberStore, EditionStore, LedgerStore, ListStore, InboundStore, ArchiveStore
):
    """Feeds, articles and topics, subscribers, editions and the delivery ledger, lists, the
    inbound events (bounces, complaints) taken in, and the archive's reading of editions."""


def open_store(database_url: str, *, migrate: bool = True) -> Store:
    """Connect to the database, bringing its schema up to date first unless told not to."""
    engine = create_database_engine(database_url)
    if migrate:
        upgrade(engine)
    return Store(engine)


__all__ = [
    "ArchivedEdition",
    "DeliveryCounts",
    "EditionDeliveries",
    "EditionState",
    "FailedAttempt",
    "FeedState",
    "ListRename",
    "ParkedDelivery",
    "ReaderPosition",
    "Store",
    "SubscriberInput",
    "SubscriberSync",
    "UnchangedFetch",
    "open_store",
]
