"""The start of each cycle: a list's file imported only when it changed, the suppression file and
the database in step at the cost of what changed, migrated memberships, concurrent unsubscribes
(issue #11 point 1, issue #9 point 8)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from digest import imports, unsubscribes
from digest.clock import FixedClock
from digest.store import Store, SubscriberInput, open_store
from digest.store.db import create_database_engine
from digest.store.schema import SubscriberRow, SubscriptionChangeRow, SubscriptionRow
from digest.store.upgrades import upgrade
from digest.unsubscribes import unsubscribe
from tests.members import add_members
from tests.test_lists import (
    DAY1,
    active_member,
    first_cycle,
    raw_config,
    recipients,
    run,
    settings_of,
    start,
)
from tests.test_lists import feed as feed  # the fixture
from tests.test_pipeline import write_feed
from tests.test_store import T0


def refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("read again although it did not change")


def test_an_unchanged_subscriber_file_is_not_read_again(
    tmp_path: Path, feed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, base_url = feed
    clock = FixedClock(DAY1)
    services, transport = start(settings_of(tmp_path, raw_config(tmp_path, base_url)), clock)
    assert run(services).messages_delivered == 3
    monkeypatch.setattr(imports, "read_subscriber_file", refuse)
    clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(2, "Iran story 2", clock.now() - timedelta(minutes=5))])
    assert run(services).messages_delivered == 3  # the file was not read, the members are there
    monkeypatch.undo()
    # Changed, it is read at the next cycle: the new reader gets the next edition.
    (tmp_path / "members.csv").write_text(
        (tmp_path / "members.csv").read_text() + "lee@example.org,Lee\n"
    )
    clock.set(DAY1 + timedelta(days=2))
    write_feed(folder, [(3, "Iran story 3", clock.now() - timedelta(minutes=5))])
    transport.sent.clear()
    assert run(services).messages_delivered == 4
    assert "lee@example.org" in recipients(transport)
    services.close()


def test_the_suppression_file_is_read_again_only_for_its_new_lines(
    tmp_path: Path, feed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, base_url = feed
    clock = FixedClock(DAY1)
    services, transport = first_cycle(tmp_path, raw_config(tmp_path, base_url), clock)
    path = services.settings.service.suppression_path
    sam = active_member(services, "Sam")
    assert unsubscribe(services, sam.id, "daily", "one-click")
    assert path.read_text().splitlines()[1].startswith("sam@example.org,daily,one-click,")
    # An operator adds a line at the end, as the docs say they may.
    with path.open("a") as file:
        file.write("LI@example.org,,complaint,2026-11-20T00:00:00+00:00\n")
    monkeypatch.setattr(unsubscribes, "parse_suppressions", refuse)  # a whole read
    clock.set(DAY1 + timedelta(days=1))
    write_feed(folder, [(2, "Iran story 2", clock.now() - timedelta(minutes=5))])
    transport.sent.clear()
    summary = run(services)
    assert recipients(transport) == ["rana@example.org"]
    assert not summary.problems
    # The unsubscribe, written by unsubscribe(), is not copied out a second time.
    assert path.read_text().count("sam@example.org") == 1
    services.close()


def test_a_bounce_reaches_the_file_and_holds_in_a_new_database(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    raw = raw_config(tmp_path, base_url)
    clock = FixedClock(DAY1)
    services, _ = first_cycle(tmp_path, raw, clock)
    key = services.address_key("rana@example.org")
    assert services.store.suppress(
        "rana@example.org", services.address_key, "hard-bounce", "bounce", clock.now()
    )
    run(services)  # copies it out
    services.close()
    lines = (tmp_path / "var" / "suppressed.csv").read_text().splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == ["rana@example.org,,hard-bounce"]

    raw["service"]["database_url"] = f"sqlite:///{tmp_path / 'new.db'}"
    services, transport = first_cycle(tmp_path, raw, clock)
    assert recipients(transport) == ["li@example.org", "sam@example.org"]
    suppression = services.store.suppression(key)
    assert suppression is not None and suppression.reason == "hard-bounce"
    services.close()


def test_an_unknown_channel_is_refused(tmp_path: Path, feed: tuple[Path, str]) -> None:
    _, base_url = feed
    services, _ = first_cycle(tmp_path, raw_config(tmp_path, base_url), FixedClock(DAY1))
    sam = active_member(services, "Sam")
    with pytest.raises(ValueError, match="unknown channel 'clicked'"):
        unsubscribe(services, sam.id, "daily", "clicked")
    assert len(services.store.confirmed_subscribers("daily")) == 3
    services.close()


@pytest.fixture
def store(database_url: str) -> Any:
    store = open_store(database_url)
    yield store
    store.engine.dispose()


def test_one_click_posts_at_once_record_one_change(store: Store) -> None:
    add_members(store, "daily", [SubscriberInput("sam@example.org")], T0)
    [sam] = store.confirmed_subscribers("daily")
    start = threading.Barrier(6)
    results: list[bool] = []

    def post() -> None:
        start.wait()
        results.append(store.unsubscribe(sam.id, "daily", T0, "one-click"))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [True] * 6
    with store.transaction() as session:
        changes = session.scalar(
            select(func.count())
            .select_from(SubscriptionChangeRow)
            .where(SubscriptionChangeRow.to_status == "unsubscribed")
        )
    assert changes == 1


def test_memberships_before_the_upgrade_keep_their_meaning(database_url: str) -> None:
    engine = create_database_engine(database_url)
    upgrade(engine, "0006")
    with engine.begin() as connection:
        for number, status in enumerate(("active", "removed", "unsubscribed"), 1):
            connection.execute(
                text(
                    "INSERT INTO subscribers (id, email, created_at) "
                    "VALUES (:id, :email, '2026-11-01 00:00:00')"
                ),
                {"id": number, "email": f"{status}@example.org"},
            )
            connection.execute(
                text(
                    "INSERT INTO subscriptions (subscriber_id, list_slug, status, changed_at) "
                    "VALUES (:id, 'daily', :status, '2026-11-02 00:00:00')"
                ),
                {"id": number, "status": status},
            )
    upgrade(engine)
    store = Store(engine)
    assert {m.email: (m.status, m.channel) for m in store.memberships("daily")} == {
        "active@example.org": ("confirmed", "import"),
        "removed@example.org": ("unsubscribed", "import"),
        "unsubscribed@example.org": ("unsubscribed", "unrecorded"),
    }
    assert [s.email for s in store.confirmed_subscribers("daily")] == ["active@example.org"]
    # The removed reader is left out by the file's last word: an import does not bring them back.
    report = add_members(store, "daily", [SubscriberInput("removed@example.org")], T0)
    assert report.added == 0 and "unsubscribed from list 'daily'" in report.kept_out[0][1]
    engine.dispose()


def test_a_bad_line_of_the_suppression_file_is_said_at_every_cycle_without_a_whole_read(
    tmp_path: Path, feed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, base_url = feed
    raw = raw_config(tmp_path, base_url)
    raw["service"]["suppression_file"] = str(tmp_path / "do-not-mail.csv")
    (tmp_path / "do-not-mail.csv").write_text(
        "email,list\nnot an address,\nsam@example.org,daily\n"
    )
    clock = FixedClock(DAY1)
    services, transport = start(settings_of(tmp_path, raw), clock)
    [first] = run(services).problems
    assert "do-not-mail.csv: line 2: 'not an address' is not an email address" in first
    assert recipients(transport) == ["li@example.org", "rana@example.org"]
    monkeypatch.setattr(unsubscribes, "parse_suppressions", refuse)
    clock.advance(timedelta(hours=1))
    assert run(services).problems == (first,)
    services.close()


def test_a_change_committed_after_a_later_one_is_still_copied_out_once(store: Store) -> None:
    # On PostgreSQL ids are handed out before commit: row 150 may be read while row 120, a
    # slower transaction's, is not committed yet. Both reach the file, each once.
    add_members(store, "daily", [SubscriberInput(f"{n}@example.org") for n in "abc"], T0)
    a, b, c = store.confirmed_subscribers("daily")

    def unsubscribed(row_id: int, subscriber_id: int) -> None:
        with store.transaction() as session:
            session.add(
                SubscriptionChangeRow(
                    id=row_id,
                    subscriber_id=subscriber_id,
                    list_slug="daily",
                    from_status="confirmed",
                    to_status="unsubscribed",
                    channel="one-click",
                    at=T0,
                )
            )

    unsubscribed(100, a.id)
    unsubscribed(150, b.id)
    first = store.changes_to_copy(None, T0)
    assert [line[0] for line in first.lines] == ["a@example.org", "b@example.org"]
    store.set_file_mark(
        "suppressions",
        None,
        T0,
        history_upto=first.history_upto,
        suppressions_upto=first.suppressions_upto,
        copied=first.copied,
    )
    unsubscribed(120, c.id)  # the slow transaction commits
    mark = store.file_mark("suppressions")
    second = store.changes_to_copy(mark, T0 + timedelta(minutes=1))
    assert [line[0] for line in second.lines] == ["c@example.org"]
    store.set_file_mark(
        "suppressions",
        None,
        T0,
        history_upto=second.history_upto,
        suppressions_upto=second.suppressions_upto,
        copied=second.copied,
    )
    settled = store.changes_to_copy(store.file_mark("suppressions"), T0 + timedelta(minutes=11))
    assert settled.lines == [] and settled.copied == () and settled.history_upto == 150


def test_a_suppression_file_set_to_a_new_path_starts_with_every_unsubscribe(
    tmp_path: Path, feed: tuple[Path, str]
) -> None:
    _, base_url = feed
    raw = raw_config(tmp_path, base_url)
    clock = FixedClock(DAY1)
    services, _ = first_cycle(tmp_path, raw, clock)
    sam = active_member(services, "Sam")
    assert unsubscribe(services, sam.id, "daily", "unsubscribe-page")
    assert services.store.suppress(
        "li@example.org", services.address_key, "complaint", "complaint", clock.now()
    )
    # An unsubscribe from before migration 0007: in the membership, with no history row.
    with services.store.transaction() as session:
        session.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.subscriber_id != sam.id)
            .where(
                SubscriptionRow.subscriber_id.in_(
                    select(SubscriberRow.id).where(SubscriberRow.email == "rana@example.org")
                )
            )
            .values(status="unsubscribed", channel="unrecorded")
        )
    clock.advance(timedelta(hours=1))
    run(services)
    services.close()

    # The operator moves the file to the backed-up volume, empty: it is filled at once.
    raw["service"]["suppression_file"] = str(tmp_path / "backup" / "suppressed.csv")
    services, _ = first_cycle(tmp_path, raw, clock)
    moved = (tmp_path / "backup" / "suppressed.csv").read_text().splitlines()
    assert sorted(line.rsplit(",", 1)[0] for line in moved[1:]) == [
        "li@example.org,,complaint",
        "rana@example.org,daily,unrecorded",
        "sam@example.org,daily,unsubscribe-page",
    ]
    run(services)  # and not twice
    assert len((tmp_path / "backup" / "suppressed.csv").read_text().splitlines()) == 4
    # Deleted, it is written again whole.
    (tmp_path / "backup" / "suppressed.csv").unlink()
    run(services)
    assert len((tmp_path / "backup" / "suppressed.csv").read_text().splitlines()) == 4
    services.close()
