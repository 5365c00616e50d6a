"""Inbound events in the store, on SQLite and PostgreSQL: each id once, soft bounces counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from digest.store import Store, open_store

T0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.engine.dispose()


def record(store: Store, event_id: str, kind: str, email: str, at: datetime) -> bool:
    return store.record_inbound_event(
        event_id=event_id,
        kind=kind,
        source="smtp",
        email=email,
        subscriber_id=None,
        list_slug=None,
        detail="",
        outcome="counted",
        now=at,
    )


def test_an_event_is_recorded_once_by_its_id(store: Store) -> None:
    assert not store.inbound_event_seen("hard-bounce:delivery 1.2")
    assert record(store, "hard-bounce:delivery 1.2", "hard-bounce", "Rana@Example.org", T0)
    assert not record(store, "hard-bounce:delivery 1.2", "hard-bounce", "rana@example.org", T0)
    assert store.inbound_event_seen("hard-bounce:delivery 1.2")
    assert store.inbound_events() == [
        ("hard-bounce:delivery 1.2", "hard-bounce", "rana@example.org", "counted")
    ]


def test_soft_bounces_are_counted_per_address_within_the_window(store: Store) -> None:
    for n, days_ago in enumerate([40, 10, 3, 0]):
        record(
            store,
            f"soft-bounce:{n}",
            "soft-bounce",
            "omar@example.org",
            T0 - timedelta(days=days_ago),
        )
    record(store, "soft-bounce:x", "soft-bounce", "noor@example.org", T0)
    record(store, "hard-bounce:y", "hard-bounce", "omar@example.org", T0)
    assert store.soft_bounces_since("OMAR@example.org", T0 - timedelta(days=30)) == 3
    assert store.soft_bounces_since("omar@example.org", T0 - timedelta(days=5)) == 2


def test_a_webhook_token_is_taken_once_and_forgotten_when_old(store: Store) -> None:
    assert store.first_use_of_webhook_token("mailgun", "t1", T0, T0 - timedelta(hours=1))
    assert not store.first_use_of_webhook_token("mailgun", "t1", T0, T0 - timedelta(hours=1))
    assert store.first_use_of_webhook_token("other", "t1", T0, T0 - timedelta(hours=1))
    later = T0 + timedelta(days=1)
    assert store.first_use_of_webhook_token("mailgun", "t2", later, later - timedelta(hours=1))
    # t1 was dropped as too old to matter: its call is refused for its age by then.
    assert store.first_use_of_webhook_token("mailgun", "t1", later, later - timedelta(hours=1))
