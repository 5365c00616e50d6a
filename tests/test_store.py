"""The store on SQLite and PostgreSQL: articles once (invariant 1), editions by slot, the ledger."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from digest.config import FeedSettings
from digest.records import (
    Article,
    Edition,
    EditionItem,
    Entry,
    RenderedEdition,
    Section,
    TopicMatch,
)
from digest.store import Store, SubscriberInput, open_store
from digest.store.db import create_database_engine, outlasting_outages
from digest.store.schema import Base
from digest.store.schema_lacks import driver_reason, missing_from_schema
from digest.store.upgrades import (
    HEAD_REVISION,
    current_revision,
    head_revision,
    stored_revision,
    upgrade,
)
from tests.members import KEY, add_members
from tests.servers import postgres_cluster
from tests.service_cluster import fresh_database

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def entry(number: int, **changes: object) -> Entry:
    fields: dict[str, object] = {
        "guid": f"urn:story:{number}",
        "link": f"https://news.example.org/story/{number}",
        "title": f"Story {number}",
        "summary_html": f"<p>Summary {number}</p>",
        "summary_text": f"Summary {number}",
        "author": "Leila Haddad",
        "published_at": T0,
        "categories": ("Gulf",),
    }
    fields.update(changes)
    return Entry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(database_url: str) -> Store:
    store = open_store(database_url)
    yield store
    store.engine.dispose()


def two_feeds(store: Store) -> tuple[int, int]:
    first, second = store.sync_feeds(
        [
            FeedSettings(name="Wire", url="https://wire.example.org/rss"),
            FeedSettings(name="Post", url="https://post.example.org/atom"),
        ],
        T0,
    )
    return first.id, second.id


def test_the_migrations_build_the_schema_the_code_declares(store: Store) -> None:
    # A column added to the models without its migration (or the reverse) shows up here.
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_syncing_the_feeds_follows_the_config(store: Store) -> None:
    wire = FeedSettings(name="Wire", url="https://wire.example.org/rss")
    post = FeedSettings(name="Post", url="https://post.example.org/atom")
    first = store.sync_feeds([wire, post], T0)
    assert [(feed.name, feed.enabled) for feed in first] == [("Wire", True), ("Post", True)]
    assert store.sync_feeds([wire, post], T0) == first  # nothing changed, nothing changes

    # Renamed and switched off in the config; the other feed taken out of it.
    renamed = FeedSettings(name="Wire Service", url=wire.url, enabled=False)
    [state] = store.sync_feeds([renamed], T0)
    assert (state.id, state.name, state.enabled) == (first[0].id, "Wire Service", False)
    removed = next(feed for feed in store.feeds() if feed.url == post.url)
    assert (removed.id, removed.enabled) == (first[1].id, False)  # kept: its articles stay

    # Both back as they were, under their old ids; a new one added after them.
    extra = FeedSettings(name="Extra", url="https://extra.example.org/feed")
    again = store.sync_feeds([wire, post, extra], T0)
    assert again[:2] == first
    assert (again[2].name, again[2].enabled) == ("Extra", True)
    assert again[2].id not in {first[0].id, first[1].id}


def test_schema_is_at_the_latest_migration(store: Store) -> None:
    head = head_revision()
    assert head is not None and current_revision(store.engine) == head
    # The constant an up-to-date database is told by, without Alembic, names the same head.
    assert head == HEAD_REVISION and stored_revision(store.engine) == head


def test_an_up_to_date_database_is_told_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/digest.db"
    upgrade(create_database_engine(url))
    check = (
        "import sys; from digest.store.db import create_database_engine; "
        "from digest.store.upgrades import upgrade; "
        f"upgrade(create_database_engine({url!r})); "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_an_article_is_stored_once_per_guid_and_per_link(store: Store) -> None:
    wire, post = two_feeds(store)
    first = store.store_entries(wire, [entry(1), entry(2), entry(1)], T0)
    assert len(first.new) == 2
    again = store.store_entries(wire, [entry(1), entry(2)], T0 + timedelta(hours=1))
    assert again.new == () and again.updated == () and again.duplicates == 2
    # Another feed carrying the same story (same canonical link, its own guid) adds nothing.
    other = store.store_entries(post, [entry(1, guid="tag:post,2026:1")], T0)
    assert other.new == () and other.duplicates == 1
    assert len(store.all_article_ids()) == 2


def test_an_article_is_stored_once_whether_its_link_says_http_or_https(store: Store) -> None:
    # One feed gave http links and another https ones (or a publisher moved its links to https
    # with new guids): the same article was stored twice, and mailed twice.
    wire, post = two_feeds(store)
    plain = "http://news.example.org/story/1"
    [article_id] = store.store_entries(wire, [entry(1, link=plain)], T0).new
    other = store.store_entries(post, [entry(1, guid="tag:post,2026:1")], T0)
    assert other.new == () and other.duplicates == 1
    moved = store.store_entries(
        wire, [entry(1, guid="urn:new:1", title="Story 1, updated")], T0 + timedelta(hours=1)
    )
    assert moved.new == () and moved.updated == (article_id,)
    [article] = store.articles([article_id])
    assert article.link == "https://news.example.org/story/1"
    assert store.all_article_ids() == [article_id]
    # Another host, or another path, is another article.
    assert (
        len(store.store_entries(post, [entry(2, link="http://news.example.net/story/1")], T0).new)
        == 1
    )


def test_a_story_another_poll_stored_meanwhile_is_left_out_of_the_insert(store: Store) -> None:
    # Between a poll's duplicate lookups and its insert, a concurrent poll may store the same
    # link (or the same feed and guid): that row is skipped and the rest still go in.
    from digest.store import articles

    wire, post = two_feeds(store)
    [taken] = store.store_entries(wire, [entry(1)], T0).new
    rows = [
        articles._row_values(post, entry(1, guid="tag:post,2026:1"), T0, 1, (1, 2), None),
        articles._row_values(post, entry(2), T0, 1, (3, 4), None),
        articles._row_values(wire, entry(3, guid="urn:story:1"), T0, 1, (5, 6), None),
    ]
    with store.transaction() as session:
        kept = articles._insert_new(session, rows)
    assert [at for at, _ in kept] == [1]
    assert sorted(store.all_article_ids()) == sorted([taken, kept[0][1]])


def test_an_entry_updated_in_place_updates_the_article_and_keeps_first_seen(store: Store) -> None:
    wire, _ = two_feeds(store)
    [article_id] = store.store_entries(wire, [entry(1)], T0).new
    later = T0 + timedelta(hours=3)
    result = store.store_entries(wire, [entry(1, title="Story 1, updated")], later)
    assert result.updated == (article_id,) and result.new == ()
    [article] = store.articles([article_id])
    assert article.title == "Story 1, updated"
    assert article.first_seen_at == T0


def test_stored_entries_are_filed_as_stored_and_refiled_when_updated(store: Store) -> None:
    wire, _ = two_feeds(store)
    seen = []

    def classify(article: Article) -> tuple[TopicMatch, ...]:
        seen.append(article)
        return (TopicMatch("gulf", 3.0),) if "Gulf" in article.title else ()

    first = store.store_entries(
        wire, [entry(1, title="Gulf talks"), entry(2)], T0, classify=classify
    )
    # The classifier saw each new article as it reads back from the store.
    assert seen == store.articles(first.new)
    later = T0 + timedelta(hours=1)
    store.store_entries(
        wire, [entry(1, title="Talks"), entry(2, title="Gulf port")], later, classify=classify
    )
    filed = store.candidates(["gulf"], 0, store.article_sequence())
    assert [(c.article.id, c.topics) for c in filed] == [(first.new[1], {"gulf": 3.0})]
    assert seen[-1].cluster_id is not None


def test_candidates_are_the_window_and_the_topics(store: Store) -> None:
    wire, _ = two_feeds(store)
    early = store.store_entries(wire, [entry(1), entry(2)], T0).new
    after_early = store.article_sequence()
    late = store.store_entries(wire, [entry(3)], T0 + timedelta(hours=2)).new
    store.set_topics(
        {
            early[0]: (TopicMatch("middle-east", 2.0), TopicMatch("gulf", 2.0)),
            early[1]: (TopicMatch("sport", 1.0),),
            late[0]: (TopicMatch("middle-east", 1.0),),
        }
    )
    everything = store.candidates(["gulf", "middle-east"], 0, store.article_sequence())
    assert [c.article.id for c in everything] == [early[0], late[0]]
    assert everything[0].topics == {"middle-east": 2.0, "gulf": 2.0}
    window = store.candidates(["middle-east"], after_early, store.article_sequence())
    assert [c.article.id for c in window] == [late[0]]  # start is exclusive, end inclusive


def make_edition(store: Store, slot: datetime) -> tuple[Edition, RenderedEdition]:
    wire, _ = two_feeds(store)
    ids = store.store_entries(wire, [entry(1), entry(2), entry(3)], T0).new
    articles = store.articles(ids)
    edition = Edition(
        list_slug="daily",
        slot=slot,
        window_start=None,
        window_end=slot,
        lead=EditionItem(articles[0], "middle-east"),
        sections=(
            Section("gulf", "The Gulf", (EditionItem(articles[1], "gulf", (articles[2],)),)),
        ),
    )
    rendered = RenderedEdition("daily", slot, "Subject", "Pre", "<p>html</p>", "text", 3)
    return edition, rendered


def test_an_edition_is_keyed_by_list_and_slot(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    state, created = store.save_edition(edition, rendered, T0)
    assert created and state.article_count == 3
    again, created_again = store.save_edition(edition, rendered, T0 + timedelta(minutes=5))
    assert not created_again and again.id == state.id
    assert store.load_edition(state.id) == edition
    assert store.rendered_edition(state.id) == rendered
    assert store.latest_edition("daily") == state


def test_the_ledger_sends_each_member_once_and_skips_who_left(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    members = [SubscriberInput("a@example.org", "A"), SubscriberInput("b@example.org", None)]
    add_members(store, "daily", members, T0)
    subscribers = store.confirmed_subscribers("daily")
    assert store.queue_deliveries(state.id, "daily") == 2
    assert store.queue_deliveries(state.id, "daily") == 0  # one row per (edition, subscriber)
    pending = store.pending_deliveries(state.id)

    assert store.unsubscribe(subscribers[1].id, "daily", T0)
    ready = store.deliveries_to_send(state.id, pending)
    assert [subscriber.email for _, subscriber in ready] == ["a@example.org"]
    store.mark_delivered_many([(ready[0][0], "<1.1@example.org>")], T0)
    assert store.deliveries_to_send(state.id, pending) == []  # nothing pending is left
    counts = store.delivery_counts(state.id)
    assert (counts.sent, counts.skipped, counts.pending) == (1, 1, 0)
    store.settle_edition(state.id)
    assert store.edition_for_slot("daily", T0).status == "sent"  # type: ignore[union-attr]


def test_an_import_adds_and_updates_but_never_removes_nor_resubscribes(store: Store) -> None:
    report = add_members(
        store, "daily", [SubscriberInput("a@example.org"), SubscriberInput("b@example.org")], T0
    )
    assert (report.added, report.updated, report.refused, report.kept_out) == (2, 0, (), ())
    a, _ = store.confirmed_subscribers("daily")
    store.unsubscribe(a.id, "daily", T0, "one-click")
    # "b" left out of the file, "a" in it again: b stays, a stays unsubscribed.
    again = add_members(store, "daily", [SubscriberInput("a@example.org", line=2)], T0)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 0)
    [(line, why)] = again.kept_out
    assert line == 2 and "unsubscribed from list 'daily'" in why and "(one-click)" in why
    assert [s.email for s in store.confirmed_subscribers("daily")] == ["b@example.org"]
    renamed = add_members(store, "daily", [SubscriberInput("B@example.org", "Bea")], T0)
    assert (renamed.added, renamed.updated) == (0, 1)
    assert [s.name for s in store.confirmed_subscribers("daily")] == ["Bea"]


def test_a_large_list_imports_and_queues_in_a_few_statements(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    members = [SubscriberInput(f"reader{n}@example.org", f"Reader {n}") for n in range(5_000)]
    assert add_members(store, "daily", members, T0).added == 5_000
    assert store.queue_deliveries(state.id, "daily") == 5_000
    assert store.delivery_counts(state.id).pending == 5_000
    # Imported again with one reader renamed and one left out: one update, nobody removed.
    members[0] = SubscriberInput("reader0@example.org", "Reader Zero")
    report = add_members(store, "daily", members[:-1], T0)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 4_998)
    assert store.queue_deliveries(state.id, "daily") == 0
    assert len(store.confirmed_subscribers("daily")) == 5_000


def test_a_reader_left_out_of_a_file_still_gets_every_edition(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    members = [SubscriberInput("a@example.org"), SubscriberInput("b@example.org")]
    add_members(store, "daily", members, T0)
    store.queue_deliveries(state.id, "daily")
    pending = store.pending_deliveries(state.id)
    add_members(store, "daily", [], T0)  # the file emptied: no reader's word
    ready = store.deliveries_to_send(state.id, pending)
    assert sorted(subscriber.email for _, subscriber in ready) == ["a@example.org", "b@example.org"]
    later, _ = store.save_edition(replace(edition, slot=T0 + timedelta(days=1)), rendered, T0)
    assert store.queue_deliveries(later.id, "daily", T0) == 2


def test_a_suppressed_address_gets_nothing_from_any_list_and_is_never_imported(
    store: Store,
) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    members = [SubscriberInput(f"{name}@example.org") for name in ("a", "b", "c")]
    add_members(store, "daily", members, T0)
    add_members(store, "weekly", members, T0)
    store.queue_deliveries(state.id, "daily", T0)
    pending = store.pending_deliveries(state.id)
    # "b" bounces hard after its copy was queued: the copy is skipped at the send.
    assert store.suppress("B@example.org", KEY, "hard-bounce", "bounce", T0)
    assert not store.suppress("b@example.org", KEY, "complaint", "complaint", T0)
    ready = store.deliveries_to_send(state.id, pending)
    assert [subscriber.email for _, subscriber in ready] == ["a@example.org", "c@example.org"]
    assert store.delivery_counts(state.id).skipped == 1
    assert [s.email for s in store.confirmed_subscribers("weekly")] == [
        "a@example.org",
        "c@example.org",
    ]
    later, _ = store.save_edition(replace(edition, slot=T0 + timedelta(days=1)), rendered, T0)
    assert store.queue_deliveries(later.id, "daily", T0) == 2
    # An import into any list refuses the address, naming why.
    report = add_members(store, "monthly", [SubscriberInput("b@EXAMPLE.org", line=7)], T0)
    [(line, why)] = report.kept_out
    assert report.added == 0 and line == 7 and "suppressed for every list (hard-bounce" in why


def test_an_edition_is_unqueued_until_its_deliveries_are_queued(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    assert [e.id for e in store.unqueued_editions()] == [state.id]
    store.queue_deliveries(state.id, "daily", T0)  # no member yet: queued all the same
    assert store.unqueued_editions() == []
    empty, _ = store.save_edition(replace(edition, slot=T0 + timedelta(days=1)), None, T0)
    assert empty.status == "empty" and store.unqueued_editions() == []


def test_editions_left_unqueued_are_queued_oldest_slot_first(store: Store) -> None:
    # A run that stopped after storing two editions left them for the next to queue and send:
    # the one of the earlier slot goes first, whichever of them was stored first.
    edition, rendered = make_edition(store, T0)
    later, _ = store.save_edition(replace(edition, slot=T0 + timedelta(days=1)), rendered, T0)
    earlier, _ = store.save_edition(edition, rendered, T0)
    assert later.id < earlier.id
    assert [e.id for e in store.unqueued_editions()] == [earlier.id, later.id]


def test_renaming_a_list_carries_its_history_and_an_unsubscribe_wins(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    old, _ = store.save_edition(edition, rendered, T0)
    clash, _ = store.save_edition(replace(edition, slot=T0 + timedelta(days=1)), rendered, T0)
    store.save_edition(replace(edition, list_slug="morning", slot=clash.slot), rendered, T0)
    members = [SubscriberInput(f"{name}@example.org") for name in ("a", "b", "c")]
    add_members(store, "daily", members, T0)
    add_members(store, "morning", members[1:], T0)
    a, b, _ = store.confirmed_subscribers("daily")
    store.unsubscribe(a.id, "daily", T0)  # only under the old slug
    store.unsubscribe(b.id, "daily", T0)  # a member of both, unsubscribed from the old one
    store.queue_deliveries(old.id, "daily", T0)
    assert store.list_slugs_with_history() == {"daily", "morning"}
    assert store.held_deliveries() == {"daily": 1}

    moved = store.rename_list("daily", "morning", T0)
    assert (moved.editions, moved.memberships, moved.editions_left) == (1, 3, 1)
    assert store.edition_for_slot("morning", T0) == replace(old, list_slug="morning")
    assert store.edition_for_slot("daily", clash.slot) is not None  # its slot was taken
    assert [s.email for s in store.confirmed_subscribers("morning")] == ["c@example.org"]
    unsubscribed = [m for m in store.memberships() if m.status == "unsubscribed"]
    assert sorted(m.email for m in unsubscribed) == ["a@example.org", "b@example.org"]
    assert {(m.list_slug, m.channel) for m in unsubscribed} == {("morning", "operator")}
    assert store.held_deliveries() == {"morning": 1}
    assert store.held_deliveries(besides={"morning"}) == {}
    assert store.editions_with_pending_deliveries({"morning"}) == [old.id]
    assert store.editions_with_pending_deliveries({"daily"}) == []
    again = store.rename_list("daily", "morning", T0)
    assert (again.editions, again.memberships) == (0, 0)


def test_a_list_runs_from_when_it_was_first_looked_at_under_each_of_its_names(
    store: Store,
) -> None:
    # A list without an edition had no start: its first reader, joining after their hour had
    # passed, got an edition of that hour at once and another at the next (digest.local_time).
    assert store.list_started("daily") is None
    store.record_list_start("daily", T0)
    store.record_list_start("daily", T0 + timedelta(hours=1))  # the first is kept
    assert store.list_started("daily") == T0
    store.rename_list("daily", "morning", T0 + timedelta(days=1))
    assert store.list_started("morning") == T0
    # A database older than the record: the first edition built says when the list ran.
    edition, rendered = make_edition(store, T0)
    store.save_edition(replace(edition, list_slug="evening"), rendered, T0 - timedelta(days=3))
    assert store.list_started("evening") == T0 - timedelta(days=3)


def test_editions_stored_before_the_queued_mark_count_as_queued(database_url: str) -> None:
    # Queueing them at the upgrade would mail readers who joined since an edition never theirs.
    from sqlalchemy import text

    from digest.store.db import create_database_engine
    from digest.store.upgrades import upgrade

    engine = create_database_engine(database_url)
    upgrade(engine, "0003")
    with engine.begin() as connection:
        for slot, status in (("2026-11-24 03:00:00", "ready"), ("2026-11-25 03:00:00", "empty")):
            connection.execute(
                text(
                    "INSERT INTO editions (list_slug, slot, window_end, status, built_at, layout,"
                    " article_count) VALUES ('daily', :slot, :slot, :status, :slot, '{}', 0)"
                ),
                {"slot": slot, "status": status},
            )
    upgrade(engine)
    store = Store(engine)
    assert store.unqueued_editions() == []
    engine.dispose()


# A database as 0008 left it: a feed, an article, two readers of one list (one suppressed since),
# an edition with its article, and its ledger: one copy sent, one still to send.
AT_0008 = [
    "INSERT INTO feeds (id, url, name, enabled, consecutive_errors, created_at)"
    " VALUES (1, 'https://wire.example.org/rss', 'Wire', true, 0, '2026-11-20 00:00:00')",
    "INSERT INTO articles (id, feed_id, guid, link, title, summary_html, summary_text,"
    " first_seen_at, categories, seq) VALUES (1, 1, 'g1', 'l1', 'Story', '<p>S</p>', 'S',"
    " '2026-11-23 00:00:00', '[]', 1)",
    "INSERT INTO article_topics (article_id, topic, score) VALUES (1, 'gulf', 1.0)",
    "INSERT INTO subscribers (id, email, created_at)"
    " VALUES (1, 'sent@example.org', '2026-11-20 00:00:00'),"
    " (2, 'waiting@example.org', '2026-11-20 00:00:00')",
    "INSERT INTO subscriptions (subscriber_id, list_slug, status, changed_at, channel)"
    " VALUES (1, 'daily', 'confirmed', '2026-11-20 00:00:00', 'import'),"
    " (2, 'daily', 'confirmed', '2026-11-20 00:00:00', 'import')",
    "INSERT INTO suppressions (address_key, email, reason, channel, at)"
    " VALUES ('k1', 'bounced@example.org', 'bounce', 'dsn', '2026-11-21 00:00:00')",
    "INSERT INTO editions (id, list_slug, slot, window_end, status, built_at, layout,"
    " article_count, queued_at, window_seq) VALUES (1, 'daily', '2026-11-24 06:00:00',"
    " '2026-11-24 06:00:00', 'ready', '2026-11-24 06:00:00', '{}', 1,"
    " '2026-11-24 06:00:00', 1)",
    "INSERT INTO edition_articles (edition_id, article_id, position) VALUES (1, 1, 0)",
    "INSERT INTO deliveries (id, edition_id, subscriber_id, status, attempts, message_id,"
    " sent_at, unknown_attempts) VALUES (1, 1, 1, 'sent', 1, '<m1@example.org>',"
    " '2026-11-24 06:01:00', 0), (2, 1, 2, 'pending', 0, NULL, NULL, 0)",
]


def test_an_upgrade_from_0008_keeps_the_ledger_and_every_edition_s_articles(
    database_url: str,
) -> None:
    # On SQLite, 0009 copies the editions table to change its unique key, and dropping the old
    # one cascaded (foreign keys on) to the delivery ledger and the editions' articles: the
    # copy still to send was never sent, and the sent one forgotten.
    from sqlalchemy import text

    engine = create_database_engine(database_url)
    upgrade(engine, "0008")
    with engine.begin() as connection:
        for statement in AT_0008:
            connection.execute(text(statement))
    upgrade(engine)
    tables = ("editions", "edition_articles", "deliveries", "subscriptions", "suppressions")
    with engine.connect() as connection:
        counts = {
            table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
            for table in tables
        }
        if connection.dialect.name == "sqlite":  # off for the migration, on again after it
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert counts == {
        "editions": 1,
        "edition_articles": 1,
        "deliveries": 2,
        "subscriptions": 2,
        "suppressions": 1,
    }
    store = Store(engine)
    assert store.pending_deliveries(1) == [2]
    counts_now = store.delivery_counts(1)
    assert (counts_now.sent, counts_now.pending) == (1, 1)
    engine.dispose()


def test_an_upgrade_from_0013_keeps_a_hosts_pause(database_url: str) -> None:
    # Before 0014 a feed's host pause was read from its error text; the upgrade fills in the
    # origin that asked, so the feeds paused then stay paused, as `digest feeds` shows them.
    from sqlalchemy import text

    from digest import polling
    from digest.cli.feeds import feed_record

    engine = create_database_engine(database_url)
    upgrade(engine, "0013")
    error = (
        "https://News.example.org/world: rate limited (HTTP 429 Too Many Requests); the "
        "server asks to retry after 3600 seconds (Retry-After: 3600)"
    )
    feeds = [
        # (id, url, last_status, consecutive_errors, last_error)
        (1, "https://News.example.org/world", 429, 1, error),
        (2, "https://news.example.org:443/business", None, 0, None),
        (3, "https://news.example.org/sport", 503, 2, "server error (HTTP 503)"),
        (4, "https://other.example.org/world", None, 0, None),
    ]
    with engine.begin() as connection:
        for feed_id, url, status, errors, last_error in feeds:
            connection.execute(
                text(
                    "INSERT INTO feeds (id, url, name, enabled, last_status, consecutive_errors,"
                    " last_error, created_at, next_poll_at) VALUES (:id, :url, :name, :on,"
                    " :status, :errors, :error, '2026-11-24 06:00:00', '2026-11-24 07:00:00')"
                ),
                {
                    "id": feed_id,
                    "url": url,
                    "name": f"Feed {feed_id}",
                    "on": True,
                    "status": status,
                    "errors": errors,
                    "error": last_error,
                },
            )
    upgrade(engine)
    world, business, sport, other = Store(engine).feeds()
    engine.dispose()
    assert world.wait_asked_by == "https://news.example.org:443"
    assert world.wait_asked_until == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert sport.wait_asked_by is None  # a 503 without Retry-After asked nothing of the host
    states = [world, business, sport, other]
    assert polling.paused_by(business, states, T0) == world
    assert polling.paused_by(other, states, T0) is None
    assert feed_record(business, world)["status"] == "paused"
    assert feed_record(business, world)["paused_by"] == world.url


def test_a_downgrade_to_0013_drops_the_wait_and_the_upgrade_fills_it_again(
    database_url: str,
) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from digest.store.upgrades import alembic_config

    engine = create_database_engine(database_url)
    upgrade(engine)
    store = Store(engine)
    [world] = store.sync_feeds([FeedSettings(name="World", url="https://news.example.org/w")], T0)
    store.record_failure(
        world.id,
        "rate limited (HTTP 429); the server asks to retry after 60 seconds (Retry-After: 60)",
        T0,
        429,
        next_poll_at=T0 + timedelta(minutes=1),
        wait_asked_by="https://news.example.org:443",
        wait_asked_until=T0 + timedelta(minutes=1),
    )
    command.downgrade(alembic_config(engine), "0013")
    columns = {column["name"] for column in inspect(engine).get_columns("feeds")}
    upgrade(engine)
    [again] = store.feeds()
    engine.dispose()
    assert "wait_asked_by" not in columns and "wait_asked_until" not in columns
    assert again.wait_asked_by == "https://news.example.org:443"
    assert again.wait_asked_until == T0 + timedelta(minutes=1)


def test_a_readers_copies_are_found_without_reading_the_whole_ledger(database_url: str) -> None:
    # A reader's rows of the ledger are read by their subscriber id when a sign-up never
    # confirmed is dropped (the cascade of the delete, and the foreign key's check), and when
    # a reader's data is shown or forgotten. With no index that leads with it, each of them
    # read every copy of every edition ever sent: after a year, millions of rows, at each cycle.
    from sqlalchemy import inspect

    engine = create_database_engine(database_url)
    upgrade(engine)
    # PostgreSQL walks a whole index whose second column is the subscriber's (the unique one
    # on edition and subscriber) and calls it an index scan: what counts is the first column.
    leading = {index["column_names"][0] for index in inspect(engine).get_indexes("deliveries")}
    assert "subscriber_id" in leading
    if engine.dialect.name == "sqlite":
        lookup = "SELECT id FROM deliveries WHERE subscriber_id = 1"
        with engine.connect() as connection:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {lookup}")]
        assert not any(step.startswith("SCAN deliveries") for step in plan), plan
    engine.dispose()


def send_editions(store: Store, readers: list[int], days: range) -> None:
    """The daily list's editions of ``days`` (after T0), each sent to ``readers``."""
    with store.engine.begin() as connection:
        for day in days:
            slot = T0 + timedelta(days=day)
            edition_id = connection.execute(
                text(
                    "INSERT INTO editions (list_slug, slot, variant, window_end, window_seq,"
                    " status, built_at, layout, article_count, queued_at) VALUES ('daily',"
                    " :slot, '', :slot, :seq, 'sent', :slot, '{}', 1, :slot) RETURNING id"
                ),
                {"slot": slot.replace(tzinfo=None), "seq": 1000 + day},
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO deliveries (edition_id, subscriber_id, status, attempts,"
                    " unknown_attempts) VALUES (:edition, :reader, 'sent', 1, 0)"
                ),
                [{"edition": edition_id, "reader": reader} for reader in readers],
            )


def test_readers_positions_are_read_from_recent_editions_not_the_years_ledger(
    tmp_path: Path,
) -> None:
    # At each tick of a list read in each reader's timezone, every member's last edition is
    # read. Grouping the whole ledger of the list by reader grew with every edition sent: 13 s
    # after a year of a daily edition to 20,000 readers. SQLite's count of the steps its
    # engine ran tells the work apart from the machine's speed.
    from sqlalchemy import event

    store = open_store(f"sqlite:///{tmp_path / 'digest.db'}")
    add_members(store, "daily", [SubscriberInput(f"r{n}@example.org") for n in range(50)], T0)
    with store.engine.begin() as connection:
        readers = list(connection.exec_driver_sql("SELECT id FROM subscribers").scalars())

    steps = [0]

    def count_steps(dbapi_connection: object, _record: object) -> None:
        def step() -> int:
            steps[0] += 1
            return 0

        dbapi_connection.set_progress_handler(step, 100)  # type: ignore[attr-defined]

    store.engine.dispose()
    event.listen(store.engine, "connect", count_steps)

    def work_of_reading_positions() -> int:
        steps[0] = 0
        positions = store.reader_positions("daily")
        latest = T0 + timedelta(days=365)
        assert [(p.last_slot, p.last_seq) for p in positions] == [(latest, 1365)] * 50
        return steps[0]

    send_editions(store, readers, range(362, 366))
    a_few_days = work_of_reading_positions()
    send_editions(store, readers, range(2, 362))  # the year before them
    a_year = work_of_reading_positions()
    # With the tables' statistics (an operator's ANALYZE), SQLite's planner chose to walk the
    # whole ledger in the readers' order, to group it without sorting.
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    a_year_with_statistics = work_of_reading_positions()
    store.engine.dispose()
    assert a_year < 3 * a_few_days, (a_few_days, a_year)
    assert a_year_with_statistics < 3 * a_few_days, (a_few_days, a_year_with_statistics)


def test_a_reader_no_recent_edition_went_to_keeps_their_last_one(database_url: str) -> None:
    # Looked up in the whole ledger: taken for a new reader, one suppressed for a month and
    # let go again would start from the list's latest slot, not where their last edition ended.
    store = open_store(database_url)
    members = ["daily@example.org", "quiet@example.org", "new@example.org"]
    add_members(store, "daily", [SubscriberInput(email) for email in members], T0)
    with store.engine.begin() as connection:
        daily, quiet, new = connection.execute(
            text("SELECT id FROM subscribers ORDER BY id")
        ).scalars()
    send_editions(store, [daily, quiet], range(1, 11))
    send_editions(store, [daily], range(11, 41))
    with store.engine.begin() as connection:  # the last one joined after the editions
        connection.execute(
            text("UPDATE subscriptions SET changed_at = :at WHERE subscriber_id = :id"),
            {"at": (T0 + timedelta(days=40)).replace(tzinfo=None), "id": new},
        )
    positions = {p.subscriber_id: p for p in store.reader_positions("daily")}
    store.engine.dispose()
    assert (positions[daily].last_slot, positions[daily].last_seq) == (
        T0 + timedelta(days=40),
        1040,
    )
    assert (positions[quiet].last_slot, positions[quiet].last_seq) == (
        T0 + timedelta(days=10),
        1010,
    )
    assert positions[quiet].last_queued == T0 + timedelta(days=10)
    assert (positions[new].last_slot, positions[new].last_seq) == (None, None)
    assert positions[new].member_since == T0 + timedelta(days=40)


def test_unsubscribing_addresses_ignores_case_and_other_lists(store: Store) -> None:
    members = [SubscriberInput(f"Reader{n}@example.org") for n in range(1_200)]
    add_members(store, "daily", members, T0)
    add_members(store, "weekly", members[:1], T0)
    wanted = {f"reader{n}@EXAMPLE.org" for n in range(0, 1_200, 2)}  # past one batch of 500
    assert store.unsubscribe_addresses("daily", wanted, T0) == 600
    assert store.unsubscribe_addresses("daily", wanted, T0) == 0
    assert len(store.confirmed_subscribers("daily")) == 600
    assert len(store.confirmed_subscribers("weekly")) == 1


def test_a_failed_statement_never_quotes_a_readers_address(database_url: str) -> None:
    # SQLAlchemy writes a failed statement's parameters into its error: a database that failed
    # a lookup or an import put the readers' addresses into the traceback a worker logs, the
    # web app's log and the message a command prints.
    store = open_store(database_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(text("ALTER TABLE subscribers RENAME TO subscribers_moved"))
        with pytest.raises(SQLAlchemyError) as raised:
            store.subscriber_by_email("rana.private@example.org")
    finally:
        store.engine.dispose()
    told = "\n".join(str(error) for error in _chain(raised.value))
    assert "rana.private@example.org" not in told
    assert "subscribers" in told, told  # the statement itself is still said


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def test_a_wait_the_service_means_outlasts_the_bound_on_answers(postgres_url: str) -> None:
    # Another build of the list holds its lock until its edition is stored, however long that
    # takes: the bound that ends a stalled statement must not end that wait.
    url = fresh_database(postgres_url)
    store = open_store(url, statement_seconds=0.2)
    other_build = create_engine(url).connect()
    try:
        other_build.execute(text("SELECT pg_advisory_lock(1651861868, hashtext('daily'))"))
        other_build.commit()
        letting_go = threading.Timer(1.5, lambda: other_build.execute(text(UNLOCK_ALL)))
        letting_go.start()
        started = time.monotonic()
        with store.building("daily"):
            waited = time.monotonic() - started
        letting_go.join()
        assert waited >= 1.0, waited
        # The bound still holds for the store's own statements.
        with (
            pytest.raises(OperationalError, match="statement timeout"),
            store.engine.connect() as connection,
        ):
            connection.execute(text("SELECT pg_sleep(2)"))
    finally:
        other_build.close()
        store.engine.dispose()


UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"


def test_a_connection_cut_just_as_its_answer_came_is_not_handed_out_again() -> None:
    # The watcher shut the socket of a call whose answer came in at its deadline: the call
    # succeeded, and the connection went back to the pool with a dead socket, to fail the
    # next statement of whoever took it.
    import socket

    from digest.store import answers

    class Connection:
        answer_seconds = 0.05
        closed = False

        def __init__(self) -> None:
            self.ends = socket.socketpair()

        def fileno(self) -> int:
            return self.ends[0].fileno()

        def close(self) -> None:
            self.closed = True

    connection = Connection()
    try:
        with answers._answer_within(connection):  # type: ignore[arg-type]
            time.sleep(0.3)  # the answer comes in as the watcher cuts the socket
        assert connection.closed
        quick = Connection()
        with answers._answer_within(quick):  # type: ignore[arg-type]
            pass
        assert not quick.closed
    finally:
        for end in connection.ends:
            end.close()


def test_an_interrupt_that_breaks_off_a_statement_stays_an_interrupt(postgres_url: str) -> None:
    # Ctrl-C between a statement's sending and its answer (`digest send` stopped while it
    # handed out batches) left the connection mid-command: the transaction's rollback failed,
    # "another command is already in progress", and that error replaced the interrupt, so the
    # command ended "cannot open the database ...", exit 1, instead of "Interrupted.".
    store = open_store(fresh_database(postgres_url))
    try:
        with pytest.raises(KeyboardInterrupt), store.transaction() as session:
            connection = session.connection().connection.dbapi_connection
            assert connection is not None
            # Sent, its answer not read yet: where an interrupt between the two leaves it.
            connection.pgconn.send_query(b"SELECT pg_sleep(0.2)")
            raise KeyboardInterrupt
        # The connection went with the interrupt: the next statement has a sound one.
        assert store.latest_edition("daily") is None
    finally:
        store.engine.dispose()


@pytest.mark.parametrize(
    ("role_sets", "configured", "in_force"),
    [("300ms", 60.0, "300ms"), ("10min", 0.2, "200ms"), (None, 0.2, "200ms")],
)
def test_a_statement_timeout_the_dba_set_for_the_role_holds_when_it_is_the_shorter(
    postgres_url: str, role_sets: str | None, configured: float, in_force: str
) -> None:
    # Each connection set service.database_timeout_seconds over the role's own bound: a DBA's
    # `ALTER ROLE digest SET statement_timeout = '300ms'` let digest's statements run 60 s.
    url = make_url(fresh_database(postgres_url))
    role = f"desk_{time.monotonic_ns()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        if role_sets is not None:
            connection.execute(text(f"ALTER ROLE \"{role}\" SET statement_timeout = '{role_sets}'"))
    admin.dispose()
    engine = create_database_engine(
        url.set(username=role).render_as_string(hide_password=False), statement_seconds=configured
    )
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == in_force
    finally:
        engine.dispose()


def test_an_unsubscribe_waits_for_another_process_s_write_and_is_not_refused(
    tmp_path: Path,
) -> None:
    """In WAL mode, a transaction that has read and then writes is refused at once ("database is
    locked", no wait of the busy timeout) when another connection committed since its read, or
    holds the write lock: its snapshot is too old to write from. An unsubscribe reads the
    membership, then writes it; the sending process records its copies meanwhile. The store's
    SQLite transactions hold no snapshot before their first write (pysqlite opens the
    transaction at the first INSERT, UPDATE or DELETE): the unsubscribe waits for the other
    write, as the busy timeout says, and is not refused. Here the other process's write
    commits between the read and the write, and holds the lock as the write comes."""
    path = tmp_path / "digest.db"
    store = open_store(f"sqlite:///{path}")
    add_members(
        store, "daily", [SubscriberInput("ann@example.org"), SubscriberInput("bob@x.org")], T0
    )
    ids = {member.email: member.id for member in store.confirmed_subscribers("daily")}
    reader, other = ids["ann@example.org"], ids["bob@x.org"]
    sender = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holding, release = threading.Event(), threading.Event()

    def write_and_hold() -> None:
        sender.execute("BEGIN IMMEDIATE")
        sender.execute("UPDATE subscribers SET name = 'Bob' WHERE id = ?", (other,))
        sender.execute("COMMIT")  # committed since the unsubscribe's read
        sender.execute("BEGIN IMMEDIATE")  # and the write lock held as its write comes
        sender.execute("UPDATE subscribers SET name = 'Robert' WHERE id = ?", (other,))
        holding.set()
        release.wait(10)
        sender.execute("COMMIT")

    def between_read_and_write(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE SUBSCRIPTIONS") and not holding.is_set():
            threading.Thread(target=write_and_hold).start()
            assert holding.wait(10)
            threading.Timer(0.3, release.set).start()

    event.listen(store.engine, "before_cursor_execute", between_read_and_write)
    try:
        started = time.monotonic()
        assert store.unsubscribe(reader, "daily", T0, channel="one-click")
        waited = time.monotonic() - started
    finally:
        event.remove(store.engine, "before_cursor_execute", between_read_and_write)
        release.set()
        sender.close()
    assert waited >= 0.25  # it waited for the other write, as the busy timeout says
    assert [(m.email, m.name) for m in store.confirmed_subscribers("daily")] == [
        ("bob@x.org", "Robert")
    ]
    store.engine.dispose()


def test_a_write_the_database_refuses_is_not_waited_on_as_an_outage(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A column the schema lacks is refused at every try: waited on as a database away, it held
    # `digest send` a minute ("the database is unreachable (no such column: sent_at)") before
    # it said anything.
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE marks (id INTEGER PRIMARY KEY)"))
    tries: list[float] = []

    def write() -> None:
        tries.append(time.monotonic())
        with engine.begin() as connection:
            connection.execute(text("UPDATE marks SET sent_at = 1"))

    try:
        with pytest.raises(DBAPIError, match="sent_at"):
            outlasting_outages(write, "recording 1 copies of edition 1 as sent", waits=(30.0,))
    finally:
        engine.dispose()
    assert len(tries) == 1
    assert "unreachable" not in caplog.text


def test_a_write_another_process_holds_back_is_tried_again_until_it_lets_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What gave way (SQLite's lock held past the busy timeout) is still waited out.
    database = tmp_path / "digest.db"
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE marks (id INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, holder.execute, ("COMMIT",)).start()
    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 0.05})

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO marks VALUES (1)"))

    try:
        outlasting_outages(write, "recording 1 copies of edition 1 as sent", waits=(0.2,) * 10)
    finally:
        engine.dispose()
        holder.close()
    assert "the database is unreachable (database is locked)" in caplog.text


def test_the_driver_reason_is_the_databases_own_words_without_the_statement(
    database_url: str,
) -> None:
    # One reader of a refused statement's words for every message that quotes them: SQLAlchemy's
    # text of the error adds the statement and a link, and PostgreSQL's own adds "LINE 1:" and
    # a caret, which quote the statement too.
    engine = create_engine(database_url)
    try:
        with pytest.raises(DBAPIError) as refused, engine.connect() as connection:
            connection.execute(text("SELECT id FROM editions_by_hand"))
    finally:
        engine.dispose()
    error = refused.value
    words = (
        "no such table: editions_by_hand"
        if database_url.startswith("sqlite")
        else 'relation "editions_by_hand" does not exist'
    )
    assert driver_reason(error, first_line=True) == words
    assert driver_reason(error).startswith(words)
    assert "[SQL:" not in driver_reason(error) and "sqlalche.me" not in driver_reason(error)
    if not database_url.startswith("sqlite"):
        assert "LINE 1: SELECT id FROM editions_by_hand" in driver_reason(error)
    # An error no driver raised (SQLAlchemy's own) is told by its text, and one without
    # words by its kind.
    assert driver_reason(DBAPIError("SELECT 1", None, Exception("gone"))) == "gone"
    assert driver_reason(DBAPIError("SELECT 1", None, Exception()), first_line=True) == "Exception"


@pytest.fixture
def german_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database whose owner set its messages to German (``ALTER DATABASE … SET
    lc_messages``), on a cluster that has the locale: compiled here with localedef into a
    folder the server can read (LOCPATH, which it inherits), as this machine has none but C."""
    sources = Path("/usr/share/i18n/locales/de_DE")
    localedef = shutil.which("localedef")
    assert localedef is not None and sources.exists(), (
        "no localedef or no de_DE locale source to compile the locale from: "
        "apt-get install -y locales (scripts/test does)"
    )
    locales = Path(tempfile.mkdtemp(prefix="digest-locales-"))
    try:
        locales.chmod(0o755)  # the server runs as postgres
        subprocess.run(
            [localedef, "-i", "de_DE", "-f", "UTF-8", str(locales / "de_DE.UTF-8")],
            check=True,
            capture_output=True,
        )
        monkeypatch.setenv("LOCPATH", str(locales))
        with postgres_cluster() as server:
            admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text("CREATE DATABASE newsroom"))
                connection.execute(text("ALTER DATABASE newsroom SET lc_messages = 'de_DE.UTF-8'"))
            admin.dispose()
            yield server.url.rsplit("/", 1)[0] + "/newsroom"
    finally:
        shutil.rmtree(locales, ignore_errors=True)


@pytest.mark.parametrize(
    ("statement", "missing"),
    [
        ("SELECT id FROM editions_by_hand WHERE id = :id", "the table editions_by_hand"),
        # After a parameter: the server counts "$1" where the statement has "%(url)s".
        ("SELECT id FROM feeds WHERE url = :url AND etag = :etag", "the column etag"),
        ("UPDATE deliveries SET sent_at = :at WHERE id = :id", "the column deliveries.sent_at"),
    ],
)
def test_a_missing_table_or_column_is_named_in_a_database_that_speaks_another_language(
    german_postgres: str, statement: str, missing: str
) -> None:
    # PostgreSQL's words follow the database's lc_messages, and the reader of their English
    # told "a table" or "a column"; psycopg's error.diag names neither (its column_name and
    # table_name are empty for these refusals), but the server points at the name in the
    # statement in every language.
    engine = create_engine(german_postgres)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE feeds (id integer PRIMARY KEY, url text)"))
            connection.execute(text("CREATE TABLE deliveries (id integer PRIMARY KEY)"))
        with pytest.raises(DBAPIError) as refused, engine.begin() as connection:
            connection.execute(
                text(statement), {"id": 1, "url": "https://wire.example.org", "etag": "x", "at": 1}
            )
    finally:
        engine.dispose()
    assert "existiert nicht" in driver_reason(refused.value)  # the server's German indeed
    assert missing_from_schema(refused.value) == missing
