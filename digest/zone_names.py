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

import functools
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
