"""A renamed topic keeps its stored articles and its readers' choices (``previous_slugs``).

Articles are filed under topics when they are stored. A topic renamed in the config used to
start empty: the articles of the next edition's window, filed under the old slug, went out in
no edition, and `config check` said OK.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest import pipeline
from digest.clock import FixedClock
from digest.config import Settings, load_settings
from digest.errors import ConfigError
from digest.mail.transport import MemoryTransport
from digest.preflight import preflight
from digest.sample_server import serve_folder
from digest.send_now import send_now
from digest.services import build_services
from digest.store import Store, open_store
from digest.store.schema import ArticleTopicRow, SubscriptionRow
from tests.service_cluster import config_text
from tests.test_pipeline import DAY1, write_feed

pytestmark = pytest.mark.integration

SLOT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 07:00 in Dubai


def settings_of(folder: Path, feed_url: str, database_url: str, topic: str) -> Settings:
    text = config_text(
        folder,
        None,
        feed_url,
        service_extra=f'database_url = "{database_url}"',
        schedule="0 7 * * *",
        timezone="Asia/Dubai",
    )
    text = text.replace('slug = "iran"\nname = "Iran"', topic).replace(
        'topics = ["iran"]', 'topics = ["persia"]' if "persia" in topic else 'topics = ["iran"]'
    )
    config = folder / "digest.toml"
    config.write_text(text)
    return load_settings(config, {"DIGEST_SECRET_KEY": "topic-renames-secret"})


RENAMED = 'slug = "persia"\nname = "Persia"'
DECLARED = 'slug = "persia"\nname = "Persia"\nprevious_slugs = ["iran"]'
AS_BEFORE = 'slug = "iran"\nname = "Iran"'


@pytest.fixture
def polled(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, str, str]]:
    """Three Iran stories polled and filed under "iran"; no edition built yet."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    write_feed(feeds, [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2, 3)])
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    with serve_folder(feeds) as base_url:
        feed_url = f"{base_url}/wire.xml"
        services = build_services(
            settings_of(tmp_path, feed_url, database_url, AS_BEFORE), clock=FixedClock(DAY1)
        )
        try:
            [feed] = services.store.sync_feeds(services.settings.feeds, DAY1)
            pipeline.poll_feed(services, feed.id)
        finally:
            services.close()
        yield tmp_path, feed_url, database_url


def test_a_declared_rename_keeps_the_topics_stored_articles_in_the_edition(
    polled: tuple[Path, str, str],
) -> None:
    folder, feed_url, database_url = polled
    settings = settings_of(folder, feed_url, database_url, DECLARED)
    services = build_services(settings, clock=FixedClock(DAY1))
    try:
        assert not [w for w in preflight(settings, services.store).warnings if "iran" in w]
        pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
        with services.store.transaction() as session:
            filed = set(session.scalars(select(ArticleTopicRow.topic)))
        assert filed == {"persia"}
        edition = services.store.latest_edition("daily")
        assert edition is not None and edition.article_count == 3
    finally:
        services.close()


def test_an_edition_sent_by_hand_right_after_a_rename_has_the_topics_articles(
    polled: tuple[Path, str, str],
) -> None:
    """`digest send LIST` builds an edition now, without a cycle before it: built before the
    rename was carried over, it found nothing filed under the new slug, and its window (which
    the next edition starts after) took the three stories out of every edition for good."""
    folder, feed_url, database_url = polled
    transport = MemoryTransport()
    services = build_services(
        settings_of(folder, feed_url, database_url, DECLARED),
        clock=FixedClock(DAY1),
        transport=transport,
    )
    try:
        built = send_now(services, "daily", workers=None)
        assert built.article_count == 3
        assert [message.recipient for message in transport.sent] == ["sam@example.org"]
    finally:
        services.close()


def test_an_undeclared_rename_is_named_by_config_check_and_run(
    polled: tuple[Path, str, str],
) -> None:
    folder, feed_url, database_url = polled
    settings = settings_of(folder, feed_url, database_url, RENAMED)
    store = open_store(database_url)
    try:
        warnings = preflight(settings, store).warnings
    finally:
        store.engine.dispose()
    [warning] = [w for w in warnings if "'iran'" in w]
    assert "articles of the last 30 days are filed under it" in warning
    assert 'add previous_slugs = ["iran"] to its new [[topics]] entry' in warning


def test_a_rename_moves_the_filing_and_the_readers_choices(database_url: str) -> None:
    store = open_store(database_url)
    try:
        _file_and_choose(store)
        moved = store.rename_topic("iran", "persia")
        assert (moved.articles, moved.readers) == (1, 2)
        with store.transaction() as session:
            pairs = select(ArticleTopicRow.article_id, ArticleTopicRow.topic)
            filed = sorted(tuple(row) for row in session.execute(pairs))
            chosen = sorted(
                tuple(topics) for topics in session.scalars(select(SubscriptionRow.topics))
            )
        # Article 2 was filed under both (a poll since the rename): it is filed once.
        assert filed == [(1, "persia"), (2, "persia"), (3, "gulf")]
        assert chosen == [("gulf",), ("gulf", "persia"), ("persia",)]
        again = store.rename_topic("iran", "persia")
        assert (again.articles, again.readers) == (0, 0), "nothing left to move"
    finally:
        store.engine.dispose()


def _file_and_choose(store: Store) -> None:
    from digest.store.schema import ArticleRow, FeedRow, SubscriberRow

    with store.transaction() as session:
        session.add(
            FeedRow(id=1, name="Wire", url="https://wire.example.org/feed", created_at=DAY1)
        )
        session.flush()
        for n in (1, 2, 3):
            session.add(
                ArticleRow(
                    id=n, feed_id=1, guid=f"urn:{n}", link=f"https://wire.example.org/{n}",
                    title=f"Story {n}", summary_html="", summary_text="",
                    first_seen_at=DAY1, seq=n,
                )
            )  # fmt: skip
        session.flush()
        session.add_all(
            [
                ArticleTopicRow(article_id=1, topic="iran", score=3.0),
                ArticleTopicRow(article_id=2, topic="iran", score=3.0),
                ArticleTopicRow(article_id=2, topic="persia", score=3.0),
                ArticleTopicRow(article_id=3, topic="gulf", score=3.0),
            ]
        )
        for n, topics in enumerate((["iran"], ["gulf", "iran"], ["gulf"]), start=1):
            session.add(SubscriberRow(id=n, email=f"reader{n}@example.org", created_at=DAY1))
            session.flush()
            session.add(
                SubscriptionRow(
                    subscriber_id=n, list_slug="daily", status="confirmed",
                    changed_at=DAY1, topics=topics,
                )
            )  # fmt: skip


def test_a_previous_slug_that_is_a_topic_or_claimed_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "members.csv").write_text("email,name\n")
    extra = '[[topics]]\nslug = "gulf"\nname = "Gulf"\nprevious_slugs = ["iran"]\n'
    text = config_text(tmp_path, None, "https://wire.example.org/feed", extra=extra)
    config = tmp_path / "digest.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match="'iran' is the slug of a topic of the config"):
        load_settings(config, {"DIGEST_SECRET_KEY": "topic-renames-secret"})
    twice = text.replace('slug = "iran"\nname = "Iran"', DECLARED).replace(
        'topics = ["iran"]', 'topics = ["persia"]'
    )
    config.write_text(twice)
    with pytest.raises(ConfigError, match="'iran' is a previous slug of topics"):
        load_settings(config, {"DIGEST_SECRET_KEY": "topic-renames-secret"})
