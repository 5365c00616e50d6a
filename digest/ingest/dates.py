"""An entry's dates as aware UTC datetimes: feedparser's reading, or ours where it misreads one.

feedparser reads RFC 822 dates in zones it does not know (IDT, EET, MSK, IRST, JST, AEST...) as
UTC, and misreads or refuses "GMT+3"; news feeds of those regions write both. A date more than a
day ahead is the feed's error, and a date before 1970 is a feed's stand-in for none: both are
read as none, and the entry is placed by when it was first seen.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# A publication date further ahead than this is a feed's error (a year typed wrong, a clock
# gone astray). Read as none rather than as the time of the poll: that time changed at every
# poll, and an entry whose date changes looks like another story under its guid (the article
# stored twice), and every entry of such a feed counted as published just now (polled at the
# shortest interval for good). First seen, the entry is placed as it would have been.
FUTURE_TOLERANCE = timedelta(days=1)
# Earlier dates are what publishing systems write for "no date": the zero time of Go and .NET
# (0001-01-01), the Unix epoch. Kept, year 1 could not even be written in a reader's timezone west
# of UTC (every copy of the edition to such a reader failed); read as none, the entry is placed by
# when it was first seen.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)

# The zones feedparser does not know (it reads them as UTC) and the "GMT+3" offsets it misreads
# or refuses, at the end of an RFC 822 date; minutes east of UTC. Names that stand for several
# zones are in _REGIONAL_ZONES.
_ZONE_OFFSETS = {
    "bst": 60, "cet": 60, "cest": 120, "eet": 120, "eest": 180, "idt": 180, "msk": 180,
    "trt": 180, "irst": 210, "irdt": 270, "gst": 240, "pkt": 300,
    # Asia and the Pacific: a story from Tokyo read as UTC was dated nine hours ahead.
    "npt": 345, "ict": 420, "wib": 420, "hkt": 480, "sgt": 480, "myt": 480, "pht": 480,
    "awst": 480, "wita": 480, "jst": 540, "kst": 540, "wit": 540, "acst": 570, "acdt": 630,
    "aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780,
    # Africa and the rest of the Americas.
    "wet": 0, "west": 60, "wat": 60, "cat": 120, "sast": 120, "eat": 180,
    "hst": -600, "akst": -540, "akdt": -480, "brt": -180, "art": -180,
}  # fmt: skip
_ZONE_NAMES = "|".join(_ZONE_OFFSETS)
# Names that stand for several zones, read by the language of the entry (or of its feed) where
# that language places it: "AST" in an Arabic feed is Arabia's (+3), elsewhere the Atlantic's (-4,
# feedparser's reading); a Saudi story read as Atlantic was dated seven hours late. "IST" is
# Israel's in Hebrew, India's in Hindi or Indian English, Ireland's (summer time) in Irish or Irish
# English, and UTC elsewhere (feedparser does not know it); "CST" is China's in Chinese, else
# America's Central. Minutes east of UTC, by language tag or its primary subtag.
_REGIONAL_ZONES: dict[str, dict[str, int]] = {
    "AST": {"ar": 180},
    "IST": {"he": 120, "iw": 120, "hi": 330, "en-in": 330, "ga": 60, "en-ie": 60},
    "CST": {"zh": 480},
}
# One of those names after a time ("09:15:00 AST", "09:15 IST 2025"), as publishers write it.
_REGIONAL_ZONE = re.compile(rf"(?<=[0-9]\s)({'|'.join(_REGIONAL_ZONES)})\b")
# A year written with three or four digits but below 100 ("01 Jan 0026"), after the month as
# RFC 822 places it: the standard library's parser reads any year below 100 as a two-digit one
# (2026), where it is year 26, what a system writes that had no date to give (see EARLIEST).
_YEAR_BELOW_100_IN_FULL = re.compile(r"\b[A-Za-z]{3,9}\.?,?\s+(?:[0-9]{1,2},?\s+)?0[0-9]{2,3}\b")
_MISREAD_ZONE = re.compile(
    rf"\s(?:(?:GMT|UTC|UT)\s*([+-])([0-9]{{1,2}})(?::?([0-9]{{2}}))?|({_ZONE_NAMES}))\s*$",
    re.IGNORECASE,
)
# A date and time followed by a zone's name, as a template writes them with "Y-m-d H:i:s T"
# ("2025-06-10 09:15:00 EDT") or Java's Date.toString() ("Tue Jun 10 09:15:00 EEST 2025"):
# feedparser read the first as midnight UTC, the time dropped, and the second as UTC. Both are
# rewritten in RFC 822's order and read as such a date.
_ZONE_NAME = r"[A-Za-z]{1,5}(?:\s*[+-][0-9]{1,2}(?::?[0-9]{2})?)?"
_ISO_WITH_ZONE_NAME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[T ]"
    rf"(?P<time>[0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}})?)(?:[.,][0-9]+)?\s*(?P<zone>{_ZONE_NAME})"
)
_JAVA_DATE = re.compile(
    r"(?:[A-Za-z]{3},?\s+)?(?P<month>[A-Za-z]{3})\s+(?P<day>[0-9]{1,2})\s+"
    rf"(?P<time>[0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}})?)\s+(?P<zone>{_ZONE_NAME})\s+(?P<year>[0-9]{{4}})"
)
# The calendar date an ISO 8601 date opens with ("2025-06-31", "20250631T0900"): feedparser
# rolls a day no month has over into the next month (31 June is 1 July), a date the feed never
# gave; such a date is read as none, as an impossible RFC 822 date is.
_ISO_CALENDAR_DATE = re.compile(
    r"\s*(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})(?![0-9])"
    r"|(?P<compact_month>[0-9]{2})(?P<compact_day>[0-9]{2})(?=T))"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# No place is further from UTC than this (Kiribati, +14:00). A zone further away ("+2400",
# "-9999") or with 60 minutes or more ("+0375") is a typo in a template, which feedparser
# applied: the story moved a day or more into the past, or days ahead. Such a zone is read as
# none, and the time as UTC, as a date written without a zone is.
_FURTHEST_OFFSET = 14 * 60  # minutes
# A numeric zone after the time of an RFC 822 or ISO 8601 date ("09:15:00 +2400", "09:15+24:00").
_NUMERIC_ZONE = re.compile(
    r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\s*(?P<zone>([+-])([0-9]{2}):?([0-9]{2}))\s*$"
)


def entry_date(
    raw: Mapping[str, Any], key: str, now: datetime, language: str | None = None
) -> datetime | None:
    """The entry's ``key`` date ("published", "updated") in UTC; None when it has none that
    can be read, or one past ``now`` plus FUTURE_TOLERANCE or before EARLIEST. ``language``, the
    entry's or its feed's (``ar``, ``en-in``), places a zone name several zones share."""
    return _utc(_written_date(raw, key, language), now)


def _written_date(raw: Mapping[str, Any], key: str, language: str | None) -> object:
    """feedparser's reading of the entry's ``key`` date, or ours where its reading is wrong or
    missing: a zone it does not know, a "GMT+3" offset, no zone at all, a zone no place has, a
    zone name the language places elsewhere than feedparser does."""
    parsed = raw.get(f"{key}_parsed")
    written = raw.get(key)
    if not isinstance(written, str):
        return parsed
    if language and (placed := _with_regional_zone(written, language)) != written:
        written, parsed = placed, None
    if not _calendar_holds(written):
        return None
    if (in_rfc822_order := _in_rfc822_order(written)) is not None:
        return _rfc822_date(in_rfc822_order)
    zone = _NUMERIC_ZONE.search(written)
    if zone is not None and not _possible_offset(*zone.group(2, 3, 4)):
        without_zone = written[: zone.start("zone")]
        return _rfc822_date(without_zone) or _iso_date(without_zone)
    if parsed is None or _MISREAD_ZONE.search(written):
        return _rfc822_date(written) or parsed
    return parsed


def _with_regional_zone(written: str, language: str) -> str:
    """``written`` with a zone name of _REGIONAL_ZONES that ``language`` places written as the
    offset it stands for there ("GMT+03:00"); as it is otherwise."""

    def offset(match: re.Match[str]) -> str:
        places = _REGIONAL_ZONES[match[1]]
        minutes = places.get(language, places.get(language.split("-")[0]))
        if minutes is None:
            return match[0]
        hours, rest = divmod(abs(minutes), 60)
        return f"GMT{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"

    return _REGIONAL_ZONE.sub(offset, written, count=1)


def _calendar_holds(written: str) -> bool:
    """False for a date written as ISO 8601 whose day no calendar has (see _ISO_CALENDAR_DATE);
    True for any other, left to the readers."""
    if (date := _ISO_CALENDAR_DATE.match(written)) is None:
        return True
    month, day = date["month"] or date["compact_month"], date["day"] or date["compact_day"]
    try:
        datetime(int(date["year"]), int(month), int(day))
    except ValueError:
        return False
    return True


def _in_rfc822_order(written: str) -> str | None:
    """A date and time followed by a zone's name (_ISO_WITH_ZONE_NAME, _JAVA_DATE) written in
    RFC 822's order; None for a date of another form, or in a month no calendar has."""
    written = written.strip()
    if (iso := _ISO_WITH_ZONE_NAME.fullmatch(written)) is not None:
        if not 1 <= int(iso["month"]) <= len(_MONTHS):
            return None
        month = _MONTHS[int(iso["month"]) - 1]
        return f"{iso['day']} {month} {iso['year']} {iso['time']} {iso['zone']}"
    if (java := _JAVA_DATE.fullmatch(written)) is not None:
        return f"{java['day']} {java['month']} {java['year']} {java['time']} {java['zone']}"
    return None


def _possible_offset(sign: str, hours: str, minutes: str) -> bool:
    """Whether a zone written "+HHMM" is one some place has (see _FURTHEST_OFFSET)."""
    return int(minutes) < 60 and int(hours) * 60 + int(minutes) <= _FURTHEST_OFFSET


def _rfc822_date(written: str) -> tuple[int, ...] | None:
    """An RFC 822 date as a UTC time tuple; a date without a zone is taken to be in UTC. None
    for a year written in full below 100, as feedparser reads it (year 26 is before EARLIEST);
    a two-digit year ("26") keeps its usual meaning."""
    if _YEAR_BELOW_100_IN_FULL.search(written):
        return None
    if (zone := _MISREAD_ZONE.search(written)) is not None:
        sign, hours, minutes, name = zone.groups()
        written = written[: zone.start()]
        if name:
            offset = _ZONE_OFFSETS[name.lower()]
        else:
            offset = (int(hours) * 60 + int(minutes or 0)) * (-1 if sign == "-" else 1)
        # "GMT+25" is no zone either (_FURTHEST_OFFSET): the time is then read as UTC.
        if name or _possible_offset(sign, hours, minutes or "00"):
            whole_hours, rest = divmod(abs(offset), 60)
            written += f" {'-' if offset < 0 else '+'}{whole_hours:02d}{rest:02d}"
    fields = email.utils.parsedate_tz(written)
    if fields is None:
        return None
    try:
        zone_offset = timezone(timedelta(seconds=fields[9] or 0))
        year, month, day, hour, minute, second = fields[:6]
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone_offset)
        # Late on 31 December 9999 west of UTC is past year 9999 in UTC: no datetime holds it.
        return tuple(moment.astimezone(UTC).timetuple())
    except (ValueError, OverflowError):
        return None


def _iso_date(written: str) -> tuple[int, ...] | None:
    """An ISO 8601 date and time written without a zone, as a UTC time tuple."""
    try:
        return tuple(datetime.fromisoformat(written.strip()).timetuple())
    except ValueError:
        return None


def _utc(value: object, now: datetime) -> datetime | None:
    """A feedparser ``*_parsed`` value (a UTC struct_time) as an aware datetime; None for a date
    past ``now`` plus FUTURE_TOLERANCE or before EARLIEST."""
    if not isinstance(value, tuple) or len(value) < 6:  # struct_time is a tuple
        return None
    try:
        # A leap second (60) is valid in a struct_time but not in a datetime.
        year, month, day, hour, minute, second = (int(part) for part in value[:6])
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    if moment > now + FUTURE_TOLERANCE or moment < EARLIEST:
        return None
    return moment
