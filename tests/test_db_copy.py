"""`digest db copy --to URL`: a service that began on SQLite moves to PostgreSQL (and back)
with everything it kept, so that readers see nothing of the move.

A new PostgreSQL database pointed at after a month on SQLite re-read the subscriber files and
the suppression file, and nothing else: the next `digest run --once` took every feed item as
new and mailed every reader a second edition of the slot they had had that morning; the
archive pages had no editions; web sign-ups, topic choices and the check of the secret key
were gone.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import TextClause, create_engine, func, select, text
from starlette.testclient import TestClient

from digest.addresses import key_function
from digest.config import load_settings
from digest.mail.tokens import TokenSigner
from digest.services import build_services
from digest.store import open_store
from digest.store.schema import Base, SubscriberRow
from digest.store.upgrades import HEAD_REVISION, stored_revision, upgrade
from digest.ticking import (
    BUILD_LEASE_SECONDS,
    DELIVERY_LEASE_SECONDS,
    POLLING_SECONDS,
    delivery_key,
)
from digest.web import create_app
from tests.servers import SmtpSink, free_port, redis_server, smtp_server
from tests.service_cluster import fresh_database
from tests.test_end_to_end import SECRET, example_config, parse
from tests.test_end_to_end import digest as run_digest
from worker.leases import RedisLeases

pytestmark = pytest.mark.integration

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY = key_function(SECRET)


def digest(
    config: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_digest(config, *args, columns=200, database_url=database_url)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


def unsubscribe_link(message_bytes: bytes) -> tuple[str, str]:
    """The one-click unsubscribe path of a mailed copy, and its recipient."""
    message = parse(message_bytes)
    found = re.match(r"<https://[^/>]+(/unsubscribe/[^>]+)>", message["List-Unsubscribe"])
    assert found is not None, message["List-Unsubscribe"]
    return found.group(1), message["To"].addresses[0].addr_spec.lower()


@contextmanager
def web(config: Path, database_url: str | None = None) -> Iterator[TestClient]:
    """The readers' pages on the config's database, or on ``database_url``; closed after."""
    environment = {"DIGEST_SECRET_KEY": SECRET}
    if database_url is not None:
        environment["DIGEST_DATABASE_URL"] = database_url
    services = build_services(load_settings(config, environment))
    try:
        with TestClient(create_app(services)) as client:
            yield client
    finally:
        services.close()


def membership(database_url: str, email: str) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    store = open_store(database_url, migrate=False)
    try:
        with store.engine.connect() as connection:
            subscriber_id = connection.execute(
                select(SubscriberRow.id).where(SubscriberRow.email == email)
            ).scalar_one()
        return store.memberships_of(subscriber_id)
    finally:
        store.engine.dispose()


def row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def test_a_service_moved_to_postgresql_sends_no_second_edition_and_keeps_its_readers_word(
    tmp_path: Path, smtp: SmtpSink, postgres_url: str
) -> None:
    config = example_config(tmp_path, smtp_port=smtp.port)
    first = digest(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert len(smtp.received) == 14
    links = [unsubscribe_link(mail.data) for mail in smtp.received]
    (left_before, left_before_address), (left_after, left_after_address) = links[0], links[1]
    settings = load_settings(config, {"DIGEST_SECRET_KEY": SECRET})
    sqlite_url = settings.service.database_url

    # On SQLite, before the move: one reader leaves from the mail; another signs up on the
    # web, confirms, and keeps one topic of the list.
    with web(config) as client:
        assert client.post(left_before, headers=FORM, **ONE_CLICK).status_code == 200
        archive_before = client.get("/editions/middle-east-daily")
    assert archive_before.status_code == 200
    editions_before = re.findall(
        r'<a href="(/editions/middle-east-daily/[0-9-]+)">', archive_before.text
    )
    assert editions_before
    store = open_store(sqlite_url)
    try:
        joined = store.sign_up(
            "noor@example.org", "Noor", "middle-east-daily", KEY("noor@example.org"), NOW
        )
        assert joined.subscriber_id is not None
        store.confirm(joined.subscriber_id, "middle-east-daily", NOW)
        topic = settings.list("middle-east-daily").topics[0]
        assert store.choose_topics(joined.subscriber_id, "middle-east-daily", [topic])
    finally:
        store.engine.dispose()
    kept = row_counts(sqlite_url)

    postgres = fresh_database(postgres_url)
    copied = digest(config, "db", "copy", "--to", postgres)
    assert copied.returncode == 0, copied.stdout + copied.stderr
    assert "Traceback" not in copied.stderr
    assert re.search(r"deliveries\s+│\s+14\b", copied.stdout), copied.stdout
    total = sum(kept.values())
    assert f"Copied {total:,} rows of {len(kept)} tables" in copied.stdout
    assert row_counts(postgres) == kept
    engine = create_engine(postgres)
    try:
        assert stored_revision(engine) == HEAD_REVISION
    finally:
        engine.dispose()

    # The check of the secret key came along: a machine given another key is refused there,
    # rather than sign links that no mail already sent carries.
    other_key = run_digest(
        config, "run", "--once", secret="another-key-of-32-characters-long", database_url=postgres
    )
    assert other_key.returncode == 1
    assert "is not the one the database" in other_key.stderr

    # On PostgreSQL, at the same slot: nothing new, nothing sent twice.
    again = digest(config, "run", "--once", database_url=postgres)
    assert again.returncode == 0, again.stderr
    assert re.search(r"new articles\s+│\s+0\b", again.stdout), again.stdout
    assert re.search(r"editions built\s+│\s+0\b", again.stdout), again.stdout
    assert re.search(r"messages delivered\s+│\s+0\b", again.stdout), again.stdout
    assert len(smtp.received) == 14

    with web(config, postgres) as client:
        archive_after = client.get("/editions/middle-east-daily")
        assert archive_after.status_code == 200
        editions_after = re.findall(
            r'<a href="(/editions/middle-east-daily/[0-9-]+)">', archive_after.text
        )
        assert editions_after == editions_before
        assert client.get(editions_after[0]).status_code == 200
        # A link mailed before the move opens on the new database, and its change gets an
        # id of its own there (the id sequences were set past the copied ids).
        assert client.post(left_after, headers=FORM, **ONE_CLICK).status_code == 200
    signer = TokenSigner(SECRET)
    left_list = signer.read_unsubscribe_token(left_before.rsplit("/", 1)[1])[1]
    assert membership(postgres, left_before_address)[left_list][0] == "unsubscribed"
    left_after_list = signer.read_unsubscribe_token(left_after.rsplit("/", 1)[1])[1]
    assert membership(postgres, left_after_address)[left_after_list][0] == "unsubscribed"
    assert membership(postgres, "noor@example.org")["middle-east-daily"] == ("confirmed", (topic,))
    assert row_counts(postgres)["subscription_history"] == kept["subscription_history"] + 1


def filled_sqlite(tmp_path: Path) -> tuple[Path, str]:
    """The example's config after one `digest run --once`, and its SQLite database's URL."""
    config = example_config(tmp_path, smtp_port=None)
    done = digest(config, "run", "--once")
    assert done.returncode == 0, done.stderr
    return config, load_settings(config, {"DIGEST_SECRET_KEY": SECRET}).service.database_url


@pytest.fixture
def filled(tmp_path: Path) -> tuple[Path, str]:
    return filled_sqlite(tmp_path)


@pytest.fixture
def copied(filled: tuple[Path, str], postgres_url: str) -> tuple[Path, str]:
    """The example's config after one cycle on SQLite, and the PostgreSQL database it was
    copied into."""
    config, _ = filled
    postgres = fresh_database(postgres_url)
    done = digest(config, "db", "copy", "--to", postgres)
    assert done.returncode == 0, done.stdout + done.stderr
    return config, postgres


def test_a_target_that_holds_data_is_refused_and_left_as_it_was(
    copied: tuple[Path, str], filled: tuple[Path, str]
) -> None:
    (config, postgres), (_, sqlite_url) = copied, filled
    counts = row_counts(postgres)

    again = digest(config, "db", "copy", "--to", postgres)
    assert again.returncode == 1
    assert f"error: the target database {postgres} holds data: " in again.stderr
    assert "Copy into a new, empty database" in again.stderr
    assert "Traceback" not in again.stderr
    assert row_counts(postgres) == counts

    # Its own database, named as the target, is one that holds data too.
    itself = digest(config, "db", "copy", "--to", sqlite_url)
    assert itself.returncode == 1 and "holds data" in itself.stderr


def test_a_new_database_made_by_db_upgrade_is_taken_and_so_is_one_of_an_older_revision(
    filled: tuple[Path, str], postgres_url: str
) -> None:
    config, sqlite_url = filled
    upgraded, older = fresh_database(postgres_url), fresh_database(postgres_url)
    for url, revision in ((upgraded, "head"), (older, "0015")):
        engine = create_engine(url)
        try:
            upgrade(engine, revision)
        finally:
            engine.dispose()
    for url in (upgraded, older):
        done = digest(config, "db", "copy", "--to", url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert row_counts(url) == row_counts(sqlite_url)
    assert "Upgrading the database from revision 0015" in done.stdout


def test_a_source_at_an_older_revision_is_refused_saying_to_upgrade_it(
    tmp_path: Path, postgres_url: str
) -> None:
    config = example_config(tmp_path, smtp_port=None)
    sqlite_url = load_settings(config, {"DIGEST_SECRET_KEY": SECRET}).service.database_url
    postgres = fresh_database(postgres_url)
    missing = digest(config, "db", "copy", "--to", postgres)
    assert missing.returncode == 1
    assert f"error: the source database {sqlite_url} does not exist: nothing to copy" in (
        missing.stderr.replace("\n", " ")
    )
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists(), "no empty file is made"

    engine = create_engine(sqlite_url)
    try:
        upgrade(engine, "0020")
    finally:
        engine.dispose()
    refused = digest(config, "db", "copy", "--to", postgres)
    assert refused.returncode == 1
    assert (
        f"error: the source database {sqlite_url} has schema 0020, this code needs "
        f"{HEAD_REVISION}: run `digest db upgrade` on it first, then copy it"
    ) in refused.stderr.replace("\n", " ")
    assert not _has_tables(postgres), "the target is not touched"


def _has_tables(url: str) -> bool:
    [(count,)] = _read(url, text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    return bool(count)


def _read(url: str, statement: TextClause) -> list[tuple[Any, ...]]:
    """The rows ``statement`` reads in the database ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]
    finally:
        engine.dispose()


def test_a_copy_refused_while_the_service_builds_or_sends_on_the_source(
    filled: tuple[Path, str], postgres_url: str
) -> None:
    config, sqlite_url = filled
    database = sqlite_url.removeprefix("sqlite:///")
    postgres = fresh_database(postgres_url)
    for suffix, doing in (("building", "building an edition"), ("sending", "sending")):
        # As a build of one list, or a batch of one copy, holds it in `digest run`.
        descriptor = os.open(f"{database}-{suffix}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX, 1, 12345)
            refused = digest(config, "db", "copy", "--to", postgres)
        finally:
            os.close(descriptor)
        assert refused.returncode == 1
        assert f"a digest command is {doing} on the source database" in refused.stderr
        assert "stop digest run" in refused.stderr
        assert not _has_tables(postgres), "the target is not touched"

    # A `digest run` waiting for its next cycle holds neither: it has the database open.
    reader = sqlite3.connect(database)
    try:
        reader.execute("SELECT count(*) FROM editions").fetchall()
        refused = digest(config, "db", "copy", "--to", postgres)
    finally:
        reader.close()
    assert refused.returncode == 1
    assert f"error: the source database {sqlite_url} is open in another process" in (
        " ".join(refused.stderr.split())
    )
    assert not _has_tables(postgres), "the target is not touched"
    assert digest(config, "db", "copy", "--to", postgres).returncode == 0, "once it is closed"


def test_a_copy_refused_while_the_workers_hold_work_on_the_broker(
    filled: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In the distributed mode a worker may have no session open on the source when the copy
    # looks (between two statements of a batch, or its batches waiting in the queue): the copy
    # went ahead, and what the batches wrote after it was lost with the move.
    config, _ = filled
    target = f"sqlite:///{tmp_path / 'moved.db'}"
    with redis_server() as broker:
        monkeypatch.setenv("DIGEST_BROKER_URL", broker)
        leases = RedisLeases(broker)
        # As hand_out_deliveries and one batch of edition 1 hold it, and a poll running.
        assert leases.claim(delivery_key(1), DELIVERY_LEASE_SECONDS)
        leases.hold(delivery_key(1), DELIVERY_LEASE_SECONDS)
        assert leases.claim("polling:3", POLLING_SECONDS)
        # A build handed out keeps its lease until it lapses, after the build too: no refusal.
        assert leases.claim("build:daily:2026-12-07T07:00:00+00:00", BUILD_LEASE_SECONDS)
        refused = digest(config, "db", "copy", "--to", target)
        said = " ".join(refused.stderr.split())
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"the workers of the broker {broker} have work in hand on the source" in said
        assert (
            "a poll of feed 3 (its lease lapses in 3 min); the delivery of edition 1 (batches "
            "queued or running; its lease lapses in 30 min): let it end (digest status)"
        ) in said, said
        assert "build" not in said
        assert not Path(tmp_path / "moved.db").exists(), "the target is not touched"

        leases.release("polling:3")  # the poll ended, and the batch
        leases.release(delivery_key(1))
        moved = digest(config, "db", "copy", "--to", target)
        assert moved.returncode == 0, moved.stdout + moved.stderr

        monkeypatch.setenv("DIGEST_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
        unasked = digest(config, "db", "copy", "--to", f"sqlite:///{tmp_path / 'other.db'}")
    assert unasked.returncode == 1
    assert "does not answer" in unasked.stderr and "Traceback" not in unasked.stderr


def test_a_postgresql_source_with_workers_connected_is_refused(
    copied: tuple[Path, str], tmp_path: Path
) -> None:
    config, postgres = copied
    home = f"sqlite:///{tmp_path / 'home.db'}"
    worker = create_engine(postgres, connect_args={"application_name": "celery worker"})
    try:
        with worker.connect():
            refused = digest(config, "db", "copy", "--to", home, database_url=postgres)
    finally:
        worker.dispose()
    assert refused.returncode == 1
    assert "1 other sessions are connected to the source database" in refused.stderr
    assert "celery worker from 127.0.0.1 (1)" in refused.stderr
    assert "stop digest beat, every digest worker" in refused.stderr

    # Once they stopped, PostgreSQL copies back to SQLite: a developer's copy taken home.
    home_copy = digest(config, "db", "copy", "--to", home, database_url=postgres)
    assert home_copy.returncode == 0, home_copy.stdout + home_copy.stderr
    assert row_counts(home) == row_counts(postgres)
    again = digest(config, "run", "--once", database_url=home)
    assert again.returncode == 0, again.stderr
    assert re.search(r"messages delivered\s+│\s+0\b", again.stdout), again.stdout


def test_a_copy_that_fails_midway_leaves_the_target_empty_and_says_so(
    filled: tuple[Path, str], postgres_url: str
) -> None:
    config, sqlite_url = filled
    # SQLite keeps a string longer than its column's length; PostgreSQL refuses it. The
    # membership history is copied after the feeds, articles and editions.
    connection = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    with connection:  # commits; it does not close, and an open file is refused
        connection.execute("UPDATE subscription_history SET channel = ? WHERE id = 1", ("x" * 40,))
    connection.close()
    postgres = fresh_database(postgres_url)
    failed = digest(config, "db", "copy", "--to", postgres)
    assert failed.returncode == 1, failed.stdout
    message = " ".join(failed.stderr.split())
    assert f"error: the copy into {postgres} stopped: value too long" in message
    assert (
        "nothing was written there (the target is left empty), and the source is as it was"
        in message
    )
    assert "Traceback" not in failed.stderr
    counts = row_counts(postgres)
    assert counts == dict.fromkeys(counts, 0) | {"article_sequence": 1}
    assert counts["feeds"] == 0 and counts["articles"] == 0


def test_copied_ids_leave_room_for_new_rows_on_postgresql(copied: tuple[Path, str]) -> None:
    _, postgres = copied
    store = open_store(postgres, migrate=False)
    try:
        with store.engine.connect() as connection:
            largest = connection.execute(select(func.max(SubscriberRow.id))).scalar_one()
        assert largest > 1
        joined = store.sign_up(
            "new@example.org", None, "middle-east-daily", KEY("new@example.org"), NOW
        )
        assert joined.subscriber_id == largest + 1
    finally:
        store.engine.dispose()


def test_a_source_that_cannot_be_read_is_named_as_the_failing_side(
    copied: tuple[Path, str], tmp_path: Path
) -> None:
    # A role that may read every table but one: the failure is the source's, and the message
    # said "the copy into TARGET stopped", sending the operator to look at the wrong database.
    config, postgres = copied
    owner = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with owner.connect() as connection:
        connection.execute(text("CREATE ROLE mover LOGIN"))
        connection.execute(text("GRANT SELECT ON ALL TABLES IN SCHEMA public TO mover"))
        connection.execute(text("REVOKE SELECT ON TABLE deliveries FROM mover"))
    owner.dispose()
    as_mover = postgres.replace("://digest@", "://mover@", 1)
    assert as_mover != postgres
    home = f"sqlite:///{tmp_path / 'home.db'}"
    failed = digest(config, "db", "copy", "--to", home, database_url=as_mover)
    assert failed.returncode == 1, failed.stdout
    message = " ".join(failed.stderr.split())
    assert (
        f"error: reading deliveries from the source database {as_mover} failed: permission "
        f"denied for table deliveries; nothing was written to {home} (the target is left "
        "empty), and the source is as it was" in message
    )
    assert "Traceback" not in failed.stderr
    counts = row_counts(home)
    assert counts == dict.fromkeys(counts, 0) | {"article_sequence": 1}


# Every key and index of digest's tables on PostgreSQL, as the server would make it again.
_KEYS_AND_INDEXES = text(
    "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relnamespace = 'public'::regnamespace "
    "UNION ALL SELECT t.relname, i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
    "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
    "WHERE t.relnamespace = 'public'::regnamespace"
)


def keys_and_indexes(database_url: str) -> set[tuple[Any, ...]]:
    return set(_read(database_url, _KEYS_AND_INDEXES))


def keys_and_indexes_made(postgres_url: str) -> set[tuple[Any, ...]]:
    """The keys and indexes of a new database the migrations made."""
    made = fresh_database(postgres_url)
    engine = create_engine(made)
    upgrade(engine)
    engine.dispose()
    return keys_and_indexes(made)


def test_the_copy_keeps_every_key_and_index_the_migrations_made(
    copied: tuple[Path, str], postgres_url: str
) -> None:
    # The keys and indexes are made after the rows are in (as pg_restore does): each one made
    # again as it was, none lost, none doubled.
    _, postgres = copied
    kept = keys_and_indexes(postgres)
    assert kept == keys_and_indexes_made(postgres_url)
    assert (
        "deliveries",
        "uq_deliveries_edition_subscriber",
        "UNIQUE (edition_id, subscriber_id)",
    ) in kept


def test_a_row_a_foreign_key_refuses_fails_the_copy_and_leaves_the_target_as_made(
    filled: tuple[Path, str], postgres_url: str
) -> None:
    # SQLite keeps a delivery of no reader when its foreign keys were off (an sqlite3 shell):
    # PostgreSQL's key refuses it, made after the load as it did row by row, and the target is
    # left empty, its keys and indexes as the migrations made them.
    config, sqlite_url = filled
    connection = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    with connection:
        connection.execute("UPDATE deliveries SET subscriber_id = 999999 WHERE id = 1")
    connection.close()
    postgres = fresh_database(postgres_url)
    failed = digest(config, "db", "copy", "--to", postgres)
    assert failed.returncode == 1, failed.stdout
    message = " ".join(failed.stderr.split())
    assert (
        f'error: the copy into {postgres} stopped: insert or update on table "deliveries" '
        'violates foreign key constraint "fk_deliveries_subscriber_id_subscribers"'
    ) in message, message
    assert "nothing was written there (the target is left empty)" in message
    assert "Traceback" not in failed.stderr
    counts = row_counts(postgres)
    assert counts == dict.fromkeys(counts, 0) | {"article_sequence": 1}
    assert keys_and_indexes(postgres) == keys_and_indexes_made(postgres_url)
