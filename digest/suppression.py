"""The suppression file: the unsubscribes and suppressions of the database, copied out to a file.

    email,list,reason,at
    rana@example.org,daily,one-click,2026-11-24T08:01:00+00:00
    bounced@example.org,,hard-bounce,2026-11-25T10:00:00+00:00

One line per unsubscribe (``list`` is the list's slug at the time, ``reason`` its channel) or per
suppression of every list (``list`` empty, ``reason`` why). A list's line with the reason
``sign-up`` is a reader who signed up again and confirmed: it cancels that list's lines for the
address above it, those under the list's former slugs too (``Suppressions.unsubscribed_from``),
so reading the file again never unsubscribes them a second time.

The database is the source of truth; this file is its export and an import
(digest.unsubscribes): each cycle appends what the database recorded since, and reads the file
back only when it changed since (an operator's own lines, or the file brought to a new
database), so an unsubscribe survives a new or reset database (invariant 8). A line that
cannot be read is reported and left out; it never stops a list.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from digest.errors import ConfigError
from digest.mail.reader_addresses import from_spreadsheet_safe, normalize_email, spreadsheet_safe
from digest.mail.subscribers import decode_utf8, read_utf8_file

COLUMNS = ("email", "list", "reason", "at")
EVERY_LIST = ""
RESUBSCRIBED = "sign-up"  # the reason of a line that cancels the list's lines above it


@dataclass(frozen=True)
class Suppressions:
    """The suppression file as read: addresses by list slug ('' for every list), bad lines."""

    # Lowercased addresses by slug, of the lines after the address's last sign-up line there.
    by_list: dict[str, set[str]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # every list's address -> reason
    # (slug, address) -> the line of its last unsubscribe, and of its last sign-up, there: a
    # list renamed since has the lines of one reader under two slugs, to be weighed together.
    unsubscribed_on: dict[tuple[str, str], int] = field(default_factory=dict)
    signed_up_on: dict[tuple[str, str], int] = field(default_factory=dict)

    def for_list(self, slugs: Iterable[str]) -> set[str]:
        """The addresses a list must not mail: its own lines (under any of ``slugs``, its name
        now and before) and those of every list."""
        return set(self.by_list.get(EVERY_LIST, ())) | self.unsubscribed_from(slugs)

    def unsubscribed_from(self, slugs: Iterable[str]) -> set[str]:
        """The addresses a list's lines unsubscribe (under any of ``slugs``, its name now and
        before): those whose last line under any of them is an unsubscribe. A reader who left
        the list under its former slug and signed up again under the new one is not."""
        names = tuple(slugs)
        found: set[str] = set()
        for slug in names:
            for email in self.by_list.get(slug, ()):
                returned = max(self.signed_up_on.get((name, email), 0) for name in names)
                if self.unsubscribed_on.get((slug, email), 0) > returned:
                    found.add(email)
        return found

    def holds(self, email: str, slug: str) -> bool:
        key = email.lower()
        return key in self.by_list.get(slug, ()) or key in self.by_list.get(EVERY_LIST, ())


def read_suppressions(path: Path) -> Suppressions:
    """Read the suppression file; a missing file holds nothing. Raises ConfigError only when the
    file cannot be read at all (not UTF-8, no ``email`` column, broken quoting)."""
    try:
        text = read_utf8_file(path)
    except FileNotFoundError:
        return Suppressions()
    return parse_suppressions(text, str(path))


def read_new_lines(path: Path, data: bytes, start: int) -> Suppressions:
    """The lines of the file (as ``data``) from byte ``start`` on, read under its header: what
    was appended since the file was last read up to ``start``."""
    if start == 0:
        return parse_suppressions(_decode(path, data), str(path))
    try:
        head, _, _ = data.decode("utf-8-sig").partition("\n")
        before = data[:start].decode("utf-8-sig")
        tail = data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            str(path), [("", f"not UTF-8 text (byte {error.start}): save the file as UTF-8")]
        ) from None
    # Line numbers as in the file: the header, then as many blank lines as the lines before.
    return parse_suppressions(head + "\n" * before.count("\n") + tail, str(path))


def _decode(path: Path, data: bytes) -> str:
    return decode_utf8(path, data)


def parse_suppressions(text: str, source: str) -> Suppressions:
    """The suppression file's ``text`` (``source`` names it in errors)."""
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
            address = from_spreadsheet_safe((row.get("email") or "").strip())
            if not address:
                continue
            try:
                email = normalize_email(address)
            except ValueError as error:
                found.refused.append((f"line {reader.line_num}", str(error)))
                continue
            # Slugs are lowercase: "Daily", as an operator may write the list, is "daily".
            slug = (row.get("list") or "").strip().lower()
            if slug != EVERY_LIST and (row.get("reason") or "").strip() == RESUBSCRIBED:
                found.by_list.get(slug, set()).discard(email.lower())
                found.signed_up_on[slug, email.lower()] = reader.line_num
                continue
            found.by_list.setdefault(slug, set()).add(email.lower())
            found.unsubscribed_on[slug, email.lower()] = reader.line_num
            if slug == EVERY_LIST:
                found.reasons[email.lower()] = from_spreadsheet_safe(
                    (row.get("reason") or "").strip()
                )
    except csv.Error as error:
        raise ConfigError(
            source, [(f"line {reader.line_num}", f"not valid CSV: {error}")]
        ) from None
    return found


def append_suppressions(
    path: Path, lines: Iterable[tuple[str, str, str, datetime]], *, sync: bool = True
) -> int:
    """Append (email, list slug or '', reason, when) lines, written (and with ``sync``, synced
    to disk) before this returns; the header too when the file is new. Processes on one machine
    take turns (an exclusive lock), so lines never interleave. Returns how many lines were
    written."""
    rows = list(lines)
    if not rows:
        return 0  # the file is not even made
    with suppression_turn(path) as turn:
        return turn.append(rows, sync=sync)


@contextmanager
def suppression_turn(path: Path) -> Iterator[SuppressionTurn]:
    """The file's lock, held for the block: what the block appends through the turn lands after
    every line written before it and before every line written after it, by any thread or
    process of the machine. A reader's change held in the database and its line made in one
    turn are in the file in the order of the database (an unsubscribe and a confirmation of
    one reader a millisecond apart), whose last line is what reading the file back keeps.

    A file that cannot be opened gives a turn whose ``append`` raises that error, so the block
    still runs: the database, the source of truth, takes the change whatever the disk does."""
    failure: OSError | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = path.open("a", encoding="utf-8", newline="")
    except OSError as error:
        failure = error
    if failure is not None:
        # Yielded outside the handler: an error of the block is not chained to this one.
        yield SuppressionTurn(path, None, failure)
        return
    with file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield SuppressionTurn(path, file, None)
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@dataclass(frozen=True)
class SuppressionTurn:
    path: Path
    file: TextIO | None  # open for appending, locked; None when it could not be opened
    failure: OSError | None

    def append(self, lines: Iterable[tuple[str, str, str, datetime]], *, sync: bool) -> int:
        """Write the lines (``append_suppressions``) while the turn is held."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        count = 0
        for email, slug, reason, when in lines:
            # An address may start as a formula does ("=cmd|'/C calc'!A0@x.org" is a valid one,
            # and anyone can sign it up): an operator opening the file in a spreadsheet would
            # run it. Written behind a "'", as the export writes it; read back without.
            reason = " ".join(reason.split())
            row = [spreadsheet_safe(email), slug, spreadsheet_safe(reason), when.isoformat()]
            writer.writerow(row)
            count += 1
        if not count:
            return 0
        if self.file is None:
            assert self.failure is not None
            raise self.failure
        # Where the end is now, after whoever held the lock before: not when opened.
        if self.file.seek(0, os.SEEK_END) == 0:
            self.file.write(",".join(COLUMNS) + "\n")
        elif not _ends_with_newline(self.path):
            self.file.write("\n")  # an operator's last line without its line break
        self.file.write(buffer.getvalue())
        self.file.flush()
        if sync:
            os.fsync(self.file.fileno())
        return count


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"


def remove_address(path: Path, email: str) -> int:
    """Take every line of ``email`` (any case, its domain in Unicode or in IDNA) out of the
    file, under the appenders' lock; returns how many went. For a forgotten address: its key
    stays in the database."""
    key = _as_read(email)
    try:
        file = path.open("r+", encoding="utf-8", newline="")
    except FileNotFoundError:
        return 0
    with file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            lines = file.read().splitlines(keepends=True)
            kept = [
                line
                for number, line in enumerate(lines)
                if number == 0 or _as_read(_first_field(line)) != key
            ]
            removed = len(lines) - len(kept)
            if removed:
                file.seek(0)
                file.write("".join(kept))
                file.truncate()
                file.flush()
                os.fsync(file.fileno())
            return removed
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _as_read(address: str) -> str:
    """The address as reading the file takes it (``parse_suppressions``): an operator's line
    may write it as its owner does ("Sam@Bücher.de"), which is the address held
    ("sam@xn--bcher-kva.de")."""
    try:
        return normalize_email(address).lower()
    except ValueError:
        return address.strip().lower()


def _first_field(line: str) -> str:
    """The first field of a CSV line (the email column, as this module writes it)."""
    try:
        field = next(csv.reader([line]), [""])[0].strip() if line.strip() else ""
        return from_spreadsheet_safe(field)
    except csv.Error:
        return ""
