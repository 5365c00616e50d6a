"""Whether a name typed by a reader or an operator's file names a timezone of the tz database.

``ZoneInfo(name)`` alone is not the check: it loads any file under the database's folders, so
"Asia" (a folder) raises IsADirectoryError, which no caller expected (a 500 on the preferences
page, a whole import stopped), and "posixrules" or "right/UTC" (a zone counting leap seconds,
27 seconds off every clock) are taken. A name is a timezone when the database lists it.

Debian's zoneinfo folder also holds "localtime", a link to the machine's own zone
(/etc/localtime), which ``available_timezones`` lists: it names no zone of the database, and a
reader who chose it got the zone of whichever machine built their edition.
"""

from __future__ import annotations

import difflib
import functools
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@functools.cache
def _listed() -> frozenset[str]:
    # Read from the disk once per process: it lists some six hundred names.
    return frozenset(available_timezones()) - _NOT_ZONES


# Files of the zoneinfo folder that are no zone of the tz database.
_NOT_ZONES = frozenset({"localtime"})


@functools.cache
def _spellings() -> dict[str, str]:
    # No two names of the database differ only in case, so the casefolded name finds one.
    return {name.casefold(): name for name in _listed()}


def zone_spelled(name: str) -> str | None:
    """The database's own spelling of the timezone ``name`` names in any case ("europe/london"
    -> "Europe/London"), and with spaces for its underscores ("America/New York"), or None when
    it names none: what an operator's file typed by hand means, kept as the zone's one name.
    No zone's name holds a space, so a space stands for nothing else."""
    spellings = _spellings()
    return spellings.get(name.casefold()) or spellings.get("_".join(name.split()).casefold())


def zone_named(name: str) -> ZoneInfo | None:
    """The timezone ``name`` names ("Asia/Dubai"), or None when it names none."""
    if name not in _listed():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # listed, then removed from the disk
        return None


# An offset from UTC as people write one: "GMT+3", "UTC-05:00", "+0530".
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*[+\-\u2212]\s*\d{1,2}(?::?\d{2})?", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def unknown_zone_why(name: str) -> str:
    """Why ``name`` names no timezone, with what it was meant to be when that can be told: a
    zone spelt close to it, or for an offset, the trap of the database's "Etc/GMT+3" (three
    hours behind UTC: POSIX's sign), where "use an IANA name" alone sent the operator."""
    why = f"unknown timezone {name!r}: use an IANA name such as 'Asia/Dubai'"
    if _OFFSET.fullmatch(name.strip()):
        return (
            f"{why}; for an offset, name a city in its zone: the database's 'Etc/GMT' zones "
            "have the sign reversed ('Etc/GMT-3' is UTC+3)"
        )
    typed = name.strip().casefold()
    close = difflib.get_close_matches(typed, _neighbours(typed), n=1, cutoff=0.85)
    return f"{why}; did you mean {_spellings()[close[0]]!r}?" if close else why


def _neighbours(typed: str) -> list[str]:
    """The names a typo of ``typed`` may be of: those of its region or of its city when it has
    both ("Europe/Londn", "Eurpe/London"), the names of no region otherwise ("ESTT"). Not all
    600: a column of other data under the header "timezone" (a street on each row) took a
    millisecond and more per row against every name, minutes for a file of 200,000."""
    regions, cities = _regions_and_cities()
    region, slash, _ = typed.partition("/")
    if not slash:
        return regions.get("", [])
    return regions.get(region, []) + cities.get(typed.rpartition("/")[2], [])


@functools.cache
def _regions_and_cities() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The casefolded names by their region ("europe"; "" for none) and by their city."""
    regions: dict[str, list[str]] = {}
    cities: dict[str, list[str]] = {}
    for spelled in _spellings():
        region, slash, _ = spelled.partition("/")
        regions.setdefault(region if slash else "", []).append(spelled)
        if slash:
            cities.setdefault(spelled.rpartition("/")[2], []).append(spelled)
    return regions, cities
