"""An article stored while an edition is being built is in that edition or the next: never in
neither (a transaction that began before the build and committed after it) and never in both."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import pipeline, windows
from digest.clock import FixedClock
from digest.config import FeedSettings, Settings, settings_from_mapping
from digest.errors import ConfigError
from digest.mail.transport import MemoryTransport
from digest.records import Article, TopicMatch
from digest.services import Services, build_services
from tests.configs import service_table
from tests.test_store import T0, entry

FILED = (TopicMatch("middle-east", 1.0),)


def make_settings(tmp_path: Path, database_url: str, **list_options: object) -> Settings:
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    raw = {
        "service": service_table(tmp_path, database_url=database_url),
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
                **list_options,
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


def test_a_slot_built_after_a_later_one_does_not_send_its_news_again(services: Services) -> None:
    # A build task that waited in the queue (or was handed back by the broker after a worker
    # died) runs after the next slot's: its window started at the edition before both, and it
    # mailed the later edition's articles a second time.
    build(services, T0)
    services.store.store_entries(
        feed_id(services), [entry(1)], T0 + timedelta(hours=1), classify=lambda _a: FILED
    )
    later = build(services, T0 + timedelta(days=2))
    services.clock = FixedClock(T0 + timedelta(days=2, minutes=5))
    stale = pipeline.build_edition(services, "daily", T0 + timedelta(days=1))
    assert later and not stale.built and stale.edition_id is None
    assert services.store.edition_for_slot("daily", T0 + timedelta(days=1)) is None


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
                # At most 90 articles in all: one edition holding every one stays under
                # Gmail's clipping size, which the pre-send checks refuse (a build that ran
                # before every poll made one of 135, 104 KB, and the run failed on that).
                entries = [entry(next(number)) for _ in range(chooser.randint(1, 2))]
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


def test_the_upgrade_numbers_articles_so_that_windows_continue_exactly(
    database_url: str,
) -> None:
    """From 0005 with articles and editions: after the upgrade each old edition's window holds
    the articles it held by first-seen time, and the next one starts exactly after the last."""
    from sqlalchemy import text

    from digest.store import Store
    from digest.store.db import create_database_engine
    from digest.store.upgrades import upgrade

    def at(hours: int) -> str:
        return (T0 + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S.%f")

    engine = create_database_engine(database_url)
    upgrade(engine, "0005")
    # Ids deliberately out of first-seen order, and two articles first seen at the same time.
    first_seen = {1: 3, 2: 1, 3: 5, 4: 1, 5: 2}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO feeds (id, url, name, enabled, consecutive_errors, created_at)"
                " VALUES (1, 'https://wire.example.org/rss', 'Wire', true, 0, :at)"
            ),
            {"at": at(0)},
        )
        for article_id, hours in first_seen.items():
            connection.execute(
                text(
                    "INSERT INTO articles (id, feed_id, guid, link, title, summary_html,"
                    " summary_text, first_seen_at, categories) VALUES (:id, 1, :guid, :link,"
                    " 'Story', '<p>S</p>', 'S', :at, '[]')"
                ),
                {
                    "id": article_id,
                    "guid": f"g{article_id}",
                    "link": f"l{article_id}",
                    "at": at(hours),
                },
            )
            connection.execute(
                text(
                    "INSERT INTO article_topics (article_id, topic, score)"
                    " VALUES (:id, 'middle-east', 1.0)"
                ),
                {"id": article_id},
            )
        for hours in (2, 4):  # windows (-, T0+2h] and (T0+2h, T0+4h]
            connection.execute(
                text(
                    "INSERT INTO editions (list_slug, slot, window_end, status, built_at, layout,"
                    " article_count) VALUES ('daily', :at, :at, 'empty', :at, '{}', 0)"
                ),
                {"at": at(hours)},
            )
    upgrade(engine)
    store = Store(engine)
    older, newer = (
        store.edition_for_slot("daily", T0 + timedelta(hours=hours)) for hours in (2, 4)
    )
    assert older is not None and newer is not None
    topics = ["middle-east"]

    def window(after: int, upto: int) -> list[int]:
        return sorted(candidate.article.id for candidate in store.candidates(topics, after, upto))

    assert window(0, older.window_seq) == [2, 4, 5]  # first seen at T0+1h and T0+2h
    assert window(older.window_seq, newer.window_seq) == [1]  # T0+3h
    assert window(newer.window_seq, store.article_sequence()) == [3]  # not mailed yet
    # Articles stored after the upgrade come after every numbered one.
    sync = store.sync_feeds([FeedSettings(name="Wire", url="https://wire.example.org/rss")], T0)
    new = store.store_entries(sync[0].id, [entry(9)], T0, classify=lambda _a: FILED).new
    assert window(newer.window_seq, store.article_sequence()) == [3, *new]
    engine.dispose()


# A first edition: days of backlog in the feeds, and no previous window to start after.
BACKLOG_HOURS = (6 * 24, 74, 30, 20, 2)  # published this long before T0, first seen at T0
BACKLOG_TITLES = (  # distinct stories: none goes under another as "also covered by"
    "Gulf port opens a second container terminal",
    "Desalination plant in the Gulf doubles its output",
    "Gulf airline orders forty wide-body jets",
    "Date harvest in the Gulf lowest in a decade",
    "Gulf central banks hold rates after Fed decision",
)


def store_backlog(services: Services) -> dict[int, int]:
    """The backlog stored at T0: hours before T0 -> article id."""
    entries = [
        entry(hours, published_at=T0 - timedelta(hours=hours), title=title, summary_text=title)
        for hours, title in zip(BACKLOG_HOURS, BACKLOG_TITLES, strict=True)
    ]
    new = services.store.store_entries(feed_id(services), entries, T0, classify=lambda _a: FILED)
    return dict(zip(BACKLOG_HOURS, new.new, strict=True))


def test_a_first_daily_edition_holds_its_last_day_not_the_feeds_backlog(
    services: Services,
) -> None:
    ids = store_backlog(services)
    first = build(services, T0 + timedelta(hours=1))  # the daily's 07:00 slot
    # A day back from the newest report (2 h before T0): 20 h, not 30 h, 74 h or six days.
    assert sorted(first) == sorted([ids[2], ids[20]])
    # Later windows start after the first one and are not bounded by dates: a report published
    # days ago and first seen now is news to the readers.
    late = services.store.store_entries(
        feed_id(services),
        [entry(99, published_at=T0 - timedelta(days=5))],
        T0 + timedelta(hours=3),
        classify=lambda _a: FILED,
    ).new
    assert build(services, T0 + timedelta(days=1, hours=1)) == list(late)


def test_a_lists_first_edition_lookback_is_its_own_when_it_sets_one(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, first_edition_lookback_hours=80)
    services = build_services(settings, clock=FixedClock(T0), transport=MemoryTransport())
    services.store.sync_feeds(settings.feeds, T0)
    try:
        ids = store_backlog(services)
        first = build(services, T0 + timedelta(hours=1))
        assert sorted(first) == sorted([ids[2], ids[20], ids[30], ids[74]])
    finally:
        services.store.engine.dispose()


def test_a_report_dated_in_the_future_does_not_push_the_first_edition_forward(
    services: Services,
) -> None:
    ids = store_backlog(services)
    future = services.store.store_entries(
        feed_id(services),
        [entry(100, published_at=T0 + timedelta(days=30))],
        T0,
        classify=lambda _a: FILED,
    ).new
    first = build(services, T0 + timedelta(hours=1))
    # Counted as the build's time: a day back from it still holds the last day's reports.
    assert sorted(first) == sorted([ids[2], ids[20], *future])


@pytest.mark.parametrize("hours", [0, -1, 24 * 367])
def test_a_first_edition_lookback_out_of_range_is_refused_naming_the_list(
    tmp_path: Path, hours: int
) -> None:
    with pytest.raises(ConfigError) as refused:
        make_settings(tmp_path, "sqlite://", first_edition_lookback_hours=hours)
    assert "daily" in str(refused.value) and "first_edition_lookback_hours" in str(refused.value)


def test_leaving_out_the_newest_report_does_not_move_a_first_editions_reach(
    services: Services,
) -> None:
    """The pre-send checks compose again without an article they refused: the first edition's
    reach must stay where the newest report put it, or the recomposition takes older news."""
    ids = store_backlog(services)
    at = T0 + timedelta(hours=1)
    without_newest = windows.compose_window(
        services,
        services.settings.list("daily"),
        at,
        at,
        services.store.article_sequence(),
        after_seq=0,
        window_start=None,
        excluded=frozenset({ids[2]}),
    )
    assert [item.article.id for item in without_newest.items()] == [ids[20]]


@pytest.mark.parametrize(
    ("picture", "lead"),
    [
        ("https://images.example.org/harbour.jpg", 2),  # shown: the illustrated story leads
        ("http://192.168.1.20/harbour.jpg", 1),  # on a private network: never shown
        ("http://[::1]/harbour.jpg", 1),
    ],
)
def test_a_picture_the_mail_will_not_show_wins_no_story_the_lead(
    services: Services, picture: str, lead: int
) -> None:
    # Without the image service, a picture on a private network is left out of the mail (the
    # feeds are on no such network here). Counted as a picture, it still won its story the lead
    # over a better one, which then led without any.
    assert not services.settings.web.images
    assert not services.settings.ingest.allow_private_addresses
    scores = {1: 10.0, 2: 6.0}  # the second more than half the first: a picture decides

    def classify(article: Article) -> tuple[TopicMatch, ...]:
        return (TopicMatch("middle-east", scores[int(article.link.rsplit("/", 1)[1])]),)

    stored = services.store.store_entries(
        feed_id(services), [entry(1), entry(2, image_url=picture)], T0, classify=classify
    )
    at = T0 + timedelta(hours=1)
    edition = windows.compose_window(
        services,
        services.settings.list("daily"),
        at,
        at,
        services.store.article_sequence(),
        after_seq=0,
        window_start=None,
    )
    assert edition.lead is not None
    assert edition.lead.article.id == stored.new[lead - 1]


# A builder in a process of its own: the edition of the list's slot given, built at that slot.
_OTHER_BUILDER = """
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from digest import pipeline
from digest.clock import FixedClock
from digest.mail.transport import MemoryTransport
from digest.services import build_services
from tests.test_edition_window import make_settings

folder, database_url, slot = Path(sys.argv[1]), sys.argv[2], datetime.fromisoformat(sys.argv[3])
services = build_services(
    make_settings(folder, database_url), clock=FixedClock(slot), transport=MemoryTransport()
)
print("building", flush=True)
print(pipeline.build_edition(services, "daily", slot).edition_id, flush=True)
"""


def test_two_slots_built_at_once_by_two_processes_send_each_article_once(
    services: Services, tmp_path: Path, database_url: str
) -> None:
    # A late slot (a build task that waited in the queue, `digest send` beside the service)
    # built while another process builds the next one: both read the window start before
    # either had stored its edition, both started after the edition before them, and each
    # mailed the same articles.
    build(services, T0)
    story = services.store.store_entries(
        feed_id(services), [entry(1)], T0 + timedelta(hours=1), classify=lambda _a: FILED
    ).new
    late, current = T0 + timedelta(days=1), T0 + timedelta(days=2)
    other: list[subprocess.Popen[str]] = []
    save = services.store.save_edition

    def save_once_the_other_builds(*args: Any, **options: Any) -> Any:
        # This builder has read its window and composed: the other one starts now.
        if not other:
            builder = subprocess.Popen(
                [sys.executable, "-c", _OTHER_BUILDER, str(tmp_path), database_url, str(current)],
                cwd=Path(__file__).parent.parent,
                stdout=subprocess.PIPE,
                text=True,
            )
            other.append(builder)
            assert builder.stdout is not None and builder.stdout.readline() == "building\n"
            # It stores its edition at once, unless it waits for this one.
            with contextlib.suppress(subprocess.TimeoutExpired):
                builder.wait(5)
        return save(*args, **options)

    services.store.save_edition = save_once_the_other_builds  # type: ignore[method-assign]
    services.clock = FixedClock(current + timedelta(minutes=1))
    outcome = pipeline.build_edition(services, "daily", late)
    vars(services.store).pop("save_edition")
    out, _ = other[0].communicate(timeout=60)
    assert other[0].returncode == 0
    editions = [outcome.edition_id, int(out.split()[-1])]
    mailed = [
        article.id for edition in editions for article in services.store.edition_articles(edition)
    ]
    assert mailed == list(story)
    assert services.store.edition_for_slot("daily", current) is not None
