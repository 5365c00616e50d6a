"""The tick of the distributed mode, with a fixed clock, a recording fanout and local leases."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from digest import building, imports, pipeline, ticking
from digest.clock import FixedClock
from digest.config import load_settings
from digest.errors import DeliveryTemporaryError, OutboxUnavailableError
from digest.mail.transport import MemoryTransport
from digest.records import OutgoingMessage
from digest.services import Services
from digest.store.schema import DeliveryRow
from tests.servers import redis_cluster, redis_server
from tests.service_cluster import config_text, fresh_database, sqlite_database
from tests.test_pipeline import DAY1, feeds, make_settings, services_for, write_feed

__all__ = ["feeds"]  # the fixture, used by name

SLOT = DAY1.replace(minute=0)  # 07:00 in Dubai


@dataclass
class RecordingFanout:
    """Keeps the tasks sent, to run them later as a worker would (or to lose them)."""

    polls: list[int] = field(default_factory=list)
    publishes: list[tuple[str, datetime]] = field(default_factory=list)
    deliveries: list[tuple[int, list[int]]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)

    def poll(self, feed_id: int) -> None:
        self.polls.append(feed_id)

    def import_members(self, list_slug: str) -> None:
        self.imports.append(list_slug)

    def publish(self, list_slug: str, slot: datetime) -> None:
        self.publishes.append((list_slug, slot))

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None:
        self.deliveries.append((edition_id, delivery_ids))


def work(
    services: Services,
    fanout: RecordingFanout,
    leases: ticking.Leases,
    outcomes: list[pipeline.DeliveryOutcome] | None = None,
) -> None:
    """Run every task sent so far, and those they send, as the workers would (the delivery
    tasks' results kept in ``outcomes``)."""
    while fanout.polls or fanout.publishes or fanout.deliveries or fanout.imports:
        lists, fanout.imports = fanout.imports, []
        for list_slug in lists:
            ticking.import_members(services, leases, list_slug)
        polls, fanout.polls = fanout.polls, []
        for feed_id in polls:
            pipeline.poll_feed(services, feed_id)
        publishes, fanout.publishes = fanout.publishes, []
        for list_slug, slot in publishes:
            ticking.publish(services, fanout, leases, list_slug, slot)
        deliveries, fanout.deliveries = fanout.deliveries, []
        for edition_id, batch in deliveries:
            outcome = ticking.deliver(services, leases, edition_id, batch)
            if outcomes is not None:
                outcomes.append(outcome)


def poll_all(services: Services) -> None:
    for feed in pipeline.due_feeds(services, services.clock.now()):
        pipeline.poll_feed(services, feed.id)


@pytest.fixture
def setup(
    tmp_path: Path, feeds: tuple[Path, str]
) -> tuple[Services, FixedClock, MemoryTransport, ticking.LocalLeases]:
    folder, base_url = feeds
    write_feed(folder, [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2)])
    clock = FixedClock(DAY1)
    transport = MemoryTransport()
    services = services_for(make_settings(tmp_path, base_url), clock, transport)
    return services, clock, transport, ticking.LocalLeases(clock)


Setup = tuple[Services, FixedClock, MemoryTransport, ticking.LocalLeases]


def recipients(transport: MemoryTransport) -> list[str]:
    return sorted(message.recipient for message in transport.sent)


def the_next_tick_hands_out_every_copy(
    services: Services, clock: FixedClock, leases: ticking.Leases, transport: MemoryTransport
) -> None:
    """A minute on, the tick hands the edition's pending deliveries out in one batch, and every
    reader of the list gets one copy."""
    clock.advance(timedelta(minutes=1))
    fanout = RecordingFanout()
    assert ticking.tick(services, fanout, leases).batches == 1
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]


def test_a_tick_hands_out_the_polls_and_the_due_slot_and_each_reader_gets_one_copy(
    setup: Setup,
) -> None:
    services, clock, transport, leases = setup
    fanout = RecordingFanout()
    outcome = ticking.tick(services, fanout, leases)
    assert outcome.polls == 1 and len(fanout.polls) == 1
    assert outcome.publishes == (("daily", SLOT.isoformat()),)
    # The poll runs before the build, as the queue's order has it; the build hands out batches.
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    state = services.store.edition_for_slot("daily", SLOT)
    assert state is not None and state.article_count == 2

    clock.advance(timedelta(minutes=1))
    again = ticking.tick(services, fanout, leases)
    assert again == ticking.TickOutcome()  # nothing due, nothing pending
    assert not (fanout.polls or fanout.publishes or fanout.deliveries)
    services.close()


def test_a_large_subscriber_file_is_imported_by_a_task_of_its_own_and_its_list_waits(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tick imported every changed file itself, within its 50 seconds: 100,000 readers took
    # 25 s on PostgreSQL, so a larger file was cut off and rolled back at every tick, and no
    # poll or edition went out until the file shrank.
    services, clock, transport, leases = setup
    monkeypatch.setattr(imports, "INLINE_IMPORT_BYTES", 0)  # every file counts as large
    fanout = RecordingFanout()
    first = ticking.tick(services, fanout, leases)
    assert fanout.imports == ["daily"] and first.polls == 1
    assert first.publishes == ()  # built from half a file, it would miss the other half
    assert services.store.members_of(["daily"]) == 0

    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, fanout, leases).publishes == ()
    assert fanout.imports == ["daily"], "an import in hand is not handed out again"

    imported, fanout.imports = fanout.imports, []
    for list_slug in imported:  # as a worker runs the task
        ticking.import_members(services, leases, list_slug)
    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, fanout, leases).publishes == (("daily", SLOT.isoformat()),)
    assert fanout.imports == []  # the file is in: nothing more to import
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    services.close()


def test_a_tick_reads_a_large_subscriber_file_once(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large file was hashed twice at every tick: once to see whether a task must import it,
    # once more by the import of the files left to the tick. 100 MB is half a second each.
    services, clock, _, leases = setup
    monkeypatch.setattr(imports, "INLINE_IMPORT_BYTES", 0)  # every file counts as large
    hash_file, read = imports.file_digest, []

    def counted(path: Path) -> str:
        read.append(path)
        return hash_file(path)

    monkeypatch.setattr(imports, "file_digest", counted)
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)  # changed since its last import: a task's to import
    assert fanout.imports == ["daily"] and len(read) == 1
    ticking.import_members(services, leases, "daily")  # as a worker runs the task
    read.clear()
    clock.advance(timedelta(minutes=1))
    ticking.tick(services, fanout, leases)  # unchanged since
    assert len(read) == 1, read
    services.close()


def test_a_delivery_set_to_retry_goes_at_the_first_tick_after_its_time(setup: Setup) -> None:
    """The edition's lease is let go when its last batch ends: a 4xx retried after its backoff
    does not wait for the lease to lapse (half an hour)."""
    services, clock, transport, leases = setup
    transport.failures["li@example.org"] = DeliveryTemporaryError("li@example.org", "451 busy")
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    work(services, fanout, leases)
    assert recipients(transport) == ["rana@example.org", "sam@example.org"]
    del transport.failures["li@example.org"]

    clock.advance(timedelta(minutes=1))  # before its backoff: nothing is due
    assert ticking.tick(services, fanout, leases).batches == 0
    clock.advance(timedelta(minutes=7))  # past it (5 minutes and up to a quarter more)
    assert ticking.tick(services, fanout, leases).batches == 1
    assert clock.now() - DAY1 < timedelta(seconds=ticking.DELIVERY_LEASE_SECONDS)
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    services.close()


def test_work_in_hand_is_not_handed_out_again_until_its_lease_lapses(setup: Setup) -> None:
    services, clock, _, leases = setup
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, fanout, leases) == ticking.TickOutcome()
    # Its worker died: once the leases lapse, the next tick hands the same work out again.
    clock.advance(timedelta(seconds=ticking.BUILD_LEASE_SECONDS))
    later = ticking.tick(services, fanout, leases)
    assert later.polls == 1 and later.publishes == (("daily", SLOT.isoformat()),)
    services.close()


def test_a_publish_run_twice_builds_one_edition_and_hands_its_deliveries_out_once(
    setup: Setup,
) -> None:
    services, _, transport, leases = setup
    fanout = RecordingFanout()
    poll_all(services)
    first = ticking.publish(services, fanout, leases, "daily", SLOT)
    second = ticking.publish(services, fanout, leases, "daily", SLOT)
    assert first.built and not second.built and first.edition_id == second.edition_id
    assert [edition for edition, _ in fanout.deliveries] == [first.edition_id]
    work(services, fanout, leases)
    assert len(transport.sent) == 3
    services.close()


class RefusingFanout(RecordingFanout):
    """The broker went away: the delivery batches are not taken."""

    def deliver(self, edition_id: int, delivery_ids: list[int]) -> None:
        raise ConnectionError("the broker does not answer")


def test_a_batch_the_broker_did_not_take_leaves_the_edition_to_the_next_tick(
    setup: Setup,
) -> None:
    services, clock, transport, leases = setup
    poll_all(services)
    with pytest.raises(ConnectionError):
        ticking.publish(services, RefusingFanout(), leases, "daily", SLOT)
    # No batch went out, so none will let the edition's lease go: the hand-out does, and the
    # next tick hands the pending deliveries out, not half an hour later.
    the_next_tick_hands_out_every_copy(services, clock, leases, transport)
    services.close()


class RefusingPublish(RecordingFanout):
    """The broker went away between a tick's polls and its builds."""

    def publish(self, list_slug: str, slot: datetime) -> None:
        raise ConnectionError("the broker does not answer")


def test_a_build_the_broker_did_not_take_is_handed_out_at_the_next_tick(setup: Setup) -> None:
    services, clock, _, leases = setup
    with pytest.raises(ConnectionError):
        ticking.tick(services, RefusingPublish(), leases)
    clock.advance(timedelta(minutes=1))  # not when its lease would lapse, ten minutes on
    fanout = RecordingFanout()
    assert ticking.tick(services, fanout, leases).publishes == (("daily", SLOT.isoformat()),)
    services.close()


class HoldReplyLost(ticking.LocalLeases):
    """Leases whose ``lost_at``-th hold is taken (the count went up in Redis) while Ctrl-C, or
    a broker gone, breaks off the call before its reply is read."""

    def __init__(self, clock: FixedClock, lost_at: int) -> None:
        super().__init__(clock)
        self.lost_at: int | None = lost_at
        self.holds = 0

    def hold(self, key: str, seconds: int) -> None:
        super().hold(key, seconds)
        self.holds += 1
        if self.holds == self.lost_at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("lost_at", [1, 2], ids=["the hand-out's hold", "a batch's hold"])
def test_a_hand_out_stopped_in_a_hold_leaves_the_edition_to_the_next_tick(
    setup: Setup, lost_at: int
) -> None:
    # `digest send` stopped by Ctrl-C while the hand-out held the edition's lease once more:
    # the hold was counted and never let go, and the lease kept every tick from handing out
    # the rest for half an hour, though the send said "the next tick hands out the rest".
    services, clock, transport, _ = setup
    poll_all(services)
    leases = HoldReplyLost(clock, lost_at)
    with pytest.raises(KeyboardInterrupt):
        ticking.publish(services, RecordingFanout(), leases, "daily", SLOT, by_hand=True)
    leases.lost_at = None
    the_next_tick_hands_out_every_copy(services, clock, leases, transport)
    services.close()


def test_deliveries_a_crash_left_pending_are_handed_out_again_from_the_ledger(
    setup: Setup,
) -> None:
    services, clock, transport, leases = setup
    fanout = RecordingFanout()
    poll_all(services)
    ticking.publish(services, fanout, leases, "daily", SLOT)
    assert len(fanout.deliveries) == 1
    fanout.deliveries.clear()  # the batch task was lost (a broker restart, a killed worker)
    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, fanout, leases).batches == 0  # still in hand for a while
    clock.advance(timedelta(seconds=ticking.DELIVERY_LEASE_SECONDS))
    assert ticking.tick(services, fanout, leases).batches == 1
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    clock.advance(timedelta(seconds=ticking.DELIVERY_LEASE_SECONDS + 60))
    assert ticking.tick(services, fanout, leases).batches == 0  # none left pending
    services.close()


def daily_config(folder: Path, schedule: str) -> str:
    return config_text(
        folder,
        None,
        "https://wire.example.org/feed.xml",
        service_extra=sqlite_database(folder),
        schedule=schedule,
        timezone="Asia/Dubai",
    )


def test_an_invalid_config_edit_is_refused_in_the_log_and_the_previous_settings_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "digest.toml"
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    path.write_text(daily_config(tmp_path, "0 7 * * *"))
    current = load_settings(path, {})
    path.write_text(daily_config(tmp_path, "0 8 * * *"))
    edited = ticking.reload_settings(current, {})
    assert edited.list("daily").schedule == "0 8 * * *"  # a valid edit applies at the next tick

    path.write_text(daily_config(tmp_path, "every morning"))
    with caplog.at_level(logging.ERROR, logger="digest.ticking"):
        kept = ticking.reload_settings(edited, {})
    assert kept is edited
    (refusal,) = [record.getMessage() for record in caplog.records]
    assert refusal.startswith("config edit refused, the previous settings stay in force:\n")
    assert str(path) in refusal and "schedule" in refusal and "every morning" in refusal


def test_a_config_reloaded_at_a_tick_takes_the_environment_given(tmp_path: Path) -> None:
    # beat reads DIGEST_* afresh at each tick: an outbox moved by the environment is in force.
    path = tmp_path / "digest.toml"
    (tmp_path / "members.csv").write_text("email,name\nsam@example.org,Sam\n")
    path.write_text(daily_config(tmp_path, "0 7 * * *"))
    current = load_settings(path, {})
    moved = ticking.reload_settings(current, {"DIGEST_OUTBOX": str(tmp_path / "elsewhere")})
    assert moved.service.outbox == tmp_path / "elsewhere"


def publish_at_once(
    workers: list[Services], fanout: RecordingFanout, leases: ticking.Leases
) -> list[pipeline.BuildOutcome]:
    """Publish (daily, SLOT) on each of ``workers`` at the same moment, one thread each."""
    start = threading.Barrier(len(workers))

    def publish(services: Services) -> pipeline.BuildOutcome:
        start.wait()
        return ticking.publish(services, fanout, leases, "daily", SLOT)

    with ThreadPoolExecutor(len(workers)) as pool:
        return list(pool.map(publish, workers))


def test_two_publishes_of_one_slot_at_once_on_postgresql_make_one_edition_and_one_ledger(
    tmp_path: Path, feeds: tuple[Path, str], postgres_url: str
) -> None:
    """At-least-once delivery may run a publish twice, on two workers at once: the (list, slot)
    key makes one of them find the other's edition, and the ledger holds one row per reader.
    Raced on five fresh databases, as the two may or may not collide on a given run."""
    folder, base_url = feeds
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    for _ in range(5):
        settings = make_settings(tmp_path, base_url)
        service = settings.service.model_copy(update={"database_url": fresh_database(postgres_url)})
        settings = settings.model_copy(update={"service": service})
        clock = FixedClock(DAY1)
        first, second = (services_for(settings, clock) for _ in range(2))
        poll_all(first)
        fanout, leases = RecordingFanout(), ticking.LocalLeases(clock)
        outcomes = publish_at_once([first, second], fanout, leases)
        assert sorted(outcome.built for outcome in outcomes) == [False, True]
        assert outcomes[0].edition_id == outcomes[1].edition_id
        assert first.store.delivery_counts(outcomes[0].edition_id).pending == 3
        assert len(fanout.deliveries) == 1 and len(fanout.deliveries[0][1]) == 3
        first.close()
        second.close()


def test_the_tick_finds_slots_with_the_dst_safe_schedule_on_the_night_clocks_skip(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    """02:30 does not exist in New York on 8 March 2026: that day's slot is 03:30 EDT (07:30 UTC),
    handed out once, the tick after it; the day before, 02:30 EST was 07:30 UTC too."""
    _, base_url = feeds
    settings = make_settings(tmp_path, base_url, schedule="30 2 * * *", timezone="America/New_York")
    clock = FixedClock(datetime(2026, 3, 8, 7, 29, tzinfo=UTC))
    services = services_for(settings, clock)
    fanout, leases = RecordingFanout(), ticking.LocalLeases(clock)
    day_before = datetime(2026, 3, 7, 7, 30, tzinfo=UTC)
    assert ticking.tick(services, fanout, leases).publishes == (("daily", day_before.isoformat()),)
    work(services, fanout, leases)
    clock.set(datetime(2026, 3, 8, 7, 30, tzinfo=UTC))
    skipped_night = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert ticking.tick(services, fanout, leases).publishes == (
        ("daily", skipped_night.isoformat()),
    )
    work(services, fanout, leases)
    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, fanout, leases).publishes == ()
    services.close()


def test_a_clock_stepped_back_past_the_last_poll_polls_again_at_once(
    setup: Setup, feeds: tuple[Path, str]
) -> None:
    """A clock that ran a day fast, then set right (NTP, a VM's clock corrected): the feed's
    next poll time, counted on the fast clock, was a day away, and nothing was polled until
    then. The next tick polls it; the news it brings goes out once, in the next edition."""
    services, clock, transport, leases = setup
    clock.set(DAY1 + timedelta(days=1))
    fanout = RecordingFanout()
    assert ticking.tick(services, fanout, leases).polls == 1
    work(services, fanout, leases)
    assert len(transport.sent) == 3

    clock.set(DAY1 + timedelta(hours=1))
    write_feed(feeds[0], [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (0, 1, 2)])
    fanout = RecordingFanout()
    assert ticking.tick(services, fanout, leases).polls == 1
    work(services, fanout, leases)
    assert len(transport.sent) == 3  # the edition built on the fast clock is not built again
    clock.set(DAY1 + timedelta(days=2))  # the first slot after the fast clock's edition
    ticking.tick(services, fanout, leases)
    work(services, fanout, leases)
    latest = [message for message in transport.sent if message.recipient == "li@example.org"]
    assert len(latest) == 2
    assert b"Iran story 0" in latest[-1].data and b"Iran story 1" not in latest[-1].data
    services.close()


def test_a_beat_down_over_several_slots_sends_one_edition_of_all_they_missed(
    setup: Setup, feeds: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Beat down (or the machine off) from the morning of one day to the fourth: the first tick
    after builds the latest slot only, and its window runs from the last edition's end, so each
    reader gets one copy with the news of the three days; the slots missed are never built, and
    the log says so (it said nothing)."""
    services, clock, transport, leases = setup
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    work(services, fanout, leases)
    headlines = {  # one story each (a section shows two of one developing thread at most)
        11: "Iran opens its oil fields to tenders",
        12: "Iran court frees a reporter on bail",
        21: "Iranian rial falls to a record low in Iran",
        22: "Iran football team reaches the final",
        31: "Bazaar in Iran reopens after the floods",
        32: "Iran and Oman sign a shipping accord",
    }
    stories = [
        (n, title, DAY1 + timedelta(days=n // 10, hours=n % 10)) for n, title in headlines.items()
    ]
    write_feed(feeds[0], stories)
    clock.set(DAY1 + timedelta(days=3, hours=2))
    fanout = RecordingFanout()
    outcome = ticking.tick(services, fanout, leases)
    assert outcome.publishes == (("daily", (SLOT + timedelta(days=3)).isoformat()),)
    with caplog.at_level(logging.WARNING, logger="digest"):
        work(services, fanout, leases)
    copies = [message for message in transport.sent if message.recipient == "li@example.org"]
    assert len(copies) == 2
    assert all(f"story/{n}".encode() in copies[-1].data for n in headlines)
    assert (
        "list 'daily': its edition of 2026-11-27 03:00 UTC carries the news since its last one, "
        "of 2026-11-24 03:00 UTC; the slots of its schedule from 2026-11-25 03:00 UTC were not "
        "built, as nothing ran at their time (or the clock or the schedule changed)"
    ) in caplog.messages
    for minutes in (1, 60):
        clock.advance(timedelta(minutes=minutes))
        assert ticking.tick(services, RecordingFanout(), leases).publishes == ()
    for missed in (1, 2):  # the slots of the days missed are never built
        assert services.store.editions_of_slot("daily", SLOT + timedelta(days=missed)) == []
    services.close()


def test_a_local_lease_taken_before_the_clock_stepped_back_has_lapsed() -> None:
    """Counted on the clock, a lease taken an hour fast held its work back the whole hour."""
    clock = FixedClock(DAY1)
    leases = ticking.LocalLeases(clock)
    assert leases.claim("poll:1", ticking.POLL_LEASE_SECONDS)
    clock.advance(timedelta(seconds=ticking.POLL_LEASE_SECONDS - 1))
    assert not leases.claim("poll:1", ticking.POLL_LEASE_SECONDS)
    clock.set(DAY1 - timedelta(hours=1))
    assert leases.claim("poll:1", ticking.POLL_LEASE_SECONDS)
    assert not leases.claim("poll:1", ticking.POLL_LEASE_SECONDS)


def test_a_poll_task_is_dropped_while_another_worker_polls_the_same_feed(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    services, _, _, leases = setup
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    (feed_id,) = fanout.polls
    # A copy of the task that waited in the queue runs while the first is fetching.
    assert leases.claim(f"polling:{feed_id}", ticking.POLLING_SECONDS)
    with caplog.at_level(logging.INFO, logger="digest.ticking"):
        dropped = ticking.poll_alone(services, leases, feed_id)
    assert dropped.elsewhere and dropped.feed_id == feed_id
    assert dropped.url == services.store.feed(feed_id).url  # what the task's result names
    assert [record.getMessage() for record in caplog.records] == [
        f"feed {feed_id} is being polled by another worker; this poll is dropped"
    ]
    assert services.store.feed(feed_id).last_fetched_at is None  # no request made
    leases.release(f"polling:{feed_id}")
    outcome = ticking.poll_alone(services, leases, feed_id)
    assert not outcome.elsewhere and outcome.new_articles == 2
    # Its key is freed when the poll ends: the next poll is not held back.
    assert leases.claim(f"polling:{feed_id}", ticking.POLLING_SECONDS)
    services.close()


def test_redis_leases_are_shared_and_released() -> None:
    from worker.leases import RedisLeases

    with redis_server() as url:
        one, other = RedisLeases(url), RedisLeases(url)
        assert one.claim("polling:7", 60)
        assert not other.claim("polling:7", 60)
        other.release("polling:7")
        assert one.claim("polling:7", 60)


def test_a_batch_whose_lease_call_meets_a_stalled_redis_fails_in_time_and_sends_nothing_twice(
    setup: Setup,
) -> None:
    """redis-server paused (SIGSTOP: a machine frozen, a network dropping packets), not down: a
    batch's lease call waited on it until it woke or the task's hard time limit killed it. It
    now gives up in LEASE_CALL_SECONDS with a RedisError, as with Redis down: the batch fails
    before sending, its rows stay pending, and sent again they go once each."""
    from redis.exceptions import RedisError

    from worker.leases import LEASE_CALL_SECONDS, RedisLeases

    services, _, transport, local = setup
    poll_all(services)
    fanout = RecordingFanout()
    ticking.publish(services, fanout, local, "daily", SLOT)
    [(edition_id, batch)] = fanout.deliveries
    with redis_cluster() as server:
        leases = RedisLeases(server.url)
        server.pause()
        worker = ThreadPoolExecutor(1)
        try:
            started = time.monotonic()
            call = worker.submit(ticking.deliver, services, leases, edition_id, batch)
            with pytest.raises(RedisError):
                call.result(timeout=4 * LEASE_CALL_SECONDS)  # before the fix: still waiting
            waited = time.monotonic() - started
        finally:
            server.resume()
            worker.shutdown()
        assert waited < 2 * LEASE_CALL_SECONDS
        assert transport.sent == []
        assert services.store.delivery_counts(edition_id).pending == 3
        # Redis awake, the batch handed out again sends each pending row once.
        ticking.deliver(services, leases, edition_id, batch)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    assert services.store.delivery_counts(edition_id).pending == 0
    services.close()


def test_a_list_read_in_each_readers_zone_is_handed_out_slot_by_slot(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    """Each reader's 07:00 is a slot of its own: the tick hands out a publish per zone's slot
    as it comes, and each publish hands out its edition's deliveries, once."""
    folder, base_url = feeds
    write_feed(folder, [(n, f"Iran story {n}", DAY1 - timedelta(hours=n)) for n in (1, 2)])
    settings = make_settings(tmp_path, base_url, reader_local=True)
    (tmp_path / "members.csv").write_text(
        "email,name,timezone\nsam@example.org,Sam,Asia/Kolkata\n"
        "rana@example.org,Rana,Europe/London\nli@example.org,,\n"
    )
    clock = FixedClock(DAY1)  # 03:30 UTC on the 24th
    transport = MemoryTransport()
    services = services_for(settings, clock, transport)
    leases, fanout = ticking.LocalLeases(clock), RecordingFanout()
    ticking.tick(services, fanout, leases)
    # Each reader's latest 07:00: Kolkata's and Dubai's today, London's yesterday: three slots.
    assert len(fanout.publishes) == 3
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    clock.advance(timedelta(hours=4))  # 07:30 UTC: London's 07:00 today has come
    write_feed(folder, [(n, f"Iran story {n}", DAY1 + timedelta(hours=n)) for n in (3,)])
    for feed in services.store.feeds():
        pipeline.poll_feed(services, feed.id)
    ticking.tick(services, fanout, leases)
    assert fanout.publishes == [("daily", datetime(2026, 11, 24, 7, tzinfo=UTC))]
    work(services, fanout, leases)
    assert recipients(transport) == [
        "li@example.org",
        "rana@example.org",
        "rana@example.org",
        "sam@example.org",
    ]
    # Rana's second edition holds the one story that came in since her first, and only it.
    second = [m for m in transport.sent if m.recipient == "rana@example.org"][-1]
    assert b"Iran story 3" in second.data and b"Iran story 1" not in second.data
    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, fanout, leases) == ticking.TickOutcome()
    services.close()


class HeldTransport(MemoryTransport):
    """Keeps messages; the first one waits, once it arrived, until ``go`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived, self.go = threading.Event(), threading.Event()

    def send(self, message: OutgoingMessage) -> None:
        if not self.arrived.is_set():
            self.arrived.set()
            assert self.go.wait(60), "never let go"
        super().send(message)


def test_a_batch_handed_out_twice_at_once_on_postgresql_sends_each_row_once(
    tmp_path: Path, feeds: tuple[Path, str], postgres_url: str
) -> None:
    """A broker restart loses the queue and the leases while a batch runs: the next tick hands
    the same rows out again, and a second worker starts on them while the first is still
    sending. The rows the first holds are left to it."""
    folder, base_url = feeds
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    settings = make_settings(tmp_path, base_url)
    service = settings.service.model_copy(update={"database_url": fresh_database(postgres_url)})
    settings = settings.model_copy(update={"service": service})
    clock = FixedClock(DAY1)
    held, other = HeldTransport(), MemoryTransport()
    first, second = services_for(settings, clock, held), services_for(settings, clock, other)
    poll_all(first)
    fanout = RecordingFanout()
    ticking.publish(first, fanout, ticking.LocalLeases(clock), "daily", SLOT)
    [(edition_id, batch)] = fanout.deliveries
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(pipeline.deliver_batch, first, edition_id, batch)
        assert held.arrived.wait(60)  # the first batch is sending, nothing recorded yet
        again = pipeline.deliver_batch(second, edition_id, batch)
        held.go.set()
        done = running.result(60)
    print(f"first batch sent {done.sent}, the same batch again {again.sent}")
    assert again.sent == 0 and (again.skipped, again.passed_over) == (0, 3) and other.sent == []
    assert done.sent == 3 and recipients(held) == [
        "li@example.org",
        "rana@example.org",
        "sam@example.org",
    ]
    assert first.store.delivery_counts(edition_id).sent == 3
    first.close()
    second.close()


class OutboxFull(MemoryTransport):
    """An outbox folder whose disk is full until ``mended``."""

    def __init__(self, room: int = 0) -> None:
        super().__init__()
        self.mended = False
        self.room = room  # copies it takes before it is full

    def send(self, message: OutgoingMessage) -> None:
        if not self.mended and len(self.sent) >= self.room:
            raise OutboxUnavailableError("/srv/outbox", "No space left on device")
        super().send(message)


OUTBOX_FULL_SAID = (
    "service.outbox: cannot write to /srv/outbox: No space left on device; the deliveries "
    "stay pending and go once it can be written (make it writable, free room on its disk, "
    "or point service.outbox or DIGEST_OUTBOX elsewhere)"
)


def ticked_to(
    transport: MemoryTransport, tmp_path: Path, feeds: tuple[Path, str]
) -> tuple[Services, FixedClock, ticking.LocalLeases, RecordingFanout]:
    """A list of one story mailing through ``transport``, its first tick done (nothing run)."""
    folder, base_url = feeds
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    clock = FixedClock(DAY1)
    services = services_for(make_settings(tmp_path, base_url), clock, transport)
    leases = ticking.LocalLeases(clock)
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    return services, clock, leases, fanout


def test_a_delivery_task_meeting_a_full_outbox_says_so_once_and_leaves_its_rows_pending(
    tmp_path: Path, feeds: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    # A worker writing to its outbox failed every copy of the batch on its own, an attempt
    # counted on each reader's delivery.
    transport = OutboxFull()
    services, clock, leases, fanout = ticked_to(transport, tmp_path, feeds)
    with caplog.at_level(logging.ERROR, logger="digest.ticking"):
        work(services, fanout, leases)
    state = services.store.edition_for_slot("daily", SLOT)
    assert state is not None
    counts = services.store.delivery_counts(state.id)
    assert (counts.pending, counts.sent, counts.failed) == (3, 0, 0)
    said = [record.getMessage() for record in caplog.records]
    assert said == [f"edition {state.id}: {OUTBOX_FULL_SAID}"]
    assert all(record.exc_info is None for record in caplog.records)
    with services.store.engine.connect() as connection:
        attempts = connection.execute(select(DeliveryRow.attempts)).scalars().all()
    assert attempts == [0, 0, 0]  # and due now: the next tick hands them out
    transport.mended = True
    the_next_tick_hands_out_every_copy(services, clock, leases, transport)
    services.close()


def test_a_lease_held_once_more_runs_from_the_hold() -> None:
    """A batch handed out late in its edition's lease holds the edition for its own time: the
    tick must not hand the edition out again while the batch may still be running."""
    clock = FixedClock(DAY1)
    leases = ticking.LocalLeases(clock)
    assert leases.claim("deliver:1", 60)
    clock.advance(timedelta(seconds=50))
    leases.hold("deliver:1", 600)
    clock.advance(timedelta(seconds=60))  # past the claim's minute, within the hold
    assert not leases.claim("deliver:1", 60)


def test_a_task_run_twice_lets_its_lease_go_twice_harmlessly() -> None:
    # At-least-once delivery: an import task run a second time lets go a key already free.
    leases = ticking.LocalLeases(FixedClock(DAY1))
    assert leases.claim("import:daily", ticking.IMPORT_LEASE_SECONDS)
    leases.release("import:daily")
    leases.release("import:daily")
    assert leases.claim("import:daily", ticking.IMPORT_LEASE_SECONDS)


def test_every_feed_due_is_handed_out_once_at_one_tick(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    folder, base_url = feeds
    write_feed(folder, [(1, "Iran story 1", DAY1 - timedelta(hours=1))])
    settings = make_settings(tmp_path, base_url)
    second = settings.feeds[0].model_copy(
        update={"name": "Wire again", "url": f"{base_url}/wire.xml?again"}
    )
    settings = settings.model_copy(update={"feeds": [*settings.feeds, second]})
    clock = FixedClock(DAY1)
    services = services_for(settings, clock)
    fanout = RecordingFanout()
    assert ticking.tick(services, fanout, ticking.LocalLeases(clock)).polls == 2
    assert len(set(fanout.polls)) == 2
    services.close()


class RefusingPoll(RecordingFanout):
    """The broker went away at the tick's first poll."""

    def poll(self, feed_id: int) -> None:
        raise ConnectionError("the broker does not answer")


def test_a_poll_the_broker_did_not_take_is_handed_out_at_the_next_tick(setup: Setup) -> None:
    services, clock, _, leases = setup
    with pytest.raises(ConnectionError):
        ticking.tick(services, RefusingPoll(), leases)
    clock.advance(timedelta(minutes=1))  # not when its lease would lapse, five minutes on
    assert ticking.tick(services, RecordingFanout(), leases).polls == 1
    services.close()


def test_an_edition_stored_but_never_queued_is_handed_out_again(setup: Setup) -> None:
    # A build task that stopped between storing the edition and queueing its ledger rows: the
    # slot is no longer due, and only the stored edition says its readers were never served.
    services, clock, transport, leases = setup
    poll_all(services)
    building.store_edition(services, "daily", SLOT)
    clock.advance(timedelta(minutes=1))
    fanout = RecordingFanout()
    assert ticking.tick(services, fanout, leases).publishes == (("daily", SLOT.isoformat()),)
    work(services, fanout, leases)
    assert recipients(transport) == ["li@example.org", "rana@example.org", "sam@example.org"]
    services.close()


def queued_not_handed_out(services: Services) -> None:
    """The edition of SLOT built and its ledger rows queued, its batches lost with the broker."""
    poll_all(services)
    building.queue_edition(services, building.store_edition(services, "daily", SLOT))


def renamed_daily(services: Services, previous: tuple[str, ...]) -> None:
    """The config's one list renamed "weekly", ``previous`` its previous slugs."""
    daily = services.settings.list("daily")
    weekly = daily.model_copy(
        update={"slug": "weekly", "schedule": "0 7 * * 1", "previous_slugs": previous}
    )
    services.settings = services.settings.model_copy(update={"lists": [weekly]})


def test_the_pending_deliveries_of_a_list_taken_out_of_the_config_are_held_and_said(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    services, clock, _, leases = setup
    queued_not_handed_out(services)
    renamed_daily(services, ())  # "weekly" is a new list; "daily" has left the config
    clock.advance(timedelta(minutes=1))
    fanout = RecordingFanout()
    with caplog.at_level(logging.WARNING, logger="digest.ticking"):
        outcome = ticking.tick(services, fanout, leases)
    assert outcome.batches == 0 and not fanout.deliveries
    (held,) = outcome.problems
    assert "'daily'" in held and "3 pending deliveries" in held
    assert [record.getMessage() for record in caplog.records] == [held]
    services.close()


def test_a_tick_refused_for_an_undeclared_rename_hands_nothing_out_and_says_why(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    services, clock, _, leases = setup
    queued_not_handed_out(services)
    renamed_daily(services, None)  # renamed, or a new list? The config does not say.
    clock.advance(timedelta(days=7))
    fanout = RecordingFanout()
    with caplog.at_level(logging.ERROR, logger="digest.ticking"):
        outcome = ticking.tick(services, fanout, leases)
    assert outcome.polls == outcome.batches == 0 and outcome.publishes == ()
    assert not (fanout.polls or fanout.publishes or fanout.deliveries)
    (problem,) = outcome.problems
    assert [record.getMessage() for record in caplog.records] == [problem]
    assert str(services.settings.source) in problem and "previous_slugs" in problem
    services.close()


def test_a_delivery_task_filling_the_outbox_says_what_it_wrote_in_its_result(
    tmp_path: Path, feeds: tuple[Path, str]
) -> None:
    # The task's result is what the worker logs and the metrics count: the copy written
    # before the disk filled is counted sent, and the outbox's error is named.
    services, _, leases, fanout = ticked_to(OutboxFull(room=1), tmp_path, feeds)
    outcomes: list[pipeline.DeliveryOutcome] = []
    work(services, fanout, leases, outcomes)
    state = services.store.edition_for_slot("daily", SLOT)
    assert state is not None
    (outcome,) = outcomes
    assert (outcome.edition_id, outcome.sent, outcome.errors) == (state.id, 1, [OUTBOX_FULL_SAID])
    assert outcome.outbox_unavailable == OUTBOX_FULL_SAID
    services.close()


def test_every_large_subscriber_file_is_imported_at_once_and_again_when_it_changes(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each list's import has a lease of its own: one list's file in hand does not keep
    # another's waiting, and an import done lets its list's next change go at the next tick.
    services, clock, _, leases = setup
    monkeypatch.setattr(imports, "INLINE_IMPORT_BYTES", 0)  # every file counts as large
    daily = services.settings.list("daily")
    evening_file = services.settings.source.parent / "evening.csv"
    evening_file.write_text("email,name\nsam@example.org,Sam\n")
    evening = daily.model_copy(update={"slug": "evening", "subscribers": Path("evening.csv")})
    services.settings = services.settings.model_copy(update={"lists": [evening, daily]})
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    assert sorted(fanout.imports) == ["daily", "evening"]
    for list_slug in fanout.imports:  # as a worker runs the task
        ticking.import_members(services, leases, list_slug)
    fanout.imports.clear()
    evening_file.write_text("email,name\nsam@example.org,Sam\nli@example.org,Li\n")
    clock.advance(timedelta(minutes=1))
    outcome = ticking.tick(services, fanout, leases)
    assert fanout.imports == ["evening"]
    # The list whose file is in goes on; only the one importing waits.
    assert outcome.publishes == (("daily", SLOT.isoformat()),)
    services.close()


class RefusingImport(RecordingFanout):
    """The broker went away at the tick's first import."""

    def import_members(self, list_slug: str) -> None:
        raise ConnectionError("the broker does not answer")


def test_an_import_the_broker_did_not_take_is_handed_out_at_the_next_tick(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, clock, _, leases = setup
    monkeypatch.setattr(imports, "INLINE_IMPORT_BYTES", 0)  # every file counts as large
    with pytest.raises(ConnectionError):
        ticking.tick(services, RefusingImport(), leases)
    clock.advance(timedelta(minutes=1))  # not when its lease would lapse, half an hour on
    fanout = RecordingFanout()
    ticking.tick(services, fanout, leases)
    assert fanout.imports == ["daily"]
    services.close()


def test_an_import_task_for_a_list_gone_from_the_config_imports_nothing(setup: Setup) -> None:
    services, _, _, leases = setup
    assert leases.claim(ticking.import_key("gone"), ticking.IMPORT_LEASE_SECONDS)
    assert ticking.import_members(services, leases, "gone") == []
    assert leases.claim(ticking.import_key("gone"), ticking.IMPORT_LEASE_SECONDS)  # let go
    services.close()


def test_a_tick_carries_a_renamed_topics_articles_over(setup: Setup) -> None:
    services, clock, _, leases = setup
    poll_all(services)  # the stories are filed under "iran"
    topics = [
        topic.model_copy(update={"slug": "persia", "previous_slugs": ("iran",)})
        if topic.slug == "iran"
        else topic
        for topic in services.settings.topics
    ]
    daily = services.settings.list("daily").model_copy(update={"topics": ["middle-east", "persia"]})
    services.settings = services.settings.model_copy(update={"topics": topics, "lists": [daily]})
    clock.advance(timedelta(minutes=1))
    assert ticking.tick(services, RecordingFanout(), leases).problems == ()
    assert services.store.rename_topic("iran", "persia").articles == 0  # moved by the tick
    services.close()


def test_an_import_tasks_warnings_are_in_the_workers_log(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    # The task's result is not read by anyone: its log is where the operator sees a bad row.
    services, _, _, leases = setup
    members = services.settings.source.parent / "members.csv"
    members.write_text(members.read_text() + "not an address,Bad\n")
    with caplog.at_level(logging.WARNING, logger="digest.ticking"):
        warnings = ticking.import_members(services, leases, "daily")
    assert warnings and [record.getMessage() for record in caplog.records] == warnings
    services.close()


def test_a_build_raced_by_another_worker_is_run_again_twice_at_most(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Another worker storing the same slot's rows at this moment: run again, the step finds
    # them. Three races in a row are no race but a fault, raised.
    tries: list[int] = []
    outcome = pipeline.BuildOutcome(
        "daily", SLOT.isoformat(), edition_id=1, built=True, empty=False, article_count=2
    )

    def step(races: int) -> pipeline.BuildOutcome:
        tries.append(1)
        if len(tries) <= races:
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return outcome

    with caplog.at_level(logging.INFO, logger="digest.ticking"):
        assert ticking._again_if_raced(lambda: step(2), "daily", SLOT) is outcome
    assert len(tries) == 3
    assert [record.getMessage() for record in caplog.records] == 2 * [
        f"list 'daily', slot {SLOT}: built at the same time elsewhere; again"
    ]
    tries.clear()
    with pytest.raises(IntegrityError):
        ticking._again_if_raced(lambda: step(3), "daily", SLOT)
    assert len(tries) == 3
