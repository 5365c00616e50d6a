"""List schedules: when a cron expression, read in a list's timezone, fires around a moment.

The cron expression speaks of wall-clock time in the list's timezone ("0 7 * * *" is 07:00 in
Dubai, every day). Daylight-saving changes are settled like this:

- a wall time that happens twice (clocks go back) fires once, at its first occurrence;
- a wall time that does not exist (clocks go forward) fires as if the clocks had not yet changed,
  that is shifted forward by the gap: 02:30 on the night New York skips 02:00-03:00 fires at 03:30.

So a daily list goes out exactly once every local day, whatever the season. Every result is an
aware datetime in UTC. Nothing here reads the clock: callers pass ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

# Wider than any daylight-saving shift in use (one hour, two at most): wall times closer than this
# to a moment may map to instants on either side of it, so the search looks this far around.
_DST_MARGIN = timedelta(hours=3)
_DAY = timedelta(days=1)
# The longest stretch _one_offset reads (a daily schedule's, with the margins): a longer one
# costs more to read than the search it would spare.
_ONE_OFFSET_SPAN = timedelta(days=2)


def latest_slot(schedule: str, timezone: str, now: datetime) -> datetime:
    """The most recent firing of ``schedule`` in ``timezone`` at or before ``now``, in UTC."""
    zone = _zone(timezone)
    now = _as_utc(now, "now")
    # Start past ``now`` on the wall clock: a skipped wall time earlier than now's wall time may
    # fire after now, and a repeated one later than it may fire before. With no change of the
    # clocks in the margins around now, every wall time past now's fires after now: a minute
    # past it is far enough (a schedule fires on whole minutes).
    steady = _one_offset(zone, now - _DST_MARGIN, now + _DST_MARGIN)
    ahead = timedelta(minutes=1) if steady else _DST_MARGIN
    iterator = _iterator(schedule, _wall(now, zone) + ahead)
    best: tuple[datetime, datetime] | None = None  # (wall time, instant)
    while True:
        wall = _cron_step(iterator, schedule, backwards=True)
        if best is not None and wall < best[0] - _DST_MARGIN:
            return best[1]
        instant = _instant(wall, zone)
        if instant <= now and (best is None or instant > best[1]):
            if best is None and _one_offset(zone, instant - _DST_MARGIN, now + _DST_MARGIN):
                # No change of the clocks near: every wall time still to look at maps to an
                # earlier instant, so this first firing at or before now is the latest. Without
                # this, a schedule of every minute stepped back three hours, minute by minute,
                # for each timezone at each tick.
                return instant
            best = (wall, instant)


def next_slot(schedule: str, timezone: str, after: datetime) -> datetime:
    """The first firing of ``schedule`` in ``timezone`` strictly after ``after``, in UTC."""
    zone = _zone(timezone)
    after = _as_utc(after, "after")
    iterator = _iterator(schedule, _wall(after, zone) - _DST_MARGIN)
    best: tuple[datetime, datetime] | None = None
    while True:
        wall = _cron_step(iterator, schedule, backwards=False)
        if best is not None and wall > best[0] + _DST_MARGIN:
            return best[1]
        instant = _instant(wall, zone)
        if instant > after and (best is None or instant < best[1]):
            best = (wall, instant)


def interval_before(schedule: str, timezone: str, moment: datetime) -> timedelta:
    """The time between the latest firing of ``schedule`` at or before ``moment`` and the firing
    before that one: a day for a daily, a week for a weekly, the gap that ends there for a
    schedule of uneven gaps (Monday and Thursday)."""
    latest = latest_slot(schedule, timezone, moment)
    return latest - latest_slot(schedule, timezone, latest - timedelta(microseconds=1))


def upcoming_slots(schedule: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` firings of ``schedule`` in ``timezone`` after ``after``, in UTC."""
    slots: list[datetime] = []
    for _ in range(count):
        after = next_slot(schedule, timezone, after)
        slots.append(after)
    return slots


def longest_gap(schedule: str, timezone: str, start: datetime, days: int) -> timedelta:
    """The longest time between two firings of ``schedule`` in ``timezone`` after ``start``,
    over its next ``days`` days that have firings.

    A cron expression fires at the same wall times (its hours and minutes) on every day it
    fires: one day's gaps are every day's. The gaps between days are read day by day, from a
    day's last firing to the next: a burst of firings on the first of each month
    ("*/15 * 1 * *") is a month apart, which firings counted one by one would not show. Read
    on the wall clock and told in real time: within the hour or two a change of the clocks
    moves a firing that falls in it (see the module's rules), which callers' margins cover.
    """
    zone = _zone(timezone)
    first = _wall(next_slot(schedule, timezone, start), zone)
    day = datetime.combine(first.date(), time())
    iterator = _iterator(schedule, day - timedelta(minutes=1))
    walls = [_cron_step(iterator, schedule, backwards=False)]
    while walls[-1] < day + _DAY:
        walls.append(_cron_step(iterator, schedule, backwards=False))
    longest = max(
        _instant(later, zone) - _instant(earlier, zone) for earlier, later in pairwise(walls)
    )
    for _ in range(days):
        iterator = _iterator(schedule, day + _DAY)
        last = _cron_step(iterator, schedule, backwards=True)  # the day's last firing
        later = _cron_step(iterator, schedule, backwards=False)  # the next day's first
        longest = max(longest, _instant(later, zone) - _instant(last, zone))
        day = datetime.combine(later.date(), time())
    return longest


def _one_offset(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether ``zone`` keeps one UTC offset from ``start`` to ``end``, two days apart at most:
    read at each hour between them, far closer than any two changes of the clocks in the tz
    database (days apart at the least, since 1900)."""
    if end - start > _ONE_OFFSET_SPAN:
        return False
    offset = start.astimezone(zone).utcoffset()
    moment = start
    while moment < end:
        moment = min(moment + timedelta(hours=1), end)
        if moment.astimezone(zone).utcoffset() != offset:
            return False
    return True


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {timezone!r}: use an IANA name such as 'Asia/Dubai'"
        ) from None


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock reading of ``moment`` in ``zone``, as a naive datetime."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    # fold=0 picks the first of a repeated wall time, and for a skipped one applies the offset in
    # force before the change, which moves it forward by the gap (PEP 495).
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def days_on_either(schedule: str) -> bool:
    """Whether the expression fires on a day that either of its day fields names, as cron(5)
    reads them: only when both are restricted, "i.e., don't start with *". So "*/2" beside a
    weekday (0 7 */2 * 1) is the odd days that are Mondays, as crontab runs it, while croniter
    alone fires on every odd day and every Monday. A nickname (@daily) names no days."""
    fields = schedule.split()
    if len(fields) != 5:
        return True
    day_of_month, day_of_week = fields[2], fields[4]
    return not (day_of_month.startswith("*") or day_of_week.startswith("*"))


def _iterator(schedule: str, start: datetime) -> croniter:
    # croniter walks wall-clock time; tagging it UTC keeps croniter from applying any DST itself.
    try:
        return croniter(schedule, start.replace(tzinfo=UTC), day_or=days_on_either(schedule))
    except (CroniterError, KeyError) as error:
        raise ValueError(f"invalid cron expression {schedule!r}: {error}") from error


def _cron_step(iterator: croniter, schedule: str, *, backwards: bool) -> datetime:
    try:
        fired: datetime = iterator.get_prev(datetime) if backwards else iterator.get_next(datetime)
    except CroniterError as error:  # an expression that names no real date, such as "0 0 30 2 *"
        raise ValueError(f"cron expression {schedule!r} never fires: {error}") from error
    return fired.replace(tzinfo=None)
