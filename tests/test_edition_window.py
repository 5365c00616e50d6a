"""An article stored while an edition is being built is in that edition or the next: never in
neither (a transaction that began before the build and committed after it) and never in both."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from digest import pipeline
from digest.clock import FixedClock
from digest.config import Settings, settings_from_mapping
from digest.mail.transport import MemoryTransport
from digest.records import Article, TopicMatch
from digest.services import Services, build_services
from tests.test_store import T0, entry

FILED = (TopicMatch("middle-east", 1.0),)


def make_settings(tmp_path: Path, database_url: str) -> Settings:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = {
        "service": {
            "database_url": database_url,
            "data_dir": str(tmp_path / "var"),
            "base_url": "https://news.example.org",
            "sender_name": "The Desk",
            "sender_address": "desk@example.org",
            "postal_address": "1 Example Street, Example City",
        },
        "feeds": [{"name": "Wire", "url": "https://wire.example.org/rss"}],
        "topics": [{"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Gulf"]}}],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily Brief",
                "topics": ["middle-east"],
                "schedule": "0 7 * * *",
                "timezone": "UTC",
                "subscribers": "members.csv",
                "send_when_empty": True,
                "max_articles": 200,
            }
        ],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, database_url)
    built = build_services(settings, clock=FixedClock(T0), transport=MemoryTransport())
    built.store.sync_feeds(settings.feeds, T0)
    yield built
    built.store.engine.dispose()


def feed_id(services: Services) -> int:
    return services.store.feeds()[0].id


def build(services: Services, at: datetime) -> list[int]:
    """Build the edition due at ``at`` (the clock set there); the ids of its articles."""
    services.clock = FixedClock(at)
    outcome = pipeline.build_edition(services, "daily", at)
    return [article.id for article in services.store.edition_articles(outcome.edition_id)]


class HeldStore:
    """A poll's store transaction that has inserted its article and waits, open, for ``release``."""

    def __init__(self, services: Services, number: int, at: datetime) -> None:
        self.inserted = threading.Event()
        self.release = threading.Event()
        self.ids: tuple[int, ...] = ()

        def classify(_article: Article) -> tuple[TopicMatch, ...]:
            # Called inside the transaction, after the insert.
            self.inserted.set()
            assert self.release.wait(30)
            return FILED

        def store() -> None:
            stored = services.store.store_entries(
                feed_id(services), [entry(number)], at, classify=classify
            )
            self.ids = stored.new

        self.thread = threading.Thread(target=store)
        self.thread.start()
        assert self.inserted.wait(30)

    def commit(self) -> tuple[int, ...]:
        self.release.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        return self.ids


def after_candidates(services: Services, then: Callable[[], None]) -> None:
    """Run ``then`` once the build has read its candidates (before it stores the edition)."""
    read = services.store.candidates

    def candidates(*args: object) -> object:
        found = read(*args)  # type: ignore[arg-type]
        then()
        return found

    services.store.candidates = candidates  # type: ignore[method-assign,assignment]


def test_an_article_committed_after_a_build_began_is_in_the_next_edition(
    services: Services, database_url: str
) -> None:
    first = build(services, T0)
    # The poll's transaction starts (first seen at T0 + 1h) before the build at T0 + 2h...
    held = HeldStore(services, 1, T0 + timedelta(hours=1))
    if database_url.startswith("sqlite"):
        # ...SQLite writes one at a time: the build's own write waits for the poll, which commits
        # once the build has read its window.
        after_candidates(services, held.release.set)
        during = build(services, T0 + timedelta(hours=2))
        ids = held.commit()
    else:
        # ...and commits only after the build has stored its edition.
        during = build(services, T0 + timedelta(hours=2))
        ids = held.commit()
    vars(services.store).pop("candidates", None)  # the store's own method again
    after = build(services, T0 + timedelta(days=1))
    assert len(ids) == 1
    assert (first, during, after) == ([], [], list(ids))


def test_an_article_committed_before_a_build_is_in_it_and_not_the_next(
    services: Services,
) -> None:
    build(services, T0)
    ids = services.store.store_entries(
        feed_id(services), [entry(1)], T0 + timedelta(hours=1), classify=lambda _a: FILED
    ).new
    assert build(services, T0 + timedelta(hours=2)) == list(ids)
    assert build(services, T0 + timedelta(days=1)) == []


@pytest.mark.parametrize("seed", range(4))
def test_each_article_lands_in_exactly_one_edition_whatever_the_interleaving(
    services: Services, seed: int
) -> None:
    """Polls in threads store articles (first seen before the builds that race them) while
    editions are built; every article ends in exactly one edition."""
    chooser = random.Random(seed)
    stored: list[int] = []
    lock = threading.Lock()
    number = iter(range(1, 10_000))

    def poll(count: int) -> None:
        for _ in range(count):
            with lock:
                entries = [entry(next(number)) for _ in range(chooser.randint(1, 3))]
                at = T0 + timedelta(minutes=chooser.randint(0, 5))
            new = services.store.store_entries(
                feed_id(services), entries, at, classify=lambda _a: FILED
            ).new
            with lock:
                stored.extend(new)

    pollers = [threading.Thread(target=poll, args=(15,)) for _ in range(3)]
    for poller in pollers:
        poller.start()
    editions = []
    minute = 0
    while any(poller.is_alive() for poller in pollers):
        minute += 1
        editions.append(build(services, T0 + timedelta(hours=1, minutes=minute)))
    for poller in pollers:
        poller.join()
    editions.append(build(services, T0 + timedelta(days=1)))
    mailed = [article for edition in editions for article in edition]
    assert sorted(mailed) == sorted(stored)
    assert len(stored) >= 45
