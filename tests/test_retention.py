"""Keeping the database to [retention]'s windows, on SQLite and PostgreSQL, by an injected
clock: what goes, what stays, and the promises that hold with old rows gone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from digest import retention
from digest.cli import app
from digest.config import Settings, load_settings
from digest.config.retention import RetentionSettings
from digest.store import Store, SubscriberInput, open_store
from digest.store.schema import ArticleRow, DeliveryRow, EditionRow, PrunedArticleRow
from tests.members import add_members
from tests.service_cluster import config_text, sqlite_database
from tests.test_store import T0, entry, make_edition, two_feeds

DAY = timedelta(days=1)
KEEP = RetentionSettings(deliveries_days=30, articles_days=30, batch_rows=100)
LATER = T0 + timedelta(days=31)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_store(database_url)
    yield store
    store.engine.dispose()


def statuses(store: Store, edition_id: int) -> dict[str, int]:
    with store.transaction() as session:
        rows = session.execute(
            select(DeliveryRow.status, func.count())
            .where(DeliveryRow.edition_id == edition_id)
            .group_by(DeliveryRow.status)
        ).all()
    return dict(rows)


def an_edition_sent_to(
    store: Store, readers: int, slot: datetime = T0, built: datetime | None = None
) -> int:
    """An edition of ``slot`` (built then, or at ``built``) queued to ``readers`` readers: the
    first two still pending (one of them retrying), the third parked, the fourth failed, the
    rest sent."""
    edition, rendered = make_edition(store, slot)
    state, _ = store.save_edition(edition, rendered, built or slot)
    people = [SubscriberInput(f"reader{n}@example.org") for n in range(readers)]
    add_members(store, "daily", people, T0)
    assert store.queue_deliveries(state.id, "daily", T0) == readers
    ids = store.pending_deliveries(state.id)
    store.mark_delivered_many([(sent, f"<{sent}@example.org>") for sent in ids[4:]], T0)
    with store.transaction() as session:
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == ids[3])
            .values(status="failed", attempts=1, last_error="550 no such user")
        )
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == ids[2])
            .values(status="parked", unknown_attempts=3)
        )
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == ids[1])
            .values(attempts=1, next_attempt_at=T0 + timedelta(days=40))
        )
    return state.id


def test_settled_copies_past_the_window_go_and_those_in_flight_stay(store: Store) -> None:
    edition_id = an_edition_sent_to(store, 250)
    assert retention.prune(store, KEEP, T0 + timedelta(days=29)).deliveries == 0, "not yet"

    expected = retention.prunable(store, retention.Windows.of(KEEP, (), LATER))
    assert (expected.deliveries, expected.deliveries_in_flight) == (247, 3)
    outcome = retention.prune(store, KEEP, LATER)

    assert outcome.deliveries == 247 and outcome.finished
    assert outcome.batches > 3, "a bounded batch a transaction"
    assert statuses(store, edition_id) == {"pending": 2, "parked": 1}
    assert retention.prune(store, KEEP, LATER).deleted == 0, "a second prune finds nothing"


def test_an_edition_whose_copies_went_is_never_queued_again(store: Store) -> None:
    edition_id = an_edition_sent_to(store, 20)
    retention.prune(store, KEEP, LATER)
    # A build of that slot again (an operator's send by hand, a crash before it was marked)
    # queues its members: a reader whose settled copy is gone must not be taken for a new one.
    assert store.queue_deliveries(edition_id, "daily", LATER) == 0
    assert statuses(store, edition_id) == {"pending": 2, "parked": 1}
    assert store.pending_deliveries(edition_id) == store.pending_deliveries(edition_id)[:2]


def test_an_edition_built_now_for_an_old_slot_keeps_its_copies_a_window(store: Store) -> None:
    # `digest send` of a list that goes out once a year builds its latest slot, months ago:
    # its copies were deleted by the very cycle that sent them, and with them what bounces,
    # `digest status` and the reader's data read of that edition.
    edition_id = an_edition_sent_to(store, 20, slot=T0, built=LATER)
    assert retention.prune(store, KEEP, LATER + timedelta(days=1)).deliveries == 0
    assert statuses(store, edition_id)["sent"] == 16
    assert retention.prune(store, KEEP, LATER + timedelta(days=31)).deliveries == 17


def test_a_bounded_prune_stops_and_the_next_goes_on(store: Store) -> None:
    an_edition_sent_to(store, 250)
    first = retention.prune(store, KEEP, LATER, max_batches=2)
    assert (first.deliveries, first.finished) == (200, False)
    rest = retention.prune(store, KEEP, LATER)
    assert rest.deliveries == 47 and rest.finished


def test_prune_cycle_does_nothing_when_turned_off(store: Store) -> None:
    an_edition_sent_to(store, 20)
    settings = example_settings()
    off = settings.model_copy(update={"retention": KEEP.model_copy(update={"prune": False})})
    assert retention.prune_cycle(store, off, LATER).deleted == 0
    on = settings.model_copy(update={"retention": KEEP})
    assert retention.prune_cycle(store, on, LATER).deliveries == 17


def example_settings() -> Settings:
    example = Path(__file__).resolve().parents[1] / "config/example.toml"
    return load_settings(example, {})


@pytest.mark.parametrize(
    ("schedule", "reader_local", "articles", "deliveries"),
    [
        ("0 7 * * *", True, 30 * DAY, 30 * DAY),  # the windows as set
        ("0 8 1 */2 *", False, 63 * DAY, 30 * DAY),  # every other month: 62 days apart at most,
        ("0 8 1 */2 *", True, 63 * DAY, 63 * DAY),  # and a day; its readers' last copies as long
        # A burst on the 1st: from 23:45 on one 1st to midnight on the next, and a day.
        ("*/15 * 1 * *", False, 31 * DAY + timedelta(minutes=15), 30 * DAY),
    ],
)
def test_a_list_further_apart_than_a_window_keeps_what_its_next_edition_needs(
    schedule: str, reader_local: bool, articles: timedelta, deliveries: timedelta
) -> None:
    settings = example_settings()
    lists = [
        settings.lists[0].model_copy(update={"schedule": schedule, "reader_local": reader_local})
    ]
    windows = retention.Windows.of(KEEP, lists, LATER)
    assert (windows.articles, windows.deliveries) == (articles, deliveries)


def test_an_old_article_a_feed_still_serves_is_not_stored_or_mailed_again(store: Store) -> None:
    wire, post = two_feeds(store)
    first = store.store_entries(wire, [entry(1), entry(2)], T0).new
    assert len(first) == 2
    outcome = retention.prune(store, KEEP, LATER)
    assert outcome.articles == 2
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ArticleRow)) == 0

    # The feed still serves both, one under a moved guid, and another feed carries the other's
    # link over http: nothing new, whatever the keys they are known by.
    again = store.store_entries(
        wire, [entry(1), entry(2, guid="urn:moved:2"), entry(3)], LATER + timedelta(hours=1)
    )
    other = store.store_entries(
        post, [entry(9, link="http://news.example.org/story/1")], LATER + timedelta(hours=2)
    )
    assert len(again.new) == 1 and again.duplicates == 2
    assert other.new == () and other.duplicates == 1
    [(new_guid,)] = store.engine.connect().execute(select(ArticleRow.guid)).all()
    assert new_guid == "urn:story:3"


def test_the_key_of_a_deleted_article_stays_while_a_feed_serves_it(store: Store) -> None:
    wire, _ = two_feeds(store)
    store.store_entries(wire, [entry(1), entry(2)], T0)
    retention.prune(store, KEEP, LATER)
    # The feed serves story 1 for another month and more; story 2 is gone from it.
    served = LATER + timedelta(days=20)
    assert store.store_entries(wire, [entry(1)], served).new == ()
    a_window_on = served + timedelta(days=20)
    assert retention.prune(store, KEEP, a_window_on).article_keys == 2, "story 2's guid, link"
    assert store.store_entries(wire, [entry(1)], a_window_on).new == (), "still known"
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PrunedArticleRow)) == 2


def test_the_archive_keeps_an_edition_whose_articles_and_copies_went(store: Store) -> None:
    edition_id = an_edition_sent_to(store, 10)
    retention.prune(store, KEEP, LATER)
    found = store.archived_edition(["daily"], T0)
    assert found is not None and "html" in found[1]
    with store.transaction() as session:
        marked = session.scalar(
            select(EditionRow.ledger_pruned_at).where(EditionRow.id == edition_id)
        )
    assert marked == LATER


def test_readers_choices_stay_when_their_rows_go(store: Store) -> None:
    edition_id = an_edition_sent_to(store, 10)
    left = store.unsubscribe_addresses(
        "daily", ["reader5@example.org"], T0 + timedelta(days=1), "operator"
    )
    assert left == 1
    retention.prune(store, KEEP.model_copy(update={"articles_days": 365}), LATER)
    edition = replace(store.load_edition(edition_id), slot=LATER, window_end=LATER)
    rendered = replace(store.rendered_edition(edition_id), slot=LATER)
    state, _ = store.save_edition(edition, rendered, LATER)
    assert state.id != edition_id
    assert store.queue_deliveries(state.id, "daily", LATER) == 9, "the one who left gets none"


def test_config_check_refuses_a_window_shorter_than_two_weeks(tmp_path: Path) -> None:
    from digest.config import settings_from_mapping
    from digest.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        settings_from_mapping(
            {"service": {"sender": "News <news@example.org>"}, "retention": {"articles_days": 3}},
            source=tmp_path / "digest.toml",
        )
    said = str(refused.value)
    assert "digest.toml" in said and "retention.articles_days" in said and "14" in said, said


def test_db_prune_says_what_it_deletes_and_what_it_keeps(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    (tmp_path / "members.csv").write_text("email\n")
    feed = "https://wire.example.org/rss"
    config.write_text(config_text(tmp_path, None, feed, service_extra=sqlite_database(tmp_path)))
    store = open_store(f"sqlite:///{tmp_path}/digest.db")
    # Half a year before any day the test runs on: past the default window of 90 days.
    edition_id = an_edition_sent_to(store, 20, slot=datetime(2026, 6, 1, 7, tzinfo=UTC))

    def prune(*options: str) -> str:
        environment = {"COLUMNS": "250", "DIGEST_SECRET_KEY": "prune-secret-" * 3}
        done = CliRunner().invoke(
            app, ["--config", str(config), "db", "prune", *options], env=environment
        )
        assert done.exit_code == 0, done.output
        return " ".join(done.output.split())

    said = prune("--dry-run")
    assert "Would delete 17 ledger rows of editions older than 90 days" in said, said
    assert "(retention.deliveries_days)" in said
    assert "Kept: 3 older ledger rows still pending or parked" in said, said
    assert sum(statuses(store, edition_id).values()) == 20, "a dry run deletes nothing"
    said = prune()
    assert "Deleted 17 ledger rows" in said and "Kept: 3 older" in said, said
    assert statuses(store, edition_id) == {"pending": 2, "parked": 1}
    store.engine.dispose()


def test_cycles_months_apart_mail_each_story_once_and_prune_behind(tmp_path: Path) -> None:
    from digest import pipeline
    from digest.clock import FixedClock
    from digest.config import load_settings
    from digest.sample_server import serve_folder
    from digest.services import build_services
    from tests.test_pipeline import DAY1, write_feed

    folder, outbox = tmp_path / "feeds", tmp_path / "outbox"
    folder.mkdir()
    (tmp_path / "members.csv").write_text("email\nreader1@example.org\nreader2@example.org\n")
    first = (1, "Iran story 1", DAY1 - timedelta(hours=1))
    write_feed(folder, [first])

    def cycle(days: int, stories: list[tuple[int, str, datetime]]) -> None:
        write_feed(folder, stories)
        settings = load_settings(config, {"DIGEST_SECRET_KEY": "prune-secret-" * 3})
        services = build_services(settings, clock=FixedClock(DAY1 + timedelta(days=days)))
        try:
            summary = pipeline.run_cycle(services, pipeline.InlineDispatcher(services))
            assert summary.messages_delivered == 2 and not summary.problems, summary
        finally:
            services.close()

    with serve_folder(folder) as base_url:
        config = tmp_path / "digest.toml"
        service = f'{sqlite_database(tmp_path)}\noutbox = "{outbox}"'
        text = config_text(
            tmp_path, None, f"{base_url}/wire.xml", service_extra=service, schedule="0 7 * * *"
        )
        config.write_text(text)
        cycle(0, [first])
        # A quarter on, the feed still serves story 1 beside a new one: the cycle that mails
        # story 2 deletes story 1's article and the first edition's copies.
        second = (2, "Iran story 2", DAY1 + timedelta(days=100))
        cycle(100, [first, second])
        # The day after, story 1 is still there, and now a third: only the third is news.
        cycle(101, [first, second, (3, "Iran story 3", DAY1 + timedelta(days=101))])

    mails = [path.read_text() for path in sorted(outbox.glob("*.eml"))]
    assert len(mails) == 6
    for story in ("Iran story 1", "Iran story 2", "Iran story 3"):
        assert sum(story in mail for mail in mails) == 2, f"{story} went to each reader once"
    store = open_store(f"sqlite:///{tmp_path}/digest.db")
    with store.transaction() as session:
        titles = set(session.scalars(select(ArticleRow.title)))
        deliveries = session.scalar(select(func.count()).select_from(DeliveryRow))
    store.engine.dispose()
    assert titles == {"Iran story 2", "Iran story 3"} and deliveries == 4
    environment = {"DIGEST_SECRET_KEY": "prune-secret-" * 3}
    shown = CliRunner().invoke(app, ["--config", str(config), "status", "--json"], env=environment)
    said = {
        edition["slot"][:10]: edition["status"] for edition in json.loads(shown.output)["editions"]
    }
    assert [said[slot] for slot in sorted(said)] == ["past retention", "sent", "sent"], said


def test_the_guides_vacuum_gives_a_pruned_sqlite_files_room_back(tmp_path: Path) -> None:
    from tests.test_backups import guide_command, run

    database = tmp_path / "var/digest.db"
    store = open_store(f"sqlite:///{database}")
    an_edition_sent_to(store, 3000)
    store.engine.dispose()
    store = open_store(f"sqlite:///{database}")
    retention.prune(store, KEEP, LATER)
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.engine.dispose()
    before = database.stat().st_size
    run(guide_command("give space back sqlite"), tmp_path)
    assert database.stat().st_size < before * 0.8, (before, database.stat().st_size)


def test_two_processes_pruning_at_once_delete_each_row_once(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stores = [open_store(database_url), open_store(database_url)]
    edition_id = an_edition_sent_to(stores[0], 1500)
    wire, _ = two_feeds(stores[0])
    stores[0].store_entries(wire, [entry(n) for n in range(10, 400)], T0)
    small = KEEP.model_copy(update={"batch_rows": 100})
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda store: retention.prune(store, small, LATER), stores))
    assert sum(outcome.deliveries for outcome in outcomes) == 1497
    assert sum(outcome.articles for outcome in outcomes) == 393
    assert statuses(stores[0], edition_id) == {"pending": 2, "parked": 1}
    for store in stores:
        store.engine.dispose()


def test_beat_sends_the_prune_task() -> None:
    from worker import tasks
    from worker.app import beat_schedule

    assert beat_schedule(60)["digest-prune"]["task"] == tasks.prune.name == "digest.prune"
