"""Subscriber CSV files (columns email, name, timezone) read into checked, normalized rows (each
address and name as ``digest.mail.reader_addresses`` takes them).

The columns ``digest subscribers export`` adds (list, status, topics, channel, changed_at,
suppressed) are read too, so that an export can be imported again: ``list``, ``status`` and
``topics`` are kept on each row, the others ignored.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.config.values import SLUG_PATTERN
from digest.errors import ConfigError
from digest.mail.reader_addresses import check_address, clean_name, from_spreadsheet_safe
from digest.zone_names import unknown_zone_why, zone_named, zone_spelled

COLUMNS = ("email", "name", "timezone")
EXPORT_COLUMNS = ("list", "status", "topics", "channel", "changed_at", "suppressed")
STATUSES = ("pending", "confirmed", "unsubscribed")
MAX_NAME = 300  # the store's column: a longer name is cut to it (headers fold or cut it anyway)
MAX_TIMEZONE = 64
MAX_FIELD = 10_000  # a field longer than this is no name or address: the row is refused
# A field larger than the csv module's default (128 KiB) would stop the whole file; an oversize
# field is refused on its own line instead.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    email: str
    name: str | None
    timezone: str | None
    line: int = field(default=0, compare=False)  # where in the file, for reports
    list_slug: str | None = field(default=None, compare=False)  # an export's list column
    status: str | None = field(default=None, compare=False)  # an export's status column
    # An export's topics column: the topics of the list the reader chose, by slug; None for
    # every topic (the column blank or absent).
    topics: tuple[str, ...] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SubscriberFile:
    """A subscriber file as read: the good rows, and each refused line with why.

    One bad line costs that line only (invariant 6): the caller imports ``rows`` and reports
    ``refused`` as warnings naming the file and the line.
    """

    rows: list[SubscriberRow]
    refused: list[tuple[str, str]]  # ("line N", why)


def read_operator_file(path: Path) -> bytes:
    """The bytes of an operator's file. A file that is there but cannot be read raises
    ConfigError naming it; a missing one raises FileNotFoundError, which each caller answers in
    its own words."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ConfigError(str(path), [("", f"cannot read: {error.strerror}")]) from None


def read_utf8_file(path: Path) -> str:
    """The text of an operator's UTF-8 file (a byte order mark allowed); ConfigError or
    FileNotFoundError as ``read_operator_file`` raises them."""
    return decode_utf8(path, read_operator_file(path))


def decode_utf8(path: Path, data: bytes) -> str:
    """``data``, the bytes of the operator's file at ``path``, as UTF-8 text (a byte order mark
    allowed); ConfigError naming the line of the first byte that is not UTF-8 (one name typed
    in another encoding, the rest ASCII: the line is what the operator can find)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            str(path),
            [(f"line {line}", f"not UTF-8 text (byte {error.start}): save the file as UTF-8")],
        ) from None


# How a workbook's file starts: a ZIP archive (.xlsx, .ods), an OLE2 compound file (.xls).
# Neither can start a CSV file, whose first row is a header of text.
_WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def decode_subscriber_file(path: Path, data: bytes) -> str:
    """The text of a subscriber file (ConfigError for a workbook, which is no text): UTF-8 (a
    byte order mark allowed), or UTF-16 behind its byte order mark, which is what Excel's
    "Unicode Text" saves (the mark says which bytes are which, so nothing is guessed). Only
    subscriber files: the suppression file is appended to in UTF-8, which UTF-16 cannot take."""
    if data.startswith(_WORKBOOK_SIGNATURES):
        # A workbook renamed .csv: its bytes fail as UTF-8 at some line of no meaning.
        raise ConfigError(
            str(path),
            [
                (
                    "",
                    "a spreadsheet workbook (.xlsx, .xls or .ods), not CSV text: save it from "
                    "the spreadsheet as CSV UTF-8",
                )
            ],
        )
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if b"\x00" in data[:1024].partition(b"\n")[0].partition(b"\r")[0]:
            # Valid UTF-8 all the same, and read as a header of unknown columns: no header
            # names a column with a NUL in it, UTF-16 without its mark is all that writes one.
            raise ConfigError(
                str(path),
                [
                    (
                        "line 1",
                        "NUL bytes in the header row, as in UTF-16 text without its byte order "
                        "mark: save the file as UTF-8",
                    )
                ],
            )
        return decode_utf8(path, data)
    try:
        return data.decode("utf-16")  # the codec reads the mark and drops it
    except UnicodeDecodeError as error:
        text_before = data[: error.start].decode("utf-16", errors="replace")
        line = text_before.count("\n") + 1
        raise ConfigError(
            str(path),
            [(f"line {line}", f"not UTF-16 text (byte {error.start}): save the file as UTF-8")],
        ) from None


def read_subscriber_file(path: Path, data: bytes | None = None) -> SubscriberFile:
    """Read a subscriber list: its good rows, and every bad line with the reason.

    The header row names the columns: ``email`` is required, ``name`` and ``timezone`` are
    optional, in any order, separated by commas, semicolons or tabs (as the header shows, or a
    first line "sep=;" as Excel reads it). The file is UTF-8, with or without a byte order
    mark, or UTF-16 with one. Blank lines are skipped. The same address twice (ignoring case)
    is refused on its second line, so nobody gets two copies. Only a file that cannot be read
    as a whole (missing, not text, no usable header, broken CSV quoting) raises ConfigError:
    then no row can be trusted. ``data``, when given, is the file's bytes as the caller read
    them.
    """
    source = str(path)
    try:
        text = decode_subscriber_file(path, read_operator_file(path) if data is None else data)
    except FileNotFoundError:
        raise ConfigError(source, [("", "subscriber file not found")]) from None

    lines = _lines(text)
    declared = _DECLARED_SEPARATOR.match(text)
    if declared:
        next(lines)  # no row: Excel reads it and shows nothing of it
    separator = declared.group(1) if declared else _separator(text)
    reader = csv.reader(lines, strict=True, delimiter=separator)
    # A row is named by the line it starts on: reader.line_num is the line it ends on, further
    # down when a quoted field holds line breaks (a note, an address). The reader counts the
    # lines it reads: the separator's line comes before them.
    skipped = 1 if declared else 0
    ended = skipped  # the last line of the row read last
    try:
        header = next(reader, None)
        # A sheet whose first rows were left empty is saved with blank lines (or lines of
        # separators) above its header: skipped, as blank lines below it are.
        while header is not None and _blank(header):
            ended = skipped + reader.line_num
            header = next(reader, None)
        if header is None:
            raise ConfigError(
                source, [("", "empty file: expected a header row 'email,name,timezone'")]
            )
        columns = [_column_named(column) for column in header]
        _check_header(source, columns, f"line {ended + 1}")

        rows: list[SubscriberRow] = []
        problems: list[tuple[str, str]] = []
        first_line: dict[str, int] = {}  # casefolded address -> line it first appeared on
        ended = skipped + reader.line_num
        for fields in reader:
            line, ended = ended + 1, skipped + reader.line_num
            if _blank(fields):
                continue
            unnamed = _unnamed_value(columns, fields)
            if unnamed:
                problems.append((f"line {line}", unnamed))
                continue
            # Missing trailing fields are empty; an empty field under no name is left out.
            values = {
                column: value for column, value in zip(columns, fields, strict=False) if column
            }
            row, why = _read_row(values, line)
            if row is None:
                problems.append((f"line {line}", why))
                continue
            key = row.email.casefold()
            if key in first_line:
                why = f"duplicate email {row.email!r} (first on line {first_line[key]})"
                problems.append((f"line {line}", why))
                continue
            first_line[key] = line
            rows.append(row)
    except csv.Error as error:
        # The row that cannot be read starts after the last one read (an unclosed quote runs
        # to the end of the file).
        raise ConfigError(source, [(f"line {ended + 1}", f"not valid CSV: {error}")]) from None
    return SubscriberFile(rows, problems)


# A line and its end, as a file opened with newline="" gives them: "\r\n", "\n" or a lone "\r"
# (old Mac Excel) ends one; the csv module joins the lines of a quoted field that holds breaks.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time: io.StringIO(text) held a copy of the whole file, at
    four bytes a character once one name is not Latin-1."""
    return (match.group() for match in _LINE.finditer(text))


def read_subscriber_csv(path: Path) -> list[SubscriberRow]:
    """Read a subscriber list strictly: raises one ConfigError listing every bad line."""
    read = read_subscriber_file(path)
    if read.refused:
        raise ConfigError(str(path), read.refused)
    return read.rows


def subscriber_file_warnings(
    path: Path, refused: list[tuple[str, str]], list_slug: str
) -> list[str]:
    """The refused lines of a subscriber file as warnings an operator can act on: the file, the
    line, why, and what happened (``digest config check`` and ``digest run`` say the same)."""
    return [
        f"{path}: {line}: {why} (this row is left out; list {list_slug!r} goes to the others)"
        for line, why in refused
    ]


# What spreadsheets put between columns: a comma; a semicolon where the language's decimal mark
# is a comma (Excel's "CSV" in French, German, Spanish…); a tab (their "text" files).
_SEPARATORS = (",", ";", "\t")
# A line that holds no value whichever the separator: spaces, separators, empty quotes.
_BLANK_ROW = re.compile(r'[\s,;"]*')
# A first line "sep=;" names the separator: Excel reads it so and shows nothing of it, and files
# written for Excel start with it.
_DECLARED_SEPARATOR = re.compile(r'"?sep=([,;\t])"?[,;\t]*(?:\r\n|\r|\n|$)', re.IGNORECASE)


def _separator(text: str) -> str:
    """The character between the file's columns: the one by which the header row names an
    'email' column (a comma when none does, for the header's own error to say so)."""
    header = next((line for line in _lines(text) if not _BLANK_ROW.fullmatch(line)), "")
    for separator in _SEPARATORS:
        names = (_column_named(name.strip().strip('"')) for name in header.split(separator))
        if "email" in names:
            return separator
    return ","


# Other names of the columns, as exports write them: Outlook's "E-mail Address", Mailchimp's
# "Email Address", a timezone in two words.
_COLUMN_NAMES = {
    "e-mail": "email",
    "email address": "email",
    "e-mail address": "email",
    "time zone": "timezone",
}


def _column_named(name: str) -> str:
    """The column a header cell names, in any case and spacing ("E-mail Address" -> "email"),
    and without the invisible format characters a cell may hold: a second byte order mark (a
    program that writes one before text that has one), a right-to-left mark a spreadsheet set
    to Arabic or Hebrew puts in a cell. A header of "\\ufeffemail" had no email column."""
    if not name.isprintable():
        name = "".join(char for char in name if unicodedata.category(char) != "Cf")
    words = " ".join(name.lower().split())
    return _COLUMN_NAMES.get(words, words)


def _unnamed_value(columns: list[str], fields: list[str]) -> str:
    """Why a row holds a value the header names no column for, or ''. Spreadsheets save the
    columns past the last one used as empty fields, with no name in the header: those are no
    data, and left out; a value there may be, and the row is refused rather than guessed."""
    for number, value in enumerate(fields, 1):
        if not value.strip():
            continue
        if number > len(columns):
            return f"{len(fields)} fields but the header names {len(columns)}"
        if not columns[number - 1]:
            return (
                f"{value.strip()[:40]!r} is in column {number}, which the header row leaves unnamed"
            )
    return ""


def _blank(fields: list[str]) -> bool:
    """Whether a row holds nothing: blanks, or characters no one sees (Ctrl-Z, the end-of-file
    mark of old DOS programs, was a last row refused at every import)."""
    return all(
        all(char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in field)
        for field in fields
    )


def _trimmed(value: str) -> str:
    """A cell of an address, a zone, a list or a status without the blanks and invisible format
    characters at its ends: a sheet set to Arabic or Hebrew keeps a left-to-right mark around a
    cell of Latin text, and the row was refused for a character no one could see. Those within
    stay (no address holds one: it is refused)."""
    if value.isprintable():
        return value.strip()  # the common case: no format character anywhere
    start, end = 0, len(value)
    while start < end and (value[start].isspace() or unicodedata.category(value[start]) == "Cf"):
        start += 1
    while end > start and (
        value[end - 1].isspace() or unicodedata.category(value[end - 1]) == "Cf"
    ):
        end -= 1
    return value[start:end]


_UNKNOWN_NAMED = 5  # unknown columns named one by one; past it, counted


def _check_header(source: str, columns: list[str], where: str) -> None:
    unknown = [column for column in columns if column and column not in COLUMNS + EXPORT_COLUMNS]
    known = f"the columns are {', '.join(COLUMNS)}"
    if len(unknown) > _UNKNOWN_NAMED:
        # A file of another kind (a wide export of another program) named each of its
        # thousands of columns in a line of its own.
        named = ", ".join(repr(column[:40]) for column in unknown[:_UNKNOWN_NAMED])
        problems = [(where, f"{len(unknown)} unknown columns ({named}…): {known}")]
    else:
        problems = [(where, f"unknown column {column!r}: {known}") for column in unknown]
    problems += [
        (where, f"column {column!r} appears twice")
        for column in COLUMNS + EXPORT_COLUMNS
        if columns.count(column) > 1
    ]
    if "email" not in columns:
        problems.append(
            (where, "no 'email' column: the first row names the columns: email,name,timezone")
        )
    if problems:
        raise ConfigError(source, problems)


def _read_row(values: dict[str, str], line: int) -> tuple[SubscriberRow | None, str]:
    for column, value in values.items():
        if len(value) > MAX_FIELD:
            return None, f"{column} of {len(value)} characters: at most {MAX_FIELD}"
    # Not the name: its format characters are the reader's (clean_name keeps them).
    values = {
        column: value if column == "name" else _trimmed(value) for column, value in values.items()
    }
    try:
        email = check_address(from_spreadsheet_safe(values.get("email", "").strip()))
    except ValueError as error:
        return None, str(error)
    timezone = values.get("timezone", "").strip() or None
    if timezone is not None:
        if len(timezone) > MAX_TIMEZONE:
            return None, f"timezone of {len(timezone)} characters: at most {MAX_TIMEZONE}"
        spelled = zone_spelled(timezone)
        if spelled is None or zone_named(spelled) is None:
            return None, unknown_zone_why(timezone)
        timezone = spelled
    name = clean_name(from_spreadsheet_safe(values.get("name", "")))
    if name is not None and len(name) > MAX_NAME:
        name = name[:MAX_NAME].rstrip()
    status = values.get("status", "").strip().lower() or None
    if status is not None and status not in STATUSES:
        return None, f"unknown status {status!r}: one of {', '.join(STATUSES)}"
    list_slug = values.get("list", "").strip() or None
    topics = tuple(dict.fromkeys(values.get("topics", "").lower().replace(",", " ").split()))
    if bad := next((slug for slug in topics if not re.match(SLUG_PATTERN, slug)), None):
        return None, f"topics: {bad[:70]!r} is no topic's slug (slugs are separated by spaces)"
    return SubscriberRow(email, name, timezone, line, list_slug, status, topics or None), ""
