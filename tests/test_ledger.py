"""The ledger's retries and status queries, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from digest import retries
from digest.store import FailedAttempt, Store, SubscriberInput, open_store
from digest.store.deliveries import DeliveriesToSend, DeliveryCounts
from digest.store.schema import DeliveryRow
from tests.members import add_members
from tests.test_store import T0, make_edition

POLICY = retries.RetryPolicy(max_attempts=2, max_retries=1, retry_minutes=5)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = open_store(database_url)
    yield store
    store.engine.dispose()


def decide(attempt: FailedAttempt, failures: int, unknown: int) -> retries.NextStep:
    return retries.next_step(
        POLICY, attempt.kind, attempt.error, failures=failures, unknown=unknown, now=T0, jitter=0
    )


def test_failed_attempts_are_retried_when_due_then_failed_or_parked(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    readers = [SubscriberInput(f"reader{n}@example.org") for n in range(3)]
    add_members(store, "daily", readers, T0)
    store.queue_deliveries(state.id, "daily")
    lost, busy, gone = store.pending_deliveries(state.id)

    steps = store.record_failed_attempts(
        [
            FailedAttempt(lost, "unknown", "no reply"),
            FailedAttempt(busy, "temporary", "451 later"),
            FailedAttempt(gone, "permanent", "550 no such user"),
        ],
        decide,
    )
    assert [step.verdict for _, step in steps] == ["retry", "retry", "failed"]
    assert [delivery for delivery, _ in steps] == [lost, busy, gone]
    assert list(store.pending_delivery_batches(state.id, 10, T0)) == [], "none is due yet"
    later = T0 + timedelta(minutes=5)
    assert list(store.pending_delivery_batches(state.id, 10, later)) == [[lost, busy]]
    assert [row for row, _ in store.deliveries_to_send(state.id, [lost, busy], T0)] == []
    [overview] = store.edition_deliveries()
    assert (overview.counts.pending, overview.counts.failed) == (2, 1)
    assert overview.next_retry_at == later and overview.next_retry_at.tzinfo is not None

    steps = store.record_failed_attempts(
        [FailedAttempt(lost, "unknown", "no reply"), FailedAttempt(busy, "temporary", "451")],
        decide,
    )
    assert [step.verdict for _, step in steps] == ["parked", "failed"]
    assert store.record_failed_attempts([FailedAttempt(lost, "unknown", "x")], decide) == []
    store.settle_edition(state.id)
    [overview] = store.edition_deliveries()
    assert overview.status == "sent"
    assert (overview.counts.parked, overview.counts.failed, overview.counts.pending) == (1, 2, 0)
    parked, total = store.parked_deliveries()
    assert total == 1 and [(p.email, p.attempts, p.unknown_attempts) for p in parked] == [
        ("reader0@example.org", 2, 2)
    ]
    assert "parked after 2 copies" in parked[0].reason

    assert store.release_parked(state.id) == 1
    assert store.release_parked(state.id) == 0
    assert store.pending_deliveries(state.id) == [lost]
    [overview] = store.edition_deliveries()
    assert overview.status == "ready" and overview.counts.pending == 1


def test_status_lists_editions_in_flight_and_the_recent_ones(store: Store) -> None:
    edition, rendered = make_edition(store, T0)
    for hours in range(4):
        slot = T0 + timedelta(hours=hours)
        state, _ = store.save_edition(replace(edition, slot=slot), rendered, slot)
        if hours < 3:
            store.settle_edition(state.id)  # no deliveries: settled at once
    shown = store.edition_deliveries(recent=2)
    assert [e.slot for e in shown] == [T0 + timedelta(hours=h) for h in (3, 2, 1)]
    assert [e.status for e in shown] == ["ready", "sent", "sent"]


def test_copies_taken_are_recorded_with_their_message_ids_and_the_edition_settles_last(
    store: Store,
) -> None:
    """mark_delivered_many, which PostgreSQL runs as one statement over arrays: each row gets
    its own Message-ID, one more attempt and the time; the rows not named stay pending, and the
    edition is sent only once none is."""
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    add_members(store, "daily", [SubscriberInput(f"r{n}@example.org") for n in range(5)], T0)
    store.queue_deliveries(state.id, "daily")
    ids = store.pending_deliveries(state.id)
    sent_at = T0 + timedelta(minutes=1)

    store.mark_delivered_many([(ids[3], "<c@x>"), (ids[0], "<a@x>")], sent_at)
    store.settle_edition(state.id)
    with store.transaction() as session:
        rows = {
            row.id: (row.status, row.message_id, row.attempts, row.sent_at, row.last_error)
            for row in session.scalars(select(DeliveryRow).where(DeliveryRow.id.in_(ids)))
        }
    assert rows[ids[0]] == ("sent", "<a@x>", 1, sent_at, None)
    assert rows[ids[3]] == ("sent", "<c@x>", 1, sent_at, None)
    assert {rows[i][0] for i in (ids[1], ids[2], ids[4])} == {"pending"}
    assert store.pending_deliveries(state.id) == [ids[1], ids[2], ids[4]]
    [overview] = store.edition_deliveries()
    assert overview.status == "ready"

    store.mark_delivered_many([(i, f"<{i}@x>") for i in (ids[4], ids[1], ids[2])], sent_at)
    store.settle_edition(state.id)
    [overview] = store.edition_deliveries()
    # Every copy sent: none is shown failed, skipped or parked besides.
    assert (overview.status, overview.counts) == ("sent", DeliveryCounts(sent=5))
    assert store.delivery_counts(state.id) == DeliveryCounts(sent=5)


def test_a_batch_is_its_own_rows_of_its_own_edition_read_a_page_at_a_time(store: Store) -> None:
    """A batch sends the rows it was handed and no other: not the edition's other pending
    rows (another batch's), nor another edition's rows under these ids; each with its reader's
    name and timezone, for the greeting and the times."""
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    readers = [
        SubscriberInput(f"r{n}@example.org", f"Reader {n}", "Asia/Tokyo" if n % 2 else None)
        for n in range(5)
    ]
    add_members(store, "daily", readers, T0)
    store.queue_deliveries(state.id, "daily")
    ids = store.pending_deliveries(state.id)
    ready = store.deliveries_to_send(state.id, ids[1:3])
    assert [(row, reader.email, reader.name, reader.timezone) for row, reader in ready] == [
        (ids[1], "r1@example.org", "Reader 1", "Asia/Tokyo"),
        (ids[2], "r2@example.org", "Reader 2", None),
    ]
    next_day = T0 + timedelta(days=1)
    later, _ = store.save_edition(
        replace(edition, slot=next_day), replace(rendered, slot=next_day), next_day
    )
    store.queue_deliveries(later.id, "daily")
    assert store.deliveries_to_send(later.id, ids[1:3]) == []
    assert len(store.pending_deliveries(later.id)) == 5
    assert list(store.pending_delivery_batches(state.id, 2)) == [ids[:2], ids[2:4], ids[4:]]


def test_an_edition_all_sent_is_settled_whatever_the_next_one_has_pending(store: Store) -> None:
    """Settled once its own rows are: an edition left "ready" is one a list read in its
    readers' timezones takes for still being sent (digest.due)."""
    edition, rendered = make_edition(store, T0)
    first, _ = store.save_edition(edition, rendered, T0)
    add_members(store, "daily", [SubscriberInput("r@example.org")], T0)
    store.queue_deliveries(first.id, "daily")
    next_day = T0 + timedelta(days=1)
    second, _ = store.save_edition(
        replace(edition, slot=next_day), replace(rendered, slot=next_day), next_day
    )
    store.queue_deliveries(second.id, "daily")
    [sent] = store.pending_deliveries(first.id)
    store.mark_delivered_many([(sent, "<1@example.org>")], T0)
    store.settle_edition(first.id)
    store.settle_edition(second.id)
    status = [store.edition_for_slot("daily", slot) for slot in (T0, next_day)]
    assert [(state.id, state.status) for state in status if state] == [
        (first.id, "sent"),
        (second.id, "ready"),
    ]


def test_a_retry_set_with_the_longest_wait_waits_it_out(store: Store) -> None:
    """Only a retry dated past the longest wait the policy sets came from a clock that ran fast
    (and is due at once); one set with that very wait is not."""
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    add_members(store, "daily", [SubscriberInput("r@example.org")], T0)
    store.queue_deliveries(state.id, "daily")
    [row] = store.pending_deliveries(state.id)
    store.record_failed_attempts([FailedAttempt(row, "temporary", "451 later")], decide)
    longest = timedelta(minutes=POLICY.retry_minutes)  # the wait just set, jitter 0
    assert list(store.pending_delivery_batches(state.id, 10, T0, longest)) == []
    assert list(store.pending_delivery_batches(state.id, 10, T0, longest / 2)) == [[row]]


def test_a_reader_who_left_read_by_two_batches_at_once_is_skipped_once(
    store: Store, database_url: str
) -> None:
    """A batch handed out again reads the same rows as the first while it runs: both find the
    reader who left still pending, one marks the row skipped and counts it, the other counts
    nothing, so a run's copies add up (sent, skipped and passed over make the batch)."""
    edition, rendered = make_edition(store, T0)
    state, _ = store.save_edition(edition, rendered, T0)
    add_members(store, "daily", [SubscriberInput(f"r{n}@example.org") for n in range(2)], T0)
    store.queue_deliveries(state.id, "daily")
    ids = store.pending_deliveries(state.id)
    left, stays = store.confirmed_subscribers("daily")
    assert store.unsubscribe(left.id, "daily", T0)
    other = open_store(database_url)
    answers: list[DeliveriesToSend] = []
    started: list[bool] = []

    def other_batch_first(connection: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.startswith("UPDATE deliveries") and not started:
            # The first batch's UPDATE waits until the whole second batch is done.
            started.append(True)
            answers.append(other.deliveries_to_send(state.id, ids))

    event.listen(store.engine, "before_cursor_execute", other_batch_first)
    try:
        first = store.deliveries_to_send(state.id, ids)
    finally:
        event.remove(store.engine, "before_cursor_execute", other_batch_first)
        other.engine.dispose()
    [second] = answers
    assert [reader.email for _, reader in first] == [stays.email]
    assert [reader.email for _, reader in second] == [stays.email]
    assert (second.skipped, first.skipped) == (1, 0)
    assert store.delivery_counts(state.id) == DeliveryCounts(pending=1, skipped=1)
