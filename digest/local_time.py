"""Lists read in each reader's own timezone: who is due at which slot, and from which window.

    members' positions ─► each reader's latest slot of the schedule in their own timezone (the
    list's when they have none, or one no longer known) ─► due when no edition of the list was
    queued for them at or after it ─► grouped by slot, and within a slot by where their last
    edition's window ended and by the slot's date where they are: one variant of the edition
    per group, composed and rendered once (invariant 4 holds per variant)

Each reader's next window starts exactly where their own last edition's ended, so across their
own editions no article is missed and none repeats: also on the nights clocks change (the
schedule settles those, digest.schedule) and when a reader changes timezone. A reader with no
edition yet gets what came in since the slot before their first (the caller says where in the
article sequence that is). Nothing here reads the clock or the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from digest.schedule import latest_slot, next_slot
from digest.store import ReaderPosition
from digest.zone_names import zone_named


@dataclass(frozen=True, slots=True)
class DueGroup:
    """The readers due at ``slot`` whose last edition's window ended at ``after_seq``; ``zone``
    is the timezone its edition is dated in: that of most of its readers (whose hour the slot
    is, so that an Auckland morning's edition is not dated the evening before, as in Dubai),
    None for an extra edition asked for by hand, which is no reader's hour in particular."""

    slot: datetime
    after_seq: int
    readers: tuple[int, ...]
    zone: str | None = None

    @property
    def variant(self) -> str:
        name = variant_name(self.after_seq, by_hand=self.zone is None)
        dated = self.slot.astimezone(ZoneInfo(self.zone)).date() if self.zone else None
        if dated is not None and dated != self.slot.astimezone(UTC).date():
            # Readers of one slot and window on two dates (07:00 on Tuesday in Kiritimati is
            # 07:00 on Monday in Honolulu) get an edition each, one per date: named apart.
            return f"{name}@{dated.isoformat()}"
        return name


# The variants of an edition asked for by hand are named apart: a build of such a slot that
# stopped between its halves is built again by the next run, not by hand, and must still be
# known for an extra edition (every reader not served since is due at it), where a slot of the
# schedule whose readers all left between the halves is nobody's.
BY_HAND = "by-hand-"


def variant_name(after_seq: int, *, by_hand: bool = False) -> str:
    """The variant of an edition whose window starts after ``after_seq``."""
    return f"{BY_HAND if by_hand else ''}after-{after_seq}"


def dated_on(variant: str, slot: datetime) -> date | None:
    """The date an edition of ``slot`` is dated on where its readers are, from its ``variant``
    (``DueGroup.variant``), for one built at some readers' own hour: the date its name gives
    ("after-12@2026-06-02", with any "|topics:…" after it), else the slot's date in UTC, which
    is then theirs. None for every other edition, which is dated in the list's timezone."""
    if not of_a_readers_hour(variant):
        return None
    _, at, day = variant.split("|", 1)[0].partition("@")
    if at:
        try:
            return date.fromisoformat(day)
        except ValueError:
            return None
    return slot.astimezone(UTC).date()


def of_a_readers_hour(variant: str) -> bool:
    """Whether ``variant`` is that of an edition built at some readers' own hour (not one asked
    for by hand, nor one of a list read in one timezone)."""
    return variant.startswith(variant_name(0).removesuffix("0"))


def reader_timezone(timezone: str | None, list_timezone: str) -> str:
    """The timezone a reader's editions come in: their own when it is one, else the list's.

    A stored name is checked as the tz database lists it (digest.zone_names), not by loading it:
    a row written by hand or before the check may hold "Asia", a folder, on which ZoneInfo
    raises IsADirectoryError and stopped the list for every reader, or "posixrules", a file
    that loads but names no zone."""
    if timezone and zone_named(timezone) is not None:
        return timezone
    return list_timezone


def due_groups(
    schedule: str,
    list_timezone: str,
    positions: Iterable[ReaderPosition],
    now: datetime,
    start_for_new: Callable[[str, datetime], int],
    *,
    extra_slot: datetime | None = None,
    started: datetime | None = None,
) -> list[DueGroup]:
    """The readers due now, grouped by slot and window start, in slot order. A reader with no
    edition yet starts at ``start_for_new(their zone, their slot)``. With ``extra_slot`` (an
    edition asked for by hand), every reader not yet served at that moment is due at it,
    whatever their hour.

    ``started`` is when the list began to run (None: not yet; see ``ListStore.list_started``).
    A reader who became a member after it and after their latest slot (they joined, or came
    back, since their hour passed) is due at their next slot, not at once: else one who
    joined at 06:55 got an edition of the 07:00 that passed the day before, and another five
    minutes later. The members a list starts with get their first edition at once, as those
    of a list read in one timezone do."""
    slot_of: dict[str, datetime] = {}
    # By slot, window start and the date of the slot where the reader is (None by hand: every
    # reader's extra edition is dated in the list's timezone).
    groups: dict[tuple[datetime, int, date | None], list[int]] = defaultdict(list)
    zones: dict[tuple[datetime, int, date | None], Counter[str]] = defaultdict(Counter)
    for position in positions:
        zone = reader_timezone(position.timezone, list_timezone)
        if extra_slot is not None:
            slot = extra_slot
        else:
            if zone not in slot_of:
                slot_of[zone] = latest_slot(schedule, zone, now)
            slot = slot_of[zone]
            if _joined_since(position, slot, started):
                continue
        if position.last_slot is not None and position.last_slot >= slot:
            continue
        # A reader who joined: their first window is the last day (or week) of their zone.
        after = position.last_seq if position.last_seq is not None else start_for_new(zone, slot)
        if position.last_seq is not None and _came_back(position):
            # The news of the days they were away is not theirs: they start as a reader who
            # joins, never before where their own last window ended (nothing twice).
            after = max(position.last_seq, start_for_new(zone, slot))
        # Zones due at one slot read the same wall time of the schedule, but not always on
        # one date: Kiritimati (+14) and Honolulu (-10) are a day apart at the same hour.
        dated = None if extra_slot is not None else slot.astimezone(ZoneInfo(zone)).date()
        groups[(slot, after, dated)].append(position.subscriber_id)
        zones[(slot, after, dated)][zone] += 1
    return [
        DueGroup(
            slot,
            after,
            tuple(readers),
            # Of the zones of one date, the most readers' settles a schedule of several times.
            None if dated is None else _most_readers(zones[(slot, after, dated)]),
        )
        for (slot, after, dated), readers in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or date.min)
        )
    ]


def _joined_since(position: ReaderPosition, slot: datetime, started: datetime | None) -> bool:
    """Whether the reader became a member after ``slot``, of a list that went out before."""
    joined = position.member_since
    return joined is not None and started is not None and joined > max(slot, started)


def _came_back(position: ReaderPosition) -> bool:
    """Whether the reader left the list after their last edition was queued and came back."""
    joined, queued = position.member_since, position.last_queued
    return joined is not None and queued is not None and joined > queued


def _most_readers(zones: Counter[str]) -> str:
    """The zone of the most readers, the first by name among equals: the same for each build."""
    return min(zones.items(), key=lambda item: (-item[1], item[0]))[0]


def readers_by_slot(
    schedule: str, list_timezone: str, timezones: Iterable[str | None], after: datetime
) -> dict[datetime, dict[str, int]]:
    """When each reader's next edition comes (UTC), and how many readers of which zone get it
    then: what `digest schedule` shows of a list read in each reader's timezone."""
    counts: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    slot_of: dict[str, datetime] = {}
    for timezone in timezones:
        zone = reader_timezone(timezone, list_timezone)
        if zone not in slot_of:
            slot_of[zone] = next_slot(schedule, zone, after)
        counts[slot_of[zone]][zone] += 1
    return {slot: dict(sorted(zones.items())) for slot, zones in sorted(counts.items())}
