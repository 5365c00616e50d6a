"""Tests for digest.tz_database: timezones read from the newer of the machine's tz database and
the tzdata package's."""

from __future__ import annotations

import subprocess
import sys
import zoneinfo
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from digest import tz_database
from digest.schedule import latest_slot

MACHINE = "/usr/share/zoneinfo"  # Debian's, zoneinfo's first folder


def database(folder: Path, first_line: str) -> str:
    folder.mkdir()
    (folder / "tzdata.zi").write_text(first_line + "\n# redo posix_only\n", encoding="utf-8")
    return str(folder)


def test_a_database_says_its_release_on_its_first_line(tmp_path: Path) -> None:
    older = database(tmp_path / "older", "# version 2025b")
    assert tz_database.machine_version([str(tmp_path / "none"), older]) == (2025, "b")
    assert tz_database.machine_version([str(tmp_path / "none")]) is None
    assert tz_database.version_of("# no version here") is None
    assert tz_database.version_of("") is None


def test_the_package_is_read_only_when_its_release_is_later() -> None:
    assert tz_database.package_is_newer((2025, "b"), (2026, "a"))
    assert tz_database.package_is_newer((2026, "a"), (2026, "c"))
    assert not tz_database.package_is_newer((2026, "c"), (2026, "a"))
    assert not tz_database.package_is_newer((2026, "a"), (2026, "a"))
    # A machine database that does not say its release is kept, as zoneinfo would.
    assert not tz_database.package_is_newer(None, (2026, "a"))
    assert not tz_database.package_is_newer((2025, "b"), None)


def newest_rules(name: str) -> zoneinfo.ZoneInfo:
    """The zone ``name`` read straight from the newer of the two databases."""
    machine = tz_database.machine_version([MACHINE])
    if tz_database.package_is_newer(machine, tz_database.package_version()):
        with resources.files("tzdata").joinpath("zoneinfo", *name.split("/")).open("rb") as file:
            return zoneinfo.ZoneInfo.from_file(file, key=name)
    with Path(MACHINE, name).open("rb") as file:
        return zoneinfo.ZoneInfo.from_file(file, key=name)


def test_a_zone_follows_the_newer_databases_rules() -> None:
    """A machine whose tz database is older than a zone's rule put a list of that zone an hour
    off: zoneinfo reads the machine's folder first, however much newer the tzdata package
    installed with the service (here, the machine's 2025b and the package's 2026f disagree on
    these four zones from 2025 on)."""
    for name in ("America/Vancouver", "America/Winnipeg", "America/Havana", "Europe/Chisinau"):
        rules, moment = newest_rules(name), datetime(2025, 6, 1, tzinfo=UTC)
        while moment.year < 2028:
            offset = moment.astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
            assert offset == moment.astimezone(rules).utcoffset(), (name, moment)
            moment += timedelta(hours=6)
    if (tz_database.package_version() or (0, "")) >= (2026, "f"):
        # Vancouver keeps UTC-7 through the winter from November 2026: 07:00 is 14:00 UTC.
        now = datetime(2026, 12, 7, 18, tzinfo=UTC)
        assert latest_slot("0 7 * * *", "America/Vancouver", now) == now.replace(hour=14)


def test_a_folder_the_operator_named_is_kept(tmp_path: Path) -> None:
    """PYTHONTZPATH names the operator's database: it is read whatever its release."""
    older = database(tmp_path / "older", "# version 1999a")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import digest, zoneinfo; print(digest.TZ_DATABASE, zoneinfo.TZPATH)",
        ],
        env={"PYTHONTZPATH": older, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == f"1999a, of the machine ('{older}',)"
