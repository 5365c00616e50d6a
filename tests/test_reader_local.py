"""Lists read in each reader's own timezone: "07:00 where the reader is", across both 2026
changes of the clocks in London, New York and Sydney, in Kolkata (+5:30), Kathmandu (+5:45) and
Tehran (+3:30), and for a reader who moves. The clock is injected and stepped through the days
hour by hour, an article stored each hour; every reader must get one edition per local day at
07:00 their time, and every article exactly once across their own editions."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from digest import building, pipeline, ticking
from digest.clock import FixedClock
from digest.config import FeedSettings, Settings, settings_from_mapping
from digest.local_time import dated_on, due_groups, readers_by_slot
from digest.mail.transport import MemoryTransport
from digest.records import TopicMatch
from digest.send_now import send_now
from digest.services import Services, build_services
from digest.store import ReaderPosition
from digest.store.schema import DeliveryRow, EditionArticleRow, EditionRow, SubscriberRow
from tests.configs import service_table
from tests.test_store import entry
from tests.test_ticking import RecordingFanout, work

FILED = (TopicMatch("middle-east", 1.0),)
ZONES = {
    "london@example.org": "Europe/London",
    "newyork@example.org": "America/New_York",
    "sydney@example.org": "Australia/Sydney",
    "kolkata@example.org": "Asia/Kolkata",
    "kathmandu@example.org": "Asia/Kathmandu",
    "tehran@example.org": "Asia/Tehran",
    "nozone@example.org": "",  # gets the list's timezone, Asia/Dubai
}
LIST_ZONE = "Asia/Dubai"


def make_settings(tmp_path: Path, database_url: str) -> Settings:
    (tmp_path / "members.csv").write_text(
        "email,name,timezone\n" + "".join(f"{email},,{zone}\n" for email, zone in ZONES.items())
    )
    raw = {
        "service": service_table(tmp_path, database_url=database_url),
        "topics": [{"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Gulf"]}}],
        "lists": [
            {
                "slug": "daily",
                "name": "Daily Brief",
                "topics": ["middle-east"],
                "schedule": "0 7 * * *",
                "timezone": LIST_ZONE,
                "reader_local": True,
                "subscribers": "members.csv",
                "max_articles": 200,
            }
        ],
    }
    return settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})


def started(tmp_path: Path, database_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, database_url)
    built = build_services(settings, clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    built.transport = MemoryTransport()
    built.store.sync_feeds(
        [FeedSettings(name="Wire", url="https://wire.example.org/rss")], built.clock.now()
    )
    yield built
    built.close()


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    yield from started(tmp_path, database_url)


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Services]:
    """On SQLite alone: what these runs check is the schedule's arithmetic, not the database's."""
    yield from started(tmp_path, f"sqlite:///{tmp_path / 'digest.db'}")


class Simulation:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.feed_id = services.store.feeds()[0].id
        self.number = 0
        self.stored: list[int] = []

    def hour(self, at: datetime) -> None:
        """One hour of the service: an article comes in, then the cycle builds what is due and
        delivers it."""
        services = self.services
        services.clock = FixedClock(at)
        self.number += 1
        self.stored += services.store.store_entries(
            self.feed_id, [entry(self.number)], at - timedelta(minutes=1), classify=lambda _a: FILED
        ).new
        pipeline.members_in_step(services, at)  # as a cycle and a tick do first
        for list_slug, slot in pipeline.due_editions(services, at):
            pipeline.build_edition(services, list_slug, slot)
        for edition_id in services.store.editions_with_pending_deliveries({"daily"}):
            for batch in services.store.pending_delivery_batches(edition_id, 200, at):
                pipeline.deliver_batch(services, edition_id, batch)

    def run(self, start: datetime, days: int) -> None:
        for step in range(days * 24):
            self.hour(start + timedelta(hours=step))

    def received(self) -> dict[str, list[tuple[datetime, list[int]]]]:
        """Per reader, their editions in order: (slot, the edition's article ids)."""
        store = self.services.store
        with store.engine.connect() as connection:
            rows = connection.execute(
                select(SubscriberRow.email, EditionRow.slot, EditionRow.id)
                .join(DeliveryRow, DeliveryRow.subscriber_id == SubscriberRow.id)
                .join(EditionRow, EditionRow.id == DeliveryRow.edition_id)
                .where(DeliveryRow.status == "sent")
                .order_by(EditionRow.slot)
            ).all()
            articles: dict[int, list[int]] = defaultdict(list)
            for edition_id, article_id in connection.execute(
                select(EditionArticleRow.edition_id, EditionArticleRow.article_id)
            ):
                articles[edition_id].append(article_id)
        got: dict[str, list[tuple[datetime, list[int]]]] = defaultdict(list)
        for email, slot, edition_id in rows:
            got[email].append((slot, articles[edition_id]))
        return got


def write_members(services: Services, moved: Mapping[str, str]) -> None:
    """The daily list's subscriber file: every reader of ZONES in their zone, but for those
    ``moved`` to another."""
    members = services.settings.config_path(services.settings.list("daily").subscribers)
    members.write_text(
        "email,name,timezone\n"
        + "".join(f"{email},,{moved.get(email, zone)}\n" for email, zone in ZONES.items())
    )


def set_zones_in_store(services: Services, zones: Mapping[str, str]) -> None:
    """The readers' timezones written straight into their rows, as their preferences (or an
    operator's hand) would."""
    with services.store.engine.begin() as connection:
        for email, zone in zones.items():
            connection.execute(
                update(SubscriberRow).where(SubscriberRow.email == email).values(timezone=zone)
            )


def check_every_reader(simulation: Simulation, zones: dict[str, str], since: datetime) -> None:
    """One edition per local day at 07:00 in the reader's zone (from ``since``), and across a
    reader's editions each article once, none missed up to their last edition."""
    received = simulation.received()
    assert set(received) == set(zones)
    for email, editions in received.items():
        zone = ZoneInfo(zones[email] or LIST_ZONE)
        later = [slot.astimezone(zone) for slot, _ in editions if slot >= since]
        assert later, email
        assert {(moment.hour, moment.minute) for moment in later} == {(7, 0)}, (email, later)
        days = [moment.date() for moment in later]
        assert days == sorted(set(days)), f"{email}: two editions on one day {days}"
        assert all((b - a).days == 1 for a, b in itertools.pairwise(days)), days
        mailed = Counter(article for _, ids in editions for article in ids)
        assert max(mailed.values()) == 1, f"{email}: an article twice"
        last = max(mailed)
        assert set(mailed) == {a for a in simulation.stored if a <= last}, f"{email}: missed"


CHANGES = [
    pytest.param(datetime(2026, 3, 6, tzinfo=UTC), id="new-york-spring"),
    pytest.param(datetime(2026, 3, 27, tzinfo=UTC), id="london-spring"),
    pytest.param(datetime(2026, 4, 3, tzinfo=UTC), id="sydney-autumn"),
    pytest.param(datetime(2026, 10, 2, tzinfo=UTC), id="sydney-spring"),
    pytest.param(datetime(2026, 10, 23, tzinfo=UTC), id="london-autumn"),
    pytest.param(datetime(2026, 10, 30, tzinfo=UTC), id="new-york-autumn"),
]


@pytest.mark.parametrize("start", CHANGES)
def test_each_reader_gets_one_edition_a_day_at_seven_their_time_across_the_change(
    embedded: Services, start: datetime
) -> None:
    simulation = Simulation(embedded)
    simulation.run(start, days=4)
    # From the second day: the first edition of each reader comes at the first tick.
    check_every_reader(simulation, ZONES, since=start + timedelta(days=1))


def test_a_reader_who_moves_misses_nothing_and_gets_nothing_twice(services: Services) -> None:
    simulation = Simulation(services)
    start = datetime(2026, 5, 4, tzinfo=UTC)
    simulation.run(start, days=2)
    moves = {"london@example.org": "Asia/Tokyo", "sydney@example.org": "America/Los_Angeles"}
    # The reader's new zone, wherever it comes from (the subscriber file, their preferences).
    write_members(services, moves)
    set_zones_in_store(services, moves)
    simulation.run(start + timedelta(days=2), days=3)
    received = simulation.received()
    for email in moves:
        mailed = Counter(article for _, ids in received[email] for article in ids)
        assert max(mailed.values()) == 1
        assert set(mailed) == {a for a in simulation.stored if a <= max(mailed)}
        # Settled in the new zone: 07:00 there from the day after the move.
        zone = ZoneInfo(moves[email])
        settled = [s.astimezone(zone) for s, _ in received[email] if s >= start + timedelta(days=3)]
        assert settled and {(m.hour, m.minute) for m in settled} == {(7, 0)}
    others = {email: zone for email, zone in ZONES.items() if email not in moves}
    for email in others:
        mailed = Counter(article for _, ids in received[email] for article in ids)
        assert max(mailed.values()) == 1


def test_readers_of_one_zone_share_one_rendering_per_slot(services: Services) -> None:
    simulation = Simulation(services)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.run(start, days=3)
    with services.store.engine.connect() as connection:
        per_slot = Counter(slot for (slot,) in connection.execute(select(EditionRow.slot)).all())
    # Kolkata (01:30 UTC) and Kathmandu (01:15 UTC) differ by a quarter hour: separate slots;
    # no slot ever needed two renderings, as every reader of a zone stands at the same place.
    assert max(per_slot.values()) == 1


def test_due_groups_read_each_readers_zone_and_window() -> None:
    now = datetime(2026, 3, 29, 6, 30, tzinfo=UTC)  # London's first morning of summer time
    positions = [
        ReaderPosition(1, "Europe/London", datetime(2026, 3, 28, 7, tzinfo=UTC), 40),
        ReaderPosition(2, "Europe/London", datetime(2026, 3, 28, 7, tzinfo=UTC), 40),
        ReaderPosition(3, "Asia/Kathmandu", datetime(2026, 3, 28, 1, 15, tzinfo=UTC), 38),
        ReaderPosition(4, "Not/AZone", None, None),  # the list's zone; new: starts at 39
        ReaderPosition(5, "Asia/Tehran", datetime(2026, 3, 29, 3, 30, tzinfo=UTC), 44),
    ]
    groups = due_groups("0 7 * * *", "Asia/Dubai", positions, now, lambda zone, slot: 39)
    assert [(g.slot, g.after_seq, g.readers) for g in groups] == [
        (datetime(2026, 3, 29, 1, 15, tzinfo=UTC), 38, (3,)),
        (datetime(2026, 3, 29, 3, 0, tzinfo=UTC), 39, (4,)),
        (datetime(2026, 3, 29, 6, 0, tzinfo=UTC), 40, (1, 2)),  # 07:00 BST
    ]  # Tehran's 07:00 (03:30 UTC) was served already


def test_schedule_counts_readers_at_each_utc_time() -> None:
    after = datetime(2026, 7, 1, 12, tzinfo=UTC)
    counts = readers_by_slot(
        "0 7 * * *", "UTC", ["Asia/Kolkata", "Asia/Kolkata", "Europe/London", None, ""], after
    )
    assert counts == {
        datetime(2026, 7, 2, 1, 30, tzinfo=UTC): {"Asia/Kolkata": 2},
        datetime(2026, 7, 2, 6, 0, tzinfo=UTC): {"Europe/London": 1},
        datetime(2026, 7, 2, 7, 0, tzinfo=UTC): {"UTC": 2},
    }


def test_the_schedule_command_counts_the_readers_of_each_utc_time(
    tmp_path: Path, embedded: Services
) -> None:
    from typer.testing import CliRunner

    from digest.cli import app

    pipeline.members_in_step(embedded, datetime(2026, 7, 1, 12, tzinfo=UTC))  # members read in
    config = tmp_path / "digest.toml"
    config.write_text(
        f"""
[service]
database_url = "sqlite:///{tmp_path / "digest.db"}"
data_dir = "{tmp_path / "var"}"
base_url = "https://news.example.org"
sender_name = "The Desk"
sender_address = "desk@example.org"
postal_address = "1 Example Street, Example City"

[[topics]]
slug = "middle-east"
name = "Middle East"
rules = {{ include = ["Gulf"] }}

[[lists]]
slug = "daily"
name = "Daily Brief"
topics = ["middle-east"]
schedule = "0 7 * * *"
timezone = "{LIST_ZONE}"
reader_local = true
subscribers = "members.csv"
"""
    )
    result = CliRunner().invoke(
        app, ["--config", str(config), "schedule", "--list", "daily"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    seen: set[str] = set()
    for line in result.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) < 4 or "(1)" not in cells[3]:
            continue
        moment = datetime.strptime(cells[1], "%a %d %b %Y %H:%M").replace(tzinfo=UTC)
        for listed in cells[3].split(", "):
            zone = listed.removesuffix(" (1)")
            local = moment.astimezone(ZoneInfo(zone))
            assert (local.hour, local.minute) == (7, 0), line  # 07:00 where each reader is
            seen.add(zone)
    assert seen == {zone or LIST_ZONE for zone in ZONES.values()}


def test_the_archive_shows_one_edition_per_slot_of_a_list_read_in_each_zone(
    embedded: Services,
) -> None:
    from starlette.testclient import TestClient

    from digest.web import create_app

    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.run(start, days=1)
    # A reader who joins gets a variant of their own at their first slot: two at one slot.
    members = embedded.settings.config_path(embedded.settings.list("daily").subscribers)
    members.write_text(members.read_text() + "late@example.org,,Asia/Kolkata\n")
    simulation.run(start + timedelta(days=1), days=1)
    with embedded.store.engine.connect() as connection:
        per_slot = Counter(slot for (slot,) in connection.execute(select(EditionRow.slot)).all())
    shared = [slot for slot, editions in per_slot.items() if editions > 1]
    assert shared, "the late reader's first edition is a second variant of Kolkata's slot"
    client = TestClient(create_app(embedded))
    listing = client.get("/editions/daily")
    assert listing.status_code == 200
    assert listing.text.count(f"/editions/daily/{shared[0]:%Y-%m-%d-%H%M}") == 1
    page = client.get(f"/editions/daily/{shared[0].astimezone(UTC):%Y-%m-%d-%H%M}")
    assert page.status_code == 200


def test_a_reader_whose_stored_timezone_names_no_zone_gets_the_lists_hour(
    embedded: Services,
) -> None:
    # Rows written before the zone check, or by hand: "Asia" is a folder of the tz database
    # (ZoneInfo raises IsADirectoryError), "posixrules" a file that names no zone of it.
    garbage = {"london@example.org": "Asia", "sydney@example.org": "posixrules"}
    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.hour(start)  # the members read in
    set_zones_in_store(embedded, garbage)
    simulation.run(start + timedelta(hours=1), days=3)
    # Those readers at the list's hour (07:00 in Dubai), everyone else at theirs, nobody missed.
    check_every_reader(
        simulation, ZONES | dict.fromkeys(garbage, ""), since=start + timedelta(days=1)
    )


def test_each_readers_edition_is_dated_on_their_own_morning(embedded: Services) -> None:
    # 07:00 in Auckland is 22:00 or 23:00 of the day before in Dubai, the list's zone: dated
    # there, the Monday morning edition said "Sunday" in its subject and masthead.
    from email import message_from_bytes

    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.hour(start)  # the members read in
    set_zones_in_store(embedded, {"sydney@example.org": "Pacific/Auckland"})
    assert isinstance(embedded.transport, MemoryTransport)
    embedded.transport.sent.clear()
    simulation.run(start + timedelta(hours=1), days=2)
    subjects = {
        (message.recipient, message_from_bytes(message.data)["Subject"])
        for message in embedded.transport.sent
    }
    auckland = sorted(subject for recipient, subject in subjects if recipient.startswith("sydney"))
    assert auckland == ["Daily Brief: 2 June 2026", "Daily Brief: 3 June 2026"]
    dubai = sorted(subject for recipient, subject in subjects if recipient.startswith("nozone"))
    assert dubai == ["Daily Brief: 1 June 2026", "Daily Brief: 2 June 2026"]


def test_the_archive_dates_each_edition_on_its_readers_own_morning(
    embedded: Services,
) -> None:
    # Auckland's 07:00 edition is dated on Auckland's day, a day after the list's own zone
    # (Dubai) has it: the archive listed it under the day before its own subject's date.
    from starlette.testclient import TestClient

    from digest.web import create_app

    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.hour(start)  # the members read in
    set_zones_in_store(embedded, {"sydney@example.org": "Pacific/Auckland"})
    simulation.run(start + timedelta(hours=1), days=2)
    listing = TestClient(create_app(embedded)).get("/editions/daily").text
    # Each edition's slot, the date it is listed under, and the date of its own subject.
    listed = re.findall(
        r'<time datetime="([^"]+)">[A-Za-z]+ ([^<]+)</time></p>\s*'
        r"<h2[^>]*><a [^>]+>Daily Brief: ([^<]+)</a>",
        listing,
    )
    assert len(listed) == listing.count('<li class="edition">') > 10
    auckland = datetime(2026, 6, 1, 19, tzinfo=UTC).isoformat()  # 07:00 on 2 June there
    assert (auckland, "2 June 2026", "2 June 2026") in listed
    assert [(slot, day) for slot, day, _ in listed] == [
        (slot, subject_day) for slot, _, subject_day in listed
    ]


def test_an_editions_date_where_its_readers_are_is_read_from_its_variant() -> None:
    slot = datetime(2026, 6, 1, 19, tzinfo=UTC)
    assert dated_on("after-12@2026-06-02", slot) == date(2026, 6, 2)
    assert dated_on("after-12@2026-06-02|topics:0123456789abcdef", slot) == date(2026, 6, 2)
    assert dated_on("after-12", slot) == date(2026, 6, 1)
    # Dated in the list's own timezone: not for this function to say.
    for variant in ("", "topics:0123456789abcdef", "by-hand-after-12"):
        assert dated_on(variant, slot) is None


def test_a_slot_built_again_sends_the_other_zones_no_extra_edition(embedded: Services) -> None:
    # Tehran's 07:00 (03:30 UTC, after the list's own hour in Dubai) built a second time once
    # its readers were queued, as a publish task the broker hands back when its worker died
    # before acknowledging it: the slot was taken for an edition asked for by hand, and the
    # readers of every other zone were queued an extra edition at 03:30 UTC.
    simulation = Simulation(embedded)
    start = datetime(2026, 1, 10, tzinfo=UTC)
    simulation.run(start, days=1)
    for hour in range(5):  # 00:00 to 04:00 UTC: Tehran's edition built and sent at 04:00
        simulation.hour(datetime(2026, 1, 11, hour, tzinfo=UTC))
    tehran = datetime(2026, 1, 11, 3, 30, tzinfo=UTC)
    assert embedded.store.editions_of_slot("daily", tehran)
    embedded.clock = FixedClock(datetime(2026, 1, 11, 4, 2, tzinfo=UTC))
    again = pipeline.build_edition(embedded, "daily", tehran)
    assert (again.built, again.pending_deliveries) == (False, 0)
    assert embedded.store.editions_with_pending_deliveries({"daily"}) == []
    simulation.run(datetime(2026, 1, 11, 5, tzinfo=UTC), days=2)
    check_every_reader(simulation, ZONES, since=start + timedelta(days=1))


@pytest.mark.parametrize("command", ["send", "send on workers", "run --list"])
def test_an_edition_sent_by_hand_at_the_lists_own_hour_reaches_every_reader(
    embedded: Services, command: str
) -> None:
    # `digest send` (and `run --once --list`) of a list read in each reader's timezone sends an
    # extra edition to every reader not served since; asked in the very minute of the list's
    # own hour (07:00 in Dubai, 03:00 UTC) it was taken for that hour's slot, and only the
    # Dubai readers got it: Kolkata and Kathmandu, whose 07:00 had passed unbuilt, and every
    # other zone got nothing. In the distributed mode the send is the workers' build task,
    # which must say it was asked by hand as the in-process send does.
    simulation = Simulation(embedded)
    simulation.run(datetime(2026, 1, 10, tzinfo=UTC), days=1)
    # The service stopped at midnight; an article comes in, and at 03:00 the list is sent.
    at = datetime(2026, 1, 11, 3, tzinfo=UTC)
    simulation.stored += embedded.store.store_entries(
        simulation.feed_id, [entry(900)], at - timedelta(minutes=5), classify=lambda _a: FILED
    ).new
    embedded.clock = FixedClock(at)
    if command == "send":
        assert send_now(embedded, "daily", workers=None).ready
    elif command == "send on workers":
        fanout, leases = RecordingFanout(), ticking.LocalLeases(embedded.clock)
        assert send_now(embedded, "daily", workers=(fanout, leases)).ready
        work(embedded, fanout, leases)
    else:
        embedded.store.sync_feeds([], at)  # nothing to poll: the wire's articles are stored here
        pipeline.run_cycle(embedded, pipeline.InlineDispatcher(embedded), only_list="daily")
    reached = {
        email
        for email, editions in simulation.received().items()
        if any(slot == at for slot, _ in editions)
    }
    assert reached == set(ZONES)
    # Their next editions go on from it: every article once, none missed.
    simulation.run(at + timedelta(hours=1), days=2)
    for email, editions in simulation.received().items():
        mailed = Counter(article for _, ids in editions for article in ids)
        assert max(mailed.values()) == 1, f"{email}: an article twice"
        assert set(mailed) == {a for a in simulation.stored if a <= max(mailed)}, email


def test_an_edition_by_hand_stored_but_never_queued_reaches_every_reader_at_the_next_run(
    embedded: Services,
) -> None:
    # `digest send` stopped between storing the extra edition and queueing it: the next run
    # builds the slot again, not by hand, and must still queue every reader not served since.
    simulation = Simulation(embedded)
    simulation.run(datetime(2026, 1, 10, tzinfo=UTC), days=1)
    at = datetime(2026, 1, 11, 0, 10, tzinfo=UTC)
    simulation.stored += embedded.store.store_entries(
        simulation.feed_id, [entry(900)], at - timedelta(minutes=5), classify=lambda _a: FILED
    ).new
    embedded.clock = FixedClock(at)
    stored = building.store_edition(embedded, "daily", at, by_hand=True)
    assert stored.ready and embedded.store.unqueued_editions()
    embedded.clock = FixedClock(at + timedelta(minutes=1))
    embedded.store.sync_feeds([], at)  # nothing to poll
    pipeline.run_cycle(embedded, pipeline.InlineDispatcher(embedded))
    assert embedded.store.unqueued_editions() == []
    reached = {
        email
        for email, editions in simulation.received().items()
        if any(slot == at for slot, _ in editions)
    }
    assert reached == set(ZONES)


def test_a_run_counts_the_editions_it_built_of_a_list_read_in_each_zone(
    embedded: Services,
) -> None:
    # The queueing half of a build finds the variants the storing half stored a moment before:
    # its outcome, the one a run and a worker report, said nothing was built, and `digest run`
    # printed "editions built 0" (and digest_editions_built never counted) for such a list.
    simulation = Simulation(embedded)
    simulation.run(datetime(2026, 1, 10, tzinfo=UTC), days=1)
    at = datetime(2026, 1, 11, 3, tzinfo=UTC)  # Kathmandu's, Kolkata's and Dubai's 07:00 due
    simulation.stored += embedded.store.store_entries(
        simulation.feed_id, [entry(900)], at - timedelta(minutes=5), classify=lambda _a: FILED
    ).new
    embedded.clock = FixedClock(at)
    embedded.store.sync_feeds([], at)  # nothing to poll
    summary = pipeline.run_cycle(embedded, pipeline.InlineDispatcher(embedded))
    assert summary.messages_delivered == 3
    assert summary.editions_built == 3


def _kolkata_variant_stored(
    embedded: Services,
) -> tuple[Simulation, datetime, datetime, building.BuildOutcome]:
    """A day of editions, a new article, then the first half of the build of Kolkata's 07:00
    (01:30 UTC) at 01:40 UTC: (the simulation, now, the slot, the stored variant)."""
    simulation = Simulation(embedded)
    simulation.run(datetime(2026, 1, 10, tzinfo=UTC), days=1)
    at = datetime(2026, 1, 11, 1, 40, tzinfo=UTC)
    simulation.stored += embedded.store.store_entries(
        simulation.feed_id, [entry(900)], at - timedelta(minutes=5), classify=lambda _a: FILED
    ).new
    embedded.clock = FixedClock(at)
    kolkata = datetime(2026, 1, 11, 1, 30, tzinfo=UTC)
    return simulation, at, kolkata, building.store_edition(embedded, "daily", kolkata)


def test_a_slot_whose_readers_were_served_between_its_halves_is_not_built_for_ever(
    embedded: Services,
) -> None:
    # A worker stored Kolkata's 07:00 variant; before it queued it, `digest send` served every
    # reader an edition by hand. The queueing half found nobody due and left the variant
    # unqueued: every run (and every tick) after built the slot again, for nobody, for ever.
    simulation, _, kolkata, stored = _kolkata_variant_stored(embedded)
    assert send_now(embedded, "daily", workers=None).ready
    building.queue_edition(embedded, stored)
    assert embedded.store.unqueued_editions() == []
    (variant,) = embedded.store.editions_of_slot("daily", kolkata)
    assert embedded.store.delivery_counts(variant.id).pending == 0
    # Every reader has each article once, from the edition sent by hand.
    for email, editions in simulation.received().items():
        mailed = Counter(article for _, ids in editions for article in ids)
        assert max(mailed.values()) == 1, email
        assert set(mailed) == set(simulation.stored), email


@pytest.mark.parametrize("leaves_by", ["unsubscribing", "moving"])
def test_a_slot_whose_readers_all_left_between_its_halves_sends_the_other_zones_nothing(
    embedded: Services, leaves_by: str
) -> None:
    # A worker stored Kolkata's 07:00 variant; before it queued it, the one Kolkata reader
    # unsubscribed (or moved to London). The queueing half found nobody due at the slot and took
    # it for an edition asked for by hand whose build had stopped: every reader of every other
    # zone, whose 07:00 had not come yet, was queued an extra edition at 01:30 UTC.
    from digest.unsubscribes import unsubscribe

    simulation, at, kolkata, stored = _kolkata_variant_stored(embedded)
    assert stored.ready
    reader = embedded.store.subscriber_by_email("kolkata@example.org")
    assert reader is not None
    if leaves_by == "unsubscribing":
        assert unsubscribe(embedded, reader.id, "daily", "one-click")
    else:
        embedded.store.set_name_and_timezone(reader.id, None, "Europe/London")
    queued = building.queue_edition(embedded, stored)
    assert queued.pending_deliveries == 0
    assert embedded.store.unqueued_editions() == []
    assert embedded.store.editions_with_pending_deliveries({"daily"}) == []
    # The other readers get their own 07:00 as every day, each article once.
    simulation.run(datetime(2026, 1, 11, 2, tzinfo=UTC), days=2)
    received = simulation.received()
    assert not any(slot == kolkata for editions in received.values() for slot, _ in editions)
    zones = {email: zone for email, zone in ZONES.items() if email != "kolkata@example.org"}
    if leaves_by == "moving":
        zones["kolkata@example.org"] = "Europe/London"
    for email, zone in zones.items():
        local = ZoneInfo(zone or LIST_ZONE)
        later = [slot.astimezone(local) for slot, _ in received[email] if slot >= at]
        assert later and {(moment.hour, moment.minute) for moment in later} == {(7, 0)}, email
        mailed = Counter(article for _, ids in received[email] for article in ids)
        assert max(mailed.values()) == 1, email
        assert set(mailed) == {a for a in simulation.stored if a <= max(mailed)}, email


def read_in_each_zone(services: Services, reader_local: bool) -> None:
    """The config edited: the lists read in each reader's timezone, or in their own."""
    lists = tuple(
        digest_list.model_copy(update={"reader_local": reader_local})
        for digest_list in services.settings.lists
    )
    services.settings = services.settings.model_copy(update={"lists": lists})


@pytest.mark.parametrize("reader_local_first", [True, False])
def test_a_list_switched_from_each_readers_hour_and_back_misses_nothing(
    embedded: Services, reader_local_first: bool
) -> None:
    # Switched off, the list's next edition started after the latest window of any reader (that
    # of the zone served last, Kolkata's 01:30 UTC say): every reader of the zones served
    # earlier (London's 06:00 the day before, Kathmandu's, New York's) never got what came in
    # between their own last edition and that one.
    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    read_in_each_zone(embedded, reader_local_first)
    simulation.run(start, days=2)
    read_in_each_zone(embedded, not reader_local_first)
    simulation.run(start + timedelta(days=2, hours=5), days=2)
    read_in_each_zone(embedded, reader_local_first)
    simulation.run(start + timedelta(days=4, hours=11), days=2)
    received = simulation.received()
    assert set(received) == set(ZONES)
    for email, editions in received.items():
        mailed = Counter(article for _, ids in editions for article in ids)
        assert max(mailed.values()) == 1, f"{email}: an article twice"
        expected = {article for article in simulation.stored if article <= max(mailed)}
        assert set(mailed) == expected, f"{email}: missed {sorted(expected - set(mailed))}"


def test_readers_of_one_slot_a_day_apart_get_each_their_own_date(embedded: Services) -> None:
    # 07:00 in Kiritimati (+14) and 07:00 in Honolulu (-10) are the same moment, 17:00 UTC, a
    # day apart: readers of both at one window shared one edition, dated in the zone of most
    # of them, and the Tuesday morning edition of Kiritimati said "Monday".
    from email import message_from_bytes

    moved = {
        "sydney@example.org": "Pacific/Kiritimati",
        "newyork@example.org": "Pacific/Honolulu",
        "london@example.org": "Pacific/Honolulu",
    }
    write_members(embedded, moved)
    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.run(start, days=2)
    assert isinstance(embedded.transport, MemoryTransport)
    subjects: dict[str, list[str]] = defaultdict(list)
    for message in embedded.transport.sent:
        subjects[message.recipient].append(message_from_bytes(message.data)["Subject"])
    days = ["31 May 2026", "1 June 2026", "2 June 2026", "3 June 2026"]
    assert subjects["sydney@example.org"] == [f"Daily Brief: {day}" for day in days[1:]]
    for email in ("newyork@example.org", "london@example.org"):
        assert subjects[email] == [f"Daily Brief: {day}" for day in days[:3]], email
    check_every_reader(simulation, ZONES | moved, since=start + timedelta(days=1))


def test_readers_just_imported_cost_one_look_up_per_zone(
    embedded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a new reader's first window starts was read from the store once per reader, at each
    # tick and in each half of each build: some 0.8 ms a reader, seconds per tick for a list
    # whose thousands of readers had just been imported, until each had their first edition.
    members = embedded.settings.config_path(embedded.settings.list("daily").subscribers)
    members.write_text(
        "email,name,timezone\n"
        + "".join(f"reader{n}@example.org,,{('Asia/Kolkata', '')[n % 2]}\n" for n in range(40))
    )
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    pipeline.members_in_step(embedded, at)
    asked: list[datetime] = []
    sequence_before = embedded.store.sequence_before

    def counted(moment: datetime) -> int:
        asked.append(moment)
        return sequence_before(moment)

    monkeypatch.setattr(embedded.store, "sequence_before", counted)
    due = pipeline.due_editions(embedded, at)
    assert due == [
        ("daily", datetime(2026, 6, 1, 1, 30, tzinfo=UTC)),  # 07:00 in Kolkata
        ("daily", datetime(2026, 6, 1, 3, tzinfo=UTC)),  # in Dubai, the list's
    ]
    assert len(asked) == 2  # one per zone


def test_zones_a_day_apart_at_one_hour_hold_back_no_later_zone(embedded: Services) -> None:
    """Readers just imported in Kiritimati, Honolulu and Dubai (the list's zone): 07:00 in the
    first two is one instant, 17:00 UTC, on two dates, so two editions of one slot; Dubai's
    07:00 came after, and its readers are due at the same tick, not only once those are out."""
    members = embedded.settings.config_path(embedded.settings.list("daily").subscribers)
    zones = ("Pacific/Kiritimati", "Pacific/Honolulu", "")
    members.write_text(
        "email,name,timezone\n"
        + "".join(f"reader{n}@example.org,,{zone}\n" for n, zone in enumerate(zones))
    )
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    pipeline.members_in_step(embedded, at)
    assert pipeline.due_editions(embedded, at) == [
        ("daily", datetime(2026, 5, 31, 17, tzinfo=UTC)),  # 07:00 in Kiritimati and Honolulu
        ("daily", datetime(2026, 6, 1, 3, tzinfo=UTC)),  # 07:00 in Dubai
    ]


def _late_reader_joins(embedded: Services, at: datetime, simulation: Simulation) -> None:
    """late@example.org, in London, added to the members' file and read in at ``at``."""
    members = embedded.settings.config_path(embedded.settings.list("daily").subscribers)
    members.write_text(members.read_text() + "late@example.org,,Europe/London\n")
    simulation.hour(at)


def test_a_reader_who_joins_minutes_before_their_hour_gets_one_edition_at_it(
    embedded: Services,
) -> None:
    # A reader who joined at 06:55 their time was due at once at the 07:00 that had passed the
    # day before: an edition of two days' news at 06:55, then another at 07:00, five minutes on.
    simulation = Simulation(embedded)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    simulation.run(start, days=1)
    for hour in range(5):
        simulation.hour(datetime(2026, 6, 2, hour, tzinfo=UTC))
    _late_reader_joins(embedded, datetime(2026, 6, 2, 5, 55, tzinfo=UTC), simulation)  # 06:55 BST
    simulation.run(datetime(2026, 6, 2, 6, tzinfo=UTC), days=2)
    received = simulation.received()
    late = received["late@example.org"]
    london = ZoneInfo("Europe/London")
    assert [slot.astimezone(london) for slot, _ in late] == [
        datetime(2026, 6, day, 7, tzinfo=london) for day in (2, 3)
    ]
    # Their first edition is the last day's news, as the London reader's of that morning, and
    # each article from there on comes once.
    assert late[0][1] == dict(received["london@example.org"])[late[0][0]]
    mailed = Counter(article for _, ids in late for article in ids)
    assert max(mailed.values()) == 1
    assert set(mailed) == {a for a in simulation.stored if min(mailed) <= a <= max(mailed)}


def test_the_first_reader_of_a_list_without_readers_gets_one_edition_at_their_hour(
    embedded: Services,
) -> None:
    # A list configured a day before its first reader was taken for one that had yet to start
    # (it had built no edition: it had no reader to build one for). Its first reader, joining
    # at 06:55 their time, got an edition of the 07:00 the day before at once, and another at
    # 07:00, five minutes on.
    members = embedded.settings.config_path(embedded.settings.list("daily").subscribers)
    members.write_text("email,name,timezone\n")
    simulation = Simulation(embedded)
    simulation.run(datetime(2026, 6, 1, tzinfo=UTC), days=1)
    for hour in range(5):
        simulation.hour(datetime(2026, 6, 2, hour, tzinfo=UTC))
    assert simulation.received() == {}
    _late_reader_joins(embedded, datetime(2026, 6, 2, 5, 55, tzinfo=UTC), simulation)  # 06:55 BST
    simulation.run(datetime(2026, 6, 2, 6, tzinfo=UTC), days=2)
    london = ZoneInfo("Europe/London")
    late = simulation.received()["late@example.org"]
    assert [slot.astimezone(london) for slot, _ in late] == [
        datetime(2026, 6, day, 7, tzinfo=london) for day in (2, 3)
    ]
    mailed = Counter(article for _, ids in late for article in ids)
    assert max(mailed.values()) == 1


def test_the_readers_of_a_list_at_its_launch_get_their_first_edition_at_once(
    embedded: Services,
) -> None:
    # The members a list starts with are due at the hour that last passed, as those of a list
    # read in one timezone are: a launch at noon does not wait for tomorrow's 07:00.
    simulation = Simulation(embedded)
    launch = datetime(2026, 6, 1, 12, tzinfo=UTC)
    simulation.hour(launch)
    received = simulation.received()
    assert set(received) == set(ZONES)
    london = ZoneInfo("Europe/London")
    assert [slot.astimezone(london) for slot, _ in received["london@example.org"]] == [
        datetime(2026, 6, 1, 7, tzinfo=london)
    ]


def test_readers_of_a_large_file_imported_by_a_task_at_launch_get_their_first_edition_at_once(
    embedded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In the distributed mode a large file is imported by a task after the tick that found it:
    # its readers, made members a minute after the list was first looked at, are still the
    # readers it starts with, due at the hour that last passed for each.
    from digest import imports, ticking
    from tests.test_ticking import RecordingFanout, work

    monkeypatch.setattr(imports, "INLINE_IMPORT_BYTES", 0)  # every file counts as large
    launch = datetime(2026, 6, 1, 12, tzinfo=UTC)
    clock = FixedClock(launch)
    embedded.clock = clock
    feed_id = embedded.store.feeds()[0].id
    embedded.store.store_entries(feed_id, [entry(1)], launch, classify=lambda _a: FILED)
    fanout, leases = RecordingFanout(), ticking.LocalLeases(clock)
    ticking.tick(embedded, fanout, leases)
    assert fanout.imports == ["daily"] and embedded.store.members_of(["daily"]) == 0
    clock.advance(timedelta(minutes=1))
    work(embedded, fanout, leases)  # the import task, as a worker runs it
    clock.advance(timedelta(minutes=1))
    ticking.tick(embedded, fanout, leases)
    work(embedded, fanout, leases)
    assert isinstance(embedded.transport, MemoryTransport)
    assert sorted({message.recipient for message in embedded.transport.sent}) == sorted(ZONES)


def _back_after_time_away(embedded: Services) -> tuple[Simulation, datetime]:
    """The London reader, a member for two days, unsubscribed, and back (signed up
    and confirmed) at 09:00 BST on the fourth: the simulation, and when they came back."""
    from digest.unsubscribes import unsubscribe

    simulation = Simulation(embedded)
    simulation.run(datetime(2026, 6, 1, tzinfo=UTC), days=2)
    reader = embedded.store.subscriber_by_email("london@example.org")
    assert reader is not None
    assert unsubscribe(embedded, reader.id, "daily", "one-click")
    simulation.run(datetime(2026, 6, 3, tzinfo=UTC), days=1)
    back = datetime(2026, 6, 4, 8, tzinfo=UTC)  # 09:00 BST
    for hour in range(back.hour):
        simulation.hour(datetime(2026, 6, 4, hour, tzinfo=UTC))
    embedded.store.sign_up("london@example.org", None, "daily", "key", back)
    assert embedded.store.confirm(reader.id, "daily", back, "sign-up")
    return simulation, back


def test_a_reader_who_comes_back_after_their_hour_waits_for_the_next(
    embedded: Services,
) -> None:
    # Back at 09:00 their time, a reader was sent an edition at once, of the 07:00 that had
    # passed two hours before they came back, as if they had been a member then.
    simulation, back = _back_after_time_away(embedded)
    simulation.run(back, days=2)
    london = ZoneInfo("Europe/London")
    since_leaving = [
        slot.astimezone(london)
        for slot, _ in simulation.received()["london@example.org"]
        if slot >= datetime(2026, 6, 3, tzinfo=UTC)
    ]
    # Nothing while away, nothing for the 07:00 before they came back: their next 07:00 on.
    assert since_leaving == [datetime(2026, 6, day, 7, tzinfo=london) for day in (5, 6)]


def test_a_reader_who_comes_back_gets_no_news_of_the_days_they_were_away(
    embedded: Services,
) -> None:
    # A reader's window went on from their last edition before they left: back after two days
    # away, their first edition held every article of those days (a year's, after a year),
    # where a reader who joined at the same moment got the day before their hour.
    simulation, back = _back_after_time_away(embedded)
    _late_reader_joins(embedded, back, simulation)  # a new reader in London, at the same moment
    simulation.run(back + timedelta(hours=1), days=2)
    received = simulation.received()
    since_back = [edition for edition in received["london@example.org"] if edition[0] > back]
    assert since_back == received["late@example.org"]
    mailed = Counter(article for _, ids in received["london@example.org"] for article in ids)
    assert max(mailed.values()) == 1
