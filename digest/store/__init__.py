"""The store: one SQLAlchemy database behind a small typed API, one domain per module."""

from __future__ import annotations

from digest.store.archive import ArchivedEdition, ArchiveStore
from digest.store.db import STATEMENT_SECONDS, close_engine, open_engine
from digest.store.deliveries import DeliveryCounts, DeliveryStore
from digest.store.editions import EditionState, EditionStore
from digest.store.feeds import FeedState, FeedStore, UnchangedFetch
from digest.store.inbound import InboundStore
from digest.store.ledger import EditionDeliveries, FailedAttempt, LedgerStore, ParkedDelivery
from digest.store.lists import ListRename, ListStore
from digest.store.memberships import MembershipStore
from digest.store.people import PeopleStore
from digest.store.pictures import PictureBytes, PictureStore, StoredPicture
from digest.store.queueing import QueueStore, ReaderPosition
from digest.store.retention import Prunable, RetentionStore
from digest.store.subscriber_imports import ImportReport, SubscriberImportStore
from digest.store.subscribers import Membership, SubscriberInput, SubscriberStore
from digest.store.suppressions import SuppressionStore
from digest.store.topic_slugs import TopicRename, TopicSlugStore
from digest.store.upgrades import check_schema, upgrade


class Store(
    FeedStore,
    SubscriberStore,
    MembershipStore,
    SubscriberImportStore,
    SuppressionStore,
    PeopleStore,
    EditionStore,
    QueueStore,
    DeliveryStore,
    LedgerStore,
    ListStore,
    TopicSlugStore,
    InboundStore,
    ArchiveStore,
    PictureStore,
    RetentionStore,
):
    """Feeds, articles and topics, subscribers and suppressions, editions and the delivery
    ledger, lists, the inbound events (bounces, complaints) taken in, and the archive's reading
    of editions, the pictures the service serves, and the deleting of rows past their window."""


def open_store(
    database_url: str,
    *,
    migrate: bool = True,
    shared: bool = False,
    statement_seconds: float = STATEMENT_SECONDS,
) -> Store:
    """Connect to the database, bringing its schema up to date first unless told not to.

    A ``shared`` database, the distributed mode's, is not upgraded but checked: workers and beat
    of the release that made its schema run on it, and a command started with newer code (a
    `digest status` from an updated laptop) must not migrate it under them. One that is not this
    code's is refused with SchemaMismatchError, which says to run `digest db upgrade`: the one
    command that upgrades it, on purpose, once.

    PostgreSQL cancels a statement that takes more than ``statement_seconds``
    (service.database_timeout_seconds).
    """
    engine = open_engine(database_url, statement_seconds=statement_seconds)
    try:
        if migrate and shared:
            check_schema(engine, database_url)
        elif migrate:
            upgrade(engine)
    except BaseException:  # Ctrl-C too: the engine is the caller's only once a Store holds it
        close_engine(engine)
        raise
    return Store(engine)


__all__ = [
    "ArchivedEdition",
    "DeliveryCounts",
    "EditionDeliveries",
    "EditionState",
    "FailedAttempt",
    "FeedState",
    "ImportReport",
    "ListRename",
    "Membership",
    "ParkedDelivery",
    "PictureBytes",
    "Prunable",
    "ReaderPosition",
    "Store",
    "StoredPicture",
    "SubscriberInput",
    "TopicRename",
    "UnchangedFetch",
    "open_store",
]
