"""Which editions are due, and what the operator is told of slots never built (digest.due)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest import pipeline
from digest.clock import FixedClock
from digest.config import settings_from_mapping
from digest.due import forced_slot, missed_slots
from digest.services import Services
from tests.configs import service_table
from tests.test_pipeline import SLOT1, make_settings, services_for


def test_an_edition_at_the_next_slot_tells_the_operator_of_no_slot_missed(tmp_path: Path) -> None:
    """A list sent every morning at 07:00 in Dubai: each edition follows the last at its next
    slot, and the log says nothing of slots not built; a day skipped names that day's slot,
    and a slot a minute past the next names the next one."""
    daily = make_settings(tmp_path, "http://127.0.0.1:9").list("daily")
    next_day = SLOT1 + timedelta(days=1)
    assert missed_slots(daily, SLOT1, next_day) is None
    assert missed_slots(daily, SLOT1, SLOT1 + timedelta(hours=12)) is None  # an extra, before
    assert missed_slots(daily, SLOT1, next_day + timedelta(days=1)) == (
        "list 'daily': its edition of 2026-11-26 03:00 UTC carries the news since its last "
        "one, of 2026-11-24 03:00 UTC; the slots of its schedule from 2026-11-25 03:00 UTC "
        "were not built, as nothing ran at their time (or the clock or the schedule changed)"
    )
    late = missed_slots(daily, SLOT1, next_day + timedelta(minutes=1))
    assert late is not None and "from 2026-11-25 03:00 UTC were not built" in late


def test_an_edition_asked_for_by_hand_is_of_the_missing_slot_else_of_this_minute(
    tmp_path: Path,
) -> None:
    """`digest send` at 07:30:42.5 in Dubai: a list whose 07:00 edition was not built gets
    that one; once it is built, an extra edition of 07:30 (never a second one of 07:00, nor
    one dated to the second); a list read in each reader's hour gets one of 07:30 at once."""
    now = SLOT1 + timedelta(minutes=30, seconds=42, microseconds=500)
    minute = SLOT1 + timedelta(minutes=30)
    services = services_for(make_settings(tmp_path, "http://127.0.0.1:9"), FixedClock(now))
    assert forced_slot(services, "daily", now) == SLOT1
    pipeline.build_edition(services, "daily", SLOT1)
    assert forced_slot(services, "daily", now) == minute
    services.close()

    (tmp_path / "local").mkdir()
    local = make_settings(tmp_path / "local", "http://127.0.0.1:9", reader_local=True)
    services = services_for(local, FixedClock(now))
    assert forced_slot(services, "daily", now) == minute
    services.close()


def test_a_list_read_in_each_readers_hour_leaves_the_lists_around_it_due(tmp_path: Path) -> None:
    """Three lists at 07:00, the middle one read in each reader's hour: at a tick when all are
    due, each is handed out, whatever its place in the file (a list after, or before, the one
    read in each reader's hour was dropped by no test)."""
    (tmp_path / "members.csv").write_text("email,timezone\nsam@example.org,Asia/Dubai\n")
    daily = {"topics": ["middle-east"], "schedule": "0 7 * * *", "timezone": "Asia/Dubai"}
    raw = {
        "service": service_table(tmp_path, database_url=f"sqlite:///{tmp_path / 'digest.db'}"),
        "topics": [{"slug": "middle-east", "name": "Middle East", "rules": {"include": ["Gulf"]}}],
        "lists": [
            {"slug": "before", "name": "Before", **daily},
            {
                "slug": "local",
                "name": "Local",
                "reader_local": True,
                "subscribers": "members.csv",
                **daily,
            },
            {"slug": "after", "name": "After", **daily},
        ],
    }
    settings = settings_from_mapping(raw, source=tmp_path / "digest.toml", environ={})
    now = SLOT1 + timedelta(minutes=1)
    services = services_for(settings, FixedClock(now))
    pipeline.members_in_step(services, now)
    assert pipeline.due_editions(services, now) == [
        ("before", SLOT1),
        ("local", SLOT1),
        ("after", SLOT1),
    ]
    services.close()


def test_a_readers_hour_whose_edition_came_out_empty_is_not_due_again(tmp_path: Path) -> None:
    """A list read in each reader's hour, its feed down at 07:00 in Dubai: the edition of that
    hour comes out empty, and the group waits for its next slot rather than be built again at
    every tick until then."""
    local = make_settings(tmp_path, "http://127.0.0.1:9", reader_local=True)
    now = SLOT1 + timedelta(minutes=1)
    services = services_for(local, FixedClock(now))
    _built_empty_and_not_due_again(services, SLOT1, now)
    services.close()


def _built_empty_and_not_due_again(services: Services, slot: datetime, now: datetime) -> None:
    """The list "daily" is due at ``slot``; its edition is built empty (the feed is down), and
    no longer due."""
    pipeline.members_in_step(services, now)
    assert pipeline.due_editions(services, now) == [("daily", slot)]
    pipeline.build_edition(services, "daily", slot)
    [stored] = services.store.editions_of_slot("daily", slot)
    assert stored.status == "empty"
    assert pipeline.due_editions(services, now) == []


def test_readers_of_another_date_at_the_same_hour_are_due_once_the_first_dates_is_built(
    tmp_path: Path,
) -> None:
    """07:00 on Tuesday in Kiritimati is 07:00 on Monday in Honolulu: one slot, an edition for
    each date. Its Kiritimati edition built (empty: the feed is down), a reader who then joins
    in Honolulu is still due at that slot: the lookup is of the Honolulu date's edition, not
    of any edition of the slot, which would have made them wait for the next day's."""
    members = tmp_path / "members.csv"
    slot = datetime(2026, 11, 23, 17, tzinfo=UTC)
    now = slot + timedelta(minutes=1)
    local = make_settings(tmp_path, "http://127.0.0.1:9", reader_local=True)
    members.write_text("email,timezone\nsam@example.org,Pacific/Kiritimati\n")  # theirs, not its
    services = services_for(local, FixedClock(now))
    _built_empty_and_not_due_again(services, slot, now)
    members.write_text(
        "email,timezone\nsam@example.org,Pacific/Kiritimati\nrana@example.org,Pacific/Honolulu\n"
    )
    pipeline.members_in_step(services, now)
    assert pipeline.due_editions(services, now) == [("daily", slot)]
    services.close()


def test_a_later_hour_after_two_dates_of_one_slot_is_due_too(tmp_path: Path) -> None:
    """07:00 in Honolulu and in Kiritimati (one slot, two dates), then 07:00 in the Chatham
    Islands a quarter of an hour later: each slot is due once, the later one too (a second
    group of a slot already due ended the lookup, and the later readers waited)."""
    members = tmp_path / "members.csv"
    first = datetime(2026, 11, 23, 17, tzinfo=UTC)
    now = first + timedelta(minutes=16)
    local = make_settings(tmp_path, "http://127.0.0.1:9", reader_local=True)
    members.write_text(
        "email,timezone\nsam@example.org,Pacific/Honolulu\nrana@example.org,Pacific/Kiritimati\n"
        "li@example.org,Pacific/Chatham\n"
    )
    services = services_for(local, FixedClock(now))
    pipeline.members_in_step(services, now)
    assert pipeline.due_editions(services, now) == [
        ("daily", first),
        ("daily", first + timedelta(minutes=15)),  # 07:00 at +13:45
    ]
    services.close()
