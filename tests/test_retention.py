"""Keeping the database to [retention]'s windows, on SQLite and PostgreSQL, by an injected
clock: what goes, what stays, and the promises that hold with old rows gone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from digest import retention
from digest.config.retention import RetentionSettings
from digest.store import Store, SubscriberInput, open_store
from digest.store.schema import ArticleRow, DeliveryRow, EditionRow, PrunedArticleRow
from tests.members import add_members
from tests.test_store import T0, entry, make_edition, two_feeds

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


def an_edition_sent_to(store: Store, readers: int, slot: datetime = T0) -> int:
    """An edition of ``slot`` queued to ``readers`` readers: the first two still pending (one
    of them retrying), the third parked, the fourth failed, the rest sent."""
    edition, rendered = make_edition(store, slot)
    state, _ = store.save_edition(edition, rendered, slot)
    people = [SubscriberInput(f"reader{n}@example.org") for n in range(readers)]
    add_members(store, "daily", people, T0)
    assert store.queue_deliveries(state.id, "daily", T0) == readers
    ids = store.pending_deliveries(state.id)
    store.mark_delivered_many([(sent, f"<{sent}@example.org>") for sent in ids[4:]], T0)
    store.mark_failed(ids[3], "550 no such user", permanent=True)
    with store.transaction() as session:
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

    expected = retention.prunable(store, KEEP, LATER)
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


def test_a_bounded_prune_stops_and_the_next_goes_on(store: Store) -> None:
    an_edition_sent_to(store, 250)
    first = retention.prune(store, KEEP, LATER, max_batches=2)
    assert (first.deliveries, first.finished) == (200, False)
    rest = retention.prune(store, KEEP, LATER)
    assert rest.deliveries == 47 and rest.finished


def test_prune_cycle_does_nothing_when_turned_off(store: Store) -> None:
    an_edition_sent_to(store, 20)
    off = KEEP.model_copy(update={"prune": False})
    assert retention.prune_cycle(store, off, LATER).deleted == 0
    assert retention.prune_cycle(store, KEEP, LATER).deliveries == 17


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
