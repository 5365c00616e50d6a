"""The suppression file: addresses that must never get mail, kept outside the database.

    email,list,reason,at
    rana@example.org,daily,unsubscribe link,2026-11-24T08:01:00+00:00
    bounced@example.org,,operator,2026-11-25T10:00:00+00:00

One line per unsubscribe (``list`` is the list's slug at the time) or per suppression of every
list (``list`` empty), appended by ``digest.unsubscribes`` before the database records it, and
open to the operator's own lines. Every subscriber sync reads it: an address in it is never made
an active member again, so an unsubscribe survives a new or reset database (invariant 8). The
database is the working copy; this file is what an operator backs up, moves with the service and
may edit by hand. A line that cannot be read is reported and left out; it never stops a list.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from digest.errors import ConfigError
from digest.mail.subscribers import normalize_email, read_utf8_file

COLUMNS = ("email", "list", "reason", "at")
EVERY_LIST = ""


@dataclass(frozen=True)
class Suppressions:
    """The suppression file as read: addresses by list slug ('' for every list), bad lines."""

    by_list: dict[str, set[str]] = field(default_factory=dict)  # lowercased addresses
    refused: list[tuple[str, str]] = field(default_factory=list)

    def for_list(self, slugs: Iterable[str]) -> set[str]:
        """The addresses a list must not mail: its own lines (under any of ``slugs``, its name
        now and before) and those of every list."""
        found = set(self.by_list.get(EVERY_LIST, ()))
        for slug in slugs:
            found |= self.by_list.get(slug, set())
        return found

    def holds(self, email: str, slug: str) -> bool:
        key = email.lower()
        return key in self.by_list.get(slug, ()) or key in self.by_list.get(EVERY_LIST, ())


def read_suppressions(path: Path) -> Suppressions:
    """Read the suppression file; a missing file holds nothing. Raises ConfigError only when the
    file cannot be read at all (not UTF-8, no ``email`` column, broken quoting)."""
    source = str(path)
    try:
        text = read_utf8_file(path)
    except FileNotFoundError:
        return Suppressions()
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    found = Suppressions()
    try:
        if reader.fieldnames is None:
            return found
        if "email" not in [name.strip().lower() for name in reader.fieldnames]:
            raise ConfigError(
                source, [("line 1", "no 'email' column: the header is email,list,reason,at")]
            )
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
        for row in reader:
            address = (row.get("email") or "").strip()
            if not address:
                continue
            try:
                email = normalize_email(address)
            except ValueError as error:
                found.refused.append((f"line {reader.line_num}", str(error)))
                continue
            slug = (row.get("list") or "").strip()
            found.by_list.setdefault(slug, set()).add(email.lower())
    except csv.Error as error:
        raise ConfigError(
            source, [(f"line {reader.line_num}", f"not valid CSV: {error}")]
        ) from None
    return found


def append_suppressions(path: Path, lines: Iterable[tuple[str, str, str, datetime]]) -> int:
    """Append (email, list slug or '', reason, when) lines, written and synced to disk before
    this returns; the header too when the file is new. Processes on one machine take turns
    (an exclusive lock), so lines never interleave. Returns how many lines were written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    count = 0
    for email, slug, reason, when in lines:
        writer.writerow([email, slug, " ".join(reason.split()), when.isoformat()])
        count += 1
    if not count:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            # Where the end is now, after whoever held the lock before: not when opened.
            if file.seek(0, os.SEEK_END) == 0:
                file.write(",".join(COLUMNS) + "\n")
            elif not _ends_with_newline(path):
                file.write("\n")  # an operator's last line without its line break
            file.write(buffer.getvalue())
            file.flush()
            os.fsync(file.fileno())
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
    return count


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
