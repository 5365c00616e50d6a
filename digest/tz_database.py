"""Which tz database the timezones are read from: the newer of the machine's and the tzdata
package's.

Python's ``zoneinfo`` reads a zone from the machine's folders (/usr/share/zoneinfo) and turns to
the tzdata package only for a name the machine lacks. A machine whose database is older than a
zone's rule (a country that stopped changing its clocks) then schedules that zone's lists an hour
off and writes its readers' times with the old offset, though the newer rules sit installed
beside it. So the package is read instead when its database is the newer one. A folder named by
``PYTHONTZPATH`` is the operator's choice and is kept.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

# The first line of a database's tzdata.zi: "# version 2026a".
_VERSION = re.compile(r"#\s*version\s+(\d{4})([a-z]*)\s*$")


def version_of(text: str) -> tuple[int, str] | None:
    """The release a tzdata.zi's first line names ("2026a" -> (2026, "a")), or None."""
    found = _VERSION.match(text.splitlines()[0] if text else "")
    return (int(found.group(1)), found.group(2)) if found else None


def machine_version(folders: Sequence[str]) -> tuple[int, str] | None:
    """The release of the first of ``folders`` that holds a database (as zoneinfo reads
    them), or None when none says which it is."""
    for folder in folders:
        index = Path(folder) / "tzdata.zi"
        try:
            with index.open(encoding="utf-8", errors="replace") as file:
                return version_of(file.readline())
        except OSError:
            continue
    return None


def package_version() -> tuple[int, str] | None:
    """The release of the installed tzdata package's database, or None without the package."""
    try:
        index = resources.files("tzdata").joinpath("zoneinfo", "tzdata.zi")
        with index.open(encoding="utf-8", errors="replace") as file:
            return version_of(file.readline())
    except (ModuleNotFoundError, OSError):
        return None


def package_is_newer(machine: tuple[int, str] | None, package: tuple[int, str] | None) -> bool:
    """Whether the package's database should be read over the machine's: it is a later release.
    A machine database that does not say its release is kept, as zoneinfo would."""
    return machine is not None and package is not None and package > machine


def read_newest(environ: Mapping[str, str] = os.environ) -> str:
    """Read timezones from the newer database from here on; say which one it is, for the
    operator ("2026a, of the tzdata package")."""
    machine, package = machine_version(zoneinfo.TZPATH), package_version()
    if "PYTHONTZPATH" not in environ and package_is_newer(machine, package):
        zoneinfo.reset_tzpath(to=[])
        zoneinfo.ZoneInfo.clear_cache()
    if package is not None and not zoneinfo.TZPATH:
        return f"{_release(package)}, of the tzdata package"
    return f"{_release(machine)}, of the machine" if machine else "of the machine, release unknown"


def _release(version: tuple[int, str]) -> str:
    return f"{version[0]}{version[1]}"
