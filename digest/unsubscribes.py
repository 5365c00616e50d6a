"""A reader's unsubscribe, and the suppression file kept in step with the database.

    unsubscribe(subscriber, list, channel) ─► the list's slug now (an old link may carry a
                                              former one) ─► one transaction: the membership
                                              unsubscribed, the change appended to its history
                                           ─► a line appended to the suppression file

    reconcile_suppressions, at the start of each cycle:
        the file only grew since last read ─► its new lines imported (cheap: a few lines)
        the file was edited, or is new to this database ─► all its lines imported
            (a list's line unsubscribes the reader from it, a membership made if need be, so a
            later import cannot add them; a line for every list suppresses the address)
        the database's unsubscribes and suppressions since the last copy, less those the new
        lines hold already ─► appended to the file

The database is the source of truth: the reader's word is recorded once it is committed there.
The file is its export, written at once by ``unsubscribe`` (best effort: a disk that refuses is
caught up by the next cycle) and by each cycle for changes made elsewhere (an import of the
file, a bounce); an operator backs it up, brings it to a new database and may edit it by hand.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from digest.config import Settings
from digest.errors import ConfigError
from digest.lists import list_for_slug, slugs_and_previous
from digest.mail.subscribers import decode_utf8
from digest.services import Services
from digest.store import Store, SubscriberInput
from digest.store.subscribers import IMPORT, UNSUBSCRIBED, check_channel
from digest.store.suppressions import REASONS
from digest.suppression import (
    EVERY_LIST,
    Suppressions,
    SuppressionTurn,
    append_suppressions,
    parse_suppressions,
    read_new_lines,
    suppression_turn,
)

_log = logging.getLogger(__name__)


def suppression_mark(path: Path) -> str:
    """The name of the mark of the suppression file at ``path``: another file (the setting
    changed) starts afresh, with every unsubscribe the database holds."""
    return "suppressions:" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def unsubscribe(services: Services, subscriber_id: int, list_slug: str, reason: str) -> bool:
    """Unsubscribe a reader from a list (by its slug now or before); False when there is no
    such reader. ``reason`` is the channel that brought it ("one-click", "unsubscribe-page",
    "mailto", "operator"…; see digest.store.subscribers.CHANNELS). Unsubscribing again is True
    and changes nothing, in the database or in the file."""
    channel = check_channel(reason)
    settings, store, now = services.settings, services.store, services.clock.now()
    digest_list = list_for_slug(settings, list_slug)
    slug = digest_list.slug if digest_list is not None else list_slug
    # The change and its line in one turn of the file: a confirmation of the same reader a
    # moment apart gets its line in the order of the database (digest.suppression).
    with suppression_turn(settings.service.suppression_path) as turn:
        # The membership may still be under the link's slug until the rename is carried over.
        change = store.change_membership(subscriber_id, slug, UNSUBSCRIBED, channel, now)
        if change is None and slug != list_slug:
            change = store.change_membership(subscriber_id, list_slug, UNSUBSCRIBED, channel, now)
        if change is None:
            # A link is made for a membership, yet none is held under its slug: the list was
            # renamed and a cycle carried its members over, while this process (digest serve,
            # digest inbound) still runs on the config it read before, which knows only the old
            # slug. The line, under that slug, is read by the next cycle, whose config names it
            # among the list's previous_slugs: the reader's word is kept, not lost.
            return write_suppression_line(
                services, subscriber_id, slug, channel, now, turn, sync=True, lost="the unsubscribe"
            )
        if change.changed:
            # Not synced to disk line by line: the database holds the unsubscribe already (the
            # file is its copy), and a line lost to a crash is copied again by the next cycle's
            # reconcile, which syncs what it writes.
            lost = "the unsubscribe"
            write_suppression_line(
                services, subscriber_id, slug, channel, now, turn, sync=False, lost=lost
            )
    return True


def write_suppression_line(
    services: Services,
    subscriber_id: int,
    list_slug: str,
    channel: str,
    now: datetime,
    turn: SuppressionTurn,
    *,
    sync: bool,
    lost: str,
) -> bool:
    """Append the reader's line for ``list_slug`` to the suppression file in ``turn``, the turn
    their change in the database was made in; False when there is no such reader. A file that
    cannot be written is logged, naming ``lost``, not raised."""
    email = services.store.email_of(subscriber_id)
    if email is None:
        return False
    try:
        turn.append([(email, list_slug, channel, now)], sync=sync)
    except OSError as error:
        _log.error("could not write %s (%s): %s is not in it", turn.path, error, lost)
    return True


def reconcile_suppressions(
    settings: Settings, store: Store, address_key: Callable[[str], str], now: datetime
) -> list[str]:
    """Bring the suppression file and the database in step (see the module's docstring);
    returns warnings when the file cannot be read or written, or has bad lines. A file that
    did not change costs its SHA-256 and three lookups; one that only grew, its new lines."""
    path = settings.service.suppression_path
    name = suppression_mark(path)
    mark = store.file_mark(name)
    try:
        data: bytes | None = path.read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as error:
        return [f"{path}: cannot read ({error.strerror}); unsubscribes are kept in the database"]
    warnings: list[str] = []
    held = Suppressions()
    if data is not None:
        # A file that only grew since the mark (the mark of a missing file is the empty one)
        # is read from where the mark ends; any other change, or no mark, means a whole read.
        grown = (
            mark is not None
            and mark.digest is not None
            and mark.size <= len(data)
            and _sha256(data[: mark.size]) == mark.digest
        )
        try:
            if not grown:
                held = parse_suppressions(_text(path, data), str(path))
            elif mark is not None and mark.size < len(data):
                held = read_new_lines(path, data, mark.size)
        except ConfigError as error:
            return [f"{error} (unsubscribes are kept in the database only until it is fixed)"]
        _import_lines(settings, store, address_key, held, now)
        warnings += _unknown_lists(settings, store, path, held)
        # The bad lines of the part read before are said again, so a bad line is never silent.
        if grown and mark is not None:
            warnings += mark.notes
        warnings += [f"{path}: {line}: {why} (the line is left out)" for line, why in held.refused]
    changes = store.changes_to_copy(mark, now)
    # A file new to the database (first cycle after the upgrade, the setting pointed to another
    # file, or the file deleted or emptied since: a confirmation's turn at a deleted file makes
    # it again, empty) gets every unsubscribe and suppression it lacks, not only the newest.
    fresh = mark is None or (mark.size > 0 and not (data or b"").strip())
    lines = store.unsubscribes_now() if fresh else changes.lines
    missing = [line for line in lines if not held.holds(line[0], line[1])]
    try:
        append_suppressions(path, missing)
        if missing:
            data = path.read_bytes()
    except OSError as error:
        # Read, not written: the changes are copied when it can be.
        store.set_file_mark(
            name,
            _sha256(data or b""),
            now,
            size=len(data or b""),
            notes=tuple(warnings),
        )
        return [
            *warnings,
            f"{path}: cannot write ({error.strerror}): {len(missing)} unsubscribes are "
            "kept in the database only until it can be written; check service.suppression_file",
        ]
    store.set_file_mark(
        name,
        _sha256(data or b""),
        now,
        size=len(data or b""),
        notes=tuple(warnings),
        history_upto=changes.history_upto,
        suppressions_upto=changes.suppressions_upto,
        copied=changes.copied,
    )
    return warnings


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(path: Path, data: bytes) -> str:
    return decode_utf8(path, data)


def _unknown_lists(settings: Settings, store: Store, path: Path, held: Suppressions) -> list[str]:
    """A warning for each list the lines name that is no list of the config (by its slug now or
    before) nor of the database's history: a misspelt slug, whose lines stop no mail."""
    named: dict[str, list[int]] = {}
    for (slug, _), line in held.unsubscribed_on.items():
        if slug != EVERY_LIST:
            named.setdefault(slug, []).append(line)
    configured = {slug for entry in settings.lists for slug in slugs_and_previous(entry)}
    unknown = set(named) - configured
    if unknown:
        unknown -= store.list_slugs_with_history()
    return [
        f"{path}: line {min(named[slug])}: no list {slug!r} in the config or the database "
        f"(lines naming it: {len(named[slug])}); they are left out; write the list's slug"
        for slug in sorted(unknown)
    ]


def _import_lines(
    settings: Settings,
    store: Store,
    address_key: Callable[[str], str],
    kept: Suppressions,
    now: datetime,
) -> None:
    """The file's lines into the database: each list's (under its slug now or before) as
    unsubscribes, made memberships if the reader had none yet, so a later import of the
    list's file cannot add them; the lines for every list as suppressions."""
    for digest_list in settings.lists:
        addresses = kept.unsubscribed_from(slugs_and_previous(digest_list))
        if not addresses:
            continue
        store.unsubscribe_addresses(digest_list.slug, addresses, now, IMPORT)
        store.import_members(
            digest_list.slug,
            [SubscriberInput(email, status=UNSUBSCRIBED) for email in sorted(addresses)],
            now,
            confirmed=False,
            address_key=address_key,
        )
    for email in sorted(kept.by_list.get(EVERY_LIST, set())):
        reason = kept.reasons.get(email, "")
        reason = reason if reason in REASONS else "operator"
        store.suppress(email, address_key, reason, IMPORT, now)
