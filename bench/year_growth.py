"""What a database that lived a year holds, and how long the reads that walk it take.

    python bench/year_growth.py [--days 365] [--readers 20000] [--feeds 100] [--postgres]
                                [--prune]

The rows are written in bulk, in SQL, into a new database at the schema's head (a SQLite file
in a temporary folder, or with ``--postgres`` one in a PostgreSQL cluster the script starts):
the feeds, ten articles a feed a day, one edition a day of 30 of them, its copy to each reader
(every outcome: sent, skipped, failed, parked, and the last edition's still pending), readers
who left, suppressed addresses, sign-ups never confirmed, bounces taken in, pictures. Then it
times, at that size, what the service does at each cycle or on a reader's or operator's
request, and prints the rows and bytes of each table.

With ``--prune``, it then deletes what the default ``[retention]`` windows leave out, as the
cycles would: the first cycle's bounded share of the backlog, the rest (as `digest db prune`),
and a day later one more cycle's (the day that went past the windows: what each cycle deletes
once the backlog is gone); it times each and prints the tables again, and on SQLite the file's
size before and after VACUUM.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, text  # noqa: E402

from digest.store import Store, open_store  # noqa: E402
from digest.store.db import sqlite_file  # noqa: E402

T0 = datetime(2025, 12, 1, 6, 0, tzinfo=UTC)
ARTICLES_A_FEED_A_DAY = 10
ARTICLES_AN_EDITION = 30
STALE_SIGN_UPS = 50


def numbers(count: int) -> str:
    """A table ``n(i)`` of 1..count, on SQLite and PostgreSQL alike."""
    return f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {int(count)})"


def moment(connection: Connection, minutes: str) -> str:
    """SQL for T0 plus ``minutes`` (an SQL expression), as the store keeps times (naive UTC)."""
    start = T0.strftime("%Y-%m-%d %H:%M:%S")
    if connection.dialect.name == "sqlite":
        return f"datetime('{start}', '+' || ({minutes}) || ' minutes')"
    return f"(TIMESTAMP '{start}' + ({minutes}) * INTERVAL '1 minute')"


def fill(connection: Connection, days: int, readers: int, feeds: int) -> None:
    """A year of the service, written in bulk."""
    articles = days * feeds * ARTICLES_A_FEED_A_DAY
    apart = round(days * 1440 / articles, 6)  # minutes between two articles, evenly spread
    day = "1440"
    statements = [
        f"{numbers(feeds)} INSERT INTO feeds (id, url, name, enabled, consecutive_errors,"
        " created_at, entries_per_day) SELECT i, 'https://feed' || i || '.example.org/rss',"
        f" 'Feed ' || i, true, 0, {moment(connection, '0')}, 10.0 FROM n",
        f"{numbers(articles)} INSERT INTO articles (id, feed_id, guid, link, title,"
        " summary_html, summary_text, author, published_at, first_seen_at, seq, categories)"
        f" SELECT i, 1 + i % {feeds}, 'urn:story:' || i, 'https://news.example.org/s/' || i,"
        " 'Story number ' || i || ' of the year', '<p>What happened in story ' || i || '.</p>',"
        " 'What happened in story ' || i || '.', 'A. Writer',"
        f" {moment(connection, f'i * {apart}')}, {moment(connection, f'i * {apart}')}, i,"
        " '[\"world\"]' FROM n",
        f"{numbers(articles)} INSERT INTO article_topics (article_id, topic, score)"
        " SELECT i, 'world', 0.5 FROM n",
        f"UPDATE article_sequence SET value = {articles}",
        f"{numbers(readers + STALE_SIGN_UPS)} INSERT INTO subscribers (id, email, name,"
        " created_at, set_by) SELECT i, 'reader' || i || '@example.org', 'Reader ' || i,"
        f" {moment(connection, '0')}, 'import' FROM n",
        # One reader in 20 left during the year; the sign-ups at the end never confirmed.
        f"{numbers(readers)} INSERT INTO subscriptions (subscriber_id, list_slug, status,"
        " changed_at, channel) SELECT i, 'daily', CASE WHEN i % 20 = 0 THEN 'unsubscribed'"
        f" ELSE 'confirmed' END, {moment(connection, '0')}, CASE WHEN i % 20 = 0 THEN"
        " 'one-click' ELSE 'import' END FROM n",
        f"{numbers(STALE_SIGN_UPS)} INSERT INTO subscriptions (subscriber_id, list_slug,"
        f" status, changed_at, channel) SELECT {readers} + i, 'daily', 'pending',"
        f" {moment(connection, '0')}, 'sign-up' FROM n",
        f"{numbers(readers)} INSERT INTO subscription_history (subscriber_id, list_slug,"
        " from_status, to_status, channel, at) SELECT i, 'daily', 'confirmed', 'unsubscribed',"
        f" 'one-click', {moment(connection, f'(i % {days}) * {day}')} FROM n WHERE i % 20 = 0",
        f"{numbers(readers // 100)} INSERT INTO suppressions (address_key, email, reason,"
        " channel, at) SELECT 'key' || i, 'bounced' || i || '@example.org', 'bounce', 'dsn',"
        f" {moment(connection, '0')} FROM n",
        f"{numbers(readers // 100)} INSERT INTO inbound_events (event_id, kind, source, email,"
        " detail, outcome, received_at) SELECT 'dsn-' || i, 'bounce', 'dsn', 'bounced' || i ||"
        f" '@example.org', '5.1.1 no such user', 'suppressed', {moment(connection, '0')} FROM n",
        f"{numbers(days)} INSERT INTO editions (id, list_slug, slot, variant, window_end,"
        " window_seq, status, built_at, layout, article_count, subject, preheader, html, text,"
        f" queued_at) SELECT i, 'daily', {moment(connection, f'i * {day}')}, '',"
        f" {moment(connection, f'i * {day}')}, i * {feeds * ARTICLES_A_FEED_A_DAY},"
        f" CASE WHEN i = {days} THEN 'ready' ELSE 'sent' END, {moment(connection, f'i * {day}')},"
        f" '{{}}', {ARTICLES_AN_EDITION}, 'The day ' || i, 'Thirty stories',"
        " '<html><body>' || i || '</body></html>', 'text ' || i,"
        f" {moment(connection, f'i * {day}')} FROM n",
        f"{numbers(days * ARTICLES_AN_EDITION)} INSERT INTO edition_articles (edition_id,"
        f" article_id, position) SELECT 1 + (i - 1) / {ARTICLES_AN_EDITION},"
        f" ((i - 1) / {ARTICLES_AN_EDITION}) * {feeds * ARTICLES_A_FEED_A_DAY} + 1 +"
        f" (i - 1) % {ARTICLES_AN_EDITION}, (i - 1) % {ARTICLES_AN_EDITION} FROM n",
        # Each edition to every reader then confirmed: sent, or skipped, failed or parked now
        # and then; the last edition's copies are still pending.
        f"{numbers(days)}, r(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM r WHERE j < {readers})"
        " INSERT INTO deliveries (edition_id, subscriber_id, status, attempts, unknown_attempts,"
        f" message_id, sent_at) SELECT i, j, CASE WHEN i = {days} THEN 'pending'"
        " WHEN j % 20 = 0 THEN 'skipped' WHEN j % 997 = 0 THEN 'failed' WHEN j % 1999 = 0"
        " THEN 'parked' ELSE 'sent' END, 1, 0, '<' || i || '.' || j || '@example.org>',"
        f" {moment(connection, f'i * {day} + 5')} FROM n, r",
        f"{numbers(days * ARTICLES_AN_EDITION)} INSERT INTO pictures (id, source_url, role,"
        " content_type, data, width, height, size, fetched_at, used_at)"
        " SELECT 'pic' || i, 'https://img.example.org/' || i || '.jpg', 'lead', 'image/jpeg',"
        f" {_bytes(connection, 8000)}, 600, 400, 8000, {moment(connection, 'i * 48')},"
        f" {moment(connection, 'i * 48')} FROM n",
    ]
    for statement in statements:
        connection.execute(text(statement))


def _bytes(connection: Connection, size: int) -> str:
    """SQL for ``size`` bytes of a picture."""
    if connection.dialect.name == "sqlite":
        return f"zeroblob({size})"
    return f"decode(repeat('00', {size}), 'hex')"


def timed(what: str, run: Callable[[], object], repeat: int = 3) -> None:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    print(f"  {what:<58} {best * 1000:10.1f} ms")


def table_sizes(store: Store) -> None:
    tables = (
        "articles",
        "article_topics",
        "editions",
        "edition_articles",
        "deliveries",
        "subscribers",
        "subscription_history",
        "pictures",
    )
    with store.engine.connect() as connection:
        for table in tables:
            rows = connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar()
            if connection.dialect.name == "postgresql":
                bytes_ = connection.execute(
                    text("SELECT pg_total_relation_size(:t)"), {"t": table}
                ).scalar()
            else:  # the table and its indexes, from SQLite's page statistics
                bytes_ = connection.execute(
                    text(
                        "SELECT SUM(pgsize) FROM dbstat WHERE name = :t OR name IN"
                        " (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
                    ),
                    {"t": table},
                ).scalar()
            size = f"{(bytes_ or 0) / 2**20:10.1f} MiB"
            print(f"  {table:<24} {rows:>12,} rows {size}")


def measure(store: Store, days: int, readers: int, feeds: int) -> None:
    from digest.cli.status import read_status

    now = T0 + timedelta(days=days, hours=1)
    a_day = feeds * ARTICLES_A_FEED_A_DAY
    print("reads at each cycle, or asked by an operator or a reader:")
    timed("digest status (read_status)", lambda: read_status(store, now, recent=10))
    timed("digest feeds (feeds)", store.feeds)
    timed(
        "archive index page (archived_editions)",
        lambda: store.archived_editions(["daily"], offset=0, limit=20),
    )
    timed(
        "archive edition page (archived_edition)",
        lambda: store.archived_edition(["daily"], T0 + timedelta(days=days // 2)),
    )
    timed("reader-local due check (reader_positions)", lambda: store.reader_positions("daily"))
    timed(
        "edition's candidates (candidates, one day)",
        lambda: store.candidates(["world"], (days - 1) * a_day, days * a_day),
    )
    reader = f"reader{readers // 2}@example.org"
    timed("a reader's data (person)", lambda: store.person(reader, "no-key"))
    timed(
        f"sign-ups never confirmed dropped ({STALE_SIGN_UPS}, drop_unconfirmed)",
        lambda: store.drop_unconfirmed(now),
        repeat=1,
    )


def file_size(url: str) -> str:
    database = sqlite_file(url)
    if database is None:
        return ""
    files = (Path(database), Path(f"{database}-wal"))  # the latest pages are in the WAL
    size = sum(path.stat().st_size for path in files if path.exists())
    return f"{size / 2**20:.1f} MiB"


def prune_as_cycles(store: Store, url: str, days: int) -> None:
    """Delete what the default windows leave out, as the cycles and `digest db prune` would."""
    from digest import retention
    from digest.config.retention import RetentionSettings

    kept = RetentionSettings()
    now = T0 + timedelta(days=days, hours=1)
    print(
        f"pruning to the default windows ({kept.deliveries_days} days of ledger, "
        f"{kept.articles_days} of articles; {kept.batch_rows} rows a batch):"
    )
    for what, moment, bound in (
        ("a cycle's share of the backlog", now, kept.batches_a_cycle),
        ("the rest of the backlog (digest db prune)", now, None),
        ("a cycle a day later (one day past the windows)", now + timedelta(days=1), None),
    ):
        outcome = retention.prune(store, kept, moment, max_batches=bound)
        print(
            f"  {what:<50} {outcome.seconds * 1000:10.1f} ms: {outcome.deliveries:,} ledger"
            f" rows, {outcome.articles:,} articles, {outcome.batches} batches"
        )
    table_sizes(store)
    database = sqlite_file(url)
    if database is not None:
        print(f"  the SQLite file and its WAL before VACUUM: {file_size(url)}")
        started = time.perf_counter()
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.exec_driver_sql("VACUUM")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        took = time.perf_counter() - started
        print(f"  after VACUUM ({took:.1f} s): {file_size(url)}")


def filled_database(
    stack: ExitStack, postgres: bool, days: int, readers: int, feeds: int
) -> tuple[str, Store]:
    """A new database (a SQLite file in a temporary folder, or one in a PostgreSQL cluster the
    script starts, both ended with ``stack``) filled with ``days`` of the service's life: its URL
    and a store on it."""
    if postgres:
        from tests.servers import postgres_cluster

        url = stack.enter_context(postgres_cluster()).url
    else:
        url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/digest.db"
    store = open_store(url, statement_seconds=3600)  # a bulk insert of millions of rows
    with store.engine.begin() as connection:
        fill(connection, days, readers, feeds)
    if store.engine.dialect.name == "postgresql":
        # As autovacuum would have, over a year; the service never runs ANALYZE on SQLite.
        with store.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return url, store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--readers", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument(
        "--postgres", action="store_true", help="in a PostgreSQL the script starts, not SQLite"
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="then delete what the default retention windows leave out, and time it",
    )
    arguments = parser.parse_args()
    with ExitStack() as stack:
        started = time.perf_counter()
        url, store = filled_database(
            stack, arguments.postgres, arguments.days, arguments.readers, arguments.feeds
        )
        print(f"filled in {time.perf_counter() - started:.1f} s")
        table_sizes(store)
        if sqlite_file(url) is not None:
            print(f"  the SQLite file and its WAL: {file_size(url)}")
        measure(store, arguments.days, arguments.readers, arguments.feeds)
        if arguments.prune:
            prune_as_cycles(store, url, arguments.days)
            measure(store, arguments.days, arguments.readers, arguments.feeds)
        store.engine.dispose()


if __name__ == "__main__":
    main()
