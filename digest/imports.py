"""Subscriber files imported into the store: by the operator's command, or a list's file from the
config when it changed since its last import.

    CSV ─► read_subscriber_file: each bad row refused with its line and why, the rest read
        ─► store.import_members: readers added (confirmed or pending), pending ones confirmed,
           names and timezones updated unless the reader chose them; an address suppressed or
           forgotten, or a reader who unsubscribed from the list, refused
        ─► ImportReport (added, updated, unchanged, refused with lines)

    [[lists]] subscribers = "file.csv" ─► SHA-256 of the file ─► the mark of its last import
        the same: nothing more is read ─► else imported as confirmed (the operator vouches for
        the file) and the mark kept, at the start of each cycle (``import_list_files``)

An import never unsubscribes anyone and never resubscribes: the file is no reader's word
(invariant 8). A bad row costs that row; a file that cannot be read at all changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from digest.config import ListSettings, Settings
from digest.errors import ConfigError
from digest.lists import slugs_and_previous
from digest.mail.subscribers import (
    SubscriberFile,
    SubscriberRow,
    read_operator_file,
    read_subscriber_file,
)
from digest.store import ImportReport, Store, SubscriberInput
from digest.topic_renames import current_slugs

_log = logging.getLogger(__name__)

_IMPORT_ATTEMPTS = 3


def list_mark(list_slug: str) -> str:
    """The name of the mark a list's file from the config is remembered by."""
    return f"list:{list_slug}"


def host_mark(list_slug: str, host: str) -> str:
    """The name of the mark of the list's file as ``host`` last imported it: in the
    distributed mode each machine reads the file on its own disk."""
    key = hashlib.sha256(f"{list_slug}\n{host}".encode()).hexdigest()[:32]
    return f"list-host:{key}"


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, read a block at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_file(
    store: Store,
    address_key: Callable[[str], str],
    path: Path,
    settings: Settings,
    digest_list: ListSettings,
    now: datetime,
    *,
    confirmed: bool,
    data: bytes | None = None,
) -> ImportReport:
    """Import a subscriber CSV into a list of ``settings`` (``data``: its bytes, when the caller
    read them); ConfigError when the file cannot be read at all. Which rows are taken is
    ``read_list_file``'s to say."""
    read = read_list_file(path, settings, digest_list, data)
    refused: list[tuple[int, str]] = [(_line_number(line), why) for line, why in read.refused]
    rows = [
        SubscriberInput(row.email, row.name, row.timezone, row.line, row.status, row.topics)
        for row in read.rows
    ]
    for attempt in range(_IMPORT_ATTEMPTS):
        try:
            report = store.import_members(
                digest_list.slug,
                rows,
                now,
                confirmed=confirmed,
                address_key=address_key,
                former_slugs=slugs_and_previous(digest_list)[1:],
            )
            break
        except IntegrityError:
            # Another process added one of these readers at this moment (a sign-up, another
            # import): imported again, the rows it added are found and not added twice.
            if attempt == _IMPORT_ATTEMPTS - 1:
                raise
    return replace(report, refused=tuple(sorted((*report.refused, *refused))))


def read_list_file(
    path: Path, settings: Settings, digest_list: ListSettings, data: bytes | None = None
) -> SubscriberFile:
    """A subscriber file's rows for one list: ``read_subscriber_file``, and refused on its line
    a row of an export whose ``list`` column names another list (an export of every list is
    not poured into one by mistake; the list's previous_slugs name it too, for an export made
    before it was renamed) or whose ``topics`` column names a topic the list does not have (a
    former slug of one of its topics names it). What ``import_file`` imports and what ``digest
    config check`` counts and warns of, so that the two say the same."""
    read = read_subscriber_file(path, data)
    named = set(slugs_and_previous(digest_list))
    rows: list[SubscriberRow] = []
    refused = list(read.refused)
    for row in read.rows:
        if row.list_slug is not None and row.list_slug not in named:
            why = f"this row is for list {row.list_slug!r}, not {digest_list.slug!r}"
            refused.append((f"line {row.line}", why))
            continue
        if row.topics is not None:
            chosen = current_slugs(row.topics, settings)  # a former slug names its topic
            unknown = [
                written
                for written, now in zip(row.topics, chosen, strict=True)
                if now not in digest_list.topics
            ]
            if unknown:
                why = (
                    f"topic {unknown[0]!r} is not one of list {digest_list.slug!r}'s topics "
                    f"({', '.join(digest_list.topics)})"
                )
                refused.append((f"line {row.line}", why))
                continue
            row = replace(row, topics=tuple(dict.fromkeys(chosen)))
        rows.append(row)
    return SubscriberFile(rows, sorted(refused, key=lambda problem: _line_number(problem[0])))


def _line_number(line: str) -> int:
    """ "line 7" -> 7 (the file reader's words)."""
    return int(line.removeprefix("line ")) if line.startswith("line ") else 0


@dataclass(frozen=True, slots=True)
class ListImport:
    """What became of a list's file at the start of a cycle."""

    list_slug: str
    path: Path
    report: ImportReport | None  # None: unchanged since its last import, or left for a task
    # Changed, but larger than the caller imports in place: a task of its own imports it.
    left_for_task: bool = False


def import_list_files(
    settings: Settings,
    store: Store,
    address_key: Callable[[str], str],
    now: datetime,
    *,
    inline_bytes: int | None = None,
) -> tuple[list[ListImport], list[str]]:
    """Import each list's file from the config that changed since its last import (as
    confirmed: the operator vouches for it), but one larger than ``inline_bytes``, which is
    left for a task of its own (``left_for_task``); returns what became of each file and
    warnings naming the file, the line and the list. An unchanged file costs its SHA-256 and
    one lookup."""
    done: list[ListImport] = []
    warnings: list[str] = []
    for digest_list in settings.lists:
        imported, said = import_list_file(
            settings, store, address_key, digest_list, now, inline_bytes=inline_bytes
        )
        warnings += said
        if imported is not None:
            done.append(imported)
    return done, warnings


# A list's file larger than this is imported by a task of its own in the distributed mode, not
# by the tick, which has 50 seconds for all it does: 100,000 readers took 25 s on PostgreSQL.
INLINE_IMPORT_BYTES = 2_000_000


def import_list_file(
    settings: Settings,
    store: Store,
    address_key: Callable[[str], str],
    digest_list: ListSettings,
    now: datetime,
    *,
    inline_bytes: int | None = None,
    host: str | None = None,
) -> tuple[ListImport | None, list[str]]:
    """``import_list_files`` for one list: None when it names no file or the file cannot be
    read (a warning says so, and the list keeps its members).

    ``host`` (this machine's name by default): a file unchanged on this machine since it
    imported it, while another machine imported another one since, is not imported again,
    and a warning names it. Each tick and task of the distributed mode runs on any machine:
    files that differ between two machines were imported in turn, each tick undoing the
    names, timezones and topics of the last, and a large one's editions waited on the import
    tasks."""
    if digest_list.subscribers is None:
        store.record_list_start(digest_list.slug, now)
        return None, []
    path = settings.config_path(digest_list.subscribers)
    keep = f"list {digest_list.slug!r} keeps its members as last imported"
    try:
        size = path.stat().st_size
        digest = file_digest(path)
    except FileNotFoundError:
        return None, [f"{path}: subscriber file not found ({keep})"]
    except OSError as error:
        return None, [f"{path}: cannot read: {error.strerror or error} ({keep})"]
    machine = host or socket.gethostname()
    unchanged = _not_imported_again(store, digest_list, path, digest, machine, now)
    if unchanged is not None:
        return unchanged
    if inline_bytes is not None and size > inline_bytes:
        return ListImport(digest_list.slug, path, None, left_for_task=True), []
    try:
        # Read once more, and marked by these very bytes: a file rewritten in place since it
        # was hashed above (a copy job half done) was imported cut short under the mark of the
        # whole, which kept the rest of its readers out until the file changed again.
        data = read_operator_file(path)
        digest = hashlib.sha256(data).hexdigest()
        report = import_file(
            store, address_key, path, settings, digest_list, now, confirmed=True, data=data
        )
    except FileNotFoundError:
        return None, [f"{path}: subscriber file not found ({keep})"]
    except ConfigError as error:
        return None, [f"{error} ({keep})"]
    _log.info(
        "%s imported into list %r: %d added, %d updated, %d refused",
        path,
        digest_list.slug,
        report.added,
        report.updated,
        len(report.refused) + len(report.kept_out),
    )
    warnings = _import_warnings(path, digest_list.slug, report)
    store.set_file_mark(list_mark(digest_list.slug), digest, now, notes=tuple(warnings))
    store.set_file_mark(host_mark(digest_list.slug, machine), digest, now)
    # The members it starts with are in (joined at ``now``): a list runs from here, and those
    # who join later wait for their hour (digest.local_time).
    store.record_list_start(digest_list.slug, now)
    return ListImport(digest_list.slug, path, report), warnings


def _not_imported_again(
    store: Store,
    digest_list: ListSettings,
    path: Path,
    digest: str,
    machine: str,
    now: datetime,
) -> tuple[ListImport, list[str]] | None:
    """What ``import_list_file`` answers for a file it does not read again: the one imported
    last, or one this machine imported while another machine imported another since (see
    ``import_list_file``); None for a file to import."""
    mark = store.file_mark(list_mark(digest_list.slug))
    here = host_mark(digest_list.slug, machine)
    seen_here = store.file_mark(here)
    if mark is not None and mark.digest == digest:
        if seen_here is None or seen_here.digest != digest:
            store.set_file_mark(here, digest, now)  # this machine holds the file imported
        # Not read again; what its import said is said again, so a bad row is never silent.
        store.record_list_start(digest_list.slug, now)
        return ListImport(digest_list.slug, path, None), list(mark.notes)
    if mark is not None and seen_here is not None and seen_here.digest == digest:
        store.record_list_start(digest_list.slug, now)
        return ListImport(digest_list.slug, path, None), [
            f"{path}: lists[{digest_list.slug}].subscribers: this file on {machine} differs "
            "from the one another machine imported since, and is not imported again; give "
            "every machine the same file (the list's members are as that import left them)"
        ]
    return None


def _import_warnings(path: Path, slug: str, report: ImportReport) -> list[str]:
    """The rows an import refused, each on its own line, and how many it kept out."""
    warnings = [
        f"{path}: line {line}: {why} (this row is left out; list {slug!r} goes to the others)"
        for line, why in report.refused
    ]
    if report.kept_out:
        # Expected: a file kept by hand still lists readers who left. Counted, not listed.
        warnings.append(
            f"{path}: {len(report.kept_out)} rows are readers who unsubscribed from list "
            f"{slug!r} or whose address is suppressed: they stay as they are "
            f"(digest subscribers import {path} --list {slug} lists them)"
        )
    return warnings
