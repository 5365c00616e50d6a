"""Tests for digest.schedule: cron slots in a list's timezone, across daylight-saving changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import digest
from digest import schedule as schedule_module
from digest.schedule import interval_before, latest_slot, longest_gap, next_slot
from digest.schedule import upcoming_slots as firings


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- plain days ---------------------------------------------------------------------------------


def test_latest_slot_is_the_last_firing_at_or_before_now() -> None:
    # 07:00 in Dubai (UTC+4, no daylight saving) is 03:00 UTC.
    assert latest_slot("0 7 * * *", "Asia/Dubai", utc(2024, 5, 1, 9, 0)) == utc(2024, 5, 1, 3, 0)
    assert latest_slot("0 7 * * *", "Asia/Dubai", utc(2024, 5, 1, 2, 59)) == utc(2024, 4, 30, 3, 0)


def test_latest_slot_includes_now_itself() -> None:
    assert latest_slot("0 7 * * *", "Asia/Dubai", utc(2024, 5, 1, 3, 0)) == utc(2024, 5, 1, 3, 0)


def test_next_slot_is_strictly_after() -> None:
    assert next_slot("0 7 * * *", "Asia/Dubai", utc(2024, 5, 1, 2, 59)) == utc(2024, 5, 1, 3, 0)
    assert next_slot("0 7 * * *", "Asia/Dubai", utc(2024, 5, 1, 3, 0)) == utc(2024, 5, 2, 3, 0)


def test_results_are_aware_utc_whatever_the_input_offset() -> None:
    dubai_morning = datetime(2024, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=4)))
    slot = latest_slot("0 7 * * *", "Asia/Dubai", dubai_morning)
    assert slot == utc(2024, 5, 1, 3, 0)
    assert slot.tzinfo is UTC
    assert next_slot("0 7 * * *", "Asia/Dubai", dubai_morning).tzinfo is UTC


def test_weekly_schedule_fires_on_its_weekday() -> None:
    # 08:00 every Monday in Riyadh (UTC+3); 2024-05-06 is a Monday.
    assert next_slot("0 8 * * 1", "Asia/Riyadh", utc(2024, 5, 1)) == utc(2024, 5, 6, 5, 0)
    assert latest_slot("0 8 * * 1", "Asia/Riyadh", utc(2024, 5, 12)) == utc(2024, 5, 6, 5, 0)


def test_a_slot_in_the_list_timezone_can_fall_on_the_previous_utc_day() -> None:
    # 06:00 in Tokyo is 21:00 UTC the day before.
    assert next_slot("0 6 * * *", "Asia/Tokyo", utc(2024, 5, 1, 12)) == utc(2024, 5, 1, 21, 0)


# --- daylight saving ----------------------------------------------------------------------------


def test_daily_slot_keeps_its_wall_time_across_spring_forward() -> None:
    # New York moves from EST (UTC-5) to EDT (UTC-4) on 2024-03-10 at 02:00.
    slots = firings("0 7 * * *", "America/New_York", utc(2024, 3, 9), 3)
    assert slots == [utc(2024, 3, 9, 12, 0), utc(2024, 3, 10, 11, 0), utc(2024, 3, 11, 11, 0)]
    assert latest_slot("0 7 * * *", "America/New_York", utc(2024, 3, 10, 11, 30)) == utc(
        2024, 3, 10, 11, 0
    )
    assert latest_slot("0 7 * * *", "America/New_York", utc(2024, 3, 10, 10, 59)) == utc(
        2024, 3, 9, 12, 0
    )


def test_daily_slot_keeps_its_wall_time_across_fall_back_in_london() -> None:
    # London goes from BST (UTC+1) back to GMT on 2024-10-27 at 02:00.
    slots = firings("0 9 * * *", "Europe/London", utc(2024, 10, 26), 3)
    assert slots == [utc(2024, 10, 26, 8, 0), utc(2024, 10, 27, 9, 0), utc(2024, 10, 28, 9, 0)]


def test_skipped_wall_time_fires_once_shifted_by_the_gap() -> None:
    # 02:30 does not exist in New York on 2024-03-10: it fires at 03:30 EDT (07:30 UTC).
    slots = firings("30 2 * * *", "America/New_York", utc(2024, 3, 9), 3)
    assert slots == [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)]
    assert latest_slot("30 2 * * *", "America/New_York", utc(2024, 3, 10, 7, 30)) == utc(
        2024, 3, 10, 7, 30
    )
    assert latest_slot("30 2 * * *", "America/New_York", utc(2024, 3, 10, 7, 29)) == utc(
        2024, 3, 9, 7, 30
    )


def test_skipped_wall_time_found_from_just_after_the_change() -> None:
    # At 03:10 EDT the wall clock is past 02:30, yet the shifted 02:30 slot (03:30 EDT) is ahead.
    assert next_slot("30 2 * * *", "America/New_York", utc(2024, 3, 10, 7, 10)) == utc(
        2024, 3, 10, 7, 30
    )


def test_repeated_wall_time_fires_once_at_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2024-11-03: at 05:30 UTC (EDT) and 06:30 UTC (EST).
    slots = firings("30 1 * * *", "America/New_York", utc(2024, 11, 2), 3)
    assert slots == [utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]
    # During the second 01:30 the latest slot is still the first one.
    assert latest_slot("30 1 * * *", "America/New_York", utc(2024, 11, 3, 6, 45)) == utc(
        2024, 11, 3, 5, 30
    )


def test_hourly_schedule_across_fall_back_skips_the_repeated_hour() -> None:
    slots = firings("0 * * * *", "America/New_York", utc(2024, 11, 3, 4, 30), 3)
    # 01:00 EDT, then the wall clock shows 01:00 again (already fired), then 02:00 EST.
    assert slots == [utc(2024, 11, 3, 5, 0), utc(2024, 11, 3, 7, 0), utc(2024, 11, 3, 8, 0)]


def test_quarter_hourly_schedule_across_spring_forward_has_no_duplicates() -> None:
    slots = firings("*/15 * * * *", "America/New_York", utc(2024, 3, 10, 6, 30), 8)
    assert slots == [utc(2024, 3, 10, 6, 45) + timedelta(minutes=15 * i) for i in range(8)]


@pytest.mark.parametrize(
    ("schedule", "tz"),
    [
        ("0 7 * * *", "America/New_York"),
        ("30 1 * * *", "America/New_York"),
        ("30 2 * * 0", "America/New_York"),
        ("0 9 * * 1-5", "Europe/London"),
        ("15 */6 * * *", "Australia/Lord_Howe"),  # a half-hour daylight-saving shift
        ("0 8 * * 1", "Asia/Riyadh"),
    ],
)
def test_latest_and_next_slot_agree(schedule: str, tz: str) -> None:
    moments = random.Random(f"{schedule}{tz}")
    start = utc(2024, 1, 1)
    for _ in range(60):
        now = start + timedelta(minutes=moments.randrange(366 * 24 * 60))
        latest = latest_slot(schedule, tz, now)
        following = next_slot(schedule, tz, latest)
        assert latest <= now < following
        assert next_slot(schedule, tz, now) == following
        assert latest_slot(schedule, tz, following) == following
        assert latest_slot(schedule, tz, following - timedelta(seconds=1)) == latest


def firings_by_wall_minute(tz: str, now: datetime) -> datetime:
    """The latest firing of "* * * * *" at or before ``now``, by brute force: every wall minute
    of the hours around it, each read as the rules say (a repeated one at its first occurrence,
    a skipped one shifted by the gap)."""
    zone = ZoneInfo(tz)
    wall = now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    instants = (
        (wall + timedelta(minutes=step)).replace(tzinfo=zone, fold=0).astimezone(UTC)
        for step in range(-6 * 60, 6 * 60)
    )
    return max(instant for instant in instants if instant <= now)


@pytest.mark.parametrize(
    ("tz", "change"),
    [
        ("America/New_York", utc(2026, 3, 8, 7)),  # 02:00 -> 03:00
        ("America/New_York", utc(2026, 11, 1, 6)),  # 02:00 -> 01:00
        ("Pacific/Auckland", utc(2026, 4, 4, 14)),  # 03:00 -> 02:00
        ("Australia/Lord_Howe", utc(2026, 4, 4, 15)),  # 02:00 -> 01:30
        ("Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),  # 02:00 -> 02:30
        ("Asia/Kathmandu", utc(2026, 6, 1)),  # +5:45, no change: the quick path
    ],
)
def test_every_minute_schedule_around_a_change_of_the_clocks(tz: str, change: datetime) -> None:
    for minutes in range(-4 * 60, 4 * 60, 7):
        now = change + timedelta(minutes=minutes, seconds=minutes % 3 * 20)
        assert latest_slot("* * * * *", tz, now) == firings_by_wall_minute(tz, now), now


def test_firings_skipped_by_a_half_hour_change_go_out_in_the_order_of_their_instants() -> None:
    # Lord Howe Island skips 02:00-02:30 on 4 October 2026 (15:30 UTC): 02:00 and 02:20 fire
    # shifted by the gap, at 02:30 and 02:50, and 02:40 exists, so it fires between them. The
    # first wall time found past a moment is not always its next firing, nor the last one
    # before a moment its latest, that night or days later.
    schedule, tz = "*/20 2 * * 0", "Australia/Lord_Howe"
    that_night = [utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 15, 40), utc(2026, 10, 3, 15, 50)]
    assert firings(schedule, tz, utc(2026, 10, 3, 15), 4) == [*that_night, utc(2026, 10, 10, 15)]
    assert latest_slot(schedule, tz, utc(2026, 10, 3, 15, 55)) == that_night[-1]
    assert latest_slot(schedule, tz, utc(2026, 10, 7)) == that_night[-1]


def test_an_every_minute_schedule_far_from_a_change_of_the_clocks_reads_a_few_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A list read in each reader's timezone on a schedule of every minute asks for each zone's
    # latest slot at each tick: it stepped back three hours, minute by minute (about 360 steps
    # of croniter, 20-30 ms), for each zone, at each tick.
    steps = 0
    step = schedule_module._cron_step

    def counted(*args: Any, **kwargs: Any) -> datetime:
        nonlocal steps
        steps += 1
        return step(*args, **kwargs)

    monkeypatch.setattr(schedule_module, "_cron_step", counted)
    now = utc(2026, 6, 1, 12, 34) + timedelta(seconds=56)
    for tz in ("Asia/Kolkata", "Asia/Kathmandu", "Europe/London", "Australia/Lord_Howe"):
        steps = 0
        slot = latest_slot("* * * * *", tz, now)
        assert slot == utc(2026, 6, 1, 12, 34)
        assert steps <= 3, (tz, steps)


# --- bad input ----------------------------------------------------------------------------------


def test_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^now must be a timezone-aware"):
        latest_slot("0 7 * * *", "Asia/Dubai", datetime(2024, 5, 1, 9))
    with pytest.raises(ValueError, match=r"^after must be a timezone-aware"):
        next_slot("0 7 * * *", "Asia/Dubai", datetime(2024, 5, 1, 9))


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        next_slot("0 7 * * *", "Mars/Olympus", utc(2024, 5, 1))


def test_expression_that_never_fires_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'0 0 30 2 \*' never fires"):
        next_slot("0 0 30 2 *", "UTC", utc(2024, 5, 1))
    with pytest.raises(ValueError, match=r"'0 0 30 2 \*' never fires"):
        latest_slot("0 0 30 2 *", "UTC", utc(2024, 5, 1))


def test_invalid_expression_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid cron expression"):
        next_slot("every morning", "UTC", utc(2024, 5, 1))


# --- digest schedule ----------------------------------------------------------------------------


def test_the_schedule_command_shows_each_lists_next_editions_locally_and_in_utc(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from digest.cli import app

    config = Path(__file__).resolve().parent.parent / "config" / "example.toml"
    runner = CliRunner()
    result = runner.invoke(
        app, ["--config", str(config), "schedule", "--count", "2"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if ":" in line and "│" in line]
    assert len(rows) == 4, result.stdout  # two lists, two editions each
    daily = rows[:2]
    assert "middle-east-daily" in daily[0] and "0 7 * * * (Asia/Dubai)" in daily[0]
    for row in daily:  # 07:00 in Dubai is 03:00 UTC, every day of the year
        local, universal = (cell.strip() for cell in row.split("│")[3:5])
        assert local.endswith("07:00 +04") and universal.endswith("03:00"), row
    weekly = rows[2:]
    assert "gulf-weekly" in weekly[0]
    assert all(row.split("│")[3].strip().startswith("Mon") for row in weekly)
    assert f"Timezone rules: tz database {digest.TZ_DATABASE}." in result.stdout

    only = runner.invoke(app, ["--config", str(config), "schedule", "--list", "gulf-weekly"])
    assert only.exit_code == 0 and "middle-east-daily" not in only.stdout
    unknown = runner.invoke(app, ["--config", str(config), "schedule", "--list", "nope"])
    assert unknown.exit_code == 2
    assert "middle-east-daily, gulf-weekly" in unknown.stderr


@pytest.mark.parametrize(
    ("schedule", "timezone", "moment", "interval"),
    [
        ("0 7 * * *", "Asia/Dubai", datetime(2026, 11, 25, 9, 0, tzinfo=UTC), timedelta(days=1)),
        ("0 8 * * 1", "Asia/Riyadh", datetime(2026, 11, 25, 9, 0, tzinfo=UTC), timedelta(days=7)),
        # Monday and Thursday: the gap that ends at the latest firing.
        ("0 7 * * 1,4", "UTC", datetime(2026, 11, 26, 8, 0, tzinfo=UTC), timedelta(days=3)),
        ("0 7 * * 1,4", "UTC", datetime(2026, 11, 30, 8, 0, tzinfo=UTC), timedelta(days=4)),
        # The day London's clocks went back (25 October 2026) is 25 hours long.
        (
            "0 7 * * *",
            "Europe/London",
            datetime(2026, 10, 25, 9, 0, tzinfo=UTC),
            timedelta(hours=25),
        ),
    ],
)
def test_the_interval_before_a_moment_is_the_gap_that_ends_at_its_latest_firing(
    schedule: str, timezone: str, moment: datetime, interval: timedelta
) -> None:
    assert interval_before(schedule, timezone, moment) == interval


def test_a_day_of_the_month_and_a_day_of_the_week_fire_on_either_as_in_cron() -> None:
    """What docs/configuration.md says of them: cron's rule, and how to write what is often
    meant instead."""
    after = utc(2026, 12, 7, 12)
    assert [slot.day for slot in firings("0 7 1-7 * 1", "UTC", after, 5)] == [14, 21, 28, 1, 2]
    assert [slot.date() for slot in firings("0 7 * * 1#1", "UTC", after, 2)] == [
        utc(2027, 1, 4).date(),
        utc(2027, 2, 1).date(),
    ]
    assert next_slot("0 7 L * *", "UTC", utc(2027, 2, 1)) == utc(2027, 2, 28, 7)
    assert next_slot("0 0 29 2 *", "UTC", after) == utc(2028, 2, 29)
    assert latest_slot("0 0 29 2 *", "UTC", after) == utc(2024, 2, 29)


def test_a_day_field_that_starts_with_a_star_is_not_restricted_as_in_cron() -> None:
    """cron(5): the days fire on either field only when both are restricted, "i.e., don't
    start with *". So "*/2" beside a weekday is the odd days that are that weekday, as
    crontab runs it, not every odd day and every such weekday."""
    after = utc(2026, 12, 1)
    odd_mondays = [slot.date() for slot in firings("0 7 */2 * 1", "UTC", after, 3)]
    assert odd_mondays == [
        utc(2026, 12, 7).date(),
        utc(2026, 12, 21).date(),
        utc(2027, 1, 11).date(),
    ]
    firsts = [slot.date() for slot in firings("0 7 1 * */2", "UTC", after, 2)]
    assert firsts == [utc(2026, 12, 1).date(), utc(2027, 4, 1).date()]  # Tuesday, Thursday
    assert [slot.day for slot in firings("0 7 1-31/2 * 1", "UTC", after, 4)] == [1, 3, 5, 7]
    assert longest_gap("0 7 */2 * 1", "UTC", after, 30) >= timedelta(days=14)


@pytest.mark.parametrize(
    ("schedule", "timezone", "gap"),
    [
        ("0 7 * * *", "Asia/Dubai", timedelta(days=1)),
        ("0 7 * * 1", "Europe/London", timedelta(days=7, hours=1)),  # over October's change
        ("0 7,19 * * 1-5", "UTC", timedelta(days=2, hours=12)),  # Friday evening to Monday
        ("*/15 6-9 1 * *", "UTC", timedelta(days=31) - timedelta(hours=3, minutes=45)),
        ("*/5 0-1,23 * * *", "UTC", timedelta(hours=21, minutes=5)),  # within each day
        ("0 0 29 2 *", "UTC", timedelta(days=8 * 365 + 1)),  # 2096 to 2104: 2100 is no leap year
        ("0 7 * * 1", "Asia/Tokyo", timedelta(days=7)),  # Monday 07:00 is Sunday in UTC
        ("*/5 0-1,23 * * *", "America/New_York", timedelta(hours=21, minutes=5)),  # west of UTC
    ],
)
def test_the_longest_gap_sees_bursts_on_one_day_and_gaps_within_a_day(
    schedule: str, timezone: str, gap: timedelta
) -> None:
    # Firings counted one by one saw the first 60 of a burst on the 1st of each month, 15 minutes
    # apart, and so a list whose editions are a month apart was kept 15 minutes of articles.
    assert longest_gap(schedule, timezone, utc(2026, 1, 1), 60) == gap
