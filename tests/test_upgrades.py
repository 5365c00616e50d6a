"""A database that lived through every release, upgraded to this one on SQLite and PostgreSQL.

Each release's rows are written, in SQL, at the revision that release left the schema at (as
its code wrote them: 'active' and 'removed' members before 0007, sign-ups and suppressions
after it, and so on), then the schema is brought to the head and read through the store:
nothing lost, and the reader's word and the ledger's marks kept (invariants 3 and 8).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from digest.errors import MigrationDriftError
from digest.records import Entry, TopicMatch
from digest.store import Store
from digest.store.db import create_database_engine
from digest.store.upgrades import HEAD_REVISION, _batch_missing, stored_revision, upgrade
from tests.service_cluster import fresh_database
from tests.test_store import german_postgres

__all__ = ["german_postgres"]  # the fixture, used by name

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)

# What each release wrote, by the revision it left the schema at.
WRITTEN_AT = {
    "0001": [
        "INSERT INTO feeds (id, url, name, enabled, consecutive_errors, created_at)"
        " VALUES (1, 'https://wire.example.org/rss', 'Wire', true, 0, '2026-11-01 00:00:00')",
        # Three articles before the last edition's end, one after it (the next edition's).
        "INSERT INTO articles (id, feed_id, guid, link, title, summary_html, summary_text,"
        " first_seen_at, categories) VALUES"
        " (1, 1, 'g1', 'https://wire.example.org/1', 'One', '<p>1</p>', '1',"
        " '2026-11-22 05:00:00', '[]'),"
        " (2, 1, 'g2', 'https://wire.example.org/2', 'Two', '<p>2</p>', '2',"
        " '2026-11-22 07:00:00', '[]'),"
        " (3, 1, 'g3', 'https://wire.example.org/3', 'Three', '<p>3</p>', '3',"
        " '2026-11-23 05:00:00', '[]'),"
        " (4, 1, 'g4', 'https://wire.example.org/4', 'Four', '<p>4</p>', '4',"
        " '2026-11-23 07:00:00', '[]')",
        "INSERT INTO article_topics (article_id, topic, score)"
        " VALUES (1, 'gulf', 1.0), (2, 'gulf', 1.0), (3, 'gulf', 1.0), (4, 'gulf', 1.0)",
        "INSERT INTO subscribers (id, email, created_at) VALUES"
        " (1, 'stays@example.org', '2026-11-01 00:00:00'),"
        " (2, 'left@example.org', '2026-11-01 00:00:00'),"
        " (3, 'removed@example.org', '2026-11-01 00:00:00'),"
        " (4, 'waiting@example.org', '2026-11-01 00:00:00')",
        "INSERT INTO subscriptions (subscriber_id, list_slug, status, changed_at) VALUES"
        " (1, 'daily', 'active', '2026-11-01 00:00:00'),"
        " (2, 'daily', 'unsubscribed', '2026-11-22 09:00:00'),"
        " (3, 'daily', 'removed', '2026-11-22 09:00:00'),"
        " (4, 'daily', 'active', '2026-11-01 00:00:00')",
        # An edition sent to all, then one whose copy to the last reader is still to go.
        "INSERT INTO editions (id, list_slug, slot, window_end, status, built_at, layout,"
        " article_count, subject, html, text) VALUES"
        " (1, 'daily', '2026-11-22 06:00:00', '2026-11-22 06:00:00', 'sent',"
        " '2026-11-22 06:00:00', '{}', 1, 'Monday', '<p>Monday</p>', 'Monday'),"
        " (2, 'daily', '2026-11-23 06:00:00', '2026-11-23 06:00:00', 'ready',"
        " '2026-11-23 06:00:00', '{}', 2, 'Tuesday', '<p>Tuesday</p>', 'Tuesday')",
        "INSERT INTO edition_articles (edition_id, article_id, position)"
        " VALUES (1, 1, 0), (2, 2, 0), (2, 3, 1)",
        "INSERT INTO deliveries (id, edition_id, subscriber_id, status, attempts, message_id,"
        " last_error, sent_at) VALUES"
        " (1, 1, 1, 'sent', 1, '<1.1@example.org>', NULL, '2026-11-22 06:01:00'),"
        " (2, 1, 2, 'sent', 1, '<1.2@example.org>', NULL, '2026-11-22 06:01:00'),"
        " (3, 1, 3, 'failed', 1, NULL, '550 no such user', NULL),"
        " (4, 1, 4, 'sent', 1, '<1.4@example.org>', NULL, '2026-11-22 06:01:00'),"
        " (5, 2, 1, 'sent', 1, '<2.1@example.org>', NULL, '2026-11-23 06:01:00'),"
        " (6, 2, 2, 'skipped', 0, NULL, NULL, NULL),"
        " (7, 2, 4, 'pending', 0, NULL, NULL, NULL)",
    ],
    "0007": [
        # A sign-up never confirmed, a bounced address suppressed, a file's mark.
        "INSERT INTO subscribers (id, email, created_at, set_by)"
        " VALUES (5, 'signed-up@example.org', '2026-11-23 10:00:00', 'sign-up')",
        "INSERT INTO subscriptions (subscriber_id, list_slug, status, changed_at, channel)"
        " VALUES (5, 'daily', 'pending', '2026-11-23 10:00:00', 'sign-up')",
        "INSERT INTO subscription_history (subscriber_id, list_slug, from_status, to_status,"
        " channel, at) VALUES (5, 'daily', NULL, 'pending', 'sign-up', '2026-11-23 10:00:00')",
        "INSERT INTO suppressions (address_key, email, reason, channel, at) VALUES"
        " ('k-bounced', 'bounced@example.org', 'bounce', 'dsn', '2026-11-23 11:00:00')",
    ],
    "0008": [
        "INSERT INTO inbound_events (event_id, kind, source, email, detail, outcome,"
        " received_at) VALUES ('dsn-1', 'bounce', 'dsn', 'bounced@example.org', '5.1.1',"
        " 'suppressed', '2026-11-23 11:00:00')",
    ],
    "0010": [
        # The reader who stays chose one topic of the list.
        "UPDATE subscriptions SET topics = '[\"gulf\"]' WHERE subscriber_id = 1",
    ],
    "0011": [
        "INSERT INTO pictures (id, source_url, role, content_type, data, width, height, size,"
        " fetched_at, used_at) VALUES ('p1', 'https://img.example.org/1.jpg', 'lead',"
        " 'image/jpeg', NULL, NULL, NULL, 0, '2026-11-23 06:00:00', '2026-11-23 06:00:00')",
    ],
}


def lived_through_every_release(engine: Engine) -> None:
    for revision, statements in WRITTEN_AT.items():
        upgrade(engine, revision)
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
            if connection.dialect.name == "postgresql":
                # The rows above name their ids, which the code never does: its sequences are
                # where the code's inserts would have left them.
                for table in ("feeds", "articles", "subscribers", "editions", "deliveries"):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT max(id) FROM {table}))"
                        )
                    )


def test_a_database_of_every_release_upgrades_with_nothing_lost(database_url: str) -> None:
    engine = create_database_engine(database_url)
    lived_through_every_release(engine)
    upgrade(engine)
    store = Store(engine)
    try:
        assert stored_revision(engine) == HEAD_REVISION
        # The reader's word: who left, and who a file's sync removed, stay out; the sign-up
        # never confirmed stays pending; the bounced address stays suppressed.
        assert [s.email for s in store.confirmed_subscribers("daily")] == [
            "stays@example.org",
            "waiting@example.org",
        ]
        assert store.memberships_of(1) == {"daily": ("confirmed", ("gulf",))}
        assert store.memberships_of(2)["daily"][0] == "unsubscribed"
        assert store.memberships_of(3)["daily"][0] == "unsubscribed"
        assert store.memberships_of(5)["daily"][0] == "pending"
        assert [s.email for s in store.suppressions()] == ["bounced@example.org"]
        assert store.inbound_event_seen("dsn-1")
        # The ledger: the sent copies stay sent, the pending one goes once, to its reader.
        assert store.unqueued_editions() == []
        assert store.pending_deliveries(1) == []
        assert store.pending_deliveries(2) == [7]
        ready = store.deliveries_to_send(2, [7])
        assert [subscriber.email for _, subscriber in ready] == ["waiting@example.org"]
        counts = store.delivery_counts(2)
        assert (counts.sent, counts.skipped, counts.pending) == (1, 1, 1)
        # The editions' windows: the next takes the one article after the last edition's end,
        # and an article stored now comes after every one stored before.
        last = store.latest_edition("daily")
        assert last is not None and last.id == 2
        upto = store.article_sequence()
        after = store.candidates(["gulf"], last.window_seq or 0, upto)
        assert [candidate.article.id for candidate in after] == [4]
        assert [a.id for a in store.edition_articles(2)] == [2, 3]
        new = store.store_entries(1, [_entry(5)], T0).new
        store.set_topics({article_id: (TopicMatch("gulf", 1.0),) for article_id in new})
        assert store.article_sequence() > upto
        later = store.candidates(["gulf"], upto, store.article_sequence())
        assert [candidate.article.id for candidate in later] == list(new)
        # The archive still shows both editions.
        shown, total = store.archived_editions(["daily"], offset=0, limit=10)
        assert total == 2 and [edition.subject for edition in shown] == ["Tuesday", "Monday"]
        assert store.stored_pictures(["p1"]).keys() == {"p1"}
    finally:
        engine.dispose()


def _entry(number: int) -> Entry:
    return Entry(
        guid=f"g{number}",
        link=f"https://wire.example.org/{number}",
        title=f"Story {number}",
        summary_html=f"<p>{number}</p>",
        summary_text=str(number),
        author=None,
        published_at=T0,
        categories=(),
    )


def test_an_upgrade_killed_mid_migration_leaves_the_old_revision_and_runs_again(
    tmp_path: Path, postgres_url: str
) -> None:
    # The migration to the head waits for the ledger's lock, which a session of the test holds
    # (as a worker left running would): the upgrade is killed there, in the middle.
    url = fresh_database(postgres_url)
    engine = create_database_engine(url)
    upgrade(engine, "0016")
    command = _digest_on(tmp_path, url)
    holder = engine.connect()
    holder.execute(text("LOCK TABLE deliveries IN ROW EXCLUSIVE MODE"))
    upgrading = subprocess.Popen([*command, "db", "upgrade"], stdout=subprocess.PIPE, text=True)
    try:
        waiting = 0
        for _ in range(300):
            with engine.connect() as connection:
                waiting = connection.execute(
                    text(
                        "SELECT COUNT(*) FROM pg_locks WHERE NOT granted"
                        " AND relation = 'deliveries'::regclass"
                    )
                ).scalar_one()
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "the upgrade never reached the ledger"
    finally:
        upgrading.kill()
        upgrading.wait()
        holder.rollback()
        holder.close()
    assert stored_revision(engine) == "0016"
    again = subprocess.run([*command, "db", "upgrade"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert f"Upgrading the database from revision 0016 to {HEAD_REVISION}" in said, said
    assert stored_revision(engine) == HEAD_REVISION
    engine.dispose()


def _digest_on(folder: Path, url: str) -> list[str]:
    """The `digest` command, with a config of no list on the database ``url``."""
    config = folder / "digest.toml"
    config.write_text(
        f'[service]\ndatabase_url = "{url}"\ndata_dir = "{folder / "var"}"\n'
        'base_url = "https://news.example.org"\nsender_name = "The Desk"\n'
        'sender_address = "desk@example.org"\npostal_address = "1 Example Street"\n'
    )
    return [str(Path(sys.executable).parent / "digest"), "--config", str(config)]


@pytest.mark.parametrize(
    ("revision", "change", "missing", "migration"),
    [
        # 0018 makes a table, then meets the editions it adds a column to: the new table goes
        # too. On SQLite the migration adds the column in place.
        ("0017", "ALTER TABLE editions RENAME TO editions_by_hand", "the table editions", "0018"),
        # On SQLite 0009 copies the table (batch mode): SQLAlchemy, reading it, finds none.
        ("0008", "ALTER TABLE editions RENAME TO editions_by_hand", "the table editions", "0009"),
        ("0012", "ALTER TABLE articles DROP COLUMN title", "the column articles.title", "0013"),
        # 0012 drops the index it replaces: SQLite's "no such index" ended in a traceback.
        ("0011", "DROP INDEX ix_deliveries_edition_status",
         "the index ix_deliveries_edition_status", "0012"),
    ],
)  # fmt: skip
def test_an_older_schema_changed_by_hand_is_told_by_the_migration_that_meets_it(
    tmp_path: Path, database_url: str, revision: str, change: str, missing: str, migration: str
) -> None:
    # The upgrade said "run `digest db upgrade` once": the command that had just failed.
    engine = _changed_by_hand_at(database_url, revision, change)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    try:
        line = _failed_upgrade(tmp_path, database_url)
        assert line.startswith(f"error: the database {database_url} lacks {missing} "), line
        assert f"that migration {migration} (" in line
        assert f"its schema {revision} was changed by hand" in line
        assert (
            f"Nothing was changed: each upgrade is one transaction, and the database is still "
            f"at {revision}. Put back what was dropped or renamed as schema {revision} had it, "
            "or restore the database from a backup, then run `digest db upgrade` again"
        ) in line
        assert "run `digest db upgrade` once" not in line
        # Nothing changed indeed: the revision, and no table a migration before it made.
        assert stored_revision(engine) == revision
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == tables
    finally:
        engine.dispose()


# The editions' key on (list, slot) dropped by hand: SQLite drops a key only by copying the
# table without it, as its own procedure for schema changes says.
_KEY_DROPPED = {
    "postgresql": ["ALTER TABLE editions DROP CONSTRAINT uq_editions_list_slot"],
    "sqlite": [
        "CREATE TABLE editions_without_key (id INTEGER NOT NULL, list_slug VARCHAR(64) NOT NULL,"
        " slot DATETIME NOT NULL, window_start DATETIME, window_end DATETIME NOT NULL,"
        " status VARCHAR(16) NOT NULL, built_at DATETIME NOT NULL, layout JSON NOT NULL,"
        " article_count INTEGER NOT NULL, subject TEXT, preheader TEXT, html TEXT, text TEXT,"
        " queued_at DATETIME, window_seq INTEGER, CONSTRAINT pk_editions PRIMARY KEY (id))",
        "INSERT INTO editions_without_key SELECT * FROM editions",
        "DROP TABLE editions",
        "ALTER TABLE editions_without_key RENAME TO editions",
    ],
}


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        (_KEY_DROPPED, "the constraint uq_editions_list_slot"),
        # PostgreSQL's "column "slot" named in key does not exist" was told as "a column". On
        # SQLite, the copy of the table (batch mode) left out the new key whose column it did
        # not find: the upgrade went through, and the editions were left with no key at all.
        ("ALTER TABLE editions RENAME COLUMN slot TO slot_by_hand", "the column editions.slot"),
    ],
    ids=["key dropped", "column of the key renamed"],
)
def test_a_key_of_an_older_schema_changed_by_hand_is_told_by_name(
    tmp_path: Path, database_url: str, change: str | dict[str, list[str]], missing: str
) -> None:
    # 0009 replaces the editions' unique key on (list, slot): the key, or a column of it, that
    # the schema lacks, named, and nothing changed. On SQLite the copy of the table that
    # changes the key said a key it lacks in a traceback ("ValueError: No such constraint").
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    changes = change[dialect] if isinstance(change, dict) else [change]
    engine = _changed_by_hand_at(database_url, "0008", *changes)
    before = _schema_of(engine, "editions")
    try:
        line = _failed_upgrade(tmp_path, database_url)
        assert line.startswith(
            f"error: the database {database_url} lacks {missing} that migration 0009 ("
        ), line
        assert "(a table, column, constraint or index dropped or renamed)" in line
        assert stored_revision(engine) == "0008"
        assert _schema_of(engine, "editions") == before
    finally:
        engine.dispose()


def _schema_of(engine: Engine, table: str) -> tuple[object, ...]:
    """The columns, keys and indexes of ``table``, as the database describes them."""
    with engine.connect() as connection:
        found = inspect(connection)
        return (
            [column["name"] for column in found.get_columns(table)],
            found.get_unique_constraints(table),
            found.get_indexes(table),
        )


def _changed_by_hand_at(url: str, revision: str, *changes: str) -> Engine:
    """An engine on ``url``, its schema at ``revision`` then changed by the statements
    ``changes``."""
    engine = create_database_engine(url)
    upgrade(engine, revision)
    with engine.begin() as connection:
        for change in changes:
            connection.execute(text(change))
    return engine


def _failed_upgrade(folder: Path, url: str) -> str:
    """The last line `digest db upgrade` says on ``url``, which it fails to upgrade."""
    result = subprocess.run(
        [*_digest_on(folder, url), "db", "upgrade"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("change", "missing", "reason"),
    [
        (lambda batch: batch.alter_column("slot", nullable=True),
         "the column editions.slot", "the table editions has no column slot"),
        (lambda batch: batch.drop_column("slot"),
         "the column editions.slot", "the table editions has no column slot"),
        (lambda batch: batch.create_index("ix_editions_slot", ["slot"]),
         "the column editions.slot", "the table editions has no column slot"),
        (lambda batch: batch.drop_index("ix_editions_slot"),
         "the index ix_editions_slot", "No such index: 'ix_editions_slot' in the table editions"),
    ],
    ids=["alter a column", "drop a column", "index a column", "drop an index"],
)  # fmt: skip
def test_a_part_sqlites_table_copy_lacks_is_named(
    tmp_path: Path, change: Callable[[Any], None], missing: str, reason: str
) -> None:
    # What a migration's batch (SQLite's copy of a table) would do to a column or index the
    # table lacks, as Alembic says it: a KeyError of the column's name, or a ValueError.
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    engine = create_database_engine(f"sqlite:///{tmp_path / 'digest.db'}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE editions (id INTEGER PRIMARY KEY, at TEXT)")
            operations = Operations(MigrationContext.configure(connection))
            with (
                pytest.raises((KeyError, ValueError)) as refused,
                operations.batch_alter_table("editions", recreate="always") as batch,
            ):
                change(batch)
    finally:
        engine.dispose()
    assert _batch_missing(refused.value) == (missing, reason)
    assert _batch_missing(KeyError("slot")) is None  # raised elsewhere: not the batch's


@pytest.mark.parametrize(
    ("revision", "change", "missing", "migration"),
    [
        ("0008", "ALTER TABLE editions DROP CONSTRAINT uq_editions_list_slot",
         "the constraint uq_editions_list_slot", "0009"),
        ("0011", "DROP INDEX ix_deliveries_edition_status",
         "the index ix_deliveries_edition_status", "0012"),
        ("0012", "ALTER TABLE articles DROP COLUMN title", "the column articles.title", "0013"),
    ],
)  # fmt: skip
def test_a_part_a_migration_lacks_is_named_in_a_database_that_speaks_another_language(
    german_postgres: str, revision: str, change: str, missing: str, migration: str
) -> None:
    # PostgreSQL's words follow the database's lc_messages ("Constraint »…« von Relation »…«
    # existiert nicht"): the part is read from the statement, as the server points at it or
    # as the migration's statement drops it; it ended the upgrade in a traceback.
    engine = _changed_by_hand_at(german_postgres, revision, change)
    try:
        with pytest.raises(MigrationDriftError) as refused:
            upgrade(engine)
        assert refused.value.missing == missing
        assert refused.value.migration == migration
        assert "existiert nicht" in str(refused.value)  # the server's own words, in German
        assert stored_revision(engine) == revision
    finally:
        engine.dispose()
